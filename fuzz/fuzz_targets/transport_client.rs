//! Fuzzes a client `Transport` engine with the input as the server's bytes.
//!
//! Input layout (see `sshwire_fuzz::EngineInput`): `byte flags` (bit 0: put a valid server
//! identification line in front of the stream so the fuzzer starts past it), `byte n`, `n`
//! big-endian `u16` offsets where the stream is split into separate `handle_input` calls, then
//! the stream. The client uses a fixed random generator, queues an `ssh-userauth`
//! service request from the start and trusts any host key, so the seeds
//! that `make_corpus` records from a real server carry the fuzzer through key exchange
//! (signature verification included) into encrypted packets.
//!
//! This reaches the banner and identification parser, the plaintext and encrypted packet
//! layers, `KEXINIT` and negotiation, every key exchange reply (host key blobs, signatures,
//! group exchange groups), `NEWKEYS`, `EXT_INFO`, service accepts and decompression.
//!
//! Checked: nothing panics; `handle_input` never claims more bytes than it was given; after an
//! error every entry point returns that same error and nothing more is queued to send.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_fuzz::{EngineInput, client_engine, drive, engine_config};

fuzz_target!(|data: &[u8]| {
    let Some(input) = EngineInput::parse(data) else {
        return;
    };
    let mut client = client_engine(engine_config());
    drive(&mut client, true, &input);
});
