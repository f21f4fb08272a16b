//! The operands of `sshwire cp`, in scp's syntax: `[user@]host:path` is remote, anything
//! else local.

use std::path::PathBuf;

/// One source or the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A local path.
    Local(PathBuf),
    /// A path on a host.
    Remote(Remote),
}

/// `[user@]host:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The user, if given.
    pub user: Option<String>,
    /// The host (an alias the configuration may know, or an address; no brackets).
    pub host: String,
    /// The path; empty means the login directory.
    pub path: String,
}

impl Remote {
    /// The path to ask the server for: the login directory (`.`) when empty.
    pub fn sftp_path(&self) -> &[u8] {
        match self.path.as_str() {
            "" => b".",
            p => p.as_bytes(),
        }
    }

    /// `[user@]host`, as a command line would name it again (an IPv6 address in brackets).
    pub fn user_host(&self) -> String {
        let host = match self.host.contains(':') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        };
        match &self.user {
            Some(u) => format!("{u}@{host}"),
            None => host,
        }
    }
}

/// Where the `:` after the host is, as scp finds it: before any `/`, not at the start, and
/// after the `]` of a bracketed host (`[::1]:path`, `user@[::1]:path`).
fn host_colon(arg: &str) -> Option<usize> {
    if arg.starts_with(':') {
        // A leading colon is part of a local name.
        return None;
    }
    let mut bracketed = arg.starts_with('[');
    let bytes = arg.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let next = bytes.get(i + 1).copied();
        match b {
            b'@' if next == Some(b'[') => bracketed = true,
            b']' if bracketed && next == Some(b':') => return Some(i + 1),
            b':' if !bracketed => return Some(i),
            b'/' => return None,
            _ => {}
        }
    }
    None
}

impl Operand {
    /// Parses one argument of `sshwire cp`.
    pub fn parse(arg: &str) -> Result<Operand, String> {
        let Some(colon) = host_colon(arg) else {
            return Ok(Operand::Local(PathBuf::from(arg)));
        };
        let (spec, path) = (arg.get(..colon).unwrap_or_default(), arg.get(colon + 1..));
        let (user, host) = match spec.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, spec),
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() || user == Some("") {
            return Err(format!("{arg}: invalid user or host name"));
        }
        Ok(Operand::Remote(Remote {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            path: path.unwrap_or_default().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn remote(user: Option<&str>, host: &str, path: &str) -> Operand {
        Operand::Remote(Remote {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            path: path.to_owned(),
        })
    }

    #[test]
    fn operands_parse_as_scp_reads_them() {
        let p = |s: &str| Operand::parse(s).unwrap();
        assert_eq!(p("host:/etc/motd"), remote(None, "host", "/etc/motd"));
        assert_eq!(p("alice@host:"), remote(Some("alice"), "host", ""));
        assert_eq!(p("a@b@host:x:y"), remote(Some("a@b"), "host", "x:y"));
        assert_eq!(p("[::1]:/tmp"), remote(None, "::1", "/tmp"));
        assert_eq!(p("bob@[fe80::1]:f"), remote(Some("bob"), "fe80::1", "f"));
        // Local: no colon before a slash, or a leading colon.
        assert_eq!(p("./a:b"), Operand::Local("./a:b".into()));
        assert_eq!(p("dir/a:b"), Operand::Local("dir/a:b".into()));
        assert_eq!(p(":x"), Operand::Local(":x".into()));
        assert_eq!(p("plain"), Operand::Local("plain".into()));
        assert!(Operand::parse("@host:x").is_err());
        let Operand::Remote(r) = p("h:") else {
            panic!("remote expected")
        };
        assert_eq!(r.sftp_path(), b".");
    }
}
