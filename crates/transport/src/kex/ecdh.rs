//! Elliptic curve Diffie-Hellman over NIST P-256 and P-384 (RFC 5656 §4).
//!
//! Public values are SEC1 octet strings. RFC 5656 §3.1 defines the encoding ("encoded from an
//! elliptic curve point into an octet string as defined in Section 2.3.3 of [SEC1]; point
//! compression MAY be used") and §4 uses it for `Q_C` and `Q_S`. We send the uncompressed form
//! `0x04 || x || y` and accept only that form: compression is optional, OpenSSH neither sends
//! nor accepts it, and refusing it keeps the parser that sees hostile input small. A point
//! tagged `0x02`/`0x03` (compressed), `0x00` (the point at infinity) or anything else is an
//! error.

use super::{KexError, SharedSecret};
use elliptic_curve::{
    AffinePoint, CurveArithmetic, FieldBytesSize, Generate, PublicKey,
    ecdh::EphemeralSecret,
    sec1::{FromSec1Point, ModulusSize, ToSec1Point},
};
use p256::{NistP256, elliptic_curve};
use p384::NistP384;
use rand_core::CryptoRng;

/// The SEC1 tag of an uncompressed point (SEC 1 v2 §2.3.3).
const UNCOMPRESSED: u8 = 0x04;

/// The client's ephemeral secret for one ECDH exchange.
pub(crate) enum Client {
    /// `ecdh-sha2-nistp256`.
    P256(EphemeralSecret<NistP256>),
    /// `ecdh-sha2-nistp384`.
    P384(EphemeralSecret<NistP384>),
}

/// Which curve.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

impl Client {
    /// A fresh exchange and the client's `Q_C`.
    pub(crate) fn start(curve: Curve, rng: &mut dyn CryptoRng) -> (Client, Vec<u8>) {
        match curve {
            Curve::P256 => {
                let (s, q) = generate::<NistP256>(rng);
                (Client::P256(s), q)
            }
            Curve::P384 => {
                let (s, q) = generate::<NistP384>(rng);
                (Client::P384(s), q)
            }
        }
    }

    /// `K` from the server's `Q_S`.
    pub(crate) fn finish(self, server_public: &[u8]) -> Result<SharedSecret, KexError> {
        match self {
            Client::P256(s) => agree(&s, server_public),
            Client::P384(s) => agree(&s, server_public),
        }
    }
}

/// The server's `Q_S` and `K` for the client's `Q_C`.
pub(crate) fn server_reply(
    curve: Curve,
    client_public: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, SharedSecret), KexError> {
    match curve {
        Curve::P256 => server::<NistP256>(client_public, rng),
        Curve::P384 => server::<NistP384>(client_public, rng),
    }
}

fn server<C>(
    client_public: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, SharedSecret), KexError>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    // Validate before generating anything.
    let peer = parse_point::<C>(client_public)?;
    let (secret, public) = generate::<C>(rng);
    let k = shared_secret::<C>(&secret, &peer)?;
    Ok((public, k))
}

fn generate<C>(rng: &mut dyn CryptoRng) -> (EphemeralSecret<C>, Vec<u8>)
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let secret = EphemeralSecret::<C>::generate_from_rng(rng);
    let public = secret.public_key().to_sec1_point(false).as_bytes().to_vec();
    (secret, public)
}

fn agree<C>(secret: &EphemeralSecret<C>, peer: &[u8]) -> Result<SharedSecret, KexError>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let peer = parse_point::<C>(peer)?;
    shared_secret::<C>(secret, &peer)
}

/// Parses and validates a peer's SEC1 point.
fn parse_point<C>(bytes: &[u8]) -> Result<PublicKey<C>, KexError>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let field_len = field_len::<C>();
    let expected = 1 + 2 * field_len;
    // RFC 5656 §3.1: Q is "encoded from an elliptic curve point into an octet string as
    // defined in Section 2.3.3 of [SEC1]"; we accept only the uncompressed form (module docs).
    match bytes.first() {
        None => {
            return Err(KexError::WrongLength {
                what: "ECDH public key",
                expected,
                found: 0,
            });
        }
        Some(&UNCOMPRESSED) => {}
        Some(0x02 | 0x03) => {
            return Err(KexError::InvalidPublicValue(
                "compressed ECDH points are not accepted",
            ));
        }
        Some(0x00) => {
            return Err(KexError::InvalidPublicValue(
                "ECDH public key is the point at infinity",
            ));
        }
        Some(_) => return Err(KexError::InvalidPublicValue("unknown SEC1 point tag")),
    }
    if bytes.len() != expected {
        return Err(KexError::WrongLength {
            what: "ECDH public key",
            expected,
            found: bytes.len(),
        });
    }
    // RFC 5656 §4: "All elliptic curve public keys MUST be validated after they are
    // received. An example of a validation algorithm can be found in Section 3.2.2 of
    // [SEC1]. If a key fails validation, the key exchange MUST fail." SEC1 §3.2.2.1: the
    // point is not the point at infinity, its coordinates are field elements (< p) and it
    // satisfies the curve equation; `from_sec1_bytes` makes exactly those checks. The last
    // step (n * Q = O) holds for every curve point, as P-256 and P-384 have cofactor 1.
    PublicKey::<C>::from_sec1_bytes(bytes)
        .map_err(|_| KexError::InvalidPublicValue("ECDH point is not on the curve"))
}

fn shared_secret<C>(
    secret: &EphemeralSecret<C>,
    peer: &PublicKey<C>,
) -> Result<SharedSecret, KexError>
where
    C: CurveArithmetic,
{
    let shared = secret.diffie_hellman(peer);
    // RFC 5656 §4: K is the shared secret of the SEC1 §3.3.1 Elliptic Curve Diffie-Hellman
    // primitive, the x-coordinate of the shared point, written into H and the key
    // derivation as an mpint.
    SharedSecret::from_mpint_magnitude(shared.raw_secret_bytes())
}

fn field_len<C: CurveArithmetic>() -> usize
where
    FieldBytesSize<C>: ModulusSize,
{
    <FieldBytesSize<C> as elliptic_curve::array::typenum::Unsigned>::USIZE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kex::test_rng::TestRng;

    fn curves() -> [(Curve, usize); 2] {
        [(Curve::P256, 65), (Curve::P384, 97)]
    }

    #[test]
    fn agreement_and_lengths() {
        let mut rng = TestRng::new(10);
        for (curve, len) in curves() {
            let (client, q_c) = Client::start(curve, &mut rng);
            assert_eq!(q_c.len(), len);
            assert_eq!(q_c[0], 4);
            let (q_s, k_s) = server_reply(curve, &q_c, &mut rng).unwrap();
            assert_eq!(q_s.len(), len);
            let k_c = client.finish(&q_s).unwrap();
            assert_eq!(k_c, k_s);
        }
    }

    fn refused_by_both(curve: Curve, bad: &[u8], rng: &mut TestRng) {
        let (client, _) = Client::start(curve, rng);
        assert!(
            client.finish(bad).is_err(),
            "{curve:?} client accepted {bad:02x?}"
        );
        assert!(
            server_reply(curve, bad, rng).is_err(),
            "{curve:?} server accepted {bad:02x?}"
        );
    }

    #[test]
    fn bad_points_are_refused() {
        let mut rng = TestRng::new(11);
        for (curve, len) in curves() {
            let (_, good) = Client::start(curve, &mut rng);
            // Empty, the one-byte identity encoding, an all-zero string of the right length.
            refused_by_both(curve, &[], &mut rng);
            refused_by_both(curve, &[0], &mut rng);
            refused_by_both(curve, &vec![0; len], &mut rng);
            // Truncated and extended.
            refused_by_both(curve, &good[..len - 1], &mut rng);
            let mut longer = good.clone();
            longer.push(0);
            refused_by_both(curve, &longer, &mut rng);
            // Off the curve: y changed.
            let mut off = good.clone();
            off[len - 1] ^= 1;
            refused_by_both(curve, &off, &mut rng);
            // Uncompressed tag with (0, 0): not on the curve.
            let mut zero_xy = vec![0; len];
            zero_xy[0] = 4;
            refused_by_both(curve, &zero_xy, &mut rng);
            // x = p (all ones is > p for both curves): coordinates not reduced.
            let mut big = vec![0xff; len];
            big[0] = 4;
            refused_by_both(curve, &big, &mut rng);
            // Compressed form of a valid point, and hybrid / unknown tags.
            let field = (len - 1) / 2;
            let mut compressed = vec![2 | (good[len - 1] & 1)];
            compressed.extend_from_slice(&good[1..=field]);
            refused_by_both(curve, &compressed, &mut rng);
            for tag in [1u8, 2, 3, 5, 6, 7, 0xff] {
                let mut t = good.clone();
                t[0] = tag;
                refused_by_both(curve, &t, &mut rng);
            }
        }
    }

    #[test]
    fn compressed_point_is_a_specific_error() {
        let mut rng = TestRng::new(12);
        let (_, good) = Client::start(Curve::P256, &mut rng);
        let mut compressed = vec![2 | (good[64] & 1)];
        compressed.extend_from_slice(&good[1..33]);
        assert_eq!(
            server_reply(Curve::P256, &compressed, &mut rng).unwrap_err(),
            KexError::InvalidPublicValue("compressed ECDH points are not accepted")
        );
    }
}
