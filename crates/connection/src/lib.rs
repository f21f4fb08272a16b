//! The SSH connection protocol (RFC 4254) as a sans-I/O engine, for clients and servers.
//!
//! [`Connection`] multiplexes channels over one SSH connection: it opens, accepts and closes
//! them, runs flow control both ways, carries channel and global requests and matches their
//! replies. It consumes payloads (message numbers 80 to 100, which the transport delivers as
//! `Event::Message`), produces payloads for the transport, and reports [`Event`]s. It does no
//! I/O, reads no clock, and needs no randomness.
//!
//! # Driving it
//!
//! ```text
//! transport Event::Message(p) with p[0] in 80..=100  ->  conn.handle_message(&p)
//! conn.poll_transmit() -> Some(p)                    ->  transport.send(&p)
//! conn.encode_data(id, bytes, &mut buf) -> n > 0     ->  transport.send(&buf)   (fast path)
//! conn.poll_event() -> Event                         ->  the application
//! ```
//!
//! Flow control is the application's back-pressure: [`Connection::send_capacity`] (and a
//! `send_data` that takes 0 bytes) says when a writer must wait, [`Event::Writable`] when it
//! may go on; a reader consumes with [`Connection::consume`] or [`Connection::read`], and only
//! that re-opens the peer's window, so a reader that stops reading stops its peer, and the
//! engine never holds more than the window per channel.
//!
//! # Example
//!
//! A client opens a session and runs a command; a server answers. The two engines are
//! wired directly together, as in the tests.
//!
//! ```
//! use sshwire_connection::{Config, Connection, Event, Stream};
//!
//! let mut client = Connection::client(Config::default());
//! let mut server = Connection::server(Config::default());
//! // Hand every payload one engine produces to the other, until both are quiet.
//! fn shuttle(a: &mut Connection, b: &mut Connection) {
//!     loop {
//!         let mut moved = false;
//!         while let Some(p) = a.poll_transmit() { b.handle_message(&p).unwrap(); moved = true; }
//!         while let Some(p) = b.poll_transmit() { a.handle_message(&p).unwrap(); moved = true; }
//!         if !moved { break; }
//!     }
//! }
//!
//! let id = client.open_session().unwrap();
//! shuttle(&mut client, &mut server);
//! let Some(Event::ChannelOpenRequest { channel, .. }) = server.poll_event() else { panic!() };
//! server.accept_channel(channel).unwrap();
//! shuttle(&mut client, &mut server);
//! assert_eq!(client.poll_event(), Some(Event::ChannelOpened { channel: id }));
//!
//! let exec = client.exec(id, b"echo hi", true).unwrap().unwrap();
//! shuttle(&mut client, &mut server);
//! let Some(Event::ChannelRequest { reply: Some(r), .. }) = server.poll_event() else { panic!() };
//! server.reply(channel, r, true).unwrap();
//! server.send_data(channel, b"hi\n").unwrap();
//! server.send_eof(channel).unwrap();
//! server.exit_status(channel, 0).unwrap();
//! server.close(channel).unwrap();
//! shuttle(&mut client, &mut server);
//!
//! let mut events = Vec::new();
//! while let Some(e) = client.poll_event() { events.push(e); }
//! assert!(events.contains(&Event::ChannelRequestReply { channel: id, id: exec, success: true }));
//! let mut out = [0u8; 16];
//! let n = client.read(id, Stream::Data, &mut out).unwrap();
//! assert_eq!(&out[..n], b"hi\n");
//! // Closed both ways, the last byte read: the number is free for the next channel.
//! assert_eq!(client.channel_count(), 0);
//! ```
//!
//! # Modules
//!
//! [`messages`] is the codec of every connection message, shared by both roles; the engine
//! is in `engine.rs`, channel state in `channel.rs`, flow control in `window.rs`. The guide's
//! chapter `docs/connection.md` explains the layer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod channel;
mod config;
mod engine;
mod error;
mod event;
pub mod messages;
mod recv_buffer;
pub mod trace;
mod window;

pub use channel::{ChannelId, RequestId, Stream};
pub use config::{Config, OPENSSH_MAX_PACKET, OPENSSH_WINDOW, SSHWIRE_MAX_PACKET, SSHWIRE_WINDOW};
pub use engine::{Connection, Role};
pub use error::Error;
pub use event::Event;
pub use messages::{
    ChannelRequestType, ChannelType, GlobalRequest, GlobalRequestType, OpenFailureReason,
};

#[cfg(test)]
mod pair_tests;
