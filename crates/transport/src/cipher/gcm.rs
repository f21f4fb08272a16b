//! AES-GCM as used by `aes128-gcm@openssh.com` and `aes256-gcm@openssh.com`.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};

use super::{CipherAlg, CryptoError, LEN_FIELD, key_prefix};

/// An AES-GCM key and its per-packet nonce.
///
/// RFC 5647 §7.1: the 12-byte IV is "a 4-octet fixed field and an 8-octet invocation counter
/// field", and "the invocation counter is treated as a 64-bit integer and is incremented after
/// each invocation of AES-GCM to process a binary packet". As modified by OpenSSH `PROTOCOL`, the packet length is sent unencrypted and authenticated as additional data.
pub(crate) struct AesGcm {
    key: LessSafeKey,
    fixed: [u8; 4],
    invocation: u64,
}

impl AesGcm {
    /// Keys an AES-GCM cipher from the derived key and 12-byte IV.
    pub fn new(alg: CipherAlg, key: &[u8], iv: &[u8]) -> Result<Self, CryptoError> {
        let ring_alg = match alg {
            CipherAlg::Aes256Gcm => &aead::AES_256_GCM,
            CipherAlg::Aes128Gcm => &aead::AES_128_GCM,
            _ => return Err(CryptoError::BadCombination),
        };
        let key = key_prefix(key, alg.key_len(), "key")?;
        let iv = key_prefix(iv, alg.iv_len(), "iv")?;
        let short_iv = || CryptoError::KeyTooShort {
            what: "iv",
            needed: 12,
            got: iv.len(),
        };
        let (fixed, invocation) = iv.split_first_chunk::<4>().ok_or_else(short_iv)?;
        let invocation = invocation.first_chunk::<8>().ok_or_else(short_iv)?;
        let unbound = UnboundKey::new(ring_alg, key).map_err(|_| CryptoError::KeyTooShort {
            what: "key",
            needed: alg.key_len(),
            got: key.len(),
        })?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            fixed: *fixed,
            invocation: u64::from_be_bytes(*invocation),
        })
    }

    /// The nonce for the next packet; advances the invocation counter.
    fn next_nonce(&mut self) -> Nonce {
        let mut nonce = [0u8; 12];
        let counter = self.invocation.to_be_bytes();
        for (byte, value) in nonce.iter_mut().zip(self.fixed.iter().chain(&counter)) {
            *byte = *value;
        }
        // RFC 5647 §7.1: "incremented after each invocation ... modulo 2^64" (wrapping).
        self.invocation = self.invocation.wrapping_add(1);
        Nonce::assume_unique_for_key(nonce)
    }

    /// Encrypts `len || rest` in place (the length stays in clear as AAD) and returns the tag.
    ///
    /// Fails only for input beyond GCM's limit (about 64 GiB), which a packet cannot reach.
    pub fn seal(
        &mut self,
        len: [u8; LEN_FIELD],
        rest: &mut [u8],
    ) -> Result<aead::Tag, CryptoError> {
        let nonce = self.next_nonce();
        self.key
            .seal_in_place_separate_tag(nonce, Aad::from(len), rest)
            .map_err(|_| CryptoError::PayloadTooLong(rest.len()))
    }

    /// Verifies and decrypts `ciphertext || tag` in place; `len` is the clear length (AAD).
    ///
    /// Returns false when the tag does not verify; the contents are then unspecified.
    pub fn open(&mut self, len: [u8; LEN_FIELD], ciphertext_and_tag: &mut [u8]) -> bool {
        let nonce = self.next_nonce();
        self.key
            .open_in_place(nonce, Aad::from(len), ciphertext_and_tag)
            .is_ok()
    }
}
