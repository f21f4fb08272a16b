//! The audit log: every request that opens, closes or changes something, with its outcome.
//!
//! A [`Session`](super::Session) hands each [`AuditEvent`] to an [`AuditSink`]. Events cover
//! what OpenSSH's `sftp-server` logs at level INFO: opening and closing files (with the bytes
//! read and written through the handle) and directories, and every change: remove, rename,
//! setstat, mkdir, rmdir, symlink, hardlink, copy-data. Requests refused by policy are
//! recorded too, with `SSH_FX_PERMISSION_DENIED`.
//!
//! [`AuditEvent::to_text`] and [`AuditEvent::to_json`] format one event as one line;
//! [`LineSink`] writes them to any `std::io::Write`.
//!
//! # Paths in JSON
//!
//! Paths are bytes and JSON strings are Unicode. A path that is valid UTF-8 is written as a
//! JSON string. One that is not is written lossily (each invalid sequence as U+FFFD) *and*
//! exactly, as lower-case hex in a second field named after the first with `_hex` appended
//! (`"path": "a\uFFFD"`, `"path_hex": "61ff"`). A reader that needs the exact bytes takes the
//! `_hex` field when it is there.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::lock;
use super::longname::utc_timestamp;
use crate::attrs::Attrs;
use crate::types::{OpenFlags, StatusCode};

/// What an audited request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOperation {
    /// `SSH_FXP_OPEN`.
    Open,
    /// `SSH_FXP_CLOSE` of a file handle.
    Close,
    /// `SSH_FXP_OPENDIR`.
    Opendir,
    /// `SSH_FXP_CLOSE` of a directory handle.
    Closedir,
    /// `SSH_FXP_REMOVE`.
    Remove,
    /// `SSH_FXP_RENAME`.
    Rename,
    /// `posix-rename@openssh.com`.
    PosixRename,
    /// `SSH_FXP_SETSTAT`.
    Setstat,
    /// `SSH_FXP_FSETSTAT`.
    Fsetstat,
    /// `lsetstat@openssh.com`.
    Lsetstat,
    /// `SSH_FXP_MKDIR`.
    Mkdir,
    /// `SSH_FXP_RMDIR`.
    Rmdir,
    /// `SSH_FXP_SYMLINK`.
    Symlink,
    /// `hardlink@openssh.com`.
    Hardlink,
    /// `copy-data`.
    CopyData,
    /// `SSH_FXP_WRITE` refused by policy (a successful write is counted at close instead).
    Write,
    /// `fsync@openssh.com` refused by policy.
    Fsync,
}

impl AuditOperation {
    /// The operation's name in the log, OpenSSH's request name where there is one.
    pub fn name(self) -> &'static str {
        match self {
            AuditOperation::Open => "open",
            AuditOperation::Close => "close",
            AuditOperation::Opendir => "opendir",
            AuditOperation::Closedir => "closedir",
            AuditOperation::Remove => "remove",
            AuditOperation::Rename => "rename",
            AuditOperation::PosixRename => "posix-rename",
            AuditOperation::Setstat => "setstat",
            AuditOperation::Fsetstat => "fsetstat",
            AuditOperation::Lsetstat => "lsetstat",
            AuditOperation::Mkdir => "mkdir",
            AuditOperation::Rmdir => "rmdir",
            AuditOperation::Symlink => "symlink",
            AuditOperation::Hardlink => "hardlink",
            AuditOperation::CopyData => "copy-data",
            AuditOperation::Write => "write",
            AuditOperation::Fsync => "fsync",
        }
    }
}

/// One audited request and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it finished.
    pub time: SystemTime,
    /// The session's user.
    pub user: String,
    /// What it did.
    pub operation: AuditOperation,
    /// The path it acted on (for a handle, the path the handle was opened by; for a symbolic
    /// link, the link; for copy-data, the source).
    pub path: Vec<u8>,
    /// The second path: the new name of a rename or hard link, the target of a symbolic link,
    /// the destination of copy-data.
    pub target: Option<Vec<u8>>,
    /// The flags of an `OPEN`.
    pub flags: Option<OpenFlags>,
    /// The attributes asked for: the mode of a created file or directory (after the umask),
    /// the changes of a setstat.
    pub attrs: Option<Attrs>,
    /// Bytes read through a handle (at close), or copied by copy-data.
    pub bytes_read: Option<u64>,
    /// Bytes written through a handle (at close), or copied by copy-data.
    pub bytes_written: Option<u64>,
    /// A close the client did not ask for: the session ended with the handle open.
    pub forced: bool,
    /// The outcome: [`StatusCode::OK`] or why it failed.
    pub status: StatusCode,
}

/// Where a session's audit events go.
pub trait AuditSink: Send + Sync {
    /// Records one event. Called from the task that ran the request: do not block for long.
    fn record(&self, event: &AuditEvent);
}

/// The line format of a [`LineSink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuditFormat {
    /// [`AuditEvent::to_text`].
    #[default]
    Text,
    /// [`AuditEvent::to_json`] (JSON lines).
    Json,
}

/// An [`AuditSink`] that writes one line per event to a writer, ignoring write errors.
pub struct LineSink<W> {
    out: Mutex<W>,
    format: AuditFormat,
}

impl<W: Write + Send> LineSink<W> {
    /// A sink writing `format` lines to `out`.
    pub fn new(out: W, format: AuditFormat) -> Self {
        LineSink {
            out: Mutex::new(out),
            format,
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<W: Write + Send> AuditSink for LineSink<W> {
    fn record(&self, event: &AuditEvent) {
        let mut line = match self.format {
            AuditFormat::Text => event.to_text(),
            AuditFormat::Json => event.to_json(),
        };
        line.push('\n');
        let mut out = lock(&self.out);
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    }
}

/// The `pflags` in OpenSSH's log spelling: `READ,WRITE,APPEND,CREATE,TRUNCATE,EXCL`, then any
/// unknown bits in hex.
pub fn flags_string(flags: OpenFlags) -> String {
    let names = [
        (OpenFlags::READ, "READ"),
        (OpenFlags::WRITE, "WRITE"),
        (OpenFlags::APPEND, "APPEND"),
        (OpenFlags::CREAT, "CREATE"),
        (OpenFlags::TRUNC, "TRUNCATE"),
        (OpenFlags::EXCL, "EXCL"),
    ];
    let mut parts: Vec<String> = names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| (*n).to_owned())
        .collect();
    if flags.unknown().bits() != 0 {
        parts.push(format!("{:#x}", flags.unknown().bits()));
    }
    parts.join(",")
}

/// The outcome as the log writes it: `ok`, or the status name.
fn result_name(status: StatusCode) -> String {
    if status == StatusCode::OK {
        "ok".to_owned()
    } else {
        status.to_string()
    }
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs())
            .map(|s| -s)
            .unwrap_or(i64::MIN),
    }
}

/// A byte string in double quotes for the text format: printable text as is, `"` and `\`
/// escaped, control characters and bytes that are not UTF-8 as `\xNN`.
fn quote_text(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
}

/// A JSON string literal (RFC 8259 §7): `"`, `\` and control characters escaped.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // RFC 8259 §7: "All Unicode characters may be placed within the quotation marks,
            // except for the characters that MUST be escaped: quotation mark, reverse
            // solidus, and the control characters (U+0000 through U+001F)."
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `"key":"value"` for bytes, with `"key_hex"` when they are not UTF-8 (see the module
/// documentation).
fn json_bytes(out: &mut String, key: &str, bytes: &[u8]) {
    json_string(out, key);
    out.push(':');
    json_string(out, &String::from_utf8_lossy(bytes));
    if core::str::from_utf8(bytes).is_err() {
        out.push(',');
        json_string(out, &format!("{key}_hex"));
        out.push_str(":\"");
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        out.push('"');
    }
}

impl AuditEvent {
    /// One line of text, without a newline:
    /// `2024-01-02T03:04:05Z user="alice" op=rename path="/a" target="/b" result=ok`.
    ///
    /// Fields that do not apply are left out; the order is time, user, op, path, target,
    /// flags, attributes (`mode=0644 size= uid= gid= atime= mtime=`), `read=`, `written=`,
    /// `forced`, result (`ok` or the status name such as `SSH_FX_PERMISSION_DENIED`).
    pub fn to_text(&self) -> String {
        let mut out = utc_timestamp(unix_seconds(self.time));
        out.push_str(" user=");
        quote_text(&mut out, self.user.as_bytes());
        let _ = write!(out, " op={} path=", self.operation.name());
        quote_text(&mut out, &self.path);
        if let Some(target) = &self.target {
            out.push_str(" target=");
            quote_text(&mut out, target);
        }
        if let Some(flags) = self.flags {
            let _ = write!(out, " flags={}", flags_string(flags));
        }
        if let Some(a) = &self.attrs {
            if let Some(mode) = a.permissions {
                let _ = write!(out, " mode={:04o}", mode & 0o7777);
            }
            if let Some(size) = a.size {
                let _ = write!(out, " size={size}");
            }
            if let Some(o) = a.owner {
                let _ = write!(out, " uid={} gid={}", o.uid, o.gid);
            }
            if let Some(t) = a.times {
                let _ = write!(out, " atime={} mtime={}", t.atime, t.mtime);
            }
        }
        if let Some(n) = self.bytes_read {
            let _ = write!(out, " read={n}");
        }
        if let Some(n) = self.bytes_written {
            let _ = write!(out, " written={n}");
        }
        if self.forced {
            out.push_str(" forced");
        }
        let _ = write!(out, " result={}", result_name(self.status));
        out
    }

    /// One JSON object on one line, without a newline.
    ///
    /// Keys: `time` (RFC 3339, UTC), `user`, `op`, `path`, then when they apply `target`,
    /// `flags` (as in the text format), `mode` (a number), `size`, `uid`, `gid`, `atime`,
    /// `mtime`, `bytes_read`, `bytes_written`, `forced` (true), and always `result` (`"ok"`
    /// or the status name) and `status` (the number). See the module documentation for
    /// paths that are not UTF-8.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        json_string(&mut out, "time");
        out.push(':');
        json_string(&mut out, &utc_timestamp(unix_seconds(self.time)));
        out.push(',');
        json_string(&mut out, "user");
        out.push(':');
        json_string(&mut out, &self.user);
        let _ = write!(out, ",\"op\":\"{}\",", self.operation.name());
        json_bytes(&mut out, "path", &self.path);
        if let Some(target) = &self.target {
            out.push(',');
            json_bytes(&mut out, "target", target);
        }
        if let Some(flags) = self.flags {
            out.push_str(",\"flags\":");
            json_string(&mut out, &flags_string(flags));
        }
        if let Some(a) = &self.attrs {
            if let Some(mode) = a.permissions {
                let _ = write!(out, ",\"mode\":{}", mode & 0o7777);
            }
            if let Some(size) = a.size {
                let _ = write!(out, ",\"size\":{size}");
            }
            if let Some(o) = a.owner {
                let _ = write!(out, ",\"uid\":{},\"gid\":{}", o.uid, o.gid);
            }
            if let Some(t) = a.times {
                let _ = write!(out, ",\"atime\":{},\"mtime\":{}", t.atime, t.mtime);
            }
        }
        if let Some(n) = self.bytes_read {
            let _ = write!(out, ",\"bytes_read\":{n}");
        }
        if let Some(n) = self.bytes_written {
            let _ = write!(out, ",\"bytes_written\":{n}");
        }
        if self.forced {
            out.push_str(",\"forced\":true");
        }
        let _ = write!(
            out,
            ",\"result\":\"{}\",\"status\":{}}}",
            result_name(self.status),
            self.status.0
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::Owner;
    use std::time::Duration;

    fn event(op: AuditOperation, path: &[u8]) -> AuditEvent {
        AuditEvent {
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            user: "alice".to_owned(),
            operation: op,
            path: path.to_vec(),
            target: None,
            flags: None,
            attrs: None,
            bytes_read: None,
            bytes_written: None,
            forced: false,
            status: StatusCode::OK,
        }
    }

    #[test]
    fn text_lines() {
        let mut e = event(AuditOperation::Open, b"/home/a b/\"q\"\\x");
        e.flags = Some(OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC);
        e.attrs = Some(Attrs {
            permissions: Some(0o100_644),
            ..Attrs::default()
        });
        assert_eq!(
            e.to_text(),
            r#"2023-11-14T22:13:20Z user="alice" op=open path="/home/a b/\"q\"\\x" flags=WRITE,CREATE,TRUNCATE mode=0644 result=ok"#
        );
        let mut e = event(AuditOperation::Close, b"/d\xff\n\xc3\xa9");
        e.bytes_read = Some(10);
        e.bytes_written = Some(0);
        e.forced = true;
        assert_eq!(
            e.to_text(),
            r#"2023-11-14T22:13:20Z user="alice" op=close path="/d\xff\x0aé" read=10 written=0 forced result=ok"#
        );
        let mut e = event(AuditOperation::Rename, b"/a");
        e.target = Some(b"/b".to_vec());
        e.status = StatusCode::PERMISSION_DENIED;
        assert!(
            e.to_text()
                .ends_with(r#"path="/a" target="/b" result=SSH_FX_PERMISSION_DENIED"#)
        );
        let mut e = event(AuditOperation::Setstat, b"/a");
        e.attrs = Some(Attrs {
            size: Some(5),
            owner: Some(Owner { uid: 1, gid: 2 }),
            ..Attrs::default()
        });
        assert!(e.to_text().contains(" size=5 uid=1 gid=2 result=ok"));
    }

    #[test]
    fn json_lines() {
        let mut e = event(AuditOperation::Open, b"/x\"\\\n\t\x01\x7f\xc3\xa9");
        e.flags = Some(OpenFlags::READ | OpenFlags(0x100));
        e.status = StatusCode::NO_SUCH_FILE;
        assert_eq!(
            e.to_json(),
            r#"{"time":"2023-11-14T22:13:20Z","user":"alice","op":"open","path":"/x\"\\\n\t\u0001\u007fé","flags":"READ,0x100","result":"SSH_FX_NO_SUCH_FILE","status":2}"#
        );
        let mut e = event(AuditOperation::CopyData, b"/a\xff");
        e.target = Some(b"/b".to_vec());
        e.bytes_read = Some(3);
        e.bytes_written = Some(3);
        e.attrs = Some(Attrs {
            permissions: Some(0o755),
            ..Attrs::default()
        });
        assert_eq!(
            e.to_json(),
            r#"{"time":"2023-11-14T22:13:20Z","user":"alice","op":"copy-data","path":"/a�","path_hex":"2f61ff","target":"/b","mode":493,"bytes_read":3,"bytes_written":3,"result":"ok","status":0}"#
        );
    }

    #[test]
    fn line_sink_writes_lines() {
        let sink = LineSink::new(Vec::new(), AuditFormat::Json);
        sink.record(&event(AuditOperation::Mkdir, b"/d"));
        sink.record(&event(AuditOperation::Rmdir, b"/d"));
        let out = String::from_utf8(sink.into_inner()).unwrap();
        assert_eq!(out.lines().count(), 2);
        assert!(out.ends_with("\"status\":0}\n"));
    }
}
