//! Session tests: every request kind against a small in-memory filesystem, driven by a
//! hand-written executor (the test filesystem's futures are ready at once).
//!
//! The filesystem is [`TestFs`], a private stand-in; tests that need nothing special from it
//! get it from [`new_fs`], the one line to change to run them on another backend.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::fs::{Capability, Dir, DirEntry, File, Filesystem, FsError, FsFuture, ready};
use crate::{
    Attrs, ExtendedRequest, LimitsReply, MAX_DATA, MAX_PACKET, OPENSSH_EXTENSIONS, OpenFlags,
    Owner, PacketType, Request, Response, StatusCode, StatvfsReply, SymlinkOrder, Times,
    UsersGroupsReply,
};

// ---------------------------------------------------------------------------------------------
// A tiny executor.

/// Runs a future to completion on this thread, parking while it is pending.
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Polls a future once.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(f).poll(&mut cx)
}

// ---------------------------------------------------------------------------------------------
// A small filesystem.

const NOW: u64 = 1_700_000_000; // 2023-11-14 22:13:20 UTC
const MTIME: u32 = 1_699_999_000;

fn fixed_clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

#[derive(Clone)]
enum Node {
    File {
        data: Arc<Mutex<Vec<u8>>>,
        mode: u32,
    },
    Dir {
        mode: u32,
    },
    Link {
        target: Vec<u8>,
    },
}

/// Files, directories and symbolic links in a map from normalized path to node.
///
/// Paths are normalized lexically (`.` and `..`); links are followed only as the last
/// component of `stat`. A file whose name ends in `fail-close` fails to close.
struct TestFs {
    nodes: Mutex<BTreeMap<Vec<u8>, Node>>,
    /// Implements the optional requests (and says so).
    optional: bool,
}

fn norm(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for p in path.split(|b| *b == b'/') {
        match p {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

fn parent(path: &[u8]) -> Vec<u8> {
    let mut p = path.to_vec();
    p.extend_from_slice(b"/..");
    norm(&p)
}

fn base(path: &[u8]) -> &[u8] {
    path.rsplit(|b| *b == b'/').next().unwrap_or(path)
}

fn attrs_of(node: &Node) -> Attrs {
    let (size, mode) = match node {
        Node::File { data, mode } => (data.lock().unwrap().len() as u64, 0o100_000 | mode),
        Node::Dir { mode } => (0, 0o040_000 | mode),
        Node::Link { target } => (target.len() as u64, 0o120_777),
    };
    Attrs {
        size: Some(size),
        owner: Some(Owner {
            uid: 1000,
            gid: 100,
        }),
        permissions: Some(mode),
        times: Some(Times {
            atime: MTIME,
            mtime: MTIME,
        }),
        extended: Vec::new(),
    }
}

impl TestFs {
    fn new() -> TestFs {
        let mut nodes = BTreeMap::new();
        nodes.insert(b"/".to_vec(), Node::Dir { mode: 0o755 });
        TestFs {
            nodes: Mutex::new(nodes),
            optional: true,
        }
    }

    fn without_optional() -> TestFs {
        TestFs {
            optional: false,
            ..TestFs::new()
        }
    }

    fn node(&self, path: &[u8]) -> Result<Node, FsError> {
        self.nodes
            .lock()
            .unwrap()
            .get(&norm(path))
            .cloned()
            .ok_or_else(FsError::not_found)
    }

    fn follow(&self, path: &[u8]) -> Result<Node, FsError> {
        match self.node(path)? {
            Node::Link { target } => {
                let mut t = parent(&norm(path));
                t.push(b'/');
                t.extend_from_slice(&target);
                self.node(if target.starts_with(b"/") {
                    &target
                } else {
                    &t
                })
            }
            n => Ok(n),
        }
    }

    fn create(&self, path: &[u8], node: Node) -> Result<(), FsError> {
        let path = norm(path);
        let mut nodes = self.nodes.lock().unwrap();
        if !matches!(nodes.get(&parent(&path)), Some(Node::Dir { .. })) {
            return Err(FsError::not_found());
        }
        if nodes.contains_key(&path) {
            return Err(FsError::failure("File exists"));
        }
        nodes.insert(path, node);
        Ok(())
    }

    fn unsupported<'a, T: Send + 'a>(&self) -> Option<FsFuture<'a, T>> {
        (!self.optional).then(|| ready(Err(FsError::unsupported())))
    }

    fn do_rename(&self, from: &[u8], to: &[u8], replace: bool) -> Result<(), FsError> {
        let (from, to) = (norm(from), norm(to));
        let mut nodes = self.nodes.lock().unwrap();
        if !nodes.contains_key(&from) {
            return Err(FsError::not_found());
        }
        if nodes.contains_key(&to) && !replace {
            return Err(FsError::failure("File exists"));
        }
        let moved: Vec<Vec<u8>> = nodes
            .keys()
            .filter(|k| **k == from || k.starts_with(&[from.as_slice(), b"/"].concat()))
            .cloned()
            .collect();
        for k in moved {
            let node = nodes.remove(&k).unwrap();
            let mut new = to.clone();
            new.extend_from_slice(&k[from.len()..]);
            nodes.insert(new, node);
        }
        Ok(())
    }
}

struct TestFile {
    data: Arc<Mutex<Vec<u8>>>,
    append: bool,
    fail_close: bool,
}

impl File for TestFile {
    fn read_at(&self, offset: u64, len: u32) -> FsFuture<'_, Vec<u8>> {
        let data = self.data.lock().unwrap();
        let start = (offset as usize).min(data.len());
        let end = start.saturating_add(len as usize).min(data.len());
        ready(Ok(data[start..end].to_vec()))
    }

    fn write_at(&self, offset: u64, bytes: Vec<u8>) -> FsFuture<'_, ()> {
        let mut data = self.data.lock().unwrap();
        let offset = if self.append {
            data.len()
        } else {
            offset as usize
        };
        if data.len() < offset + bytes.len() {
            data.resize(offset + bytes.len(), 0);
        }
        data[offset..offset + bytes.len()].copy_from_slice(&bytes);
        ready(Ok(()))
    }

    fn stat(&self) -> FsFuture<'_, Attrs> {
        ready(Ok(attrs_of(&Node::File {
            data: self.data.clone(),
            mode: 0o644,
        })))
    }

    fn setstat<'a>(&'a self, attrs: &'a Attrs) -> FsFuture<'a, ()> {
        if let Some(size) = attrs.size {
            self.data.lock().unwrap().resize(size as usize, 0);
        }
        ready(Ok(()))
    }

    fn sync(&self) -> FsFuture<'_, ()> {
        ready(Ok(()))
    }

    fn statvfs(&self) -> FsFuture<'_, StatvfsReply> {
        ready(Ok(statvfs_reply()))
    }

    fn close(self: Box<Self>) -> FsFuture<'static, ()> {
        if self.fail_close {
            ready(Err(FsError::failure("disk full")))
        } else {
            ready(Ok(()))
        }
    }
}

struct TestDir(VecDeque<DirEntry>);

impl Dir for TestDir {
    fn next_entries(&mut self, max: usize) -> FsFuture<'_, Vec<DirEntry>> {
        let n = max.min(self.0.len());
        ready(Ok(self.0.drain(..n).collect()))
    }
}

fn statvfs_reply() -> StatvfsReply {
    StatvfsReply {
        bsize: 4096,
        frsize: 4096,
        blocks: 1000,
        bfree: 500,
        bavail: 400,
        files: 100,
        ffree: 50,
        favail: 40,
        fsid: 7,
        flag: 0,
        namemax: 255,
    }
}

impl Filesystem for TestFs {
    fn open<'a>(
        &'a self,
        path: &'a [u8],
        flags: OpenFlags,
        attrs: &'a Attrs,
    ) -> FsFuture<'a, Box<dyn File>> {
        let result = (|| {
            let data = match self.node(path) {
                Ok(Node::File { data, .. }) => {
                    if flags.contains(OpenFlags::CREAT | OpenFlags::EXCL) {
                        return Err(FsError::failure("File exists"));
                    }
                    if flags.contains(OpenFlags::TRUNC) {
                        data.lock().unwrap().clear();
                    }
                    data
                }
                Ok(_) => return Err(FsError::failure("not a regular file")),
                Err(_) if flags.contains(OpenFlags::CREAT) => {
                    let data = Arc::new(Mutex::new(Vec::new()));
                    let mode = attrs.permissions.unwrap_or(0o666) & 0o7777;
                    self.create(
                        path,
                        Node::File {
                            data: data.clone(),
                            mode,
                        },
                    )?;
                    data
                }
                Err(e) => return Err(e),
            };
            Ok(Box::new(TestFile {
                data,
                append: flags.contains(OpenFlags::APPEND),
                fail_close: path.ends_with(b"fail-close"),
            }) as Box<dyn File>)
        })();
        ready(result)
    }

    fn opendir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Box<dyn Dir>> {
        let path = norm(path);
        let result = match self.follow(&path) {
            Ok(Node::Dir { .. }) => {
                let nodes = self.nodes.lock().unwrap();
                let mut entries = VecDeque::new();
                for (name, p) in [(&b"."[..], path.clone()), (b"..", parent(&path))] {
                    entries.push_back(DirEntry {
                        name: name.to_vec(),
                        attrs: attrs_of(&nodes[&p]),
                        owner_names: None,
                    });
                }
                for (k, node) in nodes.iter() {
                    if *k != path && parent(k) == path {
                        entries.push_back(DirEntry {
                            name: base(k).to_vec(),
                            attrs: attrs_of(node),
                            owner_names: Some(("user".to_owned(), "group".to_owned())),
                        });
                    }
                }
                Ok(Box::new(TestDir(entries)) as Box<dyn Dir>)
            }
            Ok(_) => Err(FsError::failure("Not a directory")),
            Err(e) => Err(e),
        };
        ready(result)
    }

    fn stat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        ready(self.follow(path).map(|n| attrs_of(&n)))
    }

    fn lstat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        ready(self.node(path).map(|n| attrs_of(&n)))
    }

    fn setstat<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        let mut nodes = self.nodes.lock().unwrap();
        let result = match nodes.get_mut(&norm(path)) {
            None => Err(FsError::not_found()),
            Some(Node::File { data, mode }) => {
                if let Some(size) = attrs.size {
                    data.lock().unwrap().resize(size as usize, 0);
                }
                if let Some(p) = attrs.permissions {
                    *mode = p & 0o7777;
                }
                Ok(())
            }
            Some(Node::Dir { mode }) => {
                if let Some(p) = attrs.permissions {
                    *mode = p & 0o7777;
                }
                Ok(())
            }
            Some(Node::Link { .. }) => Ok(()),
        };
        ready(result)
    }

    fn lsetstat<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        if let Some(f) = self.unsupported() {
            return f;
        }
        self.setstat(path, attrs)
    }

    fn remove<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        let mut nodes = self.nodes.lock().unwrap();
        let result = match nodes.get(&norm(path)) {
            None => Err(FsError::not_found()),
            Some(Node::Dir { .. }) => Err(FsError::failure("Is a directory")),
            Some(_) => {
                nodes.remove(&norm(path));
                Ok(())
            }
        };
        ready(result)
    }

    fn mkdir<'a>(&'a self, path: &'a [u8], attrs: &'a Attrs) -> FsFuture<'a, ()> {
        let mode = attrs.permissions.unwrap_or(0o777) & 0o7777;
        ready(self.create(path, Node::Dir { mode }))
    }

    fn rmdir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        let path = norm(path);
        let mut nodes = self.nodes.lock().unwrap();
        let result = match nodes.get(&path) {
            Some(Node::Dir { .. }) if nodes.keys().any(|k| *k != path && parent(k) == path) => {
                Err(FsError::failure("Directory not empty"))
            }
            Some(Node::Dir { .. }) => {
                nodes.remove(&path);
                Ok(())
            }
            Some(_) => Err(FsError::failure("Not a directory")),
            None => Err(FsError::not_found()),
        };
        ready(result)
    }

    fn realpath<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(Ok(norm(path)))
    }

    fn rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        ready(self.do_rename(from, to, false))
    }

    fn posix_rename<'a>(&'a self, from: &'a [u8], to: &'a [u8]) -> FsFuture<'a, ()> {
        if let Some(f) = self.unsupported() {
            return f;
        }
        ready(self.do_rename(from, to, true))
    }

    fn readlink<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(match self.node(path) {
            Ok(Node::Link { target }) => Ok(target),
            Ok(_) => Err(FsError::failure("Invalid argument")),
            Err(e) => Err(e),
        })
    }

    fn symlink<'a>(&'a self, link: &'a [u8], target: &'a [u8]) -> FsFuture<'a, ()> {
        ready(self.create(
            link,
            Node::Link {
                target: target.to_vec(),
            },
        ))
    }

    fn hardlink<'a>(&'a self, old: &'a [u8], new: &'a [u8]) -> FsFuture<'a, ()> {
        if let Some(f) = self.unsupported() {
            return f;
        }
        ready(match self.node(old) {
            Ok(n @ Node::File { .. }) => self.create(new, n),
            Ok(_) => Err(FsError::permission_denied()),
            Err(e) => Err(e),
        })
    }

    fn statvfs<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, StatvfsReply> {
        if let Some(f) = self.unsupported() {
            return f;
        }
        ready(self.node(path).map(|_| statvfs_reply()))
    }

    fn supports(&self, _capability: Capability) -> bool {
        self.optional
    }
}

/// The filesystem the general tests run on.
fn new_fs() -> Arc<dyn Filesystem> {
    Arc::new(TestFs::new())
}

// ---------------------------------------------------------------------------------------------
// A client that drives a session.

#[derive(Default)]
struct Recorder(Mutex<Vec<AuditEvent>>);

impl AuditSink for Recorder {
    fn record(&self, event: &AuditEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    fn take(&self) -> Vec<AuditEvent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Client {
    session: Session,
    next_id: u32,
    audit: Arc<Recorder>,
}

fn config() -> ServerConfig {
    ServerConfig {
        user: "me".to_owned(),
        home: Some(b"/home/me".to_vec()),
        clock: fixed_clock,
        ..ServerConfig::default()
    }
}

impl Client {
    /// A session on `fs` that has been through INIT.
    fn on(fs: Arc<dyn Filesystem>, config: ServerConfig) -> Client {
        let audit = Arc::new(Recorder::default());
        let session = Session::new(fs, config, Some(audit.clone() as Arc<dyn AuditSink>));
        let version = block_on(session.handle(Request::Init {
            version: 3,
            extensions: Vec::new(),
        }))
        .unwrap();
        assert!(matches!(version, Response::Version { version: 3, .. }));
        Client {
            session,
            next_id: 1,
            audit,
        }
    }

    fn new() -> Client {
        Client::on(new_fs(), config())
    }

    /// Sends a request built with a fresh id; checks the reply carries it.
    fn call(&mut self, build: impl FnOnce(u32) -> Request) -> Response {
        let id = self.next_id;
        self.next_id += 1;
        let reply = block_on(self.session.handle(build(id))).unwrap();
        assert_eq!(reply.id(), Some(id), "{reply:?}");
        reply
    }

    fn ext(&mut self, request: ExtendedRequest) -> Response {
        self.call(|id| Request::Extended { id, request })
    }

    fn status(&mut self, build: impl FnOnce(u32) -> Request) -> (StatusCode, String) {
        match self.call(build) {
            Response::Status { code, message, .. } => (code, message),
            other => panic!("expected a status, got {other:?}"),
        }
    }

    fn code(&mut self, build: impl FnOnce(u32) -> Request) -> StatusCode {
        self.status(build).0
    }

    fn ext_code(&mut self, request: ExtendedRequest) -> StatusCode {
        self.code(|id| Request::Extended { id, request })
    }

    fn open(&mut self, path: &[u8], flags: OpenFlags) -> Vec<u8> {
        match self.call(|id| Request::Open {
            id,
            path: path.to_vec(),
            flags,
            attrs: Attrs::default(),
        }) {
            Response::Handle { handle, .. } => handle,
            other => panic!("open {:?}: {other:?}", String::from_utf8_lossy(path)),
        }
    }

    fn try_open(&mut self, path: &[u8], flags: OpenFlags) -> Response {
        self.call(|id| Request::Open {
            id,
            path: path.to_vec(),
            flags,
            attrs: Attrs::default(),
        })
    }

    fn write(&mut self, handle: &[u8], offset: u64, data: &[u8]) -> StatusCode {
        self.code(|id| Request::Write {
            id,
            handle: handle.to_vec(),
            offset,
            data: data.to_vec().into(),
        })
    }

    fn read(&mut self, handle: &[u8], offset: u64, len: u32) -> Response {
        self.call(|id| Request::Read {
            id,
            handle: handle.to_vec(),
            offset,
            len,
        })
    }

    fn close(&mut self, handle: &[u8]) -> StatusCode {
        self.code(|id| Request::Close {
            id,
            handle: handle.to_vec(),
        })
    }

    fn put(&mut self, path: &[u8], data: &[u8]) {
        let h = self.open(path, OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC);
        assert_eq!(self.write(&h, 0, data), StatusCode::OK);
        assert_eq!(self.close(&h), StatusCode::OK);
    }

    fn get(&mut self, path: &[u8]) -> Vec<u8> {
        let h = self.open(path, OpenFlags::READ);
        let mut out = Vec::new();
        loop {
            match self.read(&h, out.len() as u64, MAX_DATA) {
                Response::Data { data, .. } => out.extend_from_slice(&data),
                Response::Status {
                    code: StatusCode::EOF,
                    ..
                } => break,
                other => panic!("read: {other:?}"),
            }
        }
        assert_eq!(self.close(&h), StatusCode::OK);
        out
    }

    fn stat(&mut self, path: &[u8]) -> Result<Attrs, StatusCode> {
        match self.call(|id| Request::Stat {
            id,
            path: path.to_vec(),
        }) {
            Response::Attrs { attrs, .. } => Ok(attrs),
            Response::Status { code, .. } => Err(code),
            other => panic!("stat: {other:?}"),
        }
    }

    fn name(&mut self, build: impl FnOnce(u32) -> Request) -> Vec<u8> {
        match self.call(build) {
            Response::Name { entries, .. } => {
                assert_eq!(entries.len(), 1);
                assert_eq!(entries[0].filename, entries[0].longname);
                entries[0].filename.clone()
            }
            other => panic!("expected one name, got {other:?}"),
        }
    }

    fn opendir(&mut self, path: &[u8]) -> Vec<u8> {
        match self.call(|id| Request::Opendir {
            id,
            path: path.to_vec(),
        }) {
            Response::Handle { handle, .. } => handle,
            other => panic!("opendir: {other:?}"),
        }
    }

    /// All the entries of a directory, and the number of replies they came in.
    fn list(&mut self, path: &[u8]) -> (Vec<crate::NameEntry>, usize) {
        let h = self.opendir(path);
        let mut all = Vec::new();
        let mut replies = 0;
        loop {
            match self.call(|id| Request::Readdir {
                id,
                handle: h.clone(),
            }) {
                Response::Name { entries, id } => {
                    let mut encoded = Vec::new();
                    Response::Name {
                        id,
                        entries: entries.clone(),
                    }
                    .encode(&mut encoded);
                    assert!(encoded.len() <= MAX_PACKET as usize);
                    assert!(!entries.is_empty());
                    replies += 1;
                    all.extend(entries);
                }
                Response::Status {
                    code: StatusCode::EOF,
                    ..
                } => break,
                other => panic!("readdir: {other:?}"),
            }
        }
        // Past the end, EOF again.
        assert_eq!(
            self.code(|id| Request::Readdir {
                id,
                handle: h.clone()
            }),
            StatusCode::EOF
        );
        assert_eq!(self.close(&h), StatusCode::OK);
        (all, replies)
    }
}

fn names(entries: &[crate::NameEntry]) -> Vec<Vec<u8>> {
    let mut n: Vec<Vec<u8>> = entries.iter().map(|e| e.filename.clone()).collect();
    n.sort();
    n
}

const RW_CREATE: OpenFlags = OpenFlags(0x01 | 0x02 | 0x08);

// ---------------------------------------------------------------------------------------------
// The init phase.

#[test]
fn version_announces_every_extension_with_openssh_versions() {
    let session = Session::new(new_fs(), config(), None);
    let reply = block_on(session.handle(Request::Init {
        version: 3,
        extensions: vec![(b"x@y".to_vec(), b"1".to_vec())],
    }))
    .unwrap();
    let want: Vec<(Vec<u8>, Vec<u8>)> = OPENSSH_EXTENSIONS
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(
        reply,
        Response::Version {
            version: 3,
            extensions: want
        }
    );
    // A client asking for another version still gets 3, as from OpenSSH.
    let session = Session::new(new_fs(), config(), None);
    let reply = block_on(session.handle(Request::Init {
        version: 6,
        extensions: Vec::new(),
    }))
    .unwrap();
    assert!(matches!(reply, Response::Version { version: 3, .. }));
}

fn announced(fs: Arc<dyn Filesystem>, config: ServerConfig) -> Vec<String> {
    let session = Session::new(fs, config, None);
    match block_on(session.handle(Request::Init {
        version: 3,
        extensions: Vec::new(),
    })) {
        Ok(Response::Version { extensions, .. }) => extensions
            .into_iter()
            .map(|(n, _)| String::from_utf8(n).unwrap())
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn version_leaves_out_what_the_backend_or_the_policy_does_not_allow() {
    assert_eq!(
        announced(Arc::new(TestFs::without_optional()), config()),
        [
            "limits@openssh.com",
            "expand-path@openssh.com",
            "copy-data",
            "home-directory",
            "users-groups-by-id@openssh.com"
        ]
    );
    let read_only = ServerConfig {
        read_only: true,
        ..config()
    };
    assert_eq!(
        announced(new_fs(), read_only),
        [
            "statvfs@openssh.com",
            "fstatvfs@openssh.com",
            "limits@openssh.com",
            "expand-path@openssh.com",
            "home-directory",
            "users-groups-by-id@openssh.com"
        ]
    );
    let denied = ServerConfig {
        denied: vec![RequestKind::Statvfs, RequestKind::CopyData],
        ..config()
    };
    let list = announced(new_fs(), denied);
    assert_eq!(list.len(), 9);
    assert!(
        !list
            .iter()
            .any(|n| n == "statvfs@openssh.com" || n == "copy-data")
    );
    let allowed = ServerConfig {
        allowed: Some(vec![RequestKind::Open, RequestKind::Limits]),
        ..config()
    };
    assert_eq!(announced(new_fs(), allowed), ["limits@openssh.com"]);
}

#[test]
fn a_request_before_init_ends_the_session_for_good() {
    let session = Session::new(new_fs(), config(), None);
    let e = block_on(session.handle(Request::Realpath {
        id: 1,
        path: b".".to_vec(),
    }))
    .unwrap_err();
    assert_eq!(
        e,
        ProtocolError::BeforeInit {
            packet_type: PacketType::REALPATH
        }
    );
    assert_eq!(
        e.to_string(),
        "SSH_FXP_REALPATH received before SSH_FXP_INIT"
    );
    // Sticky: INIT now gets the same error.
    let again = block_on(session.handle(Request::Init {
        version: 3,
        extensions: Vec::new(),
    }));
    assert_eq!(again, Err(e));
    // Extended and unknown requests too.
    for first in [
        Request::Extended {
            id: 1,
            request: ExtendedRequest::Limits,
        },
        Request::Unknown {
            packet_type: PacketType(99),
            data: vec![0, 0, 0, 1],
        },
    ] {
        let session = Session::new(new_fs(), config(), None);
        assert!(matches!(
            block_on(session.handle(first)),
            Err(ProtocolError::BeforeInit { .. })
        ));
    }
}

#[test]
fn a_second_init_ends_the_session() {
    let c = Client::new();
    let e = block_on(c.session.handle(Request::Init {
        version: 3,
        extensions: Vec::new(),
    }));
    assert_eq!(e, Err(ProtocolError::SecondInit));
    let after = block_on(c.session.handle(Request::Realpath {
        id: 9,
        path: b".".to_vec(),
    }));
    assert_eq!(after, Err(ProtocolError::SecondInit));
}

#[test]
fn malformed_packets_are_protocol_errors() {
    let c = Client::new();
    // A READ cut short, an OPEN with bytes after its attributes, an empty payload.
    let mut open = Vec::new();
    Request::Open {
        id: 1,
        path: b"/x".to_vec(),
        flags: OpenFlags::READ,
        attrs: Attrs::default(),
    }
    .encode(&mut open);
    open.push(0);
    for (payload, t) in [
        (&[5u8, 0, 0, 0, 1, 0, 0][..], Some(PacketType::READ)),
        (&open[4..], Some(PacketType::OPEN)),
        (&[][..], None),
    ] {
        match Client::new().session.decode(payload) {
            Err(ProtocolError::Malformed { packet_type, .. }) => assert_eq!(packet_type, t),
            other => panic!("{other:?}"),
        }
    }
    // The session has ended: later packets and requests get the first error.
    assert!(c.session.decode(&[5u8, 0, 0, 0, 1, 0, 0]).is_err());
    assert!(matches!(
        c.session.decode(&[]),
        Err(ProtocolError::Malformed {
            packet_type: Some(PacketType::READ),
            ..
        })
    ));
    let after = block_on(c.session.handle(Request::Realpath {
        id: 5,
        path: b".".to_vec(),
    }));
    assert!(matches!(
        after,
        Err(ProtocolError::Malformed {
            packet_type: Some(PacketType::READ),
            ..
        })
    ));
    // An unknown type too short to hold an id cannot be answered: it ends the session.
    let c = Client::new();
    let e = block_on(c.session.handle(c.session.decode(&[99, 0, 0]).unwrap())).unwrap_err();
    assert!(matches!(e, ProtocolError::Malformed { .. }), "{e}");
    // The decoder reads SYMLINK in the configured order.
    let draft = Session::new(
        new_fs(),
        ServerConfig {
            symlink_order: SymlinkOrder::Draft,
            ..config()
        },
        None,
    );
    let mut packet = Vec::new();
    Request::Symlink {
        id: 1,
        link_path: b"/l".to_vec(),
        target_path: b"/t".to_vec(),
    }
    .encode_with(SymlinkOrder::Draft, &mut packet);
    assert!(matches!(
        draft.decode(&packet[4..]),
        Ok(Request::Symlink { link_path, .. }) if link_path == b"/l"
    ));
}

// ---------------------------------------------------------------------------------------------
// Every request.

#[test]
fn files_open_write_read_stat_close() {
    let mut c = Client::new();
    c.put(b"/a.txt", b"hello, world");
    assert_eq!(c.get(b"/a.txt"), b"hello, world");
    let h = c.open(b"/a.txt", OpenFlags::READ | OpenFlags::WRITE);
    assert_eq!(c.write(&h, 7, b"there"), StatusCode::OK);
    assert_eq!(
        c.read(&h, 0, 100),
        Response::Data {
            id: c.next_id - 1,
            data: b"hello, there".to_vec().into()
        }
    );
    match c.call(|id| Request::Fstat {
        id,
        handle: h.clone(),
    }) {
        Response::Attrs { attrs, .. } => assert_eq!(attrs.size, Some(12)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.code(|id| Request::Fsetstat {
            id,
            handle: h.clone(),
            attrs: Attrs {
                size: Some(5),
                ..Attrs::default()
            }
        }),
        StatusCode::OK
    );
    assert_eq!(c.close(&h), StatusCode::OK);
    assert_eq!(c.get(b"/a.txt"), b"hello");
    assert_eq!(c.stat(b"/a.txt").unwrap().permissions, Some(0o100_644));
    assert_eq!(c.stat(b"/missing"), Err(StatusCode::NO_SUCH_FILE));
    assert_eq!(
        c.code(|id| Request::Setstat {
            id,
            path: b"/a.txt".to_vec(),
            attrs: Attrs {
                permissions: Some(0o600),
                ..Attrs::default()
            }
        }),
        StatusCode::OK
    );
    assert_eq!(c.stat(b"/a.txt").unwrap().permissions, Some(0o100_600));
    // APPEND writes go to the end whatever the offset.
    let h = c.open(b"/a.txt", OpenFlags::WRITE | OpenFlags::APPEND);
    assert_eq!(c.write(&h, 0, b"!"), StatusCode::OK);
    assert_eq!(c.close(&h), StatusCode::OK);
    assert_eq!(c.get(b"/a.txt"), b"hello!");
    // EXCL on an existing file fails; opening a missing file without CREAT too.
    assert!(matches!(
        c.try_open(b"/a.txt", RW_CREATE | OpenFlags::EXCL),
        Response::Status {
            code: StatusCode::FAILURE,
            ..
        }
    ));
    assert!(matches!(
        c.try_open(b"/nope", OpenFlags::READ),
        Response::Status {
            code: StatusCode::NO_SUCH_FILE,
            ..
        }
    ));
    assert_eq!(c.session.open_handles(), 0);
}

#[test]
fn directories_links_and_renames() {
    let mut c = Client::new();
    let mkdir = |path: &[u8]| {
        let path = path.to_vec();
        move |id| Request::Mkdir {
            id,
            path,
            attrs: Attrs::default(),
        }
    };
    assert_eq!(c.code(mkdir(b"/d")), StatusCode::OK);
    assert_eq!(c.code(mkdir(b"/d")), StatusCode::FAILURE);
    c.put(b"/d/f", b"data");
    let (entries, _) = c.list(b"/d");
    assert_eq!(names(&entries), [&b"."[..], b"..", b"f"]);
    // lstat of a link is the link; stat follows it.
    assert_eq!(
        c.code(|id| Request::Symlink {
            id,
            link_path: b"/d/l".to_vec(),
            target_path: b"f".to_vec()
        }),
        StatusCode::OK
    );
    assert_eq!(
        c.name(|id| Request::Readlink {
            id,
            path: b"/d/l".to_vec()
        }),
        b"f"
    );
    match c.call(|id| Request::Lstat {
        id,
        path: b"/d/l".to_vec(),
    }) {
        Response::Attrs { attrs, .. } => assert_eq!(attrs.permissions, Some(0o120_777)),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.stat(b"/d/l").unwrap().size, Some(4));
    // RENAME refuses to replace; posix-rename replaces.
    c.put(b"/d/g", b"other");
    assert_eq!(
        c.code(|id| Request::Rename {
            id,
            old_path: b"/d/g".to_vec(),
            new_path: b"/d/f".to_vec()
        }),
        StatusCode::FAILURE
    );
    assert_eq!(
        c.ext_code(ExtendedRequest::PosixRename {
            old_path: b"/d/g".to_vec(),
            new_path: b"/d/f".to_vec()
        }),
        StatusCode::OK
    );
    assert_eq!(c.get(b"/d/f"), b"other");
    assert_eq!(
        c.code(|id| Request::Rename {
            id,
            old_path: b"/d/f".to_vec(),
            new_path: b"/d/h".to_vec()
        }),
        StatusCode::OK
    );
    assert_eq!(
        c.ext_code(ExtendedRequest::Hardlink {
            old_path: b"/d/h".to_vec(),
            new_path: b"/d/h2".to_vec()
        }),
        StatusCode::OK
    );
    assert_eq!(c.get(b"/d/h2"), b"other");
    assert_eq!(
        c.ext_code(ExtendedRequest::Lsetstat {
            path: b"/d/l".to_vec(),
            attrs: Attrs {
                times: Some(Times { atime: 1, mtime: 2 }),
                ..Attrs::default()
            }
        }),
        StatusCode::OK
    );
    // rmdir of a directory that is not empty fails; empty it, then it works.
    assert_eq!(
        c.code(|id| Request::Rmdir {
            id,
            path: b"/d".to_vec()
        }),
        StatusCode::FAILURE
    );
    for f in [&b"/d/l"[..], b"/d/h", b"/d/h2"] {
        assert_eq!(
            c.code(|id| Request::Remove {
                id,
                path: f.to_vec()
            }),
            StatusCode::OK
        );
    }
    assert_eq!(
        c.code(|id| Request::Remove {
            id,
            path: b"/d/h".to_vec()
        }),
        StatusCode::NO_SUCH_FILE
    );
    assert_eq!(
        c.code(|id| Request::Rmdir {
            id,
            path: b"/d".to_vec()
        }),
        StatusCode::OK
    );
    assert_eq!(c.stat(b"/d"), Err(StatusCode::NO_SUCH_FILE));
}

#[test]
fn statvfs_fsync_limits_and_user_lookups() {
    struct Names;
    impl IdNames for Names {
        fn user_name(&self, uid: u32) -> Option<String> {
            (uid == 1000).then(|| "me".to_owned())
        }
        fn group_name(&self, gid: u32) -> Option<String> {
            (gid == 100).then(|| "users".to_owned())
        }
    }
    let mut c = Client::on(
        new_fs(),
        ServerConfig {
            id_names: Some(Arc::new(Names)),
            ..config()
        },
    );
    let want = statvfs_reply().to_bytes();
    assert!(matches!(
        c.ext(ExtendedRequest::Statvfs { path: b"/".to_vec() }),
        Response::ExtendedReply { data, .. } if data == want
    ));
    c.put(b"/f", b"x");
    let h = c.open(b"/f", OpenFlags::READ);
    assert!(matches!(
        c.ext(ExtendedRequest::Fstatvfs { handle: h.clone() }),
        Response::ExtendedReply { data, .. } if data == want
    ));
    assert_eq!(
        c.ext_code(ExtendedRequest::Fsync { handle: h.clone() }),
        StatusCode::OK
    );
    c.close(&h);
    match c.ext(ExtendedRequest::Limits) {
        Response::ExtendedReply { data, .. } => assert_eq!(
            LimitsReply::decode(&data).unwrap(),
            LimitsReply {
                max_packet_length: 256 * 1024,
                max_read_length: 255 * 1024,
                max_write_length: 255 * 1024,
                max_open_handles: 1024,
            }
        ),
        other => panic!("{other:?}"),
    }
    match c.ext(ExtendedRequest::UsersGroupsById {
        uids: vec![1000, 0],
        gids: vec![7, 100],
    }) {
        Response::ExtendedReply { data, .. } => assert_eq!(
            UsersGroupsReply::decode(&data).unwrap(),
            UsersGroupsReply {
                user_names: vec![b"me".to_vec(), Vec::new()],
                group_names: vec![Vec::new(), b"users".to_vec()],
            }
        ),
        other => panic!("{other:?}"),
    }
    // Without a lookup: empty names, one per id.
    let mut plain = Client::new();
    match plain.ext(ExtendedRequest::UsersGroupsById {
        uids: vec![1, 2],
        gids: vec![],
    }) {
        Response::ExtendedReply { data, .. } => {
            assert_eq!(
                UsersGroupsReply::decode(&data).unwrap().user_names,
                [Vec::<u8>::new(), Vec::new()]
            );
        }
        other => panic!("{other:?}"),
    }
    // A backend without the optional requests: OP_UNSUPPORTED passes through.
    let mut bare = Client::on(Arc::new(TestFs::without_optional()), config());
    bare.put(b"/f", b"x");
    for r in [
        ExtendedRequest::Statvfs {
            path: b"/".to_vec(),
        },
        ExtendedRequest::PosixRename {
            old_path: b"/f".to_vec(),
            new_path: b"/g".to_vec(),
        },
        ExtendedRequest::Hardlink {
            old_path: b"/f".to_vec(),
            new_path: b"/g".to_vec(),
        },
        ExtendedRequest::Lsetstat {
            path: b"/f".to_vec(),
            attrs: Attrs::default(),
        },
    ] {
        assert_eq!(bare.ext_code(r), StatusCode::OP_UNSUPPORTED);
    }
}

#[test]
fn relative_paths_start_in_the_start_directory() {
    let fs = new_fs();
    let mut c = Client::on(fs.clone(), config());
    for d in [&b"/home"[..], b"/home/me", b"/srv"] {
        assert_eq!(
            c.code(|id| Request::Mkdir {
                id,
                path: d.to_vec(),
                attrs: Attrs::default()
            }),
            StatusCode::OK
        );
    }
    let mut c = Client::on(
        fs,
        ServerConfig {
            start_dir: b"/srv".to_vec(),
            ..config()
        },
    );
    let realpath = |p: &[u8]| {
        let path = p.to_vec();
        move |id| Request::Realpath { id, path }
    };
    assert_eq!(c.name(realpath(b".")), b"/srv");
    // OpenSSH: an empty path is ".".
    assert_eq!(c.name(realpath(b"")), b"/srv");
    assert_eq!(c.name(realpath(b"a/../b")), b"/srv/b");
    assert_eq!(c.name(realpath(b"/x/..")), b"/");
    c.put(b"rel", b"relative");
    assert_eq!(c.get(b"/srv/rel"), b"relative");
    // expand-path: ~ and ~/x are the home directory; ~me is the session's own user.
    let expand = |c: &mut Client, p: &[u8]| {
        c.name(|id| Request::Extended {
            id,
            request: ExtendedRequest::ExpandPath { path: p.to_vec() },
        })
    };
    assert_eq!(expand(&mut c, b"~"), b"/home/me");
    assert_eq!(expand(&mut c, b"~/docs/../x"), b"/home/me/x");
    assert_eq!(expand(&mut c, b"~me/y"), b"/home/me/y");
    assert_eq!(expand(&mut c, b"rel"), b"/srv/rel");
    assert_eq!(expand(&mut c, b""), b"/srv");
    assert_eq!(
        c.ext_code(ExtendedRequest::ExpandPath {
            path: b"~root/x".to_vec()
        }),
        StatusCode::NO_SUCH_FILE
    );
    // home-directory: the session's user only.
    for user in [&b""[..], b"me"] {
        assert_eq!(
            c.name(|id| Request::Extended {
                id,
                request: ExtendedRequest::HomeDirectory {
                    username: user.to_vec()
                }
            }),
            b"/home/me"
        );
    }
    assert_eq!(
        c.ext_code(ExtendedRequest::HomeDirectory {
            username: b"root".to_vec()
        }),
        StatusCode::FAILURE
    );
    // Without a home, ~ is the start directory.
    let mut c = Client::on(
        new_fs(),
        ServerConfig {
            home: None,
            ..config()
        },
    );
    assert_eq!(expand(&mut c, b"~"), b"/");
}

#[test]
fn names_with_nul_do_not_exist() {
    let mut c = Client::new();
    c.put(b"/a", b"x");
    let nul = b"/a\0b".to_vec();
    assert!(matches!(
        c.try_open(&nul, RW_CREATE),
        Response::Status {
            code: StatusCode::NO_SUCH_FILE,
            ..
        }
    ));
    assert_eq!(c.stat(&nul), Err(StatusCode::NO_SUCH_FILE));
    assert_eq!(
        c.code(|id| Request::Remove {
            id,
            path: b"a\0".to_vec()
        }),
        StatusCode::NO_SUCH_FILE
    );
    assert_eq!(
        c.code(|id| Request::Rename {
            id,
            old_path: b"/a".to_vec(),
            new_path: nul.clone()
        }),
        StatusCode::NO_SUCH_FILE
    );
    assert_eq!(
        c.code(|id| Request::Symlink {
            id,
            link_path: b"/l".to_vec(),
            target_path: nul.clone()
        }),
        StatusCode::NO_SUCH_FILE
    );
    assert_eq!(
        c.ext_code(ExtendedRequest::ExpandPath { path: nul.clone() }),
        StatusCode::NO_SUCH_FILE
    );
    // Nothing was created, and the session goes on.
    assert_eq!(c.get(b"/a"), b"x");
    assert_eq!(c.stat(b"/l"), Err(StatusCode::NO_SUCH_FILE));
}

#[test]
fn unknown_requests_are_unsupported_and_the_session_goes_on() {
    let mut c = Client::new();
    assert_eq!(
        c.code(|id| Request::Unknown {
            packet_type: PacketType(42),
            data: [id.to_be_bytes().as_slice(), b"junk"].concat(),
        }),
        StatusCode::OP_UNSUPPORTED
    );
    // A response type sent as a request is no request either.
    assert_eq!(
        c.code(|id| Request::Unknown {
            packet_type: PacketType::STATUS,
            data: id.to_be_bytes().to_vec(),
        }),
        StatusCode::OP_UNSUPPORTED
    );
    assert_eq!(
        c.ext_code(ExtendedRequest::Unknown {
            name: b"frobnicate@example.com".to_vec(),
            data: vec![1, 2, 3],
        }),
        StatusCode::OP_UNSUPPORTED
    );
    c.put(b"/still", b"here");
    assert_eq!(c.get(b"/still"), b"here");
}

// ---------------------------------------------------------------------------------------------
// Handles.

#[test]
fn handles_are_capped_and_freed_by_close() {
    let mut c = Client::new();
    c.put(b"/f", b"x");
    let mut handles = Vec::new();
    let mut refused = 0;
    for _ in 0..2000 {
        match c.try_open(b"/f", OpenFlags::READ) {
            Response::Handle { handle, .. } => handles.push(handle),
            Response::Status {
                code: StatusCode::FAILURE,
                message,
                ..
            } => {
                assert_eq!(message, "too many open handles");
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((handles.len(), refused), (1024, 976));
    assert_eq!(c.session.open_handles(), 1024);
    // OPENDIR counts too.
    assert_eq!(
        c.code(|id| Request::Opendir {
            id,
            path: b"/".to_vec()
        }),
        StatusCode::FAILURE
    );
    // All handles are distinct; closing one makes room for one.
    let distinct: std::collections::HashSet<_> = handles.iter().collect();
    assert_eq!(distinct.len(), 1024);
    assert_eq!(c.close(&handles[500]), StatusCode::OK);
    let again = c.open(b"/f", OpenFlags::READ);
    assert!(!handles.contains(&again));
    assert!(matches!(
        c.try_open(b"/f", OpenFlags::READ),
        Response::Status {
            code: StatusCode::FAILURE,
            ..
        }
    ));
    for h in handles.iter().filter(|h| **h != handles[500]) {
        assert_eq!(c.close(h), StatusCode::OK);
    }
    assert_eq!(c.close(&again), StatusCode::OK);
    assert_eq!(c.session.open_handles(), 0);
    // A failed open does not use up a handle.
    for _ in 0..2000 {
        c.try_open(b"/missing", OpenFlags::READ);
    }
    assert_eq!(c.session.open_handles(), 0);
}

#[test]
fn stale_forged_and_reused_handles_fail() {
    let mut c = Client::new();
    c.put(b"/f", b"data");
    let h = c.open(b"/f", OpenFlags::READ);
    assert_eq!(c.close(&h), StatusCode::OK);
    // Stale: every request on it fails, as OpenSSH answers, with FAILURE.
    let invalid = (StatusCode::FAILURE, "invalid handle".to_owned());
    assert_eq!(
        c.status(|id| Request::Close {
            id,
            handle: h.clone()
        }),
        invalid
    );
    assert_eq!(
        c.status(|id| Request::Read {
            id,
            handle: h.clone(),
            offset: 0,
            len: 4
        }),
        invalid
    );
    // Reused: the slot holds a new handle now; the old one still fails, the new one works.
    let h2 = c.open(b"/f", OpenFlags::READ);
    assert_eq!(h[..4], h2[..4], "the slot is reused");
    assert_eq!(
        c.status(|id| Request::Fstat {
            id,
            handle: h.clone()
        }),
        invalid
    );
    assert!(matches!(c.read(&h2, 0, 4), Response::Data { .. }));
    // Forged: other lengths and made-up slots.
    for forged in [
        Vec::new(),
        b"0".to_vec(),
        vec![0xff; 12],
        [&h2[..], b"x"].concat(),
        h2[..11].to_vec(),
        vec![0; 256],
    ] {
        assert_eq!(
            c.status(|id| Request::Write {
                id,
                handle: forged.clone(),
                offset: 0,
                data: b"x".to_vec().into()
            }),
            invalid
        );
        assert_eq!(
            c.ext_code(ExtendedRequest::Fsync {
                handle: forged.clone()
            }),
            StatusCode::FAILURE
        );
    }
    // Wrong kinds: a directory handle is not a file handle and the other way round.
    let d = c.opendir(b"/");
    assert_eq!(
        c.status(|id| Request::Read {
            id,
            handle: d.clone(),
            offset: 0,
            len: 1
        }),
        (StatusCode::FAILURE, "not a file handle".to_owned())
    );
    assert_eq!(
        c.status(|id| Request::Readdir {
            id,
            handle: h2.clone()
        }),
        (StatusCode::FAILURE, "not a directory handle".to_owned())
    );
    assert_eq!(c.close(&d), StatusCode::OK);
    assert_eq!(c.close(&h2), StatusCode::OK);
}

#[test]
fn reads_are_clamped_and_end_with_eof() {
    let mut c = Client::new();
    let big: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    c.put(b"/big", &big);
    let h = c.open(b"/big", OpenFlags::READ);
    match c.read(&h, 0, u32::MAX) {
        Response::Data { data, .. } => {
            assert_eq!(data.len(), MAX_DATA as usize);
            assert_eq!(data[..], big[..MAX_DATA as usize]);
        }
        other => panic!("{other:?}"),
    }
    // The rest, short.
    match c.read(&h, u64::from(MAX_DATA), MAX_DATA) {
        Response::Data { data, .. } => assert_eq!(data[..], big[MAX_DATA as usize..]),
        other => panic!("{other:?}"),
    }
    // At and past the end: EOF.
    for offset in [big.len() as u64, big.len() as u64 + 1, u64::MAX] {
        assert_eq!(
            c.code(|id| Request::Read {
                id,
                handle: h.clone(),
                offset,
                len: 10
            }),
            StatusCode::EOF
        );
    }
    // A zero-length read is answered with no data, as OpenSSH does.
    assert!(matches!(c.read(&h, 0, 0), Response::Data { data, .. } if data.is_empty()));
    // A smaller configured maximum.
    c.close(&h);
    let mut small = Client::on(
        new_fs(),
        ServerConfig {
            max_read_len: 1000,
            ..config()
        },
    );
    small.put(b"/big", &big);
    let h = small.open(b"/big", OpenFlags::READ);
    assert!(matches!(small.read(&h, 0, 5000), Response::Data { data, .. } if data.len() == 1000));
}

#[test]
fn handles_are_used_only_as_they_were_opened() {
    let mut c = Client::new();
    c.put(b"/f", b"data");
    let w = c.open(b"/f", OpenFlags::WRITE);
    assert_eq!(
        c.status(|id| Request::Read {
            id,
            handle: w.clone(),
            offset: 0,
            len: 4
        }),
        (
            StatusCode::PERMISSION_DENIED,
            "handle not open for reading".to_owned()
        )
    );
    let r = c.open(b"/f", OpenFlags::READ);
    assert_eq!(c.write(&r, 0, b"x"), StatusCode::PERMISSION_DENIED);
    // No flags at all is O_RDONLY, as OpenSSH maps it.
    let none = c.open(b"/f", OpenFlags::empty());
    assert!(matches!(c.read(&none, 0, 4), Response::Data { .. }));
    for h in [w, r, none] {
        c.close(&h);
    }
}

#[test]
fn close_reports_the_backends_error_and_frees_the_handle() {
    let mut c = Client::new();
    let h = c.open(b"/will-fail-close", RW_CREATE);
    assert_eq!(c.write(&h, 0, b"x"), StatusCode::OK);
    assert_eq!(
        c.status(|id| Request::Close {
            id,
            handle: h.clone()
        }),
        (StatusCode::FAILURE, "disk full".to_owned())
    );
    assert_eq!(c.session.open_handles(), 0);
    assert_eq!(c.close(&h), StatusCode::FAILURE);
    let close = c
        .audit
        .take()
        .into_iter()
        .find(|e| e.operation == AuditOperation::Close)
        .unwrap();
    assert_eq!(close.status, StatusCode::FAILURE);
    assert_eq!(close.bytes_written, Some(1));
}

// ---------------------------------------------------------------------------------------------
// READDIR.

#[test]
fn readdir_pages_by_count_and_ends_with_eof() {
    let mut c = Client::new();
    for i in 0..250 {
        c.put(format!("/f{i:03}").as_bytes(), b"0123456789");
    }
    let (entries, replies) = c.list(b"/");
    assert_eq!(entries.len(), 252); // and . and ..
    assert_eq!(replies, 3);
    let mut want: Vec<Vec<u8>> = (0..250).map(|i| format!("f{i:03}").into_bytes()).collect();
    want.push(b".".to_vec());
    want.push(b"..".to_vec());
    want.sort();
    assert_eq!(names(&entries), want);
    let f000 = entries.iter().find(|e| e.filename == b"f000").unwrap();
    assert_eq!(
        String::from_utf8(f000.longname.clone()).unwrap(),
        "-rw-r--r--    1 user     group          10 Nov 14 21:56 f000"
    );
    assert_eq!(f000.attrs.size, Some(10));
    // Without owner names from the backend: numbers (or names from the lookup).
    let dot = entries.iter().find(|e| e.filename == b".").unwrap();
    assert_eq!(
        String::from_utf8(dot.longname.clone()).unwrap(),
        "drwxr-xr-x    1 1000     100             0 Nov 14 21:56 ."
    );
}

#[test]
fn readdir_pages_by_bytes() {
    let mut c = Client::new();
    // Names of 40 KiB: about 80 KiB an entry with the long name; two fit in 200 KiB.
    let long: Vec<Vec<u8>> = (0..7u8)
        .map(|i| {
            let mut n = vec![b'a' + i; 40 * 1024];
            n.insert(0, b'/');
            n
        })
        .collect();
    for n in &long {
        c.put(n, b"");
    }
    let (entries, replies) = c.list(b"/");
    assert_eq!(entries.len(), 9);
    assert!(replies >= 4, "{replies} replies");
    // An entry too large for any reply is left out rather than sent.
    let mut huge = vec![b'z'; 210 * 1024];
    huge.insert(0, b'/');
    c.put(&huge, b"");
    let (entries, _) = c.list(b"/");
    assert_eq!(entries.len(), 9);
}

// ---------------------------------------------------------------------------------------------
// Policy.

/// Every request that changes something, each on its own object.
fn writes(c: &mut Client, h: &[u8]) -> Vec<(String, StatusCode)> {
    let attrs = Attrs {
        permissions: Some(0o600),
        ..Attrs::default()
    };
    let mut out = Vec::new();
    let mut run = |name: &str, r: Request| {
        let code = match block_on(c.session.handle(r)).unwrap() {
            Response::Status { code, .. } => code,
            other => panic!("{name}: {other:?}"),
        };
        out.push((name.to_owned(), code));
    };
    let ext = |request| Request::Extended { id: 1, request };
    run(
        "write",
        Request::Write {
            id: 1,
            handle: h.to_vec(),
            offset: 0,
            data: b"x".to_vec().into(),
        },
    );
    run(
        "setstat",
        Request::Setstat {
            id: 1,
            path: b"/f".to_vec(),
            attrs: attrs.clone(),
        },
    );
    run(
        "fsetstat",
        Request::Fsetstat {
            id: 1,
            handle: h.to_vec(),
            attrs: attrs.clone(),
        },
    );
    run(
        "remove",
        Request::Remove {
            id: 1,
            path: b"/f".to_vec(),
        },
    );
    run(
        "mkdir",
        Request::Mkdir {
            id: 1,
            path: b"/d".to_vec(),
            attrs: Attrs::default(),
        },
    );
    run(
        "rmdir",
        Request::Rmdir {
            id: 1,
            path: b"/e".to_vec(),
        },
    );
    run(
        "rename",
        Request::Rename {
            id: 1,
            old_path: b"/g".to_vec(),
            new_path: b"/g2".to_vec(),
        },
    );
    run(
        "symlink",
        Request::Symlink {
            id: 1,
            link_path: b"/l".to_vec(),
            target_path: b"/f".to_vec(),
        },
    );
    run(
        "posix-rename",
        ext(ExtendedRequest::PosixRename {
            old_path: b"/g2".to_vec(),
            new_path: b"/g3".to_vec(),
        }),
    );
    run(
        "hardlink",
        ext(ExtendedRequest::Hardlink {
            old_path: b"/g3".to_vec(),
            new_path: b"/g4".to_vec(),
        }),
    );
    run("fsync", ext(ExtendedRequest::Fsync { handle: h.to_vec() }));
    run(
        "lsetstat",
        ext(ExtendedRequest::Lsetstat {
            path: b"/g3".to_vec(),
            attrs,
        }),
    );
    run(
        "copy-data",
        ext(ExtendedRequest::CopyData {
            read_handle: h.to_vec(),
            read_offset: 0,
            read_length: 0,
            write_handle: h.to_vec(),
            write_offset: 0,
        }),
    );
    out
}

fn populated(config: ServerConfig) -> Client {
    let fs = new_fs();
    let mut setup = Client::on(fs.clone(), ServerConfig::default());
    setup.put(b"/f", b"data");
    setup.put(b"/g", b"gee");
    setup.code(|id| Request::Mkdir {
        id,
        path: b"/e".to_vec(),
        attrs: Attrs::default(),
    });
    Client::on(fs, config)
}

#[test]
fn read_only_refuses_every_write() {
    let mut c = populated(ServerConfig {
        read_only: true,
        ..config()
    });
    // Reading is fine.
    assert_eq!(c.get(b"/f"), b"data");
    // Opening to write, create, truncate or append is not.
    for flags in [
        OpenFlags::WRITE,
        OpenFlags::READ | OpenFlags::WRITE,
        OpenFlags::READ | OpenFlags::CREAT,
        OpenFlags::READ | OpenFlags::TRUNC,
        OpenFlags::APPEND,
    ] {
        assert!(
            matches!(
                c.try_open(b"/f", flags),
                Response::Status {
                    code: StatusCode::PERMISSION_DENIED,
                    ..
                }
            ),
            "{flags:?}"
        );
    }
    let h = c.open(b"/f", OpenFlags::READ);
    c.audit.take();
    let results = writes(&mut c, &h);
    assert_eq!(results.len(), 13);
    for (name, code) in &results {
        assert_eq!(*code, StatusCode::PERMISSION_DENIED, "{name}");
        assert!(
            RequestKind::from_name(name).unwrap().writes(),
            "{name} is a write"
        );
    }
    // Each refusal is in the audit log, and nothing changed.
    let refused = c.audit.take();
    assert_eq!(refused.len(), 13);
    assert!(
        refused
            .iter()
            .all(|e| e.status == StatusCode::PERMISSION_DENIED)
    );
    assert_eq!(refused[0].operation, AuditOperation::Write);
    assert_eq!(refused[0].path, b"/f");
    assert_eq!(c.get(b"/f"), b"data");
    assert_eq!(c.stat(b"/d"), Err(StatusCode::NO_SUCH_FILE));
    assert!(c.stat(b"/e").is_ok());
    // And every write kind is among them.
    let kinds: Vec<&str> = RequestKind::ALL
        .iter()
        .filter(|k| k.writes())
        .map(|k| k.name())
        .collect();
    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(kinds, names);
}

#[test]
fn the_same_writes_work_without_read_only() {
    let mut c = populated(config());
    let h = c.open(b"/f", OpenFlags::READ | OpenFlags::WRITE);
    for (name, code) in writes(&mut c, &h) {
        // copy-data onto its own handle is refused as OpenSSH refuses it.
        let want = if name == "copy-data" {
            StatusCode::FAILURE
        } else {
            StatusCode::OK
        };
        assert_eq!(code, want, "{name}");
    }
}

#[test]
fn allow_and_deny_lists() {
    let mut c = populated(ServerConfig {
        allowed: Some(ServerConfig::parse_request_list("open,read,close,realpath,remove").unwrap()),
        denied: ServerConfig::parse_request_list("remove").unwrap(),
        ..config()
    });
    assert_eq!(c.get(b"/f"), b"data");
    assert_eq!(
        c.name(|id| Request::Realpath {
            id,
            path: b"/".to_vec()
        }),
        b"/"
    );
    assert_eq!(c.stat(b"/f"), Err(StatusCode::PERMISSION_DENIED));
    // The deny list wins over the allow list.
    assert_eq!(
        c.code(|id| Request::Remove {
            id,
            path: b"/f".to_vec()
        }),
        StatusCode::PERMISSION_DENIED
    );
    assert_eq!(
        c.ext_code(ExtendedRequest::Limits),
        StatusCode::PERMISSION_DENIED
    );
    // Unknown names are an error, not silently ignored.
    assert!(ServerConfig::parse_request_list("open,rmove").is_err());
    assert_eq!(
        ServerConfig::parse_request_list(" open , ,users-groups-by-id").unwrap(),
        [RequestKind::Open, RequestKind::UsersGroupsById]
    );
    for k in RequestKind::ALL {
        assert_eq!(RequestKind::from_name(k.name()), Some(k));
    }
}

#[test]
fn umask_applies_to_created_files_and_directories() {
    let fs = new_fs();
    let mut c = Client::on(fs.clone(), config());
    c.put(b"/default", b"");
    assert_eq!(c.stat(b"/default").unwrap().permissions, Some(0o100_644));
    let created = |c: &mut Client, path: &[u8], mode: Option<u32>| {
        c.call(|id| Request::Open {
            id,
            path: path.to_vec(),
            flags: RW_CREATE,
            attrs: Attrs {
                permissions: mode,
                ..Attrs::default()
            },
        });
        c.stat(path).unwrap().permissions.unwrap() & 0o7777
    };
    assert_eq!(created(&mut c, b"/x", Some(0o777)), 0o755);
    let mkdir = |c: &mut Client, path: &[u8], mode: Option<u32>| {
        c.code(|id| Request::Mkdir {
            id,
            path: path.to_vec(),
            attrs: Attrs {
                permissions: mode,
                ..Attrs::default()
            },
        });
        c.stat(path).unwrap().permissions.unwrap() & 0o7777
    };
    assert_eq!(mkdir(&mut c, b"/d1", None), 0o755);
    assert_eq!(mkdir(&mut c, b"/d2", Some(0o1777)), 0o1755);
    let mut strict = Client::on(
        fs,
        ServerConfig {
            umask: 0o077,
            ..config()
        },
    );
    assert_eq!(created(&mut strict, b"/y", None), 0o600);
    assert_eq!(mkdir(&mut strict, b"/d3", None), 0o700);
    // OPEN without CREAT leaves the mode alone (the file exists).
    strict.call(|id| Request::Open {
        id,
        path: b"/x".to_vec(),
        flags: OpenFlags::READ,
        attrs: Attrs {
            permissions: Some(0o600),
            ..Attrs::default()
        },
    });
    assert_eq!(strict.stat(b"/x").unwrap().permissions, Some(0o100_755));
    // The audit log has the mode after the umask.
    let open = strict
        .audit
        .take()
        .into_iter()
        .find(|e| e.operation == AuditOperation::Open)
        .unwrap();
    assert_eq!(open.attrs.unwrap().permissions, Some(0o600));
}

// ---------------------------------------------------------------------------------------------
// copy-data.

#[test]
fn copy_data_between_handles() {
    let mut c = Client::new();
    let data: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
    c.put(b"/src", &data);
    let src = c.open(b"/src", OpenFlags::READ);
    let dst = c.open(b"/dst", RW_CREATE);
    let copy = |c: &mut Client, from: &[u8], off: u64, len: u64, to: &[u8], woff: u64| {
        c.ext_code(ExtendedRequest::CopyData {
            read_handle: from.to_vec(),
            read_offset: off,
            read_length: len,
            write_handle: to.to_vec(),
            write_offset: woff,
        })
    };
    // Length 0: to the end of the file, in several chunks.
    assert_eq!(copy(&mut c, &src, 0, 0, &dst, 0), StatusCode::OK);
    // A range to another offset.
    assert_eq!(copy(&mut c, &src, 10, 5, &dst, 600_000), StatusCode::OK);
    // Asking for more than there is: EOF, after copying what there was.
    assert_eq!(
        copy(&mut c, &src, 599_990, 100, &dst, 700_000),
        StatusCode::EOF
    );
    // The same handle, a handle not open for reading or writing, a stale handle.
    assert_eq!(copy(&mut c, &dst, 0, 0, &dst, 10), StatusCode::FAILURE);
    assert_eq!(
        copy(&mut c, &dst, 0, 0, &src, 0),
        StatusCode::PERMISSION_DENIED
    );
    let wo = c.open(b"/wo", RW_CREATE & OpenFlags(!0x01));
    assert_eq!(
        copy(&mut c, &wo, 0, 0, &dst, 0),
        StatusCode::PERMISSION_DENIED
    );
    // Two handles on the same path: refused, as OpenSSH refuses them.
    let src2 = c.open(b"/src", OpenFlags::READ | OpenFlags::WRITE);
    assert_eq!(copy(&mut c, &src, 0, 0, &src2, 0), StatusCode::FAILURE);
    c.close(&src2);
    assert_eq!(copy(&mut c, &src2, 0, 0, &dst, 0), StatusCode::FAILURE);
    c.audit.take();
    c.close(&src);
    c.close(&dst);
    c.close(&wo);
    let got = c.get(b"/dst");
    assert_eq!(got.len(), 700_010);
    assert_eq!(got[..600_000], data[..]);
    assert_eq!(got[600_000..600_005], data[10..15]);
    assert_eq!(got[700_000..], data[599_990..]);
    // Close events count the bytes copied through each handle.
    let events = c.audit.take();
    assert_eq!(events[0].operation, AuditOperation::Close);
    assert_eq!(events[0].bytes_read, Some(600_015));
    assert_eq!(events[1].bytes_written, Some(600_015));
}

// ---------------------------------------------------------------------------------------------
// Ordering and concurrency.

/// filexfer-02 §6.1: a CLOSE sent right behind WRITEs on the same handle waits for them,
/// whatever order the runner polls the futures in; writes to one handle go one at a time in
/// arrival order; reads of the same file run side by side.
#[test]
fn requests_on_one_file_keep_their_order() {
    let mut c = Client::new();
    c.put(b"/f", b"");
    let h = c.open(b"/f", OpenFlags::READ | OpenFlags::WRITE);
    let s = c.session.clone();
    let write = |offset: u64, data: &[u8]| {
        Box::pin(s.handle(Request::Write {
            id: 1,
            handle: h.clone(),
            offset,
            data: data.to_vec().into(),
        }))
    };
    let mut w1 = write(0, b"abc");
    let mut w2 = write(3, b"def");
    let mut overlapping = write(1, b"X");
    let mut read = Box::pin(s.handle(Request::Read {
        id: 2,
        handle: h.clone(),
        offset: 0,
        len: 10,
    }));
    let mut close = Box::pin(s.handle(Request::Close {
        id: 3,
        handle: h.clone(),
    }));
    // Everything after the first write waits: the close, the read, the overlapping write,
    // and also the write of a separate range (writes to one handle keep their order, so
    // that a cut-off upload leaves a prefix).
    assert!(poll_once(&mut close).is_pending());
    assert!(poll_once(&mut read).is_pending());
    assert!(poll_once(&mut overlapping).is_pending());
    assert!(poll_once(&mut w2).is_pending());
    assert!(poll_once(&mut w1).is_ready());
    assert!(poll_once(&mut overlapping).is_pending());
    assert!(poll_once(&mut w2).is_ready());
    assert!(poll_once(&mut read).is_pending());
    assert!(poll_once(&mut overlapping).is_ready());
    assert!(matches!(
        poll_once(&mut read),
        Poll::Ready(Ok(Response::Data { data, .. })) if data == b"aXcdef"
    ));
    assert!(matches!(
        poll_once(&mut close),
        Poll::Ready(Ok(Response::Status {
            code: StatusCode::OK,
            ..
        }))
    ));

    // Reads of one handle do not wait for each other.
    let h = c.open(b"/f", OpenFlags::READ);
    let reads: Vec<_> = (0..3)
        .map(|i| {
            Box::pin(s.handle(Request::Read {
                id: 10 + i,
                handle: h.clone(),
                offset: u64::from(i),
                len: 1,
            }))
        })
        .collect();
    for mut r in reads.into_iter().rev() {
        assert!(poll_once(&mut r).is_ready());
    }
}

/// A request abandoned before it ran does not block those behind it.
#[test]
fn abandoned_requests_release_their_place() {
    let mut c = Client::new();
    let s = c.session.clone();
    let first = s.handle(Request::Mkdir {
        id: 1,
        path: b"/never".to_vec(),
        attrs: Attrs::default(),
    });
    let mut second = Box::pin(s.handle(Request::Stat {
        id: 2,
        path: b"/".to_vec(),
    }));
    assert!(poll_once(&mut second).is_pending());
    drop(first);
    assert!(poll_once(&mut second).is_ready());
    assert_eq!(c.stat(b"/never"), Err(StatusCode::NO_SUCH_FILE));
}

#[test]
fn sessions_and_futures_are_send_and_static() {
    fn check<T: Send + Sync + 'static>(_: &T) {}
    fn check_future<T: Future + Send + 'static>(_: &T) {}
    let s = Session::new(new_fs(), config(), None);
    check(&s);
    let f = s.handle(Request::Init {
        version: 3,
        extensions: Vec::new(),
    });
    check_future(&f);
    check_future(&s.close_all());
}

// ---------------------------------------------------------------------------------------------
// Audit.

#[test]
fn audit_events_for_changes_and_handles() {
    let mut c = Client::new();
    c.audit.take();
    let h = c.open(b"/a", RW_CREATE | OpenFlags::TRUNC);
    c.write(&h, 0, b"12345");
    c.read(&h, 1, 2);
    c.close(&h);
    c.code(|id| Request::Rename {
        id,
        old_path: b"/a".to_vec(),
        new_path: b"/b \"quoted\"".to_vec(),
    });
    c.code(|id| Request::Mkdir {
        id,
        path: b"d\xff".to_vec(),
        attrs: Attrs::default(),
    });
    let d = c.opendir(b"/");
    c.close(&d);
    c.code(|id| Request::Setstat {
        id,
        path: b"/missing".to_vec(),
        attrs: Attrs {
            size: Some(0),
            ..Attrs::default()
        },
    });
    // Reads of metadata are not audited.
    c.stat(b"/b \"quoted\"").unwrap();
    let events = c.audit.take();
    let ops: Vec<&str> = events.iter().map(|e| e.operation.name()).collect();
    assert_eq!(
        ops,
        [
            "open", "close", "rename", "mkdir", "opendir", "closedir", "setstat"
        ]
    );
    let text: Vec<String> = events.iter().map(AuditEvent::to_text).collect();
    assert_eq!(
        text[0],
        r#"2023-11-14T22:13:20Z user="me" op=open path="/a" flags=READ,WRITE,CREATE,TRUNCATE mode=0644 result=ok"#
    );
    assert_eq!(
        text[1],
        r#"2023-11-14T22:13:20Z user="me" op=close path="/a" read=2 written=5 result=ok"#
    );
    assert_eq!(
        text[2],
        r#"2023-11-14T22:13:20Z user="me" op=rename path="/a" target="/b \"quoted\"" result=ok"#
    );
    assert_eq!(
        text[3],
        r#"2023-11-14T22:13:20Z user="me" op=mkdir path="/d\xff" mode=0755 result=ok"#
    );
    assert!(text[6].ends_with("size=0 result=SSH_FX_NO_SUCH_FILE"));
    let json: Vec<String> = events.iter().map(AuditEvent::to_json).collect();
    assert_eq!(
        json[2],
        r#"{"time":"2023-11-14T22:13:20Z","user":"me","op":"rename","path":"/a","target":"/b \"quoted\"","result":"ok","status":0}"#
    );
    assert_eq!(
        json[3],
        "{\"time\":\"2023-11-14T22:13:20Z\",\"user\":\"me\",\"op\":\"mkdir\",\"path\":\"/d\u{fffd}\",\"path_hex\":\"2f64ff\",\"mode\":493,\"result\":\"ok\",\"status\":0}"
    );
}

#[test]
fn close_all_closes_and_audits_what_was_left_open() {
    let mut c = Client::new();
    let h = c.open(b"/a", RW_CREATE);
    c.write(&h, 0, b"xyz");
    let _d = c.opendir(b"/");
    c.audit.take();
    block_on(c.session.close_all());
    assert_eq!(c.session.open_handles(), 0);
    let events = c.audit.take();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.forced));
    assert_eq!(events[0].operation, AuditOperation::Close);
    assert_eq!(events[0].bytes_written, Some(3));
    assert_eq!(events[1].operation, AuditOperation::Closedir);
    assert!(events[0].to_text().ends_with(" forced result=ok"));
    assert_eq!(c.close(&h), StatusCode::FAILURE);
}

#[test]
fn lsetstat_refuses_a_size() {
    let mut c = Client::new();
    c.put(b"/f", b"x");
    assert_eq!(
        c.ext_code(ExtendedRequest::Lsetstat {
            path: b"/f".to_vec(),
            attrs: Attrs {
                size: Some(0),
                ..Attrs::default()
            }
        }),
        StatusCode::BAD_MESSAGE
    );
    assert_eq!(c.get(b"/f"), b"x");
}

/// A reply that would not fit in a packet is a failure instead: the REALPATH of a path of
/// 200 KiB would be a NAME of 400 KiB (the name and the long name).
#[test]
fn replies_that_would_not_fit_in_a_packet_fail() {
    let mut c = Client::new();
    let long = vec![b'x'; 200 * 1024];
    assert_eq!(
        c.status(|id| Request::Realpath {
            id,
            path: long.clone()
        }),
        (StatusCode::FAILURE, "reply too long".to_owned())
    );
    let short = vec![b'x'; 100 * 1024];
    assert_eq!(
        c.name(|id| Request::Realpath { id, path: short }).len(),
        100 * 1024 + 1
    );
    // A configured read length above what fits is MAX_DATA.
    let mut big = Client::on(
        new_fs(),
        ServerConfig {
            max_read_len: u32::MAX,
            ..config()
        },
    );
    big.put(b"/f", &vec![1; 300 * 1024]);
    let h = big.open(b"/f", OpenFlags::READ);
    assert!(
        matches!(big.read(&h, 0, u32::MAX), Response::Data { data, .. } if data.len() == MAX_DATA as usize)
    );
}
