//! [`PacketOpener`]: checks, authenticates and decrypts incoming packets in place.

use core::ops::Range;

use super::chacha::{self, ChaChaKeys};
use super::ctr::AesCtr;
use super::gcm::AesGcm;
use super::mac::PacketMac;
use super::{CipherAlg, CryptoError, DirectionKeys, LEN_FIELD, Layout, MacAlg, PacketError};

/// The protection removed from incoming packets.
enum Unprotect {
    /// Before the first `SSH_MSG_NEWKEYS`: nothing.
    Plain,
    /// `chacha20-poly1305@openssh.com`.
    ChaCha(ChaChaKeys),
    /// `aes*-gcm@openssh.com`.
    Gcm(Box<AesGcm>),
    /// AES-CTR with an encrypt-then-MAC HMAC: length in clear, MAC over the ciphertext.
    CtrEtm { ctr: AesCtr, mac: PacketMac },
    /// AES-CTR with an encrypt-and-MAC HMAC: everything encrypted, MAC over the plaintext.
    Ctr { ctr: AesCtr, mac: PacketMac },
}

/// A packet opened by [`PacketOpener::open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Bytes of the buffer the packet took, MAC or tag included; the next packet starts there.
    pub consumed: usize,
    /// Where the decrypted payload lies in the buffer.
    pub payload: Range<usize>,
}

/// Opens incoming packets for one direction of a connection.
///
/// Holds the keyed cipher and MAC contexts, created once, the state of a packet whose first
/// bytes have been seen, and the counters the engine needs for rekeying.
pub struct PacketOpener {
    unprotect: Unprotect,
    layout: Layout,
    cipher: Option<CipherAlg>,
    mac: Option<MacAlg>,
    /// `packet_length` of the packet in progress, once read and checked.
    pending: Option<u32>,
    /// Leading bytes of the packet in progress already decrypted in place.
    decrypted: usize,
    poisoned: bool,
    bytes: u64,
    packets: u64,
}

impl PacketOpener {
    /// The unencrypted state used before the first `SSH_MSG_NEWKEYS` (block size 8, no MAC).
    pub fn plaintext() -> Self {
        Self::with(Unprotect::Plain, Layout::PLAINTEXT, None, None)
    }

    /// Keys an opener for `cipher` and `mac`.
    ///
    /// `mac` must be `None` exactly when `cipher.is_aead()`. Fails if a key is shorter than the
    /// algorithm needs.
    pub fn new(
        cipher: CipherAlg,
        mac: Option<MacAlg>,
        keys: &DirectionKeys,
    ) -> Result<Self, CryptoError> {
        let unprotect = match (cipher, mac) {
            (CipherAlg::ChaCha20Poly1305, None) => Unprotect::ChaCha(ChaChaKeys::new(&keys.key)?),
            (CipherAlg::Aes256Gcm | CipherAlg::Aes128Gcm, None) => {
                Unprotect::Gcm(Box::new(AesGcm::new(cipher, &keys.key, &keys.iv)?))
            }
            (CipherAlg::Aes256Ctr | CipherAlg::Aes192Ctr | CipherAlg::Aes128Ctr, Some(alg)) => {
                let ctr = AesCtr::new(cipher, &keys.key, &keys.iv)?;
                let mac = PacketMac::new(alg, &keys.mac_key)?;
                if alg.is_etm() {
                    Unprotect::CtrEtm { ctr, mac }
                } else {
                    Unprotect::Ctr { ctr, mac }
                }
            }
            #[cfg(fuzzing)]
            (CipherAlg::FuzzingNone, None) => Unprotect::Plain,
            _ => return Err(CryptoError::BadCombination),
        };
        Ok(Self::with(
            unprotect,
            Layout::new(cipher, mac),
            Some(cipher),
            mac,
        ))
    }

    fn with(
        unprotect: Unprotect,
        layout: Layout,
        cipher: Option<CipherAlg>,
        mac: Option<MacAlg>,
    ) -> Self {
        Self {
            unprotect,
            layout,
            cipher,
            mac,
            pending: None,
            decrypted: 0,
            poisoned: false,
            bytes: 0,
            packets: 0,
        }
    }

    /// The cipher, or `None` in the unencrypted state.
    pub fn cipher(&self) -> Option<CipherAlg> {
        self.cipher
    }

    /// The MAC, or `None` for AEAD ciphers and the unencrypted state.
    pub fn mac(&self) -> Option<MacAlg> {
        self.mac
    }

    /// The padding unit, `max(8, cipher block size)`.
    pub fn block_size(&self) -> usize {
        self.layout.unit
    }

    /// Bytes of MAC or tag after each packet.
    pub fn mac_len(&self) -> usize {
        self.layout.tag_len
    }

    /// Total bytes (MAC included) of the packet in progress, once its length has been read.
    ///
    /// Lets the caller read exactly the rest of the packet after [`PacketOpener::open`]
    /// returned `Ok(None)`.
    pub fn pending_packet_size(&self) -> Option<usize> {
        let len = usize::try_from(self.pending?).ok()?;
        Some(LEN_FIELD + len + self.layout.tag_len)
    }

    /// Bytes of packets opened so far under these keys (length field through padding, MAC
    /// excluded), to compare with [`CipherAlg::rekey_bytes_limit`].
    pub fn bytes_opened(&self) -> u64 {
        self.bytes
    }

    /// Packets opened so far under these keys.
    pub fn packets_opened(&self) -> u64 {
        self.packets
    }

    /// Whether the cipher's own rekey limit ([`CipherAlg::rekey_bytes_limit`]) is reached.
    ///
    /// Always false in the unencrypted state.
    pub fn rekey_due(&self) -> bool {
        self.cipher
            .is_some_and(|c| self.bytes >= c.rekey_bytes_limit())
    }

    /// Opens the packet at the start of `buf`, decrypting it in place.
    ///
    /// `buf` holds whatever has arrived of the packet, starting at its first byte (and may hold
    /// more after it). Returns `Ok(None)` when more bytes are needed: call again with the same
    /// bytes at the start of a longer `buf` and the same `seq`; work already done (such as the
    /// decrypted length) is kept. On success the payload lies at `payload` in `buf` and the next
    /// packet starts at `consumed`.
    ///
    /// `max_packet_len` bounds the `packet_length` field (RFC 4253 §6.1: at least 35000;
    /// typically 256 KiB plus slack). It is checked, with the other length rules, as soon as
    /// the length is known, before waiting for the rest of the packet.
    ///
    /// Any error is fatal for the connection: disconnect with
    /// [`PacketError::disconnect_reason`]. The opener then refuses further use.
    pub fn open(
        &mut self,
        seq: u32,
        buf: &mut [u8],
        max_packet_len: usize,
    ) -> Result<Option<Opened>, PacketError> {
        if self.poisoned {
            return Err(PacketError::Poisoned);
        }
        let result = self.open_inner(seq, buf, max_packet_len);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn open_inner(
        &mut self,
        seq: u32,
        buf: &mut [u8],
        max_packet_len: usize,
    ) -> Result<Option<Opened>, PacketError> {
        let packet_len = match self.pending {
            Some(len) => len,
            None => {
                let Some(first) = buf.first_chunk_mut::<LEN_FIELD>() else {
                    return Ok(None);
                };
                let len = match &mut self.unprotect {
                    Unprotect::Plain | Unprotect::Gcm(_) | Unprotect::CtrEtm { .. } => {
                        u32::from_be_bytes(*first)
                    }
                    Unprotect::ChaCha(key) => {
                        // Decrypted aside: the tag covers the encrypted length in `buf`.
                        let mut len = *first;
                        key.crypt_len(seq, &mut len);
                        u32::from_be_bytes(len)
                    }
                    Unprotect::Ctr { ctr, .. } => {
                        ctr.apply(first);
                        self.decrypted = LEN_FIELD;
                        u32::from_be_bytes(*first)
                    }
                };
                self.check_len(len, max_packet_len)?;
                self.pending = Some(len);
                len
            }
        };
        let bad_len = PacketError::BadLength(packet_len);
        let body_len = usize::try_from(packet_len)
            .ok()
            .and_then(|len| len.checked_add(LEN_FIELD))
            .ok_or(bad_len.clone())?;
        let total = body_len
            .checked_add(self.layout.tag_len)
            .ok_or(bad_len.clone())?;
        let Some(packet) = buf.get_mut(..total) else {
            return Ok(None);
        };

        // The MAC or tag is verified before any decrypted byte other than the (already
        // bounds-checked) length is looked at; for EtM and AEAD, before anything is decrypted.
        let authentic = match &mut self.unprotect {
            Unprotect::Plain => true,
            Unprotect::ChaCha(key) => match packet.split_at_mut_checked(body_len) {
                Some((body, tag)) => tag
                    .first_chunk::<{ chacha::TAG_LEN }>()
                    .is_some_and(|tag| key.open(seq, body, tag)),
                None => false,
            },
            Unprotect::Gcm(key) => match packet.split_first_chunk_mut::<LEN_FIELD>() {
                Some((len, ciphertext_and_tag)) => key.open(*len, ciphertext_and_tag),
                None => false,
            },
            Unprotect::CtrEtm { ctr, mac } => match packet.split_at_mut_checked(body_len) {
                // OpenSSH PROTOCOL (EtM): "mac = MAC(key, sequence_number || packet_length ||
                // encrypted_packet)", checked before anything is decrypted.
                Some((body, tag)) if mac.verify(seq, body, tag) => {
                    if let Some(rest) = body.get_mut(LEN_FIELD..) {
                        ctr.apply(rest);
                    }
                    true
                }
                _ => false,
            },
            Unprotect::Ctr { ctr, mac } => match packet.split_at_mut_checked(body_len) {
                Some((body, tag)) => {
                    if let Some(rest) = body.get_mut(self.decrypted..) {
                        ctr.apply(rest);
                    }
                    // RFC 4253 §6.4: "mac = MAC(key, sequence_number || unencrypted_packet)".
                    mac.verify(seq, body, tag)
                }
                None => false,
            },
        };
        if !authentic {
            return Err(PacketError::MacMismatch);
        }
        self.pending = None;
        self.decrypted = 0;

        let packet = buf.get(..body_len).ok_or(bad_len)?;
        let pad = packet.get(LEN_FIELD).copied().unwrap_or(0);
        // RFC 4253 §6: "There MUST be at least four bytes of padding." and
        // "n1 = packet_length - padding_length - 1", so padding_length < packet_length.
        if pad < 4 || u32::from(pad) >= packet_len {
            return Err(PacketError::BadPadding(pad));
        }
        let payload = LEN_FIELD + 1..body_len - usize::from(pad);
        self.bytes = self.bytes.saturating_add(body_len as u64);
        self.packets = self.packets.saturating_add(1);
        Ok(Some(Opened {
            consumed: total,
            payload,
        }))
    }

    /// Checks a freshly read `packet_length` before anything else is waited for.
    fn check_len(&self, len: u32, max_packet_len: usize) -> Result<(), PacketError> {
        let bad = PacketError::BadLength(len);
        let len_usize = usize::try_from(len).map_err(|_| bad.clone())?;
        // RFC 4253 §6: "packet_length: The length of the packet in bytes, not including 'mac'
        // or the 'packet_length' field itself" must hold padding_length and "at least four
        // bytes of padding": at least 5. The caller's limit bounds it from above (§6.1).
        if len_usize < 5 || len_usize > max_packet_len {
            return Err(bad);
        }
        // RFC 4253 §6: "the length of the concatenation of 'packet_length', 'padding_length',
        // 'payload', and 'random padding' MUST be a multiple of the cipher block size or 8,
        // whichever is larger." For EtM and AEAD modes, where the length is not encrypted with
        // the rest, the length field is left out of that multiple (as OpenSSH does).
        let covered = len_usize
            + if self.layout.len_in_unit {
                LEN_FIELD
            } else {
                0
            };
        if covered % self.layout.unit != 0 {
            return Err(bad);
        }
        Ok(())
    }
}

impl core::fmt::Debug for PacketOpener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketOpener")
            .field("cipher", &self.cipher)
            .field("mac", &self.mac)
            .field("pending", &self.pending)
            .field("poisoned", &self.poisoned)
            .field("bytes", &self.bytes)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}
