//! The `Filesystem` trait: what an SFTP server serves.
//!
//! A backend implements [`Filesystem`] (paths), [`File`] (an open file) and [`Dir`] (an open
//! directory listing). Every method returns a boxed future ([`FsFuture`]), so the traits are
//! object-safe (`Arc<dyn Filesystem>`) and tied to no runtime: the in-memory backend's futures
//! are ready at once, a local-disk backend runs its system calls on a blocking thread pool.
//!
//! # Paths
//!
//! Paths are bytes, as on the wire (SFTP v3 says nothing of their encoding; OpenSSH passes
//! them to the OS unchanged). The server hands a backend *absolute* paths of its own virtual
//! tree: they start with `/`, which is the backend's root, and are not normalized (they may
//! hold `.`, `..`, repeated slashes and symbolic links). Resolving them is the backend's job,
//! and a jailed backend must make sure that no path, however it is spelled and whatever
//! links it crosses, leads outside its root. A path that would leave the root fails exactly as
//! a path that does not exist ([`FsError::not_found`]), so that nothing outside can be probed.
//!
//! # Optional capabilities
//!
//! Methods with a default body are optional: the default answers
//! [`StatusCode::OP_UNSUPPORTED`]. A backend that keeps a default says so in
//! [`Filesystem::supports`], and the server then does not advertise the matching extension.

use core::fmt;
use core::future::Future;
use core::pin::Pin;

use crate::attrs::Attrs;
use crate::block::{Block, Room};
use crate::extensions::StatvfsReply;
use crate::types::{OpenFlags, StatusCode};

/// The future every backend method returns.
pub type FsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, FsError>> + Send + 'a>>;

/// Wraps a ready result as an [`FsFuture`] (for backends whose work is synchronous).
pub fn ready<'a, T: Send + 'a>(result: Result<T, FsError>) -> FsFuture<'a, T> {
    Box::pin(core::future::ready(result))
}

/// Why a backend operation failed: the status code the client will see, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsError {
    /// The `SSH_FX_*` code of the reply.
    pub code: StatusCode,
    /// Text for the STATUS message (empty for the code's standard text).
    pub message: String,
}

impl FsError {
    /// An error with `code` and `message`.
    pub fn new(code: StatusCode, message: impl Into<String>) -> Self {
        FsError {
            code,
            message: message.into(),
        }
    }

    /// `SSH_FX_NO_SUCH_FILE`: the path does not exist, or leads outside the root.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NO_SUCH_FILE, "No such file")
    }

    /// `SSH_FX_PERMISSION_DENIED`.
    pub fn permission_denied() -> Self {
        Self::new(StatusCode::PERMISSION_DENIED, "Permission denied")
    }

    /// `SSH_FX_FAILURE` with a message.
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FAILURE, message)
    }

    /// `SSH_FX_OP_UNSUPPORTED`.
    pub fn unsupported() -> Self {
        Self::new(StatusCode::OP_UNSUPPORTED, "Operation unsupported")
    }

    /// Maps an OS error as OpenSSH's sftp-server does (`errno_to_portable`): not found,
    /// permission denied, and everything else a failure with the OS's text.
    pub fn from_io(e: &std::io::Error) -> Self {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::NotFound => Self::not_found(),
            ErrorKind::PermissionDenied => Self::permission_denied(),
            _ => Self::failure(e.to_string()),
        }
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for FsError {}

impl From<std::io::Error> for FsError {
    fn from(e: std::io::Error) -> Self {
        Self::from_io(&e)
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name (one path component, no `/`).
    pub name: Vec<u8>,
    /// Its attributes, as `lstat` gives them (a link is a link).
    pub attrs: Attrs,
    /// The owner's and group's names, when the backend knows them, for the `ls -l` line.
    pub owner_names: Option<(String, String)>,
}

/// An optional request of a backend: one whose method has a default body.
///
/// [`Filesystem::supports`] tells the server which of them a backend implements, so that it
/// advertises only those extensions in `SSH_FXP_VERSION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// [`Filesystem::posix_rename`] (`posix-rename@openssh.com`).
    PosixRename,
    /// [`Filesystem::statvfs`] and [`File::statvfs`] (`statvfs@openssh.com`,
    /// `fstatvfs@openssh.com`).
    Statvfs,
    /// [`Filesystem::hardlink`] (`hardlink@openssh.com`).
    Hardlink,
    /// [`File::sync`] (`fsync@openssh.com`).
    Fsync,
    /// [`Filesystem::lsetstat`] (`lsetstat@openssh.com`).
    Lsetstat,
}

/// A tree of files that an SFTP server serves.
///
/// See the [module documentation](self) for paths and optional capabilities.
pub trait Filesystem: Send + Sync + 'static {
    /// Opens (and with `CREAT` creates, with `mode` from `attrs` when given) a file
    /// (`SSH_FXP_OPEN`, filexfer-02 §6.3). `flags` hold READ, WRITE, APPEND, CREAT, TRUNC and
    /// EXCL with their POSIX meanings.
    fn open<'a>(
        &'a self,
        path: &'a [u8],
        flags: OpenFlags,
        attrs: &'a Attrs,
    ) -> FsFuture<'a, Box<dyn File>>;

    /// Opens a directory for listing (`SSH_FXP_OPENDIR`).
    fn opendir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Box<dyn Dir>>;

    /// Attributes, following symbolic links (`SSH_FXP_STAT`).
    fn stat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs>;

    /// Attributes of the path itself, not following a final symbolic link (`SSH_FXP_LSTAT`).
    fn lstat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs>;

    /// Changes size, owner, permissions and times, following links (`SSH_FXP_SETSTAT`).
    fn setstat<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()>;

    /// As `setstat` without following a final link (`lsetstat@openssh.com`).
    fn lsetstat<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        let _ = (path, attrs);
        ready(Err(FsError::unsupported()))
    }

    /// Removes a file or link (`SSH_FXP_REMOVE`).
    fn remove<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()>;

    /// Creates a directory with the permissions in `attrs`, if any (`SSH_FXP_MKDIR`).
    fn mkdir<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()>;

    /// Removes an empty directory (`SSH_FXP_RMDIR`).
    fn rmdir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()>;

    /// The canonical absolute path, inside the root, with links and `..` resolved
    /// (`SSH_FXP_REALPATH`). OpenSSH's server resolves paths whose last component does not
    /// exist too; a backend should do the same.
    fn realpath<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>>;

    /// Renames, failing if `to` exists (`SSH_FXP_RENAME`, filexfer-02 §6.5).
    fn rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()>;

    /// Renames, replacing `to` atomically if it exists (`posix-rename@openssh.com`).
    fn posix_rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        let _ = (from, to);
        ready(Err(FsError::unsupported()))
    }

    /// The target of a symbolic link, as stored (`SSH_FXP_READLINK`).
    fn readlink<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>>;

    /// Creates a symbolic link at `link` pointing to `target` (`SSH_FXP_SYMLINK`; the
    /// argument order is the codec's business). A jailed backend stores the target as given
    /// and resolves it inside the jail whenever the link is followed.
    fn symlink<'a>(&'a self, link: &'a [u8], target: &'a [u8]) -> FsFuture<'a, ()>;

    /// Creates a hard link `new` to the existing `old` (`hardlink@openssh.com`).
    fn hardlink<'a>(&'a self, old: &'a [u8], new: &'a [u8]) -> FsFuture<'a, ()> {
        let _ = (old, new);
        ready(Err(FsError::unsupported()))
    }

    /// File system statistics for the file system holding `path` (`statvfs@openssh.com`).
    fn statvfs<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, StatvfsReply> {
        let _ = path;
        ready(Err(FsError::unsupported()))
    }

    /// Whether this backend implements an optional request, so that the server advertises it.
    ///
    /// The default says yes to everything: a backend that keeps the default body of an
    /// optional method should answer `false` for it here, or clients will be offered an
    /// extension that then answers `SSH_FX_OP_UNSUPPORTED`.
    fn supports(&self, capability: Capability) -> bool {
        let _ = capability;
        true
    }
}

/// An open file. Reads and writes are positional, so that many may be in flight at once.
pub trait File: Send + Sync {
    /// Up to `len` bytes from `offset`; fewer only at the end of the file, none at or past
    /// it (the server then answers EOF).
    fn read_at(&self, offset: u64, len: u32) -> FsFuture<'_, Vec<u8>>;

    /// As [`File::read_at`], into a [`Block`] that keeps `room` around the data if it can, so
    /// that the server can send the buffer as the packet (see [`crate::block`]).
    ///
    /// The default reads with `read_at` and keeps no room; the bytes are then copied on
    /// their way out, as they always were. A backend that reads into memory of its own
    /// (`pread`) overrides it to read into [`Block::with_room`]'s buffer.
    fn read_block(&self, offset: u64, len: u32, room: Room) -> FsFuture<'_, Block> {
        let _ = room;
        let read = self.read_at(offset, len);
        Box::pin(async move { read.await.map(Block::from) })
    }

    /// Writes all of `data` at `offset` (ignored for a file opened with APPEND, whose writes
    /// go to its end).
    fn write_at(&self, offset: u64, data: Vec<u8>) -> FsFuture<'_, ()>;

    /// As [`File::write_at`], for data that may sit after room in its buffer (a `WRITE`
    /// taken whole from the packet it arrived in).
    ///
    /// The default hands `write_at` the data as a vector of its own, which copies it when
    /// there is room in front; a backend that writes from a slice (`pwrite`) overrides it.
    fn write_block(&self, offset: u64, data: Block) -> FsFuture<'_, ()> {
        self.write_at(offset, data.into_vec())
    }

    /// The file's attributes (`SSH_FXP_FSTAT`).
    fn stat(&self) -> FsFuture<'_, Attrs>;

    /// Changes the file's attributes (`SSH_FXP_FSETSTAT`).
    fn setstat<'a>(&'a self, attrs: &'a Attrs) -> FsFuture<'a, ()>;

    /// Flushes the file to stable storage (`fsync@openssh.com`).
    fn sync(&self) -> FsFuture<'_, ()> {
        ready(Err(FsError::unsupported()))
    }

    /// File system statistics (`fstatvfs@openssh.com`).
    fn statvfs(&self) -> FsFuture<'_, StatvfsReply> {
        ready(Err(FsError::unsupported()))
    }

    /// Closes the file, reporting a failure of the final write-back (`SSH_FXP_CLOSE`).
    /// Dropping the file without calling it closes it too, silently.
    fn close(self: Box<Self>) -> FsFuture<'static, ()> {
        ready(Ok(()))
    }
}

/// An open directory listing.
pub trait Dir: Send {
    /// The next entries, at most `max` of them; none once the listing is complete (the server
    /// then answers EOF). `.` and `..` are included, as OpenSSH's server lists them.
    fn next_entries(&mut self, max: usize) -> FsFuture<'_, Vec<DirEntry>>;
}
