//! The sshwire command.
#![forbid(unsafe_code)]
fn main() {}
