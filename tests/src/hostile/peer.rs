//! [`Hostile`]: a peer that frames packets as it pleases, and reads how the other side ends.

use std::time::Duration;

use ring::aead::chacha20_poly1305_openssh::{KEY_LEN, OpeningKey, SealingKey, TAG_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Ending, msg};

/// Bytes of the `packet_length` field.
const LEN_FIELD: usize = 4;

/// Most bytes of one packet the attacker accepts from the server (ours are much smaller).
const MAX_INCOMING_PACKET: usize = 1 << 20;

/// A scriptable SSH client that does whatever its test says, byte by byte if need be.
///
/// Packets go out in the clear until [`Hostile::send_newkeys`], then under
/// `chacha20-poly1305@openssh.com` with keys the attacker derived itself (see `kex.rs`), sealed
/// by ring's OpenSSH construction rather than by the engine under test, so that any field
/// (length, padding length, padding, tag) can be wrong on purpose. Replies are read the same
/// way, each packet checked, so that a test can tell a DISCONNECT and its reason from a
/// connection simply closed.
pub struct Hostile<S> {
    pub(super) stream: S,
    /// Bytes received and not yet consumed.
    rx: Vec<u8>,
    /// Sequence number of our next packet (RFC 4253 §6.4).
    pub(super) seq_out: u32,
    /// Sequence number of the server's next packet.
    pub(super) seq_in: u32,
    pub(super) seal: Option<SealingKey>,
    pub(super) open: Option<OpeningKey>,
    /// The server's next keys, installed when its NEWKEYS arrives (and whether strict kex
    /// resets its sequence number then).
    pub(super) next_open: Option<([u8; KEY_LEN], bool)>,
    /// `zlib` on our outgoing payloads, once started.
    deflate: Option<flate2::Compress>,
    /// How long a read may wait before the test fails (long for a paused clock).
    pub patience: Duration,
    /// What the current read waits for, for the message of a test that times out.
    waiting_for: String,
    /// Our identification line, without CR LF (V_C, or V_S when playing a server).
    pub(super) ours: Vec<u8>,
    /// The peer's identification line, without CR LF.
    pub(super) theirs: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Hostile<S> {
    /// A peer on a connected stream; nothing is sent yet.
    pub fn new(stream: S) -> Self {
        Hostile {
            stream,
            rx: Vec::new(),
            seq_out: 0,
            seq_in: 0,
            seal: None,
            open: None,
            next_open: None,
            deflate: None,
            patience: Duration::from_secs(20),
            waiting_for: String::new(),
            ours: b"SSH-2.0-hostile_0.1".to_vec(),
            theirs: Vec::new(),
        }
    }

    /// The sequence number our next packet will carry (RFC 4253 §6.4).
    pub fn next_seq(&self) -> u32 {
        self.seq_out
    }

    /// Writes `bytes` as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Sends our identification line, then CR LF.
    pub async fn send_ident(&mut self) -> std::io::Result<()> {
        let mut line = self.ours.clone();
        line.extend_from_slice(b"\r\n");
        self.send_raw(&line).await
    }

    /// Uses `line` (without CR LF) as our identification instead of the default.
    pub fn set_ident(&mut self, line: &[u8]) {
        self.ours = line.to_vec();
    }

    /// Reads the peer's identification line (skipping any lines before it); `None` if the
    /// connection ended first.
    pub async fn read_ident(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(lf) = self.rx.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.rx.drain(..=lf).collect();
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
                if line.starts_with(b"SSH-") {
                    self.theirs = line.clone();
                    return Some(line);
                }
                continue;
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Compresses every later payload with `zlib` (RFC 4253 §6.2), as negotiated.
    pub fn start_compression(&mut self) {
        self.deflate = Some(flate2::Compress::new(flate2::Compression::default(), true));
    }

    /// Sends `payload` in a well-formed packet under the current keys and compression.
    pub async fn send(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let payload = self.compress(payload);
        // RFC 4253 §6: at least 4 bytes of padding, the total a multiple of 8; with
        // chacha20-poly1305 the length field is left out of the multiple (PROTOCOL.chacha20poly1305).
        let covered = 1 + payload.len() + if self.seal.is_some() { 0 } else { LEN_FIELD };
        let mut pad = 8 - covered % 8;
        if pad < 4 {
            pad += 8;
        }
        let mut rest = payload;
        rest.resize(rest.len() + pad, 0);
        let len = u32::try_from(1 + rest.len()).unwrap_or(u32::MAX);
        self.send_frame(len, pad as u8, &rest).await
    }

    /// Sends `payload` as it is even while compression is on: corrupt compressed data.
    pub async fn send_uncompressed(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let deflate = self.deflate.take();
        let r = self.send(payload).await;
        self.deflate = deflate;
        r
    }

    /// Sends a message number followed by `body`.
    pub async fn send_msg(&mut self, number: u8, body: &[u8]) -> std::io::Result<()> {
        let mut p = vec![number];
        p.extend_from_slice(body);
        self.send(&p).await
    }

    /// Sends `packet_length || padding_length || rest` exactly as given, sealed under the
    /// current keys (the length encrypted with K_1, the rest with K_2, a valid tag over both).
    ///
    /// Nothing is checked: this is how bad lengths and paddings reach the server.
    pub async fn send_frame(
        &mut self,
        packet_length: u32,
        padding_length: u8,
        rest: &[u8],
    ) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(LEN_FIELD + 1 + rest.len() + TAG_LEN);
        buf.extend_from_slice(&packet_length.to_be_bytes());
        buf.push(padding_length);
        buf.extend_from_slice(rest);
        if let Some(key) = &self.seal {
            let mut tag = [0u8; TAG_LEN];
            key.seal_in_place(self.seq_out, &mut buf, &mut tag);
            buf.extend_from_slice(&tag);
        }
        self.seq_out = self.seq_out.wrapping_add(1);
        self.send_raw(&buf).await
    }

    /// Sends a well-formed encrypted packet whose tag has one bit flipped.
    pub async fn send_with_bad_tag(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let Some(key) = &self.seal else {
            return Err(std::io::Error::other("no keys yet"));
        };
        let mut pad = 8 - (1 + payload.len()) % 8;
        if pad < 4 {
            pad += 8;
        }
        let mut buf = Vec::new();
        buf.extend_from_slice(&((1 + payload.len() + pad) as u32).to_be_bytes());
        buf.push(pad as u8);
        buf.extend_from_slice(payload);
        buf.resize(buf.len() + pad, 0);
        let mut tag = [0u8; TAG_LEN];
        key.seal_in_place(self.seq_out, &mut buf, &mut tag);
        tag[0] ^= 1;
        buf.extend_from_slice(&tag);
        self.seq_out = self.seq_out.wrapping_add(1);
        self.send_raw(&buf).await
    }

    fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let Some(z) = &mut self.deflate else {
            return payload.to_vec();
        };
        let mut out = Vec::new();
        let start = z.total_in();
        let taken = |z: &flate2::Compress| usize::try_from(z.total_in() - start).unwrap_or(0);
        loop {
            let input = payload.get(taken(z)..).unwrap_or_default();
            out.reserve(1024 + input.len() / 2);
            // A sync flush per packet, so that every packet inflates on its own (RFC 4253
            // §6.2; OpenSSH uses Z_PARTIAL_FLUSH). `compress_vec` writes only into spare
            // capacity: room left over means the flush is complete.
            let _ = z.compress_vec(input, &mut out, flate2::FlushCompress::Sync);
            if taken(z) == payload.len() && out.len() < out.capacity() {
                return out;
            }
        }
    }

    /// Installs the keys of a finished key exchange for our direction.
    pub(super) fn install_sealing(&mut self, key: &[u8; KEY_LEN]) {
        self.seal = Some(SealingKey::new(key));
    }

    /// Reads more bytes; false when the connection ended (EOF or error).
    async fn fill(&mut self) -> bool {
        let mut buf = [0u8; 16 * 1024];
        match tokio::time::timeout(self.patience, self.stream.read(&mut buf)).await {
            Err(_) => panic!(
                "{}: the peer neither answered nor closed within {:?}",
                self.waiting_for, self.patience
            ),
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(n)) => {
                self.rx.extend_from_slice(buf.get(..n).unwrap_or_default());
                true
            }
        }
    }

    /// The server's next packet's payload, or how the connection ended.
    ///
    /// A DISCONNECT ends it ([`Ending::Disconnect`]); so does EOF ([`Ending::Closed`]).
    pub async fn recv(&mut self) -> Result<Vec<u8>, Ending> {
        let payload = self.recv_packet().await?;
        if payload == [msg::NEWKEYS]
            && let Some((key, strict)) = self.next_open.take()
        {
            // RFC 4253 §7.3: the server's packets after its NEWKEYS use the new keys.
            self.open = Some(OpeningKey::new(&key));
            if strict {
                // OpenSSH PROTOCOL §1.10: sequence numbers reset to zero after NEWKEYS.
                self.seq_in = 0;
            }
        }
        if payload.first() == Some(&msg::DISCONNECT) {
            return Err(Ending::from_disconnect(&payload));
        }
        Ok(payload)
    }

    async fn recv_packet(&mut self) -> Result<Vec<u8>, Ending> {
        let tag_len = if self.open.is_some() { TAG_LEN } else { 0 };
        loop {
            if let Some(first) = self.rx.first_chunk::<LEN_FIELD>() {
                let len = match &self.open {
                    Some(key) => key.decrypt_packet_length(self.seq_in, *first),
                    None => *first,
                };
                let len = u32::from_be_bytes(len) as usize;
                if !(5..=MAX_INCOMING_PACKET).contains(&len) {
                    return Err(Ending::Garbled(format!("server packet length {len}")));
                }
                let total = LEN_FIELD + len + tag_len;
                if self.rx.len() >= total {
                    let mut packet: Vec<u8> = self.rx.drain(..total).collect();
                    let seq = self.seq_in;
                    self.seq_in = self.seq_in.wrapping_add(1);
                    let body = match &self.open {
                        Some(key) => {
                            let (data, tag) = packet.split_at_mut(LEN_FIELD + len);
                            let tag: [u8; TAG_LEN] = tag.try_into().unwrap_or([0; TAG_LEN]);
                            key.open_in_place(seq, data, &tag)
                                .map_err(|_| Ending::Garbled("server packet tag".into()))?
                                .to_vec()
                        }
                        None => packet
                            .get(LEN_FIELD..LEN_FIELD + len)
                            .unwrap_or_default()
                            .to_vec(),
                    };
                    let pad = usize::from(body.first().copied().unwrap_or(0));
                    let end = body.len().checked_sub(pad).filter(|&e| e >= 1);
                    let Some(end) = end else {
                        return Err(Ending::Garbled(format!("server padding {pad}")));
                    };
                    return Ok(body.get(1..end).unwrap_or_default().to_vec());
                }
            }
            if !self.fill().await {
                return Err(Ending::Closed);
            }
        }
    }

    /// Reads until a message numbered `number` arrives, skipping the server's IGNORE, DEBUG
    /// and EXT_INFO; panics with `case` and what came instead otherwise.
    pub async fn expect(&mut self, number: u8, case: &str) -> Vec<u8> {
        self.waiting_for = format!("{case} (waiting for message {number})");
        loop {
            match self.recv().await {
                Ok(p) if p.first() == Some(&number) => return p,
                Ok(p) if matches!(p.first(), Some(&(msg::IGNORE | msg::DEBUG | msg::EXT_INFO))) => {
                }
                Ok(p) => panic!(
                    "{case}: expected message {number}, got message {:?}",
                    p.first()
                ),
                Err(end) => {
                    panic!("{case}: expected message {number}, the connection ended: {end:?}")
                }
            }
        }
    }

    /// Names what the next reads wait for, for the message of a test that times out.
    pub fn waiting_for(&mut self, what: &str) {
        self.waiting_for = what.to_owned();
    }

    /// Reads until the connection ends, ignoring every packet before; returns how it ended.
    pub async fn ending(&mut self) -> Ending {
        self.ending_with_messages().await.0
    }

    /// Reads until the connection ends; returns how, and the numbers of the messages before.
    pub async fn ending_with_messages(&mut self) -> (Ending, Vec<u8>) {
        let mut seen = Vec::new();
        loop {
            match self.recv().await {
                Ok(p) => seen.push(p.first().copied().unwrap_or(0)),
                Err(end) => return (end, seen),
            }
        }
    }

    /// Reads until the connection ends and checks that it ended with a DISCONNECT of
    /// `reason`; returns its description. Panics naming `case` otherwise.
    pub async fn expect_disconnect(&mut self, reason: u32, case: &str) -> String {
        self.waiting_for = format!("{case} (waiting for DISCONNECT {reason})");
        match self.ending_with_messages().await {
            (
                Ending::Disconnect {
                    reason: r,
                    description,
                },
                _,
            ) if r == reason => description,
            (end, seen) => panic!(
                "{case}: expected DISCONNECT reason {reason}, got messages {seen:?} then {end:?}"
            ),
        }
    }
}
