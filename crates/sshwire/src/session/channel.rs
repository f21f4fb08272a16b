//! Channel handles: a channel's data as `AsyncRead + AsyncWrite`, its stderr, requests and
//! exit status.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll};

use sshwire_connection::messages::{ChannelRequestType, EXTENDED_DATA_STDERR};
use sshwire_connection::{ChannelId, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

use super::{Inner, Shared, Slot};
use crate::Error;

/// Pieces of one vectored write taken at a time (the rest waits for the next call).
const MAX_PARTS: usize = 8;

/// Most data packets one write may queue: with the session-wide queue bound this keeps what
/// waits for the socket to a few packets, whatever window the peer grants.
const PACKETS_PER_WRITE: usize = 4;

/// A run of received data in the buffer it arrived in: the buffer, and where the data starts
/// in it (it runs to the end).
pub(crate) type Chunk = (Vec<u8>, usize);

/// How a remote command ended (RFC 4254 §6.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit-status`: the command's exit code.
    Code(u32),
    /// `exit-signal`: the command was killed by a signal.
    Signal {
        /// The signal name without "SIG", such as `TERM`.
        name: String,
        /// Whether it dumped core.
        core_dumped: bool,
        /// The server's message (may be empty).
        message: String,
    },
}

/// What one channel's handles share; the last one gone closes the channel.
struct Core {
    shared: Arc<Shared>,
    id: ChannelId,
    serial: u64,
}

impl Drop for Core {
    fn drop(&mut self) {
        {
            let mut inner = self.shared.lock();
            let live = inner.slot(self.id, self.serial).is_some_and(|s| !s.closed);
            if live && inner.end.is_none() {
                // RFC 4254 §5.3: a party that is done with a channel sends CLOSE (once the
                // open is confirmed, if it is still pending); the engine frees the number
                // when the peer's CLOSE comes back, and later events for it find no slot.
                let _ = inner.conn.close(self.id);
            }
            if inner.slot(self.id, self.serial).is_some() {
                inner.channels.remove(&self.id);
            }
        }
        self.shared.wake_task.notify_one();
        self.shared.release_user();
    }
}

impl Core {
    /// Runs `f` on the engine and the channel's slot, or fails when the channel or the
    /// connection is gone.
    fn with<R>(
        &self,
        f: impl FnOnce(&mut Inner, ChannelId) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut inner = self.shared.lock();
        inner.check()?;
        if inner.slot(self.id, self.serial).is_none_or(|s| s.closed) {
            return Err(Error::Closed("the channel is closed".to_owned()));
        }
        let r = f(&mut inner, self.id);
        drop(inner);
        self.shared.wake_task.notify_one();
        r
    }

    /// Sends a channel request and waits for its reply.
    async fn request(&self, request: &ChannelRequestType<'_>, what: &str) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.with(|inner, id| {
            let rid = inner.conn.request(id, request, true)?;
            if let (Some(rid), Some(slot)) = (rid, inner.slot(id, self.serial)) {
                slot.replies.insert(rid, tx);
            }
            Ok(())
        })?;
        match rx.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::RequestRefused(what.to_owned())),
            Err(_) => Err(self.gone()),
        }
    }

    /// Why a reply never came: the connection's end, or the channel's.
    fn gone(&self) -> Error {
        self.shared.end_error("the channel was closed")
    }

    fn poll_read(
        &self,
        cx: &mut Context<'_>,
        stream: Stream,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut inner = self.shared.lock();
        let serial = self.serial;
        let Some(slot) = inner.slot(self.id, serial) else {
            // Our use of the number is over (and it may serve another channel now).
            return Poll::Ready(Ok(()));
        };
        let (eof, closed) = (slot.eof, slot.closed);
        // Straight from the engine's buffer into the caller's, which need not be initialised
        // (twice, when the buffer wraps around).
        let mut n = 0;
        while buf.remaining() > 0 {
            let front = match inner.conn.recv_buf(self.id, stream) {
                Ok(front) => front,
                // The engine released the number after the last byte was read: end of stream.
                Err(sshwire_connection::Error::UnknownChannel(_)) => break,
                Err(e) => return Poll::Ready(Err(Error::from(e).into())),
            };
            let take = front.len().min(buf.remaining());
            if take == 0 {
                break;
            }
            buf.put_slice(front.get(..take).unwrap_or_default());
            if let Err(e) = inner.conn.consume(self.id, stream, take) {
                return Poll::Ready(Err(Error::from(e).into()));
            }
            n += take;
        }
        if n > 0 {
            let adjust = inner.conn.wants_transmit();
            drop(inner);
            if adjust {
                self.shared.wake_task.notify_one();
            }
            return Poll::Ready(Ok(()));
        }
        self.park_reader(&mut inner, cx, stream, eof || closed)
    }

    /// With nothing to read on `stream`: `Ready(Ok)` at its end (`ended`: the peer's EOF or
    /// CLOSE), the connection's error once it is gone, else `Pending` with the waker kept.
    fn park_reader(
        &self,
        inner: &mut Inner,
        cx: &mut Context<'_>,
        stream: Stream,
        ended: bool,
    ) -> Poll<io::Result<()>> {
        if ended {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = inner.end.clone() {
            return Poll::Ready(Err(e.into()));
        }
        if let Some(slot) = inner.slot(self.id, self.serial) {
            let waker = match stream {
                Stream::Data => &mut slot.read,
                Stream::Stderr => &mut slot.stderr,
            };
            *waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The next run of the channel's data in the buffer it arrived in, if it holds at least
    /// `min_len` bytes (see [`Connection::take_recv_chunk`]).
    ///
    /// [`Connection::take_recv_chunk`]: sshwire_connection::Connection::take_recv_chunk
    fn poll_read_chunk(&self, cx: &mut Context<'_>, min_len: usize) -> Poll<io::Result<Received>> {
        let mut inner = self.shared.lock();
        let serial = self.serial;
        let Some(slot) = inner.slot(self.id, serial) else {
            return Poll::Ready(Ok(Received::End));
        };
        let (eof, closed) = (slot.eof, slot.closed);
        match inner.conn.take_recv_chunk(self.id, Stream::Data, min_len) {
            Ok(Some(chunk)) => {
                let adjust = inner.conn.wants_transmit();
                drop(inner);
                if adjust {
                    self.shared.wake_task.notify_one();
                }
                return Poll::Ready(Ok(Received::Chunk(chunk)));
            }
            Ok(None) => {}
            // The engine released the number after the last byte was read: end of stream.
            Err(sshwire_connection::Error::UnknownChannel(_)) => {
                return Poll::Ready(Ok(Received::End));
            }
            Err(e) => return Poll::Ready(Err(Error::from(e).into())),
        }
        if inner
            .conn
            .recv_len(self.id, Stream::Data)
            .is_ok_and(|n| n > 0)
        {
            return Poll::Ready(Ok(Received::Short));
        }
        self.park_reader(&mut inner, cx, Stream::Data, eof || closed)
            .map_ok(|()| Received::End)
    }

    fn poll_write(
        &self,
        cx: &mut Context<'_>,
        data_type: Option<u32>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_parts(cx, data_type, &[buf])
    }

    /// The session, locked for a write on the channel: `Err(Some(e))` when the connection or
    /// the channel is gone, `Err(None)` while the session's queue is full (the task is then
    /// woken once it drains).
    fn lock_for_write(
        &self,
        cx: &mut Context<'_>,
    ) -> Result<MutexGuard<'_, Inner>, Option<io::Error>> {
        let mut inner = self.shared.lock();
        if let Some(e) = inner.end.clone() {
            return Err(Some(e.into()));
        }
        if inner.slot(self.id, self.serial).is_none_or(|s| s.closed) {
            return Err(Some(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the channel is closed",
            )));
        }
        if inner.queue_full() {
            inner.queue_waiters.push(cx.waker().clone());
            drop(inner);
            self.shared.wake_task.notify_one();
            return Err(None);
        }
        Ok(inner)
    }

    /// Queues as much of `parts`, one after another, as the channel takes now.
    fn poll_write_parts(
        &self,
        cx: &mut Context<'_>,
        data_type: Option<u32>,
        parts: &[&[u8]],
    ) -> Poll<io::Result<usize>> {
        if parts.iter().all(|p| p.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let mut inner = match self.lock_for_write(cx) {
            Ok(inner) => inner,
            Err(Some(e)) => return Poll::Ready(Err(e)),
            Err(None) => return Poll::Pending,
        };
        let max = inner
            .conn
            .max_send_packet(self.id)
            .unwrap_or(0)
            .saturating_mul(PACKETS_PER_WRITE)
            .max(1);
        // At most `max` bytes of the parts.
        let mut left = max;
        let mut capped = [&[][..]; MAX_PARTS];
        for (slot, part) in capped.iter_mut().zip(parts) {
            let take = part.len().min(left);
            *slot = part.get(..take).unwrap_or_default();
            left -= take;
        }
        let capped = capped.get(..parts.len().min(MAX_PARTS)).unwrap_or_default();
        let sent = match (data_type, capped) {
            (None, _) => inner.conn.send_data_vectored(self.id, capped),
            (Some(t), [one, ..]) => inner.conn.send_extended_data(self.id, t, one),
            (Some(_), []) => Ok(0),
        };
        match sent {
            Ok(0) => {
                if let Some(slot) = inner.slot(self.id, self.serial) {
                    slot.write = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            Ok(n) => {
                drop(inner);
                self.shared.wake_task.notify_one();
                Poll::Ready(Ok(n))
            }
            Err(e) => Poll::Ready(Err(Error::from(e).into())),
        }
    }

    /// Queues `packet` as a data packet of its own ([`Connection::send_data_owned`]), once the
    /// session-wide queue has room; gives it back when the peer would not take it whole.
    ///
    /// [`Connection::send_data_owned`]: sshwire_connection::Connection::send_data_owned
    fn poll_send_owned(
        &self,
        cx: &mut Context<'_>,
        packet: &mut Option<Vec<u8>>,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        let mut inner = match self.lock_for_write(cx) {
            Ok(inner) => inner,
            Err(Some(e)) => return Poll::Ready(Err(e)),
            Err(None) => return Poll::Pending,
        };
        let Some(p) = packet.take() else {
            return Poll::Ready(Ok(None));
        };
        match inner.conn.send_data_owned(self.id, p) {
            Ok(None) => {
                drop(inner);
                self.shared.wake_task.notify_one();
                Poll::Ready(Ok(None))
            }
            Ok(Some(back)) => Poll::Ready(Ok(Some(back))),
            Err(e) => Poll::Ready(Err(Error::from(e).into())),
        }
    }

    fn poll_exit(&self, cx: &mut Context<'_>) -> Poll<Option<ExitStatus>> {
        let mut inner = self.shared.lock();
        let ended = inner.end.is_some();
        match inner.slot(self.id, self.serial) {
            None => Poll::Ready(None),
            Some(Slot { exit: Some(e), .. }) => Poll::Ready(Some(e.clone())),
            Some(s) if s.closed || ended => Poll::Ready(None),
            Some(s) => {
                s.exit_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A channel: its data stream as `AsyncRead + AsyncWrite`, and its requests.
///
/// Reading returns the peer's data until its EOF (then `Ok(0)`); writing sends data within
/// the peer's window, waiting while it is shut; [`AsyncWrite::poll_shutdown`] sends EOF.
/// Dropping the channel (and its [`ChannelStderr`]) closes it. Read the channel, or it stalls:
/// the peer may not send more than the window we advertise, and only reading opens it again.
/// Use `tokio::io::split` to read and write from different tasks.
pub struct Channel {
    core: Arc<Core>,
    eof_sent: bool,
}

impl Channel {
    pub(super) fn new(shared: Arc<Shared>, id: ChannelId, serial: u64) -> Self {
        shared.users.fetch_add(1, Ordering::Relaxed);
        Channel {
            core: Arc::new(Core { shared, id, serial }),
            eof_sent: false,
        }
    }

    /// Drops the handle of a channel that never opened, without closing anything.
    pub(super) fn forget(self) {
        let mut inner = self.core.shared.lock();
        if inner
            .channels
            .get(&self.core.id)
            .is_some_and(|s| s.serial == self.core.serial)
        {
            inner.channels.remove(&self.core.id);
        }
    }

    pub(super) fn serial(&self) -> u64 {
        self.core.serial
    }

    /// The trace sink of the connection, if it is traced: an SFTP session on this channel
    /// traces its packets there too ([`crate::trace`]).
    pub fn trace_sink(&self) -> Option<crate::trace::TraceSink> {
        self.core.shared.trace.clone()
    }

    /// The channel's number on our side.
    pub fn id(&self) -> ChannelId {
        self.core.id
    }

    /// A handle that sends buffers as data packets of their own (see [`OwnedSender`]).
    pub(crate) fn owned_sender(&self) -> OwnedSender {
        OwnedSender {
            core: self.core.clone(),
        }
    }

    /// A handle that reads the channel's data in the buffers it arrived in (see
    /// [`ChunkReader`]).
    pub(crate) fn chunk_reader(&self) -> ChunkReader {
        ChunkReader {
            core: self.core.clone(),
        }
    }

    /// Asks the server to run `command` (RFC 4254 §6.5 `exec`) and waits for its consent.
    pub async fn exec(&self, command: impl AsRef<[u8]>) -> Result<(), Error> {
        let request = ChannelRequestType::Exec {
            command: command.as_ref().into(),
        };
        self.core.request(&request, "the exec request").await
    }

    /// Asks the server to start a subsystem such as `sftp` (RFC 4254 §6.5).
    pub async fn subsystem(&self, name: &str) -> Result<(), Error> {
        let request = ChannelRequestType::Subsystem { name: name.into() };
        self.core
            .request(&request, &format!("the {name} subsystem"))
            .await
    }

    /// Asks the server to set an environment variable for the command (RFC 4254 §6.4); servers
    /// usually refuse all but a few (OpenSSH's `AcceptEnv`).
    pub async fn set_env(&self, name: &str, value: &str) -> Result<(), Error> {
        let request = ChannelRequestType::Env {
            name: name.as_bytes().into(),
            value: value.as_bytes().into(),
        };
        self.core
            .request(&request, &format!("the variable {name}"))
            .await
    }

    /// Sends any channel request and waits for the reply.
    pub async fn request(&self, request: &ChannelRequestType<'_>) -> Result<(), Error> {
        let what = format!("the {} request", request.name());
        self.core.request(request, &what).await
    }

    /// A second handle on the channel's stderr (extended data type 1): read the peer's, or
    /// (on a server) write ours.
    ///
    /// Stderr shares the channel's window: read it too, or the channel stalls once the window
    /// holds only unread stderr.
    pub fn stderr(&self) -> ChannelStderr {
        ChannelStderr {
            core: self.core.clone(),
        }
    }

    /// Waits for the command's exit status or signal (RFC 4254 §6.10); `None` when the
    /// channel closed without either.
    pub async fn exit_status(&self) -> Option<ExitStatus> {
        poll_fn(|cx| self.core.poll_exit(cx)).await
    }

    /// Splits the channel into a reader and a writer that can live in different tasks; both
    /// can wait for the exit status.
    pub fn split(self) -> (ChannelReader, ChannelWriter) {
        let reader = ChannelReader {
            core: self.core.clone(),
        };
        let writer = ChannelWriter { channel: self };
        (reader, writer)
    }

    /// Sends `exit-status` (server side).
    pub fn send_exit_status(&self, status: u32) -> Result<(), Error> {
        self.core
            .with(|inner, id| Ok(inner.conn.exit_status(id, status)?))
    }

    /// Sends `exit-signal` (server side).
    pub fn send_exit_signal(
        &self,
        signal: &str,
        core_dumped: bool,
        message: &str,
    ) -> Result<(), Error> {
        self.core
            .with(|inner, id| Ok(inner.conn.exit_signal(id, signal, core_dumped, message)?))
    }

    /// Queues as much of `data` as the window allows on stderr, without waiting; returns how
    /// much. For short messages from code that cannot wait, such as a [`crate::server::Handler`]
    /// explaining a refusal.
    pub fn try_write_stderr(&self, data: &[u8]) -> Result<usize, Error> {
        self.core.with(|inner, id| {
            Ok(inner
                .conn
                .send_extended_data(id, EXTENDED_DATA_STDERR, data)?)
        })
    }

    /// Sends EOF (once): we send no more data. Requests such as `exit-status` may follow.
    pub fn send_eof(&mut self) -> Result<(), Error> {
        if self.eof_sent {
            return Ok(());
        }
        self.eof_sent = true;
        self.core.with(|inner, id| Ok(inner.conn.send_eof(id)?))
    }

    /// Closes the channel now (it also closes when the last handle is dropped).
    pub fn close(&self) -> Result<(), Error> {
        self.core.with(|inner, id| Ok(inner.conn.close(id)?))
    }
}

impl AsyncRead for Channel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.core.poll_read(cx, Stream::Data, buf)
    }
}

impl AsyncWrite for Channel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.core.poll_write(cx, None, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut parts = [&[][..]; MAX_PARTS];
        for (slot, b) in parts.iter_mut().zip(bufs) {
            *slot = b;
        }
        let n = bufs.len().min(MAX_PARTS);
        self.core
            .poll_write_parts(cx, None, parts.get(..n).unwrap_or_default())
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written data is already in the connection's hands.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        Poll::Ready(this.send_eof().map_err(io::Error::from))
    }
}

/// Sends buffers that hold room for the packet's headers as the packets themselves, so that
/// their data is never copied on its way to the cipher: the SFTP server's `DATA` replies.
///
/// A buffer is `[room][data][spare capacity]`, with [`OwnedSender::ROOM`] bytes of room and
/// [`OwnedSender::TAILROOM`] of spare capacity behind the data. Writes through it and
/// through the channel's `AsyncWrite` go out in the order they are made.
pub(crate) struct OwnedSender {
    core: Arc<Core>,
}

impl OwnedSender {
    /// Room in front of the data: the packet's length and padding length
    /// ([`SEND_HEADROOM`](sshwire_transport::SEND_HEADROOM), which the session's connection
    /// engine leaves in front of every payload) and the `CHANNEL_DATA` header.
    pub(crate) const ROOM: usize =
        sshwire_transport::SEND_HEADROOM + sshwire_connection::messages::DATA_HEADER_LEN;

    /// Spare capacity behind the data that lets the transport seal the packet in place.
    pub(crate) const TAILROOM: usize = sshwire_transport::SEND_TAILROOM;

    /// Sends `packet[ROOM..]` as one data packet in `packet` itself, waiting while the
    /// session's queue is full. Gives the packet back, unsent, when the peer's window or
    /// packet size would cut the data: the caller then writes it as any other data.
    pub(crate) async fn send(&self, packet: Vec<u8>) -> io::Result<Option<Vec<u8>>> {
        let mut packet = Some(packet);
        poll_fn(|cx| self.core.poll_send_owned(cx, &mut packet)).await
    }
}

/// Reads a channel's data in the buffers its packets arrived in, without copying it out: for
/// a reader that keeps a large `WRITE`'s data in the buffer it came in.
///
/// Reads through it and through the channel's `AsyncRead` take the data in turn, in order.
pub(crate) struct ChunkReader {
    core: Arc<Core>,
}

/// What [`ChunkReader::next`] found.
pub(crate) enum Received {
    /// A run of data, at `buf[start..]` of the `(buf, start)`.
    Chunk(Chunk),
    /// Data waits, but its first run is shorter than asked for: read it through the
    /// channel's `AsyncRead`, which copies it (it lies in a buffer the engine reuses).
    Short,
    /// The end of the channel's data.
    End,
}

impl ChunkReader {
    /// Only runs of this many bytes are taken whole: those of packets the transport opened
    /// in buffers of their own ([`IN_PLACE_MIN`](sshwire_transport::IN_PLACE_MIN)), which
    /// sshwire's peers send. Smaller ones are copied out as by a read, and their buffers
    /// stay with the engine.
    pub(crate) const MIN_CHUNK: usize = sshwire_transport::IN_PLACE_MIN;

    /// Waits for data: the next run of at least [`ChunkReader::MIN_CHUNK`] bytes, taken
    /// whole; or word that a shorter one waits; or the end of the channel's data.
    pub(crate) async fn next(&self) -> io::Result<Received> {
        poll_fn(|cx| self.core.poll_read_chunk(cx, Self::MIN_CHUNK)).await
    }
}

/// A channel's stderr: the peer's to read, or ours to write (extended data type 1).
pub struct ChannelStderr {
    core: Arc<Core>,
}

impl AsyncRead for ChannelStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.core.poll_read(cx, Stream::Stderr, buf)
    }
}

impl AsyncWrite for ChannelStderr {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.core.poll_write(cx, Some(EXTENDED_DATA_STDERR), buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The reading half of a [`Channel::split`]: the peer's data.
pub struct ChannelReader {
    core: Arc<Core>,
}

impl ChannelReader {
    /// As [`Channel::exit_status`].
    pub async fn exit_status(&self) -> Option<ExitStatus> {
        poll_fn(|cx| self.core.poll_exit(cx)).await
    }
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.core.poll_read(cx, Stream::Data, buf)
    }
}

/// The writing half of a [`Channel::split`]: shutting it down sends EOF.
pub struct ChannelWriter {
    channel: Channel,
}

impl ChannelWriter {
    /// As [`Channel::exit_status`].
    pub async fn exit_status(&self) -> Option<ExitStatus> {
        self.channel.exit_status().await
    }
}

impl AsyncWrite for ChannelWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().channel).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().channel).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().channel).poll_shutdown(cx)
    }
}
