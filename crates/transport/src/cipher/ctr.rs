//! AES in SDCTR mode (RFC 4344 §4), one keystream per direction.

use aes::{Aes128, Aes192, Aes256};
use ctr::cipher::{KeyIvInit, StreamCipher};

use super::{CipherAlg, CryptoError, key_prefix};

type Ctr<A> = ctr::Ctr128BE<A>;

/// A running AES-CTR keystream.
///
/// RFC 4344 §4: "the counter X is initialized to the IV ... X is incremented" once per block,
/// modulo 2^L, and the keystream continues across packet boundaries. The state (round keys,
/// counter, unused keystream bytes) is wiped on drop.
pub(crate) enum AesCtr {
    /// `aes128-ctr`.
    Aes128(Box<Ctr<Aes128>>),
    /// `aes192-ctr`.
    Aes192(Box<Ctr<Aes192>>),
    /// `aes256-ctr`.
    Aes256(Box<Ctr<Aes256>>),
}

impl AesCtr {
    /// Starts the keystream for a CTR cipher from the derived key and IV (the initial counter).
    pub fn new(alg: CipherAlg, key: &[u8], iv: &[u8]) -> Result<Self, CryptoError> {
        let key = key_prefix(key, alg.key_len(), "key")?;
        let iv = key_prefix(iv, alg.iv_len(), "iv")?;
        let too_short = |_| CryptoError::KeyTooShort {
            what: "key",
            needed: alg.key_len(),
            got: key.len(),
        };
        Ok(match alg {
            CipherAlg::Aes128Ctr => {
                AesCtr::Aes128(Box::new(Ctr::new_from_slices(key, iv).map_err(too_short)?))
            }
            CipherAlg::Aes192Ctr => {
                AesCtr::Aes192(Box::new(Ctr::new_from_slices(key, iv).map_err(too_short)?))
            }
            CipherAlg::Aes256Ctr => {
                AesCtr::Aes256(Box::new(Ctr::new_from_slices(key, iv).map_err(too_short)?))
            }
            CipherAlg::ChaCha20Poly1305 | CipherAlg::Aes256Gcm | CipherAlg::Aes128Gcm => {
                return Err(CryptoError::BadCombination);
            }
            #[cfg(fuzzing)]
            CipherAlg::FuzzingNone => return Err(CryptoError::BadCombination),
        })
    }

    /// XORs the next `buf.len()` keystream bytes into `buf` (encrypts or decrypts in place).
    ///
    /// The keystream-repetition check of the `cipher` crate is skipped on purpose: the 128-bit
    /// counter repeats only after 2^128 blocks, while RFC 4344 §3.2 has the engine rekey after
    /// 2^32; not checking keeps this path free of a panic or error that cannot occur.
    pub fn apply(&mut self, buf: &mut [u8]) {
        match self {
            AesCtr::Aes128(c) => c.unchecked_apply_keystream(buf),
            AesCtr::Aes192(c) => c.unchecked_apply_keystream(buf),
            AesCtr::Aes256(c) => c.unchecked_apply_keystream(buf),
        }
    }
}
