//! Key exchange primitives: the math of each SSH key exchange method and the validation of
//! the peer's public values.
//!
//! This module holds no message state machine. The engine drives the exchange; for each
//! method it calls, on the client, [`KexClient::start`] (or [`KexClient::start_gex`]) to get
//! the value for its `SSH_MSG_KEX*_INIT` and [`KexClient::finish`] with the server's value;
//! on the server, [`server_reply`] with the client's value. Both sides then hash the exchange
//! hash `H` with [`ExchangeHasher`], putting in [`SharedSecret::encoded`] as `K`, and derive
//! keys with [`derive_key`].
//!
//! # Public value convention
//!
//! Every public value, in and out, is the **content of the wire field**: the bytes inside the
//! `string` (or `mpint`, which has the same `uint32 length || bytes` framing) of the
//! `SSH_MSG_KEX*_INIT` / `*_REPLY` message, without the 4-byte length. The engine reads the
//! field with `Reader::string` and passes the slice; it writes a value we return with
//! `Writer::string`.
//!
//! - Hybrids (`mlkem768x25519-sha256`, `sntrup761x25519-sha512`): the concatenation
//!   `C_INIT` / `S_REPLY`.
//! - `curve25519-sha256`: the 32-byte point. ECDH: the SEC1 uncompressed point `0x04 || x || y`.
//! - Finite-field DH (`diffie-hellman-*`): the `mpint` content, i.e. the two's-complement
//!   big-endian bytes — the magnitude without leading zeros, with one `0x00` prepended when its
//!   top bit is set. We check that this content is a **canonical non-negative mpint** (RFC 4251
//!   §5) and refuse it otherwise, so the engine must not pre-strip it with
//!   `Reader::mpint_unsigned`. [`DhGroup::from_wire`] takes `p` and `g` the same way.
//!
//! # Shared secret
//!
//! [`SharedSecret::encoded`] is `K` exactly as it enters the exchange hash and the key
//! derivation, length prefix included: an `mpint` for the classic methods, a `string` holding
//! the hash of the two shared secrets for the post-quantum hybrids.
//!
//! # Randomness
//!
//! Every function that needs randomness takes `&mut dyn rand_core::CryptoRng`. All backends
//! (x25519-dalek, p256/p384, ml-kem, sntrup761) accept it directly; no wrapper is needed.
//!
//! # Side channels
//!
//! Secret-dependent arithmetic is constant-time in the backends (crypto-bigint's Montgomery
//! exponentiation with a fixed public exponent length for DH). The checks on *public* peer
//! values may take variable time. One leak is inherent to the SSH encoding: `K` is an `mpint`,
//! so its length (the number of leading zero bytes of the secret) changes the time taken to
//! hash it. Because every exchange uses fresh ephemeral secrets, this cannot be accumulated
//! across exchanges (the precondition of Raccoon-style attacks).

mod curve25519;
mod derive;
mod dh;
mod ecdh;
mod error;
mod exchange;
mod groups;
mod hash;
mod hybrid;
mod secret;
#[cfg(test)]
mod test_rng;

pub use derive::derive_key;
pub use dh::{DhGroup, GEX_MAX_BITS, GEX_MIN_BITS, GexRequest};
pub use error::KexError;
pub use exchange::{KexClient, server_reply, server_reply_gex};
pub use hash::ExchangeHasher;
pub use secret::SharedSecret;

/// A key exchange method, by its SSH name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KexAlg {
    /// `mlkem768x25519-sha256`: ML-KEM-768 and X25519 hybrid (draft-ietf-sshm-mlkem-hybrid-kex).
    MlKem768X25519Sha256,
    /// `sntrup761x25519-sha512`: Streamlined NTRU Prime 761 and X25519 hybrid.
    Sntrup761X25519Sha512,
    /// `sntrup761x25519-sha512@openssh.com`: the pre-standard name of the same method.
    Sntrup761X25519Sha512OpenSsh,
    /// `curve25519-sha256` (RFC 8731).
    Curve25519Sha256,
    /// `curve25519-sha256@libssh.org`: the pre-standard name of the same method (RFC 8731).
    Curve25519Sha256LibSsh,
    /// `ecdh-sha2-nistp256` (RFC 5656).
    EcdhSha2Nistp256,
    /// `ecdh-sha2-nistp384` (RFC 5656).
    EcdhSha2Nistp384,
    /// `diffie-hellman-group16-sha512`: 4096-bit MODP group (RFC 8268, RFC 3526).
    DhGroup16Sha512,
    /// `diffie-hellman-group18-sha512`: 8192-bit MODP group (RFC 8268, RFC 3526).
    DhGroup18Sha512,
    /// `diffie-hellman-group14-sha256`: 2048-bit MODP group (RFC 8268, RFC 3526).
    DhGroup14Sha256,
    /// `diffie-hellman-group-exchange-sha256` (RFC 4419).
    DhGexSha256,
}

impl KexAlg {
    const ALL: [KexAlg; 11] = [
        KexAlg::MlKem768X25519Sha256,
        KexAlg::Sntrup761X25519Sha512,
        KexAlg::Sntrup761X25519Sha512OpenSsh,
        KexAlg::Curve25519Sha256,
        KexAlg::Curve25519Sha256LibSsh,
        KexAlg::EcdhSha2Nistp256,
        KexAlg::EcdhSha2Nistp384,
        KexAlg::DhGroup16Sha512,
        KexAlg::DhGroup18Sha512,
        KexAlg::DhGroup14Sha256,
        KexAlg::DhGexSha256,
    ];

    /// The SSH name of the method, as it appears in `SSH_MSG_KEXINIT`.
    pub fn name(self) -> &'static str {
        match self {
            KexAlg::MlKem768X25519Sha256 => "mlkem768x25519-sha256",
            KexAlg::Sntrup761X25519Sha512 => "sntrup761x25519-sha512",
            KexAlg::Sntrup761X25519Sha512OpenSsh => "sntrup761x25519-sha512@openssh.com",
            KexAlg::Curve25519Sha256 => "curve25519-sha256",
            KexAlg::Curve25519Sha256LibSsh => "curve25519-sha256@libssh.org",
            KexAlg::EcdhSha2Nistp256 => "ecdh-sha2-nistp256",
            KexAlg::EcdhSha2Nistp384 => "ecdh-sha2-nistp384",
            KexAlg::DhGroup16Sha512 => "diffie-hellman-group16-sha512",
            KexAlg::DhGroup18Sha512 => "diffie-hellman-group18-sha512",
            KexAlg::DhGroup14Sha256 => "diffie-hellman-group14-sha256",
            KexAlg::DhGexSha256 => "diffie-hellman-group-exchange-sha256",
        }
    }

    /// The method with this exact SSH name, if we implement it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Every method, in our default order of preference (most preferred first).
    pub fn all() -> &'static [KexAlg] {
        &Self::ALL
    }

    /// The hash function of the method, used for the exchange hash and key derivation.
    pub fn hash(self) -> HashAlg {
        match self {
            KexAlg::MlKem768X25519Sha256
            | KexAlg::Curve25519Sha256
            | KexAlg::Curve25519Sha256LibSsh
            | KexAlg::EcdhSha2Nistp256
            | KexAlg::DhGroup14Sha256
            | KexAlg::DhGexSha256 => HashAlg::Sha256,
            KexAlg::EcdhSha2Nistp384 => HashAlg::Sha384,
            KexAlg::Sntrup761X25519Sha512
            | KexAlg::Sntrup761X25519Sha512OpenSsh
            | KexAlg::DhGroup16Sha512
            | KexAlg::DhGroup18Sha512 => HashAlg::Sha512,
        }
    }

    /// Whether this is Diffie-Hellman group exchange (RFC 4419), which has the extra
    /// `SSH_MSG_KEX_DH_GEX_REQUEST` / `GROUP` round trip.
    pub fn is_gex(self) -> bool {
        matches!(self, KexAlg::DhGexSha256)
    }
}

/// A hash function used by a key exchange method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA-384 (FIPS 180-4).
    Sha384,
    /// SHA-512 (FIPS 180-4).
    Sha512,
}

impl HashAlg {
    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = ExchangeHasher::new(self);
        h.update(data);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for &a in KexAlg::all() {
            assert_eq!(KexAlg::from_name(a.name()), Some(a));
        }
        let mut names: Vec<_> = KexAlg::all().iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KexAlg::all().len());
        assert_eq!(KexAlg::from_name("curve25519-sha256 "), None);
        assert_eq!(KexAlg::from_name(""), None);
        assert_eq!(KexAlg::all().first(), Some(&KexAlg::MlKem768X25519Sha256));
    }

    #[test]
    fn only_gex_is_gex() {
        let gex: Vec<_> = KexAlg::all().iter().filter(|a| a.is_gex()).collect();
        assert_eq!(gex, [&KexAlg::DhGexSha256]);
    }

    #[test]
    fn hash_output_lengths() {
        for (h, n) in [
            (HashAlg::Sha256, 32),
            (HashAlg::Sha384, 48),
            (HashAlg::Sha512, 64),
        ] {
            assert_eq!(h.output_len(), n);
            assert_eq!(h.digest(b"abc").len(), n);
        }
        assert_eq!(KexAlg::EcdhSha2Nistp384.hash(), HashAlg::Sha384);
        assert_eq!(KexAlg::DhGroup18Sha512.hash(), HashAlg::Sha512);
        assert_eq!(KexAlg::MlKem768X25519Sha256.hash(), HashAlg::Sha256);
    }
}
