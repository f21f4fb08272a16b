//! The SFTP packet codec, one for client and server: draft-ietf-secsh-filexfer-02 (protocol
//! version 3) and the OpenSSH extensions of OpenSSH's `PROTOCOL` §4.
//!
//! An SFTP session is a byte stream (an SSH channel's `sftp` subsystem, or a pipe to
//! `sftp-server`) carrying length-prefixed packets. This crate turns the stream into packets and
//! packets into typed values, and back; it does no I/O. The [`fs`] module is what a server
//! serves (the `Filesystem` trait) and the [`server`] module answers requests from it
//! ([`server::Session`]), still without I/O or a runtime of its own.
//!
//! - [`decode_frame`] finds the next whole packet in a buffer and refuses an oversized length
//!   ([`MAX_PACKET`] by default) from the four length bytes alone.
//! - [`Request`] (client to server) and [`Response`] (server to client) decode a packet's
//!   payload and encode a whole length-prefixed packet into a `Vec<u8>`.
//! - [`Attrs`] is the `ATTRS` structure; [`PacketType`], [`StatusCode`] and [`OpenFlags`] are
//!   newtypes with named constants, so values this crate does not name survive a round trip.
//! - [`ExtendedRequest`] types OpenSSH's extended requests; [`StatvfsReply`], [`LimitsReply`]
//!   and [`UsersGroupsReply`] decode the replies whose layout depends on the request.
//! - [`fs::Filesystem`] is what an SFTP server serves; [`MemoryFs`] is a backend held in
//!   memory, for tests and embedding (the jailed local-disk one is `sshwire::sftp_local`).
//!
//! Paths, file names and handles are bytes (`Vec<u8>`), never lossily converted text.
//! `SSH_FXP_SYMLINK` goes in OpenSSH's argument order unless a [`SymlinkOrder`] says otherwise.
//!
//! Decoders never panic: every read is bounded, every count is checked against the bytes
//! left before anything is reserved for it, and bytes after the last field are refused.
//!
//! ```
//! use sshwire_sftp::{decode_frame, Frame, OpenFlags, Attrs, Request, Response, StatusCode,
//!                    MAX_PACKET};
//!
//! // A client writes an OPEN request...
//! let open = Request::Open {
//!     id: 1,
//!     path: b"/tmp/notes.txt".to_vec(),
//!     flags: OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC,
//!     attrs: Attrs { permissions: Some(0o644), ..Attrs::default() },
//! };
//! let mut stream = Vec::new();
//! open.encode(&mut stream);
//!
//! // ...and a server takes whole packets off the front of its input.
//! let Frame::Complete { payload, consumed } = decode_frame(&stream, MAX_PACKET).unwrap() else {
//!     panic!("a whole packet was written");
//! };
//! assert_eq!(consumed, stream.len());
//! let request = Request::decode(payload).unwrap();
//! assert_eq!(request, open);
//!
//! let mut reply = Vec::new();
//! Response::status(request.id().unwrap(), StatusCode::PERMISSION_DENIED).encode(&mut reply);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attrs;
pub mod block;
pub mod buffers;
pub mod client;
mod extensions;
mod fields;
pub mod fs;
pub mod memory;
mod packet;
mod request;
mod response;
pub mod server;
pub mod trace;
pub mod transfer;
mod types;

#[cfg(test)]
mod strategies;

pub use attrs::{AttrFlags, Attrs, Owner, Times};
pub use block::{Block, Room};
pub use extensions::{
    ExtendedRequest, LimitsReply, OPENSSH_EXTENSIONS, StatvfsReply, UsersGroupsReply,
};
pub use fields::{ExtensionPair, MAX_HANDLE_LEN};
pub use memory::MemoryFs;
pub use packet::{Frame, LENGTH_LEN, MAX_DATA, MAX_PACKET, decode_frame, peek_id};
pub use request::{Request, SymlinkOrder, WriteHeader};
pub use response::{DATA_HEADER_LEN, DataHeader, NameEntry, Response};
pub use types::{OpenFlags, PacketType, StatusCode, VERSION};
