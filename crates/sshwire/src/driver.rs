//! Runs a transport engine over an async byte stream.

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
    wbuf: Vec<u8>,
    wpos: usize,
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
            wbuf: Vec::new(),
            wpos: 0,
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
        self.wbuf.len() - self.wpos + self.engine.transmit_len()
    }

    /// Runs I/O until the engine reports an event.
    ///
    /// Cancel-safe: dropping the future loses no input or output, so it can race against
    /// other wake-ups in a `select!`.
    pub async fn next_event(&mut self) -> Result<Event, Error> {
        loop {
            if let Some(ev) = self.engine.poll_event() {
                return Ok(ev);
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
            self.io_once().await?;
        }
    }

    /// Writes everything the engine has queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        loop {
            self.collect_output();
            let Some(pending) = self.wbuf.get(self.wpos..).filter(|p| !p.is_empty()) else {
                self.writer.flush().await?;
                return Ok(());
            };
            let n = self.writer.write(pending).await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            self.wpos += n;
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

    /// Takes the engine's output once everything taken before is written: the two buffers
    /// then trade places, so sealed bytes are never copied on their way to the socket.
    fn collect_output(&mut self) {
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
            self.engine.poll_transmit(&mut self.wbuf);
        }
    }

    /// Waits for the socket to be readable or writable, or for the engine's deadline.
    ///
    /// Received bytes go straight into the engine's buffer ([`Transport::input_buffer`]).
    async fn io_once(&mut self) -> Result<(), Error> {
        let deadline = self.engine.poll_timeout().map(Instant::from_std);
        let pending = self.wbuf.get(self.wpos..).unwrap_or_default();
        let want_write = !pending.is_empty();
        let (rbuf, room) = self.engine.input_buffer();
        let want_read = room > 0;
        let mut reader = (&mut self.reader).take(u64::try_from(room).unwrap_or(u64::MAX));
        tokio::select! {
            r = self.writer.write(pending), if want_write => {
                let n = r?;
                if n == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
                }
                self.wpos += n;
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
        Ok(())
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

/// Sleeps until `deadline`, or forever without one (for `select!` branches).
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
