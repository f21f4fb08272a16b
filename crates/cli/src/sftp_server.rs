//! `sshwire sftp-server`: SFTP over standard input and output, a drop-in for OpenSSH's
//! `sftp-server` in sshd's `Subsystem sftp` line.
//!
//! Like OpenSSH's, it runs as the logged-in user and serves the whole file system (no jail),
//! starting in the current directory (sshd starts subsystems in the home directory) or in
//! `-d`. The flags are OpenSSH's: `-R` read-only, `-d` start directory (`%d` home, `%u` user
//! name, `%U` user id, `%%`, and a leading `~`), `-u` umask, `-p` and `-P` request allow and
//! deny lists, `-Q requests`, `-e` log to stderr, `-l` level and `-f` facility for syslog.
//!
//! Differences: an unknown name in `-p` or `-P` is an error (OpenSSH ignores it); times in
//! listings are UTC; `~user` in expand-path works for the session's own user only.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use sshwire::sftp::fs::Filesystem;
use sshwire::sftp::server::Session;
use sshwire::sftp::server::{AuditEvent, AuditSink, RequestKind, ServerConfig};
use sshwire::sftp_local::OwnerNames;
use sshwire::sftp_server::serve_traced;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::paths;

/// Arguments of `sshwire sftp-server` (OpenSSH `sftp-server`'s flags).
#[derive(Parser)]
pub struct Args {
    /// Read-only: refuse every request that would change the file system.
    #[arg(short = 'R')]
    read_only: bool,
    /// Start directory. %d is the home directory, %u the user name, %U the user id, %% a
    /// percent sign; a leading ~ is the home directory.
    #[arg(short = 'd', value_name = "start_directory")]
    start_dir: Option<String>,
    /// Umask for files and directories the client creates, in octal (default 022).
    #[arg(short = 'u', value_name = "umask")]
    umask: Option<String>,
    /// Log level: QUIET, FATAL, ERROR (default), INFO (with the audit log), VERBOSE, DEBUG,
    /// DEBUG1, DEBUG2 or DEBUG3.
    #[arg(short = 'l', value_name = "log_level")]
    level: Option<String>,
    /// Log to standard error instead of syslog.
    #[arg(short = 'e')]
    log_stderr: bool,
    /// Syslog facility: DAEMON, USER, AUTH (default), AUTHPRIV, LOCAL0 to LOCAL7.
    #[arg(short = 'f', value_name = "log_facility")]
    facility: Option<String>,
    /// Serve only these requests (comma-separated names, as -Q requests lists them).
    #[arg(short = 'p', value_name = "allowed_requests")]
    allowed: Option<String>,
    /// Refuse these requests (comma-separated names); wins over -p.
    #[arg(short = 'P', value_name = "denied_requests")]
    denied: Option<String>,
    /// Print what is asked (only "requests": the request names) and exit.
    #[arg(short = 'Q', value_name = "protocol_feature")]
    query: Option<String>,
}

/// The local file system rooted at `root`, jailed there (`/` for `sftp-server`, the served
/// directory for `serve`), opening character devices if `devices` says so.
pub(crate) fn local_fs(root: &Path, devices: bool) -> Result<Arc<dyn Filesystem>, String> {
    let fs = sshwire::sftp_local::LocalFs::new(root)
        .map_err(|e| format!("cannot serve {}: {e}", root.display()))?
        .with_devices(devices);
    Ok(Arc::new(fs))
}

pub fn run(args: Args) -> Result<(), String> {
    if let Some(query) = &args.query {
        // OpenSSH sftp-server -Q requests: the names -p and -P take.
        if !query.eq_ignore_ascii_case("requests") {
            return Err(format!("invalid query type {query:?} (only \"requests\")"));
        }
        for kind in RequestKind::ALL {
            println!("{}", kind.name());
        }
        return Ok(());
    }
    let mut warnings = Vec::new();
    let level = match args.level.as_deref().map(Level::parse) {
        None => Level::Error,
        Some(Some(level)) => level,
        Some(None) => {
            warnings.push(format!(
                "invalid log level {:?}",
                args.level.as_deref().unwrap_or_default()
            ));
            Level::Error
        }
    };
    let facility = match args.facility.as_deref().map(facility_code) {
        None => FACILITY_AUTH,
        Some(Some(f)) => f,
        Some(None) => {
            warnings.push(format!(
                "invalid log facility {:?}",
                args.facility.as_deref().unwrap_or_default()
            ));
            FACILITY_AUTH
        }
    };
    let log = Logger::new(level, args.log_stderr, facility);
    for w in warnings {
        log.error(&w);
    }
    let user = paths::current_user();
    let home = paths::home().ok();
    let config = config(&args, &user, home.as_deref(), &log)?;
    // Like OpenSSH's sftp-server, which opens whatever its user may: `put big /dev/null`.
    let fs = local_fs(Path::new("/"), true)?;
    let runtime =
        crate::runtime::server().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let stdio = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
    let result = runtime.block_on(run_with(stdio, fs, config, log));
    // Standard input is read on a blocking thread that cannot be interrupted: do not wait
    // for it after a session that ended before the client did.
    runtime.shutdown_background();
    result
}

/// Serves one session over `stream` (standard input and output, for the command).
pub async fn run_with<S>(
    stream: S,
    fs: Arc<dyn Filesystem>,
    config: ServerConfig,
    log: Logger,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Send,
{
    let client = std::env::var("SSH_CONNECTION")
        .ok()
        .and_then(|c| c.split(' ').next().map(str::to_owned))
        .unwrap_or_else(|| "UNKNOWN".to_owned());
    let user = config.user.clone();
    log.info(&format!(
        "session opened for local user {user} from [{client}]"
    ));
    let audit: Arc<dyn AuditSink> = Arc::new(log.clone());
    let session = Session::new(fs, config, Some(audit));
    let result = serve_traced(stream, session, crate::trace::sink(0)).await;
    match result {
        Ok(()) => {
            log.info(&format!(
                "session closed for local user {user} from [{client}]"
            ));
            Ok(())
        }
        Err(e) => {
            log.error(&format!("session of {user} from [{client}] ended: {e}"));
            Err(e.to_string())
        }
    }
}

/// The session's policy from the flags.
fn config(
    args: &Args,
    user: &str,
    home: Option<&Path>,
    log: &Logger,
) -> Result<ServerConfig, String> {
    let umask = match &args.umask {
        Some(u) => parse_umask(u)?,
        None => 0o022,
    };
    let allowed = args
        .allowed
        .as_deref()
        .map(ServerConfig::parse_request_list)
        .transpose()?;
    let denied = args
        .denied
        .as_deref()
        .map(ServerConfig::parse_request_list)
        .transpose()?
        .unwrap_or_default();
    let cwd = std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?;
    let home_text = home.map(|h| h.to_string_lossy().into_owned());
    let mut start = cwd.clone();
    if let Some(spec) = &args.start_dir {
        let dir = cwd.join(expand_start_dir(
            spec,
            home_text.as_deref().unwrap_or("/"),
            user,
            &current_uid(),
        )?);
        // OpenSSH sftp-server: if it cannot chdir to the start directory, it logs an error
        // and stays where it is.
        if dir.is_dir() {
            start = dir;
        } else {
            log.error(&format!(
                "start directory {} is not a directory",
                dir.display()
            ));
        }
    }
    Ok(ServerConfig {
        read_only: args.read_only,
        umask,
        allowed,
        denied,
        start_dir: start.as_os_str().as_bytes().to_vec(),
        home: home.map(|h| h.as_os_str().as_bytes().to_vec()),
        user: user.to_owned(),
        id_names: Some(Arc::new(OwnerNames::load())),
        ..ServerConfig::default()
    })
}

/// An octal umask as OpenSSH's `-u` takes it: 0 to 0777.
fn parse_umask(text: &str) -> Result<u32, String> {
    match u32::from_str_radix(text, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("invalid umask {text:?}")),
    }
}

/// Expands `-d`: a leading `~` or `~user` (the current user only), then `%d`, `%u`, `%U`
/// and `%%`.
fn expand_start_dir(spec: &str, home: &str, user: &str, uid: &str) -> Result<PathBuf, String> {
    let tilde = match spec.strip_prefix('~') {
        Some(rest) => {
            let (name, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            if !name.is_empty() && name != user {
                return Err(format!("-d {spec}: unknown user {name:?}"));
            }
            format!("{home}{tail}")
        }
        None => spec.to_owned(),
    };
    let mut out = String::new();
    let mut chars = tilde.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(home),
            Some('u') => out.push_str(user),
            Some('U') => out.push_str(uid),
            Some('%') => out.push('%'),
            Some(other) => return Err(format!("-d {spec}: unknown escape %{other}")),
            None => return Err(format!("-d {spec}: a lone % at the end")),
        }
    }
    Ok(PathBuf::from(out))
}

/// This process's user id, as text: the owner of `/proc/self` (Linux).
fn current_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .unwrap_or_default()
}

/// Log levels, OpenSSH's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing.
    Quiet,
    /// Only what ends the program.
    Fatal,
    /// Errors (the default).
    Error,
    /// Sessions and the audit log.
    Info,
    /// More.
    Verbose,
    /// Debugging.
    Debug1,
    /// More debugging.
    Debug2,
    /// Most debugging.
    Debug3,
}

impl Level {
    /// A level by OpenSSH's name, in any case.
    fn parse(name: &str) -> Option<Level> {
        Some(match name.to_ascii_uppercase().as_str() {
            "QUIET" => Level::Quiet,
            "FATAL" => Level::Fatal,
            "ERROR" => Level::Error,
            "INFO" => Level::Info,
            "VERBOSE" => Level::Verbose,
            "DEBUG" | "DEBUG1" => Level::Debug1,
            "DEBUG2" => Level::Debug2,
            "DEBUG3" => Level::Debug3,
            _ => return None,
        })
    }

    /// The syslog severity (RFC 5424 §6.2.1).
    fn severity(self) -> u8 {
        match self {
            Level::Quiet | Level::Fatal => 2,
            Level::Error => 3,
            Level::Info | Level::Verbose => 6,
            Level::Debug1 | Level::Debug2 | Level::Debug3 => 7,
        }
    }
}

/// `LOG_AUTH`, OpenSSH's default facility.
const FACILITY_AUTH: u8 = 4;

/// A syslog facility code by OpenSSH's name.
fn facility_code(name: &str) -> Option<u8> {
    let upper = name.to_ascii_uppercase();
    Some(match upper.as_str() {
        "USER" => 1,
        "DAEMON" => 3,
        "AUTH" => FACILITY_AUTH,
        "AUTHPRIV" => 10,
        _ => {
            let n: u8 = upper.strip_prefix("LOCAL")?.parse().ok()?;
            if n > 7 {
                return None;
            }
            16 + n
        }
    })
}

/// Log lines to standard error, or to syslog through `/dev/log`, at or below a level.
#[derive(Clone)]
pub struct Logger {
    level: Level,
    syslog: Option<Arc<UnixDatagram>>,
    facility: u8,
    stderr: bool,
}

impl Logger {
    fn new(level: Level, stderr: bool, facility: u8) -> Logger {
        let syslog = if stderr {
            None
        } else {
            UnixDatagram::unbound()
                .and_then(|s| s.connect("/dev/log").map(|()| s))
                .ok()
                .map(Arc::new)
        };
        Logger {
            level,
            syslog,
            facility,
            stderr,
        }
    }

    fn log(&self, level: Level, message: &str) {
        if level > self.level || self.level == Level::Quiet {
            return;
        }
        if self.stderr {
            eprintln!("{message}");
        } else if let Some(socket) = &self.syslog {
            // RFC 3164 §4.1: "<PRI>" then the tag and the message; syslogd adds the time.
            let pri = u16::from(self.facility) * 8 + u16::from(level.severity());
            let line = format!(
                "<{pri}>sshwire-sftp-server[{}]: {message}",
                std::process::id()
            );
            let _ = socket.send(line.as_bytes());
        }
    }

    fn error(&self, message: &str) {
        self.log(Level::Error, message);
    }

    fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }
}

impl AuditSink for Logger {
    fn record(&self, event: &AuditEvent) {
        self.info(&event.to_text());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_directory_expansions() {
        let x = |s: &str| expand_start_dir(s, "/home/al", "al", "1000");
        assert_eq!(x("/srv/%u").unwrap(), Path::new("/srv/al"));
        assert_eq!(x("%d/up").unwrap(), Path::new("/home/al/up"));
        assert_eq!(x("/u/%U/100%%").unwrap(), Path::new("/u/1000/100%"));
        assert_eq!(x("~").unwrap(), Path::new("/home/al"));
        assert_eq!(x("~/x").unwrap(), Path::new("/home/al/x"));
        assert_eq!(x("~al/x").unwrap(), Path::new("/home/al/x"));
        assert!(x("~bob/x").is_err());
        assert!(x("/a/%x").is_err());
        assert!(x("/a/%").is_err());
    }

    #[test]
    fn umask_levels_and_facilities() {
        assert_eq!(parse_umask("022"), Ok(0o022));
        assert_eq!(parse_umask("0777"), Ok(0o777));
        for bad in ["", "1000", "8", "-1", "0o22"] {
            assert!(parse_umask(bad).is_err(), "{bad}");
        }
        assert_eq!(Level::parse("debug"), Some(Level::Debug1));
        assert_eq!(Level::parse("DEBUG3"), Some(Level::Debug3));
        assert_eq!(Level::parse("verbose"), Some(Level::Verbose));
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(facility_code("auth"), Some(4));
        assert_eq!(facility_code("LOCAL7"), Some(23));
        assert_eq!(facility_code("local8"), None);
        assert_eq!(facility_code("kern"), None);
    }

    #[test]
    fn flags_make_the_policy() {
        let args = Args::try_parse_from([
            "sftp-server",
            "-R",
            "-u",
            "077",
            "-p",
            "open,read,close",
            "-P",
            "remove",
            "-d",
            "/",
            "-e",
            "-l",
            "INFO",
        ])
        .unwrap();
        let log = Logger::new(Level::Quiet, true, FACILITY_AUTH);
        let config = config(&args, "al", Some(Path::new("/home/al")), &log).unwrap();
        assert!(config.read_only);
        assert_eq!(config.umask, 0o077);
        assert_eq!(
            config.allowed,
            Some(vec![
                RequestKind::Open,
                RequestKind::Read,
                RequestKind::Close
            ])
        );
        assert_eq!(config.denied, [RequestKind::Remove]);
        assert_eq!(config.start_dir, b"/");
        assert_eq!(config.home.as_deref(), Some(&b"/home/al"[..]));
        assert_eq!(config.user, "al");
        let bad = Args::try_parse_from(["sftp-server", "-P", "remove,delete"]).unwrap();
        assert!(config_err(&bad).contains("delete"));
        let bad = Args::try_parse_from(["sftp-server", "-u", "999"]).unwrap();
        assert!(config_err(&bad).contains("umask"));
    }

    fn config_err(args: &Args) -> String {
        let log = Logger::new(Level::Quiet, true, FACILITY_AUTH);
        config(args, "al", None, &log).err().unwrap_or_default()
    }
}
