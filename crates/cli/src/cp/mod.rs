//! `sshwire cp`: scp's command line, over SFTP.
//!
//! `sshwire cp [-r] [-p] [-q] [-v] [-P port] [-i identity] [-o option] [-F file] [-J jump]
//! SRC... DST`, where an operand is a local path or `[user@]host:path` (a local name with a
//! `:` in it is written `./name`). As with OpenSSH's scp:
//!
//! - several sources go into a directory; a directory needs `-r`, which follows symbolic
//!   links; `-p` keeps modes and times;
//! - between two remote hosts the data goes through this machine (streamed, a few blocks at
//!   a time); between two local paths it is `cp`'s job;
//! - each problem is one line on standard error, in scp's words, and the others go on; the
//!   exit status is 1 when anything failed, 255 when a connection failed.
//!
//! On a terminal each file has a progress meter on standard output (not with `-q`).

mod between;
mod meter;
mod operand;
mod transfer;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser};
use sshwire::sftp_client::{SftpClient, SftpError};
use sshwire::sftp_transfer::Transfer;

use crate::connect::{Connect, Connected, Destination, SHUTDOWN_GRACE, Verbosity};
use crate::ssh_config::ConfigFile;
use crate::ssh_options::SshOptions;
use operand::{Operand, Remote};

/// The exit status when anything failed.
const FAILED: u8 = 1;
/// The exit status of a connection that failed (as ssh's, which scp passes on).
const CONNECTION_FAILED: u8 = 255;

/// Arguments of `sshwire cp`.
#[derive(Parser)]
#[command(
    override_usage = "sshwire cp [-r] [-p] [-q] [-v] [-P port] [-i identity] [-o option] \
                      [-F file] [-J jump] SRC... DST"
)]
pub struct Args {
    /// Copy directories and their contents (following symbolic links).
    #[arg(short = 'r')]
    recursive: bool,
    /// Keep modification times and modes.
    #[arg(short = 'p')]
    preserve: bool,
    /// Port to connect to on the remote hosts.
    #[arg(short = 'P')]
    port: Option<u16>,
    /// Identity (private key) file; may be repeated.
    #[arg(short = 'i')]
    identity: Vec<PathBuf>,
    /// OpenSSH option, as Keyword=value; may be repeated.
    #[arg(short = 'o')]
    options: Vec<String>,
    /// Configuration file instead of ~/.ssh/config (`none`: no file).
    #[arg(short = 'F')]
    config_file: Option<String>,
    /// Jump hosts to connect through: [user@]host[:port], comma-separated (ProxyJump).
    #[arg(short = 'J')]
    jump: Option<String>,
    /// Quiet: no progress meter, no warnings.
    #[arg(short = 'q')]
    quiet: bool,
    /// Verbose: say more about the connections; -vvv traces every message (as SSHWIRE_TRACE=1).
    #[arg(short = 'v', action = ArgAction::Count)]
    verbose: u8,
    /// Sources, then the destination: local paths or [user@]host:path.
    #[arg(required = true, num_args = 2.., value_name = "PATH")]
    paths: Vec<String>,
}

/// Runs `sshwire cp`.
pub fn run(args: Args) -> ExitCode {
    let runtime = match crate::runtime::client() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sshwire: cannot start the async runtime: {e}");
            return ExitCode::from(CONNECTION_FAILED);
        }
    };
    let code = runtime.block_on(copy(args));
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    ExitCode::from(code)
}

/// Prints one problem, as scp words it.
pub(crate) fn problem(line: impl AsRef<str>) {
    eprintln!("scp: {}", line.as_ref());
}

/// An I/O error's text without Rust's `(os error N)`.
pub(crate) fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// A server's refusal in the words of the matching `errno`, as scp reports them.
pub(crate) fn remote_text(e: &SftpError) -> String {
    use sshwire::sftp::StatusCode;
    match e {
        SftpError::Status { code, .. } if *code == StatusCode::NO_SUCH_FILE => {
            "No such file or directory".to_owned()
        }
        SftpError::Status { code, .. } if *code == StatusCode::PERMISSION_DENIED => {
            "Permission denied".to_owned()
        }
        other => other.to_string(),
    }
}

/// How every file is copied, and how much to say.
#[derive(Clone, Copy)]
pub(crate) struct Settings {
    /// `-r`.
    pub recursive: bool,
    /// Per-file transfer settings (`-p`).
    pub transfer: Transfer,
    /// Progress meters (a terminal, no `-q`).
    pub meter: bool,
    /// `-P`, for the resume command an interrupted transfer suggests.
    pub port: Option<u16>,
}

/// The connections made so far, one per user and host.
struct Hosts<'a> {
    args: &'a Args,
    options: SshOptions,
    verbosity: Verbosity,
    open: Vec<(Option<String>, String, Connected, SftpClient)>,
}

impl Hosts<'_> {
    /// The SFTP session with `remote`'s host, connecting the first time.
    async fn sftp(&mut self, remote: &Remote) -> Result<SftpClient, String> {
        if let Some((.., sftp)) = self
            .open
            .iter()
            .find(|(u, h, ..)| *u == remote.user && *h == remote.host)
        {
            return Ok(sftp.clone());
        }
        let connect = Connect {
            destination: Destination {
                user: remote.user.clone(),
                host: remote.host.clone(),
            },
            port: self.args.port,
            login: None,
            identities: self.args.identity.clone(),
            options: self.options.clone(),
            verbosity: self.verbosity,
            config: ConfigFile::from_arg(self.args.config_file.as_deref()),
            jump: self.args.jump.clone(),
        };
        let client = connect.run().await.map_err(|e| e.0)?;
        let channel = match client.subsystem("sftp").await {
            Ok(c) => c,
            Err(e) => {
                client.disconnect().await;
                return Err(format!("cannot start the sftp subsystem: {e}"));
            }
        };
        let trace = channel.trace_sink();
        let in_flight = sshwire::sftp_client::DEFAULT_IN_FLIGHT;
        let sftp = match SftpClient::with_trace(channel, in_flight, trace).await {
            Ok(s) => s,
            Err(e) => {
                client.disconnect().await;
                return Err(format!("Couldn't initialise connection to server: {e}"));
            }
        };
        self.open.push((
            remote.user.clone(),
            remote.host.clone(),
            client,
            sftp.clone(),
        ));
        Ok(sftp)
    }

    async fn close(self) {
        for (.., client, sftp) in self.open {
            drop(sftp);
            client.disconnect().await;
        }
    }
}

async fn copy(args: Args) -> u8 {
    let mut options = SshOptions::default();
    for o in &args.options {
        if let Err(e) = options.set(o) {
            eprintln!("sshwire: {e}");
            return CONNECTION_FAILED;
        }
    }
    let mut operands = Vec::new();
    for p in &args.paths {
        match Operand::parse(p) {
            Ok(o) => operands.push(o),
            Err(e) => {
                problem(e);
                return FAILED;
            }
        }
    }
    let Some((target, sources)) = operands.split_last() else {
        return FAILED;
    };
    let settings = Settings {
        recursive: args.recursive,
        transfer: Transfer {
            preserve: args.preserve,
            ..Transfer::default()
        },
        meter: !args.quiet && std::io::stdout().is_terminal(),
        port: args.port,
    };
    let verbosity = if args.quiet {
        -1
    } else {
        i32::from(args.verbose)
    };
    let mut hosts = Hosts {
        args: &args,
        options,
        verbosity,
        open: Vec::new(),
    };
    let code = match copy_all(&mut hosts, sources, target, settings).await {
        Ok(true) => 0,
        Ok(false) => FAILED,
        Err(message) => {
            eprintln!("sshwire: {message}");
            CONNECTION_FAILED
        }
    };
    hosts.close().await;
    code
}

/// Copies every source to `target`: `Ok(false)` when something failed (and was reported),
/// `Err` when a connection could not be made.
async fn copy_all(
    hosts: &mut Hosts<'_>,
    sources: &[Operand],
    target: &Operand,
    settings: Settings,
) -> Result<bool, String> {
    let several = sources.len() > 1;
    let mut ok = true;
    match target {
        Operand::Local(dir) => {
            let is_dir = dir.is_dir();
            if several && !is_dir {
                eprintln!("{}: Not a directory", dir.display());
                return Ok(false);
            }
            for source in sources {
                ok &= match source {
                    Operand::Local(path) => transfer::local(path, dir, settings).await,
                    Operand::Remote(r) => {
                        let sftp = hosts.sftp(r).await?;
                        transfer::download(&sftp, r, dir, is_dir, settings).await?
                    }
                };
            }
        }
        Operand::Remote(to) => {
            let dest = hosts.sftp(to).await?;
            let is_dir = dest
                .stat(to.sftp_path())
                .await
                .is_ok_and(|a| transfer::is_dir(&a));
            if several && !is_dir {
                problem(format!("{}: Not a directory", to.path));
                return Ok(false);
            }
            for source in sources {
                ok &= match source {
                    Operand::Local(path) => {
                        transfer::upload(&dest, path, to, is_dir, settings).await?
                    }
                    Operand::Remote(from) => {
                        let src = hosts.sftp(from).await?;
                        between::copy(&src, from, &dest, to, is_dir, settings).await
                    }
                };
            }
        }
    }
    Ok(ok)
}
