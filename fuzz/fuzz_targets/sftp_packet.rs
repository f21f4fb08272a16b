//! Fuzzes the SFTP packet codec: `decode_frame` on the input as a stream, and `Request::decode`
//! (in both `SYMLINK` orders), `Response::decode` and the typed extended replies on the input as
//! one packet payload (type byte first).
//!
//! Framing must stay inside the buffer and within the limit. Whatever decodes must encode to one
//! whole frame that decodes to the same value; the request id `peek_id` reads from the input
//! must be the decoded value's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_sftp::{
    Frame, LimitsReply, MAX_PACKET, Request, Response, StatvfsReply, SymlinkOrder,
    UsersGroupsReply, decode_frame, peek_id,
};

/// The payload of the one whole frame in `encoded`.
fn only_payload(encoded: &[u8]) -> &[u8] {
    match decode_frame(encoded, u32::MAX) {
        Ok(Frame::Complete { payload, consumed }) => {
            assert_eq!(consumed, encoded.len(), "encode wrote more than one frame");
            payload
        }
        other => panic!("encode did not write a whole frame: {other:?}"),
    }
}

fn frames(mut stream: &[u8]) {
    loop {
        match decode_frame(stream, MAX_PACKET) {
            Ok(Frame::Complete { payload, consumed }) => {
                assert!(consumed <= stream.len());
                assert_eq!(payload.len() + 4, consumed);
                assert!(!payload.is_empty() && payload.len() <= MAX_PACKET as usize);
                stream = &stream[consumed..];
            }
            Ok(Frame::Incomplete { needed }) => {
                assert!(needed > stream.len());
                assert!(needed <= MAX_PACKET as usize + 4);
                return;
            }
            Err(_) => return,
        }
    }
}

fn requests(input: &[u8]) {
    for order in [SymlinkOrder::OpenSsh, SymlinkOrder::Draft] {
        let Ok(request) = Request::decode_with(input, order) else {
            continue;
        };
        assert_eq!(request.packet_type().0, input[0]);
        assert_eq!(request.id(), peek_id(input));
        let mut encoded = Vec::new();
        request.encode_with(order, &mut encoded);
        let again = Request::decode_with(only_payload(&encoded), order);
        assert_eq!(again.as_ref(), Ok(&request));
    }
}

fn responses(input: &[u8]) {
    let Ok(response) = Response::decode(input) else {
        return;
    };
    assert_eq!(response.packet_type().0, input[0]);
    assert_eq!(response.id(), peek_id(input));
    let mut encoded = Vec::new();
    response.encode(&mut encoded);
    let again = Response::decode(only_payload(&encoded));
    assert_eq!(again.as_ref(), Ok(&response));
}

fn extended_replies(data: &[u8]) {
    if let Ok(r) = StatvfsReply::decode(data) {
        assert_eq!(r.to_bytes(), data);
    }
    if let Ok(r) = LimitsReply::decode(data) {
        assert_eq!(r.to_bytes(), data);
    }
    if let Ok(r) = UsersGroupsReply::decode(data) {
        assert_eq!(r.to_bytes(), data);
    }
}

fuzz_target!(|input: &[u8]| {
    frames(input);
    requests(input);
    responses(input);
    extended_replies(input);
});
