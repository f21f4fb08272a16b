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
/// RFC 8270 raises the minimum modulus size for SSH Diffie-Hellman to 2048 bits.
pub const GEX_MIN_BITS: u32 = 2048;

/// The largest modulus we accept from a group exchange, in bits.
///
/// RFC 4419 §3: servers and clients "SHOULD support groups with a modulus length of k bits,
/// where 1024 <= k <= 8192"; anything larger would only cost time.
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

    /// Builds a group from the big-endian magnitudes of `p` and `g`, checking `p` odd and
    /// `g` in `[2, p - 2]`.
    fn from_magnitudes(p: &[u8], g: &[u8]) -> Result<Self, KexError> {
        let bits = magnitude_bits(p);
        let precision = bits.max(1);
        let p = BoxedUint::from_be_slice(p, precision)
            .map_err(|_| KexError::BadGroup("p cannot be decoded"))?;
        // RFC 4419 §3: "p is a safe prime", so in particular odd; Montgomery arithmetic also
        // needs an odd modulus.
        let p: Odd<BoxedUint> =
            Option::from(p.into_odd()).ok_or(KexError::BadGroup("p is even"))?;
        let one = BoxedUint::one_with_precision(p.bits_precision());
        let p_minus_1 = p.as_ref().wrapping_sub(&one);
        let g = BoxedUint::from_be_slice(g, p.bits_precision())
            .map_err(|_| KexError::BadGroup("g is larger than p"))?;
        // RFC 4419 §3: "g: generator for subgroup in GF(p)". g = 0 or 1 generates nothing and
        // g = p - 1 only {1, p - 1}, which would make K guessable; refuse g outside [2, p-2].
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
