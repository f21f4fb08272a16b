//! The incremental hash used for the exchange hash `H`.

use super::HashAlg;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// An incremental hash for the exchange hash `H` (RFC 4253 §8).
///
/// The engine feeds it the fields of `H` in order (`V_C`, `V_S`, `I_C`, `I_S`, `K_S`, the
/// public values, and [`super::SharedSecret::encoded`]) already wire-encoded, then calls
/// [`ExchangeHasher::finish`].
#[derive(Clone)]
pub struct ExchangeHasher(Inner);

#[derive(Clone)]
enum Inner {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl ExchangeHasher {
    /// An empty hash state for `alg`.
    pub fn new(alg: HashAlg) -> Self {
        ExchangeHasher(match alg {
            HashAlg::Sha256 => Inner::Sha256(Sha256::new()),
            HashAlg::Sha384 => Inner::Sha384(Sha384::new()),
            HashAlg::Sha512 => Inner::Sha512(Sha512::new()),
        })
    }

    /// Appends `data` to the hashed input.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Inner::Sha256(h) => h.update(data),
            Inner::Sha384(h) => h.update(data),
            Inner::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything passed to [`ExchangeHasher::update`].
    pub fn finish(self) -> Vec<u8> {
        match self.0 {
            Inner::Sha256(h) => h.finalize().to_vec(),
            Inner::Sha384(h) => h.finalize().to_vec(),
            Inner::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

impl core::fmt::Debug for ExchangeHasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let alg = match self.0 {
            Inner::Sha256(_) => "sha256",
            Inner::Sha384(_) => "sha384",
            Inner::Sha512(_) => "sha512",
        };
        f.debug_tuple("ExchangeHasher").field(&alg).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// FIPS 180-4 example "abc" digests.
    #[test]
    fn known_answers_abc() {
        assert_eq!(
            hex(&HashAlg::Sha256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&HashAlg::Sha384.digest(b"abc")),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7"
        );
        assert_eq!(
            hex(&HashAlg::Sha512.digest(b"abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    #[test]
    fn incremental_equals_one_shot() {
        for alg in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let mut h = ExchangeHasher::new(alg);
            h.update(b"a");
            h.update(b"");
            h.update(b"bc");
            assert_eq!(h.finish(), alg.digest(b"abc"));
        }
    }
}
