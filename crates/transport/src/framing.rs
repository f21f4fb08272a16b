//! One direction of the binary packet protocol: keys, sequence number, compression, counters.

use rand_core::CryptoRng;

use crate::Error;
use crate::cipher::{PacketOpener, PacketSealer};
use crate::compress::{Compression, Compressor, Decompressor};
use crate::config::MAX_FRAMING;

/// The sending direction.
pub(crate) struct Outgoing {
    sealer: PacketSealer,
    /// RFC 4253 §6.4: "sequence_number ... is initialized to zero for the first packet, and is
    /// incremented after every packet (regardless of whether encryption or MAC is in use)".
    pub(crate) seq: u32,
    compression: Compression,
    compressor: Option<Compressor>,
    /// Bytes sealed under the current keys.
    pub(crate) bytes: u64,
    /// Packets sealed under the current keys.
    pub(crate) packets: u64,
    scratch: Vec<u8>,
}

impl Outgoing {
    pub(crate) fn plaintext() -> Self {
        Outgoing {
            sealer: PacketSealer::plaintext(),
            seq: 0,
            compression: Compression::None,
            compressor: None,
            bytes: 0,
            packets: 0,
            scratch: Vec::new(),
        }
    }

    /// Compresses (if active), seals and appends one packet to `out`.
    pub(crate) fn seal(
        &mut self,
        payload: &[u8],
        rng: &mut dyn CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let before = out.len();
        match &mut self.compressor {
            Some(c) => {
                self.scratch.clear();
                c.compress(payload, &mut self.scratch)?;
                self.sealer.seal(self.seq, &self.scratch, rng, out)
            }
            None => self.sealer.seal(self.seq, payload, rng, out),
        }
        .map_err(|_| Error::ApiMisuse("payload too long for one packet"))?;
        self.count(out.len() - before);
        Ok(())
    }

    /// Whether payloads are compressed, which needs the copy [`Outgoing::seal`] makes.
    pub(crate) fn compressing(&self) -> bool {
        self.compressor.is_some()
    }

    /// Seals, in place, the packet whose payload follows [`crate::cipher::HEADROOM`] bytes of
    /// room in `packet` (without compression: see [`Outgoing::compressing`]).
    pub(crate) fn seal_in_place(
        &mut self,
        packet: &mut Vec<u8>,
        rng: &mut dyn CryptoRng,
    ) -> Result<(), Error> {
        self.sealer
            .seal_in_place(self.seq, packet, rng)
            .map_err(|_| Error::ApiMisuse("payload too long for one packet"))?;
        self.count(packet.len());
        Ok(())
    }

    /// Counts one packet of `len` bytes sealed, and moves to the next sequence number.
    fn count(&mut self, len: usize) {
        self.seq = self.seq.wrapping_add(1);
        self.bytes = self.bytes.saturating_add(len as u64);
        self.packets = self.packets.saturating_add(1);
    }

    /// Switches to new keys after sending `SSH_MSG_NEWKEYS`.
    pub(crate) fn install(
        &mut self,
        sealer: PacketSealer,
        compression: Compression,
        authenticated: bool,
    ) {
        self.sealer = sealer;
        self.compression = compression;
        self.compressor = compressor_for(compression, authenticated).then(Compressor::new);
        self.bytes = 0;
        self.packets = 0;
    }

    /// Starts `zlib@openssh.com` compression, which waits for authentication.
    pub(crate) fn start_delayed_compression(&mut self) {
        if self.compression == Compression::ZlibOpenSsh && self.compressor.is_none() {
            self.compressor = Some(Compressor::new());
        }
    }
}

/// The receiving direction.
pub(crate) struct Incoming {
    opener: PacketOpener,
    /// The sequence number of the next packet to arrive.
    pub(crate) seq: u32,
    compression: Compression,
    decompressor: Option<Decompressor>,
    /// Bytes opened under the current keys.
    pub(crate) bytes: u64,
    /// Packets opened under the current keys.
    pub(crate) packets: u64,
}

impl Incoming {
    pub(crate) fn plaintext() -> Self {
        Incoming {
            opener: PacketOpener::plaintext(),
            seq: 0,
            compression: Compression::None,
            decompressor: None,
            bytes: 0,
            packets: 0,
        }
    }

    /// Opens the packet at the front of `buf` in place.
    ///
    /// Returns how many bytes of `buf` the packet took and its payload: a slice of `buf`, or
    /// of `scratch` when the payload had to be decompressed. `None` if the packet has not all
    /// arrived.
    pub(crate) fn open<'a>(
        &mut self,
        buf: &'a mut [u8],
        max_payload: usize,
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<(usize, &'a [u8])>, Error> {
        let Some((consumed, range)) = self.open_raw(buf, max_payload)? else {
            return Ok(None);
        };
        let body: &'a [u8] = buf.get(range).unwrap_or_default();
        let payload = match &mut self.decompressor {
            Some(d) => {
                scratch.clear();
                d.decompress(body, scratch, max_payload)?;
                &scratch[..]
            }
            None => body,
        };
        Ok(Some((consumed, payload)))
    }

    /// Opens the packet at the front of `buf` in place, when no decompression is on: how many
    /// bytes it took and where its payload lies in `buf`. `None` if it has not all arrived.
    pub(crate) fn open_in_place(
        &mut self,
        buf: &mut [u8],
        max_payload: usize,
    ) -> Result<Option<(usize, core::ops::Range<usize>)>, Error> {
        if self.decompressor.is_some() {
            return Err(Error::ApiMisuse(
                "a compressed packet cannot be opened in place",
            ));
        }
        self.open_raw(buf, max_payload)
    }

    /// Opens the packet at the front of `buf` and counts it: the bytes it took and where its
    /// (still compressed, if compression is on) payload lies.
    fn open_raw(
        &mut self,
        buf: &mut [u8],
        max_payload: usize,
    ) -> Result<Option<(usize, core::ops::Range<usize>)>, Error> {
        let Some(opened) = self.opener.open(self.seq, buf, max_payload + MAX_FRAMING)? else {
            return Ok(None);
        };
        self.seq = self.seq.wrapping_add(1);
        self.bytes = self.bytes.saturating_add(opened.consumed as u64);
        self.packets = self.packets.saturating_add(1);
        Ok(Some((opened.consumed, opened.payload)))
    }

    /// The size of the packet whose start has arrived and whose rest has not, when the
    /// payloads it may carry are opened in place (no decompression).
    pub(crate) fn pending_in_place(&self) -> Option<usize> {
        if self.decompressor.is_some() {
            return None;
        }
        self.opener.pending_packet_size()
    }

    /// Switches to new keys after receiving `SSH_MSG_NEWKEYS`.
    pub(crate) fn install(
        &mut self,
        opener: PacketOpener,
        compression: Compression,
        authenticated: bool,
    ) {
        self.opener = opener;
        self.compression = compression;
        self.decompressor = compressor_for(compression, authenticated).then(Decompressor::new);
        self.bytes = 0;
        self.packets = 0;
    }

    /// Starts `zlib@openssh.com` decompression, which waits for authentication.
    pub(crate) fn start_delayed_compression(&mut self) {
        if self.compression == Compression::ZlibOpenSsh && self.decompressor.is_none() {
            self.decompressor = Some(Decompressor::new());
        }
    }
}

/// Whether a stream must be active right after NEWKEYS.
///
/// OpenSSH PROTOCOL §2.2: with `zlib@openssh.com`, "compression is delayed until after the
/// user has been authenticated"; a rekey after authentication starts it at once.
fn compressor_for(c: Compression, authenticated: bool) -> bool {
    match c {
        Compression::None => false,
        Compression::Zlib => true,
        Compression::ZlibOpenSsh => authenticated,
    }
}
