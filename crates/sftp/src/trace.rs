//! Packet-trace describers of SFTP packets (every `SSH_FXP_*` of filexfer-02 and OpenSSH's
//! extensions).
//!
//! An SFTP packet can span several SSH channel messages, so it is traced where the SFTP
//! session frames it, not from channel data. [`SftpTrace`] turns each request and response
//! into one line of text with its fields, decoding with this crate's codec. File data is shown
//! by length only; handles as hexadecimal; paths, file names and messages escaped
//! ([`sshwire_wire::trace::text`]); a `NAME` lists at most [`MAX_NAMES_SHOWN`] names.
//!
//! The layout of an `SSH_FXP_EXTENDED_REPLY` depends on its request, so an `SftpTrace`
//! remembers the name of each extended request in flight (a bounded number of them) to
//! decode the known replies.

use std::collections::VecDeque;
use std::fmt::Write;

use sshwire_wire::trace::{hex, hex_prefix, text};

use crate::{
    Attrs, ExtendedRequest, ExtensionPair, LimitsReply, OpenFlags, PacketType, Request, Response,
    StatvfsReply, UsersGroupsReply,
};

/// Most file names of one `SSH_FXP_NAME` shown.
pub const MAX_NAMES_SHOWN: usize = 10;

/// Most extended requests remembered while their replies are awaited.
const MAX_EXTENDED_REMEMBERED: usize = 64;

/// Handles up to this long are shown whole, in hexadecimal.
const HANDLE_SHOWN: usize = 32;

/// Describes the packets of one SFTP session, remembering the extended requests in flight.
#[derive(Debug, Default)]
pub struct SftpTrace {
    extended: VecDeque<(u32, Vec<u8>)>,
}

impl SftpTrace {
    /// A describer for a new session.
    pub fn new() -> Self {
        SftpTrace::default()
    }

    /// A whole packet payload (type byte first, without the length), request or response by
    /// its type; one that does not decode is shown by its type and length.
    pub fn payload(&mut self, payload: &[u8]) -> String {
        let Some(&t) = payload.first() else {
            return "empty SFTP packet".to_owned();
        };
        let t = PacketType(t);
        let line = if t.is_request() {
            Request::decode(payload).ok().map(|r| self.request(&r))
        } else if t.is_response() {
            Response::decode(payload).ok().map(|r| self.response(&r))
        } else {
            None
        };
        line.unwrap_or_else(|| format!("{} ({} bytes, not decoded)", t, payload.len()))
    }

    /// A request as one line.
    pub fn request(&mut self, r: &Request) -> String {
        let mut out = r.packet_type().to_string();
        if let Some(id) = r.id() {
            let _ = write!(out, " id={id}");
        }
        let _ = match r {
            Request::Init {
                version,
                extensions,
            } => write!(
                out,
                " version={version} extensions={}",
                extension_list(extensions)
            ),
            Request::Open {
                path, flags, attrs, ..
            } => write!(
                out,
                " path={} pflags={} attrs={}",
                text(path),
                open_flags(*flags),
                attrs_text(attrs)
            ),
            Request::Close { handle, .. }
            | Request::Fstat { handle, .. }
            | Request::Readdir { handle, .. } => write!(out, " handle={}", handle_text(handle)),
            Request::Read {
                handle,
                offset,
                len,
                ..
            } => write!(
                out,
                " handle={} offset={offset} len={len}",
                handle_text(handle)
            ),
            Request::Write {
                handle,
                offset,
                data,
                ..
            } => write!(
                out,
                " handle={} offset={offset} ({} bytes)",
                handle_text(handle),
                data.len()
            ),
            Request::Lstat { path, .. }
            | Request::Opendir { path, .. }
            | Request::Remove { path, .. }
            | Request::Rmdir { path, .. }
            | Request::Realpath { path, .. }
            | Request::Stat { path, .. }
            | Request::Readlink { path, .. } => write!(out, " path={}", text(path)),
            Request::Setstat { path, attrs, .. } | Request::Mkdir { path, attrs, .. } => {
                write!(out, " path={} attrs={}", text(path), attrs_text(attrs))
            }
            Request::Fsetstat { handle, attrs, .. } => write!(
                out,
                " handle={} attrs={}",
                handle_text(handle),
                attrs_text(attrs)
            ),
            Request::Rename {
                old_path, new_path, ..
            } => write!(out, " old={} new={}", text(old_path), text(new_path)),
            Request::Symlink {
                link_path,
                target_path,
                ..
            } => write!(
                out,
                " link={} target={}",
                text(link_path),
                text(target_path)
            ),
            Request::Extended { id, request } => {
                self.remember(*id, request.name());
                extended_request(&mut out, request)
            }
            Request::Unknown { data, .. } => write!(out, " ({} bytes)", data.len() + 1),
        };
        out
    }

    /// A response as one line.
    pub fn response(&mut self, r: &Response) -> String {
        let mut out = r.packet_type().to_string();
        if let Some(id) = r.id() {
            let _ = write!(out, " id={id}");
        }
        let _ = match r {
            Response::Version {
                version,
                extensions,
            } => write!(
                out,
                " version={version} extensions={}",
                extension_list(extensions)
            ),
            Response::Status { code, message, .. } => {
                let code = match code.name() {
                    Some(n) => n.to_owned(),
                    None => code.0.to_string(),
                };
                write!(out, " code={code} message={}", text(message.as_bytes()))
            }
            Response::Handle { handle, .. } => write!(out, " handle={}", handle_text(handle)),
            Response::Data { data, .. } => write!(out, " ({} bytes)", data.len()),
            Response::Name { entries, .. } => {
                let _ = write!(out, " count={} names=[", entries.len());
                for (i, e) in entries.iter().take(MAX_NAMES_SHOWN).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&text(&e.filename));
                }
                if entries.len() > MAX_NAMES_SHOWN {
                    let _ = write!(out, ",+{} more", entries.len() - MAX_NAMES_SHOWN);
                }
                write!(out, "]")
            }
            Response::Attrs { attrs, .. } => write!(out, " attrs={}", attrs_text(attrs)),
            Response::ExtendedReply { id, data } => {
                let name = self.recall(*id);
                extended_reply(&mut out, name.as_deref(), data)
            }
            Response::Unknown { data, .. } => write!(out, " ({} bytes)", data.len() + 1),
        };
        if let Response::Status { id, .. } = r {
            // An extended request answered with a status is no longer in flight.
            let _ = self.recall(*id);
        }
        out
    }

    fn remember(&mut self, id: u32, name: &[u8]) {
        if self.extended.len() >= MAX_EXTENDED_REMEMBERED {
            self.extended.pop_front();
        }
        self.extended.push_back((id, name.to_vec()));
    }

    fn recall(&mut self, id: u32) -> Option<Vec<u8>> {
        let at = self.extended.iter().position(|(i, _)| *i == id)?;
        self.extended.remove(at).map(|(_, name)| name)
    }
}

/// `pflags` by name (filexfer-02 §6.3), with unknown bits in hexadecimal.
pub fn open_flags(flags: OpenFlags) -> String {
    let mut parts: Vec<String> = [
        (OpenFlags::READ, "READ"),
        (OpenFlags::WRITE, "WRITE"),
        (OpenFlags::APPEND, "APPEND"),
        (OpenFlags::CREAT, "CREAT"),
        (OpenFlags::TRUNC, "TRUNC"),
        (OpenFlags::EXCL, "EXCL"),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, n)| (*n).to_owned())
    .collect();
    if flags.unknown() != OpenFlags::empty() {
        parts.push(format!("{:#x}", flags.unknown().bits()));
    }
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join("|")
    }
}

/// `ATTRS` as `{size=.. uid=.. gid=.. perm=0o.. atime=.. mtime=.. extended=N}`, present fields
/// only.
pub fn attrs_text(a: &Attrs) -> String {
    let mut parts = Vec::new();
    if let Some(s) = a.size {
        parts.push(format!("size={s}"));
    }
    if let Some(o) = a.owner {
        parts.push(format!("uid={} gid={}", o.uid, o.gid));
    }
    if let Some(p) = a.permissions {
        parts.push(format!("perm={p:#o}"));
    }
    if let Some(t) = a.times {
        parts.push(format!("atime={} mtime={}", t.atime, t.mtime));
    }
    if !a.extended.is_empty() {
        parts.push(format!("extended={}", a.extended.len()));
    }
    format!("{{{}}}", parts.join(" "))
}

fn handle_text(handle: &[u8]) -> String {
    if handle.len() <= HANDLE_SHOWN {
        hex(handle)
    } else {
        hex_prefix(handle)
    }
}

fn extension_list(pairs: &[ExtensionPair]) -> String {
    let mut out = String::from("[");
    for (i, (name, data)) in pairs
        .iter()
        .take(sshwire_wire::trace::MAX_NAMES)
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}={}", text(name), text(data));
    }
    if pairs.len() > sshwire_wire::trace::MAX_NAMES {
        let _ = write!(
            out,
            ",+{} more",
            pairs.len() - sshwire_wire::trace::MAX_NAMES
        );
    }
    out.push(']');
    out
}

fn extended_request(out: &mut String, r: &ExtendedRequest) -> std::fmt::Result {
    write!(out, " request={}", text(r.name()))?;
    match r {
        ExtendedRequest::PosixRename { old_path, new_path }
        | ExtendedRequest::Hardlink { old_path, new_path } => {
            write!(out, " old={} new={}", text(old_path), text(new_path))
        }
        ExtendedRequest::Statvfs { path } | ExtendedRequest::ExpandPath { path } => {
            write!(out, " path={}", text(path))
        }
        ExtendedRequest::Fstatvfs { handle } | ExtendedRequest::Fsync { handle } => {
            write!(out, " handle={}", handle_text(handle))
        }
        ExtendedRequest::Lsetstat { path, attrs } => {
            write!(out, " path={} attrs={}", text(path), attrs_text(attrs))
        }
        ExtendedRequest::CopyData {
            read_handle,
            read_offset,
            read_length,
            write_handle,
            write_offset,
        } => write!(
            out,
            " read_handle={} read_offset={read_offset} read_length={read_length} \
             write_handle={} write_offset={write_offset}",
            handle_text(read_handle),
            handle_text(write_handle)
        ),
        ExtendedRequest::HomeDirectory { username } => write!(out, " user={}", text(username)),
        ExtendedRequest::UsersGroupsById { uids, gids } => {
            write!(out, " uids={} gids={}", uids.len(), gids.len())
        }
        ExtendedRequest::Limits => Ok(()),
        ExtendedRequest::Unknown { data, .. } => write!(out, " ({} bytes of data)", data.len()),
    }
}

fn extended_reply(out: &mut String, name: Option<&[u8]>, data: &[u8]) -> std::fmt::Result {
    let Some(name) = name else {
        return write!(out, " ({} bytes)", data.len());
    };
    write!(out, " request={}", text(name))?;
    let name = core::str::from_utf8(name).unwrap_or_default();
    match name {
        ExtendedRequest::LIMITS => match LimitsReply::decode(data) {
            Ok(l) => write!(
                out,
                " max_packet_length={} max_read_length={} max_write_length={} \
                 max_open_handles={}",
                l.max_packet_length, l.max_read_length, l.max_write_length, l.max_open_handles
            ),
            Err(_) => write!(out, " ({} bytes, malformed)", data.len()),
        },
        ExtendedRequest::STATVFS | ExtendedRequest::FSTATVFS => match StatvfsReply::decode(data) {
            Ok(s) => write!(
                out,
                " bsize={} frsize={} blocks={} bfree={} bavail={} files={} ffree={} namemax={}",
                s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.namemax
            ),
            Err(_) => write!(out, " ({} bytes, malformed)", data.len()),
        },
        ExtendedRequest::USERS_GROUPS_BY_ID => match UsersGroupsReply::decode(data) {
            Ok(u) => write!(
                out,
                " users={} groups={}",
                u.user_names.len(),
                u.group_names.len()
            ),
            Err(_) => write!(out, " ({} bytes, malformed)", data.len()),
        },
        _ => write!(out, " ({} bytes)", data.len()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::{NameEntry, StatusCode};
    use proptest::prelude::*;

    #[test]
    fn open_shows_path_flags_and_attrs() {
        let line = SftpTrace::new().request(&Request::Open {
            id: 3,
            path: b"/srv/in\x1b.txt".to_vec(),
            flags: OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC,
            attrs: Attrs {
                permissions: Some(0o644),
                ..Attrs::default()
            },
        });
        assert_eq!(
            line,
            r#"SSH_FXP_OPEN id=3 path="/srv/in\u{1b}.txt" pflags=WRITE|CREAT|TRUNC attrs={perm=0o644}"#
        );
        assert_eq!(open_flags(OpenFlags(0x101)), "READ|0x100");
    }

    #[test]
    fn reads_and_writes_show_handle_offset_and_length_never_data() {
        let mut t = SftpTrace::new();
        let w = t.request(&Request::Write {
            id: 9,
            handle: vec![0xde, 0xad],
            offset: 65536,
            data: b"secret contents".to_vec().into(),
        });
        assert_eq!(w, "SSH_FXP_WRITE id=9 handle=dead offset=65536 (15 bytes)");
        let r = t.request(&Request::Read {
            id: 10,
            handle: vec![1],
            offset: 0,
            len: 32768,
        });
        assert_eq!(r, "SSH_FXP_READ id=10 handle=01 offset=0 len=32768");
        let d = t.response(&Response::Data {
            id: 10,
            data: b"secret contents".to_vec().into(),
        });
        assert_eq!(d, "SSH_FXP_DATA id=10 (15 bytes)");
    }

    #[test]
    fn opendir_and_name_show_the_path_and_the_names() {
        let mut t = SftpTrace::new();
        assert_eq!(
            t.request(&Request::Opendir {
                id: 1,
                path: b"/home/u".to_vec()
            }),
            r#"SSH_FXP_OPENDIR id=1 path="/home/u""#
        );
        let entries: Vec<NameEntry> = (0..MAX_NAMES_SHOWN + 2)
            .map(|i| NameEntry {
                filename: format!("f{i}").into_bytes(),
                longname: b"-rw-r--r-- ...".to_vec(),
                attrs: Attrs::default(),
            })
            .collect();
        let line = t.response(&Response::Name { id: 2, entries });
        assert!(
            line.starts_with(r#"SSH_FXP_NAME id=2 count=12 names=["f0","f1","#),
            "{line}"
        );
        assert!(line.ends_with(r#""f9",+2 more]"#), "{line}");
        assert!(!line.contains("-rw-r--r--"), "{line}");
    }

    #[test]
    fn status_version_and_attrs_show_their_fields() {
        let mut t = SftpTrace::new();
        assert_eq!(
            t.response(&Response::Status {
                id: 4,
                code: StatusCode::EOF,
                message: "End of file".into(),
                language: String::new(),
            }),
            r#"SSH_FXP_STATUS id=4 code=SSH_FX_EOF message="End of file""#
        );
        assert_eq!(
            t.response(&Response::Version {
                version: 3,
                extensions: vec![(b"limits@openssh.com".to_vec(), b"1".to_vec())],
            }),
            r#"SSH_FXP_VERSION version=3 extensions=["limits@openssh.com"="1"]"#
        );
        assert_eq!(
            t.response(&Response::Attrs {
                id: 5,
                attrs: Attrs {
                    size: Some(10),
                    owner: Some(crate::Owner { uid: 1, gid: 2 }),
                    ..Attrs::default()
                }
            }),
            "SSH_FXP_ATTRS id=5 attrs={size=10 uid=1 gid=2}"
        );
        assert_eq!(
            t.response(&Response::Handle {
                id: 6,
                handle: vec![0, 1, 2]
            }),
            "SSH_FXP_HANDLE id=6 handle=000102"
        );
    }

    #[test]
    fn extended_replies_are_decoded_by_their_request() {
        let mut t = SftpTrace::new();
        assert_eq!(
            t.request(&Request::Extended {
                id: 7,
                request: ExtendedRequest::Limits
            }),
            r#"SSH_FXP_EXTENDED id=7 request="limits@openssh.com""#
        );
        let data = LimitsReply {
            max_packet_length: 262144,
            max_read_length: 261120,
            max_write_length: 261120,
            max_open_handles: 0,
        }
        .to_bytes();
        assert_eq!(
            t.response(&Response::ExtendedReply {
                id: 7,
                data: data.clone()
            }),
            r#"SSH_FXP_EXTENDED_REPLY id=7 request="limits@openssh.com" max_packet_length=262144 max_read_length=261120 max_write_length=261120 max_open_handles=0"#
        );
        // Its request answered, the same id no longer names it.
        assert_eq!(
            t.response(&Response::ExtendedReply { id: 7, data }),
            "SSH_FXP_EXTENDED_REPLY id=7 (32 bytes)"
        );
    }

    #[test]
    fn payloads_decode_by_type() {
        let mut t = SftpTrace::new();
        let mut framed = Vec::new();
        Request::Init {
            version: 3,
            extensions: vec![],
        }
        .encode(&mut framed);
        let payload = framed.get(4..).unwrap();
        assert_eq!(t.payload(payload), "SSH_FXP_INIT version=3 extensions=[]");
        assert_eq!(t.payload(&[3, 0]), "SSH_FXP_OPEN (2 bytes, not decoded)");
        assert_eq!(
            t.payload(&[99, 1]),
            "SFTP packet type 99 (2 bytes, not decoded)"
        );
    }

    proptest! {
        #[test]
        fn any_bytes_describe_without_panicking(
            packet_type in prop_oneof![1u8..=20, 101u8..=105, 200u8..=201, any::<u8>()],
            body in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut payload = vec![packet_type];
            payload.extend_from_slice(&body);
            let line = SftpTrace::new().payload(&payload);
            prop_assert!(!line.chars().any(char::is_control));
            prop_assert!(line.len() < 16 * 1024);
        }
    }
}
