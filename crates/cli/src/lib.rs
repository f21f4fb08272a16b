//! `sshwire`: an SFTP client and server, and the tools around them.
//!
//! The command lives in this library so that the integration tests can build the very same
//! program under another name; `src/main.rs` only calls [`main`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod connect;
mod connect_failure;
mod cp;
mod exec;
mod identities;
mod keygen;
mod passwd;
mod paths;
// Used by the client commands (sftp, exec, cp) for passwords, passphrases and host keys.
mod prompt;
mod runtime;
mod serve;
mod serve_check;
mod serve_config;
mod serve_logs;
mod serve_penalties;
mod serve_reload;
mod sftp;
mod sftp_server;
mod ssh_config;
mod ssh_options;
mod trace;
mod transfer_failure;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// SSH and SFTP in pure Rust.
#[derive(Parser)]
#[command(name = "sshwire", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a key pair in OpenSSH's formats (like ssh-keygen).
    Keygen(keygen::Args),
    /// Run an SSH server for SFTP on loopback, with defaults that just work.
    Serve(serve::Args),
    /// Serve SFTP on standard input and output, like OpenSSH's sftp-server (for sshd's
    /// `Subsystem sftp` line).
    #[command(name = "sftp-server")]
    SftpServer(sftp_server::Args),
    /// Read a password and print its argon2id hash for `serve --password-file`.
    Passwd(passwd::Args),
    /// Run a command on a server, like `ssh host command`.
    Exec(exec::Args),
    /// Transfer files over SFTP, like OpenSSH's sftp (interactive, or a batch with -b).
    Sftp(sftp::Args),
    /// Copy files to, from and between hosts over SFTP, like scp.
    Cp(cp::Args),
}

/// Runs the command with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Serve(args) => serve::run(args),
        Command::SftpServer(args) => sftp_server::run(args),
        Command::Passwd(args) => passwd::run(args),
        Command::Exec(args) => return exec::run(args),
        Command::Sftp(args) => return sftp::run(args),
        Command::Cp(args) => return cp::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sshwire: {message}");
            ExitCode::from(1)
        }
    }
}
