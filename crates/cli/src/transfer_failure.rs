//! One line for a failed download or upload: what went wrong, what became of the user's
//! files, and what to do next.
//!
//! [`sshwire::sftp_client::SftpClient::download`] never replaces an existing file until the
//! download has succeeded (it writes `.NAME.sshwire-part` next to it), and writes a new file
//! in order, so a failed download leaves a correct prefix where `reget` looks for it. The
//! lines here say which file holds that prefix, how many bytes it has, and the command that
//! continues from it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use sshwire::sftp::StatusCode;
use sshwire::sftp_client::SftpError;
use sshwire::sftp_transfer::TransferError;

/// How the user resumes: with a command of the running sftp session, or with a new
/// `sshwire sftp -a` (for `sshwire cp`, which has no resume flag of its own).
pub enum Resume<'a> {
    /// `reget`/`reput` in this sftp session.
    Session,
    /// `sshwire sftp -a [-P port] [user@]host:path local` (downloads), or `reput` in an
    /// `sshwire sftp` session (uploads).
    Sftp {
        /// `[user@]host`, as given.
        host: &'a str,
        /// `-P`, when given.
        port: Option<u16>,
    },
}

/// A failed transfer's line, and whether the session is gone (the exit status is then 255,
/// as OpenSSH's sftp and scp exit when the connection closes).
pub struct Failure {
    /// The line to print.
    pub line: String,
    /// The SFTP session (and the connection under it) is lost: nothing more can be done on it.
    pub session_lost: bool,
}

/// An I/O error's text without Rust's `(os error N)`.
fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// Whether an SFTP error means the session is gone (the connection closed or broke) rather
/// than the server refusing one request.
pub fn session_lost(e: &SftpError) -> bool {
    matches!(e, SftpError::Protocol(_))
}

/// A path quoted for an sftp command line, when it needs it.
pub fn quoted(path: &str) -> String {
    if path.is_empty() || path.contains(|c: char| c.is_whitespace() || "\"'\\*?[]#".contains(c)) {
        format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        path.to_owned()
    }
}

/// `dir/.name.sshwire-part`: where a download over an existing file goes first (the name
/// `sshwire::sftp_transfer` uses).
fn part_path(local: &Path) -> PathBuf {
    let name = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    local.with_file_name(format!(".{name}.sshwire-part"))
}

/// The regular file that holds a failed download's prefix, and its length.
fn kept(local: &Path, existed: bool) -> Option<(PathBuf, u64)> {
    let holder = if existed {
        part_path(local)
    } else {
        local.to_path_buf()
    };
    let meta = std::fs::metadata(&holder).ok()?;
    (meta.is_file() && meta.len() > 0).then_some((holder, meta.len()))
}

/// How to continue the download of `remote` into `local`.
fn reget(resume: &Resume<'_>, remote: &str, local: &Path) -> String {
    let local = local.display().to_string();
    match resume {
        Resume::Session => format!("reget {} {}", quoted(remote), quoted(&local)),
        Resume::Sftp { host, port } => {
            let port = port.map(|p| format!("-P {p} ")).unwrap_or_default();
            format!(
                "sshwire sftp -a {port}{host}:{} {}",
                quoted(remote),
                quoted(&local)
            )
        }
    }
}

/// What is left after a download of `remote` to `local` failed: the prefix kept for a
/// resume, and whether an existing file was left alone.
fn aftermath(
    resume: &Resume<'_>,
    remote: &str,
    local: &Path,
    existed: bool,
    reconnect: bool,
) -> String {
    let untouched = match existed {
        true => format!("; {} is untouched", local.display()),
        false => String::new(),
    };
    match kept(local, existed) {
        Some((holder, bytes)) => format!(
            "{bytes} bytes are kept in {}{untouched}; {}resume with: {}",
            holder.display(),
            match (reconnect, resume) {
                (true, Resume::Session) => "reconnect and ",
                _ => "",
            },
            reget(resume, remote, local)
        ),
        None => format!("nothing was kept{untouched}"),
    }
}

/// The line for a download of `remote` to `local` that failed with `e`; `existed` says
/// whether `local` was there before.
pub fn download(
    e: &TransferError,
    remote: &str,
    local: &Path,
    existed: bool,
    resume: &Resume<'_>,
) -> Failure {
    let shown = local.display();
    let lost = matches!(e, TransferError::Remote(s) if session_lost(s));
    let after = || aftermath(resume, remote, local, existed, lost);
    let (line, session_lost) = match e {
        TransferError::Remote(s) if lost => (
            format!(
                "download of \"{remote}\" interrupted, the connection was lost ({s}): {}",
                after()
            ),
            true,
        ),
        TransferError::Remote(SftpError::Status { code, .. })
            if *code == StatusCode::PERMISSION_DENIED =>
        {
            (
                format!(
                    "download \"{remote}\": Permission denied: the server does not let this \
                     user read it; {}",
                    after()
                ),
                false,
            )
        }
        TransferError::Remote(s) => (format!("download \"{remote}\": {s}; {}", after()), false),
        TransferError::Local(io) if io.kind() == ErrorKind::StorageFull => (
            format!(
                "local \"{shown}\": No space left on device: free some space there; {}",
                after()
            ),
            false,
        ),
        TransferError::Local(io)
            if matches!(
                io.kind(),
                ErrorKind::PermissionDenied
                    | ErrorKind::ReadOnlyFilesystem
                    | ErrorKind::NotFound
                    | ErrorKind::NotADirectory
                    | ErrorKind::IsADirectory
            ) =>
        {
            (
                format!(
                    "local \"{shown}\": {}: choose a destination you can write to; {}",
                    io_text(io),
                    after()
                ),
                false,
            )
        }
        TransferError::Local(io) => (
            format!("local \"{shown}\": {}; {}", io_text(io), after()),
            false,
        ),
        TransferError::CannotResume(why) => (
            format!("Unable to resume download of \"{shown}\": {why}; get it again without -a"),
            false,
        ),
    };
    Failure { line, session_lost }
}

/// The line for an upload of `local` to `remote` that failed with `e`.
pub fn upload(e: &TransferError, local: &Path, remote: &str, resume: &Resume<'_>) -> Failure {
    let shown = local.display();
    let reput = match resume {
        Resume::Session => format!("reput {} {}", quoted(&shown.to_string()), quoted(remote)),
        Resume::Sftp { host, port } => {
            let port = port.map(|p| format!("-P {p} ")).unwrap_or_default();
            format!(
                "reput {} {} in sshwire sftp {port}{host}",
                quoted(&shown.to_string()),
                quoted(remote)
            )
        }
    };
    let (line, session_lost) = match e {
        TransferError::Remote(s) if session_lost(s) => (
            format!(
                "upload of \"{shown}\" to \"{remote}\" interrupted, the connection was lost \
                 ({s}): the remote file keeps what was written; reconnect and resume with: {reput}"
            ),
            true,
        ),
        TransferError::Remote(SftpError::Status { code, .. })
            if *code == StatusCode::PERMISSION_DENIED =>
        {
            (
                format!(
                    "upload \"{shown}\" to \"{remote}\": Permission denied: the server does not \
                     let this user write there (it may serve read-only)"
                ),
                false,
            )
        }
        TransferError::Remote(SftpError::Status { code, .. })
            if *code == StatusCode::NO_SUCH_FILE =>
        {
            (
                format!(
                    "upload \"{shown}\" to \"{remote}\": No such file or directory: create the \
                     remote directory first (mkdir)"
                ),
                false,
            )
        }
        TransferError::Remote(s) => (format!("upload \"{shown}\" to \"{remote}\": {s}"), false),
        TransferError::Local(io) => (format!("local \"{shown}\": {}", io_text(io)), false),
        TransferError::CannotResume(why) => (
            format!("Unable to resume upload to \"{remote}\": {why}; put it again without -a"),
            false,
        ),
    };
    Failure { line, session_lost }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn resume_commands_quote_what_sftp_would_split() {
        assert_eq!(quoted("plain/name"), "plain/name");
        assert_eq!(quoted("two words"), "\"two words\"");
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
        let r = Resume::Sftp {
            host: "me@box",
            port: Some(2222),
        };
        assert_eq!(
            reget(&r, "/srv/big file", Path::new("big")),
            "sshwire sftp -a -P 2222 me@box:\"/srv/big file\" big"
        );
        assert_eq!(reget(&Resume::Session, "/x", Path::new("y")), "reget /x y");
    }

    #[test]
    fn a_failed_download_says_which_file_holds_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("f");
        std::fs::write(&local, "old").unwrap();
        std::fs::write(dir.path().join(".f.sshwire-part"), "12345").unwrap();
        let e = TransferError::Local(std::io::Error::from(ErrorKind::StorageFull));
        let f = download(&e, "/r/f", &local, true, &Resume::Session);
        assert!(!f.session_lost);
        assert!(
            f.line.contains("5 bytes are kept in") && f.line.contains(".f.sshwire-part"),
            "{}",
            f.line
        );
        assert!(
            f.line.contains("is untouched; resume with: reget /r/f"),
            "{}",
            f.line
        );
        let lost = TransferError::Remote(SftpError::Protocol("gone".into()));
        let f = download(
            &lost,
            "/r/g",
            &dir.path().join("g"),
            false,
            &Resume::Session,
        );
        assert!(f.session_lost);
        assert!(f.line.ends_with("nothing was kept"), "{}", f.line);
    }
}
