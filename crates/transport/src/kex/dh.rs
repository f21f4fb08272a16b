//! Finite-field Diffie-Hellman: the fixed RFC 3526 groups (RFC 8268) and group exchange
//! (RFC 4419, client side).
//!
//! The arithmetic is crypto-bigint's Montgomery exponentiation with a run-time modulus, which
//! is constant-time in the exponent; the exponent length is a public constant
//! ([`PRIVATE_EXPONENT_BITS`]).

use super::groups;
use super::secret::{magnitude_to_mpint_content, mpint_content_to_magnitude};
use super::{KexError, SharedSecret};
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use rand_core::CryptoRng;
use std::sync::OnceLock;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The length of our private exponents, in bits.
///
/// RFC 4419 §6.2: the private exponent "should be at least twice as long as the key material
/// that is generated from the shared secret". Our ciphers use at most 256-bit keys, so 512
/// bits; this is also at least twice the security strength of every group we accept (about
/// 200 bits for the 8192-bit group 18, 112 for group 14).
pub(crate) const PRIVATE_EXPONENT_BITS: u32 = 512;

/// The smallest modulus we accept from a group exchange, in bits.
///
/// RFC 8270 (which amends RFC 4419) raises the recommended minimum modulus size for SSH
/// Diffie-Hellman group exchange from 1024 to 2048 bits.
pub const GEX_MIN_BITS: u32 = 2048;

/// The largest modulus we accept from a group exchange, in bits.
///
/// RFC 4419 §3: "Servers and clients SHOULD support groups with a modulus length of k bits,
/// where 1024 <= k <= 8192. The recommended values for min and max are 1024 and 8192"; RFC
/// 8270 raised min to 2048. Anything larger than 8192 would only cost time.
pub const GEX_MAX_BITS: u32 = 8192;

/// The group sizes a client asks for in `SSH_MSG_KEX_DH_GEX_REQUEST` (RFC 4419 §3).
///
/// RFC 4419 §3: "min: minimal size in bits of an acceptable group", "n: preferred size in
/// bits of the group the server will send", "max: maximal size in bits of an acceptable
/// group".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GexRequest {
    /// The smallest acceptable modulus, in bits.
    pub min: u32,
    /// The preferred modulus size, in bits.
    pub preferred: u32,
    /// The largest acceptable modulus, in bits.
    pub max: u32,
}

impl Default for GexRequest {
    /// `min 2048, n 8192, max 8192`, which is what OpenSSH sends when the negotiated cipher
    /// has a 256-bit key (its `dh_estimate` maps more than 192 bits of needed strength to
    /// 8192): [`GEX_MIN_BITS`] per RFC 8270, and the RFC 4419 maximum.
    fn default() -> Self {
        GexRequest {
            min: GEX_MIN_BITS,
            preferred: GEX_MAX_BITS,
            max: GEX_MAX_BITS,
        }
    }
}

/// A Diffie-Hellman group: an odd modulus `p` and a generator `g`, validated.
#[derive(Clone, Debug)]
pub struct DhGroup {
    p: Odd<BoxedUint>,
    p_minus_1: BoxedUint,
    g: BoxedUint,
    params: BoxedMontyParams,
    bits: u32,
}

impl DhGroup {
    /// Validates the group a server sent in `SSH_MSG_KEX_DH_GEX_GROUP`.
    ///
    /// `p` and `g` are the **contents** of the two `mpint` fields (see the module docs of
    /// [`crate::kex`]); they must be canonical and non-negative. `min_bits` and `max_bits` are
    /// the `min` and `max` of the client's request ([`GexRequest`]). Refused: `p` even, `p`
    /// outside `[min_bits, max_bits]` or outside [`GEX_MIN_BITS`]`..=`[`GEX_MAX_BITS`], and
    /// `g` outside `[2, p - 2]`.
    ///
    /// `p` is not tested for primality (a probabilistic test of an 8192-bit number costs
    /// seconds); as in OpenSSH, the group is trusted because the server signs the exchange
    /// hash, which covers `p` and `g`.
    pub fn from_wire(p: &[u8], g: &[u8], min_bits: u32, max_bits: u32) -> Result<Self, KexError> {
        let p = mpint_content_to_magnitude(p)
            .map_err(|_| KexError::BadGroup("p is not a canonical mpint"))?;
        let g = mpint_content_to_magnitude(g)
            .map_err(|_| KexError::BadGroup("g is not a canonical mpint"))?;
        if min_bits > max_bits {
            return Err(KexError::BadGroup("requested min is larger than max"));
        }
        let bits = magnitude_bits(p);
        // RFC 4419 §3: the client asked for "min: minimal size in bits of an acceptable group"
        // and "max: maximal size in bits of an acceptable group".
        if bits < min_bits || bits < GEX_MIN_BITS {
            return Err(KexError::BadGroup(
                "p is smaller than the requested minimum",
            ));
        }
        if bits > max_bits || bits > GEX_MAX_BITS {
            return Err(KexError::BadGroup("p is larger than the requested maximum"));
        }
        Self::from_magnitudes(p, g)
    }

    /// The size of `p` in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The contents of the `mpint p` and `mpint g` fields that carry this group, as
    /// `SSH_MSG_KEX_DH_GEX_GROUP` sends them and the exchange hash covers them.
    pub fn wire(&self) -> (Vec<u8>, Vec<u8>) {
        (
            magnitude_to_mpint_content(&self.p.as_ref().to_be_bytes()),
            magnitude_to_mpint_content(&self.g.to_be_bytes()),
        )
    }

    /// The group a server sends for a client's `SSH_MSG_KEX_DH_GEX_REQUEST`: one of the
    /// fixed groups 14, 16 and 18 (2048, 4096 and 8192 bits, RFC 3526).
    ///
    /// RFC 4419 §3: "C sends min || n || max to S, indicating the minimal acceptable group
    /// size, the preferred size of the group, and the maximal group size in bits the client
    /// will accept." and "S finds a group that best matches the client's request". Best here
    /// is the smallest group of at least `n` bits, else the largest below it, among those
    /// within `[min, max]`. A request with `min > n` or `n > max` is malformed, and one whose
    /// range holds none of the groups cannot be served: both are refused, as OpenSSH's
    /// sshd refuses them.
    pub fn for_request(request: GexRequest) -> Result<&'static DhGroup, KexError> {
        let GexRequest {
            min,
            preferred,
            max,
        } = request;
        if min > preferred || preferred > max {
            return Err(KexError::BadGroup(
                "the request's sizes are not in order (min <= n <= max)",
            ));
        }
        let mut fitting = Vec::new();
        for which in [Fixed::Group14, Fixed::Group16, Fixed::Group18] {
            let group = fixed_group(which)?;
            if (min..=max).contains(&group.bits) {
                fitting.push(group);
            }
        }
        let at_least = fitting.iter().find(|g| g.bits >= preferred);
        at_least
            .or(fitting.last())
            .copied()
            .ok_or(KexError::BadGroup(
                "no group of ours (2048, 4096 or 8192 bits) is within the requested sizes",
            ))
    }

    /// Builds a group from the big-endian magnitudes of `p` and `g`, checking `p` odd and
    /// `g` in `[2, p - 2]`.
    fn from_magnitudes(p: &[u8], g: &[u8]) -> Result<Self, KexError> {
        let bits = magnitude_bits(p);
        let precision = bits.max(1);
        let p = BoxedUint::from_be_slice(p, precision)
            .map_err(|_| KexError::BadGroup("p cannot be decoded"))?;
        // RFC 4419 §3: the server sends "p, safe prime", so p is odd; Montgomery arithmetic
        // needs an odd modulus too.
        let p: Odd<BoxedUint> =
            Option::from(p.into_odd()).ok_or(KexError::BadGroup("p is even"))?;
        let one = BoxedUint::one_with_precision(p.bits_precision());
        let p_minus_1 = p.as_ref().wrapping_sub(&one);
        let g = BoxedUint::from_be_slice(g, p.bits_precision())
            .map_err(|_| KexError::BadGroup("g is larger than p"))?;
        // RFC 4419 §3: the server sends "g, generator for subgroup". g = 0 or 1 generates
        // nothing and g = p - 1 only {1, p - 1}, which would make K guessable: refuse g
        // outside [2, p-2].
        if !in_open_range(&g, &p_minus_1) {
            return Err(KexError::BadGroup("g is not in [2, p-2]"));
        }
        let params = BoxedMontyParams::new_vartime(p.clone());
        Ok(DhGroup {
            p,
            p_minus_1,
            g,
            params,
            bits,
        })
    }

    /// Parses a group given as hex (whitespace allowed), for the fixed groups.
    fn from_hex(p_hex: &str, g: u8) -> Result<Self, KexError> {
        let p = decode_hex(p_hex).ok_or(KexError::Internal("bad built-in group hex"))?;
        Self::from_magnitudes(&p, &[g])
    }

    /// A fresh private exponent and the matching public value `g^x mod p`.
    fn generate(
        &self,
        rng: &mut dyn CryptoRng,
    ) -> Result<(Zeroizing<BoxedUint>, Vec<u8>), KexError> {
        let mut bytes = Zeroizing::new([0u8; (PRIVATE_EXPONENT_BITS / 8) as usize]);
        rng.fill_bytes(bytes.as_mut_slice());
        // Setting the top bit makes x exactly PRIVATE_EXPONENT_BITS long: x >= 2^511 > 1 and,
        // as p has at least 2048 bits, x < p - 1. 511 random bits remain.
        if let Some(top) = bytes.first_mut() {
            *top |= 0x80;
        }
        let x = Zeroizing::new(
            BoxedUint::from_be_slice(bytes.as_slice(), PRIVATE_EXPONENT_BITS)
                .map_err(|_| KexError::Internal("private exponent size"))?,
        );
        let base = BoxedMontyForm::new(self.g.clone(), &self.params);
        let public = base.pow_bounded_exp(&x, PRIVATE_EXPONENT_BITS).retrieve();
        // RFC 4253 §8: "Values of 'e' or 'f' that are not in the range [1, p-1] MUST NOT be
        // sent or accepted by either side." We hold our own value to the stricter [2, p-2].
        if !in_open_range(&public, &self.p_minus_1) {
            return Err(KexError::Internal("generated public value out of range"));
        }
        Ok((x, magnitude_to_mpint_content(&public.to_be_bytes())))
    }

    /// Validates the peer's public value (`mpint` content) and returns it as an integer.
    fn parse_peer(&self, content: &[u8]) -> Result<BoxedUint, KexError> {
        // RFC 4251 §5: "Unnecessary leading bytes with the value 0 or 255 MUST NOT be
        // included." A negative value is out of range as well.
        let magnitude = mpint_content_to_magnitude(content)?;
        // RFC 4253 §8: "Values of 'e' or 'f' that are not in the range [1, p-1] MUST NOT be
        // sent or accepted by either side. If this condition is violated, the key exchange
        // fails." We also refuse 1 and p - 1, whose powers are 1 and +-1 (the subgroup of
        // order 2), so the range is [2, p-2].
        let value = BoxedUint::from_be_slice(magnitude, self.p.bits_precision())
            .map_err(|_| KexError::InvalidPublicValue("DH public value is not less than p"))?;
        if !in_open_range(&value, &self.p_minus_1) {
            return Err(KexError::InvalidPublicValue(
                "DH public value is not in [2, p-2]",
            ));
        }
        Ok(value)
    }

    /// `K = peer^x mod p` as an `mpint` `SharedSecret`.
    fn agree(&self, x: &BoxedUint, peer: BoxedUint) -> Result<SharedSecret, KexError> {
        let base = Zeroizing::new(BoxedMontyForm::new(peer, &self.params));
        let power = Zeroizing::new(base.pow_bounded_exp(x, PRIVATE_EXPONENT_BITS));
        let k = Zeroizing::new(power.retrieve());
        let k_bytes = Zeroizing::new(k.to_be_bytes());
        // Defence in depth (a group-exchange p need not be a safe prime, so a peer value of
        // small order could exist): a K of 0, 1 or p - 1 carries no secret; refuse it.
        // Compared in constant time, as K is secret.
        let zero = BoxedUint::zero_with_precision(self.p.bits_precision()).to_be_bytes();
        let one = BoxedUint::one_with_precision(self.p.bits_precision()).to_be_bytes();
        let minus_one = self.p_minus_1.to_be_bytes();
        let degenerate = k_bytes.ct_eq(&zero) | k_bytes.ct_eq(&one) | k_bytes.ct_eq(&minus_one);
        if bool::from(degenerate) {
            return Err(KexError::ZeroSharedSecret);
        }
        SharedSecret::from_mpint_magnitude(&k_bytes)
    }
}

/// Whether `1 < v < p_minus_1`, i.e. `v` is in `[2, p-2]`. Public values only (variable time).
fn in_open_range(v: &BoxedUint, p_minus_1: &BoxedUint) -> bool {
    let one = BoxedUint::one_with_precision(v.bits_precision());
    v.cmp_vartime(&one).is_gt() && v.cmp_vartime(p_minus_1).is_lt()
}

/// The bit length of a big-endian magnitude.
fn magnitude_bits(m: &[u8]) -> u32 {
    let mut iter = m.iter().skip_while(|&&b| b == 0);
    match iter.next() {
        None => 0,
        Some(&first) => {
            let rest = u32::try_from(iter.count()).unwrap_or(u32::MAX / 16);
            rest.saturating_mul(8)
                .saturating_add(8 - first.leading_zeros())
        }
    }
}

/// Decodes hex digits, ignoring ASCII whitespace.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| {
            char::from(b)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        })
        .collect::<Option<_>>()?;
    let pairs = digits.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    Some(
        pairs
            .map(|pair| match pair {
                [hi, lo] => (hi << 4) | lo,
                _ => 0,
            })
            .collect(),
    )
}

/// Which of the fixed groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fixed {
    /// RFC 3526 group 14, 2048 bits.
    Group14,
    /// RFC 3526 group 16, 4096 bits.
    Group16,
    /// RFC 3526 group 18, 8192 bits.
    Group18,
}

/// The fixed group, parsed once and cached.
pub(crate) fn fixed_group(which: Fixed) -> Result<&'static DhGroup, KexError> {
    static G14: OnceLock<Result<DhGroup, KexError>> = OnceLock::new();
    static G16: OnceLock<Result<DhGroup, KexError>> = OnceLock::new();
    static G18: OnceLock<Result<DhGroup, KexError>> = OnceLock::new();
    let (cell, hex) = match which {
        Fixed::Group14 => (&G14, groups::GROUP14_P),
        Fixed::Group16 => (&G16, groups::GROUP16_P),
        Fixed::Group18 => (&G18, groups::GROUP18_P),
    };
    cell.get_or_init(|| DhGroup::from_hex(hex, groups::GENERATOR))
        .as_ref()
        .map_err(Clone::clone)
}

/// The client's state for one finite-field DH exchange.
pub(crate) struct Client {
    group: DhGroup,
    x: Zeroizing<BoxedUint>,
}

impl Client {
    /// A fresh exchange in `group` and the client's `e` (mpint content).
    pub(crate) fn start(
        group: &DhGroup,
        rng: &mut dyn CryptoRng,
    ) -> Result<(Client, Vec<u8>), KexError> {
        let (x, e) = group.generate(rng)?;
        Ok((
            Client {
                group: group.clone(),
                x,
            },
            e,
        ))
    }

    /// `K` from the server's `f` (mpint content).
    pub(crate) fn finish(self, server_public: &[u8]) -> Result<SharedSecret, KexError> {
        let f = self.group.parse_peer(server_public)?;
        self.group.agree(&self.x, f)
    }
}

/// The server's `f` (mpint content) and `K` for the client's `e` (mpint content).
pub(crate) fn server_reply(
    group: &DhGroup,
    client_public: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, SharedSecret), KexError> {
    let e = group.parse_peer(client_public)?;
    let (y, f) = group.generate(rng)?;
    let k = group.agree(&y, e)?;
    Ok((f, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kex::test_rng::TestRng;

    #[test]
    fn a_server_picks_the_group_that_best_fits_the_request() {
        let pick = |min, preferred, max| {
            DhGroup::for_request(GexRequest {
                min,
                preferred,
                max,
            })
            .map(DhGroup::bits)
        };
        // OpenSSH's requests: 2048 <= n <= 8192, by the cipher's key size.
        assert_eq!(pick(2048, 2048, 8192), Ok(2048));
        assert_eq!(pick(2048, 3072, 8192), Ok(4096));
        assert_eq!(pick(2048, 7680, 8192), Ok(8192));
        assert_eq!(pick(2048, 8192, 8192), Ok(8192));
        // Nothing as large as n: the largest within max.
        assert_eq!(pick(2048, 6000, 6000), Ok(4096));
        assert_eq!(pick(1024, 1024, 2048), Ok(2048));
        // Malformed, or nothing of ours in range.
        for (min, n, max) in [(4096, 2048, 8192), (2048, 8192, 4096), (0, 0, 0)] {
            assert!(pick(min, n, max).is_err(), "{min} {n} {max}");
        }
        for (min, n, max) in [(1024, 1024, 1536), (3000, 3000, 3500), (9000, 9000, 16384)] {
            assert!(
                matches!(pick(min, n, max), Err(KexError::BadGroup(_))),
                "{min} {n} {max}"
            );
        }
    }

    #[test]
    fn the_group_sent_is_the_group_a_client_accepts() {
        for n in [2048, 4096, 8192] {
            let request = GexRequest {
                min: 2048,
                preferred: n,
                max: 8192,
            };
            let group = DhGroup::for_request(request).unwrap();
            let (p, g) = group.wire();
            let parsed = DhGroup::from_wire(&p, &g, request.min, request.max).unwrap();
            assert_eq!(parsed.bits(), n);
            assert_eq!(parsed.wire(), (p, g));
        }
    }

    fn p_magnitude(which: Fixed) -> Vec<u8> {
        fixed_group(which)
            .unwrap()
            .p
            .as_ref()
            .to_be_bytes()
            .to_vec()
    }

    /// `v` as mpint content.
    fn content(v: &BoxedUint) -> Vec<u8> {
        magnitude_to_mpint_content(&v.to_be_bytes())
    }

    fn add_small(v: &BoxedUint, n: u64) -> BoxedUint {
        v.wrapping_add(BoxedUint::from_words_with_precision(
            [n],
            v.bits_precision(),
        ))
    }

    fn sub_small(v: &BoxedUint, n: u64) -> BoxedUint {
        v.wrapping_sub(BoxedUint::from_words_with_precision(
            [n],
            v.bits_precision(),
        ))
    }

    /// Checks the `mpint` framing of `K` and that its content is canonical.
    fn assert_canonical_mpint(k: &SharedSecret) {
        let (len, body) = k.encoded().split_at(4);
        assert_eq!(
            u32::from_be_bytes(len.try_into().unwrap()) as usize,
            body.len()
        );
        assert!(mpint_content_to_magnitude(body).is_ok());
    }

    /// RFC 3526: each prime has the advertised size, its top and bottom 64 bits are all ones
    /// (by the defining formula), g = 2 and, p being a safe prime p = 2q + 1 with
    /// p = 7 mod 8, 2 is a quadratic residue: 2^q = 1 (mod p).
    #[test]
    fn rfc3526_primes() {
        for (which, bits) in [
            (Fixed::Group14, 2048),
            (Fixed::Group16, 4096),
            (Fixed::Group18, 8192),
        ] {
            let group = fixed_group(which).unwrap();
            assert_eq!(group.bits(), bits);
            let p = p_magnitude(which);
            assert_eq!(p.len() * 8, bits as usize);
            assert!(p[..8].iter().all(|&b| b == 0xff), "{which:?} top 64 bits");
            assert!(
                p[p.len() - 8..].iter().all(|&b| b == 0xff),
                "{which:?} low 64 bits"
            );
            // Below the top 64 bits come the bits of pi: floor(pi * 2^30) = 0xC90FDAA2.
            assert_eq!(&p[8..12], &[0xc9, 0x0f, 0xda, 0xa2]);
            assert_eq!(p.last().unwrap() & 7, 7);
            let q = group.p.as_ref().shr_vartime(1).unwrap();
            let two = BoxedMontyForm::new(group.g.clone(), &group.params);
            let one = BoxedUint::one_with_precision(group.p.bits_precision());
            assert_eq!(two.pow(&q).retrieve(), one, "{which:?}: 2^q != 1");
            assert_eq!(group.g, BoxedUint::from_words_with_precision([2], bits));
        }
    }

    /// Known answers for `K = peer^x mod p` in group 14, computed independently with Python's
    /// built-in `pow(peer, x, p)` (p rebuilt from the RFC 3526 formula), for
    /// `x = 2^511 + 0x1234567890abcdef`. Both results have the top bit set, so the mpint
    /// carries a 0x00 sign byte.
    #[test]
    fn known_answers_group14() {
        let group = fixed_group(Fixed::Group14).unwrap();
        let mut x_bytes = [0u8; 64];
        x_bytes[0] = 0x80;
        x_bytes[56..].copy_from_slice(&0x1234_5678_90ab_cdef_u64.to_be_bytes());
        let x = BoxedUint::from_be_slice(&x_bytes, PRIVATE_EXPONENT_BITS).unwrap();
        for (peer, expected) in [(2u64, K2), (3, K3)] {
            let peer = BoxedUint::from_words_with_precision([peer], group.p.bits_precision());
            let k = group.agree(&x, peer).unwrap();
            let expected = decode_hex(expected).unwrap();
            assert_eq!(&k.encoded()[..5], &[0, 0, 1, 1, 0]);
            assert_eq!(&k.encoded()[5..], expected.as_slice());
        }
    }

    const K2: &str = "e11b080a7de2e298ff99d3ff70329f9a627334a55dd5faea6e3d5c8fe24dd8ff\
             785aaf65c52bcdcd2c258cc0f64d1a48cc2e2143b20ac2a2a90a6a3d60c6f343\
             141954a83db97e117a711677f618ffbe10e926f9c26db067095c98592a53cf6f\
             325a355093ed7896f8f8aaa2203750e8073987600810d31813942a634ace1e53\
             db4dc492d01e2caf26df0bc99ca162f8571384ff77055560668e413a0c6acf06\
             f636d8d7272bd16948914a084244072234e753af55c5853c993885ccd3f2f0cb\
             7bebdf0999a33816ec74d914a016c227115269cb94f022821fa4cd50826e29d3\
             ff337b0c97721c96404ec66ec6d3d5f127195013cf98dcd6b3311ed2be6818f5";
    const K3: &str = "86474a40ca9c656c115db1bdc5e8f87e6d333b27079c1254fc44accc78435fcf\
             cb2cc1b48e8b518e58b78c051c96c71e888ebe152a2a715c94971d8263c09466\
             b3b4f225e24af9e629a4d3654c13c30d6a6e2d147b68fe85d7c4d0743f2ec156\
             4dd4a7a954c5dd8fe3d23172c30952891d87ac50f6bffdb27149fc80aa00751b\
             f7445902e4e27a4aa8bab7af84dbf16d68518875092fa9d0767c1fd109682aca\
             e077fa324cc4c382603cff2978b362487bacfc0af1c892ab51323829e63d9cc5\
             79d0d67ced43c40332bc09e5d818ed6ea7ac843e444351c881688389a2e38d33\
             041d99134ad93e613a4f915b3f3e62b97d8f896e3e01484d7c2d21f76dfb69c6";

    #[test]
    fn agreement_in_every_fixed_group() {
        let mut rng = TestRng::new(20);
        for which in [Fixed::Group14, Fixed::Group16, Fixed::Group18] {
            let group = fixed_group(which).unwrap();
            let (client, e) = Client::start(group, &mut rng).unwrap();
            let (f, k_s) = server_reply(group, &e, &mut rng).unwrap();
            let k_c = client.finish(&f).unwrap();
            assert_eq!(k_c, k_s);
            assert_canonical_mpint(&k_c);
            assert!(mpint_content_to_magnitude(&e).is_ok());
            assert!(mpint_content_to_magnitude(&f).is_ok());
        }
    }

    #[test]
    fn bad_public_values_are_refused() {
        let mut rng = TestRng::new(21);
        let group = fixed_group(Fixed::Group14).unwrap();
        let p = group.p.as_ref();
        let mut huge = vec![0x01];
        huge.extend_from_slice(&p.to_be_bytes());
        let bad: Vec<(&str, Vec<u8>)> = vec![
            ("empty (zero)", vec![]),
            ("zero as one byte", vec![0]),
            ("one", vec![1]),
            ("one with leading zero", vec![0, 1]),
            ("p - 1", content(&group.p_minus_1)),
            ("p", content(p)),
            ("p + 1", content(&add_small(p, 1))),
            ("longer than p", huge),
            ("all ones, as long as p", {
                let mut v = vec![0];
                v.extend(std::iter::repeat_n(0xff, 256));
                v
            }),
            ("negative", vec![0x80, 1]),
            ("negative one", vec![0xff]),
            ("non-canonical two", vec![0, 2]),
            ("non-canonical p - 2", {
                let mut v = vec![0];
                v.extend(content(&sub_small(p, 2)));
                v
            }),
        ];
        for (why, value) in bad {
            let (client, _) = Client::start(group, &mut rng).unwrap();
            assert!(client.finish(&value).is_err(), "client accepted {why}");
            assert!(
                server_reply(group, &value, &mut rng).is_err(),
                "server accepted {why}"
            );
        }
        // The ends of the accepted range.
        for value in [vec![2], content(&sub_small(p, 2))] {
            let (client, _) = Client::start(group, &mut rng).unwrap();
            assert!(client.finish(&value).is_ok());
            assert!(server_reply(group, &value, &mut rng).is_ok());
        }
    }

    #[test]
    fn specific_errors() {
        let mut rng = TestRng::new(22);
        let group = fixed_group(Fixed::Group14).unwrap();
        let err = |v: &[u8]| server_reply(group, v, &mut TestRng::new(0)).unwrap_err();
        assert_eq!(
            err(&[]),
            KexError::InvalidPublicValue("DH public value is not in [2, p-2]")
        );
        assert_eq!(
            err(&[0, 1]),
            KexError::InvalidPublicValue("mpint has an unnecessary leading zero byte")
        );
        assert_eq!(err(&[0x80]), KexError::InvalidPublicValue("negative mpint"));
        let _ = Client::start(group, &mut rng).unwrap();
    }

    fn p14_content() -> Vec<u8> {
        magnitude_to_mpint_content(&p_magnitude(Fixed::Group14))
    }

    #[test]
    fn gex_group_accepted_and_usable() {
        let mut rng = TestRng::new(23);
        let req = GexRequest::default();
        assert_eq!((req.min, req.preferred, req.max), (2048, 8192, 8192));
        let group = DhGroup::from_wire(&p14_content(), &[2], req.min, req.max).unwrap();
        assert_eq!(group.bits(), 2048);
        let (client, e) = Client::start(&group, &mut rng).unwrap();
        let (f, k_s) = server_reply(&group, &e, &mut rng).unwrap();
        assert_eq!(client.finish(&f).unwrap(), k_s);
        // A generator other than 2 is fine too.
        assert!(DhGroup::from_wire(&p14_content(), &[5], 2048, 8192).is_ok());
    }

    #[test]
    fn gex_bad_groups_are_refused() {
        let p14 = p14_content();
        let p16 = magnitude_to_mpint_content(&p_magnitude(Fixed::Group16));
        let group = fixed_group(Fixed::Group14).unwrap();
        let p_minus_1 = content(&group.p_minus_1);
        let mut even = p14.clone();
        *even.last_mut().unwrap() &= 0xfe;
        // A 1536-bit odd number and a 2047-bit one.
        let small = magnitude_to_mpint_content(&p_magnitude(Fixed::Group14)[64..]);
        let mut just_small = p_magnitude(Fixed::Group14);
        just_small[0] = 0x7f;
        let just_small = magnitude_to_mpint_content(&just_small);
        type Case = (&'static str, Vec<u8>, Vec<u8>, u32, u32);
        let cases: Vec<Case> = vec![
            ("even p", even, vec![2], 2048, 8192),
            ("p below min", small.clone(), vec![2], 1024, 8192),
            ("p below the requested min", just_small, vec![2], 2048, 8192),
            ("p below min even if asked", small, vec![2], 1024, 1536),
            ("p above max", p16.clone(), vec![2], 2048, 3072),
            ("min > max", p14.clone(), vec![2], 4096, 2048),
            ("g = 0", p14.clone(), vec![], 2048, 8192),
            ("g = 1", p14.clone(), vec![1], 2048, 8192),
            ("g = p - 1", p14.clone(), p_minus_1, 2048, 8192),
            ("g = p", p14.clone(), p14.clone(), 2048, 8192),
            ("g > p", p14.clone(), p16.clone(), 2048, 8192),
            ("g negative", p14.clone(), vec![0x82], 2048, 8192),
            ("g non-canonical", p14.clone(), vec![0, 2], 2048, 8192),
            (
                "p non-canonical",
                [&[0][..], &p14].concat(),
                vec![2],
                2048,
                8192,
            ),
            ("p negative", p14[1..].to_vec(), vec![2], 2048, 8192),
            ("p empty", vec![], vec![2], 2048, 8192),
        ];
        for (why, p, g, min, max) in cases {
            assert!(
                matches!(
                    DhGroup::from_wire(&p, &g, min, max),
                    Err(KexError::BadGroup(_))
                ),
                "accepted {why}"
            );
        }
        // Larger than 8192 bits even if the client asked for it.
        let mut big = vec![0, 0xff];
        big.extend(std::iter::repeat_n(0xff, 1024));
        assert!(DhGroup::from_wire(&big, &[2], 2048, 16384).is_err());
    }

    #[test]
    fn hex_decoding() {
        assert_eq!(decode_hex("0aFf 10\n"), Some(vec![0x0a, 0xff, 0x10]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex(""), Some(vec![]));
    }

    #[test]
    fn magnitude_bit_lengths() {
        assert_eq!(magnitude_bits(&[]), 0);
        assert_eq!(magnitude_bits(&[0, 0]), 0);
        assert_eq!(magnitude_bits(&[1]), 1);
        assert_eq!(magnitude_bits(&[0, 0x80, 0]), 16);
        assert_eq!(magnitude_bits(&[0x7f, 0, 0]), 23);
    }
}
