//! A remote file as tokio I/O: [`File`] is `AsyncRead + AsyncWrite + AsyncSeek` over an SFTP
//! handle, with reads ahead and writes behind in flight, like paramiko's `SFTPFile` and
//! AsyncSSH's `SFTPClientFile`.
//!
//! - Sequential reads keep several READs in flight ([`PIPELINE`] blocks of the server's
//!   read length, [`SftpClient::transfer_limits`]); a short read is asked again for the rest,
//!   and the end of the file is where a READ first answers EOF, so a read sees exactly the
//!   file's bytes. A seek elsewhere drops what was read ahead.
//! - Writes are gathered into blocks of the server's write length; a full block goes out as a
//!   WRITE at once, and `poll_write` returns without waiting while fewer than [`PIPELINE`]
//!   are unanswered. A failed WRITE is reported by the next write, flush or close, and by
//!   every one after it. `poll_flush` waits for every WRITE; `poll_shutdown` flushes and
//!   closes the handle.
//! - Requests on one handle leave in order, and filexfer-02 §6.1 has the server "process
//!   requests relating to the same file in the order in which they are received", so a read
//!   or a CLOSE after writes sees them. Reads, seeks and the metadata calls still wait for the
//!   writes first, so that their errors are reported before anything else happens.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use sshwire_sftp::transfer::Download;
use sshwire_sftp::{Attrs, Block, OpenFlags, Request, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use crate::sftp_client::{Pending, SftpClient, SftpError, expect_attrs, expect_ok, unexpected};

/// Requests a [`File`] keeps in flight each way, at most (also bounded by the session's).
pub const PIPELINE: usize = 8;

/// How to open a remote file, as `std::fs::OpenOptions`: see [`SftpClient::open_file`].
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    create: bool,
    create_new: bool,
    truncate: bool,
    mode: Option<u32>,
}

impl OpenOptions {
    /// Nothing set: say at least `read` or `write`.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Open for reading (`SSH_FXF_READ`).
    pub fn read(&mut self, yes: bool) -> &mut OpenOptions {
        self.read = yes;
        self
    }

    /// Open for writing (`SSH_FXF_WRITE`).
    pub fn write(&mut self, yes: bool) -> &mut OpenOptions {
        self.write = yes;
        self
    }

    /// Write at the end: the file's size when opened, then on from there. Implies `write`.
    ///
    /// `SSH_FXF_APPEND` is sent too, but not relied on (servers differ in honouring it); on
    /// a server that honours it (OpenSSH's), every write lands at the end whatever the
    /// position says, as with `O_APPEND`.
    pub fn append(&mut self, yes: bool) -> &mut OpenOptions {
        self.append = yes;
        self
    }

    /// Create the file if missing (`SSH_FXF_CREAT`).
    pub fn create(&mut self, yes: bool) -> &mut OpenOptions {
        self.create = yes;
        self
    }

    /// Create the file, failing if it exists (`SSH_FXF_CREAT | SSH_FXF_EXCL`).
    pub fn create_new(&mut self, yes: bool) -> &mut OpenOptions {
        self.create_new = yes;
        self
    }

    /// Cut the file to nothing (`SSH_FXF_TRUNC`).
    pub fn truncate(&mut self, yes: bool) -> &mut OpenOptions {
        self.truncate = yes;
        self
    }

    /// Permission bits for a file this open creates (the server applies its umask).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = Some(mode);
        self
    }

    fn flags(&self) -> OpenFlags {
        let mut flags = OpenFlags::empty();
        let set = |flags: &mut OpenFlags, on: bool, flag: OpenFlags| {
            if on {
                *flags |= flag;
            }
        };
        set(&mut flags, self.read, OpenFlags::READ);
        set(&mut flags, self.write || self.append, OpenFlags::WRITE);
        set(&mut flags, self.append, OpenFlags::APPEND);
        set(&mut flags, self.create || self.create_new, OpenFlags::CREAT);
        set(&mut flags, self.create_new, OpenFlags::EXCL);
        set(&mut flags, self.truncate, OpenFlags::TRUNC);
        flags
    }
}

/// The reads in flight ahead of the position, and what came back.
struct ReadAhead {
    plan: Download,
    reads: Vec<(u64, Pending)>,
    /// The block being handed out, and how much of it is.
    chunk: Block,
    at: usize,
}

impl ReadAhead {
    fn new(offset: u64, block: u32) -> ReadAhead {
        ReadAhead {
            plan: Download::new(offset, block, PIPELINE),
            reads: Vec::new(),
            chunk: Block::new(),
            at: 0,
        }
    }

    /// Bytes at the position, as many as are ready (up to `max`); empty at the end of the
    /// file.
    fn poll_bytes(
        &mut self,
        cx: &mut Context<'_>,
        client: &SftpClient,
        handle: &[u8],
        max: usize,
    ) -> Poll<Result<&[u8], SftpError>> {
        loop {
            if self.at < self.chunk.len() {
                let start = self.at;
                let end = self.chunk.len().min(start.saturating_add(max));
                self.at = end;
                return Poll::Ready(Ok(self.chunk.get(start..end).unwrap_or_default()));
            }
            if let Some((_, data)) = self.plan.poll_write() {
                self.chunk = data;
                self.at = 0;
                continue;
            }
            if self.plan.is_done() {
                return Poll::Ready(Ok(&[]));
            }
            // Ask ahead while there is room in the plan and in the session.
            while let Some(slot) = client.slot(self.reads.is_empty()) {
                let Some((offset, len)) = self.plan.next_read() else {
                    break;
                };
                let handle = handle.to_vec();
                let pending = client.start(slot, |id| Request::Read {
                    id,
                    handle,
                    offset,
                    len,
                })?;
                self.reads.push((offset, pending));
            }
            let mut progress = false;
            let mut failed = None;
            let plan = &mut self.plan;
            self.reads.retain_mut(|(offset, pending)| {
                let Poll::Ready(reply) = Pin::new(pending).poll(cx) else {
                    return true;
                };
                progress = true;
                let outcome = match reply {
                    Ok(Response::Data { data, .. }) => plan
                        .on_data(*offset, data)
                        .map_err(|e| SftpError::Protocol(e.to_string())),
                    Ok(Response::Status { code, .. }) if code == StatusCode::EOF => plan
                        .on_eof(*offset)
                        .map_err(|e| SftpError::Protocol(e.to_string())),
                    Ok(other) => Err(unexpected(other)),
                    Err(e) => Err(e),
                };
                if let Err(e) = outcome {
                    failed.get_or_insert(e);
                }
                false
            });
            if let Some(e) = failed {
                return Poll::Ready(Err(e));
            }
            if !progress {
                if self.reads.is_empty() {
                    // Nothing in flight would ever wake us.
                    return Poll::Ready(Err(SftpError::Protocol(
                        "the read-ahead has nothing to wait for".into(),
                    )));
                }
                return Poll::Pending;
            }
        }
    }
}

/// An open remote file: `AsyncRead`, `AsyncWrite` and `AsyncSeek`, pipelined (see the
/// [module documentation](self)).
///
/// Close it with [`File::close`] (or `AsyncWriteExt::shutdown`) to learn whether the last
/// writes and the CLOSE succeeded. Dropping an open `File` sends its buffered data and a
/// CLOSE without waiting, so no handle is left open on the server, but errors are lost.
///
/// ```no_run
/// # async fn example(sftp: sshwire::sftp_client::SftpClient) -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::SeekFrom;
/// use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
///
/// let mut file = sftp.create(b"notes.txt").await?;
/// file.write_all(b"hello, world\n").await?;
/// file.close().await?;
///
/// let mut file = sftp.open_read(b"notes.txt").await?;
/// file.seek(SeekFrom::Start(7)).await?;
/// let mut rest = String::new();
/// file.read_to_string(&mut rest).await?;
/// assert_eq!(rest, "world\n");
/// file.close().await?;
/// # Ok(())
/// # }
/// ```
pub struct File {
    client: SftpClient,
    handle: Vec<u8>,
    open: bool,
    /// Where the next read or write goes.
    pos: u64,
    read_block: u32,
    write_block: usize,
    reader: Option<ReadAhead>,
    /// Bytes written and not yet sent; they end at `pos`.
    wbuf: Vec<u8>,
    writes: VecDeque<Pending>,
    /// The first WRITE that failed: reported from then on.
    write_error: Option<SftpError>,
    seek_to: Option<SeekFrom>,
    /// An FSTAT for `SeekFrom::End`, with the distance from the end.
    seek_stat: Option<(i64, Pending)>,
    closing: Option<Pending>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("open", &self.open)
            .field("pos", &self.pos)
            .field("buffered", &self.wbuf.len())
            .field("writes_in_flight", &self.writes.len())
            .finish()
    }
}

impl SftpClient {
    /// Opens a remote file as [`File`].
    pub async fn open_file(&self, path: &[u8], options: &OpenOptions) -> Result<File, SftpError> {
        let attrs = Attrs {
            permissions: options.mode,
            ..Attrs::default()
        };
        let handle = self.open(path, options.flags(), attrs).await?;
        let limits = self.transfer_limits();
        let mut file = File {
            client: self.clone(),
            handle,
            open: true,
            pos: 0,
            read_block: limits.read_len.max(1),
            write_block: usize::try_from(limits.write_len)
                .unwrap_or(32 * 1024)
                .max(1),
            reader: None,
            wbuf: Vec::new(),
            writes: VecDeque::new(),
            write_error: None,
            seek_to: None,
            seek_stat: None,
            closing: None,
        };
        if options.append {
            // Append at the size it has now and keep that offset: SSH_FXF_APPEND alone is
            // honoured by some servers and not others.
            match file.client.fstat(&file.handle).await {
                Ok(a) => file.pos = a.size.unwrap_or(0),
                Err(e) => {
                    // Dropping the file closes the handle.
                    drop(file);
                    return Err(e);
                }
            }
        }
        Ok(file)
    }

    /// Opens a file for reading.
    pub async fn open_read(&self, path: &[u8]) -> Result<File, SftpError> {
        self.open_file(path, OpenOptions::new().read(true)).await
    }

    /// Opens a file for writing, created if missing and cut to nothing if not (as
    /// `std::fs::File::create`).
    pub async fn create(&self, path: &[u8]) -> Result<File, SftpError> {
        self.open_file(
            path,
            OpenOptions::new().write(true).create(true).truncate(true),
        )
        .await
    }
}

impl File {
    /// The SFTP handle, for the calls of [`SftpClient`] that take one.
    pub fn handle(&self) -> &[u8] {
        &self.handle
    }

    /// The position of the next read or write.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Reads up to `len` bytes at `offset` without moving the position; fewer only at the
    /// end of the file. Several READs are in flight for a long range.
    pub async fn read_at(&mut self, offset: u64, len: usize) -> Result<Vec<u8>, SftpError> {
        self.flush_writes().await?;
        let end = offset.saturating_add(len as u64);
        let block = u64::from(self.read_block);
        let mut out = Vec::new();
        let mut in_flight: VecDeque<(u32, Pending)> = VecDeque::new();
        let mut next = offset;
        loop {
            while in_flight.len() < PIPELINE && next < end {
                let Some(slot) = self.client.slot(in_flight.is_empty()) else {
                    break;
                };
                let n = u32::try_from(block.min(end - next)).unwrap_or(self.read_block);
                let (handle, at) = (self.handle.clone(), next);
                let pending = self.client.start(slot, |id| Request::Read {
                    id,
                    handle,
                    offset: at,
                    len: n,
                })?;
                in_flight.push_back((n, pending));
                next = next.saturating_add(u64::from(n));
            }
            let Some((asked, pending)) = in_flight.pop_front() else {
                break;
            };
            match pending.await? {
                // The engine has checked that DATA is no longer than asked.
                Response::Data { data, .. } if !data.is_empty() => {
                    out.extend_from_slice(&data);
                    if data.len() < asked as usize {
                        // A short read: what is in flight starts past a gap. Forget it and
                        // go on from here (at the end, the next READ answers EOF).
                        in_flight.clear();
                        next = offset.saturating_add(out.len() as u64);
                    }
                }
                // filexfer-02 §6.4: EOF (or empty DATA) where the file ends.
                Response::Data { .. } => break,
                Response::Status { code, .. } if code == StatusCode::EOF => break,
                other => return Err(unexpected(other)),
            }
        }
        Ok(out)
    }

    /// Writes all of `data` at `offset` without moving the position, several WRITEs in
    /// flight.
    pub async fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), SftpError> {
        self.flush_writes().await?;
        self.reader = None;
        let mut in_flight: VecDeque<Pending> = VecDeque::new();
        let mut first_error = None;
        let mut at = offset;
        for chunk in data.chunks(self.write_block) {
            let slot = loop {
                if in_flight.len() < PIPELINE
                    && let Some(slot) = self.client.slot(in_flight.is_empty())
                {
                    break slot;
                }
                if let Some(p) = in_flight.pop_front()
                    && let Err(e) = p.await.and_then(expect_ok)
                {
                    first_error.get_or_insert(e);
                }
            };
            if first_error.is_some() {
                break;
            }
            let (handle, data) = (self.handle.clone(), chunk.to_vec());
            let offset = at;
            in_flight.push_back(self.client.start(slot, |id| Request::Write {
                id,
                handle,
                offset,
                data: data.into(),
            })?);
            at = at.saturating_add(chunk.len() as u64);
        }
        for p in in_flight {
            if let Err(e) = p.await.and_then(expect_ok) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The file's attributes (FSTAT), after the writes so far.
    pub async fn stat(&mut self) -> Result<Attrs, SftpError> {
        self.flush_writes().await?;
        self.client.fstat(&self.handle).await
    }

    /// Changes the file's attributes (FSETSTAT), after the writes so far.
    pub async fn setstat(&mut self, attrs: Attrs) -> Result<(), SftpError> {
        self.flush_writes().await?;
        self.reader = None;
        self.client.fsetstat(&self.handle, attrs).await
    }

    /// Cuts or extends the file to `len` bytes; the position stays where it is.
    pub async fn set_len(&mut self, len: u64) -> Result<(), SftpError> {
        self.setstat(Attrs {
            size: Some(len),
            ..Attrs::default()
        })
        .await
    }

    /// Writes what is buffered, waits for it, and asks the server to put the file on stable
    /// storage (`fsync@openssh.com`; [`SftpError::Unsupported`] when the server does not
    /// offer it).
    pub async fn fsync(&mut self) -> Result<(), SftpError> {
        self.flush_writes().await?;
        self.client.fsync(&self.handle).await
    }

    /// Sends what is buffered, waits for every write, and closes the handle; the first error
    /// of a write or of the CLOSE.
    pub async fn close(mut self) -> Result<(), SftpError> {
        poll_fn(|cx| self.poll_close(cx)).await
    }

    /// Waits until every write is answered; the sticky write error if any failed.
    async fn flush_writes(&mut self) -> Result<(), SftpError> {
        poll_fn(|cx| self.poll_flush_writes(cx)).await
    }

    fn check_open(&self) -> Result<(), SftpError> {
        if self.open {
            Ok(())
        } else {
            Err(SftpError::Protocol("the file is closed".into()))
        }
    }

    /// Takes the answered writes off the queue (registering for the others), keeping the
    /// first error.
    fn reap(&mut self, cx: &mut Context<'_>) {
        let error = &mut self.write_error;
        self.writes.retain_mut(|p| match Pin::new(p).poll(cx) {
            Poll::Ready(r) => {
                if let Err(e) = r.and_then(expect_ok) {
                    error.get_or_insert(e);
                }
                false
            }
            Poll::Pending => true,
        });
    }

    /// Sends the buffered bytes as one WRITE if there is room; whether the buffer is empty.
    fn try_dispatch(&mut self) -> Result<bool, SftpError> {
        if self.wbuf.is_empty() {
            return Ok(true);
        }
        if self.writes.len() >= PIPELINE {
            return Ok(false);
        }
        let Some(slot) = self.client.slot(self.writes.is_empty()) else {
            return Ok(false);
        };
        let data = std::mem::take(&mut self.wbuf);
        let offset = self.pos.saturating_sub(data.len() as u64);
        let handle = self.handle.clone();
        let pending = self.client.start(slot, |id| Request::Write {
            id,
            handle,
            offset,
            data: data.into(),
        })?;
        self.writes.push_back(pending);
        Ok(true)
    }

    fn poll_flush_writes(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SftpError>> {
        loop {
            self.reap(cx);
            if let Some(e) = &self.write_error {
                return Poll::Ready(Err(e.clone()));
            }
            if !self.wbuf.is_empty() {
                if self.try_dispatch()? {
                    // Poll the new WRITE too, so that its answer wakes us.
                    continue;
                }
                return Poll::Pending;
            }
            if self.writes.is_empty() {
                return Poll::Ready(Ok(()));
            }
            return Poll::Pending;
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SftpError>> {
        if self.closing.is_none() {
            if !self.open {
                return Poll::Ready(Ok(()));
            }
            // A failed write does not keep the handle open: it is closed all the same.
            if let Err(e) = ready!(self.poll_flush_writes(cx)) {
                self.write_error.get_or_insert(e);
            }
            self.reader = None;
            // From here the handle is the server's to forget: not open any more, so neither
            // I/O nor `Drop` uses it again (OpenSSH reuses handle values).
            self.open = false;
            let handle = self.handle.clone();
            match self.client.start_now(|id| Request::Close { id, handle }) {
                Ok(p) => self.closing = Some(p),
                Err(e) => return Poll::Ready(Err(self.write_error.clone().unwrap_or(e))),
            }
        }
        let Some(closing) = self.closing.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let closed = ready!(Pin::new(closing).poll(cx)).and_then(expect_ok);
        self.closing = None;
        Poll::Ready(match self.write_error.clone() {
            Some(e) => Err(e),
            None => closed,
        })
    }

    fn set_pos(&mut self, pos: u64) {
        if pos != self.pos {
            self.reader = None;
        }
        self.pos = pos;
    }
}

/// `base + delta`, or an error before 0 or past `u64::MAX`.
fn offset(base: u64, delta: i64) -> io::Result<u64> {
    base.checked_add_signed(delta).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "seek to a position before the start of the file or past 2^64",
        )
    })
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check_open()?;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_flush_writes(cx))?;
        let (pos, block) = (this.pos, this.read_block);
        let ahead = this
            .reader
            .get_or_insert_with(|| ReadAhead::new(pos, block));
        match ready!(ahead.poll_bytes(cx, &this.client, &this.handle, buf.remaining())) {
            Ok(bytes) => {
                buf.put_slice(bytes);
                let n = bytes.len() as u64;
                if n == 0 {
                    // At the end: ask afresh next time, the file may have grown.
                    this.reader = None;
                }
                this.pos = this.pos.saturating_add(n);
                Poll::Ready(Ok(()))
            }
            Err(e) => {
                this.reader = None;
                Poll::Ready(Err(e.into()))
            }
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check_open()?;
        this.reader = None;
        this.reap(cx);
        if let Some(e) = &this.write_error {
            return Poll::Ready(Err(e.clone().into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.wbuf.len() >= this.write_block && !this.try_dispatch()? {
            // Woken by the writes `reap` registered with.
            return Poll::Pending;
        }
        let n = buf.len().min(this.write_block - this.wbuf.len());
        this.wbuf
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        this.pos = this.pos.saturating_add(n as u64);
        if this.wbuf.len() >= this.write_block {
            // Sent now if there is room, else by the next write or the flush.
            this.try_dispatch()?;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.open {
            return Poll::Ready(Ok(()));
        }
        this.poll_flush_writes(cx).map_err(io::Error::from)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close(cx).map_err(io::Error::from)
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        this.check_open()?;
        if this.seek_stat.is_some() {
            return Err(io::Error::other("a seek is already under way"));
        }
        this.seek_to = Some(position);
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        if this.seek_to.is_none() && this.seek_stat.is_none() {
            return Poll::Ready(Ok(this.pos));
        }
        // Writes are at their own offsets; still, report their errors before moving, and
        // let an FSTAT for the end see them.
        if let Err(e) = ready!(this.poll_flush_writes(cx)) {
            this.seek_to = None;
            return Poll::Ready(Err(e.into()));
        }
        match this.seek_to.take() {
            Some(SeekFrom::Start(n)) => this.set_pos(n),
            Some(SeekFrom::Current(d)) => this.set_pos(offset(this.pos, d)?),
            Some(SeekFrom::End(d)) => {
                let handle = this.handle.clone();
                let p = this.client.start_now(|id| Request::Fstat { id, handle })?;
                this.seek_stat = Some((d, p));
            }
            None => {}
        }
        if let Some((d, pending)) = this.seek_stat.as_mut() {
            let reply = ready!(Pin::new(pending).poll(cx));
            let d = *d;
            this.seek_stat = None;
            let size = expect_attrs(reply?)?
                .size
                .ok_or_else(|| io::Error::other("the server's FSTAT gave no size to seek from"))?;
            this.set_pos(offset(size, d)?);
        }
        Poll::Ready(Ok(this.pos))
    }
}

impl Drop for File {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        // In order on the wire, so the server applies the data before the CLOSE.
        if !self.wbuf.is_empty() {
            let data = std::mem::take(&mut self.wbuf);
            let offset = self.pos.saturating_sub(data.len() as u64);
            let handle = self.handle.clone();
            self.client.send_detached(|id| Request::Write {
                id,
                handle,
                offset,
                data: data.into(),
            });
        }
        let handle = std::mem::take(&mut self.handle);
        self.client
            .send_detached(|id| Request::Close { id, handle });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_options_map_to_flags() {
        let f = |o: &OpenOptions| o.flags();
        assert_eq!(f(OpenOptions::new().read(true)), OpenFlags::READ);
        assert_eq!(
            f(OpenOptions::new().write(true).create(true).truncate(true)),
            OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC
        );
        assert_eq!(
            f(OpenOptions::new().append(true)),
            OpenFlags::WRITE | OpenFlags::APPEND
        );
        assert_eq!(
            f(OpenOptions::new().write(true).create_new(true)),
            OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::EXCL
        );
    }

    #[test]
    fn offsets_refuse_to_go_below_zero() {
        assert_eq!(offset(10, -3).unwrap(), 7);
        assert!(offset(2, -3).is_err());
        assert!(offset(u64::MAX, 1).is_err());
    }
}
