//! RSA keys and signatures (RFC 4253 §6.6, RFC 8332).
//!
//! Every private-key operation is ring's: `rsa-sha2-256` and `rsa-sha2-512` signatures
//! (CRT exponentiation with blinding and constant-time arithmetic, PKCS#1 v1.5 padding).
//! ring also does all verification, `ssh-rsa` (SHA-1) included. The `rsa` crate is used only
//! to generate keys: its private-key operations carry RUSTSEC-2023-0071 (the Marvin timing
//! leak, no fixed version), and sshwire makes none with it. ring has no SHA-1 PKCS#1 signing
//! encoding, so sshwire's own keys make no legacy `ssh-rsa` signatures: signing with
//! [`SignatureAlgorithm::RsaSha1`] is [`KeyError::Unsupported`] (an ssh-agent may still make
//! them). ring signs with 2048 to 4096-bit keys only; other sizes are refused with
//! [`KeyError::Unsupported`] when they sign. The CRT exponents that OpenSSH files do not hold
//! are derived with `crypto-bigint`.

use crypto_bigint::{BoxedUint, ConcatenatingMul, NonZero};
use ring::signature::{self as ring_sig, RsaEncoding, RsaParameters};
use sshwire_wire::{Reader, Writer};
use zeroize::Zeroizing;

use crate::{KeyError, SignatureAlgorithm};

/// Smallest RSA modulus accepted, in bits.
///
/// OpenSSH refuses RSA keys below 1024 bits (`SSH_RSA_MINIMUM_MODULUS_SIZE`); so does sshwire.
pub const MIN_RSA_BITS: usize = 1024;
/// Largest RSA modulus accepted, in bits (OpenSSH's `SSH_RSA_MAXIMUM_MODULUS_SIZE`).
pub const MAX_RSA_BITS: usize = 16384;
/// Largest RSA modulus whose signatures can be verified, in bits (ring's limit).
pub const MAX_RSA_VERIFY_BITS: usize = 8192;
/// RSA modulus sizes that can be generated and used for signing (ring's private key rules:
/// 2048 to 4096 bits, primes a multiple of 512 bits).
pub const RSA_SIGNING_BITS: [u32; 3] = [2048, 3072, 4096];
/// Default size of a generated RSA key, as in `ssh-keygen`.
pub const DEFAULT_RSA_BITS: u32 = 3072;
/// Largest public exponent accepted: ring's bound of 33 bits.
const MAX_EXPONENT_BITS: usize = 33;

/// Number of significant bits of a big-endian magnitude.
pub(crate) fn bit_len(magnitude: &[u8]) -> usize {
    let Some(pos) = magnitude.iter().position(|&b| b != 0) else {
        return 0;
    };
    let digits = magnitude.len() - pos;
    let top = magnitude.get(pos).copied().unwrap_or(0);
    (digits - 1) * 8 + (8 - top.leading_zeros() as usize)
}

/// A validated RSA public key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct RsaPublic {
    /// The public exponent, big-endian, no leading zeros.
    e: Vec<u8>,
    /// The modulus, big-endian, no leading zeros.
    n: Vec<u8>,
}

impl RsaPublic {
    /// Decodes the fields of a key blob that follow the name.
    ///
    /// RFC 4253 §6.6: `string "ssh-rsa"`, `mpint e`, `mpint n`.
    pub(crate) fn decode_body(r: &mut Reader<'_>) -> Result<Self, KeyError> {
        let e = r.mpint_unsigned()?;
        let n = r.mpint_unsigned()?;
        Self::from_components(n, e)
    }

    /// A public key from its modulus and exponent magnitudes.
    pub(crate) fn from_components(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        // Checked before anything is copied, so a huge modulus costs nothing.
        let bits = bit_len(n);
        if bits > MAX_RSA_BITS {
            return Err(KeyError::InvalidKey(
                "RSA modulus is larger than 16384 bits",
            ));
        }
        // OpenSSH sshkey.c: RSA keys smaller than SSH_RSA_MINIMUM_MODULUS_SIZE are refused.
        if bits < MIN_RSA_BITS {
            return Err(KeyError::InvalidKey(
                "RSA modulus is smaller than 1024 bits",
            ));
        }
        // RFC 8017 §3.1: n is the product of odd primes, so it is odd.
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::InvalidKey("RSA modulus is even"));
        }
        // RFC 8017 §3.1: "the RSA public exponent e is an integer between 3 and n - 1
        // satisfying GCD(e, \lambda(n)) = 1", so it is odd; ring bounds it to 33 bits.
        let e_bits = bit_len(e);
        if !(2..=MAX_EXPONENT_BITS).contains(&e_bits) || e.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::InvalidKey(
                "RSA public exponent is not an odd number of 2 to 33 bits",
            ));
        }
        Ok(RsaPublic {
            e: e.to_vec(),
            n: n.to_vec(),
        })
    }

    /// Size of the modulus in bits.
    pub(crate) fn bits(&self) -> usize {
        bit_len(&self.n)
    }

    /// The modulus.
    pub(crate) fn n(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent.
    pub(crate) fn e(&self) -> &[u8] {
        &self.e
    }

    /// Appends the fields that follow the name in a key blob.
    pub(crate) fn encode_body(&self, w: &mut Writer) {
        w.mpint_unsigned(&self.e).mpint_unsigned(&self.n);
    }

    /// Verifies the content of an RSA signature blob.
    ///
    /// RFC 8332 §3: `string "rsa-sha2-256" / "rsa-sha2-512"`, `string rsa_signature_blob`,
    /// the blob being the RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2.2).
    pub(crate) fn verify(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        signature: &[u8],
    ) -> Result<(), KeyError> {
        if self.bits() > MAX_RSA_VERIFY_BITS {
            return Err(KeyError::Unsupported(
                "RSA signatures by keys over 8192 bits".into(),
            ));
        }
        // The bounds are sshwire's own MIN_RSA_BITS (checked when the key was decoded), so
        // ring's "legacy" parameters, which accept 1024 bits and up, are the right ones.
        let params: &'static RsaParameters = match alg {
            SignatureAlgorithm::RsaSha256 => {
                &ring_sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
            }
            SignatureAlgorithm::RsaSha512 => {
                &ring_sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
            }
            SignatureAlgorithm::RsaSha1 => &ring_sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            _ => return Err(KeyError::AlgorithmMismatch),
        };
        // RFC 8017 §8.2.2 step 1: the signature has the length k of the modulus. RFC 8332 §3
        // leaves no room for a shorter one, but OpenSSH (ssh-rsa.c) accepts signatures shorter
        // than the modulus and left-pads them with zeros; so does sshwire. Longer ones fail.
        let k = self.n.len();
        if signature.len() > k {
            return Err(KeyError::BadSignature);
        }
        let mut padded = vec![0u8; k];
        let start = k - signature.len();
        if let Some(tail) = padded.get_mut(start..) {
            tail.copy_from_slice(signature);
        }
        let key = ring_sig::RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        };
        key.verify(params, data, &padded)
            .map_err(|_| KeyError::BadSignature)
    }
}

/// An RSA private key, kept as zeroized big-endian components.
#[derive(Clone)]
pub(crate) struct RsaPrivate {
    public: RsaPublic,
    d: Zeroizing<Vec<u8>>,
    /// `q^-1 mod p`, as OpenSSH stores it.
    iqmp: Zeroizing<Vec<u8>>,
    p: Zeroizing<Vec<u8>>,
    q: Zeroizing<Vec<u8>>,
    /// `d mod (p-1)`.
    dp: Zeroizing<Vec<u8>>,
    /// `d mod (q-1)`.
    dq: Zeroizing<Vec<u8>>,
}

/// A big integer from a big-endian magnitude, at a precision set by its length only.
fn uint(magnitude: &[u8]) -> Result<Zeroizing<BoxedUint>, KeyError> {
    let bits = magnitude.len().saturating_mul(8).max(64).div_ceil(64) * 64;
    let bits = u32::try_from(bits).map_err(|_| KeyError::InvalidKey("RSA component too long"))?;
    BoxedUint::from_be_slice(magnitude, bits)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::InvalidKey("RSA component too long"))
}

/// The big-endian magnitude of `x`, without leading zeros.
fn magnitude(x: &BoxedUint) -> Zeroizing<Vec<u8>> {
    let bytes = Zeroizing::new(x.to_be_bytes());
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    Zeroizing::new(bytes.get(start..).unwrap_or_default().to_vec())
}

/// `d mod (prime - 1)`.
fn crt_exponent(d: &BoxedUint, prime: &BoxedUint) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let one = BoxedUint::one_with_precision(prime.bits_precision());
    let prime_minus_one = Zeroizing::new(prime.wrapping_sub(&one));
    let modulus = NonZero::new(BoxedUint::clone(&prime_minus_one))
        .into_option()
        .map(Zeroizing::new)
        .ok_or(KeyError::InvalidKey("RSA prime is one"))?;
    let rem = Zeroizing::new(d.rem(&modulus));
    Ok(magnitude(&rem))
}

impl RsaPrivate {
    /// A key from OpenSSH's components: `n`, `e`, `d`, `iqmp`, `p`, `q`.
    ///
    /// Checks that `p * q = n` and `iqmp * q = 1 (mod p)`; ring checks the rest of the key
    /// (sizes of `d`, the CRT exponents) each time it signs.
    pub(crate) fn from_components(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        iqmp: &[u8],
        p: &[u8],
        q: &[u8],
    ) -> Result<Self, KeyError> {
        let public = RsaPublic::from_components(n, e)?;
        // Every component is bounded by the modulus, itself bounded above.
        let limit = public.n.len();
        if d.len() > limit || iqmp.len() > limit || p.len() > limit || q.len() > limit {
            return Err(KeyError::InvalidKey(
                "RSA private component longer than the modulus",
            ));
        }
        let (d_int, p_int, q_int) = (uint(d)?, uint(p)?, uint(q)?);
        let product = Zeroizing::new(
            <BoxedUint as ConcatenatingMul<&BoxedUint>>::concatenating_mul(&p_int, &q_int),
        );
        if magnitude(&product).as_slice() != public.n.as_slice() {
            return Err(KeyError::InvalidKey(
                "RSA primes do not multiply to the modulus",
            ));
        }
        // OpenSSH stores iqmp = q^-1 mod p (PROTOCOL.key via ssh-agent's RSA key format).
        let iqmp_int = uint(iqmp)?;
        let p_nonzero = NonZero::new(BoxedUint::clone(&p_int))
            .into_option()
            .map(Zeroizing::new)
            .ok_or(KeyError::InvalidKey("RSA prime is zero"))?;
        let iqmp_times_q = Zeroizing::new(
            <BoxedUint as ConcatenatingMul<&BoxedUint>>::concatenating_mul(&iqmp_int, &q_int),
        );
        let check = Zeroizing::new(iqmp_times_q.rem(&p_nonzero));
        if !bool::from(check.is_one()) {
            return Err(KeyError::InvalidKey(
                "RSA iqmp is not the inverse of q modulo p",
            ));
        }
        let dp = crt_exponent(&d_int, &p_int)?;
        let dq = crt_exponent(&d_int, &q_int)?;
        Ok(RsaPrivate {
            public,
            d: Zeroizing::new(d.to_vec()),
            iqmp: Zeroizing::new(iqmp.to_vec()),
            p: Zeroizing::new(p.to_vec()),
            q: Zeroizing::new(q.to_vec()),
            dp,
            dq,
        })
    }

    /// A new random key of `bits` bits (one of [`RSA_SIGNING_BITS`]) with `e = 65537`.
    pub(crate) fn generate(
        bits: u32,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<Self, KeyError> {
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        if !RSA_SIGNING_BITS.contains(&bits) {
            return Err(KeyError::Unsupported(format!(
                "RSA keys of {bits} bits (2048, 3072 or 4096 can be generated)"
            )));
        }
        let size = usize::try_from(bits).map_err(|_| KeyError::Generation)?;
        let key = rsa::PrivateKey::new(rng, size).map_err(|_| KeyError::Generation)?;
        let [p, q] = key.primes() else {
            return Err(KeyError::Generation);
        };
        let iqmp = key.crt_coefficient().ok_or(KeyError::Generation)?;
        let iqmp = Zeroizing::new(iqmp);
        let d = magnitude(key.d());
        let p = magnitude(p.as_ref());
        let q = magnitude(q.as_ref());
        let n = key.n_bytes();
        let e = key.e_bytes();
        Self::from_components(&n, &e, &d, &magnitude(&iqmp), &p, &q)
            .map_err(|_| KeyError::Generation)
    }

    /// The public key.
    pub(crate) fn public(&self) -> &RsaPublic {
        &self.public
    }

    /// The private exponent.
    pub(crate) fn d(&self) -> &[u8] {
        &self.d
    }

    /// `q^-1 mod p`.
    pub(crate) fn iqmp(&self) -> &[u8] {
        &self.iqmp
    }

    /// The first prime.
    pub(crate) fn p(&self) -> &[u8] {
        &self.p
    }

    /// The second prime.
    pub(crate) fn q(&self) -> &[u8] {
        &self.q
    }

    /// The content of an RSA signature blob: the PKCS#1 v1.5 signature, `k` bytes long.
    ///
    /// RFC 8332 §3: `rsa-sha2-256` signs with SHA-256 and `rsa-sha2-512` with SHA-512;
    /// RFC 4253 §6.6: `ssh-rsa` signs with SHA-1.
    pub(crate) fn sign(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        _rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<Vec<u8>, KeyError> {
        let padding: &'static dyn RsaEncoding = match alg {
            SignatureAlgorithm::RsaSha256 => &ring_sig::RSA_PKCS1_SHA256,
            SignatureAlgorithm::RsaSha512 => &ring_sig::RSA_PKCS1_SHA512,
            // ring has no SHA-1 PKCS#1 v1.5 signing encoding, and the one crate here that has
            // (`rsa`) leaks its private-key operations through timing (RUSTSEC-2023-0071).
            SignatureAlgorithm::RsaSha1 => {
                return Err(KeyError::Unsupported(
                    "ssh-rsa (SHA-1) signatures with a local key; rsa-sha2-256 and \
                     rsa-sha2-512 can sign"
                        .into(),
                ));
            }
            _ => return Err(KeyError::AlgorithmMismatch),
        };
        let components = ring::rsa::KeyPairComponents {
            public_key: ring::rsa::PublicKeyComponents {
                n: self.public.n.as_slice(),
                e: self.public.e.as_slice(),
            },
            d: self.d.as_slice(),
            p: self.p.as_slice(),
            q: self.q.as_slice(),
            dP: self.dp.as_slice(),
            dQ: self.dq.as_slice(),
            qInv: self.iqmp.as_slice(),
        };
        let bits = self.public.bits();
        let pair = ring_sig::RsaKeyPair::from_components(&components).map_err(|e| {
            if RSA_SIGNING_BITS.iter().any(|&b| b as usize == bits) {
                KeyError::InvalidKey("RSA private key refused by ring")
            } else {
                KeyError::Unsupported(format!(
                    "signing with {bits}-bit RSA keys ({e}); 2048, 3072 or 4096-bit keys can sign"
                ))
            }
        })?;
        let mut signature = vec![0u8; pair.public().modulus_len()];
        // PKCS#1 v1.5 padding is deterministic: ring takes a random source for PSS only and
        // does not draw from it here, so the system source is passed.
        pair.sign(
            padding,
            &ring::rand::SystemRandom::new(),
            data,
            &mut signature,
        )
        .map_err(|_| KeyError::Signing)?;
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::testing::TestRng;

    /// RFC 8017 §9.2 note 1: the DER `DigestInfo` prefixes of SHA-1, SHA-256 and SHA-512.
    const SHA1_PREFIX: &[u8] = &[
        0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
    ];
    const SHA256_PREFIX: &[u8] = &[
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    const SHA512_PREFIX: &[u8] = &[
        0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
        0x05, 0x00, 0x04, 0x40,
    ];

    /// The same key as an `rsa` crate key, to compare signatures with.
    fn rsa_crate_key(key: &RsaPrivate) -> rsa::PrivateKey {
        let n = uint(key.public().n()).unwrap();
        let precision = n.bits_precision();
        let widen = |x: &[u8]| BoxedUint::from_be_slice(x, precision).unwrap();
        rsa::PrivateKey::from_components(
            BoxedUint::clone(&n),
            widen(key.public().e()),
            widen(key.d()),
            vec![widen(key.p()), widen(key.q())],
        )
        .unwrap()
    }

    /// A PKCS#1 v1.5 signature made by the `rsa` crate (blinded with a test generator).
    fn rsa_crate_sign(
        key: &RsaPrivate,
        alg: &'static ring::digest::Algorithm,
        prefix: &[u8],
        data: &[u8],
    ) -> Vec<u8> {
        let digest = ring::digest::digest(alg, data);
        let padding = rsa::Pkcs1v15Sign {
            hash_len: Some(digest.as_ref().len()),
            prefix: prefix.to_vec().into_boxed_slice(),
        };
        rsa_crate_key(key)
            .sign_with_rng(&mut TestRng(5), padding, digest.as_ref())
            .unwrap()
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0, 0]), 0);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[0x01, 0, 1]), 17);
    }

    /// PKCS#1 v1.5 is deterministic: ring's signatures are byte for byte those the `rsa`
    /// crate made before signing moved to ring, and ssh-rsa signing is refused, while an
    /// ssh-rsa signature made elsewhere still verifies.
    #[test]
    fn ring_signs_exactly_what_the_rsa_crate_signed() {
        let mut rng = TestRng(11);
        for bits in [2048, 3072] {
            let key = RsaPrivate::generate(bits, &mut rng).unwrap();
            for data in [&b""[..], b"m", &[0x5a; 1000]] {
                let cases = [
                    (
                        SignatureAlgorithm::RsaSha256,
                        &ring::digest::SHA256,
                        SHA256_PREFIX,
                    ),
                    (
                        SignatureAlgorithm::RsaSha512,
                        &ring::digest::SHA512,
                        SHA512_PREFIX,
                    ),
                ];
                for (alg, digest, prefix) in cases {
                    let ours = key.sign(alg, data, &mut rng).unwrap();
                    assert_eq!(
                        ours,
                        rsa_crate_sign(&key, digest, prefix, data),
                        "{alg} {bits}"
                    );
                    key.public().verify(alg, data, &ours).unwrap();
                    assert_eq!(
                        key.public().verify(alg, b"other", &ours),
                        Err(KeyError::BadSignature)
                    );
                }
                assert!(matches!(
                    key.sign(SignatureAlgorithm::RsaSha1, data, &mut rng),
                    Err(KeyError::Unsupported(why)) if why.contains("ssh-rsa")
                ));
                let sha1 = rsa_crate_sign(
                    &key,
                    &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                    SHA1_PREFIX,
                    data,
                );
                key.public()
                    .verify(SignatureAlgorithm::RsaSha1, data, &sha1)
                    .unwrap();
            }
        }
    }
}
