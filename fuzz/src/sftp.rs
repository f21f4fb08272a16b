//! A small, bounded filesystem for the `sftp_server` target, and a way to run the session's
//! futures (all of them are ready at once, or wait only for earlier requests).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use sshwire_sftp::fs::{Dir, DirEntry, File, Filesystem, FsError, FsFuture, ready};
use sshwire_sftp::server::{ServerConfig, Session};
use sshwire_sftp::{Attrs, OpenFlags, StatvfsReply};

/// Largest file the fuzz filesystem keeps: writes and truncations beyond it fail.
pub const MAX_FILE: usize = 1 << 20;

/// Handles the fuzzed session may open (small, so the limit is reached).
pub const MAX_HANDLES: usize = 8;

type Contents = Arc<Mutex<Vec<u8>>>;

/// Files by whole path; every path that is not a file is a directory listing them all.
#[derive(Default)]
pub struct FuzzFs {
    files: Mutex<BTreeMap<Vec<u8>, Contents>>,
}

fn attrs(size: usize, mode: u32) -> Attrs {
    Attrs {
        size: Some(size as u64),
        permissions: Some(mode),
        ..Attrs::default()
    }
}

struct FuzzFile(Contents);

impl File for FuzzFile {
    fn read_at(&self, offset: u64, len: u32) -> FsFuture<'_, Vec<u8>> {
        let data = self.0.lock().unwrap();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = start.saturating_add(len as usize).min(data.len());
        ready(Ok(data[start..end].to_vec()))
    }

    fn write_at(&self, offset: u64, bytes: Vec<u8>) -> FsFuture<'_, ()> {
        let mut data = self.0.lock().unwrap();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let Some(end) = start.checked_add(bytes.len()).filter(|e| *e <= MAX_FILE) else {
            return ready(Err(FsError::failure("file too large")));
        };
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(&bytes);
        ready(Ok(()))
    }

    fn stat(&self) -> FsFuture<'_, Attrs> {
        ready(Ok(attrs(self.0.lock().unwrap().len(), 0o100_644)))
    }

    fn setstat<'a>(&'a self, a: &'a Attrs) -> FsFuture<'a, ()> {
        ready(truncate(&self.0, a))
    }

    fn sync(&self) -> FsFuture<'_, ()> {
        ready(Ok(()))
    }

    fn statvfs(&self) -> FsFuture<'_, StatvfsReply> {
        ready(Ok(StatvfsReply::default()))
    }
}

fn truncate(data: &Contents, a: &Attrs) -> Result<(), FsError> {
    match a.size.map(usize::try_from) {
        None => Ok(()),
        Some(Ok(size)) if size <= MAX_FILE => {
            data.lock().unwrap().resize(size, 0);
            Ok(())
        }
        Some(_) => Err(FsError::failure("file too large")),
    }
}

struct FuzzDir(Vec<DirEntry>);

impl Dir for FuzzDir {
    fn next_entries(&mut self, max: usize) -> FsFuture<'_, Vec<DirEntry>> {
        let n = max.min(self.0.len());
        ready(Ok(self.0.drain(..n).collect()))
    }
}

impl FuzzFs {
    fn file(&self, path: &[u8]) -> Result<Contents, FsError> {
        self.files
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .ok_or_else(FsError::not_found)
    }

    fn stat_of(&self, path: &[u8]) -> Result<Attrs, FsError> {
        match self.file(path) {
            Ok(f) => Ok(attrs(f.lock().unwrap().len(), 0o100_644)),
            Err(_) => Ok(attrs(0, 0o040_755)),
        }
    }
}

impl Filesystem for FuzzFs {
    fn open<'a>(
        &'a self,
        path: &'a [u8],
        flags: OpenFlags,
        _attrs: &'a Attrs,
    ) -> FsFuture<'a, Box<dyn File>> {
        let mut files = self.files.lock().unwrap();
        let data = match files.get(path) {
            Some(_) if flags.contains(OpenFlags::CREAT | OpenFlags::EXCL) => {
                return ready(Err(FsError::failure("exists")));
            }
            Some(d) => d.clone(),
            None if flags.contains(OpenFlags::CREAT) && files.len() < 64 => {
                let d = Contents::default();
                files.insert(path.to_vec(), d.clone());
                d
            }
            None => return ready(Err(FsError::not_found())),
        };
        if flags.contains(OpenFlags::TRUNC) {
            data.lock().unwrap().clear();
        }
        ready(Ok(Box::new(FuzzFile(data)) as Box<dyn File>))
    }

    fn opendir<'a>(&'a self, _path: &'a [u8]) -> FsFuture<'a, Box<dyn Dir>> {
        let files = self.files.lock().unwrap();
        let mut entries: Vec<DirEntry> = files
            .iter()
            .map(|(name, d)| DirEntry {
                name: name.clone(),
                attrs: attrs(d.lock().unwrap().len(), 0o100_644),
                owner_names: None,
            })
            .collect();
        for dot in [&b"."[..], b".."] {
            entries.push(DirEntry {
                name: dot.to_vec(),
                attrs: attrs(0, 0o040_755),
                owner_names: None,
            });
        }
        ready(Ok(Box::new(FuzzDir(entries)) as Box<dyn Dir>))
    }

    fn stat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        ready(self.stat_of(path))
    }

    fn lstat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        ready(self.stat_of(path))
    }

    fn setstat<'a>(&'a self, path: &'a [u8], a: &'a Attrs) -> FsFuture<'a, ()> {
        ready(self.file(path).and_then(|f| truncate(&f, a)))
    }

    fn lsetstat<'a>(&'a self, path: &'a [u8], a: &'a Attrs) -> FsFuture<'a, ()> {
        self.setstat(path, a)
    }

    fn remove<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        let removed = self.files.lock().unwrap().remove(path);
        ready(removed.map(drop).ok_or_else(FsError::not_found))
    }

    fn mkdir<'a>(&'a self, _path: &'a [u8], _attrs: &'a Attrs) -> FsFuture<'a, ()> {
        ready(Ok(()))
    }

    fn rmdir<'a>(&'a self, _path: &'a [u8]) -> FsFuture<'a, ()> {
        ready(Ok(()))
    }

    fn realpath<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(Ok(path.to_vec()))
    }

    fn rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        let mut files = self.files.lock().unwrap();
        let result = match files.remove(from) {
            Some(d) => {
                files.insert(to.to_vec(), d);
                Ok(())
            }
            None => Err(FsError::not_found()),
        };
        ready(result)
    }

    fn posix_rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        self.rename(from, to)
    }

    fn readlink<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(Ok(path.to_vec()))
    }

    fn symlink<'a>(&'a self, _link: &'a [u8], _target: &'a [u8]) -> FsFuture<'a, ()> {
        ready(Err(FsError::unsupported()))
    }

    fn hardlink<'a>(&'a self, old: &'a [u8], new: &'a [u8]) -> FsFuture<'a, ()> {
        let mut files = self.files.lock().unwrap();
        let result = match files.get(old).cloned() {
            Some(d) if files.len() < 64 => {
                files.insert(new.to_vec(), d);
                Ok(())
            }
            _ => Err(FsError::not_found()),
        };
        ready(result)
    }

    fn statvfs<'a>(&'a self, _path: &'a [u8]) -> FsFuture<'a, StatvfsReply> {
        ready(Ok(StatvfsReply::default()))
    }
}

/// A session on an empty [`FuzzFs`]: at most [`MAX_HANDLES`] handles, a home directory, the
/// given read-only flag.
pub fn fuzz_session(read_only: bool) -> Session {
    let config = ServerConfig {
        read_only,
        max_handles: MAX_HANDLES,
        user: "fuzz".to_owned(),
        home: Some(b"/home/fuzz".to_vec()),
        start_dir: b"/srv".to_vec(),
        ..ServerConfig::default()
    };
    Session::new(Arc::new(FuzzFs::default()), config, None)
}

/// Polls a future once, with a waker that does nothing.
pub fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}
