//! Where `sshwire serve` gets its users from (a configuration file, or the files named by
//! flags), loading them, and reloading them on SIGHUP.
//!
//! A reload reads everything again: users, keys, authorized_keys and password files, roots,
//! per-user policy, methods, banner, limits on attempts, penalties. New connections get the
//! new configuration; connections already accepted keep the one they started with (the
//! server hands each its [`Service`] once). A configuration that fails to load is logged and
//! the running one kept. What the running server cannot change (the listening address, host
//! keys, the audit log, the log format, the login grace time and the unauthenticated
//! connection limit) is logged as needing a restart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sshwire::server::Service;
use sshwire::sftp::server::{AuditFormat, AuditSink, LineSink};
use tokio::sync::watch;

use crate::serve::{Args, AuditToLog, Credentials, Subsystems};
use crate::serve_config::{self, ServeConfig};
use crate::serve_logs::{LogFormat, LogLevel};
use crate::serve_penalties::{Penalties, PenaltySettings};
use crate::{paths, sftp_server};

/// Where the users come from.
pub(crate) enum Source {
    /// `--config FILE`.
    Config(PathBuf),
    /// `--root`, `--authorized-keys`, `--password-file`, `--read-only`.
    Flags {
        root: PathBuf,
        authorized_keys: PathBuf,
        password_file: Option<PathBuf>,
        read_only: bool,
        /// Whether failed logins earn their source penalties (`--no-penalties` turns off).
        penalties: bool,
    },
}

/// What a source says, read and checked, before anything is created.
pub(crate) enum Read {
    Config(ServeConfig),
    Flags(Credentials),
}

/// A loaded configuration: what new connections are served with, and the rest.
pub(crate) struct Loaded {
    /// Authenticator, handler and policy of new connections.
    pub(crate) service: Service,
    pub(crate) penalties: PenaltySettings,
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) host_key_files: Vec<PathBuf>,
    pub(crate) audit_log: Option<PathBuf>,
    pub(crate) log_format: Option<LogFormat>,
    pub(crate) log_level: Option<LogLevel>,
    pub(crate) login_grace_time: Duration,
    pub(crate) max_unauthenticated: usize,
    /// What is served, for the first line.
    pub(crate) what: String,
    /// Lines printed at start.
    pub(crate) summary: Vec<String>,
}

impl Source {
    pub(crate) fn from_args(args: &Args) -> Result<Source, String> {
        if let Some(path) = &args.config {
            return Ok(Source::Config(path.clone()));
        }
        let authorized_keys = match args.authorized_keys.clone() {
            Some(p) => p,
            None => paths::home()?.join(".ssh").join("authorized_keys"),
        };
        Ok(Source::Flags {
            root: args.root.clone(),
            authorized_keys,
            password_file: args.password_file.clone(),
            read_only: args.read_only,
            penalties: !args.no_penalties,
        })
    }

    /// Reads and checks the configuration or the credential files.
    pub(crate) fn read(&self) -> Result<Read, String> {
        match self {
            Source::Config(path) => ServeConfig::load(path).map(Read::Config),
            Source::Flags {
                authorized_keys,
                password_file,
                ..
            } => Credentials::load(authorized_keys, password_file.as_deref()).map(Read::Flags),
        }
    }

    /// The audit log: the configuration's `audit_log`, or the log on standard error.
    pub(crate) fn audit_sink(&self, read: &Read) -> Result<Arc<dyn AuditSink>, String> {
        let Read::Config(config) = read else {
            return Ok(Arc::new(AuditToLog));
        };
        let Some((path, format)) = &config.audit else {
            return Ok(Arc::new(AuditToLog));
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
        let format = match format {
            serve_config::AuditFormat::Json => AuditFormat::Json,
            serve_config::AuditFormat::Text => AuditFormat::Text,
        };
        Ok(Arc::new(LineSink::new(file, format)))
    }

    /// Creates the roots and builds what connections are served with.
    pub(crate) fn build(&self, read: Read, audit: &Arc<dyn AuditSink>) -> Result<Loaded, String> {
        match (self, read) {
            (Source::Config(_), Read::Config(config)) => build_config(config, audit),
            (
                Source::Flags {
                    root,
                    read_only,
                    penalties,
                    ..
                },
                Read::Flags(credentials),
            ) => {
                std::fs::create_dir_all(root).map_err(|e| {
                    format!("cannot create the root directory {}: {e}", root.display())
                })?;
                // Every user gets the root, jailed; a build without the local backend serves
                // no SFTP (and says so to each client that asks).
                let handler = Subsystems::new(
                    sftp_server::local_fs(root, false),
                    *read_only,
                    audit.clone(),
                );
                let mut summary = vec![credentials.summary.clone()];
                match handler.unavailable() {
                    Some(why) => summary.push(format!("no SFTP: {why}")),
                    None if *read_only => summary.push("serving read-only".to_owned()),
                    None => {}
                }
                let policy = credentials.policy();
                Ok(Loaded {
                    login_grace_time: policy.login_grace_time,
                    service: Service {
                        authenticator: Arc::new(credentials),
                        handler: Arc::new(handler),
                        policy: Some(Arc::new(policy)),
                    },
                    penalties: PenaltySettings {
                        enabled: *penalties,
                        ..PenaltySettings::default()
                    },
                    listen: None,
                    host_key_files: Vec::new(),
                    audit_log: None,
                    log_format: None,
                    log_level: None,
                    max_unauthenticated: 100,
                    what: root.display().to_string(),
                    summary,
                })
            }
            _ => Err("the configuration changed kind".into()),
        }
    }

    /// Reads and builds.
    pub(crate) fn load(&self, audit: &Arc<dyn AuditSink>) -> Result<Loaded, String> {
        self.build(self.read()?, audit)
    }
}

/// `--config`: every user with a root, keys, password and methods of their own.
fn build_config(config: ServeConfig, audit: &Arc<dyn AuditSink>) -> Result<Loaded, String> {
    for user in config.users.values() {
        std::fs::create_dir_all(&user.root).map_err(|e| {
            format!(
                "user {}: cannot create the root directory {}: {e}",
                user.name,
                user.root.display()
            )
        })?;
    }
    let policy = Arc::new(config.policy());
    let summary = vec![format!(
        "users: {}",
        config.users.keys().cloned().collect::<Vec<_>>().join(", ")
    )];
    let config = Arc::new(config);
    Ok(Loaded {
        service: Service {
            authenticator: config.clone(),
            handler: Arc::new(Subsystems::per_user(config.clone(), audit.clone())),
            policy: Some(policy),
        },
        penalties: config.penalties.clone(),
        listen: config.listen,
        host_key_files: config.host_keys.clone(),
        audit_log: config.audit.as_ref().map(|a| a.0.clone()),
        log_format: config.log_format,
        log_level: config.log_level,
        login_grace_time: config.login_grace_time(),
        max_unauthenticated: config.limits.max_unauthenticated,
        what: "each user's root".to_owned(),
        summary,
    })
}

/// Reloads on every SIGHUP until the server stops.
pub(crate) async fn on_hangup(
    source: Source,
    audit: Arc<dyn AuditSink>,
    running: Loaded,
    services: watch::Sender<sshwire::server::Service>,
    penalties: Arc<Penalties>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!(
            event = "reload_unavailable",
            "cannot watch SIGHUP: no reloads"
        );
        return;
    };
    while hup.recv().await.is_some() {
        reload(&source, &audit, &running, &services, &penalties);
    }
}

/// One reload: the new configuration for new connections, or the old one kept.
fn reload(
    source: &Source,
    audit: &Arc<dyn AuditSink>,
    running: &Loaded,
    services: &watch::Sender<Service>,
    penalties: &Penalties,
) {
    let new = match source.load(audit) {
        Ok(new) => new,
        Err(e) => {
            tracing::error!(
                event = "reload_failed",
                error = %e,
                "reload failed: the running configuration stays"
            );
            return;
        }
    };
    let restart = [
        ("listen", new.listen != running.listen),
        ("host_keys", new.host_key_files != running.host_key_files),
        ("audit_log", new.audit_log != running.audit_log),
        (
            "log_format/log_level",
            new.log_format != running.log_format || new.log_level != running.log_level,
        ),
        (
            "login_grace_time",
            new.login_grace_time != running.login_grace_time,
        ),
        (
            "max_unauthenticated",
            new.max_unauthenticated != running.max_unauthenticated,
        ),
    ];
    for (what, changed) in restart {
        if changed {
            tracing::warn!(
                event = "reload_needs_restart",
                setting = what,
                "changed, but takes effect only after a restart"
            );
        }
    }
    penalties.set(new.penalties.clone());
    services.send_replace(new.service);
    tracing::info!(
        event = "reload",
        summary = %new.summary.join("; "),
        "configuration reloaded: new logins use it"
    );
}
