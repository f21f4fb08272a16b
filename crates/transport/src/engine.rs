//! The transport engine: a sans-I/O SSH transport for either role.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use rand_core::CryptoRng;
use sshwire_keys::{PrivateKey, PublicKey, SignatureAlgorithm};
use sshwire_wire::Writer;

use crate::Error;
use crate::config::{Config, MAX_FRAMING};
use crate::event::{Event, Negotiated};
use crate::framing::{Incoming, Outgoing};
use crate::ident::{IdentReader, Line, ident_line};
use crate::kex::KexClient;
use crate::kex::{DhGroup, GexRequest, KexAlg, server_reply, server_reply_gex};
use crate::kex_flow::{
    EXT_INFO_C, HashInput, HashPrefix, KEX_STRICT_C, KEX_STRICT_S, KexRun, NewKeys, Phase,
    client_init, derive_new_keys, negotiate, our_kexinit, read_gex_group, verify_host_key,
};
use crate::kexinit::{KexInit, guess_was_wrong};
use crate::messages::{
    Debug, Disconnect, ExtInfo, GexGroup, GexRequestMessage, KexInitValue, KexReply, Ping, Service,
    Unimplemented,
};
use crate::msg::{DisconnectReason, MessageNumber};
use crate::trace::{Direction, Traced, Tracer};

/// Packets at least this large are read into buffers of their own and handed over in them,
/// after [`Transport::set_messages_in_place`].
pub const IN_PLACE_MIN: usize = 64 * 1024;

/// Bytes of room in front of the payload that [`Transport::send_owned`] takes: the packet's
/// length and padding length go there.
pub const SEND_HEADROOM: usize = crate::cipher::HEADROOM;

/// Spare capacity after the payload that [`Transport::send_owned`] fills with padding and
/// the MAC without moving the packet; a sender that leaves less has its packet reallocated
/// (and copied) as it is sealed.
pub const SEND_TAILROOM: usize = crate::cipher::TAILROOM;

/// Bytes [`Transport::input_buffer`] offers at a time, at most: a whole packet of the size
/// sshwire peers use (256 KiB of payload), so that one read usually completes one.
const MAX_READ: usize = 256 * 1024 + 64;

/// Bytes [`Transport::input_buffer`] offers into the receive buffer right after a large
/// packet: enough for a few small packets, little to copy when a large one follows.
pub(crate) const AFTER_BIG_READ: usize = 4096;

/// Which end of the connection an engine is.
enum Role {
    Client {
        /// The server's host key, fixed by the first exchange.
        host_key: Option<PublicKey>,
        /// The service we asked for and have not yet seen accepted.
        requested_service: Option<String>,
    },
    Server {
        host_keys: Vec<Arc<PrivateKey>>,
        /// Whether the client asked for RFC 8308 extensions.
        client_wants_ext_info: bool,
    },
}

/// Where the connection is, coarsely; the key exchange has its own finer states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reading the peer's identification line.
    Ident,
    /// Exchanging binary packets.
    Packets,
}

/// A sans-I/O SSH transport (RFC 4253) for a client or a server.
///
/// Bytes from the peer go in through [`Transport::handle_input`]; bytes for the peer come out of
/// [`Transport::poll_transmit`]; what happened comes out of [`Transport::poll_event`]; the next
/// deadline is [`Transport::poll_timeout`]. Time is always an argument and randomness comes
/// from the generator given at construction, so a test can drive two engines against each
/// other deterministically.
///
/// The engine handles identification, key exchange and rekeying, `IGNORE`, `DEBUG`,
/// `UNIMPLEMENTED`, `DISCONNECT`, `EXT_INFO` and `PING`. Service requests and every message
/// numbered 50 or above go up to the caller: the transport knows nothing of authentication.
pub struct Transport {
    config: Arc<Config>,
    role: Role,
    rng: Box<dyn CryptoRng + Send>,
    stage: Stage,
    error: Option<Error>,
    ident_reader: IdentReader,
    local_ident: Vec<u8>,
    peer_ident: Option<Vec<u8>>,
    rx: Vec<u8>,
    rx_start: usize,
    tx: Vec<u8>,
    /// Packets sealed in the buffers they came in ([`Transport::send_owned`]), to go out
    /// before `tx`.
    tx_queue: VecDeque<Vec<u8>>,
    /// Bytes in `tx_queue`.
    tx_queued: usize,
    pub(crate) outgoing: Outgoing,
    pub(crate) incoming: Incoming,
    payload: Vec<u8>,
    events: VecDeque<Event>,
    /// The sequence numbers of the [`Event::Message`]s in `events`, in order.
    message_seqs: VecDeque<u32>,
    /// Set by `dispatch` for a message for the layers above; its caller delivers it.
    upper: Option<u32>,
    /// Large packets are read into buffers of their own and handed over in them
    /// ([`Transport::set_messages_in_place`]).
    in_place: bool,
    /// The large packet arriving into a buffer of its own, and its whole size.
    big: Option<(Vec<u8>, usize)>,
    /// A large packet was just opened in a buffer of its own: the next read into the
    /// receive buffer is kept short (see [`Transport::input_buffer`]).
    after_big: bool,
    /// The sequence number of the last [`Event::Message`] handed out, for
    /// [`Transport::reject_message`].
    handed_out_seq: Option<u32>,
    /// Buffers of taken messages handed back by [`Transport::recycle`].
    spare: Vec<Vec<u8>>,
    pub(crate) kex: Option<Box<KexRun>>,
    session_id: Option<Vec<u8>>,
    strict_kex: bool,
    authenticated: bool,
    queued: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    last_kex: Option<Instant>,
    negotiated: Option<Negotiated>,
    /// Sees every payload sealed or opened, when set (see [`Transport::set_tracer`]).
    tracer: Option<Box<dyn Tracer>>,
}

impl Transport {
    /// A client engine. Its identification and first KEXINIT are ready to send at once.
    pub fn client(config: Arc<Config>, rng: Box<dyn CryptoRng + Send>) -> Self {
        Self::new(
            config,
            Role::Client {
                host_key: None,
                requested_service: None,
            },
            rng,
        )
    }

    /// A server engine offering `host_keys`, each for every signature algorithm it can make.
    pub fn server(
        config: Arc<Config>,
        host_keys: Vec<Arc<PrivateKey>>,
        rng: Box<dyn CryptoRng + Send>,
    ) -> Self {
        Self::new(
            config,
            Role::Server {
                host_keys,
                client_wants_ext_info: false,
            },
            rng,
        )
    }

    fn new(config: Arc<Config>, role: Role, rng: Box<dyn CryptoRng + Send>) -> Self {
        let is_client = matches!(role, Role::Client { .. });
        let line = ident_line(&config.software_version);
        let local_ident = line.strip_suffix(b"\r\n").unwrap_or(&line).to_vec();
        let mut t = Transport {
            ident_reader: IdentReader::new(config.ident_limits, is_client),
            config,
            role,
            rng,
            stage: Stage::Ident,
            error: None,
            local_ident,
            peer_ident: None,
            rx: Vec::new(),
            rx_start: 0,
            tx: line,
            tx_queue: VecDeque::new(),
            tx_queued: 0,
            outgoing: Outgoing::plaintext(),
            incoming: Incoming::plaintext(),
            payload: Vec::new(),
            events: VecDeque::new(),
            message_seqs: VecDeque::new(),
            upper: None,
            in_place: false,
            big: None,
            after_big: false,
            handed_out_seq: None,
            spare: Vec::new(),
            kex: None,
            session_id: None,
            strict_kex: false,
            authenticated: false,
            queued: VecDeque::new(),
            queued_bytes: 0,
            last_kex: None,
            negotiated: None,
            tracer: None,
        };
        // RFC 4253 §7.1: "Key exchange begins by each side sending the following packet";
        // nothing requires waiting for the peer's identification first.
        let r = t.begin_kex();
        let _ = t.fail_on(r);
        t
    }

    fn is_client(&self) -> bool {
        matches!(self.role, Role::Client { .. })
    }

    // ----- the caller's interface --------------------------------------------------------

    /// Shows every payload from now on to `tracer`: each one sealed for the peer and each one
    /// opened from it, key exchange and upper layers alike, in order.
    ///
    /// Set it before the first [`Transport::poll_transmit`] to see the first KEXINIT too
    /// (the engine prepares it at construction; it is traced when it is set, if still unsent).
    /// Without a tracer the engine formats and allocates nothing for tracing.
    pub fn set_tracer(&mut self, mut tracer: Box<dyn Tracer>) {
        if self.outgoing.seq == 1
            && let Some(kex) = &self.kex
            && !self.tx.is_empty()
        {
            // Our first KEXINIT, sealed at construction and not yet taken.
            tracer.packet(&Traced {
                direction: Direction::Sent,
                seq: 0,
                payload: &kex.ours,
                kex: None,
            });
        }
        self.tracer = Some(tracer);
    }

    /// The key exchange method under way, for a tracer.
    fn traced_kex(&self) -> Option<crate::kex::KexAlg> {
        self.kex
            .as_ref()
            .and_then(|k| k.negotiated.as_ref())
            .or(self.negotiated.as_ref())
            .map(|n| n.kex)
    }

    fn trace(&mut self, direction: Direction, seq: u32, payload: &[u8]) {
        let kex = self.traced_kex();
        if let Some(t) = &mut self.tracer {
            t.packet(&Traced {
                direction,
                seq,
                payload,
                kex,
            });
        }
    }

    /// Feeds bytes received from the peer; returns how many were taken.
    ///
    /// The engine buffers at most one packet: while it waits for the caller (the host key
    /// verdict), it takes only what fits, and the caller keeps the rest for later.
    pub fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        self.check()?;
        let r = self.take_input(now, input);
        self.fail_on(r)
    }

    /// Lends the receive buffer to a caller that reads from its socket straight into it,
    /// saving the copy [`Transport::handle_input`] makes.
    ///
    /// Append at most the returned number of bytes (never touch what is already there), then
    /// call [`Transport::process_input`]. The buffer has at least that much spare capacity.
    /// Zero means the engine holds all the input it may buffer (while it waits for a host key
    /// verdict): read nothing until then.
    pub fn input_buffer(&mut self) -> (&mut Vec<u8>, usize) {
        if self.in_place && self.big.is_none() {
            self.start_big();
        }
        match self.big {
            Some((ref mut big, size)) => {
                let missing = size.saturating_sub(big.len());
                big.reserve(missing);
                (big, missing)
            }
            None => {
                self.compact_rx();
                let mut room = self.rx_limit().saturating_sub(self.rx.len()).min(MAX_READ);
                // After a large packet, another is likely (a bulk transfer): read only its
                // start into the receive buffer, so that little of it is copied into its own
                // buffer and the rest is read there directly. One more read per large packet
                // instead of a copy of most of it.
                if core::mem::take(&mut self.after_big) {
                    room = room.min(AFTER_BIG_READ);
                }
                self.rx.reserve(room);
                (&mut self.rx, room)
            }
        }
    }

    /// Hands large messages for the layers above over in the buffers their packets arrived
    /// in, as [`Event::MessageAt`], instead of copying them into [`Event::Message`]s.
    ///
    /// A packet of [`IN_PLACE_MIN`] bytes or more whose start has arrived is then read
    /// through [`Transport::input_buffer`] into a buffer of its own (one of those given back
    /// with [`Transport::recycle`], when one is large enough), opened there, and handed over
    /// with it. Not while decompressing, which needs the copy.
    pub fn set_messages_in_place(&mut self, on: bool) {
        self.in_place = on;
    }

    /// Moves a large packet whose start is at the front of the receive buffer, and whose
    /// size the opener knows, into a buffer of its own for the rest to be read into.
    fn start_big(&mut self) {
        if self.stage != Stage::Packets || self.paused() {
            return;
        }
        let Some(size) = self.incoming.pending_in_place() else {
            return;
        };
        let present = self.rx.get(self.rx_start..).unwrap_or_default();
        if size < IN_PLACE_MIN || present.is_empty() || present.len() >= size {
            return;
        }
        // The opener has checked the size against the payload limit: bounded by our limit.
        let mut big = match self.spare.iter().rposition(|b| b.capacity() >= size) {
            Some(i) => self.spare.swap_remove(i),
            None => Vec::with_capacity(size),
        };
        big.clear();
        big.extend_from_slice(present);
        self.rx_start = self.rx.len();
        self.big = Some((big, size));
    }

    /// Opens the large packet arrived into its own buffer, once it is all there, and acts on
    /// it: a message for the layers above goes out in that buffer. Returns whether it did.
    fn finish_big(&mut self, now: Instant) -> Result<bool, Error> {
        let Some((mut big, size)) = self.big.take() else {
            return Ok(false);
        };
        if big.len() < size {
            self.big = Some((big, size));
            return Ok(false);
        }
        let max = self.config.max_payload_len;
        let Some((n, range)) = self.incoming.open_in_place(&mut big, max)? else {
            return Err(Error::ApiMisuse("a whole packet did not open"));
        };
        // Bytes beyond the packet (never more than `input_buffer` allowed, unless appended
        // by hand) belong to the next packets.
        if let Some(extra) = big.get(n..).filter(|e| !e.is_empty()) {
            self.rx
                .splice(self.rx_start..self.rx_start, extra.iter().copied());
        }
        let seq = self.incoming.seq.wrapping_sub(1);
        let payload = big.get(range.clone()).unwrap_or_default();
        if self.tracer.is_some() {
            self.trace(Direction::Received, seq, payload);
        }
        self.dispatch(now, payload, seq)?;
        match self.upper.take() {
            Some(seq) => {
                big.truncate(range.end);
                self.events.push_back(Event::MessageAt {
                    buf: big,
                    start: range.start,
                });
                self.message_seqs.push_back(seq);
            }
            None => self.recycle(big),
        }
        self.after_big = true;
        Ok(true)
    }

    /// Processes the bytes appended to [`Transport::input_buffer`], as
    /// [`Transport::handle_input`] processes its input.
    pub fn process_input(&mut self, now: Instant) -> Result<(), Error> {
        self.check()?;
        let r = self.process(now);
        self.fail_on(r)
    }

    /// Appends bytes to send to the peer to `out`.
    ///
    /// Packets sealed in their own buffers ([`Transport::send_owned`]) are copied into `out`;
    /// [`Transport::poll_transmit_buffers`] hands them over as they are.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        for packet in self.tx_queue.drain(..) {
            out.extend_from_slice(&packet);
        }
        self.tx_queued = 0;
        if out.is_empty() {
            core::mem::swap(out, &mut self.tx);
        } else {
            out.append(&mut self.tx);
        }
    }

    /// Moves the bytes to send to the peer to the back of `out`, in order, as buffers: those
    /// of [`Transport::send_owned`] as they were sealed, without a copy, and the rest in one.
    pub fn poll_transmit_buffers(&mut self, out: &mut VecDeque<Vec<u8>>) {
        out.append(&mut self.tx_queue);
        self.tx_queued = 0;
        if !self.tx.is_empty() {
            out.push_back(core::mem::take(&mut self.tx));
        }
    }

    /// Buffers kept for later messages (see [`Transport::recycle`]).
    pub fn spare_buffers(&self) -> usize {
        self.spare.len()
    }

    /// Takes back the buffer of an [`Event::Message`] the caller is done with, so that later
    /// messages reuse its memory instead of allocating a fresh buffer each.
    pub fn recycle(&mut self, mut message: Vec<u8>) {
        if self.spare.len() < 16 && message.capacity() <= 512 * 1024 {
            message.clear();
            self.spare.push(message);
        }
    }

    /// Whether bytes are waiting in [`Transport::poll_transmit`].
    pub fn wants_transmit(&self) -> bool {
        !self.tx.is_empty() || self.tx_queued > 0
    }

    /// How many bytes are waiting in [`Transport::poll_transmit`].
    pub fn transmit_len(&self) -> usize {
        self.tx.len() + self.tx_queued
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if let Some(Event::Message(_) | Event::MessageAt { .. }) = &event {
            self.handed_out_seq = self.message_seqs.pop_front();
        }
        event
    }

    /// Answers the last [`Event::Message`] handed out with `SSH_MSG_UNIMPLEMENTED`: the layers
    /// above do not know its message number.
    ///
    /// RFC 4253 §11.4: "An implementation MUST respond to all unrecognized messages with an
    /// SSH_MSG_UNIMPLEMENTED message in the order in which the messages were received."
    /// Messages are handed out in the order they arrived, so answering each as it is handled
    /// keeps that order.
    pub fn reject_message(&mut self) -> Result<(), Error> {
        self.check()?;
        let Some(seq) = self.handed_out_seq else {
            return Err(Error::ApiMisuse("no message has been handed out"));
        };
        let mut w = Writer::new();
        Unimplemented { seq }.encode(&mut w);
        let r = self.send_transport(w.as_slice());
        self.fail_on(r).map(|_| ())
    }

    /// When [`Transport::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() || self.kex.is_some() {
            return None;
        }
        self.last_kex.map(|t| t + self.config.rekey_after)
    }

    /// Acts on the passage of time: starts a rekey when one is due.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.check()?;
        let r = match self.poll_timeout() {
            Some(due) if now >= due => self.begin_kex(),
            _ => Ok(()),
        };
        self.fail_on(r).map(|_| ())
    }

    /// The sticky error, if the engine has failed.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Whether the connection has ended, by error or by either side's DISCONNECT.
    pub fn is_closed(&self) -> bool {
        self.error.is_some()
    }

    /// The session identifier: the exchange hash of the first key exchange (RFC 4253 §7.2).
    pub fn session_id(&self) -> Option<&[u8]> {
        self.session_id.as_deref()
    }

    /// The peer's identification line, without CR LF.
    pub fn peer_identification(&self) -> Option<&[u8]> {
        self.peer_ident.as_deref()
    }

    /// The algorithms of the latest completed key exchange.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Whether the first key exchange has completed.
    pub fn is_established(&self) -> bool {
        self.negotiated.is_some() && self.error.is_none()
    }

    /// Whether a key exchange is in progress.
    pub fn is_rekeying(&self) -> bool {
        self.kex.is_some()
    }

    /// How many bytes of payload [`Transport::send`] accepts now.
    ///
    /// Outside a key exchange payloads are sealed at once and the capacity is unbounded; during
    /// one they queue, up to [`Config::max_queued_bytes`].
    pub fn send_capacity(&self) -> usize {
        if self.error.is_some() {
            return 0;
        }
        if self.must_queue() {
            self.config
                .max_queued_bytes
                .saturating_sub(self.queued_bytes)
        } else {
            usize::MAX
        }
    }

    /// Sends a payload of the layers above (message number 50 or above).
    ///
    /// During a key exchange the payload waits in a queue; sending more than
    /// [`Transport::send_capacity`] is [`Error::ApiMisuse`].
    pub fn send(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.check()?;
        let r = match payload.first() {
            Some(&n) if MessageNumber(n).is_upper_layer() => self.send_or_queue(payload),
            _ => Err(Error::ApiMisuse(
                "send() carries messages numbered 50 or above only",
            )),
        };
        self.fail_on(r).map(|_| ())
    }

    /// As [`Transport::send`], for a payload that follows [`SEND_HEADROOM`] bytes of room in
    /// `packet`: the packet is sealed where it lies and goes out in that buffer (see
    /// [`Transport::poll_transmit_buffers`]), so the payload is never copied.
    ///
    /// During a key exchange, or with compression on, the payload is copied as by `send`.
    pub fn send_owned(&mut self, mut packet: Vec<u8>) -> Result<(), Error> {
        self.check()?;
        let payload = packet.get(SEND_HEADROOM..).unwrap_or_default();
        let r = match payload.first() {
            Some(&n) if !MessageNumber(n).is_upper_layer() => Err(Error::ApiMisuse(
                "send() carries messages numbered 50 or above only",
            )),
            None => Err(Error::ApiMisuse("an empty payload")),
            Some(_) if self.must_queue() || self.outgoing.compressing() => {
                self.send_or_queue(payload)
            }
            Some(_) => {
                if self.tracer.is_some() {
                    self.trace(Direction::Sent, self.outgoing.seq, payload);
                }
                self.outgoing
                    .seal_in_place(&mut packet, &mut *self.rng)
                    .and_then(|()| {
                        if !self.tx.is_empty() {
                            // What was sealed before goes first.
                            self.tx_queued += self.tx.len();
                            self.tx_queue.push_back(core::mem::take(&mut self.tx));
                        }
                        self.tx_queued += packet.len();
                        self.tx_queue.push_back(packet);
                        self.maybe_rekey()
                    })
            }
        };
        self.fail_on(r).map(|_| ())
    }

    /// Asks the server for a service, such as `ssh-userauth` (client only; RFC 4253 §10).
    pub fn request_service(&mut self, name: &str) -> Result<(), Error> {
        self.check()?;
        let r = match &mut self.role {
            Role::Client {
                requested_service, ..
            } if requested_service.is_none() => {
                *requested_service = Some(name.to_owned());
                let mut w = Writer::new();
                Service {
                    number: MessageNumber::SERVICE_REQUEST,
                    name,
                }
                .encode(&mut w);
                self.send_or_queue(w.as_slice())
            }
            Role::Client { .. } => Err(Error::ApiMisuse("a service request is already pending")),
            Role::Server { .. } => Err(Error::ApiMisuse("only a client requests services")),
        };
        self.fail_on(r).map(|_| ())
    }

    /// Accepts the service the client asked for (server only; RFC 4253 §10).
    pub fn accept_service(&mut self, name: &str) -> Result<(), Error> {
        self.check()?;
        let r = if self.is_client() {
            Err(Error::ApiMisuse("only a server accepts services"))
        } else {
            let mut w = Writer::new();
            Service {
                number: MessageNumber::SERVICE_ACCEPT,
                name,
            }
            .encode(&mut w);
            self.send_or_queue(w.as_slice())
        };
        self.fail_on(r).map(|_| ())
    }

    /// Tells the engine whether the server's host key (from [`Event::HostKey`]) is trusted.
    ///
    /// On `true` the key exchange completes; on `false` the engine disconnects with
    /// `HOST_KEY_NOT_VERIFIABLE`.
    pub fn host_key_verdict(&mut self, now: Instant, trusted: bool) -> Result<(), Error> {
        self.check()?;
        let r = self.on_verdict(now, trusted);
        self.fail_on(r).map(|_| ())
    }

    /// Tells the engine that user authentication succeeded.
    ///
    /// `zlib@openssh.com` compression starts now in both directions. A server calls this right
    /// after sending `SSH_MSG_USERAUTH_SUCCESS`, a client right after receiving it.
    pub fn auth_succeeded(&mut self) {
        self.authenticated = true;
        self.outgoing.start_delayed_compression();
        self.incoming.start_delayed_compression();
    }

    /// Starts a key exchange now, unless one is already in progress.
    pub fn rekey(&mut self) -> Result<(), Error> {
        self.check()?;
        let r = if self.kex.is_none() && self.session_id.is_some() {
            self.begin_kex()
        } else {
            Ok(())
        };
        self.fail_on(r).map(|_| ())
    }

    /// Sends `SSH_MSG_DISCONNECT` and closes the engine (RFC 4253 §11.1).
    pub fn disconnect(&mut self, reason: DisconnectReason, description: &str) {
        if self.error.is_none() {
            self.send_disconnect(reason, description);
            self.error = Some(Error::LocallyClosed {
                reason,
                description: description.to_owned(),
            });
        }
    }

    // ----- input ------------------------------------------------------------------------

    fn check(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records a failure: the error becomes sticky and its DISCONNECT is queued.
    fn fail_on<T>(&mut self, r: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &r
            && self.error.is_none()
        {
            if let Some((reason, description)) = e.disconnect() {
                self.send_disconnect(reason, &description);
            }
            self.error = Some(e.clone());
        }
        r
    }

    fn send_disconnect(&mut self, reason: DisconnectReason, description: &str) {
        let mut w = Writer::new();
        Disconnect {
            reason,
            description: description.as_bytes(),
            language: b"",
        }
        .encode(&mut w);
        if self.tracer.is_some() {
            self.trace(Direction::Sent, self.outgoing.seq, w.as_slice());
        }
        // The last word goes out under whatever keys are current; failing to seal it is moot.
        let _ = self
            .outgoing
            .seal(w.as_slice(), &mut *self.rng, &mut self.tx);
    }

    /// The most bytes buffered before the engine stops taking input.
    fn rx_limit(&self) -> usize {
        2 * (self.config.max_payload_len + MAX_FRAMING).max(self.config.ident_limits.max_line_len)
    }

    /// Drops the bytes already taken from the front of the receive buffer, when that is
    /// cheap: when nothing is left, or when what is left is no longer than what was taken (so
    /// each byte moves at most once on average, and a large packet arriving in pieces is not
    /// moved piece by piece).
    fn compact_rx(&mut self) {
        let left = self.rx.len().saturating_sub(self.rx_start);
        if self.rx_start > 0 && self.rx_start >= left {
            self.rx.drain(..self.rx_start);
            self.rx_start = 0;
        }
    }

    fn take_input(&mut self, now: Instant, mut input: &[u8]) -> Result<usize, Error> {
        let mut taken = 0;
        loop {
            if let Some((big, size)) = &mut self.big {
                // The rest of a large packet arriving into its own buffer goes there first.
                let n = size.saturating_sub(big.len()).min(input.len());
                let (now_in, later) = input.split_at(n);
                big.extend_from_slice(now_in);
                input = later;
                taken += n;
            }
            self.compact_rx();
            let room = self.rx_limit().saturating_sub(self.rx.len());
            let n = room.min(input.len());
            let (now_in, later) = input.split_at(n);
            self.rx.extend_from_slice(now_in);
            input = later;
            taken += n;
            self.process(now)?;
            if input.is_empty() || n == 0 || self.paused() {
                return Ok(taken);
            }
        }
    }

    /// Whether input processing waits for the caller.
    fn paused(&self) -> bool {
        self.kex
            .as_ref()
            .is_some_and(|k| matches!(k.phase, Phase::AwaitHostKeyVerdict(_)))
    }

    fn process(&mut self, now: Instant) -> Result<(), Error> {
        while self.error.is_none() && !self.paused() {
            match self.stage {
                Stage::Ident => {
                    let buf = self.rx.get(self.rx_start..).unwrap_or_default();
                    match self.ident_reader.next_line(buf)? {
                        None => return Ok(()),
                        Some((Line::Banner(text), n)) => {
                            self.rx_start += n;
                            self.events.push_back(Event::Banner(text));
                        }
                        Some((Line::Ident(ident), n)) => {
                            self.rx_start += n;
                            self.peer_ident = Some(ident);
                            self.stage = Stage::Packets;
                        }
                    }
                }
                Stage::Packets => {
                    if self.big.is_some() {
                        if !self.finish_big(now)? {
                            return Ok(());
                        }
                        self.maybe_rekey()?;
                        continue;
                    }
                    // The packet is opened and handled where it lies: the buffer is lent out
                    // of `self` meanwhile, and comes back whatever happens.
                    let mut rx = core::mem::take(&mut self.rx);
                    let r = self.open_and_dispatch(now, &mut rx);
                    self.rx = rx;
                    let Some(n) = r? else {
                        return Ok(());
                    };
                    self.rx_start += n;
                    self.maybe_rekey()?;
                }
            }
        }
        Ok(())
    }

    /// Opens the packet at `rx[rx_start..]` and acts on it; returns the bytes it took, or
    /// `None` if it has not all arrived.
    fn open_and_dispatch(&mut self, now: Instant, rx: &mut [u8]) -> Result<Option<usize>, Error> {
        let buf = rx.get_mut(self.rx_start..).unwrap_or_default();
        let mut scratch = core::mem::take(&mut self.payload);
        let r = match self
            .incoming
            .open(buf, self.config.max_payload_len, &mut scratch)
        {
            Ok(Some((n, payload))) => {
                let seq = self.incoming.seq.wrapping_sub(1);
                if self.tracer.is_some() {
                    self.trace(Direction::Received, seq, payload);
                }
                self.dispatch(now, payload, seq)?;
                if let Some(seq) = self.upper.take() {
                    let mut message = self.spare.pop().unwrap_or_default();
                    message.extend_from_slice(payload);
                    self.events.push_back(Event::Message(message));
                    self.message_seqs.push_back(seq);
                }
                Ok(Some(n))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        self.payload = scratch;
        r
    }

    /// Whether we are between the start of a key exchange and its end (the initial one).
    fn in_initial_kex(&self) -> bool {
        self.negotiated.is_none()
    }

    /// Whether the peer has sent KEXINIT and not yet NEWKEYS, so that it may send nothing but
    /// transport messages (RFC 4253 §7.1).
    fn peer_in_kex(&self) -> bool {
        self.kex.as_ref().is_some_and(|k| k.theirs.is_some())
    }

    fn dispatch(&mut self, now: Instant, payload: &[u8], seq: u32) -> Result<(), Error> {
        let Some(&first) = payload.first() else {
            return Err(Error::PeerMisbehaved("empty payload"));
        };
        let number = MessageNumber(first);
        if let Some(kex) = &mut self.kex
            && kex.ignore_next
        {
            // RFC 4253 §7.1: "If the other party's guess was wrong, and this field was TRUE,
            // the next packet MUST be silently ignored".
            kex.ignore_next = false;
            return Ok(());
        }
        // OpenSSH PROTOCOL §1.10: under strict kex, during the initial exchange "any
        // non-KEXINIT or non-KEX message" is fatal. Whether strict kex applies is known once
        // the peer's KEXINIT has arrived; before that, the KEXINIT check below catches it.
        if self.strict_kex && self.in_initial_kex() && number != MessageNumber::DISCONNECT {
            let kex_message = number.is_kex();
            if !kex_message {
                return Err(Error::UnexpectedMessage {
                    number,
                    state: "in the initial key exchange (strict kex)",
                });
            }
        }
        match number {
            MessageNumber::DISCONNECT => self.on_disconnect(payload),
            MessageNumber::IGNORE => Ok(()),
            MessageNumber::DEBUG => self.on_debug(payload),
            MessageNumber::UNIMPLEMENTED => {
                let m = Unimplemented::decode(payload).map_err(invalid(number))?;
                self.events.push_back(Event::Unimplemented(m.seq));
                Ok(())
            }
            MessageNumber::KEXINIT => self.on_kexinit(payload, seq),
            MessageNumber::NEWKEYS => self.on_newkeys(now, payload),
            n if n.is_kex() => self.on_kex_message(payload),
            _ if self.in_initial_kex() || self.peer_in_kex() => Err(Error::UnexpectedMessage {
                number,
                state: "in a key exchange",
            }),
            MessageNumber::SERVICE_REQUEST => self.on_service_request(payload),
            MessageNumber::SERVICE_ACCEPT => self.on_service_accept(payload),
            MessageNumber::EXT_INFO => self.on_ext_info(payload),
            MessageNumber::PING => {
                // OpenSSH PROTOCOL §1.9: "Upon receiving SSH2_MSG_PING, an implementation MUST
                // reply with a SSH2_MSG_PONG containing the same data".
                let ping = Ping::decode(payload, number).map_err(invalid(number))?;
                let mut w = Writer::new();
                Ping {
                    number: MessageNumber::PONG,
                    data: ping.data,
                }
                .encode(&mut w);
                self.send_or_queue(w.as_slice())
            }
            MessageNumber::PONG => Ok(()),
            n if n.is_upper_layer() => {
                // The caller delivers it: copied, or in the buffer it arrived in.
                self.upper = Some(seq);
                Ok(())
            }
            _ => {
                // RFC 4253 §11.4: "An implementation MUST respond to all unrecognized messages
                // with an SSH_MSG_UNIMPLEMENTED message in the order in which the messages
                // were received."
                let mut w = Writer::new();
                Unimplemented { seq }.encode(&mut w);
                self.send_transport(w.as_slice())
            }
        }
    }

    fn on_disconnect(&mut self, payload: &[u8]) -> Result<(), Error> {
        let m = Disconnect::decode(payload).map_err(invalid(MessageNumber::DISCONNECT))?;
        Err(Error::PeerDisconnected {
            reason: m.reason,
            description: String::from_utf8_lossy(m.description).into_owned(),
        })
    }

    fn on_debug(&mut self, payload: &[u8]) -> Result<(), Error> {
        let m = Debug::decode(payload).map_err(invalid(MessageNumber::DEBUG))?;
        self.events.push_back(Event::Debug {
            always_display: m.always_display,
            message: String::from_utf8_lossy(m.message).into_owned(),
        });
        Ok(())
    }

    fn on_service_request(&mut self, payload: &[u8]) -> Result<(), Error> {
        let number = MessageNumber::SERVICE_REQUEST;
        if self.is_client() {
            return Err(Error::UnexpectedMessage {
                number,
                state: "acting as a client",
            });
        }
        let m = Service::decode(payload, number).map_err(invalid(number))?;
        self.events
            .push_back(Event::ServiceRequest(m.name.to_owned()));
        Ok(())
    }

    fn on_service_accept(&mut self, payload: &[u8]) -> Result<(), Error> {
        let number = MessageNumber::SERVICE_ACCEPT;
        let m = Service::decode(payload, number).map_err(invalid(number))?;
        match &mut self.role {
            Role::Client {
                requested_service, ..
            } if requested_service.as_deref() == Some(m.name) => {
                *requested_service = None;
                self.events
                    .push_back(Event::ServiceAccept(m.name.to_owned()));
                Ok(())
            }
            _ => Err(Error::UnexpectedMessage {
                number,
                state: "no matching service request",
            }),
        }
    }

    fn on_ext_info(&mut self, payload: &[u8]) -> Result<(), Error> {
        let m = ExtInfo::decode(payload).map_err(invalid(MessageNumber::EXT_INFO))?;
        let pairs = m
            .extensions
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .collect();
        self.events.push_back(Event::ExtInfo(pairs));
        Ok(())
    }

    // ----- output -----------------------------------------------------------------------

    /// Whether upper-layer payloads must wait: between our KEXINIT and our NEWKEYS, and before
    /// the first exchange completes.
    fn must_queue(&self) -> bool {
        self.negotiated.is_none() || self.kex.as_ref().is_some_and(|k| !k.sent_newkeys)
    }

    /// Seals a transport-layer message at once, whatever the key exchange state.
    pub(crate) fn send_transport(&mut self, payload: &[u8]) -> Result<(), Error> {
        if self.tracer.is_some() {
            self.trace(Direction::Sent, self.outgoing.seq, payload);
        }
        self.outgoing.seal(payload, &mut *self.rng, &mut self.tx)
    }

    fn send_or_queue(&mut self, payload: &[u8]) -> Result<(), Error> {
        if self.must_queue() {
            if payload.len() > self.send_capacity() {
                return Err(Error::ApiMisuse("send queue full during key exchange"));
            }
            self.queued_bytes += payload.len();
            self.queued.push_back(payload.to_vec());
            return Ok(());
        }
        self.send_transport(payload)?;
        self.maybe_rekey()
    }

    fn flush_queue(&mut self) -> Result<(), Error> {
        while !self.must_queue() {
            let Some(p) = self.queued.pop_front() else {
                break;
            };
            self.queued_bytes -= p.len();
            self.send_transport(&p)?;
        }
        Ok(())
    }

    // ----- key exchange -----------------------------------------------------------------

    /// The signature algorithms this side puts in `server_host_key_algorithms`.
    fn host_key_algorithms(&self) -> Vec<SignatureAlgorithm> {
        match &self.role {
            Role::Client { .. } => self.config.host_key_algorithms.clone(),
            Role::Server { host_keys, .. } => self
                .config
                .host_key_algorithms
                .iter()
                .copied()
                .filter(|alg| {
                    host_keys
                        .iter()
                        .any(|k| k.public_key().signature_algorithms().contains(alg))
                })
                .collect(),
        }
    }

    /// Sends our KEXINIT and starts a key exchange.
    fn begin_kex(&mut self) -> Result<(), Error> {
        let mut cookie = [0u8; 16];
        self.rng.fill_bytes(&mut cookie);
        let first = self.session_id.is_none();
        let init = our_kexinit(
            &self.config,
            self.is_client(),
            first,
            &self.host_key_algorithms(),
            cookie,
        );
        let mut w = Writer::new();
        init.encode(&mut w);
        let ours = w.into_vec();
        self.send_transport(&ours)?;
        self.kex = Some(Box::new(KexRun {
            ours,
            theirs: None,
            negotiated: None,
            ignore_next: false,
            sent_newkeys: false,
            phase: Phase::ExpectKexInit,
        }));
        Ok(())
    }

    /// Starts a rekey when a volume limit is reached (RFC 4253 §9, RFC 4344 §3).
    fn maybe_rekey(&mut self) -> Result<(), Error> {
        if self.kex.is_some() {
            return Ok(());
        }
        let Some(n) = &self.negotiated else {
            return Ok(());
        };
        let out_limit = self
            .config
            .rekey_after_bytes
            .min(n.client_to_server.cipher.rekey_bytes_limit())
            .min(n.server_to_client.cipher.rekey_bytes_limit());
        let packets = self.config.rekey_after_packets;
        if self.outgoing.bytes >= out_limit
            || self.incoming.bytes >= out_limit
            || self.outgoing.packets >= packets
            || self.incoming.packets >= packets
        {
            self.begin_kex()?;
        }
        Ok(())
    }

    fn on_kexinit(&mut self, payload: &[u8], seq: u32) -> Result<(), Error> {
        let number = MessageNumber::KEXINIT;
        if self.kex.as_ref().is_some_and(|k| k.theirs.is_some()) {
            // RFC 4253 §7.1: during an exchange "further SSH_MSG_KEXINIT messages MUST NOT be
            // sent".
            return Err(Error::UnexpectedMessage {
                number,
                state: "in a key exchange (duplicate KEXINIT)",
            });
        }
        if self.kex.is_none() {
            // The peer starts a rekey: answer with ours (RFC 4253 §9).
            self.begin_kex()?;
        }
        let theirs =
            KexInit::decode(payload).map_err(|why| Error::InvalidMessage { number, why })?;
        let first = self.in_initial_kex();
        if first {
            let marker = if self.is_client() {
                KEX_STRICT_S
            } else {
                KEX_STRICT_C
            };
            self.strict_kex = theirs.kex_algorithms.iter().any(|n| n == marker);
            // OpenSSH PROTOCOL §1.10: "an endpoint that requires strict KEX MUST terminate
            // the connection if ... SSH_MSG_KEXINIT is not the first message received".
            if self.strict_kex && seq != 0 {
                return Err(Error::PeerMisbehaved(
                    "strict kex: KEXINIT was not the first packet",
                ));
            }
            if let Role::Server {
                client_wants_ext_info,
                ..
            } = &mut self.role
            {
                *client_wants_ext_info = theirs.kex_algorithms.iter().any(|n| n == EXT_INFO_C);
            }
        }
        let is_client = self.is_client();
        let Some(kex) = self.kex.as_mut() else {
            return Err(Error::ApiMisuse("no key exchange in progress"));
        };
        let ours =
            KexInit::decode(&kex.ours).map_err(|why| Error::InvalidMessage { number, why })?;
        let (client, server) = if is_client {
            (&ours, &theirs)
        } else {
            (&theirs, &ours)
        };
        let negotiated = negotiate(client, server, self.strict_kex)?;
        kex.ignore_next = theirs.first_kex_packet_follows && guess_was_wrong(client, server);
        kex.theirs = Some(payload.to_vec());
        kex.negotiated = Some(negotiated);
        if !is_client {
            kex.phase = if negotiated.kex == KexAlg::DhGexSha256 {
                Phase::ServerExpectGexRequest
            } else {
                Phase::ServerExpectInit
            };
            return Ok(());
        }
        if negotiated.kex == KexAlg::DhGexSha256 {
            // RFC 4419 §3: "uint32 min, uint32 n, uint32 max".
            let req = self.config.gex;
            let mut w = Writer::new();
            GexRequestMessage {
                min: req.min,
                preferred: req.preferred,
                max: req.max,
            }
            .encode(&mut w);
            kex.phase = Phase::ClientExpectGexGroup;
            return self.send_transport(w.as_slice());
        }
        let (client, q_c, msg) = client_init(negotiated.kex, &mut *self.rng)?;
        if let Some(kex) = self.kex.as_mut() {
            kex.phase = Phase::ClientExpectReply { client, q_c };
        }
        self.send_transport(&msg)
    }

    fn on_kex_message(&mut self, payload: &[u8]) -> Result<(), Error> {
        let number = MessageNumber(payload.first().copied().unwrap_or(0));
        let Some(kex) = self.kex.as_mut() else {
            return Err(Error::UnexpectedMessage {
                number,
                state: "not in a key exchange",
            });
        };
        let Some(negotiated) = kex.negotiated else {
            return Err(Error::UnexpectedMessage {
                number,
                state: "waiting for KEXINIT",
            });
        };
        let phase = core::mem::replace(&mut kex.phase, Phase::Poisoned);
        let next = match (phase, number) {
            (Phase::ServerExpectInit, MessageNumber::KEX_INIT) => {
                self.server_kex_reply(&negotiated, None, payload)?
            }
            (Phase::ServerExpectGexRequest, MessageNumber::KEX_DH_GEX_REQUEST) => {
                // RFC 4419 §3: "uint32 min, uint32 n, uint32 max"; the server answers
                // "mpint p, safe prime; mpint g, generator for subgroup in GF(p)".
                let m = GexRequestMessage::decode(payload)
                    .map_err(invalid(MessageNumber::KEX_DH_GEX_REQUEST))?;
                let request = GexRequest {
                    min: m.min,
                    preferred: m.preferred,
                    max: m.max,
                };
                let group = DhGroup::for_request(request)?;
                let (p, g) = group.wire();
                let mut w = Writer::new();
                GexGroup { p: &p, g: &g }.encode(&mut w);
                self.send_transport(w.as_slice())?;
                Phase::ServerExpectGexInit { request, group }
            }
            (Phase::ServerExpectGexInit { request, group }, MessageNumber::KEX_DH_GEX_INIT) => {
                self.server_kex_reply(&negotiated, Some((request, group)), payload)?
            }
            (Phase::ClientExpectReply { client, q_c }, MessageNumber::KEX_REPLY) => {
                self.client_kex_reply(&negotiated, client, &q_c, None, payload)?
            }
            (Phase::ClientExpectGexGroup, MessageNumber::KEX_DH_GEX_GROUP) => {
                let (group, p, g) = read_gex_group(payload, &self.config)?;
                let (client, e) = KexClient::start_gex(&group, &mut *self.rng)?;
                let mut w = Writer::new();
                KexInitValue {
                    number: MessageNumber::KEX_DH_GEX_INIT,
                    public: &e,
                }
                .encode(&mut w);
                self.send_transport(w.as_slice())?;
                Phase::ClientExpectGexReply { client, e, p, g }
            }
            (Phase::ClientExpectGexReply { client, e, p, g }, MessageNumber::KEX_DH_GEX_REPLY) => {
                self.client_kex_reply(&negotiated, client, &e, Some((&p, &g)), payload)?
            }
            (phase, _) => {
                return Err(Error::UnexpectedMessage {
                    number,
                    state: phase.name(),
                });
            }
        };
        let next = match next {
            Phase::AwaitHostKeyVerdict(keys) if self.negotiated.is_some() => {
                // A rekey: the key must be the one the caller already trusted.
                let same = match (&self.role, &keys.host_key) {
                    (Role::Client { host_key, .. }, Some(k)) => host_key.as_ref() == Some(k),
                    _ => false,
                };
                if !same {
                    return Err(Error::HostKeyInvalid(
                        "the server's host key changed during a rekey".into(),
                    ));
                }
                self.send_newkeys(*keys)?
            }
            Phase::AwaitHostKeyVerdict(keys) => {
                if let Some(k) = &keys.host_key {
                    self.events.push_back(Event::HostKey(k.clone()));
                }
                Phase::AwaitHostKeyVerdict(keys)
            }
            other => other,
        };
        if let Some(kex) = self.kex.as_mut() {
            kex.phase = next;
        }
        Ok(())
    }

    fn on_verdict(&mut self, now: Instant, trusted: bool) -> Result<(), Error> {
        let Some(kex) = self.kex.as_mut() else {
            return Err(Error::ApiMisuse("no host key is waiting for a verdict"));
        };
        let Phase::AwaitHostKeyVerdict(_) = &kex.phase else {
            return Err(Error::ApiMisuse("no host key is waiting for a verdict"));
        };
        if !trusted {
            return Err(Error::HostKeyRejected);
        }
        let Phase::AwaitHostKeyVerdict(keys) = core::mem::replace(&mut kex.phase, Phase::Poisoned)
        else {
            return Err(Error::ApiMisuse("no host key is waiting for a verdict"));
        };
        if let Role::Client { host_key, .. } = &mut self.role {
            host_key.clone_from(&keys.host_key);
        }
        let next = self.send_newkeys(*keys)?;
        if let Some(kex) = self.kex.as_mut() {
            kex.phase = next;
        }
        // Input that arrived while we waited.
        self.process(now)
    }

    /// The exchange hash inputs every role shares: identifications and KEXINIT payloads.
    fn hash_prefix(&self) -> Result<HashPrefix<'_>, Error> {
        let kex = self
            .kex
            .as_ref()
            .ok_or(Error::ApiMisuse("no key exchange in progress"))?;
        let theirs = kex
            .theirs
            .as_deref()
            .ok_or(Error::ApiMisuse("no peer KEXINIT"))?;
        let peer = self
            .peer_ident
            .as_deref()
            .ok_or(Error::ApiMisuse("no peer identification"))?;
        Ok(if self.is_client() {
            HashPrefix {
                v_c: &self.local_ident,
                v_s: peer,
                i_c: &kex.ours,
                i_s: theirs,
            }
        } else {
            HashPrefix {
                v_c: peer,
                v_s: &self.local_ident,
                i_c: theirs,
                i_s: &kex.ours,
            }
        })
    }

    /// Server: answers the client's INIT (or group exchange INIT, in the group sent for its
    /// request), sends NEWKEYS.
    fn server_kex_reply(
        &mut self,
        n: &Negotiated,
        gex: Option<(GexRequest, &'static DhGroup)>,
        payload: &[u8],
    ) -> Result<Phase, Error> {
        let (number, reply_number) = match gex {
            None => (MessageNumber::KEX_INIT, MessageNumber::KEX_REPLY),
            Some(_) => (
                MessageNumber::KEX_DH_GEX_INIT,
                MessageNumber::KEX_DH_GEX_REPLY,
            ),
        };
        let q_c = KexInitValue::decode(payload, number)
            .map_err(invalid(number))?
            .public;
        let (q_s, k) = match gex {
            None => server_reply(n.kex, q_c, &mut *self.rng)?,
            Some((_, group)) => server_reply_gex(group, q_c, &mut *self.rng)?,
        };
        let group_wire = gex.map(|(request, group)| (request, group.wire()));
        let Role::Server { host_keys, .. } = &self.role else {
            return Err(Error::ApiMisuse("server step on a client"));
        };
        let host_key = host_keys
            .iter()
            .find(|key| {
                key.public_key()
                    .signature_algorithms()
                    .contains(&n.host_key)
            })
            .cloned()
            .ok_or(Error::ApiMisuse("no host key for the negotiated algorithm"))?;
        let k_s = host_key.public_key().to_blob();
        let h = HashInput {
            prefix: self.hash_prefix()?,
            k_s: &k_s,
            // RFC 4419 §3: H covers "min || n || max || p || g" as the client asked and we
            // sent them.
            gex: group_wire
                .as_ref()
                .map(|(request, (p, g))| (*request, p.as_slice(), g.as_slice())),
            q_c,
            q_s: &q_s,
            k: &k,
        }
        .hash(n.kex.hash());
        let sig = host_key
            .sign(n.host_key, &h, &mut *self.rng)
            .map_err(|_| Error::ApiMisuse("the host key could not sign"))?;
        // RFC 5656 §4 / RFC 4253 §8: "string K_S, string Q_S (mpint f), string signature of H";
        // RFC 4419 §3 has the same fields in SSH_MSG_KEX_DH_GEX_REPLY.
        let mut w = Writer::new();
        KexReply {
            number: reply_number,
            host_key: &k_s,
            public: &q_s,
            signature: &sig,
        }
        .encode(&mut w);
        self.send_transport(w.as_slice())?;
        let session_id = self.session_id.clone().unwrap_or_else(|| h.clone());
        let keys = derive_new_keys(n, &k, &h, &session_id, false, None)?;
        self.session_id.get_or_insert(h);
        self.send_newkeys(keys)
    }

    /// Client: checks the server's reply and derives keys; NEWKEYS waits for the verdict.
    fn client_kex_reply(
        &mut self,
        n: &Negotiated,
        client: KexClient,
        q_c: &[u8],
        gex: Option<(&[u8], &[u8])>,
        payload: &[u8],
    ) -> Result<Phase, Error> {
        let number = MessageNumber(payload.first().copied().unwrap_or(0));
        let reply = KexReply::decode(payload, number).map_err(invalid(number))?;
        let k = client.finish(reply.public)?;
        let h = HashInput {
            prefix: self.hash_prefix()?,
            k_s: reply.host_key,
            gex: gex.map(|(p, g)| (self.config.gex, p, g)),
            q_c,
            q_s: reply.public,
            k: &k,
        }
        .hash(n.kex.hash());
        let key = verify_host_key(n, reply.host_key, &h, reply.signature)?;
        let session_id = self.session_id.clone().unwrap_or_else(|| h.clone());
        let keys = derive_new_keys(n, &k, &h, &session_id, true, Some(key))?;
        self.session_id.get_or_insert(h);
        Ok(Phase::AwaitHostKeyVerdict(Box::new(keys)))
    }

    /// Sends NEWKEYS and switches the sending direction to the new keys (RFC 4253 §7.3).
    fn send_newkeys(&mut self, keys: NewKeys) -> Result<Phase, Error> {
        self.send_transport(&[MessageNumber::NEWKEYS.0])?;
        let NewKeys {
            outgoing: (sealer, compression),
            incoming,
            ..
        } = keys;
        self.outgoing
            .install(sealer, compression, self.authenticated);
        if self.strict_kex {
            // OpenSSH PROTOCOL §1.10: "the sequence number is reset to zero after each
            // SSH2_MSG_NEWKEYS message".
            self.outgoing.seq = 0;
        }
        let first = self.negotiated.is_none();
        if let Some(kex) = self.kex.as_mut() {
            kex.sent_newkeys = true;
        }
        if first
            && let Role::Server {
                client_wants_ext_info: true,
                ..
            } = self.role
        {
            self.send_ext_info()?;
        }
        self.flush_queue()?;
        Ok(Phase::ExpectNewKeys(Box::new(incoming)))
    }

    /// RFC 8308 §2.4: the server sends EXT_INFO "as the next packet following the server's
    /// first SSH_MSG_NEWKEYS".
    fn send_ext_info(&mut self) -> Result<(), Error> {
        let sig_algs: Vec<&str> = self
            .config
            .user_key_algorithms
            .iter()
            .map(|a| a.name())
            .collect();
        let sig_algs = sig_algs.join(",");
        let mut w = Writer::new();
        ExtInfo {
            extensions: vec![
                ("server-sig-algs", sig_algs.as_bytes()),
                ("ping@openssh.com", b"0"),
            ],
        }
        .encode(&mut w);
        self.send_transport(w.as_slice())
    }

    fn on_newkeys(&mut self, now: Instant, payload: &[u8]) -> Result<(), Error> {
        let number = MessageNumber::NEWKEYS;
        if payload.len() != 1 {
            return Err(Error::InvalidMessage {
                number,
                why: sshwire_wire::Error::TrailingData(payload.len() - 1),
            });
        }
        let Some(kex) = self.kex.as_mut() else {
            return Err(Error::UnexpectedMessage {
                number,
                state: "not in a key exchange",
            });
        };
        let phase = core::mem::replace(&mut kex.phase, Phase::Poisoned);
        let Phase::ExpectNewKeys(incoming) = phase else {
            let state = phase.name();
            kex.phase = phase;
            return Err(Error::UnexpectedMessage { number, state });
        };
        let negotiated = kex.negotiated;
        let (opener, compression) = *incoming;
        self.incoming
            .install(opener, compression, self.authenticated);
        if self.strict_kex {
            // OpenSSH PROTOCOL §1.10: sequence numbers reset after each NEWKEYS.
            self.incoming.seq = 0;
        }
        let first = self.negotiated.is_none();
        self.kex = None;
        self.last_kex = Some(now);
        self.negotiated = negotiated;
        if let Some(algorithms) = negotiated {
            self.events
                .push_back(Event::KexComplete { first, algorithms });
        }
        self.flush_queue()
    }
}

/// Maps a decoding failure of message `number` to the engine's error.
fn invalid(number: MessageNumber) -> impl Fn(sshwire_wire::Error) -> Error {
    move |why| Error::InvalidMessage { number, why }
}
