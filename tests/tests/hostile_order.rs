//! Hostile peer against sshwire's server: messages out of order, a table of message x state
//! for the transport (before KEXINIT, during the key exchange, after NEWKEYS), user
//! authentication (before the service, before success, after it) and the connection layer
//! (before auth, unknown channels, windows, EOF and CLOSE).
//!
//! Every row names the state it reaches, what it sends there, and the exact outcome; every row
//! is followed by a legitimate client logging in and running a command on the same server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sshwire_tests::hostile::messages::{
    OpenedChannel, channel_data, channel_open, channel_signal, exec, global_request, payload,
    service_request, userauth_password, userauth_publickey, userauth_request, window_adjust,
};
use sshwire_tests::hostile::target::{PASSWORD, Target, USER};
use sshwire_tests::hostile::{Ending, Hostile, KexOptions, KexState, msg, reason};
use tokio::net::TcpStream;

/// How far the attacker goes, honestly, before it misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    /// Identifications exchanged; the attacker has sent no packet.
    BeforeKexinit,
    /// Both KEXINITs exchanged; the server waits for KEX_ECDH_INIT.
    DuringKex,
    /// The server has sent its reply and NEWKEYS, and waits for ours.
    AwaitingNewkeys,
    /// Keys in use both ways; no service requested yet.
    AfterNewkeys,
    /// `ssh-userauth` accepted; nobody logged in.
    Userauth,
    /// Logged in (USERAUTH_SUCCESS received); no channel.
    LoggedIn,
    /// Logged in, with a session channel open (the attacker's number 0).
    ChannelOpen,
}

/// What the server must do about a row.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// DISCONNECT with this reason.
    Disconnect(u32),
    /// Answer with this message, then carry on (the attacker goes on to log in).
    Reply(u8),
    /// Carry on as if nothing happened.
    Continues,
}

/// One row of the table.
struct Row {
    name: &'static str,
    state: State,
    /// Offer strict kex (OpenSSH PROTOCOL §1.10), as OpenSSH's client does.
    strict: bool,
    /// The payloads sent in that state, given the open channel (if any).
    send: fn(Option<OpenedChannel>) -> Vec<Vec<u8>>,
    expect: Expect,
}

/// A connection driven to some [`State`].
struct Run {
    h: Hostile<TcpStream>,
    kex: KexState,
    opts: KexOptions,
    at: State,
    channel: Option<OpenedChannel>,
}

impl Run {
    async fn reach(target: &Target, state: State, strict: bool) -> Run {
        let mut run = Run {
            h: target.attacker().await,
            kex: KexState::default(),
            opts: KexOptions {
                strict,
                ..KexOptions::default()
            },
            at: State::BeforeKexinit,
            channel: None,
        };
        run.h.exchange_idents().await;
        run.advance(target, state).await;
        run
    }

    /// Takes the honest steps from the current state to `to`.
    async fn advance(&mut self, target: &Target, to: State) {
        let h = &mut self.h;
        while self.at < to {
            self.at = match self.at {
                State::BeforeKexinit => {
                    h.send_kexinit(&mut self.kex, &self.opts).await;
                    h.recv_kexinit(&mut self.kex).await;
                    State::DuringKex
                }
                State::DuringKex => {
                    h.send_kex_init(&mut self.kex).await;
                    h.recv_kex_reply(&mut self.kex).await;
                    State::AwaitingNewkeys
                }
                State::AwaitingNewkeys => {
                    h.send_newkeys(&mut self.kex).await;
                    h.recv_newkeys().await;
                    State::AfterNewkeys
                }
                State::AfterNewkeys => {
                    h.start_userauth().await;
                    State::Userauth
                }
                State::Userauth => {
                    let request = userauth_publickey(USER, &target.user_key, &self.kex.session_id);
                    h.send(&request).await.unwrap();
                    h.expect(msg::USERAUTH_SUCCESS, "login").await;
                    State::LoggedIn
                }
                State::LoggedIn | State::ChannelOpen => {
                    self.channel = Some(h.open_session(0).await);
                    State::ChannelOpen
                }
            };
        }
    }
}

fn one(p: Vec<u8>) -> Vec<Vec<u8>> {
    vec![p]
}

fn ignore() -> Vec<u8> {
    payload(msg::IGNORE, |w| {
        w.string(b"");
    })
}

fn debug() -> Vec<u8> {
    payload(msg::DEBUG, |w| {
        w.bool(false).string(b"hello").string(b"");
    })
}

/// The open channel's number at the server.
fn ch(c: Option<OpenedChannel>) -> u32 {
    c.expect("row needs an open channel").server_id
}

/// Transport-layer rows (RFC 4253; OpenSSH PROTOCOL §1.10 for strict kex).
fn transport_rows() -> Vec<Row> {
    use State::*;
    let mut rows = Vec::new();
    for strict in [true, false] {
        // OpenSSH PROTOCOL §1.10: with strict kex "SSH_MSG_KEXINIT [must be] the first
        // message received" and "any non-KEXINIT or non-KEX message" during the initial
        // exchange is fatal. Without it, RFC 4253 §7.1 allows "transport layer generic
        // messages (1 to 19)" during a key exchange.
        let generic = if strict {
            Expect::Disconnect(reason::PROTOCOL_ERROR)
        } else {
            Expect::Continues
        };
        rows.extend([
            Row {
                name: "IGNORE before KEXINIT",
                state: BeforeKexinit,
                strict,
                send: |_| one(ignore()),
                expect: generic,
            },
            Row {
                name: "DEBUG before KEXINIT",
                state: BeforeKexinit,
                strict,
                send: |_| one(debug()),
                expect: generic,
            },
            Row {
                name: "IGNORE during the key exchange",
                state: DuringKex,
                strict,
                send: |_| one(ignore()),
                expect: generic,
            },
            Row {
                name: "IGNORE between the server's NEWKEYS and ours",
                state: AwaitingNewkeys,
                strict,
                send: |_| one(ignore()),
                expect: generic,
            },
        ]);
    }
    let fatal = Expect::Disconnect(reason::PROTOCOL_ERROR);
    for strict in [true, false] {
        rows.extend([
            // RFC 4253 §7.1: during a key exchange "SSH_MSG_SERVICE_REQUEST and
            // SSH_MSG_SERVICE_ACCEPT MUST NOT be sent".
            Row {
                name: "SERVICE_REQUEST before KEXINIT",
                state: BeforeKexinit,
                strict,
                send: |_| one(service_request("ssh-userauth")),
                expect: fatal,
            },
            Row {
                name: "NEWKEYS before KEXINIT",
                state: BeforeKexinit,
                strict,
                send: |_| one(vec![msg::NEWKEYS]),
                expect: fatal,
            },
            Row {
                name: "KEX_ECDH_INIT before KEXINIT",
                state: BeforeKexinit,
                strict,
                send: |_| {
                    one(payload(msg::KEX_ECDH_INIT, |w| {
                        w.string(&[9; 32]);
                    }))
                },
                expect: fatal,
            },
            Row {
                name: "USERAUTH_REQUEST before KEXINIT",
                state: BeforeKexinit,
                strict,
                send: |_| one(userauth_password(USER, PASSWORD)),
                expect: fatal,
            },
            Row {
                name: "CHANNEL_OPEN before KEXINIT",
                state: BeforeKexinit,
                strict,
                send: |_| one(channel_open("session", 0, 1 << 20, 32768)),
                expect: fatal,
            },
            Row {
                name: "SERVICE_REQUEST during the key exchange",
                state: DuringKex,
                strict,
                send: |_| one(service_request("ssh-userauth")),
                expect: fatal,
            },
            Row {
                // RFC 4253 §7.1: "further SSH_MSG_KEXINIT messages MUST NOT be sent".
                name: "a second KEXINIT during the key exchange",
                state: DuringKex,
                strict,
                send: |_| {
                    let mut w = sshwire_wire::Writer::new();
                    sshwire::transport::kexinit::KexInit {
                        kex_algorithms: vec!["curve25519-sha256".into()],
                        ..Default::default()
                    }
                    .encode(&mut w);
                    one(w.into_vec())
                },
                expect: fatal,
            },
            Row {
                name: "NEWKEYS before KEX_ECDH_INIT",
                state: DuringKex,
                strict,
                send: |_| one(vec![msg::NEWKEYS]),
                expect: fatal,
            },
            Row {
                name: "KEX_ECDH_REPLY (a server's message) from the client",
                state: DuringKex,
                strict,
                send: |_| {
                    one(payload(msg::KEX_ECDH_REPLY, |w| {
                        w.string(b"").string(&[9; 32]).string(b"");
                    }))
                },
                expect: fatal,
            },
            Row {
                name: "USERAUTH_REQUEST during the key exchange",
                state: DuringKex,
                strict,
                send: |_| one(userauth_password(USER, PASSWORD)),
                expect: fatal,
            },
            Row {
                name: "CHANNEL_OPEN during the key exchange",
                state: DuringKex,
                strict,
                send: |_| one(channel_open("session", 0, 1 << 20, 32768)),
                expect: fatal,
            },
            Row {
                name: "a second KEX_ECDH_INIT",
                state: AwaitingNewkeys,
                strict,
                send: |_| {
                    one(payload(msg::KEX_ECDH_INIT, |w| {
                        w.string(&[9; 32]);
                    }))
                },
                expect: fatal,
            },
            Row {
                name: "SERVICE_REQUEST before our NEWKEYS",
                state: AwaitingNewkeys,
                strict,
                send: |_| one(service_request("ssh-userauth")),
                expect: fatal,
            },
        ]);
    }
    rows.extend([
        Row {
            // RFC 8731 §3: "[...] MUST check whether the computed shared secret is the
            // all-zero value and abort if so".
            name: "KEX_ECDH_INIT with an all-zero X25519 point",
            state: DuringKex,
            strict: true,
            send: |_| {
                one(payload(msg::KEX_ECDH_INIT, |w| {
                    w.string(&[0; 32]);
                }))
            },
            expect: Expect::Disconnect(reason::KEY_EXCHANGE_FAILED),
        },
        Row {
            name: "KEX_ECDH_INIT with a 31-byte X25519 point",
            state: DuringKex,
            strict: true,
            send: |_| {
                one(payload(msg::KEX_ECDH_INIT, |w| {
                    w.string(&[9; 31]);
                }))
            },
            expect: Expect::Disconnect(reason::KEY_EXCHANGE_FAILED),
        },
        Row {
            name: "IGNORE after NEWKEYS",
            state: AfterNewkeys,
            strict: true,
            send: |_| one(ignore()),
            expect: Expect::Continues,
        },
        Row {
            name: "DEBUG after NEWKEYS",
            state: AfterNewkeys,
            strict: true,
            send: |_| one(debug()),
            expect: Expect::Continues,
        },
        Row {
            // RFC 4253 §11.4: "An implementation MUST respond to all unrecognized messages
            // with an SSH_MSG_UNIMPLEMENTED message".
            name: "an unassigned transport number (15) after NEWKEYS",
            state: AfterNewkeys,
            strict: true,
            send: |_| one(vec![15, 1, 2, 3]),
            expect: Expect::Reply(msg::UNIMPLEMENTED),
        },
        Row {
            name: "a second NEWKEYS without a key exchange",
            state: AfterNewkeys,
            strict: true,
            send: |_| one(vec![msg::NEWKEYS]),
            expect: fatal,
        },
        Row {
            name: "KEX_ECDH_INIT without a key exchange",
            state: AfterNewkeys,
            strict: true,
            send: |_| {
                one(payload(msg::KEX_ECDH_INIT, |w| {
                    w.string(&[9; 32]);
                }))
            },
            expect: fatal,
        },
        Row {
            name: "SERVICE_ACCEPT (a server's message) from the client",
            state: AfterNewkeys,
            strict: true,
            send: |_| {
                one(payload(msg::SERVICE_ACCEPT, |w| {
                    w.string(b"ssh-userauth");
                }))
            },
            expect: fatal,
        },
    ]);
    rows
}

/// Authentication rows (RFC 4252, RFC 4253 §10).
fn auth_rows() -> Vec<Row> {
    use State::*;
    let fatal = Expect::Disconnect(reason::PROTOCOL_ERROR);
    let row = |name, state, send, expect| Row {
        name,
        state,
        strict: true,
        send,
        expect,
    };
    vec![
        // RFC 4252 §4: the client requests the service "ssh-userauth" first; our server
        // takes nothing else before it.
        row(
            "USERAUTH_REQUEST before SERVICE_REQUEST",
            AfterNewkeys,
            |_| one(userauth_password(USER, PASSWORD)),
            fatal,
        ),
        row(
            "CHANNEL_OPEN before SERVICE_REQUEST",
            AfterNewkeys,
            |_| one(channel_open("session", 0, 1 << 20, 32768)),
            fatal,
        ),
        row(
            "GLOBAL_REQUEST before SERVICE_REQUEST",
            AfterNewkeys,
            |_| one(global_request("tcpip-forward", true)),
            fatal,
        ),
        row(
            "an unknown upper-layer number (192) before SERVICE_REQUEST",
            AfterNewkeys,
            |_| one(vec![192]),
            fatal,
        ),
        // RFC 4253 §10: "If the server rejects the service request, it SHOULD send an
        // appropriate SSH_MSG_DISCONNECT message and MUST disconnect."
        row(
            "SERVICE_REQUEST ssh-connection, skipping authentication",
            AfterNewkeys,
            |_| one(service_request("ssh-connection")),
            Expect::Disconnect(reason::SERVICE_NOT_AVAILABLE),
        ),
        row(
            "a second SERVICE_REQUEST ssh-userauth",
            Userauth,
            |_| one(service_request("ssh-userauth")),
            Expect::Disconnect(reason::SERVICE_NOT_AVAILABLE),
        ),
        // RFC 4252 §6: "Message numbers of 80 and higher are reserved for protocols running
        // after this authentication protocol, so receiving one of them before authentication
        // is complete is an error, to which the server MUST respond by disconnecting".
        row(
            "CHANNEL_OPEN before USERAUTH_SUCCESS (no session without auth)",
            Userauth,
            |_| one(channel_open("session", 0, 1 << 20, 32768)),
            fatal,
        ),
        row(
            "GLOBAL_REQUEST before USERAUTH_SUCCESS",
            Userauth,
            |_| one(global_request("tcpip-forward", true)),
            fatal,
        ),
        row(
            "CHANNEL_DATA before USERAUTH_SUCCESS",
            Userauth,
            |_| one(channel_data(0, b"rm -rf /\n")),
            fatal,
        ),
        // libssh's CVE-2018-10933: a client's USERAUTH_SUCCESS must not log it in.
        row(
            "a forged USERAUTH_SUCCESS from the client",
            Userauth,
            |_| one(vec![msg::USERAUTH_SUCCESS]),
            fatal,
        ),
        row(
            "a forged USERAUTH_SUCCESS, then CHANNEL_OPEN and exec at once",
            Userauth,
            |_| {
                vec![
                    vec![msg::USERAUTH_SUCCESS],
                    channel_open("session", 0, 1 << 20, 32768),
                    exec(0, "hello", true),
                ]
            },
            fatal,
        ),
        row(
            "USERAUTH_FAILURE (a server's message) from the client",
            Userauth,
            |_| {
                one(payload(msg::USERAUTH_FAILURE, |w| {
                    w.string(b"password").bool(false);
                }))
            },
            fatal,
        ),
        row(
            "USERAUTH_BANNER (a server's message) from the client",
            Userauth,
            |_| {
                one(payload(msg::USERAUTH_BANNER, |w| {
                    w.string(b"hi").string(b"");
                }))
            },
            fatal,
        ),
        row(
            "USERAUTH_PK_OK (60, a server's message) from the client",
            Userauth,
            |_| {
                one(payload(msg::USERAUTH_60, |w| {
                    w.string(b"ssh-ed25519").string(b"");
                }))
            },
            fatal,
        ),
        row(
            "an INFO_RESPONSE nobody asked for",
            Userauth,
            |_| {
                one(payload(msg::USERAUTH_INFO_RESPONSE, |w| {
                    w.u32(1).string(b"guess");
                }))
            },
            fatal,
        ),
        row(
            "an unknown number (192) during authentication",
            Userauth,
            |_| one(vec![192]),
            fatal,
        ),
        // RFC 4252 §5: "if the service does not exist, authentication MUST NOT be accepted".
        row(
            "USERAUTH_REQUEST for a service that does not exist",
            Userauth,
            |_| one(userauth_request(USER, "ssh-nothing", "none", b"")),
            Expect::Disconnect(reason::SERVICE_NOT_AVAILABLE),
        ),
        row(
            "a user name with a control character",
            Userauth,
            |_| one(userauth_request("ali\x1bce", "ssh-connection", "none", b"")),
            Expect::Disconnect(reason::ILLEGAL_USER_NAME),
        ),
        row(
            "a change of user name during authentication",
            Userauth,
            |_| {
                vec![
                    userauth_request(USER, "ssh-connection", "none", b""),
                    userauth_request("root", "ssh-connection", "none", b""),
                ]
            },
            fatal,
        ),
        row(
            "IGNORE during authentication",
            Userauth,
            |_| one(ignore()),
            Expect::Continues,
        ),
        row(
            "an unassigned transport number (15) during authentication",
            Userauth,
            |_| one(vec![15]),
            Expect::Reply(msg::UNIMPLEMENTED),
        ),
        row(
            "none, answered with the methods that can continue",
            Userauth,
            |_| one(userauth_request(USER, "ssh-connection", "none", b"")),
            Expect::Reply(msg::USERAUTH_FAILURE),
        ),
        // RFC 4252 §5.1: "Any authentication requests received after the
        // SSH_MSG_USERAUTH_SUCCESS message SHOULD be silently ignored."
        row(
            "USERAUTH_REQUEST after success",
            LoggedIn,
            |_| one(userauth_request("root", "ssh-connection", "none", b"")),
            Expect::Continues,
        ),
        row(
            "a forged USERAUTH_SUCCESS after success",
            LoggedIn,
            |_| one(vec![msg::USERAUTH_SUCCESS]),
            fatal,
        ),
        row(
            "SERVICE_REQUEST after success",
            LoggedIn,
            |_| one(service_request("ssh-userauth")),
            Expect::Disconnect(reason::SERVICE_NOT_AVAILABLE),
        ),
    ]
}

/// Connection-layer rows (RFC 4254).
fn connection_rows() -> Vec<Row> {
    use State::*;
    let fatal = Expect::Disconnect(reason::PROTOCOL_ERROR);
    let row = |name, state, send, expect| Row {
        name,
        state,
        strict: true,
        send,
        expect,
    };
    vec![
        row(
            "CHANNEL_DATA to a channel that was never opened",
            LoggedIn,
            |_| one(channel_data(77, b"hello")),
            fatal,
        ),
        row(
            "CHANNEL_CLOSE of a channel that was never opened",
            LoggedIn,
            |_| one(channel_signal(msg::CHANNEL_CLOSE, 77)),
            fatal,
        ),
        row(
            "CHANNEL_OPEN_CONFIRMATION of a channel the server never opened",
            LoggedIn,
            |_| {
                one(payload(msg::CHANNEL_OPEN_CONFIRMATION, |w| {
                    w.u32(0).u32(0).u32(1 << 20).u32(32768);
                }))
            },
            fatal,
        ),
        row(
            "REQUEST_SUCCESS with no global request pending",
            LoggedIn,
            |_| one(vec![msg::REQUEST_SUCCESS]),
            fatal,
        ),
        row(
            "a channel request on a channel that was never opened",
            LoggedIn,
            |_| one(exec(77, "hello", true)),
            fatal,
        ),
        // Refusals, not disconnects: the connection carries on.
        row(
            "CHANNEL_OPEN x11 to a server",
            LoggedIn,
            |_| {
                one(payload(msg::CHANNEL_OPEN, |w| {
                    w.string(b"x11")
                        .u32(5)
                        .u32(1 << 20)
                        .u32(32768)
                        .string(b"127.0.0.1")
                        .u32(6010);
                }))
            },
            Expect::Reply(msg::CHANNEL_OPEN_FAILURE),
        ),
        row(
            "CHANNEL_OPEN direct-tcpip (no forwarding here)",
            LoggedIn,
            |_| {
                one(payload(msg::CHANNEL_OPEN, |w| {
                    w.string(b"direct-tcpip")
                        .u32(5)
                        .u32(1 << 20)
                        .u32(32768)
                        .string(b"127.0.0.1")
                        .u32(22)
                        .string(b"127.0.0.1")
                        .u32(4444);
                }))
            },
            Expect::Reply(msg::CHANNEL_OPEN_FAILURE),
        ),
        row(
            "GLOBAL_REQUEST tcpip-forward",
            LoggedIn,
            |_| one(global_request("tcpip-forward", true)),
            Expect::Reply(msg::REQUEST_FAILURE),
        ),
        // RFC 4253 §11.4: "An implementation MUST respond to all unrecognized messages with
        // an SSH_MSG_UNIMPLEMENTED message".
        row(
            "an unknown number (200, a local extension) after login",
            LoggedIn,
            |_| one(vec![200, 1, 2, 3]),
            Expect::Reply(msg::UNIMPLEMENTED),
        ),
        row(
            "an unassigned connection number (110) on an open channel",
            ChannelOpen,
            |_| one(vec![110]),
            Expect::Reply(msg::UNIMPLEMENTED),
        ),
        // RFC 4254 §5.2: "The maximum amount of data allowed is determined by the maximum
        // packet size for the channel and the current window size, whichever is smaller."
        row(
            "data beyond the window the server granted",
            ChannelOpen,
            |c| {
                let c = c.unwrap();
                let mut left = c.window as usize + 1;
                let mut v = Vec::new();
                while left > 0 {
                    let n = left.min(c.max_packet as usize);
                    v.push(channel_data(c.server_id, &vec![b'x'; n]));
                    left -= n;
                }
                v
            },
            fatal,
        ),
        row(
            "one data packet larger than the maximum packet size",
            ChannelOpen,
            |c| {
                let c = c.unwrap();
                one(channel_data(
                    c.server_id,
                    &vec![b'x'; c.max_packet as usize + 1],
                ))
            },
            fatal,
        ),
        row(
            // RFC 4254 §5.2: "window of up to 2^32 - 1 bytes".
            "WINDOW_ADJUST past 2^32 - 1",
            ChannelOpen,
            |c| {
                vec![
                    window_adjust(ch(c), u32::MAX),
                    window_adjust(ch(c), u32::MAX),
                ]
            },
            fatal,
        ),
        // RFC 4254 §5.3: "When a party will no longer send more data to a channel, it
        // SHOULD send SSH_MSG_CHANNEL_EOF."
        row(
            "CHANNEL_DATA after CHANNEL_EOF",
            ChannelOpen,
            |c| {
                vec![
                    channel_signal(msg::CHANNEL_EOF, ch(c)),
                    channel_data(ch(c), b"more"),
                ]
            },
            fatal,
        ),
        row(
            "CHANNEL_CLOSE twice",
            ChannelOpen,
            |c| {
                vec![
                    channel_signal(msg::CHANNEL_CLOSE, ch(c)),
                    channel_signal(msg::CHANNEL_CLOSE, ch(c)),
                ]
            },
            fatal,
        ),
        row(
            "CHANNEL_DATA after CHANNEL_CLOSE",
            ChannelOpen,
            |c| {
                vec![
                    channel_signal(msg::CHANNEL_CLOSE, ch(c)),
                    channel_data(ch(c), b"late"),
                ]
            },
            fatal,
        ),
        row(
            "CHANNEL_SUCCESS with no channel request pending",
            ChannelOpen,
            |c| one(channel_signal(msg::CHANNEL_SUCCESS, ch(c))),
            fatal,
        ),
        row(
            "an exec the handler refuses",
            ChannelOpen,
            |c| one(exec(ch(c), "rm -rf /", true)),
            Expect::Reply(msg::CHANNEL_FAILURE),
        ),
        row(
            "CHANNEL_EOF then CHANNEL_CLOSE, in order",
            ChannelOpen,
            |c| {
                vec![
                    channel_signal(msg::CHANNEL_EOF, ch(c)),
                    channel_signal(msg::CHANNEL_CLOSE, ch(c)),
                ]
            },
            Expect::Reply(msg::CHANNEL_CLOSE),
        ),
    ]
}

async fn run_rows(rows: Vec<Row>) {
    let target = Target::start().await;
    for row in rows {
        let name = format!(
            "{} [{:?}{}]",
            row.name,
            row.state,
            if row.strict { ", strict kex" } else { "" }
        );
        let logins_before = target.logins().len();
        let mut run = Run::reach(&target, row.state, row.strict).await;
        let seq = run.h.next_seq();
        for p in (row.send)(run.channel) {
            // The server may hang up in the middle of a long list: stop writing then.
            if run.h.send(&p).await.is_err() {
                break;
            }
        }
        match row.expect {
            Expect::Disconnect(r) => {
                if run.at == State::BeforeKexinit {
                    // Strict kex is known, and its first-packet rule checked, only once our
                    // KEXINIT arrives: send it (the server may have hung up already).
                    run.h.send_kexinit(&mut run.kex, &run.opts).await;
                }
                run.h.waiting_for(&name);
                let (end, seen) = run.h.ending_with_messages().await;
                assert_eq!(end.reason(), Some(r), "{name}: got {end:?} after {seen:?}");
                if run.at < State::LoggedIn {
                    // Whatever came before the DISCONNECT, it was not a login or a channel.
                    assert!(
                        !seen.contains(&msg::USERAUTH_SUCCESS)
                            && !seen.contains(&msg::CHANNEL_OPEN_CONFIRMATION),
                        "{name}: the server answered {seen:?}"
                    );
                    assert_eq!(target.logins().len(), logins_before, "{name}: logged in");
                }
            }
            Expect::Reply(number) => {
                let reply = run.h.expect(number, &name).await;
                if number == msg::UNIMPLEMENTED {
                    // RFC 4253 §11.4: "uint32 packet sequence number of rejected message".
                    assert_eq!(
                        reply.get(1..5),
                        Some(&seq.to_be_bytes()[..]),
                        "{name}: the sequence number in UNIMPLEMENTED"
                    );
                }
                finish(&target, &mut run, &name).await;
            }
            Expect::Continues => finish(&target, &mut run, &name).await,
        }
        target.assert_serves(&name).await;
    }
}

/// Carries on honestly from the row's state to an open channel (a second one if one was
/// open): the server did not hold the row against the connection.
async fn finish(target: &Target, run: &mut Run, name: &str) {
    if run.at == State::ChannelOpen {
        run.h.open_session(1).await;
    } else {
        run.advance(target, State::ChannelOpen).await;
    }
    assert!(run.channel.is_some(), "{name}: carried on to a channel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_messages_out_of_order() {
    run_rows(transport_rows()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_messages_out_of_order() {
    run_rows(auth_rows()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_messages_out_of_order() {
    run_rows(connection_rows()).await;
}

/// libssh's CVE-2018-10933 in full: a forged success, then a session and a command at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_success_never_logs_in() {
    let target = Target::start().await;
    let case = "USERAUTH_SUCCESS sent by the client, then a session and a command";
    let mut h = target.attacker().await;
    h.handshake(&KexOptions::default()).await;
    h.start_userauth().await;
    h.send(&[msg::USERAUTH_SUCCESS]).await.unwrap();
    let _ = h.send(&channel_open("session", 0, 1 << 20, 32768)).await;
    let _ = h.send(&exec(0, "hello", true)).await;
    let (end, seen) = h.ending_with_messages().await;
    assert_eq!(
        end.reason(),
        Some(reason::PROTOCOL_ERROR),
        "{case}: {end:?}"
    );
    assert!(seen.is_empty(), "{case}: the server answered {seen:?}");
    assert!(target.logins().is_empty(), "{case}: {:?}", target.log());
    assert!(
        matches!(&end, Ending::Disconnect { description, .. } if description.contains("52")
            || description.to_lowercase().contains("success")),
        "{case}: {end:?}"
    );
    target.assert_serves(case).await;
}

/// Text a peer chooses (a DISCONNECT's description, a service name, a version) reaches the
/// server's log only with its control characters escaped: no forged log lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_text_cannot_forge_a_log_line() {
    let target = Target::start().await;
    let forged = "\n127.0.0.1:4242: root logged in (publickey)\r";
    type Build = fn(&str) -> Vec<u8>;
    let cases: [(&str, Build); 3] = [
        ("a DISCONNECT whose description holds a newline", |forged| {
            payload(msg::DISCONNECT, |w| {
                w.u32(reason::BY_APPLICATION)
                    .string(format!("bye{forged}").as_bytes())
                    .string(b"");
            })
        }),
        ("a SERVICE_REQUEST whose name holds a newline", |forged| {
            service_request(&format!("ssh-{}", &forged[..40]))
        }),
        (
            "a USERAUTH_REQUEST whose service holds a newline",
            |forged| userauth_request(USER, &format!("ssh-{}", &forged[..40]), "none", b""),
        ),
    ];
    for (case, message) in cases {
        let mut h = target.attacker().await;
        h.handshake(&KexOptions::default()).await;
        if case.contains("USERAUTH") {
            h.start_userauth().await;
        }
        h.send(&message(forged)).await.unwrap();
        let _ = h.ending().await;
        target.assert_serves(case).await;
    }
    // A bad version, CR inside the identification line.
    let case = "an identification line with a CR inside its version";
    let mut h = target.attacker().await;
    h.read_ident().await.unwrap();
    h.send_raw(b"SSH-1.5\r127.0.0.1:4242: root logged in (publickey)-x\r\n")
        .await
        .unwrap();
    h.expect_disconnect(reason::PROTOCOL_VERSION_NOT_SUPPORTED, case)
        .await;
    target.assert_serves(case).await;

    let log = target.log();
    assert!(
        log.iter().all(|l| !l.chars().any(char::is_control)),
        "a peer wrote control characters into the log: {log:#?}"
    );
    assert_eq!(
        log.iter()
            .filter(|l| l.contains(": alice logged in"))
            .count(),
        4,
        "the legitimate logins: {log:#?}"
    );
}
