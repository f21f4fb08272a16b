//! The SFTP server on tokio: [`serve`] runs an SFTP session over any byte stream (an SSH
//! channel, or stdin and stdout for `sftp-server`), and [`SftpSubsystem`] is the
//! [`Handler`] that starts one for each `sftp` subsystem request.
//!
//! The protocol logic is [`sshwire_sftp::server::Session`]; this module frames packets off the
//! stream, runs the requests and writes their replies.
//!
//! - Up to [`MAX_IN_FLIGHT`] requests run at once. Each is first run as far as it goes where
//!   it arrives; one that must wait (a backend call on the blocking pool, a read from a cold
//!   disk, an earlier request on the same file) goes on on a task of its own, so that it does
//!   not hold up the others. One that needs no waiting (a file system call made in place, see
//!   [`crate::sftp_local`]) is answered without a task: handing each small request to another
//!   worker and back cost a fifth of the server's processor time while OpenSSH's `sftp` fetched
//!   2,000 files of 4 KiB. A backend that panics gets its request a `FAILURE` either way.
//!   Replies go out in the order they complete: they carry their request's id (filexfer-02
//!   §6.1: "There are no restrictions on the order in which responses to outstanding
//!   requests are delivered to the client"), with one exception: replies to `READ`s on one
//!   handle go out in the order the `READ`s came. OpenSSH's `sftp` writes each `DATA` where
//!   it belongs as it arrives, so out of order an interrupted download would leave a hole
//!   before data, which its `reget` (resuming from the local length) would keep. Replies held
//!   for that count against the limit below. While that many run, no more input is read, so
//!   a client that keeps sending meets flow control, as §6.1 suggests: "If the server's
//!   queues are full, it should not read any more data from the stream, and flow control
//!   will prevent the client from sending more requests."
//! - A packet whose length is 0 or above [`MAX_PACKET`], a packet that does not decode, a
//!   request before `SSH_FXP_INIT` and a second `INIT` end the session with an error, as in
//!   OpenSSH's `sftp-server`, which exits on all of them: requests already running finish
//!   and their replies are written first.
//! - At the end of the input, the requests under way finish, every handle still open is
//!   closed (and audited as a forced close), and [`serve`] returns `Ok`.

use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use sshwire_sftp::fs::Filesystem;
use sshwire_sftp::server::{AuditSink, ProtocolError, ServerConfig, Session};
use sshwire_sftp::{
    Block, Frame, MAX_PACKET, Request, Response, Room, StatusCode, WriteHeader, decode_frame,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::{Id, JoinError, JoinSet};

use crate::server::Handler;
use crate::session::{ChunkReader, OwnedSender, Received};
use crate::trace::{SftpTracer, TraceSink};
use crate::{Authenticated, Channel};
use sshwire_transport::trace::Direction;

/// Requests of one session that run at once, at most.
pub const MAX_IN_FLIGHT: usize = 64;

/// Bytes read from the stream at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Serves one SFTP session over `stream` until the client's EOF.
///
/// `fs` is what the session serves, `config` its policy, `audit` where its audit events go.
/// Returns `Ok` at the end of the input; an error when the stream fails or the client breaks
/// the protocol (see the [module documentation](self)).
pub async fn serve<S>(
    stream: S,
    fs: Arc<dyn Filesystem>,
    config: ServerConfig,
    audit: Option<Arc<dyn AuditSink>>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send,
{
    serve_session(stream, Session::new(fs, config, audit)).await
}

/// As [`serve`], with a session made by the caller.
pub async fn serve_session<S>(stream: S, session: Session) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send,
{
    serve_traced(stream, session, None).await
}

/// As [`serve_session`], tracing every request and reply to `trace` (see [`crate::trace`]).
pub async fn serve_traced<S>(
    stream: S,
    session: Session,
    trace: Option<TraceSink>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send,
{
    serve_with(stream, session, trace, None, None).await
}

/// As [`serve_traced`], on an SSH channel, without copying file data in user space:
///
/// - file data read for `DATA` replies leaves room for the reply's and the channel packet's
///   headers and goes out in its own buffer (see [`OwnedSender`]);
/// - a large `WRITE` that arrives whole in one channel packet keeps its data in the buffer
///   the packet was opened in (see [`ChunkReader`] and [`Input::take_chunk`]).
async fn serve_channel(
    channel: &mut Channel,
    session: Session,
    trace: Option<TraceSink>,
) -> io::Result<()> {
    let sender = channel.owned_sender();
    let chunks = channel.chunk_reader();
    session.set_reply_room(Room {
        front: OwnedSender::ROOM,
        back: OwnedSender::TAILROOM,
    });
    serve_with(channel, session, trace, Some(sender), Some(chunks)).await
}

async fn serve_with<S>(
    stream: S,
    session: Session,
    trace: Option<TraceSink>,
    owned: Option<OwnedSender>,
    chunks: Option<ChunkReader>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut running = Running {
        tasks: JoinSet::new(),
        ids: HashMap::new(),
        reads: HashMap::new(),
        held: 0,
        trace: trace.map(|sink| SftpTracer::new("server", sink)),
        owned,
    };
    let result = pump(
        &mut reader,
        chunks.as_ref(),
        &mut writer,
        &session,
        &mut running,
    )
    .await;
    // Requests still running when the stream failed have nobody to answer.
    running.tasks.shutdown().await;
    session.close_all().await;
    let _ = writer.shutdown().await;
    result
}

/// The requests running, and the request id of each task (for a task that panics).
struct Running {
    tasks: JoinSet<Result<Response, ProtocolError>>,
    /// The request id of each task, and for a `READ` its handle.
    ids: HashMap<Id, (u32, Option<Vec<u8>>)>,
    /// The `READ`s of each handle not yet answered, in arrival order, and the replies that
    /// finished before their turn.
    reads: HashMap<Vec<u8>, HandleReads>,
    /// Replies held in `reads`, in all.
    held: usize,
    /// Traces every request and reply, when the session is traced.
    trace: Option<SftpTracer>,
    /// Sends `DATA` in its own buffer, on an SSH channel.
    owned: Option<OwnedSender>,
}

#[derive(Default)]
struct HandleReads {
    order: VecDeque<u32>,
    done: HashMap<u32, Response>,
}

impl Running {
    /// Requests running or answered and held: what counts against [`MAX_IN_FLIGHT`].
    fn load(&self) -> usize {
        self.tasks.len() + self.held
    }

    /// Starts a request, noting its place among its handle's `READ`s: runs it as far as it
    /// goes at once, and on a task of its own if it must wait.
    ///
    /// A request that needs no waiting (a file system call made in place, a refusal) is
    /// answered without a task, which saves the hand-off to another worker and back. Returns
    /// what [`answer`] needs for such a request.
    async fn start(&mut self, session: &Session, request: Request) -> Option<Finished> {
        let id = request.id();
        let read_handle = match &request {
            Request::Read { handle, .. } => Some(handle.clone()),
            _ => None,
        };
        if let (Some(id), Some(h)) = (id, &read_handle) {
            self.reads.entry(h.clone()).or_default().order.push_back(id);
        }
        let request_of = id.map(|id| (id, read_handle));
        let mut future = Box::pin(session.handle(request));
        // A backend that panics is answered as one that panicked on its task is.
        let first = poll_fn(|cx| {
            Poll::Ready(std::panic::catch_unwind(AssertUnwindSafe(|| {
                future.as_mut().poll(cx)
            })))
        })
        .await;
        match first {
            Ok(Poll::Ready(result)) => Some((request_of, Some(result))),
            Err(_) => Some((request_of, None)),
            Ok(Poll::Pending) => {
                let task = self.tasks.spawn(future);
                if let Some(r) = request_of {
                    self.ids.insert(task.id(), r);
                }
                None
            }
        }
    }
}

/// A request's id and, for a `READ`, its handle (`None` for a request without an id).
type RequestOf = Option<(u32, Option<Vec<u8>>)>;

/// A request that ended, and its result (`None` when its backend panicked).
type Finished = (RequestOf, Option<Result<Response, ProtocolError>>);

/// `WRITE`s with at least this much data have it read into a buffer of its own.
const BODY_MIN: usize = 16 * 1024;

/// The bytes read from the client and not yet taken as requests: `buf[start..]`, or the data
/// of a large `WRITE` arriving into its own buffer.
#[derive(Default)]
struct Input {
    buf: Vec<u8>,
    start: usize,
    body: Option<WriteBody>,
}

/// A `WRITE` whose header has been decoded and whose data is read straight into `data`, the
/// buffer the request then carries to the file system (so the data is never copied out of
/// the input).
struct WriteBody {
    header: WriteHeader,
    data: Block,
}

impl Input {
    /// Starts reading a large `WRITE`'s data into its own buffer, when the incomplete frame at
    /// the front of the input is the start of one (see [`WriteHeader::decode`]: anything
    /// else is left to the ordinary decoder, which takes the frame whole).
    fn start_body(&mut self) {
        let unread = self.unread();
        let Some(header) = WriteHeader::decode(unread, MAX_PACKET) else {
            return;
        };
        if header.data_len < BODY_MIN {
            return;
        }
        let present = unread.get(header.header_len..).unwrap_or_default();
        let present = present.get(..header.data_len).unwrap_or(present);
        // The length is within MAX_PACKET (checked by the decoder): bounded by our limit.
        let mut data = sshwire_sftp::buffers::take(header.data_len);
        data.extend_from_slice(present);
        let taken = unread.len();
        self.consume(taken);
        self.body = Some(WriteBody {
            header,
            data: data.into(),
        });
    }

    /// The `WRITE` whose data has all arrived, taken out of the input.
    fn finished_body(&mut self) -> Option<Request> {
        let done = self
            .body
            .as_ref()
            .is_some_and(|b| b.data.len() >= b.header.data_len);
        if !done {
            return None;
        }
        let WriteBody { header, data } = self.body.take()?;
        Some(header.into_request(data))
    }

    /// Reads more from `reader`: into the buffer of the `WRITE` data under way (no further
    /// than its end), or else into the input. Cancel-safe, as `read_buf` is.
    async fn read_from<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> io::Result<usize> {
        match &mut self.body {
            Some(body) => {
                let missing = body.header.data_len.saturating_sub(body.data.len());
                let limit = u64::try_from(missing).unwrap_or(u64::MAX);
                reader.take(limit).read_buf(body.data.buffer_mut()).await
            }
            None => reader.read_buf(self.make_room()).await,
        }
    }

    /// Takes the bytes at `buf[start..]`: when nothing is unread and they begin with a whole
    /// large `WRITE` (one packet of sshwire's client carries one), the request's data stays
    /// in `buf`, uncopied, as the body read; anything else is copied as a read would have.
    fn take_chunk(&mut self, mut buf: Vec<u8>, start: usize) {
        let bytes = buf.get(start..).unwrap_or_default();
        if let Some(body) = &mut self.body {
            let missing = body.header.data_len.saturating_sub(body.data.len());
            let (into_body, rest) = bytes.split_at(missing.min(bytes.len()));
            body.data.extend_from_slice(into_body);
            self.append(rest);
            sshwire_sftp::buffers::give(buf);
            return;
        }
        if self.unread().is_empty()
            && let Some(header) = WriteHeader::decode(bytes, MAX_PACKET)
            && header.data_len >= BODY_MIN
            && let Some(end) = header
                .header_len
                .checked_add(header.data_len)
                .filter(|&end| end <= bytes.len())
        {
            // What follows the WRITE in the same chunk is the next requests.
            let rest = bytes.get(end..).unwrap_or_default();
            self.append(rest);
            let data_start = start + header.header_len;
            buf.truncate(start + end);
            self.body = Some(WriteBody {
                header,
                data: Block::from_parts(buf, data_start),
            });
            return;
        }
        self.append(bytes);
        sshwire_sftp::buffers::give(buf);
    }

    /// Copies `bytes` after what is unread.
    fn append(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.make_room().extend_from_slice(bytes);
        }
    }

    /// What has been read and not consumed.
    fn unread(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Drops `n` bytes from the front of what is unread.
    fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// The buffer, with at least [`READ_CHUNK`] bytes free at its end to read into.
    ///
    /// The unread tail moves to the front only once the consumed head is larger than it, so
    /// each byte moves at most once on average (a whole 256 KiB `WRITE` arriving in pieces is
    /// never moved piece by piece).
    fn make_room(&mut self) -> &mut Vec<u8> {
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(READ_CHUNK);
        &mut self.buf
    }
}

/// Reads more input: on an SSH channel, a large packet's data in the buffer it arrived in
/// (see [`Input::take_chunk`]), else from `reader`. Cancel-safe: a chunk taken is stored
/// before this returns, with no wait between.
async fn read_input<R: AsyncRead + Unpin>(
    input: &mut Input,
    reader: &mut R,
    chunks: Option<&ChunkReader>,
) -> io::Result<usize> {
    let Some(chunks) = chunks else {
        return input.read_from(reader).await;
    };
    match chunks.next().await? {
        Received::Chunk((buf, start)) => {
            let n = buf.len().saturating_sub(start);
            input.take_chunk(buf, start);
            Ok(n)
        }
        Received::Short => input.read_from(reader).await,
        Received::End => Ok(0),
    }
}

fn protocol_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Reads requests, starts them, writes replies, until the input ends or the session breaks.
async fn pump<R, W>(
    reader: &mut R,
    chunks: Option<&ChunkReader>,
    writer: &mut W,
    session: &Session,
    running: &mut Running,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Requests are read straight into `input` and taken from its front by moving `start`;
    // the unread tail moves down only when little of it is left (see `Input::make_room`).
    let mut input = Input::default();
    let mut out = Vec::new();
    let mut eof = false;
    let mut broken: Option<io::Error> = None;
    let mut unflushed = false;
    loop {
        // Start every whole request in the input, while there is room.
        while broken.is_none() && running.load() < MAX_IN_FLIGHT {
            if let Some(request) = input.finished_body() {
                unflushed |= take(writer, &mut out, running, session, request, &mut broken).await?;
                continue;
            }
            if input.body.is_some() {
                break;
            }
            match decode_frame(input.unread(), MAX_PACKET) {
                Ok(Frame::Incomplete { .. }) => {
                    input.start_body();
                    break;
                }
                Ok(Frame::Complete { payload, consumed }) => {
                    match session.decode(payload) {
                        Ok(request) => {
                            unflushed |=
                                take(writer, &mut out, running, session, request, &mut broken)
                                    .await?;
                        }
                        Err(e) => {
                            if let Some(t) = &mut running.trace {
                                t.payload(Direction::Received, payload);
                            }
                            broken = Some(protocol_error(e));
                        }
                    }
                    input.consume(consumed);
                }
                // filexfer-02 §3 frames every packet with its length; OpenSSH's sftp-server
                // exits on a length over its SFTP_MAX_MSG_LENGTH.
                Err(e) => broken = Some(protocol_error(format!("bad SFTP packet length: {e}"))),
            }
        }
        // The replies written at once go out before waiting for anything.
        if unflushed {
            writer.flush().await?;
            unflushed = false;
        }
        if running.tasks.is_empty() && (eof || broken.is_some()) {
            break;
        }
        let read_more = !eof && broken.is_none() && running.load() < MAX_IN_FLIGHT;
        tokio::select! {
            read = read_input(&mut input, reader, chunks), if read_more => match read {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(e) => broken = Some(e),
            },
            Some(done) = running.tasks.join_next_with_id() => {
                reply(writer, &mut out, running, done, &mut broken).await?;
                // Write whatever else is ready before flushing.
                while let Some(done) = running.tasks.try_join_next_with_id() {
                    reply(writer, &mut out, running, done, &mut broken).await?;
                }
                writer.flush().await?;
            }
        }
    }
    match broken {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Traces and starts a request, and answers it at once if it needed no waiting; returns
/// whether a reply was written (and waits for a flush).
async fn take<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &mut Vec<u8>,
    running: &mut Running,
    session: &Session,
    request: Request,
    broken: &mut Option<io::Error>,
) -> io::Result<bool> {
    if let Some(t) = &mut running.trace {
        t.request(Direction::Received, &request);
    }
    match running.start(session, request).await {
        Some(done) => {
            answer(writer, out, running, done, broken).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Writes the reply of a finished task (see [`answer`]).
async fn reply<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &mut Vec<u8>,
    running: &mut Running,
    done: Result<(Id, Result<Response, ProtocolError>), JoinError>,
    broken: &mut Option<io::Error>,
) -> io::Result<()> {
    let (task, result) = match done {
        Ok((task, result)) => (task, Some(result)),
        Err(e) => (e.id(), None),
    };
    let request = running.ids.remove(&task);
    answer(writer, out, running, (request, result), broken).await
}

/// Writes the reply of a finished request, or holds it until the `READ`s before it on its
/// handle are answered.
async fn answer<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &mut Vec<u8>,
    running: &mut Running,
    (request, result): Finished,
    broken: &mut Option<io::Error>,
) -> io::Result<()> {
    let response = match result {
        Some(Ok(response)) => Some(response),
        Some(Err(e)) => {
            if broken.is_none() {
                *broken = Some(protocol_error(e));
            }
            None
        }
        // A backend that panicked: its request still gets an answer.
        None => request.as_ref().map(|(id, _)| Response::Status {
            id: *id,
            code: StatusCode::FAILURE,
            message: "internal error".to_owned(),
            language: String::new(),
        }),
    };
    let Some((id, Some(handle))) = request else {
        return match response {
            Some(r) => {
                write_response(writer, out, r, &mut running.trace, running.owned.as_ref()).await
            }
            None => Ok(()),
        };
    };
    let Some(reads) = running.reads.get_mut(&handle) else {
        return match response {
            Some(r) => {
                write_response(writer, out, r, &mut running.trace, running.owned.as_ref()).await
            }
            None => Ok(()),
        };
    };
    match response {
        Some(r) => {
            reads.done.insert(id, r);
            running.held += 1;
        }
        // No reply will come for it: it no longer holds up the others.
        None => reads.order.retain(|queued| *queued != id),
    }
    while let Some(next) = reads.order.front() {
        let Some(r) = reads.done.remove(next) else {
            break;
        };
        reads.order.pop_front();
        running.held = running.held.saturating_sub(1);
        write_response(writer, out, r, &mut running.trace, running.owned.as_ref()).await?;
    }
    if reads.order.is_empty() {
        running.held = running.held.saturating_sub(reads.done.len());
        running.reads.remove(&handle);
    }
    Ok(())
}

/// Writes one reply.
async fn write_response<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &mut Vec<u8>,
    response: Response,
    trace: &mut Option<SftpTracer>,
    owned: Option<&OwnedSender>,
) -> io::Result<()> {
    if let Some(t) = trace {
        t.response(Direction::Sent, &response);
    }
    out.clear();
    let Response::Data { id, data } = response else {
        response.encode(out);
        return writer.write_all(out).await;
    };
    // File data is copied neither into the reply nor, on an SSH channel, into the packet
    // (see `send_block`); its buffer then serves a later READ.
    let header = Response::data_header(id, data.len());
    crate::write_both::send_block(writer, owned, &header, data).await
}

/// What the `sftp` subsystem serves to a user: their filesystem and policy, or `None` to
/// refuse.
pub trait SftpSetup:
    Fn(&Authenticated) -> Option<(Arc<dyn Filesystem>, ServerConfig)> + Send + Sync + 'static
{
}

impl<F> SftpSetup for F where
    F: Fn(&Authenticated) -> Option<(Arc<dyn Filesystem>, ServerConfig)> + Send + Sync + 'static
{
}

/// Where [`SftpSubsystem`] reports sessions that end in an error.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// A [`Handler`] that serves the `sftp` subsystem, with a filesystem and policy per user.
///
/// Other subsystems and `exec` are refused. Each accepted channel runs [`serve`] on a task of
/// its own; when the session ends, the channel gets exit status 0 (1 after an error) and is
/// closed. A [`ServerConfig`] whose `user` is empty gets the authenticated user's name.
pub struct SftpSubsystem<F> {
    setup: F,
    audit: Option<Arc<dyn AuditSink>>,
    log: Option<Log>,
}

impl<F: SftpSetup> SftpSubsystem<F> {
    /// A handler that asks `setup` what to serve each user.
    pub fn new(setup: F) -> Self {
        SftpSubsystem {
            setup,
            audit: None,
            log: None,
        }
    }

    /// Sends every session's audit events to `audit`.
    pub fn with_audit(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Reports sessions that end in an error to `log`.
    pub fn with_log(mut self, log: Log) -> Self {
        self.log = Some(log);
        self
    }
}

impl<F: SftpSetup> Handler for SftpSubsystem<F> {
    fn subsystem(
        &self,
        user: &Arc<Authenticated>,
        name: &str,
        channel: Channel,
    ) -> Result<(), Channel> {
        if name != "sftp" {
            return Err(channel);
        }
        let Some((fs, mut config)) = (self.setup)(user) else {
            return Err(channel);
        };
        if config.user.is_empty() {
            config.user.clone_from(&user.user);
        }
        let audit = self.audit.clone();
        let log = self.log.clone();
        let who = user.user.clone();
        let trace = channel.trace_sink();
        tokio::spawn(async move {
            let mut channel = channel;
            let session = Session::new(fs, config, audit);
            let result = serve_channel(&mut channel, session, trace).await;
            if let (Err(e), Some(log)) = (&result, &log) {
                log(&format!("sftp session of {who} ended: {e}"));
            }
            let _ = channel.send_exit_status(u32::from(result.is_err()));
            let _ = channel.send_eof();
            let _ = channel.close();
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sshwire_sftp::{Attrs, MemoryFs, OpenFlags};
    use tokio::io::DuplexStream;

    /// Writes `frames` in pieces of `piece` bytes (so that requests arrive split anywhere).
    async fn send(stream: &mut DuplexStream, requests: &[Request], piece: usize) {
        let mut wire = Vec::new();
        for r in requests {
            r.encode(&mut wire);
        }
        for chunk in wire.chunks(piece) {
            stream.write_all(chunk).await.unwrap();
        }
    }

    /// Reads the next reply.
    async fn reply(stream: &mut DuplexStream, input: &mut Vec<u8>) -> Response {
        loop {
            if let Ok(Frame::Complete { payload, consumed }) = decode_frame(input, MAX_PACKET) {
                let r = Response::decode(payload).unwrap();
                input.drain(..consumed);
                return r;
            }
            let mut more = [0u8; 4096];
            let n = stream.read(&mut more).await.unwrap();
            assert!(n > 0, "the server closed the session");
            input.extend_from_slice(&more[..n]);
        }
    }

    /// Large WRITEs, whose data is read into buffers of their own, land in the file exactly,
    /// however the stream splits them, between small requests that take the ordinary path.
    /// The frames of `requests`, one after another.
    fn frames(requests: &[Request]) -> Vec<u8> {
        let mut wire = Vec::new();
        for r in requests {
            r.encode(&mut wire);
        }
        wire
    }

    fn write(id: u32, len: usize) -> Request {
        Request::Write {
            id,
            handle: b"h".to_vec(),
            offset: u64::from(id) * 1000,
            data: (0..len)
                .map(|i| (i * 31 + usize::try_from(id).unwrap()) as u8)
                .collect::<Vec<_>>()
                .into(),
        }
    }

    /// Every request the input holds, in order.
    fn requests(input: &mut Input) -> Vec<Request> {
        let mut out = Vec::new();
        loop {
            if let Some(r) = input.finished_body() {
                out.push(r);
                continue;
            }
            match decode_frame(input.unread(), MAX_PACKET).unwrap() {
                Frame::Complete { payload, consumed } => {
                    out.push(Request::decode(payload).unwrap());
                    input.consume(consumed);
                }
                Frame::Incomplete { .. } => {
                    input.start_body();
                    return out;
                }
            }
        }
    }

    /// A chunk that starts with a whole large WRITE gives the request its data where it lies
    /// in the chunk; what follows in the chunk comes next, and other chunks are copied.
    #[test]
    fn a_whole_write_in_a_chunk_keeps_its_buffer() {
        let (big, small) = (write(1, BODY_MIN + 5), write(2, 10));
        let mut chunk = vec![0xEE; 7];
        chunk.extend_from_slice(&frames(&[big.clone(), small.clone()]));
        let at = chunk.as_ptr() as usize;
        let mut input = Input::default();
        input.take_chunk(chunk, 7);
        let mut got = requests(&mut input).into_iter();
        let first = got.next().unwrap();
        assert_eq!(first, big);
        assert_eq!(got.next().as_ref(), Some(&small));
        assert_eq!(got.next(), None);
        let Request::Write { data, .. } = first else {
            panic!("not a write")
        };
        let (buf, start) = data.into_parts();
        assert_eq!(
            (buf.as_ptr() as usize, start),
            (at, 7 + Request::write_header_len(1)),
            "the data stays where it arrived"
        );
    }

    proptest::proptest! {
        /// Cut anywhere into chunks with room in front, a stream of requests gives the same
        /// requests: a large WRITE whole in a chunk after a boundary is kept in place, any
        /// other bytes are copied as a read would copy them.
        #[test]
        fn chunks_cut_anywhere_give_the_same_requests(
            cuts in proptest::collection::vec((proptest::bool::ANY, 0usize..40_000), 0..4),
            room in 0usize..32,
        ) {
            let wanted = [write(2, 10), write(1, BODY_MIN + 5), write(3, 10), write(4, BODY_MIN)];
            let wire = frames(&wanted);
            // Cuts anywhere, or (half of them) between two requests, where a whole WRITE
            // can start a chunk.
            let bounds: Vec<usize> = (0..=wanted.len())
                .map(|n| frames(&wanted[..n]).len())
                .collect();
            let mut cuts: Vec<usize> = cuts
                .into_iter()
                .map(|(at_bound, c)| if at_bound { bounds[c % bounds.len()] } else { c.min(wire.len()) })
                .collect();
            cuts.extend([0, wire.len()]);
            cuts.sort_unstable();
            let mut input = Input::default();
            let mut got = Vec::new();
            for pair in cuts.windows(2) {
                let mut chunk = vec![0xEE; room];
                chunk.extend_from_slice(&wire[pair[0]..pair[1]]);
                input.take_chunk(chunk, room);
                got.extend(requests(&mut input));
            }
            proptest::prop_assert_eq!(got, wanted.to_vec());
            proptest::prop_assert!(input.unread().is_empty() && input.body.is_none());
        }
    }

    #[tokio::test]
    async fn large_writes_split_anywhere_land_exactly() {
        for piece in [1000, 4093, 70_000] {
            let (mut client, server) = tokio::io::duplex(8192);
            let fs: Arc<dyn Filesystem> = Arc::new(MemoryFs::new());
            let served = tokio::spawn(serve(server, fs, ServerConfig::default(), None));
            let mut input = Vec::new();
            let open = Request::Open {
                id: 1,
                path: b"/f".to_vec(),
                flags: OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREAT,
                attrs: Attrs::default(),
            };
            let init = Request::Init {
                version: 3,
                extensions: Vec::new(),
            };
            send(&mut client, &[init, open], piece).await;
            assert!(matches!(
                reply(&mut client, &mut input).await,
                Response::Version { .. }
            ));
            let Response::Handle { handle, .. } = reply(&mut client, &mut input).await else {
                panic!("no handle");
            };
            let block = |seed: u32, len: u32| -> Vec<u8> {
                (0..len)
                    .map(|i| (i.wrapping_mul(seed) >> 3) as u8)
                    .collect()
            };
            let blocks = [
                (0u64, block(7, 200_000)),
                (200_000, block(11, 100)),
                (200_100, block(13, 60_000)),
            ];
            let writes: Vec<Request> = blocks
                .iter()
                .zip(10u32..)
                .map(|((offset, data), id)| Request::Write {
                    id,
                    handle: handle.clone(),
                    offset: *offset,
                    data: data.clone().into(),
                })
                .collect();
            send(&mut client, &writes, piece).await;
            for _ in 0..writes.len() {
                let r = reply(&mut client, &mut input).await;
                assert!(
                    matches!(
                        r,
                        Response::Status {
                            code: StatusCode::OK,
                            ..
                        }
                    ),
                    "{r:?}"
                );
            }
            let expected: Vec<u8> = blocks.iter().flat_map(|(_, d)| d.clone()).collect();
            let mut got = Vec::new();
            while got.len() < expected.len() {
                let read = Request::Read {
                    id: 99,
                    handle: handle.clone(),
                    offset: got.len() as u64,
                    len: 65_536,
                };
                send(&mut client, &[read], piece).await;
                let Response::Data { data, .. } = reply(&mut client, &mut input).await else {
                    panic!("no data");
                };
                got.extend_from_slice(&data);
            }
            assert!(got == expected, "piece {piece}: the file differs");
            drop(client);
            served.await.unwrap().unwrap();
        }
    }

    /// A file system whose `stat` panics at once and whose `readlink` panics after waiting;
    /// the rest is a [`MemoryFs`].
    struct Panics(MemoryFs);

    impl Filesystem for Panics {
        fn open<'a>(
            &'a self,
            path: &'a [u8],
            flags: OpenFlags,
            attrs: &'a Attrs,
        ) -> sshwire_sftp::fs::FsFuture<'a, Box<dyn sshwire_sftp::fs::File>> {
            self.0.open(path, flags, attrs)
        }
        fn opendir<'a>(
            &'a self,
            path: &'a [u8],
        ) -> sshwire_sftp::fs::FsFuture<'a, Box<dyn sshwire_sftp::fs::Dir>> {
            self.0.opendir(path)
        }
        fn stat<'a>(&'a self, _: &'a [u8]) -> sshwire_sftp::fs::FsFuture<'a, Attrs> {
            panic!("stat")
        }
        fn lstat<'a>(&'a self, path: &'a [u8]) -> sshwire_sftp::fs::FsFuture<'a, Attrs> {
            self.0.lstat(path)
        }
        fn setstat<'a>(&'a self, p: &'a [u8], a: &'a Attrs) -> sshwire_sftp::fs::FsFuture<'a, ()> {
            self.0.setstat(p, a)
        }
        fn remove<'a>(&'a self, path: &'a [u8]) -> sshwire_sftp::fs::FsFuture<'a, ()> {
            self.0.remove(path)
        }
        fn mkdir<'a>(&'a self, p: &'a [u8], a: &'a Attrs) -> sshwire_sftp::fs::FsFuture<'a, ()> {
            self.0.mkdir(p, a)
        }
        fn rmdir<'a>(&'a self, path: &'a [u8]) -> sshwire_sftp::fs::FsFuture<'a, ()> {
            self.0.rmdir(path)
        }
        fn realpath<'a>(&'a self, path: &'a [u8]) -> sshwire_sftp::fs::FsFuture<'a, Vec<u8>> {
            self.0.realpath(path)
        }
        fn rename<'a>(&'a self, f: &'a [u8], t: &'a [u8]) -> sshwire_sftp::fs::FsFuture<'a, ()> {
            self.0.rename(f, t)
        }
        fn readlink<'a>(&'a self, _: &'a [u8]) -> sshwire_sftp::fs::FsFuture<'a, Vec<u8>> {
            Box::pin(async {
                tokio::task::yield_now().await;
                panic!("readlink")
            })
        }
        fn symlink<'a>(&'a self, l: &'a [u8], t: &'a [u8]) -> sshwire_sftp::fs::FsFuture<'a, ()> {
            self.0.symlink(l, t)
        }
    }

    /// A backend that panics, whether at once (answered without a task) or after waiting
    /// (on a task), still gets its request an answer, and the session goes on.
    #[tokio::test]
    async fn a_panicking_backend_is_answered_and_the_session_goes_on() {
        let (mut client, server) = tokio::io::duplex(8192);
        let fs: Arc<dyn Filesystem> = Arc::new(Panics(MemoryFs::new()));
        let served = tokio::spawn(serve(server, fs, ServerConfig::default(), None));
        let mut input = Vec::new();
        let init = Request::Init {
            version: 3,
            extensions: Vec::new(),
        };
        let stat = Request::Stat {
            id: 1,
            path: b"/".to_vec(),
        };
        let readlink = Request::Readlink {
            id: 2,
            path: b"/".to_vec(),
        };
        let realpath = Request::Realpath {
            id: 3,
            path: b".".to_vec(),
        };
        send(&mut client, &[init, stat, readlink, realpath], 4096).await;
        assert!(matches!(
            reply(&mut client, &mut input).await,
            Response::Version { .. }
        ));
        let mut failed = Vec::new();
        for _ in 0..3 {
            match reply(&mut client, &mut input).await {
                Response::Status {
                    id,
                    code: StatusCode::FAILURE,
                    message,
                    ..
                } if message == "internal error" => failed.push(id),
                Response::Name { id: 3, .. } => {}
                other => panic!("{other:?}"),
            }
        }
        failed.sort_unstable();
        assert_eq!(failed, [1, 2]);
        drop(client);
        served.await.unwrap().unwrap();
    }
}
