//! `sshwire serve`: an SSH server for SFTP that works with no configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use sshwire::server::{Handler, Server, ServerSettings};
use sshwire::sftp::fs::Filesystem;
use sshwire::sftp::server::{AuditEvent, AuditSink, IdNames, ServerConfig};
use sshwire::sftp_server::{Log, SftpSubsystem};
use sshwire::{Authenticated, Authenticator, Channel, system_rng};
use sshwire_auth::{AuthMethod, AuthorizedKeys, PasswordFile, ServerPolicy};
use sshwire_keys::{KeyType, PrivateKey, PublicKey};
use tokio::net::TcpListener;

use crate::{paths, sftp_server};

/// How long sessions may go on after SIGTERM before they are disconnected.
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// Arguments of `sshwire serve`.
#[derive(Parser)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2222")]
    listen: SocketAddr,
    /// Directory to serve (created if missing).
    #[arg(long, default_value = "sftp-root")]
    root: PathBuf,
    /// Host private key file (repeat for several); default: one ed25519 key generated on first
    /// run and kept in ~/.config/sshwire.
    #[arg(long = "host-key")]
    host_keys: Vec<PathBuf>,
    /// authorized_keys file: a key listed there logs in under any user name (default:
    /// ~/.ssh/authorized_keys).
    #[arg(long)]
    authorized_keys: Option<PathBuf>,
    /// Password file: lines `user:$argon2id$...` as `sshwire passwd` prints them.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Serve the files read-only: every request that would change them is refused.
    #[arg(long)]
    read_only: bool,
}

pub fn run(args: Args) -> Result<(), String> {
    let host_keys = if args.host_keys.is_empty() {
        vec![default_host_key()?]
    } else {
        args.host_keys
            .iter()
            .map(|p| load_host_key(p))
            .collect::<Result<Vec<_>, _>>()?
    };
    std::fs::create_dir_all(&args.root).map_err(|e| {
        format!(
            "cannot create the root directory {}: {e}",
            args.root.display()
        )
    })?;
    let authorized_keys = match args.authorized_keys {
        Some(p) => p,
        None => paths::home()?.join(".ssh").join("authorized_keys"),
    };
    let credentials = Credentials::load(&authorized_keys, args.password_file.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    // Every user gets the root, jailed; a build without the local backend serves no SFTP
    // (and says so to each client that asks).
    let files = sftp_server::local_fs(&args.root);
    let handler = Subsystems::new(files, args.read_only);
    runtime.block_on(serve(
        args.listen,
        args.root,
        host_keys,
        credentials,
        handler,
    ))
}

async fn serve(
    listen: SocketAddr,
    root: PathBuf,
    host_keys: Vec<Arc<PrivateKey>>,
    credentials: Credentials,
    handler: Subsystems,
) -> Result<(), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "sshwire serve: listening on {local}, serving {}",
        root.display()
    );
    for key in &host_keys {
        println!(
            "host key: {} {}",
            key.public_key().fingerprint_sha256(),
            key.key_type().name()
        );
    }
    println!("{}", credentials.summary);
    if let Err(why) = &handler.files {
        println!("no SFTP in this build: {why}");
    } else if handler.read_only {
        println!("serving read-only");
    }
    println!("connect with: sftp -P {} {}", local.port(), local.ip());
    let mut settings = ServerSettings::new(host_keys);
    settings.policy = Arc::new(credentials.policy());
    let server = Server::with_settings(settings);
    let authenticator: Arc<dyn Authenticator> = Arc::new(credentials);
    let log: Arc<dyn Fn(&str) + Send + Sync> =
        Arc::new(|line: &str| eprintln!("sshwire serve: {line}"));
    server
        .serve(
            listener,
            authenticator,
            Arc::new(handler),
            shutdown_signal(),
            DRAIN_TIME,
            log,
        )
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("sshwire serve: stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM: the server stops accepting and drains its sessions.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    eprintln!("sshwire serve: shutting down; sessions have {DRAIN_TIME:?} to finish");
}

/// What the sftp subsystem serves every user: the root and the policy.
type Setup =
    Box<dyn Fn(&Authenticated) -> Option<(Arc<dyn Filesystem>, ServerConfig)> + Send + Sync>;

/// `sshwire serve` serves the `sftp` subsystem and runs no commands: other requests are
/// refused with a line on the channel's stderr saying so.
struct Subsystems {
    files: Result<Arc<dyn Filesystem>, String>,
    read_only: bool,
    sftp: Option<SftpSubsystem<Setup>>,
}

impl Subsystems {
    fn new(files: Result<Arc<dyn Filesystem>, String>, read_only: bool) -> Subsystems {
        let sftp = files.as_ref().ok().map(|fs| {
            let fs = fs.clone();
            let names: Arc<dyn IdNames> = Arc::new(sftp_server::SystemIds::load());
            let setup: Setup = Box::new(move |user: &Authenticated| {
                let config = ServerConfig {
                    read_only,
                    user: user.user.clone(),
                    id_names: Some(names.clone()),
                    ..ServerConfig::default()
                };
                Some((fs.clone(), config))
            });
            let log: Log = Arc::new(|line: &str| eprintln!("sshwire serve: {line}"));
            let audit: Arc<dyn AuditSink> = Arc::new(AuditToStderr);
            SftpSubsystem::new(setup).with_log(log).with_audit(audit)
        });
        Subsystems {
            files,
            read_only,
            sftp,
        }
    }
}

/// The audit log, as text lines on stderr next to the server's other messages.
struct AuditToStderr;

impl AuditSink for AuditToStderr {
    fn record(&self, event: &AuditEvent) {
        eprintln!("sshwire serve: audit: {}", event.to_text());
    }
}

impl Handler for Subsystems {
    fn subsystem(
        &self,
        user: &Arc<Authenticated>,
        name: &str,
        channel: Channel,
    ) -> Result<(), Channel> {
        let why = match (&self.sftp, &self.files) {
            (Some(sftp), _) if name == "sftp" => return sftp.subsystem(user, name, channel),
            (None, Err(why)) if name == "sftp" => why.clone(),
            _ => "sshwire serve serves only sftp".to_owned(),
        };
        let text = format!("sshwire serve: the {name} subsystem is not available: {why}.\r\n");
        let _ = channel.try_write_stderr(text.as_bytes());
        Err(channel)
    }

    fn exec(
        &self,
        _user: &Arc<Authenticated>,
        _command: &[u8],
        channel: Channel,
    ) -> Result<(), Channel> {
        let _ = channel.try_write_stderr(b"sshwire serve runs no commands; it serves SFTP.\r\n");
        Err(channel)
    }
}

/// The users `sshwire serve` lets in: keys from an authorized_keys file (any user name) and
/// passwords from a password file.
struct Credentials {
    keys: AuthorizedKeys,
    passwords: Option<PasswordFile>,
    summary: String,
}

impl Credentials {
    fn load(authorized_keys: &Path, password_file: Option<&Path>) -> Result<Self, String> {
        let keys = match std::fs::read_to_string(authorized_keys) {
            Ok(text) => AuthorizedKeys::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => AuthorizedKeys::parse(""),
            Err(e) => {
                return Err(format!("cannot read {}: {e}", authorized_keys.display()));
            }
        };
        let passwords = match password_file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read password file {}: {e}", p.display()))?;
                Some(PasswordFile::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?)
            }
            None => None,
        };
        let mut summary = format!(
            "authorized keys: {} ({} keys)",
            authorized_keys.display(),
            keys.keys.len()
        );
        if let (Some(p), Some(f)) = (password_file, &passwords) {
            summary.push_str(&format!(
                "; password file: {} ({} users)",
                p.display(),
                f.len()
            ));
        }
        if keys.keys.is_empty() && passwords.is_none() {
            summary.push_str("; nobody can log in: add a key there or give --password-file");
        }
        Ok(Credentials {
            keys,
            passwords,
            summary,
        })
    }

    /// Public keys always; passwords (also through keyboard-interactive) with a password file.
    fn policy(&self) -> ServerPolicy {
        let mut methods = vec![vec![AuthMethod::PublicKey]];
        if self.passwords.is_some() {
            methods.push(vec![AuthMethod::Password]);
            methods.push(vec![AuthMethod::KeyboardInteractive]);
        }
        ServerPolicy {
            methods,
            ..ServerPolicy::default()
        }
    }
}

impl Authenticator for Credentials {
    fn public_key(&self, _user: &str, key: &PublicKey) -> bool {
        self.keys.find(key).is_some()
    }

    fn password(&self, user: &str, password: &[u8]) -> bool {
        self.passwords
            .as_ref()
            .is_some_and(|f| f.verify(user, password))
    }
}

/// Loads a host key, which must not be encrypted.
fn load_host_key(path: &Path) -> Result<Arc<PrivateKey>, String> {
    let text =
        std::fs::read(path).map_err(|e| format!("cannot read host key {}: {e}", path.display()))?;
    let (key, _comment) = PrivateKey::from_openssh(&text, None).map_err(|e| {
        format!(
            "cannot load host key {}: {e} (host keys must not have a passphrase)",
            path.display()
        )
    })?;
    Ok(Arc::new(key))
}

/// The host key kept in the config directory, generated on first use.
fn default_host_key() -> Result<Arc<PrivateKey>, String> {
    let path = paths::config_dir()?.join("ssh_host_ed25519_key");
    if path.exists() {
        return load_host_key(&path);
    }
    let key = PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng())
        .map_err(|e| format!("cannot generate a host key: {e}"))?;
    let text = key
        .to_openssh("sshwire host key", None, &mut *system_rng())
        .map_err(|e| format!("cannot encode the host key: {e}"))?;
    paths::write_new(&path, text.as_bytes(), 0o600)?;
    eprintln!(
        "sshwire serve: generated a new host key in {}",
        path.display()
    );
    Ok(Arc::new(key))
}
