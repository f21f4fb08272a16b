//! Whole sessions in memory: a client-role and a server-role engine, payloads shuttled
//! directly between them, plus a scripted hostile peer.

use std::borrow::Cow;

use proptest::prelude::*;
use sshwire_transport::{DisconnectReason, MessageNumber};
use sshwire_wire::Writer;

use crate::messages::{self, *};
use crate::{ChannelId, Config, Connection, Error, Event, RequestId, Stream};

/// A client and a server engine wired together.
struct Pair {
    client: Connection,
    server: Connection,
}

impl Pair {
    fn new(client: Config, server: Config) -> Self {
        Pair {
            client: Connection::client(client),
            server: Connection::server(server),
        }
    }

    fn default() -> Self {
        Self::new(Config::default(), Config::default())
    }

    /// Moves payloads both ways until both engines are quiet.
    fn shuttle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(p) = self.client.poll_transmit() {
                self.server.handle_message(&p).unwrap();
                moved = true;
            }
            while let Some(p) = self.server.poll_transmit() {
                self.client.handle_message(&p).unwrap();
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    fn client_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    fn server_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    /// Opens a session from the client; returns (client id, server id).
    fn open_session(&mut self) -> (ChannelId, ChannelId) {
        let c = self.client.open_session().unwrap();
        self.shuttle();
        let s = match self.server.poll_event() {
            Some(Event::ChannelOpenRequest {
                channel,
                channel_type: ChannelType::Session,
            }) => channel,
            other => panic!("{other:?}"),
        };
        self.server.accept_channel(s).unwrap();
        self.shuttle();
        assert_eq!(
            self.client.poll_event(),
            Some(Event::ChannelOpened { channel: c })
        );
        (c, s)
    }
}

fn read_all(conn: &mut Connection, id: ChannelId, stream: Stream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // A fully closed channel is released once its last byte has been read.
        let n = match conn.read(id, stream, &mut buf) {
            Ok(0) | Err(Error::UnknownChannel(_)) => return out,
            Ok(n) => n,
            Err(e) => panic!("{e:?}"),
        };
        out.extend_from_slice(&buf[..n]);
    }
}

fn encode(m: &Message<'_>) -> Vec<u8> {
    let mut w = Writer::new();
    m.encode(&mut w);
    w.into_vec()
}

fn signal(number: sshwire_transport::MessageNumber, recipient: u32) -> Vec<u8> {
    encode(&Message::Signal(ChannelSignal { number, recipient }))
}

fn data(recipient: u32, bytes: &[u8]) -> Vec<u8> {
    encode(&Message::Data(ChannelData {
        recipient,
        data: bytes,
    }))
}

/// Checks that `err` is fatal, maps to PROTOCOL_ERROR, and sticks.
fn assert_fatal(conn: &mut Connection, err: Error) {
    assert!(err.is_fatal(), "{err:?}");
    assert_eq!(
        err.disconnect().map(|d| d.0),
        Some(DisconnectReason::PROTOCOL_ERROR)
    );
    assert_eq!(conn.error(), Some(&err));
    assert_eq!(conn.open_session(), Err(err.clone()));
    assert_eq!(conn.handle_message(&signal(CHANNEL_EOF, 0)), Err(err));
}

// ---------------------------------------------------------------------------------------
// Opening.

#[test]
fn open_confirm_and_fail() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    assert_eq!((c, s), (ChannelId(0), ChannelId(0)));

    let t = p
        .client
        .open_direct_tcpip("example.org", 80, "127.0.0.1", 5000)
        .unwrap();
    p.shuttle();
    let Some(Event::ChannelOpenRequest {
        channel,
        channel_type: ChannelType::DirectTcpip { host, port, .. },
    }) = p.server.poll_event()
    else {
        panic!()
    };
    assert_eq!((&*host, port), ("example.org", 80));
    p.server
        .reject_channel(channel, OpenFailureReason::CONNECT_FAILED, "refused")
        .unwrap();
    p.shuttle();
    assert_eq!(
        p.client_events(),
        [Event::ChannelOpenFailed {
            channel: t,
            reason: OpenFailureReason::CONNECT_FAILED,
            description: "refused".into(),
        }]
    );
    // The refused number is free again, and the server's too.
    assert_eq!(p.client.channel_count(), 1);
    assert_eq!(p.server.channel_count(), 1);
    assert_eq!(p.client.open_session().unwrap(), t);
}

#[test]
fn roles_refuse_opens_that_go_the_wrong_way() {
    let mut p = Pair::default();
    // A server opening a session to a client (RFC 4254 §6.1).
    p.server.open_session().unwrap();
    let x = p
        .server
        .open_channel(&ChannelType::ForwardedTcpip {
            address: "0.0.0.0".into(),
            port: 22,
            originator: "1.2.3.4".into(),
            originator_port: 9,
        })
        .unwrap();
    p.shuttle();
    let events = p.server_events();
    assert_eq!(events.len(), 1);
    assert!(matches!(
        &events[0],
        Event::ChannelOpenFailed {
            reason: OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
            ..
        }
    ));
    // forwarded-tcpip reaches the client application.
    let Some(Event::ChannelOpenRequest { channel, .. }) = p.client.poll_event() else {
        panic!()
    };
    p.client.accept_channel(channel).unwrap();
    p.shuttle();
    assert_eq!(p.server_events(), [Event::ChannelOpened { channel: x }]);
    // x11 to a server is refused.
    p.client
        .open_channel(&ChannelType::X11 {
            originator: "::1".into(),
            originator_port: 1,
        })
        .unwrap();
    p.shuttle();
    assert!(matches!(
        &p.client_events()[..],
        [Event::ChannelOpenFailed {
            reason: OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
            ..
        }]
    ));
}

#[test]
fn unknown_channel_types_reach_the_application() {
    let mut p = Pair::default();
    let id = p
        .client
        .open_channel(&ChannelType::Other {
            name: "auth-agent@openssh.com".into(),
            data: Cow::Borrowed(b"xyz"),
        })
        .unwrap();
    p.shuttle();
    let Some(Event::ChannelOpenRequest {
        channel,
        channel_type,
    }) = p.server.poll_event()
    else {
        panic!()
    };
    assert_eq!(channel_type.name(), "auth-agent@openssh.com");
    p.server
        .reject_channel(channel, OpenFailureReason::UNKNOWN_CHANNEL_TYPE, "")
        .unwrap();
    p.shuttle();
    assert!(matches!(
        &p.client_events()[..],
        [Event::ChannelOpenFailed { channel, reason: OpenFailureReason::UNKNOWN_CHANNEL_TYPE, .. }] if *channel == id
    ));
}

// ---------------------------------------------------------------------------------------
// Requests.

#[test]
fn exec_with_exit_status_and_stderr() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    let env = p
        .client
        .request(
            c,
            &ChannelRequestType::Env {
                name: Cow::Borrowed(b"LANG"),
                value: Cow::Borrowed(b"C"),
            },
            false,
        )
        .unwrap();
    assert_eq!(env, None);
    let r = p.client.exec(c, b"ls /", true).unwrap().unwrap();
    p.shuttle();
    let events = p.server_events();
    assert!(matches!(
        &events[0],
        Event::ChannelRequest {
            request: ChannelRequestType::Env { .. },
            reply: None,
            ..
        }
    ));
    let Event::ChannelRequest {
        request: ChannelRequestType::Exec { command },
        reply: Some(sr),
        ..
    } = &events[1]
    else {
        panic!("{events:?}")
    };
    assert_eq!(&**command, b"ls /");
    p.server.reply(s, *sr, true).unwrap();
    p.server.send_data(s, b"bin\netc\n").unwrap();
    p.server
        .send_extended_data(s, EXTENDED_DATA_STDERR, b"warning\n")
        .unwrap();
    p.server.send_eof(s).unwrap();
    p.server.exit_status(s, 3).unwrap();
    p.server.close(s).unwrap();
    p.shuttle();
    let events = p.client_events();
    assert_eq!(
        events,
        [
            Event::ChannelRequestReply {
                channel: c,
                id: r,
                success: true
            },
            Event::Readable { channel: c },
            Event::Eof { channel: c },
            Event::ChannelRequest {
                channel: c,
                request: ChannelRequestType::ExitStatus { status: 3 },
                reply: None
            },
            Event::Closed { channel: c },
        ]
    );
    assert_eq!(read_all(&mut p.client, c, Stream::Data), b"bin\netc\n");
    assert_eq!(read_all(&mut p.client, c, Stream::Stderr), b"warning\n");
    // Read to the end after Closed: the number is released; the server's once it has
    // taken its Closed event.
    assert_eq!(p.client.channel_count(), 0);
    assert_eq!(p.server.channel_count(), 1);
    assert_eq!(p.server_events(), [Event::Closed { channel: s }]);
    assert_eq!(p.server.channel_count(), 0);
}

#[test]
fn exit_signal() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    p.server.exit_signal(s, "KILL", true, "killed").unwrap();
    p.shuttle();
    let Some(Event::ChannelRequest {
        channel,
        request:
            ChannelRequestType::ExitSignal {
                signal,
                core_dumped,
                message,
                ..
            },
        reply: None,
    }) = p.client.poll_event()
    else {
        panic!()
    };
    assert_eq!(
        (channel, &*signal, core_dumped, &*message),
        (c, "KILL", true, "killed")
    );
}

#[test]
fn subsystem_with_and_without_want_reply() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    assert_eq!(p.client.subsystem(c, "sftp", false).unwrap(), None);
    p.shuttle();
    assert!(matches!(
        &p.server_events()[..],
        [Event::ChannelRequest { request: ChannelRequestType::Subsystem { name }, reply: None, .. }] if name == "sftp"
    ));
    // Nothing comes back for want-reply false.
    assert!(!p.server.wants_transmit());

    let (c2, s2) = p.open_session();
    let r = p.client.subsystem(c2, "nope", true).unwrap().unwrap();
    p.shuttle();
    let Some(Event::ChannelRequest {
        reply: Some(sr), ..
    }) = p.server.poll_event()
    else {
        panic!()
    };
    p.server.reply(s2, sr, false).unwrap();
    p.shuttle();
    assert_eq!(
        p.client_events(),
        [Event::ChannelRequestReply {
            channel: c2,
            id: r,
            success: false
        }]
    );
    let _ = (c, s);
}

#[test]
fn replies_go_out_in_request_order() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    let ids: Vec<RequestId> = (0..5)
        .map(|i| {
            p.client
                .request(
                    c,
                    &ChannelRequestType::Other {
                        name: format!("x-{i}").into(),
                        data: Cow::Borrowed(&[]),
                    },
                    true,
                )
                .unwrap()
                .unwrap()
        })
        .collect();
    p.shuttle();
    let owed: Vec<RequestId> = p
        .server_events()
        .into_iter()
        .map(|e| match e {
            Event::ChannelRequest { reply: Some(r), .. } => r,
            e => panic!("{e:?}"),
        })
        .collect();
    // Answer backwards: nothing may go out until the first is answered.
    for (i, r) in owed.iter().enumerate().rev().take(4) {
        p.server.reply(s, *r, i % 2 == 0).unwrap();
    }
    assert!(!p.server.wants_transmit());
    p.server.reply(s, owed[0], true).unwrap();
    p.shuttle();
    let replies: Vec<(RequestId, bool)> = p
        .client_events()
        .into_iter()
        .map(|e| match e {
            Event::ChannelRequestReply { id, success, .. } => (id, success),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(
        replies,
        ids.iter()
            .enumerate()
            .map(|(i, id)| (*id, i % 2 == 0))
            .collect::<Vec<_>>()
    );
    // Answering twice is the caller's bug, not fatal.
    assert!(matches!(
        p.server.reply(s, owed[0], true),
        Err(Error::ApiMisuse(_))
    ));
    assert!(p.server.error().is_none());
}

#[test]
fn channel_keepalive_is_answered_with_failure() {
    let mut p = Pair::default();
    let (c, _) = p.open_session();
    let r = p
        .client
        .request(c, &ChannelRequestType::Keepalive, true)
        .unwrap()
        .unwrap();
    p.shuttle();
    assert_eq!(p.server_events(), []);
    assert_eq!(
        p.client_events(),
        [Event::ChannelRequestReply {
            channel: c,
            id: r,
            success: false
        }]
    );
}

#[test]
fn global_requests() {
    let mut p = Pair::default();
    // keepalive@openssh.com: answered with failure, as OpenSSH does, without the application.
    let k = p
        .client
        .global_request(&GlobalRequest::from_typed(
            &GlobalRequestType::Keepalive,
            true,
        ))
        .unwrap()
        .unwrap();
    // tcpip-forward with port 0: the application answers with the bound port.
    let f = p
        .client
        .global_request(&GlobalRequest::from_typed(
            &GlobalRequestType::TcpipForward {
                address: "localhost".into(),
                port: 0,
            },
            true,
        ))
        .unwrap()
        .unwrap();
    // An unknown one the application refuses.
    let u = p
        .client
        .global_request(&GlobalRequest {
            name: "x-unknown@example.org".into(),
            want_reply: true,
            data: Cow::Borrowed(&[]),
        })
        .unwrap()
        .unwrap();
    p.shuttle();
    let events = p.server_events();
    assert_eq!(events.len(), 2);
    let Event::GlobalRequest {
        request,
        reply: Some(fr),
    } = &events[0]
    else {
        panic!()
    };
    assert_eq!(
        request.typed().unwrap(),
        GlobalRequestType::TcpipForward {
            address: "localhost".into(),
            port: 0
        }
    );
    let Event::GlobalRequest {
        reply: Some(ur), ..
    } = &events[1]
    else {
        panic!()
    };
    // Answered out of order, delivered in order.
    p.server.reply_global(*ur, false, &[]).unwrap();
    p.server
        .reply_global(*fr, true, &2222u32.to_be_bytes())
        .unwrap();
    p.shuttle();
    assert_eq!(
        p.client_events(),
        [
            Event::GlobalRequestReply {
                id: k,
                success: false,
                data: vec![]
            },
            Event::GlobalRequestReply {
                id: f,
                success: true,
                data: vec![0, 0, 8, 174]
            },
            Event::GlobalRequestReply {
                id: u,
                success: false,
                data: vec![]
            },
        ]
    );
}

#[test]
fn no_more_sessions_then_a_session_is_refused() {
    let mut p = Pair::default();
    let (c, _) = p.open_session();
    p.client
        .global_request(&GlobalRequest::from_typed(
            &GlobalRequestType::NoMoreSessions,
            false,
        ))
        .unwrap();
    let again = p.client.open_session().unwrap();
    // Other channel types are still allowed.
    let tcp = p.client.open_direct_tcpip("h", 1, "o", 2).unwrap();
    p.shuttle();
    assert!(matches!(
        &p.server_events()[..],
        [Event::ChannelOpenRequest {
            channel_type: ChannelType::DirectTcpip { .. },
            ..
        }]
    ));
    let events = p.client_events();
    assert!(matches!(
        &events[..],
        [Event::ChannelOpenFailed { channel, reason: OpenFailureReason::ADMINISTRATIVELY_PROHIBITED, .. }] if *channel == again
    ));
    assert!(p.server.error().is_none());
    let _ = (c, tcp);
}

// ---------------------------------------------------------------------------------------
// Data and flow control.

fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 11)) as u8)
        .collect()
}

#[test]
fn stream_64_mib_through_small_windows_with_the_fast_path() {
    let small = Config {
        initial_window: 64 * 1024,
        max_packet: 8 * 1024,
        ..Config::default()
    };
    let mut p = Pair::new(small.clone(), small);
    let (c, s) = p.open_session();
    const TOTAL: usize = 64 * 1024 * 1024;
    let source = pattern(0, 1024 * 1024);
    let mut sent = 0;
    let mut received = 0;
    let mut buf = Vec::new();
    let mut adjusts = 0;
    while received < TOTAL {
        // Sender: the fast path, one packet at a time, straight into a reusable buffer.
        loop {
            if sent == TOTAL {
                break;
            }
            let at = sent % source.len();
            buf.clear();
            let n = p.client.encode_data(c, &source[at..], &mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= 8 * 1024);
            p.server.handle_message(&buf).unwrap();
            sent += n;
        }
        // Receiver: compare in place, then consume, which re-opens the window.
        loop {
            let chunk = p.server.recv_buf(s, Stream::Data).unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(p.server.recv_len(s, Stream::Data).unwrap() <= 64 * 1024);
            let expect_at = received % source.len();
            let n = chunk.len().min(source.len() - expect_at);
            assert_eq!(&chunk[..n], &source[expect_at..expect_at + n]);
            p.server.consume(s, Stream::Data, n).unwrap();
            received += n;
        }
        while let Some(a) = p.server.poll_transmit() {
            assert_eq!(a[0], CHANNEL_WINDOW_ADJUST.0);
            adjusts += 1;
            p.client.handle_message(&a).unwrap();
        }
    }
    assert_eq!(sent, TOTAL);
    // One adjust per half window or more (the receiver consumes in chunks of up to a window).
    assert!(
        (TOTAL / (64 * 1024)..=TOTAL / (32 * 1024)).contains(&adjusts),
        "{adjusts}"
    );
}

/// A packet of data with room in front goes out as the payload itself, header written into
/// the room, when the peer takes it whole; data the window or packet size would cut comes
/// back untouched, with nothing sent and no window spent.
#[test]
fn owned_data_goes_out_in_its_own_buffer_or_comes_back() {
    let peer = Config {
        initial_window: 10_000,
        max_packet: 3_000,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), peer);
    let (c, s) = p.open_session();
    p.client.set_send_headroom(5);
    let room = p.client.owned_data_room();
    assert_eq!(room, 5 + messages::DATA_HEADER_LEN);
    let packet = |n: usize| {
        let mut b = Vec::with_capacity(room + n + 100);
        b.resize(room, 0xAA);
        b.extend_from_slice(&pattern(3, n));
        b
    };

    let whole = packet(3_000);
    let at = whole.as_ptr();
    assert_eq!(p.client.send_data_owned(c, whole).unwrap(), None);
    let sent = p.client.poll_transmit().unwrap();
    assert_eq!(sent.as_ptr(), at, "the buffer itself is the payload");
    assert_eq!(&sent[..5], &[0xAA; 5], "the transport's room is left alone");
    p.server.handle_message(&sent[5..]).unwrap();
    assert_eq!(read_all(&mut p.server, s, Stream::Data), pattern(3, 3_000));
    assert_eq!(p.client.send_capacity(c).unwrap(), 7_000);

    // Over the packet size, then over the window: back as it was, nothing spent.
    for n in [3_001, 7_001] {
        let big = packet(n);
        let copy = big.clone();
        assert_eq!(p.client.send_data_owned(c, big).unwrap(), Some(copy));
        assert!(p.client.poll_transmit().is_none());
    }
    let short = vec![0; room];
    assert_eq!(
        p.client.send_data_owned(c, short.clone()).unwrap(),
        Some(short)
    );
    assert_eq!(p.client.send_capacity(c).unwrap(), 7_000);

    // After our EOF, data is an error, as for send_data.
    p.client.send_eof(c).unwrap();
    assert!(p.client.send_data_owned(c, packet(10)).is_err());
}

#[test]
fn send_data_splits_by_window_and_packet_size() {
    let peer = Config {
        initial_window: 10_000,
        max_packet: 3_000,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), peer);
    let (c, s) = p.open_session();
    let payload = pattern(7, 25_000);
    assert_eq!(p.client.send_capacity(c).unwrap(), 10_000);
    assert_eq!(p.client.max_send_packet(c).unwrap(), 3_000);
    assert_eq!(p.client.send_data(c, &payload).unwrap(), 10_000);
    let packets: Vec<Vec<u8>> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    assert_eq!(
        packets
            .iter()
            .map(|x| x.len() - messages::DATA_HEADER_LEN)
            .collect::<Vec<_>>(),
        [3000, 3000, 3000, 1000]
    );
    for x in &packets {
        p.server.handle_message(x).unwrap();
    }
    assert_eq!(p.client.send_data(c, &payload[10_000..]).unwrap(), 0);
    let got = read_all(&mut p.server, s, Stream::Data);
    assert_eq!(got, &payload[..10_000]);
    p.shuttle();
    assert_eq!(p.client_events(), [Event::Writable { channel: c }]);
    // read_all consumed in 4 KiB steps: 8 KiB went back at once (more than half the window),
    // the last 1808 bytes wait for more.
    assert_eq!(p.client.send_data(c, &payload[10_000..]).unwrap(), 8192);
}

#[test]
fn a_reader_that_stops_reading_stalls_its_sender_and_nothing_else() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    let (c2, s2) = p.open_session();
    let chunk = vec![7u8; 100_000];
    let mut total = 0;
    // The server application never reads channel 1: the client fills the window, then stalls.
    for _ in 0..100 {
        total += p.client.send_data(c, &chunk).unwrap();
        p.shuttle();
    }
    assert_eq!(total, crate::OPENSSH_WINDOW as usize);
    assert_eq!(p.client.send_data(c, &chunk).unwrap(), 0);
    assert_eq!(p.client.send_capacity(c).unwrap(), 0);
    assert_eq!(p.server.recv_len(s, Stream::Data).unwrap(), total);
    // The other channel still flows.
    assert_eq!(p.client.send_data(c2, b"still here").unwrap(), 10);
    p.shuttle();
    assert_eq!(read_all(&mut p.server, s2, Stream::Data), b"still here");
    // Reading a little (less than half) does not re-open yet; reading half does.
    p.server.consume(s, Stream::Data, 1000).unwrap();
    p.shuttle();
    assert_eq!(p.client.send_capacity(c).unwrap(), 0);
    p.server.consume(s, Stream::Data, total / 2).unwrap();
    p.shuttle();
    assert!(p.client_events().contains(&Event::Writable { channel: c }));
    assert_eq!(p.client.send_capacity(c).unwrap(), total / 2 + 1000);
}

#[test]
fn fast_path_waits_for_queued_control_messages() {
    let mut p = Pair::default();
    let (c, _) = p.open_session();
    p.client.exec(c, b"cat", false).unwrap();
    let mut out = Vec::new();
    assert_eq!(p.client.encode_data(c, b"data", &mut out).unwrap(), 0);
    assert!(out.is_empty());
    let exec = p.client.poll_transmit().unwrap();
    assert_eq!(exec[0], CHANNEL_REQUEST.0);
    assert_eq!(p.client.encode_data(c, b"data", &mut out).unwrap(), 4);
    assert_eq!(out, data(0, b"data"));
}

#[test]
fn many_channels_at_once() {
    let mut p = Pair::default();
    let pairs: Vec<(ChannelId, ChannelId)> = (0..200).map(|_| p.open_session()).collect();
    for (i, (c, _)) in pairs.iter().enumerate() {
        p.client.send_data(*c, &pattern(i, 1000 + i)).unwrap();
        p.client.send_eof(*c).unwrap();
    }
    p.shuttle();
    for (i, (_, s)) in pairs.iter().enumerate() {
        assert_eq!(
            read_all(&mut p.server, *s, Stream::Data),
            pattern(i, 1000 + i)
        );
        assert!(p.server.eof_received(*s).unwrap());
        p.server.close(*s).unwrap();
    }
    p.shuttle();
    p.client_events();
    p.server_events();
    assert_eq!(p.client.channel_count(), 0);
    assert_eq!(p.server.channel_count(), 0);
}

// ---------------------------------------------------------------------------------------
// EOF and CLOSE.

/// The steps of a channel's end, in an order chosen by the test.
#[derive(Debug, Clone, Copy)]
enum Step {
    ClientEof,
    ServerEof,
    ClientClose,
    ServerClose,
}

fn run_ending(order: &[Step], shuttle_between: bool) {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    p.client.send_data(c, b"to server").unwrap();
    p.server.send_data(s, b"to client").unwrap();
    for step in order {
        let r = match step {
            Step::ClientEof => p.client.send_eof(c),
            Step::ServerEof => p.server.send_eof(s),
            Step::ClientClose => p.client.close(c),
            Step::ServerClose => p.server.close(s),
        };
        // EOF after our own CLOSE (or the peer's) is refused without harm.
        if let Err(e) = r {
            assert!(matches!(e, Error::ChannelClosed(_)), "{e:?}");
        }
        if shuttle_between {
            p.shuttle();
        }
    }
    p.shuttle();
    let ce = p.client_events();
    let se = p.server_events();
    assert!(p.client.error().is_none() && p.server.error().is_none());
    // Closed exactly once on each side.
    assert_eq!(
        ce.iter()
            .filter(|e| **e == Event::Closed { channel: c })
            .count(),
        1,
        "{order:?} {ce:?}"
    );
    assert_eq!(
        se.iter()
            .filter(|e| **e == Event::Closed { channel: s })
            .count(),
        1,
        "{order:?} {se:?}"
    );
    // Drain whatever the application may still read, then the numbers are free.
    read_all(&mut p.client, c, Stream::Data);
    read_all(&mut p.server, s, Stream::Data);
    assert_eq!(p.client.channel_count(), 0);
    assert_eq!(p.server.channel_count(), 0);
    // And reused.
    assert_eq!(p.open_session(), (c, s));
}

#[test]
fn eof_and_close_in_every_order() {
    let steps = [
        Step::ClientEof,
        Step::ServerEof,
        Step::ClientClose,
        Step::ServerClose,
    ];
    // Every permutation of the four steps, with and without the peer hearing each in between.
    let mut perms = vec![];
    for a in 0..4 {
        for b in 0..4 {
            for c in 0..4 {
                for d in 0..4 {
                    let v = [a, b, c, d];
                    if (0..4).all(|x| v.contains(&x)) {
                        perms.push(v.map(|i| steps[i]));
                    }
                }
            }
        }
    }
    assert_eq!(perms.len(), 24);
    for order in &perms {
        run_ending(order, true);
        run_ending(order, false);
    }
    // Close without any EOF, from either side alone.
    run_ending(&[Step::ClientClose], true);
    run_ending(&[Step::ServerClose], false);
}

#[test]
fn close_sent_once_and_data_kept_until_read() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    p.server.send_data(s, b"last words").unwrap();
    p.server.close(s).unwrap();
    p.server.close(s).unwrap();
    let msgs: Vec<Vec<u8>> = std::iter::from_fn(|| p.server.poll_transmit()).collect();
    assert_eq!(msgs.iter().filter(|m| m[0] == CHANNEL_CLOSE.0).count(), 1);
    for m in &msgs {
        p.client.handle_message(m).unwrap();
    }
    // The client answered with its own CLOSE, once.
    let back: Vec<Vec<u8>> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    assert_eq!(back, [signal(CHANNEL_CLOSE, 0)]);
    assert!(matches!(
        p.client.send_data(c, b"x"),
        Err(Error::ChannelClosed(_))
    ));
    assert_eq!(
        p.client_events().last(),
        Some(&Event::Closed { channel: c })
    );
    // Not reused while the data is unread.
    assert_eq!(p.client.channel_count(), 1);
    assert_ne!(p.client.open_session().unwrap(), c);
    assert_eq!(read_all(&mut p.client, c, Stream::Data), b"last words");
    assert!(matches!(
        p.client.recv_len(c, Stream::Data),
        Err(Error::UnknownChannel(_))
    ));
}

#[test]
fn close_while_opening() {
    let mut p = Pair::default();
    let c = p.client.open_session().unwrap();
    p.client.close(c).unwrap();
    p.shuttle();
    let Some(Event::ChannelOpenRequest { channel: s, .. }) = p.server.poll_event() else {
        panic!()
    };
    p.server.accept_channel(s).unwrap();
    p.shuttle();
    assert_eq!(p.client_events(), [Event::Closed { channel: c }]);
    assert_eq!(p.server_events(), [Event::Closed { channel: s }]);
    assert_eq!(p.client.channel_count(), 0);
    assert_eq!(p.server.channel_count(), 0);
}

#[test]
fn data_in_flight_after_our_close_is_dropped_quietly() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    p.client.close(c).unwrap();
    // The server sends before it hears the CLOSE.
    p.server.send_data(s, b"late").unwrap();
    p.server.request(s, &ChannelRequestType::Eow, true).unwrap();
    p.server.send_eof(s).unwrap();
    p.shuttle();
    assert_eq!(p.client_events(), [Event::Closed { channel: c }]);
    assert!(p.client.error().is_none());
}

// ---------------------------------------------------------------------------------------
// Limits.

#[test]
fn ten_thousand_opens_are_capped_at_the_limit() {
    let mut server = Connection::server(Config::default());
    let mut refused = 0;
    for i in 0..10_000u32 {
        let open = encode(&Message::ChannelOpen(ChannelOpen {
            channel_type: ChannelType::Session,
            sender: i,
            initial_window: 1 << 20,
            max_packet: 1 << 15,
        }));
        server.handle_message(&open).unwrap();
        while let Some(out) = server.poll_transmit() {
            let Message::OpenFailure(f) = Message::decode(&out).unwrap() else {
                panic!()
            };
            assert_eq!(f.recipient, i);
            assert_eq!(f.reason, OpenFailureReason::RESOURCE_SHORTAGE);
            refused += 1;
        }
    }
    assert_eq!(refused, 10_000 - 1024);
    assert_eq!(server.channel_count(), 1024);
    let offered: Vec<ChannelId> = std::iter::from_fn(|| server.poll_event())
        .map(|e| match e {
            Event::ChannelOpenRequest { channel, .. } => channel,
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(offered.len(), 1024);
    for id in &offered {
        server.accept_channel(*id).unwrap();
    }
    assert!(server.error().is_none());
    // Our own opens meet the same limit, without harm.
    assert_eq!(server.open_session(), Err(Error::TooManyChannels));
}

#[test]
fn a_client_with_a_bigger_limit_gets_resource_shortage_from_the_server() {
    let mut p = Pair::new(
        Config {
            max_channels: 2000,
            ..Config::default()
        },
        Config {
            max_channels: 10,
            ..Config::default()
        },
    );
    for _ in 0..12 {
        p.client.open_session().unwrap();
    }
    p.shuttle();
    let failed = p
        .client_events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::ChannelOpenFailed {
                    reason: OpenFailureReason::RESOURCE_SHORTAGE,
                    ..
                }
            )
        })
        .count();
    assert_eq!(failed, 2);
    assert_eq!(p.client.channel_count(), 10);
}

#[test]
fn a_flood_of_requests_nobody_answers_is_cut_off() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    let limit = p.server.config().max_pending_requests;
    for _ in 0..limit {
        p.client.shell(c, true).unwrap();
    }
    p.shuttle();
    p.client.shell(c, true).unwrap();
    let m = p.client.poll_transmit().unwrap();
    let err = p.server.handle_message(&m).unwrap_err();
    assert_fatal(&mut p.server, err);
    let _ = s;
}

#[test]
fn answered_requests_do_not_count_against_the_limit() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    for _ in 0..1000 {
        p.client
            .request(
                c,
                &ChannelRequestType::WindowChange {
                    columns: 80,
                    rows: 24,
                    width_px: 0,
                    height_px: 0,
                },
                false,
            )
            .unwrap();
        p.client.shell(c, true).unwrap();
        p.client
            .global_request(&GlobalRequest::from_typed(
                &GlobalRequestType::Keepalive,
                true,
            ))
            .unwrap();
        p.shuttle();
        for e in p.server_events() {
            if let Event::ChannelRequest { reply: Some(r), .. } = e {
                p.server.reply(s, r, false).unwrap();
            }
        }
        p.shuttle();
    }
    assert!(p.server.error().is_none());
}

#[test]
fn output_full_refuses_input_without_harm() {
    let mut server = Connection::server(Config {
        max_queued_transmits: 3,
        ..Config::default()
    });
    let keepalive = encode(&Message::GlobalRequest(GlobalRequest::from_typed(
        &GlobalRequestType::Keepalive,
        true,
    )));
    for _ in 0..3 {
        server.handle_message(&keepalive).unwrap();
    }
    assert_eq!(server.handle_message(&keepalive), Err(Error::OutputFull));
    assert!(server.error().is_none());
    server.poll_transmit().unwrap();
    server.handle_message(&keepalive).unwrap();
}

// ---------------------------------------------------------------------------------------
// Bad input: each ends in a fatal PROTOCOL_ERROR.

/// A server with one open channel (our 0, the peer's 5) and an 8 KiB window / 1 KiB packets.
fn victim() -> Connection {
    let mut server = Connection::server(Config {
        initial_window: 8192,
        max_packet: 1024,
        ..Config::default()
    });
    let open = encode(&Message::ChannelOpen(ChannelOpen {
        channel_type: ChannelType::Session,
        sender: 5,
        initial_window: 100,
        max_packet: 100,
    }));
    server.handle_message(&open).unwrap();
    let Some(Event::ChannelOpenRequest { channel, .. }) = server.poll_event() else {
        panic!()
    };
    server.accept_channel(channel).unwrap();
    while server.poll_transmit().is_some() {}
    server
}

fn expect_fatal(script: &[Vec<u8>]) {
    let mut server = victim();
    let (last, first) = script.split_last().unwrap();
    for m in first {
        server.handle_message(m).unwrap();
    }
    let err = server.handle_message(last).unwrap_err();
    assert_fatal(&mut server, err);
}

fn adjust(recipient: u32, n: u32) -> Vec<u8> {
    encode(&Message::WindowAdjust(WindowAdjust {
        recipient,
        bytes_to_add: n,
    }))
}

#[test]
fn window_adjust_overflow_is_fatal() {
    // The window is 100; 2^32 - 1 - 100 more is exactly the maximum, one more overflows.
    let mut server = victim();
    server.handle_message(&adjust(0, u32::MAX - 100)).unwrap();
    expect_fatal(&[adjust(0, u32::MAX - 100), adjust(0, 1)]);
    expect_fatal(&[adjust(0, u32::MAX)]);
}

#[test]
fn data_on_unknown_half_closed_and_closed_channels_is_fatal() {
    expect_fatal(&[data(1, b"x")]);
    expect_fatal(&[data(u32::MAX, b"x")]);
    expect_fatal(&[signal(CHANNEL_EOF, 0), data(0, b"x")]);
    expect_fatal(&[
        signal(CHANNEL_EOF, 0),
        encode(&Message::ExtendedData(ExtendedData {
            recipient: 0,
            data_type: 1,
            data: b"x",
        })),
    ]);
    expect_fatal(&[signal(CHANNEL_CLOSE, 0), data(0, b"x")]);
    expect_fatal(&[signal(CHANNEL_CLOSE, 0), signal(CHANNEL_CLOSE, 0)]);
    expect_fatal(&[signal(CHANNEL_EOF, 0), signal(CHANNEL_EOF, 0)]);
    expect_fatal(&[signal(CHANNEL_CLOSE, 0), adjust(0, 1)]);
    // A channel offered to us but not yet accepted: the peer cannot know its number.
    let mut server = Connection::server(Config::default());
    let open = encode(&Message::ChannelOpen(ChannelOpen {
        channel_type: ChannelType::Session,
        sender: 1,
        initial_window: 1,
        max_packet: 1,
    }));
    server.handle_message(&open).unwrap();
    let err = server.handle_message(&data(0, b"x")).unwrap_err();
    assert_fatal(&mut server, err);
}

#[test]
fn data_beyond_the_window_or_max_packet_is_fatal() {
    expect_fatal(&[data(0, &[0; 1025])]);
    let full: Vec<Vec<u8>> = (0..8).map(|_| data(0, &[0; 1024])).collect();
    let mut script = full.clone();
    script.push(data(0, b"x"));
    expect_fatal(&script);
    // Exactly the window is fine.
    let mut server = victim();
    for m in &full {
        server.handle_message(m).unwrap();
    }
    assert_eq!(server.recv_len(ChannelId(0), Stream::Data).unwrap(), 8192);
}

#[test]
fn unsolicited_confirmations_and_replies_are_fatal() {
    let confirm = |recipient| {
        encode(&Message::OpenConfirmation(OpenConfirmation {
            recipient,
            sender: 9,
            initial_window: 1,
            max_packet: 1,
            data: &[],
        }))
    };
    expect_fatal(&[confirm(0)]);
    expect_fatal(&[confirm(7)]);
    expect_fatal(&[encode(&Message::OpenFailure(OpenFailure {
        recipient: 3,
        reason: OpenFailureReason::CONNECT_FAILED,
        description: "".into(),
        language: "".into(),
    }))]);
    expect_fatal(&[signal(CHANNEL_SUCCESS, 0)]);
    expect_fatal(&[signal(CHANNEL_FAILURE, 0)]);
    expect_fatal(&[signal(CHANNEL_SUCCESS, 4)]);
    expect_fatal(&[encode(&Message::RequestFailure)]);
    expect_fatal(&[encode(&Message::RequestSuccess(RequestSuccess {
        data: &[],
    }))]);
}

#[test]
fn malformed_and_foreign_messages_are_fatal() {
    expect_fatal(&[vec![CHANNEL_DATA.0, 0, 0, 0]]);
    expect_fatal(&[vec![CHANNEL_EOF.0, 0, 0, 0, 0, 1]]);
    expect_fatal(&[vec![50, 0]]);
    expect_fatal(&[vec![]]);
    let mut server = victim();
    let err = server
        .handle_message(&[CHANNEL_WINDOW_ADJUST.0])
        .unwrap_err();
    assert!(matches!(err, Error::InvalidMessage { .. }));
}

/// Numbers above the connection protocol's (101 and up) are not errors of the peer's: the
/// caller answers them with SSH_MSG_UNIMPLEMENTED (RFC 4253 §11.4) and the engine goes on.
#[test]
fn unrecognized_numbers_are_reported_and_not_fatal() {
    let mut p = Pair::default();
    let (_, s) = p.open_session();
    for number in [101u8, 127, 128, 200, 255] {
        assert_eq!(
            p.server.handle_message(&[number, 1, 2]),
            Err(Error::Unrecognized(MessageNumber(number)))
        );
    }
    assert!(!Error::Unrecognized(MessageNumber(101)).is_fatal());
    // Still usable: the channel takes data.
    assert!(p.server.send_data(s, b"still open").unwrap() > 0);
}

#[test]
fn caller_errors_are_not_fatal() {
    let mut p = Pair::default();
    let (c, s) = p.open_session();
    assert_eq!(
        p.client.send_data(ChannelId(99), b"x"),
        Err(Error::UnknownChannel(ChannelId(99)))
    );
    p.client.send_eof(c).unwrap();
    assert_eq!(p.client.send_eof(c), Err(Error::ChannelClosed(c)));
    assert_eq!(p.client.send_data(c, b"x"), Err(Error::ChannelClosed(c)));
    assert!(matches!(
        p.server.accept_channel(s),
        Err(Error::ApiMisuse(_))
    ));
    assert!(matches!(
        p.server.reply_global(RequestId(77), true, &[]),
        Err(Error::ApiMisuse(_))
    ));
    assert!(p.client.error().is_none() && p.server.error().is_none());
    assert!(Error::TooManyChannels.disconnect().is_none());
}

fn arbitrary_message() -> impl Strategy<Value = Vec<u8>> {
    let small = 0u32..3;
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        (
            small.clone(),
            proptest::collection::vec(any::<u8>(), 0..2000)
        )
            .prop_map(|(r, d)| data(r, &d)),
        (small.clone(), any::<u32>()).prop_map(|(r, n)| adjust(r, n)),
        (80u8..=100, small.clone())
            .prop_map(|(n, r)| signal(sshwire_transport::MessageNumber(n), r)),
        (small.clone(), any::<bool>()).prop_map(|(r, w)| encode(&Message::ChannelRequest(
            ChannelRequest {
                recipient: r,
                want_reply: w,
                request: ChannelRequestType::Shell,
            }
        ))),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(s, w, m)| encode(
            &Message::ChannelOpen(ChannelOpen {
                channel_type: ChannelType::Session,
                sender: s,
                initial_window: w,
                max_packet: m,
            })
        )),
        (small, any::<u32>()).prop_map(|(r, s)| encode(&Message::OpenConfirmation(
            OpenConfirmation {
                recipient: r,
                sender: s,
                initial_window: 1000,
                max_packet: 1000,
                data: &[],
            }
        ))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever a peer sends, in any order, the engine never panics; after a fatal error it
    /// only repeats that error; its channels stay within the limit.
    #[test]
    fn hostile_peer_never_panics(script in proptest::collection::vec(arbitrary_message(), 0..60), answer: bool) {
        let mut server = victim();
        let mut client = Connection::client(Config { max_channels: 4, ..Config::default() });
        client.open_session().unwrap();
        while client.poll_transmit().is_some() {}
        for m in &script {
            for conn in [&mut server, &mut client] {
                let r = conn.handle_message(m);
                if let Some(e) = conn.error() {
                    prop_assert_eq!(&r, &Err(e.clone()));
                }
                while let Some(e) = conn.poll_event() {
                    match e {
                        Event::ChannelOpenRequest { channel, .. } => {
                            let _ = if answer { conn.accept_channel(channel) } else { conn.reject_channel(channel, OpenFailureReason::CONNECT_FAILED, "") };
                        }
                        Event::ChannelRequest { channel, reply: Some(r), .. } => { let _ = conn.reply(channel, r, answer); }
                        Event::Readable { channel } => { let _ = conn.consume(channel, Stream::Data, usize::MAX); }
                        _ => {}
                    }
                }
                while conn.poll_transmit().is_some() {}
                prop_assert!(conn.channel_count() <= conn.config().max_channels);
            }
        }
    }
}

#[test]
fn sshwire_preset_fits_the_transport_and_caps_what_we_send() {
    assert!(crate::SSHWIRE_MAX_PACKET as usize + messages::EXTENDED_DATA_HEADER_LEN <= 256 * 1024);
    // A peer advertising a huge packet size still gets packets the transport accepts.
    let greedy = Config {
        initial_window: u32::MAX,
        max_packet: u32::MAX,
        ..Config::sshwire()
    };
    let mut p = Pair::new(Config::sshwire(), greedy);
    let (c, _) = p.open_session();
    let big = vec![1u8; 1024 * 1024];
    let mut out = Vec::new();
    let n = p.client.encode_data(c, &big, &mut out).unwrap();
    assert_eq!(n, crate::SSHWIRE_MAX_PACKET as usize);
    assert_eq!(out.len(), n + messages::DATA_HEADER_LEN);
}

#[test]
fn unknown_extended_data_is_dropped_and_its_window_returned() {
    let mut server = victim();
    let odd = |len| {
        encode(&Message::ExtendedData(ExtendedData {
            recipient: 0,
            data_type: 7,
            data: &vec![0; len],
        }))
    };
    // Far more than the 8 KiB window in total: each packet's window comes back at once.
    for _ in 0..64 {
        server.handle_message(&odd(1024)).unwrap();
        while server.poll_transmit().is_some() {}
    }
    assert_eq!(server.poll_event(), None);
    assert_eq!(server.recv_len(ChannelId(0), Stream::Stderr).unwrap(), 0);
}

#[test]
fn pieces_are_packed_as_one_slice_and_owned_messages_arrive_unchanged() {
    let peer = Config {
        initial_window: 100_000,
        max_packet: 30_000,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), peer);
    let (c, s) = p.open_session();
    let payload = pattern(3, 90_000);
    let (head, body) = payload.split_at(13);
    // Sent in two pieces, the data fills 30,000-byte packets as one slice would.
    assert_eq!(
        p.client.send_data_vectored(c, &[head, body]).unwrap(),
        90_000
    );
    let packets: Vec<Vec<u8>> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    assert_eq!(
        packets
            .iter()
            .map(|x| x.len() - messages::DATA_HEADER_LEN)
            .collect::<Vec<_>>(),
        [30_000, 30_000, 30_000]
    );
    // Handed over whole, each message's data is queued where it lies.
    for x in packets {
        let mut owned = x;
        owned.shrink_to_fit();
        p.server.handle_message_owned(&mut owned).unwrap();
        assert!(owned.is_empty(), "the data message's buffer was kept");
    }
    assert!(p.server.take_spare().is_none());
    assert_eq!(read_all(&mut p.server, s, Stream::Data), payload);
    // Read, their buffers come back for the transport to fill again.
    assert!(p.server.take_spare().is_some());
    // Small data in a large buffer is copied, and the buffer left to the caller: kept, it
    // would pin far more memory than the window accounts for.
    let mut small = Vec::with_capacity(256 * 1024);
    small.extend_from_slice(&data(s.0, b"tiny"));
    p.server.handle_message_owned(&mut small).unwrap();
    assert_eq!(small, data(s.0, b"tiny"));
    assert_eq!(read_all(&mut p.server, s, Stream::Data), b"tiny");
    // A message that is not data is handled as by `handle_message`, and left to the caller.
    let mut eof = signal(messages::CHANNEL_EOF, s.0);
    let before = eof.clone();
    p.server.handle_message_owned(&mut eof).unwrap();
    assert_eq!(eof, before);
    assert!(p.server_events().contains(&Event::Eof { channel: s }));
}

/// Data handed over whole comes out whole: the buffer it arrived in, from the first unread
/// byte, counted as read so the window re-opens; a partly read chunk comes out from where
/// the reads stopped.
#[test]
fn received_chunks_come_out_in_the_buffers_they_arrived_in() {
    let peer = Config {
        initial_window: 100_000,
        max_packet: 30_000,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), peer);
    let (c, s) = p.open_session();
    let payload = pattern(5, 60_000);
    assert_eq!(p.client.send_data(c, &payload).unwrap(), 60_000);
    let mut at = Vec::new();
    for x in std::iter::from_fn(|| p.client.poll_transmit()).collect::<Vec<_>>() {
        let mut owned = x;
        at.push(owned.as_ptr());
        p.server.handle_message_owned(&mut owned).unwrap();
    }
    let mut first = [0; 100];
    assert_eq!(p.server.read(s, Stream::Data, &mut first).unwrap(), 100);
    // A first run shorter than asked for stays where it is.
    assert_eq!(
        p.server.take_recv_chunk(s, Stream::Data, 30_000).unwrap(),
        None
    );
    assert_eq!(p.server.recv_len(s, Stream::Data).unwrap(), 59_900);
    let (buf, start) = p
        .server
        .take_recv_chunk(s, Stream::Data, 1)
        .unwrap()
        .unwrap();
    assert_eq!(buf.as_ptr(), at[0], "the first message's own buffer");
    assert_eq!(&buf[start..], &payload[100..30_000]);
    let (buf, start) = p
        .server
        .take_recv_chunk(s, Stream::Data, 1)
        .unwrap()
        .unwrap();
    assert_eq!(buf.as_ptr(), at[1]);
    assert_eq!(&buf[start..], &payload[30_000..]);
    assert_eq!(p.server.take_recv_chunk(s, Stream::Data, 1).unwrap(), None);
    assert_eq!(p.server.recv_len(s, Stream::Data).unwrap(), 0);
    // All 60,000 bytes count as read: the peer gets its window back.
    p.shuttle();
    assert_eq!(p.client.send_capacity(c).unwrap(), 100_000);
}

/// With a send headroom, every payload follows that many bytes of room and is otherwise the
/// same message: control messages, replies and channel data alike.
#[test]
fn payloads_follow_the_send_headroom() {
    const ROOM: usize = 5;
    let script = |p: &mut Pair, strip: usize| -> Vec<Vec<u8>> {
        let mut sent = Vec::new();
        let c = p.client.open_session().unwrap();
        let take = |p: &mut Pair, sent: &mut Vec<Vec<u8>>| {
            while let Some(len) = p.client.next_transmit_len() {
                let payload = p.client.poll_transmit().unwrap();
                assert_eq!(payload.len(), len + strip);
                assert!(payload[..strip].iter().all(|&b| b == 0));
                p.server.handle_message(&payload[strip..]).unwrap();
                sent.push(payload[strip..].to_vec());
            }
            while let Some(back) = p.server.poll_transmit() {
                p.client.handle_message(&back).unwrap();
            }
        };
        take(p, &mut sent);
        let s = match p.server.poll_event() {
            Some(Event::ChannelOpenRequest { channel, .. }) => channel,
            other => panic!("{other:?}"),
        };
        p.server.accept_channel(s).unwrap();
        take(p, &mut sent);
        p.client.exec(c, b"cat", true).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let mut at = 0;
        while at < data.len() {
            at += p.client.send_data(c, &data[at..]).unwrap();
            take(p, &mut sent);
            let got = read_all(&mut p.server, s, Stream::Data);
            assert!(!got.is_empty() || at == data.len());
            take(p, &mut sent);
        }
        p.client.send_eof(c).unwrap();
        take(p, &mut sent);
        sent
    };
    let plain = script(&mut Pair::default(), 0);
    let mut roomy = Pair::default();
    roomy.client.set_send_headroom(ROOM);
    assert_eq!(script(&mut roomy, ROOM), plain);
    assert!(plain.len() > 5, "{} payloads", plain.len());
}
