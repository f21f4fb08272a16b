//! The SFTP server runner over in-memory streams: a hand-written client sends framed packets
//! and checks the replies by id; out-of-order completion, the bound on requests in flight,
//! packet length limits, protocol errors, and the `sftp` subsystem over a real SSH session.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sshwire::sftp::fs::{Dir, DirEntry, File, Filesystem, FsError, FsFuture, ready};
use sshwire::sftp::server::{AuditEvent, AuditOperation, AuditSink, ServerConfig};
use sshwire::sftp::{
    Attrs, ExtendedRequest, Frame, LimitsReply, MAX_DATA, MAX_PACKET, OpenFlags, Request, Response,
    StatusCode, decode_frame,
};
use sshwire::sftp_server::{MAX_IN_FLIGHT, SftpSubsystem, serve};
use tokio::io::{
    AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf,
};
use tokio::sync::watch;

// ---------------------------------------------------------------------------------------------
// A filesystem of flat files, some of whose reads wait for a gate.

/// Files by path. Reads of files whose name starts with `/gated` wait until the gate opens;
/// the filesystem counts them.
type Contents = Arc<Mutex<Vec<u8>>>;

#[derive(Default)]
struct Files {
    files: Mutex<HashMap<Vec<u8>, Contents>>,
    gate: Gate,
}

struct Gate {
    open: watch::Sender<bool>,
    /// Gated reads started so far.
    started: watch::Sender<usize>,
    /// Reads finished so far, gated or not.
    finished: watch::Sender<usize>,
    running: AtomicUsize,
    most_running: AtomicUsize,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            open: watch::channel(false).0,
            started: watch::channel(0).0,
            finished: watch::channel(0).0,
            running: AtomicUsize::new(0),
            most_running: AtomicUsize::new(0),
        }
    }
}

struct MemFile {
    data: Arc<Mutex<Vec<u8>>>,
    gated: Option<Arc<Files>>,
    /// Only the read at offset 0 waits (files named `/gated-head...`).
    head_only: bool,
    files: Arc<Files>,
}

/// Counts a read as finished when its future ends.
struct Finished(Arc<Files>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.gate.finished.send_modify(|n| *n += 1);
    }
}

impl File for MemFile {
    fn read_at(&self, offset: u64, len: u32) -> FsFuture<'_, Vec<u8>> {
        let data = self.data.clone();
        let gated = self
            .gated
            .clone()
            .filter(|_| !self.head_only || offset == 0);
        let files = self.files.clone();
        Box::pin(async move {
            let _finished = Finished(files);
            if let Some(fs) = gated {
                let g = &fs.gate;
                let now = g.running.fetch_add(1, Ordering::SeqCst) + 1;
                g.most_running.fetch_max(now, Ordering::SeqCst);
                g.started.send_modify(|n| *n += 1);
                let mut open = g.open.subscribe();
                open.wait_for(|o| *o).await.unwrap();
                g.running.fetch_sub(1, Ordering::SeqCst);
            }
            let data = data.lock().unwrap();
            let start = (offset as usize).min(data.len());
            let end = (start + len as usize).min(data.len());
            Ok(data[start..end].to_vec())
        })
    }

    fn write_at(&self, offset: u64, bytes: Vec<u8>) -> FsFuture<'_, ()> {
        let mut data = self.data.lock().unwrap();
        let end = offset as usize + bytes.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[offset as usize..end].copy_from_slice(&bytes);
        ready(Ok(()))
    }

    fn stat(&self) -> FsFuture<'_, Attrs> {
        let size = self.data.lock().unwrap().len() as u64;
        ready(Ok(Attrs {
            size: Some(size),
            permissions: Some(0o100_644),
            ..Attrs::default()
        }))
    }

    fn setstat<'a>(&'a self, _attrs: &'a Attrs) -> FsFuture<'a, ()> {
        ready(Ok(()))
    }
}

impl Files {
    fn new() -> Arc<Files> {
        Arc::new(Files::default())
    }

    fn put(&self, path: &[u8], data: &[u8]) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_vec(), Arc::new(Mutex::new(data.to_vec())));
    }

    fn content(&self, path: &[u8]) -> Option<Vec<u8>> {
        let files = self.files.lock().unwrap();
        files.get(path).map(|d| d.lock().unwrap().clone())
    }
}

/// The filesystem as the server sees it: the shared [`Files`] behind it.
struct Served(Arc<Files>);

impl Filesystem for Served {
    fn open<'a>(
        &'a self,
        path: &'a [u8],
        flags: OpenFlags,
        _attrs: &'a Attrs,
    ) -> FsFuture<'a, Box<dyn File>> {
        let mut files = self.0.files.lock().unwrap();
        let data = match files.get(path) {
            Some(d) => d.clone(),
            None if flags.contains(OpenFlags::CREAT) => {
                let d = Arc::new(Mutex::new(Vec::new()));
                files.insert(path.to_vec(), d.clone());
                d
            }
            None => return ready(Err(FsError::not_found())),
        };
        let gated = path.starts_with(b"/gated").then(|| self.0.clone());
        let head_only = path.starts_with(b"/gated-head");
        ready(Ok(Box::new(MemFile {
            data,
            gated,
            head_only,
            files: self.0.clone(),
        }) as Box<dyn File>))
    }

    fn opendir<'a>(&'a self, _path: &'a [u8]) -> FsFuture<'a, Box<dyn Dir>> {
        struct Empty;
        impl Dir for Empty {
            fn next_entries(&mut self, _max: usize) -> FsFuture<'_, Vec<DirEntry>> {
                ready(Ok(Vec::new()))
            }
        }
        ready(Ok(Box::new(Empty) as Box<dyn Dir>))
    }

    fn stat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        let size = self.0.content(path).map(|d| d.len() as u64);
        ready(size.map_or_else(
            || Err(FsError::not_found()),
            |s| {
                Ok(Attrs {
                    size: Some(s),
                    ..Attrs::default()
                })
            },
        ))
    }

    fn lstat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        self.stat(path)
    }

    fn setstat<'a>(&'a self, _path: &'a [u8], _attrs: &'a Attrs) -> FsFuture<'a, ()> {
        ready(Err(FsError::unsupported()))
    }

    fn remove<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, ()> {
        let removed = self.0.files.lock().unwrap().remove(path);
        ready(removed.map(|_| ()).ok_or_else(FsError::not_found))
    }

    fn mkdir<'a>(&'a self, _path: &'a [u8], _attrs: &'a Attrs) -> FsFuture<'a, ()> {
        ready(Err(FsError::unsupported()))
    }

    fn rmdir<'a>(&'a self, _path: &'a [u8]) -> FsFuture<'a, ()> {
        ready(Err(FsError::unsupported()))
    }

    fn realpath<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(Ok(path.to_vec()))
    }

    fn rename<'a>(&'a self, _from: &'a [u8], _to: &'a [u8]) -> FsFuture<'a, ()> {
        ready(Err(FsError::unsupported()))
    }

    fn readlink<'a>(&'a self, _path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(Err(FsError::unsupported()))
    }

    fn symlink<'a>(&'a self, _link: &'a [u8], _target: &'a [u8]) -> FsFuture<'a, ()> {
        ready(Err(FsError::unsupported()))
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<AuditEvent>>);

impl AuditSink for Recorder {
    fn record(&self, event: &AuditEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

// ---------------------------------------------------------------------------------------------
// A client that writes packets and reads replies.

struct Peer<S> {
    r: ReadHalf<S>,
    w: WriteHalf<S>,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite> Peer<S> {
    async fn send(&mut self, request: &Request) {
        let mut out = Vec::new();
        request.encode(&mut out);
        self.w.write_all(&out).await.unwrap();
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).await.unwrap();
    }

    /// The next reply, or `None` at the end of the stream.
    async fn recv(&mut self) -> Option<Response> {
        loop {
            match decode_frame(&self.buf, MAX_PACKET + 1024).unwrap() {
                Frame::Complete { payload, consumed } => {
                    let r = Response::decode(payload).unwrap();
                    self.buf.drain(..consumed);
                    return Some(r);
                }
                Frame::Incomplete { .. } => {
                    let mut chunk = vec![0; 64 * 1024];
                    let n = self.r.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        assert!(self.buf.is_empty(), "a partial reply");
                        return None;
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }

    async fn call(&mut self, request: Request) -> Response {
        let id = request.id();
        self.send(&request).await;
        let reply = self.recv().await.unwrap();
        assert_eq!(reply.id(), id, "{reply:?}");
        reply
    }

    async fn init(&mut self) -> Vec<String> {
        self.send(&Request::Init {
            version: 3,
            extensions: Vec::new(),
        })
        .await;
        match self.recv().await {
            Some(Response::Version {
                version: 3,
                extensions,
            }) => extensions
                .into_iter()
                .map(|(n, _)| String::from_utf8(n).unwrap())
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    async fn open(&mut self, id: u32, path: &[u8], flags: OpenFlags) -> Vec<u8> {
        match self
            .call(Request::Open {
                id,
                path: path.to_vec(),
                flags,
                attrs: Attrs::default(),
            })
            .await
        {
            Response::Handle { handle, .. } => handle,
            other => panic!("{other:?}"),
        }
    }

    /// Ends our side: the server sees EOF.
    async fn finish(mut self) -> Vec<Response> {
        self.w.shutdown().await.unwrap();
        let mut rest = Vec::new();
        while let Some(r) = self.recv().await {
            rest.push(r);
        }
        rest
    }
}

type ServerTask = tokio::task::JoinHandle<std::io::Result<()>>;

fn start(
    files: &Arc<Files>,
    config: ServerConfig,
    audit: Option<Arc<Recorder>>,
) -> (Peer<DuplexStream>, ServerTask) {
    let (client, server) = tokio::io::duplex(1024 * 1024);
    let fs: Arc<dyn Filesystem> = Arc::new(Served(files.clone()));
    let audit = audit.map(|a| a as Arc<dyn AuditSink>);
    let task = tokio::spawn(serve(server, fs, config, audit));
    let (r, w) = tokio::io::split(client);
    (
        Peer {
            r,
            w,
            buf: Vec::new(),
        },
        task,
    )
}

fn ok(id: u32) -> Response {
    Response::status(id, StatusCode::OK)
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn open_write_read_close_over_a_stream() {
    let files = Files::new();
    let audit = Arc::new(Recorder::default());
    let (mut peer, server) = start(&files, ServerConfig::default(), Some(audit.clone()));
    let extensions = peer.init().await;
    assert!(extensions.contains(&"limits@openssh.com".to_owned()));
    let h = peer
        .open(
            1,
            b"/a",
            OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREAT,
        )
        .await;
    let big: Vec<u8> = (0..MAX_DATA as usize).map(|i| (i % 239) as u8).collect();
    assert_eq!(
        peer.call(Request::Write {
            id: 2,
            handle: h.clone(),
            offset: 0,
            data: big.clone().into()
        })
        .await,
        ok(2)
    );
    assert_eq!(
        peer.call(Request::Read {
            id: 3,
            handle: h.clone(),
            offset: 0,
            len: u32::MAX
        })
        .await,
        Response::Data {
            id: 3,
            data: big.into()
        }
    );
    assert_eq!(
        peer.call(Request::Read {
            id: 4,
            handle: h.clone(),
            offset: u64::from(MAX_DATA),
            len: 10
        })
        .await,
        Response::status(4, StatusCode::EOF)
    );
    match peer
        .call(Request::Extended {
            id: 5,
            request: ExtendedRequest::Limits,
        })
        .await
    {
        Response::ExtendedReply { data, .. } => {
            assert_eq!(LimitsReply::decode(&data).unwrap().max_open_handles, 1024)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        peer.call(Request::Close {
            id: 6,
            handle: h.clone()
        })
        .await,
        ok(6)
    );
    assert!(matches!(
        peer.call(Request::Stat { id: 7, path: b"/a".to_vec() }).await,
        Response::Attrs { attrs, .. } if attrs.size == Some(u64::from(MAX_DATA))
    ));
    // Unknown packet types are answered and the session goes on.
    let mut unknown = vec![0, 0, 0, 5, 77];
    unknown.extend_from_slice(&8u32.to_be_bytes());
    peer.send_raw(&unknown).await;
    assert_eq!(
        peer.recv().await,
        Some(Response::status(8, StatusCode::OP_UNSUPPORTED))
    );
    // A file left open is closed at EOF, and the close is audited.
    let _left = peer.open(9, b"/a", OpenFlags::READ).await;
    assert!(peer.finish().await.is_empty());
    server.await.unwrap().unwrap();
    let events = audit.0.lock().unwrap().clone();
    let last = events.last().unwrap();
    assert_eq!((last.operation, last.forced), (AuditOperation::Close, true));
    assert_eq!(files.content(b"/a").unwrap().len(), MAX_DATA as usize);
}

/// A slow read does not hold up a fast one: the fast one's reply comes first, each with its
/// own id.
#[tokio::test]
async fn replies_come_in_completion_order() {
    let files = Files::new();
    files.put(b"/gated", b"slow data");
    files.put(b"/plain", b"fast data");
    let (mut peer, server) = start(&files, ServerConfig::default(), None);
    peer.init().await;
    let slow = peer.open(1, b"/gated", OpenFlags::READ).await;
    let fast = peer.open(2, b"/plain", OpenFlags::READ).await;
    for (id, handle) in [(10, &slow), (11, &fast)] {
        peer.send(&Request::Read {
            id,
            handle: handle.clone(),
            offset: 0,
            len: 100,
        })
        .await;
    }
    assert_eq!(
        peer.recv().await,
        Some(Response::Data {
            id: 11,
            data: b"fast data".to_vec().into()
        })
    );
    files.gate.open.send_replace(true);
    assert_eq!(
        peer.recv().await,
        Some(Response::Data {
            id: 10,
            data: b"slow data".to_vec().into()
        })
    );
    assert!(peer.finish().await.is_empty());
    server.await.unwrap().unwrap();
}

/// READs on one handle are answered in the order they came, even when a later one finished
/// first (OpenSSH's sftp writes DATA where it belongs as it arrives: out of order, an
/// interrupted download would leave a hole that its `reget` keeps); other handles' replies
/// are not held back.
#[tokio::test]
async fn reads_on_one_handle_are_answered_in_their_order() {
    let files = Files::new();
    let data: Vec<u8> = (0..200u8).collect();
    files.put(b"/gated-head", &data);
    files.put(b"/plain", b"other");
    let (mut peer, server) = start(&files, ServerConfig::default(), None);
    peer.init().await;
    let h = peer.open(1, b"/gated-head", OpenFlags::READ).await;
    let other = peer.open(2, b"/plain", OpenFlags::READ).await;
    for (id, handle, offset) in [(10, &h, 0), (11, &h, 100), (12, &other, 0)] {
        peer.send(&Request::Read {
            id,
            handle: handle.clone(),
            offset,
            len: 100,
        })
        .await;
    }
    // The other handle's reply is not held back.
    assert_eq!(
        peer.recv().await,
        Some(Response::Data {
            id: 12,
            data: b"other".to_vec().into()
        })
    );
    // The second read of the first handle has finished too; its reply waits for the first.
    let mut finished = files.gate.finished.subscribe();
    finished.wait_for(|n| *n >= 2).await.unwrap();
    files.gate.open.send_replace(true);
    for (id, part) in [(10, &data[..100]), (11, &data[100..])] {
        assert_eq!(
            peer.recv().await,
            Some(Response::Data {
                id,
                data: part.to_vec().into()
            })
        );
    }
    assert!(peer.finish().await.is_empty());
    server.await.unwrap().unwrap();
}

/// No more than MAX_IN_FLIGHT requests run at once; the rest wait in the stream and all are
/// answered.
#[tokio::test]
async fn requests_in_flight_are_bounded() {
    let files = Files::new();
    files.put(b"/gated", &[7; 1000]);
    let (mut peer, server) = start(&files, ServerConfig::default(), None);
    peer.init().await;
    let h = peer.open(1, b"/gated", OpenFlags::READ).await;
    let total = MAX_IN_FLIGHT as u32 + 36;
    for i in 0..total {
        peer.send(&Request::Read {
            id: 100 + i,
            handle: h.clone(),
            offset: u64::from(i),
            len: 1,
        })
        .await;
    }
    let mut started = files.gate.started.subscribe();
    started.wait_for(|n| *n >= MAX_IN_FLIGHT).await.unwrap();
    assert_eq!(files.gate.running.load(Ordering::SeqCst), MAX_IN_FLIGHT);
    files.gate.open.send_replace(true);
    let mut ids = Vec::new();
    for _ in 0..total {
        match peer.recv().await.unwrap() {
            Response::Data { id, data } => {
                assert_eq!(data, [7]);
                ids.push(id);
            }
            other => panic!("{other:?}"),
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (100..100 + total).collect::<Vec<_>>());
    assert_eq!(
        files.gate.most_running.load(Ordering::SeqCst),
        MAX_IN_FLIGHT
    );
    assert!(peer.finish().await.is_empty());
    server.await.unwrap().unwrap();
}

/// Lengths of 0, above the limit, and 0xffffffff end the session with an error (and no
/// panic); exactly the limit is fine.
#[tokio::test]
async fn packet_length_limits() {
    for bad in [0u32, MAX_PACKET + 1, u32::MAX] {
        let files = Files::new();
        let (mut peer, server) = start(&files, ServerConfig::default(), None);
        peer.init().await;
        let mut packet = bad.to_be_bytes().to_vec();
        packet.extend_from_slice(&[3; 16]);
        peer.send_raw(&packet).await;
        assert!(peer.finish().await.is_empty(), "length {bad}");
        let e = server.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        assert!(e.to_string().contains("length"), "{e}");
    }
    // A WRITE packet of exactly MAX_PACKET bytes after the length.
    let files = Files::new();
    let (mut peer, server) = start(&files, ServerConfig::default(), None);
    peer.init().await;
    let h = peer
        .open(1, b"/big", OpenFlags::WRITE | OpenFlags::CREAT)
        .await;
    let fixed = 1 + 4 + 4 + h.len() + 8 + 4;
    let data = vec![1u8; MAX_PACKET as usize - fixed];
    let mut packet = Vec::new();
    Request::Write {
        id: 2,
        handle: h.clone(),
        offset: 0,
        data: data.into(),
    }
    .encode(&mut packet);
    assert_eq!(packet.len(), MAX_PACKET as usize + 4);
    peer.send_raw(&packet).await;
    assert_eq!(peer.recv().await, Some(ok(2)));
    assert!(peer.finish().await.is_empty());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn requests_before_init_end_the_session() {
    let files = Files::new();
    let (mut peer, server) = start(&files, ServerConfig::default(), None);
    peer.send(&Request::Open {
        id: 1,
        path: b"/x".to_vec(),
        flags: OpenFlags::WRITE | OpenFlags::CREAT,
        attrs: Attrs::default(),
    })
    .await;
    // Nothing is answered, and nothing was created.
    assert!(peer.finish().await.is_empty());
    let e = server.await.unwrap().unwrap_err();
    assert!(e.to_string().contains("before SSH_FXP_INIT"), "{e}");
    assert!(files.content(b"/x").is_none());
}

/// A malformed packet ends the session; requests already running still get their replies.
#[tokio::test]
async fn malformed_packets_end_the_session_after_running_requests() {
    let files = Files::new();
    files.put(b"/gated", b"abc");
    let (mut peer, server) = start(&files, ServerConfig::default(), None);
    peer.init().await;
    let h = peer.open(1, b"/gated", OpenFlags::READ).await;
    peer.send(&Request::Read {
        id: 2,
        handle: h.clone(),
        offset: 0,
        len: 3,
    })
    .await;
    let mut started = files.gate.started.subscribe();
    started.wait_for(|n| *n == 1).await.unwrap();
    // A READ cut short: the length says 9 bytes, the fields need 21.
    peer.send_raw(&[0, 0, 0, 9, 5, 0, 0, 0, 3, 0, 0, 0, 0])
        .await;
    // And a request after it, which is never read.
    peer.send(&Request::Stat {
        id: 4,
        path: b"/gated".to_vec(),
    })
    .await;
    files.gate.open.send_replace(true);
    assert_eq!(
        peer.recv().await,
        Some(Response::Data {
            id: 2,
            data: b"abc".to_vec().into()
        })
    );
    assert!(peer.finish().await.is_empty());
    let e = server.await.unwrap().unwrap_err();
    assert!(e.to_string().contains("malformed SSH_FXP_READ"), "{e}");
}

#[tokio::test]
async fn a_second_init_ends_the_session() {
    let files = Files::new();
    let (mut peer, server) = start(&files, ServerConfig::default(), None);
    peer.init().await;
    peer.send(&Request::Init {
        version: 3,
        extensions: Vec::new(),
    })
    .await;
    assert!(peer.finish().await.is_empty());
    assert!(server.await.unwrap().is_err());
}

// ---------------------------------------------------------------------------------------------
// The subsystem, over a whole SSH session in memory.

mod over_ssh {
    use super::*;
    use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
    use sshwire::keys::{KeyType, PrivateKey, PublicKey};
    use sshwire::server::{Server, ServerSettings};
    use sshwire::{Authenticated, Authenticator, ExitStatus, system_rng};

    struct AnyKey(PublicKey);

    impl Authenticator for AnyKey {
        fn public_key(&self, _user: &str, key: &PublicKey) -> bool {
            *key == self.0
        }

        fn password(&self, _user: &str, _password: &[u8]) -> bool {
            false
        }
    }

    fn key() -> Arc<PrivateKey> {
        Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap())
    }

    async fn client_as(user: &str, files: &Arc<Files>, audit: &Arc<Recorder>) -> Client {
        let client_key = key();
        let server = Server::with_settings(ServerSettings::new(vec![key()]));
        let auth: Arc<dyn Authenticator> = Arc::new(AnyKey(client_key.public_key()));
        let served = files.clone();
        // Alice gets the files; anyone else is refused.
        let handler = SftpSubsystem::new(move |who: &Authenticated| {
            (who.user == "alice").then(|| {
                let fs: Arc<dyn Filesystem> = Arc::new(Served(served.clone()));
                (fs, ServerConfig::default())
            })
        })
        .with_audit(audit.clone());
        let (a, b) = tokio::io::duplex(256 * 1024);
        tokio::spawn(async move {
            server
                .serve_connection(b, auth, Arc::new(handler), |_, _| {})
                .await
        });
        let mut options = AuthOptions::new(user);
        options.use_agent = false;
        options.identities = vec![Identity::Key(client_key, "test".into())];
        let mut trust = |_: &PublicKey| true;
        Client::over(
            a,
            "test",
            &ClientConfig::default(),
            &mut trust,
            &options,
            &mut NoPrompts,
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_sftp_subsystem_serves_files_per_user() {
        let files = Files::new();
        files.put(b"/hello", b"hello over ssh");
        let audit = Arc::new(Recorder::default());
        let client = client_as("alice", &files, &audit).await;
        let channel = client.session().open_session().await.unwrap();
        // Only `sftp` is a subsystem here.
        assert!(channel.subsystem("shell").await.is_err());
        channel.subsystem("sftp").await.unwrap();
        let (r, w) = tokio::io::split(channel);
        let mut peer = Peer {
            r,
            w,
            buf: Vec::new(),
        };
        peer.init().await;
        let h = peer.open(1, b"/hello", OpenFlags::READ).await;
        assert_eq!(
            peer.call(Request::Read {
                id: 2,
                handle: h,
                offset: 0,
                len: 100
            })
            .await,
            Response::Data {
                id: 2,
                data: b"hello over ssh".to_vec().into()
            }
        );
        let Peer { r, mut w, .. } = peer;
        w.shutdown().await.unwrap();
        let channel = r.unsplit(w);
        assert_eq!(channel.exit_status().await, Some(ExitStatus::Code(0)));
        // The audit log has the user's name from the login.
        let events = audit.0.lock().unwrap().clone();
        assert!(!events.is_empty());
        assert!(events.iter().all(|e| e.user == "alice"));

        // Bob is refused the subsystem.
        let bob = client_as("bob", &files, &audit).await;
        let channel = bob.session().open_session().await.unwrap();
        assert!(channel.subsystem("sftp").await.is_err());
    }
}
