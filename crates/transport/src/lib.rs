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
pub use engine::Transport;
pub use error::Error;
pub use event::{DirectionAlgorithms, Event, Negotiated};
pub use ident::IdentLimits;
pub use msg::{DisconnectReason, MessageNumber};
pub use sshwire_keys::{PrivateKey, PublicKey, SignatureAlgorithm};

#[cfg(test)]
mod pair_tests;
