//! The transport's messages other than KEXINIT: one codec, shared by client and server.
//!
//! Each type encodes its whole payload (message number first) and decodes from a whole payload,
//! refusing a wrong message number, truncation and trailing bytes. Decoded values borrow from
//! the payload.

use sshwire_wire::{Error, Reader, Writer};

use crate::msg::{DisconnectReason, MessageNumber};

/// Most bytes accepted in a DISCONNECT description or DEBUG message.
pub const MAX_TEXT_LEN: usize = 4096;
/// Longest service name accepted (RFC 4250 §4.6.1 names are at most 64 characters).
pub const MAX_SERVICE_NAME_LEN: usize = 64;
/// Most extensions accepted in one `SSH_MSG_EXT_INFO`.
pub const MAX_EXT_INFO_PAIRS: u32 = 64;

/// Starts a reader after the message number, which must be `number`.
fn body(payload: &[u8], number: MessageNumber) -> Result<Reader<'_>, Error> {
    let mut r = Reader::new(payload);
    let found = r.u8()?;
    if found != number.0 {
        return Err(Error::Invalid("unexpected message number"));
    }
    Ok(r)
}

/// `SSH_MSG_DISCONNECT` (RFC 4253 §11.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect<'a> {
    /// `uint32 reason code`.
    pub reason: DisconnectReason,
    /// `string description in ISO-10646 UTF-8 encoding`.
    pub description: &'a [u8],
    /// `string language tag`.
    pub language: &'a [u8],
}

impl<'a> Disconnect<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(MessageNumber::DISCONNECT.0)
            .u32(self.reason.0)
            .string(self.description)
            .string(self.language);
    }

    /// Decodes a whole message.
    ///
    /// The language tag is optional here: some implementations omit it, and a peer that is
    /// leaving should be heard rather than refused on a technicality.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, MessageNumber::DISCONNECT)?;
        let reason = DisconnectReason(r.u32()?);
        let description = r.string_limited("description", MAX_TEXT_LEN)?;
        let language = if r.is_empty() { &[][..] } else { r.string()? };
        r.finish()?;
        Ok(Disconnect {
            reason,
            description,
            language,
        })
    }
}

/// `SSH_MSG_DEBUG` (RFC 4253 §11.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debug<'a> {
    /// `boolean always_display`.
    pub always_display: bool,
    /// `string message in ISO-10646 UTF-8 encoding`.
    pub message: &'a [u8],
    /// `string language tag`.
    pub language: &'a [u8],
}

impl<'a> Debug<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(MessageNumber::DEBUG.0)
            .bool(self.always_display)
            .string(self.message)
            .string(self.language);
    }

    /// Decodes a whole message (the language tag may be missing, as for DISCONNECT).
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, MessageNumber::DEBUG)?;
        let always_display = r.bool()?;
        let message = r.string_limited("debug message", MAX_TEXT_LEN)?;
        let language = if r.is_empty() { &[][..] } else { r.string()? };
        r.finish()?;
        Ok(Debug {
            always_display,
            message,
            language,
        })
    }
}

/// `SSH_MSG_UNIMPLEMENTED` (RFC 4253 §11.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unimplemented {
    /// `uint32 packet sequence number of rejected message`.
    pub seq: u32,
}

impl Unimplemented {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(MessageNumber::UNIMPLEMENTED.0).u32(self.seq);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        let mut r = body(payload, MessageNumber::UNIMPLEMENTED)?;
        let seq = r.u32()?;
        r.finish()?;
        Ok(Unimplemented { seq })
    }
}

/// `SSH_MSG_SERVICE_REQUEST` or `SSH_MSG_SERVICE_ACCEPT` (RFC 4253 §10): the same shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service<'a> {
    /// Which of the two messages.
    pub number: MessageNumber,
    /// `string service name`.
    pub name: &'a str,
}

impl<'a> Service<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.number.0).string(self.name.as_bytes());
    }

    /// Decodes a whole message of number `number`.
    pub fn decode(payload: &'a [u8], number: MessageNumber) -> Result<Self, Error> {
        let mut r = body(payload, number)?;
        let name = r.string_limited("service name", MAX_SERVICE_NAME_LEN)?;
        r.finish()?;
        let name = core::str::from_utf8(name).map_err(|_| Error::InvalidUtf8)?;
        Ok(Service { number, name })
    }
}

/// `SSH_MSG_EXT_INFO` (RFC 8308 §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtInfo<'a> {
    /// `string extension-name, string extension-value`, `nr-extensions` times.
    pub extensions: Vec<(&'a str, &'a [u8])>,
}

impl<'a> ExtInfo<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(MessageNumber::EXT_INFO.0)
            .u32(u32::try_from(self.extensions.len()).unwrap_or(u32::MAX));
        for (name, value) in &self.extensions {
            w.string(name.as_bytes()).string(value);
        }
    }

    /// Decodes a whole message of at most [`MAX_EXT_INFO_PAIRS`] extensions.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, MessageNumber::EXT_INFO)?;
        let count = r.u32()?;
        if count > MAX_EXT_INFO_PAIRS {
            return Err(Error::TooLong {
                what: "EXT_INFO extensions",
                limit: MAX_EXT_INFO_PAIRS as usize,
                found: count as usize,
            });
        }
        let mut extensions = Vec::new();
        for _ in 0..count {
            extensions.push((r.utf8()?, r.string()?));
        }
        r.finish()?;
        Ok(ExtInfo { extensions })
    }
}

/// `SSH2_MSG_PING` or `SSH2_MSG_PONG` (OpenSSH PROTOCOL §1.9): `string data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping<'a> {
    /// Which of the two messages.
    pub number: MessageNumber,
    /// `string data`.
    pub data: &'a [u8],
}

impl<'a> Ping<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.number.0).string(self.data);
    }

    /// Decodes a whole message of number `number`.
    pub fn decode(payload: &'a [u8], number: MessageNumber) -> Result<Self, Error> {
        let mut r = body(payload, number)?;
        let data = r.string()?;
        r.finish()?;
        Ok(Ping { number, data })
    }
}

/// A key exchange init: `SSH_MSG_KEXDH_INIT` / `KEX_ECDH_INIT` / hybrid INIT (30) or
/// `SSH_MSG_KEX_DH_GEX_INIT` (32): one public value.
///
/// The value is the content of the `string` (or `mpint` for finite-field DH, whose encoding is
/// the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexInitValue<'a> {
    /// 30 or 32.
    pub number: MessageNumber,
    /// `Q_C` or `e`.
    pub public: &'a [u8],
}

impl<'a> KexInitValue<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.number.0).string(self.public);
    }

    /// Decodes a whole message of number `number`.
    pub fn decode(payload: &'a [u8], number: MessageNumber) -> Result<Self, Error> {
        let mut r = body(payload, number)?;
        let public = r.string()?;
        r.finish()?;
        Ok(KexInitValue { number, public })
    }
}

/// The server's reply (31, or 33 for group exchange): host key, public value, signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexReply<'a> {
    /// 31 or 33.
    pub number: MessageNumber,
    /// `string K_S`: the host key blob.
    pub host_key: &'a [u8],
    /// `Q_S` or `f`, as field content.
    pub public: &'a [u8],
    /// `string signature of H`.
    pub signature: &'a [u8],
}

impl<'a> KexReply<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.number.0)
            .string(self.host_key)
            .string(self.public)
            .string(self.signature);
    }

    /// Decodes a whole message of number `number`.
    pub fn decode(payload: &'a [u8], number: MessageNumber) -> Result<Self, Error> {
        let mut r = body(payload, number)?;
        let host_key = r.string()?;
        let public = r.string()?;
        let signature = r.string()?;
        r.finish()?;
        Ok(KexReply {
            number,
            host_key,
            public,
            signature,
        })
    }
}

/// `SSH_MSG_KEX_DH_GEX_REQUEST` (RFC 4419 §5): `uint32 min, uint32 n, uint32 max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GexRequestMessage {
    /// Minimal acceptable group size in bits.
    pub min: u32,
    /// Preferred size.
    pub preferred: u32,
    /// Maximal acceptable size.
    pub max: u32,
}

impl GexRequestMessage {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(MessageNumber::KEX_DH_GEX_REQUEST.0)
            .u32(self.min)
            .u32(self.preferred)
            .u32(self.max);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        let mut r = body(payload, MessageNumber::KEX_DH_GEX_REQUEST)?;
        let m = GexRequestMessage {
            min: r.u32()?,
            preferred: r.u32()?,
            max: r.u32()?,
        };
        r.finish()?;
        Ok(m)
    }
}

/// `SSH_MSG_KEX_DH_GEX_GROUP` (RFC 4419 §5): `mpint p, mpint g`, as field contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GexGroup<'a> {
    /// The safe prime.
    pub p: &'a [u8],
    /// The generator.
    pub g: &'a [u8],
}

impl<'a> GexGroup<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(MessageNumber::KEX_DH_GEX_GROUP.0)
            .string(self.p)
            .string(self.g);
    }

    /// Decodes a whole message (the kex module checks the mpints' canonical form).
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, MessageNumber::KEX_DH_GEX_GROUP)?;
        let p = r.string()?;
        let g = r.string()?;
        r.finish()?;
        Ok(GexGroup { p, g })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..40)
    }

    /// Encodes with `encode`, then checks decode round-trips and every truncation fails.
    fn check<T: PartialEq + core::fmt::Debug>(
        encode: impl Fn(&mut Writer),
        decode: impl Fn(&[u8]) -> Result<T, Error>,
    ) -> Result<(), TestCaseError> {
        check_optional_tail(encode, decode, None)
    }

    /// As [`check`], where the last field (of `tail` bytes) may be left out entirely.
    fn check_optional_tail<T: PartialEq + core::fmt::Debug>(
        encode: impl Fn(&mut Writer),
        decode: impl Fn(&[u8]) -> Result<T, Error>,
        tail: Option<usize>,
    ) -> Result<(), TestCaseError> {
        let mut w = Writer::new();
        encode(&mut w);
        let v = w.into_vec();
        let first = decode(&v);
        prop_assert!(first.is_ok(), "{:?}", first);
        for cut in 0..v.len() {
            let without_tail = tail.is_some_and(|t| cut == v.len() - t);
            prop_assert_eq!(decode(&v[..cut]).is_ok(), without_tail, "cut at {}", cut);
        }
        let mut longer = v.clone();
        longer.push(0);
        // Trailing bytes are refused (DISCONNECT and DEBUG read an optional language tag, so a
        // single extra byte is a truncated string there: still an error).
        prop_assert!(decode(&longer).is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn disconnect(reason: u32, d in "[ -~]{0,40}", l in bytes()) {
            let m = Disconnect { reason: DisconnectReason(reason), description: d.as_bytes(), language: &l };
            check_optional_tail(|w| m.encode(w), |p| Disconnect::decode(p).map(|x| x.reason), Some(4 + l.len()))?;
            let mut w = Writer::new();
            m.encode(&mut w);
            prop_assert_eq!(Disconnect::decode(w.as_slice()).unwrap(), m.clone());
        }

        #[test]
        fn debug(a: bool, msg in bytes(), l in bytes()) {
            let m = Debug { always_display: a, message: &msg, language: &l };
            let mut w = Writer::new();
            m.encode(&mut w);
            prop_assert_eq!(Debug::decode(w.as_slice()).unwrap(), m.clone());
            check_optional_tail(|w| m.encode(w), |p| Debug::decode(p).map(|x| x.always_display), Some(4 + l.len()))?;
        }

        #[test]
        fn unimplemented(seq: u32) {
            let m = Unimplemented { seq };
            check(|w| m.encode(w), Unimplemented::decode)?;
        }

        #[test]
        fn service(name in "[a-z-]{1,30}", accept: bool) {
            let number = if accept { MessageNumber::SERVICE_ACCEPT } else { MessageNumber::SERVICE_REQUEST };
            let m = Service { number, name: &name };
            let mut w = Writer::new();
            m.encode(&mut w);
            prop_assert_eq!(Service::decode(w.as_slice(), number).unwrap(), m.clone());
            check(|w| m.encode(w), |p| Service::decode(p, number).map(|s| s.name.to_owned()))?;
        }

        #[test]
        fn ext_info(pairs in proptest::collection::vec(("[a-z@.-]{1,20}", bytes()), 0..5)) {
            let m = ExtInfo { extensions: pairs.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect() };
            let mut w = Writer::new();
            m.encode(&mut w);
            prop_assert_eq!(ExtInfo::decode(w.as_slice()).unwrap(), m.clone());
            check(|w| m.encode(w), |p| ExtInfo::decode(p).map(|x| x.extensions.len()))?;
        }

        #[test]
        fn ping(data in bytes()) {
            let m = Ping { number: MessageNumber::PING, data: &data };
            check(|w| m.encode(w), |p| Ping::decode(p, MessageNumber::PING).map(|x| x.data.to_vec()))?;
        }

        #[test]
        fn kex_messages(a in bytes(), b in bytes(), c in bytes(), min: u32, n: u32, max: u32) {
            let init = KexInitValue { number: MessageNumber::KEX_INIT, public: &a };
            check(|w| init.encode(w), |p| KexInitValue::decode(p, MessageNumber::KEX_INIT).map(|x| x.public.to_vec()))?;
            let reply = KexReply { number: MessageNumber::KEX_REPLY, host_key: &a, public: &b, signature: &c };
            let mut w = Writer::new();
            reply.encode(&mut w);
            prop_assert_eq!(KexReply::decode(w.as_slice(), MessageNumber::KEX_REPLY).unwrap(), reply.clone());
            check(|w| reply.encode(w), |p| KexReply::decode(p, MessageNumber::KEX_REPLY).map(|x| x.signature.to_vec()))?;
            let req = GexRequestMessage { min, preferred: n, max };
            check(|w| req.encode(w), GexRequestMessage::decode)?;
            let group = GexGroup { p: &a, g: &b };
            check(|w| group.encode(w), |p| GexGroup::decode(p).map(|x| x.p.to_vec()))?;
        }

        #[test]
        fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Disconnect::decode(&v);
            let _ = Debug::decode(&v);
            let _ = Unimplemented::decode(&v);
            let _ = Service::decode(&v, MessageNumber::SERVICE_REQUEST);
            let _ = ExtInfo::decode(&v);
            let _ = Ping::decode(&v, MessageNumber::PING);
            let _ = KexInitValue::decode(&v, MessageNumber::KEX_INIT);
            let _ = KexReply::decode(&v, MessageNumber::KEX_REPLY);
            let _ = GexRequestMessage::decode(&v);
            let _ = GexGroup::decode(&v);
        }
    }

    #[test]
    fn wrong_message_number_is_refused() {
        let mut w = Writer::new();
        Unimplemented { seq: 1 }.encode(&mut w);
        assert!(Ping::decode(w.as_slice(), MessageNumber::PING).is_err());
    }

    #[test]
    fn too_many_ext_info_pairs_are_refused_before_reading_them() {
        let mut w = Writer::new();
        w.u8(MessageNumber::EXT_INFO.0).u32(MAX_EXT_INFO_PAIRS + 1);
        assert!(matches!(
            ExtInfo::decode(w.as_slice()),
            Err(Error::TooLong { .. })
        ));
    }
}
