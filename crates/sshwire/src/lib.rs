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
pub mod sftp_transfer;
pub mod sftp_tree;
pub mod trace;

pub use driver::Driver;
pub use error::Error;
pub use rng::{SystemRng, system_rng};
pub use server_auth::{AnyOf, Authenticated, Authenticator, authenticate};
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
