//! Local file I/O for whole-file transfers: blocks on tokio's blocking pool, strictly in order,
//! one batch of writes or of reads running ahead of the protocol.
//!
//! `tokio::fs::File` copies every write into a buffer of its own, and zero-filled read buffers
//! cost a pass over memory too; here the blocks the protocol produces or consumes are the ones
//! the system calls use, and a block read from the disk is never initialised first.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;

use sshwire_sftp::{Block, Room};

use tokio::task::JoinHandle;

use crate::sftp_local::pread_into;

fn joined<T>(r: Result<io::Result<T>, tokio::task::JoinError>) -> io::Result<T> {
    r.map_err(|e| io::Error::other(e.to_string()))?
}

/// Bytes [`OrderedWriter`] gathers before it takes them to the blocking pool in one trip.
///
/// A download's blocks arrive 255 KiB at a time; a trip for each cost two thread hand-offs
/// per block, as [`READ_BATCH`] says of uploads. Eight blocks a trip leave one eighth.
const WRITE_BATCH: usize = 2 * 1024 * 1024;

/// Writes blocks to a file at its current position, one after another.
///
/// Blocks are gathered until [`WRITE_BATCH`] bytes wait, then written in one trip to the
/// blocking pool while the caller goes on; the next trip waits for the one before. The file
/// only ever grows by the blocks in order, and never again after a write failed: what is on
/// disk is always a prefix of what was given.
pub(crate) struct OrderedWriter {
    file: Arc<File>,
    /// Bytes that start a trip.
    batch: usize,
    /// Blocks given and not yet on their way, in order.
    queued: Vec<Block>,
    /// Their bytes, kept rather than summed at each write (a small block size queues
    /// thousands).
    queued_bytes: usize,
    pending: Option<JoinHandle<io::Result<()>>>,
    /// A write failed: nothing more is written.
    failed: bool,
}

impl OrderedWriter {
    pub(crate) fn new(file: File) -> Self {
        OrderedWriter::with_batch(file, WRITE_BATCH)
    }

    /// As [`OrderedWriter::new`], starting a trip once `batch` bytes wait.
    fn with_batch(file: File, batch: usize) -> Self {
        OrderedWriter {
            file: Arc::new(file),
            batch: batch.max(1),
            queued: Vec::new(),
            queued_bytes: 0,
            pending: None,
            failed: false,
        }
    }

    /// Gives `data`, to be written after everything given before; reports a failed write
    /// of earlier blocks.
    pub(crate) async fn write(&mut self, data: impl Into<Block>) -> io::Result<()> {
        self.check()?;
        let data = data.into();
        self.queued_bytes = self.queued_bytes.saturating_add(data.len());
        self.queued.push(data);
        if self.queued_bytes >= self.batch {
            self.send().await?;
        }
        Ok(())
    }

    /// Writes what waits, waits for every write, and reports how they went.
    pub(crate) async fn finish(&mut self) -> io::Result<()> {
        if !self.queued.is_empty() {
            self.send().await?;
        }
        self.wait().await
    }

    /// Waits for the trip under way, then starts one with the blocks that wait.
    async fn send(&mut self) -> io::Result<()> {
        self.wait().await?;
        let blocks = std::mem::take(&mut self.queued);
        self.queued_bytes = 0;
        let file = self.file.clone();
        self.pending = Some(tokio::task::spawn_blocking(move || {
            write_blocks(&file, blocks)
        }));
        Ok(())
    }

    /// Waits for the trip under way; after a failure, drops what waits.
    async fn wait(&mut self) -> io::Result<()> {
        self.check()?;
        let Some(h) = self.pending.take() else {
            return Ok(());
        };
        let done = joined(h.await);
        if done.is_err() {
            self.failed = true;
            for b in self.queued.drain(..) {
                sshwire_sftp::buffers::give(b.into_parts().0);
            }
            self.queued_bytes = 0;
        }
        done
    }

    fn check(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other("an earlier write to this file failed"));
        }
        Ok(())
    }
}

/// Writes `blocks` in order, stopping at the first failure; every block's buffer goes back
/// to the pool.
fn write_blocks(mut file: &File, blocks: Vec<Block>) -> io::Result<()> {
    let mut written = Ok(());
    for b in blocks {
        if written.is_ok() {
            written = file.write_all(&b);
        }
        sshwire_sftp::buffers::give(b.into_parts().0);
    }
    written
}

/// Bytes of a file [`ReadAhead`] reads in one trip to the blocking pool.
///
/// Each trip costs two thread hand-offs (wake a pool thread, wake the runtime back); a put of
/// 1 GiB in 256 KiB blocks made 4,096 of them, and with them five `futex` calls, two
/// `epoll_wait`s and an `eventfd` write per block. Eight blocks a trip leave one eighth.
const READ_BATCH: usize = 2 * 1024 * 1024;

/// Reads a file from an offset in blocks, the next batch of blocks always under way.
pub(crate) struct ReadAhead {
    file: Arc<File>,
    block: usize,
    /// Blocks read in one trip to the blocking pool.
    batch: usize,
    room: Room,
    /// Where the next batch starts.
    offset: u64,
    /// Blocks read and not yet taken, in order.
    ready: VecDeque<Block>,
    next: Option<JoinHandle<io::Result<Vec<Block>>>>,
}

impl ReadAhead {
    /// Starts reading `file` from `offset` in blocks of `block` bytes, each with `room`
    /// around it (see [`SftpClient::write_room`](crate::sftp_client::SftpClient::write_room)).
    pub(crate) fn new(file: File, offset: u64, block: usize, room: Room) -> Self {
        let block = block.max(1);
        ReadAhead::with_batch(file, offset, block, room, READ_BATCH / block)
    }

    /// As [`ReadAhead::new`], reading `batch` blocks a trip.
    fn with_batch(file: File, offset: u64, block: usize, room: Room, batch: usize) -> Self {
        let mut r = ReadAhead {
            file: Arc::new(file),
            block: block.max(1),
            batch: batch.max(1),
            room,
            offset,
            ready: VecDeque::new(),
            next: None,
        };
        r.next = Some(r.start());
        r
    }

    /// The next block: full length but at the end of the file, empty once the file is done.
    pub(crate) async fn next(&mut self) -> io::Result<Block> {
        if self.ready.is_empty() {
            let Some(h) = self.next.take() else {
                return Ok(Block::new());
            };
            let blocks = joined(h.await)?;
            // A batch cut short (by a short block, or with no block at all) ends at the end
            // of the file.
            let whole = blocks.len() == self.batch && blocks.iter().all(|b| b.len() == self.block);
            self.ready = blocks.into();
            if whole {
                self.next = Some(self.start());
            }
        }
        Ok(self.ready.pop_front().unwrap_or_default())
    }

    /// Starts reading the batch at `self.offset`, and moves the offset past it.
    fn start(&mut self) -> JoinHandle<io::Result<Vec<Block>>> {
        let (file, block, batch, room, offset) = (
            self.file.clone(),
            self.block,
            self.batch,
            self.room,
            self.offset,
        );
        let span = u64::try_from(block.saturating_mul(batch)).unwrap_or(u64::MAX);
        self.offset = offset.saturating_add(span);
        tokio::task::spawn_blocking(move || read_batch(&file, offset, block, batch, room))
    }
}

/// Reads up to `batch` blocks of `block` bytes from `offset`, each after `room.front` bytes
/// of room; the last is short (and an empty one left out) where the file ends.
fn read_batch(
    file: &File,
    mut offset: u64,
    block: usize,
    batch: usize,
    room: Room,
) -> io::Result<Vec<Block>> {
    let mut blocks = Vec::with_capacity(batch);
    for _ in 0..batch {
        let mut data = Block::with_room(room, block)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "block too large"))?;
        let front = data.front();
        pread_into(file, offset, data.buffer_mut(), front, block)?;
        let n = data.len();
        if n > 0 {
            blocks.push(data);
        }
        if n < block {
            break;
        }
        offset = offset.saturating_add(n as u64);
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[tokio::test]
    async fn blocks_come_back_in_order_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = pattern(10 * 1000 + 17);
        std::fs::write(&path, &data).unwrap();
        let mut r = ReadAhead::new(File::open(&path).unwrap(), 0, 1000, Room::default());
        let mut got = Vec::new();
        let mut lens = Vec::new();
        loop {
            let b = r.next().await.unwrap();
            if b.is_empty() {
                break;
            }
            lens.push(b.len());
            got.extend_from_slice(&b);
        }
        assert_eq!(got, data);
        assert_eq!(lens.len(), 11);
        assert!(lens[..10].iter().all(|&l| l == 1000));
        assert_eq!(lens[10], 17);
        // Once done, it stays done.
        assert!(r.next().await.unwrap().is_empty());
    }

    /// Blocks read with room keep it in front and the capacity behind, and the reads stop
    /// at each block's end although the capacity goes further.
    #[tokio::test]
    async fn blocks_read_with_room_hold_just_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = pattern(4 * 1000 + 5);
        std::fs::write(&path, &data).unwrap();
        let room = Room {
            front: 30,
            back: 83,
        };
        let mut r = ReadAhead::new(File::open(&path).unwrap(), 0, 1000, room);
        let mut got = Vec::new();
        loop {
            let mut b = r.next().await.unwrap();
            if b.is_empty() {
                break;
            }
            assert_eq!(b.front(), 30);
            assert!(b.len() == 1000 || b.len() == 5, "{}", b.len());
            assert!(b.buffer_mut().capacity() >= 30 + 1000 + 83);
            got.extend_from_slice(&b);
        }
        assert_eq!(got, data);
    }

    /// Across batches, from an offset, in any batch size: the blocks are the file's from
    /// there, in order, each full but the last.
    #[tokio::test]
    async fn batches_follow_each_other_from_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = pattern(10 * 1000 + 17);
        std::fs::write(&path, &data).unwrap();
        for batch in [1, 2, 3, 11, 12, 100] {
            for offset in [0, 1, 999, 3000, 10_016, 10_017, 20_000] {
                let file = File::open(&path).unwrap();
                let mut r = ReadAhead::with_batch(file, offset, 1000, Room::default(), batch);
                let mut got = Vec::new();
                loop {
                    let b = r.next().await.unwrap();
                    if b.is_empty() {
                        break;
                    }
                    let rest = data.len() - (offset as usize + got.len());
                    assert_eq!(b.len(), rest.min(1000), "batch {batch}, offset {offset}");
                    got.extend_from_slice(&b);
                }
                let from = (offset as usize).min(data.len());
                assert_eq!(got, &data[from..], "batch {batch}, offset {offset}");
                assert!(r.next().await.unwrap().is_empty());
            }
        }
    }

    #[tokio::test]
    async fn a_file_of_whole_batches_ends_with_an_empty_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, pattern(6000)).unwrap();
        let file = File::open(&path).unwrap();
        let mut r = ReadAhead::with_batch(file, 0, 1000, Room::default(), 3);
        for _ in 0..6 {
            assert_eq!(r.next().await.unwrap().len(), 1000);
        }
        assert!(r.next().await.unwrap().is_empty());
        assert!(r.next().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_file_of_whole_blocks_ends_with_an_empty_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, pattern(3000)).unwrap();
        let mut r = ReadAhead::new(File::open(&path).unwrap(), 0, 1000, Room::default());
        for _ in 0..3 {
            assert_eq!(r.next().await.unwrap().len(), 1000);
        }
        assert!(r.next().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn writes_land_in_order_after_the_start() {
        use std::io::Seek;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"keep-").unwrap();
        let mut file = File::options().write(true).open(&path).unwrap();
        file.seek(io::SeekFrom::Start(5)).unwrap();
        let mut w = OrderedWriter::new(file);
        let data = pattern(5000);
        for chunk in data.chunks(700) {
            w.write(chunk.to_vec()).await.unwrap();
        }
        w.finish().await.unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(&on_disk[..5], b"keep-");
        assert_eq!(&on_disk[5..], &data[..]);
    }

    /// Across trips of any size, the blocks land whole and in order, and nothing is written
    /// before a trip starts.
    #[tokio::test]
    async fn batches_of_writes_land_in_order() {
        let data = pattern(20 * 1000 + 17);
        for batch in [1, 999, 1000, 2500, 7000, 1 << 30] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            let mut w = OrderedWriter::with_batch(File::create(&path).unwrap(), batch);
            let mut given = 0;
            for chunk in data.chunks(1000) {
                w.write(chunk.to_vec()).await.unwrap();
                given += chunk.len();
                // Everything on disk is a prefix of what was given (a trip may be under
                // way while this reads).
                let on_disk = std::fs::read(&path).unwrap();
                assert!(on_disk.len() <= given, "batch {batch}");
                assert_eq!(on_disk, data[..on_disk.len()], "batch {batch}");
                if batch > data.len() {
                    assert!(on_disk.is_empty(), "batch {batch}: written before a trip");
                }
            }
            w.finish().await.unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "batch {batch}");
        }
    }

    /// After a failed write, every later write and `finish` fail too, so no block can land
    /// after a gap.
    #[tokio::test]
    async fn after_a_failed_write_nothing_more_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let mut w = OrderedWriter::with_batch(File::open(&path).unwrap(), 1);
        w.write(vec![1, 2, 3]).await.unwrap();
        assert!(w.write(vec![4, 5, 6]).await.is_err());
        assert!(w.write(vec![7, 8, 9]).await.is_err());
        assert!(w.finish().await.is_err());
    }

    #[tokio::test]
    async fn a_failed_write_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        // Opened read-only: the write fails, and the failure comes out of `finish`.
        let mut w = OrderedWriter::new(File::open(&path).unwrap());
        w.write(vec![1, 2, 3]).await.unwrap();
        assert!(w.finish().await.is_err());
    }
}
