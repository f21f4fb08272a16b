//! `chacha20-poly1305@openssh.com` (OpenSSH `PROTOCOL.chacha20poly1305`).
//!
//! The 64 bytes of key material form two 256-bit keys: K_2 is the first half, K_1 the second.
//! Per packet, with the sequence number as the 64-bit nonce of the original ("djb") ChaCha20:
//!
//! - K_1's keystream (block 0) encrypts the 4-byte `packet_length`;
//! - block 0 of K_2's keystream gives the Poly1305 key (its first 32 bytes);
//! - K_2's keystream from block 1 on encrypts `padding_length || payload || padding`;
//! - the Poly1305 tag covers the encrypted length and the ciphertext.
//!
//! Built from the RustCrypto `chacha20` and `poly1305` crates, which `examples/packet_bench.rs`
//! measured slightly faster than ring's `chacha20_poly1305_openssh` on this project's machine
//! (ring remains the reference the tests compare against). Builds in this repository also
//! turn on `chacha20`'s AVX-512 backend (`.cargo/config.toml`), picked at run time where the
//! processor has it: 941 against 705 MB/s seal plus open here. Keys and the per-packet
//! cipher states and Poly1305 keys are wiped after use.

use chacha20::ChaCha20Legacy;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use poly1305::Poly1305;
use poly1305::universal_hash::{KeyInit, UniversalHash};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{AEAD_TAG_LEN, CipherAlg, CryptoError, LEN_FIELD, key_prefix};

/// Bytes of Poly1305 tag.
pub(crate) const TAG_LEN: usize = AEAD_TAG_LEN;

/// Bytes in one ChaCha20 block; the payload keystream starts at block 1.
const BLOCK: u64 = 64;

/// The two ChaCha20 keys of one direction.
pub(crate) struct ChaChaKeys {
    /// K_1: encrypts the packet length.
    k1: Zeroizing<[u8; 32]>,
    /// K_2: encrypts the rest and yields the Poly1305 key.
    k2: Zeroizing<[u8; 32]>,
}

impl ChaChaKeys {
    /// Splits the 64 bytes of derived key material into K_2 (first half) and K_1 (second).
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        let key = key_prefix(key, CipherAlg::ChaCha20Poly1305.key_len(), "key")?;
        let short = || CryptoError::KeyTooShort {
            what: "key",
            needed: 64,
            got: key.len(),
        };
        let (k2, rest) = key.split_first_chunk::<32>().ok_or_else(short)?;
        let k1 = rest.first_chunk::<32>().ok_or_else(short)?;
        Ok(Self {
            k1: Zeroizing::new(*k1),
            k2: Zeroizing::new(*k2),
        })
    }

    /// XORs K_1's keystream for `seq` into the 4-byte length (encrypts or decrypts it).
    pub fn crypt_len(&self, seq: u32, len: &mut [u8; LEN_FIELD]) {
        let mut c1 = ChaCha20Legacy::new(&(*self.k1).into(), &nonce(seq).into());
        // Four bytes of a fresh keystream cannot run past its end; nothing to report.
        let _ = c1.try_apply_keystream(len);
    }

    /// K_2's cipher for `seq`, positioned at block 1, and the Poly1305 keyed from block 0.
    fn start(&self, seq: u32) -> Option<(ChaCha20Legacy, Poly1305)> {
        let mut c2 = ChaCha20Legacy::new(&(*self.k2).into(), &nonce(seq).into());
        let mut poly_key = Zeroizing::new([0u8; 32]);
        c2.try_apply_keystream(&mut *poly_key).ok()?;
        c2.try_seek(BLOCK).ok()?;
        let mac = Poly1305::new(&(*poly_key).into());
        Some((c2, mac))
    }

    /// Encrypts `packet` (`packet_length || padding_length || payload || padding`) in place and
    /// writes the Poly1305 tag to `tag`. Fails only if `packet` is shorter than the length
    /// field or longer than the keystream (2^70 bytes).
    pub fn seal(
        &self,
        seq: u32,
        packet: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        let packet_len = packet.len();
        let too_long = || CryptoError::PayloadTooLong(packet_len);
        let (mut c2, mac) = self.start(seq).ok_or_else(too_long)?;
        {
            let (len, rest) = packet
                .split_first_chunk_mut::<LEN_FIELD>()
                .ok_or_else(too_long)?;
            self.crypt_len(seq, len);
            c2.try_apply_keystream(rest).map_err(|_| too_long())?;
        }
        *tag = authenticate(mac, packet).into();
        Ok(())
    }

    /// Verifies the tag over `packet` (encrypted length and ciphertext) in constant time, then
    /// decrypts everything after the length in place. Returns false, leaving `packet`
    /// untouched, if the tag is wrong.
    pub fn open(&self, seq: u32, packet: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        let Some((mut c2, mac)) = self.start(seq) else {
            return false;
        };
        let expected = authenticate(mac, packet);
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return false;
        }
        match packet.get_mut(LEN_FIELD..) {
            Some(rest) => c2.try_apply_keystream(rest).is_ok(),
            None => false,
        }
    }
}

/// The Poly1305 tag of `data`, unpadded (the last block as short as the data leaves it).
///
/// The whole 16-byte blocks go through `update`, which hands them to the backend four at a
/// time; `compute_unpadded` alone would pass them one at a time through the backend's
/// four-block cache, a copy per block. Doing that for whole packets cost about a quarter
/// of the construction's throughput (`examples/packet_bench.rs`, docs/performance.md).
fn authenticate(mut mac: Poly1305, data: &[u8]) -> poly1305::Tag {
    let (blocks, tail) = poly1305::Block::slice_as_chunks(data);
    mac.update(blocks);
    mac.compute_unpadded(tail)
}

/// The 64-bit ChaCha20 nonce: `uint64(seq)` big-endian, as OpenSSH builds it.
fn nonce(seq: u32) -> [u8; 8] {
    u64::from(seq).to_be_bytes()
}
