//! The transport's error type and its mapping to `SSH_MSG_DISCONNECT` reasons.

use core::fmt;

use crate::cipher::PacketError;
use crate::compress::CompressionError;
use crate::kex::KexError;
use crate::msg::{DisconnectReason, MessageNumber};

/// Why the transport stopped, and who is to blame.
///
/// Errors are sticky: once an engine returns one, every later call returns it again. Each
/// error knows the `SSH_MSG_DISCONNECT` that went out as the engine's last word
/// ([`Error::disconnect`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer's identification line was malformed.
    InvalidIdentification(&'static str),
    /// The peer speaks a protocol version other than 2.0.
    UnsupportedVersion(String),
    /// A packet could not be opened: bad length, padding or MAC.
    Packet(PacketError),
    /// A message could not be decoded.
    InvalidMessage {
        /// The message's number.
        number: MessageNumber,
        /// What was wrong with it.
        why: sshwire_wire::Error,
    },
    /// A message decoded but is not allowed now.
    PeerMisbehaved(&'static str),
    /// A message decoded but is not allowed in this state.
    UnexpectedMessage {
        /// The message's number.
        number: MessageNumber,
        /// The state that refused it.
        state: &'static str,
    },
    /// No algorithm of a category is supported by both sides.
    NoCommonAlgorithm {
        /// The category: "kex", "host key", "cipher", "MAC" or "compression".
        category: &'static str,
        /// Our list.
        ours: String,
        /// The peer's list.
        theirs: String,
    },
    /// The key exchange computation failed, for example on an invalid public value.
    Kex(KexError),
    /// The server's host key or its signature did not verify.
    HostKeyInvalid(String),
    /// The caller refused the server's host key.
    HostKeyRejected,
    /// A compressed payload was corrupt or inflated too far.
    Compression(CompressionError),
    /// The peer sent `SSH_MSG_DISCONNECT`.
    PeerDisconnected {
        /// Its reason code.
        reason: DisconnectReason,
        /// Its description.
        description: String,
    },
    /// We closed the connection with `SSH_MSG_DISCONNECT`.
    LocallyClosed {
        /// The reason we gave.
        reason: DisconnectReason,
        /// The description we gave.
        description: String,
    },
    /// The caller used the API in a way it forbids; never the peer's fault.
    ApiMisuse(&'static str),
}

impl Error {
    /// The reason code and description of the `SSH_MSG_DISCONNECT` this error sends, or `None`
    /// when nothing is sent (the peer already hung up, or we already said goodbye).
    pub fn disconnect(&self) -> Option<(DisconnectReason, String)> {
        let reason = match self {
            Error::UnsupportedVersion(_) => DisconnectReason::PROTOCOL_VERSION_NOT_SUPPORTED,
            Error::InvalidIdentification(_)
            | Error::InvalidMessage { .. }
            | Error::PeerMisbehaved(_)
            | Error::UnexpectedMessage { .. } => DisconnectReason::PROTOCOL_ERROR,
            Error::Packet(e) => DisconnectReason(e.disconnect_reason()),
            Error::NoCommonAlgorithm { .. } | Error::Kex(_) => {
                DisconnectReason::KEY_EXCHANGE_FAILED
            }
            Error::HostKeyInvalid(_) => DisconnectReason::KEY_EXCHANGE_FAILED,
            Error::HostKeyRejected => DisconnectReason::HOST_KEY_NOT_VERIFIABLE,
            Error::Compression(_) => DisconnectReason::COMPRESSION_ERROR,
            Error::ApiMisuse(_) => DisconnectReason::BY_APPLICATION,
            Error::PeerDisconnected { .. } | Error::LocallyClosed { .. } => return None,
        };
        Some((reason, self.to_string()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidIdentification(why) => write!(f, "invalid identification: {why}"),
            Error::UnsupportedVersion(v) => {
                write!(
                    f,
                    "peer speaks SSH protocol version {v}, only 2.0 is supported"
                )
            }
            Error::Packet(e) => write!(f, "bad packet: {e}"),
            Error::InvalidMessage { number, why } => write!(f, "malformed {number}: {why}"),
            Error::PeerMisbehaved(why) => write!(f, "protocol violation: {why}"),
            Error::UnexpectedMessage { number, state } => {
                write!(f, "unexpected {number} while {state}")
            }
            Error::NoCommonAlgorithm {
                category,
                ours,
                theirs,
            } => write!(
                f,
                "no matching {category} algorithm: we offer {ours}, the peer offers {theirs}"
            ),
            Error::Kex(e) => write!(f, "key exchange failed: {e}"),
            Error::HostKeyInvalid(why) => write!(f, "server host key invalid: {why}"),
            Error::HostKeyRejected => f.write_str("host key verification failed"),
            Error::Compression(e) => write!(f, "compression error: {e}"),
            Error::PeerDisconnected {
                reason,
                description,
            } => write!(f, "peer disconnected ({reason}): {description}"),
            Error::LocallyClosed {
                reason,
                description,
            } => write!(f, "connection closed ({reason}): {description}"),
            Error::ApiMisuse(why) => write!(f, "API misuse: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<PacketError> for Error {
    fn from(e: PacketError) -> Self {
        Error::Packet(e)
    }
}

impl From<KexError> for Error {
    fn from(e: KexError) -> Self {
        Error::Kex(e)
    }
}

impl From<CompressionError> for Error {
    fn from(e: CompressionError) -> Self {
        Error::Compression(e)
    }
}
