//! `ATTRS`, the file attributes of filexfer-02 §5.
//!
//! ```text
//! uint32   flags
//! uint64   size            present only if flag SSH_FILEXFER_ATTR_SIZE
//! uint32   uid             present only if flag SSH_FILEXFER_ATTR_UIDGID
//! uint32   gid             present only if flag SSH_FILEXFER_ATTR_UIDGID
//! uint32   permissions     present only if flag SSH_FILEXFER_ATTR_PERMISSIONS
//! uint32   atime           present only if flag SSH_FILEXFER_ACMODTIME
//! uint32   mtime           present only if flag SSH_FILEXFER_ACMODTIME
//! uint32   extended_count  present only if flag SSH_FILEXFER_ATTR_EXTENDED
//! string   extended_type   } extended_count times
//! string   extended_data   }
//! ```

use sshwire_wire::{Error, Reader, Writer};

use crate::ExtensionPair;

/// The `flags` word of `ATTRS` (filexfer-02 §5): which fields are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AttrFlags(pub u32);

impl AttrFlags {
    /// `SSH_FILEXFER_ATTR_SIZE`: `size` is present.
    pub const SIZE: Self = Self(0x0000_0001);
    /// `SSH_FILEXFER_ATTR_UIDGID`: `uid` and `gid` are present.
    pub const UIDGID: Self = Self(0x0000_0002);
    /// `SSH_FILEXFER_ATTR_PERMISSIONS`: `permissions` is present.
    pub const PERMISSIONS: Self = Self(0x0000_0004);
    /// `SSH_FILEXFER_ATTR_ACMODTIME`: `atime` and `mtime` are present.
    pub const ACMODTIME: Self = Self(0x0000_0008);
    /// `SSH_FILEXFER_ATTR_EXTENDED`: extended attribute pairs are present.
    pub const EXTENDED: Self = Self(0x8000_0000);
    /// Every flag filexfer-02 defines.
    pub const ALL: Self = Self(0x8000_000f);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The owner and group of a file: `uid` and `gid`, present together (`SSH_FILEXFER_ATTR_UIDGID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    /// `uint32 uid`: the numeric user id.
    pub uid: u32,
    /// `uint32 gid`: the numeric group id.
    pub gid: u32,
}

/// Access and modification times, present together (`SSH_FILEXFER_ACMODTIME`).
///
/// filexfer-02 §5: seconds "from Jan 1, 1970 in UTC", as a `uint32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Times {
    /// `uint32 atime`: last access.
    pub atime: u32,
    /// `uint32 mtime`: last modification.
    pub mtime: u32,
}

/// File attributes (filexfer-02 §5), as returned by the server and sent with `SETSTAT`,
/// `OPEN` and `MKDIR`.
///
/// Each field is `Some` exactly when its flag is set; the flags are derived from the fields on
/// encode ([`Attrs::flags`]), so they can never disagree. The `EXTENDED` flag is set when
/// `extended` is not empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Attrs {
    /// `uint64 size`: the size of the file in bytes.
    pub size: Option<u64>,
    /// `uint32 uid` and `uint32 gid`.
    pub owner: Option<Owner>,
    /// `uint32 permissions`: the POSIX mode bits, file type included (`S_IFDIR` and friends).
    pub permissions: Option<u32>,
    /// `uint32 atime` and `uint32 mtime`.
    pub times: Option<Times>,
    /// `extended_type` / `extended_data` pairs, kept as bytes.
    pub extended: Vec<ExtensionPair>,
}

/// Bytes of the smallest extended pair: two empty strings.
const MIN_EXTENDED_PAIR: usize = 8;

impl Attrs {
    /// The `flags` word that describes the fields that are `Some`.
    pub fn flags(&self) -> AttrFlags {
        let mut f = 0;
        if self.size.is_some() {
            f |= AttrFlags::SIZE.0;
        }
        if self.owner.is_some() {
            f |= AttrFlags::UIDGID.0;
        }
        if self.permissions.is_some() {
            f |= AttrFlags::PERMISSIONS.0;
        }
        if self.times.is_some() {
            f |= AttrFlags::ACMODTIME.0;
        }
        if !self.extended.is_empty() {
            f |= AttrFlags::EXTENDED.0;
        }
        AttrFlags(f)
    }

    /// Appends the encoding, flags first.
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.flags().0);
        if let Some(size) = self.size {
            w.u64(size);
        }
        if let Some(o) = self.owner {
            w.u32(o.uid).u32(o.gid);
        }
        if let Some(p) = self.permissions {
            w.u32(p);
        }
        if let Some(t) = self.times {
            w.u32(t.atime).u32(t.mtime);
        }
        if !self.extended.is_empty() {
            w.u32(u32::try_from(self.extended.len()).unwrap_or(u32::MAX));
            for (name, data) in &self.extended {
                w.string(name).string(data);
            }
        }
    }

    /// Decodes attributes from the front of `r`, leaving what follows them.
    ///
    /// Refuses flags filexfer-02 does not define: their fields would have an unknown layout.
    pub fn decode(r: &mut Reader<'_>) -> Result<Attrs, Error> {
        let flags = AttrFlags(r.u32()?);
        // filexfer-02 §5: "The `flags' specify which of the fields are present." A flag this
        // version does not define would announce fields of unknown size, so nothing after it
        // could be parsed: "New flags can only be added by incrementing the protocol version
        // number".
        if flags.0 & !AttrFlags::ALL.0 != 0 {
            return Err(Error::Invalid("unknown SFTP attribute flags"));
        }
        let mut attrs = Attrs::default();
        if flags.contains(AttrFlags::SIZE) {
            attrs.size = Some(r.u64()?);
        }
        if flags.contains(AttrFlags::UIDGID) {
            attrs.owner = Some(Owner {
                uid: r.u32()?,
                gid: r.u32()?,
            });
        }
        if flags.contains(AttrFlags::PERMISSIONS) {
            attrs.permissions = Some(r.u32()?);
        }
        if flags.contains(AttrFlags::ACMODTIME) {
            attrs.times = Some(Times {
                atime: r.u32()?,
                mtime: r.u32()?,
            });
        }
        if flags.contains(AttrFlags::EXTENDED) {
            let count = r.u32()?;
            // The count is the peer's: before reserving anything, check that the bytes left
            // could hold that many pairs at all.
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            if count > r.remaining() / MIN_EXTENDED_PAIR {
                return Err(Error::Truncated {
                    needed: count.saturating_mul(MIN_EXTENDED_PAIR),
                    available: r.remaining(),
                });
            }
            attrs.extended.reserve_exact(count);
            for _ in 0..count {
                let name = r.string()?.to_vec();
                let data = r.string()?.to_vec();
                attrs.extended.push((name, data));
            }
        }
        Ok(attrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::attrs;
    use proptest::prelude::*;

    fn encoded(a: &Attrs) -> Vec<u8> {
        let mut w = Writer::new();
        a.encode(&mut w);
        w.into_vec()
    }

    #[test]
    fn empty_attrs_are_a_zero_flags_word() {
        assert_eq!(encoded(&Attrs::default()), [0, 0, 0, 0]);
    }

    /// Every field, written out by hand in the order of filexfer-02 §5.
    #[test]
    fn full_layout_by_hand() {
        let a = Attrs {
            size: Some(0x0102_0304_0506_0708),
            owner: Some(Owner {
                uid: 1000,
                gid: 100,
            }),
            permissions: Some(0o100644),
            times: Some(Times {
                atime: 0x6000_0000,
                mtime: 0x6000_0001,
            }),
            extended: vec![(b"a@b".to_vec(), b"xy".to_vec())],
        };
        #[rustfmt::skip]
        let wire: &[u8] = &[
            0x80, 0, 0, 0x0f,                 // flags: EXTENDED | ACMODTIME | PERMISSIONS | UIDGID | SIZE
            1, 2, 3, 4, 5, 6, 7, 8,           // size
            0, 0, 0x03, 0xe8, 0, 0, 0, 100,   // uid 1000, gid 100
            0, 0, 0x81, 0xa4,                 // permissions 0100644
            0x60, 0, 0, 0, 0x60, 0, 0, 1,     // atime, mtime
            0, 0, 0, 1,                       // extended_count
            0, 0, 0, 3, b'a', b'@', b'b',     // extended_type
            0, 0, 0, 2, b'x', b'y',           // extended_data
        ];
        assert_eq!(encoded(&a), wire);
        let mut r = Reader::new(wire);
        assert_eq!(Attrs::decode(&mut r).unwrap(), a);
        r.finish().unwrap();
    }

    #[test]
    fn unknown_flags_are_refused() {
        for bit in (4..31).map(|b| 1u32 << b) {
            let wire = bit.to_be_bytes();
            assert_eq!(
                Attrs::decode(&mut Reader::new(&wire)),
                Err(Error::Invalid("unknown SFTP attribute flags")),
                "{bit:#x}"
            );
        }
    }

    #[test]
    fn extended_count_beyond_the_input_is_refused_before_reserving() {
        let wire = [
            0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert!(matches!(
            Attrs::decode(&mut Reader::new(&wire)),
            Err(Error::Truncated { available: 8, .. })
        ));
    }

    /// An `EXTENDED` flag with a zero count decodes to no pairs (and re-encodes without the flag).
    #[test]
    fn extended_flag_with_zero_count() {
        let wire = [0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Attrs::decode(&mut Reader::new(&wire)).unwrap(),
            Attrs::default()
        );
    }

    proptest! {
        #[test]
        fn round_trip(a in attrs()) {
            let v = encoded(&a);
            let mut r = Reader::new(&v);
            prop_assert_eq!(Attrs::decode(&mut r).unwrap(), a);
            prop_assert!(r.finish().is_ok());
        }

        #[test]
        fn truncation_at_every_length_is_an_error(a in attrs()) {
            let v = encoded(&a);
            for cut in 0..v.len() {
                prop_assert!(Attrs::decode(&mut Reader::new(&v[..cut])).is_err(), "cut at {}", cut);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = Attrs::decode(&mut Reader::new(&v));
        }
    }
}
