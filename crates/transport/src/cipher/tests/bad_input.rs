//! Malformed, truncated and tampered packets.

use super::super::{CipherAlg, MacAlg, PacketError, PacketOpener, PacketSealer};
use super::{MAX, combos, keys, open_fresh, pair, pattern, seal_one};

/// Every combination plus the unencrypted state.
fn all_cases() -> Vec<Option<(CipherAlg, Option<MacAlg>)>> {
    let mut cases: Vec<_> = combos().into_iter().map(Some).collect();
    cases.push(None);
    cases
}

fn sealer_for(case: Option<(CipherAlg, Option<MacAlg>)>) -> PacketSealer {
    match case {
        Some((c, m)) => pair(c, m).0,
        None => PacketSealer::plaintext(),
    }
}

fn opener_for(case: Option<(CipherAlg, Option<MacAlg>)>) -> PacketOpener {
    match case {
        Some((c, m)) => PacketOpener::new(c, m, &keys(c, m)).unwrap(),
        None => PacketOpener::plaintext(),
    }
}

/// A packet whose (possibly encrypted) length field announces `target` instead: the length is
/// either in clear or XOR-encrypted, so XOR-ing the difference sets it.
fn with_length(case: Option<(CipherAlg, Option<MacAlg>)>, target: u32) -> Vec<u8> {
    let payload = pattern(0, 40);
    let mut sealer = sealer_for(case);
    let mut wire = seal_one(&mut sealer, 5, &payload);
    let actual = (1 + payload.len() + sealer.overhead(payload.len())
        - 5
        - opener_for(case).mac_len()) as u32;
    let diff = (actual ^ target).to_be_bytes();
    for (b, d) in wire.iter_mut().zip(diff) {
        *b ^= d;
    }
    wire
}

#[test]
fn bad_lengths_refused_from_the_first_four_bytes() {
    for case in all_cases() {
        let sealer = sealer_for(case);
        let unit = sealer.block_size() as u32;
        let unaligned = 2 * unit + 1;
        for target in [
            0,
            1,
            4,
            0xFFFF_FFFF,
            MAX as u32 + 1,
            MAX as u32 + 8,
            unaligned,
        ] {
            let wire = with_length(case, target);
            let mut opener = opener_for(case);
            // Only the length has arrived: the error comes before waiting for the rest.
            let mut head = wire[..4].to_vec();
            assert_eq!(
                opener.open(5, &mut head, MAX),
                Err(PacketError::BadLength(target)),
                "{case:?} {target}"
            );
            assert_eq!(opener.open(5, &mut head, MAX), Err(PacketError::Poisoned));
        }
    }
}

#[test]
fn length_over_callers_limit() {
    for case in all_cases() {
        let mut sealer = sealer_for(case);
        let mut wire = seal_one(&mut sealer, 5, &pattern(0, 100));
        let mut probe = opener_for(case);
        let mut head = wire[..4].to_vec();
        assert_eq!(probe.open(5, &mut head, MAX), Ok(None));
        let size = probe.pending_packet_size().unwrap();
        assert_eq!(size, wire.len());
        let packet_len = size - 4 - probe.mac_len();
        let mut opener = opener_for(case);
        assert_eq!(
            opener.open(5, &mut wire.clone(), packet_len - 1),
            Err(PacketError::BadLength(packet_len as u32)),
            "{case:?}"
        );
        let mut opener = opener_for(case);
        assert!(opener.open(5, &mut wire, packet_len).unwrap().is_some());
    }
}

/// Properly encrypted and authenticated packets whose padding length breaks RFC 4253 §6.
#[test]
fn bad_padding() {
    for case in all_cases() {
        let probe = sealer_for(case);
        let unit = probe.block_size();
        let len_in_unit = case.is_none_or(|(_, m)| m.is_some_and(|m| !m.is_etm()));
        let packet_len = 2 * unit - if len_in_unit { 4 } else { 0 };
        let tag_len = opener_for(case).mac_len();
        for pad in [0u8, 3, packet_len as u8, packet_len as u8 + 1, 255] {
            let mut body = (packet_len as u32).to_be_bytes().to_vec();
            body.push(pad);
            body.resize(4 + packet_len, 0xAA);
            let mut tag = vec![0; tag_len];
            sealer_for(case).protect(3, &mut body, &mut tag).unwrap();
            body.extend_from_slice(&tag);
            assert_eq!(
                open_fresh(case, 3, &body).map(|(o, _)| o),
                Err(PacketError::BadPadding(pad)),
                "{case:?} {pad}"
            );
        }
        // The smallest legal padding and an empty payload are accepted.
        let mut body = (packet_len as u32).to_be_bytes().to_vec();
        body.push(packet_len as u8 - 1);
        body.resize(4 + packet_len, 0xAA);
        let mut tag = vec![0; tag_len];
        sealer_for(case).protect(3, &mut body, &mut tag).unwrap();
        body.extend_from_slice(&tag);
        let (opened, _) = open_fresh(case, 3, &body).unwrap();
        assert!(opened.payload.is_empty());
    }
}

/// One flipped bit anywhere in a sealed packet is an error, never a panic or a payload.
#[test]
fn every_flipped_bit_is_rejected() {
    for (cipher, mac) in combos() {
        for size in [0, 40] {
            let (mut sealer, _) = pair(cipher, mac);
            let wire = seal_one(&mut sealer, 1234, &pattern(9, size));
            assert!(open_fresh(Some((cipher, mac)), 1234, &wire).is_ok());
            for i in 0..wire.len() {
                for bit in [1u8 << (i % 8), 0x80] {
                    let mut bad = wire.clone();
                    bad[i] ^= bit;
                    let err = open_fresh(Some((cipher, mac)), 1234, &bad)
                        .map(|(o, _)| o)
                        .unwrap_err();
                    assert!(
                        matches!(
                            err,
                            PacketError::MacMismatch
                                | PacketError::BadLength(_)
                                | PacketError::BadPadding(_)
                        ),
                        "{cipher} {mac:?} byte {i}: {err:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn wrong_sequence_number_or_truncated_mac() {
    for (cipher, mac) in combos() {
        let (mut sealer, _) = pair(cipher, mac);
        let wire = seal_one(&mut sealer, 10, b"hello");
        // GCM's nonce is its own invocation counter, not the sequence number.
        // ChaCha20-Poly1305 also decrypts the length under the sequence number: a wrong one
        // usually yields a bad length first.
        if cipher != CipherAlg::Aes128Gcm && cipher != CipherAlg::Aes256Gcm {
            let err = open_fresh(Some((cipher, mac)), 11, &wire).map(|(o, _)| o);
            assert!(
                matches!(
                    err,
                    Err(PacketError::MacMismatch | PacketError::BadLength(_))
                ),
                "{cipher}"
            );
        }
        let mut opener = PacketOpener::new(cipher, mac, &keys(cipher, mac)).unwrap();
        let mut short = wire[..wire.len() - 1].to_vec();
        assert_eq!(opener.open(10, &mut short, MAX), Ok(None));
        let mut other_key = keys(cipher, mac);
        other_key.key[0] ^= 1;
        let mut opener = PacketOpener::new(cipher, mac, &other_key).unwrap();
        let mut buf = wire.clone();
        let res = opener.open(10, &mut buf, MAX);
        assert!(res.is_err() || res == Ok(None), "{cipher} {mac:?}");
    }
}

#[test]
fn sealer_refuses_nothing_but_leaves_out_untouched_on_error() {
    let (mut sealer, _) = pair(CipherAlg::Aes128Ctr, Some(MacAlg::HmacSha256));
    let mut out = b"prefix".to_vec();
    sealer
        .seal(0, b"", &mut super::CountingRng(0), &mut out)
        .unwrap();
    assert!(out.starts_with(b"prefix"));
    assert_eq!(out.len(), 6 + sealer.overhead(0));
}
