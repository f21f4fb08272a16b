//! One channel's state: its phase, its windows, its receive buffers and its request queues.

use std::collections::VecDeque;

use crate::recv_buffer::RecvBuffer;

use crate::window::{RecvWindow, SendWindow};

/// Our number for a channel (RFC 4254 §5.1 "sender channel" in our messages).
///
/// Allocated locally, lowest free first, and reused only after the channel is fully closed
/// (both CLOSE messages exchanged) and the application has been told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(pub u32);

impl core::fmt::Display for ChannelId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Names a request so that its reply can be matched to it.
///
/// Unique within a connection. The wire carries no such number (RFC 4254 §4: "the reply
/// messages do not include request type identifiers"); the engine matches replies by order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Which of a channel's two incoming byte streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// `SSH_MSG_CHANNEL_DATA`: a session's stdout (to a client) or stdin (to a server).
    Data,
    /// `SSH_MSG_CHANNEL_EXTENDED_DATA` with `SSH_EXTENDED_DATA_STDERR`.
    Stderr,
}

/// Where a channel is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// We sent CHANNEL_OPEN and wait for the peer's answer.
    Opening,
    /// The peer sent CHANNEL_OPEN and the application has not answered yet. The peer does
    /// not know our number, so no message may name it.
    Offered,
    /// Open both ways (possibly half-closed or closing: see the flags).
    Open,
    /// The peer refused our open; the number is freed once the application is told.
    Failed,
}

/// A reply we owe the peer for one of its requests (RFC 4254 §4, §5.4: in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwedReply {
    /// The request.
    pub(crate) id: RequestId,
    /// The answer, once the application (or the engine) has given it.
    pub(crate) answer: Option<bool>,
}

/// Everything the engine knows about one channel.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) phase: Phase,
    /// The peer's number for the channel (valid from Offered or confirmation on).
    pub(crate) remote_id: u32,
    pub(crate) recv: RecvWindow,
    pub(crate) send: SendWindow,
    /// Received data the application has not consumed.
    pub(crate) data: RecvBuffer,
    /// Received stderr the application has not consumed.
    pub(crate) stderr: RecvBuffer,
    pub(crate) eof_sent: bool,
    pub(crate) eof_received: bool,
    pub(crate) close_sent: bool,
    pub(crate) close_received: bool,
    /// The Closed (or OpenFailed) event has been taken by the application.
    pub(crate) end_reported: bool,
    /// A Readable event is waiting in the queue.
    pub(crate) readable_queued: bool,
    /// A send found the window empty; the next WINDOW_ADJUST reports Writable.
    pub(crate) write_blocked: bool,
    /// Our requests with want-reply, oldest first.
    pub(crate) awaiting_replies: VecDeque<RequestId>,
    /// Replies we owe, oldest first.
    pub(crate) owed_replies: VecDeque<OwedReply>,
}

impl Channel {
    /// A channel in `phase` with receive window `recv`.
    pub(crate) fn new(phase: Phase, remote_id: u32, recv: RecvWindow, send: SendWindow) -> Self {
        Channel {
            phase,
            remote_id,
            recv,
            send,
            data: RecvBuffer::default(),
            stderr: RecvBuffer::default(),
            eof_sent: false,
            eof_received: false,
            close_sent: false,
            close_received: false,
            end_reported: false,
            readable_queued: false,
            write_blocked: false,
            awaiting_replies: VecDeque::new(),
            owed_replies: VecDeque::new(),
        }
    }

    /// The buffer of one stream.
    pub(crate) fn buffer(&self, stream: Stream) -> &RecvBuffer {
        match stream {
            Stream::Data => &self.data,
            Stream::Stderr => &self.stderr,
        }
    }

    /// The buffer of one stream, mutably.
    pub(crate) fn buffer_mut(&mut self, stream: Stream) -> &mut RecvBuffer {
        match stream {
            Stream::Data => &mut self.data,
            Stream::Stderr => &mut self.stderr,
        }
    }

    /// Bytes held for the application, both streams.
    pub(crate) fn buffered(&self) -> usize {
        self.data.len() + self.stderr.len()
    }

    /// Both CLOSE messages have been exchanged (RFC 4254 §5.3: "The channel is considered
    /// closed for a party when it has both sent and received SSH_MSG_CHANNEL_CLOSE").
    pub(crate) fn fully_closed(&self) -> bool {
        self.close_sent && self.close_received
    }

    /// Whether the number can be reused now: the channel is over, the application knows, and
    /// nothing it may still read is left.
    pub(crate) fn releasable(&self) -> bool {
        self.end_reported
            && match self.phase {
                Phase::Failed => true,
                Phase::Open => self.fully_closed() && self.buffered() == 0,
                Phase::Opening | Phase::Offered => false,
            }
    }

    /// We may send data and requests: open, and no CLOSE sent yet.
    pub(crate) fn can_send(&self) -> bool {
        self.phase == Phase::Open && !self.close_sent
    }
}
