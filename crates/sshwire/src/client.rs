//! Connecting to an SSH server over TCP.

use std::sync::Arc;
use std::time::Duration;

use sshwire_keys::PublicKey;
use sshwire_transport::{Config, Event, Transport};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::{Driver, Error, system_rng};

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
