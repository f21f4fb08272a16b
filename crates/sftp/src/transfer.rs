//! Pipelined transfers: which READs and WRITEs to have in flight, and putting the replies
//! back in order.
//!
//! A download asks for many blocks at once, but the local file is only ever written in order:
//! blocks that arrive early wait in memory (at most the requests in flight), so the local file
//! is a correct prefix of the remote one at every moment, and a download interrupted for any
//! reason can be resumed from the local file's length. Short reads are asked again for the
//! rest, and the end of the file is where a READ first answered EOF, so a file that is not
//! the size its attributes said is still copied exactly.
//!
//! The number of requests in flight starts small and doubles with every full block that comes
//! back, up to the configured maximum (a slow start, so that a small file costs few requests
//! and a slow server is not flooded before it has answered once).

use crate::Block;
use std::collections::{BTreeMap, VecDeque};

/// Plans the READ requests of one download and hands back the data in order.
#[derive(Debug)]
pub struct Download {
    block: u32,
    max_in_flight: usize,
    window: usize,
    /// The next offset never asked for.
    next_offset: u64,
    /// Ranges to ask for again (the rest of short reads), oldest first.
    again: VecDeque<(u64, u32)>,
    /// Requests in flight: offset to length.
    in_flight: BTreeMap<u64, u32>,
    /// Data that arrived ahead of `written`: offset to bytes.
    early: BTreeMap<u64, Block>,
    /// Everything below this offset has been handed out by `poll_write`.
    written: u64,
    /// Where the file ends, once a READ has answered EOF.
    end: Option<u64>,
}

/// A reply the download did not expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnexpectedReply(pub &'static str);

impl core::fmt::Display for UnexpectedReply {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for UnexpectedReply {}

impl Download {
    /// A download from `start` (0, or the local length when resuming) in blocks of `block`
    /// bytes with at most `max_in_flight` READs outstanding.
    pub fn new(start: u64, block: u32, max_in_flight: usize) -> Self {
        Download {
            block: block.max(1),
            max_in_flight: max_in_flight.max(1),
            window: 2.min(max_in_flight.max(1)),
            next_offset: start,
            again: VecDeque::new(),
            in_flight: BTreeMap::new(),
            early: BTreeMap::new(),
            written: start,
            end: None,
        }
    }

    /// The next READ to send, if one may go now: `(offset, length)`.
    pub fn next_read(&mut self) -> Option<(u64, u32)> {
        if self.in_flight.len() >= self.window {
            return None;
        }
        if let Some((offset, len)) = self.again.pop_front() {
            self.in_flight.insert(offset, len);
            return Some((offset, len));
        }
        if self.end.is_some_and(|end| self.next_offset >= end) {
            return None;
        }
        let offset = self.next_offset;
        self.next_offset = offset.saturating_add(u64::from(self.block));
        self.in_flight.insert(offset, self.block);
        Some((offset, self.block))
    }

    /// The READ at `offset` returned `data`.
    ///
    /// Fewer bytes than asked for is a short read: the rest is asked again. More is the
    /// server's error.
    pub fn on_data(&mut self, offset: u64, data: impl Into<Block>) -> Result<(), UnexpectedReply> {
        let data = data.into();
        let asked = self
            .in_flight
            .remove(&offset)
            .ok_or(UnexpectedReply("DATA for a READ that is not in flight"))?;
        let got = u32::try_from(data.len())
            .ok()
            .filter(|n| *n <= asked)
            .ok_or(UnexpectedReply("DATA longer than the READ asked for"))?;
        if got == 0 {
            // filexfer-02 §6.4: a READ at or past the end answers EOF, not empty DATA; treat
            // it as EOF all the same.
            return self.on_eof(offset);
        }
        // The server picks `got`; offsets near the top of the range must not overflow.
        let after = offset.saturating_add(u64::from(got));
        if got < asked {
            self.again.push_back((after, asked - got));
        } else {
            self.window = (self.window * 2).min(self.max_in_flight);
        }
        if self.end.is_some_and(|end| after > end) {
            return Err(UnexpectedReply("DATA past the end the server reported"));
        }
        self.early.insert(offset, data);
        Ok(())
    }

    /// The READ at `offset` answered EOF: the file ends there (or earlier).
    pub fn on_eof(&mut self, offset: u64) -> Result<(), UnexpectedReply> {
        self.in_flight
            .remove(&offset)
            .ok_or(UnexpectedReply("EOF for a READ that is not in flight"))?;
        if offset < self.written || self.early.keys().any(|&o| o >= offset) {
            return Err(UnexpectedReply("EOF before data the server already sent"));
        }
        self.end = Some(self.end.map_or(offset, |e| e.min(offset)));
        // Nothing past the end needs asking again.
        self.again.retain(|&(o, _)| o < offset);
        Ok(())
    }

    /// The next data to write to the local file, always at [`Download::written`].
    pub fn poll_write(&mut self) -> Option<(u64, Block)> {
        let data = self.early.remove(&self.written)?;
        let offset = self.written;
        self.written = self.written.saturating_add(data.len() as u64);
        Some((offset, data))
    }

    /// Bytes handed out in order: the length of the correct local prefix.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Whether the whole file has been handed out.
    pub fn is_done(&self) -> bool {
        self.end.is_some_and(|end| self.written >= end)
            && self.in_flight.is_empty()
            && self.early.is_empty()
            && self.again.is_empty()
    }

    /// READs in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

/// Tracks the WRITEs of one upload: what is acknowledged in order.
///
/// Blocks are sent in order and acknowledged in any order; [`Upload::acked`] is the length of
/// the prefix whose every block the server has confirmed. After an interruption, the remote
/// file is a correct prefix up to at least that point only if the server applies the writes of
/// one handle in the order they were sent (OpenSSH's server and sshwire's do).
#[derive(Debug, Default)]
pub struct Upload {
    /// Sent and not acknowledged: offset to length.
    in_flight: BTreeMap<u64, u32>,
    /// Acknowledged ahead of `acked`.
    early: BTreeMap<u64, u32>,
    acked: u64,
    next_offset: u64,
}

impl Upload {
    /// An upload starting at `start` (0, or the remote length when resuming).
    pub fn new(start: u64) -> Self {
        Upload {
            acked: start,
            next_offset: start,
            ..Upload::default()
        }
    }

    /// Records a WRITE of `len` bytes at the next offset; returns that offset.
    pub fn sent(&mut self, len: u32) -> u64 {
        let offset = self.next_offset;
        self.in_flight.insert(offset, len);
        self.next_offset += u64::from(len);
        offset
    }

    /// The server confirmed the WRITE at `offset`.
    pub fn on_ok(&mut self, offset: u64) -> Result<(), UnexpectedReply> {
        let len = self.in_flight.remove(&offset).ok_or(UnexpectedReply(
            "a WRITE confirmation for nothing in flight",
        ))?;
        self.early.insert(offset, len);
        while let Some(len) = self.early.remove(&self.acked) {
            self.acked += u64::from(len);
        }
        Ok(())
    }

    /// The confirmed prefix.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// The next offset to send from.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// WRITEs in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Serves a download of `file` answering requests in the order `order` picks, with
    /// `short` deciding short reads; returns what was written locally.
    fn run(file: &[u8], block: u32, picks: &[usize], shorts: &[u32]) -> Vec<u8> {
        let mut d = Download::new(0, block, 8);
        let mut pending: Vec<(u64, u32)> = Vec::new();
        let mut local = Vec::new();
        let mut step = 0usize;
        while !d.is_done() {
            while let Some(r) = d.next_read() {
                pending.push(r);
            }
            assert!(!pending.is_empty(), "stalled");
            let i = picks.get(step).copied().unwrap_or(0) % pending.len();
            let (offset, len) = pending.remove(i);
            let short = shorts.get(step).copied().unwrap_or(0);
            step += 1;
            let start = offset as usize;
            if start >= file.len() {
                d.on_eof(offset).unwrap();
            } else {
                let mut n = (len as usize).min(file.len() - start);
                if short > 0 && n > 1 {
                    n = 1 + (short as usize % (n - 1));
                }
                d.on_data(offset, file[start..start + n].to_vec()).unwrap();
            }
            while let Some((o, data)) = d.poll_write() {
                assert_eq!(o as usize, local.len(), "written out of order");
                local.extend_from_slice(&data);
            }
            assert_eq!(d.written() as usize, local.len());
            assert!(file.starts_with(&local), "the local file is not a prefix");
        }
        local
    }

    proptest! {
        #[test]
        fn any_reply_order_and_short_reads_give_the_exact_file(
            len in 0usize..5000,
            block in 1u32..700,
            picks in proptest::collection::vec(any::<usize>(), 0..200),
            shorts in proptest::collection::vec(0u32..4, 0..200),
        ) {
            let file: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            prop_assert_eq!(run(&file, block, &picks, &shorts), file);
        }
    }

    #[test]
    fn slow_start_doubles_up_to_the_maximum() {
        let mut d = Download::new(0, 10, 16);
        let first: Vec<_> = std::iter::from_fn(|| d.next_read()).collect();
        assert_eq!(first.len(), 2);
        d.on_data(0, vec![0; 10]).unwrap();
        let more: Vec<_> = std::iter::from_fn(|| d.next_read()).collect();
        assert_eq!(more.len() + 1, 4);
    }

    #[test]
    fn a_resumed_download_starts_at_the_local_length() {
        let mut d = Download::new(1000, 100, 4);
        assert_eq!(d.next_read(), Some((1000, 100)));
        assert_eq!(d.next_read(), Some((1100, 100)));
        // The remote file is exactly as long as the local one: nothing more to do.
        d.on_eof(1100).unwrap();
        d.on_eof(1000).unwrap();
        assert_eq!(d.next_read(), None);
        assert!(d.is_done());
        assert_eq!(d.written(), 1000);
    }

    #[test]
    fn nonsense_replies_are_errors() {
        let mut d = Download::new(0, 100, 4);
        assert!(d.on_data(0, vec![1]).is_err());
        let (o, _) = d.next_read().unwrap();
        assert!(d.on_data(o, vec![0; 101]).is_err());
        let mut d = Download::new(0, 100, 4);
        let (a, _) = d.next_read().unwrap();
        let (b, _) = d.next_read().unwrap();
        d.on_data(b, vec![0; 100]).unwrap();
        // EOF at 0 while data at 100 came: the server contradicts itself.
        assert!(d.on_eof(a).is_err());
    }

    #[test]
    fn uploads_ack_the_contiguous_prefix() {
        let mut u = Upload::new(0);
        let a = u.sent(10);
        let b = u.sent(10);
        let c = u.sent(5);
        u.on_ok(c).unwrap();
        assert_eq!(u.acked(), 0);
        u.on_ok(a).unwrap();
        assert_eq!(u.acked(), 10);
        u.on_ok(b).unwrap();
        assert_eq!(u.acked(), 25);
        assert!(u.on_ok(b).is_err());
    }
}
