//! What a channel received and the application has not read: a queue of byte ranges, each
//! in a buffer the engine either copied into or was handed whole.
//!
//! A data message handed over as an owned buffer ([`crate::Connection::handle_message_owned`])
//! stays where the transport opened it: its data is a range of that buffer, queued as it is,
//! and the application's read is the only copy it makes. Data given as a slice is copied,
//! onto the end of the last buffer when that one has room.

use std::collections::VecDeque;
use std::ops::Range;

/// Buffers of consumed chunks kept for reuse.
pub(crate) const MAX_SPARE: usize = 8;

/// One buffer and the part of it still to read.
#[derive(Debug)]
struct Chunk {
    buf: Vec<u8>,
    /// The unread part: `buf[start..]` (what was queued runs to the end of `buf`).
    start: usize,
}

impl Chunk {
    fn unread(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}

/// Received bytes in order, in chunks.
#[derive(Debug, Default)]
pub(crate) struct RecvBuffer {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// Buffers whose bytes were all read, for [`RecvBuffer::take_spare`].
    spare: Vec<Vec<u8>>,
}

impl RecvBuffer {
    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first contiguous run of waiting bytes (empty when none wait).
    pub(crate) fn front(&self) -> &[u8] {
        self.chunks.front().map(Chunk::unread).unwrap_or_default()
    }

    /// Queues a copy of `data`.
    pub(crate) fn push_slice(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        if let Some(last) = self.chunks.back_mut()
            && last.buf.capacity() - last.buf.len() >= data.len()
        {
            last.buf.extend_from_slice(data);
            return;
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(data);
        self.chunks.push_back(Chunk { buf, start: 0 });
    }

    /// Queues `buf[range]` without copying it: what follows the range is cut off, and what
    /// precedes it is skipped. An empty or out-of-bounds range queues nothing.
    pub(crate) fn push_owned(&mut self, mut buf: Vec<u8>, range: Range<usize>) {
        if range.is_empty() || range.end > buf.len() {
            self.keep_spare(buf);
            return;
        }
        buf.truncate(range.end);
        self.len += range.len();
        self.chunks.push_back(Chunk {
            buf,
            start: range.start,
        });
    }

    /// Drops the first `n` bytes waiting (at most all of them); returns how many it dropped.
    pub(crate) fn consume(&mut self, n: usize) -> usize {
        let mut left = n.min(self.len);
        let dropped = left;
        while left > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let here = front.unread().len();
            if left < here {
                front.start += left;
                break;
            }
            left -= here;
            if let Some(done) = self.chunks.pop_front() {
                self.keep_spare(done.buf);
            }
        }
        self.len -= dropped;
        dropped
    }

    /// Copies waiting bytes into `out`, consumes them, and returns how many.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let front = self.front();
            let take = front.len().min(out.len() - n);
            if take == 0 {
                break;
            }
            if let (Some(dst), Some(src)) = (out.get_mut(n..n + take), front.get(..take)) {
                dst.copy_from_slice(src);
            }
            self.consume(take);
            n += take;
        }
        n
    }

    /// Takes the first chunk whole, if at least `min_len` of its bytes are unread: its buffer
    /// and where its unread bytes start in it (they run to the buffer's end). The bytes
    /// count as consumed.
    pub(crate) fn take_front(&mut self, min_len: usize) -> Option<(Vec<u8>, usize)> {
        let unread = self.chunks.front()?.unread().len();
        if unread < min_len.max(1) {
            return None;
        }
        let chunk = self.chunks.pop_front()?;
        self.len -= unread;
        Some((chunk.buf, chunk.start))
    }

    /// A buffer whose bytes have all been read, for the caller to fill again.
    pub(crate) fn take_spare(&mut self) -> Option<Vec<u8>> {
        self.spare.pop()
    }

    fn keep_spare(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < MAX_SPARE && buf.capacity() > 0 {
            buf.clear();
            self.spare.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn owned_ranges_and_copies_come_out_in_order() {
        let mut b = RecvBuffer::default();
        b.push_slice(b"ab");
        b.push_owned(b"HDRcdeTAIL".to_vec(), 3..6);
        b.push_slice(b"f");
        assert_eq!(b.len(), 6);
        let mut out = [0u8; 4];
        assert_eq!(b.read(&mut out), 4);
        assert_eq!(&out, b"abcd");
        let mut out = [0u8; 10];
        assert_eq!(b.read(&mut out), 2);
        assert_eq!(&out[..2], b"ef");
        assert_eq!(b.len(), 0);
        assert_eq!(b.front(), b"");
    }

    #[test]
    fn bad_ranges_queue_nothing() {
        let mut b = RecvBuffer::default();
        b.push_owned(b"abc".to_vec(), 2..9);
        b.push_owned(b"abc".to_vec(), 1..1);
        assert_eq!(b.len(), 0);
        assert_eq!(b.consume(5), 0);
    }

    #[test]
    fn read_buffers_come_back_as_spares() {
        let mut b = RecvBuffer::default();
        b.push_owned(vec![7; 100], 10..100);
        assert!(b.take_spare().is_none());
        assert_eq!(b.consume(90), 90);
        let spare = b.take_spare().unwrap();
        assert!(spare.is_empty() && spare.capacity() >= 100);
    }

    proptest! {
        /// Whatever mix of pushes, reads and consumes, the bytes come out as a plain queue
        /// of bytes would give them.
        #[test]
        fn behaves_as_a_byte_queue(ops in proptest::collection::vec(
            (0u8..4, proptest::collection::vec(any::<u8>(), 0..40), 0usize..50), 0..60)
        ) {
            let mut b = RecvBuffer::default();
            let mut model: VecDeque<u8> = VecDeque::new();
            for (op, bytes, n) in ops {
                match op {
                    0 => {
                        b.push_slice(&bytes);
                        model.extend(&bytes);
                    }
                    1 => {
                        let start = n.min(bytes.len());
                        b.push_owned(bytes.clone(), start..bytes.len());
                        model.extend(&bytes[start..]);
                    }
                    2 => {
                        let mut out = vec![0u8; n];
                        let got = b.read(&mut out);
                        let want: Vec<u8> = model.drain(..n.min(model.len())).collect();
                        prop_assert_eq!(&out[..got], &want[..]);
                    }
                    _ => {
                        let dropped = b.consume(n);
                        prop_assert_eq!(dropped, n.min(model.len()));
                        model.drain(..dropped);
                    }
                }
                prop_assert_eq!(b.len(), model.len());
                let front = b.front();
                prop_assert!(front.len() <= model.len());
                prop_assert!(model.iter().take(front.len()).eq(front.iter()));
                prop_assert_eq!(front.is_empty(), model.is_empty());
            }
        }
    }
}
