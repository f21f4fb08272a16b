//! The post-quantum hybrids: ML-KEM-768 + X25519 and sntrup761 + X25519.
//!
//! Both have the same shape. The client sends `C_INIT = pq_public_key || x25519_public`, the
//! server replies `S_REPLY = pq_ciphertext || x25519_public`, and
//! `K = HASH(pq_shared_secret || x25519_shared_secret)`, encoded as a `string`.

use super::curve25519;
use super::{HashAlg, KexError, SharedSecret};
use ml_kem::array::Array;
use ml_kem::{Decapsulate, Encapsulate, Generate, KeyExport, MlKem768};
use rand_core::CryptoRng;
use x25519_dalek::EphemeralSecret;
use zeroize::Zeroizing;

/// ML-KEM-768 encapsulation key length (FIPS 203 §8: 384k + 32 with k = 3).
pub(crate) const MLKEM768_PUBLIC_LEN: usize = 1184;
/// ML-KEM-768 ciphertext length (FIPS 203 §8: 32(du k + dv) with du = 10, dv = 4).
pub(crate) const MLKEM768_CIPHERTEXT_LEN: usize = 1088;
/// sntrup761 public key length.
pub(crate) const SNTRUP761_PUBLIC_LEN: usize = sntrup761::PUBLIC_KEY_SIZE;
/// sntrup761 ciphertext length.
pub(crate) const SNTRUP761_CIPHERTEXT_LEN: usize = sntrup761::CIPHERTEXT_SIZE;

type MlKemDk = ml_kem::DecapsulationKey<MlKem768>;
type MlKemEk = ml_kem::EncapsulationKey<MlKem768>;

/// Which post-quantum KEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pq {
    /// ML-KEM-768 with SHA-256 (`mlkem768x25519-sha256`).
    MlKem768,
    /// sntrup761 with SHA-512 (`sntrup761x25519-sha512`).
    Sntrup761,
}

impl Pq {
    fn public_len(self) -> usize {
        match self {
            Pq::MlKem768 => MLKEM768_PUBLIC_LEN,
            Pq::Sntrup761 => SNTRUP761_PUBLIC_LEN,
        }
    }

    fn ciphertext_len(self) -> usize {
        match self {
            Pq::MlKem768 => MLKEM768_CIPHERTEXT_LEN,
            Pq::Sntrup761 => SNTRUP761_CIPHERTEXT_LEN,
        }
    }

    fn hash(self) -> HashAlg {
        match self {
            Pq::MlKem768 => HashAlg::Sha256,
            Pq::Sntrup761 => HashAlg::Sha512,
        }
    }
}

/// The client's post-quantum decapsulation key.
enum PqSecret {
    MlKem768(Box<MlKemDk>),
    Sntrup761(Box<sntrup761::DecapsulationKey>),
}

/// The client's state for one hybrid exchange (both secrets zeroize themselves on drop).
pub(crate) struct Client {
    pq: PqSecret,
    x25519: EphemeralSecret,
}

/// Splits `field` into the fixed-length PQ part and the 32-byte X25519 part.
fn split<'a>(
    field: &'a [u8],
    pq_len: usize,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), KexError> {
    // draft-ietf-sshm-mlkem-hybrid-kex (and the sntrup761 method, same layout): C_INIT and
    // S_REPLY are fixed-length concatenations of the KEM value and the X25519 point, so a
    // value of any other length is malformed and the exchange fails.
    let expected = pq_len + curve25519::POINT_LEN;
    if field.len() != expected {
        return Err(KexError::WrongLength {
            what,
            expected,
            found: field.len(),
        });
    }
    field
        .split_at_checked(pq_len)
        .ok_or(KexError::Internal("split"))
}

/// `K = string(HASH(pq_ss || x25519_ss))`.
fn combine(pq: Pq, pq_ss: &[u8], x_ss: &[u8]) -> Result<SharedSecret, KexError> {
    let mut both = Zeroizing::new(Vec::with_capacity(pq_ss.len() + x_ss.len()));
    both.extend_from_slice(pq_ss);
    both.extend_from_slice(x_ss);
    let digest = Zeroizing::new(pq.hash().digest(&both));
    SharedSecret::from_string(&digest)
}

impl Client {
    /// A fresh exchange and the client's `C_INIT`.
    pub(crate) fn start(pq: Pq, rng: &mut dyn CryptoRng) -> (Client, Vec<u8>) {
        let mut init = Vec::with_capacity(pq.public_len() + curve25519::POINT_LEN);
        let secret = match pq {
            Pq::MlKem768 => {
                let dk = Box::new(MlKemDk::generate_from_rng(rng));
                init.extend_from_slice(&dk.encapsulation_key().to_bytes());
                PqSecret::MlKem768(dk)
            }
            Pq::Sntrup761 => {
                let (pk, sk) = sntrup761::generate_key(&mut *rng);
                init.extend_from_slice(pk.as_ref());
                PqSecret::Sntrup761(Box::new(sk))
            }
        };
        let (x25519, x_pub) = curve25519::generate(rng);
        init.extend_from_slice(&x_pub);
        (Client { pq: secret, x25519 }, init)
    }

    /// `K` from the server's `S_REPLY`.
    pub(crate) fn finish(self, reply: &[u8]) -> Result<SharedSecret, KexError> {
        let pq = match self.pq {
            PqSecret::MlKem768(_) => Pq::MlKem768,
            PqSecret::Sntrup761(_) => Pq::Sntrup761,
        };
        let (ct, x_pub) = split(reply, pq.ciphertext_len(), "S_REPLY")?;
        let x_ss = curve25519::agree(self.x25519, x_pub)?;
        // Decapsulation never fails: both KEMs use implicit rejection, so a bad ciphertext
        // yields an unrelated secret and the exchange fails at the host key signature.
        let pq_ss: Zeroizing<[u8; 32]> = match &self.pq {
            PqSecret::MlKem768(dk) => {
                let ct = Array::try_from(ct).map_err(|_| KexError::Internal("ct length"))?;
                Zeroizing::new(dk.decapsulate(&ct).into())
            }
            PqSecret::Sntrup761(sk) => {
                let ct = sntrup761::Ciphertext::try_from(ct)
                    .map_err(|_| KexError::Internal("ct length"))?;
                let ss = sk.decapsulate(&ct);
                Zeroizing::new(to_array(ss.as_ref())?)
            }
        };
        combine(pq, pq_ss.as_slice(), x_ss.as_slice())
    }
}

/// The server's `S_REPLY` and `K` for the client's `C_INIT`.
pub(crate) fn server_reply(
    pq: Pq,
    init: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, SharedSecret), KexError> {
    let (pk, x_pub_c) = split(init, pq.public_len(), "C_INIT")?;
    let mut reply = Vec::with_capacity(pq.ciphertext_len() + curve25519::POINT_LEN);
    let pq_ss: Zeroizing<[u8; 32]> = match pq {
        Pq::MlKem768 => {
            let key = Array::try_from(pk).map_err(|_| KexError::Internal("ek length"))?;
            // FIPS 203 §7.2: "Encapsulation key check. [...] (Modulus check) [...] If
            // test ≠ ek[0:384k], then input checking failed." `MlKemEk::new` performs it.
            let ek = MlKemEk::new(&key).map_err(|_| {
                KexError::InvalidPublicValue("ML-KEM encapsulation key fails the modulus check")
            })?;
            let (ct, ss) = ek.encapsulate_with_rng(rng);
            reply.extend_from_slice(ct.as_slice());
            Zeroizing::new(ss.into())
        }
        Pq::Sntrup761 => {
            // Every 1158-byte string decodes to a public key (coefficients are reduced when
            // decoded), so there is no further check to make.
            let ek = sntrup761::EncapsulationKey::try_from(pk)
                .map_err(|_| KexError::Internal("pk length"))?;
            let (ct, ss) = ek.encapsulate(&mut *rng);
            reply.extend_from_slice(ct.as_ref());
            Zeroizing::new(to_array(ss.as_ref())?)
        }
    };
    let (x_secret, x_pub_s) = curve25519::generate(rng);
    let x_ss = curve25519::agree(x_secret, x_pub_c)?;
    reply.extend_from_slice(&x_pub_s);
    let k = combine(pq, pq_ss.as_slice(), x_ss.as_slice())?;
    Ok((reply, k))
}

fn to_array(ss: &[u8]) -> Result<[u8; 32], KexError> {
    ss.try_into()
        .map_err(|_| KexError::Internal("KEM shared secret length"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kex::test_rng::TestRng;

    const BOTH: [Pq; 2] = [Pq::MlKem768, Pq::Sntrup761];

    #[test]
    fn agreement_and_sizes() {
        let mut rng = TestRng::new(30);
        for pq in BOTH {
            let (client, init) = Client::start(pq, &mut rng);
            let (reply, k_s) = server_reply(pq, &init, &mut rng).unwrap();
            let k_c = client.finish(&reply).unwrap();
            assert_eq!(k_c, k_s);
            let (init_len, reply_len, k_len) = match pq {
                Pq::MlKem768 => (1184 + 32, 1088 + 32, 32),
                Pq::Sntrup761 => (1158 + 32, 1039 + 32, 64),
            };
            assert_eq!(init.len(), init_len);
            assert_eq!(reply.len(), reply_len);
            // K is a string: uint32 length, then the hash output.
            assert_eq!(k_c.encoded().len(), 4 + k_len);
            assert_eq!(&k_c.encoded()[..4], &(k_len as u32).to_be_bytes());
        }
    }

    /// K = HASH(pq_ss || x25519_ss), checked against a recomputation from the parts.
    #[test]
    fn k_is_hash_of_concatenation() {
        let k = combine(Pq::MlKem768, &[1; 32], &[2; 32]).unwrap();
        let mut input = vec![1u8; 32];
        input.extend_from_slice(&[2; 32]);
        assert_eq!(&k.encoded()[4..], HashAlg::Sha256.digest(&input).as_slice());
        let k = combine(Pq::Sntrup761, &[1; 32], &[2; 32]).unwrap();
        assert_eq!(&k.encoded()[4..], HashAlg::Sha512.digest(&input).as_slice());
        assert_eq!(&k.encoded()[..4], &[0, 0, 0, 64]);
    }

    #[test]
    fn wrong_lengths_are_refused() {
        let mut rng = TestRng::new(31);
        for pq in BOTH {
            let (_, init) = Client::start(pq, &mut rng);
            let (reply, _) = server_reply(pq, &init, &mut rng).unwrap();
            for bad in [&init[..0], &init[..1], &init[..init.len() - 1], &init[..32]] {
                assert!(matches!(
                    server_reply(pq, bad, &mut rng),
                    Err(KexError::WrongLength { .. })
                ));
            }
            let mut longer = init.clone();
            longer.push(0);
            assert!(matches!(
                server_reply(pq, &longer, &mut rng),
                Err(KexError::WrongLength { .. })
            ));
            for bad in [&reply[..0], &reply[..reply.len() - 1], &init[..]] {
                let (client, _) = Client::start(pq, &mut rng);
                assert!(matches!(
                    client.finish(bad),
                    Err(KexError::WrongLength { .. })
                ));
            }
            let mut longer = reply.clone();
            longer.push(0);
            let (client, _) = Client::start(pq, &mut rng);
            assert!(matches!(
                client.finish(&longer),
                Err(KexError::WrongLength { .. })
            ));
        }
    }

    /// FIPS 203 §7.2 modulus check: coefficients are 12-bit values that must be < q = 3329.
    #[test]
    fn mlkem_key_failing_modulus_check_is_refused() {
        let mut rng = TestRng::new(32);
        let (_, mut init) = Client::start(Pq::MlKem768, &mut rng);
        init[..3].copy_from_slice(&[0xff, 0xff, 0xff]);
        assert_eq!(
            server_reply(Pq::MlKem768, &init, &mut rng).unwrap_err(),
            KexError::InvalidPublicValue("ML-KEM encapsulation key fails the modulus check")
        );
    }

    /// The X25519 half gets the RFC 8731 all-zero check too.
    #[test]
    fn low_order_x25519_half_is_refused() {
        let mut rng = TestRng::new(33);
        for pq in BOTH {
            let (_, mut init) = Client::start(pq, &mut rng);
            let n = init.len();
            init[n - 32..].fill(0);
            assert_eq!(
                server_reply(pq, &init, &mut rng).unwrap_err(),
                KexError::ZeroSharedSecret
            );
            let (client, init) = Client::start(pq, &mut rng);
            let (mut reply, _) = server_reply(pq, &init, &mut rng).unwrap();
            let n = reply.len();
            reply[n - 32] = 1;
            reply[n - 31..].fill(0);
            assert_eq!(
                client.finish(&reply).unwrap_err(),
                KexError::ZeroSharedSecret
            );
        }
    }

    /// Both KEMs reject implicitly: a tampered ciphertext gives a different K, not an error.
    #[test]
    fn tampered_ciphertext_gives_a_different_secret() {
        let mut rng = TestRng::new(34);
        for pq in BOTH {
            let (client, init) = Client::start(pq, &mut rng);
            let (mut reply, k_s) = server_reply(pq, &init, &mut rng).unwrap();
            reply[0] ^= 1;
            assert_ne!(client.finish(&reply).unwrap(), k_s);
        }
    }
}
