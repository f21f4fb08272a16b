//! The `sshwire` command.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    sshwire_cli::main()
}
