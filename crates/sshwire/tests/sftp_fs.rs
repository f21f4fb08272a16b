//! The SFTP file system backends: one functional suite run against both `MemoryFs` and
//! `LocalFs`, and the jail of `LocalFs` attacked with every escape we could spell, through
//! every method that takes a path, and while a thread swaps a directory for a link.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use sshwire::sftp_local::LocalFs;
use sshwire_sftp::fs::{File, Filesystem, FsError};
use sshwire_sftp::memory::MemoryFs;
use sshwire_sftp::{Attrs, OpenFlags, StatusCode, Times};

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

const READ: OpenFlags = OpenFlags::READ;
const WRITE: OpenFlags = OpenFlags::WRITE;

fn create() -> OpenFlags {
    OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREAT
}

fn none() -> Attrs {
    Attrs::default()
}

fn mode(m: u32) -> Attrs {
    Attrs {
        permissions: Some(m),
        ..Attrs::default()
    }
}

fn size(s: u64) -> Attrs {
    Attrs {
        size: Some(s),
        ..Attrs::default()
    }
}

fn times(atime: u32, mtime: u32) -> Attrs {
    Attrs {
        times: Some(Times { atime, mtime }),
        ..Attrs::default()
    }
}

/// The status of a result that must be an error.
fn code<T>(r: Result<T, FsError>) -> StatusCode {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.code,
    }
}

/// The functional tests, backend-agnostic: whatever passes here behaves as a POSIX file
/// system seen through OpenSSH's sftp-server.
mod suite {
    use super::*;

    /// What a backend's environment allows.
    #[derive(Clone, Copy)]
    pub struct Env {
        /// Permission bits do not stop this user (root on a local disk).
        pub privileged: bool,
    }

    pub async fn open(fs: &dyn Filesystem, path: &str, flags: OpenFlags) -> Box<dyn File> {
        fs.open(path.as_bytes(), flags, &none()).await.unwrap()
    }

    pub async fn put(fs: &dyn Filesystem, path: &str, data: &[u8]) {
        let flags = OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC;
        let f = open(fs, path, flags).await;
        f.write_at(0, data.to_vec()).await.unwrap();
        f.close().await.unwrap();
    }

    pub async fn get(fs: &dyn Filesystem, path: &str) -> Result<Vec<u8>, FsError> {
        let f = fs.open(path.as_bytes(), READ, &none()).await?;
        let mut out = Vec::new();
        loop {
            let chunk = f.read_at(out.len() as u64, 7).await?;
            if chunk.is_empty() {
                return Ok(out);
            }
            out.extend(chunk);
        }
    }

    /// Names and attributes of a listing, read a few entries at a time.
    pub async fn list(fs: &dyn Filesystem, path: &str) -> Vec<(String, Attrs)> {
        let mut dir = fs.opendir(path.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        loop {
            let batch = dir.next_entries(3).await.unwrap();
            assert!(batch.len() <= 3);
            if batch.is_empty() {
                break;
            }
            for e in batch {
                out.push((String::from_utf8(e.name).unwrap(), e.attrs));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub async fn names(fs: &dyn Filesystem, path: &str) -> Vec<String> {
        list(fs, path).await.into_iter().map(|(n, _)| n).collect()
    }

    pub async fn realpath(fs: &dyn Filesystem, path: &str) -> Result<String, FsError> {
        Ok(String::from_utf8(fs.realpath(path.as_bytes()).await?).unwrap())
    }

    pub async fn kind(fs: &dyn Filesystem, path: &str) -> u32 {
        fs.lstat(path.as_bytes())
            .await
            .unwrap()
            .permissions
            .unwrap()
            & S_IFMT
    }

    pub async fn writes_and_reads_at_offsets(fs: &dyn Filesystem, _: Env) {
        let f = open(fs, "/f", create()).await;
        f.write_at(0, b"hello".to_vec()).await.unwrap();
        f.write_at(10, b"world".to_vec()).await.unwrap();
        f.write_at(1, b"E".to_vec()).await.unwrap();
        assert_eq!(f.stat().await.unwrap().size, Some(15));
        assert_eq!(f.read_at(0, 100).await.unwrap(), b"hEllo\0\0\0\0\0world");
        assert_eq!(f.read_at(8, 4).await.unwrap(), b"\0\0wo");
        assert_eq!(f.read_at(13, 100).await.unwrap(), b"ld");
        assert!(f.read_at(15, 10).await.unwrap().is_empty());
        assert!(f.read_at(1 << 40, 10).await.unwrap().is_empty());
        f.close().await.unwrap();
        assert_eq!(get(fs, "/f").await.unwrap(), b"hEllo\0\0\0\0\0world");
        // A bigger file, read back in odd-sized pieces.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        put(fs, "/big", &big).await;
        assert_eq!(get(fs, "/big").await.unwrap(), big);
        let f = open(fs, "/big", READ).await;
        assert_eq!(f.read_at(1000, 200_000).await.unwrap(), &big[1000..201_000]);
    }

    pub async fn appends_go_to_the_end(fs: &dyn Filesystem, _: Env) {
        put(fs, "/log", b"one\n").await;
        let f = open(fs, "/log", OpenFlags::WRITE | OpenFlags::APPEND).await;
        f.write_at(0, b"two\n".to_vec()).await.unwrap();
        f.write_at(1, b"three\n".to_vec()).await.unwrap();
        f.close().await.unwrap();
        assert_eq!(get(fs, "/log").await.unwrap(), b"one\ntwo\nthree\n");
        let flags = OpenFlags::WRITE | OpenFlags::APPEND | OpenFlags::CREAT;
        let f = open(fs, "/new-log", flags).await;
        f.write_at(99, b"x".to_vec()).await.unwrap();
        assert_eq!(f.stat().await.unwrap().size, Some(1));
    }

    pub async fn truncates_by_flag_and_by_setstat(fs: &dyn Filesystem, _: Env) {
        put(fs, "/t", b"0123456789").await;
        fs.setstat(b"/t", &size(4)).await.unwrap();
        assert_eq!(get(fs, "/t").await.unwrap(), b"0123");
        fs.setstat(b"/t", &size(6)).await.unwrap();
        assert_eq!(get(fs, "/t").await.unwrap(), b"0123\0\0");
        let f = open(fs, "/t", OpenFlags::WRITE).await;
        f.setstat(&size(1)).await.unwrap();
        assert_eq!(f.stat().await.unwrap().size, Some(1));
        f.close().await.unwrap();
        let f = open(fs, "/t", OpenFlags::WRITE | OpenFlags::TRUNC).await;
        assert_eq!(f.stat().await.unwrap().size, Some(0));
        // Without TRUNC, an existing file keeps its content.
        put(fs, "/k", b"keep").await;
        let f = open(fs, "/k", OpenFlags::WRITE | OpenFlags::CREAT).await;
        f.write_at(0, b"K".to_vec()).await.unwrap();
        assert_eq!(get(fs, "/k").await.unwrap(), b"Keep");
        fs.mkdir(b"/d", &none()).await.unwrap();
        assert_eq!(code(fs.setstat(b"/d", &size(0)).await), StatusCode::FAILURE);
    }

    pub async fn exclusive_create(fs: &dyn Filesystem, _: Env) {
        let excl = OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::EXCL;
        let f = open(fs, "/x", excl).await;
        f.write_at(0, b"first".to_vec()).await.unwrap();
        f.close().await.unwrap();
        assert_eq!(
            code(fs.open(b"/x", excl, &none()).await),
            StatusCode::FAILURE
        );
        assert_eq!(get(fs, "/x").await.unwrap(), b"first");
        // A dangling link is not created through when the create is exclusive...
        fs.symlink(b"/dangling", b"target").await.unwrap();
        assert_eq!(
            code(fs.open(b"/dangling", excl, &none()).await),
            StatusCode::FAILURE
        );
        assert_eq!(code(fs.lstat(b"/target").await), StatusCode::NO_SUCH_FILE);
        // ...but is without EXCL, as open(2) does.
        put(fs, "/dangling", b"via link").await;
        assert_eq!(get(fs, "/target").await.unwrap(), b"via link");
    }

    pub async fn opens_that_fail(fs: &dyn Filesystem, _: Env) {
        assert_eq!(
            code(fs.open(b"/missing", READ, &none()).await),
            StatusCode::NO_SUCH_FILE
        );
        assert_eq!(
            code(fs.open(b"/missing", WRITE, &none()).await),
            StatusCode::NO_SUCH_FILE
        );
        assert_eq!(
            code(fs.open(b"/no/dir/f", create(), &none()).await),
            StatusCode::NO_SUCH_FILE
        );
        put(fs, "/file", b"").await;
        assert_eq!(
            code(fs.open(b"/file/f", create(), &none()).await),
            StatusCode::NO_SUCH_FILE
        );
        fs.mkdir(b"/dir", &none()).await.unwrap();
        for flags in [READ, WRITE] {
            assert_eq!(
                code(fs.open(b"/dir", flags, &none()).await),
                StatusCode::FAILURE
            );
        }
        assert!(fs.open(b"/", WRITE, &none()).await.is_err());
    }

    pub async fn renames(fs: &dyn Filesystem, _: Env) {
        put(fs, "/a", b"A").await;
        put(fs, "/b", b"B").await;
        // SFTP v3 rename never replaces.
        assert_eq!(code(fs.rename(b"/a", b"/b").await), StatusCode::FAILURE);
        assert_eq!(get(fs, "/a").await.unwrap(), b"A");
        assert_eq!(get(fs, "/b").await.unwrap(), b"B");
        fs.rename(b"/a", b"/c").await.unwrap();
        assert_eq!(code(fs.stat(b"/a").await), StatusCode::NO_SUCH_FILE);
        assert_eq!(get(fs, "/c").await.unwrap(), b"A");
        assert_eq!(
            code(fs.rename(b"/missing", b"/d").await),
            StatusCode::NO_SUCH_FILE
        );
        // posix-rename replaces.
        fs.posix_rename(b"/c", b"/b").await.unwrap();
        assert_eq!(get(fs, "/b").await.unwrap(), b"A");
        assert_eq!(code(fs.stat(b"/c").await), StatusCode::NO_SUCH_FILE);
        // Directories move with their content.
        fs.mkdir(b"/d", &none()).await.unwrap();
        put(fs, "/d/inner", b"I").await;
        fs.mkdir(b"/e", &none()).await.unwrap();
        fs.rename(b"/d", b"/e/d2").await.unwrap();
        assert_eq!(get(fs, "/e/d2/inner").await.unwrap(), b"I");
        assert_eq!(
            code(fs.rename(b"/e", b"/e/d2/inside").await),
            StatusCode::BAD_MESSAGE
        );
        // A link is renamed, not its target.
        fs.symlink(b"/l", b"b").await.unwrap();
        fs.rename(b"/l", b"/l2").await.unwrap();
        assert_eq!(kind(fs, "/l2").await, S_IFLNK);
        assert_eq!(get(fs, "/b").await.unwrap(), b"A");
    }

    pub async fn listings(fs: &dyn Filesystem, _: Env) {
        // Modes without group or other bits, which no umask changes.
        fs.mkdir(b"/d", &mode(0o700)).await.unwrap();
        for i in 0..7 {
            put(fs, &format!("/d/f{i}"), &vec![b'x'; i]).await;
        }
        fs.mkdir(b"/d/sub", &none()).await.unwrap();
        fs.symlink(b"/d/link", b"f3").await.unwrap();
        let entries = list(fs, "/d").await;
        let listed: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            listed,
            [
                ".", "..", "f0", "f1", "f2", "f3", "f4", "f5", "f6", "link", "sub"
            ]
        );
        let attrs: BTreeMap<&str, &Attrs> = entries.iter().map(|(n, a)| (n.as_str(), a)).collect();
        assert_eq!(attrs["f5"].size, Some(5));
        assert_eq!(attrs["f5"].permissions.unwrap() & S_IFMT, S_IFREG);
        assert_eq!(attrs["link"].permissions.unwrap() & S_IFMT, S_IFLNK);
        assert_eq!(attrs["sub"].permissions.unwrap() & S_IFMT, S_IFDIR);
        assert_eq!(attrs["."].permissions.unwrap() & 0o7777, 0o700);
        assert_eq!(attrs[".."], &fs.stat(b"/").await.unwrap());
        // `..` of the root is the root itself.
        let root = list(fs, "/").await;
        assert_eq!(root[0].1, root[1].1);
        // Listing follows a link to a directory, and fails on a file.
        fs.symlink(b"/dl", b"d/sub").await.unwrap();
        assert_eq!(names(fs, "/dl").await, [".", ".."]);
        assert_eq!(code(fs.opendir(b"/d/f1").await), StatusCode::NO_SUCH_FILE);
        assert_eq!(code(fs.opendir(b"/nope").await), StatusCode::NO_SUCH_FILE);
        // Entries removed after the opendir may or may not be listed, but nothing fails.
        let mut dir = fs.opendir(b"/d").await.unwrap();
        fs.remove(b"/d/f6").await.unwrap();
        while !dir.next_entries(100).await.unwrap().is_empty() {}
    }

    pub async fn chmod_and_utime(fs: &dyn Filesystem, _: Env) {
        // Modes without group or other bits, which no umask changes.
        let f = fs.open(b"/f", create(), &mode(0o600)).await.unwrap();
        assert_eq!(f.stat().await.unwrap().permissions, Some(S_IFREG | 0o600));
        f.setstat(&mode(0o640)).await.unwrap();
        assert_eq!(f.stat().await.unwrap().permissions, Some(S_IFREG | 0o640));
        f.setstat(&mode(0o600)).await.unwrap();
        f.setstat(&times(1_000_000, 2_000_000)).await.unwrap();
        let a = fs.stat(b"/f").await.unwrap();
        assert_eq!(a.permissions, Some(S_IFREG | 0o600));
        assert_eq!(
            a.times,
            Some(Times {
                atime: 1_000_000,
                mtime: 2_000_000
            })
        );
        fs.setstat(b"/f", &mode(0o4755)).await.unwrap();
        fs.setstat(b"/f", &times(5, 6)).await.unwrap();
        let a = fs.stat(b"/f").await.unwrap();
        assert_eq!(a.permissions, Some(S_IFREG | 0o4755));
        assert_eq!(a.times, Some(Times { atime: 5, mtime: 6 }));
        // Through a link, the target changes.
        fs.symlink(b"/l", b"f").await.unwrap();
        fs.setstat(b"/l", &mode(0o644)).await.unwrap();
        assert_eq!(
            fs.stat(b"/f").await.unwrap().permissions,
            Some(S_IFREG | 0o644)
        );
        // lsetstat changes the link's times, not the target's.
        fs.lsetstat(b"/l", &times(7, 8)).await.unwrap();
        assert_eq!(
            fs.lstat(b"/l").await.unwrap().times,
            Some(Times { atime: 7, mtime: 8 })
        );
        assert_eq!(
            fs.stat(b"/l").await.unwrap().times,
            Some(Times { atime: 5, mtime: 6 })
        );
        assert_eq!(
            code(fs.lsetstat(b"/f", &size(0)).await),
            StatusCode::BAD_MESSAGE
        );
        // Directories take their mode at mkdir and from setstat.
        fs.mkdir(b"/d", &mode(0o700)).await.unwrap();
        assert_eq!(
            fs.stat(b"/d").await.unwrap().permissions,
            Some(S_IFDIR | 0o700)
        );
        fs.setstat(b"/d", &mode(0o755)).await.unwrap();
        assert_eq!(
            fs.stat(b"/d").await.unwrap().permissions,
            Some(S_IFDIR | 0o755)
        );
        // Setting the owner to the present one always works.
        let owner = fs.stat(b"/f").await.unwrap().owner;
        let same = Attrs {
            owner,
            ..Attrs::default()
        };
        fs.setstat(b"/f", &same).await.unwrap();
        assert_eq!(fs.stat(b"/f").await.unwrap().owner, owner);
        assert_eq!(
            code(fs.setstat(b"/missing", &mode(0o600)).await),
            StatusCode::NO_SUCH_FILE
        );
    }

    pub async fn realpaths(fs: &dyn Filesystem, _: Env) {
        fs.mkdir(b"/a", &none()).await.unwrap();
        fs.mkdir(b"/a/b", &none()).await.unwrap();
        put(fs, "/a/b/f", b"").await;
        fs.symlink(b"/a/up", b"..").await.unwrap();
        fs.symlink(b"/abs", b"/a/b").await.unwrap();
        fs.symlink(b"/a/b/rel", b"f").await.unwrap();
        for (path, want) in [
            ("/", "/"),
            ("/.", "/"),
            ("/..", "/"),
            ("/../..", "/"),
            ("", "/"),
            (".", "/"),
            ("a", "/a"),
            ("//a//b/", "/a/b"),
            ("/a/./b/../b/f", "/a/b/f"),
            ("/a/up", "/"),
            ("/a/up/a/up/a", "/a"),
            ("/abs", "/a/b"),
            ("/abs/..", "/a"),
            ("/abs/rel", "/a/b/f"),
            ("/abs/missing", "/a/b/missing"),
            ("/abs/../../../x", "/x"),
        ] {
            assert_eq!(realpath(fs, path).await.unwrap(), want, "realpath {path:?}");
        }
        assert_eq!(
            code(realpath(fs, "/missing/x").await),
            StatusCode::NO_SUCH_FILE
        );
        assert_eq!(
            code(realpath(fs, "/a/b/f/x").await),
            StatusCode::NO_SUCH_FILE
        );
    }

    pub async fn removes(fs: &dyn Filesystem, _: Env) {
        fs.mkdir(b"/d", &none()).await.unwrap();
        put(fs, "/d/f", b"").await;
        assert_eq!(code(fs.remove(b"/d").await), StatusCode::FAILURE);
        assert_eq!(code(fs.rmdir(b"/d").await), StatusCode::FAILURE);
        assert_eq!(code(fs.rmdir(b"/d/f").await), StatusCode::NO_SUCH_FILE);
        assert_eq!(code(fs.remove(b"/d/nope").await), StatusCode::NO_SUCH_FILE);
        assert_eq!(code(fs.rmdir(b"/nope").await), StatusCode::NO_SUCH_FILE);
        fs.symlink(b"/l", b"d").await.unwrap();
        // A link to a directory is removed as a file, never as the directory.
        assert_eq!(code(fs.rmdir(b"/l").await), StatusCode::NO_SUCH_FILE);
        fs.remove(b"/l").await.unwrap();
        assert_eq!(kind(fs, "/d").await, S_IFDIR);
        fs.remove(b"/d/f").await.unwrap();
        fs.rmdir(b"/d").await.unwrap();
        assert_eq!(names(fs, "/").await, [".", ".."]);
        assert!(fs.rmdir(b"/").await.is_err());
        assert!(fs.remove(b"/").await.is_err());
    }

    pub async fn symlinks(fs: &dyn Filesystem, _: Env) {
        fs.mkdir(b"/d", &none()).await.unwrap();
        put(fs, "/d/f", b"content").await;
        fs.symlink(b"/rel", b"d/f").await.unwrap();
        fs.symlink(b"/abs", b"/d/f").await.unwrap();
        fs.symlink(b"/d/up", b"../../../../d/f").await.unwrap();
        fs.symlink(b"/chain", b"rel").await.unwrap();
        fs.symlink(b"/dangling", b"nowhere").await.unwrap();
        fs.symlink(b"/loop", b"loop").await.unwrap();
        fs.symlink(b"/weird", b"../\xff\x01 odd").await.unwrap();
        for p in ["/rel", "/abs", "/d/up", "/chain"] {
            assert_eq!(get(fs, p).await.unwrap(), b"content", "{p}");
            assert_eq!(kind(fs, p).await, S_IFLNK);
            let target = fs.stat(p.as_bytes()).await.unwrap();
            assert_eq!(target.permissions.unwrap() & S_IFMT, S_IFREG);
            assert_eq!(target.size, Some(7));
        }
        assert_eq!(fs.readlink(b"/d/up").await.unwrap(), b"../../../../d/f");
        assert_eq!(fs.readlink(b"/weird").await.unwrap(), b"../\xff\x01 odd");
        assert_eq!(fs.lstat(b"/abs").await.unwrap().size, Some(4));
        assert_eq!(code(fs.readlink(b"/d/f").await), StatusCode::BAD_MESSAGE);
        assert_eq!(code(fs.stat(b"/dangling").await), StatusCode::NO_SUCH_FILE);
        assert_eq!(code(fs.stat(b"/loop").await), StatusCode::NO_SUCH_FILE);
        assert_eq!(
            code(fs.open(b"/loop", create(), &none()).await),
            StatusCode::NO_SUCH_FILE
        );
        assert_eq!(
            code(fs.symlink(b"/rel", b"other").await),
            StatusCode::FAILURE
        );
    }

    pub async fn hardlinks(fs: &dyn Filesystem, _: Env) {
        put(fs, "/a", b"shared").await;
        fs.hardlink(b"/a", b"/b").await.unwrap();
        let f = open(fs, "/b", OpenFlags::WRITE).await;
        f.write_at(0, b"S".to_vec()).await.unwrap();
        f.close().await.unwrap();
        assert_eq!(get(fs, "/a").await.unwrap(), b"Shared");
        fs.remove(b"/a").await.unwrap();
        assert_eq!(get(fs, "/b").await.unwrap(), b"Shared");
        assert_eq!(code(fs.hardlink(b"/b", b"/b").await), StatusCode::FAILURE);
        assert_eq!(
            code(fs.hardlink(b"/missing", b"/c").await),
            StatusCode::NO_SUCH_FILE
        );
        fs.mkdir(b"/d", &none()).await.unwrap();
        assert_eq!(
            code(fs.hardlink(b"/d", b"/e").await),
            StatusCode::PERMISSION_DENIED
        );
    }

    pub async fn mkdirs(fs: &dyn Filesystem, _: Env) {
        fs.mkdir(b"/d", &none()).await.unwrap();
        assert_eq!(code(fs.mkdir(b"/d", &none()).await), StatusCode::FAILURE);
        assert_eq!(code(fs.mkdir(b"/", &none()).await), StatusCode::FAILURE);
        assert_eq!(
            code(fs.mkdir(b"/x/y", &none()).await),
            StatusCode::NO_SUCH_FILE
        );
        fs.mkdir(b"/d/../e/", &none()).await.unwrap();
        assert_eq!(kind(fs, "/e").await, S_IFDIR);
    }

    pub async fn owner_write_bit(fs: &dyn Filesystem, env: Env) {
        let f = fs.open(b"/ro", create(), &mode(0o444)).await.unwrap();
        // The creating open may write, whatever the new file's mode.
        f.write_at(0, b"x".to_vec()).await.unwrap();
        f.close().await.unwrap();
        assert!(fs.open(b"/ro", READ, &none()).await.is_ok());
        if env.privileged {
            return;
        }
        assert_eq!(
            code(fs.open(b"/ro", WRITE, &none()).await),
            StatusCode::PERMISSION_DENIED
        );
        assert_eq!(
            code(
                fs.open(b"/ro", OpenFlags::READ | OpenFlags::WRITE, &none())
                    .await
            ),
            StatusCode::PERMISSION_DENIED
        );
        fs.setstat(b"/ro", &mode(0o200)).await.unwrap();
        assert_eq!(
            code(fs.open(b"/ro", READ, &none()).await),
            StatusCode::PERMISSION_DENIED
        );
    }

    pub async fn statvfs_is_plausible(fs: &dyn Filesystem, _: Env) {
        let v = fs.statvfs(b"/").await.unwrap();
        assert!(v.bsize > 0 && v.frsize > 0);
        assert!(v.bfree <= v.blocks && v.bavail <= v.blocks);
        assert!(v.namemax >= 255);
        put(fs, "/f", b"").await;
        assert_eq!(fs.statvfs(b"/f").await.unwrap().blocks, v.blocks);
        let f = open(fs, "/f", READ).await;
        assert_eq!(f.statvfs().await.unwrap().blocks, v.blocks);
        assert_eq!(code(fs.statvfs(b"/nope").await), StatusCode::NO_SUCH_FILE);
    }

    pub async fn open_files_outlive_their_names(fs: &dyn Filesystem, _: Env) {
        put(fs, "/f", b"data").await;
        let f = open(fs, "/f", READ).await;
        fs.remove(b"/f").await.unwrap();
        assert_eq!(f.read_at(0, 10).await.unwrap(), b"data");
        assert_eq!(f.stat().await.unwrap().size, Some(4));
        f.sync().await.unwrap();
        f.close().await.unwrap();
        // A handle opened for reading only cannot write, and the other way round.
        put(fs, "/g", b"data").await;
        let r = open(fs, "/g", READ).await;
        assert!(r.write_at(0, b"x".to_vec()).await.is_err());
        let w = open(fs, "/g", WRITE).await;
        assert!(w.read_at(0, 1).await.is_err());
    }
}

/// Declares one test per suite function, for one backend.
macro_rules! suite_tests {
    ($make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (fs, env, _keep) = $make();
                crate::suite::$name(&*fs, env).await;
            }
        )*
    };
}

macro_rules! all_suite_tests {
    ($make:path) => {
        suite_tests!($make;
            writes_and_reads_at_offsets,
            appends_go_to_the_end,
            truncates_by_flag_and_by_setstat,
            exclusive_create,
            opens_that_fail,
            renames,
            listings,
            chmod_and_utime,
            realpaths,
            removes,
            symlinks,
            hardlinks,
            mkdirs,
            owner_write_bit,
            statvfs_is_plausible,
            open_files_outlive_their_names,
        );
    };
}

mod memory {
    use super::*;

    fn make() -> (Box<dyn Filesystem>, suite::Env, ()) {
        let fs = MemoryFs::new().with_owner(1000, 1000);
        (Box::new(fs), suite::Env { privileged: false }, ())
    }

    all_suite_tests!(make);
}

/// Whether permission bits fail to stop this process (as for root).
fn privileged(dir: &Path) -> bool {
    let probe = dir.join(".probe");
    std::fs::write(&probe, b"").unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o444)).unwrap();
    let writable = std::fs::OpenOptions::new().write(true).open(&probe).is_ok();
    std::fs::remove_file(&probe).unwrap();
    writable
}

mod local {
    use super::*;

    fn make() -> (Box<dyn Filesystem>, suite::Env, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let env = suite::Env {
            privileged: privileged(tmp.path()),
        };
        (Box::new(LocalFs::new(&root).unwrap()), env, tmp)
    }

    all_suite_tests!(make);

    #[tokio::test]
    async fn listings_name_owners() {
        let (fs, _, _tmp) = make();
        suite::put(&*fs, "/f", b"").await;
        let mut dir = fs.opendir(b"/").await.unwrap();
        let entries = dir.next_entries(10).await.unwrap();
        assert!(entries.iter().all(|e| e.owner_names.is_some()));
        let tmp = tempfile::tempdir().unwrap();
        let plain = LocalFs::new(tmp.path()).unwrap().with_owner_names(false);
        let mut dir = plain.opendir(b"/").await.unwrap();
        let entries = dir.next_entries(10).await.unwrap();
        assert!(entries.iter().all(|e| e.owner_names.is_none()));
    }

    #[tokio::test]
    async fn fifos_are_refused_without_blocking() {
        let (_, _, tmp) = make();
        let fifo = tmp.path().join("root/fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("SKIPPED: mkfifo is not available");
            return;
        }
        // Allowing character devices does not let a FIFO in.
        for devices in [false, true] {
            let fs = LocalFs::new(tmp.path().join("root"))
                .unwrap()
                .with_devices(devices);
            for flags in [READ, WRITE, create()] {
                let e = fs.open(b"/fifo", flags, &none()).await.err().unwrap();
                assert_ne!(e.code, StatusCode::OK);
            }
            assert!(fs.setstat(b"/fifo", &size(0)).await.is_err());
            assert_eq!(suite::kind(&fs, "/fifo").await, 0o010_000);
        }
    }

    #[tokio::test]
    async fn character_devices_open_only_when_allowed() {
        let whole = LocalFs::new("/").unwrap();
        for flags in [READ, WRITE, create()] {
            let e = whole
                .open(b"/dev/null", flags, &none())
                .await
                .err()
                .unwrap();
            assert_eq!(e.code, StatusCode::FAILURE);
        }
        let whole = whole.with_devices(true);
        // `put big /dev/null`: OpenSSH's sftp opens with CREAT and TRUNC, then writes.
        let sink = whole.open(b"/dev/null", create(), &none()).await.unwrap();
        sink.write_at(0, vec![7; 4096]).await.unwrap();
        sink.write_at(1 << 40, vec![7; 4096]).await.unwrap();
        let zero = whole.open(b"/dev/zero", READ, &none()).await.unwrap();
        assert_eq!(zero.read_at(12345, 1000).await.unwrap(), vec![0; 1000]);
        // Truncating is for regular files still.
        assert!(whole.setstat(b"/dev/null", &size(0)).await.is_err());
        // The jail holds: /dev/null of a root elsewhere is that root's own, and absent.
        let (_, _, tmp) = make();
        let jailed = LocalFs::new(tmp.path().join("root"))
            .unwrap()
            .with_devices(true);
        let e = jailed
            .open(b"/dev/null", WRITE, &none())
            .await
            .err()
            .unwrap();
        assert_eq!(e.code, StatusCode::NO_SUCH_FILE);
    }

    #[test]
    fn futures_outside_a_runtime_fail_instead_of_panicking() {
        let (fs, _, _tmp) = make();
        let result = futures_lite_block_on(fs.stat(b"/"));
        assert_eq!(result.unwrap_err().code, StatusCode::FAILURE);
    }

    /// Polls a future that completes without waking (as ours does when it fails at once).
    fn futures_lite_block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        use std::task::{Context, Poll, Waker};
        let mut cx = Context::from_waker(Waker::noop());
        match std::pin::pin!(f).poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("pending outside a runtime"),
        }
    }
}

/// The jail: a root with links pointing out, and a secret next to it.
mod jail {
    use super::*;

    const SECRET: &[u8] = b"TOP SECRET";

    struct Fixture {
        tmp: tempfile::TempDir,
        fs: LocalFs,
        before: BTreeMap<PathBuf, String>,
        passwd: String,
    }

    impl Fixture {
        fn new() -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            let t = tmp.path();
            std::fs::write(t.join("secret"), SECRET).unwrap();
            std::fs::create_dir(t.join("outside")).unwrap();
            std::fs::write(t.join("outside/file"), b"OUTSIDE FILE").unwrap();
            std::fs::create_dir(t.join("empty_out")).unwrap();
            std::fs::write(t.join("hl_target"), b"linked in").unwrap();
            let r = t.join("root");
            std::fs::create_dir(&r).unwrap();
            std::fs::create_dir(r.join("a")).unwrap();
            std::fs::write(r.join("a/f"), b"inside").unwrap();
            symlink(t.join("secret"), r.join("abs_secret")).unwrap();
            symlink("/etc/passwd", r.join("abs_passwd")).unwrap();
            symlink("../secret", r.join("rel_secret")).unwrap();
            symlink("../../secret", r.join("a/rel2")).unwrap();
            symlink(t.join("outside"), r.join("abs_outdir")).unwrap();
            symlink("../outside", r.join("rel_outdir")).unwrap();
            symlink("../empty_out", r.join("rel_empty")).unwrap();
            symlink("loop2", r.join("loop1")).unwrap();
            symlink("loop1", r.join("loop2")).unwrap();
            std::fs::hard_link(t.join("hl_target"), r.join("hl")).unwrap();
            let fs = LocalFs::new(&r).unwrap();
            Fixture {
                before: outside_snapshot(t),
                passwd: describe(Path::new("/etc/passwd")),
                fs,
                tmp,
            }
        }

        fn root(&self) -> PathBuf {
            self.tmp.path().join("root")
        }

        /// Nothing outside the root changed: no file, link, mode, owner, size, time or byte.
        fn assert_outside_unchanged(&self) {
            assert_eq!(outside_snapshot(self.tmp.path()), self.before);
            assert_eq!(describe(Path::new("/etc/passwd")), self.passwd);
        }
    }

    /// One line about a file: type and mode, owner, size, mtime, and content or target.
    fn describe(p: &Path) -> String {
        let m = std::fs::symlink_metadata(p).unwrap();
        let content = if m.file_type().is_symlink() {
            format!("-> {:?}", std::fs::read_link(p).unwrap())
        } else if m.is_file() {
            format!("{:?}", std::fs::read(p).unwrap())
        } else {
            String::new()
        };
        format!(
            "{:o} {}:{} {} {}.{} {content}",
            m.mode(),
            m.uid(),
            m.gid(),
            m.size(),
            m.mtime(),
            m.mtime_nsec()
        )
    }

    /// Everything under `tmp` but the root (the tempdir itself too).
    fn outside_snapshot(tmp: &Path) -> BTreeMap<PathBuf, String> {
        fn walk(p: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, String>) {
            out.insert(p.to_path_buf(), describe(p));
            if std::fs::symlink_metadata(p).unwrap().is_dir() {
                for e in std::fs::read_dir(p).unwrap() {
                    let path = e.unwrap().path();
                    if path != skip {
                        walk(&path, skip, out);
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(tmp, &tmp.join("root"), &mut out);
        let _ = std::fs::symlink_metadata(tmp.join("root")).unwrap();
        out
    }

    /// Escapes spelled with `..`: each resolves to a name inside the root.
    const DOTDOT: &[&str] = &[
        "/../secret",
        "../secret",
        "/a/../../secret",
        "/./../../../secret",
        "//..//..//secret",
        "/a/../../outside/file",
        "/../outside/file",
        "/../root/a/f",
    ];
    /// Escapes that cross a link leading out before their last component.
    const THROUGH: &[&str] = &[
        "/abs_outdir/file",
        "/rel_outdir/file",
        "/abs_outdir/../secret",
        "/rel_outdir/../secret",
        "/abs_passwd/x",
        "/loop1/x",
        "/a/rel2/x",
        "/rel_empty/.",
    ];
    /// Links leading out, as the last component.
    const FINAL: &[&str] = &[
        "/abs_secret",
        "/rel_secret",
        "/a/rel2",
        "/abs_passwd",
        "/loop1",
        "/abs_outdir",
        "/rel_outdir",
        "/rel_empty",
    ];

    fn all() -> impl Iterator<Item = &'static str> {
        DOTDOT.iter().chain(THROUGH).chain(FINAL).copied()
    }

    fn assert_not_found<T>(what: &str, path: &str, r: Result<T, FsError>) {
        match r {
            Ok(_) => panic!("{what} {path:?} succeeded"),
            Err(e) => assert_eq!(e, FsError::not_found(), "{what} {path:?}"),
        }
    }

    #[tokio::test]
    async fn reads_and_lookups_find_nothing_outside() {
        let fx = Fixture::new();
        let fs: &dyn Filesystem = &fx.fs;
        for p in all() {
            let b = p.as_bytes();
            assert_not_found("open", p, fs.open(b, READ, &none()).await);
            assert_not_found("stat", p, fs.stat(b).await);
            assert_not_found("opendir", p, fs.opendir(b).await);
            assert_not_found("statvfs", p, fs.statvfs(b).await);
            assert_not_found("setstat", p, fs.setstat(b, &mode(0o777)).await);
            assert_not_found("setstat", p, fs.setstat(b, &size(0)).await);
            assert_not_found("setstat", p, fs.setstat(b, &times(1, 1)).await);
        }
        for &p in DOTDOT.iter().chain(THROUGH) {
            let b = p.as_bytes();
            assert_not_found("lstat", p, fs.lstat(b).await);
            assert_not_found("lsetstat", p, fs.lsetstat(b, &times(1, 1)).await);
            assert_not_found("readlink", p, fs.readlink(b).await);
            assert_not_found("remove", p, fs.remove(b).await);
            assert_not_found("rmdir", p, fs.rmdir(b).await);
        }
        // The links themselves are inside: they can be looked at, and read as stored.
        for &p in FINAL {
            let b = p.as_bytes();
            assert_eq!(suite::kind(fs, p).await, S_IFLNK, "{p}");
            assert!(!fs.readlink(b).await.unwrap().is_empty());
            fs.lsetstat(b, &times(3, 3)).await.unwrap();
            // rmdir of a link to a directory is ENOTDIR, which reads as not-found too.
            assert_not_found("rmdir", p, fs.rmdir(b).await);
        }
        assert_eq!(
            fs.readlink(b"/abs_secret").await.unwrap(),
            fx.tmp.path().join("secret").as_os_str().as_encoded_bytes()
        );
        fx.assert_outside_unchanged();
    }

    #[tokio::test]
    async fn realpath_stays_inside() {
        let fx = Fixture::new();
        let fs: &dyn Filesystem = &fx.fs;
        for p in all() {
            match suite::realpath(fs, p).await {
                Ok(real) => {
                    assert!(real.starts_with('/'), "{p} -> {real}");
                    assert!(
                        !real.split('/').any(|c| c == ".." || c == "."),
                        "{p} -> {real}"
                    );
                    let inside = fx.root().join(real.trim_start_matches('/'));
                    assert!(inside.parent().unwrap().exists(), "{p} -> {real}");
                }
                Err(e) => assert_eq!(e, FsError::not_found(), "{p}"),
            }
        }
        for (p, want) in [
            ("/../secret", "/secret"),
            ("/a/../../secret", "/secret"),
            ("/rel_secret", "/secret"),
            ("/a/rel2", "/secret"),
            ("/rel_outdir", "/outside"),
        ] {
            assert_eq!(
                suite::realpath(fs, p).await.ok().as_deref(),
                Some(want),
                "{p}"
            );
        }
        for p in THROUGH
            .iter()
            .chain(&["/abs_secret", "/abs_outdir", "/loop1"])
        {
            assert_not_found("realpath", p, suite::realpath(fs, p).await);
        }
    }

    #[tokio::test]
    async fn creates_and_writes_land_inside_or_nowhere() {
        let fx = Fixture::new();
        let fs: &dyn Filesystem = &fx.fs;
        let flags = OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC;
        for p in all() {
            match fs.open(p.as_bytes(), flags, &mode(0o666)).await {
                Ok(f) => {
                    f.write_at(0, b"PWNED".to_vec()).await.unwrap();
                    f.close().await.unwrap();
                }
                Err(e) => assert_eq!(e, FsError::not_found(), "open {p}"),
            }
        }
        for p in THROUGH {
            assert_not_found("open", p, fs.open(p.as_bytes(), flags, &none()).await);
        }
        // The `..` spellings and the relative links made `/secret` and `/outside` inside.
        assert_eq!(std::fs::read(fx.root().join("secret")).unwrap(), b"PWNED");
        assert_eq!(std::fs::read(fx.root().join("outside")).unwrap(), b"PWNED");
        fx.assert_outside_unchanged();
        // An existing hard link to an outside inode is just a file of the root.
        assert_eq!(suite::get(fs, "/hl").await.unwrap(), b"linked in");
    }

    #[tokio::test]
    async fn directories_are_made_and_removed_inside_only() {
        let fx = Fixture::new();
        let fs: &dyn Filesystem = &fx.fs;
        for p in [
            "/abs_outdir/evil",
            "/rel_outdir/evil",
            "/../outside/evil",
            "/a/../../outside/evil",
            "/loop1/evil",
        ] {
            assert_not_found("mkdir", p, fs.mkdir(p.as_bytes(), &none()).await);
        }
        fs.mkdir(b"/../made", &none()).await.unwrap();
        assert!(fx.root().join("made").is_dir());
        for p in [
            "/../empty_out",
            "/rel_empty",
            "/rel_empty/",
            "/a/../../empty_out",
        ] {
            assert_not_found("rmdir", p, fs.rmdir(p.as_bytes()).await);
        }
        fx.assert_outside_unchanged();
    }

    #[tokio::test]
    async fn renames_and_links_stay_inside() {
        let fx = Fixture::new();
        let fs: &dyn Filesystem = &fx.fs;
        for &p in DOTDOT.iter().chain(THROUGH) {
            let b = p.as_bytes();
            assert_not_found("rename from", p, fs.rename(b, b"/x").await);
            assert_not_found("posix-rename from", p, fs.posix_rename(b, b"/x").await);
            assert_not_found("hardlink from", p, fs.hardlink(b, b"/h").await);
        }
        for &p in THROUGH {
            let b = p.as_bytes();
            assert_not_found("rename to", p, fs.rename(b"/a/f", b).await);
            assert_not_found("posix-rename to", p, fs.posix_rename(b"/a/f", b).await);
            assert_not_found("hardlink to", p, fs.hardlink(b"/a/f", b).await);
            assert_not_found("symlink at", p, fs.symlink(b, b"/a/f").await);
        }
        assert_eq!(std::fs::read(fx.root().join("a/f")).unwrap(), b"inside");
        // Replacing a link that points out replaces the link, not what it points at.
        suite::put(fs, "/new", b"replacement").await;
        fs.posix_rename(b"/new", b"/abs_secret").await.unwrap();
        assert_eq!(suite::kind(fs, "/abs_secret").await, S_IFREG);
        // A rename "up and out" lands in the root.
        fs.rename(b"/a/f", b"/../../moved").await.unwrap();
        assert_eq!(std::fs::read(fx.root().join("moved")).unwrap(), b"inside");
        // A hard link to a link that points out is a link that still resolves inside.
        fs.hardlink(b"/rel_secret", b"/h2").await.unwrap();
        assert_not_found("open", "/h2", fs.open(b"/h2", READ, &none()).await);
        // Any target text may be stored; following it stays inside.
        let target = fx.tmp.path().join("secret");
        let target = target.as_os_str().as_encoded_bytes();
        fs.symlink(b"/mine", target).await.unwrap();
        fs.symlink(b"/mine2", b"../../../../../../secret")
            .await
            .unwrap();
        for p in ["/mine", "/mine2"] {
            assert_not_found("open", p, fs.open(p.as_bytes(), READ, &none()).await);
            let flags = OpenFlags::WRITE | OpenFlags::TRUNC;
            assert_not_found("open", p, fs.open(p.as_bytes(), flags, &none()).await);
        }
        fx.assert_outside_unchanged();
    }

    #[tokio::test]
    async fn removing_links_removes_only_the_links() {
        let fx = Fixture::new();
        let fs: &dyn Filesystem = &fx.fs;
        for &p in FINAL {
            fs.remove(p.as_bytes()).await.unwrap();
        }
        fx.assert_outside_unchanged();
    }

    #[tokio::test]
    async fn the_root_parent_lists_the_root() {
        let fx = Fixture::new();
        let fs: &dyn Filesystem = &fx.fs;
        let root = suite::names(fs, "/").await;
        assert!(root.contains(&"abs_secret".to_owned()));
        for p in ["/..", "/../..", "/a/../..", "../../.."] {
            assert_eq!(suite::names(fs, p).await, root, "{p}");
        }
        let v = fs.statvfs(b"/..").await.unwrap();
        assert!(v.blocks > 0);
    }

    #[tokio::test]
    async fn overlong_paths_are_refused() {
        let fx = Fixture::new();
        let long = "/a".repeat(3000);
        let e = fx.fs.stat(long.as_bytes()).await.unwrap_err();
        assert_eq!(e.code, StatusCode::BAD_MESSAGE);
        // Deep `..` chains cost a bounded amount of work.
        let mut p = "/a".to_owned();
        for _ in 0..600 {
            p.push_str("/../a");
        }
        p.push_str("/f");
        assert_eq!(suite::get(&fx.fs, &p).await.unwrap(), b"inside");
    }

    /// A thread swaps a directory inside the root with a link to a directory outside, as
    /// fast as it can, while requests go through that name: nothing may land outside.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_a_directory_swap_never_reaches_outside() {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

        let fx = Fixture::new();
        let root = fx.root();
        std::fs::create_dir(root.join("swap")).unwrap();
        symlink(fx.tmp.path().join("outside"), root.join("decoy")).unwrap();
        std::fs::create_dir(root.join("swap2")).unwrap();
        symlink("../outside", root.join("decoy2")).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let attacker = {
            let (stop, swaps, root) = (Arc::clone(&stop), Arc::clone(&swaps), root.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for (a, b) in [("swap", "decoy"), ("swap2", "decoy2")] {
                        let flags = RenameFlags::EXCHANGE;
                        renameat_with(CWD, root.join(a), CWD, root.join(b), flags).unwrap();
                    }
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        // Start once the swapping has (spinning, not sleeping).
        while swaps.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        let fs: &dyn Filesystem = &fx.fs;
        let flags = OpenFlags::WRITE | OpenFlags::CREAT;
        let mut ok = 0;
        for i in 0..300 {
            for dir in ["/swap", "/swap2"] {
                let file = format!("{dir}/f{i}");
                if let Ok(f) = fs.open(file.as_bytes(), flags, &none()).await {
                    ok += 1;
                    let _ = f.write_at(0, b"PWNED".to_vec()).await;
                }
                let _ = fs
                    .setstat(format!("{dir}/file").as_bytes(), &mode(0o777))
                    .await;
                let _ = fs.setstat(format!("{dir}/file").as_bytes(), &size(0)).await;
                let _ = fs.mkdir(format!("{dir}/d{i}").as_bytes(), &none()).await;
                let _ = fs.symlink(format!("{dir}/l{i}").as_bytes(), b"x").await;
                let _ = fs.remove(format!("{dir}/file").as_bytes()).await;
                let _ = fs.rename(format!("{dir}/file").as_bytes(), b"/got").await;
                let _ = fs
                    .hardlink(format!("{dir}/file").as_bytes(), b"/got2")
                    .await;
                if let Ok(f) = fs
                    .open(format!("{dir}/file").as_bytes(), READ, &none())
                    .await
                {
                    assert_ne!(f.read_at(0, 100).await.unwrap(), b"OUTSIDE FILE");
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        attacker.join().unwrap();
        assert!(swaps.load(Ordering::Relaxed) > 0);
        assert!(ok > 0, "no request got through at all");
        fx.assert_outside_unchanged();
    }
}
