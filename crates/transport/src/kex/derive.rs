//! Key derivation from the shared secret (RFC 4253 §7.2).

use super::{ExchangeHasher, HashAlg};
use zeroize::Zeroizing;

/// Derives `len` bytes of key material for the key named by `letter` (RFC 4253 §7.2).
///
/// `k_encoded` is [`super::SharedSecret::encoded`] (K with its length prefix), `h` the
/// exchange hash of this exchange and `session_id` the exchange hash of the first exchange.
/// `letter` is `b'A'` (client-to-server IV) through `b'F'` (server-to-client integrity key).
///
/// RFC 4253 §7.2: "K1 = HASH(K || H || X || session_id) (X is e.g., "A")",
/// "K2 = HASH(K || H || K1)", "K3 = HASH(K || H || K1 || K2)", "key = K1 || K2 || K3 || ...".
pub fn derive_key(
    hash: HashAlg,
    k_encoded: &[u8],
    h: &[u8],
    letter: u8,
    session_id: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    // Every block is appended to `out`, whose capacity is reserved up front, so that no
    // reallocation leaves a copy of key material behind.
    let blocks = len.div_ceil(hash.output_len()).max(1);
    let mut out = Zeroizing::new(Vec::with_capacity(blocks * hash.output_len()));
    let mut first = ExchangeHasher::new(hash);
    first.update(k_encoded);
    first.update(h);
    first.update(&[letter]);
    first.update(session_id);
    out.extend_from_slice(&Zeroizing::new(first.finish()));
    while out.len() < len {
        let mut next = ExchangeHasher::new(hash);
        next.update(k_encoded);
        next.update(h);
        next.update(&out);
        out.extend_from_slice(&Zeroizing::new(next.finish()));
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Vectors computed independently with Python's hashlib, directly from the RFC 4253 §7.2
    /// formulas:
    ///
    /// ```text
    /// import hashlib
    /// K = bytes.fromhex("00000005") + bytes.fromhex("00ff010203")
    /// H = bytes(range(32)); sid = bytes(range(100, 132))
    /// def derive(name, letter, n):
    ///     out = hashlib.new(name, K + H + letter + sid).digest()
    ///     while len(out) < n:
    ///         out += hashlib.new(name, K + H + out).digest()
    ///     return out[:n].hex()
    /// derive("sha256", b"C", 80); derive("sha512", b"E", 16); derive("sha384", b"A", 48)
    /// ```
    #[test]
    fn known_answers() {
        let k = [0, 0, 0, 5, 0x00, 0xff, 0x01, 0x02, 0x03];
        let h: Vec<u8> = (0..32).collect();
        let sid: Vec<u8> = (100..132).collect();
        assert_eq!(
            hex(&derive_key(HashAlg::Sha256, &k, &h, b'C', &sid, 80)),
            "cba8e0e942a6445bc7cdd952ec9788d652ecee49666737e15e8cd3a305122ae7\
             f7c29356a2d43d37b5c780b8cd2339bb4084894dce181a4cbe4a76a03454d013\
             7b90280d94e7a2c6151d2847580a8eb3"
        );
        assert_eq!(
            hex(&derive_key(HashAlg::Sha512, &k, &h, b'E', &sid, 16)),
            "cef3e58cad1f175542cab1ba57717547"
        );
        assert_eq!(
            hex(&derive_key(HashAlg::Sha384, &k, &h, b'A', &sid, 48)),
            "327e3e4dd1b3e4401e357344feba79f0baf598763c1a3f7f42f0942824ad4a5d\
             97d227a3cb3f01d33e899c2de6bc601e"
        );
    }

    #[test]
    fn lengths_and_prefix_property() {
        let long = derive_key(HashAlg::Sha256, b"k", b"h", b'A', b"s", 100);
        for len in [0, 1, 31, 32, 33, 64, 65, 100] {
            let d = derive_key(HashAlg::Sha256, b"k", b"h", b'A', b"s", len);
            assert_eq!(d.len(), len);
            assert_eq!(&d[..], &long[..len]);
        }
        let other = derive_key(HashAlg::Sha256, b"k", b"h", b'B', b"s", 32);
        assert_ne!(&other[..], &long[..32]);
    }
}
