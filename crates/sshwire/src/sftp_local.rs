//! [`LocalFs`]: a local directory served over SFTP, jailed to it as by a chroot.
//!
//! # The jail
//!
//! The backend holds an open handle (a [`cap_std::fs::Dir`]) to its root directory and never
//! hands the operating system a path of more than one component: it resolves every path
//! itself, one name at a time, each relative to a directory handle it already holds.
//!
//! - `..` is never given to the system. The resolver keeps the canonical names from the root
//!   to the current directory and drops the last one; `..` of the root is the root. It then
//!   reopens the parent by walking those names down from the root handle again.
//! - Every intermediate directory is opened with `O_NOFOLLOW | O_DIRECTORY`, which succeeds
//!   only for a directory that is not a link; when it fails, an `lstat` of the name says why.
//!   A symbolic link met on the way is read (`readlinkat`) and its target spliced into the
//!   rest of the path: a relative target continues from the link's directory, an absolute
//!   one from the root, as it would inside a chroot. More than [`MAX_SYMLINK_HOPS`] links in one resolution fail as not-found
//!   (OpenSSH reports `ELOOP` so).
//! - The last component is acted on with a `*at` system call on the parent's handle that
//!   does not follow links (`O_NOFOLLOW` opens, `AT_SYMLINK_NOFOLLOW`, `unlinkat`,
//!   `renameat`, `linkat` without `AT_SYMLINK_FOLLOW`, ...). An operation that follows links
//!   (stat, open, setstat, opendir, realpath, statvfs) follows them in the resolver first.
//!   Changing permissions is the one operation Linux cannot do without following a link
//!   (`fchmodat` has no working `AT_SYMLINK_NOFOLLOW`); it goes through cap-std's
//!   `set_permissions`, which follows links only within the directory handle it is given.
//! - Every call goes through cap-std, or through rustix on a handle cap-std opened, with a
//!   single name that is never empty, `.` or `..`, and never contains `/`. On top of the
//!   resolver's own rules, cap-std refuses any access that would leave the handle it is
//!   called on.
//!
//! Only regular files are opened (`OPEN`, and `SETSTAT` with a size): the open does not block
//! (`O_NONBLOCK`), and a directory, FIFO, socket or device found there is refused, so that
//! nothing someone else put inside the root can hold a thread forever. A backend made
//! [`with_devices`](LocalFs::with_devices) also opens character devices (`/dev/null`,
//! `/dev/zero`, ...) with `OPEN`, still without blocking, as OpenSSH's sftp-server does.
//!
//! What this guarantees: no request, however its path is spelled and whatever links it
//! crosses, reads, writes, creates, removes or even looks up a name outside the root. A path
//! that would lead out resolves inside instead (`/../etc/passwd` is the root's own
//! `etc/passwd`), so its error, if any, is the one that inside path gives: a probe learns
//! nothing about the outside. Races do not change this. A directory swapped for a link is
//! never followed by an open (`O_NOFOLLOW`), whenever the swap happens: links are followed
//! only by the resolver, from what `readlinkat` returned; a name swapped under a final `*at`
//! call is acted on without following it, so the worst a race does is act on another name
//! inside the root.
//!
//! What it does not cover:
//!
//! - An existing hard link inside the root to a file outside it is just a file of the root:
//!   it can be read and written. Hard links cannot point at directories, so nothing beyond
//!   that file is reachable through one. New hard links can only be made between names that
//!   resolve inside the root.
//! - Mount points inside the root are followed, as a chroot follows them.
//! - A process outside the server that moves a directory from inside the root to outside
//!   while a request has it open lets that one request continue out there. Only someone with
//!   write access to both places can do that.
//! - Owner and group of created files are the server process's; permission checks are the
//!   operating system's, for the server's user.
//!
//! # Blocking
//!
//! File system calls block, and a runtime's worker threads must not all be blocked: a call
//! runs on the worker that polls it only while fewer than all but one of a multi-threaded
//! runtime's workers are inside such a call, so at least one worker is always free for the
//! network, the ciphers and every other session; otherwise (and always on a current-thread
//! runtime) it runs on tokio's blocking thread pool (`spawn_blocking`). Running it in place
//! saves the two thread hand-offs of the pool, which dominate small requests: on this
//! project's 2-core machine OpenSSH's sftp fetched 2,000 files of 4 KiB about 15% faster and
//! the sshwire pair's 1 GiB uploads ran about 20% faster (see `docs/performance.md`). A call
//! that hangs (a dead network mount) holds one worker, and every later call goes to the pool.
//!
//! The futures must be polled within a tokio runtime; outside of one they fail with
//! `SSH_FX_FAILURE`. A future dropped before it completes does not cancel the system call it
//! started on the pool.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{FileTimes, Permissions};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileExt, FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt, MetadataExt, OpenOptions, OpenOptionsExt};
use rustix::fs::{AtFlags, Gid, OFlags, StatVfs, StatVfsMountFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;
use sshwire_sftp::fs::{self as sftp_fs, DirEntry, FsError, FsFuture};
use sshwire_sftp::server::IdNames;
use sshwire_sftp::{Attrs, Block, OpenFlags, Owner, Room, StatusCode, StatvfsReply, Times};

/// Symbolic links one path resolution may follow before it fails (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// The longest path accepted, in bytes (Linux's `PATH_MAX`, the limit OpenSSH's server
/// meets when it hands a path to the system).
pub const MAX_PATH_LEN: usize = 4096;

/// Names one resolution may look up, counting the walks back down after `..`: a bound on
/// the work one request can cause, far above what any real path needs.
const MAX_LOOKUPS: usize = 1 << 16;

/// Bytes a read allocates before it knows the file has that many.
const READ_CHUNK: usize = 256 * 1024;

/// A local directory served over SFTP, jailed to it; clones share the root handle.
///
/// See the [module documentation](self) for the jail and its guarantees.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use std::sync::Arc;
/// use sshwire::sftp_local::LocalFs;
/// use sshwire_sftp::fs::Filesystem;
///
/// let fs: Arc<dyn Filesystem> = Arc::new(LocalFs::new("/srv/sftp/alice")?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LocalFs {
    root: Arc<Dir>,
    names: Option<Arc<OnceLock<OwnerNames>>>,
    devices: Devices,
}

impl LocalFs {
    /// Serves the directory at `root` (opened now, with the process's ambient authority).
    pub fn new(root: impl AsRef<Path>) -> io::Result<LocalFs> {
        let dir = Dir::open_ambient_dir(root, ambient_authority())?;
        Ok(LocalFs::from_dir(dir))
    }

    /// Serves an already open directory.
    pub fn from_dir(root: Dir) -> LocalFs {
        LocalFs {
            root: Arc::new(root),
            names: Some(Arc::new(OnceLock::new())),
            devices: Devices::Refused,
        }
    }

    /// Whether `OPEN` also opens character devices, such as `/dev/null` (off by default:
    /// regular files only).
    ///
    /// OpenSSH's sftp-server opens whatever its user may open, and `put big /dev/null` is a
    /// common way to time a transfer without a disk. Opening some devices does something
    /// (a tape rewinds when closed, a watchdog starts counting), so a server whose root
    /// holds devices its users should not touch leaves this off. The open stays
    /// non-blocking, so a terminal with nothing to read fails a read instead of holding a
    /// thread. FIFOs, sockets and block devices stay refused.
    pub fn with_devices(mut self, enabled: bool) -> LocalFs {
        self.devices = if enabled {
            Devices::Allowed
        } else {
            Devices::Refused
        };
        self
    }

    /// Whether listings name owners and groups from `/etc/passwd` and `/etc/group` (the
    /// default; the files are read once, at the first listing) or leave them out.
    pub fn with_owner_names(mut self, enabled: bool) -> LocalFs {
        self.names = enabled.then(|| Arc::new(OnceLock::new()));
        self
    }

    /// Runs `f` with the root on the blocking pool.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Dir) -> Result<T, FsError> + Send + 'static,
    ) -> FsFuture<'static, T> {
        let root = Arc::clone(&self.root);
        blocking(move || f(&root))
    }
}

/// Runs `f` in place when a worker may block (see [`InPlace`]), else on tokio's blocking pool.
fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FsError> + Send + 'static,
) -> FsFuture<'static, T> {
    Box::pin(async move {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| FsError::failure("LocalFs needs a tokio runtime"))?;
        if let Some(_turn) = InPlace::take(&runtime) {
            return f();
        }
        runtime
            .spawn_blocking(f)
            .await
            .map_err(|_| FsError::failure("file system task failed"))?
    })
}

/// Worker threads inside a file system call now, across every [`LocalFs`] of the process.
static IN_PLACE: AtomicUsize = AtomicUsize::new(0);

/// A runtime worker's turn to make a file system call itself; the turn ends when dropped.
struct InPlace {
    taken: &'static AtomicUsize,
}

impl InPlace {
    /// A turn, if fewer than all but one of `runtime`'s workers have one (none on a
    /// current-thread runtime, whose one thread runs everything).
    fn take(runtime: &tokio::runtime::Handle) -> Option<InPlace> {
        InPlace::take_counted(runtime, &IN_PLACE)
    }

    /// [`InPlace::take`], counting the turns in `taken`.
    fn take_counted(
        runtime: &tokio::runtime::Handle,
        taken: &'static AtomicUsize,
    ) -> Option<InPlace> {
        if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return None;
        }
        let most = runtime.metrics().num_workers().saturating_sub(1);
        taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < most).then_some(n + 1)
            })
            .ok()
            .map(|_| InPlace { taken })
    }
}

impl Drop for InPlace {
    fn drop(&mut self) {
        self.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Maps a system error as OpenSSH's `errno_to_portable` does.
///
/// Every flavour of "not there" (`ENOENT`, `ENOTDIR`, `ELOOP`, `EBADF`) becomes the same
/// [`FsError::not_found`], message included.
fn fs_error(e: &io::Error) -> FsError {
    let text = || {
        let s = e.to_string();
        match s.find(" (os error ") {
            Some(i) => s.get(..i).unwrap_or(&s).to_owned(),
            None => s,
        }
    };
    match Errno::from_io_error(e) {
        Some(Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::BADF) => FsError::not_found(),
        Some(Errno::PERM | Errno::ACCESS | Errno::FAULT) => FsError::permission_denied(),
        Some(Errno::NAMETOOLONG | Errno::INVAL) => FsError::new(StatusCode::BAD_MESSAGE, text()),
        Some(Errno::NOSYS) => FsError::unsupported(),
        Some(_) => FsError::failure(text()),
        None => match e.kind() {
            io::ErrorKind::NotFound => FsError::not_found(),
            // cap-std's refusal of an escape carries no errno. The resolver never asks for
            // one, but should it, the answer must read like any other missing name.
            io::ErrorKind::PermissionDenied => FsError::not_found(),
            io::ErrorKind::InvalidInput => FsError::new(StatusCode::BAD_MESSAGE, text()),
            _ => FsError::failure(text()),
        },
    }
}

/// `?`-friendly [`fs_error`].
trait OrFs<T> {
    fn or_fs(self) -> Result<T, FsError>;
}

impl<T> OrFs<T> for io::Result<T> {
    fn or_fs(self) -> Result<T, FsError> {
        self.map_err(|e| fs_error(&e))
    }
}

impl<T> OrFs<T> for Result<T, Errno> {
    fn or_fs(self) -> Result<T, FsError> {
        self.map_err(|e| fs_error(&e.into()))
    }
}

fn errno(e: Errno) -> FsError {
    fs_error(&e.into())
}

/// A component as the system wants it.
fn os(name: &[u8]) -> &OsStr {
    OsStr::from_bytes(name)
}

/// Splits a path into components, last first (so that `pop` yields them in order).
fn components_reversed(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(<[u8]>::to_vec)
        .collect()
}

/// Where a path led: a name in a directory, or the root itself.
#[derive(Debug)]
struct Target {
    /// The directory holding `name` (the root, for the root itself).
    parent: Dir,
    /// The last component, never empty, `.` or `..`; `None` for the root.
    name: Option<Vec<u8>>,
    /// The canonical components from the root to the parent.
    parent_path: Vec<Vec<u8>>,
}

impl Target {
    /// The name to give `*at` calls: the last component, or `.` for the root.
    fn name(&self) -> &OsStr {
        os(self.name.as_deref().unwrap_or(b"."))
    }

    /// The last component, or `err` for the root (which cannot be removed, renamed, ...).
    fn entry(&self, err: Errno) -> Result<&OsStr, FsError> {
        self.name.as_deref().map(os).ok_or_else(|| errno(err))
    }

    /// The canonical absolute virtual path.
    fn path(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for c in self.parent_path.iter().chain(self.name.as_ref()) {
            out.push(b'/');
            out.extend_from_slice(c);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        out
    }

    /// `lstat` of the target.
    fn metadata(&self) -> Result<cap_std::fs::Metadata, FsError> {
        match &self.name {
            Some(name) => self.parent.symlink_metadata(os(name)).or_fs(),
            None => self.parent.dir_metadata().or_fs(),
        }
    }

    /// Opens the target, which must be a directory.
    fn open_dir(&self) -> Result<Dir, FsError> {
        match &self.name {
            Some(name) => self.parent.open_dir_nofollow(os(name)).or_fs(),
            None => self.parent.try_clone().or_fs(),
        }
    }
}

/// The state of one resolution: where it is, and how much work it has done.
struct Walker<'r> {
    root: &'r Dir,
    /// Canonical names from the root to the current directory.
    names: Vec<Vec<u8>>,
    /// The current directory, or `None` when it must be reopened from the root.
    current: Option<Dir>,
    lookups: usize,
}

impl Walker<'_> {
    fn count(&mut self, n: usize) -> Result<(), FsError> {
        self.lookups = self.lookups.saturating_add(n);
        if self.lookups > MAX_LOOKUPS {
            return Err(FsError::failure("Path too complex"));
        }
        Ok(())
    }

    /// Opens the directory that `names` spell, from the root, never following a link.
    fn reopen(&mut self) -> Result<Dir, FsError> {
        self.count(self.names.len())?;
        let mut dir = self.root.try_clone().or_fs()?;
        for name in &self.names {
            dir = dir.open_dir_nofollow(os(name)).or_fs()?;
        }
        Ok(dir)
    }

    /// The current directory.
    fn current(&mut self) -> Result<&Dir, FsError> {
        let dir = match self.current.take() {
            Some(dir) => dir,
            None => self.reopen()?,
        };
        Ok(self.current.insert(dir))
    }

    /// The current directory, by value.
    fn take_current(&mut self) -> Result<Dir, FsError> {
        match self.current.take() {
            Some(dir) => Ok(dir),
            None => self.reopen(),
        }
    }
}

/// Resolves `path` inside `root` as a chroot would: every link on the way is followed, the
/// last component only if `follow_last`. A last component that does not exist is not an
/// error (the caller's system call will say what it means); a missing directory on the way
/// is. See the module documentation for how this stays inside `root`.
fn resolve(root: &Dir, path: &[u8], follow_last: bool) -> Result<Target, FsError> {
    if path.len() > MAX_PATH_LEN {
        return Err(errno(Errno::NAMETOOLONG));
    }
    let mut pending = components_reversed(path);
    let mut walk = Walker {
        root,
        names: Vec::new(),
        current: None,
        lookups: 0,
    };
    let mut hops = 0;
    while let Some(component) = pending.pop() {
        let last = pending.is_empty();
        match component.as_slice() {
            b"." => continue,
            b".." => {
                // POSIX.1-2024 §4.16: "As a special case, in the root directory, dot-dot may
                // refer to the root directory itself." In the jail it always does.
                if walk.names.pop().is_some() {
                    walk.current = None;
                }
                continue;
            }
            _ => {}
        }
        walk.count(1)?;
        if last && !follow_last {
            return Ok(Target {
                parent: walk.take_current()?,
                name: Some(component),
                parent_path: walk.names,
            });
        }
        if !last {
            // Most components on the way are plain directories: opening one without
            // following a link (O_NOFOLLOW | O_DIRECTORY) succeeds for exactly those, in one
            // call. A link (or anything else) fails it, and is looked at below. From the
            // root itself, no copy of its handle is needed.
            let opened = if walk.current.is_none() && walk.names.is_empty() {
                walk.root.open_dir_nofollow(os(&component))
            } else {
                walk.current()?.open_dir_nofollow(os(&component))
            };
            if let Ok(next) = opened {
                walk.current = Some(next);
                walk.names.push(component);
                continue;
            }
        }
        let dir = walk.current()?;
        let metadata = match dir.symlink_metadata(os(&component)) {
            Ok(m) => m,
            Err(e) if last && e.kind() == io::ErrorKind::NotFound => {
                return Ok(Target {
                    parent: walk.take_current()?,
                    name: Some(component),
                    parent_path: walk.names,
                });
            }
            Err(e) => return Err(fs_error(&e)),
        };
        let file_type = metadata.file_type();
        if file_type.is_symlink() {
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(errno(Errno::LOOP));
            }
            let target = dir.read_link_contents(os(&component)).or_fs()?;
            let target = target.into_os_string().into_vec();
            if target.is_empty() {
                return Err(errno(Errno::NOENT));
            }
            if target.starts_with(b"/") {
                // An absolute target starts again from the root of the jail.
                walk.names.clear();
                walk.current = None;
            }
            pending.extend(components_reversed(&target));
        } else if !last {
            if !file_type.is_dir() {
                return Err(errno(Errno::NOTDIR));
            }
            let next = dir.open_dir_nofollow(os(&component)).or_fs()?;
            walk.current = Some(next);
            walk.names.push(component);
        } else {
            return Ok(Target {
                parent: walk.take_current()?,
                name: Some(component),
                parent_path: walk.names,
            });
        }
    }
    // The path ended on a directory: the root, or one reached by `.`, `..` or a link.
    match walk.names.pop() {
        Some(name) => {
            walk.current = None;
            Ok(Target {
                parent: walk.take_current()?,
                name: Some(name),
                parent_path: walk.names,
            })
        }
        None => Ok(Target {
            parent: root.try_clone().or_fs()?,
            name: None,
            parent_path: Vec::new(),
        }),
    }
}

/// Seconds since the epoch as SFTP v3 carries them: clamped to `uint32`.
fn secs(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

/// `ATTRS` from `lstat`/`fstat` fields: everything SFTP v3 has, the file type included.
fn attrs_of(size: u64, mode: u32, uid: u32, gid: u32, atime: i64, mtime: i64) -> Attrs {
    Attrs {
        size: Some(size),
        owner: Some(Owner { uid, gid }),
        permissions: Some(mode),
        times: Some(Times {
            atime: secs(atime),
            mtime: secs(mtime),
        }),
        extended: Vec::new(),
    }
}

fn cap_attrs(m: &cap_std::fs::Metadata) -> Attrs {
    attrs_of(m.size(), m.mode(), m.uid(), m.gid(), m.atime(), m.mtime())
}

fn std_attrs(m: &std::fs::Metadata) -> Attrs {
    use std::os::unix::fs::MetadataExt as StdMetadataExt;
    attrs_of(
        StdMetadataExt::size(m),
        StdMetadataExt::mode(m),
        StdMetadataExt::uid(m),
        StdMetadataExt::gid(m),
        StdMetadataExt::atime(m),
        StdMetadataExt::mtime(m),
    )
}

fn timestamp(secs: u32) -> Timespec {
    Timespec {
        tv_sec: i64::from(secs),
        tv_nsec: 0,
    }
}

fn system_time(secs: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(secs))
}

/// A uid or gid for `chown`: `u32::MAX` is chown's "leave unchanged", as `None`.
fn owner_ids(owner: Owner) -> (Option<Uid>, Option<Gid>) {
    let uid = (owner.uid != u32::MAX).then(|| Uid::from_raw(owner.uid));
    let gid = (owner.gid != u32::MAX).then(|| Gid::from_raw(owner.gid));
    (uid, gid)
}

/// What [`open_file`] hands back besides regular files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Devices {
    /// Regular files only.
    Refused,
    /// Character devices too ([`LocalFs::with_devices`]).
    Allowed,
}

/// Opens `name` in `parent` with `options`, never following a final link, and hands back
/// only a regular file (or a character device, if `devices` allows them).
///
/// The open is non-blocking, so that a FIFO without a writer (or a device) put inside the
/// root by someone else cannot hold a blocking thread forever; anything else is then
/// refused (a directory with "Is a directory"). `O_NONBLOCK` changes nothing for a regular
/// file, and leaves a character device's reads and writes failing rather than waiting.
fn open_file(
    parent: &Dir,
    name: &OsStr,
    options: &mut OpenOptions,
    devices: Devices,
) -> Result<std::fs::File, FsError> {
    options
        .follow(FollowSymlinks::No)
        .custom_flags(OFlags::NONBLOCK.bits() as i32);
    let file = parent.open_with(name, options).or_fs()?.into_std();
    let kind = file.metadata().or_fs()?.file_type();
    if kind.is_dir() {
        return Err(errno(Errno::ISDIR));
    }
    let device = devices == Devices::Allowed && kind.is_char_device();
    if !kind.is_file() && !device {
        return Err(FsError::failure("Not a regular file"));
    }
    Ok(file)
}

/// Which way a path setstat treats a final link.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Follow {
    Yes,
    No,
}

/// `SETSTAT` and `lsetstat@openssh.com`, in OpenSSH's order: size, permissions, times, owner.
fn set_attrs(root: &Dir, path: &[u8], attrs: &Attrs, follow: Follow) -> Result<(), FsError> {
    let target = resolve(root, path, follow == Follow::Yes)?;
    let name = target.name();
    if let Some(size) = attrs.size {
        let file = open_file(
            &target.parent,
            name,
            OpenOptions::new().write(true),
            Devices::Refused,
        )?;
        file.set_len(size).or_fs()?;
    }
    if let Some(mode) = attrs.permissions {
        let permissions = Permissions::from_mode(mode & 0o7777);
        let permissions = cap_std::fs::Permissions::from_std(permissions);
        match follow {
            // The resolver has followed any link already; this follows one only if the
            // name was swapped since, and then only inside the parent's handle.
            Follow::Yes => target.parent.set_permissions(name, permissions),
            Follow::No => target.parent.set_symlink_permissions(name, permissions),
        }
        .or_fs()?;
    }
    if let Some(times) = attrs.times {
        let stamps = Timestamps {
            last_access: timestamp(times.atime),
            last_modification: timestamp(times.mtime),
        };
        rustix::fs::utimensat(&target.parent, name, &stamps, AtFlags::SYMLINK_NOFOLLOW).or_fs()?;
    }
    if let Some(owner) = attrs.owner {
        let (uid, gid) = owner_ids(owner);
        rustix::fs::chownat(&target.parent, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW).or_fs()?;
    }
    Ok(())
}

fn statvfs_reply(s: &StatVfs) -> StatvfsReply {
    let mut flag = 0;
    if s.f_flag.contains(StatVfsMountFlags::RDONLY) {
        flag |= StatvfsReply::RDONLY;
    }
    if s.f_flag.contains(StatVfsMountFlags::NOSUID) {
        flag |= StatvfsReply::NOSUID;
    }
    StatvfsReply {
        bsize: s.f_bsize,
        frsize: s.f_frsize,
        blocks: s.f_blocks,
        bfree: s.f_bfree,
        bavail: s.f_bavail,
        files: s.f_files,
        ffree: s.f_ffree,
        favail: s.f_favail,
        fsid: s.f_fsid,
        flag,
        namemax: s.f_namemax,
    }
}

/// POSIX `rename` without replacing: `renameat2(RENAME_NOREPLACE)` where the kernel and file
/// system have it, and otherwise OpenSSH's fallback, a check then a rename (racy, but only
/// between names inside the root).
fn rename_noreplace(
    from: &Target,
    from_name: &OsStr,
    to: &Target,
    to_name: &OsStr,
) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::RenameFlags;
        match rustix::fs::renameat_with(
            &from.parent,
            from_name,
            &to.parent,
            to_name,
            RenameFlags::NOREPLACE,
        ) {
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {}
            result => return result.map_err(io::Error::from),
        }
    }
    match to.parent.symlink_metadata(to_name) {
        Ok(_) => Err(Errno::EXIST.into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            from.parent.rename(from_name, &to.parent, to_name)
        }
        Err(e) => Err(e),
    }
}

impl sftp_fs::Filesystem for LocalFs {
    fn open<'a>(
        &'a self,
        path: &'a [u8],
        flags: OpenFlags,
        attrs: &'a Attrs,
    ) -> FsFuture<'a, Box<dyn sftp_fs::File>> {
        let path = path.to_vec();
        let mode = attrs.permissions.map_or(0o666, |p| p & 0o7777);
        let devices = self.devices;
        self.run(move |root| {
            let create = flags.contains(OpenFlags::CREAT);
            let exclusive = create && flags.contains(OpenFlags::EXCL);
            let append = flags.contains(OpenFlags::APPEND);
            let write = flags.contains(OpenFlags::WRITE) || append;
            // POSIX open(): "If O_EXCL and O_CREAT are set, and path names a symbolic link,
            // open() shall fail with [EEXIST], regardless of the contents of the symbolic
            // link." So an exclusive create does not follow a final link.
            let target = resolve(root, &path, !exclusive)?;
            let name = target.entry(Errno::ISDIR)?;
            let mut options = OpenOptions::new();
            options
                .read(flags.contains(OpenFlags::READ) || !write)
                .write(write)
                .append(append)
                .truncate(flags.contains(OpenFlags::TRUNC))
                .create(create)
                .create_new(exclusive)
                .mode(mode);
            let file = open_file(&target.parent, name, &mut options, devices)?;
            Ok(Box::new(LocalFile {
                file: Arc::new(file),
                append,
            }) as Box<dyn sftp_fs::File>)
        })
    }

    fn opendir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Box<dyn sftp_fs::Dir>> {
        let path = path.to_vec();
        let names = self.names.clone();
        self.run(move |root| {
            let target = resolve(root, &path, true)?;
            let dir = target.open_dir()?;
            let dot = cap_attrs(&dir.dir_metadata().or_fs()?);
            // `..` of the root is the root itself.
            let dotdot = cap_attrs(&target.parent.dir_metadata().or_fs()?);
            let entries = dir.entries().or_fs()?;
            Ok(Box::new(LocalDir {
                state: Some(Listing {
                    head: vec![(b".".to_vec(), dot), (b"..".to_vec(), dotdot)],
                    entries,
                    names,
                }),
            }) as Box<dyn sftp_fs::Dir>)
        })
    }

    fn stat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        let path = path.to_vec();
        self.run(move |root| Ok(cap_attrs(&resolve(root, &path, true)?.metadata()?)))
    }

    fn lstat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        let path = path.to_vec();
        self.run(move |root| Ok(cap_attrs(&resolve(root, &path, false)?.metadata()?)))
    }

    fn setstat<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        let (path, attrs) = (path.to_vec(), attrs.clone());
        self.run(move |root| set_attrs(root, &path, &attrs, Follow::Yes))
    }

    fn lsetstat<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        // OpenSSH's lsetstat refuses a size, "nonsensical for links", before anything else.
        if attrs.size.is_some() {
            return sftp_fs::ready(Err(errno(Errno::INVAL)));
        }
        let (path, attrs) = (path.to_vec(), attrs.clone());
        self.run(move |root| set_attrs(root, &path, &attrs, Follow::No))
    }

    fn remove<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        let path = path.to_vec();
        self.run(move |root| {
            let target = resolve(root, &path, false)?;
            target
                .parent
                .remove_file(target.entry(Errno::ISDIR)?)
                .or_fs()
        })
    }

    fn mkdir<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        let path = path.to_vec();
        let mode = attrs.permissions.map_or(0o777, |p| p & 0o7777);
        self.run(move |root| {
            let target = resolve(root, &path, false)?;
            let mut builder = DirBuilder::new();
            builder.mode(mode);
            target
                .parent
                .create_dir_with(target.entry(Errno::EXIST)?, &builder)
                .or_fs()
        })
    }

    fn rmdir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        let path = path.to_vec();
        self.run(move |root| {
            let target = resolve(root, &path, false)?;
            target.parent.remove_dir(target.entry(Errno::BUSY)?).or_fs()
        })
    }

    fn realpath<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        let path = path.to_vec();
        self.run(move |root| Ok(resolve(root, &path, true)?.path()))
    }

    fn rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        let (from, to) = (from.to_vec(), to.to_vec());
        self.run(move |root| {
            let from = resolve(root, &from, false)?;
            let to = resolve(root, &to, false)?;
            // filexfer-02 §6.5: "It is an error if there already exists a file with the
            // name specified by newpath."
            rename_noreplace(
                &from,
                from.entry(Errno::BUSY)?,
                &to,
                to.entry(Errno::EXIST)?,
            )
            .or_fs()
        })
    }

    fn posix_rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        let (from, to) = (from.to_vec(), to.to_vec());
        self.run(move |root| {
            let from = resolve(root, &from, false)?;
            let to = resolve(root, &to, false)?;
            from.parent
                .rename(from.entry(Errno::BUSY)?, &to.parent, to.entry(Errno::BUSY)?)
                .or_fs()
        })
    }

    fn readlink<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        let path = path.to_vec();
        self.run(move |root| {
            let target = resolve(root, &path, false)?;
            let link = target
                .parent
                .read_link_contents(target.entry(Errno::INVAL)?)
                .or_fs()?;
            Ok(link.into_os_string().into_vec())
        })
    }

    fn symlink<'a>(&'a self, link: &'a [u8], target: &'a [u8]) -> FsFuture<'a, ()> {
        let (link, contents) = (link.to_vec(), OsString::from_vec(target.to_vec()));
        self.run(move |root| {
            let at = resolve(root, &link, false)?;
            // The target is stored as given; the resolver keeps it inside when followed.
            at.parent
                .symlink_contents(&contents, at.entry(Errno::EXIST)?)
                .or_fs()
        })
    }

    fn hardlink<'a>(&'a self, old: &'a [u8], new: &'a [u8]) -> FsFuture<'a, ()> {
        let (old, new) = (old.to_vec(), new.to_vec());
        self.run(move |root| {
            // link(2) on Linux does not follow a final link of `old`; neither does this.
            let old = resolve(root, &old, false)?;
            let new = resolve(root, &new, false)?;
            old.parent
                .hard_link(
                    old.entry(Errno::PERM)?,
                    &new.parent,
                    new.entry(Errno::EXIST)?,
                )
                .or_fs()
        })
    }

    fn statvfs<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, StatvfsReply> {
        let path = path.to_vec();
        self.run(move |root| {
            let target = resolve(root, &path, true)?;
            let stats = match target.open_dir() {
                Ok(dir) => rustix::fs::fstatvfs(&dir),
                // Not a directory: the file system holding its directory. (Only a directory
                // can be a mount point.)
                Err(_) => {
                    target.metadata()?;
                    rustix::fs::fstatvfs(&target.parent)
                }
            };
            Ok(statvfs_reply(&stats.or_fs()?))
        })
    }
}

/// An open file of a [`LocalFs`].
#[derive(Debug)]
struct LocalFile {
    file: Arc<std::fs::File>,
    /// Opened with `O_APPEND`: writes go to the end, whatever their offset.
    append: bool,
}

impl LocalFile {
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
    ) -> FsFuture<'static, T> {
        let file = Arc::clone(&self.file);
        blocking(move || f(&file).or_fs())
    }
}

/// Reads up to `len` bytes at `offset`, fewer only at the end of the file.
fn read_fully_at(file: &std::fs::File, offset: u64, len: u32) -> io::Result<Vec<u8>> {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let mut buf = sshwire_sftp::buffers::take(len.min(READ_CHUNK));
    pread_into(file, offset, &mut buf, 0, len)?;
    Ok(buf)
}

/// As [`read_fully_at`], into a block with `room` around the data (see
/// [`sftp_fs::File::read_block`]).
fn read_block_at(file: &std::fs::File, offset: u64, len: u32, room: Room) -> io::Result<Block> {
    let want = usize::try_from(len).unwrap_or(usize::MAX);
    // A block of up to READ_CHUNK (every READ the server lets through: 255 KiB at most)
    // fits whole, with `room.back` behind it; a larger one grows as `read_fully_at`'s does.
    let Some(mut block) = Block::with_room(room, want.min(READ_CHUNK)) else {
        return read_fully_at(file, offset, len).map(Block::from);
    };
    let front = block.front();
    pread_into(file, offset, block.buffer_mut(), front, want)?;
    Ok(block)
}

/// Reads from `offset` into `buf` after its first `base` bytes until `want` bytes are there
/// or the file ends.
///
/// The file's bytes go straight into spare capacity, never zeroed first; the buffer grows
/// with what the file gives, so a huge request on a short file allocates little. A read
/// may fill spare capacity past `want` (positional, it moves no file position): that is
/// cut off at the end.
pub(crate) fn pread_into(
    file: &std::fs::File,
    offset: u64,
    buf: &mut Vec<u8>,
    base: usize,
    want: usize,
) -> io::Result<()> {
    loop {
        let have = buf.len().saturating_sub(base);
        if have >= want {
            break;
        }
        if buf.len() == buf.capacity() {
            buf.reserve_exact(have.max(READ_CHUNK).min(want - have));
        }
        let at = offset.saturating_add(have as u64);
        match rustix::io::pread(file, rustix::buffer::spare_capacity(buf), at) {
            Ok(0) => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    buf.truncate(base.saturating_add(want));
    Ok(())
}

impl sftp_fs::File for LocalFile {
    fn read_at(&self, offset: u64, len: u32) -> FsFuture<'_, Vec<u8>> {
        self.run(move |file| read_fully_at(file, offset, len))
    }

    fn read_block(&self, offset: u64, len: u32, room: Room) -> FsFuture<'_, Block> {
        self.run(move |file| read_block_at(file, offset, len, room))
    }

    fn write_at(&self, offset: u64, data: Vec<u8>) -> FsFuture<'_, ()> {
        self.write_block(offset, data.into())
    }

    fn write_block(&self, offset: u64, data: Block) -> FsFuture<'_, ()> {
        let append = self.append;
        self.run(move |mut file| {
            let written = if append {
                // pwrite(2) on Linux appends for an O_APPEND file whatever the offset, but
                // POSIX leaves that open; a plain write is defined to go to the end.
                file.write_all(&data)
            } else {
                file.write_all_at(&data, offset)
            };
            // The buffer (perhaps the packet it arrived in) serves a later block.
            sshwire_sftp::buffers::give(data.into_parts().0);
            written
        })
    }

    fn stat(&self) -> FsFuture<'_, Attrs> {
        self.run(|file| Ok(std_attrs(&file.metadata()?)))
    }

    fn setstat<'a>(&'a self, attrs: &'a Attrs) -> FsFuture<'a, ()> {
        let attrs = attrs.clone();
        self.run(move |file| {
            if let Some(size) = attrs.size {
                file.set_len(size)?;
            }
            if let Some(mode) = attrs.permissions {
                file.set_permissions(Permissions::from_mode(mode & 0o7777))?;
            }
            if let Some(times) = attrs.times {
                let times = FileTimes::new()
                    .set_accessed(system_time(times.atime))
                    .set_modified(system_time(times.mtime));
                file.set_times(times)?;
            }
            if let Some(owner) = attrs.owner {
                let (uid, gid) = owner_ids(owner);
                rustix::fs::fchown(file, uid, gid)?;
            }
            Ok(())
        })
    }

    fn sync(&self) -> FsFuture<'_, ()> {
        self.run(std::fs::File::sync_all)
    }

    fn statvfs(&self) -> FsFuture<'_, StatvfsReply> {
        self.run(|file| Ok(statvfs_reply(&rustix::fs::fstatvfs(file)?)))
    }

    fn close(self: Box<Self>) -> FsFuture<'static, ()> {
        // Closing may wait on the disk (or the network, for NFS): off the event loop too.
        let file = self.file;
        blocking(move || {
            drop(file);
            Ok(())
        })
    }
}

/// User and group names by id, from `/etc/passwd` and `/etc/group`: for listings, and as
/// the server's [`IdNames`] (`users-groups-by-id@openssh.com`). Users that only a directory
/// service knows get none.
#[derive(Debug, Default)]
pub struct OwnerNames {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl IdNames for OwnerNames {
    fn user_name(&self, uid: u32) -> Option<String> {
        self.users.get(&uid).cloned()
    }

    fn group_name(&self, gid: u32) -> Option<String> {
        self.groups.get(&gid).cloned()
    }
}

impl OwnerNames {
    /// Reads the two files now (missing files give no names).
    pub fn load() -> OwnerNames {
        let read = |p| std::fs::read_to_string(p).unwrap_or_default();
        OwnerNames {
            users: parse_id_file(&read("/etc/passwd")),
            groups: parse_id_file(&read("/etc/group")),
        }
    }

    fn names(&self, uid: u32, gid: u32) -> (String, String) {
        let user = self
            .users
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string());
        let group = self
            .groups
            .get(&gid)
            .cloned()
            .unwrap_or_else(|| gid.to_string());
        (user, group)
    }
}

/// Names by id from `passwd(5)` or `group(5)` lines, `name:password:id:...`; the first line
/// with an id wins, as `getpwuid` answers.
fn parse_id_file(text: &str) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if let Ok(id) = id.parse::<u32>() {
            out.entry(id).or_insert_with(|| name.to_owned());
        }
    }
    out
}

/// An open listing of a [`LocalFs`] directory.
struct LocalDir {
    /// `None` once the listing is complete (or while a batch is being read).
    state: Option<Listing>,
}

struct Listing {
    /// `.` and `..`, not yet returned.
    head: Vec<(Vec<u8>, Attrs)>,
    entries: cap_std::fs::ReadDir,
    names: Option<Arc<OnceLock<OwnerNames>>>,
}

impl Listing {
    /// Up to `max` entries; `done` when the directory has no more.
    fn batch(&mut self, max: usize) -> (Vec<DirEntry>, bool) {
        let names = self.names.as_ref().map(|n| n.get_or_init(OwnerNames::load));
        let entry = |name: Vec<u8>, attrs: Attrs| {
            let owner_names = match (names, attrs.owner) {
                (Some(names), Some(o)) => Some(names.names(o.uid, o.gid)),
                _ => None,
            };
            DirEntry {
                name,
                attrs,
                owner_names,
            }
        };
        let mut out = Vec::new();
        let head = std::mem::take(&mut self.head);
        for (name, attrs) in head {
            out.push(entry(name, attrs));
        }
        while out.len() < max {
            let Some(next) = self.entries.next() else {
                return (out, true);
            };
            // An entry removed since the directory was read, or unreadable, is left out.
            let Ok(e) = next else { continue };
            let Ok(metadata) = e.metadata() else { continue };
            out.push(entry(e.file_name().into_vec(), cap_attrs(&metadata)));
        }
        (out, false)
    }
}

impl sftp_fs::Dir for LocalDir {
    fn next_entries(&mut self, max: usize) -> FsFuture<'_, Vec<DirEntry>> {
        let Some(mut listing) = self.state.take() else {
            return sftp_fs::ready(Ok(Vec::new()));
        };
        let max = max.max(1);
        Box::pin(async move {
            let (listing, batch) = blocking(move || {
                let (batch, done) = listing.batch(max);
                Ok(((!done).then_some(listing), batch))
            })
            .await?;
            self.state = listing;
            Ok(batch)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks read with room keep it in front and the tail room behind when they fit a
    /// server's READ; a READ of any length of a short file takes only the file's bytes and
    /// sets aside little memory; reads across the growth steps land where they belong.
    #[test]
    fn blocks_are_read_after_their_room_and_never_sized_by_the_request_alone() {
        #![allow(clippy::unwrap_used)]
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..700_000).map(|i| (i * 13 + i / 509) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let room = Room {
            front: 27,
            back: 83,
        };

        let mut b = read_block_at(&file, 1000, 255 * 1024, room).unwrap();
        assert_eq!(b.front(), 27);
        assert!(b.buffer_mut().capacity() >= 27 + 255 * 1024 + 83);
        assert!(*b == data[1000..1000 + 255 * 1024]);

        let tail = read_block_at(&file, 699_990, u32::MAX, room).unwrap();
        assert!(*tail == data[699_990..]);
        let (buf, _) = tail.into_parts();
        assert!(buf.capacity() < 1024 * 1024, "{}", buf.capacity());

        let whole = read_block_at(&file, 0, u32::MAX, room).unwrap();
        assert!(*whole == data[..]);
        assert!(read_fully_at(&file, 5, 600_000).unwrap() == data[5..600_005]);
        assert!(read_block_at(&file, 800_000, 10, room).unwrap().is_empty());
    }

    #[test]
    fn file_system_calls_in_place_leave_one_worker_free() {
        static TAKEN: AtomicUsize = AtomicUsize::new(0);
        let runtime = |workers| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .build()
                .unwrap()
        };
        // Two workers: one turn at a time, and a turn given back can be taken again.
        let two = runtime(2);
        let first = InPlace::take_counted(two.handle(), &TAKEN);
        assert!(first.is_some());
        assert!(InPlace::take_counted(two.handle(), &TAKEN).is_none());
        drop(first);
        assert!(InPlace::take_counted(two.handle(), &TAKEN).is_some());
        assert_eq!(TAKEN.load(Ordering::Acquire), 0);
        // Three workers: two turns.
        let three = runtime(3);
        let turns: Vec<_> = (0..3)
            .filter_map(|_| InPlace::take_counted(three.handle(), &TAKEN))
            .collect();
        assert_eq!(turns.len(), 2);
        drop(turns);
        // One worker, or a current-thread runtime: never in place.
        assert!(InPlace::take_counted(runtime(1).handle(), &TAKEN).is_none());
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(InPlace::take_counted(current.handle(), &TAKEN).is_none());
        assert_eq!(TAKEN.load(Ordering::Acquire), 0);
    }

    #[test]
    fn local_fs_works_in_place_and_on_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"in place").unwrap();
        let fs = LocalFs::new(dir.path()).unwrap();
        for workers in [1, 2] {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .build()
                .unwrap();
            let attrs = runtime
                .block_on(sftp_fs::Filesystem::stat(&fs, b"/a"))
                .unwrap();
            assert_eq!(attrs.size, Some(8), "{workers} workers");
        }
    }

    #[test]
    fn errors_map_as_openssh_does() {
        for e in [Errno::NOENT, Errno::NOTDIR, Errno::LOOP, Errno::BADF] {
            assert_eq!(errno(e), FsError::not_found(), "{e:?}");
        }
        assert_eq!(errno(Errno::ACCESS), FsError::permission_denied());
        assert_eq!(errno(Errno::PERM), FsError::permission_denied());
        assert_eq!(errno(Errno::INVAL).code, StatusCode::BAD_MESSAGE);
        assert_eq!(errno(Errno::NOSYS).code, StatusCode::OP_UNSUPPORTED);
        let full = errno(Errno::NOSPC);
        assert_eq!(full.code, StatusCode::FAILURE);
        assert_eq!(full.message, "No space left on device");
        let escape = io::Error::new(io::ErrorKind::PermissionDenied, "outside");
        assert_eq!(fs_error(&escape), FsError::not_found());
    }

    #[test]
    fn passwd_lines_give_names_by_id() {
        let text = "root:x:0:0:root:/root:/bin/bash\n# comment\nbad\n\
                    alice:x:1000:1000::/home/alice:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n";
        let ids = parse_id_file(text);
        assert_eq!(ids.get(&0).map(String::as_str), Some("root"));
        assert_eq!(ids.get(&1000).map(String::as_str), Some("alice"));
        assert_eq!(ids.len(), 2);
        let names = OwnerNames {
            users: ids,
            groups: HashMap::new(),
        };
        assert_eq!(names.names(1000, 5), ("alice".into(), "5".into()));
    }

    #[test]
    fn components_skip_empty_ones() {
        assert_eq!(
            components_reversed(b"//a/./b//"),
            [b"b".to_vec(), b".".to_vec(), b"a".to_vec()]
        );
        assert!(components_reversed(b"/").is_empty());
    }

    #[test]
    fn times_clamp_to_u32() {
        assert_eq!(secs(-5), 0);
        assert_eq!(secs(1 << 40), u32::MAX);
        assert_eq!(secs(7), 7);
    }
}
