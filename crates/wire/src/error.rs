//! The error type for malformed wire data.

use core::fmt;

/// Why a sequence of bytes is not a valid encoding.
///
/// Every variant is the peer's (or the file's) fault: a decoder that meets bad input returns one
/// of these and never panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input ended before the value did.
    Truncated {
        /// How many bytes the value needed.
        needed: usize,
        /// How many bytes were left.
        available: usize,
    },
    /// A `string` that must be UTF-8 was not.
    InvalidUtf8,
    /// An `mpint` had unnecessary leading bytes, or was negative where only non-negative
    /// values are allowed.
    InvalidMpint,
    /// A `name-list` broke the rules of RFC 4251 §5/§6 (empty name, bad characters, too long).
    InvalidNameList(&'static str),
    /// A length or count exceeded a limit set by the decoder.
    TooLong {
        /// What was being decoded.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// The length found.
        found: usize,
    },
    /// A field holds a value the message does not allow.
    Invalid(&'static str),
    /// Bytes were left over after the last field of a message.
    TrailingData(usize),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { needed, available } => {
                write!(
                    f,
                    "truncated input: needed {needed} bytes, {available} left"
                )
            }
            Error::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Error::InvalidMpint => f.write_str("mpint is not in canonical non-negative form"),
            Error::InvalidNameList(why) => write!(f, "invalid name-list: {why}"),
            Error::TooLong { what, limit, found } => {
                write!(f, "{what} too long: {found} exceeds the limit of {limit}")
            }
            Error::Invalid(why) => write!(f, "invalid value: {why}"),
            Error::TrailingData(n) => write!(f, "{n} unexpected bytes after the last field"),
        }
    }
}

impl std::error::Error for Error {}
