//! SSH endpoints on tokio, built from the sshwire sans-I/O engines.
//!
//! - [`Driver`] runs a [`sshwire_transport::Transport`] over any `AsyncRead + AsyncWrite`
//!   stream; [`client::connect`] and [`server::Server::handshake`] set one up.
//! - [`client`] authenticates a client ([`client::Client`]); [`authenticate`] runs the
//!   server's side of user authentication with an [`Authenticator`].
//! - [`Session`] is an authenticated connection: channels ([`Channel`], `AsyncRead +
//!   AsyncWrite`) with their requests, stderr and exit status.
//! - [`server::Server`] accepts connections and hands channels to a [`server::Handler`].
//! - [`sftp_local::LocalFs`] serves a local directory over SFTP, jailed to it.
//! - [`sftp_server`] serves SFTP over a channel (or any byte stream) from a
//!   [`sftp::fs::Filesystem`]; [`sftp_server::SftpSubsystem`] is the handler for `sftp`.
//! - [`sftp_client::SftpClient`] is the SFTP client, over a connection
//!   ([`client::Client::sftp`]) or any byte stream, with remote files ([`sftp_file`]),
//!   whole-file transfers ([`sftp_transfer`]), trees ([`sftp_tree`]) and wildcards
//!   ([`sftp_glob`]). The guide, with examples, is `docs/sftp.md` in the repository.
//!
//! # Example
//!
//! A server and a client over an in-memory stream (a TCP connection works the same way:
//! [`server::Server::serve`] accepts on a listener, [`client::Client::connect`] dials). The
//! client logs in with a key, and uploads and lists a file over SFTP, served from memory.
//! The chapters `docs/endpoints.md` and `docs/reuse.md` explain more, and
//! `examples/custom_filesystem_server.rs` serves a file system of its own.
//!
//! ```
//! use std::sync::Arc;
//! use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
//! use sshwire::keys::{KeyType, PrivateKey, PublicKey};
//! use sshwire::server::Server;
//! use sshwire::sftp::{MemoryFs, fs::Filesystem, server::ServerConfig};
//! use sshwire::sftp_server::SftpSubsystem;
//! use sshwire::{Authenticated, Authenticator, system_rng};
//!
//! /// Who may log in: the holder of one key, under any name.
//! struct OneKey(PublicKey);
//!
//! impl Authenticator for OneKey {
//!     fn public_key(&self, _user: &str, key: &PublicKey) -> bool {
//!         *key == self.0
//!     }
//!     fn password(&self, _user: &str, _password: &[u8]) -> bool {
//!         false
//!     }
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = system_rng();
//! let host_key = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *rng)?);
//! let user_key = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *rng)?);
//! let (client_end, server_end) = tokio::io::duplex(64 * 1024);
//!
//! // The server: one connection, SFTP served from memory to whoever logs in.
//! let server = Server::new(Default::default(), vec![host_key.clone()]);
//! let files: Arc<dyn Filesystem> = Arc::new(MemoryFs::new());
//! let handler = SftpSubsystem::new(move |_: &Authenticated| {
//!     Some((files.clone(), ServerConfig::default()))
//! });
//! let authenticator = Arc::new(OneKey(user_key.public_key()));
//! tokio::spawn(async move {
//!     server.serve_connection(server_end, authenticator, Arc::new(handler), |_, _| {}).await
//! });
//!
//! // The client: trusts exactly that host key, logs in with the user key.
//! let expected = host_key.public_key();
//! let mut verifier = move |key: &PublicKey| *key == expected;
//! let mut auth = AuthOptions::new("alice");
//! auth.use_agent = false;
//! auth.identities.push(Identity::Key(user_key, "alice's key".into()));
//! let config = ClientConfig::default();
//! let client =
//!     Client::over(client_end, "in-memory", &config, &mut verifier, &auth, &mut NoPrompts)
//!         .await?;
//!
//! let sftp = client.sftp().await?;
//! let mut file = sftp.create(b"/hello.txt").await?;
//! file.write_at(0, b"hello").await?;
//! file.close().await?;
//! let names: Vec<Vec<u8>> = sftp.list(b"/").await?.into_iter().map(|e| e.filename).collect();
//! assert!(names.contains(&b"hello.txt".to_vec()));
//! assert_eq!(sftp.stat(b"/hello.txt").await?.size, Some(5));
//!
//! drop(sftp);
//! client.disconnect().await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod client;
mod client_auth;
mod driver;
mod error;
pub mod known_hosts;
mod local_io;
mod rng;
pub mod server;
mod server_auth;
mod session;
pub mod sftp_client;
pub mod sftp_file;
pub mod sftp_glob;
pub mod sftp_local;
pub mod sftp_ops;
pub mod sftp_server;
mod sftp_streams;
pub mod sftp_transfer;
pub mod sftp_tree;
pub mod trace;
mod write_both;

pub use driver::Driver;
pub use error::Error;
pub use rng::{SystemRng, system_rng};
pub use server_auth::{
    AnyOf, Authenticated, Authenticator, MAX_CONCURRENT_PASSWORD_CHECKS, authenticate,
    authenticate_from,
};
pub use session::{
    Channel, ChannelReader, ChannelStderr, ChannelWriter, ExitStatus, Session, SessionConfig,
};
pub use sshwire_auth as auth;
pub use sshwire_connection as connection;
pub use sshwire_keys as keys;
pub use sshwire_sftp as sftp;
pub use sshwire_transport as transport;

/// The SFTP guide, `docs/sftp.md`, compiled: each of its Rust examples is a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/sftp.md")]
pub struct SftpGuide;

/// The chapter on reusing the crates, `docs/reuse.md`, compiled: each of its Rust examples is
/// a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/reuse.md")]
pub struct ReuseGuide;
