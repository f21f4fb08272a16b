//! Ed25519 keys and signatures (RFC 8709), backed by `ed25519-dalek`.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sshwire_wire::{Reader, Writer};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::KeyError;

/// Length of an Ed25519 public key (RFC 8032 §5.1.5).
pub(crate) const PUBLIC_LEN: usize = 32;
/// Length of an Ed25519 signature (RFC 8032 §5.1.6).
pub(crate) const SIGNATURE_LEN: usize = 64;
/// Length of OpenSSH's private key field: the 32-byte seed followed by the public key.
const KEYPAIR_LEN: usize = 64;

/// A validated Ed25519 public key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Ed25519Public([u8; PUBLIC_LEN]);

impl Ed25519Public {
    /// Decodes the fields of a key blob that follow the name.
    ///
    /// RFC 8709 §4: `string "ssh-ed25519"`, `string key`, where "the key field MUST contain
    /// the 32-octet public key".
    pub(crate) fn decode_body(r: &mut Reader<'_>) -> Result<Self, KeyError> {
        let key = r.string()?;
        Self::from_bytes(key)
    }

    /// A public key from its 32-byte encoding, which must be a point on the curve.
    pub(crate) fn from_bytes(key: &[u8]) -> Result<Self, KeyError> {
        let key: [u8; PUBLIC_LEN] = key
            .try_into()
            .map_err(|_| KeyError::InvalidKey("Ed25519 public key is not 32 bytes"))?;
        // RFC 8032 §5.1.3: decoding fails when the encoding is not a point on the curve.
        VerifyingKey::from_bytes(&key)
            .map_err(|_| KeyError::InvalidKey("Ed25519 public key is not a curve point"))?;
        Ok(Ed25519Public(key))
    }

    /// The 32-byte encoding.
    pub(crate) fn as_bytes(&self) -> &[u8; PUBLIC_LEN] {
        &self.0
    }

    /// Appends the fields that follow the name in a key blob.
    pub(crate) fn encode_body(&self, w: &mut Writer) {
        w.string(&self.0);
    }

    /// Verifies the content of an `ssh-ed25519` signature blob.
    ///
    /// RFC 8709 §6: `string "ssh-ed25519"`, `string signature`, the signature being the
    /// 64-octet value of RFC 8032 §5.1.6. Verification is strict: non-canonical `S` and
    /// small-order keys or `R` are refused (RFC 8032 §5.1.7 and its errata).
    pub(crate) fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        let sig: [u8; SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| KeyError::Malformed("Ed25519 signature is not 64 bytes"))?;
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::BadSignature)?;
        key.verify_strict(data, &Signature::from_bytes(&sig))
            .map_err(|_| KeyError::BadSignature)
    }
}

/// An Ed25519 signing key; `ed25519-dalek` zeroizes it on drop.
#[derive(Clone)]
pub(crate) struct Ed25519Private(SigningKey);

impl Ed25519Private {
    /// A new random key.
    pub(crate) fn generate(rng: &mut dyn rand_core::CryptoRng) -> Self {
        Ed25519Private(SigningKey::generate(rng))
    }

    /// A key from its 32-byte seed (RFC 8032 §5.1.5 private key).
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        Ed25519Private(SigningKey::from_bytes(seed))
    }

    /// A key from the fields OpenSSH stores: the public key and `seed || public key`.
    ///
    /// OpenSSH `sshkey_private_deserialize`: `string pk` of 32 bytes and `string sk` of 64
    /// bytes. The public halves must agree with each other and with the seed.
    pub(crate) fn from_openssh_fields(public: &[u8], keypair: &[u8]) -> Result<Self, KeyError> {
        let public = Ed25519Public::from_bytes(public)?;
        let keypair: &[u8; KEYPAIR_LEN] = keypair
            .try_into()
            .map_err(|_| KeyError::Malformed("Ed25519 private key is not 64 bytes"))?;
        let (seed, embedded_public) = keypair.split_at(32);
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            seed.try_into()
                .map_err(|_| KeyError::Malformed("Ed25519 private key is not 64 bytes"))?,
        );
        let key = Ed25519Private::from_seed(&seed);
        let derived = key.0.verifying_key().to_bytes();
        let consistent =
            derived.ct_eq(public.as_bytes()) & embedded_public.ct_eq(public.as_bytes());
        if !bool::from(consistent) {
            return Err(KeyError::InvalidKey(
                "Ed25519 private key does not match its public key",
            ));
        }
        Ok(key)
    }

    /// The public key.
    pub(crate) fn public(&self) -> Ed25519Public {
        Ed25519Public(self.0.verifying_key().to_bytes())
    }

    /// OpenSSH's 64-byte private field: the seed followed by the public key.
    pub(crate) fn keypair_bytes(&self) -> Zeroizing<[u8; KEYPAIR_LEN]> {
        Zeroizing::new(self.0.to_keypair_bytes())
    }

    /// The 64-byte RFC 8032 signature of `data`.
    pub(crate) fn sign(&self, data: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(data).to_bytes()
    }
}
