//! Tests of the packet layer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod api;
mod bad_input;
mod kat;
mod props;
mod roundtrip;

use core::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};

use super::{CipherAlg, DirectionKeys, MacAlg, Opened, PacketError, PacketOpener, PacketSealer};

/// Limit on `packet_length` used by the tests: a 256 KiB payload plus slack.
pub(super) const MAX: usize = 256 * 1024 + 1024;

/// Deterministic "random" bytes 0x10, 0x11, ... (wrapping), as in `testdata/gen_kat.py`.
pub(super) struct CountingRng(pub u8);

impl TryRng for CountingRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

impl TryCryptoRng for CountingRng {}

/// Bytes `start, start+1, ...` (wrapping).
pub(super) fn pattern(start: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| start.wrapping_add(i as u8)).collect()
}

/// The fixed keys of `testdata/gen_kat.py`: key from 0x00, IV from 0x80, MAC key from 0xC0.
pub(super) fn keys(cipher: CipherAlg, mac: Option<MacAlg>) -> DirectionKeys {
    DirectionKeys::new(
        pattern(0x80, cipher.iv_len()),
        pattern(0x00, cipher.key_len()),
        pattern(0xC0, mac.map_or(0, MacAlg::key_len)),
    )
}

/// Every valid combination: each AEAD alone, each CTR cipher with each MAC.
pub(super) fn combos() -> Vec<(CipherAlg, Option<MacAlg>)> {
    let mut out = Vec::new();
    for cipher in CipherAlg::ALL {
        if cipher.is_aead() {
            out.push((cipher, None));
        } else {
            for mac in MacAlg::ALL {
                out.push((cipher, Some(mac)));
            }
        }
    }
    out
}

/// A sealer and an opener keyed alike.
pub(super) fn pair(cipher: CipherAlg, mac: Option<MacAlg>) -> (PacketSealer, PacketOpener) {
    let k = keys(cipher, mac);
    (
        PacketSealer::new(cipher, mac, &k).unwrap(),
        PacketOpener::new(cipher, mac, &k).unwrap(),
    )
}

/// Seals one packet into a fresh buffer.
pub(super) fn seal_one(sealer: &mut PacketSealer, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    sealer
        .seal(seq, payload, &mut CountingRng(0x10), &mut out)
        .unwrap();
    out
}

/// Opens `wire` with a fresh opener for `cipher`/`mac`; an `Ok(None)` is answered by padding the
/// buffer with zeros to the announced size, so the result is always final.
pub(super) fn open_fresh(
    cipher: Option<(CipherAlg, Option<MacAlg>)>,
    seq: u32,
    wire: &[u8],
) -> Result<(Opened, Vec<u8>), PacketError> {
    let mut opener = match cipher {
        Some((c, m)) => PacketOpener::new(c, m, &keys(c, m)).unwrap(),
        None => PacketOpener::plaintext(),
    };
    let mut buf = wire.to_vec();
    loop {
        match opener.open(seq, &mut buf, MAX)? {
            Some(opened) => return Ok((opened, buf)),
            None => {
                let want = opener.pending_packet_size().unwrap_or(buf.len() + 1);
                assert!(want > buf.len(), "Ok(None) with a whole packet present");
                buf.resize(want, 0);
            }
        }
    }
}
