//! Request codec tests: round trips, truncation, trailing bytes, byte layouts, arbitrary input.

use super::*;
use crate::strategies::{Tail, blob, check, extended_request, request};
use crate::{AttrFlags, MAX_HANDLE_LEN};
use proptest::prelude::*;

fn encoded(r: &Request) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode(&mut out);
    out
}

fn tail(r: &Request) -> Tail {
    match r {
        Request::Init { .. } => Tail::Pairs,
        Request::Unknown { .. }
        | Request::Extended {
            request: ExtendedRequest::Unknown { .. },
            ..
        } => Tail::Raw,
        _ => Tail::Fixed,
    }
}

/// filexfer-02 §6.3 `SSH_FXP_OPEN`, written out by hand.
#[test]
fn open_by_hand() {
    let open = Request::Open {
        id: 1,
        path: b"/tmp/a".to_vec(),
        flags: OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREAT,
        attrs: Attrs {
            permissions: Some(0o644),
            ..Attrs::default()
        },
    };
    #[rustfmt::skip]
    let wire: &[u8] = &[
        0, 0, 0, 27,                              // length
        3,                                        // SSH_FXP_OPEN
        0, 0, 0, 1,                               // id
        0, 0, 0, 6, b'/', b't', b'm', b'p', b'/', b'a', // filename
        0, 0, 0, 0x0b,                            // pflags: READ | WRITE | CREAT
        0, 0, 0, 4,                               // ATTRS flags: PERMISSIONS
        0, 0, 0x01, 0xa4,                         // permissions 0644
    ];
    assert_eq!(encoded(&open), wire);
    assert_eq!(Request::decode(&wire[4..]), Ok(open));
}

/// filexfer-02 §4 `SSH_FXP_INIT` as OpenSSH's client sends it: version 3, no extensions.
#[test]
fn init_by_hand() {
    let init = Request::Init {
        version: crate::VERSION,
        extensions: vec![],
    };
    let wire = [0, 0, 0, 5, 1, 0, 0, 0, 3];
    assert_eq!(encoded(&init), wire);
    assert_eq!(Request::decode(&wire[4..]), Ok(init));
}

/// filexfer-02 §6.4 `SSH_FXP_READ`.
#[test]
fn read_by_hand() {
    let read = Request::Read {
        id: 0x0102_0304,
        handle: b"h1".to_vec(),
        offset: 1 << 32,
        len: 32768,
    };
    #[rustfmt::skip]
    let wire: &[u8] = &[
        0, 0, 0, 23, 5,
        1, 2, 3, 4,
        0, 0, 0, 2, b'h', b'1',
        0, 0, 0, 1, 0, 0, 0, 0,
        0, 0, 0x80, 0,
    ];
    assert_eq!(encoded(&read), wire);
    assert_eq!(Request::decode(&wire[4..]), Ok(read));
}

/// OpenSSH `PROTOCOL` §4.1: OpenSSH puts `targetpath` first; filexfer-02 §6.10 puts
/// `linkpath` first.
#[test]
fn symlink_orders() {
    let symlink = Request::Symlink {
        id: 9,
        link_path: b"link".to_vec(),
        target_path: b"target".to_vec(),
    };
    #[rustfmt::skip]
    let openssh: &[u8] = &[
        0, 0, 0, 23, 20, 0, 0, 0, 9,
        0, 0, 0, 6, b't', b'a', b'r', b'g', b'e', b't',
        0, 0, 0, 4, b'l', b'i', b'n', b'k',
    ];
    #[rustfmt::skip]
    let draft: &[u8] = &[
        0, 0, 0, 23, 20, 0, 0, 0, 9,
        0, 0, 0, 4, b'l', b'i', b'n', b'k',
        0, 0, 0, 6, b't', b'a', b'r', b'g', b'e', b't',
    ];
    assert_eq!(encoded(&symlink), openssh);
    let mut out = Vec::new();
    symlink.encode_with(SymlinkOrder::Draft, &mut out);
    assert_eq!(out, draft);

    assert_eq!(Request::decode(&openssh[4..]).unwrap(), symlink);
    assert_eq!(
        Request::decode_with(&draft[4..], SymlinkOrder::Draft).unwrap(),
        symlink
    );
    // Read in the wrong order, the two paths trade places.
    let Request::Symlink {
        link_path,
        target_path,
        ..
    } = Request::decode(&draft[4..]).unwrap()
    else {
        panic!("not a symlink");
    };
    assert_eq!(
        (&link_path[..], &target_path[..]),
        (&b"target"[..], &b"link"[..])
    );
}

/// OpenSSH `PROTOCOL` §4.12 `users-groups-by-id@openssh.com`: each id list is a `string`.
#[test]
fn users_groups_by_id_by_hand() {
    let req = Request::Extended {
        id: 2,
        request: ExtendedRequest::UsersGroupsById {
            uids: vec![0, 1000],
            gids: vec![],
        },
    };
    let mut wire = vec![0, 0, 0, 55, 200, 0, 0, 0, 2, 0, 0, 0, 30];
    wire.extend_from_slice(b"users-groups-by-id@openssh.com");
    wire.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 0]);
    assert_eq!(encoded(&req), wire);
    assert_eq!(Request::decode(&wire[4..]), Ok(req));
}

/// OpenSSH `PROTOCOL` §4.10 `copy-data`.
#[test]
fn copy_data_by_hand() {
    let req = Request::Extended {
        id: 7,
        request: ExtendedRequest::CopyData {
            read_handle: b"r".to_vec(),
            read_offset: 1,
            read_length: 0,
            write_handle: b"w".to_vec(),
            write_offset: 2,
        },
    };
    let mut wire = vec![0, 0, 0, 52, 200, 0, 0, 0, 7, 0, 0, 0, 9];
    wire.extend_from_slice(b"copy-data");
    #[rustfmt::skip]
    wire.extend_from_slice(&[
        0, 0, 0, 1, b'r',
        0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 1, b'w',
        0, 0, 0, 0, 0, 0, 0, 2,
    ]);
    assert_eq!(encoded(&req), wire);
    assert_eq!(Request::decode(&wire[4..]), Ok(req));
}

#[test]
fn known_extensions_with_bad_data_are_refused() {
    let extended = |name: &str, data: &[u8]| {
        let mut w = Writer::new();
        w.u8(200).u32(1).string(name.as_bytes()).raw(data);
        Request::decode(w.as_slice())
    };
    // limits@openssh.com has no data.
    assert_eq!(
        extended(ExtendedRequest::LIMITS, &[0]),
        Err(Error::TrailingData(1))
    );
    // An id list whose length is not a multiple of four.
    assert!(
        extended(
            ExtendedRequest::USERS_GROUPS_BY_ID,
            &[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
        )
        .is_err()
    );
    for name in [
        ExtendedRequest::POSIX_RENAME,
        ExtendedRequest::STATVFS,
        ExtendedRequest::FSTATVFS,
        ExtendedRequest::HARDLINK,
        ExtendedRequest::FSYNC,
        ExtendedRequest::LSETSTAT,
        ExtendedRequest::EXPAND_PATH,
        ExtendedRequest::COPY_DATA,
        ExtendedRequest::HOME_DIRECTORY,
        ExtendedRequest::USERS_GROUPS_BY_ID,
    ] {
        assert!(extended(name, &[]).is_err(), "{name} without data");
        assert!(extended(name, &[0, 0, 0, 9]).is_err(), "{name} truncated");
    }
}

#[test]
fn unknown_extensions_keep_their_data() {
    let mut w = Writer::new();
    w.u8(200)
        .u32(5)
        .string(b"foo@example.com")
        .raw(b"\x00\x01anything");
    assert_eq!(
        Request::decode(w.as_slice()),
        Ok(Request::Extended {
            id: 5,
            request: ExtendedRequest::Unknown {
                name: b"foo@example.com".to_vec(),
                data: b"\x00\x01anything".to_vec(),
            },
        })
    );
}

#[test]
fn over_long_handles_are_refused() {
    let long = vec![b'h'; MAX_HANDLE_LEN + 1];
    let mut w = Writer::new();
    w.u8(PacketType::CLOSE.0).u32(1).string(&long);
    assert!(matches!(
        Request::decode(w.as_slice()),
        Err(Error::TooLong { .. })
    ));
    let mut w = Writer::new();
    w.u8(PacketType::CLOSE.0).u32(1).string(&long[1..]);
    assert!(Request::decode(w.as_slice()).is_ok());
}

#[test]
fn unknown_attribute_flags_are_refused() {
    let mut w = Writer::new();
    w.u8(PacketType::SETSTAT.0)
        .u32(1)
        .string(b"p")
        .u32(AttrFlags::SIZE.0 | 0x100)
        .u64(0);
    assert_eq!(
        Request::decode(w.as_slice()),
        Err(Error::Invalid("unknown SFTP attribute flags"))
    );
}

#[test]
fn unknown_types_keep_their_id() {
    let req = Request::decode(&[21, 0, 0, 0, 42, 1, 2]).unwrap();
    assert_eq!(
        req,
        Request::Unknown {
            packet_type: PacketType(21),
            data: vec![0, 0, 0, 42, 1, 2]
        }
    );
    assert_eq!(req.id(), Some(42));
    assert_eq!(Request::decode(&[101, 0]).unwrap().id(), None);
    assert!(Request::decode(&[]).is_err());
}

#[test]
fn ids() {
    assert_eq!(
        Request::Init {
            version: 3,
            extensions: vec![]
        }
        .id(),
        None
    );
    assert_eq!(
        Request::Rmdir {
            id: 77,
            path: vec![]
        }
        .id(),
        Some(77)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn round_trip(r in request()) {
        let t = tail(&r);
        check(&r, |r, out| r.encode(out), Request::decode, t)?;
        prop_assert_eq!(crate::peek_id(&encoded(&r)[4..]), r.id());
    }

    #[test]
    fn round_trip_draft_symlink_order(r in request()) {
        let t = tail(&r);
        check(
            &r,
            |r, out| r.encode_with(SymlinkOrder::Draft, out),
            |p| Request::decode_with(p, SymlinkOrder::Draft),
            t,
        )?;
    }
}

proptest! {
    #[test]
    fn extended_names_are_consistent(e in extended_request()) {
        let r = Request::Extended { id: 1, request: e.clone() };
        let Request::Extended { request, .. } = Request::decode(&encoded(&r)[4..]).unwrap() else {
            panic!("not extended");
        };
        prop_assert_eq!(request.name(), e.name());
    }

    #[test]
    fn write_header_matches_full_encoding(
        id: u32,
        handle in blob(40),
        offset: u64,
        data in blob(100),
    ) {
        let mut fast = vec![0x55];
        Request::encode_write_header(id, &handle, offset, data.len(), &mut fast);
        prop_assert_eq!(fast.len(), 1 + Request::write_header_len(handle.len()));
        fast.extend_from_slice(&data);
        let mut full = vec![0x55];
        Request::Write { id, handle, offset, data: data.into() }.encode(&mut full);
        prop_assert_eq!(fast, full);
    }

    #[test]
    fn arbitrary_bytes_never_panic(v in blob(300)) {
        let _ = Request::decode(&v);
        let _ = Request::decode_with(&v, SymlinkOrder::Draft);
    }

    /// Arbitrary bytes behind each request type, so every decoder sees deep input; whatever
    /// decodes re-encodes to something that decodes the same.
    #[test]
    fn arbitrary_bodies_never_panic(
        t in prop_oneof![1..=20u8, Just(200u8)],
        v in blob(300),
    ) {
        let mut p = vec![t];
        p.extend_from_slice(&v);
        if let Ok(r) = Request::decode(&p) {
            prop_assert_eq!(Request::decode(&encoded(&r)[4..]).unwrap(), r);
        }
    }

    /// Single-byte corruptions of valid packets.
    #[test]
    fn mutated_packets_never_panic(r in request(), at: prop::sample::Index, byte: u8) {
        let mut v = encoded(&r);
        let payload = &mut v[4..];
        let i = at.index(payload.len());
        payload[i] = byte;
        if let Ok(d) = Request::decode(payload) {
            prop_assert_eq!(Request::decode(&encoded(&d)[4..]).unwrap(), d);
        }
    }
}

/// The strategies reach every variant, so the round trips above cover each of them.
#[test]
fn strategies_generate_every_variant() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::HashSet;

    let mut runner = TestRunner::deterministic();
    let mut requests = HashSet::new();
    let mut extended = HashSet::new();
    for _ in 0..4000 {
        let r = request().new_tree(&mut runner).unwrap().current();
        if let Request::Extended { request, .. } = &r {
            extended.insert(core::mem::discriminant(request));
        }
        requests.insert(core::mem::discriminant(&r));
    }
    // 21 request variants (Unknown included), 12 extended request variants (Unknown included).
    assert_eq!(requests.len(), 21);
    assert_eq!(extended.len(), 12);
}

/// A WRITE's header decodes from every prefix that holds it, gives back the request whole
/// with its data, and nothing else passes for one.
#[test]
fn a_write_header_decodes_from_any_prefix_that_holds_it() {
    let data: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    let write = Request::Write {
        id: 9,
        handle: b"handle-7".to_vec(),
        offset: 1 << 33,
        data: data.clone().into(),
    };
    let frame = encoded(&write);
    let header_len = 4 + 1 + 4 + (4 + 8) + 8 + 4;
    for cut in 0..header_len + 10 {
        let h = crate::WriteHeader::decode(&frame[..cut], crate::MAX_PACKET);
        if cut < header_len {
            assert_eq!(h, None, "{cut}");
            continue;
        }
        let h = h.unwrap();
        assert_eq!((h.header_len, h.data_len), (header_len, data.len()));
        assert_eq!(h.into_request(data.clone()), write);
    }
    // Over the packet limit, another type, or a length that does not count exactly the
    // fields and the data: left to the ordinary decoder.
    assert_eq!(crate::WriteHeader::decode(&frame, 1000), None);
    let read = encoded(&Request::Read {
        id: 9,
        handle: b"handle-7".to_vec(),
        offset: 0,
        len: 70_000,
    });
    assert_eq!(crate::WriteHeader::decode(&read, crate::MAX_PACKET), None);
    let mut longer = frame.clone();
    longer[3] = longer[3].wrapping_add(1);
    assert_eq!(crate::WriteHeader::decode(&longer, crate::MAX_PACKET), None);
}

proptest! {
    /// Random bytes never panic the header decoder, and what it accepts is a real WRITE frame
    /// start.
    #[test]
    fn write_header_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Some(h) = crate::WriteHeader::decode(&bytes, crate::MAX_PACKET) {
            prop_assert!(h.header_len <= bytes.len());
            prop_assert_eq!(bytes.get(4), Some(&crate::PacketType::WRITE.0));
        }
    }
}
