//! The `sshwire` command, built inside the test package.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    sshwire_cli::main()
}
