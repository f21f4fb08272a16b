//! SSH wire data types, as defined in RFC 4251 §5.
//!
//! This crate holds the representations every other layer of sshwire is built from: `byte`,
//! `boolean`, `uint32`, `uint64`, `string`, `mpint` and `name-list`. It has two halves:
//!
//! - [`Reader`] decodes from a borrowed `&[u8]`. It never indexes out of range: every read checks
//!   the remaining length first and reports truncation as [`Error::Truncated`]. Nothing it returns
//!   is allocated, so a peer-chosen length can never size an allocation.
//! - [`Writer`] encodes into a `Vec<u8>` that the caller may reuse.
//!
//! ```
//! use sshwire_wire::{Reader, Writer};
//!
//! let mut w = Writer::new();
//! w.u8(20).string(b"hello").name_list(["curve25519-sha256", "ext-info-c"]).bool(true);
//! let bytes = w.into_vec();
//!
//! let mut r = Reader::new(&bytes);
//! assert_eq!(r.u8().unwrap(), 20);
//! assert_eq!(r.string().unwrap(), b"hello");
//! let names: Vec<&str> = r.name_list().unwrap().iter().collect();
//! assert_eq!(names, ["curve25519-sha256", "ext-info-c"]);
//! assert!(r.bool().unwrap());
//! r.finish().unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod namelist;
mod reader;
pub mod trace;
mod writer;

pub use error::Error;
pub use namelist::{MAX_NAME_LEN, NameList, NameListLimits};
pub use reader::Reader;
pub use writer::Writer;

/// The wire types chapter, `docs/wire.md`, compiled: its Rust example is a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/wire.md")]
pub struct WireGuide;
