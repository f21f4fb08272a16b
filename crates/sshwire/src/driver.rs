//! Runs a transport engine over an async byte stream.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::Duration;

use sshwire_transport::{DisconnectReason, Event, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;

use crate::Error;
use crate::trace::{SshTracer, TraceSink};

/// How long the last-gasp DISCONNECT may take to write before the socket is dropped anyway.
const LAST_GASP: Duration = Duration::from_secs(2);

/// One connection: a [`Transport`] engine and the stream it talks over.
///
/// [`Driver::next_event`] moves bytes both ways (reading and writing at once, so neither side
/// can deadlock the other with a full socket buffer), arms the engine's timer and returns the
/// engine's next event. When the engine fails, the driver writes the engine's DISCONNECT (its
/// last word) before returning the error.
pub struct Driver<S> {
    reader: ReadHalf<S>,
    writer: WriteHalf<S>,
    engine: Transport,
    /// Whether bytes were read into the engine's buffer and not processed yet.
    unprocessed: bool,
    /// Sealed packets to write, in order; `wq[0][wpos..]` is next.
    wq: VecDeque<Vec<u8>>,
    wpos: usize,
    /// Bytes in `wq` not written yet.
    wq_len: usize,
    /// Written buffers, for [`Driver::take_spent`].
    spent: Vec<Vec<u8>>,
    /// Where the connection's trace goes, if anywhere (see [`Driver::set_trace`]).
    trace: Option<TraceSink>,
}

impl<S: AsyncRead + AsyncWrite> Driver<S> {
    /// Wraps a connected stream and a fresh engine.
    pub fn new(stream: S, engine: Transport) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        Driver {
            reader,
            writer,
            engine,
            unprocessed: false,
            wq: VecDeque::new(),
            wpos: 0,
            wq_len: 0,
            spent: Vec::new(),
            trace: None,
        }
    }

    /// Traces every message of the connection to `sink`, as our `side` (`"client"` or
    /// `"server"`): see [`crate::trace`]. The session started on this driver passes the sink
    /// on to its channels ([`crate::Channel::trace_sink`]), for SFTP traces.
    pub fn set_trace(&mut self, side: &'static str, sink: TraceSink) {
        self.engine
            .set_tracer(Box::new(SshTracer::new(side, sink.clone())));
        self.trace = Some(sink);
    }

    /// The sink given to [`Driver::set_trace`].
    pub fn trace_sink(&self) -> Option<&TraceSink> {
        self.trace.as_ref()
    }

    /// The engine, to send messages or ask for a rekey.
    pub fn engine(&mut self) -> &mut Transport {
        &mut self.engine
    }

    /// Hands every payload `next` yields (an upper layer's output queue) to the transport.
    pub(crate) fn send_all(
        &mut self,
        mut next: impl FnMut() -> Option<Vec<u8>>,
    ) -> Result<(), Error> {
        while let Some(payload) = next() {
            self.engine.send(&payload)?;
        }
        Ok(())
    }

    /// Bytes the engine has produced that are not written to the stream yet.
    pub fn queued_output(&mut self) -> usize {
        self.wq_len + self.engine.transmit_len()
    }

    /// Runs I/O until the engine reports an event.
    ///
    /// Cancel-safe: dropping the future loses no input or output, so it can race against
    /// other wake-ups in a `select!`.
    pub async fn next_event(&mut self) -> Result<Event, Error> {
        loop {
            if let Some(ev) = self.next_event_or_room(None).await? {
                return Ok(ev);
            }
        }
    }

    /// Runs I/O until the engine reports an event (`Some`), or, given `low_water`, until a
    /// write leaves fewer than `low_water` bytes queued (`None`).
    ///
    /// For a caller that holds back output while the queue is full: without the second
    /// wake-up it would hear nothing more until the peer spoke, and a peer that waits for
    /// the held-back output never does. Cancel-safe, like [`Driver::next_event`].
    pub(crate) async fn next_event_or_room(
        &mut self,
        low_water: Option<usize>,
    ) -> Result<Option<Event>, Error> {
        loop {
            if let Some(ev) = self.engine.poll_event() {
                return Ok(Some(ev));
            }
            if let Some(e) = self.engine.error().cloned() {
                self.last_gasp().await;
                return Err(e.into());
            }
            self.collect_output();
            if self.unprocessed {
                // Errors are the engine's: the loop reports them above.
                self.unprocessed = false;
                let _ = self.engine.process_input(Instant::now().into_std());
                continue;
            }
            let wrote = self.io_once().await?;
            if wrote && low_water.is_some_and(|low| self.queued_output() < low) {
                return Ok(None);
            }
        }
    }

    /// Writes everything the engine has queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        loop {
            self.collect_output();
            if self.wq_len == 0 {
                self.writer.flush().await?;
                return Ok(());
            }
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let count = pending_slices(&self.wq, self.wpos, &mut slices);
            let n = self
                .writer
                .write_vectored(slices.get(..count).unwrap_or_default())
                .await?;
            self.advance(n)?;
        }
    }

    /// Sends `SSH_MSG_DISCONNECT` and closes the stream.
    pub async fn disconnect(mut self, reason: DisconnectReason, description: &str) {
        self.disconnect_in_place(reason, description).await;
    }

    /// Sends `SSH_MSG_DISCONNECT` and shuts the stream down, keeping the driver (whose later
    /// calls report the closed engine).
    pub async fn disconnect_in_place(&mut self, reason: DisconnectReason, description: &str) {
        self.engine.disconnect(reason, description);
        self.last_gasp().await;
    }

    /// Takes the engine's output as the buffers it was sealed in, so sealed bytes are never
    /// copied on their way to the socket.
    fn collect_output(&mut self) {
        let before = self.wq.len();
        self.engine.poll_transmit_buffers(&mut self.wq);
        self.wq_len += self.wq.range(before..).map(Vec::len).sum::<usize>();
    }

    /// Notes that `n` more bytes were written; buffers written whole go to `spent`.
    fn advance(&mut self, mut n: usize) -> Result<(), Error> {
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
        }
        self.wq_len = self.wq_len.saturating_sub(n);
        while let Some(front) = self.wq.front() {
            let left = front.len().saturating_sub(self.wpos);
            if n < left {
                self.wpos += n;
                break;
            }
            n -= left;
            self.wpos = 0;
            if let Some(done) = self.wq.pop_front()
                && self.spent.len() < MAX_SPENT
            {
                self.spent.push(done);
            }
        }
        Ok(())
    }

    /// A buffer whose bytes have been written, for the caller to fill again (the connection
    /// engine's packets come back this way, to be reused for later packets).
    pub(crate) fn take_spent(&mut self) -> Option<Vec<u8>> {
        self.spent.pop()
    }

    /// Waits for the socket to be readable or writable, or for the engine's deadline.
    ///
    /// Received bytes go straight into the engine's buffer ([`Transport::input_buffer`]).
    /// Returns whether bytes were written.
    async fn io_once(&mut self) -> Result<bool, Error> {
        let deadline = self.engine.poll_timeout().map(Instant::from_std);
        let want_write = self.wq_len > 0;
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let count = pending_slices(&self.wq, self.wpos, &mut slices);
        let slices = slices.get(..count).unwrap_or_default();
        let (rbuf, room) = self.engine.input_buffer();
        let want_read = room > 0;
        let mut reader = (&mut self.reader).take(u64::try_from(room).unwrap_or(u64::MAX));
        tokio::select! {
            r = self.writer.write_vectored(slices), if want_write => {
                let n = r?;
                self.advance(n)?;
                return Ok(true);
            }
            r = reader.read_buf(rbuf), if want_read => {
                let n = r?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed by the peer",
                    )
                    .into());
                }
                self.unprocessed = true;
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                let _ = self.engine.handle_timeout(Instant::now().into_std());
            }
            // Nothing to read, write or time: only the caller's other wake-ups remain.
            else => std::future::pending::<()>().await,
        }
        Ok(false)
    }

    /// Writes what the engine still has to say (its DISCONNECT) and shuts the stream down.
    async fn last_gasp(&mut self) {
        let _ = tokio::time::timeout(LAST_GASP, async {
            let _ = self.flush().await;
            let _ = self.writer.shutdown().await;
        })
        .await;
    }
}

/// Buffers given to one vectored write, at most.
const MAX_SLICES: usize = 16;

/// Written buffers kept for [`Driver::take_spent`], at most.
const MAX_SPENT: usize = 32;

/// Fills `slices` with what is left to write of `wq` (the first buffer from `wpos`); returns
/// how many it filled.
fn pending_slices<'a>(wq: &'a VecDeque<Vec<u8>>, wpos: usize, slices: &mut [IoSlice<'a>]) -> usize {
    let mut count = 0;
    for (i, (slot, buf)) in slices.iter_mut().zip(wq).enumerate() {
        let from = if i == 0 { wpos } else { 0 };
        *slot = IoSlice::new(buf.get(from..).unwrap_or_default());
        count += 1;
    }
    count
}

/// Sleeps until `deadline`, or forever without one (for `select!` branches).
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::sync::Arc;

    use sshwire_transport::{Config, Event, Transport};
    use tokio::sync::oneshot;

    use crate::keys::{KeyType, PrivateKey};
    use crate::server::Server;
    use crate::{Driver, system_rng};

    /// 3 MiB queued for a peer that reads only when told: with a low-water mark the driver
    /// comes back once the socket has taken enough, without any event from the peer.
    #[tokio::test]
    async fn a_low_water_mark_brings_the_caller_back_when_the_queue_drains() {
        let key = PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap();
        let server = Server::new(Arc::new(Config::default()), vec![Arc::new(key)]);
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (go, start_reading) = oneshot::channel::<()>();
        let server_task = tokio::spawn(async move {
            let mut driver = server.handshake(b).await.unwrap();
            start_reading.await.unwrap();
            let mut got = 0;
            while got < 16 {
                if let Event::Message(_) = driver.next_event().await.unwrap() {
                    got += 1;
                }
            }
        });
        let mut client = Driver::new(
            a,
            Transport::client(Arc::new(Config::default()), system_rng()),
        );
        let mut trust = |_: &crate::keys::PublicKey| true;
        crate::client::handshake(&mut client, &mut trust)
            .await
            .unwrap();
        let message: Vec<u8> = std::iter::once(94).chain([7u8; 196_600]).collect();
        for _ in 0..16 {
            client.engine().send(&message).unwrap();
        }
        assert!(client.queued_output() > 3 << 20);
        go.send(()).unwrap();
        let low = 1 << 20;
        // Events the handshake left (the server's EXT_INFO) may come first; the peer sends
        // nothing after them, so only the low-water mark can end this loop.
        while let Some(ev) = client.next_event_or_room(Some(low)).await.unwrap() {
            assert!(!matches!(ev, Event::Message(_)), "the peer sent {ev:?}");
        }
        let left = client.queued_output();
        assert!(left < low, "came back with {left} bytes still queued");
        client.flush().await.unwrap();
        server_task.await.unwrap();
    }
}
