//! The client endpoint: connect, verify the host key, log in, open channels.

use std::sync::Arc;
use std::time::Duration;

use sshwire_keys::PublicKey;
use sshwire_transport::{Config, DisconnectReason, Event, Transport};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};

pub use crate::client_auth::{AuthOptions, Identity, LoggedIn, NoPrompts, Prompter, authenticate};
use crate::sftp_client::SftpClient;
use crate::trace::TraceSink;
use crate::{Channel, Driver, Error, Session, SessionConfig, system_rng};

/// Decides whether to trust a server's host key, and hears the server's pre-identification
/// banner.
pub trait HostKeyVerifier: Send {
    /// Whether `key` may be trusted as the server's host key.
    fn verify(&mut self, key: &PublicKey) -> bool;

    /// A line the server sent before its identification.
    fn banner(&mut self, _line: &str) {}
}

impl<F: FnMut(&PublicKey) -> bool + Send> HostKeyVerifier for F {
    fn verify(&mut self, key: &PublicKey) -> bool {
        self(key)
    }
}

/// Opens a TCP connection and completes the first key exchange.
///
/// The returned driver's engine is established: its session identifier is set and it is ready
/// to request a service. `timeout` bounds the TCP connect and the key exchange together.
pub async fn connect(
    addr: impl ToSocketAddrs,
    config: Arc<Config>,
    verifier: &mut dyn HostKeyVerifier,
    timeout: Option<Duration>,
) -> Result<Driver<TcpStream>, Error> {
    let work = async {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut driver = Driver::new(stream, Transport::client(config, system_rng()));
        handshake(&mut driver, verifier).await?;
        Ok(driver)
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, work)
            .await
            .map_err(|_| Error::Timeout)?,
        None => work.await,
    }
}

/// Runs a client driver until its first key exchange completes.
pub async fn handshake<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(
    driver: &mut Driver<S>,
    verifier: &mut dyn HostKeyVerifier,
) -> Result<(), Error> {
    loop {
        match driver.next_event().await? {
            Event::Banner(line) => verifier.banner(&line),
            Event::HostKey(key) => {
                let trusted = verifier.verify(&key);
                let now = tokio::time::Instant::now().into_std();
                // A refusal makes the engine fail; next_event reports it after the last gasp.
                let _ = driver.engine().host_key_verdict(now, trusted);
            }
            Event::KexComplete { first: true, .. } => return Ok(()),
            _ => {}
        }
    }
}

/// Settings of a client connection.
#[derive(Clone)]
pub struct ClientConfig {
    /// Algorithms and rekey limits of the transport.
    pub transport: Arc<Config>,
    /// The connection layer and keepalives (`ServerAliveInterval`, `ServerAliveCountMax`).
    ///
    /// Against an sshwire server the windows and packets are raised to
    /// [`sshwire_connection::Config::sshwire`]'s unless `keep_windows` is set.
    pub session: SessionConfig,
    /// Keep `session`'s windows whatever the server is.
    pub keep_windows: bool,
    /// Bound on the TCP connect, key exchange and authentication together
    /// (`ConnectTimeout`); `None` waits as long as the OS does.
    pub connect_timeout: Option<Duration>,
    /// Where to trace every message the connection sends and receives, and the packets of
    /// its SFTP sessions ([`crate::trace`]); `None` traces nothing and costs nothing.
    pub trace: Option<TraceSink>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            transport: Arc::new(Config::default()),
            session: SessionConfig::default(),
            keep_windows: false,
            connect_timeout: None,
            trace: None,
        }
    }
}

/// An authenticated client connection.
///
/// Derefs to its [`Session`] for channels; [`Client::exec`] and [`Client::subsystem`] open a
/// session channel and make the request in one go.
pub struct Client {
    session: Session,
    task: tokio::task::JoinHandle<Result<(), Error>>,
    logged_in: LoggedIn,
    /// The server identified itself as sshwire's, which answers one SFTP session's requests
    /// concurrently (see [`crate::sftp_streams`]).
    peer_is_sshwire: bool,
}

impl Client {
    /// Connects to `host:port`, checks the host key with `verifier`, and logs in.
    pub async fn connect(
        host: &str,
        port: u16,
        config: &ClientConfig,
        verifier: &mut dyn HostKeyVerifier,
        auth: &AuthOptions,
        prompter: &mut dyn Prompter,
    ) -> Result<Client, Error> {
        let work = async {
            let stream = TcpStream::connect((host, port)).await?;
            stream.set_nodelay(true)?;
            Self::over(stream, host, config, verifier, auth, prompter).await
        };
        match config.connect_timeout {
            // The timeout covers the prompts too; OpenSSH's covers only the connect, but a
            // server that stalls during authentication must not hang a batch job.
            Some(t) => tokio::time::timeout(t, work)
                .await
                .map_err(|_| Error::Timeout)?,
            None => work.await,
        }
    }

    /// As [`Client::connect`], over a stream that is already connected (a proxy, a pipe).
    pub async fn over<S>(
        stream: S,
        host: &str,
        config: &ClientConfig,
        verifier: &mut dyn HostKeyVerifier,
        auth: &AuthOptions,
        prompter: &mut dyn Prompter,
    ) -> Result<Client, Error>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let mut driver = Driver::new(
            stream,
            Transport::client(config.transport.clone(), system_rng()),
        );
        if let Some(sink) = &config.trace {
            driver.set_trace("client", sink.clone());
        }
        handshake(&mut driver, verifier).await?;
        let logged_in = match authenticate(&mut driver, host, auth, prompter).await {
            Ok(l) => l,
            Err(e) => {
                if let Error::PermissionDenied { .. } = e {
                    // As OpenSSH's client says goodbye when it runs out of methods.
                    driver
                        .disconnect_in_place(
                            DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE,
                            "No more authentication methods available",
                        )
                        .await;
                }
                return Err(e);
            }
        };
        let mut session_config = config.session.clone();
        let peer_is_sshwire = driver
            .engine()
            .peer_identification()
            .is_some_and(|id| id.starts_with(b"SSH-2.0-sshwire_"));
        if peer_is_sshwire && !config.keep_windows {
            session_config.connection = sshwire_connection::Config::sshwire();
        }
        let (session, task) = Session::start_client(driver, session_config);
        Ok(Client {
            session,
            task,
            logged_in,
            peer_is_sshwire,
        })
    }

    /// How the login went.
    pub fn logged_in(&self) -> &LoggedIn {
        &self.logged_in
    }

    /// The connection, for channels and global requests.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Opens a session channel and runs `command` on it (like `ssh host command`).
    pub async fn exec(&self, command: impl AsRef<[u8]>) -> Result<Channel, Error> {
        let channel = self.session.open_session().await?;
        channel.exec(command).await?;
        Ok(channel)
    }

    /// Opens a session channel and starts the subsystem `name` (such as `sftp`) on it.
    pub async fn subsystem(&self, name: &str) -> Result<Channel, Error> {
        let channel = self.session.open_session().await?;
        channel.subsystem(name).await?;
        Ok(channel)
    }

    /// Opens a session channel, starts the `sftp` subsystem on it and begins an SFTP session
    /// there.
    ///
    /// The session is [`SftpClient::new`]'s: INIT, the server's VERSION, and
    /// `limits@openssh.com` when offered. It lives on its own channel, so several can share
    /// this connection; dropping every clone of the `SftpClient` sends EOF on the channel,
    /// which ends the server's side. A server that refuses the subsystem gives
    /// [`Error::RequestRefused`]; one that starts it but does not speak SFTP, [`Error::Sftp`].
    ///
    /// A large download may open further `sftp` sessions on this connection and read over
    /// them too ([`Transfer::streams`](crate::sftp_transfer::Transfer::streams)); they close
    /// with this one.
    pub async fn sftp(&self) -> Result<SftpClient, Error> {
        self.sftp_with("sftp", crate::sftp_client::DEFAULT_IN_FLIGHT)
            .await
    }

    /// Like [`Client::sftp`], on the subsystem `name` (`sftp -s`) with at most `in_flight`
    /// requests outstanding.
    ///
    /// Further sessions for large downloads start the same subsystem.
    pub async fn sftp_with(&self, name: &str, in_flight: usize) -> Result<SftpClient, Error> {
        let channel = self.subsystem(name).await?;
        let trace = channel.trace_sink();
        let mut sftp = SftpClient::over_channel(channel, in_flight, trace.clone())
            .await
            .map_err(Error::Sftp)?;
        sftp.set_streams(crate::sftp_streams::Streams::new(
            self.session.clone(),
            name,
            in_flight,
            trace,
            self.peer_is_sshwire,
        ));
        Ok(sftp)
    }

    /// Sends DISCONNECT and waits for the connection to end.
    pub async fn disconnect(self) {
        self.session.disconnect().await;
        let _ = self.task.await;
    }
}

impl std::ops::Deref for Client {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}
