//! The async SFTP client: every request of SFTP v3 and OpenSSH's extensions, many in flight at
//! once, over any byte stream (an SSH channel's `sftp` subsystem, or a spawned `sftp-server`).
//!
//! One task reads replies and hands each to the call that waits for it; calls write their
//! request under a lock that also assigns its id, so requests go out in the order they were
//! made and replies come back in any order. A semaphore bounds the requests in flight.
//!
//! Each `SftpClient` value has its own working directory ([`SftpClient::chdir`]), kept on the
//! client side as paramiko does: every path-taking call resolves a relative path against it.
//! Files are in [`crate::sftp_file`], directory walks and conveniences in
//! [`crate::sftp_ops`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use sshwire_sftp::client::{ClientConfig, ClientEngine, ClientError, ServerInfo, TransferLimits};
use sshwire_sftp::{
    Attrs, Block, ExtendedRequest, LimitsReply, NameEntry, OpenFlags, Request, Response, Room,
    StatusCode, StatvfsReply, UsersGroupsReply,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::session::{ChunkReader, OwnedSender, Received};
use crate::sftp_streams::Streams;
use crate::trace::{SftpTracer, TraceSink};
use crate::write_both::send_block;
use sshwire_transport::trace::Direction;

/// Why an SFTP call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SftpError {
    /// The server answered with a status other than OK.
    Status {
        /// The `SSH_FX_*` code.
        code: StatusCode,
        /// The server's message.
        message: String,
    },
    /// The server broke the protocol, or the session ended.
    Protocol(String),
    /// The server does not offer the extension this call needs.
    Unsupported(&'static str),
    /// The path exists but is not a directory (`chdir`, `makedirs`).
    NotADirectory(Vec<u8>),
}

impl SftpError {
    /// Whether this is the server saying the path does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, SftpError::Status { code, .. } if *code == StatusCode::NO_SUCH_FILE)
    }
}

impl std::fmt::Display for SftpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SftpError::Status { code, message } if message.is_empty() => write!(f, "{code}"),
            SftpError::Status { message, .. } => f.write_str(message),
            SftpError::Protocol(why) => write!(f, "SFTP session failed: {why}"),
            SftpError::Unsupported(what) => write!(f, "the server does not support {what}"),
            SftpError::NotADirectory(path) => {
                write!(f, "{}: not a directory", String::from_utf8_lossy(path))
            }
        }
    }
}

impl std::error::Error for SftpError {}

impl From<SftpError> for io::Error {
    fn from(e: SftpError) -> Self {
        let kind = match &e {
            SftpError::Status { code, .. } if *code == StatusCode::NO_SUCH_FILE => {
                io::ErrorKind::NotFound
            }
            SftpError::Status { code, .. } if *code == StatusCode::PERMISSION_DENIED => {
                io::ErrorKind::PermissionDenied
            }
            SftpError::Unsupported(_) => io::ErrorKind::Unsupported,
            SftpError::NotADirectory(_) => io::ErrorKind::NotADirectory,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Where a reply goes, and the session slot its request holds until the reply comes (even
/// when nobody waits for it any more: the request is still in flight).
type Waiter = (
    oneshot::Sender<Result<Response, SftpError>>,
    Option<OwnedSemaphorePermit>,
);

/// What the writer task sends: encoded requests, then the data of a WRITE whose header ends
/// them (kept apart so that a block of file data is never copied into the engine).
type Outgoing = (Vec<u8>, Option<Block>);

/// What the calls and the reader task share.
struct Shared {
    engine: ClientEngine,
    waiting: HashMap<u32, Waiter>,
    /// Why the session ended, once it has.
    end: Option<SftpError>,
    /// Traces every request and reply, when the session is traced.
    trace: Option<SftpTracer>,
}

/// An SFTP session; cheap to clone, every clone shares it.
///
/// The working directory is not shared: a clone starts with its parent's and then goes its
/// own way.
#[derive(Clone)]
pub struct SftpClient {
    shared: Arc<Mutex<Shared>>,
    out: mpsc::UnboundedSender<Outgoing>,
    slots: Arc<Semaphore>,
    info: ServerInfo,
    limits: TransferLimits,
    /// The working directory, absolute and canonical, once [`SftpClient::chdir`] set one.
    cwd: Option<Vec<u8>>,
    /// The connection this session came from, when further sessions may be opened on it
    /// for downloads (see [`crate::sftp_streams`]).
    streams: Option<Arc<Streams>>,
    /// The session runs on an SSH channel whose writer sends a WRITE in the buffer its block
    /// was read into (see [`SftpClient::write_room`]).
    owned: bool,
}

/// A place among the requests in flight (see [`SftpClient::slot`]).
pub(crate) struct Slot(Option<OwnedSemaphorePermit>);

/// A request sent without waiting for its reply: a future of the reply.
///
/// Dropping it forgets the reply (the request stays sent, and keeps its session slot until
/// the reply comes).
pub(crate) struct Pending {
    rx: oneshot::Receiver<Result<Response, SftpError>>,
}

impl Future for Pending {
    type Output = Result<Response, SftpError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(closed())))
    }
}

/// Bytes read from the stream at a time, at least.
const READ_CHUNK: usize = 64 * 1024;

/// Requests in flight at once, by default (OpenSSH's sftp uses 64).
pub const DEFAULT_IN_FLIGHT: usize = 64;

impl SftpClient {
    /// Starts a session over `stream`: sends INIT, waits for VERSION, and asks for
    /// `limits@openssh.com` when offered.
    pub async fn new<S>(stream: S) -> Result<SftpClient, SftpError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::with_in_flight(stream, DEFAULT_IN_FLIGHT).await
    }

    /// As [`SftpClient::new`], with at most `in_flight` requests outstanding.
    pub async fn with_in_flight<S>(stream: S, in_flight: usize) -> Result<SftpClient, SftpError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::with_trace(stream, in_flight, None).await
    }

    /// As [`SftpClient::with_in_flight`], tracing every request and reply to `trace` (see
    /// [`crate::trace`]; a channel's [`crate::Channel::trace_sink`] is the connection's).
    pub async fn with_trace<S>(
        stream: S,
        in_flight: usize,
        trace: Option<TraceSink>,
    ) -> Result<SftpClient, SftpError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::begin(stream, in_flight, trace, None, None).await
    }

    /// As [`SftpClient::with_trace`], on an SSH channel: a WRITE whose block was read after
    /// room for the request's and the packet's headers goes out in that buffer (see
    /// [`OwnedSender`]), so the block is not copied on its way to the cipher.
    pub(crate) async fn over_channel(
        channel: crate::Channel,
        in_flight: usize,
        trace: Option<TraceSink>,
    ) -> Result<SftpClient, SftpError> {
        let sender = channel.owned_sender();
        let chunks = channel.chunk_reader();
        Self::begin(channel, in_flight, trace, Some(sender), Some(chunks)).await
    }

    async fn begin<S>(
        stream: S,
        in_flight: usize,
        trace: Option<TraceSink>,
        owned: Option<OwnedSender>,
        chunks: Option<ChunkReader>,
    ) -> Result<SftpClient, SftpError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let has_owned = owned.is_some();
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut engine = ClientEngine::new(ClientConfig::default());
        let mut trace = trace.map(|sink| SftpTracer::new("client", sink));
        let mut init = Vec::new();
        engine.poll_transmit(&mut init);
        if let Some(t) = &mut trace
            && let Ok(sshwire_sftp::Frame::Complete { payload, .. }) =
                sshwire_sftp::decode_frame(&init, sshwire_sftp::MAX_PACKET)
        {
            t.payload(Direction::Sent, payload);
        }
        writer.write_all(&init).await.map_err(io_failed)?;
        writer.flush().await.map_err(io_failed)?;
        // VERSION first, read here before the reader task exists.
        let mut buf = vec![0u8; READ_CHUNK];
        let info = loop {
            let n = reader.read(&mut buf).await.map_err(io_failed)?;
            if n == 0 {
                return Err(SftpError::Protocol(
                    "the server closed the session before VERSION".into(),
                ));
            }
            engine
                .handle_input(buf.get(..n).unwrap_or_default())
                .map_err(protocol)?;
            let reply = engine.poll_reply();
            if let (Some(t), Some(r)) = (&mut trace, &reply) {
                t.response(Direction::Received, r);
            }
            if let Some(Response::Version { .. }) = reply
                && let Some(info) = engine.server()
            {
                break info.clone();
            }
        };
        let shared = Arc::new(Mutex::new(Shared {
            engine,
            waiting: HashMap::new(),
            end: None,
            trace,
        }));
        let (out, mut out_rx) = mpsc::unbounded_channel::<Outgoing>();
        let writer_shared = shared.clone();
        // Dropped when the writer ends: every handle is gone and what they sent is written
        // (or writing failed). The reader then stops too, so that both halves of the stream
        // are dropped: for a pipe, only closing it ends the server (shutting down a tokio
        // `ChildStdin` leaves it open), and the server may wait for that EOF before it closes
        // its side, which the reader would wait for in turn.
        let (writer_done, mut writer_gone) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _done = writer_done;
            while let Some((bytes, data)) = out_rx.recv().await {
                let data = data.unwrap_or_default();
                if let Err(e) = send_block(&mut writer, owned.as_ref(), &bytes, data).await {
                    end(
                        &writer_shared,
                        SftpError::Protocol(format!("write failed: {e}")),
                    );
                    return;
                }
            }
            let _ = writer.shutdown().await;
        });
        let reader_shared = shared.clone();
        tokio::spawn(async move {
            // Replies are read straight into the engine's buffer, lent out while the read
            // waits (the lock is never held across a read): the input buffer, or while a
            // large DATA arrives, that reply's own data buffer, so file data is read once.
            //
            // On an SSH channel the data of large packets (sshwire's server sends one per
            // DATA) is taken in the buffers the packets were opened in instead (see
            // `ClientEngine::handle_chunk`): a large DATA whole in one packet keeps its data
            // there, and is not copied at all. Smaller packets (OpenSSH's 32 KiB) are read
            // as from any stream.
            let why = loop {
                let received = match &chunks {
                    Some(chunks) => tokio::select! {
                        r = chunks.next() => r,
                        _ = &mut writer_gone => break closed(),
                    },
                    None => Ok(Received::Short),
                };
                let mut s = match received {
                    Ok(Received::Chunk((buf, start))) => {
                        let mut s = lock(&reader_shared);
                        match s.engine.handle_chunk(buf, start) {
                            Ok(Some(spent)) => sshwire_sftp::buffers::give(spent),
                            Ok(None) => {}
                            Err(e) => {
                                drop(s);
                                break protocol(e);
                            }
                        }
                        s
                    }
                    Ok(Received::End) => break server_closed(),
                    Err(e) => break SftpError::Protocol(format!("read failed: {e}")),
                    // Read through the stream: a plain one, or a short run of the channel's
                    // (which the read copies, as it lies in a buffer the engine reuses).
                    Ok(Received::Short) => {
                        let (mut buf, max) = lock(&reader_shared).engine.take_read_buffer();
                        let mut limited =
                            (&mut reader).take(u64::try_from(max).unwrap_or(u64::MAX));
                        let read = tokio::select! {
                            read = limited.read_buf(&mut buf) => read,
                            _ = &mut writer_gone => break closed(),
                        };
                        let mut s = lock(&reader_shared);
                        s.engine.restore_read_buffer(buf);
                        match read {
                            Ok(0) => break server_closed(),
                            Ok(_) => {}
                            Err(e) => break SftpError::Protocol(format!("read failed: {e}")),
                        }
                        if let Err(e) = s.engine.process_input() {
                            drop(s);
                            break protocol(e);
                        }
                        s
                    }
                };
                while let Some(reply) = s.engine.poll_reply() {
                    if let Some(t) = &mut s.trace {
                        t.response(Direction::Received, &reply);
                    }
                    if let Some((tx, _slot)) = reply.id().and_then(|id| s.waiting.remove(&id)) {
                        let _ = tx.send(Ok(reply));
                    }
                }
            };
            end(&reader_shared, why);
        });
        let mut client = SftpClient {
            shared,
            out,
            slots: Arc::new(Semaphore::new(in_flight.max(1))),
            info,
            limits: TransferLimits::CONSERVATIVE,
            cwd: None,
            streams: None,
            owned: has_owned,
        };
        if client.info.supports(ExtendedRequest::LIMITS, "1") {
            let reply = client.limits().await?;
            client.limits = TransferLimits::from_reply(&reply);
        }
        Ok(client)
    }

    /// Lets downloads open further sessions on the connection this one came from.
    pub(crate) fn set_streams(&mut self, streams: Streams) {
        self.streams = Some(Arc::new(streams));
    }

    /// Sessions a large download reads over when [`Transfer::streams`] leaves it to us: 2
    /// against a server that answers one request at a time, 1 against sshwire's (see
    /// [`crate::sftp_streams`]), and 1 over a plain stream, where no further session opens.
    ///
    /// [`Transfer::streams`]: crate::sftp_transfer::Transfer::streams
    pub(crate) fn automatic_streams(&self) -> usize {
        self.streams.as_ref().map_or(1, |s| s.automatic())
    }

    /// Up to `n` further sessions for a download to read over (none for a session over a
    /// plain stream).
    pub(crate) async fn further_streams(&self, n: usize) -> Vec<SftpClient> {
        match &self.streams {
            Some(streams) if n > 0 => streams.take(n).await,
            _ => Vec::new(),
        }
    }

    /// Whether the session has ended (the server closed it, or it broke).
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.shared).end.is_some()
    }

    /// The server's version and extensions.
    pub fn server(&self) -> &ServerInfo {
        &self.info
    }

    /// The block sizes in use: the server's `limits@openssh.com`, or 32 KiB.
    pub fn transfer_limits(&self) -> TransferLimits {
        self.limits
    }

    /// Sends one request and waits for its reply.
    pub async fn call(
        &self,
        make: impl FnOnce(u32) -> Request + Send,
    ) -> Result<Response, SftpError> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| closed())?;
        match self.send_now(make, true, Some(permit))? {
            Some(rx) => rx.await.unwrap_or_else(|_| Err(closed())),
            None => Err(closed()),
        }
    }

    /// A session slot for a request sent with [`SftpClient::start`]: one of the semaphore's
    /// when free; when the caller has nothing else in flight (`first`), one regardless, so it
    /// always makes progress. `None`: wait for a reply of your own and ask again.
    pub(crate) fn slot(&self, first: bool) -> Option<Slot> {
        match self.slots.clone().try_acquire_owned() {
            Ok(p) => Some(Slot(Some(p))),
            Err(_) if first => Some(Slot(None)),
            Err(_) => None,
        }
    }

    /// Sends a request now in `slot`; the reply comes to the returned future.
    pub(crate) fn start(
        &self,
        slot: Slot,
        make: impl FnOnce(u32) -> Request,
    ) -> Result<Pending, SftpError> {
        match self.send_now(make, true, slot.0)? {
            Some(rx) => Ok(Pending { rx }),
            None => Err(closed()),
        }
    }

    /// Sends a request at once, whatever the session's slots (for a CLOSE, which must go
    /// out even if its caller stops waiting).
    pub(crate) fn start_now(
        &self,
        make: impl FnOnce(u32) -> Request,
    ) -> Result<Pending, SftpError> {
        self.start(Slot(self.slots.clone().try_acquire_owned().ok()), make)
    }

    /// Sends a request whose reply nobody waits for (a CLOSE from a `Drop`); does nothing if
    /// the session has ended.
    pub(crate) fn send_detached(&self, make: impl FnOnce(u32) -> Request) {
        let _ = self.send_now(make, false, None);
    }

    /// Sends a request under the lock, so requests leave in the order their ids were given.
    /// With `reply`, returns where its reply will arrive; `slot` is held until then.
    fn send_now(
        &self,
        make: impl FnOnce(u32) -> Request,
        reply: bool,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Result<Option<oneshot::Receiver<Result<Response, SftpError>>>, SftpError> {
        let mut s = lock(&self.shared);
        if let Some(e) = &s.end {
            return Err(e.clone());
        }
        let Shared { engine, trace, .. } = &mut *s;
        let (id, data) = match trace {
            None => engine.send_taking_data(make),
            Some(t) => engine.send_taking_data(|id| {
                let request = make(id);
                t.request(Direction::Sent, &request);
                request
            }),
        }
        .map_err(protocol)?;
        let rx = reply.then(|| {
            let (tx, rx) = oneshot::channel();
            s.waiting.insert(id, (tx, slot));
            rx
        });
        let mut bytes = Vec::new();
        s.engine.poll_transmit(&mut bytes);
        if self.out.send((bytes, data)).is_err() {
            s.waiting.remove(&id);
            return Err(closed());
        }
        Ok(rx)
    }

    /// The working directory, if [`SftpClient::chdir`] set one.
    pub fn getcwd(&self) -> Option<&[u8]> {
        self.cwd.as_deref()
    }

    /// Changes this value's working directory (not its clones'); relative paths given to
    /// every call are then taken from it. `path` may itself be relative to the current one.
    ///
    /// The server canonicalizes it (REALPATH) and it must be a directory.
    pub async fn chdir(&mut self, path: &[u8]) -> Result<(), SftpError> {
        let real = self.realpath(path).await?;
        let attrs = self.stat(&real).await?;
        if !crate::sftp_ops::is_dir_mode(&attrs) {
            return Err(SftpError::NotADirectory(real));
        }
        self.cwd = Some(real);
        Ok(())
    }

    /// Forgets the working directory: paths go to the server as given again.
    pub fn clear_cwd(&mut self) {
        self.cwd = None;
    }

    /// `path` resolved against the working directory: absolute paths, and every path while no
    /// working directory is set, are unchanged.
    pub(crate) fn resolve(&self, path: &[u8]) -> Vec<u8> {
        match &self.cwd {
            Some(cwd) if !path.starts_with(b"/") => {
                if path.is_empty() {
                    return cwd.clone();
                }
                let mut out = cwd.clone();
                if !out.ends_with(b"/") {
                    out.push(b'/');
                }
                out.extend_from_slice(path);
                out
            }
            _ => path.to_vec(),
        }
    }

    async fn status(&self, make: impl FnOnce(u32) -> Request + Send) -> Result<(), SftpError> {
        expect_ok(self.call(make).await?)
    }

    async fn extended(&self, request: ExtendedRequest) -> Result<Response, SftpError> {
        self.call(|id| Request::Extended { id, request }).await
    }

    fn require(&self, name: &'static str, version: &str) -> Result<(), SftpError> {
        if self.info.supports(name, version) {
            Ok(())
        } else {
            Err(SftpError::Unsupported(name))
        }
    }

    /// Opens a file; returns its handle.
    pub async fn open(
        &self,
        path: &[u8],
        flags: OpenFlags,
        attrs: Attrs,
    ) -> Result<Vec<u8>, SftpError> {
        let path = self.resolve(path);
        expect_handle(
            self.call(|id| Request::Open {
                id,
                path,
                flags,
                attrs,
            })
            .await?,
        )
    }

    /// Opens a directory; returns its handle.
    pub async fn opendir(&self, path: &[u8]) -> Result<Vec<u8>, SftpError> {
        let path = self.resolve(path);
        expect_handle(self.call(|id| Request::Opendir { id, path }).await?)
    }

    /// Closes a handle.
    pub async fn close(&self, handle: &[u8]) -> Result<(), SftpError> {
        let handle = handle.to_vec();
        self.status(|id| Request::Close { id, handle }).await
    }

    /// Reads up to `len` bytes at `offset`; `None` at the end of the file.
    pub async fn read(
        &self,
        handle: &[u8],
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>, SftpError> {
        Ok(self
            .read_block(handle, offset, len)
            .await?
            .map(Block::into_vec))
    }

    /// As [`SftpClient::read`], with the data where it arrived: perhaps in the buffer of the
    /// channel packet that carried it, after that packet's headers (see [`Block`]).
    pub async fn read_block(
        &self,
        handle: &[u8],
        offset: u64,
        len: u32,
    ) -> Result<Option<Block>, SftpError> {
        let handle = handle.to_vec();
        match self
            .call(|id| Request::Read {
                id,
                handle,
                offset,
                len,
            })
            .await?
        {
            Response::Data { data, .. } => Ok(Some(data)),
            Response::Status { code, .. } if code == StatusCode::EOF => Ok(None),
            other => Err(unexpected(other)),
        }
    }

    /// Writes `data` at `offset`.
    ///
    /// A [`Block`] read after [`SftpClient::write_room`]'s room goes out in its own buffer.
    pub async fn write(
        &self,
        handle: &[u8],
        offset: u64,
        data: impl Into<Block>,
    ) -> Result<(), SftpError> {
        let handle = handle.to_vec();
        let data = data.into();
        self.status(|id| Request::Write {
            id,
            handle,
            offset,
            data,
        })
        .await
    }

    /// Room to read a block into for a WRITE on `handle` that goes out in the block's own
    /// buffer: the request's header and the channel packet's in front, the packet's padding
    /// and MAC behind. No room on a session over a plain stream, where it would not help.
    pub fn write_room(&self, handle: &[u8]) -> Room {
        if !self.owned {
            return Room::default();
        }
        Room {
            front: OwnedSender::ROOM + Request::write_header_len(handle.len()),
            back: OwnedSender::TAILROOM,
        }
    }

    /// The next entries of an open directory; `None` at its end.
    pub async fn readdir(&self, handle: &[u8]) -> Result<Option<Vec<NameEntry>>, SftpError> {
        let handle = handle.to_vec();
        match self.call(|id| Request::Readdir { id, handle }).await? {
            Response::Name { entries, .. } => Ok(Some(entries)),
            Response::Status { code, .. } if code == StatusCode::EOF => Ok(None),
            other => Err(unexpected(other)),
        }
    }

    /// Every entry of a directory, `.` and `..` included when the server lists them (see
    /// [`SftpClient::read_dir`] for a stream).
    pub async fn list(&self, path: &[u8]) -> Result<Vec<NameEntry>, SftpError> {
        let mut entries = self.read_dir(path).await?;
        let mut all = Vec::new();
        while let Some(entry) = entries.next().await {
            all.push(entry?);
        }
        Ok(all)
    }

    /// Attributes, following links.
    pub async fn stat(&self, path: &[u8]) -> Result<Attrs, SftpError> {
        let path = self.resolve(path);
        expect_attrs(self.call(|id| Request::Stat { id, path }).await?)
    }

    /// Attributes of a link itself.
    pub async fn lstat(&self, path: &[u8]) -> Result<Attrs, SftpError> {
        let path = self.resolve(path);
        expect_attrs(self.call(|id| Request::Lstat { id, path }).await?)
    }

    /// Attributes of an open file.
    pub async fn fstat(&self, handle: &[u8]) -> Result<Attrs, SftpError> {
        let handle = handle.to_vec();
        expect_attrs(self.call(|id| Request::Fstat { id, handle }).await?)
    }

    /// Changes attributes, following links.
    pub async fn setstat(&self, path: &[u8], attrs: Attrs) -> Result<(), SftpError> {
        let path = self.resolve(path);
        self.status(|id| Request::Setstat { id, path, attrs }).await
    }

    /// Changes the attributes of an open file.
    pub async fn fsetstat(&self, handle: &[u8], attrs: Attrs) -> Result<(), SftpError> {
        let handle = handle.to_vec();
        self.status(|id| Request::Fsetstat { id, handle, attrs })
            .await
    }

    /// Creates a directory.
    pub async fn mkdir(&self, path: &[u8], attrs: Attrs) -> Result<(), SftpError> {
        let path = self.resolve(path);
        self.status(|id| Request::Mkdir { id, path, attrs }).await
    }

    /// Removes an empty directory.
    pub async fn rmdir(&self, path: &[u8]) -> Result<(), SftpError> {
        let path = self.resolve(path);
        self.status(|id| Request::Rmdir { id, path }).await
    }

    /// Removes a file.
    pub async fn remove(&self, path: &[u8]) -> Result<(), SftpError> {
        let path = self.resolve(path);
        self.status(|id| Request::Remove { id, path }).await
    }

    /// Renames; fails if `new` exists (SFTP v3 semantics).
    pub async fn rename(&self, old: &[u8], new: &[u8]) -> Result<(), SftpError> {
        let (old_path, new_path) = (self.resolve(old), self.resolve(new));
        self.status(|id| Request::Rename {
            id,
            old_path,
            new_path,
        })
        .await
    }

    /// The canonical absolute path.
    pub async fn realpath(&self, path: &[u8]) -> Result<Vec<u8>, SftpError> {
        let path = self.resolve(path);
        expect_one_name(self.call(|id| Request::Realpath { id, path }).await?)
    }

    /// A link's target.
    pub async fn readlink(&self, path: &[u8]) -> Result<Vec<u8>, SftpError> {
        let path = self.resolve(path);
        expect_one_name(self.call(|id| Request::Readlink { id, path }).await?)
    }

    /// Creates a symbolic link at `link` to `target`.
    ///
    /// `target` is stored as given: a relative target is relative to the link's directory,
    /// not to the working directory.
    pub async fn symlink(&self, link: &[u8], target: &[u8]) -> Result<(), SftpError> {
        let (link_path, target_path) = (self.resolve(link), target.to_vec());
        self.status(|id| Request::Symlink {
            id,
            link_path,
            target_path,
        })
        .await
    }

    /// Renames, replacing `new` (`posix-rename@openssh.com`).
    pub async fn posix_rename(&self, old: &[u8], new: &[u8]) -> Result<(), SftpError> {
        self.require(ExtendedRequest::POSIX_RENAME, "1")?;
        expect_ok(
            self.extended(ExtendedRequest::PosixRename {
                old_path: self.resolve(old),
                new_path: self.resolve(new),
            })
            .await?,
        )
    }

    /// Creates a hard link `new` to `old` (`hardlink@openssh.com`).
    pub async fn hardlink(&self, old: &[u8], new: &[u8]) -> Result<(), SftpError> {
        self.require(ExtendedRequest::HARDLINK, "1")?;
        expect_ok(
            self.extended(ExtendedRequest::Hardlink {
                old_path: self.resolve(old),
                new_path: self.resolve(new),
            })
            .await?,
        )
    }

    /// Flushes an open file to stable storage (`fsync@openssh.com`).
    pub async fn fsync(&self, handle: &[u8]) -> Result<(), SftpError> {
        self.require(ExtendedRequest::FSYNC, "1")?;
        expect_ok(
            self.extended(ExtendedRequest::Fsync {
                handle: handle.to_vec(),
            })
            .await?,
        )
    }

    /// Changes a link's own attributes (`lsetstat@openssh.com`).
    pub async fn lsetstat(&self, path: &[u8], attrs: Attrs) -> Result<(), SftpError> {
        self.require(ExtendedRequest::LSETSTAT, "1")?;
        expect_ok(
            self.extended(ExtendedRequest::Lsetstat {
                path: self.resolve(path),
                attrs,
            })
            .await?,
        )
    }

    /// File system statistics (`statvfs@openssh.com`).
    pub async fn statvfs(&self, path: &[u8]) -> Result<StatvfsReply, SftpError> {
        self.require(ExtendedRequest::STATVFS, "2")?;
        let data = expect_extended(
            self.extended(ExtendedRequest::Statvfs {
                path: self.resolve(path),
            })
            .await?,
        )?;
        StatvfsReply::decode(&data).map_err(|e| SftpError::Protocol(e.to_string()))
    }

    /// File system statistics of an open file (`fstatvfs@openssh.com`).
    pub async fn fstatvfs(&self, handle: &[u8]) -> Result<StatvfsReply, SftpError> {
        self.require(ExtendedRequest::FSTATVFS, "2")?;
        let data = expect_extended(
            self.extended(ExtendedRequest::Fstatvfs {
                handle: handle.to_vec(),
            })
            .await?,
        )?;
        StatvfsReply::decode(&data).map_err(|e| SftpError::Protocol(e.to_string()))
    }

    /// The server's limits (`limits@openssh.com`).
    pub async fn limits(&self) -> Result<LimitsReply, SftpError> {
        self.require(ExtendedRequest::LIMITS, "1")?;
        let data = expect_extended(self.extended(ExtendedRequest::Limits).await?)?;
        LimitsReply::decode(&data).map_err(|e| SftpError::Protocol(e.to_string()))
    }

    /// Expands `~` and `~user` and canonicalizes (`expand-path@openssh.com`); a relative
    /// path not starting with `~` is taken from the working directory.
    pub async fn expand_path(&self, path: &[u8]) -> Result<Vec<u8>, SftpError> {
        self.require(ExtendedRequest::EXPAND_PATH, "1")?;
        let path = if path.starts_with(b"~") {
            path.to_vec()
        } else {
            self.resolve(path)
        };
        expect_one_name(self.extended(ExtendedRequest::ExpandPath { path }).await?)
    }

    /// A user's home directory (`home-directory`).
    pub async fn home_directory(&self, user: &str) -> Result<Vec<u8>, SftpError> {
        self.require(ExtendedRequest::HOME_DIRECTORY, "1")?;
        expect_one_name(
            self.extended(ExtendedRequest::HomeDirectory {
                username: user.as_bytes().to_vec(),
            })
            .await?,
        )
    }

    /// Copies a range between two open files on the server (`copy-data`); a
    /// `read_length` of 0 copies to the end of the file.
    pub async fn copy_data(
        &self,
        from: &[u8],
        read_offset: u64,
        read_length: u64,
        to: &[u8],
        write_offset: u64,
    ) -> Result<(), SftpError> {
        self.require(ExtendedRequest::COPY_DATA, "1")?;
        expect_ok(
            self.extended(ExtendedRequest::CopyData {
                read_handle: from.to_vec(),
                read_offset,
                read_length,
                write_handle: to.to_vec(),
                write_offset,
            })
            .await?,
        )
    }

    /// Names of users and groups by id (`users-groups-by-id@openssh.com`).
    pub async fn users_groups_by_id(
        &self,
        uids: Vec<u32>,
        gids: Vec<u32>,
    ) -> Result<UsersGroupsReply, SftpError> {
        self.require(ExtendedRequest::USERS_GROUPS_BY_ID, "1")?;
        let data = expect_extended(
            self.extended(ExtendedRequest::UsersGroupsById { uids, gids })
                .await?,
        )?;
        UsersGroupsReply::decode(&data).map_err(|e| SftpError::Protocol(e.to_string()))
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ends the session: every waiting call learns why.
fn end(shared: &Mutex<Shared>, why: SftpError) {
    let mut s = lock(shared);
    if s.end.is_none() {
        s.end = Some(why.clone());
    }
    for (_, (tx, _slot)) in s.waiting.drain() {
        let _ = tx.send(Err(why.clone()));
    }
}

fn closed() -> SftpError {
    SftpError::Protocol("the session is closed".into())
}

fn server_closed() -> SftpError {
    SftpError::Protocol("the server closed the session".into())
}

fn io_failed(e: io::Error) -> SftpError {
    SftpError::Protocol(e.to_string())
}

fn protocol(e: ClientError) -> SftpError {
    SftpError::Protocol(e.to_string())
}

pub(crate) fn unexpected(r: Response) -> SftpError {
    match r {
        Response::Status { code, message, .. } => SftpError::Status { code, message },
        other => SftpError::Protocol(format!("unexpected reply of type {}", other.packet_type())),
    }
}

pub(crate) fn expect_ok(r: Response) -> Result<(), SftpError> {
    match r {
        Response::Status { code, .. } if code == StatusCode::OK => Ok(()),
        other => Err(unexpected(other)),
    }
}

pub(crate) fn expect_handle(r: Response) -> Result<Vec<u8>, SftpError> {
    match r {
        Response::Handle { handle, .. } => Ok(handle),
        other => Err(unexpected(other)),
    }
}

pub(crate) fn expect_attrs(r: Response) -> Result<Attrs, SftpError> {
    match r {
        Response::Attrs { attrs, .. } => Ok(attrs),
        other => Err(unexpected(other)),
    }
}

fn expect_extended(r: Response) -> Result<Vec<u8>, SftpError> {
    match r {
        Response::ExtendedReply { data, .. } => Ok(data),
        other => Err(unexpected(other)),
    }
}

fn expect_one_name(r: Response) -> Result<Vec<u8>, SftpError> {
    match r {
        Response::Name { mut entries, .. } if entries.len() == 1 => {
            Ok(entries.pop().map(|e| e.filename).unwrap_or_default())
        }
        Response::Name { .. } => Err(SftpError::Protocol(
            "a NAME reply with other than one name".into(),
        )),
        other => Err(unexpected(other)),
    }
}
