//! The SSH transport layer (RFC 4253) as a sans-I/O engine.
//!
//! [`Transport`] runs one side of a connection: the identification exchange, the binary packet
//! protocol, algorithm negotiation, key exchange and rekeying. It consumes bytes, produces
//! bytes, reports [`Event`]s and names its next deadline; it does no I/O, reads no clock and
//! spawns nothing, so it embeds in any runtime and two engines can be driven against each
//! other in memory.
//!
//! The building blocks are public too, for readers and fuzzers: [`cipher`] (packet sealing
//! and opening), [`kex`] (the key exchange methods), [`kexinit`] (negotiation), [`compress`]
//! [`messages`] (the codec of the other transport messages) and [`msg`] (message numbers and
//! disconnect reasons).
//!
//! # Example
//!
//! A client and a server engine, wired to each other in memory: each one's output is the
//! other's input, and nothing else connects them. The chapter `docs/transport.md` follows
//! what happens inside; `examples/in_memory_pair.rs` is the same program, commented and
//! printing each step.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use sshwire_keys::rand_core::UnwrapErr;
//! use sshwire_keys::{KeyType, PrivateKey};
//! use sshwire_transport::{Config, Event, Transport};
//!
//! // Randomness is injected: here the operating system's.
//! let os_rng = || Box::new(UnwrapErr(getrandom::SysRng));
//! let host_key = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *os_rng())?);
//! let config = Arc::new(Config::default());
//! let mut client = Transport::client(config.clone(), os_rng());
//! let mut server = Transport::server(config, vec![host_key.clone()], os_rng());
//! let now = Instant::now(); // the engines read no clock: time is an argument
//!
//! let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
//! while !(client.is_established() && server.is_established()) {
//!     client.poll_transmit(&mut to_server);
//!     server.poll_transmit(&mut to_client);
//!     let taken = server.handle_input(now, &to_server)?;
//!     to_server.drain(..taken);
//!     let taken = client.handle_input(now, &to_client)?;
//!     to_client.drain(..taken);
//!     while let Some(event) = client.poll_event() {
//!         if let Event::HostKey(key) = event {
//!             // Whether to trust the server's key is the caller's decision (known_hosts).
//!             client.host_key_verdict(now, key == host_key.public_key())?;
//!         }
//!     }
//!     while server.poll_event().is_some() {}
//! }
//!
//! // Messages of the layers above (numbered 50 and up) now travel encrypted.
//! client.send(&[200, b'h', b'i'])?;
//! client.poll_transmit(&mut to_server);
//! server.handle_input(now, &to_server)?;
//! assert_eq!(server.poll_event(), Some(Event::Message(vec![200, b'h', b'i'])));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cipher;
pub mod compress;
mod config;
mod engine;
mod error;
mod event;
mod framing;
mod ident;
pub mod kex;
mod kex_flow;
pub mod kexinit;
pub mod messages;
pub mod msg;
pub mod trace;

pub use config::Config;
pub use engine::{IN_PLACE_MIN, SEND_HEADROOM, SEND_TAILROOM, Transport};
pub use error::Error;
pub use event::{DirectionAlgorithms, Event, Negotiated};
pub use ident::IdentLimits;
pub use msg::{DisconnectReason, MessageNumber};
pub use sshwire_keys::{PrivateKey, PublicKey, SignatureAlgorithm};

#[cfg(test)]
mod pair_tests;
