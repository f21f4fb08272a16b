//! `sshwire serve`: an SSH server for SFTP that works with no configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use sshwire::server::{Handler, Server, ServerSettings};
use sshwire::sftp::fs::Filesystem;
use sshwire::sftp::server::{AuditEvent, AuditFormat, AuditSink, IdNames, LineSink, ServerConfig};
use sshwire::sftp_local::OwnerNames;
use sshwire::sftp_server::{Log, SftpSubsystem};
use sshwire::{Authenticated, Authenticator, Channel, system_rng};
use sshwire_auth::{AuthMethod, AuthorizedKeys, PasswordFile, ServerPolicy};
use sshwire_keys::{KeyType, PrivateKey, PublicKey};
use tokio::net::TcpListener;

use crate::serve_config::{self, ServeConfig};
use crate::{paths, sftp_server};

/// How long sessions may go on after SIGTERM before they are disconnected.
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// Where `sshwire serve` listens unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:2222";

/// Arguments of `sshwire serve`.
#[derive(Parser)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:2222].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory to serve (created if missing).
    #[arg(long, default_value = "sftp-root", conflicts_with = "config")]
    root: PathBuf,
    /// Configuration file (TOML): users with their own roots, keys and passwords, limits,
    /// audit log; see docs/sftp-server.md.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Host private key file (repeat for several); default: one ed25519 key generated on first
    /// run and kept in ~/.config/sshwire.
    #[arg(long = "host-key")]
    host_keys: Vec<PathBuf>,
    /// authorized_keys file: a key listed there logs in under any user name (default:
    /// ~/.ssh/authorized_keys).
    #[arg(long, conflicts_with = "config")]
    authorized_keys: Option<PathBuf>,
    /// Password file: lines `user:$argon2id$...` as `sshwire passwd` prints them.
    #[arg(long, conflicts_with = "config")]
    password_file: Option<PathBuf>,
    /// Serve the files read-only: every request that would change them is refused.
    #[arg(long)]
    read_only: bool,
}

pub fn run(args: Args) -> Result<(), String> {
    if let Some(path) = &args.config {
        let config = ServeConfig::load(path)?;
        return run_with_config(&args, config);
    }
    let host_keys = host_keys(&args.host_keys)?;
    std::fs::create_dir_all(&args.root).map_err(|e| {
        format!(
            "cannot create the root directory {}: {e}",
            args.root.display()
        )
    })?;
    let authorized_keys = match args.authorized_keys.clone() {
        Some(p) => p,
        None => paths::home()?.join(".ssh").join("authorized_keys"),
    };
    let credentials = Credentials::load(&authorized_keys, args.password_file.as_deref())?;
    let runtime =
        crate::runtime::server().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    // Every user gets the root, jailed; a build without the local backend serves no SFTP
    // (and says so to each client that asks).
    let files = sftp_server::local_fs(&args.root);
    let handler = Subsystems::new(files, args.read_only);
    let listen = listen_address(&args, None)?;
    let policy = credentials.policy();
    let mut summary = vec![credentials.summary.clone()];
    if let Some(why) = &handler.unavailable {
        summary.push(format!("no SFTP: {why}"));
    } else if handler.read_only {
        summary.push("serving read-only".to_owned());
    }
    let mut settings = ServerSettings::new(host_keys);
    settings.policy = Arc::new(policy);
    runtime.block_on(serve(
        listen,
        &args.root.display().to_string(),
        settings,
        Arc::new(credentials),
        Arc::new(handler),
        &summary,
    ))
}

/// `sshwire serve --config FILE`: every user with a root, keys and password of their own.
fn run_with_config(args: &Args, config: ServeConfig) -> Result<(), String> {
    let key_files = if args.host_keys.is_empty() {
        config.host_keys.clone()
    } else {
        args.host_keys.clone()
    };
    let host_keys = host_keys(&key_files)?;
    for user in config.users.values() {
        std::fs::create_dir_all(&user.root).map_err(|e| {
            format!(
                "user {}: cannot create the root directory {}: {e}",
                user.name,
                user.root.display()
            )
        })?;
    }
    let audit: Arc<dyn AuditSink> = match &config.audit {
        Some((path, format)) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
            let format = match format {
                serve_config::AuditFormat::Json => AuditFormat::Json,
                serve_config::AuditFormat::Text => AuditFormat::Text,
            };
            Arc::new(LineSink::new(file, format))
        }
        None => Arc::new(AuditToStderr),
    };
    let mut methods = vec![vec![AuthMethod::PublicKey]];
    if config.has_passwords() {
        methods.push(vec![AuthMethod::Password]);
        methods.push(vec![AuthMethod::KeyboardInteractive]);
    }
    let policy = ServerPolicy {
        methods,
        max_attempts: config.limits.max_auth_tries,
        login_grace_time: config.login_grace_time(),
        banner: config.banner.clone(),
        ..ServerPolicy::default()
    };
    let mut settings = ServerSettings::new(host_keys);
    settings.policy = Arc::new(policy);
    settings.login_grace_time = config.login_grace_time();
    settings.max_unauthenticated = config.limits.max_unauthenticated;
    let listen = listen_address(args, config.listen)?;
    let summary = vec![format!(
        "users: {}",
        config.users.keys().cloned().collect::<Vec<_>>().join(", ")
    )];
    let config = Arc::new(config);
    let handler = Subsystems::per_user(config.clone(), audit);
    let runtime =
        crate::runtime::server().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(
        listen,
        "each user's root",
        settings,
        config,
        Arc::new(handler),
        &summary,
    ))
}

fn listen_address(args: &Args, configured: Option<SocketAddr>) -> Result<SocketAddr, String> {
    match args.listen.or(configured) {
        Some(a) => Ok(a),
        None => DEFAULT_LISTEN.parse().map_err(|e| format!("{e}")),
    }
}

/// Host keys from files, or the default one generated once and kept.
fn host_keys(files: &[PathBuf]) -> Result<Vec<Arc<PrivateKey>>, String> {
    if files.is_empty() {
        Ok(vec![default_host_key()?])
    } else {
        files.iter().map(|p| load_host_key(p)).collect()
    }
}

async fn serve(
    listen: SocketAddr,
    what: &str,
    mut settings: ServerSettings,
    authenticator: Arc<dyn Authenticator>,
    handler: Arc<Subsystems>,
    summary: &[String],
) -> Result<(), String> {
    settings.trace = crate::trace::sink(0);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("sshwire serve: listening on {local}, serving {what}");
    for key in &settings.host_keys {
        println!(
            "host key: {} {}",
            key.public_key().fingerprint_sha256(),
            key.key_type().name()
        );
    }
    for line in summary {
        println!("{line}");
    }
    println!("connect with: sftp -P {} {}", local.port(), local.ip());
    let server = Server::with_settings(settings);
    let log: Arc<dyn Fn(&str) + Send + Sync> =
        Arc::new(|line: &str| eprintln!("sshwire serve: {line}"));
    server
        .serve(
            listener,
            authenticator,
            handler,
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
    /// Why the sftp subsystem cannot be served, if it cannot.
    unavailable: Option<String>,
    read_only: bool,
    sftp: Option<SftpSubsystem<Setup>>,
}

impl Subsystems {
    fn new(files: Result<Arc<dyn Filesystem>, String>, read_only: bool) -> Subsystems {
        let sftp = files.as_ref().ok().map(|fs| {
            let fs = fs.clone();
            let names: Arc<dyn IdNames> = Arc::new(OwnerNames::load());
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
            unavailable: files.err(),
            read_only,
            sftp,
        }
    }

    /// Each user of the configuration gets their own root and policy.
    fn per_user(config: Arc<ServeConfig>, audit: Arc<dyn AuditSink>) -> Subsystems {
        let names: Arc<dyn IdNames> = Arc::new(OwnerNames::load());
        let max_handles = config.limits.max_handles;
        let setup: Setup = Box::new(move |who: &Authenticated| {
            let user = config.users.get(&who.user)?;
            let fs = sftp_server::local_fs(&user.root).ok()?;
            let policy = ServerConfig {
                read_only: user.read_only,
                umask: user.umask,
                user: user.name.clone(),
                id_names: Some(names.clone()),
                max_handles,
                ..ServerConfig::default()
            };
            Some((fs, policy))
        });
        let log: Log = Arc::new(|line: &str| eprintln!("sshwire serve: {line}"));
        Subsystems {
            unavailable: None,
            read_only: false,
            sftp: Some(SftpSubsystem::new(setup).with_log(log).with_audit(audit)),
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
        let why = match (&self.sftp, &self.unavailable) {
            (Some(sftp), _) if name == "sftp" => return sftp.subsystem(user, name, channel),
            (None, Some(why)) if name == "sftp" => why.clone(),
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
