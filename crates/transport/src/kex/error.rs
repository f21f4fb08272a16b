//! The error type of the key exchange primitives.

use core::fmt;

/// Why a key exchange primitive refused its input or could not run.
///
/// Every variant ends the connection: the engine sends `SSH_MSG_DISCONNECT` with
/// [`KexError::disconnect_reason`] and drops the connection. The messages name the check that
/// failed but never echo secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KexError {
    /// The peer's public value is malformed or outside the range the specification allows.
    InvalidPublicValue(&'static str),
    /// A fixed-size field has the wrong length.
    WrongLength {
        /// Which field.
        what: &'static str,
        /// The length the algorithm defines.
        expected: usize,
        /// The length received.
        found: usize,
    },
    /// The (EC)DH computation produced the all-zero (or otherwise degenerate) shared secret.
    ZeroSharedSecret,
    /// A group offered by the server in `SSH_MSG_KEX_DH_GEX_GROUP` is not acceptable.
    BadGroup(&'static str),
    /// The operation does not apply to this algorithm (e.g. [`super::KexClient::start`] for
    /// group exchange, which needs [`super::KexClient::start_gex`]).
    Unsupported,
    /// An internal invariant failed; this is a bug in sshwire, not a peer error.
    Internal(&'static str),
}

impl KexError {
    /// RFC 4253 §11.1 `SSH_DISCONNECT_KEY_EXCHANGE_FAILED`.
    pub const KEY_EXCHANGE_FAILED: u32 = 3;

    /// The `SSH_MSG_DISCONNECT` reason code to send for this error.
    ///
    /// Every key exchange failure maps to `SSH_DISCONNECT_KEY_EXCHANGE_FAILED` (3).
    pub fn disconnect_reason(&self) -> u32 {
        Self::KEY_EXCHANGE_FAILED
    }
}

impl fmt::Display for KexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KexError::InvalidPublicValue(why) => write!(f, "invalid peer public value: {why}"),
            KexError::WrongLength {
                what,
                expected,
                found,
            } => write!(f, "{what} must be {expected} bytes, got {found}"),
            KexError::ZeroSharedSecret => f.write_str("degenerate (all-zero) shared secret"),
            KexError::BadGroup(why) => write!(f, "unacceptable Diffie-Hellman group: {why}"),
            KexError::Unsupported => f.write_str("operation not supported for this algorithm"),
            KexError::Internal(why) => write!(f, "internal key exchange error: {why}"),
        }
    }
}

impl std::error::Error for KexError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_disconnects_with_key_exchange_failed() {
        let all = [
            KexError::InvalidPublicValue("x"),
            KexError::WrongLength {
                what: "x",
                expected: 1,
                found: 2,
            },
            KexError::ZeroSharedSecret,
            KexError::BadGroup("x"),
            KexError::Unsupported,
            KexError::Internal("x"),
        ];
        for e in all {
            assert_eq!(e.disconnect_reason(), 3);
            assert!(!e.to_string().is_empty());
        }
    }
}
