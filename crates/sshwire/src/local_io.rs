//! Local file I/O for whole-file transfers: blocks on tokio's blocking pool, strictly in order,
//! one operation running ahead of the protocol.
//!
//! `tokio::fs::File` copies every write into a buffer of its own, and zero-filled read buffers
//! cost a pass over memory too; here the blocks the protocol produces or consumes are the ones
//! the system calls use, and a block read from the disk is never initialised first.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;

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
    pub(crate) async fn write(&mut self, data: Vec<u8>) -> io::Result<()> {
        self.finish().await?;
        let file = self.file.clone();
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let written = (&*file).write_all(&data);
            sshwire_sftp::buffers::give(data);
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
    next: Option<JoinHandle<io::Result<Vec<u8>>>>,
}

impl ReadAhead {
    /// Starts reading `file` in blocks of `block` bytes.
    pub(crate) fn new(file: File, block: usize) -> Self {
        let mut r = ReadAhead {
            file: Arc::new(file),
            block: block.max(1),
            next: None,
        };
        r.next = Some(r.start());
        r
    }

    /// The next block: full length but at the end of the file, empty once the file is done.
    pub(crate) async fn next(&mut self) -> io::Result<Vec<u8>> {
        let Some(h) = self.next.take() else {
            return Ok(Vec::new());
        };
        let data = joined(h.await)?;
        if data.len() == self.block {
            self.next = Some(self.start());
        }
        Ok(data)
    }

    fn start(&self) -> JoinHandle<io::Result<Vec<u8>>> {
        let (file, block) = (self.file.clone(), self.block);
        tokio::task::spawn_blocking(move || read_block(&file, block))
    }
}

/// Reads `block` bytes, fewer only at the end of the file.
fn read_block(file: &File, block: usize) -> io::Result<Vec<u8>> {
    // `Vec::with_capacity` gives exactly the capacity asked for, so the reads into the spare
    // capacity never take more than `block` bytes from the file.
    let mut buf = sshwire_sftp::buffers::take(block);
    while buf.len() < buf.capacity() {
        match rustix::io::read(file, rustix::buffer::spare_capacity(&mut buf)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(buf)
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
        let mut r = ReadAhead::new(File::open(&path).unwrap(), 1000);
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

    #[tokio::test]
    async fn a_file_of_whole_blocks_ends_with_an_empty_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, pattern(3000)).unwrap();
        let mut r = ReadAhead::new(File::open(&path).unwrap(), 1000);
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
