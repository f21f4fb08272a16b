//! Proptest strategies for every value of the codec, and the round-trip check the tests share.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::{
    Attrs, ExtendedRequest, Frame, MAX_HANDLE_LEN, MAX_PACKET, NameEntry, OpenFlags, Owner,
    PacketType, Request, Response, StatusCode, Times, decode_frame,
};

/// Arbitrary bytes, up to `max` of them.
pub fn blob(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// A path: arbitrary bytes, not necessarily UTF-8.
pub fn path() -> impl Strategy<Value = Vec<u8>> {
    blob(24)
}

/// A handle within the limit, sometimes exactly at it.
pub fn handle() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => blob(16),
        1 => proptest::collection::vec(any::<u8>(), MAX_HANDLE_LEN..=MAX_HANDLE_LEN),
    ]
}

/// Name/data pairs, as in `ATTRS` and in `INIT`/`VERSION`.
pub fn pairs() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    proptest::collection::vec((blob(12), blob(12)), 0..3)
}

/// Attributes with any combination of fields.
pub fn attrs() -> impl Strategy<Value = Attrs> {
    (
        any::<Option<u64>>(),
        any::<Option<(u32, u32)>>(),
        any::<Option<u32>>(),
        any::<Option<(u32, u32)>>(),
        pairs(),
    )
        .prop_map(|(size, owner, permissions, times, extended)| Attrs {
            size,
            owner: owner.map(|(uid, gid)| Owner { uid, gid }),
            permissions,
            times: times.map(|(atime, mtime)| Times { atime, mtime }),
            extended,
        })
}

/// An extended request name that none of the typed variants claims.
fn unknown_extension_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "x-[a-z0-9@.-]{0,20}".prop_map(String::into_bytes),
        // Not UTF-8: names are bytes.
        blob(8).prop_map(|mut b| {
            b.insert(0, 0xff);
            b
        }),
    ]
}

/// Every kind of extended request.
pub fn extended_request() -> impl Strategy<Value = ExtendedRequest> {
    use ExtendedRequest as E;
    let ids = || proptest::collection::vec(any::<u32>(), 0..5);
    prop_oneof![
        (path(), path()).prop_map(|(old_path, new_path)| E::PosixRename { old_path, new_path }),
        path().prop_map(|path| E::Statvfs { path }),
        handle().prop_map(|handle| E::Fstatvfs { handle }),
        (path(), path()).prop_map(|(old_path, new_path)| E::Hardlink { old_path, new_path }),
        handle().prop_map(|handle| E::Fsync { handle }),
        (path(), attrs()).prop_map(|(path, attrs)| E::Lsetstat { path, attrs }),
        Just(E::Limits),
        path().prop_map(|path| E::ExpandPath { path }),
        (handle(), any::<u64>(), any::<u64>(), handle(), any::<u64>()).prop_map(
            |(rh, ro, rl, wh, wo)| E::CopyData {
                read_handle: rh,
                read_offset: ro,
                read_length: rl,
                write_handle: wh,
                write_offset: wo,
            }
        ),
        blob(12).prop_map(|username| E::HomeDirectory { username }),
        (ids(), ids()).prop_map(|(uids, gids)| E::UsersGroupsById { uids, gids }),
        (unknown_extension_name(), blob(24)).prop_map(|(name, data)| E::Unknown { name, data }),
    ]
}

/// A packet type that is neither a request nor a response.
fn foreign_type() -> impl Strategy<Value = PacketType> {
    any::<u8>()
        .prop_filter("not a known type", |t| PacketType(*t).name().is_none())
        .prop_map(PacketType)
}

/// Every kind of request, `Unknown` with a type that is not a request.
pub fn request() -> impl Strategy<Value = Request> {
    use Request as R;
    let id = any::<u32>;
    let flags = any::<u32>().prop_map(OpenFlags);
    let non_request = prop_oneof![
        foreign_type(),
        prop_oneof![Just(2u8), 101..=105u8, Just(201u8)].prop_map(PacketType),
    ];
    prop_oneof![
        (any::<u32>(), pairs()).prop_map(|(version, extensions)| R::Init {
            version,
            extensions
        }),
        (id(), path(), flags, attrs()).prop_map(|(id, path, flags, attrs)| R::Open {
            id,
            path,
            flags,
            attrs
        }),
        (id(), handle()).prop_map(|(id, handle)| R::Close { id, handle }),
        (id(), handle(), any::<u64>(), any::<u32>()).prop_map(|(id, handle, offset, len)| {
            R::Read {
                id,
                handle,
                offset,
                len,
            }
        }),
        (id(), handle(), any::<u64>(), blob(64)).prop_map(|(id, handle, offset, data)| {
            R::Write {
                id,
                handle,
                offset,
                data: data.into(),
            }
        }),
        (id(), path()).prop_map(|(id, path)| R::Lstat { id, path }),
        (id(), handle()).prop_map(|(id, handle)| R::Fstat { id, handle }),
        (id(), path(), attrs()).prop_map(|(id, path, attrs)| R::Setstat { id, path, attrs }),
        (id(), handle(), attrs()).prop_map(|(id, handle, attrs)| R::Fsetstat { id, handle, attrs }),
        (id(), path()).prop_map(|(id, path)| R::Opendir { id, path }),
        (id(), handle()).prop_map(|(id, handle)| R::Readdir { id, handle }),
        (id(), path()).prop_map(|(id, path)| R::Remove { id, path }),
        (id(), path(), attrs()).prop_map(|(id, path, attrs)| R::Mkdir { id, path, attrs }),
        (id(), path()).prop_map(|(id, path)| R::Rmdir { id, path }),
        (id(), path()).prop_map(|(id, path)| R::Realpath { id, path }),
        (id(), path()).prop_map(|(id, path)| R::Stat { id, path }),
        (id(), path(), path()).prop_map(|(id, old_path, new_path)| R::Rename {
            id,
            old_path,
            new_path
        }),
        (id(), path()).prop_map(|(id, path)| R::Readlink { id, path }),
        (id(), path(), path()).prop_map(|(id, link_path, target_path)| R::Symlink {
            id,
            link_path,
            target_path
        }),
        (id(), extended_request()).prop_map(|(id, request)| R::Extended { id, request }),
        (non_request, blob(24)).prop_map(|(packet_type, data)| R::Unknown { packet_type, data }),
    ]
}

/// A name entry.
pub fn name_entry() -> impl Strategy<Value = NameEntry> {
    (path(), blob(40), attrs()).prop_map(|(filename, longname, attrs)| NameEntry {
        filename,
        longname,
        attrs,
    })
}

/// Every kind of response, `Unknown` with a type that is not a response.
pub fn response() -> impl Strategy<Value = Response> {
    use Response as R;
    let id = any::<u32>;
    let non_response = prop_oneof![
        foreign_type(),
        prop_oneof![Just(1u8), 3..=20u8, Just(200u8)].prop_map(PacketType),
    ];
    prop_oneof![
        (any::<u32>(), pairs()).prop_map(|(version, extensions)| R::Version {
            version,
            extensions
        }),
        (id(), any::<u32>(), ".{0,20}", "[a-zA-Z-]{0,8}").prop_map(
            |(id, code, message, language)| R::Status {
                id,
                code: StatusCode(code),
                message,
                language,
            }
        ),
        (id(), handle()).prop_map(|(id, handle)| R::Handle { id, handle }),
        (id(), blob(64)).prop_map(|(id, data)| R::Data {
            id,
            data: data.into()
        }),
        (id(), proptest::collection::vec(name_entry(), 0..4))
            .prop_map(|(id, entries)| R::Name { id, entries }),
        (id(), attrs()).prop_map(|(id, attrs)| R::Attrs { id, attrs }),
        (id(), blob(64)).prop_map(|(id, data)| R::ExtendedReply { id, data }),
        (non_response, blob(24)).prop_map(|(packet_type, data)| R::Unknown { packet_type, data }),
    ]
}

/// How a packet's fields end, which decides what a cut or an extra byte may decode to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Every field is counted: a strict prefix fails, and so does an extra byte.
    Fixed,
    /// Ends in name/data pairs read to the end (`INIT`, `VERSION`): a prefix cut between two
    /// pairs decodes (to fewer pairs), an extra byte fails.
    Pairs,
    /// Ends in bytes read to the end (unknown packets and extended requests, extended replies):
    /// prefixes and extra bytes decode, to other values.
    Raw,
}

/// Checks one encoded value: framing, decode(encode(x)) == x, every cut of the payload, every
/// cut of the frame, and one byte too many.
pub fn check<T: PartialEq + core::fmt::Debug>(
    value: &T,
    encode: impl Fn(&T, &mut Vec<u8>),
    decode: impl Fn(&[u8]) -> Result<T, sshwire_wire::Error>,
    tail: Tail,
) -> Result<(), TestCaseError> {
    let mut framed = vec![0xee];
    encode(value, &mut framed);
    let framed = &framed[1..];
    let Ok(Frame::Complete { payload, consumed }) = decode_frame(framed, MAX_PACKET) else {
        return Err(TestCaseError::fail("encode did not write one whole frame"));
    };
    prop_assert_eq!(consumed, framed.len());
    prop_assert_eq!(&decode(payload).unwrap(), value);

    // A stream cut anywhere inside the frame is never a whole packet.
    for cut in 0..framed.len() {
        let frame = decode_frame(&framed[..cut], MAX_PACKET);
        prop_assert!(
            matches!(frame, Ok(Frame::Incomplete { .. })),
            "frame cut at {} gave {:?}",
            cut,
            frame
        );
    }
    // A payload cut anywhere is an error (not a panic), or for open-ended packets something
    // other than the value.
    for cut in 0..payload.len() {
        match decode(&payload[..cut]) {
            Err(_) => {}
            Ok(d) => {
                prop_assert!(tail != Tail::Fixed, "cut at {} decoded: {:?}", cut, d);
                prop_assert_ne!(&d, value);
            }
        }
    }
    let mut longer = payload.to_vec();
    longer.push(0);
    match decode(&longer) {
        Err(_) => prop_assert!(tail != Tail::Raw, "a trailing byte was refused"),
        Ok(d) => {
            prop_assert!(tail == Tail::Raw, "a trailing byte was accepted: {:?}", d);
            prop_assert_ne!(&d, value);
        }
    }
    Ok(())
}
