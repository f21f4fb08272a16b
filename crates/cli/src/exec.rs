//! `sshwire exec`: run a command on a server the way `ssh host command` does.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser};
use sshwire::ExitStatus;
use tokio::io::AsyncWriteExt;

use crate::connect::{Connect, Destination, SHUTDOWN_GRACE};
use crate::ssh_config::ConfigFile;
use crate::ssh_options::SshOptions;

/// ssh's status for errors of its own (connection, authentication, a missing exit status).
const SSH_FAILURE: u8 = 255;

/// Arguments of `sshwire exec`.
#[derive(Parser)]
pub struct Args {
    /// Port to connect to.
    #[arg(short = 'p')]
    port: Option<u16>,
    /// Identity (private key) file; may be repeated.
    #[arg(short = 'i')]
    identity: Vec<PathBuf>,
    /// Configuration file instead of ~/.ssh/config (`none`: no file).
    #[arg(short = 'F')]
    config_file: Option<String>,
    /// Jump hosts to connect through: [user@]host[:port], comma-separated (ProxyJump).
    #[arg(short = 'J')]
    jump: Option<String>,
    /// OpenSSH option, as Keyword=value (StrictHostKeyChecking, UserKnownHostsFile,
    /// IdentityFile, BatchMode, ...); may be repeated.
    #[arg(short = 'o')]
    options: Vec<String>,
    /// User to log in as.
    #[arg(short = 'l')]
    login: Option<String>,
    /// Read stdin from /dev/null.
    #[arg(short = 'n')]
    null_stdin: bool,
    /// Verbose: say more about the connection; -vvv traces every message (as SSHWIRE_TRACE=1).
    #[arg(short = 'v', action = ArgAction::Count)]
    verbose: u8,
    /// Quiet: no warnings or diagnostics.
    #[arg(short = 'q')]
    quiet: bool,
    /// Where: [user@]host.
    destination: String,
    /// The command and its arguments (joined with spaces, as ssh does).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Runs the command; the remote exit status becomes ours.
pub fn run(args: Args) -> ExitCode {
    match prepare(args) {
        Ok((connect, command, null_stdin)) => {
            let runtime = match crate::runtime::client() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("sshwire: cannot start the async runtime: {e}");
                    return ExitCode::from(SSH_FAILURE);
                }
            };
            let code = runtime.block_on(exec(connect, command, null_stdin));
            // The stdin reader may sit in a blocking read: do not wait for it.
            runtime.shutdown_timeout(SHUTDOWN_GRACE);
            ExitCode::from(code)
        }
        Err(message) => {
            eprintln!("sshwire: {message}");
            ExitCode::from(SSH_FAILURE)
        }
    }
}

fn prepare(args: Args) -> Result<(Connect, String, bool), String> {
    let mut options = SshOptions::default();
    for o in &args.options {
        options.set(o)?;
    }
    let destination = Destination::parse(&args.destination)?;
    let verbosity = if args.quiet {
        -1
    } else {
        i32::from(args.verbose)
    };
    let connect = Connect {
        destination,
        port: args.port,
        login: args.login,
        identities: args.identity,
        options,
        verbosity,
        config: ConfigFile::from_arg(args.config_file.as_deref()),
        jump: args.jump,
    };
    Ok((connect, args.command.join(" "), args.null_stdin))
}

async fn exec(connect: Connect, command: String, null_stdin: bool) -> u8 {
    let client = match connect.run().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sshwire: {}", e.0);
            return SSH_FAILURE;
        }
    };
    let channel = match client.exec(&command).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sshwire: {e}");
            return SSH_FAILURE;
        }
    };
    let mut remote_stderr = channel.stderr();
    let (mut remote_out, mut remote_in) = channel.split();
    // Our stdin goes to the command until it ends (then EOF); the command may finish first.
    let stdin_task = tokio::spawn(async move {
        if !null_stdin {
            let mut stdin = tokio::io::stdin();
            let _ = tokio::io::copy(&mut stdin, &mut remote_in).await;
        }
        let _ = remote_in.shutdown().await;
    });
    let out = async {
        let mut stdout = tokio::io::stdout();
        let r = tokio::io::copy(&mut remote_out, &mut stdout).await;
        let _ = stdout.flush().await;
        r
    };
    let err = async {
        let mut stderr = tokio::io::stderr();
        let r = tokio::io::copy(&mut remote_stderr, &mut stderr).await;
        let _ = stderr.flush().await;
        r
    };
    let (out, err) = tokio::join!(out, err);
    if let Err(e) = out.and(err) {
        // Our own stdout closed (a pipe whose reader left), or the connection broke.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("sshwire: {e}");
        }
    }
    let status = remote_out.exit_status().await;
    stdin_task.abort();
    drop((remote_out, remote_stderr));
    client.disconnect().await;
    match status {
        Some(ExitStatus::Code(n)) => u8::try_from(n & 0xff).unwrap_or(SSH_FAILURE),
        // ssh has no status of its own for a command killed by a signal: 255, as for any
        // session that ended without an exit status.
        Some(ExitStatus::Signal { .. }) | None => SSH_FAILURE,
    }
}
