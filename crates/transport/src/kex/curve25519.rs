//! X25519, alone (`curve25519-sha256`, RFC 8731) and as the classic half of the hybrids.

use super::{KexError, SharedSecret};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use x25519_dalek::{EphemeralSecret, PublicKey};
use zeroize::Zeroizing;

/// The length of an X25519 public value (RFC 7748 §5).
pub(crate) const POINT_LEN: usize = 32;

/// A fresh X25519 ephemeral secret and its public value.
pub(crate) fn generate(rng: &mut dyn CryptoRng) -> (EphemeralSecret, [u8; POINT_LEN]) {
    let secret = EphemeralSecret::random_from_rng(rng);
    let public = PublicKey::from(&secret).to_bytes();
    (secret, public)
}

/// The raw 32-byte X25519 shared secret with the peer's `peer` point.
///
/// Refuses a point of the wrong length and an all-zero result (a low-order peer point).
pub(crate) fn agree(
    secret: EphemeralSecret,
    peer: &[u8],
) -> Result<Zeroizing<[u8; POINT_LEN]>, KexError> {
    // RFC 8731 §3: "Public keys are defined as strings of 32 bytes for use with [X25519]."
    // "Clients and servers MUST also abort if the length of the received public keys are
    // not the expected lengths."
    let peer: [u8; POINT_LEN] = peer.try_into().map_err(|_| KexError::WrongLength {
        what: "X25519 public key",
        expected: POINT_LEN,
        found: peer.len(),
    })?;
    let shared = secret.diffie_hellman(&PublicKey::from(peer));
    // RFC 8731 §3, by reference to RFC 7748 §6: the computed shared secret must be checked
    // for the all-zero value (a low-order peer point) and the exchange aborted if so. The
    // hybrids apply the same check to their X25519 half, as OpenSSH does.
    if bool::from(shared.as_bytes().ct_eq(&[0u8; POINT_LEN])) {
        return Err(KexError::ZeroSharedSecret);
    }
    Ok(Zeroizing::new(*shared.as_bytes()))
}

/// `K` for `curve25519-sha256` from the raw X25519 output.
///
/// RFC 8731 §3.1: "The 32 or 56 bytes of X are converted into K by interpreting the octets
/// as an unsigned fixed-length integer encoded in network byte order. The mpint K is then
/// encoded using the process described in Section 5 of [RFC4251]".
fn shared_secret(raw: &[u8; POINT_LEN]) -> Result<SharedSecret, KexError> {
    SharedSecret::from_mpint_magnitude(raw)
}

/// The client's state for `curve25519-sha256`.
pub(crate) struct Client(EphemeralSecret);

impl Client {
    /// A fresh exchange and the client's `Q_C`.
    pub(crate) fn start(rng: &mut dyn CryptoRng) -> (Client, Vec<u8>) {
        let (secret, public) = generate(rng);
        (Client(secret), public.to_vec())
    }

    /// `K` from the server's `Q_S`.
    pub(crate) fn finish(self, server_public: &[u8]) -> Result<SharedSecret, KexError> {
        shared_secret(&*agree(self.0, server_public)?)
    }
}

/// The server's `Q_S` and `K` for the client's `Q_C`.
pub(crate) fn server_reply(
    client_public: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, SharedSecret), KexError> {
    let (secret, public) = generate(rng);
    let k = shared_secret(&*agree(secret, client_public)?)?;
    Ok((public.to_vec(), k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex<const N: usize>(s: &str) -> [u8; N] {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    /// RFC 7748 §5.2 test vectors for the X25519 function.
    #[test]
    fn rfc7748_section_5_2() {
        let cases = [
            (
                "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
            ),
            (
                "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
            ),
        ];
        for (k, u, out) in cases {
            assert_eq!(x25519_dalek::x25519(unhex(k), unhex(u)), unhex::<32>(out));
        }
    }

    /// RFC 7748 §6.1: the Alice and Bob Diffie-Hellman example.
    #[test]
    fn rfc7748_section_6_1() {
        let alice_sk: [u8; 32] =
            unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let alice_pk: [u8; 32] =
            unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let bob_sk: [u8; 32] =
            unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let bob_pk: [u8; 32] =
            unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared: [u8; 32] =
            unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(x25519_dalek::x25519(alice_sk, basepoint()), alice_pk);
        assert_eq!(x25519_dalek::x25519(bob_sk, basepoint()), bob_pk);
        assert_eq!(x25519_dalek::x25519(alice_sk, bob_pk), shared);
        assert_eq!(x25519_dalek::x25519(bob_sk, alice_pk), shared);
    }

    fn basepoint() -> [u8; 32] {
        let mut b = [0u8; 32];
        b[0] = 9;
        b
    }

    /// RFC 8731 §3.1: K is the X25519 output read as a big-endian integer, as an mpint.
    #[test]
    fn rfc8731_k_encoding() {
        let mut leading_zero = [0x11u8; 32];
        leading_zero[0] = 0;
        let k = shared_secret(&leading_zero).unwrap();
        assert_eq!(&k.encoded()[..4], &[0, 0, 0, 31]);
        assert_eq!(&k.encoded()[4..], &leading_zero[1..]);

        let top_bit = [0x80u8; 32];
        let k = shared_secret(&top_bit).unwrap();
        assert_eq!(&k.encoded()[..5], &[0, 0, 0, 33, 0]);
        assert_eq!(&k.encoded()[5..], &top_bit[..]);

        let plain = [0x7fu8; 32];
        let k = shared_secret(&plain).unwrap();
        assert_eq!(&k.encoded()[..4], &[0, 0, 0, 32]);
        assert_eq!(&k.encoded()[4..], &plain[..]);
    }

    /// Low-order points of Curve25519 (and their non-canonical encodings) make X25519 output
    /// all zeros, which RFC 8731 requires us to refuse.
    #[test]
    fn low_order_points_are_refused() {
        let mut rng = crate::kex::test_rng::TestRng::new(1);
        for point in low_order_points() {
            let (secret, _) = generate(&mut rng);
            assert_eq!(
                agree(secret, &point).unwrap_err(),
                KexError::ZeroSharedSecret
            );
            assert_eq!(
                server_reply(&point, &mut rng).unwrap_err(),
                KexError::ZeroSharedSecret
            );
        }
    }

    /// The points of order 1, 2, 4 and 8 and their encodings offset by p = 2^255 - 19.
    pub(crate) fn low_order_points() -> Vec<[u8; 32]> {
        let hexes = [
            // u = 0: the point (0, 0), of order 2
            "0000000000000000000000000000000000000000000000000000000000000000",
            // u = 1: a point of order 4
            "0100000000000000000000000000000000000000000000000000000000000000",
            // order 8 points
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            // p - 1
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            // p, p + 1 (non-canonical encodings of 0 and 1)
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ];
        hexes.iter().map(|h| unhex(h)).collect()
    }

    #[test]
    fn wrong_lengths_are_refused() {
        let mut rng = crate::kex::test_rng::TestRng::new(2);
        for len in [0, 1, 31, 33, 64] {
            let (client, _) = Client::start(&mut rng);
            assert!(matches!(
                client.finish(&vec![9; len]),
                Err(KexError::WrongLength { expected: 32, .. })
            ));
            assert!(matches!(
                server_reply(&vec![9; len], &mut rng),
                Err(KexError::WrongLength { expected: 32, .. })
            ));
        }
    }

    #[test]
    fn agreement() {
        let mut rng = crate::kex::test_rng::TestRng::new(3);
        let (client, q_c) = Client::start(&mut rng);
        let (q_s, k_s) = server_reply(&q_c, &mut rng).unwrap();
        let k_c = client.finish(&q_s).unwrap();
        assert_eq!(k_c, k_s);
        assert_eq!(q_c.len(), 32);
        assert_eq!(q_s.len(), 32);
    }
}
