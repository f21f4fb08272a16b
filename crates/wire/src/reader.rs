//! A bounded decoder over a borrowed byte slice.

use crate::{Error, NameList, NameListLimits};

/// Decodes RFC 4251 §5 data types from the front of a byte slice.
///
/// Each method consumes the bytes of one value and returns it, or returns [`Error::Truncated`]
/// and leaves the reader where it was. The reader never indexes out of range and never
/// allocates: strings are returned as sub-slices of the input.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not yet consumed, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Consumes and returns every byte that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Succeeds only if every byte has been consumed.
    ///
    /// Decoders call this after the last field so that trailing garbage is refused rather than
    /// silently ignored.
    pub fn finish(&self) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingData(self.buf.len()))
        }
    }

    /// Consumes exactly `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        match self.buf.split_at_checked(n) {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(head)
            }
            None => Err(Error::Truncated {
                needed: n,
                available: self.buf.len(),
            }),
        }
    }

    /// Consumes exactly `N` raw bytes into an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// RFC 4251 §5 `byte`.
    pub fn u8(&mut self) -> Result<u8, Error> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    /// RFC 4251 §5 `boolean`.
    ///
    /// RFC 4251 §5: "All non-zero values MUST be interpreted as TRUE".
    pub fn bool(&mut self) -> Result<bool, Error> {
        Ok(self.u8()? != 0)
    }

    /// RFC 4251 §5 `uint32`, big-endian.
    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// RFC 4251 §5 `uint64`, big-endian.
    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// RFC 4251 §5 `string`: a `uint32` length and that many bytes.
    ///
    /// The length is checked against what is left before anything is consumed, so a huge
    /// length is a [`Error::Truncated`], not an allocation.
    pub fn string(&mut self) -> Result<&'a [u8], Error> {
        let save = self.buf;
        let len = self.u32()?;
        let Ok(len) = usize::try_from(len) else {
            self.buf = save;
            return Err(Error::Truncated {
                needed: usize::MAX,
                available: save.len(),
            });
        };
        match self.bytes(len) {
            Ok(s) => Ok(s),
            Err(e) => {
                self.buf = save;
                Err(e)
            }
        }
    }

    /// A `string` that is at most `limit` bytes long.
    pub fn string_limited(&mut self, what: &'static str, limit: usize) -> Result<&'a [u8], Error> {
        let save = self.buf;
        let s = self.string()?;
        if s.len() > limit {
            self.buf = save;
            return Err(Error::TooLong {
                what,
                limit,
                found: s.len(),
            });
        }
        Ok(s)
    }

    /// A `string` whose contents must be UTF-8 (RFC 4251 §5: "ISO-10646 UTF-8 encoding").
    pub fn utf8(&mut self) -> Result<&'a str, Error> {
        let save = self.buf;
        let s = self.string()?;
        core::str::from_utf8(s).map_err(|_| {
            self.buf = save;
            Error::InvalidUtf8
        })
    }

    /// A non-negative RFC 4251 §5 `mpint`, returned as its big-endian magnitude.
    ///
    /// The returned slice has no leading zero byte (zero is the empty slice).
    ///
    /// RFC 4251 §5: "Unnecessary leading bytes with the value 0 or 255 MUST NOT be included.
    /// The value zero MUST be stored as a string with zero bytes of data."
    pub fn mpint_unsigned(&mut self) -> Result<&'a [u8], Error> {
        let save = self.buf;
        let s = self.string()?;
        match mpint_magnitude(s) {
            Some(m) => Ok(m),
            None => {
                self.buf = save;
                Err(Error::InvalidMpint)
            }
        }
    }

    /// An RFC 4251 §5 `name-list` within the default [`NameListLimits`].
    pub fn name_list(&mut self) -> Result<NameList<'a>, Error> {
        self.name_list_limited(NameListLimits::default())
    }

    /// An RFC 4251 §5 `name-list` within `limits`.
    pub fn name_list_limited(&mut self, limits: NameListLimits) -> Result<NameList<'a>, Error> {
        let save = self.buf;
        let s = self.string()?;
        NameList::parse(s, limits).inspect_err(|_| self.buf = save)
    }
}

/// Checks that `s` is the content of a canonical non-negative mpint and strips its sign byte.
fn mpint_magnitude(s: &[u8]) -> Option<&[u8]> {
    match s {
        [] => Some(s),
        // Negative: the sign bit is set.
        [first, ..] if first & 0x80 != 0 => None,
        // A leading zero is allowed only when the next byte has its top bit set.
        [0, rest @ ..] => match rest.first() {
            Some(next) if next & 0x80 != 0 => Some(rest),
            _ => None,
        },
        _ => Some(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writer;
    use proptest::prelude::*;

    #[test]
    fn integers_are_big_endian() {
        let mut r = Reader::new(&[0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 7, 9]);
        assert_eq!(r.u32().unwrap(), 258);
        assert_eq!(r.u64().unwrap(), 7);
        assert_eq!(r.u8().unwrap(), 9);
        r.finish().unwrap();
    }

    #[test]
    fn boolean_nonzero_is_true() {
        let mut r = Reader::new(&[0, 1, 2, 255]);
        assert!(!r.bool().unwrap());
        assert!(r.bool().unwrap());
        assert!(r.bool().unwrap());
        assert!(r.bool().unwrap());
    }

    #[test]
    fn string_length_beyond_input_is_truncation_without_consuming() {
        let data = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        let mut r = Reader::new(&data);
        assert!(matches!(r.string(), Err(Error::Truncated { .. })));
        assert_eq!(r.remaining(), data.len());
    }

    #[test]
    fn string_limit_is_enforced() {
        let mut w = Writer::new();
        w.string(b"0123456789");
        let v = w.into_vec();
        let mut r = Reader::new(&v);
        assert!(matches!(
            r.string_limited("test", 9),
            Err(Error::TooLong {
                limit: 9,
                found: 10,
                ..
            })
        ));
        assert_eq!(r.string_limited("test", 10).unwrap(), b"0123456789");
    }

    #[test]
    fn utf8_is_checked() {
        let mut w = Writer::new();
        w.string(&[0xc3, 0x28]);
        let v = w.into_vec();
        assert_eq!(Reader::new(&v).utf8(), Err(Error::InvalidUtf8));
    }

    #[test]
    fn trailing_data_is_reported() {
        let r = Reader::new(&[1]);
        assert_eq!(r.finish(), Err(Error::TrailingData(1)));
    }

    /// RFC 4251 §5 gives these examples of mpint encodings.
    #[test]
    fn mpint_rfc4251_examples() {
        let cases: [(&[u8], &[u8]); 3] = [
            (&[0, 0, 0, 0], &[]),
            (
                &[0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
                &[0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
            ),
            (&[0, 0, 0, 2, 0, 0x80], &[0x80]),
        ];
        for (wire, magnitude) in cases {
            assert_eq!(Reader::new(wire).mpint_unsigned().unwrap(), magnitude);
            let mut w = Writer::new();
            w.mpint_unsigned(magnitude);
            assert_eq!(w.as_slice(), wire);
        }
    }

    #[test]
    fn mpint_rejects_negative_and_non_canonical() {
        // -1234 (RFC 4251 example) is negative.
        assert_eq!(
            Reader::new(&[0, 0, 0, 2, 0xed, 0xcc]).mpint_unsigned(),
            Err(Error::InvalidMpint)
        );
        // An unnecessary leading zero.
        assert_eq!(
            Reader::new(&[0, 0, 0, 2, 0, 0x7f]).mpint_unsigned(),
            Err(Error::InvalidMpint)
        );
        // Zero encoded as one byte.
        assert_eq!(
            Reader::new(&[0, 0, 0, 1, 0]).mpint_unsigned(),
            Err(Error::InvalidMpint)
        );
    }

    #[test]
    fn writer_mpint_strips_leading_zeros() {
        let mut w = Writer::new();
        w.mpint_unsigned(&[0, 0, 0x12]);
        assert_eq!(w.as_slice(), &[0, 0, 0, 1, 0x12]);
        let mut w = Writer::new();
        w.mpint_unsigned(&[0, 0]);
        assert_eq!(w.as_slice(), &[0, 0, 0, 0]);
    }

    fn encode_all(b: u8, flag: bool, n: u32, big: u64, s: &[u8], m: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(b)
            .bool(flag)
            .u32(n)
            .u64(big)
            .string(s)
            .mpint_unsigned(m);
        w.into_vec()
    }

    proptest! {
        #[test]
        fn round_trip(b: u8, flag: bool, n: u32, big: u64,
                      s in proptest::collection::vec(any::<u8>(), 0..64),
                      m in proptest::collection::vec(any::<u8>(), 0..64)) {
            let v = encode_all(b, flag, n, big, &s, &m);
            let mut r = Reader::new(&v);
            prop_assert_eq!(r.u8().unwrap(), b);
            prop_assert_eq!(r.bool().unwrap(), flag);
            prop_assert_eq!(r.u32().unwrap(), n);
            prop_assert_eq!(r.u64().unwrap(), big);
            prop_assert_eq!(r.string().unwrap(), &s[..]);
            let first_nonzero = m.iter().position(|&x| x != 0).unwrap_or(m.len());
            prop_assert_eq!(r.mpint_unsigned().unwrap(), &m[first_nonzero..]);
            prop_assert!(r.finish().is_ok());
        }

        #[test]
        fn truncation_at_every_length_is_an_error(
            s in proptest::collection::vec(any::<u8>(), 0..16),
            m in proptest::collection::vec(any::<u8>(), 1..16)) {
            let v = encode_all(1, true, 2, 3, &s, &m);
            for cut in 0..v.len() {
                let mut r = Reader::new(&v[..cut]);
                let all = (|| {
                    r.u8()?; r.bool()?; r.u32()?; r.u64()?; r.string()?; r.mpint_unsigned()?;
                    Ok::<_, Error>(())
                })();
                prop_assert!(matches!(all, Err(Error::Truncated { .. })), "cut at {}", cut);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut r = Reader::new(&v);
            let _ = r.string();
            let _ = r.mpint_unsigned();
            let _ = r.name_list();
            let _ = r.utf8();
            let _ = r.u64();
        }
    }
}
