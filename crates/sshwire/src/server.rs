//! Accepting SSH connections over TCP.

use std::sync::Arc;

use sshwire_keys::PrivateKey;
use sshwire_transport::{Config, Event, Transport};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::{Driver, Error, system_rng};

/// What a server needs for every connection: its configuration and host keys.
#[derive(Clone)]
pub struct Server {
    config: Arc<Config>,
    host_keys: Vec<Arc<PrivateKey>>,
}

impl Server {
    /// A server offering `host_keys`.
    pub fn new(config: Arc<Config>, host_keys: Vec<Arc<PrivateKey>>) -> Self {
        Server { config, host_keys }
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
        let engine = Transport::server(self.config.clone(), self.host_keys.clone(), system_rng());
        let mut driver = Driver::new(stream, engine);
        loop {
            if let Event::KexComplete { first: true, .. } = driver.next_event().await? {
                return Ok(driver);
            }
        }
    }
}
