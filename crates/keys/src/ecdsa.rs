//! ECDSA keys and signatures over NIST P-256 and P-384 (RFC 5656), backed by RustCrypto.
//!
//! RustCrypto's `p256`/`p384` are used for generation, signing and verification alike, so one
//! code base handles the points and scalars. Signatures are RFC 6979 deterministic nonces
//! hedged with fresh randomness from the injected generator.

use p256::ecdsa::signature::{RandomizedSigner, Verifier};
use sshwire_wire::{Reader, Writer};
use zeroize::{Zeroize, Zeroizing};

use crate::{KeyError, KeyType};

/// Most attempts at drawing a random scalar before generation gives up.
const MAX_GENERATION_ATTEMPTS: usize = 64;

/// A NIST curve that sshwire supports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Curve {
    /// NIST P-256 with SHA-256.
    P256,
    /// NIST P-384 with SHA-384.
    P384,
}

impl Curve {
    /// RFC 5656 §10.1 curve identifier.
    pub(crate) fn identifier(self) -> &'static str {
        match self {
            Curve::P256 => "nistp256",
            Curve::P384 => "nistp384",
        }
    }

    /// Bytes in a field element or scalar.
    pub(crate) fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    /// Bytes in an uncompressed SEC1 point: `0x04 || X || Y`.
    fn point_len(self) -> usize {
        1 + 2 * self.field_len()
    }

    /// The key type of keys on this curve.
    pub(crate) fn key_type(self) -> KeyType {
        match self {
            Curve::P256 => KeyType::EcdsaP256,
            Curve::P384 => KeyType::EcdsaP384,
        }
    }
}

/// A validated ECDSA public key: an uncompressed point on its curve, not the identity.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct EcdsaPublic {
    curve: Curve,
    point: Vec<u8>,
}

impl EcdsaPublic {
    /// Decodes the fields of a key blob that follow the name.
    ///
    /// RFC 5656 §3.1: `string "ecdsa-sha2-[identifier]"`, `string [identifier]`, `string Q`.
    pub(crate) fn decode_body(curve: Curve, r: &mut Reader<'_>) -> Result<Self, KeyError> {
        let identifier = r.string()?;
        // RFC 5656 §3.1: "[identifier] is the domain parameters identifier" of the key's
        // curve, so it must match the one in the algorithm name.
        if identifier != curve.identifier().as_bytes() {
            return Err(KeyError::Malformed(
                "ECDSA curve identifier does not match the key type",
            ));
        }
        let q = r.string()?;
        Self::from_point(curve, q)
    }

    /// A public key from its SEC1 point encoding.
    pub(crate) fn from_point(curve: Curve, q: &[u8]) -> Result<Self, KeyError> {
        // RFC 5656 §3.1: "Q is the public key encoded from an elliptic curve point into an
        // octet string as defined in Section 2.3.3 of [SEC1]". Like OpenSSH, only the
        // uncompressed form is accepted, so each key has one blob.
        if q.len() != curve.point_len() || q.first() != Some(&0x04) {
            return Err(KeyError::InvalidKey(
                "ECDSA public key is not an uncompressed point of the curve's size",
            ));
        }
        // RFC 5656 §3.1.1 (via SEC1 §3.2.2): the point must lie on the curve and must not be
        // the point at infinity; both are checked by the SEC1 decoder.
        let valid = match curve {
            Curve::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(q).is_ok(),
            Curve::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(q).is_ok(),
        };
        if !valid {
            return Err(KeyError::InvalidKey(
                "ECDSA public key is not a point on the curve",
            ));
        }
        Ok(EcdsaPublic {
            curve,
            point: q.to_vec(),
        })
    }

    /// The curve of the key.
    pub(crate) fn curve(&self) -> Curve {
        self.curve
    }

    /// The uncompressed SEC1 point.
    pub(crate) fn point(&self) -> &[u8] {
        &self.point
    }

    /// Appends the fields that follow the name in a key blob.
    pub(crate) fn encode_body(&self, w: &mut Writer) {
        w.string(self.curve.identifier().as_bytes())
            .string(&self.point);
    }

    /// Verifies the content of an `ecdsa-sha2-*` signature blob.
    ///
    /// RFC 5656 §3.1.2: the signature is `string ecdsa_signature_blob` holding `mpint r`,
    /// `mpint s`, and the hash is SHA-256 for nistp256, SHA-384 for nistp384 (§6.2.1).
    pub(crate) fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        let mut r = Reader::new(signature);
        let sig_r = r.mpint_unsigned()?;
        let sig_s = r.mpint_unsigned()?;
        r.finish()?;
        let n = self.curve.field_len();
        // RFC 5656 §3.1.2 / FIPS 186-4 §6.4.2: r and s must lie in [1, n-1]; anything longer
        // than the order cannot.
        if sig_r.len() > n || sig_s.len() > n {
            return Err(KeyError::BadSignature);
        }
        let mut fixed = vec![0u8; 2 * n];
        let (r_half, s_half) = fixed.split_at_mut(n);
        copy_right_aligned(r_half, sig_r);
        copy_right_aligned(s_half, sig_s);
        let ok = match self.curve {
            Curve::P256 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&self.point)
                    .map_err(|_| KeyError::BadSignature)?;
                // `from_slice` refuses r or s equal to zero or not below the order.
                let sig = p256::ecdsa::Signature::from_slice(&fixed)
                    .map_err(|_| KeyError::BadSignature)?;
                key.verify(data, &sig).is_ok()
            }
            Curve::P384 => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&self.point)
                    .map_err(|_| KeyError::BadSignature)?;
                let sig = p384::ecdsa::Signature::from_slice(&fixed)
                    .map_err(|_| KeyError::BadSignature)?;
                key.verify(data, &sig).is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(KeyError::BadSignature)
        }
    }
}

/// Copies `src` into the end of `dst`, which is at least as long.
fn copy_right_aligned(dst: &mut [u8], src: &[u8]) {
    let start = dst.len().saturating_sub(src.len());
    if let Some(tail) = dst.get_mut(start..) {
        tail.copy_from_slice(src.get(..tail.len()).unwrap_or_default());
    }
}

/// An ECDSA signing key; RustCrypto zeroizes the scalar on drop.
#[derive(Clone)]
pub(crate) enum EcdsaPrivate {
    /// A P-256 key.
    P256(p256::ecdsa::SigningKey),
    /// A P-384 key.
    P384(p384::ecdsa::SigningKey),
}

impl EcdsaPrivate {
    /// A new random key, drawn by rejection sampling of the scalar.
    pub(crate) fn generate(
        curve: Curve,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<Self, KeyError> {
        let mut buf = Zeroizing::new(vec![0u8; curve.field_len()]);
        for _ in 0..MAX_GENERATION_ATTEMPTS {
            rng.fill_bytes(&mut buf);
            if let Ok(key) = Self::from_scalar(curve, &buf) {
                return Ok(key);
            }
        }
        Err(KeyError::Generation)
    }

    /// A key from the big-endian magnitude of its scalar, which must lie in [1, n-1].
    pub(crate) fn from_scalar(curve: Curve, d: &[u8]) -> Result<Self, KeyError> {
        let n = curve.field_len();
        if d.len() > n {
            return Err(KeyError::InvalidKey("ECDSA private scalar is too long"));
        }
        let mut fixed = Zeroizing::new(vec![0u8; n]);
        copy_right_aligned(&mut fixed, d);
        let invalid = || KeyError::InvalidKey("ECDSA private scalar is out of range");
        Ok(match curve {
            Curve::P256 => EcdsaPrivate::P256(
                p256::ecdsa::SigningKey::from_slice(&fixed).map_err(|_| invalid())?,
            ),
            Curve::P384 => EcdsaPrivate::P384(
                p384::ecdsa::SigningKey::from_slice(&fixed).map_err(|_| invalid())?,
            ),
        })
    }

    /// The curve of the key.
    pub(crate) fn curve(&self) -> Curve {
        match self {
            EcdsaPrivate::P256(_) => Curve::P256,
            EcdsaPrivate::P384(_) => Curve::P384,
        }
    }

    /// The public key.
    pub(crate) fn public(&self) -> EcdsaPublic {
        let point = match self {
            EcdsaPrivate::P256(k) => k.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            EcdsaPrivate::P384(k) => k.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
        };
        EcdsaPublic {
            curve: self.curve(),
            point,
        }
    }

    /// The big-endian scalar, `field_len` bytes long.
    pub(crate) fn scalar(&self) -> Zeroizing<Vec<u8>> {
        match self {
            EcdsaPrivate::P256(k) => {
                let mut bytes = k.to_bytes();
                let out = Zeroizing::new(bytes.to_vec());
                bytes.as_mut_slice().zeroize();
                out
            }
            EcdsaPrivate::P384(k) => {
                let mut bytes = k.to_bytes();
                let out = Zeroizing::new(bytes.to_vec());
                bytes.as_mut_slice().zeroize();
                out
            }
        }
    }

    /// The content of an `ecdsa-sha2-*` signature blob: `mpint r`, `mpint s`.
    pub(crate) fn sign(
        &self,
        data: &[u8],
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<Vec<u8>, KeyError> {
        let (r, s) = match self {
            EcdsaPrivate::P256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .try_sign_with_rng(rng, data)
                    .map_err(|_| KeyError::Signing)?;
                let (r, s) = sig.split_bytes();
                (r.to_vec(), s.to_vec())
            }
            EcdsaPrivate::P384(k) => {
                let sig: p384::ecdsa::Signature = k
                    .try_sign_with_rng(rng, data)
                    .map_err(|_| KeyError::Signing)?;
                let (r, s) = sig.split_bytes();
                (r.to_vec(), s.to_vec())
            }
        };
        let mut w = Writer::new();
        w.mpint_unsigned(&r).mpint_unsigned(&s);
        Ok(w.into_vec())
    }
}
