//! [`MemoryFs`]: a [`Filesystem`] held in memory, for tests and embedding.
//!
//! The tree has directories, regular files, symbolic links and hard links (names sharing one
//! inode), each with POSIX permission bits, an owner and access and modification times. It
//! behaves as a small POSIX file system seen through OpenSSH's `sftp-server`, so that a server
//! test against it means something for a real disk:
//!
//! - Paths resolve as on a POSIX system whose root is the tree's root (a chroot): `..` of the
//!   root is the root, a symbolic link's target is stored as given and resolved relative to
//!   the link's directory, an absolute target relative to the root, and more than
//!   [`MAX_SYMLINK_HOPS`] links in one resolution fail as not-found (as OpenSSH reports
//!   `ELOOP`).
//! - Permissions follow a simple owner-only model: opening for reading needs the owner's read
//!   bit, for writing the owner's write bit (not when the open creates the file), listing a
//!   directory its read bit, adding or removing names its write bit, and looking a name up
//!   its execute bit. Changing attributes is always allowed.
//! - Errors carry the status OpenSSH's `errno_to_portable` gives the matching `errno`:
//!   `ENOENT`, `ENOTDIR` and `ELOOP` are [`FsError::not_found`], `EACCES` and `EPERM`
//!   permission denied, `EINVAL` and `ENAMETOOLONG` `SSH_FX_BAD_MESSAGE`, the rest
//!   `SSH_FX_FAILURE` with the system's text ("File exists", "Directory not empty", ...).
//! - Time comes from a clock the owner chooses ([`MemoryFs::set_time`] or
//!   [`MemoryFs::with_clock`]); the system clock is never read, so tests are deterministic.
//! - An optional limit on the bytes of all files ([`MemoryFs::with_size_limit`]) makes writes
//!   past it fail with "No space left on device", to simulate a full disk.
//!
//! Every future is ready at once ([`ready`]); a [`std::sync::Mutex`] guards the tree, so one
//! `MemoryFs` (and its clones, which share the tree) serves many sessions at once.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::attrs::{Attrs, Owner, Times};
use crate::block::{Block, Room};
use crate::extensions::StatvfsReply;
use crate::fs::{Dir, DirEntry, File, Filesystem, FsError, FsFuture, ready};
use crate::types::{OpenFlags, StatusCode};

/// Symbolic links one path resolution may follow before it fails (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// The longest name of one directory entry, in bytes (`NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

/// `S_IFDIR`: a directory.
const S_IFDIR: u32 = 0o040_000;
/// `S_IFREG`: a regular file.
const S_IFREG: u32 = 0o100_000;
/// `S_IFLNK`: a symbolic link.
const S_IFLNK: u32 = 0o120_000;
/// The permission bits of a mode (with set-uid, set-gid and sticky).
const PERMISSION_BITS: u32 = 0o7777;
/// The owner's read, write and execute bits.
const OWNER_READ: u32 = 0o400;
const OWNER_WRITE: u32 = 0o200;
const OWNER_EXEC: u32 = 0o100;

/// The size a directory reports, as most disk file systems do.
const DIR_SIZE: u64 = 4096;
/// The block size statvfs reports.
const BLOCK: u64 = 4096;
/// Blocks statvfs reports when there is no size limit (1 TiB).
const UNLIMITED_BLOCKS: u64 = 1 << 28;
/// Inodes statvfs reports.
const INODES: u64 = 1 << 20;

/// An inode number.
type Ino = u64;
/// The root directory's inode.
const ROOT: Ino = 1;

/// Where the tree's time comes from.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// A value set by [`MemoryFs::set_time`].
    Fixed(u32),
    /// A function called whenever the tree needs the time.
    Function(fn() -> u32),
}

impl Clock {
    fn now(self) -> u32 {
        match self {
            Clock::Fixed(t) => t,
            Clock::Function(f) => f(),
        }
    }
}

/// What an inode holds.
#[derive(Debug)]
enum Kind {
    File(Vec<u8>),
    Dir {
        entries: BTreeMap<Vec<u8>, Ino>,
        /// The directory holding this one (the root's is the root).
        parent: Ino,
    },
    Symlink(Vec<u8>),
}

/// One inode: a file, directory or link, and its attributes.
#[derive(Debug)]
struct Node {
    kind: Kind,
    /// Permission bits only; the type comes from `kind`.
    mode: u32,
    uid: u32,
    gid: u32,
    atime: u32,
    mtime: u32,
    /// Names that refer to this inode.
    links: u32,
    /// Open [`MemFile`]s of this inode, which keep it alive once unlinked.
    open: u32,
}

impl Node {
    fn attrs(&self) -> Attrs {
        let (size, kind) = match &self.kind {
            Kind::File(data) => (data.len() as u64, S_IFREG),
            Kind::Dir { .. } => (DIR_SIZE, S_IFDIR),
            Kind::Symlink(target) => (target.len() as u64, S_IFLNK),
        };
        let mode = match self.kind {
            Kind::Symlink(_) => 0o777,
            _ => self.mode,
        };
        Attrs {
            size: Some(size),
            owner: Some(Owner {
                uid: self.uid,
                gid: self.gid,
            }),
            permissions: Some(kind | mode),
            times: Some(Times {
                atime: self.atime,
                mtime: self.mtime,
            }),
            extended: Vec::new(),
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir { .. })
    }
}

/// The errors of a POSIX file system, with the status OpenSSH's `errno_to_portable` gives them.
mod errno {
    use super::{FsError, StatusCode};

    /// `ENOENT`, and `ENOTDIR` and `ELOOP`, which OpenSSH reports the same way.
    pub fn not_found() -> FsError {
        FsError::not_found()
    }
    /// `EACCES`.
    pub fn access() -> FsError {
        FsError::permission_denied()
    }
    /// `EPERM`.
    pub fn perm() -> FsError {
        FsError::new(StatusCode::PERMISSION_DENIED, "Operation not permitted")
    }
    /// `EEXIST`.
    pub fn exists() -> FsError {
        FsError::failure("File exists")
    }
    /// `EISDIR`.
    pub fn is_dir() -> FsError {
        FsError::failure("Is a directory")
    }
    /// `ENOTEMPTY`.
    pub fn not_empty() -> FsError {
        FsError::failure("Directory not empty")
    }
    /// `EBUSY`.
    pub fn busy() -> FsError {
        FsError::failure("Device or resource busy")
    }
    /// `ENOSPC`.
    pub fn no_space() -> FsError {
        FsError::failure("No space left on device")
    }
    /// `EFBIG`.
    pub fn too_big() -> FsError {
        FsError::failure("File too large")
    }
    /// `EOPNOTSUPP`.
    pub fn not_supported() -> FsError {
        FsError::failure("Operation not supported")
    }
    /// `EBADF`, as for a read from a handle opened only for writing.
    pub fn bad_handle() -> FsError {
        FsError::not_found()
    }
    /// `EINVAL`.
    pub fn invalid() -> FsError {
        FsError::new(StatusCode::BAD_MESSAGE, "Invalid argument")
    }
    /// `ENAMETOOLONG`.
    pub fn name_too_long() -> FsError {
        FsError::new(StatusCode::BAD_MESSAGE, "File name too long")
    }
}

/// Where a path led: a name in a directory, or the root itself.
#[derive(Debug)]
struct Resolved {
    /// The directory holding the name (the root for the root itself).
    dir: Ino,
    /// The last component; `None` for the root.
    name: Option<Vec<u8>>,
    /// The inode the name refers to, if it exists.
    ino: Option<Ino>,
    /// The canonical components from the root to `dir`.
    dir_path: Vec<Vec<u8>>,
}

impl Resolved {
    /// The canonical absolute path of the name.
    fn path(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for c in self.dir_path.iter().chain(self.name.as_ref()) {
            out.push(b'/');
            out.extend_from_slice(c);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        out
    }

    /// The name, or `EBUSY` for the root (which cannot be removed or renamed).
    fn name_or_busy(&self) -> Result<&[u8], FsError> {
        self.name.as_deref().ok_or_else(errno::busy)
    }
}

/// Splits a path into components, last first (so that `pop` yields them in order).
fn components_reversed(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(<[u8]>::to_vec)
        .collect()
}

/// The tree and its settings, behind the mutex.
#[derive(Debug)]
struct Tree {
    nodes: BTreeMap<Ino, Node>,
    next_ino: Ino,
    clock: Clock,
    uid: u32,
    gid: u32,
    limit: Option<u64>,
    /// Bytes held by all files.
    used: u64,
}

impl Tree {
    fn new() -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            ROOT,
            Node {
                kind: Kind::Dir {
                    entries: BTreeMap::new(),
                    parent: ROOT,
                },
                mode: 0o755,
                uid: 0,
                gid: 0,
                atime: 0,
                mtime: 0,
                links: 1,
                open: 0,
            },
        );
        Tree {
            nodes,
            next_ino: ROOT + 1,
            clock: Clock::Fixed(0),
            uid: 0,
            gid: 0,
            limit: None,
            used: 0,
        }
    }

    fn now(&self) -> u32 {
        self.clock.now()
    }

    fn node(&self, ino: Ino) -> Result<&Node, FsError> {
        self.nodes.get(&ino).ok_or_else(errno::not_found)
    }

    fn node_mut(&mut self, ino: Ino) -> Result<&mut Node, FsError> {
        self.nodes.get_mut(&ino).ok_or_else(errno::not_found)
    }

    fn entries(&self, dir: Ino) -> Result<&BTreeMap<Vec<u8>, Ino>, FsError> {
        match &self.node(dir)?.kind {
            Kind::Dir { entries, .. } => Ok(entries),
            _ => Err(errno::not_found()),
        }
    }

    fn entries_mut(&mut self, dir: Ino) -> Result<&mut BTreeMap<Vec<u8>, Ino>, FsError> {
        match &mut self.node_mut(dir)?.kind {
            Kind::Dir { entries, .. } => Ok(entries),
            _ => Err(errno::not_found()),
        }
    }

    /// Fails with `EACCES` unless the owner has `bit` on `ino`.
    fn require(&self, ino: Ino, bit: u32) -> Result<(), FsError> {
        if self.node(ino)?.mode & bit == bit {
            Ok(())
        } else {
            Err(errno::access())
        }
    }

    /// Resolves `path` from the root: every link on the way is followed, the last component
    /// only if `follow_last`. A last component that does not exist is not an error (`ino` is
    /// `None`); a missing directory on the way is.
    fn resolve(&self, path: &[u8], follow_last: bool) -> Result<Resolved, FsError> {
        let mut pending = components_reversed(path);
        // The directories from the root down to the current one, and their names.
        let mut dirs = vec![ROOT];
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            let last = pending.is_empty();
            match component.as_slice() {
                b"." => continue,
                b".." => {
                    // POSIX.1-2024 §4.16: "As a special case, in the root directory, dot-dot
                    // may refer to the root directory itself." Here it always does.
                    if dirs.len() > 1 {
                        dirs.pop();
                        names.pop();
                    }
                    continue;
                }
                _ => {}
            }
            let dir = dirs.last().copied().unwrap_or(ROOT);
            self.require(dir, OWNER_EXEC)?;
            let Some(&ino) = self.entries(dir)?.get(&component) else {
                if last {
                    return Ok(Resolved {
                        dir,
                        name: Some(component),
                        ino: None,
                        dir_path: names,
                    });
                }
                return Err(errno::not_found());
            };
            match &self.node(ino)?.kind {
                Kind::Symlink(target) if !last || follow_last => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS || target.is_empty() {
                        return Err(errno::not_found());
                    }
                    if target.starts_with(b"/") {
                        dirs.truncate(1);
                        names.clear();
                    }
                    pending.extend(components_reversed(target));
                }
                Kind::Dir { .. } if !last => {
                    dirs.push(ino);
                    names.push(component);
                }
                _ if !last => return Err(errno::not_found()),
                _ => {
                    return Ok(Resolved {
                        dir,
                        name: Some(component),
                        ino: Some(ino),
                        dir_path: names,
                    });
                }
            }
        }
        // The path ended on a directory reached by `.`, `..`, a link, or nothing at all.
        let ino = dirs.pop().unwrap_or(ROOT);
        Ok(Resolved {
            dir: dirs.last().copied().unwrap_or(ROOT),
            name: names.pop(),
            ino: Some(ino),
            dir_path: names,
        })
    }

    /// As [`Tree::resolve`], failing if the target does not exist.
    fn existing(&self, path: &[u8], follow_last: bool) -> Result<(Resolved, Ino), FsError> {
        let r = self.resolve(path, follow_last)?;
        let ino = r.ino.ok_or_else(errno::not_found)?;
        Ok((r, ino))
    }

    /// Checks that a new name may be added to `dir`.
    fn check_new_name(&self, dir: Ino, name: &[u8]) -> Result<(), FsError> {
        if name.len() > MAX_NAME_LEN {
            return Err(errno::name_too_long());
        }
        self.require(dir, OWNER_WRITE)
    }

    /// Adds a new inode named `name` in `dir`.
    fn insert(&mut self, dir: Ino, name: Vec<u8>, kind: Kind, mode: u32) -> Result<Ino, FsError> {
        let now = self.now();
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                kind,
                mode: mode & PERMISSION_BITS,
                uid: self.uid,
                gid: self.gid,
                atime: now,
                mtime: now,
                links: 1,
                open: 0,
            },
        );
        self.entries_mut(dir)?.insert(name, ino);
        self.touch(dir);
        Ok(ino)
    }

    /// Sets a directory's modification time to now, as adding or removing a name does.
    fn touch(&mut self, ino: Ino) {
        let now = self.now();
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.mtime = now;
        }
    }

    /// Removes `name` from `dir`, dropping the inode once no name and no handle refers to it.
    fn unlink(&mut self, dir: Ino, name: &[u8]) -> Result<(), FsError> {
        let ino = self
            .entries_mut(dir)?
            .remove(name)
            .ok_or_else(errno::not_found)?;
        self.touch(dir);
        let node = self.node_mut(ino)?;
        node.links = node.links.saturating_sub(1);
        self.collect(ino);
        Ok(())
    }

    /// Frees `ino` if nothing refers to it any more.
    fn collect(&mut self, ino: Ino) {
        let unused = self
            .nodes
            .get(&ino)
            .is_some_and(|n| n.links == 0 && n.open == 0);
        if !unused {
            return;
        }
        if let Some(Node {
            kind: Kind::File(data),
            ..
        }) = self.nodes.remove(&ino)
        {
            self.used = self.used.saturating_sub(data.len() as u64);
        }
    }

    /// Resizes a file's data, failing with `ENOSPC` past the size limit.
    fn resize(&mut self, ino: Ino, size: u64) -> Result<(), FsError> {
        let (limit, used) = (self.limit, self.used);
        let now = self.now();
        let node = self.node_mut(ino)?;
        let Kind::File(data) = &mut node.kind else {
            return Err(errno::is_dir());
        };
        let new_len = usize::try_from(size).map_err(|_| errno::too_big())?;
        let old = data.len() as u64;
        if size > old {
            let grown = used.saturating_add(size - old);
            if limit.is_some_and(|l| grown > l) {
                return Err(errno::no_space());
            }
            data.try_reserve(new_len - data.len())
                .map_err(|_| errno::no_space())?;
        }
        data.resize(new_len, 0);
        node.mtime = now;
        self.used = (used + size).saturating_sub(old);
        Ok(())
    }

    /// Writes `bytes` at `offset` (at the end with `append`), growing the file as needed.
    fn write(&mut self, ino: Ino, offset: u64, bytes: &[u8], append: bool) -> Result<(), FsError> {
        let size = match &self.node(ino)?.kind {
            Kind::File(data) => data.len() as u64,
            _ => return Err(errno::is_dir()),
        };
        let offset = if append { size } else { offset };
        let end = offset
            .checked_add(bytes.len() as u64)
            .ok_or_else(errno::too_big)?;
        if end > size {
            self.resize(ino, end)?;
        }
        let now = self.now();
        let node = self.node_mut(ino)?;
        node.mtime = now;
        if let Kind::File(data) = &mut node.kind {
            let start = usize::try_from(offset).map_err(|_| errno::too_big())?;
            let end = usize::try_from(end).map_err(|_| errno::too_big())?;
            if let Some(slot) = data.get_mut(start..end) {
                slot.copy_from_slice(bytes);
            }
        }
        Ok(())
    }

    /// Reads up to `len` bytes at `offset`.
    fn read(&mut self, ino: Ino, offset: u64, len: u32) -> Result<Vec<u8>, FsError> {
        self.read_with(ino, offset, len, <[u8]>::to_vec)
    }

    /// Up to `len` bytes of `ino` from `offset`, handed to `f`.
    fn read_with<T>(
        &mut self,
        ino: Ino,
        offset: u64,
        len: u32,
        f: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, FsError> {
        let now = self.now();
        let node = self.node_mut(ino)?;
        let Kind::File(data) = &node.kind else {
            return Err(errno::is_dir());
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(data.len());
        let out = f(data.get(start..end).unwrap_or_default());
        node.atime = now;
        Ok(out)
    }

    /// Applies `attrs` to `ino` in OpenSSH's order: size, permissions, times, owner.
    fn set_attrs(&mut self, ino: Ino, attrs: &Attrs) -> Result<(), FsError> {
        if let Some(size) = attrs.size {
            match self.node(ino)?.kind {
                Kind::File(_) => self.resize(ino, size)?,
                Kind::Dir { .. } => return Err(errno::is_dir()),
                Kind::Symlink(_) => return Err(errno::invalid()),
            }
        }
        let node = self.node_mut(ino)?;
        if let Some(permissions) = attrs.permissions {
            if matches!(node.kind, Kind::Symlink(_)) {
                // Linux: "changing the mode of a symbolic link is not supported".
                return Err(errno::not_supported());
            }
            node.mode = permissions & PERMISSION_BITS;
        }
        if let Some(times) = attrs.times {
            node.atime = times.atime;
            node.mtime = times.mtime;
        }
        if let Some(owner) = attrs.owner {
            // chown(2): an id of -1 leaves that id unchanged.
            if owner.uid != u32::MAX {
                node.uid = owner.uid;
            }
            if owner.gid != u32::MAX {
                node.gid = owner.gid;
            }
        }
        Ok(())
    }

    fn statvfs(&self) -> StatvfsReply {
        let blocks = self.limit.map_or(UNLIMITED_BLOCKS, |l| l / BLOCK);
        let bfree = blocks.saturating_sub(self.used.div_ceil(BLOCK));
        let ffree = INODES.saturating_sub(self.nodes.len() as u64);
        StatvfsReply {
            bsize: BLOCK,
            frsize: BLOCK,
            blocks,
            bfree,
            bavail: bfree,
            files: INODES,
            ffree,
            favail: ffree,
            fsid: 0,
            flag: 0,
            namemax: MAX_NAME_LEN as u64,
        }
    }

    fn open(&mut self, path: &[u8], flags: OpenFlags, attrs: &Attrs) -> Result<Opened, FsError> {
        let create = flags.contains(OpenFlags::CREAT);
        let exclusive = create && flags.contains(OpenFlags::EXCL);
        let write = flags.contains(OpenFlags::WRITE) || flags.contains(OpenFlags::APPEND);
        let read = flags.contains(OpenFlags::READ) || !write;
        // POSIX open(): "If O_CREAT and O_EXCL are set, open() shall fail if the file exists
        // ... If O_EXCL and O_CREAT are set, and path names a symbolic link, open() shall
        // fail with [EEXIST], regardless of the contents of the symbolic link."
        let r = self.resolve(path, !exclusive)?;
        let ino = match r.ino {
            Some(_) if exclusive => return Err(errno::exists()),
            Some(ino) => {
                let node = self.node(ino)?;
                if node.is_dir() {
                    return Err(errno::is_dir());
                }
                if read {
                    self.require(ino, OWNER_READ)?;
                }
                if write || flags.contains(OpenFlags::TRUNC) {
                    self.require(ino, OWNER_WRITE)?;
                }
                if flags.contains(OpenFlags::TRUNC) {
                    self.resize(ino, 0)?;
                }
                ino
            }
            None if create => {
                let name = r.name_or_busy()?.to_vec();
                self.check_new_name(r.dir, &name)?;
                let mode = attrs.permissions.unwrap_or(0o666);
                self.insert(r.dir, name, Kind::File(Vec::new()), mode)?
            }
            None => return Err(errno::not_found()),
        };
        self.node_mut(ino)?.open += 1;
        Ok(Opened {
            ino,
            read,
            write,
            append: flags.contains(OpenFlags::APPEND),
        })
    }

    fn list(&self, path: &[u8]) -> Result<VecDeque<DirEntry>, FsError> {
        let (_, ino) = self.existing(path, true)?;
        let node = self.node(ino)?;
        let Kind::Dir { entries, parent } = &node.kind else {
            return Err(errno::not_found());
        };
        self.require(ino, OWNER_READ)?;
        let mut out = VecDeque::with_capacity(entries.len() + 2);
        for (name, ino) in [(&b"."[..], ino), (&b".."[..], *parent)]
            .into_iter()
            .chain(entries.iter().map(|(n, i)| (n.as_slice(), *i)))
        {
            out.push_back(DirEntry {
                name: name.to_vec(),
                attrs: self.node(ino)?.attrs(),
                owner_names: None,
            });
        }
        Ok(out)
    }

    fn remove(&mut self, path: &[u8]) -> Result<(), FsError> {
        let (r, ino) = self.existing(path, false)?;
        if self.node(ino)?.is_dir() {
            return Err(errno::is_dir());
        }
        self.require(r.dir, OWNER_WRITE)?;
        self.unlink(r.dir, r.name_or_busy()?)
    }

    fn mkdir(&mut self, path: &[u8], attrs: &Attrs) -> Result<(), FsError> {
        let r = self.resolve(path, false)?;
        if r.ino.is_some() {
            return Err(errno::exists());
        }
        let name = r.name_or_busy()?.to_vec();
        self.check_new_name(r.dir, &name)?;
        let kind = Kind::Dir {
            entries: BTreeMap::new(),
            parent: r.dir,
        };
        self.insert(r.dir, name, kind, attrs.permissions.unwrap_or(0o777))?;
        Ok(())
    }

    fn rmdir(&mut self, path: &[u8]) -> Result<(), FsError> {
        let (r, ino) = self.existing(path, false)?;
        match &self.node(ino)?.kind {
            Kind::Dir { entries, .. } if !entries.is_empty() => Err(errno::not_empty()),
            Kind::Dir { .. } => {
                let name = r.name_or_busy()?;
                self.require(r.dir, OWNER_WRITE)?;
                self.unlink(r.dir, name)
            }
            _ => Err(errno::not_found()),
        }
    }

    /// Whether `ancestor` is `dir` or a directory above it.
    fn is_ancestor(&self, ancestor: Ino, mut dir: Ino) -> bool {
        loop {
            if dir == ancestor {
                return true;
            }
            match self.nodes.get(&dir).map(|n| &n.kind) {
                Some(Kind::Dir { parent, .. }) if *parent != dir => dir = *parent,
                _ => return false,
            }
        }
    }

    fn rename(&mut self, from: &[u8], to: &[u8], replace: bool) -> Result<(), FsError> {
        let (rf, ino) = self.existing(from, false)?;
        let from_name = rf.name_or_busy()?.to_vec();
        let rt = self.resolve(to, false)?;
        let to_name = rt.name.clone().ok_or_else(errno::busy)?;
        self.require(rf.dir, OWNER_WRITE)?;
        self.check_new_name(rt.dir, &to_name)?;
        let moving_dir = self.node(ino)?.is_dir();
        if let Some(existing) = rt.ino {
            if !replace {
                // filexfer-02 §6.5: "It is an error if there already exists a file with the
                // name specified by newpath."
                return Err(errno::exists());
            }
            // POSIX rename(): "If the old argument and the new argument resolve to ... the
            // same existing file, rename() shall return successfully and perform no other
            // action."
            if existing == ino {
                return Ok(());
            }
            match (&self.node(existing)?.kind, moving_dir) {
                (Kind::Dir { entries, .. }, true) if !entries.is_empty() => {
                    return Err(errno::not_empty());
                }
                (Kind::Dir { .. }, false) => return Err(errno::is_dir()),
                (Kind::Dir { .. }, true) => {}
                (_, true) => return Err(errno::not_found()),
                (_, false) => {}
            }
        }
        // POSIX rename(): "The new pathname shall not contain a path prefix that names old."
        if moving_dir && self.is_ancestor(ino, rt.dir) {
            return Err(errno::invalid());
        }
        if rt.ino.is_some() {
            self.unlink(rt.dir, &to_name)?;
        }
        self.entries_mut(rf.dir)?.remove(&from_name);
        self.touch(rf.dir);
        self.entries_mut(rt.dir)?.insert(to_name, ino);
        self.touch(rt.dir);
        if let Kind::Dir { parent, .. } = &mut self.node_mut(ino)?.kind {
            *parent = rt.dir;
        }
        Ok(())
    }

    fn readlink(&self, path: &[u8]) -> Result<Vec<u8>, FsError> {
        let (_, ino) = self.existing(path, false)?;
        match &self.node(ino)?.kind {
            Kind::Symlink(target) => Ok(target.clone()),
            _ => Err(errno::invalid()),
        }
    }

    fn symlink(&mut self, link: &[u8], target: &[u8]) -> Result<(), FsError> {
        let r = self.resolve(link, false)?;
        if r.ino.is_some() {
            return Err(errno::exists());
        }
        if target.is_empty() {
            return Err(errno::not_found());
        }
        let name = r.name_or_busy()?.to_vec();
        self.check_new_name(r.dir, &name)?;
        self.insert(r.dir, name, Kind::Symlink(target.to_vec()), 0o777)?;
        Ok(())
    }

    fn hardlink(&mut self, old: &[u8], new: &[u8]) -> Result<(), FsError> {
        // link(2) on Linux does not follow a symbolic link named by `old`.
        let (_, ino) = self.existing(old, false)?;
        if self.node(ino)?.is_dir() {
            return Err(errno::perm());
        }
        let r = self.resolve(new, false)?;
        if r.ino.is_some() {
            return Err(errno::exists());
        }
        let name = r.name_or_busy()?.to_vec();
        self.check_new_name(r.dir, &name)?;
        self.entries_mut(r.dir)?.insert(name, ino);
        self.touch(r.dir);
        let node = self.node_mut(ino)?;
        node.links = node.links.saturating_add(1);
        Ok(())
    }
}

/// What [`Tree::open`] hands to a [`MemFile`].
struct Opened {
    ino: Ino,
    read: bool,
    write: bool,
    append: bool,
}

/// A [`Filesystem`] held in memory; clones share one tree.
///
/// See the [module documentation](self) for what it models. A new tree has an empty root
/// directory (mode `0755`), the time 0, the owner 0:0 for everything created, and no size
/// limit.
///
/// ```
/// use sshwire_sftp::memory::MemoryFs;
///
/// let fs = MemoryFs::new().with_owner(1000, 1000).with_size_limit(1 << 20);
/// fs.set_time(1_700_000_000);
/// fs.write_file(b"/hello.txt", b"hello").unwrap();
/// assert_eq!(fs.read_file(b"/../hello.txt").unwrap(), b"hello");
/// ```
#[derive(Debug, Clone)]
pub struct MemoryFs {
    tree: Arc<Mutex<Tree>>,
}

impl Default for MemoryFs {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryFs {
    /// An empty tree.
    pub fn new() -> MemoryFs {
        MemoryFs {
            tree: Arc::new(Mutex::new(Tree::new())),
        }
    }

    /// Owns the root and everything created from now on by `uid` and `gid`.
    pub fn with_owner(self, uid: u32, gid: u32) -> MemoryFs {
        {
            let mut tree = self.lock();
            tree.uid = uid;
            tree.gid = gid;
            if let Some(root) = tree.nodes.get_mut(&ROOT) {
                root.uid = uid;
                root.gid = gid;
            }
        }
        self
    }

    /// Takes the time (seconds since the epoch) from `clock` whenever it is needed.
    pub fn with_clock(self, clock: fn() -> u32) -> MemoryFs {
        self.lock().clock = Clock::Function(clock);
        self
    }

    /// Limits the bytes of all files to `bytes`; see [`MemoryFs::set_size_limit`].
    pub fn with_size_limit(self, bytes: u64) -> MemoryFs {
        self.set_size_limit(Some(bytes));
        self
    }

    /// Sets the time (seconds since the epoch) of every later change, until set again.
    pub fn set_time(&self, secs: u32) {
        self.lock().clock = Clock::Fixed(secs);
    }

    /// Limits the bytes of all files, or lifts the limit with `None`.
    ///
    /// A write or resize that would take the total past the limit fails with
    /// `SSH_FX_FAILURE` "No space left on device"; lowering the limit below what is used
    /// removes nothing. Without a limit, memory is the limit: a client can make the tree as
    /// large as it wants.
    pub fn set_size_limit(&self, bytes: Option<u64>) {
        self.lock().limit = bytes;
    }

    /// Bytes held by all files.
    pub fn used_bytes(&self) -> u64 {
        self.lock().used
    }

    /// Creates or replaces the file at `path` with `data` (the directory must exist).
    pub fn write_file(&self, path: &[u8], data: &[u8]) -> Result<(), FsError> {
        let mut tree = self.lock();
        let flags = OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC;
        let opened = tree.open(path, flags, &Attrs::default())?;
        let result = tree.write(opened.ino, 0, data, false);
        if let Some(node) = tree.nodes.get_mut(&opened.ino) {
            node.open = node.open.saturating_sub(1);
        }
        tree.collect(opened.ino);
        result
    }

    /// The whole content of the file at `path`.
    pub fn read_file(&self, path: &[u8]) -> Result<Vec<u8>, FsError> {
        let tree = self.lock();
        let (_, ino) = tree.existing(path, true)?;
        match &tree.node(ino)?.kind {
            Kind::File(data) => Ok(data.clone()),
            _ => Err(errno::is_dir()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        // A panic while the lock was held cannot leave the tree half-changed in a way that
        // matters more than refusing every later request would.
        self.tree.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Filesystem for MemoryFs {
    fn open<'a>(
        &'a self,
        path: &'a [u8],
        flags: OpenFlags,
        attrs: &'a Attrs,
    ) -> FsFuture<'a, Box<dyn File>> {
        let opened = self.lock().open(path, flags, attrs);
        ready(opened.map(|o| {
            Box::new(MemFile {
                tree: Arc::clone(&self.tree),
                ino: o.ino,
                read: o.read,
                write: o.write,
                append: o.append,
            }) as Box<dyn File>
        }))
    }

    fn opendir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Box<dyn Dir>> {
        let listing = self.lock().list(path);
        ready(listing.map(|entries| Box::new(MemDir { entries }) as Box<dyn Dir>))
    }

    fn stat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        let tree = self.lock();
        ready(
            tree.existing(path, true)
                .and_then(|(_, ino)| Ok(tree.node(ino)?.attrs())),
        )
    }

    fn lstat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        let tree = self.lock();
        ready(
            tree.existing(path, false)
                .and_then(|(_, ino)| Ok(tree.node(ino)?.attrs())),
        )
    }

    fn setstat<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        let mut tree = self.lock();
        ready(
            tree.existing(path, true)
                .and_then(|(_, ino)| tree.set_attrs(ino, attrs)),
        )
    }

    fn lsetstat<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        // OpenSSH's lsetstat refuses a size ("nonsensical for links") before anything else.
        if attrs.size.is_some() {
            return ready(Err(errno::invalid()));
        }
        let mut tree = self.lock();
        ready(
            tree.existing(path, false)
                .and_then(|(_, ino)| tree.set_attrs(ino, attrs)),
        )
    }

    fn remove<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        ready(self.lock().remove(path))
    }

    fn mkdir<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        ready(self.lock().mkdir(path, attrs))
    }

    fn rmdir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        ready(self.lock().rmdir(path))
    }

    fn realpath<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(self.lock().resolve(path, true).map(|r| r.path()))
    }

    fn rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        ready(self.lock().rename(from, to, false))
    }

    fn posix_rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        ready(self.lock().rename(from, to, true))
    }

    fn readlink<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(self.lock().readlink(path))
    }

    fn symlink<'a>(&'a self, link: &'a [u8], target: &'a [u8]) -> FsFuture<'a, ()> {
        ready(self.lock().symlink(link, target))
    }

    fn hardlink<'a>(&'a self, old: &'a [u8], new: &'a [u8]) -> FsFuture<'a, ()> {
        ready(self.lock().hardlink(old, new))
    }

    fn statvfs<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, StatvfsReply> {
        let tree = self.lock();
        ready(tree.existing(path, true).map(|_| tree.statvfs()))
    }
}

/// An open file of a [`MemoryFs`]; the inode lives on while it is open, even unlinked.
struct MemFile {
    tree: Arc<Mutex<Tree>>,
    ino: Ino,
    read: bool,
    write: bool,
    append: bool,
}

impl MemFile {
    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        let mut tree = self.lock();
        if let Some(node) = tree.nodes.get_mut(&self.ino) {
            node.open = node.open.saturating_sub(1);
        }
        tree.collect(self.ino);
    }
}

impl File for MemFile {
    fn read_at(&self, offset: u64, len: u32) -> FsFuture<'_, Vec<u8>> {
        if !self.read {
            return ready(Err(errno::bad_handle()));
        }
        ready(self.lock().read(self.ino, offset, len))
    }

    /// Copies the bytes into a block with the room asked for, so that servers over a
    /// `MemoryFs` (the in-memory tests) send their `DATA` as a file on disk would.
    fn read_block(&self, offset: u64, len: u32, room: Room) -> FsFuture<'_, Block> {
        if !self.read {
            return ready(Err(errno::bad_handle()));
        }
        ready(self.lock().read_with(self.ino, offset, len, |data| {
            let mut block = Block::with_room(room, data.len()).unwrap_or_default();
            block.extend_from_slice(data);
            block
        }))
    }

    fn write_at(&self, offset: u64, data: Vec<u8>) -> FsFuture<'_, ()> {
        if !self.write {
            return ready(Err(errno::bad_handle()));
        }
        ready(self.lock().write(self.ino, offset, &data, self.append))
    }

    fn stat(&self) -> FsFuture<'_, Attrs> {
        let tree = self.lock();
        ready(tree.node(self.ino).map(Node::attrs))
    }

    fn setstat<'a>(&'a self, attrs: &'a Attrs) -> FsFuture<'a, ()> {
        // ftruncate(2) needs a descriptor open for writing.
        if attrs.size.is_some() && !self.write {
            return ready(Err(errno::invalid()));
        }
        ready(self.lock().set_attrs(self.ino, attrs))
    }

    fn sync(&self) -> FsFuture<'_, ()> {
        ready(Ok(()))
    }

    fn statvfs(&self) -> FsFuture<'_, StatvfsReply> {
        ready(Ok(self.lock().statvfs()))
    }
}

/// An open listing of a [`MemoryFs`] directory, taken when it was opened.
struct MemDir {
    entries: VecDeque<DirEntry>,
}

impl Dir for MemDir {
    fn next_entries(&mut self, max: usize) -> FsFuture<'_, Vec<DirEntry>> {
        let n = max.max(1).min(self.entries.len());
        ready(Ok(self.entries.drain(..n).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    /// Runs a future that must be ready at once, as every `MemoryFs` future is.
    fn now<T>(f: impl Future<Output = T>) -> T {
        let mut cx = Context::from_waker(Waker::noop());
        match pin!(f).poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("a MemoryFs future was not ready"),
        }
    }

    const RW_CREATE: OpenFlags = OpenFlags(0x01 | 0x02 | 0x08);

    fn code<T>(r: Result<T, FsError>) -> StatusCode {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.code,
        }
    }

    fn names(fs: &MemoryFs, path: &[u8]) -> Vec<Vec<u8>> {
        let mut dir = now(fs.opendir(path)).unwrap();
        let mut out = Vec::new();
        loop {
            let batch = now(dir.next_entries(2)).unwrap();
            if batch.is_empty() {
                return out;
            }
            out.extend(batch.into_iter().map(|e| e.name));
        }
    }

    #[test]
    fn dotdot_never_climbs_above_the_root() {
        let fs = MemoryFs::new();
        fs.write_file(b"/f", b"x").unwrap();
        for p in [
            &b"/../f"[..],
            b"/../../f",
            b"../f",
            b"f",
            b"//./..//f",
            b"/a/../f",
        ] {
            if p == b"/a/../f" {
                // `a` does not exist, so it cannot be passed through.
                assert_eq!(code(fs.read_file(p)), StatusCode::NO_SUCH_FILE);
            } else {
                assert_eq!(fs.read_file(p).unwrap(), b"x", "{p:?}");
            }
        }
        assert_eq!(now(fs.realpath(b"/..")).unwrap(), b"/");
        assert_eq!(now(fs.realpath(b"../../x/")).unwrap(), b"/x");
    }

    #[test]
    fn symlinks_resolve_inside_the_tree() {
        let fs = MemoryFs::new();
        now(fs.mkdir(b"/d", &Attrs::default())).unwrap();
        fs.write_file(b"/d/f", b"data").unwrap();
        now(fs.symlink(b"/abs", b"/d/f")).unwrap();
        now(fs.symlink(b"/d/rel", b"f")).unwrap();
        now(fs.symlink(b"/d/up", b"../../../d/f")).unwrap();
        now(fs.symlink(b"/dirlink", b"d")).unwrap();
        for p in [
            &b"/abs"[..],
            b"/d/rel",
            b"/d/up",
            b"/dirlink/f",
            b"/dirlink/rel",
        ] {
            assert_eq!(fs.read_file(p).unwrap(), b"data", "{p:?}");
        }
        assert_eq!(now(fs.realpath(b"/dirlink/up")).unwrap(), b"/d/f");
        assert_eq!(now(fs.realpath(b"/dirlink/..")).unwrap(), b"/");
        assert_eq!(now(fs.readlink(b"/d/up")).unwrap(), b"../../../d/f");
        let l = now(fs.lstat(b"/abs")).unwrap();
        assert_eq!(l.permissions, Some(S_IFLNK | 0o777));
        assert_eq!(l.size, Some(4));
    }

    #[test]
    fn link_loops_and_long_chains_fail_as_not_found() {
        let fs = MemoryFs::new();
        now(fs.symlink(b"/a", b"b")).unwrap();
        now(fs.symlink(b"/b", b"/a")).unwrap();
        now(fs.symlink(b"/self", b"self/x")).unwrap();
        assert_eq!(code(now(fs.stat(b"/a"))), StatusCode::NO_SUCH_FILE);
        assert_eq!(code(now(fs.stat(b"/self"))), StatusCode::NO_SUCH_FILE);
        assert_eq!(code(now(fs.realpath(b"/a/x"))), StatusCode::NO_SUCH_FILE);
        // The link itself is fine.
        assert!(now(fs.lstat(b"/a")).is_ok());
        // A chain of exactly MAX_SYMLINK_HOPS links resolves; one more does not.
        fs.write_file(b"/l0", b"end").unwrap();
        for i in 1..=MAX_SYMLINK_HOPS + 1 {
            let link = format!("/l{i}");
            let target = format!("l{}", i - 1);
            now(fs.symlink(link.as_bytes(), target.as_bytes())).unwrap();
        }
        let at_limit = format!("/l{MAX_SYMLINK_HOPS}");
        assert_eq!(fs.read_file(at_limit.as_bytes()).unwrap(), b"end");
        let over = format!("/l{}", MAX_SYMLINK_HOPS + 1);
        assert_eq!(
            code(fs.read_file(over.as_bytes())),
            StatusCode::NO_SUCH_FILE
        );
    }

    #[test]
    fn hard_links_share_an_inode_that_outlives_its_names() {
        let fs = MemoryFs::new();
        fs.write_file(b"/a", b"one").unwrap();
        now(fs.hardlink(b"/a", b"/b")).unwrap();
        fs.write_file(b"/b", b"two").unwrap();
        assert_eq!(fs.read_file(b"/a").unwrap(), b"two");
        let file = now(fs.open(b"/a", OpenFlags::READ, &Attrs::default())).unwrap();
        now(fs.remove(b"/a")).unwrap();
        now(fs.remove(b"/b")).unwrap();
        assert_eq!(now(file.read_at(0, 10)).unwrap(), b"two");
        assert_eq!(fs.used_bytes(), 3);
        drop(file);
        assert_eq!(fs.used_bytes(), 0);
        now(fs.mkdir(b"/d", &Attrs::default())).unwrap();
        assert_eq!(
            code(now(fs.hardlink(b"/d", b"/e"))),
            StatusCode::PERMISSION_DENIED
        );
    }

    #[test]
    fn modes_owner_and_clock() {
        let fs = MemoryFs::new().with_owner(1000, 100);
        fs.set_time(42);
        let attrs = Attrs {
            permissions: Some(0o640),
            ..Attrs::default()
        };
        now(fs.open(b"/f", RW_CREATE, &attrs)).unwrap();
        now(fs.mkdir(b"/d", &Attrs::default())).unwrap();
        let f = now(fs.stat(b"/f")).unwrap();
        assert_eq!(f.permissions, Some(S_IFREG | 0o640));
        assert_eq!(
            f.owner,
            Some(Owner {
                uid: 1000,
                gid: 100
            })
        );
        assert_eq!(
            f.times,
            Some(Times {
                atime: 42,
                mtime: 42
            })
        );
        assert_eq!(
            now(fs.stat(b"/d")).unwrap().permissions,
            Some(S_IFDIR | 0o777)
        );
        assert_eq!(now(fs.stat(b"/")).unwrap().owner.unwrap().uid, 1000);
        fs.set_time(50);
        fs.write_file(b"/f", b"x").unwrap();
        assert_eq!(now(fs.stat(b"/f")).unwrap().times.unwrap().mtime, 50);
        let fs = fs.with_clock(|| 7);
        fs.write_file(b"/g", b"x").unwrap();
        assert_eq!(now(fs.stat(b"/g")).unwrap().times.unwrap().mtime, 7);
    }

    #[test]
    fn owner_bits_are_enforced() {
        let fs = MemoryFs::new();
        let ro = Attrs {
            permissions: Some(0o444),
            ..Attrs::default()
        };
        // Creating a read-only file still gives a writable handle, as open(2) does.
        let f = now(fs.open(b"/ro", RW_CREATE, &ro)).unwrap();
        now(f.write_at(0, b"x".to_vec())).unwrap();
        assert_eq!(
            code(now(fs.open(b"/ro", OpenFlags::WRITE, &Attrs::default()))),
            StatusCode::PERMISSION_DENIED
        );
        assert!(now(fs.open(b"/ro", OpenFlags::READ, &Attrs::default())).is_ok());
        let wo = Attrs {
            permissions: Some(0o200),
            ..Attrs::default()
        };
        now(fs.setstat(b"/ro", &wo)).unwrap();
        assert_eq!(
            code(now(fs.open(b"/ro", OpenFlags::READ, &Attrs::default()))),
            StatusCode::PERMISSION_DENIED
        );
        now(fs.mkdir(b"/locked", &Attrs::default())).unwrap();
        fs.write_file(b"/locked/f", b"").unwrap();
        let rx = Attrs {
            permissions: Some(0o500),
            ..Attrs::default()
        };
        now(fs.setstat(b"/locked", &rx)).unwrap();
        for r in [
            now(fs.remove(b"/locked/f")),
            now(fs.mkdir(b"/locked/d", &Attrs::default())),
            now(fs.symlink(b"/locked/l", b"f")),
            now(fs.rename(b"/locked/f", b"/g")),
        ] {
            assert_eq!(code(r), StatusCode::PERMISSION_DENIED);
        }
        let none = Attrs {
            permissions: Some(0),
            ..Attrs::default()
        };
        now(fs.setstat(b"/locked", &none)).unwrap();
        assert_eq!(
            code(now(fs.stat(b"/locked/f"))),
            StatusCode::PERMISSION_DENIED
        );
        assert_eq!(
            code(now(fs.opendir(b"/locked"))),
            StatusCode::PERMISSION_DENIED
        );
        // A write-only handle cannot read, a read-only one cannot write.
        let f = now(fs.open(b"/ro", OpenFlags::WRITE, &Attrs::default())).unwrap();
        assert!(now(f.read_at(0, 1)).is_err());
        let f = now(fs.open(b"/g", RW_CREATE, &Attrs::default())).unwrap();
        drop(f);
        let f = now(fs.open(b"/g", OpenFlags::READ, &Attrs::default())).unwrap();
        assert!(now(f.write_at(0, b"x".to_vec())).is_err());
    }

    #[test]
    fn size_limit_simulates_a_full_disk() {
        let fs = MemoryFs::new().with_size_limit(10);
        let f = now(fs.open(b"/f", RW_CREATE, &Attrs::default())).unwrap();
        now(f.write_at(0, vec![1; 8])).unwrap();
        let err = now(f.write_at(8, vec![2; 3])).unwrap_err();
        assert_eq!(err.code, StatusCode::FAILURE);
        assert_eq!(err.message, "No space left on device");
        // Overwriting in place needs no space.
        now(f.write_at(0, vec![3; 8])).unwrap();
        now(f.write_at(8, vec![2; 2])).unwrap();
        assert_eq!(fs.used_bytes(), 10);
        let grow = Attrs {
            size: Some(11),
            ..Attrs::default()
        };
        assert_eq!(code(now(f.setstat(&grow))), StatusCode::FAILURE);
        let vfs = now(fs.statvfs(b"/")).unwrap();
        assert_eq!(vfs.bfree, 0);
        fs.set_size_limit(None);
        now(f.write_at(1 << 20, vec![1])).unwrap();
        assert_eq!(now(f.stat()).unwrap().size, Some((1 << 20) + 1));
        // An offset no memory can hold fails instead of aborting.
        assert!(now(f.write_at(u64::MAX - 1, vec![1; 4])).is_err());
        assert!(now(f.write_at(1 << 62, vec![1])).is_err());
    }

    #[test]
    fn listing_holds_dot_and_dotdot_and_lstat_attrs() {
        let fs = MemoryFs::new();
        now(fs.mkdir(b"/d", &Attrs::default())).unwrap();
        fs.write_file(b"/d/b", b"").unwrap();
        now(fs.symlink(b"/d/a", b"b")).unwrap();
        assert_eq!(names(&fs, b"/d"), [&b"."[..], b"..", b"a", b"b"]);
        assert_eq!(names(&fs, b"/"), [&b"."[..], b"..", b"d"]);
        let mut dir = now(fs.opendir(b"/d")).unwrap();
        let all = now(dir.next_entries(100)).unwrap();
        assert_eq!(all[2].attrs.permissions, Some(S_IFLNK | 0o777));
        assert_eq!(all[1].attrs.permissions, Some(S_IFDIR | 0o755));
        assert!(now(dir.next_entries(100)).unwrap().is_empty());
        assert_eq!(code(now(fs.opendir(b"/d/b"))), StatusCode::NO_SUCH_FILE);
    }

    #[test]
    fn renames_move_directories_and_refuse_cycles() {
        let fs = MemoryFs::new();
        now(fs.mkdir(b"/a", &Attrs::default())).unwrap();
        now(fs.mkdir(b"/a/b", &Attrs::default())).unwrap();
        fs.write_file(b"/a/b/f", b"x").unwrap();
        assert_eq!(
            code(now(fs.rename(b"/a", b"/a/b/c"))),
            StatusCode::BAD_MESSAGE
        );
        now(fs.rename(b"/a/b", b"/c")).unwrap();
        assert_eq!(names(&fs, b"/c/.."), [&b"."[..], b"..", b"a", b"c"]);
        assert_eq!(fs.read_file(b"/c/f").unwrap(), b"x");
        assert_eq!(now(fs.realpath(b"/c/../a")).unwrap(), b"/a");
        // posix-rename over an empty directory, not over a full one or a file.
        now(fs.mkdir(b"/e", &Attrs::default())).unwrap();
        assert_eq!(
            code(now(fs.posix_rename(b"/e", b"/c"))),
            StatusCode::FAILURE
        );
        now(fs.posix_rename(b"/c", b"/e")).unwrap();
        assert_eq!(fs.read_file(b"/e/f").unwrap(), b"x");
        assert_eq!(
            code(now(fs.posix_rename(b"/e/f", b"/a"))),
            StatusCode::FAILURE
        );
        assert_eq!(code(now(fs.rename(b"/", b"/x"))), StatusCode::FAILURE);
        assert_eq!(code(now(fs.rmdir(b"/"))), StatusCode::FAILURE);
    }

    #[test]
    fn lsetstat_changes_the_link_not_its_target() {
        let fs = MemoryFs::new();
        fs.write_file(b"/f", b"").unwrap();
        now(fs.symlink(b"/l", b"f")).unwrap();
        let t = Attrs {
            times: Some(Times { atime: 1, mtime: 2 }),
            ..Attrs::default()
        };
        now(fs.lsetstat(b"/l", &t)).unwrap();
        assert_eq!(now(fs.lstat(b"/l")).unwrap().times, t.times);
        assert_ne!(now(fs.stat(b"/l")).unwrap().times, t.times);
        let size = Attrs {
            size: Some(0),
            ..Attrs::default()
        };
        assert_eq!(
            code(now(fs.lsetstat(b"/f", &size))),
            StatusCode::BAD_MESSAGE
        );
        let mode = Attrs {
            permissions: Some(0o600),
            ..Attrs::default()
        };
        assert_eq!(code(now(fs.lsetstat(b"/l", &mode))), StatusCode::FAILURE);
    }

    #[test]
    fn long_names_are_refused() {
        let fs = MemoryFs::new();
        let mut long = b"/".to_vec();
        long.extend(core::iter::repeat_n(b'n', MAX_NAME_LEN + 1));
        assert_eq!(code(fs.write_file(&long, b"")), StatusCode::BAD_MESSAGE);
        long.pop();
        fs.write_file(&long, b"").unwrap();
    }

    #[test]
    fn clones_share_the_tree() {
        let fs = MemoryFs::new();
        let other = fs.clone();
        fs.write_file(b"/f", b"shared").unwrap();
        assert_eq!(other.read_file(b"/f").unwrap(), b"shared");
        let dynamic: Arc<dyn Filesystem> = Arc::new(other);
        assert!(now(dynamic.stat(b"/f")).is_ok());
    }
}
