//! What the engine reports to the application.

use crate::channel::{ChannelId, RequestId};
use crate::messages::{ChannelRequestType, ChannelType, GlobalRequest, OpenFailureReason};

/// Something that happened on the connection, for the application to act on.
///
/// The queue of events is bounded without a limit of its own: each channel has at most one
/// of each channel event waiting ([`Event::Readable`], [`Event::Writable`], [`Event::Eof`],
/// [`Event::Closed`], and one open event), requests from the peer are bounded by
/// [`crate::Config::max_pending_requests`], and replies are bounded by the application's own
/// requests (a reply nobody asked for is a protocol error).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer asks to open a channel. Answer with [`crate::Connection::accept_channel`] or
    /// [`crate::Connection::reject_channel`]; until then the channel counts against the limit.
    ChannelOpenRequest {
        /// Our number for the channel.
        channel: ChannelId,
        /// What the peer wants to open.
        channel_type: ChannelType<'static>,
    },
    /// The peer confirmed a channel we opened; it is ready for requests and data.
    ChannelOpened {
        /// The channel.
        channel: ChannelId,
    },
    /// The peer refused a channel we opened. Its number is free again once this event has
    /// been taken.
    ChannelOpenFailed {
        /// The channel.
        channel: ChannelId,
        /// The peer's reason code.
        reason: OpenFailureReason,
        /// The peer's description.
        description: String,
    },
    /// Data or stderr arrived on a channel that had none waiting (or after this event was
    /// last taken). Read it with [`crate::Connection::recv_buf`] and
    /// [`crate::Connection::consume`], or [`crate::Connection::read`].
    Readable {
        /// The channel.
        channel: ChannelId,
    },
    /// The peer's window re-opened after a send found it empty.
    Writable {
        /// The channel.
        channel: ChannelId,
    },
    /// The peer will send no more data on the channel (`SSH_MSG_CHANNEL_EOF`).
    Eof {
        /// The channel.
        channel: ChannelId,
    },
    /// Both sides have sent `SSH_MSG_CHANNEL_CLOSE`. Data still buffered can be read; the
    /// number is reused only once it has been read (or [`crate::Connection::close`] is
    /// called again to discard it).
    Closed {
        /// The channel.
        channel: ChannelId,
    },
    /// The peer sent a channel request.
    ChannelRequest {
        /// The channel.
        channel: ChannelId,
        /// The request.
        request: ChannelRequestType<'static>,
        /// `Some` when the peer wants a reply: give it with [`crate::Connection::reply`].
        reply: Option<RequestId>,
    },
    /// The peer answered one of our channel requests.
    ChannelRequestReply {
        /// The channel.
        channel: ChannelId,
        /// Which request.
        id: RequestId,
        /// `SSH_MSG_CHANNEL_SUCCESS` or `SSH_MSG_CHANNEL_FAILURE`.
        success: bool,
    },
    /// The peer sent a global request.
    GlobalRequest {
        /// The request (its typed data through [`GlobalRequest::typed`]).
        request: GlobalRequest<'static>,
        /// `Some` when the peer wants a reply: give it with
        /// [`crate::Connection::reply_global`].
        reply: Option<RequestId>,
    },
    /// The peer answered one of our global requests.
    GlobalRequestReply {
        /// Which request.
        id: RequestId,
        /// `SSH_MSG_REQUEST_SUCCESS` or `SSH_MSG_REQUEST_FAILURE`.
        success: bool,
        /// The response-specific data of a success.
        data: Vec<u8>,
    },
}
