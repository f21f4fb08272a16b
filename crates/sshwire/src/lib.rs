//! SSH endpoints on tokio, built from the sshwire sans-I/O engines.
//!
//! For now this crate holds the transport driver: [`Driver`] runs a
//! [`sshwire_transport::Transport`] over any `AsyncRead + AsyncWrite` stream, and
//! [`client::connect`] and [`server::Server`] set one up over TCP. Authentication, channels and
//! SFTP build on it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod client;
mod driver;
mod error;
pub mod known_hosts;
mod rng;
pub mod server;
mod server_auth;

pub use driver::Driver;
pub use error::Error;
pub use rng::{SystemRng, system_rng};
pub use server_auth::{Authenticated, Authenticator, authenticate};
pub use sshwire_auth as auth;
pub use sshwire_connection as connection;
pub use sshwire_keys as keys;
pub use sshwire_transport as transport;
