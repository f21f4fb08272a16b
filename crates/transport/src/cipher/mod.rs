//! The binary packet protocol's crypto layer: ciphers, MACs, packet sealing and opening.
//!
//! RFC 4253 §6 frames every message as
//!
//! ```text
//! uint32    packet_length
//! byte      padding_length
//! byte[n1]  payload; n1 = packet_length - padding_length - 1
//! byte[n2]  random padding; n2 = padding_length
//! byte[m]   mac (Message Authentication Code - MAC); m = mac_length
//! ```
//!
//! [`PacketSealer`] writes such packets for one direction and [`PacketOpener`] reads them for
//! the other. Each is built from a [`CipherAlg`], an optional [`MacAlg`] (absent exactly when
//! the cipher is an AEAD) and the [`DirectionKeys`] derived by key exchange (RFC 4253 §7.2).
//! Before the first `SSH_MSG_NEWKEYS` both sides use [`PacketSealer::plaintext`] and
//! [`PacketOpener::plaintext`]: no encryption, no MAC, block size 8. That state cannot be
//! negotiated: there is no cipher or MAC named `none`, except in fuzzing builds (below).
//!
//! Fuzzing builds (`--cfg fuzzing`, which `cargo fuzz` sets) add one cipher,
//! `CipherAlg::FuzzingNone`, named `none-for-fuzzing@sshwire`: packets after `SSH_MSG_NEWKEYS`
//! travel as in the unencrypted state, so a fuzzer that mutates a recorded conversation reaches
//! the messages after key exchange instead of failing every MAC. The variant does not exist in
//! any other build: no release binary can offer, accept or even name it.
//!
//! Three families of packet protection exist:
//!
//! - AEAD ciphers (`chacha20-poly1305@openssh.com`, `aes*-gcm@openssh.com`), which carry their
//!   own tag;
//! - AES-CTR (RFC 4344) with an encrypt-then-MAC HMAC (`*-etm@openssh.com`), where the length is
//!   sent in clear and the MAC is checked before anything is decrypted;
//! - AES-CTR with an encrypt-and-MAC HMAC (RFC 4253 §6.4, RFC 6668), where the MAC covers the
//!   plaintext and the length must be decrypted before the MAC can be checked.
//!
//! Sequence numbers are supplied by the caller, so the engine controls their resets (strict
//! key exchange). Rekey accounting is exposed through [`PacketSealer::bytes_sealed`],
//! [`PacketOpener::bytes_opened`] and [`CipherAlg::rekey_bytes_limit`].

mod chacha;
mod ctr;
mod error;
mod gcm;
mod mac;
mod open;
mod seal;

#[cfg(test)]
mod tests;

use zeroize::Zeroizing;

pub use error::{CryptoError, PacketError};
pub use open::{Opened, PacketOpener};
pub use seal::{HEADROOM, PacketSealer, TAILROOM};

/// SSH disconnect reason `SSH_DISCONNECT_PROTOCOL_ERROR` (RFC 4253 §11.1).
pub const DISCONNECT_PROTOCOL_ERROR: u32 = 2;
/// SSH disconnect reason `SSH_DISCONNECT_MAC_ERROR` (RFC 4253 §11.1).
pub const DISCONNECT_MAC_ERROR: u32 = 5;

/// Block size of the unencrypted state before the first `SSH_MSG_NEWKEYS`.
///
/// RFC 4253 §6: "Note that the length of the concatenation of 'packet_length', 'padding_length',
/// 'payload', and 'random padding' MUST be a multiple of the cipher block size or 8, whichever is
/// larger."
pub const PLAINTEXT_BLOCK_SIZE: usize = 8;

/// Bytes of tag of both AEAD ciphers (Poly1305 and GCM).
pub(crate) const AEAD_TAG_LEN: usize = 16;

/// Length of the `packet_length` field.
pub(crate) const LEN_FIELD: usize = 4;

/// An encryption algorithm of the binary packet protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CipherAlg {
    /// `chacha20-poly1305@openssh.com` (OpenSSH `PROTOCOL.chacha20poly1305`).
    ChaCha20Poly1305,
    /// `aes256-gcm@openssh.com` (RFC 5647 as modified by OpenSSH `PROTOCOL`).
    Aes256Gcm,
    /// `aes128-gcm@openssh.com` (RFC 5647 as modified by OpenSSH `PROTOCOL`).
    Aes128Gcm,
    /// `aes256-ctr` (RFC 4344).
    Aes256Ctr,
    /// `aes192-ctr` (RFC 4344).
    Aes192Ctr,
    /// `aes128-ctr` (RFC 4344).
    Aes128Ctr,
    /// `none-for-fuzzing@sshwire`: no protection after `SSH_MSG_NEWKEYS`. Fuzzing builds only
    /// (`--cfg fuzzing`); never in [`CipherAlg::ALL`], so only a configuration that names it
    /// explicitly negotiates it.
    #[cfg(fuzzing)]
    FuzzingNone,
}

impl CipherAlg {
    /// Every supported cipher, in default preference order.
    pub const ALL: [CipherAlg; 6] = [
        CipherAlg::ChaCha20Poly1305,
        CipherAlg::Aes256Gcm,
        CipherAlg::Aes128Gcm,
        CipherAlg::Aes256Ctr,
        CipherAlg::Aes192Ctr,
        CipherAlg::Aes128Ctr,
    ];

    /// Every supported cipher, in default preference order (same as [`CipherAlg::ALL`]).
    pub fn all() -> &'static [CipherAlg] {
        &Self::ALL
    }

    /// The algorithm's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            CipherAlg::ChaCha20Poly1305 => "chacha20-poly1305@openssh.com",
            CipherAlg::Aes256Gcm => "aes256-gcm@openssh.com",
            CipherAlg::Aes128Gcm => "aes128-gcm@openssh.com",
            CipherAlg::Aes256Ctr => "aes256-ctr",
            CipherAlg::Aes192Ctr => "aes192-ctr",
            CipherAlg::Aes128Ctr => "aes128-ctr",
            #[cfg(fuzzing)]
            CipherAlg::FuzzingNone => "none-for-fuzzing@sshwire",
        }
    }

    /// Looks an algorithm up by its wire name (exact, case-sensitive match).
    pub fn from_name(name: &str) -> Option<Self> {
        #[cfg(fuzzing)]
        if name == CipherAlg::FuzzingNone.name() {
            return Some(CipherAlg::FuzzingNone);
        }
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// Bytes of key material the cipher takes (RFC 4253 §7.2 "encryption key").
    ///
    /// ChaCha20-Poly1305 takes 64: the first 32 bytes are K_2 (payload), the last 32 K_1
    /// (length).
    pub fn key_len(self) -> usize {
        match self {
            CipherAlg::ChaCha20Poly1305 => 64,
            CipherAlg::Aes256Gcm | CipherAlg::Aes256Ctr => 32,
            CipherAlg::Aes192Ctr => 24,
            CipherAlg::Aes128Gcm | CipherAlg::Aes128Ctr => 16,
            #[cfg(fuzzing)]
            CipherAlg::FuzzingNone => 0,
        }
    }

    /// Bytes of initial IV the cipher takes (RFC 4253 §7.2 "initial IV").
    ///
    /// GCM takes 12 (4-byte fixed field, 8-byte invocation counter; RFC 5647 §7.1), CTR 16 (the
    /// initial counter block; RFC 4344 §4), ChaCha20-Poly1305 none (its nonce is the sequence
    /// number).
    pub fn iv_len(self) -> usize {
        match self {
            CipherAlg::ChaCha20Poly1305 => 0,
            CipherAlg::Aes256Gcm | CipherAlg::Aes128Gcm => 12,
            CipherAlg::Aes256Ctr | CipherAlg::Aes192Ctr | CipherAlg::Aes128Ctr => 16,
            #[cfg(fuzzing)]
            CipherAlg::FuzzingNone => 0,
        }
    }

    /// The cipher's block size for padding purposes.
    ///
    /// Packets are padded to a multiple of `max(8, block_size)`; ChaCha20-Poly1305 uses 8 as
    /// OpenSSH does.
    pub fn block_size(self) -> usize {
        match self {
            CipherAlg::ChaCha20Poly1305 => 8,
            #[cfg(fuzzing)]
            CipherAlg::FuzzingNone => 8,
            _ => 16,
        }
    }

    /// Whether the cipher authenticates packets itself (no separate MAC is negotiated).
    pub fn is_aead(self) -> bool {
        #[cfg(fuzzing)]
        if self == CipherAlg::FuzzingNone {
            // No MAC is negotiated beside it, as beside an AEAD.
            return true;
        }
        matches!(
            self,
            CipherAlg::ChaCha20Poly1305 | CipherAlg::Aes256Gcm | CipherAlg::Aes128Gcm
        )
    }

    /// Bytes that may be protected under one key before rekeying, in one direction.
    ///
    /// The limit counts every byte the cipher processes (whole packets, MAC excluded), which is
    /// what [`PacketSealer::bytes_sealed`] and [`PacketOpener::bytes_opened`] report.
    ///
    /// - AES (128-bit blocks): RFC 4344 §3.2: "rekey at least once for every 2**(L/4) blocks
    ///   of data ... where L is the block length of the cipher", i.e. 2^32 blocks = 2^36 bytes.
    /// - ChaCha20-Poly1305 (64-bit "block size"): 2^(64/4) blocks would be only 512 KiB, so as
    ///   OpenSSH does for small-block ciphers the limit is 1 GiB.
    ///
    /// Engines usually apply a lower, configured limit as well (OpenSSH `RekeyLimit`).
    pub fn rekey_bytes_limit(self) -> u64 {
        match self {
            CipherAlg::ChaCha20Poly1305 => 1 << 30,
            _ => (1u64 << 32) * 16,
        }
    }
}

impl core::fmt::Display for CipherAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A MAC algorithm of the binary packet protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MacAlg {
    /// `hmac-sha2-256-etm@openssh.com` (encrypt-then-MAC, OpenSSH `PROTOCOL`).
    HmacSha256Etm,
    /// `hmac-sha2-512-etm@openssh.com` (encrypt-then-MAC, OpenSSH `PROTOCOL`).
    HmacSha512Etm,
    /// `hmac-sha2-256` (RFC 6668).
    HmacSha256,
    /// `hmac-sha2-512` (RFC 6668).
    HmacSha512,
    /// `hmac-sha1` (RFC 4253 §6.4); not offered by default.
    HmacSha1,
    /// `hmac-sha1-etm@openssh.com`; not offered by default.
    HmacSha1Etm,
}

impl MacAlg {
    /// Every supported MAC, SHA-2 ones first.
    pub const ALL: [MacAlg; 6] = [
        MacAlg::HmacSha256Etm,
        MacAlg::HmacSha512Etm,
        MacAlg::HmacSha256,
        MacAlg::HmacSha512,
        MacAlg::HmacSha1,
        MacAlg::HmacSha1Etm,
    ];

    /// The MACs offered by default, in preference order: SHA-2 only; SHA-1 only when asked.
    pub fn defaults() -> &'static [MacAlg] {
        &[
            MacAlg::HmacSha256Etm,
            MacAlg::HmacSha512Etm,
            MacAlg::HmacSha256,
            MacAlg::HmacSha512,
        ]
    }

    /// The algorithm's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            MacAlg::HmacSha256Etm => "hmac-sha2-256-etm@openssh.com",
            MacAlg::HmacSha512Etm => "hmac-sha2-512-etm@openssh.com",
            MacAlg::HmacSha256 => "hmac-sha2-256",
            MacAlg::HmacSha512 => "hmac-sha2-512",
            MacAlg::HmacSha1 => "hmac-sha1",
            MacAlg::HmacSha1Etm => "hmac-sha1-etm@openssh.com",
        }
    }

    /// Looks an algorithm up by its wire name (exact, case-sensitive match).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// Bytes of MAC key the algorithm takes (RFC 4253 §7.2 "integrity key").
    ///
    /// RFC 6668 §2: key length equals the digest length for the SHA-2 HMACs.
    pub fn key_len(self) -> usize {
        self.mac_len()
    }

    /// Bytes of MAC appended to each packet.
    pub fn mac_len(self) -> usize {
        match self {
            MacAlg::HmacSha256Etm | MacAlg::HmacSha256 => 32,
            MacAlg::HmacSha512Etm | MacAlg::HmacSha512 => 64,
            MacAlg::HmacSha1 | MacAlg::HmacSha1Etm => 20,
        }
    }

    /// Whether this is an encrypt-then-MAC algorithm (length in clear, MAC over ciphertext).
    pub fn is_etm(self) -> bool {
        matches!(
            self,
            MacAlg::HmacSha256Etm | MacAlg::HmacSha512Etm | MacAlg::HmacSha1Etm
        )
    }
}

impl core::fmt::Display for MacAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The keys for one direction, as derived in RFC 4253 §7.2.
///
/// RFC 4253 §7.2: "Key data MUST be taken from the beginning of the hash output." Each field
/// must hold at least as many bytes as the algorithm needs ([`CipherAlg::iv_len`],
/// [`CipherAlg::key_len`], [`MacAlg::key_len`]); any extra bytes at the end are ignored. The
/// contents are wiped on drop, and `Debug` does not print them.
#[derive(Clone, Default)]
pub struct DirectionKeys {
    /// Initial IV ("A" client to server, "B" server to client).
    pub iv: Zeroizing<Vec<u8>>,
    /// Encryption key ("C" client to server, "D" server to client).
    pub key: Zeroizing<Vec<u8>>,
    /// Integrity key ("E" client to server, "F" server to client); unused for AEAD ciphers.
    pub mac_key: Zeroizing<Vec<u8>>,
}

impl DirectionKeys {
    /// Bundles the three derived values.
    pub fn new(iv: Vec<u8>, key: Vec<u8>, mac_key: Vec<u8>) -> Self {
        Self {
            iv: Zeroizing::new(iv),
            key: Zeroizing::new(key),
            mac_key: Zeroizing::new(mac_key),
        }
    }
}

impl core::fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DirectionKeys")
            .field("iv", &format_args!("<{} bytes>", self.iv.len()))
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("mac_key", &format_args!("<{} bytes>", self.mac_key.len()))
            .finish()
    }
}

/// Returns the first `len` bytes of `material`, or [`CryptoError::KeyTooShort`].
pub(crate) fn key_prefix<'a>(
    material: &'a [u8],
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], CryptoError> {
    material.get(..len).ok_or(CryptoError::KeyTooShort {
        what,
        needed: len,
        got: material.len(),
    })
}

/// How the packet layer protects packets in one direction: the shape shared by sealer and opener.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    /// Padding unit: `max(8, block size)`.
    pub unit: usize,
    /// Whether the `packet_length` field counts toward the padding unit (false for EtM/AEAD).
    pub len_in_unit: bool,
    /// Bytes of MAC or tag after the packet.
    pub tag_len: usize,
}

impl Layout {
    /// The unencrypted state.
    pub const PLAINTEXT: Layout = Layout {
        unit: PLAINTEXT_BLOCK_SIZE,
        len_in_unit: true,
        tag_len: 0,
    };

    /// The layout for a negotiated cipher and MAC.
    pub fn new(cipher: CipherAlg, mac: Option<MacAlg>) -> Layout {
        #[cfg(fuzzing)]
        if cipher == CipherAlg::FuzzingNone {
            return Layout::PLAINTEXT;
        }
        let etm = mac.is_none_or(MacAlg::is_etm);
        Layout {
            unit: cipher.block_size().max(PLAINTEXT_BLOCK_SIZE),
            len_in_unit: !etm,
            tag_len: if cipher.is_aead() {
                AEAD_TAG_LEN
            } else {
                mac.map_or(0, MacAlg::mac_len)
            },
        }
    }

    /// Padding length for a payload of `payload_len` bytes.
    ///
    /// RFC 4253 §6: "There MUST be at least four bytes of padding." and the padded length
    /// "MUST be a multiple of the cipher block size or 8, whichever is larger". For EtM and
    /// AEAD modes the length field, sent apart from the rest, is left out (as OpenSSH does).
    pub fn padding_len(self, payload_len: usize) -> usize {
        let covered = 1 + payload_len + if self.len_in_unit { LEN_FIELD } else { 0 };
        let mut pad = self.unit - covered % self.unit;
        if pad < 4 {
            pad += self.unit;
        }
        pad
    }
}
