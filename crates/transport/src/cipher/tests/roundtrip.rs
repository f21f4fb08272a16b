//! Seal-then-open round trips.

use super::super::{PacketOpener, PacketSealer};
use super::{CountingRng, MAX, combos, pair, pattern};

const SIZES: [usize; 8] = [0, 1, 15, 16, 17, 4096, 32768 + 5, 256 * 1024];
const SEQS: [u32; 8] = [0, 1, 2, 0x7FFF_FFFF, u32::MAX - 1, u32::MAX, 0, 1];

/// Seals every size at every sequence number and opens it again, checking framing invariants.
fn round_trip(sealer: &mut PacketSealer, opener: &mut PacketOpener, label: &str) {
    let mut rng = CountingRng(0);
    let mut wire = Vec::new();
    for size in SIZES {
        let payload = pattern(size as u8, size);
        for seq in SEQS {
            wire.clear();
            sealer.seal(seq, &payload, &mut rng, &mut wire).unwrap();
            assert_eq!(wire.len(), size + sealer.overhead(size), "{label} {size}");
            let opened = opener
                .open(seq, &mut wire, MAX)
                .unwrap_or_else(|e| panic!("{label} size {size} seq {seq}: {e}"))
                .unwrap_or_else(|| panic!("{label} size {size} seq {seq}: incomplete"));
            assert_eq!(opened.consumed, wire.len(), "{label}");
            assert_eq!(&wire[opened.payload], &payload[..], "{label} {size} {seq}");
        }
    }
    assert_eq!(sealer.bytes_sealed(), opener.bytes_opened(), "{label}");
    assert_eq!(sealer.packets_sealed(), opener.packets_opened(), "{label}");
    assert_eq!(sealer.packets_sealed(), (SIZES.len() * SEQS.len()) as u64);
    assert!(!sealer.rekey_due() && !opener.rekey_due());
}

#[test]
fn every_cipher_and_mac() {
    for (cipher, mac) in combos() {
        let (mut sealer, mut opener) = pair(cipher, mac);
        round_trip(&mut sealer, &mut opener, &format!("{cipher}/{mac:?}"));
    }
}

#[test]
fn plaintext_state() {
    let mut sealer = PacketSealer::plaintext();
    let mut opener = PacketOpener::plaintext();
    assert_eq!(sealer.block_size(), 8);
    assert_eq!(sealer.overhead(0), 4 + 1 + 11);
    round_trip(&mut sealer, &mut opener, "plaintext");
}

/// Padding is minimal, at least 4 bytes, and aligns what the mode requires.
#[test]
fn padding_alignment() {
    for (cipher, mac) in combos() {
        let (sealer, _) = pair(cipher, mac);
        let len_in_unit = mac.is_some_and(|m| !m.is_etm());
        let tag = mac.map_or(16, |m| m.mac_len());
        for size in 0..100 {
            let overhead = sealer.overhead(size);
            let pad = overhead - 5 - tag;
            assert!(
                (4..4 + sealer.block_size()).contains(&pad),
                "{cipher} {size}"
            );
            let covered = 1 + size + pad + if len_in_unit { 4 } else { 0 };
            assert_eq!(covered % sealer.block_size(), 0, "{cipher} {mac:?} {size}");
        }
    }
}

/// Several packets back to back in one buffer open one after another.
#[test]
fn packets_back_to_back() {
    for (cipher, mac) in combos() {
        let (mut sealer, mut opener) = pair(cipher, mac);
        let mut wire = Vec::new();
        let payloads: Vec<Vec<u8>> = (0..5).map(|i| pattern(i, 10 + 37 * i as usize)).collect();
        for (seq, p) in payloads.iter().enumerate() {
            sealer
                .seal(seq as u32, p, &mut CountingRng(0), &mut wire)
                .unwrap();
        }
        let mut at = 0;
        for (seq, p) in payloads.iter().enumerate() {
            let opened = opener
                .open(seq as u32, &mut wire[at..], MAX)
                .unwrap()
                .unwrap();
            assert_eq!(&wire[at..][opened.payload], &p[..]);
            at += opened.consumed;
        }
        assert_eq!(at, wire.len());
    }
}

/// Feeding a stream one byte at a time gives the same packets as feeding it whole.
#[test]
fn one_byte_at_a_time() {
    let mut cases: Vec<_> = combos().into_iter().map(Some).collect();
    cases.push(None);
    for case in cases {
        let (mut sealer, mut opener) = match case {
            Some((c, m)) => pair(c, m),
            None => (PacketSealer::plaintext(), PacketOpener::plaintext()),
        };
        let payloads = [pattern(1, 0), pattern(2, 100), pattern(3, 33)];
        let mut wire = Vec::new();
        for (seq, p) in payloads.iter().enumerate() {
            sealer
                .seal(seq as u32 + 77, p, &mut CountingRng(0), &mut wire)
                .unwrap();
        }
        let mut rx = Vec::new();
        let mut got = Vec::new();
        let mut seq = 77;
        for &byte in &wire {
            rx.push(byte);
            if let Some(opened) = opener.open(seq, &mut rx, MAX).unwrap() {
                assert!(opener.pending_packet_size().is_none());
                got.push(rx[opened.payload].to_vec());
                rx.drain(..opened.consumed);
                seq += 1;
            } else if rx.len() >= 4 {
                assert!(opener.pending_packet_size().unwrap() > rx.len());
            }
        }
        assert!(rx.is_empty(), "{case:?}");
        assert_eq!(got, payloads, "{case:?}");
    }
}

/// A packet with [`TAILROOM`](super::super::seal::TAILROOM) bytes of spare capacity is sealed
/// where it lies, for every cipher and MAC and every size: a sender that sizes its buffer so
/// (the SFTP server's `DATA`) never has its block moved.
#[test]
fn tailroom_is_enough_for_every_cipher() {
    use super::super::HEADROOM;
    use super::super::seal::TAILROOM;
    for (cipher, mac) in combos() {
        let (mut sealer, _) = pair(cipher, mac);
        for (size, seq) in SIZES.into_iter().zip(SEQS) {
            let mut packet = Vec::with_capacity(HEADROOM + size + TAILROOM);
            packet.resize(HEADROOM, 0);
            packet.extend_from_slice(&pattern(size as u8, size));
            let (at, capacity) = (packet.as_ptr(), packet.capacity());
            sealer
                .seal_in_place(seq, &mut packet, &mut CountingRng(3))
                .unwrap();
            assert_eq!(
                (packet.as_ptr(), packet.capacity()),
                (at, capacity),
                "{cipher}/{mac:?} size {size}"
            );
        }
    }
}

/// Sealing in place, in a buffer with room in front of the payload, gives the same bytes as
/// sealing a copy, for every cipher and MAC and every size.
#[test]
fn sealing_in_place_is_the_same_packet() {
    use super::super::HEADROOM;
    for (cipher, mac) in combos() {
        let (mut copying, _) = pair(cipher, mac);
        let (mut in_place, mut opener) = pair(cipher, mac);
        let (mut rng_a, mut rng_b) = (CountingRng(7), CountingRng(7));
        for (size, seq) in SIZES.into_iter().zip(SEQS) {
            let payload = pattern(size as u8, size);
            let mut wire = Vec::new();
            copying.seal(seq, &payload, &mut rng_a, &mut wire).unwrap();
            let mut packet = vec![0xEE; HEADROOM];
            packet.extend_from_slice(&payload);
            in_place
                .seal_in_place(seq, &mut packet, &mut rng_b)
                .unwrap();
            assert!(packet == wire, "{cipher}/{mac:?} size {size}");
            let opened = opener.open(seq, &mut packet, MAX).unwrap().unwrap();
            assert_eq!(&packet[opened.payload], &payload[..]);
        }
        assert_eq!(copying.bytes_sealed(), in_place.bytes_sealed());
    }
    let (mut sealer, _) = pair(combos()[0].0, combos()[0].1);
    let mut short = vec![0; HEADROOM - 1];
    assert!(
        sealer
            .seal_in_place(0, &mut short, &mut CountingRng(0))
            .is_err()
    );
    assert_eq!(short.len(), HEADROOM - 1);
}
