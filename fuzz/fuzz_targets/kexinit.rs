//! Fuzzes `KexInit::decode` (an `SSH_MSG_KEXINIT` payload, message number first).
//!
//! When decoding succeeds, `encode` must give back the input, except for the one field the
//! codec normalises: the `first_kex_packet_follows` boolean (any non-zero byte reads as true
//! and is written as 1). Decoding the re-encoding must give the same `KexInit`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_transport::kexinit::KexInit;
use sshwire_wire::Writer;

fuzz_target!(|input: &[u8]| {
    let Ok(k) = KexInit::decode(input) else {
        return;
    };
    let mut w = Writer::new();
    k.encode(&mut w);
    let encoded = w.into_vec();

    let mut expected = input.to_vec();
    assert_eq!(expected[0], 20, "decode accepted another message number");
    // The boolean is followed by the 4-byte reserved field and nothing else.
    let bool_at = expected.len() - 5;
    expected[bool_at] = u8::from(expected[bool_at] != 0);
    assert_eq!(encoded, expected);
    assert_eq!(KexInit::decode(&encoded), Ok(k));
});
