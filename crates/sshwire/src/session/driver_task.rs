//! The connection task: moves messages between the socket and the connection engine, and
//! turns the engine's events into wake-ups of the handles (and, on a server, calls of the
//! channel handler).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sshwire_connection::messages::{ChannelRequestType, ChannelType, OpenFailureReason};
use sshwire_connection::{ChannelId, Event as ConnEvent, GlobalRequest, RequestId};
use sshwire_transport::{DisconnectReason, Event, IN_PLACE_MIN};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::{
    Channel, ExitStatus, Incoming, MAX_QUEUED_OUTPUT, MAX_QUEUED_PAYLOADS, SessionConfig, Shared,
    open_failed,
};
use crate::driver::sleep_until;
use crate::server::Handler;
use crate::{Authenticated, Driver, Error};

/// `SSH_MSG_USERAUTH_REQUEST` (RFC 4252 §6), which a server ignores once the user is in.
const USERAUTH_REQUEST: u8 = 50;

/// Spare buffers for large packets the transport is topped up to from the process-wide
/// pool (see `Task::recycle`).
const MIN_TRANSPORT_SPARES: usize = 4;

/// A server's channel handler and the user it serves.
pub(crate) struct ServerSide {
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) user: Arc<Authenticated>,
}

/// One connection's task; see [`super::Session`].
pub(crate) struct Task<S> {
    driver: Driver<S>,
    shared: Arc<Shared>,
    config: SessionConfig,
    /// Our keepalive requests awaiting a reply.
    keepalives: HashSet<RequestId>,
    /// When we last heard from the peer.
    last_heard: Instant,
    /// Server side: session channels not handed to the handler (yet).
    parked: HashMap<ChannelId, Channel>,
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> Task<S> {
    pub(super) fn new(driver: Driver<S>, shared: Arc<Shared>, config: SessionConfig) -> Self {
        Task {
            driver,
            shared,
            config,
            keepalives: HashSet::new(),
            last_heard: Instant::now(),
            parked: HashMap::new(),
        }
    }

    /// Runs the connection until it ends, and tells every handle why.
    pub(crate) async fn run(mut self, server: Option<ServerSide>) -> Result<(), Error> {
        let result = self.run_inner(server.as_ref()).await;
        let end = match &result {
            Ok(()) => Error::Closed("disconnected".to_owned()),
            Err(e) if e.is_peer_hangup() => Error::Closed(e.to_string()),
            Err(e) => e.clone(),
        };
        self.parked.clear();
        self.shared.lock().end(end);
        self.shared.ended.notify_waiters();
        result
    }

    async fn run_inner(&mut self, server: Option<&ServerSide>) -> Result<(), Error> {
        // Large packets are read into buffers of their own, and channel data stays in them
        // until the application reads it (`Event::MessageAt`).
        self.driver.engine().set_messages_in_place(true);
        loop {
            let held_back = self.pump()?;
            let disconnect = self.shared.lock().disconnect.take();
            if let Some((reason, description)) = disconnect {
                self.driver.disconnect_in_place(reason, &description).await;
                return Ok(());
            }
            let keepalive_at = self.config.keepalive_interval.map(|i| self.last_heard + i);
            // While payloads wait for room in the transport, the task must come back for
            // them when the socket takes what is queued: the peer may be waiting for exactly
            // those payloads and send nothing until they come.
            let low_water = held_back.then_some(MAX_QUEUED_OUTPUT);
            let event = tokio::select! {
                ev = self.driver.next_event_or_room(low_water) => match ev {
                    Ok(Some(ev)) => Ok(ev),
                    Ok(None) => continue,
                    Err(e) => Err(e),
                },
                () = self.shared.wake_task.notified() => continue,
                () = sleep_until(keepalive_at) => {
                    self.keepalive().await?;
                    continue;
                }
            };
            // Key exchanges, pings, debug messages are the transport's business.
            match event? {
                // A message in a buffer of its own (copied, or the one its packet arrived in):
                // the payload is `buf[start..]`.
                Event::Message(buf) => self.on_message(buf, 0, server).await?,
                Event::MessageAt { buf, start } => self.on_message(buf, start, server).await?,
                // RFC 4253 §10: "If the server rejects the service request, it SHOULD send an
                // appropriate SSH_MSG_DISCONNECT message and MUST disconnect." Both services
                // are running: a second request for either is refused.
                Event::ServiceRequest(name) => {
                    let reason = DisconnectReason::SERVICE_NOT_AVAILABLE;
                    let description = format!("service {:?} is not available", name);
                    self.driver.disconnect_in_place(reason, &description).await;
                    return Err(sshwire_transport::Error::LocallyClosed {
                        reason,
                        description,
                    }
                    .into());
                }
                _ => {}
            }
        }
    }

    /// Moves the connection engine's output into the transport while the socket keeps up,
    /// and wakes writers once the queue has room; returns whether payloads are left waiting
    /// for the socket.
    ///
    /// The payloads come with room for the packet header in front (the engine's send
    /// headroom), so the transport seals each in its own buffer and the driver writes it
    /// from there: channel data is copied once, from the writer into the packet.
    fn pump(&mut self) -> Result<bool, Error> {
        let mut inner = self.shared.lock();
        while self.driver.queued_output() < MAX_QUEUED_OUTPUT {
            let capacity = self.driver.engine().send_capacity();
            match inner.conn.next_transmit_len() {
                None => break,
                // A key exchange is in flight and its queue is full: the payload waits.
                Some(len) if len > capacity => break,
                Some(_) => {}
            }
            if let Some(next) = inner.conn.poll_transmit() {
                // Sealed where it lies, and written from there.
                self.driver.engine().send_owned(next)?;
            }
        }
        // Packets written give their buffers back for later packets; those the engine does
        // not keep (the SFTP server's DATA blocks, sent in their own buffers, once the engine
        // has its fill) go to the process-wide pool the next blocks are read into.
        while let Some(spent) = self.driver.take_spent() {
            if let Some(unkept) = inner.conn.recycle(spent) {
                sshwire_sftp::buffers::give(unkept);
            }
        }
        if inner.conn.queued_transmits() < MAX_QUEUED_PAYLOADS {
            for w in inner.queue_waiters.drain(..) {
                w.wake();
            }
        }
        Ok(inner.conn.wants_transmit() && self.driver.queued_output() >= MAX_QUEUED_OUTPUT)
    }

    /// Sends `keepalive@openssh.com`, or gives up after too many went unanswered.
    async fn keepalive(&mut self) -> Result<(), Error> {
        self.last_heard = Instant::now();
        if self.keepalives.len() >= self.config.keepalive_count_max.max(1) as usize {
            let why = "Timeout, peer not responding";
            self.driver
                .disconnect_in_place(DisconnectReason::BY_APPLICATION, why)
                .await;
            return Err(Error::Timeout);
        }
        let request = GlobalRequest {
            name: GlobalRequest::KEEPALIVE.into(),
            want_reply: true,
            data: (&[][..]).into(),
        };
        let id = self.shared.lock().conn.global_request(&request)?;
        self.keepalives.extend(id);
        Ok(())
    }

    /// Gives message buffers back to the transport: this one (unless the connection kept it,
    /// as it keeps channel data until it is read) and those whose data has been read.
    fn recycle(&mut self, m: Vec<u8>) {
        if m.capacity() > 0 {
            self.driver.engine().recycle(m);
        } else if self.driver.engine().spare_buffers() < MIN_TRANSPORT_SPARES
            && let Some(b) = sshwire_sftp::buffers::take_at_least(IN_PLACE_MIN)
        {
            // The connection kept the buffer (channel data). A reader that takes such
            // buffers for good (the SFTP server's large WRITEs) leaves them in the
            // process-wide pool when done: one comes back from there, so that large packets
            // do not each fault in fresh memory.
            self.driver.engine().recycle(b);
        }
        let mut inner = self.shared.lock();
        while let Some(spare) = inner.conn.take_spare() {
            self.driver.engine().recycle(spare);
        }
    }

    /// Acts on a message for the connection layer at `buf[start..]`, and gives its buffer
    /// back unless the connection engine keeps it.
    async fn on_message(
        &mut self,
        mut buf: Vec<u8>,
        start: usize,
        server: Option<&ServerSide>,
    ) -> Result<(), Error> {
        self.last_heard = Instant::now();
        // RFC 4252 §5.1: "Any authentication requests received after the
        // SSH_MSG_USERAUTH_SUCCESS message SHOULD be silently ignored."
        if server.is_some() && buf.get(start) == Some(&USERAUTH_REQUEST) {
            self.driver.engine().recycle(buf);
            return Ok(());
        }
        self.handle_message(&mut buf, start, server).await?;
        self.recycle(buf);
        Ok(())
    }

    /// Hands the message at `m[start..]` to the connection engine (which may keep the
    /// buffer, for channel data), and acts on what comes of it.
    async fn handle_message(
        &mut self,
        m: &mut Vec<u8>,
        start: usize,
        server: Option<&ServerSide>,
    ) -> Result<(), Error> {
        loop {
            let r = self.shared.lock().conn.handle_message_owned_at(m, start);
            match r {
                Err(sshwire_connection::Error::OutputFull) => {
                    // The peer sends faster than it reads our answers: stop reading until
                    // what we owe it is written.
                    self.pump()?;
                    self.driver.flush().await?;
                }
                Err(sshwire_connection::Error::Unrecognized(_)) => {
                    // RFC 4253 §11.4: answered with SSH_MSG_UNIMPLEMENTED; the session goes on.
                    self.driver.engine().reject_message()?;
                    break;
                }
                Err(e) => {
                    if let Some((reason, description)) = e.disconnect() {
                        self.driver.disconnect_in_place(reason, &description).await;
                    }
                    return Err(e.into());
                }
                Ok(()) => break,
            }
        }
        let incoming = self.dispatch_events(server.is_some());
        if let Some(server) = server {
            for i in incoming {
                self.serve(server, i);
            }
        }
        Ok(())
    }

    /// Acts on the engine's events; returns what the server's handler must decide.
    fn dispatch_events(&mut self, is_server: bool) -> Vec<Incoming> {
        let mut incoming = Vec::new();
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        while let Some(event) = inner.conn.poll_event() {
            match event {
                ConnEvent::Readable { channel } => {
                    if let Some(s) = inner.channels.get_mut(&channel) {
                        wake(&mut s.read);
                        wake(&mut s.stderr);
                    }
                }
                ConnEvent::Writable { channel } => {
                    if let Some(s) = inner.channels.get_mut(&channel) {
                        wake(&mut s.write);
                    }
                }
                ConnEvent::Eof { channel } => {
                    if let Some(s) = inner.channels.get_mut(&channel) {
                        s.eof = true;
                        wake(&mut s.read);
                        wake(&mut s.stderr);
                    }
                }
                ConnEvent::Closed { channel } => {
                    if let Some(s) = inner.channels.get_mut(&channel) {
                        s.closed = true;
                        for w in [&mut s.read, &mut s.stderr, &mut s.write, &mut s.exit_waker] {
                            wake(w);
                        }
                        s.replies.clear();
                        if is_server {
                            incoming.push(Incoming::Closed(channel, s.serial));
                        }
                    }
                }
                ConnEvent::ChannelOpened { channel } => {
                    if let Some(tx) = inner
                        .channels
                        .get_mut(&channel)
                        .and_then(|s| s.opened.take())
                    {
                        let _ = tx.send(Ok(()));
                    }
                }
                ConnEvent::ChannelOpenFailed {
                    channel,
                    reason,
                    description,
                } => {
                    if let Some(tx) = inner
                        .channels
                        .get_mut(&channel)
                        .and_then(|s| s.opened.take())
                    {
                        let _ = tx.send(Err(open_failed(reason, description)));
                    }
                }
                ConnEvent::ChannelRequestReply {
                    channel,
                    id,
                    success,
                } => {
                    if let Some(tx) = inner
                        .channels
                        .get_mut(&channel)
                        .and_then(|s| s.replies.remove(&id))
                    {
                        let _ = tx.send(success);
                    }
                }
                ConnEvent::GlobalRequestReply { id, success, data } => {
                    // Any answer to a keepalive, even a failure, shows the peer is alive.
                    self.keepalives.remove(&id);
                    if let Some(tx) = inner.globals.remove(&id) {
                        let _ = tx.send(Ok((success, data)));
                    }
                }
                ConnEvent::GlobalRequest {
                    reply: Some(id), ..
                } => {
                    // No port forwarding: every other global request is refused
                    // (RFC 4254 §4: "SSH_MSG_REQUEST_FAILURE" for requests not recognized or
                    // not supported).
                    let _ = inner.conn.reply_global(id, false, &[]);
                }
                ConnEvent::ChannelOpenRequest {
                    channel,
                    channel_type,
                } => {
                    if is_server && channel_type == ChannelType::Session {
                        if inner.conn.accept_channel(channel).is_ok() {
                            let serial = inner.new_slot(channel);
                            incoming.push(Incoming::SessionOpened(channel, serial));
                        }
                    } else {
                        let _ = inner.conn.reject_channel(
                            channel,
                            OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                            "channel type not supported",
                        );
                    }
                }
                ConnEvent::ChannelRequest {
                    channel,
                    request,
                    reply,
                } => {
                    let Some(slot) = inner.channels.get_mut(&channel) else {
                        if let Some(id) = reply {
                            let _ = inner.conn.reply(channel, id, false);
                        }
                        continue;
                    };
                    match (&request, is_server) {
                        (ChannelRequestType::ExitStatus { status }, false) => {
                            slot.exit = Some(ExitStatus::Code(*status));
                            wake(&mut slot.exit_waker);
                        }
                        (
                            ChannelRequestType::ExitSignal {
                                signal,
                                core_dumped,
                                message,
                                ..
                            },
                            false,
                        ) => {
                            slot.exit = Some(ExitStatus::Signal {
                                name: signal.to_string(),
                                core_dumped: *core_dumped,
                                message: message.to_string(),
                            });
                            wake(&mut slot.exit_waker);
                        }
                        (_, true) => {
                            incoming.push(Incoming::Request {
                                channel,
                                serial: slot.serial,
                                request,
                                reply,
                            });
                            continue;
                        }
                        _ => {}
                    }
                    if let Some(id) = reply {
                        let _ = inner.conn.reply(channel, id, false);
                    }
                }
                _ => {}
            }
        }
        incoming
    }

    /// Server side: hands a channel to the handler, or answers for it.
    fn serve(&mut self, server: &ServerSide, incoming: Incoming) {
        match incoming {
            Incoming::SessionOpened(channel, serial) => {
                let handle = Channel::new(self.shared.clone(), channel, serial);
                self.parked.insert(channel, handle);
            }
            Incoming::Closed(channel, serial) => {
                if self
                    .parked
                    .get(&channel)
                    .is_some_and(|c| c.serial() == serial)
                {
                    self.parked.remove(&channel);
                }
            }
            Incoming::Request {
                channel,
                serial,
                request,
                reply,
            } => {
                let parked = self
                    .parked
                    .remove(&channel)
                    .filter(|c| c.serial() == serial);
                let accepted = match (parked, &request) {
                    (Some(handle), ChannelRequestType::Subsystem { name }) => {
                        self.offer(handle, |h| server.handler.subsystem(&server.user, name, h))
                    }
                    (Some(handle), ChannelRequestType::Exec { command }) => {
                        self.offer(handle, |h| server.handler.exec(&server.user, command, h))
                    }
                    (Some(handle), _) => {
                        // pty-req, env, shell, signals: not offered to the handler.
                        self.parked.insert(channel, handle);
                        false
                    }
                    // Requests on a channel the handler already serves.
                    (None, _) => false,
                };
                if let Some(id) = reply {
                    let _ = self.shared.lock().conn.reply(channel, id, accepted);
                }
            }
        }
    }

    /// Offers a channel to the handler; a refused one stays parked.
    fn offer(&mut self, handle: Channel, f: impl FnOnce(Channel) -> Result<(), Channel>) -> bool {
        match f(handle) {
            Ok(()) => true,
            Err(handle) => {
                self.parked.insert(handle.id(), handle);
                false
            }
        }
    }
}

fn wake(w: &mut Option<std::task::Waker>) {
    if let Some(w) = w.take() {
        w.wake();
    }
}
