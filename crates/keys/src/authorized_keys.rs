//! `authorized_keys` files (sshd(8), AUTHORIZED_KEYS FILE FORMAT): keys, options, comments.
//!
//! Each line is `[options] keytype base64-key [comment]`. Options are comma separated, with
//! values in double quotes (`from="*.example.com,!bad.example.com"`, `command="..."`); a
//! backslash escapes a double quote inside a value. Like sshd, a line that cannot be parsed
//! (an unknown option, a key type we do not support) is skipped and reported, and the rest
//! of the file still counts.
//!
//! The options are recognised and kept, in order, for the endpoint to enforce;
//! [`crate::key_options::check_sftp_only`] enforces them all for an SFTP-only server (CIDR
//! ranges included); [`AuthorizedKey::allows_from`] implements `from=` host patterns alone
//! (without CIDR ranges).

use crate::pattern::wildcard_match;
use crate::{KeyType, PublicKey};
use base64ct::{Base64, Encoding};

/// Most bytes in an `authorized_keys` file.
pub const MAX_AUTHORIZED_KEYS_LEN: usize = 4 * 1024 * 1024;
/// Longest line accepted (a 16384-bit RSA key and generous options).
pub const MAX_LINE_LEN: usize = 32 * 1024;

/// Options that take no value (sshd(8)).
const FLAGS: &[&str] = &[
    "agent-forwarding",
    "cert-authority",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-user-rc",
    "no-X11-forwarding",
    "no-touch-required",
    "port-forwarding",
    "pty",
    "restrict",
    "user-rc",
    "verify-required",
    "X11-forwarding",
];

/// Options that take a quoted value (sshd(8)).
const VALUED: &[&str] = &[
    "command",
    "environment",
    "expiry-time",
    "from",
    "permitlisten",
    "permitopen",
    "principals",
    "tunnel",
];

/// One option of an `authorized_keys` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOption {
    /// The option name as written, e.g. `no-pty` or `from`.
    pub name: String,
    /// The unquoted value of `name="value"` options.
    pub value: Option<String>,
}

/// One key line of an `authorized_keys` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKey {
    /// The options, in order.
    pub options: Vec<KeyOption>,
    /// The key.
    pub key: PublicKey,
    /// The comment (may be empty).
    pub comment: String,
}

impl AuthorizedKey {
    /// Parses one line (no options, comments or blank lines are errors here).
    pub fn parse_line(line: &str) -> Result<AuthorizedKey, &'static str> {
        if line.len() > MAX_LINE_LEN {
            return Err("line too long");
        }
        let line = line.trim();
        let first = line.split_ascii_whitespace().next().ok_or("empty line")?;
        let (options, rest) = if KeyType::from_name(first).is_some() {
            (Vec::new(), line)
        } else {
            parse_options(line)?
        };
        let mut fields = rest.split_ascii_whitespace();
        let kind = fields.next().ok_or("no key after the options")?;
        let key_type = KeyType::from_name(kind).ok_or("unsupported key type")?;
        let encoded = fields.next().ok_or("no key after its type")?;
        let comment = fields.collect::<Vec<_>>().join(" ");
        let blob = Base64::decode_vec(encoded).map_err(|_| "key is not valid base64")?;
        let key = PublicKey::from_blob(&blob).map_err(|_| "invalid key blob")?;
        if key.key_type() != key_type {
            return Err("key type does not match the key blob");
        }
        Ok(AuthorizedKey {
            options,
            key,
            comment,
        })
    }

    /// The value of the first option called `name` (for valued options), or `Some("")` for a
    /// flag that is present.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
            .map(|o| o.value.as_deref().unwrap_or(""))
    }

    /// Whether a flag such as `restrict` or `no-pty` is present.
    pub fn has_flag(&self, name: &str) -> bool {
        self.options
            .iter()
            .any(|o| o.value.is_none() && o.name.eq_ignore_ascii_case(name))
    }

    /// Whether a client at `ip` (and reverse name `host`, if known) may use this key under
    /// its `from=` option, if any.
    ///
    /// sshd(8): "the canonical name of the remote host or its IP address must be present in
    /// the comma-separated list of patterns"; `*` and `?` are wildcards and a pattern
    /// starting with `!` refuses what it matches, whatever else matches. CIDR ranges are not
    /// supported here and match nothing.
    pub fn allows_from(&self, host: Option<&str>, ip: &str) -> bool {
        let Some(list) = self.option("from") else {
            return true;
        };
        let mut allowed = false;
        for pattern in list.split(',') {
            let (negated, pattern) = match pattern.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, pattern),
            };
            let hit = wildcard_match(pattern, ip)
                || host.is_some_and(|h| {
                    wildcard_match(&pattern.to_ascii_lowercase(), &h.to_ascii_lowercase())
                });
            if hit && negated {
                return false;
            }
            allowed |= hit;
        }
        allowed
    }

    /// The line again, options and comment included.
    pub fn to_line(&self) -> String {
        let mut line = String::new();
        for (i, o) in self.options.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&o.name);
            if let Some(v) = &o.value {
                line.push_str("=\"");
                line.push_str(&v.replace('"', "\\\""));
                line.push('"');
            }
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&self.key.to_openssh(&self.comment));
        line
    }
}

/// Splits the options off the front of `line`; returns them and the rest.
fn parse_options(line: &str) -> Result<(Vec<KeyOption>, &str), &'static str> {
    let mut options = Vec::new();
    let mut rest = line;
    loop {
        let name_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_ascii_whitespace())
            .ok_or("options without a key")?;
        let (name, after) = rest.split_at(name_end);
        let mut value = None;
        let mut after = after;
        if let Some(v) = after.strip_prefix('=') {
            let v = v
                .strip_prefix('"')
                .ok_or("option value not in double quotes")?;
            let mut out = String::new();
            let mut chars = v.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '"')) => out.push('"'),
                        Some((_, c)) => {
                            out.push('\\');
                            out.push(c);
                        }
                        None => return Err("unterminated option value"),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => out.push(c),
                    None => return Err("unterminated option value"),
                }
            };
            value = Some(out);
            after = v.get(end + 1..).ok_or("unterminated option value")?;
        }
        let known = if value.is_some() { VALUED } else { FLAGS };
        if !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            return Err("unknown option");
        }
        options.push(KeyOption {
            name: name.to_owned(),
            value,
        });
        if let Some(next) = after.strip_prefix(',') {
            rest = next;
        } else if after.starts_with(|c: char| c.is_ascii_whitespace()) {
            return Ok((options, after.trim_start()));
        } else {
            return Err("options without a key");
        }
    }
}

/// A parsed `authorized_keys` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizedKeys {
    /// The keys, in file order.
    pub keys: Vec<AuthorizedKey>,
    /// The lines that were skipped: line number (from 1) and why.
    pub skipped: Vec<(usize, &'static str)>,
}

impl AuthorizedKeys {
    /// Parses a whole file; blank lines and `#` comments are ignored, bad lines skipped.
    pub fn parse(text: &str) -> AuthorizedKeys {
        let mut out = AuthorizedKeys::default();
        if text.len() > MAX_AUTHORIZED_KEYS_LEN {
            out.skipped.push((0, "file too large"));
            return out;
        }
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            match AuthorizedKey::parse_line(trimmed) {
                Ok(k) => out.keys.push(k),
                Err(why) => out.skipped.push((i + 1, why)),
            }
        }
        out
    }

    /// The first line that holds `key` (sshd uses the first match, with its options).
    pub fn find(&self, key: &PublicKey) -> Option<&AuthorizedKey> {
        self.keys.iter().find(|k| &k.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrivateKey;
    use crate::testing::TestRng;
    use proptest::prelude::*;

    fn key_line(seed: u64) -> (PublicKey, String) {
        let key = PrivateKey::generate(KeyType::Ed25519, None, &mut TestRng(seed))
            .unwrap()
            .public_key();
        let line = key.to_openssh("user@host");
        (key, line)
    }

    #[test]
    fn lines_with_and_without_options() {
        let (k1, l1) = key_line(1);
        let (k2, l2) = key_line(2);
        let (k3, _) = key_line(3);
        let text = format!(
            "# comment\n\n{l1}\nrestrict,from=\"*.example.com,!bad.example.com\",command=\"echo \\\"hi\\\" there\" {l2}\nbogus-option {l1}\nssh-dss AAAA x\n"
        );
        let parsed = AuthorizedKeys::parse(&text);
        assert_eq!(parsed.keys.len(), 2);
        assert_eq!(
            parsed.skipped,
            [(5, "unknown option"), (6, "unknown option")]
        );
        assert_eq!(parsed.find(&k1).unwrap().options, []);
        assert_eq!(parsed.find(&k1).unwrap().comment, "user@host");
        let second = parsed.find(&k2).unwrap();
        assert!(second.has_flag("restrict"));
        assert_eq!(second.option("command"), Some("echo \"hi\" there"));
        assert!(second.allows_from(Some("ok.example.com"), "192.0.2.1"));
        assert!(!second.allows_from(Some("bad.example.com"), "192.0.2.1"));
        assert!(!second.allows_from(None, "192.0.2.1"));
        assert!(parsed.find(&k3).is_none());
        // Re-rendered lines parse to the same thing.
        assert_eq!(
            &AuthorizedKey::parse_line(&second.to_line()).unwrap(),
            second
        );
    }

    #[test]
    fn ip_patterns() {
        let (_, l) = key_line(4);
        let k = AuthorizedKey::parse_line(&format!("from=\"192.0.2.*,!192.0.2.7\",no-pty {l}"))
            .unwrap();
        assert!(k.allows_from(None, "192.0.2.9"));
        assert!(!k.allows_from(None, "192.0.2.7"));
        assert!(!k.allows_from(None, "198.51.100.1"));
        assert!(k.has_flag("no-pty"));
    }

    #[test]
    fn malformed_lines_are_errors() {
        let (_, l) = key_line(5);
        for bad in [
            format!("from=\"x {l}"),
            format!("from=x {l}"),
            "restrict".to_owned(),
            "ssh-ed25519 !!!notbase64".to_owned(),
            "ssh-ed25519".to_owned(),
            format!("ecdsa-sha2-nistp256 {}", l.split(' ').nth(1).unwrap()),
        ] {
            assert!(AuthorizedKey::parse_line(&bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic(s in "\\PC{0,200}") {
            let _ = AuthorizedKeys::parse(&s);
            let _ = AuthorizedKey::parse_line(&format!("{s} ssh-ed25519 AAAA"));
        }
    }
}
