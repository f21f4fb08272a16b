//! One line for a connection that failed: OpenSSH's words for what went wrong, then what to
//! do about it.
//!
//! `sshwire exec`, `sftp` and `cp` print the line after `sshwire: ` and exit with status 255,
//! as ssh, sftp and scp do for every connection and authentication failure.

use std::time::Duration;

use sshwire::client::HostKeyVerifier;
use sshwire::known_hosts::{KnownHostsVerifier, Outcome, Refusal, StrictHostKeyChecking};
use sshwire_keys::known_hosts::host_name_for;
use sshwire_keys::{KeyType, PublicKey};

/// A [`KnownHostsVerifier`] that remembers the key the server presented, for the line that
/// explains a refusal.
pub struct Watched {
    /// The verifier proper.
    pub inner: KnownHostsVerifier,
    /// The last key the server presented.
    pub key: Option<PublicKey>,
}

impl HostKeyVerifier for Watched {
    fn verify(&mut self, key: &PublicKey) -> bool {
        self.key = Some(key.clone());
        self.inner.verify(key)
    }

    fn banner(&mut self, line: &str) {
        self.inner.banner(line);
    }
}

/// What the host key lines name: the host and port as known_hosts records them, the policy,
/// and whether questions could be asked.
pub struct HostKeyContext<'a> {
    /// The host as looked up in known_hosts.
    pub host: &'a str,
    /// Its port.
    pub port: u16,
    /// `StrictHostKeyChecking`.
    pub policy: StrictHostKeyChecking,
    /// `BatchMode` (no questions).
    pub batch: bool,
}

/// The short key type name OpenSSH puts in its messages.
fn kind(key: Option<&PublicKey>) -> &'static str {
    match key.map(PublicKey::key_type) {
        Some(KeyType::Ed25519) => "ED25519",
        Some(KeyType::EcdsaP256 | KeyType::EcdsaP384) => "ECDSA",
        Some(KeyType::Rsa) => "RSA",
        None => "",
    }
}

/// `s` in single quotes for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The line for a refused host key, or `None` when the verifier did not refuse one.
pub fn host_key_refused(v: &Watched, cx: &HostKeyContext<'_>) -> Option<String> {
    let Some(Outcome::Refused(why)) = v.inner.outcome() else {
        return None;
    };
    let name = host_name_for(cx.host, cx.port);
    let key = v.key.as_ref();
    let kind = kind(key);
    let fp = key.map(PublicKey::fingerprint_sha256).unwrap_or_default();
    Some(match why {
        Refusal::Changed { file, line } => {
            let file = file.display().to_string();
            format!(
                "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! {name} now sends {kind} key \
                 {fp}, not the one in {file}:{line}: someone may be intercepting this \
                 connection, or the server has a new key. Host key verification failed; if \
                 the new key is right, remove the old one with: ssh-keygen -f {} -R {}",
                shell_quote(&file),
                shell_quote(&name)
            )
        }
        Refusal::Revoked { file, line } => format!(
            "WARNING: REVOKED HOST KEY: the {kind} key {fp} of {name} is marked @revoked in \
             {}:{line}: someone may be impersonating this host. Host key verification \
             failed; do not connect, tell the server's administrator",
            file.display()
        ),
        Refusal::Unknown => {
            let why = match (cx.policy, cx.batch) {
                (StrictHostKeyChecking::Ask, true) => "and BatchMode cannot ask you about it",
                _ => "and you have requested strict checking",
            };
            format!(
                "Host key verification failed. No {kind} host key is known for {name} {why}. \
                 If {fp} is the server's key (ask its administrator), connect once with \
                 -o StrictHostKeyChecking=accept-new to record it"
            )
        }
        Refusal::Unrecordable => format!(
            "Host key verification failed. No {kind} host key is known for {name}, and it \
             cannot be recorded (UserKnownHostsFile is none, or the name has characters \
             known_hosts cannot hold). If {fp} is the server's key, add it to a known_hosts \
             file yourself"
        ),
        Refusal::Unreadable { file } => format!(
            "Host key verification failed. No {kind} host key is known for {name}, and {} \
             cannot be read (it may list another key for it): make it readable, then connect \
             again",
            file.display()
        ),
        Refusal::Declined => format!(
            "Host key verification failed. You did not accept the {kind} key {fp} of {name}"
        ),
    })
}

/// `a, a, b` as `a, b`: the same method tried again in a row is said once.
fn tried_text(tried: &[String]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for t in tried {
        if out.last() != Some(&t.as_str()) {
            out.push(t);
        }
    }
    out.join("; ")
}

/// Why a connection attempt failed, and to what.
pub struct Attempt<'a> {
    /// The host connected to.
    pub host: &'a str,
    /// Its port.
    pub port: u16,
    /// The user logging in.
    pub user: &'a str,
    /// The jump host the connection went through, if any.
    pub through: Option<&'a str>,
    /// `ConnectTimeout`.
    pub timeout: Option<Duration>,
    /// Notes about the identity files, for a failed login.
    pub key_notes: &'a [String],
}

/// The text after "failed to lookup address information: " in a resolver error, or
/// getaddrinfo's usual words.
fn resolver_reason(text: &str) -> &str {
    match text.split_once("failed to lookup address information: ") {
        Some((_, reason)) => reason,
        None => "Name or service not known",
    }
}

/// One line for a failed connection, in OpenSSH's words where it has them, and what to do.
pub fn describe(e: &sshwire::Error, a: &Attempt<'_>) -> String {
    use std::io::ErrorKind;
    let (host, port, user) = (a.host, a.port, a.user);
    let timed_out = || match a.timeout {
        Some(t) => format!(
            "connect to host {host} port {port}: Connection timed out (no SSH server answered \
             within ConnectTimeout={}s): check the host name and port, or raise -o \
             ConnectTimeout",
            t.as_secs()
        ),
        None => format!(
            "connect to host {host} port {port}: Connection timed out: check the host name \
             and port, and that no firewall drops the connection"
        ),
    };
    match e {
        sshwire::Error::ChannelOpenFailed { description, .. } => {
            let jump = a.through.unwrap_or("the jump host");
            format!(
                "{jump} cannot connect to {host} port {port}: {description}; check that \
                 {jump} can reach it"
            )
        }
        sshwire::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => format!(
                "connect to host {host} port {port}: Connection refused: nothing listens \
                 there; check the port, and that the SSH server is running"
            ),
            ErrorKind::TimedOut => timed_out(),
            _ if io.to_string().contains("failed to lookup address") => format!(
                "Could not resolve hostname {host}: {}: check its spelling (or the HostName \
                 given for it in ~/.ssh/config)",
                resolver_reason(&io.to_string())
            ),
            ErrorKind::UnexpectedEof => format!(
                "Connection closed by {host} port {port}: the server hung up before the login \
                 finished; its log says why"
            ),
            _ => format!("connect to host {host} port {port}: {io}"),
        },
        sshwire::Error::Timeout => timed_out(),
        sshwire::Error::PermissionDenied { methods, tried } => {
            let mut line = format!("{user}@{host}: Permission denied ({}).", methods.join(","));
            if tried.is_empty() {
                line.push_str(" Tried nothing: no key or password was available");
            } else {
                line.push_str(&format!(" Tried: {}", tried_text(tried)));
            }
            for note in a.key_notes {
                line.push_str(&format!("; {note}"));
            }
            let key_tried = tried.iter().any(|t| t.starts_with("publickey"));
            line.push_str(match key_tried {
                true => {
                    "; add your public key to the server's authorized_keys for this user, or \
                     name the right key with -i"
                }
                false if methods.iter().any(|m| m == "publickey") => {
                    "; name your private key with -i (or create one with sshwire keygen and \
                     add its .pub to the server's authorized_keys)"
                }
                false => "; check the user name and password",
            });
            line
        }
        sshwire::Error::Transport(sshwire::transport::Error::HostKeyRejected) => {
            sshwire::known_hosts::VERIFICATION_FAILED.to_owned()
        }
        other => format!("{host} port {port}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_attempts_are_named_once() {
        let tried = [
            "publickey id",
            "keyboard-interactive",
            "keyboard-interactive",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(tried_text(&tried), "publickey id; keyboard-interactive");
        assert_eq!(
            resolver_reason("failed to lookup address information: Temporary failure"),
            "Temporary failure"
        );
    }
}
