//! Fuzzes `PacketOpener::open` on arbitrary bytes, for every packet protection.
//!
//! Input: `byte suite` (plaintext, ChaCha20-Poly1305, AES-GCM, or AES-CTR with each MAC, all
//! keyed with fixed keys), `byte step`, `uint32 seq`, `byte max_len selector`, then the
//! received bytes. Checked:
//! - `open` never panics, and every packet it returns lies inside the buffer: `consumed` is
//!   non-zero and at most what is left, and the payload range lies inside the packet after the
//!   length and padding-length fields;
//! - packets are opened one after another until the opener needs more bytes or fails; after a
//!   failure it stays failed (`Poisoned`);
//! - feeding the first packet in growing prefixes (`step` bytes more each call, as a socket
//!   would deliver it) gives the same result as one call with the whole buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_fuzz::{opener, suites};
use sshwire_transport::cipher::{Opened, PacketError};

const MAX_LENS: [usize; 4] = [35_000, 256 * 1024 + 1024, 64, 0];

fn check_opened(o: &Opened, available: usize) {
    assert!(
        o.consumed > 0 && o.consumed <= available,
        "{o:?} of {available}"
    );
    assert!(o.payload.start == 5, "{o:?}");
    assert!(
        o.payload.start <= o.payload.end && o.payload.end <= o.consumed,
        "{o:?}"
    );
}

fuzz_target!(|input: &[u8]| {
    let [suite, step, s0, s1, s2, s3, max_sel, data @ ..] = input else {
        return;
    };
    let all = suites();
    let suite = all[usize::from(*suite) % all.len()];
    let step = usize::from(*step).max(1);
    let seq = u32::from_be_bytes([*s0, *s1, *s2, *s3]);
    let max_len = MAX_LENS[usize::from(*max_sel) % MAX_LENS.len()];

    // The whole buffer at once, packet after packet.
    let mut whole = data.to_vec();
    let mut o = opener(suite);
    let mut pos = 0;
    let mut first: Option<Result<Option<Opened>, PacketError>> = None;
    for i in 0u32.. {
        let r = o.open(seq.wrapping_add(i), &mut whole[pos..], max_len);
        if first.is_none() {
            first = Some(r.clone());
        }
        match r {
            Ok(Some(opened)) => {
                check_opened(&opened, whole.len() - pos);
                pos += opened.consumed;
            }
            Ok(None) => break,
            Err(e) => {
                assert_ne!(e, PacketError::Poisoned);
                assert_eq!(
                    o.open(seq.wrapping_add(i), &mut whole[pos..], max_len),
                    Err(PacketError::Poisoned)
                );
                break;
            }
        }
    }
    let first = first.expect("at least one call");

    // The first packet again, in growing prefixes of one buffer.
    let mut grown = data.to_vec();
    let mut o = opener(suite);
    let mut len = 0;
    let incremental = loop {
        len = (len + step).min(grown.len());
        match o.open(seq, &mut grown[..len], max_len) {
            Ok(None) if len < grown.len() => continue,
            r => break r,
        }
    };
    assert_eq!(incremental, first);
    if let Ok(Some(opened)) = &first {
        assert_eq!(
            whole[opened.payload.clone()],
            grown[opened.payload.clone()],
            "payload differs when the packet arrives in pieces"
        );
    }
});
