//! `sshwire serve`: an SSH server for SFTP that works with no configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use sshwire::server::{Handler, Server, ServerSettings};
use sshwire::sftp::fs::Filesystem;
use sshwire::sftp::server::{AuditEvent, AuditSink, IdNames, ServerConfig};
use sshwire::sftp_local::OwnerNames;
use sshwire::sftp_server::{Log, SftpSubsystem};
use sshwire::{Authenticated, Authenticator, Channel, system_rng};
use sshwire_auth::{AuthMethod, AuthorizedKeys, PasswordFile, ServerPolicy};
use sshwire_keys::{KeyType, PrivateKey, PublicKey};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::serve_config::ServeConfig;
use crate::serve_logs::{self, LogFormat, LogLevel};
use crate::serve_penalties::Penalties;
use crate::serve_reload::{self, Loaded, Source};
use crate::{paths, serve_check, sftp_server};

/// How long sessions may go on after SIGTERM before they are disconnected.
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// Where `sshwire serve` listens unless told otherwise.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:2222";

/// Arguments of `sshwire serve`.
#[derive(Parser)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:2222].
    #[arg(long)]
    pub(crate) listen: Option<SocketAddr>,
    /// Directory to serve (created if missing).
    #[arg(long, default_value = "sftp-root", conflicts_with = "config")]
    pub(crate) root: PathBuf,
    /// Configuration file (TOML): users with their own roots, keys, passwords and methods,
    /// limits, penalties, logs, audit log; see docs/serve.md.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Host private key file (repeat for several); default: one ed25519 key generated on first
    /// run and kept in ~/.config/sshwire.
    #[arg(long = "host-key")]
    pub(crate) host_keys: Vec<PathBuf>,
    /// authorized_keys file: a key listed there logs in under any user name (default:
    /// ~/.ssh/authorized_keys).
    #[arg(long, conflicts_with = "config")]
    pub(crate) authorized_keys: Option<PathBuf>,
    /// Password file: lines `user:$argon2id$...` as `sshwire passwd` prints them.
    #[arg(long, conflicts_with = "config")]
    pub(crate) password_file: Option<PathBuf>,
    /// Serve the files read-only: every request that would change them is refused.
    #[arg(long)]
    pub(crate) read_only: bool,
    /// Turn the per-source penalties for failed logins off (for a server behind a proxy,
    /// where every connection comes from one address); with --config, `[penalties]`.
    #[arg(long, conflicts_with = "config")]
    pub(crate) no_penalties: bool,
    /// Check the configuration, host keys, authorized_keys and password files and roots, print
    /// each problem or a summary, and exit (1 if there is a problem); never listens.
    #[arg(long)]
    pub(crate) check_config: bool,
    /// How the log on standard error is written [default: text, or log_format].
    #[arg(long, value_enum)]
    pub(crate) log_format: Option<LogFormat>,
    /// The least severe log events written [default: info, or log_level].
    #[arg(long, value_enum)]
    pub(crate) log_level: Option<LogLevel>,
}

pub fn run(args: Args) -> Result<(), String> {
    let source = Source::from_args(&args)?;
    if args.check_config {
        return serve_check::run(&args, &source);
    }
    let read = source.read()?;
    let audit = source.audit_sink(&read)?;
    let loaded = source.build(read, &audit)?;
    serve_logs::init(
        args.log_format.or(loaded.log_format).unwrap_or_default(),
        args.log_level.or(loaded.log_level).unwrap_or_default(),
    );
    let key_files = if args.host_keys.is_empty() {
        loaded.host_key_files.clone()
    } else {
        args.host_keys.clone()
    };
    let host_keys = host_keys(&key_files)?;
    let listen = match args.listen.or(loaded.listen) {
        Some(a) => a,
        None => DEFAULT_LISTEN.parse().map_err(|e| format!("{e}"))?,
    };
    let penalties = Arc::new(Penalties::new(loaded.penalties.clone()));
    let mut settings = ServerSettings::new(host_keys);
    if let Some(policy) = &loaded.service.policy {
        settings.policy = policy.clone();
    }
    settings.login_grace_time = loaded.login_grace_time;
    settings.max_unauthenticated = loaded.max_unauthenticated;
    settings.gatekeeper = Some(penalties.clone());
    let runtime =
        crate::runtime::server().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(listen, settings, source, audit, loaded, penalties))
}

/// Host keys from files, or the default one generated once and kept.
pub(crate) fn host_keys(files: &[PathBuf]) -> Result<Vec<Arc<PrivateKey>>, String> {
    if files.is_empty() {
        Ok(vec![default_host_key()?])
    } else {
        files.iter().map(|p| load_host_key(p)).collect()
    }
}

async fn serve(
    listen: SocketAddr,
    mut settings: ServerSettings,
    source: Source,
    audit: Arc<dyn AuditSink>,
    loaded: Loaded,
    penalties: Arc<Penalties>,
) -> Result<(), String> {
    settings.trace = crate::trace::sink(0);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "sshwire serve: listening on {local}, serving {}",
        loaded.what
    );
    for key in &settings.host_keys {
        println!(
            "host key: {} {}",
            key.public_key().fingerprint_sha256(),
            key.key_type().name()
        );
    }
    for line in &loaded.summary {
        println!("{line}");
    }
    println!("connect with: sftp -P {} {}", local.port(), local.ip());
    let (services_tx, services) = watch::channel(loaded.service.clone());
    let reloads = tokio::spawn(serve_reload::on_hangup(
        source,
        audit,
        loaded,
        services_tx,
        penalties,
    ));
    let server = Server::with_settings(settings);
    // Every event goes through `tracing` (see serve_logs); the line callback is not needed.
    let log: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(|_: &str| {});
    let result = server
        .serve_services(listener, services, shutdown_signal(), DRAIN_TIME, log)
        .await
        .map_err(|e| e.to_string());
    reloads.abort();
    result
}

/// Completes on SIGINT or SIGTERM: the server stops accepting and drains its sessions.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let name = match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    };
    tracing::info!(
        event = "signal",
        signal = name,
        drain_seconds = DRAIN_TIME.as_secs(),
        "shutting down: sessions may finish"
    );
}

/// What the sftp subsystem serves every user: the root and the policy.
type Setup =
    Box<dyn Fn(&Authenticated) -> Option<(Arc<dyn Filesystem>, ServerConfig)> + Send + Sync>;

/// `sshwire serve` serves the `sftp` subsystem and runs no commands: other requests are
/// refused with a line on the channel's stderr saying so.
pub(crate) struct Subsystems {
    /// Why the sftp subsystem cannot be served, if it cannot.
    unavailable: Option<String>,
    sftp: Option<SftpSubsystem<Setup>>,
}

impl Subsystems {
    /// Why SFTP cannot be served, if it cannot.
    pub(crate) fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    pub(crate) fn new(
        files: Result<Arc<dyn Filesystem>, String>,
        read_only: bool,
        audit: Arc<dyn AuditSink>,
    ) -> Subsystems {
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
            SftpSubsystem::new(setup)
                .with_log(sftp_log())
                .with_audit(audit.clone())
        });
        Subsystems {
            unavailable: files.err(),
            sftp,
        }
    }

    /// Each user of the configuration gets their own root and policy.
    pub(crate) fn per_user(config: Arc<ServeConfig>, audit: Arc<dyn AuditSink>) -> Subsystems {
        let names: Arc<dyn IdNames> = Arc::new(OwnerNames::load());
        let max_handles = config.limits.max_handles;
        let setup: Setup = Box::new(move |who: &Authenticated| {
            let user = config.users.get(&who.user)?;
            let fs = sftp_server::local_fs(&user.root, user.devices).ok()?;
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
        Subsystems {
            unavailable: None,
            sftp: Some(
                SftpSubsystem::new(setup)
                    .with_log(sftp_log())
                    .with_audit(audit),
            ),
        }
    }
}

/// SFTP sessions that end in an error, in the log; the error may quote the peer.
fn sftp_log() -> Log {
    Arc::new(|line: &str| {
        tracing::info!(event = "sftp_error", error = %printable(line), "sftp session failed");
    })
}

/// `text` with its control characters escaped, for a log line.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The audit log without `audit_log`: one event per line of the log on standard error (so
/// JSON stays JSON with `--log-format json`).
pub(crate) struct AuditToLog;

impl AuditSink for AuditToLog {
    fn record(&self, event: &AuditEvent) {
        tracing::info!(target: "sshwire::audit", event = "audit", "{}", printable(&event.to_text()));
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
pub(crate) struct Credentials {
    keys: AuthorizedKeys,
    passwords: Option<PasswordFile>,
    pub(crate) summary: String,
}

impl Credentials {
    pub(crate) fn load(
        authorized_keys: &Path,
        password_file: Option<&Path>,
    ) -> Result<Self, String> {
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
        // sshd(8) skips a line it cannot parse (an unknown option among them): so does this,
        // and says so.
        for (line, why) in &keys.skipped {
            summary.push_str(&format!("; line {line} skipped: {why}"));
        }
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
    pub(crate) fn policy(&self) -> ServerPolicy {
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

/// Whether `key`, from `peer`, may log in under the lines of `keys` that hold it: their
/// authorized_keys options are decided for an SFTP-only server
/// ([`sshwire_keys::key_options::decide_sftp_only`]), and a refusal is logged with its reason.
pub(crate) fn key_allowed(
    keys: &sshwire::auth::AuthorizedKeys,
    key: &PublicKey,
    peer: Option<SocketAddr>,
) -> bool {
    use sshwire_keys::key_options::{KeyDecision, decide_sftp_only};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match decide_sftp_only(keys, key, peer.map(|p| p.ip()), now) {
        KeyDecision::Allowed => true,
        KeyDecision::NotListed => false,
        KeyDecision::Refused(why) => {
            tracing::warn!(
                event = "auth_key_refused",
                peer = peer.map(tracing::field::display),
                key = %key.fingerprint_sha256(),
                reason = %why,
                "key refused by its authorized_keys options"
            );
            false
        }
    }
}

impl Authenticator for Credentials {
    fn public_key(&self, user: &str, key: &PublicKey) -> bool {
        self.public_key_from(user, key, None)
    }

    /// The key's authorized_keys options are enforced for an SFTP-only server (`from=`,
    /// `expiry-time=`, `command=` ...); a key they refuse is logged.
    fn public_key_from(&self, _user: &str, key: &PublicKey, peer: Option<SocketAddr>) -> bool {
        key_allowed(&self.keys, key, peer)
    }

    fn password(&self, user: &str, password: &[u8]) -> bool {
        self.passwords
            .as_ref()
            .is_some_and(|f| f.verify(user, password))
    }
}

/// Loads a host key, which must not be encrypted.
pub(crate) fn load_host_key(path: &Path) -> Result<Arc<PrivateKey>, String> {
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
    tracing::info!(
        event = "host_key_generated",
        path = %path.display(),
        "generated a new host key"
    );
    Ok(Arc::new(key))
}
