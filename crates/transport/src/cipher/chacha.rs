//! `chacha20-poly1305@openssh.com` (OpenSSH `PROTOCOL.chacha20poly1305`), built on ring.
//!
//! PROTOCOL.chacha20poly1305: "The chacha20-poly1305@openssh.com cipher requires 512 bits of key
//! material as output from the SSH key exchange. This forms two 256 bit keys (K_1 and K_2)";
//! K_2 is the first half, K_1 the second. K_1 encrypts the 4-byte packet length with the
//! sequence number as nonce; K_2 encrypts the rest, starting at block counter 1, and block 0 of
//! its keystream is the Poly1305 key; the tag covers the encrypted length and the ciphertext.
//! ring's `chacha20_poly1305_openssh` implements exactly this construction (the benchmark
//! compares it with one assembled from the RustCrypto `chacha20` and `poly1305` crates; ring
//! is the faster of the two).

use ring::aead::chacha20_poly1305_openssh::{KEY_LEN, OpeningKey, SealingKey};

use super::{CipherAlg, CryptoError, LEN_FIELD, key_prefix};

/// Bytes of Poly1305 tag.
pub(crate) const TAG_LEN: usize = ring::aead::chacha20_poly1305_openssh::TAG_LEN;

/// The 64 bytes of key material as ring wants them.
fn key_material(key: &[u8]) -> Result<&[u8; KEY_LEN], CryptoError> {
    let key = key_prefix(key, CipherAlg::ChaCha20Poly1305.key_len(), "key")?;
    key.first_chunk::<KEY_LEN>()
        .ok_or(CryptoError::KeyTooShort {
            what: "key",
            needed: KEY_LEN,
            got: key.len(),
        })
}

/// Outgoing ChaCha20-Poly1305 keys.
pub(crate) struct ChaChaSealer {
    key: SealingKey,
}

impl ChaChaSealer {
    /// Keys the sealer from the 64 bytes of derived key material.
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self {
            key: SealingKey::new(key_material(key)?),
        })
    }

    /// Encrypts `packet` (`packet_length || padding_length || payload || padding`) in place and
    /// writes the Poly1305 tag to `tag`.
    ///
    /// `packet` must hold at least the 4-byte length, which `PacketSealer` guarantees.
    pub fn seal(&self, seq: u32, packet: &mut [u8], tag: &mut [u8; TAG_LEN]) {
        self.key.seal_in_place(seq, packet, tag);
    }
}

/// Incoming ChaCha20-Poly1305 keys.
pub(crate) struct ChaChaOpener {
    key: OpeningKey,
}

impl ChaChaOpener {
    /// Keys the opener from the 64 bytes of derived key material.
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self {
            key: OpeningKey::new(key_material(key)?),
        })
    }

    /// Decrypts the packet length with K_1 (unauthenticated until [`ChaChaOpener::open`]).
    pub fn decrypt_len(&self, seq: u32, encrypted: [u8; LEN_FIELD]) -> u32 {
        u32::from_be_bytes(self.key.decrypt_packet_length(seq, encrypted))
    }

    /// Verifies the tag over `packet` (encrypted length and ciphertext), then decrypts the
    /// ciphertext in place. Returns false, leaving `packet` unspecified, if the tag is wrong.
    pub fn open(&self, seq: u32, packet: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        self.key.open_in_place(seq, packet, tag).is_ok()
    }
}
