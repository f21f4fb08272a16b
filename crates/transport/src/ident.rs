//! The identification exchange (RFC 4253 §4.2).
//!
//! Each side sends one line, `SSH-protoversion-softwareversion SP comments CR LF`, before any
//! binary packet. A server may send other lines first; a client surfaces them as a banner.

use crate::Error;

/// Limits on what a peer may send before and as its identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentLimits {
    /// Longest line accepted, including CR LF.
    ///
    /// RFC 4253 §4.2 says 255 bytes; like OpenSSH we accept up to 8 KiB, since real servers
    /// exceed the RFC's bound with long comments.
    pub max_line_len: usize,
    /// Most lines a server may send before its identification.
    pub max_lines_before: usize,
}

impl Default for IdentLimits {
    fn default() -> Self {
        IdentLimits {
            max_line_len: 8192,
            max_lines_before: 1024,
        }
    }
}

/// What the next line of the peer's preamble was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line of text before the identification (from a server only).
    Banner(String),
    /// The identification string, without CR LF: this exact byte string goes into the
    /// exchange hash (RFC 4253 §8: "V_C, V_S ... CR and LF excluded").
    Ident(Vec<u8>),
}

/// Reads the peer's identification line by line.
#[derive(Debug, Clone)]
pub(crate) struct IdentReader {
    limits: IdentLimits,
    /// Whether the peer is a server, which alone may send lines before its identification.
    peer_is_server: bool,
    lines_before: usize,
}

impl IdentReader {
    pub(crate) fn new(limits: IdentLimits, peer_is_server: bool) -> Self {
        IdentReader {
            limits,
            peer_is_server,
            lines_before: 0,
        }
    }

    /// Takes one line from the front of `buf`; `Ok(None)` when no whole line has arrived.
    ///
    /// On success returns the line and how many bytes it took.
    pub(crate) fn next_line(&mut self, buf: &[u8]) -> Result<Option<(Line, usize)>, Error> {
        let window = buf.get(..self.limits.max_line_len).unwrap_or(buf);
        let Some(lf) = window.iter().position(|&b| b == b'\n') else {
            if buf.len() >= self.limits.max_line_len {
                return Err(Error::InvalidIdentification("line too long"));
            }
            return Ok(None);
        };
        let consumed = lf + 1;
        let raw = window.get(..lf).unwrap_or_default();
        // RFC 4253 §4.2: lines "SHOULD be terminated by a Carriage Return and Line Feed";
        // like OpenSSH, a bare LF is tolerated.
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.contains(&0) {
            return Err(Error::InvalidIdentification("NUL character in line"));
        }
        if line.starts_with(b"SSH-") {
            check_ident(line)?;
            return Ok(Some((Line::Ident(line.to_vec()), consumed)));
        }
        // RFC 4253 §4.2: "The server MAY send other lines of data before sending the version
        // string." Only a server: a client must start with its identification.
        if !self.peer_is_server {
            return Err(Error::InvalidIdentification(
                "client sent a line that is not an SSH identification",
            ));
        }
        self.lines_before += 1;
        if self.lines_before > self.limits.max_lines_before {
            return Err(Error::InvalidIdentification(
                "too many lines before the identification",
            ));
        }
        Ok(Some((
            Line::Banner(String::from_utf8_lossy(line).into_owned()),
            consumed,
        )))
    }
}

/// Checks `SSH-protoversion-softwareversion [SP comments]`.
fn check_ident(line: &[u8]) -> Result<(), Error> {
    let rest = line.get(4..).unwrap_or_default();
    let Some(dash) = rest.iter().position(|&b| b == b'-') else {
        return Err(Error::InvalidIdentification("no software version"));
    };
    let (proto, software) = rest.split_at(dash);
    // RFC 4253 §5.1: a server that also speaks the old protocol sends "1.99", which a
    // protocol 2.0 client treats as 2.0.
    match proto {
        b"2.0" | b"1.99" => {}
        _ => {
            return Err(Error::UnsupportedVersion(
                String::from_utf8_lossy(proto).into_owned(),
            ));
        }
    }
    let software = software.get(1..).unwrap_or_default();
    let software = software.split(|&b| b == b' ').next().unwrap_or_default();
    // RFC 4253 §4.2: "Both the 'protoversion' and 'softwareversion' strings MUST consist of
    // printable US-ASCII characters, with the exception of whitespace characters and the minus
    // sign (-)."
    if software.is_empty() || !software.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(Error::InvalidIdentification("bad software version"));
    }
    Ok(())
}

/// Our identification line, with CR LF.
///
/// RFC 4253 §4.2: "SSH-protoversion-softwareversion SP comments CR LF".
pub(crate) fn ident_line(software_version: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(software_version.len() + 10);
    v.extend_from_slice(b"SSH-2.0-");
    v.extend_from_slice(software_version.as_bytes());
    v.extend_from_slice(b"\r\n");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(peer_is_server: bool, input: &[u8]) -> Result<Vec<Line>, Error> {
        let mut r = IdentReader::new(IdentLimits::default(), peer_is_server);
        let mut at = 0;
        let mut out = Vec::new();
        while let Some((line, n)) = r.next_line(&input[at..])? {
            at += n;
            let done = matches!(line, Line::Ident(_));
            out.push(line);
            if done {
                break;
            }
        }
        Ok(out)
    }

    #[test]
    fn server_banner_lines_then_ident() {
        let lines = read_all(true, b"hello\r\nworld\nSSH-2.0-OpenSSH_9.2p1 Debian\r\n").unwrap();
        assert_eq!(
            lines,
            [
                Line::Banner("hello".into()),
                Line::Banner("world".into()),
                Line::Ident(b"SSH-2.0-OpenSSH_9.2p1 Debian".to_vec())
            ]
        );
    }

    #[test]
    fn old_server_version_1_99_is_accepted() {
        assert!(read_all(true, b"SSH-1.99-Old_1.0\r\n").is_ok());
    }

    #[test]
    fn ssh1_is_refused() {
        assert_eq!(
            read_all(true, b"SSH-1.5-Old\r\n"),
            Err(Error::UnsupportedVersion("1.5".into()))
        );
    }

    #[test]
    fn client_may_not_send_lines_before_ident() {
        assert!(read_all(false, b"hello\r\nSSH-2.0-x\r\n").is_err());
    }

    #[test]
    fn nul_is_refused() {
        assert!(read_all(true, b"SSH-2.0-a\0b\r\n").is_err());
        assert!(read_all(true, b"x\0\r\nSSH-2.0-ab\r\n").is_err());
    }

    #[test]
    fn missing_or_bad_software_version_is_refused() {
        assert!(read_all(true, b"SSH-2.0\r\n").is_err());
        assert!(read_all(true, b"SSH-2.0-\r\n").is_err());
        assert!(read_all(true, b"SSH-2.0-a\tb\r\n").is_err());
    }

    #[test]
    fn too_long_line_is_refused_before_its_end_arrives() {
        let long = vec![b'a'; 8192];
        let mut r = IdentReader::new(IdentLimits::default(), true);
        assert_eq!(
            r.next_line(&long),
            Err(Error::InvalidIdentification("line too long"))
        );
        // One byte short of the limit: still waiting.
        assert_eq!(r.next_line(&long[..8191]), Ok(None));
    }

    #[test]
    fn too_many_banner_lines_are_refused() {
        let mut input = b"x\r\n".repeat(1025);
        input.extend_from_slice(b"SSH-2.0-a\r\n");
        assert!(read_all(true, &input).is_err());
        let mut input = b"x\r\n".repeat(1024);
        input.extend_from_slice(b"SSH-2.0-a\r\n");
        assert!(read_all(true, &input).is_ok());
    }

    #[test]
    fn partial_line_waits() {
        let mut r = IdentReader::new(IdentLimits::default(), true);
        assert_eq!(r.next_line(b"SSH-2.0-abc"), Ok(None));
    }
}
