//! File data in a buffer that may keep room in front of it: what `READ` replies and `WRITE`
//! requests carry.
//!
//! A sender that reads a block of a file into `buf[front..]`, with `front` bytes left free,
//! lets the layers below write their headers into that room (the `DATA` or `WRITE` header,
//! then an SSH channel's and packet's) and send the buffer itself as the packet, so the block
//! is never copied between the file and the cipher. [`Room`] says how much room those layers
//! want, in front and behind (where a packet's padding and MAC go). A receiver can do the
//! same the other way: the data of a packet opened in a buffer of its own is a block of that
//! buffer, after the packet's headers. A block without room is just its bytes, and whoever
//! sends it copies it as before.

use core::fmt;
use core::ops::Deref;

/// Room a sender wants around a block's data: `front` bytes before it for headers, and spare
/// capacity of `back` bytes after it for what follows the data (padding, a MAC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Room {
    /// Bytes before the data.
    pub front: usize,
    /// Spare capacity after the data.
    pub back: usize,
}

/// A block of file data: `buf[start..]`, after `start` bytes of room.
///
/// Derefs to the data. Equality, hashing and `Debug` look at the data only.
#[derive(Clone, Default)]
pub struct Block {
    buf: Vec<u8>,
    start: usize,
}

impl Block {
    /// An empty block with no room.
    pub const fn new() -> Self {
        Block {
            buf: Vec::new(),
            start: 0,
        }
    }

    /// An empty block with `room.front` bytes of room in front and capacity for `len` bytes
    /// of data and `room.back` more: a spare buffer of exactly that size if one is kept (see
    /// [`crate::buffers`]), else a new one. `None` when the sizes overflow.
    pub fn with_room(room: Room, len: usize) -> Option<Self> {
        let capacity = room.front.checked_add(len)?.checked_add(room.back)?;
        let mut buf = crate::buffers::take(capacity);
        buf.resize(room.front, 0);
        Some(Block {
            buf,
            start: room.front,
        })
    }

    /// The block of `buf[start..]`; a `start` past the end leaves it empty.
    pub fn from_parts(buf: Vec<u8>, start: usize) -> Self {
        let start = start.min(buf.len());
        Block { buf, start }
    }

    /// The buffer and where the data starts in it.
    pub fn into_parts(self) -> (Vec<u8>, usize) {
        (self.buf, self.start)
    }

    /// The bytes of room in front of the data.
    pub fn front(&self) -> usize {
        self.start
    }

    /// The data as a vector of its own: the buffer itself when there is no room in front,
    /// else a copy (and the buffer goes back to [`crate::buffers`]).
    pub fn into_vec(self) -> Vec<u8> {
        if self.start == 0 {
            return self.buf;
        }
        let data = self.buf.get(self.start..).unwrap_or_default().to_vec();
        crate::buffers::give(self.buf);
        data
    }

    /// The whole buffer, room included, to read more data into its end (as by
    /// `pread` into spare capacity). Only its end may change: shortening it below
    /// [`Block::front`] leaves the block empty.
    pub fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Keeps the first `len` bytes of the data.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(self.start.saturating_add(len));
    }

    /// Appends `data`.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }
}

impl Deref for Block {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}

impl AsRef<[u8]> for Block {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for Block {
    fn from(buf: Vec<u8>) -> Self {
        Block { buf, start: 0 }
    }
}

impl From<&[u8]> for Block {
    fn from(data: &[u8]) -> Self {
        Block::from(data.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Block {
    fn from(data: &[u8; N]) -> Self {
        Block::from(data.to_vec())
    }
}

impl From<Block> for Vec<u8> {
    fn from(block: Block) -> Self {
        block.into_vec()
    }
}

impl PartialEq for Block {
    fn eq(&self, other: &Block) -> bool {
        **self == **other
    }
}

impl Eq for Block {}

impl core::hash::Hash for Block {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl PartialEq<[u8]> for Block {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<Vec<u8>> for Block {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

impl PartialEq<Block> for Vec<u8> {
    fn eq(&self, other: &Block) -> bool {
        **self == **other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Block {
    fn eq(&self, other: &[u8; N]) -> bool {
        **self == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Block {
    fn eq(&self, other: &&[u8; N]) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Data read into a block with room sits after the room, with the capacity asked for
    /// behind it; the block compares and prints as its data alone.
    #[test]
    fn a_block_is_its_data_after_the_room() {
        let room = Room {
            front: 27,
            back: 128,
        };
        let mut b = Block::with_room(room, 1000).unwrap();
        assert_eq!((b.front(), b.len()), (27, 0));
        b.extend_from_slice(b"hello");
        assert_eq!(b, b"hello");
        assert_eq!(format!("{b:?}"), format!("{:?}", b"hello"));
        assert!(b.buffer_mut().capacity() >= 27 + 1000 + 128);
        let (buf, start) = b.clone().into_parts();
        assert_eq!((buf.len(), start), (32, 27));
        assert_eq!(b.into_vec(), b"hello".to_vec());
    }

    #[test]
    fn truncation_and_odd_parts_stay_inside_the_buffer() {
        let mut b = Block::from_parts(b"..abcdef".to_vec(), 2);
        b.truncate(3);
        assert_eq!(b, b"abc");
        b.truncate(10);
        assert_eq!(b, b"abc");
        let past = Block::from_parts(b"xy".to_vec(), 9);
        assert!(past.is_empty());
        assert_eq!(
            Block::with_room(
                Room {
                    front: usize::MAX,
                    back: 1
                },
                1
            ),
            None
        );
        let plain = Block::from(vec![1, 2, 3]);
        assert_eq!((plain.front(), plain.into_vec()), (0, vec![1, 2, 3]));
    }
}
