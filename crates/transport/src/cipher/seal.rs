//! [`PacketSealer`]: frames, pads, encrypts and authenticates outgoing packets.

use rand_core::CryptoRng;

use super::chacha::{self, ChaChaKeys};
use super::ctr::AesCtr;
use super::gcm::AesGcm;
use super::mac::PacketMac;
use super::{CipherAlg, CryptoError, DirectionKeys, LEN_FIELD, Layout, MacAlg};

/// Bytes in front of the payload that [`PacketSealer::seal_in_place`] fills in:
/// `uint32 packet_length` and `byte padding_length` (RFC 4253 §6).
pub const HEADROOM: usize = LEN_FIELD + 1;

/// Spare capacity after the payload that [`PacketSealer::seal_in_place`] fills without
/// moving the packet: the padding (RFC 4253 §6: at least 4 bytes, up to the next multiple of
/// the cipher's block of at most 16, so 19 at most as we pad) and the MAC or tag (at most
/// the 64 bytes of hmac-sha2-512).
pub const TAILROOM: usize = 16 + 3 + 64;

/// The protection applied to outgoing packets.
enum Protect {
    /// Before the first `SSH_MSG_NEWKEYS`: nothing.
    Plain,
    /// `chacha20-poly1305@openssh.com`.
    ChaCha(ChaChaKeys),
    /// `aes*-gcm@openssh.com`.
    Gcm(Box<AesGcm>),
    /// AES-CTR with an HMAC, encrypt-then-MAC when `mac.alg().is_etm()`.
    Ctr { ctr: AesCtr, mac: PacketMac },
}

/// Seals outgoing packets for one direction of a connection.
///
/// Holds the keyed cipher and MAC contexts, created once, and the counters the engine needs
/// for rekeying. Sequence numbers are passed in by the caller on every call.
pub struct PacketSealer {
    protect: Protect,
    layout: Layout,
    cipher: Option<CipherAlg>,
    mac: Option<MacAlg>,
    bytes: u64,
    packets: u64,
}

impl PacketSealer {
    /// The unencrypted state used before the first `SSH_MSG_NEWKEYS` (block size 8, no MAC).
    pub fn plaintext() -> Self {
        Self {
            protect: Protect::Plain,
            layout: Layout::PLAINTEXT,
            cipher: None,
            mac: None,
            bytes: 0,
            packets: 0,
        }
    }

    /// Keys a sealer for `cipher` and `mac`.
    ///
    /// `mac` must be `None` exactly when `cipher.is_aead()` (with an AEAD cipher the
    /// negotiated MAC is ignored). Fails if a key is shorter than the
    /// algorithm needs.
    pub fn new(
        cipher: CipherAlg,
        mac: Option<MacAlg>,
        keys: &DirectionKeys,
    ) -> Result<Self, CryptoError> {
        let protect = match (cipher, mac) {
            (CipherAlg::ChaCha20Poly1305, None) => Protect::ChaCha(ChaChaKeys::new(&keys.key)?),
            (CipherAlg::Aes256Gcm | CipherAlg::Aes128Gcm, None) => {
                Protect::Gcm(Box::new(AesGcm::new(cipher, &keys.key, &keys.iv)?))
            }
            (CipherAlg::Aes256Ctr | CipherAlg::Aes192Ctr | CipherAlg::Aes128Ctr, Some(mac)) => {
                Protect::Ctr {
                    ctr: AesCtr::new(cipher, &keys.key, &keys.iv)?,
                    mac: PacketMac::new(mac, &keys.mac_key)?,
                }
            }
            #[cfg(fuzzing)]
            (CipherAlg::FuzzingNone, None) => Protect::Plain,
            _ => return Err(CryptoError::BadCombination),
        };
        Ok(Self {
            protect,
            layout: Layout::new(cipher, mac),
            cipher: Some(cipher),
            mac,
            bytes: 0,
            packets: 0,
        })
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

    /// Bytes [`PacketSealer::seal`] will append beyond `payload_len`: length field, padding
    /// length, padding and MAC or tag.
    pub fn overhead(&self, payload_len: usize) -> usize {
        LEN_FIELD + 1 + self.layout.padding_len(payload_len) + self.layout.tag_len
    }

    /// Bytes of packets sealed so far under these keys (length field through padding, MAC
    /// excluded), to compare with [`CipherAlg::rekey_bytes_limit`].
    pub fn bytes_sealed(&self) -> u64 {
        self.bytes
    }

    /// Packets sealed so far under these keys.
    pub fn packets_sealed(&self) -> u64 {
        self.packets
    }

    /// Whether the cipher's own rekey limit ([`CipherAlg::rekey_bytes_limit`]) is reached.
    ///
    /// Always false in the unencrypted state.
    pub fn rekey_due(&self) -> bool {
        self.cipher
            .is_some_and(|c| self.bytes >= c.rekey_bytes_limit())
    }

    /// Appends one whole packet carrying `payload` to `out`.
    ///
    /// Writes `packet_length || padding_length || payload || padding`, with the minimum random
    /// padding (from `rng`), encrypts it in place and appends the MAC or tag. `seq` is the
    /// packet's sequence number (RFC 4253 §6.4). On error `out` is left as it was.
    pub fn seal(
        &mut self,
        seq: u32,
        payload: &[u8],
        rng: &mut dyn CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let start = out.len();
        let result = self.seal_at(start, seq, payload, rng, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Seals, in place, the packet whose payload is `packet[HEADROOM..]`.
    ///
    /// The first [`HEADROOM`] bytes are the room left for `packet_length || padding_length`,
    /// whatever they hold; the padding and the MAC or tag are appended. The result is byte
    /// for byte what [`PacketSealer::seal`] appends for the same payload, sequence number and
    /// random bytes, without copying the payload. On error `packet` is left as it was.
    pub fn seal_in_place(
        &mut self,
        seq: u32,
        packet: &mut Vec<u8>,
        rng: &mut dyn CryptoRng,
    ) -> Result<(), CryptoError> {
        let len = packet.len();
        if len < HEADROOM {
            return Err(CryptoError::PayloadTooLong(0));
        }
        let result = self.frame_and_protect(0, seq, rng, packet);
        if result.is_err() {
            packet.truncate(len);
        }
        result
    }

    /// [`PacketSealer::seal`] without the clean-up on error.
    fn seal_at(
        &mut self,
        start: usize,
        seq: u32,
        payload: &[u8],
        rng: &mut dyn CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        out.reserve(HEADROOM + payload.len() + self.layout.padding_len(payload.len()) + 64);
        out.extend_from_slice(&[0; HEADROOM]);
        extend_chunked(out, payload);
        self.frame_and_protect(start, seq, rng, out)
    }

    /// Frames and protects the packet at `out[start..]`, which holds [`HEADROOM`] bytes of
    /// room and then the payload: writes the length and padding length into the room, appends
    /// the padding (from `rng`), encrypts in place and appends the MAC or tag.
    fn frame_and_protect(
        &mut self,
        start: usize,
        seq: u32,
        rng: &mut dyn CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let payload_len = out.len().saturating_sub(start + HEADROOM);
        let too_long = CryptoError::PayloadTooLong(payload_len);
        let pad = self.layout.padding_len(payload_len);
        let pad_byte = u8::try_from(pad).map_err(|_| too_long.clone())?;
        // RFC 4253 §6: "packet_length: The length of the packet in bytes, not including 'mac'
        // or the 'packet_length' field itself."
        let packet_len = payload_len
            .checked_add(1 + pad)
            .ok_or_else(|| too_long.clone())?;
        let len_field = u32::try_from(packet_len).map_err(|_| too_long.clone())?;
        let body_len = LEN_FIELD + packet_len;
        let tag_len = self.layout.tag_len;

        let room = out
            .get_mut(start..start + HEADROOM)
            .ok_or_else(|| too_long.clone())?;
        let (len_place, pad_place) = room.split_at_mut(LEN_FIELD);
        len_place.copy_from_slice(&len_field.to_be_bytes());
        pad_place.fill(pad_byte);
        let pad_start = out.len();
        out.resize(pad_start + pad, 0);
        // RFC 4253 §6: "random padding: Arbitrary-length padding ... The padding SHOULD consist
        // of random bytes."
        if let Some(padding) = out.get_mut(pad_start..) {
            rng.fill_bytes(padding);
        }
        out.resize(start + body_len + tag_len, 0);
        let packet = out.get_mut(start..).ok_or_else(|| too_long.clone())?;
        let (body, tag) = packet
            .split_at_mut_checked(body_len)
            .ok_or_else(|| too_long.clone())?;

        self.protect(seq, body, tag)?;
        self.bytes = self.bytes.saturating_add(body_len as u64);
        self.packets = self.packets.saturating_add(1);
        Ok(())
    }

    /// Encrypts and authenticates a framed packet in place.
    ///
    /// `body` is `packet_length || padding_length || payload || padding`; the MAC or tag is
    /// written to `tag`, which must be exactly as long as the MAC or tag.
    pub(crate) fn protect(
        &mut self,
        seq: u32,
        body: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        match &mut self.protect {
            Protect::Plain => {}
            Protect::ChaCha(key) => {
                let tag = tag
                    .first_chunk_mut::<{ chacha::TAG_LEN }>()
                    .ok_or(CryptoError::BadCombination)?;
                key.seal(seq, body, tag)?;
            }
            Protect::Gcm(key) => {
                let (len, rest) = body
                    .split_first_chunk_mut::<LEN_FIELD>()
                    .ok_or(CryptoError::BadCombination)?;
                let sealed = key.seal(*len, rest)?;
                put_tag(tag, sealed.as_ref())?;
            }
            Protect::Ctr { ctr, mac } => {
                if mac.alg().is_etm() {
                    // OpenSSH PROTOCOL (EtM): the length stays in clear and
                    // "mac = MAC(key, sequence_number || packet_length || encrypted_packet)".
                    let rest = body
                        .get_mut(LEN_FIELD..)
                        .ok_or(CryptoError::BadCombination)?;
                    ctr.apply(rest);
                    put_tag(tag, mac.sign(seq, body).as_ref())?;
                } else {
                    // RFC 4253 §6.4: "mac = MAC(key, sequence_number || unencrypted_packet)".
                    put_tag(tag, mac.sign(seq, body).as_ref())?;
                    ctr.apply(body);
                }
            }
        }
        Ok(())
    }
}

/// Bytes copied per `memcpy` when writing the payload.
const COPY_CHUNK: usize = 1024;

/// Appends `payload` to `out` in pieces of [`COPY_CHUNK`] bytes.
///
/// One large copy may be done by `rep movsb`, which on some AMD Zen CPUs crawls when source and
/// destination are close modulo 4096: measured on an EPYC here, a 32 KiB copy ran at 1.9 GB/s
/// in one piece and 38 GB/s in 1 KiB pieces (below glibc's `rep movsb` threshold), which took
/// AES-GCM sealing from 2.1 to about 5 GB/s.
fn extend_chunked(out: &mut Vec<u8>, payload: &[u8]) {
    for piece in payload.chunks(COPY_CHUNK) {
        out.extend_from_slice(piece);
    }
}

/// Copies a computed MAC or tag into its place, which must be exactly as long.
fn put_tag(place: &mut [u8], value: &[u8]) -> Result<(), CryptoError> {
    if place.len() != value.len() {
        return Err(CryptoError::BadCombination);
    }
    place.copy_from_slice(value);
    Ok(())
}

impl core::fmt::Debug for PacketSealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketSealer")
            .field("cipher", &self.cipher)
            .field("mac", &self.mac)
            .field("bytes", &self.bytes)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}
