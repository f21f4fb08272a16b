//! `sshwire passwd`: a password hash for `sshwire serve --password-file`.

use std::io::{BufRead, IsTerminal};

use clap::Parser;
use sshwire::system_rng;
use zeroize::Zeroizing;

/// Arguments of `sshwire passwd`.
#[derive(Parser)]
pub struct Args {
    /// Print a whole password file line, `USER:HASH`, instead of the hash alone.
    user: Option<String>,
}

pub fn run(args: Args) -> Result<(), String> {
    if let Some(user) = &args.user
        && (user.is_empty() || user.contains(':') || user.chars().any(char::is_control))
    {
        return Err(format!("{user:?} cannot be a user name in a password file"));
    }
    let password = if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(
            rpassword::prompt_password("New password: ")
                .map_err(|e| format!("cannot read the password: {e}"))?,
        );
        let again = Zeroizing::new(
            rpassword::prompt_password("Again: ")
                .map_err(|e| format!("cannot read the password: {e}"))?,
        );
        if *first != *again {
            return Err("the passwords differ; nothing was written".into());
        }
        first
    } else {
        // Not a terminal: the first line of standard input, as `passwd --stdin` would.
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        let trimmed = line.trim_end_matches(['\n', '\r']).to_owned();
        Zeroizing::new(trimmed)
    };
    if password.is_empty() {
        return Err("empty password; nothing was written".into());
    }
    let hash = sshwire::auth::hash_password(password.as_bytes(), &mut *system_rng())
        .map_err(|e| format!("cannot hash the password: {e}"))?;
    match args.user {
        Some(user) => println!("{user}:{hash}"),
        None => println!("{hash}"),
    }
    Ok(())
}
