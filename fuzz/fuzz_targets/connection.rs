//! Fuzzes the connection engine (`sshwire_connection::Connection`) with a sequence of peer
//! payloads, as a client or as a server.
//!
//! Input: `byte role` (bit 0: server), then payloads, each `u16` big-endian length and bytes.
//! Between payloads the harness acts like an application: it accepts every channel the peer
//! opens, answers requests, reads whatever becomes readable and drains the outgoing queue.
//! Nothing may panic; once the engine fails, every later `handle_message` returns the same
//! error; the bytes buffered for a channel never exceed the window we advertised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_connection::{Config, Connection, Event, Role, Stream};

fuzz_target!(|input: &[u8]| {
    let Some((&flags, mut rest)) = input.split_first() else {
        return;
    };
    let role = if flags & 1 == 1 {
        Role::Server
    } else {
        Role::Client
    };
    let config = Config::openssh();
    let window = config.initial_window as usize;
    let mut conn = Connection::new(role, config);
    // Open one channel of our own so that confirmations and data have somewhere to go.
    if role == Role::Client {
        let _ = conn.open_session();
    }
    let mut sticky = None;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let body = &rest[2..];
        let take = len.min(body.len());
        let (payload, tail) = body.split_at(take);
        rest = tail;
        let r = conn.handle_message(payload);
        if let Some(e) = &sticky {
            assert_eq!(r.as_ref().err(), Some(e), "error not sticky");
            continue;
        }
        if let Err(e) = r {
            if conn.error().is_some() {
                sticky = Some(e);
            }
            continue;
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::ChannelOpenRequest { channel, .. } => {
                    let _ = conn.accept_channel(channel);
                }
                Event::ChannelRequest {
                    channel,
                    reply: Some(id),
                    ..
                } => {
                    let _ = conn.reply(channel, id, false);
                }
                Event::GlobalRequest {
                    reply: Some(id), ..
                } => {
                    let _ = conn.reply_global(id, false, &[]);
                }
                Event::Readable { channel } => {
                    for stream in [Stream::Data, Stream::Stderr] {
                        if let Ok(n) = conn.recv_len(channel, stream) {
                            assert!(
                                n <= window,
                                "buffered {n} bytes over a {window}-byte window"
                            );
                            let _ = conn.consume(channel, stream, n);
                        }
                    }
                }
                Event::Closed { channel } => {
                    let _ = conn.close(channel);
                }
                _ => {}
            }
        }
        while conn.poll_transmit().is_some() {}
    }
});
