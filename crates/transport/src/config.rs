//! What an engine offers and the limits it enforces.

use core::time::Duration;

use sshwire_keys::SignatureAlgorithm;

use crate::cipher::{CipherAlg, MacAlg};
use crate::compress::Compression;
use crate::ident::IdentLimits;
use crate::kex::{GexRequest, KexAlg};

/// Algorithms, limits and rekey thresholds of one side of a connection.
///
/// Lists are in preference order: the order in which they are sent in `SSH_MSG_KEXINIT`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Key exchange methods.
    pub kex: Vec<KexAlg>,
    /// Host key signature algorithms. A client accepts these from a server; a server offers the
    /// subset its host keys can make, in this order.
    pub host_key_algorithms: Vec<SignatureAlgorithm>,
    /// Signature algorithms a server accepts for user public keys, announced in RFC 8308
    /// `server-sig-algs`.
    pub user_key_algorithms: Vec<SignatureAlgorithm>,
    /// Ciphers, used for both directions.
    pub ciphers: Vec<CipherAlg>,
    /// MACs for the non-AEAD ciphers, both directions.
    pub macs: Vec<MacAlg>,
    /// Compression methods, both directions.
    pub compression: Vec<Compression>,
    /// The `softwareversion` of our identification line (printable ASCII, no space or `-`).
    pub software_version: String,
    /// Limits on the peer's identification.
    pub ident_limits: IdentLimits,
    /// The largest payload accepted from the peer (after decompression).
    ///
    /// The packet length field may exceed it by the framing (padding, MAC) and no more: longer
    /// packets are refused from their first block, before anything is buffered for them.
    pub max_payload_len: usize,
    /// Start a new key exchange after this many bytes in either direction (the cipher's own
    /// limit applies too, whichever is lower).
    pub rekey_after_bytes: u64,
    /// Start a new key exchange after this many packets in either direction.
    pub rekey_after_packets: u64,
    /// Start a new key exchange after this much time.
    pub rekey_after: Duration,
    /// Most bytes of upper-layer payload queued while a key exchange is in flight.
    pub max_queued_bytes: usize,
    /// The group sizes a client asks for in `diffie-hellman-group-exchange-sha256`.
    pub gex: GexRequest,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kex: KexAlg::all().to_vec(),
            host_key_algorithms: vec![
                SignatureAlgorithm::Ed25519,
                SignatureAlgorithm::EcdsaP256,
                SignatureAlgorithm::EcdsaP384,
                SignatureAlgorithm::RsaSha512,
                SignatureAlgorithm::RsaSha256,
            ],
            user_key_algorithms: vec![
                SignatureAlgorithm::Ed25519,
                SignatureAlgorithm::EcdsaP256,
                SignatureAlgorithm::EcdsaP384,
                SignatureAlgorithm::RsaSha512,
                SignatureAlgorithm::RsaSha256,
            ],
            ciphers: CipherAlg::all().to_vec(),
            macs: MacAlg::defaults().to_vec(),
            compression: vec![
                Compression::None,
                Compression::ZlibOpenSsh,
                Compression::Zlib,
            ],
            software_version: concat!("sshwire_", env!("CARGO_PKG_VERSION")).to_owned(),
            ident_limits: IdentLimits::default(),
            max_payload_len: 256 * 1024,
            // RFC 4344 §3.2 bounds AES at 2^32 blocks; the cipher's own limit is applied on
            // top of this one. One GiB keeps every cipher well inside its bound.
            rekey_after_bytes: 1 << 30,
            // Comfortably before the 32-bit sequence number wraps (RFC 4344 §3.1).
            rekey_after_packets: 1 << 31,
            rekey_after: Duration::from_secs(3600),
            max_queued_bytes: 4 * 1024 * 1024,
            gex: GexRequest::default(),
        }
    }
}

/// Bytes of framing a packet may add to its payload: length, padding length, up to 255 bytes
/// of padding and the largest MAC (64 bytes).
pub(crate) const MAX_FRAMING: usize = 4 + 1 + 255 + 64;
