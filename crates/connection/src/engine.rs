//! [`Connection`]: the connection protocol engine, for either role.

use std::borrow::Cow;
use std::collections::VecDeque;

use sshwire_transport::MessageNumber;
use sshwire_wire::Writer;

use crate::channel::{Channel, ChannelId, OwedReply, Phase, RequestId, Stream};
use crate::config::Config;
use crate::error::Error;
use crate::event::Event;
use crate::messages::{
    self, ChannelData, ChannelOpen, ChannelRequest, ChannelRequestType, ChannelSignal, ChannelType,
    DATA_HEADER_LEN, EXTENDED_DATA_STDERR, ExtendedData, GlobalRequest, Message, OpenConfirmation,
    OpenFailure, OpenFailureReason, RequestFailure, RequestSuccess, WindowAdjust,
};
use crate::recv_buffer::{MAX_SPARE, RecvBuffer};
use crate::window::{RecvError, RecvWindow, SendWindow};

/// Data messages shorter than this are copied by [`Connection::handle_message_owned`],
/// not kept in their buffers.
const MIN_OWNED_DATA: usize = 16 * 1024;

/// Which end of the connection the engine is.
///
/// The roles share every message and rule; they differ only in which channel opens they
/// refuse without asking the application (see [`Connection::handle_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The side that opened the TCP connection.
    Client,
    /// The side that accepted it.
    Server,
}

/// A reply we owe the peer for a global request.
#[derive(Debug)]
struct OwedGlobalReply {
    id: RequestId,
    answer: Option<(bool, Vec<u8>)>,
}

/// The connection protocol (RFC 4254) for one SSH connection, either role, without I/O.
///
/// Feed it every payload the transport delivers with a number from 80 to 100
/// ([`Connection::handle_message`]), send what [`Connection::poll_transmit`] yields (and what
/// [`Connection::encode_data`] writes) through the transport, and act on
/// [`Connection::poll_event`]. See the crate documentation for the whole loop.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    /// Channels by our number; `None` is a free number.
    channels: Vec<Option<Channel>>,
    /// Free numbers below `channels.len()`, reused oldest-freed first.
    free: VecDeque<u32>,
    /// Channels in use.
    in_use: usize,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    error: Option<Error>,
    next_request: u64,
    /// Our global requests with want-reply, oldest first.
    awaiting_global: VecDeque<RequestId>,
    /// Global replies we owe, oldest first.
    owed_global: VecDeque<OwedGlobalReply>,
    /// Peer requests not yet finished with (see [`Config::max_pending_requests`]).
    pending_requests: usize,
    /// The client sent `no-more-sessions@openssh.com`.
    no_more_sessions: bool,
    /// Payload buffers handed back by [`Connection::recycle`], reused for data packets.
    spare: Vec<Vec<u8>>,
    /// Received buffers the application has read, for [`Connection::take_spare`].
    recv_spare: Vec<Vec<u8>>,
    /// Bytes of room in front of every payload in `transmit` (see
    /// [`Connection::set_send_headroom`]).
    headroom: usize,
}

/// Buffers kept for reuse: enough for the packets of a few writes.
const MAX_SPARE_BUFFERS: usize = 32;

impl Connection {
    /// An engine for `role` with `config`.
    pub fn new(role: Role, config: Config) -> Self {
        Connection {
            role,
            config,
            channels: Vec::new(),
            free: VecDeque::new(),
            in_use: 0,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            error: None,
            next_request: 0,
            awaiting_global: VecDeque::new(),
            owed_global: VecDeque::new(),
            pending_requests: 0,
            no_more_sessions: false,
            spare: Vec::new(),
            recv_spare: Vec::new(),
            headroom: 0,
        }
    }

    /// A client engine.
    pub fn client(config: Config) -> Self {
        Self::new(Role::Client, config)
    }

    /// A server engine.
    pub fn server(config: Config) -> Self {
        Self::new(Role::Server, config)
    }

    /// The engine's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The engine's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The fatal error that stopped the engine, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Channels in use, in any state (counted against [`Config::max_channels`]).
    pub fn channel_count(&self) -> usize {
        self.in_use
    }

    // ----------------------------------------------------------------------------------
    // Input, output, events.

    /// Handles one payload from the transport (message number 80 to 100).
    ///
    /// Fatal errors (the peer's) are sticky and name the DISCONNECT to send. Refused
    /// without looking at it, and without harm, when the outgoing queue holds
    /// [`Config::max_queued_transmits`] payloads ([`Error::OutputFull`]): drain
    /// [`Connection::poll_transmit`] and hand the same payload in again.
    ///
    /// Channel opens refused without asking the application, with
    /// `SSH_OPEN_ADMINISTRATIVELY_PROHIBITED`: `session` at a client (RFC 4254 §6.1), `session`
    /// at a server after `no-more-sessions@openssh.com`, `x11` and `forwarded-tcpip` at a
    /// server, `direct-tcpip` at a client (they only ever go the other way). Opens beyond
    /// [`Config::max_channels`] are refused with `SSH_OPEN_RESOURCE_SHORTAGE`.
    pub fn handle_message(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.check()?;
        if self.transmit.len() >= self.config.max_queued_transmits {
            return Err(Error::OutputFull);
        }
        let r = self.dispatch(payload);
        if let Err(e) = &r
            && e.is_fatal()
        {
            self.error = Some(e.clone());
        }
        r
    }

    /// As [`Connection::handle_message`], given the payload's buffer to keep.
    ///
    /// The data of a `SSH_MSG_CHANNEL_DATA` or `SSH_MSG_CHANNEL_EXTENDED_DATA` message is then
    /// queued for the application where it lies, without a copy, and `payload` is left empty;
    /// any other message is handled as by [`Connection::handle_message`] and `payload` is left
    /// as it was (also on every error, so that the caller can retry after
    /// [`Error::OutputFull`]). Buffers the application has read come back through
    /// [`Connection::take_spare`].
    pub fn handle_message_owned(&mut self, payload: &mut Vec<u8>) -> Result<(), Error> {
        self.handle_message_owned_at(payload, 0)
    }

    /// As [`Connection::handle_message_owned`], for a payload at `buf[start..]` (in the
    /// buffer its packet arrived in, say: the transport's `Event::MessageAt`). What precedes
    /// `start` is never read.
    pub fn handle_message_owned_at(
        &mut self,
        buf: &mut Vec<u8>,
        start: usize,
    ) -> Result<(), Error> {
        self.check()?;
        let payload = buf.get(start..).unwrap_or_default();
        if self.transmit.len() >= self.config.max_queued_transmits {
            return Err(Error::OutputFull);
        }
        // Only data can be kept; anything else is decoded once, where it is handled.
        let number = MessageNumber(payload.first().copied().unwrap_or(0));
        if number != messages::CHANNEL_DATA && number != messages::CHANNEL_EXTENDED_DATA {
            return self.handle_message(payload);
        }
        let found = match Message::decode(payload) {
            Ok(Message::Data(d)) => Some((d.recipient, None, d.data.len())),
            Ok(Message::ExtendedData(d)) => Some((d.recipient, Some(d.data_type), d.data.len())),
            _ => None,
        };
        let Some((recipient, data_type, len)) = found else {
            return self.handle_message(payload);
        };
        // A buffer is kept only when the data fills most of it. The window counts bytes of
        // data, not of buffers: a peer's small messages, each in a large recycled buffer,
        // would otherwise pin many times the window in memory while the application is not
        // reading. Those are copied, and pack together.
        if len < MIN_OWNED_DATA || len.saturating_mul(2) < buf.capacity() {
            return self.handle_message(payload);
        }
        let r = self.accept_data(recipient, data_type, len);
        match r {
            Ok(Some(stream)) => {
                // The codec refuses bytes after the data string: the data ends the payload.
                let end = buf.len();
                let buf = core::mem::take(buf);
                self.queue_data(ChannelId(recipient), stream, |b| {
                    b.push_owned(buf, end.saturating_sub(len)..end);
                });
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                if e.is_fatal() {
                    self.error = Some(e.clone());
                }
                Err(e)
            }
        }
    }

    /// A buffer handed over with [`Connection::handle_message_owned`] whose data the
    /// application has read, to be filled again (the transport's
    /// `Transport::recycle`, say).
    pub fn take_spare(&mut self) -> Option<Vec<u8>> {
        self.recv_spare.pop()
    }

    /// Moves the buffers a read emptied from the channel to [`Connection::take_spare`].
    fn collect_spares(&mut self, id: ChannelId, stream: Stream) {
        while self.recv_spare.len() < MAX_SPARE {
            let Some(b) = self
                .slot_mut(id)
                .and_then(|c| c.buffer_mut(stream).take_spare())
            else {
                break;
            };
            self.recv_spare.push(b);
        }
    }

    /// The next payload to hand to the transport, if any.
    ///
    /// The queue holds control messages, replies and the data of [`Connection::send_data`];
    /// see [`Connection::wants_transmit`]. With a headroom set
    /// ([`Connection::set_send_headroom`]), the payload follows that many bytes of room.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// Leaves `bytes` of room in front of every payload queued from now on, for a transport
    /// that frames and seals the payload where it lies (sshwire's
    /// `Transport::send_owned`), so that channel data is copied once, from the writer into
    /// the packet, and never again.
    pub fn set_send_headroom(&mut self, bytes: usize) {
        self.headroom = bytes;
    }

    /// Takes back a payload from [`Connection::poll_transmit`] once the transport has sent
    /// it, so that later data packets reuse its memory instead of allocating (and faulting
    /// in) fresh pages for every packet.
    ///
    /// Gives it back when the engine keeps enough already (or it is too large to keep), for
    /// the caller to reuse elsewhere or free.
    pub fn recycle(&mut self, mut payload: Vec<u8>) -> Option<Vec<u8>> {
        if self.spare.len() < MAX_SPARE_BUFFERS && payload.capacity() <= 2 * 1024 * 1024 {
            payload.clear();
            self.spare.push(payload);
            return None;
        }
        Some(payload)
    }

    /// Payloads waiting in [`Connection::poll_transmit`]'s queue.
    ///
    /// A writer that keeps this small (by waiting while it is large) keeps the memory held
    /// for a slow peer small, whatever window the peer advertises.
    pub fn queued_transmits(&self) -> usize {
        self.transmit.len()
    }

    /// The length of the payload [`Connection::poll_transmit`] would return next.
    ///
    /// Lets a caller whose transport can take only so much (during a key exchange) leave the
    /// payload queued instead of taking it.
    pub fn next_transmit_len(&self) -> Option<usize> {
        self.transmit
            .front()
            .map(|p| p.len().saturating_sub(self.headroom))
    }

    /// Whether [`Connection::poll_transmit`] has something.
    pub fn wants_transmit(&self) -> bool {
        !self.transmit.is_empty()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        match &event {
            Event::Readable { channel } => {
                if let Some(c) = self.slot_mut(*channel) {
                    c.readable_queued = false;
                }
            }
            Event::Closed { channel } | Event::ChannelOpenFailed { channel, .. } => {
                if let Some(c) = self.slot_mut(*channel) {
                    c.end_reported = true;
                }
                self.release_if_done(*channel);
            }
            Event::ChannelRequest { reply: None, .. }
            | Event::GlobalRequest { reply: None, .. } => {
                self.pending_requests = self.pending_requests.saturating_sub(1);
            }
            _ => {}
        }
        Some(event)
    }

    // ----------------------------------------------------------------------------------
    // Opening channels.

    /// Opens a `session` channel (RFC 4254 §6.1).
    pub fn open_session(&mut self) -> Result<ChannelId, Error> {
        self.open_channel(&ChannelType::Session)
    }

    /// Opens a `direct-tcpip` channel (RFC 4254 §7.2): the server connects to `host:port`.
    pub fn open_direct_tcpip(
        &mut self,
        host: &str,
        port: u32,
        originator: &str,
        originator_port: u32,
    ) -> Result<ChannelId, Error> {
        self.open_channel(&ChannelType::DirectTcpip {
            host: Cow::Borrowed(host),
            port,
            originator: Cow::Borrowed(originator),
            originator_port,
        })
    }

    /// Opens a channel of any type; [`Event::ChannelOpened`] or [`Event::ChannelOpenFailed`]
    /// follows.
    pub fn open_channel(&mut self, channel_type: &ChannelType<'_>) -> Result<ChannelId, Error> {
        self.check()?;
        let recv = RecvWindow::new(self.config.initial_window, self.config.max_packet);
        let id = self.allocate(Channel::new(Phase::Opening, 0, recv, SendWindow::closed()))?;
        let open = ChannelOpen {
            channel_type: channel_type.clone(),
            sender: id.0,
            initial_window: recv.size(),
            max_packet: recv.max_packet(),
        };
        self.queue(|w| open.encode(w));
        Ok(id)
    }

    /// Accepts a channel the peer asked to open ([`Event::ChannelOpenRequest`]).
    pub fn accept_channel(&mut self, id: ChannelId) -> Result<(), Error> {
        self.check()?;
        let c = self.channel_mut(id)?;
        if c.phase != Phase::Offered {
            return Err(Error::ApiMisuse(
                "accept_channel: not a channel the peer offered",
            ));
        }
        c.phase = Phase::Open;
        let confirm = OpenConfirmation {
            recipient: c.remote_id,
            sender: id.0,
            initial_window: c.recv.size(),
            max_packet: c.recv.max_packet(),
            data: &[],
        };
        self.queue(|w| confirm.encode(w));
        Ok(())
    }

    /// Refuses a channel the peer asked to open, with a reason code; its number is free at once.
    pub fn reject_channel(
        &mut self,
        id: ChannelId,
        reason: OpenFailureReason,
        description: &str,
    ) -> Result<(), Error> {
        self.check()?;
        let c = self.channel_mut(id)?;
        if c.phase != Phase::Offered {
            return Err(Error::ApiMisuse(
                "reject_channel: not a channel the peer offered",
            ));
        }
        let recipient = c.remote_id;
        self.free_slot(id);
        self.queue_open_failure(recipient, reason, description);
        Ok(())
    }

    // ----------------------------------------------------------------------------------
    // Requests.

    /// Sends a channel request; with `want_reply`, the returned id comes back in
    /// [`Event::ChannelRequestReply`].
    pub fn request(
        &mut self,
        id: ChannelId,
        request: &ChannelRequestType<'_>,
        want_reply: bool,
    ) -> Result<Option<RequestId>, Error> {
        self.check()?;
        let c = self.sendable(id)?;
        let msg = ChannelRequest {
            recipient: c.remote_id,
            want_reply,
            request: request.clone(),
        };
        let rid = if want_reply {
            let rid = RequestId(self.next_request);
            self.next_request += 1;
            self.sendable(id)?.awaiting_replies.push_back(rid);
            Some(rid)
        } else {
            None
        };
        self.queue(|w| msg.encode(w));
        Ok(rid)
    }

    /// Sends `exec` (RFC 4254 §6.5).
    pub fn exec(
        &mut self,
        id: ChannelId,
        command: &[u8],
        want_reply: bool,
    ) -> Result<Option<RequestId>, Error> {
        let command = Cow::Borrowed(command);
        self.request(id, &ChannelRequestType::Exec { command }, want_reply)
    }

    /// Sends `subsystem` (RFC 4254 §6.5), such as `sftp`.
    pub fn subsystem(
        &mut self,
        id: ChannelId,
        name: &str,
        want_reply: bool,
    ) -> Result<Option<RequestId>, Error> {
        let name = Cow::Borrowed(name);
        self.request(id, &ChannelRequestType::Subsystem { name }, want_reply)
    }

    /// Sends `shell` (RFC 4254 §6.5).
    pub fn shell(&mut self, id: ChannelId, want_reply: bool) -> Result<Option<RequestId>, Error> {
        self.request(id, &ChannelRequestType::Shell, want_reply)
    }

    /// Sends `exit-status` when the command has terminated.
    ///
    /// RFC 4254 §6.10: "Returning the status is RECOMMENDED. No acknowledgement is sent for
    /// this message." (so want-reply is always FALSE).
    pub fn exit_status(&mut self, id: ChannelId, status: u32) -> Result<(), Error> {
        self.request(id, &ChannelRequestType::ExitStatus { status }, false)
            .map(|_| ())
    }

    /// Sends `exit-signal` (RFC 4254 §6.10; want-reply FALSE).
    pub fn exit_signal(
        &mut self,
        id: ChannelId,
        signal: &str,
        core_dumped: bool,
        message: &str,
    ) -> Result<(), Error> {
        let request = ChannelRequestType::ExitSignal {
            signal: Cow::Borrowed(signal),
            core_dumped,
            message: Cow::Borrowed(message),
            language: Cow::Borrowed(""),
        };
        self.request(id, &request, false).map(|_| ())
    }

    /// Answers a channel request of the peer ([`Event::ChannelRequest`] with a reply id).
    ///
    /// Answers may be given in any order; they go out in the order of the requests. RFC 4254
    /// §4: "For channel requests, replies that relate to the same channel MUST also be
    /// replied to in the right order."
    pub fn reply(&mut self, id: ChannelId, request: RequestId, success: bool) -> Result<(), Error> {
        self.check()?;
        let c = self.channel_mut(id)?;
        if c.close_sent {
            // Too late to answer: the channel is closing (a race, not a bug).
            return Ok(());
        }
        let slot = c
            .owed_replies
            .iter_mut()
            .find(|r| r.id == request && r.answer.is_none())
            .ok_or(Error::ApiMisuse("reply: no such request awaits an answer"))?;
        slot.answer = Some(success);
        self.flush_channel_replies(id);
        Ok(())
    }

    /// Sends a global request (RFC 4254 §4); with want-reply, the returned id comes back in
    /// [`Event::GlobalRequestReply`].
    pub fn global_request(
        &mut self,
        request: &GlobalRequest<'_>,
    ) -> Result<Option<RequestId>, Error> {
        self.check()?;
        let rid = if request.want_reply {
            let rid = RequestId(self.next_request);
            self.next_request += 1;
            self.awaiting_global.push_back(rid);
            Some(rid)
        } else {
            None
        };
        self.queue(|w| request.encode(w));
        Ok(rid)
    }

    /// Answers a global request of the peer; `data` is the response-specific data of a
    /// success (ignored for a failure).
    ///
    /// RFC 4254 §4: "it is REQUIRED that replies to SSH_MSG_GLOBAL_REQUESTS MUST be sent in
    /// the same order as the corresponding request messages." Answers given out of order wait.
    pub fn reply_global(
        &mut self,
        request: RequestId,
        success: bool,
        data: &[u8],
    ) -> Result<(), Error> {
        self.check()?;
        let slot = self
            .owed_global
            .iter_mut()
            .find(|r| r.id == request && r.answer.is_none())
            .ok_or(Error::ApiMisuse(
                "reply_global: no such request awaits an answer",
            ))?;
        slot.answer = Some((success, data.to_vec()));
        self.flush_global_replies();
        Ok(())
    }

    // ----------------------------------------------------------------------------------
    // Data out.

    /// Bytes that may be sent on the channel now, in any number of packets: the peer's window.
    pub fn send_capacity(&self, id: ChannelId) -> Result<usize, Error> {
        let c = self.channel(id)?;
        if !c.can_send() || c.eof_sent {
            return Ok(0);
        }
        Ok(usize::try_from(c.send.available()).unwrap_or(usize::MAX))
    }

    /// The largest data packet the channel takes: the peer's maximum, capped by ours.
    pub fn max_send_packet(&self, id: ChannelId) -> Result<usize, Error> {
        let c = self.channel(id)?;
        Ok(usize::try_from(c.send.max_packet()).unwrap_or(usize::MAX))
    }

    /// Queues as much of `data` as the peer's window allows, in packets of at most its
    /// maximum packet size, and returns how much was taken (0 when the window is empty:
    /// [`Event::Writable`] follows when it re-opens).
    ///
    /// The queued bytes are bounded by the peer's window. [`Connection::encode_data`] avoids
    /// the copy into the queue.
    pub fn send_data(&mut self, id: ChannelId, data: &[u8]) -> Result<usize, Error> {
        self.send_stream(id, None, &[data])
    }

    /// As [`Connection::send_data`], for data in pieces (a header and a body, say): as much
    /// of `parts`, one after another, as the window takes, packed into packets as if it were
    /// one slice.
    pub fn send_data_vectored(&mut self, id: ChannelId, parts: &[&[u8]]) -> Result<usize, Error> {
        self.send_stream(id, None, parts)
    }

    /// Bytes of room in front of the data of a [`Connection::send_data_owned`] packet: the
    /// send headroom ([`Connection::set_send_headroom`]) and the `CHANNEL_DATA` header.
    pub fn owned_data_room(&self) -> usize {
        self.headroom + DATA_HEADER_LEN
    }

    /// As [`Connection::send_data`], for the data at `packet[owned_data_room()..]`, sent in
    /// `packet` itself: the `CHANNEL_DATA` header goes into the room in front and the buffer
    /// is queued as the payload, so the data is not copied.
    ///
    /// Only when the window and the peer's packet size take all of the data at once; else
    /// nothing is sent and the packet comes back (`Ok(Some(packet))`, as it does for a packet
    /// with no data), for the caller to send the data as [`Connection::send_data`] does,
    /// cut to what the peer takes. Spare capacity behind the data lets the transport seal
    /// the packet where it lies.
    pub fn send_data_owned(
        &mut self,
        id: ChannelId,
        mut packet: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.check()?;
        let (headroom, room) = (self.headroom, self.owned_data_room());
        let c = self.sendable(id)?;
        if c.eof_sent {
            return Err(Error::ChannelClosed(id));
        }
        let len = packet.len().saturating_sub(room);
        // RFC 4254 §5.2: the data may not exceed the window nor the peer's maximum packet.
        if len == 0 || c.send.packet_len(len) < len {
            return Ok(Some(packet));
        }
        let Ok(len32) = u32::try_from(len) else {
            return Ok(Some(packet));
        };
        let Some(header) = packet.get_mut(headroom..room) else {
            return Ok(Some(packet));
        };
        header.copy_from_slice(&ChannelData::header(c.remote_id, len32));
        c.send.spend(len);
        if c.send.available() == 0 {
            c.write_blocked = true;
        }
        self.transmit.push_back(packet);
        Ok(None)
    }

    /// As [`Connection::send_data`], for extended data of type `data_type`
    /// ([`messages::EXTENDED_DATA_STDERR`] for stderr).
    pub fn send_extended_data(
        &mut self,
        id: ChannelId,
        data_type: u32,
        data: &[u8],
    ) -> Result<usize, Error> {
        self.send_stream(id, Some(data_type), &[data])
    }

    /// Appends one whole `SSH_MSG_CHANNEL_DATA` payload with as much of `data` as fits to
    /// `out`, and returns how much of `data` it carries; hand `out` to the transport.
    ///
    /// This is the fast path: header and data go straight into the caller's buffer. Writes
    /// nothing and returns 0 while the window is empty, and also while
    /// [`Connection::poll_transmit`] has payloads waiting, so that data never overtakes a
    /// request or an EOF queued before it: drain the queue first.
    pub fn encode_data(
        &mut self,
        id: ChannelId,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, Error> {
        self.encode_stream(id, None, data, out)
    }

    /// As [`Connection::encode_data`], for extended data of type `data_type`.
    pub fn encode_extended_data(
        &mut self,
        id: ChannelId,
        data_type: u32,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, Error> {
        self.encode_stream(id, Some(data_type), data, out)
    }

    /// Sends `SSH_MSG_CHANNEL_EOF`: we send no more data (requests, such as `exit-status`,
    /// may still follow). Once only.
    pub fn send_eof(&mut self, id: ChannelId) -> Result<(), Error> {
        self.check()?;
        let c = self.sendable(id)?;
        if c.eof_sent {
            return Err(Error::ChannelClosed(id));
        }
        c.eof_sent = true;
        let recipient = c.remote_id;
        self.queue_signal(messages::CHANNEL_EOF, recipient);
        Ok(())
    }

    /// Closes the channel: sends `SSH_MSG_CHANNEL_CLOSE` (once) and discards data not yet read.
    ///
    /// The number is reused after the peer's CLOSE too and [`Event::Closed`]. Closing a
    /// channel the peer has not confirmed yet sends CLOSE as soon as it does. Calling it again
    /// (or after the peer closed first) is allowed and only discards what is buffered.
    pub fn close(&mut self, id: ChannelId) -> Result<(), Error> {
        self.check()?;
        let c = self.channel_mut(id)?;
        match c.phase {
            Phase::Offered => return Err(Error::ApiMisuse("close: use reject_channel")),
            Phase::Failed => return Ok(()),
            Phase::Opening => {
                c.close_sent = true;
                return Ok(());
            }
            Phase::Open => {}
        }
        Self::discard_buffers(c);
        if !c.close_sent {
            self.send_close(id);
        }
        self.release_if_done(id);
        Ok(())
    }

    // ----------------------------------------------------------------------------------
    // Data in.

    /// The front of what the peer sent on `stream` and the application has not consumed,
    /// as one contiguous slice (possibly not all of it; consume and look again).
    ///
    /// Together with [`Connection::consume`] this reads without a copy.
    pub fn recv_buf(&self, id: ChannelId, stream: Stream) -> Result<&[u8], Error> {
        Ok(self.channel(id)?.buffer(stream).front())
    }

    /// Bytes waiting on `stream`.
    pub fn recv_len(&self, id: ChannelId, stream: Stream) -> Result<usize, Error> {
        Ok(self.channel(id)?.buffer(stream).len())
    }

    /// Drops the first `n` bytes waiting on `stream` (at most what is waiting) and re-opens
    /// the window by as much, sending `SSH_MSG_CHANNEL_WINDOW_ADJUST` once half the window
    /// has been consumed.
    pub fn consume(&mut self, id: ChannelId, stream: Stream, n: usize) -> Result<(), Error> {
        self.check()?;
        let c = self.channel_mut(id)?;
        let n = c.buffer_mut(stream).consume(n);
        c.recv.consume(u32::try_from(n).unwrap_or(u32::MAX));
        self.collect_spares(id, stream);
        self.after_consume(id);
        Ok(())
    }

    /// Takes the first run of bytes waiting on `stream` in the buffer it lies in, without
    /// copying it, if it holds at least `min_len` bytes: `Some((buf, start))` with the bytes
    /// at `buf[start..]`, consumed (the window re-opens as for [`Connection::consume`]);
    /// `None` when nothing waits or the first run is shorter (read that with
    /// [`Connection::recv_buf`] or [`Connection::read`]).
    ///
    /// A data message handed over whole ([`Connection::handle_message_owned`]) comes out as
    /// the buffer the transport opened it in, so a reader that wants its data in a buffer
    /// of its own (a large SFTP `WRITE`) need not copy it. The buffer is the caller's.
    pub fn take_recv_chunk(
        &mut self,
        id: ChannelId,
        stream: Stream,
        min_len: usize,
    ) -> Result<Option<(Vec<u8>, usize)>, Error> {
        self.check()?;
        let c = self.channel_mut(id)?;
        let Some((buf, start)) = c.buffer_mut(stream).take_front(min_len) else {
            return Ok(None);
        };
        let n = buf.len().saturating_sub(start);
        c.recv.consume(u32::try_from(n).unwrap_or(u32::MAX));
        self.after_consume(id);
        Ok(Some((buf, start)))
    }

    /// Copies what is waiting on `stream` into `buf`, consumes it, and returns how much.
    pub fn read(&mut self, id: ChannelId, stream: Stream, buf: &mut [u8]) -> Result<usize, Error> {
        self.check()?;
        let c = self.channel_mut(id)?;
        let n = c.buffer_mut(stream).read(buf);
        c.recv.consume(u32::try_from(n).unwrap_or(u32::MAX));
        self.collect_spares(id, stream);
        self.after_consume(id);
        Ok(n)
    }

    /// Whether the peer has sent EOF (or CLOSE) on the channel.
    pub fn eof_received(&self, id: ChannelId) -> Result<bool, Error> {
        let c = self.channel(id)?;
        Ok(c.eof_received || c.close_received)
    }

    // ----------------------------------------------------------------------------------
    // Inside.

    /// Fails with the sticky error, if any.
    fn check(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn slot_mut(&mut self, id: ChannelId) -> Option<&mut Channel> {
        let i = usize::try_from(id.0).ok()?;
        self.channels.get_mut(i)?.as_mut()
    }

    fn slot(&self, id: ChannelId) -> Option<&Channel> {
        let i = usize::try_from(id.0).ok()?;
        self.channels.get(i)?.as_ref()
    }

    /// A channel the application names.
    fn channel(&self, id: ChannelId) -> Result<&Channel, Error> {
        self.slot(id).ok_or(Error::UnknownChannel(id))
    }

    /// A channel the application names, mutably.
    fn channel_mut(&mut self, id: ChannelId) -> Result<&mut Channel, Error> {
        self.slot_mut(id).ok_or(Error::UnknownChannel(id))
    }

    /// A channel the application may send on.
    fn sendable(&mut self, id: ChannelId) -> Result<&mut Channel, Error> {
        let c = self.channel_mut(id)?;
        if c.can_send() {
            Ok(c)
        } else {
            Err(Error::ChannelClosed(id))
        }
    }

    /// A channel the peer names, which must be open both ways (the peer knows our number
    /// only once we confirmed its open, or it confirmed ours).
    fn peer_channel(&mut self, recipient: u32, what: &'static str) -> Result<&mut Channel, Error> {
        match self.slot_mut(ChannelId(recipient)) {
            Some(c) if c.phase == Phase::Open => Ok(c),
            _ => Err(Error::peer(what, recipient)),
        }
    }

    /// Takes a free number for `channel`.
    fn allocate(&mut self, channel: Channel) -> Result<ChannelId, Error> {
        if self.in_use >= self.config.max_channels {
            return Err(Error::TooManyChannels);
        }
        let id = match self.free.pop_front() {
            Some(id) => {
                if let Some(slot) = usize::try_from(id)
                    .ok()
                    .and_then(|i| self.channels.get_mut(i))
                {
                    *slot = Some(channel);
                }
                id
            }
            None => {
                let id = u32::try_from(self.channels.len()).map_err(|_| Error::TooManyChannels)?;
                self.channels.push(Some(channel));
                id
            }
        };
        self.in_use += 1;
        Ok(ChannelId(id))
    }

    /// Frees a number, forgetting the channel and the requests it still counted.
    fn free_slot(&mut self, id: ChannelId) {
        let Some(slot) = usize::try_from(id.0)
            .ok()
            .and_then(|i| self.channels.get_mut(i))
        else {
            return;
        };
        if let Some(c) = slot.take() {
            self.pending_requests = self.pending_requests.saturating_sub(c.owed_replies.len());
            self.in_use = self.in_use.saturating_sub(1);
            self.free.push_back(id.0);
        }
    }

    fn release_if_done(&mut self, id: ChannelId) {
        if self.slot(id).is_some_and(Channel::releasable) {
            self.free_slot(id);
        }
    }

    /// Appends a payload built by `f` to the outgoing queue.
    fn queue(&mut self, f: impl FnOnce(&mut Writer)) {
        let mut w = Writer::from_vec(vec![0; self.headroom]);
        f(&mut w);
        self.transmit.push_back(w.into_vec());
    }

    fn queue_signal(&mut self, number: MessageNumber, recipient: u32) {
        self.queue(|w| ChannelSignal { number, recipient }.encode(w));
    }

    fn queue_open_failure(&mut self, recipient: u32, reason: OpenFailureReason, description: &str) {
        let m = OpenFailure {
            recipient,
            reason,
            description: Cow::Borrowed(description),
            language: Cow::Borrowed(""),
        };
        self.queue(|w| m.encode(w));
    }

    /// Counts one more request of the peer's, refusing to hold more than the limit.
    fn count_request(&mut self) -> Result<(), Error> {
        if self.pending_requests >= self.config.max_pending_requests {
            return Err(Error::peer_global(
                "too many requests awaiting the application",
            ));
        }
        self.pending_requests += 1;
        Ok(())
    }

    /// Sends the answered replies at the front of a channel's queue.
    fn flush_channel_replies(&mut self, id: ChannelId) {
        let Some(c) = self.slot_mut(id) else { return };
        if c.close_sent {
            return;
        }
        let recipient = c.remote_id;
        let mut answers = Vec::new();
        while let Some(OwedReply {
            answer: Some(ok), ..
        }) = c.owed_replies.front().copied()
        {
            c.owed_replies.pop_front();
            answers.push(ok);
        }
        for ok in answers {
            self.pending_requests = self.pending_requests.saturating_sub(1);
            let number = if ok {
                messages::CHANNEL_SUCCESS
            } else {
                messages::CHANNEL_FAILURE
            };
            self.queue_signal(number, recipient);
        }
    }

    /// Sends the answered global replies at the front of the queue.
    fn flush_global_replies(&mut self) {
        while let Some(OwedGlobalReply {
            answer: Some(_), ..
        }) = self.owed_global.front()
        {
            let Some(OwedGlobalReply {
                answer: Some((ok, data)),
                ..
            }) = self.owed_global.pop_front()
            else {
                break;
            };
            self.pending_requests = self.pending_requests.saturating_sub(1);
            if ok {
                self.queue(|w| RequestSuccess { data: &data }.encode(w));
            } else {
                self.queue(|w| RequestFailure.encode(w));
            }
        }
    }

    /// Empties a channel's receive buffers, counting the bytes as consumed.
    fn discard_buffers(c: &mut Channel) {
        let n = c.buffered();
        c.data = RecvBuffer::default();
        c.stderr = RecvBuffer::default();
        c.recv.consume(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Sends our CLOSE: from now on we send nothing on the channel, so the replies we still
    /// owe are dropped and the replies we await no longer matter.
    fn send_close(&mut self, id: ChannelId) {
        let Some(c) = self.slot_mut(id) else { return };
        c.close_sent = true;
        c.awaiting_replies.clear();
        let owed = c.owed_replies.len();
        c.owed_replies.clear();
        let recipient = c.remote_id;
        self.pending_requests = self.pending_requests.saturating_sub(owed);
        self.queue_signal(messages::CHANNEL_CLOSE, recipient);
    }

    /// Re-opens the window after the application consumed data, and frees a closed channel
    /// whose last bytes were just read.
    fn after_consume(&mut self, id: ChannelId) {
        let Some(c) = self.slot_mut(id) else { return };
        let adjust = c.recv.take_adjust();
        // Giving window back is pointless once the peer will send no more.
        let wanted =
            c.phase == Phase::Open && !c.eof_received && !c.close_sent && !c.close_received;
        let recipient = c.remote_id;
        if let (Some(bytes_to_add), true) = (adjust, wanted) {
            self.queue(|w| {
                WindowAdjust {
                    recipient,
                    bytes_to_add,
                }
                .encode(w)
            });
        }
        self.release_if_done(id);
    }

    fn send_stream(
        &mut self,
        id: ChannelId,
        data_type: Option<u32>,
        parts: &[&[u8]],
    ) -> Result<usize, Error> {
        self.check()?;
        let mut taken = 0;
        loop {
            let mut out = self.spare.pop().unwrap_or_default();
            out.resize(self.headroom, 0);
            let n = self.write_packet(id, data_type, parts, taken, &mut out)?;
            if n == 0 {
                self.recycle(out);
                break;
            }
            self.transmit.push_back(out);
            taken += n;
        }
        Ok(taken)
    }

    fn encode_stream(
        &mut self,
        id: ChannelId,
        data_type: Option<u32>,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, Error> {
        self.check()?;
        if !self.transmit.is_empty() {
            self.channel(id)?;
            return Ok(0);
        }
        self.write_packet(id, data_type, &[data], 0, out)
    }

    /// Writes one data packet with as much as the window allows of the data: `parts` one
    /// after another, less the first `skip` bytes.
    fn write_packet(
        &mut self,
        id: ChannelId,
        data_type: Option<u32>,
        parts: &[&[u8]],
        skip: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, Error> {
        let c = self.sendable(id)?;
        if c.eof_sent {
            return Err(Error::ChannelClosed(id));
        }
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let left = total.saturating_sub(skip);
        if left == 0 {
            return Ok(0);
        }
        let n = c.send.packet_len(left);
        if n == 0 {
            c.write_blocked = true;
            return Ok(0);
        }
        let len = u32::try_from(n).unwrap_or(u32::MAX);
        match data_type {
            None => ChannelData::encode_header(c.remote_id, len, out),
            Some(code) => ExtendedData::encode_header(c.remote_id, code, len, out),
        }
        let (mut skip, mut want) = (skip, n);
        for part in parts {
            let here = part.get(skip.min(part.len())..).unwrap_or_default();
            skip = skip.saturating_sub(part.len());
            let take = here.len().min(want);
            out.extend_from_slice(here.get(..take).unwrap_or_default());
            want -= take;
        }
        c.send.spend(n);
        if c.send.available() == 0 {
            c.write_blocked = true;
        }
        Ok(n)
    }

    // ----------------------------------------------------------------------------------
    // Dispatch of the peer's messages.

    fn dispatch(&mut self, payload: &[u8]) -> Result<(), Error> {
        let number = MessageNumber(payload.first().copied().unwrap_or(0));
        // RFC 4253 §11.4: "An implementation MUST respond to all unrecognized messages with an
        // SSH_MSG_UNIMPLEMENTED message". The connection protocol's numbers end at 100.
        if number.0 > 100 {
            return Err(Error::Unrecognized(number));
        }
        let msg = Message::decode(payload).map_err(|why| Error::InvalidMessage { number, why })?;
        match msg {
            Message::GlobalRequest(g) => self.on_global_request(g),
            Message::RequestSuccess(s) => self.on_global_reply(true, s.data),
            Message::RequestFailure => self.on_global_reply(false, &[]),
            Message::ChannelOpen(o) => self.on_open(o),
            Message::OpenConfirmation(c) => self.on_confirmation(&c),
            Message::OpenFailure(f) => self.on_open_failure(f),
            Message::WindowAdjust(a) => self.on_window_adjust(a),
            Message::Data(d) => self.on_data(d.recipient, None, d.data),
            Message::ExtendedData(d) => self.on_data(d.recipient, Some(d.data_type), d.data),
            Message::Signal(s) => match s.number {
                messages::CHANNEL_EOF => self.on_eof(s.recipient),
                messages::CHANNEL_CLOSE => self.on_close(s.recipient),
                messages::CHANNEL_SUCCESS => self.on_reply(s.recipient, true),
                _ => self.on_reply(s.recipient, false),
            },
            Message::ChannelRequest(r) => self.on_channel_request(r),
        }
    }

    fn on_global_request(&mut self, g: GlobalRequest<'_>) -> Result<(), Error> {
        // Requests the engine answers itself, as OpenSSH does: keepalive@openssh.com is
        // "unknown" to OpenSSH and answered with failure; no-more-sessions@openssh.com is
        // honoured by a server (and succeeds).
        let automatic = match (&*g.name, self.role) {
            (GlobalRequest::KEEPALIVE, _) => Some(false),
            (GlobalRequest::NO_MORE_SESSIONS, Role::Server) => {
                self.no_more_sessions = true;
                Some(true)
            }
            _ => None,
        };
        let reply = if g.want_reply {
            // RFC 4254 §4: "The recipient will respond to this message with
            // SSH_MSG_REQUEST_SUCCESS or SSH_MSG_REQUEST_FAILURE if 'want reply' is TRUE."
            self.count_request()?;
            let id = RequestId(self.next_request);
            self.next_request += 1;
            self.owed_global.push_back(OwedGlobalReply {
                id,
                answer: automatic.map(|ok| (ok, Vec::new())),
            });
            Some(id)
        } else {
            None
        };
        if automatic.is_some() {
            self.flush_global_replies();
            return Ok(());
        }
        if reply.is_none() {
            self.count_request()?;
        }
        self.events.push_back(Event::GlobalRequest {
            request: g.into_owned(),
            reply,
        });
        Ok(())
    }

    fn on_global_reply(&mut self, success: bool, data: &[u8]) -> Result<(), Error> {
        // RFC 4254 §4: replies "MUST be sent in the same order as the corresponding request
        // messages", so the oldest request we sent with want-reply is the one answered.
        let id = self.awaiting_global.pop_front().ok_or(Error::peer_global(
            "reply to a global request we did not send",
        ))?;
        self.events.push_back(Event::GlobalRequestReply {
            id,
            success,
            data: data.to_vec(),
        });
        Ok(())
    }

    fn on_open(&mut self, o: ChannelOpen<'_>) -> Result<(), Error> {
        let refusal = match (&o.channel_type, self.role) {
            // RFC 4254 §6.1: "Client implementations SHOULD reject any session channel open
            // requests to make it more difficult for a corrupt server to attack the client."
            (ChannelType::Session, Role::Client) => {
                Some("session channels are not opened to a client")
            }
            // OpenSSH PROTOCOL §2.2: after no-more-sessions@openssh.com "the server should
            // refuse any further session channel opens".
            (ChannelType::Session, Role::Server) if self.no_more_sessions => {
                Some("no more sessions")
            }
            // RFC 4254 §6.3.2 and §7.2: x11 and forwarded-tcpip go from server to client,
            // direct-tcpip from client to server.
            (ChannelType::X11 { .. } | ChannelType::ForwardedTcpip { .. }, Role::Server) => {
                Some("channel type not accepted by a server")
            }
            (ChannelType::DirectTcpip { .. }, Role::Client) => {
                Some("channel type not accepted by a client")
            }
            _ => None,
        };
        if let Some(why) = refusal {
            self.queue_open_failure(
                o.sender,
                OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                why,
            );
            return Ok(());
        }
        let recv = RecvWindow::new(self.config.initial_window, self.config.max_packet);
        let send = SendWindow::new(o.initial_window, o.max_packet, self.config.max_send_packet);
        match self.allocate(Channel::new(Phase::Offered, o.sender, recv, send)) {
            Ok(channel) => {
                self.events.push_back(Event::ChannelOpenRequest {
                    channel,
                    channel_type: o.channel_type.into_owned(),
                });
            }
            // A limit of ours, not a protocol error: refuse the open, keep the connection.
            Err(_) => self.queue_open_failure(
                o.sender,
                OpenFailureReason::RESOURCE_SHORTAGE,
                "too many channels",
            ),
        }
        Ok(())
    }

    fn on_confirmation(&mut self, m: &OpenConfirmation<'_>) -> Result<(), Error> {
        let our_cap = self.config.max_send_packet;
        let id = ChannelId(m.recipient);
        let c = match self.slot_mut(id) {
            Some(c) if c.phase == Phase::Opening => c,
            _ => {
                return Err(Error::peer(
                    "confirmation of a channel we are not opening",
                    m.recipient,
                ));
            }
        };
        c.phase = Phase::Open;
        c.remote_id = m.sender;
        c.send = SendWindow::new(m.initial_window, m.max_packet, our_cap);
        if c.close_sent {
            // The application closed the channel while it was opening.
            let recipient = c.remote_id;
            self.queue_signal(messages::CHANNEL_CLOSE, recipient);
        } else {
            self.events.push_back(Event::ChannelOpened { channel: id });
        }
        Ok(())
    }

    fn on_open_failure(&mut self, f: OpenFailure<'_>) -> Result<(), Error> {
        let id = ChannelId(f.recipient);
        match self.slot_mut(id) {
            Some(c) if c.phase == Phase::Opening => c.phase = Phase::Failed,
            _ => {
                return Err(Error::peer(
                    "open failure for a channel we are not opening",
                    f.recipient,
                ));
            }
        }
        self.events.push_back(Event::ChannelOpenFailed {
            channel: id,
            reason: f.reason,
            description: f.description.into_owned(),
        });
        Ok(())
    }

    fn on_window_adjust(&mut self, a: WindowAdjust) -> Result<(), Error> {
        let id = ChannelId(a.recipient);
        let c = self.peer_channel(a.recipient, "window adjust for a channel that is not open")?;
        if c.close_received {
            return Err(Error::peer("window adjust after CLOSE", a.recipient));
        }
        c.send
            .adjust(a.bytes_to_add)
            .map_err(|_| Error::peer("window adjust beyond 2^32 - 1 bytes", a.recipient))?;
        if c.write_blocked && c.send.available() > 0 && c.can_send() && !c.eof_sent {
            c.write_blocked = false;
            self.events.push_back(Event::Writable { channel: id });
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        recipient: u32,
        data_type: Option<u32>,
        data: &[u8],
    ) -> Result<(), Error> {
        if let Some(stream) = self.accept_data(recipient, data_type, data.len())? {
            self.queue_data(ChannelId(recipient), stream, |b| b.push_slice(data));
        }
        Ok(())
    }

    /// Queues data for the application, and says it is readable.
    fn queue_data(&mut self, id: ChannelId, stream: Stream, push: impl FnOnce(&mut RecvBuffer)) {
        let Some(c) = self.slot_mut(id) else {
            return;
        };
        let before = c.buffer(stream).len();
        push(c.buffer_mut(stream));
        if !c.readable_queued && c.buffer(stream).len() > before {
            c.readable_queued = true;
            self.events.push_back(Event::Readable { channel: id });
        }
    }

    /// Checks `len` bytes of data from the peer against the channel's state and window, and
    /// says which stream keeps them (`None`: nobody reads them, and the window is given back).
    fn accept_data(
        &mut self,
        recipient: u32,
        data_type: Option<u32>,
        len: usize,
    ) -> Result<Option<Stream>, Error> {
        let id = ChannelId(recipient);
        let c = self.peer_channel(recipient, "data for a channel that is not open")?;
        // RFC 4254 §5.3: CLOSE means the peer is done with the channel, and EOF that it "will
        // no longer send more data": anything after either is a protocol error.
        if c.close_received {
            return Err(Error::peer("data after CLOSE", recipient));
        }
        if c.eof_received {
            return Err(Error::peer("data after EOF", recipient));
        }
        c.recv.receive(len).map_err(|e| match e {
            RecvError::BeyondWindow => Error::peer("data beyond the window", recipient),
            RecvError::TooLarge => {
                Error::peer("data packet above the maximum packet size", recipient)
            }
        })?;
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        if c.close_sent {
            // In flight when we closed: the application no longer wants it.
            c.recv.consume(len);
            return Ok(None);
        }
        let stream = match data_type {
            None => Stream::Data,
            Some(EXTENDED_DATA_STDERR) => Stream::Stderr,
            Some(_) => {
                // RFC 4254 §5.2 defines only SSH_EXTENDED_DATA_STDERR; others are dropped
                // (as OpenSSH does), their window given back.
                c.recv.consume(len);
                self.after_consume(id);
                return Ok(None);
            }
        };
        Ok(Some(stream))
    }

    fn on_eof(&mut self, recipient: u32) -> Result<(), Error> {
        let c = self.peer_channel(recipient, "EOF for a channel that is not open")?;
        if c.close_received {
            return Err(Error::peer("EOF after CLOSE", recipient));
        }
        if c.eof_received {
            return Err(Error::peer("second EOF", recipient));
        }
        c.eof_received = true;
        if !c.close_sent {
            self.events.push_back(Event::Eof {
                channel: ChannelId(recipient),
            });
        }
        Ok(())
    }

    fn on_close(&mut self, recipient: u32) -> Result<(), Error> {
        let id = ChannelId(recipient);
        let c = self.peer_channel(recipient, "CLOSE for a channel that is not open")?;
        if c.close_received {
            return Err(Error::peer("second CLOSE", recipient));
        }
        c.close_received = true;
        // RFC 4254 §5.3: "Upon receiving this message, a party MUST send back an
        // SSH_MSG_CHANNEL_CLOSE unless it has already sent this message for the channel."
        if !c.close_sent {
            self.send_close(id);
        }
        // Both CLOSE messages are now exchanged (ours always goes first or just now).
        self.events.push_back(Event::Closed { channel: id });
        Ok(())
    }

    fn on_reply(&mut self, recipient: u32, success: bool) -> Result<(), Error> {
        let c = self.peer_channel(recipient, "reply for a channel that is not open")?;
        if c.close_received {
            return Err(Error::peer("request reply after CLOSE", recipient));
        }
        if c.close_sent {
            // We stopped listening when we closed; the reply was in flight.
            return Ok(());
        }
        // RFC 4254 §4: "replies that relate to the same channel MUST also be replied to in the
        // right order": the oldest outstanding request is the one answered.
        let id = c.awaiting_replies.pop_front().ok_or(Error::peer(
            "reply to a channel request we did not send",
            recipient,
        ))?;
        self.events.push_back(Event::ChannelRequestReply {
            channel: ChannelId(recipient),
            id,
            success,
        });
        Ok(())
    }

    fn on_channel_request(&mut self, r: ChannelRequest<'_>) -> Result<(), Error> {
        let recipient = r.recipient;
        let id = ChannelId(recipient);
        let c = self.peer_channel(recipient, "request for a channel that is not open")?;
        if c.close_received {
            return Err(Error::peer("request after CLOSE", recipient));
        }
        if c.close_sent {
            // We can no longer reply; the peer will see our CLOSE.
            return Ok(());
        }
        // keepalive@openssh.com: OpenSSH does not know it as a request and answers failure,
        // which its sender takes as proof of life.
        let automatic = matches!(r.request, ChannelRequestType::Keepalive).then_some(false);
        self.count_request()?;
        let reply = if r.want_reply {
            // RFC 4254 §5.4: "If 'want reply' is FALSE, no response will be sent to the
            // request. Otherwise, the recipient responds with either SSH_MSG_CHANNEL_SUCCESS,
            // SSH_MSG_CHANNEL_FAILURE, or request-specific continuation messages."
            let rid = RequestId(self.next_request);
            self.next_request += 1;
            if let Some(c) = self.slot_mut(id) {
                c.owed_replies.push_back(OwedReply {
                    id: rid,
                    answer: automatic,
                });
            }
            Some(rid)
        } else {
            None
        };
        if automatic.is_some() {
            match reply {
                Some(_) => self.flush_channel_replies(id),
                None => self.pending_requests = self.pending_requests.saturating_sub(1),
            }
            return Ok(());
        }
        self.events.push_back(Event::ChannelRequest {
            channel: id,
            request: r.request.into_owned(),
            reply,
        });
        Ok(())
    }
}
