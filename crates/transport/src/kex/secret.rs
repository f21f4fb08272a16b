//! The shared secret `K` and the `mpint` encodings the key exchanges need.

use super::KexError;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

/// The shared secret `K` of one key exchange, zeroized on drop.
///
/// It holds `K` already encoded as it goes into the exchange hash `H` and into the key
/// derivation (RFC 4253 §7.2): the 4-byte length included, as an `mpint` for the classic
/// methods and as a `string` for the post-quantum hybrids.
pub struct SharedSecret {
    encoded: Zeroizing<Vec<u8>>,
}

impl SharedSecret {
    /// `K` exactly as it is written into the exchange hash and the key derivation.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// `K` as an `mpint` whose value is the big-endian unsigned `magnitude`.
    ///
    /// RFC 4251 §5: "Unnecessary leading bytes with the value 0 or 255 MUST NOT be included.
    /// [...] If the most significant bit would be set for a positive number, the number MUST
    /// be preceded by a zero byte."
    pub(crate) fn from_mpint_magnitude(magnitude: &[u8]) -> Result<Self, KexError> {
        let zeros = leading_zero_bytes(magnitude);
        let digits = magnitude
            .get(zeros..)
            .ok_or(KexError::Internal("leading zero count"))?;
        let sign = usize::from(digits.first().is_some_and(|b| b & 0x80 != 0));
        let len = digits.len() + sign;
        let len32 = u32::try_from(len).map_err(|_| KexError::Internal("mpint length"))?;
        // Reserve once so that the secret is never copied by a reallocation.
        let mut encoded = Zeroizing::new(Vec::with_capacity(4 + len));
        encoded.extend_from_slice(&len32.to_be_bytes());
        if sign == 1 {
            encoded.push(0);
        }
        encoded.extend_from_slice(digits);
        Ok(SharedSecret { encoded })
    }

    /// `K` as a `string` holding `bytes`.
    pub(crate) fn from_string(bytes: &[u8]) -> Result<Self, KexError> {
        let len32 = u32::try_from(bytes.len()).map_err(|_| KexError::Internal("string length"))?;
        let mut encoded = Zeroizing::new(Vec::with_capacity(4 + bytes.len()));
        encoded.extend_from_slice(&len32.to_be_bytes());
        encoded.extend_from_slice(bytes);
        Ok(SharedSecret { encoded })
    }
}

impl ConstantTimeEq for SharedSecret {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.encoded.as_slice().ct_eq(other.encoded.as_slice())
    }
}

impl PartialEq for SharedSecret {
    /// Constant-time for equal lengths.
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SharedSecret {}

impl core::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// The number of leading zero bytes of `bytes`, without branching on their values.
fn leading_zero_bytes(bytes: &[u8]) -> usize {
    let mut seen_nonzero = 0u8;
    let mut zeros = 0usize;
    for &b in bytes {
        // 1 when b != 0: (0 - b) has its top bit set exactly when b != 0.
        let nonzero = (0u16.wrapping_sub(u16::from(b)) >> 15) as u8;
        seen_nonzero |= nonzero;
        zeros += usize::from(seen_nonzero ^ 1);
    }
    zeros
}

/// Strips the sign byte of a canonical non-negative `mpint` content and returns the magnitude.
///
/// This is for public values only (it branches on the bytes).
///
/// RFC 4251 §5: "Unnecessary leading bytes with the value 0 or 255 MUST NOT be included."
/// and "the number MUST be preceded by a zero byte" when the top bit would be set, so a
/// leading `0x00` is allowed only before a byte with its top bit set; a first byte with its
/// top bit set is a negative number.
pub(crate) fn mpint_content_to_magnitude(content: &[u8]) -> Result<&[u8], KexError> {
    match content {
        [] => Ok(content),
        [first, ..] if first & 0x80 != 0 => Err(KexError::InvalidPublicValue("negative mpint")),
        [0, rest @ ..] => match rest.first() {
            Some(next) if next & 0x80 != 0 => Ok(rest),
            _ => Err(KexError::InvalidPublicValue(
                "mpint has an unnecessary leading zero byte",
            )),
        },
        _ => Ok(content),
    }
}

/// The canonical `mpint` content of the non-negative big-endian `magnitude` (public values).
pub(crate) fn magnitude_to_mpint_content(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let digits = magnitude.get(start..).unwrap_or_default();
    let mut out = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(digits);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpint_secret_encoding() {
        let k = SharedSecret::from_mpint_magnitude(&[0, 0, 0x7f, 1]).unwrap();
        assert_eq!(k.encoded(), [0, 0, 0, 2, 0x7f, 1]);
        let k = SharedSecret::from_mpint_magnitude(&[0, 0x80, 1]).unwrap();
        assert_eq!(k.encoded(), [0, 0, 0, 3, 0, 0x80, 1]);
        let k = SharedSecret::from_mpint_magnitude(&[0, 0]).unwrap();
        assert_eq!(k.encoded(), [0, 0, 0, 0]);
        let k = SharedSecret::from_mpint_magnitude(&[]).unwrap();
        assert_eq!(k.encoded(), [0, 0, 0, 0]);
    }

    #[test]
    fn string_secret_encoding() {
        let k = SharedSecret::from_string(&[0, 0x80]).unwrap();
        assert_eq!(k.encoded(), [0, 0, 0, 2, 0, 0x80]);
    }

    #[test]
    fn leading_zero_count() {
        assert_eq!(leading_zero_bytes(&[]), 0);
        assert_eq!(leading_zero_bytes(&[0, 0, 0]), 3);
        assert_eq!(leading_zero_bytes(&[0, 1, 0]), 1);
        assert_eq!(leading_zero_bytes(&[0x80, 0]), 0);
        for b in 0..=255u8 {
            assert_eq!(leading_zero_bytes(&[b]), usize::from(b == 0));
        }
    }

    #[test]
    fn mpint_content_canonical_form() {
        assert_eq!(mpint_content_to_magnitude(&[]).unwrap(), &[] as &[u8]);
        assert_eq!(mpint_content_to_magnitude(&[0x7f]).unwrap(), [0x7f]);
        assert_eq!(mpint_content_to_magnitude(&[0, 0x80]).unwrap(), [0x80]);
        assert!(mpint_content_to_magnitude(&[0x80]).is_err());
        assert!(mpint_content_to_magnitude(&[0xff, 0xff]).is_err());
        assert!(mpint_content_to_magnitude(&[0]).is_err());
        assert!(mpint_content_to_magnitude(&[0, 0x7f]).is_err());
        assert!(mpint_content_to_magnitude(&[0, 0, 0x80]).is_err());
    }

    #[test]
    fn magnitude_to_content() {
        assert_eq!(magnitude_to_mpint_content(&[0, 0, 0x80]), [0, 0x80]);
        assert_eq!(magnitude_to_mpint_content(&[0, 0x7f]), [0x7f]);
        assert_eq!(magnitude_to_mpint_content(&[0]), [] as [u8; 0]);
        for m in [&[0x80u8, 1][..], &[1, 2], &[]] {
            let c = magnitude_to_mpint_content(m);
            assert_eq!(mpint_content_to_magnitude(&c).unwrap(), m);
        }
    }

    #[test]
    fn debug_is_redacted() {
        let k = SharedSecret::from_string(&[0x41; 8]).unwrap();
        assert!(!format!("{k:?}").contains("65"));
    }
}
