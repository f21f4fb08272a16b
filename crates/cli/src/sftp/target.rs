//! The destination of `sshwire sftp`: `[user@]host[:path]` or `sftp://[user@]host[:port][/path]`.

use crate::connect::Destination;

/// Where to connect, and the remote path to start in (or fetch) if one was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// User and host.
    pub destination: Destination,
    /// The port of an `sftp://` URI.
    pub port: Option<u16>,
    /// The path after the host.
    pub path: Option<String>,
}

/// Decodes `%XX` escapes of a URI component.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in '{s}'"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{s}' does not decode to UTF-8"))
}

impl Target {
    /// Parses a destination as OpenSSH's sftp does.
    pub fn parse(s: &str) -> Result<Target, String> {
        if let Some(rest) = s.strip_prefix("sftp://") {
            return Self::parse_uri(rest);
        }
        // `[user@]host[:path]`: the user ends at the last `@` before the host; the host may
        // be an IPv6 address in brackets; the path follows the first `:` after it.
        let (user, rest) = match s.rfind('@') {
            Some(at) => (s.get(..at), s.get(at + 1..).unwrap_or_default()),
            None => (None, s),
        };
        let (host, path) = if let Some(inner) = rest.strip_prefix('[') {
            let end = inner
                .find(']')
                .ok_or_else(|| format!("unmatched '[' in '{s}'"))?;
            let host = inner.get(..end).unwrap_or_default();
            let after = inner.get(end + 1..).unwrap_or_default();
            (host, after.strip_prefix(':'))
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let mut destination = Destination::parse(host)?;
        destination.user = user.filter(|u| !u.is_empty()).map(str::to_owned);
        Ok(Target {
            destination,
            port: None,
            path: path.filter(|p| !p.is_empty()).map(str::to_owned),
        })
    }

    fn parse_uri(rest: &str) -> Result<Target, String> {
        let bad = || format!("bad sftp URI 'sftp://{rest}'");
        let (user, rest) = match rest.split_once('@') {
            // `user;params@host`: connection parameters are ignored, as OpenSSH does.
            Some((u, r)) => {
                let u = u.split(';').next().unwrap_or_default();
                if u.is_empty() {
                    return Err(bad());
                }
                (Some(percent_decode(u)?), r)
            }
            None => (None, rest),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (rest, None),
        };
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (h, after) = inner.split_once(']').ok_or_else(bad)?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?),
            None => None,
        };
        let mut destination = Destination::parse(host).map_err(|_| bad())?;
        destination.user = user;
        // The path is relative to the login directory; `sftp://host//abs` is absolute.
        let path = match path.filter(|p| !p.is_empty()) {
            Some(p) => Some(percent_decode(p)?),
            None => None,
        };
        Ok(Target {
            destination,
            port,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> (Option<String>, String, Option<u16>, Option<String>) {
        let t = Target::parse(s).unwrap();
        (t.destination.user, t.destination.host, t.port, t.path)
    }

    #[test]
    fn scp_style_destinations() {
        assert_eq!(t("host"), (None, "host".into(), None, None));
        assert_eq!(
            t("alice@host:dir/x"),
            (
                Some("alice".into()),
                "host".into(),
                None,
                Some("dir/x".into())
            )
        );
        assert_eq!(t("host:"), (None, "host".into(), None, None));
        assert_eq!(
            t("a@b@host:/abs"),
            (Some("a@b".into()), "host".into(), None, Some("/abs".into()))
        );
        assert_eq!(
            t("[::1]:/tmp"),
            (None, "::1".into(), None, Some("/tmp".into()))
        );
        assert!(Target::parse("@:x").is_err());
    }

    #[test]
    fn sftp_uris() {
        assert_eq!(
            t("sftp://bob@example.org:2222/some%20dir"),
            (
                Some("bob".into()),
                "example.org".into(),
                Some(2222),
                Some("some dir".into())
            )
        );
        assert_eq!(
            t("sftp://h//etc"),
            (None, "h".into(), None, Some("/etc".into()))
        );
        assert_eq!(
            t("sftp://u;fingerprint=x@[::1]:22"),
            (Some("u".into()), "::1".into(), Some(22), None)
        );
        assert!(Target::parse("sftp://h:0/").is_err());
        assert!(Target::parse("sftp://h:x").is_err());
        assert!(Target::parse("sftp://@h").is_err());
        assert!(Target::parse("sftp://h/%zz").is_err());
    }
}
