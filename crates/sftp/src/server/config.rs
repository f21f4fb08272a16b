//! The server's policy: what a session may do, and where it starts.

use core::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::extensions::ExtendedRequest;
use crate::fs::Capability;
use crate::packet::MAX_DATA;
use crate::request::{Request, SymlinkOrder};

/// A request as OpenSSH's `sftp-server` names it in its `-p` and `-P` lists (and prints with
/// `-Q requests`).
///
/// Filexfer-02 requests are named after their packet type (`open`, `readdir`, ...), OpenSSH's
/// extensions after their extension name without the domain (`posix-rename`, `copy-data`,
/// ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// `SSH_FXP_OPEN`.
    Open,
    /// `SSH_FXP_CLOSE`.
    Close,
    /// `SSH_FXP_READ`.
    Read,
    /// `SSH_FXP_WRITE`.
    Write,
    /// `SSH_FXP_LSTAT`.
    Lstat,
    /// `SSH_FXP_FSTAT`.
    Fstat,
    /// `SSH_FXP_SETSTAT`.
    Setstat,
    /// `SSH_FXP_FSETSTAT`.
    Fsetstat,
    /// `SSH_FXP_OPENDIR`.
    Opendir,
    /// `SSH_FXP_READDIR`.
    Readdir,
    /// `SSH_FXP_REMOVE`.
    Remove,
    /// `SSH_FXP_MKDIR`.
    Mkdir,
    /// `SSH_FXP_RMDIR`.
    Rmdir,
    /// `SSH_FXP_REALPATH`.
    Realpath,
    /// `SSH_FXP_STAT`.
    Stat,
    /// `SSH_FXP_RENAME`.
    Rename,
    /// `SSH_FXP_READLINK`.
    Readlink,
    /// `SSH_FXP_SYMLINK`.
    Symlink,
    /// `posix-rename@openssh.com`.
    PosixRename,
    /// `statvfs@openssh.com`.
    Statvfs,
    /// `fstatvfs@openssh.com`.
    Fstatvfs,
    /// `hardlink@openssh.com`.
    Hardlink,
    /// `fsync@openssh.com`.
    Fsync,
    /// `lsetstat@openssh.com`.
    Lsetstat,
    /// `limits@openssh.com`.
    Limits,
    /// `expand-path@openssh.com`.
    ExpandPath,
    /// `copy-data`.
    CopyData,
    /// `home-directory`.
    HomeDirectory,
    /// `users-groups-by-id@openssh.com`.
    UsersGroupsById,
}

impl RequestKind {
    /// Every kind, in the order OpenSSH's `sftp-server -Q requests` lists them.
    pub const ALL: [RequestKind; 29] = [
        RequestKind::Open,
        RequestKind::Close,
        RequestKind::Read,
        RequestKind::Write,
        RequestKind::Lstat,
        RequestKind::Fstat,
        RequestKind::Setstat,
        RequestKind::Fsetstat,
        RequestKind::Opendir,
        RequestKind::Readdir,
        RequestKind::Remove,
        RequestKind::Mkdir,
        RequestKind::Rmdir,
        RequestKind::Realpath,
        RequestKind::Stat,
        RequestKind::Rename,
        RequestKind::Readlink,
        RequestKind::Symlink,
        RequestKind::PosixRename,
        RequestKind::Statvfs,
        RequestKind::Fstatvfs,
        RequestKind::Hardlink,
        RequestKind::Fsync,
        RequestKind::Lsetstat,
        RequestKind::Limits,
        RequestKind::ExpandPath,
        RequestKind::CopyData,
        RequestKind::HomeDirectory,
        RequestKind::UsersGroupsById,
    ];

    /// The name in OpenSSH's spelling.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Open => "open",
            RequestKind::Close => "close",
            RequestKind::Read => "read",
            RequestKind::Write => "write",
            RequestKind::Lstat => "lstat",
            RequestKind::Fstat => "fstat",
            RequestKind::Setstat => "setstat",
            RequestKind::Fsetstat => "fsetstat",
            RequestKind::Opendir => "opendir",
            RequestKind::Readdir => "readdir",
            RequestKind::Remove => "remove",
            RequestKind::Mkdir => "mkdir",
            RequestKind::Rmdir => "rmdir",
            RequestKind::Realpath => "realpath",
            RequestKind::Stat => "stat",
            RequestKind::Rename => "rename",
            RequestKind::Readlink => "readlink",
            RequestKind::Symlink => "symlink",
            RequestKind::PosixRename => "posix-rename",
            RequestKind::Statvfs => "statvfs",
            RequestKind::Fstatvfs => "fstatvfs",
            RequestKind::Hardlink => "hardlink",
            RequestKind::Fsync => "fsync",
            RequestKind::Lsetstat => "lsetstat",
            RequestKind::Limits => "limits",
            RequestKind::ExpandPath => "expand-path",
            RequestKind::CopyData => "copy-data",
            RequestKind::HomeDirectory => "home-directory",
            RequestKind::UsersGroupsById => "users-groups-by-id",
        }
    }

    /// The kind of an OpenSSH name, if it is one.
    pub fn from_name(name: &str) -> Option<RequestKind> {
        RequestKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind of an extended request's wire name (`posix-rename@openssh.com`, ...).
    pub fn from_extension(name: &str) -> Option<RequestKind> {
        Some(match name {
            ExtendedRequest::POSIX_RENAME => RequestKind::PosixRename,
            ExtendedRequest::STATVFS => RequestKind::Statvfs,
            ExtendedRequest::FSTATVFS => RequestKind::Fstatvfs,
            ExtendedRequest::HARDLINK => RequestKind::Hardlink,
            ExtendedRequest::FSYNC => RequestKind::Fsync,
            ExtendedRequest::LSETSTAT => RequestKind::Lsetstat,
            ExtendedRequest::LIMITS => RequestKind::Limits,
            ExtendedRequest::EXPAND_PATH => RequestKind::ExpandPath,
            ExtendedRequest::COPY_DATA => RequestKind::CopyData,
            ExtendedRequest::HOME_DIRECTORY => RequestKind::HomeDirectory,
            ExtendedRequest::USERS_GROUPS_BY_ID => RequestKind::UsersGroupsById,
            _ => return None,
        })
    }

    /// The kind of a request; `None` for `INIT` and for requests nobody implements.
    pub fn of(request: &Request) -> Option<RequestKind> {
        Some(match request {
            Request::Init { .. } | Request::Unknown { .. } => return None,
            Request::Open { .. } => RequestKind::Open,
            Request::Close { .. } => RequestKind::Close,
            Request::Read { .. } => RequestKind::Read,
            Request::Write { .. } => RequestKind::Write,
            Request::Lstat { .. } => RequestKind::Lstat,
            Request::Fstat { .. } => RequestKind::Fstat,
            Request::Setstat { .. } => RequestKind::Setstat,
            Request::Fsetstat { .. } => RequestKind::Fsetstat,
            Request::Opendir { .. } => RequestKind::Opendir,
            Request::Readdir { .. } => RequestKind::Readdir,
            Request::Remove { .. } => RequestKind::Remove,
            Request::Mkdir { .. } => RequestKind::Mkdir,
            Request::Rmdir { .. } => RequestKind::Rmdir,
            Request::Realpath { .. } => RequestKind::Realpath,
            Request::Stat { .. } => RequestKind::Stat,
            Request::Rename { .. } => RequestKind::Rename,
            Request::Readlink { .. } => RequestKind::Readlink,
            Request::Symlink { .. } => RequestKind::Symlink,
            Request::Extended { request, .. } => {
                let name = core::str::from_utf8(request.name()).ok()?;
                return RequestKind::from_extension(name);
            }
        })
    }

    /// Whether the request changes the file system, so that a read-only session refuses it.
    ///
    /// These are the requests OpenSSH's `sftp-server` marks `does_write` (it refuses `fsync`
    /// too). `open` is not among them: a read-only session refuses only an `OPEN` that asks
    /// to write, create or truncate.
    pub fn writes(self) -> bool {
        matches!(
            self,
            RequestKind::Write
                | RequestKind::Setstat
                | RequestKind::Fsetstat
                | RequestKind::Remove
                | RequestKind::Mkdir
                | RequestKind::Rmdir
                | RequestKind::Rename
                | RequestKind::Symlink
                | RequestKind::PosixRename
                | RequestKind::Hardlink
                | RequestKind::Fsync
                | RequestKind::Lsetstat
                | RequestKind::CopyData
        )
    }

    /// The backend capability an extension needs, if it is an optional one.
    pub fn capability(self) -> Option<Capability> {
        Some(match self {
            RequestKind::PosixRename => Capability::PosixRename,
            RequestKind::Statvfs | RequestKind::Fstatvfs => Capability::Statvfs,
            RequestKind::Hardlink => Capability::Hardlink,
            RequestKind::Fsync => Capability::Fsync,
            RequestKind::Lsetstat => Capability::Lsetstat,
            _ => return None,
        })
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names of user and group ids, for `users-groups-by-id@openssh.com` and directory listings.
pub trait IdNames: Send + Sync {
    /// The name of user `uid`, if it has one.
    fn user_name(&self, uid: u32) -> Option<String>;
    /// The name of group `gid`, if it has one.
    fn group_name(&self, gid: u32) -> Option<String>;
}

/// The policy of one SFTP session: what it may do, where it starts, and its limits.
///
/// The defaults are OpenSSH's `sftp-server` with no flags, started in `/`.
#[derive(Clone)]
pub struct ServerConfig {
    /// Refuse every request that changes the file system with `SSH_FX_PERMISSION_DENIED`
    /// (OpenSSH `sftp-server -R`): the requests of [`RequestKind::writes`], and `OPEN` with
    /// WRITE, APPEND, CREAT or TRUNC.
    pub read_only: bool,
    /// Permission bits cleared from the mode of a file that `OPEN` creates (0666 when the
    /// client gives none) and of a directory that `MKDIR` creates (0777 when none): OpenSSH
    /// `sftp-server -u`. Default 0o022.
    pub umask: u32,
    /// If set, only these requests are served; the others get `SSH_FX_PERMISSION_DENIED`
    /// (OpenSSH `sftp-server -p`).
    pub allowed: Option<Vec<RequestKind>>,
    /// These requests get `SSH_FX_PERMISSION_DENIED` (OpenSSH `sftp-server -P`); the deny
    /// list wins over the allow list.
    pub denied: Vec<RequestKind>,
    /// The directory relative paths start from, and what `REALPATH` of `.` answers (OpenSSH
    /// `sftp-server -d`). An absolute path of the backend's tree; default `/`.
    pub start_dir: Vec<u8>,
    /// The user's home directory: what `~` expands to in `expand-path@openssh.com`, and the
    /// answer to `home-directory`. `None` means the start directory.
    pub home: Option<Vec<u8>>,
    /// The user name: for the audit log, `~user` and `home-directory`.
    pub user: String,
    /// Handles open at once (`OPEN` and `OPENDIR`); default 1024.
    pub max_handles: usize,
    /// The longest `READ` answered in full: longer ones are shortened to this (filexfer-02
    /// §6.4 lets the server return less). Default and most [`MAX_DATA`], 255 KiB, so that the
    /// reply fits in a packet.
    pub max_read_len: u32,
    /// The order of `SSH_FXP_SYMLINK`'s two paths; OpenSSH's by default.
    pub symlink_order: SymlinkOrder,
    /// Names of user and group ids; without it, `users-groups-by-id@openssh.com` answers
    /// empty names and listings show numbers.
    pub id_names: Option<Arc<dyn IdNames>>,
    /// The clock: audit time stamps, and whether a listing shows a file's time or its year.
    pub clock: fn() -> SystemTime,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            read_only: false,
            umask: 0o022,
            allowed: None,
            denied: Vec::new(),
            start_dir: b"/".to_vec(),
            home: None,
            user: String::new(),
            max_handles: 1024,
            max_read_len: MAX_DATA,
            symlink_order: SymlinkOrder::OpenSsh,
            id_names: None,
            clock: SystemTime::now,
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("read_only", &self.read_only)
            .field("umask", &format_args!("{:#o}", self.umask))
            .field("allowed", &self.allowed)
            .field("denied", &self.denied)
            .field("start_dir", &String::from_utf8_lossy(&self.start_dir))
            .field("home", &self.home.as_deref().map(String::from_utf8_lossy))
            .field("user", &self.user)
            .field("max_handles", &self.max_handles)
            .field("max_read_len", &self.max_read_len)
            .field("symlink_order", &self.symlink_order)
            .field("id_names", &self.id_names.is_some())
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Whether the allow and deny lists and read-only mode let `kind` through.
    ///
    /// In the order of OpenSSH's `request_permitted`: read-only refuses writes, then the deny
    /// list refuses, then an allow list refuses what it does not name.
    pub fn permits(&self, kind: RequestKind) -> bool {
        if self.read_only && kind.writes() {
            return false;
        }
        if self.denied.contains(&kind) {
            return false;
        }
        match &self.allowed {
            Some(allowed) => allowed.contains(&kind),
            None => true,
        }
    }

    /// The home directory: [`ServerConfig::home`], else the start directory.
    pub fn home_dir(&self) -> &[u8] {
        self.home.as_deref().unwrap_or(&self.start_dir)
    }

    /// Parses a comma-separated list of request names as OpenSSH's `-p` and `-P` take it.
    ///
    /// Unlike OpenSSH, which ignores a name it does not know, an unknown name is an error: a
    /// misspelt entry of a deny list would otherwise deny nothing.
    pub fn parse_request_list(list: &str) -> Result<Vec<RequestKind>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                RequestKind::from_name(n).ok_or_else(|| {
                    let known: Vec<&str> = RequestKind::ALL.iter().map(|k| k.name()).collect();
                    format!(
                        "unknown SFTP request name {n:?} (known: {})",
                        known.join(", ")
                    )
                })
            })
            .collect()
    }
}
