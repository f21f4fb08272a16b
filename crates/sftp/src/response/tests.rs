//! Response codec tests: round trips, truncation, trailing bytes, byte layouts, arbitrary input.

use super::*;
use crate::strategies::{Tail, blob, check, response};
use crate::{LimitsReply, MAX_HANDLE_LEN, StatvfsReply, UsersGroupsReply};
use proptest::prelude::*;

fn encoded(r: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode(&mut out);
    out
}

fn tail(r: &Response) -> Tail {
    match r {
        Response::Version { .. } => Tail::Pairs,
        Response::ExtendedReply { .. } | Response::Unknown { .. } => Tail::Raw,
        _ => Tail::Fixed,
    }
}

/// filexfer-02 §7 `SSH_FXP_NAME` with two entries, written out by hand.
#[test]
fn name_with_two_entries_by_hand() {
    let name = Response::Name {
        id: 7,
        entries: vec![
            NameEntry {
                filename: b".".to_vec(),
                longname: b"drwx .".to_vec(),
                attrs: Attrs {
                    permissions: Some(0o40755),
                    ..Attrs::default()
                },
            },
            NameEntry {
                filename: b"a\xff".to_vec(), // not UTF-8, kept as is
                longname: b"-rw a".to_vec(),
                attrs: Attrs {
                    size: Some(5),
                    ..Attrs::default()
                },
            },
        ],
    };
    #[rustfmt::skip]
    let wire: &[u8] = &[
        0, 0, 0, 59,                                       // length
        104,                                               // SSH_FXP_NAME
        0, 0, 0, 7,                                        // id
        0, 0, 0, 2,                                        // count
        0, 0, 0, 1, b'.',                                  // filename
        0, 0, 0, 6, b'd', b'r', b'w', b'x', b' ', b'.',    // longname
        0, 0, 0, 4, 0, 0, 0x41, 0xed,                      // ATTRS: permissions 040755
        0, 0, 0, 2, b'a', 0xff,                            // filename
        0, 0, 0, 5, b'-', b'r', b'w', b' ', b'a',          // longname
        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5,                // ATTRS: size 5
    ];
    assert_eq!(encoded(&name), wire);
    assert_eq!(Response::decode(&wire[4..]), Ok(name));
}

/// filexfer-02 §7 `SSH_FXP_STATUS`.
#[test]
fn status_by_hand() {
    let status = Response::status(3, StatusCode::EOF);
    #[rustfmt::skip]
    let wire: &[u8] = &[
        0, 0, 0, 28, 101,
        0, 0, 0, 3,
        0, 0, 0, 1,
        0, 0, 0, 11, b'E', b'n', b'd', b' ', b'o', b'f', b' ', b'f', b'i', b'l', b'e',
        0, 0, 0, 0,
    ];
    assert_eq!(encoded(&status), wire);
    assert_eq!(Response::decode(&wire[4..]), Ok(status));
}

/// filexfer-02 §4 `SSH_FXP_VERSION` with one extension, as OpenSSH announces it.
#[test]
fn version_by_hand() {
    let version = Response::Version {
        version: 3,
        extensions: vec![(b"fsync@openssh.com".to_vec(), b"1".to_vec())],
    };
    let mut wire = vec![0, 0, 0, 31, 2, 0, 0, 0, 3, 0, 0, 0, 17];
    wire.extend_from_slice(b"fsync@openssh.com");
    wire.extend_from_slice(&[0, 0, 0, 1, b'1']);
    assert_eq!(encoded(&version), wire);
    assert_eq!(Response::decode(&wire[4..]), Ok(version));
}

/// An extended reply carries typed bodies without a length of their own.
#[test]
fn extended_reply_carries_typed_bodies() {
    let limits = LimitsReply {
        max_packet_length: 262_144,
        max_read_length: 261_120,
        max_write_length: 261_120,
        max_open_handles: 1024,
    };
    let reply = Response::ExtendedReply {
        id: 4,
        data: limits.to_bytes(),
    };
    let wire = encoded(&reply);
    assert_eq!(wire.len(), 4 + 1 + 4 + 32);
    let Response::ExtendedReply { data, .. } = Response::decode(&wire[4..]).unwrap() else {
        panic!("not an extended reply");
    };
    assert_eq!(LimitsReply::decode(&data), Ok(limits));
    assert!(StatvfsReply::decode(&data).is_err());
    assert!(UsersGroupsReply::decode(&data).is_err());
}

#[test]
fn status_text_must_be_utf8() {
    let mut w = Writer::new();
    w.u8(101).u32(1).u32(4).string(b"\xc3\x28").string(b"");
    assert_eq!(Response::decode(w.as_slice()), Err(Error::InvalidUtf8));
    let mut w = Writer::new();
    w.u8(101).u32(1).u32(4).string(b"").string(b"\xff");
    assert_eq!(Response::decode(w.as_slice()), Err(Error::InvalidUtf8));
}

/// A status code this crate does not name survives a round trip.
#[test]
fn unknown_status_codes_survive() {
    let mut w = Writer::new();
    w.u8(101).u32(1).u32(31).string(b"quota").string(b"en");
    let status = Response::decode(w.as_slice()).unwrap();
    assert_eq!(
        status,
        Response::Status {
            id: 1,
            code: StatusCode(31),
            message: "quota".into(),
            language: "en".into()
        }
    );
    assert_eq!(&encoded(&status)[4..], w.as_slice());
}

#[test]
fn over_long_handles_are_refused() {
    let mut w = Writer::new();
    w.u8(102).u32(1).string(&[0; MAX_HANDLE_LEN + 1]);
    assert!(matches!(
        Response::decode(w.as_slice()),
        Err(Error::TooLong { .. })
    ));
}

/// A `NAME` count larger than the packet could hold is refused before anything is reserved.
#[test]
fn name_count_beyond_the_packet_is_refused() {
    let wire = [104, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    assert!(matches!(
        Response::decode(&wire),
        Err(Error::Truncated { available: 4, .. })
    ));
}

#[test]
fn unknown_types_keep_their_bytes() {
    let r = Response::decode(&[3, 0, 0, 0, 1]).unwrap();
    assert_eq!(
        r,
        Response::Unknown {
            packet_type: PacketType::OPEN,
            data: vec![0, 0, 0, 1]
        }
    );
    assert_eq!(r.id(), Some(1));
    assert!(Response::decode(&[]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn round_trip(r in response()) {
        let t = tail(&r);
        check(&r, |r, out| r.encode(out), Response::decode, t)?;
        prop_assert_eq!(crate::peek_id(&encoded(&r)[4..]), r.id());
    }
}

proptest! {
    #[test]
    fn data_header_matches_full_encoding(id: u32, data in blob(100)) {
        let mut fast = vec![0x55];
        Response::encode_data_header(id, data.len(), &mut fast);
        prop_assert_eq!(fast.len(), 1 + DATA_HEADER_LEN);
        fast.extend_from_slice(&data);
        let mut full = vec![0x55];
        Response::Data { id, data: data.into() }.encode(&mut full);
        prop_assert_eq!(fast, full);
    }

    #[test]
    fn arbitrary_bytes_never_panic(v in blob(300)) {
        let _ = Response::decode(&v);
    }

    /// Arbitrary bytes behind each response type, so every decoder sees deep input; whatever
    /// decodes re-encodes to something that decodes the same.
    #[test]
    fn arbitrary_bodies_never_panic(
        t in prop_oneof![Just(2u8), 101..=105u8, Just(201u8)],
        v in blob(300),
    ) {
        let mut p = vec![t];
        p.extend_from_slice(&v);
        if let Ok(r) = Response::decode(&p) {
            prop_assert_eq!(Response::decode(&encoded(&r)[4..]).unwrap(), r);
        }
    }

    /// Single-byte corruptions of valid packets.
    #[test]
    fn mutated_packets_never_panic(r in response(), at: prop::sample::Index, byte: u8) {
        let mut v = encoded(&r);
        let payload = &mut v[4..];
        let i = at.index(payload.len());
        payload[i] = byte;
        if let Ok(d) = Response::decode(payload) {
            prop_assert_eq!(Response::decode(&encoded(&d)[4..]).unwrap(), d);
        }
    }
}

/// The strategy reaches every variant, so the round trip above covers each of them.
#[test]
fn strategy_generates_every_variant() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::HashSet;

    let mut runner = TestRunner::deterministic();
    let mut seen = HashSet::new();
    for _ in 0..1000 {
        let r = response().new_tree(&mut runner).unwrap().current();
        seen.insert(core::mem::discriminant(&r));
    }
    assert_eq!(seen.len(), 8);
}

/// A DATA's header decodes from every prefix that holds it; nothing else passes for one.
#[test]
fn a_data_header_decodes_from_any_prefix_that_holds_it() {
    let data = Response::Data {
        id: 77,
        data: vec![5; 40_000].into(),
    };
    let frame = encoded(&data);
    for cut in 0..DATA_HEADER_LEN + 10 {
        let h = DataHeader::decode(&frame[..cut], crate::MAX_PACKET);
        if cut < DATA_HEADER_LEN {
            assert_eq!(h, None, "{cut}");
        } else {
            assert_eq!(
                h,
                Some(DataHeader {
                    id: 77,
                    data_len: 40_000
                })
            );
        }
    }
    // Over the packet limit, another type, or a length that does not count exactly the
    // header and the data: left to the ordinary decoder.
    assert_eq!(DataHeader::decode(&frame, 1000), None);
    let handle = encoded(&Response::Handle {
        id: 77,
        handle: vec![1; 8],
    });
    assert_eq!(DataHeader::decode(&handle, crate::MAX_PACKET), None);
    let mut longer = frame.clone();
    longer[3] = longer[3].wrapping_add(1);
    assert_eq!(DataHeader::decode(&longer, crate::MAX_PACKET), None);
}

proptest! {
    /// Random bytes never panic the DATA header decoder, and what it accepts starts a DATA.
    #[test]
    fn data_header_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if DataHeader::decode(&bytes, crate::MAX_PACKET).is_some() {
            prop_assert_eq!(bytes.get(4), Some(&crate::PacketType::DATA.0));
        }
    }
}
