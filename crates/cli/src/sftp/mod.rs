//! `sshwire sftp`: OpenSSH's sftp, its flags, commands, batch files and outputs.
//!
//! - `-b FILE` runs the commands of FILE (`-` for standard input), echoing each as
//!   `sftp> command`; a failing command ends the batch with exit status 1 unless its line
//!   starts with `-`; a line starting with `@` is not echoed.
//! - Without `-b`, commands come from standard input: on a terminal with line editing,
//!   history, completion and a progress meter (see `interactive.rs`), echoed otherwise, and a
//!   failure does not end the session.
//! - A destination with a path starts in that directory, or, when the path is a file (or a
//!   pattern), downloads it into the current directory (or the second operand) and exits.
//! - `-D program` talks SFTP to a local program (an `sftp-server`) over its standard input and
//!   output, without SSH.

mod complete;
mod interactive;
mod line;
mod ls;
mod paths;
mod progress;
mod shell;
mod target;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser};
use sshwire::sftp_client::SftpClient;
use sshwire::sftp_transfer::Transfer;
use tokio::io::AsyncBufReadExt;

use crate::connect::{Connect, SHUTDOWN_GRACE};
use crate::ssh_config::ConfigFile;
use crate::ssh_options::SshOptions;
use shell::{Defaults, Outcome, Shell};
use target::Target;

/// The exit status of a fatal error (as OpenSSH's `fatal`).
const FATAL: u8 = 255;

/// Arguments of `sshwire sftp`.
#[derive(Parser)]
pub struct Args {
    /// Port to connect to.
    #[arg(short = 'P')]
    port: Option<u16>,
    /// Identity (private key) file; may be repeated.
    #[arg(short = 'i')]
    identity: Vec<PathBuf>,
    /// Batch file of commands (`-` for standard input); a failing command ends it.
    #[arg(short = 'b')]
    batch: Option<String>,
    /// Configuration file instead of ~/.ssh/config (`none`: no file).
    #[arg(short = 'F')]
    config_file: Option<String>,
    /// Jump hosts to connect through: [user@]host[:port], comma-separated (ProxyJump).
    #[arg(short = 'J')]
    jump: Option<String>,
    /// OpenSSH option, as Keyword=value; may be repeated.
    #[arg(short = 'o')]
    options: Vec<String>,
    /// Ciphers to offer (as `-o Ciphers=`).
    #[arg(short = 'c')]
    cipher: Option<String>,
    /// Compression (as `-o Compression=yes`).
    #[arg(short = 'C')]
    compression: bool,
    /// Requests in flight at once (default: 4 MiB of blocks, more over a long round trip,
    /// 4 to 64 requests).
    #[arg(short = 'R')]
    requests: Option<String>,
    /// Bytes per read or write request (default: the server's limit, 255 KiB against
    /// OpenSSH).
    #[arg(short = 'B')]
    buffer: Option<String>,
    /// SFTP option: `buffer=SIZE` (as -B, with an optional K or M), `nrequests=N` (as -R),
    /// `streams=N` (sessions a large download reads over; default 2, or 1 against sshwire
    /// serve).
    #[arg(short = 'X')]
    sftp_options: Vec<String>,
    /// Recurse into directories on get and put.
    #[arg(short = 'r')]
    recursive: bool,
    /// Resume partial transfers (get and put act as reget and reput).
    #[arg(short = 'a')]
    resume: bool,
    /// Preserve modes and times on get and put.
    #[arg(short = 'p')]
    preserve: bool,
    /// Flush files to disk after each transfer.
    #[arg(short = 'f')]
    fsync: bool,
    /// Quiet: no progress meter, no informational messages.
    #[arg(short = 'q')]
    quiet: bool,
    /// Not quiet, even in batch mode.
    #[arg(short = 'N')]
    noisy: bool,
    /// Verbose: say more about the connection; -vvv traces every message (as SSHWIRE_TRACE=1).
    #[arg(short = 'v', action = ArgAction::Count)]
    verbose: u8,
    /// Talk to this local SFTP server program instead of connecting.
    #[arg(short = 'D')]
    direct: Option<String>,
    /// The subsystem to ask for (default `sftp`).
    #[arg(short = 's')]
    subsystem: Option<String>,
    /// `[user@]host[:path]` or `sftp://[user@]host[:port][/path]`.
    destination: Option<String>,
    /// Where a file named in the destination is downloaded to.
    local: Option<String>,
}

/// Where commands come from.
enum Input {
    /// A batch file's lines.
    Batch(Vec<String>),
    /// Standard input; `true` on a terminal.
    Stdin(bool),
}

/// Runs `sshwire sftp`.
pub fn run(args: Args) -> ExitCode {
    let runtime = match crate::runtime::client() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sshwire: cannot start the async runtime: {e}");
            return ExitCode::from(FATAL);
        }
    };
    let code = runtime.block_on(session(args));
    let _ = std::io::stdout().flush();
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    ExitCode::from(code)
}

fn positive(what: &str, value: Option<&str>) -> Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!("Invalid {what} \"{v}\"")),
        },
    }
}

/// What the command line asks for, checked before connecting.
struct Plan {
    connect: Option<(Connect, String)>,
    direct: Option<Vec<String>>,
    target_path: Option<String>,
    local: Option<String>,
    defaults: Defaults,
    input: Input,
    /// `-v` count (`-1` with `-q`): `-vvv` traces a `-D` session too.
    verbosity: i32,
}

/// The most sessions `-X streams=` may ask a large download to read over.
const MAX_STREAMS: u64 = 8;

/// What `-X` options set: buffer size, requests in flight, streams.
#[derive(Debug, Default, PartialEq, Eq)]
struct SftpOptions {
    buffer: Option<u64>,
    requests: Option<u64>,
    streams: Option<u64>,
}

/// Reads `-X` options as OpenSSH's sftp does (`buffer=`, `nrequests=`), and ours, `streams=`.
fn sftp_options(given: &[String]) -> Result<SftpOptions, String> {
    let mut out = SftpOptions::default();
    for option in given {
        if let Some(v) = option.strip_prefix("buffer=") {
            let (digits, scale) = match v.strip_suffix(['k', 'K']) {
                Some(d) => (d, 1024),
                None => match v.strip_suffix(['m', 'M']) {
                    Some(d) => (d, 1024 * 1024),
                    None => (v, 1),
                },
            };
            let size = positive("buffer size", Some(digits))
                .ok()
                .flatten()
                .and_then(|n| n.checked_mul(scale))
                .filter(|&n| n <= 256 * 1024)
                .ok_or_else(|| format!("Invalid buffer size \"{v}\""))?;
            out.buffer = Some(size);
        } else if let Some(v) = option.strip_prefix("nrequests=") {
            out.requests = positive("number of requests", Some(v))?;
        } else if let Some(v) = option.strip_prefix("streams=") {
            let n = positive("number of streams", Some(v))?
                .filter(|&n| n <= MAX_STREAMS)
                .ok_or_else(|| format!("Invalid number of streams \"{v}\" (1 to {MAX_STREAMS})"))?;
            out.streams = Some(n);
        } else {
            return Err(format!(
                "Invalid -X option \"{option}\" (buffer=, nrequests= or streams=)"
            ));
        }
    }
    Ok(out)
}

fn plan(args: Args) -> Result<Plan, String> {
    let x = sftp_options(&args.sftp_options)?;
    // As OpenSSH's sftp, -X and -B or -R set the same thing, and the last one given wins; clap
    // does not keep their order, so -B and -R win here.
    let requests = positive("number of requests", args.requests.as_deref())?.or(x.requests);
    let buffer = positive("buffer size", args.buffer.as_deref())?.or(x.buffer);
    let batch = match args.batch.as_deref() {
        None => None,
        Some("-") => {
            Some(std::io::read_to_string(std::io::stdin()).map_err(|e| format!("{e} (-).",))?)
        }
        Some(file) => Some(std::fs::read_to_string(file).map_err(|e| format!("{e} ({file})."))?),
    };
    let quiet = (args.quiet || batch.is_some()) && !args.noisy;
    let input = match batch {
        Some(text) => Input::Batch(text.lines().map(str::to_owned).collect()),
        None => Input::Stdin(std::io::IsTerminal::is_terminal(&std::io::stdin())),
    };
    let mut options = SshOptions::default();
    for o in &args.options {
        options.set(o)?;
    }
    if let Some(c) = &args.cipher {
        options.set(&format!("Ciphers={c}"))?;
    }
    if args.compression {
        options.set("Compression=yes")?;
    }
    // `-b` implies BatchMode, after the user's own -o options (the first value wins).
    if matches!(input, Input::Batch(_)) {
        options.set("BatchMode=yes")?;
    }
    let verbosity = if args.quiet {
        -1
    } else {
        i32::from(args.verbose)
    };
    let defaults = Defaults {
        flags: line::TransferFlags {
            resume: args.resume,
            fsync: args.fsync,
            preserve: args.preserve,
            recursive: args.recursive,
        },
        block: buffer.map_or(0, |b| u32::try_from(b).unwrap_or(u32::MAX)),
        in_flight: requests.map_or(0, |r| usize::try_from(r).unwrap_or(usize::MAX)),
        streams: x.streams.map_or(Transfer::default().streams, |n| {
            usize::try_from(n).unwrap_or(1)
        }),
        quiet,
        progress: !args.quiet && !matches!(input, Input::Batch(_)),
        meter: matches!(input, Input::Stdin(true)) && std::io::stdout().is_terminal(),
    };
    if let Some(program) = args.direct {
        let argv: Vec<String> = line::words(&program)
            .map_err(|e| format!("Parse -D arguments: {e}"))?
            .iter()
            .map(|w| line::unescape(w))
            .collect();
        if argv.is_empty() {
            return Err("No sftp server specified via -D".into());
        }
        return Ok(Plan {
            connect: None,
            direct: Some(argv),
            target_path: None,
            local: None,
            defaults,
            input,
            verbosity,
        });
    }
    let Some(destination) = args.destination else {
        return Err("usage: sshwire sftp [options] [user@]host[:path] (see --help)".into());
    };
    let target = Target::parse(&destination)?;
    let connect = Connect {
        destination: target.destination,
        port: args.port.or(target.port),
        login: None,
        identities: args.identity,
        options,
        verbosity,
        config: ConfigFile::from_arg(args.config_file.as_deref()),
        jump: args.jump,
    };
    let subsystem = args.subsystem.unwrap_or_else(|| "sftp".into());
    Ok(Plan {
        connect: Some((connect, subsystem)),
        direct: None,
        target_path: target.path,
        local: args.local,
        defaults,
        input,
        verbosity,
    })
}

async fn session(args: Args) -> u8 {
    let plan = match plan(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sshwire: {e}");
            return FATAL;
        }
    };
    // Said on a terminal only: piped and batch sessions print what OpenSSH's sftp prints
    // there, and scripts compare it.
    let greet = !plan.defaults.quiet && matches!(plan.input, Input::Stdin(true));
    // The session's own limit: `-R`, or the most a transfer chooses by itself.
    let in_flight = match plan.defaults.in_flight {
        0 => sshwire::sftp_client::DEFAULT_IN_FLIGHT,
        n => n,
    };
    let (sftp, client) = if let Some(argv) = &plan.direct {
        match direct(argv, in_flight, plan.verbosity).await {
            Ok(s) => (s, None),
            Err(e) => {
                eprintln!("sshwire: {e}");
                return FATAL;
            }
        }
    } else if let Some((connect, subsystem)) = &plan.connect {
        let client = match connect.run().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("sshwire: {}", e.0);
                return FATAL;
            }
        };
        match client.sftp_with(subsystem, in_flight).await {
            Ok(s) => {
                if greet {
                    eprintln!("Connected to {}.", connect.destination.host);
                }
                (s, Some(client))
            }
            Err(e) => {
                match e {
                    sshwire::Error::Sftp(e) => {
                        eprintln!("sshwire: Couldn't initialise connection to server: {e}")
                    }
                    e => eprintln!("sshwire: cannot start the {subsystem} subsystem: {e}"),
                }
                client.disconnect().await;
                return FATAL;
            }
        }
    } else {
        return FATAL;
    };
    let code = commands(sftp, plan).await;
    if let Some(client) = client {
        client.disconnect().await;
    }
    code
}

/// Starts `argv` and speaks SFTP over its standard input and output.
async fn direct(argv: &[String], in_flight: usize, verbosity: i32) -> Result<SftpClient, String> {
    let (program, rest) = argv
        .split_first()
        .ok_or("No sftp server specified via -D")?;
    let mut child = tokio::process::Command::new(program)
        .args(rest)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("exec: {program}: {e}"))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(format!("exec: {program}: no pipes"));
    };
    // The child ends when its standard input closes, with the session.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    let trace = crate::trace::sink(verbosity);
    SftpClient::with_trace(tokio::io::join(stdout, stdin), in_flight, trace)
        .await
        .map_err(|e| format!("Couldn't initialise connection to server: {e}"))
}

/// The session proper: the start directory, then the commands. Returns the exit status.
async fn commands(sftp: SftpClient, plan: Plan) -> u8 {
    let pwd = match sftp.realpath(b".").await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sshwire: Need cwd: {e}");
            return 1;
        }
    };
    let quiet = plan.defaults.quiet;
    let mut shell = Shell::new(sftp, pwd, plan.defaults);
    if let Some(path) = &plan.target_path {
        let dir = paths::absolute(path.as_bytes(), shell.pwd());
        if plan.local.is_none() && shell.remote_is_dir(&dir).await {
            let shown = String::from_utf8_lossy(&dir).into_owned();
            if !quiet {
                println!("Changing to: {shown}");
            }
            let cd = line::Command::Cd(Some(shown));
            return match shell.run(cd, true).await {
                Outcome::Done => run_input(&mut shell, plan.input).await,
                _ => 1,
            };
        }
        // A file (or a pattern): fetch it and stop.
        let pattern = line::escape(&String::from_utf8_lossy(&dir));
        let pattern = if line::has_wildcards(path) {
            path.clone()
        } else {
            pattern
        };
        let ok = shell
            .get(
                line::TransferFlags::default(),
                &pattern,
                plan.local.as_deref(),
            )
            .await;
        return match (ok, shell.lost) {
            (_, true) => FATAL,
            (true, false) => 0,
            (false, false) => 1,
        };
    }
    run_input(&mut shell, plan.input).await
}

/// Runs the commands of a batch or of standard input.
async fn run_input(shell: &mut Shell, input: Input) -> u8 {
    match input {
        Input::Batch(lines) => {
            for l in lines {
                match one_line(shell, &l, true, true).await {
                    Some(code) => return code,
                    None => continue,
                }
            }
            0
        }
        Input::Stdin(true) => match interactive::run(shell).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("sshwire: {e}; reading plain lines");
                plain_lines(shell, true).await
            }
        },
        Input::Stdin(false) => plain_lines(shell, false).await,
    }
}

/// Reads commands from standard input as plain lines: with a bare prompt on a terminal,
/// echoed otherwise.
async fn plain_lines(shell: &mut Shell, terminal: bool) -> u8 {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        if terminal {
            print!("sftp> ");
            let _ = std::io::stdout().flush();
        }
        let l = match lines.next_line().await {
            Ok(Some(l)) => l,
            Ok(None) | Err(_) => {
                if terminal {
                    println!();
                }
                return 0;
            }
        };
        if let Some(code) = one_line(shell, &l, !terminal, false).await {
            return code;
        }
    }
}

/// Runs one line; `Some(status)` ends the session.
async fn one_line(shell: &mut Shell, l: &str, echo: bool, batch: bool) -> Option<u8> {
    let (prefixes, rest) = line::prefixes(l);
    if echo && !prefixes.no_echo {
        println!("sftp> {l}");
    }
    let abort = batch && !prefixes.ignore_errors;
    let outcome = match line::parse(rest) {
        Ok(None) => Outcome::Done,
        Ok(Some(command)) => shell.run(command, abort).await,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("{e}");
            Outcome::Failed
        }
    };
    let _ = std::io::stdout().flush();
    if shell.lost {
        return Some(FATAL);
    }
    match outcome {
        Outcome::Quit => Some(0),
        Outcome::Failed if abort => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(given: &[&str]) -> Result<SftpOptions, String> {
        sftp_options(&given.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn dash_x_reads_openssh_options_and_streams() {
        let o = x(&["buffer=64K", "nrequests=16", "streams=2"]).unwrap();
        assert_eq!(
            o,
            SftpOptions {
                buffer: Some(65536),
                requests: Some(16),
                streams: Some(2),
            }
        );
        assert_eq!(x(&["buffer=1000"]).unwrap().buffer, Some(1000));
        // OpenSSH's bound on the buffer, and ours on streams; zero and words are refused.
        for bad in [
            "buffer=257K",
            "buffer=0",
            "buffer=1M",
            "nrequests=0",
            "streams=0",
            "streams=9",
            "streams=two",
            "speed=fast",
        ] {
            assert!(x(&[bad]).is_err(), "{bad} should be refused");
        }
    }
}
