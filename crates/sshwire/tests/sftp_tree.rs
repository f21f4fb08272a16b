//! Tree transfers (`get -r`, `put -r`, `reget -r`), sync, exclusions, globs and hostile
//! servers: our client against our server over an in-memory stream, serving a `MemoryFs`, a
//! wrapper around one that misbehaves, or a `LocalFs` over a temporary directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use sshwire::sftp::fs::{Capability, Dir, DirEntry, File, Filesystem, FsError, FsFuture, ready};
use sshwire::sftp::memory::MemoryFs;
use sshwire::sftp::server::ServerConfig;
use sshwire::sftp::{Attrs, OpenFlags, StatusCode};
use sshwire::sftp_client::{SftpClient, SftpError};
use sshwire::sftp_glob::local_glob;
use sshwire::sftp_local::LocalFs;
use sshwire::sftp_transfer::{Transfer, TransferError};
use sshwire::sftp_tree::{
    MAX_TREE_DEPTH, SKIP_EXCLUDED, SKIP_LINK_LOOP, SKIP_NOT_REGULAR, SKIP_UNCHANGED, TreeEvents,
    TreeSummary, TreeTransfer,
};

/// A client talking to our server serving `fs`.
async fn pair(fs: Arc<dyn Filesystem>) -> SftpClient {
    let (a, b) = tokio::io::duplex(512 * 1024);
    tokio::spawn(async move {
        let _ = sshwire::sftp_server::serve(b, fs, ServerConfig::default(), None).await;
    });
    SftpClient::new(a).await.unwrap()
}

async fn memory_pair(fs: &MemoryFs) -> SftpClient {
    pair(Arc::new(fs.clone())).await
}

fn mode(m: u32) -> Attrs {
    Attrs {
        permissions: Some(m),
        ..Attrs::default()
    }
}

/// Everything a tree transfer reports, in order.
#[derive(Default)]
struct Recorder {
    /// What `failed` answers.
    go_on: bool,
    entered: Vec<String>,
    started: Vec<String>,
    done: Vec<(String, u64)>,
    skipped: Vec<(String, String)>,
    failed: Vec<(String, String)>,
    /// The first progress report of each file.
    first_progress: BTreeMap<String, u64>,
    in_flight: usize,
    most_in_flight: usize,
}

impl Recorder {
    fn going_on() -> Recorder {
        Recorder {
            go_on: true,
            ..Recorder::default()
        }
    }

    fn skipped_for(&self, why: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .skipped
            .iter()
            .filter(|(_, w)| w == why)
            .map(|(f, _)| f.clone())
            .collect();
        v.sort();
        v
    }
}

impl TreeEvents for Recorder {
    fn entering(&mut self, from: &str, _to: &str) {
        self.entered.push(from.to_owned());
    }
    fn file_started(&mut self, from: &str, _to: &str, _size: Option<u64>) {
        self.started.push(from.to_owned());
        self.in_flight += 1;
        self.most_in_flight = self.most_in_flight.max(self.in_flight);
    }
    fn progress(&mut self, from: &str, done: u64, _total: Option<u64>) {
        self.first_progress.entry(from.to_owned()).or_insert(done);
    }
    fn file_done(&mut self, from: &str, _to: &str, bytes: u64) {
        self.done.push((from.to_owned(), bytes));
        self.in_flight -= 1;
    }
    fn skipped(&mut self, from: &str, why: &str) {
        self.skipped.push((from.to_owned(), why.to_owned()));
    }
    fn failed(&mut self, from: &str, error: &TransferError) -> bool {
        self.failed.push((from.to_owned(), error.to_string()));
        if self.started.iter().any(|s| s == from) {
            self.in_flight -= 1;
        }
        self.go_on
    }
}

/// What a tree holds, by path relative to its top: directories with their mode, files with
/// their mode, mtime and content.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir(u32),
    File(u32, u32, Vec<u8>),
}

/// A local tree, links not followed and left out.
fn local_tree(top: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        for entry in std::fs::read_dir(top.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let rel = rel.join(entry.file_name());
            let key = rel.to_str().unwrap().to_owned();
            if meta.is_dir() {
                out.insert(key, Node::Dir(meta.mode() & 0o7777));
                todo.push(rel);
            } else if meta.is_file() {
                let data = std::fs::read(entry.path()).unwrap();
                out.insert(
                    key,
                    Node::File(meta.mode() & 0o7777, meta.mtime() as u32, data),
                );
            }
        }
    }
    out
}

/// A remote tree read through the client, links left out.
async fn remote_tree(sftp: &SftpClient, top: &[u8]) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut todo = vec![String::new()];
    while let Some(rel) = todo.pop() {
        let dir = format!("{}/{rel}", String::from_utf8_lossy(top));
        for e in sftp.list(dir.as_bytes()).await.unwrap() {
            let name = String::from_utf8(e.filename).unwrap();
            if name == "." || name == ".." {
                continue;
            }
            let key = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let m = e.attrs.permissions.unwrap();
            match m & 0o170000 {
                0o040000 => {
                    out.insert(key.clone(), Node::Dir(m & 0o7777));
                    todo.push(key);
                }
                0o100000 => {
                    let path = format!("{dir}/{name}");
                    let h = sftp
                        .open(path.as_bytes(), OpenFlags::READ, Attrs::default())
                        .await
                        .unwrap();
                    let mut data = Vec::new();
                    while let Some(chunk) = sftp.read(&h, data.len() as u64, 1 << 18).await.unwrap()
                    {
                        data.extend(chunk);
                    }
                    sftp.close(&h).await.unwrap();
                    let mtime = e.attrs.times.unwrap().mtime;
                    out.insert(key, Node::File(m & 0o7777, mtime, data));
                }
                _ => {}
            }
        }
    }
    out
}

/// The same tree with modification times left out (what a transfer without `preserve`
/// keeps).
fn without_times(tree: &BTreeMap<String, Node>) -> BTreeMap<String, Vec<u8>> {
    tree.iter()
        .filter_map(|(k, n)| match n {
            Node::File(_, _, d) => Some((k.clone(), d.clone())),
            Node::Dir(_) => None,
        })
        .collect()
}

fn big(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// The sample tree in a `MemoryFs` under `/t`: nested directories, an empty one, a 0-byte
/// file, a 3 MB file, a read-only file, a link, various modes, at time 1_000_000.
async fn memory_sample(fs: &MemoryFs) {
    fs.set_time(1_000_000);
    fs.mkdir(b"/t", &mode(0o750)).await.unwrap();
    fs.mkdir(b"/t/empty", &mode(0o700)).await.unwrap();
    fs.mkdir(b"/t/sub", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/t/sub/deeper", &mode(0o711)).await.unwrap();
    fs.write_file(b"/t/a.txt", b"hello").unwrap();
    fs.write_file(b"/t/zero", b"").unwrap();
    fs.write_file(b"/t/sub/big", &big(3_000_000)).unwrap();
    fs.write_file(b"/t/sub/deeper/ro", b"read only").unwrap();
    fs.setstat(b"/t/a.txt", &mode(0o640)).await.unwrap();
    fs.setstat(b"/t/zero", &mode(0o600)).await.unwrap();
    fs.setstat(b"/t/sub/deeper/ro", &mode(0o444)).await.unwrap();
    fs.symlink(b"/t/link", b"a.txt").await.unwrap();
}

fn preserving() -> TreeTransfer {
    TreeTransfer {
        file: Transfer {
            preserve: true,
            ..Transfer::default()
        },
        ..TreeTransfer::default()
    }
}

#[tokio::test]
async fn a_tree_goes_down_and_back_up_intact_over_memory_fs() {
    let fs = MemoryFs::new();
    memory_sample(&fs).await;
    let sftp = memory_pair(&fs).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("dl");

    let mut events = Recorder::default();
    let summary = sftp
        .download_tree(b"/t", &local, &preserving(), &mut events)
        .await
        .unwrap();
    assert_eq!(
        summary,
        TreeSummary {
            files: 4,
            bytes: 5 + 3_000_000 + 9,
            skipped: 1,
            failed: 0,
            dirs: 4,
        }
    );
    assert_eq!(events.entered[0], "/t");
    assert_eq!(events.skipped_for(SKIP_NOT_REGULAR), vec!["/t/link"]);
    let remote = remote_tree(&sftp, b"/t").await;
    assert_eq!(remote.len(), 7);
    assert_eq!(local_tree(&local), remote);
    // The top directory gets the source's mode and time too.
    let top = std::fs::metadata(&local).unwrap();
    assert_eq!(top.mode() & 0o7777, 0o750);
    assert_eq!(top.mtime(), 1_000_000);

    // And back up, into a new remote directory.
    let summary = sftp
        .upload_tree(&local, b"/back", &preserving(), &mut ())
        .await
        .unwrap();
    assert_eq!(summary.files, 4);
    assert_eq!(summary.dirs, 4);
    assert_eq!(remote_tree(&sftp, b"/back").await, remote);
    let top = fs.stat(b"/back").await.unwrap();
    assert_eq!(top.permissions.unwrap() & 0o7777, 0o750);
    assert_eq!(top.times.unwrap().mtime, 1_000_000);
}

#[tokio::test]
async fn a_tree_goes_up_and_back_down_intact_over_local_fs() {
    let served = tempfile::tempdir().unwrap();
    let sftp = pair(Arc::new(LocalFs::new(served.path()).unwrap())).await;
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::create_dir(src.join("empty")).unwrap();
    std::fs::write(src.join("a.txt"), b"hello").unwrap();
    std::fs::write(src.join("zero"), b"").unwrap();
    std::fs::write(src.join("sub/big"), big(3_000_000)).unwrap();
    std::fs::write(src.join("sub/deeper/ro"), b"read only").unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    for (path, m) in [
        ("", 0o750),
        ("empty", 0o700),
        ("sub/deeper", 0o711),
        ("a.txt", 0o640),
        ("zero", 0o600),
        ("sub/deeper/ro", 0o444),
    ] {
        std::fs::set_permissions(src.join(path), std::fs::Permissions::from_mode(m)).unwrap();
    }
    let original = local_tree(&src);
    assert_eq!(original.len(), 7);

    let mut events = Recorder::default();
    let summary = sftp
        .upload_tree(&src, b"/up", &preserving(), &mut events)
        .await
        .unwrap();
    assert_eq!(summary.files, 4);
    assert_eq!(summary.skipped, 1);
    assert_eq!(
        events.skipped_for(SKIP_NOT_REGULAR),
        vec![src.join("link").display().to_string()]
    );
    assert_eq!(local_tree(&served.path().join("up")), original);
    assert!(!served.path().join("up/link").exists());

    let back = work.path().join("back");
    let summary = sftp
        .download_tree(b"/up", &back, &preserving(), &mut ())
        .await
        .unwrap();
    assert_eq!(summary.files, 4);
    assert_eq!(local_tree(&back), original);

    // Without preserve, the contents still arrive.
    let plain = work.path().join("plain");
    sftp.download_tree(b"up", &plain, &TreeTransfer::default(), &mut ())
        .await
        .unwrap();
    assert_eq!(without_times(&local_tree(&plain)), without_times(&original));
}

#[tokio::test]
async fn excluded_entries_are_neither_transferred_nor_entered() {
    let fs = MemoryFs::new();
    fs.mkdir(b"/t", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/t/skip", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/t/keep", &mode(0o755)).await.unwrap();
    for f in [
        "a.log",
        "b.txt",
        "skip/inside.txt",
        "keep/c.log",
        "keep/d.txt",
        ".h.log",
    ] {
        fs.write_file(format!("/t/{f}").as_bytes(), f.as_bytes())
            .unwrap();
    }
    let sftp = memory_pair(&fs).await;
    let dir = tempfile::tempdir().unwrap();
    let how = TreeTransfer {
        exclude: vec![b"*.log".to_vec(), b"sk?p".to_vec()],
        ..TreeTransfer::default()
    };
    let mut events = Recorder::default();
    let summary = sftp
        .download_tree(b"/t", dir.path(), &how, &mut events)
        .await
        .unwrap();
    let got: Vec<String> = without_times(&local_tree(dir.path())).into_keys().collect();
    // A leading dot needs an explicit dot: `*.log` leaves `.h.log` alone.
    assert_eq!(got, vec![".h.log", "b.txt", "keep/d.txt"]);
    assert!(!dir.path().join("skip").exists());
    assert_eq!(
        events.skipped_for(SKIP_EXCLUDED),
        vec!["/t/a.log", "/t/keep/c.log", "/t/skip"]
    );
    assert!(!events.entered.contains(&"/t/skip".to_owned()));
    assert_eq!(summary.skipped, 3);
    assert_eq!(summary.files, 3);
}

#[tokio::test]
async fn sync_transfers_only_what_is_missing_or_changed() {
    let fs = MemoryFs::new();
    fs.set_time(1000);
    fs.mkdir(b"/t", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/t/sub", &mode(0o755)).await.unwrap();
    for f in ["a", "b", "sub/c"] {
        fs.write_file(format!("/t/{f}").as_bytes(), b"four")
            .unwrap();
    }
    let sftp = memory_pair(&fs).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("mirror");
    let how = TreeTransfer {
        sync: true,
        ..TreeTransfer::default()
    };

    let first = sftp
        .download_tree(b"/t", &local, &how, &mut ())
        .await
        .unwrap();
    assert_eq!((first.files, first.skipped), (3, 0));
    // Sync keeps the times, so the next run finds everything unchanged.
    assert_eq!(
        std::fs::metadata(local.join("sub/c")).unwrap().mtime(),
        1000
    );
    let mut events = Recorder::default();
    let second = sftp
        .download_tree(b"/t", &local, &how, &mut events)
        .await
        .unwrap();
    assert_eq!((second.files, second.skipped), (0, 3));
    assert!(events.started.is_empty());
    assert_eq!(events.skipped_for(SKIP_UNCHANGED).len(), 3);

    // The same size, a later time: only that file moves.
    fs.set_time(2000);
    fs.write_file(b"/t/b", b"FOUR").unwrap();
    let mut events = Recorder::default();
    let third = sftp
        .download_tree(b"/t", &local, &how, &mut events)
        .await
        .unwrap();
    assert_eq!((third.files, third.skipped), (1, 2));
    assert_eq!(events.started, vec!["/t/b"]);
    assert_eq!(std::fs::read(local.join("b")).unwrap(), b"FOUR");

    // Uploads too: a second run sends nothing; touching one local file sends it alone.
    let first = sftp
        .upload_tree(&local, b"/u", &how, &mut ())
        .await
        .unwrap();
    assert_eq!(first.files, 3);
    let second = sftp
        .upload_tree(&local, b"/u", &how, &mut ())
        .await
        .unwrap();
    assert_eq!((second.files, second.skipped), (0, 3));
    let touched = std::fs::File::options()
        .write(true)
        .open(local.join("a"))
        .unwrap();
    touched
        .set_modified(UNIX_EPOCH + Duration::from_secs(5000))
        .unwrap();
    let mut events = Recorder::default();
    let third = sftp
        .upload_tree(&local, b"/u", &how, &mut events)
        .await
        .unwrap();
    assert_eq!((third.files, third.skipped), (1, 2));
    assert_eq!(events.started, vec![local.join("a").display().to_string()]);
    assert_eq!(fs.stat(b"/u/a").await.unwrap().times.unwrap().mtime, 5000);
}

/// A `MemoryFs` that misbehaves: refuses to open one path, and adds names to the listing
/// of one directory.
struct Wrapped {
    inner: MemoryFs,
    refuse_open: Option<Vec<u8>>,
    hostile_dir: Option<(Vec<u8>, Vec<DirEntry>)>,
    /// A directory whose listing never ends.
    endless_dir: Option<Vec<u8>>,
}

/// A listing that never ends: long names, a new one each time.
struct Endless(u64);

impl Dir for Endless {
    fn next_entries(&mut self, _max: usize) -> FsFuture<'_, Vec<DirEntry>> {
        self.0 += 1;
        let mut name = format!("{:020}", self.0).into_bytes();
        name.resize(60_000, b'x');
        ready(Ok(vec![DirEntry {
            name,
            attrs: Attrs {
                size: Some(1),
                permissions: Some(0o100_644),
                ..Attrs::default()
            },
            owner_names: None,
        }]))
    }
}

struct ExtraEntries {
    inner: Box<dyn Dir>,
    extra: Vec<DirEntry>,
}

impl Dir for ExtraEntries {
    fn next_entries(&mut self, max: usize) -> FsFuture<'_, Vec<DirEntry>> {
        if self.extra.is_empty() {
            self.inner.next_entries(max)
        } else {
            ready(Ok(std::mem::take(&mut self.extra)))
        }
    }
}

impl Filesystem for Wrapped {
    fn open<'a>(
        &'a self,
        path: &'a [u8],
        flags: OpenFlags,
        attrs: &'a Attrs,
    ) -> FsFuture<'a, Box<dyn File>> {
        if self.refuse_open.as_deref() == Some(path) {
            return ready(Err(FsError::permission_denied()));
        }
        self.inner.open(path, flags, attrs)
    }
    fn opendir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Box<dyn Dir>> {
        Box::pin(async move {
            if self.endless_dir.as_deref() == Some(path) {
                return Ok(Box::new(Endless(0)) as Box<dyn Dir>);
            }
            let inner = self.inner.opendir(path).await?;
            let extra = match &self.hostile_dir {
                Some((dir, extra)) if dir == path => extra.clone(),
                _ => Vec::new(),
            };
            Ok(Box::new(ExtraEntries { inner, extra }) as Box<dyn Dir>)
        })
    }
    fn stat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        self.inner.stat(path)
    }
    fn lstat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        self.inner.lstat(path)
    }
    fn setstat<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        self.inner.setstat(path, attrs)
    }
    fn remove<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        self.inner.remove(path)
    }
    fn mkdir<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        self.inner.mkdir(path, attrs)
    }
    fn rmdir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        self.inner.rmdir(path)
    }
    fn realpath<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        self.inner.realpath(path)
    }
    fn rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        self.inner.rename(from, to)
    }
    fn readlink<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        self.inner.readlink(path)
    }
    fn symlink<'a>(&'a self, link: &'a [u8], target: &'a [u8]) -> FsFuture<'a, ()> {
        self.inner.symlink(link, target)
    }
    fn supports(&self, _: Capability) -> bool {
        false
    }
}

#[tokio::test]
async fn the_error_handler_decides_whether_a_tree_goes_on() {
    let fs = MemoryFs::new();
    fs.mkdir(b"/t", &mode(0o755)).await.unwrap();
    for f in ["a", "bad", "c", "d"] {
        fs.write_file(format!("/t/{f}").as_bytes(), f.as_bytes())
            .unwrap();
    }
    let wrapped = Wrapped {
        inner: fs.clone(),
        refuse_open: Some(b"/t/bad".to_vec()),
        hostile_dir: None,
        endless_dir: None,
    };
    let sftp = pair(Arc::new(wrapped)).await;
    let dir = tempfile::tempdir().unwrap();

    // Going on: every other file arrives, the failure is counted, nothing is left of it.
    let mut events = Recorder::going_on();
    let summary = sftp
        .download_tree(
            b"/t",
            &dir.path().join("on"),
            &TreeTransfer::default(),
            &mut events,
        )
        .await
        .unwrap();
    assert_eq!((summary.files, summary.failed), (3, 1));
    assert_eq!(events.failed.len(), 1);
    assert_eq!(events.failed[0].0, "/t/bad");
    let got: Vec<String> = without_times(&local_tree(&dir.path().join("on")))
        .into_keys()
        .collect();
    assert_eq!(got, vec!["a", "c", "d"]);

    // Stopping: the error comes back, once.
    let mut events = Recorder::default();
    let stopped = sftp
        .download_tree(
            b"/t",
            &dir.path().join("off"),
            &TreeTransfer::default(),
            &mut events,
        )
        .await
        .unwrap_err();
    match stopped {
        TransferError::Remote(SftpError::Status { code, .. }) => {
            assert_eq!(code, StatusCode::PERMISSION_DENIED)
        }
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(events.failed.len(), 1);
    assert!(!dir.path().join("off/bad").exists());
}

#[tokio::test]
async fn a_resumed_tree_completes_partial_files_and_keeps_complete_ones() {
    let fs = MemoryFs::new();
    fs.mkdir(b"/t", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/t/sub", &mode(0o755)).await.unwrap();
    let (complete, partial, missing) = (big(100_000), big(300_000), big(10_000));
    fs.write_file(b"/t/complete", &complete).unwrap();
    fs.write_file(b"/t/sub/partial", &partial).unwrap();
    fs.write_file(b"/t/sub/missing", &missing).unwrap();
    let sftp = memory_pair(&fs).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("t");
    std::fs::create_dir_all(local.join("sub")).unwrap();
    std::fs::write(local.join("complete"), &complete).unwrap();
    std::fs::write(local.join("sub/partial"), &partial[..100_000]).unwrap();

    let how = TreeTransfer {
        file: Transfer {
            resume: true,
            ..Transfer::default()
        },
        ..TreeTransfer::default()
    };
    let mut events = Recorder::default();
    let summary = sftp
        .download_tree(b"/t", &local, &how, &mut events)
        .await
        .unwrap();
    assert_eq!(summary.files, 3);
    assert_eq!(std::fs::read(local.join("complete")).unwrap(), complete);
    assert_eq!(std::fs::read(local.join("sub/partial")).unwrap(), partial);
    assert_eq!(std::fs::read(local.join("sub/missing")).unwrap(), missing);
    // Each file continued from what was there.
    assert_eq!(events.first_progress["/t/complete"], 100_000);
    assert_eq!(events.first_progress["/t/sub/partial"], 100_000);
    assert_eq!(events.first_progress["/t/sub/missing"], 0);

    // `reput -r`: an upload continues from what the remote files hold.
    fs.mkdir(b"/up", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/up/sub", &mode(0o755)).await.unwrap();
    fs.write_file(b"/up/sub/partial", &partial[..50_000])
        .unwrap();
    let mut events = Recorder::default();
    let summary = sftp
        .upload_tree(&local, b"/up", &how, &mut events)
        .await
        .unwrap();
    assert_eq!(summary.files, 3);
    let partial_local = local.join("sub/partial").display().to_string();
    assert_eq!(events.first_progress[&partial_local], 50_000);
    assert_eq!(fs.read_file(b"/up/sub/partial").unwrap(), partial);
    assert_eq!(fs.read_file(b"/up/complete").unwrap(), complete);
}

#[tokio::test]
async fn a_hostile_servers_names_never_leave_the_destination() {
    let fs = MemoryFs::new();
    fs.mkdir(b"/h", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/evildir", &mode(0o755)).await.unwrap();
    fs.write_file(b"/h/good", b"good").unwrap();
    fs.write_file(b"/evil", b"EVIL").unwrap();
    fs.write_file(b"/evildir/payload", b"EVIL").unwrap();
    fs.mkdir(b"/h/a", &mode(0o755)).await.unwrap();
    fs.write_file(b"/h/a/b", b"EVIL").unwrap();
    let file = Attrs {
        size: Some(4),
        permissions: Some(0o100_644),
        ..Attrs::default()
    };
    let directory = Attrs {
        permissions: Some(0o040_755),
        ..Attrs::default()
    };
    let entry = |name: &[u8], attrs: &Attrs| DirEntry {
        name: name.to_vec(),
        attrs: attrs.clone(),
        owner_names: None,
    };
    let hostile = vec![
        entry(b"../evil", &file),
        entry(b"a/b", &file),
        entry(b"..", &file),
        entry(b".", &directory),
        entry(b"", &file),
        entry(b"x\0y", &file),
        entry(b"/evil", &file),
        entry(b"../evildir", &directory),
    ];
    let wrapped = Wrapped {
        inner: fs.clone(),
        refuse_open: None,
        hostile_dir: Some((b"/h".to_vec(), hostile)),
        endless_dir: None,
    };
    let sftp = pair(Arc::new(wrapped)).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");

    let mut events = Recorder::going_on();
    let summary = sftp
        .download_tree(b"/h", &dest, &TreeTransfer::default(), &mut events)
        .await
        .unwrap();
    // Nothing outside the destination: the temporary directory holds only it.
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("dest")]);
    // Inside it, exactly the real tree (the real `a/b` arrives through the real `a`).
    let got = without_times(&local_tree(&dest));
    let expected: BTreeMap<String, Vec<u8>> = [
        ("a/b".to_owned(), b"EVIL".to_vec()),
        ("good".to_owned(), b"good".to_vec()),
    ]
    .into();
    assert_eq!(got, expected);
    // Every bad name reported; `.` and `..` ignored, as in any listing.
    assert_eq!(events.failed.len(), 6, "{:?}", events.failed);
    assert_eq!(summary.failed, 6);
    assert!(!dest.join("x").exists());
    for name in std::fs::read_dir(&dest).unwrap() {
        assert!(!name.unwrap().file_name().as_bytes().contains(&0));
    }
}

#[tokio::test]
async fn globs_expand_remote_and_local_patterns() {
    let fs = MemoryFs::new();
    fs.mkdir(b"/g", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/g/sub", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/g/sub2", &mode(0o755)).await.unwrap();
    for f in [
        "a.txt",
        "b.txt",
        "c.log",
        ".h.txt",
        "sub/a.txt",
        "sub2/a.txt",
        "star*name",
    ] {
        fs.write_file(format!("/g/{f}").as_bytes(), f.as_bytes())
            .unwrap();
    }
    let sftp = memory_pair(&fs).await;
    let paths = |found: Vec<sshwire::sftp_glob::GlobMatch>| -> Vec<String> {
        found
            .into_iter()
            .map(|m| String::from_utf8(m.path).unwrap())
            .collect()
    };
    assert_eq!(
        paths(sftp.glob(b"/g/*.txt").await.unwrap()),
        vec!["/g/a.txt", "/g/b.txt"]
    );
    assert_eq!(
        paths(sftp.glob(b"/g/*/a.txt").await.unwrap()),
        vec!["/g/sub/a.txt", "/g/sub2/a.txt"]
    );
    assert_eq!(paths(sftp.glob(b"/g/.*").await.unwrap()), vec!["/g/.h.txt"]);
    assert_eq!(
        paths(sftp.glob(b"/g/[!a]*").await.unwrap()),
        vec!["/g/b.txt", "/g/c.log", "/g/star*name", "/g/sub", "/g/sub2"]
    );
    assert_eq!(
        paths(sftp.glob(b"/g/star\\*name").await.unwrap()),
        vec!["/g/star*name"]
    );
    // Relative stays relative (the server's current directory is `/`).
    assert_eq!(paths(sftp.glob(b"g/*.log").await.unwrap()), vec!["g/c.log"]);
    // Attributes come along: from the listing, or from lstat for a plain path.
    let m = sftp.glob(b"/g/c.log").await.unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].attrs.size, Some(5));
    let m = sftp.glob(b"/g/su?").await.unwrap();
    assert_eq!(m[0].attrs.permissions.unwrap() & 0o170000, 0o040000);
    for missing in [&b"/g/nothing"[..], b"/g/*.none", b"/nowhere/*"] {
        let e = sftp.glob(missing).await.unwrap_err();
        assert!(e.is_not_found(), "{e}");
    }

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    for f in ["a.txt", "b.txt", ".h.txt", "sub/a.txt"] {
        std::fs::write(d.join(f), f).unwrap();
    }
    assert_eq!(
        local_glob(&d.join("*.txt")).unwrap(),
        vec![d.join("a.txt"), d.join("b.txt")]
    );
    assert_eq!(
        local_glob(&d.join("*/a.txt")).unwrap(),
        vec![d.join("sub/a.txt")]
    );
    assert_eq!(local_glob(&d.join(".*")).unwrap(), vec![d.join(".h.txt")]);
    assert_eq!(local_glob(&d.join("sub")).unwrap(), vec![d.join("sub")]);
    assert_eq!(
        local_glob(&d.join("*.none")).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
}

#[tokio::test]
async fn two_thousand_small_files_arrive_intact_several_at_once() {
    let fs = MemoryFs::new();
    fs.mkdir(b"/many", &mode(0o755)).await.unwrap();
    for d in 0..4 {
        fs.mkdir(format!("/many/{d}").as_bytes(), &mode(0o755))
            .await
            .unwrap();
    }
    let content = |i: usize| -> Vec<u8> { (0..4096).map(|j| ((i * 31 + j) % 256) as u8).collect() };
    for i in 0..2000 {
        fs.write_file(format!("/many/{}/f{i}", i % 4).as_bytes(), &content(i))
            .unwrap();
    }
    let sftp = memory_pair(&fs).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("many");

    let started = std::time::Instant::now();
    let mut events = Recorder::default();
    let summary = sftp
        .download_tree(b"/many", &local, &TreeTransfer::default(), &mut events)
        .await
        .unwrap();
    eprintln!("2000 files of 4 KiB down in {:?}", started.elapsed());
    assert_eq!(summary.files, 2000);
    assert_eq!(summary.bytes, 2000 * 4096);
    // Files were in flight together, not one round-trip chain after another.
    assert!(events.most_in_flight > 1, "{}", events.most_in_flight);
    assert!(events.most_in_flight <= 8, "{}", events.most_in_flight);
    for i in 0..2000 {
        let got = std::fs::read(local.join(format!("{}/f{i}", i % 4))).unwrap();
        assert!(got == content(i), "file {i}");
    }

    let started = std::time::Instant::now();
    let summary = sftp
        .upload_tree(&local, b"/again", &TreeTransfer::default(), &mut ())
        .await
        .unwrap();
    eprintln!("2000 files of 4 KiB up in {:?}", started.elapsed());
    assert_eq!(summary.files, 2000);
    for i in 0..2000 {
        let got = fs
            .read_file(format!("/again/{}/f{i}", i % 4).as_bytes())
            .unwrap();
        assert!(got == content(i), "file {i}");
    }
}

#[tokio::test]
async fn links_are_skipped_or_followed_and_loops_are_caught() {
    let fs = MemoryFs::new();
    fs.mkdir(b"/l", &mode(0o755)).await.unwrap();
    fs.mkdir(b"/l/sub", &mode(0o755)).await.unwrap();
    fs.write_file(b"/l/f", b"file").unwrap();
    fs.symlink(b"/l/alias", b"f").await.unwrap();
    fs.symlink(b"/l/sub/back", b"/l").await.unwrap();
    let sftp = memory_pair(&fs).await;
    let dir = tempfile::tempdir().unwrap();

    let mut events = Recorder::default();
    sftp.download_tree(
        b"/l",
        &dir.path().join("plain"),
        &TreeTransfer::default(),
        &mut events,
    )
    .await
    .unwrap();
    assert_eq!(
        events.skipped_for(SKIP_NOT_REGULAR),
        vec!["/l/alias", "/l/sub/back"]
    );

    let how = TreeTransfer {
        follow_links: true,
        ..TreeTransfer::default()
    };
    let mut events = Recorder::default();
    let followed = dir.path().join("followed");
    let summary = sftp
        .download_tree(b"/l", &followed, &how, &mut events)
        .await
        .unwrap();
    assert_eq!(events.skipped_for(SKIP_LINK_LOOP), vec!["/l/sub/back"]);
    assert_eq!(summary.files, 2);
    assert_eq!(std::fs::read(followed.join("alias")).unwrap(), b"file");
    assert!(!followed.join("sub/back").exists());
}

#[tokio::test]
async fn trees_deeper_than_the_limit_are_refused_below_it() {
    let fs = MemoryFs::new();
    let mut path = b"/deep".to_vec();
    fs.mkdir(&path, &mode(0o755)).await.unwrap();
    for _ in 0..MAX_TREE_DEPTH + 3 {
        path.extend_from_slice(b"/d");
        fs.mkdir(&path, &mode(0o755)).await.unwrap();
    }
    fs.write_file(b"/deep/d/top", b"top").unwrap();
    let sftp = memory_pair(&fs).await;
    let dir = tempfile::tempdir().unwrap();

    let mut events = Recorder::going_on();
    let summary = sftp
        .download_tree(
            b"/deep",
            &dir.path().join("deep"),
            &TreeTransfer::default(),
            &mut events,
        )
        .await
        .unwrap();
    assert_eq!(summary.dirs, MAX_TREE_DEPTH as u64);
    assert_eq!(summary.failed, 1);
    assert!(events.failed[0].1.contains("deep"), "{:?}", events.failed);
    assert_eq!(
        std::fs::read(dir.path().join("deep/d/top")).unwrap(),
        b"top"
    );

    // The default handler stops there.
    let stopped = sftp
        .download_tree(
            b"/deep",
            &dir.path().join("stop"),
            &TreeTransfer::default(),
            &mut (),
        )
        .await;
    assert!(stopped.is_err());
}

#[tokio::test]
async fn a_tree_transfer_is_a_send_future_and_refuses_a_file_as_its_top() {
    fn send<T: Send>(t: T) -> T {
        t
    }
    let fs = MemoryFs::new();
    fs.write_file(b"/file", b"x").unwrap();
    let sftp = memory_pair(&fs).await;
    let dir = tempfile::tempdir().unwrap();
    let mut events = ();
    let how = TreeTransfer::default();
    let e = send(sftp.download_tree(b"/file", dir.path(), &how, &mut events))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
    let e = send(sftp.upload_tree(&dir.path().join("none"), b"/x", &how, &mut events))
        .await
        .unwrap_err();
    assert!(matches!(e, TransferError::Local(_)), "{e}");
}

#[tokio::test]
async fn a_listing_that_never_ends_is_refused_not_believed() {
    let fs = MemoryFs::new();
    fs.mkdir(b"/e", &mode(0o755)).await.unwrap();
    let wrapped = Wrapped {
        inner: fs,
        refuse_open: None,
        hostile_dir: None,
        endless_dir: Some(b"/e".to_vec()),
    };
    let sftp = pair(Arc::new(wrapped)).await;
    let dir = tempfile::tempdir().unwrap();
    let e = sftp
        .download_tree(b"/e", dir.path(), &TreeTransfer::default(), &mut ())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("listing of /e holds more than"),
        "{e}"
    );
    let e = sftp.glob(b"/e/*").await.unwrap_err();
    assert!(
        e.to_string().contains("listing of /e holds more than"),
        "{e}"
    );
    // Nothing was written: the listing was refused before any entry was used.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A server's set-user-ID, set-group-ID and sticky bits never reach a downloaded file or
/// directory with `preserve` (`get -p`): only the permission bits are kept, as OpenSSH's
/// sftp keeps them, so a hostile server cannot hand the user a set-user-ID program.
#[tokio::test]
async fn preserve_never_copies_set_id_or_sticky_bits() {
    let fs = MemoryFs::new();
    fs.mkdir(b"/t", &mode(0o1755)).await.unwrap();
    fs.write_file(b"/t/prog", b"#!/bin/sh\n").unwrap();
    fs.setstat(b"/t/prog", &mode(0o6755)).await.unwrap();
    assert_eq!(
        fs.stat(b"/t/prog").await.unwrap().permissions.unwrap() & 0o7777,
        0o6755,
        "the served file carries the bits"
    );
    let sftp = memory_pair(&fs).await;
    let dir = tempfile::tempdir().unwrap();

    let one = dir.path().join("prog");
    let how = Transfer {
        preserve: true,
        ..Transfer::default()
    };
    sftp.download(b"/t/prog", &one, how, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(std::fs::metadata(&one).unwrap().mode() & 0o7777, 0o755);

    let tree = dir.path().join("tree");
    sftp.download_tree(b"/t", &tree, &preserving(), &mut ())
        .await
        .unwrap();
    assert_eq!(std::fs::metadata(&tree).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::metadata(tree.join("prog")).unwrap().mode() & 0o7777,
        0o755
    );
}
