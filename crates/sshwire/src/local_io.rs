//! Local file I/O for whole-file transfers: blocks on tokio's blocking pool, strictly in order,
//! one operation running ahead of the protocol.
//!
//! `tokio::fs::File` copies every write into a buffer of its own, and zero-filled read buffers
//! cost a pass over memory too; here the blocks the protocol produces or consumes are the ones
//! the system calls use, and a block read from the disk is never initialised first.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::Arc;

use sshwire_sftp::{Block, Room};

use tokio::task::JoinHandle;

fn joined<T>(r: Result<io::Result<T>, tokio::task::JoinError>) -> io::Result<T> {
    r.map_err(|e| io::Error::other(e.to_string()))?
}

/// Writes blocks to a file at its current position, one after another.
///
/// Each [`OrderedWriter::write`] waits for the block before it and starts its own, so one
/// write is under way while the caller goes on, and the file only ever grows by whole blocks
/// in order: what is on disk is always a prefix of what was written.
pub(crate) struct OrderedWriter {
    file: Arc<File>,
    pending: Option<JoinHandle<io::Result<()>>>,
}

impl OrderedWriter {
    pub(crate) fn new(file: File) -> Self {
        OrderedWriter {
            file: Arc::new(file),
            pending: None,
        }
    }

    /// Starts writing `data` after everything written before.
    pub(crate) async fn write(&mut self, data: impl Into<Block>) -> io::Result<()> {
        self.finish().await?;
        let (file, data) = (self.file.clone(), data.into());
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let written = (&*file).write_all(&data);
            sshwire_sftp::buffers::give(data.into_parts().0);
            written
        }));
        Ok(())
    }

    /// Waits for the write under way, and reports how it went.
    pub(crate) async fn finish(&mut self) -> io::Result<()> {
        match self.pending.take() {
            Some(h) => joined(h.await),
            None => Ok(()),
        }
    }
}

/// Reads a file from its current position in blocks, the next block always under way.
pub(crate) struct ReadAhead {
    file: Arc<File>,
    block: usize,
    room: Room,
    next: Option<JoinHandle<io::Result<Block>>>,
}

impl ReadAhead {
    /// Starts reading `file` in blocks of `block` bytes, each with `room` around it (see
    /// [`SftpClient::write_room`](crate::sftp_client::SftpClient::write_room)).
    pub(crate) fn new(file: File, block: usize, room: Room) -> Self {
        let mut r = ReadAhead {
            file: Arc::new(file),
            block: block.max(1),
            room,
            next: None,
        };
        r.next = Some(r.start());
        r
    }

    /// The next block: full length but at the end of the file, empty once the file is done.
    pub(crate) async fn next(&mut self) -> io::Result<Block> {
        let Some(h) = self.next.take() else {
            return Ok(Block::new());
        };
        let data = joined(h.await)?;
        if data.len() == self.block {
            self.next = Some(self.start());
        }
        Ok(data)
    }

    fn start(&self) -> JoinHandle<io::Result<Block>> {
        let (file, block, room) = (self.file.clone(), self.block, self.room);
        tokio::task::spawn_blocking(move || read_block(&file, block, room))
    }
}

/// Reads `block` bytes after `room.front` bytes of room, fewer only at the end of the file.
fn read_block(mut file: &File, block: usize, room: Room) -> io::Result<Block> {
    let mut data = Block::with_room(room, block)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "block too large"))?;
    // Into the spare capacity, uninitialised; `take` stops the reads at `block` bytes (the
    // capacity reaches `room.back` further), so the file's position moves by the block only.
    let limit = u64::try_from(block).unwrap_or(u64::MAX);
    io::Read::by_ref(&mut file)
        .take(limit)
        .read_to_end(data.buffer_mut())?;
    Ok(data)
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
        let mut r = ReadAhead::new(File::open(&path).unwrap(), 1000, Room::default());
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
        let mut r = ReadAhead::new(File::open(&path).unwrap(), 1000, room);
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

    #[tokio::test]
    async fn a_file_of_whole_blocks_ends_with_an_empty_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, pattern(3000)).unwrap();
        let mut r = ReadAhead::new(File::open(&path).unwrap(), 1000, Room::default());
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
