//! Errors of the packet layer.

use super::{DISCONNECT_MAC_ERROR, DISCONNECT_PROTOCOL_ERROR};

/// Failure to set up a sealer or opener, or to seal a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// A key, IV or MAC key holds fewer bytes than the algorithm needs.
    KeyTooShort {
        /// Which value was short: `"iv"`, `"key"` or `"mac_key"`.
        what: &'static str,
        /// Bytes the algorithm needs.
        needed: usize,
        /// Bytes supplied.
        got: usize,
    },
    /// A MAC was given with an AEAD cipher, or none with a non-AEAD cipher.
    BadCombination,
    /// The payload is too long to fit a `uint32` packet length.
    PayloadTooLong(usize),
}

impl core::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CryptoError::KeyTooShort { what, needed, got } => {
                write!(f, "{what} too short: need {needed} bytes, got {got}")
            }
            CryptoError::BadCombination => {
                f.write_str("a MAC must be given exactly when the cipher is not an AEAD")
            }
            CryptoError::PayloadTooLong(len) => write!(f, "payload of {len} bytes is too long"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// A received packet that must not be accepted; the connection must be closed.
///
/// After any error the [`PacketOpener`](super::PacketOpener) is unusable: later calls return
/// [`PacketError::Poisoned`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// `packet_length` out of bounds or not a multiple of the block size (the value as received
    /// and, where encrypted, as decrypted).
    BadLength(u32),
    /// `padding_length` below 4 or not less than `packet_length`.
    BadPadding(u8),
    /// The MAC or AEAD tag did not verify.
    MacMismatch,
    /// An earlier call failed; the opener's state is no longer usable.
    Poisoned,
}

impl PacketError {
    /// The SSH disconnect reason code to send (RFC 4253 §11.1).
    ///
    /// Length and padding errors map to `SSH_DISCONNECT_PROTOCOL_ERROR` (2), MAC failures to
    /// `SSH_DISCONNECT_MAC_ERROR` (5).
    pub fn disconnect_reason(&self) -> u32 {
        match self {
            PacketError::MacMismatch => DISCONNECT_MAC_ERROR,
            PacketError::BadLength(_) | PacketError::BadPadding(_) | PacketError::Poisoned => {
                DISCONNECT_PROTOCOL_ERROR
            }
        }
    }
}

impl core::fmt::Display for PacketError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PacketError::BadLength(len) => write!(f, "bad packet length {len}"),
            PacketError::BadPadding(pad) => write!(f, "bad padding length {pad}"),
            PacketError::MacMismatch => f.write_str("message authentication failed"),
            PacketError::Poisoned => f.write_str("packet opener used after an error"),
        }
    }
}

impl std::error::Error for PacketError {}
