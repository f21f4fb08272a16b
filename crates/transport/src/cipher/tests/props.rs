//! Property tests: arbitrary input never panics, arbitrary payloads round-trip.

use proptest::prelude::*;

use super::{CountingRng, MAX, combos, keys, pair};
use crate::cipher::PacketOpener;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(
        which in 0usize..22,
        seq in any::<u32>(),
        max in 0usize..2 * MAX,
        mut bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let cases = combos();
        let mut opener = match cases.get(which) {
            Some(&(c, m)) => PacketOpener::new(c, m, &keys(c, m)).unwrap(),
            None => PacketOpener::plaintext(),
        };
        // Grow the buffer in steps, as a reader would, until an error or the end.
        let mut end = 0;
        let mut start = 0;
        while end < bytes.len() {
            end = (end + 1 + bytes.len() / 7).min(bytes.len());
            match opener.open(seq, &mut bytes[start..end], max) {
                Ok(Some(opened)) => {
                    prop_assert!(opened.consumed <= end - start);
                    prop_assert!(opened.payload.end <= opened.consumed);
                    start += opened.consumed;
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
    }

    #[test]
    fn arbitrary_payloads_round_trip(
        which in 0usize..21,
        seq in any::<u32>(),
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2000), 1..4),
    ) {
        let (cipher, mac) = combos()[which];
        let (mut sealer, mut opener) = pair(cipher, mac);
        let mut rng = CountingRng(seq as u8);
        let mut wire = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            sealer.seal(seq.wrapping_add(i as u32), p, &mut rng, &mut wire).unwrap();
        }
        let mut at = 0;
        for (i, p) in payloads.iter().enumerate() {
            let opened = opener.open(seq.wrapping_add(i as u32), &mut wire[at..], MAX).unwrap().unwrap();
            prop_assert_eq!(&wire[at..][opened.payload], &p[..]);
            at += opened.consumed;
        }
        prop_assert_eq!(at, wire.len());
    }
}
