//! OpenSSH `known_hosts` files: which host keys a client trusts for which hosts.
//!
//! The format is described in sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT": one entry per line,
//! `[marker] hostnames keytype base64-key [comment]`, where `hostnames` is a comma-separated list
//! of patterns (`*` and `?` wildcards, `!` negation, `[host]:port` for ports other than 22) or a
//! single hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, and the optional marker
//! is `@revoked` or `@cert-authority`.
//!
//! Like OpenSSH, a line that cannot be parsed is skipped (and reported), so one bad line does
//! not lock a user out of every host.

use base64ct::{Base64, Encoding};
use ring::hmac;

use crate::pattern::wildcard_match;
use crate::{KeyError, PublicKey};

/// Longest line considered; longer lines are reported and skipped.
pub const MAX_LINE_LEN: usize = 16 * 1024;

/// What a known_hosts file says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line lists this key for this host.
    Trusted {
        /// The 1-based line number of the matching entry.
        line: usize,
    },
    /// The key is marked `@revoked`: it must be refused whatever else the file says.
    Revoked {
        /// The 1-based line number of the `@revoked` entry.
        line: usize,
    },
    /// The host is known with a different key of the same type: possibly an attack.
    Changed {
        /// The 1-based line number of the entry with the other key.
        line: usize,
        /// The key the file has for the host.
        known: PublicKey,
    },
    /// The host is not known with a key of this type.
    Unknown {
        /// Whether the host is known with keys of other types.
        other_types_known: bool,
    },
}

/// The name a host is recorded under: `host` on port 22, `[host]:port` otherwise.
pub fn host_name_for(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// A parsed known_hosts file.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    marker: Marker,
    hosts: Hosts,
    key: PublicKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

#[derive(Debug, Clone)]
enum Hosts {
    Patterns(Vec<String>),
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

impl KnownHosts {
    /// Parses a file, returning the entries and the lines that were skipped, with why.
    pub fn parse(text: &str) -> (KnownHosts, Vec<(usize, KeyError)>) {
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            match parse_line(trimmed, line) {
                Ok(e) => entries.push(e),
                Err(e) => skipped.push((line, e)),
            }
        }
        (KnownHosts { entries }, skipped)
    }

    /// How many entries were parsed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file has no usable entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Looks up `key` for `host` on `port`.
    ///
    /// A revocation anywhere wins; then an entry with this very key; then an entry with another
    /// key of the same type (a changed key); otherwise the host is unknown for this type.
    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> HostKeyStatus {
        let name = host_name_for(host, port);
        let for_host: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.marker != Marker::CertAuthority && e.hosts.matches(&name))
            .collect();
        // sshd(8): "@revoked ... the key contained on the line is revoked and must not ever be
        // accepted". A revoked key is refused for every host, not only the one on its line.
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| e.marker == Marker::Revoked && e.key == *key)
        {
            return HostKeyStatus::Revoked { line: e.line };
        }
        if let Some(e) = for_host
            .iter()
            .find(|e| e.marker == Marker::None && e.key == *key)
        {
            return HostKeyStatus::Trusted { line: e.line };
        }
        if let Some(e) = for_host
            .iter()
            .find(|e| e.marker == Marker::None && e.key.key_type() == key.key_type())
        {
            return HostKeyStatus::Changed {
                line: e.line,
                known: e.key.clone(),
            };
        }
        HostKeyStatus::Unknown {
            other_types_known: for_host.iter().any(|e| e.marker == Marker::None),
        }
    }

    /// The other names `key` is known by: entries with this very key that are not for `host`
    /// on `port`.
    ///
    /// Returns each entry's line number and its host names as written, or `[hashed name]`
    /// for a hashed entry. OpenSSH shows these when it asks about an unknown host key, so
    /// that a user can see the key already belongs to another name of the same machine.
    pub fn other_names(&self, host: &str, port: u16, key: &PublicKey) -> Vec<(usize, String)> {
        let name = host_name_for(host, port);
        self.entries
            .iter()
            .filter(|e| e.marker == Marker::None && e.key == *key && !e.hosts.matches(&name))
            .map(|e| (e.line, e.hosts.to_string()))
            .collect()
    }
}

/// A line to append to known_hosts for `host` on `port`.
///
/// With `salt` (20 random bytes, as OpenSSH uses), the host name is hashed
/// (`HashKnownHosts yes`); without, it is written in the clear.
pub fn known_hosts_line(host: &str, port: u16, key: &PublicKey, salt: Option<&[u8; 20]>) -> String {
    let name = host_name_for(host, port);
    let hosts = match salt {
        Some(salt) => {
            let hash = hmac_sha1(salt, name.as_bytes());
            format!(
                "|1|{}|{}",
                Base64::encode_string(salt),
                Base64::encode_string(&hash)
            )
        }
        None => name,
    };
    let line = key.to_openssh("");
    format!("{hosts} {}", line.trim_end())
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    hmac::sign(&k, data).as_ref().to_vec()
}

fn parse_line(line: &str, number: usize) -> Result<Entry, KeyError> {
    if line.len() > MAX_LINE_LEN {
        return Err(KeyError::Malformed("known_hosts line too long"));
    }
    let (marker, rest) = match line.split_once(char::is_whitespace) {
        Some(("@revoked", rest)) => (Marker::Revoked, rest),
        Some(("@cert-authority", rest)) => (Marker::CertAuthority, rest),
        Some((m, _)) if m.starts_with('@') => {
            return Err(KeyError::Malformed("unknown known_hosts marker"));
        }
        _ => (Marker::None, line),
    };
    let rest = rest.trim_start();
    let (hosts, key_part) = rest
        .split_once(char::is_whitespace)
        .ok_or(KeyError::Malformed("known_hosts line without a key"))?;
    let (key, _comment) = PublicKey::from_openssh(key_part.trim_start())?;
    Ok(Entry {
        line: number,
        marker,
        hosts: parse_hosts(hosts)?,
        key,
    })
}

fn parse_hosts(field: &str) -> Result<Hosts, KeyError> {
    if let Some(hashed) = field.strip_prefix("|1|") {
        let (salt, hash) = hashed
            .split_once('|')
            .ok_or(KeyError::Malformed("hashed host without a hash"))?;
        let salt = Base64::decode_vec(salt).map_err(|_| KeyError::Malformed("bad host salt"))?;
        let hash = Base64::decode_vec(hash).map_err(|_| KeyError::Malformed("bad host hash"))?;
        // OpenSSH uses HMAC-SHA1, whose output and key (the salt) are 20 bytes.
        if salt.len() != 20 || hash.len() != 20 {
            return Err(KeyError::Malformed("hashed host of the wrong length"));
        }
        return Ok(Hosts::Hashed { salt, hash });
    }
    let patterns: Vec<String> = field.split(',').map(str::to_owned).collect();
    if patterns.iter().any(String::is_empty) {
        return Err(KeyError::Malformed("empty host pattern"));
    }
    Ok(Hosts::Patterns(patterns))
}

impl core::fmt::Display for Hosts {
    /// The host names as written, or `[hashed name]`, as OpenSSH shows a hashed entry.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Hosts::Hashed { .. } => f.write_str("[hashed name]"),
            Hosts::Patterns(patterns) => f.write_str(&patterns.join(",")),
        }
    }
}

impl Hosts {
    /// Whether `name` (`host` or `[host]:port`) is one of these hosts.
    fn matches(&self, name: &str) -> bool {
        match self {
            Hosts::Hashed { salt, hash } => {
                let mine = hmac_sha1(salt, name.as_bytes());
                // Host names are not secret, but a constant-time comparison costs nothing.
                bool::from(subtle::ConstantTimeEq::ct_eq(
                    mine.as_slice(),
                    hash.as_slice(),
                ))
            }
            Hosts::Patterns(patterns) => {
                let name = name.to_ascii_lowercase();
                let mut positive = false;
                for p in patterns {
                    let p = p.to_ascii_lowercase();
                    match p.strip_prefix('!') {
                        // sshd(8): a negated pattern that matches makes the whole line not
                        // match, "even if the host name matches other patterns on the line".
                        Some(negated) if wildcard_match(negated, &name) => {
                            return false;
                        }
                        Some(_) => {}
                        None => positive |= wildcard_match(&p, &name),
                    }
                }
                positive
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyType, PrivateKey};
    use proptest::prelude::*;

    fn key(seed: u8) -> PublicKey {
        PrivateKey::from_ed25519_seed(&[seed; 32]).public_key()
    }

    fn line(hosts: &str, k: &PublicKey) -> String {
        format!("{hosts} {}", k.to_openssh("comment"))
    }

    #[test]
    fn trusted_changed_unknown() {
        let (a, b) = (key(1), key(2));
        let text = format!("# comment\n\n{}\n", line("server.example,10.0.0.1", &a));
        let (kh, skipped) = KnownHosts::parse(&text);
        assert!(skipped.is_empty());
        assert_eq!(
            kh.check("server.example", 22, &a),
            HostKeyStatus::Trusted { line: 3 }
        );
        assert_eq!(
            kh.check("10.0.0.1", 22, &a),
            HostKeyStatus::Trusted { line: 3 }
        );
        assert_eq!(
            kh.check("server.example", 22, &b),
            HostKeyStatus::Changed {
                line: 3,
                known: a.clone()
            }
        );
        assert_eq!(
            kh.check("other.example", 22, &a),
            HostKeyStatus::Unknown {
                other_types_known: false
            }
        );
        // The same host on another port is another entry.
        assert_eq!(
            kh.check("server.example", 2222, &a),
            HostKeyStatus::Unknown {
                other_types_known: false
            }
        );
    }

    #[test]
    fn other_key_types_are_not_a_change() {
        let ed = key(1);
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let ecdsa = PrivateKey::generate(KeyType::EcdsaP256, None, &mut rng)
            .unwrap()
            .public_key();
        let (kh, _) = KnownHosts::parse(&line("h", &ed));
        assert_eq!(
            kh.check("h", 22, &ecdsa),
            HostKeyStatus::Unknown {
                other_types_known: true
            }
        );
    }

    #[test]
    fn bracketed_port_form() {
        let a = key(1);
        let (kh, _) = KnownHosts::parse(&line("[127.0.0.1]:2222", &a));
        assert_eq!(
            kh.check("127.0.0.1", 2222, &a),
            HostKeyStatus::Trusted { line: 1 }
        );
        assert!(matches!(
            kh.check("127.0.0.1", 22, &a),
            HostKeyStatus::Unknown { .. }
        ));
    }

    #[test]
    fn hashed_entries_round_trip() {
        let a = key(1);
        let salt = [7u8; 20];
        let text = known_hosts_line("example.org", 2222, &a, Some(&salt));
        assert!(text.starts_with("|1|"), "{text}");
        assert!(!text.contains("example.org"));
        let (kh, skipped) = KnownHosts::parse(&text);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(
            kh.check("example.org", 2222, &a),
            HostKeyStatus::Trusted { line: 1 }
        );
        assert!(matches!(
            kh.check("example.org", 22, &a),
            HostKeyStatus::Unknown { .. }
        ));
    }

    /// Entries hashed by `ssh-keygen -H` (OpenSSH 9.2) for `localhost` and for
    /// `[127.0.0.1]:2222`.
    #[test]
    fn openssh_hashed_entries() {
        let text = "\
|1|pFpoVQwgrZPmU2glXPyBX0fJc/8=|OF8Qbh/awRqMIE5k52n847N4RCY= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHo48cOtiKse6/em+xtD3ZlG4Nixc96SbAdh5lJga/jH
|1|ShYg8q4/cJcn7l6PmayAjKUfWdE=|YFdzcEMBiRyO1yu0e0SnfewORz8= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHo48cOtiKse6/em+xtD3ZlG4Nixc96SbAdh5lJga/jH
";
        let (k, _) = PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHo48cOtiKse6/em+xtD3ZlG4Nixc96SbAdh5lJga/jH",
        )
        .unwrap();
        let (kh, skipped) = KnownHosts::parse(text);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(
            kh.check("localhost", 22, &k),
            HostKeyStatus::Trusted { line: 1 }
        );
        assert_eq!(
            kh.check("127.0.0.1", 2222, &k),
            HostKeyStatus::Trusted { line: 2 }
        );
        assert!(matches!(
            kh.check("127.0.0.1", 22, &k),
            HostKeyStatus::Unknown { .. }
        ));
        assert!(matches!(
            kh.check("localhost2", 22, &k),
            HostKeyStatus::Unknown { .. }
        ));
    }

    #[test]
    fn negation_and_wildcards() {
        let a = key(1);
        let (kh, _) = KnownHosts::parse(&line("*.corp,!bad.corp", &a));
        assert!(matches!(
            kh.check("good.corp", 22, &a),
            HostKeyStatus::Trusted { .. }
        ));
        assert!(matches!(
            kh.check("bad.corp", 22, &a),
            HostKeyStatus::Unknown { .. }
        ));
        assert!(matches!(
            kh.check("GOOD.CORP", 22, &a),
            HostKeyStatus::Trusted { .. }
        ));
    }

    #[test]
    fn revoked_wins_everywhere() {
        let a = key(1);
        let text = format!("{}\n@revoked * {}\n", line("h", &a), a.to_openssh(""));
        let (kh, skipped) = KnownHosts::parse(&text);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(kh.check("h", 22, &a), HostKeyStatus::Revoked { line: 2 });
        assert_eq!(
            kh.check("anything", 22, &a),
            HostKeyStatus::Revoked { line: 2 }
        );
    }

    #[test]
    fn bad_lines_are_skipped_and_reported() {
        let a = key(1);
        let text = format!(
            "garbage\n@unknown h {}\nh ssh-ed25519 !!!!\n|1|abc h\n{}\n",
            a.to_openssh(""),
            line("h", &a)
        );
        let (kh, skipped) = KnownHosts::parse(&text);
        assert_eq!(
            skipped.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(kh.len(), 1);
        assert_eq!(kh.check("h", 22, &a), HostKeyStatus::Trusted { line: 5 });
    }

    #[test]
    fn other_names_of_a_key() {
        let (a, b) = (key(1), key(2));
        let hashed = known_hosts_line("alias.example", 22, &a, Some(&[3u8; 20]));
        let text = format!(
            "{}\n{}\n{hashed}\n{}\n@revoked gone {}\n",
            line("h", &a),
            line("h.example,10.0.0.1", &a),
            line("other", &b),
            a.to_openssh("")
        );
        let (kh, skipped) = KnownHosts::parse(&text);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(
            kh.other_names("h", 22, &a),
            [
                (2, "h.example,10.0.0.1".to_owned()),
                (3, "[hashed name]".to_owned())
            ]
        );
        // On another port, even the entry for `h` is another name.
        assert_eq!(kh.other_names("h", 2222, &a).len(), 3);
        assert!(kh.other_names("h", 22, &key(9)).is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
            let (kh, _) = KnownHosts::parse(&s);
            let _ = kh.check("h", 22, &key(1));
        }
    }
}
