//! Structure-aware packet round trip: seal an arbitrary payload, flip arbitrary bits, open.
//!
//! For every packet protection (fixed keys): with no bit flipped, `open` must return exactly
//! the packet that `seal` wrote (all of it consumed) carrying the original payload. With bits
//! flipped, a protected packet (AEAD or MAC) must be refused or still be incomplete; it must
//! never open. Plaintext packets have no integrity, so there only the bounds are checked.
//! Sealing a payload twice under the same sequence number and opening both in a row (the
//! second with the next number) must fail for the replay under every protection but
//! plaintext.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sshwire_fuzz::{FuzzRng, opener, sealer, suites};

#[derive(Arbitrary, Debug)]
struct Case {
    suite: u8,
    seq: u32,
    padding_seed: u64,
    payload: Vec<u8>,
    flips: Vec<(u16, u8)>,
    replay: bool,
}

const MAX_PACKET_LEN: usize = 256 * 1024 + 1024;

fuzz_target!(|case: Case| {
    let all = suites();
    let suite = all[usize::from(case.suite) % all.len()];
    let mut s = sealer(suite);
    let mut rng = FuzzRng::new(case.padding_seed);
    let mut wire = Vec::new();
    s.seal(case.seq, &case.payload, &mut rng, &mut wire)
        .expect("sealing a payload below the packet limit");
    assert_eq!(
        wire.len(),
        case.payload.len() + s.overhead(case.payload.len())
    );
    let sealed_len = wire.len();

    let original = wire.clone();
    for &(at, bit) in &case.flips {
        let at = usize::from(at) % wire.len();
        wire[at] ^= 1 << (bit % 8);
    }
    let tampered = wire != original;

    let mut o = opener(suite);
    let result = o.open(case.seq, &mut wire, MAX_PACKET_LEN);
    if !tampered {
        let opened = result
            .expect("an untouched packet opens")
            .expect("and is complete");
        assert_eq!(opened.consumed, sealed_len);
        assert_eq!(&wire[opened.payload.clone()], &case.payload[..]);
        if case.replay && suite.is_some() {
            // The same packet again: the receiver is at the next sequence number.
            let mut again = original.clone();
            let r = o.open(case.seq.wrapping_add(1), &mut again, MAX_PACKET_LEN);
            assert!(!matches!(r, Ok(Some(_))), "a replayed packet opened: {r:?}");
        }
    } else {
        match result {
            Ok(Some(opened)) => {
                assert!(suite.is_none(), "a tampered packet opened under {suite:?}");
                assert!(opened.consumed <= wire.len());
                assert!(opened.payload.end <= opened.consumed);
            }
            Ok(None) | Err(_) => {}
        }
    }
});
