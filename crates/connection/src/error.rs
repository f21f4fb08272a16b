//! The connection layer's error type and its mappings to `SSH_MSG_DISCONNECT` reasons.

use core::fmt;

use sshwire_transport::{DisconnectReason, MessageNumber};

use crate::ChannelId;

/// Why a call failed, and who is to blame.
///
/// Errors the peer causes ([`Error::InvalidMessage`], [`Error::PeerMisbehaved`]) are fatal and
/// sticky: the engine stops, and every later call returns the same error. The endpoint sends
/// the `SSH_MSG_DISCONNECT` that [`Error::disconnect`] names and closes the connection.
///
/// Errors the caller causes ([`Error::UnknownChannel`], [`Error::ChannelClosed`],
/// [`Error::TooManyChannels`], [`Error::OutputFull`], [`Error::ApiMisuse`]) change nothing:
/// the engine checks before it mutates, so the connection carries on. Some of them are races
/// rather than bugs (the peer closed a channel while the application was writing to it), which
/// is why they are not fatal here, unlike in the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A payload could not be decoded.
    InvalidMessage {
        /// The message's number.
        number: MessageNumber,
        /// What was wrong with it.
        why: sshwire_wire::Error,
    },
    /// A message decoded but is not allowed now (data beyond the window, a reply nobody
    /// asked for, data on a closed channel, ...).
    PeerMisbehaved {
        /// The rule that was broken.
        why: &'static str,
        /// The channel it happened on (our number), if any.
        channel: Option<u32>,
    },
    /// The application named a channel that does not exist (or was released).
    UnknownChannel(ChannelId),
    /// The channel is in a state that does not allow the call (not yet open, EOF or CLOSE
    /// already sent, or closed by the peer).
    ChannelClosed(ChannelId),
    /// Opening another channel would exceed [`crate::Config::max_channels`].
    TooManyChannels,
    /// The outgoing queue is full: drain [`crate::Connection::poll_transmit`], then hand the
    /// same payload in again.
    OutputFull,
    /// The caller used the API in a way it forbids; never the peer's fault.
    ApiMisuse(&'static str),
    /// A message number the connection protocol does not define: 101 to 127 are unassigned,
    /// 128 to 191 belong to client protocols and 192 to 255 to local extensions (RFC 4250
    /// §4.1.1). Not fatal: answer with `SSH_MSG_UNIMPLEMENTED` (the transport's
    /// `Transport::reject_message`) and go on.
    Unrecognized(MessageNumber),
}

impl Error {
    /// Whether the error ends the connection (the peer's fault) rather than one call.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::InvalidMessage { .. } | Error::PeerMisbehaved { .. }
        )
    }

    /// The reason code and description of the `SSH_MSG_DISCONNECT` a fatal error calls for.
    ///
    /// `None` for the errors that are not fatal.
    pub fn disconnect(&self) -> Option<(DisconnectReason, String)> {
        if self.is_fatal() {
            Some((DisconnectReason::PROTOCOL_ERROR, self.to_string()))
        } else {
            None
        }
    }

    /// A fatal error on channel `channel`.
    pub(crate) fn peer(why: &'static str, channel: u32) -> Self {
        Error::PeerMisbehaved {
            why,
            channel: Some(channel),
        }
    }

    /// A fatal error that concerns no channel.
    pub(crate) fn peer_global(why: &'static str) -> Self {
        Error::PeerMisbehaved { why, channel: None }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidMessage { number, why } => write!(f, "malformed {number}: {why}"),
            Error::PeerMisbehaved {
                why,
                channel: Some(c),
            } => write!(f, "protocol violation on channel {c}: {why}"),
            Error::PeerMisbehaved { why, channel: None } => {
                write!(f, "protocol violation: {why}")
            }
            Error::UnknownChannel(id) => write!(f, "no channel {id}"),
            Error::ChannelClosed(id) => write!(f, "channel {id} does not allow this now"),
            Error::TooManyChannels => f.write_str("too many channels"),
            Error::OutputFull => f.write_str("outgoing queue full; drain poll_transmit"),
            Error::ApiMisuse(why) => write!(f, "API misuse: {why}"),
            Error::Unrecognized(number) => write!(f, "unrecognized message number {}", number.0),
        }
    }
}

impl std::error::Error for Error {}
