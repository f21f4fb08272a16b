//! The server endpoint: an accept loop with one task per connection, authentication through
//! an [`Authenticator`], channels through a [`Handler`], limits on unauthenticated
//! connections, a [`Gatekeeper`] that may refuse sources, a [`Service`] that can be swapped
//! for new connections (a reload), and a graceful shutdown.
//!
//! Operational events (listening, accepted, logins and failures, session ends with duration
//! and bytes, disconnect reasons, shutdown) are emitted with `tracing`, each with an `event`
//! field naming it; the library installs no subscriber. Text the peer chose is escaped.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use sshwire_auth::ServerPolicy;
use sshwire_keys::PrivateKey;
use sshwire_transport::{Config, Event, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::server_auth::{AuthTally, authenticate_counted};
use crate::session::driver_task::ServerSide;
use crate::{
    Authenticated, Authenticator, Channel, Driver, Error, Session, SessionConfig, system_rng,
};

/// Decides what the session channels of an authenticated user may do.
///
/// Each method gets the channel itself: to accept, keep it (serve it from a task of your own,
/// for instance with `tokio::spawn`) and return `Ok`; the peer then gets SUCCESS. To refuse,
/// hand it back with `Err`; the peer gets FAILURE and the channel stays open for another
/// request. Methods are called from the connection's task and must not block.
pub trait Handler: Send + Sync + 'static {
    /// A `subsystem` request (RFC 4254 §6.5), such as `sftp`. Refused by default.
    fn subsystem(
        &self,
        user: &Arc<Authenticated>,
        name: &str,
        channel: Channel,
    ) -> Result<(), Channel> {
        let _ = (user, name);
        Err(channel)
    }

    /// An `exec` request (RFC 4254 §6.5). Refused by default.
    fn exec(
        &self,
        user: &Arc<Authenticated>,
        command: &[u8],
        channel: Channel,
    ) -> Result<(), Channel> {
        let _ = (user, command);
        Err(channel)
    }
}

/// A handler that refuses every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefuseAll;

impl Handler for RefuseAll {}

/// Watches connections by their source address: refuses some at once, and hears how each
/// admitted one ended.
///
/// A brute-force defender (penalties per source address, like OpenSSH's
/// `PerSourcePenalties`) implements it; see [`ServerSettings::gatekeeper`]. Methods are
/// called from the accept loop and the connection tasks and must not block.
pub trait Gatekeeper: Send + Sync + 'static {
    /// Whether to serve a new connection from `peer`. A refused connection is closed at once,
    /// before the version exchange and any key exchange work.
    fn admit(&self, peer: SocketAddr) -> bool;

    /// An admitted connection from `peer` has ended, as `outcome` says.
    fn ended(&self, peer: SocketAddr, outcome: Outcome);
}

/// How a connection ended, for a [`Gatekeeper`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A user logged in (whatever happened to the session afterwards).
    LoggedIn,
    /// It ended without a login after this many failed attempts (one or more).
    AuthFailed {
        /// The attempts that failed, as counted for `max_attempts`.
        failures: u32,
    },
    /// It ended without a login and without a failed attempt: no request at all (a scanner,
    /// `ssh-keyscan`), a protocol error, or the login grace time ran out.
    NoAuth,
    /// The server dropped it: too many unauthenticated connections, or shutdown.
    Dropped,
}

/// What a connection is served with, chosen when it is accepted.
///
/// [`Server::serve_services`] takes them from a `watch` channel: a server that reloads its
/// configuration sends a new `Service`, which later connections get, while connections
/// already accepted keep the one they started with for their whole life.
#[derive(Clone)]
pub struct Service {
    /// Decides whose credentials are good.
    pub authenticator: Arc<dyn Authenticator>,
    /// Serves the channels of the users who logged in.
    pub handler: Arc<dyn Handler>,
    /// The authentication policy, in place of [`ServerSettings::policy`] when set.
    pub policy: Option<Arc<ServerPolicy>>,
}

/// Everything a server needs for every connection.
#[derive(Clone)]
pub struct ServerSettings {
    /// Algorithms and rekey limits of the transport.
    pub transport: Arc<Config>,
    /// The host keys offered.
    pub host_keys: Vec<Arc<PrivateKey>>,
    /// The authentication policy (methods, attempts, delays, banner).
    pub policy: Arc<ServerPolicy>,
    /// The connection layer's windows and limits, and the keepalive (`ClientAliveInterval`).
    pub session: SessionConfig,
    /// Time from accept to authentication, after which the connection is dropped (OpenSSH's
    /// `LoginGraceTime`, 120 s). The userauth engine enforces it too, with a DISCONNECT.
    pub login_grace_time: Duration,
    /// Most connections that have not authenticated yet; see [`Server::serve`].
    pub max_unauthenticated: usize,
    /// Admits or refuses each new connection by its source address, and hears how each
    /// ended (none by default: every connection is admitted).
    pub gatekeeper: Option<Arc<dyn Gatekeeper>>,
    /// Where to trace every message of every connection, and the packets of the SFTP
    /// sessions [`crate::sftp_server::SftpSubsystem`] runs ([`crate::trace`]); `None` traces
    /// nothing.
    pub trace: Option<crate::trace::TraceSink>,
}

impl ServerSettings {
    /// Defaults for `host_keys`: 16 MiB windows and 255 KiB packets, 6 attempts, 120 s
    /// grace time, 100 unauthenticated connections.
    ///
    /// The windows are sshwire's own (`Config::sshwire`), for every client: OpenSSH's clients
    /// send as much as the window and packet size we advertise allow, and with OpenSSH's 2 MiB
    /// an SFTP upload of 64 requests of 255 KiB keeps stalling on window adjusts (see
    /// docs/performance.md). What a server buffers stays bounded by the window per channel.
    pub fn new(host_keys: Vec<Arc<PrivateKey>>) -> Self {
        ServerSettings {
            transport: Arc::new(Config::default()),
            host_keys,
            policy: Arc::new(ServerPolicy::default()),
            session: SessionConfig {
                connection: sshwire_connection::Config::sshwire(),
                ..SessionConfig::default()
            },
            login_grace_time: Duration::from_secs(120),
            max_unauthenticated: 100,
            gatekeeper: None,
            trace: None,
        }
    }
}

/// A server: settings shared by all its connections.
#[derive(Clone)]
pub struct Server {
    settings: Arc<ServerSettings>,
    startups: Arc<Startups>,
}

impl Server {
    /// A server offering `host_keys` with `config`, and defaults for the rest.
    pub fn new(config: Arc<Config>, host_keys: Vec<Arc<PrivateKey>>) -> Self {
        Server::with_settings(ServerSettings {
            transport: config,
            ..ServerSettings::new(host_keys)
        })
    }

    /// A server with `settings`.
    pub fn with_settings(settings: ServerSettings) -> Self {
        let startups = Arc::new(Startups::new(settings.max_unauthenticated));
        Server {
            settings: Arc::new(settings),
            startups,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &ServerSettings {
        &self.settings
    }

    /// Wraps an accepted TCP connection in a driver and completes the first key exchange.
    pub async fn handshake_tcp(&self, stream: TcpStream) -> Result<Driver<TcpStream>, Error> {
        stream.set_nodelay(true)?;
        self.handshake(stream).await
    }

    /// Completes the first key exchange over any stream.
    pub async fn handshake<S: AsyncRead + AsyncWrite>(
        &self,
        stream: S,
    ) -> Result<Driver<S>, Error> {
        let engine = Transport::server(
            self.settings.transport.clone(),
            self.settings.host_keys.clone(),
            system_rng(),
        );
        let mut driver = Driver::new(stream, engine);
        if let Some(sink) = &self.settings.trace {
            driver.set_trace("server", sink.clone());
        }
        loop {
            if let Event::KexComplete { first: true, .. } = driver.next_event().await? {
                return Ok(driver);
            }
        }
    }

    /// Runs one connection from its first byte to its end: key exchange, authentication,
    /// then the session with `handler`. Returns who logged in.
    ///
    /// `on_login` is called once the user is in, before any channel opens.
    pub async fn serve_connection<S>(
        &self,
        stream: S,
        authenticator: Arc<dyn Authenticator>,
        handler: Arc<dyn Handler>,
        on_login: impl FnOnce(&Arc<Authenticated>, &Session),
    ) -> Result<Arc<Authenticated>, Error>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let service = Service {
            authenticator,
            handler,
            policy: None,
        };
        let tally = AuthTally::default();
        self.serve_stages(stream, service, None, None, &tally, on_login)
            .await
    }

    async fn serve_stages<S>(
        &self,
        stream: S,
        service: Service,
        ticket: Option<u64>,
        peer: Option<SocketAddr>,
        tally: &AuthTally,
        on_login: impl FnOnce(&Arc<Authenticated>, &Session),
    ) -> Result<Arc<Authenticated>, Error>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let Service {
            authenticator,
            handler,
            policy,
        } = service;
        let policy = policy.unwrap_or_else(|| self.settings.policy.clone());
        let (driver, user) = tokio::time::timeout(self.settings.login_grace_time, async {
            let mut driver = self.handshake(stream).await?;
            if let Some(id) = ticket {
                self.startups.progressed(id);
            }
            let user =
                authenticate_counted(&mut driver, policy, authenticator, peer, tally).await?;
            Ok::<_, Error>((driver, user))
        })
        .await
        .map_err(|_| Error::Timeout)??;
        if let Some(id) = ticket {
            self.startups.leave(id);
        }
        let user = Arc::new(user);
        let (session, task) = Session::start_server(driver, self.settings.session.clone());
        on_login(&user, &session);
        drop(session);
        let side = ServerSide {
            handler,
            user: user.clone(),
        };
        match task.run(Some(side)).await {
            Ok(()) => Ok(user),
            Err(e) if e.is_peer_hangup() => Ok(user),
            Err(e) => Err(e),
        }
    }

    /// Accepts connections on `listener` until `shutdown` completes, one task each.
    ///
    /// Unauthenticated connections are limited to
    /// [`ServerSettings::max_unauthenticated`]. Unlike OpenSSH's `MaxStartups`, which refuses
    /// new connections at random once many are pending (so that a few hundred idle
    /// connections lock everyone out), a new connection at the limit evicts the oldest
    /// pending one that has made the least progress: first those still before the end of
    /// their key exchange, then those in authentication. A client that logs in within the
    /// time it takes an attacker to open `max_unauthenticated` connections always gets in.
    ///
    /// On shutdown the listener closes and connections not yet authenticated are dropped;
    /// authenticated sessions get `drain` to finish, then are sent a DISCONNECT. `log` hears
    /// one line per event worth logging (logins, failures).
    ///
    /// Besides `log`, every event is emitted with `tracing` (target `sshwire::server` and
    /// `sshwire::server_auth`, each with an `event` field naming it): listening, accepted,
    /// refused, authentication verdicts, logins, session ends with their duration and bytes,
    /// disconnect reasons, shutdown.
    pub async fn serve(
        &self,
        listener: TcpListener,
        authenticator: Arc<dyn Authenticator>,
        handler: Arc<dyn Handler>,
        shutdown: impl Future<Output = ()>,
        drain: Duration,
        log: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Result<(), Error> {
        let (_keep, services) = watch::channel(Service {
            authenticator,
            handler,
            policy: None,
        });
        self.serve_services(listener, services, shutdown, drain, log)
            .await
    }

    /// [`Server::serve`] with what each connection is served with taken from `services` when
    /// it is accepted: send a new [`Service`] there to change it for later connections (a
    /// configuration reload); connections already accepted keep theirs.
    pub async fn serve_services(
        &self,
        listener: TcpListener,
        services: watch::Receiver<Service>,
        shutdown: impl Future<Output = ()>,
        drain: Duration,
        log: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Result<(), Error> {
        if let Ok(address) = listener.local_addr() {
            tracing::info!(event = "listening", address = %address, "listening");
        }
        let (stop_tx, stop_rx) = watch::channel(Phase::Running);
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: say so, and go on.
                        tracing::warn!(event = "accept_failed", error = %e, "accept failed");
                        log(&format!("accept failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            if let Some(gate) = &self.settings.gatekeeper
                && !gate.admit(peer)
            {
                // Debug only: refusals can come as fast as an attacker connects; the
                // gatekeeper logs what it decides.
                tracing::debug!(
                    event = "connection_refused",
                    peer = %peer,
                    "connection refused by the gatekeeper"
                );
                drop(stream);
                continue;
            }
            tracing::info!(event = "connection_accepted", peer = %peer, "connection accepted");
            let ticket = self.startups.admit();
            let server = self.clone();
            let service = services.borrow().clone();
            let log = log.clone();
            let stop = stop_rx.clone();
            tasks.spawn(async move {
                server
                    .connection_task(stream, peer, ticket, service, log, stop)
                    .await;
            });
        }
        drop(listener);
        tracing::info!(
            event = "shutdown",
            sessions = tasks.len(),
            drain_seconds = drain.as_secs(),
            "no longer accepting; draining"
        );
        let _ = stop_tx.send(Phase::Draining);
        let deadline = tokio::time::Instant::now() + drain;
        loop {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    // Drain time is over: tell the remaining sessions, and give them a moment
                    // to say goodbye.
                    tracing::info!(
                        event = "drain_over",
                        sessions = tasks.len(),
                        "drain time over: disconnecting the remaining sessions"
                    );
                    let _ = stop_tx.send(Phase::Disconnect);
                    let grace = tokio::time::Instant::now() + Duration::from_secs(5);
                    while let Ok(Some(_)) = tokio::time::timeout_at(grace, tasks.join_next()).await
                    {
                    }
                    tasks.abort_all();
                    break;
                }
            }
        }
        tracing::info!(event = "stopped", "stopped");
        Ok(())
    }

    /// One accepted connection, watched by the startup limit and the shutdown signal.
    async fn connection_task(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        mut ticket: Ticket,
        service: Service,
        log: Arc<dyn Fn(&str) + Send + Sync>,
        mut stop: watch::Receiver<Phase>,
    ) {
        let _ = stream.set_nodelay(true);
        let started = Instant::now();
        let stream = Counted::new(stream);
        let (bytes_in, bytes_out) = (stream.read.clone(), stream.written.clone());
        let tally = AuthTally::default();
        let login: Arc<Mutex<Option<Login>>> = Arc::new(Mutex::new(None));
        let slot = login.clone();
        let login_log = log.clone();
        let work = self.serve_stages(
            stream,
            service,
            Some(ticket.id),
            Some(peer),
            &tally,
            move |who, session| {
                tracing::info!(
                    event = "session_start",
                    peer = %peer,
                    user = who.user,
                    "session started"
                );
                if let Ok(mut s) = slot.lock() {
                    *s = Some(Login {
                        session: session.clone(),
                        user: who.user.clone(),
                        at: Instant::now(),
                    });
                }
                login_log(&format!(
                    "{peer}: {} logged in ({})",
                    who.user,
                    who.methods
                        .iter()
                        .map(|m| m.name())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            },
        );
        tokio::pin!(work);
        let mut evicted = ticket.evicted.take();
        let mut dropped = false;
        let result = loop {
            tokio::select! {
                r = &mut work => break Some(r),
                fired = async {
                    match evicted.as_mut() {
                        // Ok: evicted. Err: the ticket left the list (logged in or gone).
                        Some(rx) => rx.await.is_ok(),
                        None => std::future::pending().await,
                    }
                } => {
                    evicted = None;
                    if fired {
                        tracing::info!(
                            event = "evicted",
                            peer = %peer,
                            "dropped: too many unauthenticated connections"
                        );
                        log(&format!("{peer}: dropped: too many unauthenticated connections"));
                        dropped = true;
                        break None;
                    }
                }
                Ok(()) = stop.changed() => {
                    let phase = *stop.borrow_and_update();
                    let session = login.lock().ok().and_then(|s| s.as_ref().map(|l| l.session.clone()));
                    match (session, phase) {
                        (None, _) => {
                            dropped = true;
                            break None;
                        }
                        (Some(s), Phase::Disconnect) => s.disconnect().await,
                        (Some(_), _) => {}
                    }
                }
            }
        };
        drop(ticket);
        let reason = match &result {
            Some(Err(e)) => {
                // The error's text may quote the peer (a DISCONNECT's description, a service
                // name, a version): escaped, it cannot start a forged line of its own.
                let why = printable(&e.to_string());
                log(&format!("{peer}: {why}"));
                why
            }
            Some(Ok(_)) => "closed".to_owned(),
            None => "dropped by the server".to_owned(),
        };
        let (read, written) = (
            bytes_in.load(Ordering::Relaxed),
            bytes_out.load(Ordering::Relaxed),
        );
        let logged_in = login.lock().ok().and_then(|mut l| l.take());
        let outcome = match (&logged_in, tally.failures()) {
            (Some(_), _) => Outcome::LoggedIn,
            (None, _) if dropped => Outcome::Dropped,
            (None, 0) => Outcome::NoAuth,
            (None, failures) => Outcome::AuthFailed { failures },
        };
        match logged_in {
            Some(l) => tracing::info!(
                event = "session_end",
                peer = %peer,
                user = l.user,
                duration_ms = millis(l.at.elapsed()),
                bytes_in = read,
                bytes_out = written,
                reason,
                "session ended"
            ),
            None => tracing::info!(
                event = "connection_end",
                peer = %peer,
                duration_ms = millis(started.elapsed()),
                failures = tally.failures(),
                bytes_in = read,
                bytes_out = written,
                reason,
                "connection closed before login"
            ),
        }
        if let Some(gate) = &self.settings.gatekeeper {
            gate.ended(peer, outcome);
        }
    }
}

/// Who logged in on a connection, and when.
struct Login {
    session: Session,
    user: String,
    at: Instant,
}

/// A duration in whole milliseconds, for a log field.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A stream that counts the bytes read and written through it.
struct Counted<S> {
    inner: S,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl<S> Counted<S> {
    fn new(inner: S) -> Self {
        Counted {
            inner,
            read: Arc::default(),
            written: Arc::default(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        this.read.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            this.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// `text` with its control characters (newlines, carriage returns, escapes) escaped, for a
/// log line.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Where a server's shutdown stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Draining,
    Disconnect,
}

/// The unauthenticated connections, oldest first, for the startup limit.
struct Startups {
    limit: usize,
    state: Mutex<StartupState>,
}

#[derive(Default)]
struct StartupState {
    next: u64,
    pending: BTreeMap<u64, Pending>,
}

struct Pending {
    /// Whether the key exchange has completed (evicted after those that have not).
    progressed: bool,
    evict: Option<oneshot::Sender<()>>,
}

/// A connection's place among the unauthenticated; dropping it leaves.
struct Ticket {
    id: u64,
    startups: Arc<Startups>,
    evicted: Option<oneshot::Receiver<()>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.startups.leave(self.id);
    }
}

impl Startups {
    fn new(limit: usize) -> Self {
        Startups {
            limit: limit.max(1),
            state: Mutex::new(StartupState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StartupState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a new connection, evicting the least advanced pending one at the limit.
    fn admit(self: &Arc<Self>) -> Ticket {
        let (tx, rx) = oneshot::channel();
        let mut s = self.lock();
        while s.pending.len() >= self.limit {
            let victim = s
                .pending
                .iter()
                .find(|(_, p)| !p.progressed)
                .or_else(|| s.pending.iter().next())
                .map(|(id, _)| *id);
            let Some(victim) = victim else { break };
            if let Some(p) = s.pending.remove(&victim)
                && let Some(evict) = p.evict
            {
                let _ = evict.send(());
            }
        }
        let id = s.next;
        s.next += 1;
        s.pending.insert(
            id,
            Pending {
                progressed: false,
                evict: Some(tx),
            },
        );
        Ticket {
            id,
            startups: self.clone(),
            evicted: Some(rx),
        }
    }

    /// The connection's key exchange completed.
    fn progressed(&self, id: u64) {
        if let Some(p) = self.lock().pending.get_mut(&id) {
            p.progressed = true;
        }
    }

    /// The connection authenticated or ended.
    fn leave(&self, id: u64) {
        self.lock().pending.remove(&id);
    }
}

#[cfg(test)]
#[path = "server_gate_tests.rs"]
mod gate_tests;

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn log_text_cannot_break_the_line() {
        let forged = "bye\n10.0.0.1:22: root logged in (publickey)\r\u{1b}[2K";
        let line = printable(forged);
        assert!(!line.chars().any(char::is_control), "{line}");
        assert_eq!(
            line,
            "bye\\n10.0.0.1:22: root logged in (publickey)\\r\\u{1b}[2K"
        );
        assert_eq!(printable("plain text, été"), "plain text, été");
    }
}
