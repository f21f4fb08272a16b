//! An authenticated SSH connection on tokio: the connection protocol and its channels.
//!
//! A [`Session`] is a cheap, cloneable handle. The connection itself runs in one task (see
//! [`Session::start`]) that owns the socket and the transport engine and moves bytes between
//! them and the [`sshwire_connection::Connection`] engine, which sits behind a mutex shared
//! with the handles. Channel handles ([`Channel`]) read and write that engine's buffers
//! directly and wake the task when there is something to send; the task wakes them when data,
//! window space, EOF, replies or the end of the connection arrive.
//!
//! Memory stays bounded whatever the peer does: received data is bounded by the windows we
//! advertise, data to send waits in the engine only up to a few packets (a writer that finds
//! the queue full waits), and encrypted output is only produced while the socket keeps up.

mod channel;
pub(crate) mod driver_task;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use sshwire_connection::{
    ChannelId, Connection, GlobalRequest, RequestId,
    messages::{ChannelType, OpenFailureReason},
};
use sshwire_transport::DisconnectReason;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, oneshot};

pub use channel::{Channel, ChannelReader, ChannelStderr, ChannelWriter, ExitStatus};
pub(crate) use channel::{ChunkReader, OwnedSender, Received};

use crate::{Driver, Error};

/// Payloads the connection engine may hold before writers wait for the task to send them.
const MAX_QUEUED_PAYLOADS: usize = 16;

/// Encrypted bytes not yet written to the socket above which the task stops producing more.
const MAX_QUEUED_OUTPUT: usize = 1024 * 1024;

/// Settings of a session's connection layer.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The connection engine's windows, packet sizes and limits.
    pub connection: sshwire_connection::Config,
    /// Send `keepalive@openssh.com` after this long without hearing from the peer (OpenSSH's
    /// `ServerAliveInterval`/`ClientAliveInterval`); `None` sends none.
    pub keepalive_interval: Option<Duration>,
    /// Unanswered keepalives after which the connection is given up (OpenSSH's
    /// `ServerAliveCountMax`, default 3).
    pub keepalive_count_max: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            connection: sshwire_connection::Config::openssh(),
            keepalive_interval: None,
            keepalive_count_max: 3,
        }
    }
}

/// Which side of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// What the connection task hands to a server's channel handler.
pub(crate) enum Incoming {
    /// A session channel was opened (already accepted).
    SessionOpened(ChannelId, u64),
    /// A channel request the handler decides on.
    Request {
        channel: ChannelId,
        serial: u64,
        request: sshwire_connection::ChannelRequestType<'static>,
        reply: Option<RequestId>,
    },
    /// The peer closed a channel.
    Closed(ChannelId, u64),
}

/// A handle to an authenticated SSH connection.
///
/// Clones share the connection. On the client side the connection is closed (with a
/// DISCONNECT) when the last `Session` and the last [`Channel`] are dropped.
pub struct Session {
    shared: Arc<Shared>,
}

impl Clone for Session {
    fn clone(&self) -> Self {
        self.shared.users.fetch_add(1, Ordering::Relaxed);
        Session {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.release_user();
    }
}

/// State shared between the connection task and the handles.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Wakes the connection task: there is output, or a disconnect was asked for.
    wake_task: Notify,
    /// Wakes whoever waits for the end of the connection.
    ended: Notify,
    /// Live `Session` and `Channel` handles (client side: none left means disconnect).
    users: AtomicUsize,
    side: Side,
    /// The connection's trace sink, for the channels' SFTP sessions.
    trace: Option<crate::trace::TraceSink>,
}

/// Where the reply to one of our global requests goes: success and its data, or the end.
type GlobalReplySender = oneshot::Sender<Result<(bool, Vec<u8>), Error>>;

/// The mutable part of [`Shared`].
pub(crate) struct Inner {
    pub(crate) conn: Connection,
    channels: HashMap<ChannelId, Slot>,
    next_serial: u64,
    globals: HashMap<RequestId, GlobalReplySender>,
    /// Why the connection ended, once it has.
    end: Option<Error>,
    /// A disconnect the application asked for, for the task to send.
    disconnect: Option<(DisconnectReason, String)>,
    /// Writers waiting for the outgoing queue to drain.
    queue_waiters: Vec<Waker>,
}

/// What the handles need to know about one channel.
#[derive(Default)]
struct Slot {
    /// Distinguishes this use of the channel number from earlier and later ones.
    serial: u64,
    opened: Option<oneshot::Sender<Result<(), Error>>>,
    replies: HashMap<RequestId, oneshot::Sender<bool>>,
    read: Option<Waker>,
    stderr: Option<Waker>,
    write: Option<Waker>,
    exit_waker: Option<Waker>,
    eof: bool,
    closed: bool,
    exit: Option<ExitStatus>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock means a handle panicked while holding it; the state is still
        // consistent (every update is a single engine call), so carry on.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Why the connection ended, or `otherwise` while it has not.
    fn end_error(&self, otherwise: &str) -> Error {
        self.lock()
            .end
            .clone()
            .unwrap_or_else(|| Error::Closed(otherwise.to_owned()))
    }

    fn release_user(&self) {
        if self.users.fetch_sub(1, Ordering::AcqRel) == 1 && self.side == Side::Client {
            let mut inner = self.lock();
            if inner.end.is_none() && inner.disconnect.is_none() {
                inner.disconnect = Some((
                    DisconnectReason::BY_APPLICATION,
                    "disconnected by user".to_owned(),
                ));
            }
            drop(inner);
            self.wake_task.notify_one();
        }
    }
}

impl Inner {
    /// The error every operation reports once the connection has ended.
    fn check(&self) -> Result<(), Error> {
        match &self.end {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records a channel number in use under a new serial.
    fn new_slot(&mut self, id: ChannelId) -> u64 {
        self.next_serial += 1;
        let serial = self.next_serial;
        self.channels.insert(
            id,
            Slot {
                serial,
                ..Slot::default()
            },
        );
        serial
    }

    fn slot(&mut self, id: ChannelId, serial: u64) -> Option<&mut Slot> {
        self.channels.get_mut(&id).filter(|s| s.serial == serial)
    }

    /// Ends the session: every waiter learns `error`.
    fn end(&mut self, error: Error) {
        if self.end.is_some() {
            return;
        }
        self.end = Some(error.clone());
        // Slots stay: readers may still take what arrived before the end.
        for slot in self.channels.values_mut() {
            if let Some(tx) = slot.opened.take() {
                let _ = tx.send(Err(error.clone()));
            }
            slot.replies.clear();
            for w in [
                slot.read.take(),
                slot.stderr.take(),
                slot.write.take(),
                slot.exit_waker.take(),
            ]
            .into_iter()
            .flatten()
            {
                w.wake();
            }
        }
        for (_, tx) in self.globals.drain() {
            let _ = tx.send(Err(error.clone()));
        }
        for w in self.queue_waiters.drain(..) {
            w.wake();
        }
    }

    /// Whether a writer should wait for the task to drain the outgoing queue.
    fn queue_full(&self) -> bool {
        self.conn.queued_transmits() >= MAX_QUEUED_PAYLOADS
    }
}

impl Session {
    /// Starts the connection task over an authenticated transport and returns its handle.
    ///
    /// The transport's user authentication must have succeeded (on a client, the
    /// `ssh-connection` service was requested through the userauth request). The task runs
    /// until the connection ends; its result says why.
    pub fn start_client<S>(
        driver: Driver<S>,
        config: SessionConfig,
    ) -> (Session, tokio::task::JoinHandle<Result<(), Error>>)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (session, task) = Self::start(driver, config, Side::Client);
        let handle = tokio::spawn(task.run(None));
        (session, handle)
    }

    /// As [`Session::start_client`] for a server: the task is returned to be run by the
    /// server with its channel handler.
    pub(crate) fn start_server<S>(
        driver: Driver<S>,
        config: SessionConfig,
    ) -> (Session, driver_task::Task<S>)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::start(driver, config, Side::Server)
    }

    fn start<S>(
        driver: Driver<S>,
        config: SessionConfig,
        side: Side,
    ) -> (Session, driver_task::Task<S>)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let mut conn = match side {
            Side::Client => Connection::client(config.connection.clone()),
            Side::Server => Connection::server(config.connection.clone()),
        };
        // Payloads leave room for the packet header, so that the transport seals them where
        // they lie (`Transport::send_owned`).
        conn.set_send_headroom(sshwire_transport::SEND_HEADROOM);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                conn,
                channels: HashMap::new(),
                next_serial: 0,
                globals: HashMap::new(),
                end: None,
                disconnect: None,
                queue_waiters: Vec::new(),
            }),
            wake_task: Notify::new(),
            ended: Notify::new(),
            users: AtomicUsize::new(1),
            side,
            trace: driver.trace_sink().cloned(),
        });
        let task = driver_task::Task::new(driver, shared.clone(), config);
        (Session { shared }, task)
    }

    /// Opens a `session` channel (RFC 4254 §6.1), ready for an exec or subsystem request.
    pub async fn open_session(&self) -> Result<Channel, Error> {
        self.open(&ChannelType::Session).await
    }

    /// Opens a `direct-tcpip` channel to `host:port` through the server (RFC 4254 §7.2).
    pub async fn open_direct_tcpip(
        &self,
        host: &str,
        port: u32,
        originator: &str,
        originator_port: u32,
    ) -> Result<Channel, Error> {
        let t = ChannelType::DirectTcpip {
            host: host.into(),
            port,
            originator: originator.into(),
            originator_port,
        };
        self.open(&t).await
    }

    async fn open(&self, channel_type: &ChannelType<'_>) -> Result<Channel, Error> {
        let (tx, rx) = oneshot::channel();
        let (id, serial) = {
            let mut inner = self.shared.lock();
            inner.check()?;
            let id = inner.conn.open_channel(channel_type)?;
            let serial = inner.new_slot(id);
            if let Some(slot) = inner.slot(id, serial) {
                slot.opened = Some(tx);
            }
            (id, serial)
        };
        self.shared.wake_task.notify_one();
        // Holding the handle from here means a cancelled open still closes the channel.
        let channel = Channel::new(self.shared.clone(), id, serial);
        match rx.await {
            Ok(Ok(())) => Ok(channel),
            Ok(Err(e)) => {
                channel.forget();
                Err(e)
            }
            Err(_) => {
                channel.forget();
                Err(self.end_error())
            }
        }
    }

    /// Sends a global request (RFC 4254 §4) and waits for the reply: the response data of a
    /// success, or [`Error::RequestRefused`].
    pub async fn global_request(&self, name: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
        let rx = {
            let mut inner = self.shared.lock();
            inner.check()?;
            let request = GlobalRequest {
                name: name.into(),
                want_reply: true,
                data: data.into(),
            };
            let id = inner.conn.global_request(&request)?;
            let (tx, rx) = oneshot::channel();
            if let Some(id) = id {
                inner.globals.insert(id, tx);
            }
            rx
        };
        self.shared.wake_task.notify_one();
        match rx.await {
            Ok(Ok((true, data))) => Ok(data),
            Ok(Ok((false, _))) => Err(Error::RequestRefused(format!("the {name} request"))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(self.end_error()),
        }
    }

    /// Sends `SSH_MSG_DISCONNECT` (by application) and closes the connection; channels report
    /// the connection closed from then on.
    pub async fn disconnect(&self) {
        {
            let mut inner = self.shared.lock();
            if inner.end.is_none() && inner.disconnect.is_none() {
                inner.disconnect = Some((
                    DisconnectReason::BY_APPLICATION,
                    "disconnected by user".to_owned(),
                ));
            }
        }
        self.shared.wake_task.notify_one();
        self.closed().await;
    }

    /// Waits until the connection has ended and returns why ([`Error::Closed`] after a clean
    /// disconnect by either side).
    pub async fn closed(&self) -> Error {
        loop {
            let notified = self.shared.ended.notified();
            if let Some(e) = self.shared.lock().end.clone() {
                return e;
            }
            notified.await;
        }
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().end.is_some()
    }

    fn end_error(&self) -> Error {
        self.shared.end_error("the connection task stopped")
    }
}

/// Maps the peer's reason code to the error an opener sees.
fn open_failed(reason: OpenFailureReason, description: String) -> Error {
    Error::ChannelOpenFailed {
        reason,
        description,
    }
}
