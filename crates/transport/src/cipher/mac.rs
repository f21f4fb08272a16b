//! HMAC over `uint32 sequence_number || packet` (RFC 4253 §6.4, RFC 6668, OpenSSH EtM).

use ring::hmac;
use subtle::ConstantTimeEq;

use super::{CryptoError, MacAlg, key_prefix};

/// A keyed packet MAC for one direction.
///
/// RFC 4253 §6.4: "mac = MAC(key, sequence_number || unencrypted_packet)". For the EtM variants
/// the MAC covers the length in clear and the ciphertext instead; the computation is the same,
/// only the bytes passed in differ.
pub(crate) struct PacketMac {
    key: hmac::Key,
    alg: MacAlg,
}

impl PacketMac {
    /// Keys the MAC with the first [`MacAlg::key_len`] bytes of `mac_key`.
    pub fn new(alg: MacAlg, mac_key: &[u8]) -> Result<Self, CryptoError> {
        let key = key_prefix(mac_key, alg.key_len(), "mac_key")?;
        let ring_alg = match alg {
            MacAlg::HmacSha256Etm | MacAlg::HmacSha256 => hmac::HMAC_SHA256,
            MacAlg::HmacSha512Etm | MacAlg::HmacSha512 => hmac::HMAC_SHA512,
            MacAlg::HmacSha1 | MacAlg::HmacSha1Etm => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        };
        Ok(Self {
            key: hmac::Key::new(ring_alg, key),
            alg,
        })
    }

    /// Keys the MAC with all of `key`, whatever its length (for published test vectors).
    #[cfg(test)]
    pub fn with_any_key(alg: MacAlg, key: &[u8]) -> Self {
        let ring_alg = match alg {
            MacAlg::HmacSha256Etm | MacAlg::HmacSha256 => hmac::HMAC_SHA256,
            MacAlg::HmacSha512Etm | MacAlg::HmacSha512 => hmac::HMAC_SHA512,
            MacAlg::HmacSha1 | MacAlg::HmacSha1Etm => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        };
        Self {
            key: hmac::Key::new(ring_alg, key),
            alg,
        }
    }

    /// The algorithm.
    pub fn alg(&self) -> MacAlg {
        self.alg
    }

    /// MAC of `seq || data`.
    pub fn sign(&self, seq: u32, data: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&seq.to_be_bytes());
        ctx.update(data);
        ctx.sign()
    }

    /// Whether `mac` is the MAC of `seq || data`, compared in constant time.
    pub fn verify(&self, seq: u32, data: &[u8], mac: &[u8]) -> bool {
        let expected = self.sign(seq, data);
        bool::from(expected.as_ref().ct_eq(mac))
    }
}
