//! The error type shared by every key operation.

use core::fmt;

/// Why a key, signature or key file was refused, or an operation could not be done.
///
/// Every variant describes the input or the request, never an internal bug: decoders that meet
/// bad input return one of these and never panic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The input is not a valid encoding (a wrong field, a bad armor, bad padding...).
    Malformed(&'static str),
    /// The input broke an RFC 4251 §5 encoding rule (truncated, trailing data, bad mpint...).
    Wire(sshwire_wire::Error),
    /// The input is well formed but the key it holds is refused (off-curve point, RSA modulus
    /// too small, inconsistent private key...).
    InvalidKey(&'static str),
    /// The algorithm, cipher, KDF or key size is known but not supported here.
    Unsupported(String),
    /// The key file is encrypted and no passphrase was given.
    PassphraseRequired,
    /// The passphrase does not decrypt the key file.
    WrongPassphrase,
    /// The signature does not verify.
    BadSignature,
    /// The signature algorithm does not fit the key, or the signature blob names another
    /// algorithm than the one asked for.
    AlgorithmMismatch,
    /// Key generation failed.
    Generation,
    /// The signing operation failed (for example, ring refused the RSA private key).
    Signing,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Malformed(why) => write!(f, "malformed key data: {why}"),
            KeyError::Wire(e) => write!(f, "malformed key data: {e}"),
            KeyError::InvalidKey(why) => write!(f, "invalid key: {why}"),
            KeyError::Unsupported(what) => write!(f, "unsupported: {what}"),
            KeyError::PassphraseRequired => {
                f.write_str("the key file is encrypted: a passphrase is required")
            }
            KeyError::WrongPassphrase => f.write_str("wrong passphrase"),
            KeyError::BadSignature => f.write_str("signature verification failed"),
            KeyError::AlgorithmMismatch => {
                f.write_str("signature algorithm does not match the key or the signature")
            }
            KeyError::Generation => f.write_str("key generation failed"),
            KeyError::Signing => f.write_str("signing failed"),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Wire(e) => Some(e),
            _ => None,
        }
    }
}

impl From<sshwire_wire::Error> for KeyError {
    fn from(e: sshwire_wire::Error) -> Self {
        KeyError::Wire(e)
    }
}
