//! RFC 4251 §5 `name-list`, with bounds on its size.

use crate::Error;

/// RFC 4251 §6: names "MUST NOT be longer than 64 characters".
pub const MAX_NAME_LEN: usize = 64;

/// Bounds applied when a name-list is decoded.
///
/// A peer could otherwise send a name-list of millions of one-letter names and make every
/// negotiation quadratic; these bounds stop that before any work is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameListLimits {
    /// Most bytes the whole list may take.
    pub max_len: usize,
    /// Most names the list may hold.
    pub max_names: usize,
}

impl Default for NameListLimits {
    /// 64 KiB and 1024 names: an order of magnitude above any real KEXINIT.
    fn default() -> Self {
        NameListLimits {
            max_len: 64 * 1024,
            max_names: 1024,
        }
    }
}

/// A validated, borrowed, comma-separated list of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NameList<'a> {
    raw: &'a str,
}

impl<'a> NameList<'a> {
    /// Validates the contents of a name-list string.
    ///
    /// RFC 4251 §5: "A name MUST have a non-zero length, and it MUST NOT contain a comma
    /// (","). [...] Terminating null characters MUST NOT be used, neither for the individual
    /// names, nor for the list as a whole."
    ///
    /// RFC 4251 §6: names "MUST be printable US-ASCII strings, and MUST NOT contain the
    /// characters at-sign ("@"), comma (","), whitespace, control characters (ASCII codes 32 or
    /// less), or the ASCII code 127 (DEL)", except for one "@" in locally defined names, and
    /// "MUST NOT be longer than 64 characters".
    pub fn parse(bytes: &'a [u8], limits: NameListLimits) -> Result<Self, Error> {
        if bytes.len() > limits.max_len {
            return Err(Error::TooLong {
                what: "name-list",
                limit: limits.max_len,
                found: bytes.len(),
            });
        }
        let raw =
            core::str::from_utf8(bytes).map_err(|_| Error::InvalidNameList("not US-ASCII"))?;
        if raw.is_empty() {
            return Ok(NameList { raw });
        }
        let mut count = 0usize;
        for name in raw.split(',') {
            count += 1;
            if count > limits.max_names {
                return Err(Error::TooLong {
                    what: "name-list entries",
                    limit: limits.max_names,
                    found: count,
                });
            }
            check_name(name)?;
        }
        Ok(NameList { raw })
    }

    /// The list as it appeared on the wire.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether the list has no names.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let raw = self.raw;
        raw.split(',').filter(move |_| !raw.is_empty())
    }

    /// Whether `name` is one of the names.
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::InvalidNameList("empty name"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::InvalidNameList("name longer than 64 characters"));
    }
    if !name.bytes().all(|b| b > b' ' && b < 0x7f) {
        return Err(Error::InvalidNameList(
            "name with a control, space or non-ASCII character",
        ));
    }
    if name.bytes().filter(|&b| b == b'@').count() > 1 {
        return Err(Error::InvalidNameList("name with more than one '@'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Vec<&str>, Error> {
        NameList::parse(s.as_bytes(), NameListLimits::default()).map(|l| l.iter().collect())
    }

    #[test]
    fn examples() {
        assert_eq!(parse("").unwrap(), Vec::<&str>::new());
        assert_eq!(parse("zlib").unwrap(), ["zlib"]);
        assert_eq!(parse("zlib,none").unwrap(), ["zlib", "none"]);
        assert_eq!(
            parse("kex-strict-s-v00@openssh.com").unwrap(),
            ["kex-strict-s-v00@openssh.com"]
        );
    }

    #[test]
    fn malformed_lists_are_refused() {
        for bad in [",", "a,", ",a", "a,,b", "a b", "a\0", "a@b@c", "\u{e9}"] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse(&"x".repeat(65)).is_err());
        assert!(parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn limits_are_enforced() {
        let limits = NameListLimits {
            max_len: 10,
            max_names: 2,
        };
        assert!(NameList::parse(b"a,b", limits).is_ok());
        assert!(matches!(
            NameList::parse(b"a,b,c", limits),
            Err(Error::TooLong { .. })
        ));
        assert!(matches!(
            NameList::parse(b"abcdefghijk", limits),
            Err(Error::TooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn valid_names_round_trip(names in proptest::collection::vec("[a-z0-9.-]{1,20}(@[a-z.]{1,10})?", 0..20)) {
            let joined = names.join(",");
            let list = NameList::parse(joined.as_bytes(), NameListLimits::default()).unwrap();
            let back: Vec<&str> = list.iter().collect();
            prop_assert_eq!(back, names.iter().map(String::as_str).collect::<Vec<_>>());
        }

        #[test]
        fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = NameList::parse(&v, NameListLimits::default());
        }
    }
}
