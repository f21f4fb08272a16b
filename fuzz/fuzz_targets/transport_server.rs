//! Fuzzes a server `Transport` engine with the input as the client's bytes.
//!
//! Input layout (see `sshwire_fuzz::EngineInput`): `byte flags` (bit 0: put a valid client
//! identification line in front of the stream so the fuzzer starts past it), `byte n`, `n`
//! big-endian `u16` offsets where the stream is split into separate `handle_input` calls, then
//! the stream. The engine has fixed Ed25519 and ECDSA host keys and a fixed random generator,
//! so the seeds that `make_corpus` records from a real client carry the fuzzer through key
//! exchange into encrypted packets, service requests and upper-layer messages.
//!
//! This reaches the identification parser, the plaintext and encrypted packet layers,
//! `KEXINIT` and negotiation, every key exchange init message, `NEWKEYS`, `EXT_INFO`,
//! `IGNORE`/`DEBUG`/`UNIMPLEMENTED`/`DISCONNECT`, service requests and decompression.
//!
//! Checked: nothing panics; `handle_input` never claims more bytes than it was given; after an
//! error every entry point returns that same error and nothing more is queued to send.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_fuzz::{EngineInput, drive, engine_config, server_engine};

fuzz_target!(|data: &[u8]| {
    let Some(input) = EngineInput::parse(data) else {
        return;
    };
    let mut server = server_engine(engine_config());
    drive(&mut server, false, &input);
});
