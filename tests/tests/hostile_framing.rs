//! Hostile peer against sshwire's server: identification lines and binary packet framing.
//!
//! Each case attacks a fresh connection, asserts the exact outcome (the DISCONNECT reason, or a
//! close without one where that is the design), then checks that the same server still logs a
//! legitimate client in and runs a command for it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sshwire_tests::hostile::target::{MemoryTarget, Target};
use sshwire_tests::hostile::{Ending, Hostile, KexOptions, KexState, msg, reason};
use tokio::io::{AsyncRead, AsyncWrite};

/// The longest identification line the server accepts, CR LF included (IdentLimits default).
const MAX_LINE: usize = 8192;

/// The largest `packet_length` the server accepts: the 256 KiB payload limit plus the framing
/// (padding length, 255 bytes of padding, a 64-byte MAC), as Config::max_payload_len and
/// MAX_FRAMING in the transport crate define it.
const MAX_PACKET_LENGTH: u32 = 256 * 1024 + 4 + 1 + 255 + 64;

/// What the attacker sends in place of its identification line.
struct IdentCase {
    name: &'static str,
    /// Sent as they are when refused; used as the line (CR LF added) when accepted.
    bytes: Vec<u8>,
    /// `Some(reason)`: the server must DISCONNECT with it; `None`: it must accept the line
    /// and complete a key exchange.
    outcome: Option<u32>,
}

fn ident_cases() -> Vec<IdentCase> {
    let long_ok = {
        let mut l = b"SSH-2.0-".to_vec();
        l.resize(MAX_LINE - 2, b'a');
        l
    };
    vec![
        IdentCase {
            name: "an identification line of exactly the limit (8 KiB with CR LF) is accepted",
            bytes: long_ok,
            outcome: None,
        },
        IdentCase {
            // RFC 4253 §5.1: "1.99" means a server that speaks 2.0 as well.
            name: "SSH-1.99 is accepted as 2.0 (RFC 4253 §5.1)",
            bytes: b"SSH-1.99-compat".to_vec(),
            outcome: None,
        },
        IdentCase {
            name: "8 KiB without a newline (the limit) is refused",
            bytes: vec![b'A'; MAX_LINE],
            outcome: Some(reason::PROTOCOL_ERROR),
        },
        IdentCase {
            name: "an identification line one byte over the limit is refused",
            bytes: {
                let mut l = b"SSH-2.0-".to_vec();
                l.resize(MAX_LINE - 1, b'a');
                l.extend_from_slice(b"\r\n");
                l
            },
            outcome: Some(reason::PROTOCOL_ERROR),
        },
        IdentCase {
            // RFC 4253 §4.2: only a server "MAY send other lines of data before sending the
            // version string".
            name: "a line before a client's identification is refused",
            bytes: b"hello there\r\nSSH-2.0-late\r\n".to_vec(),
            outcome: Some(reason::PROTOCOL_ERROR),
        },
        IdentCase {
            name: "protocol version 1.5 is not supported",
            bytes: b"SSH-1.5-old\r\n".to_vec(),
            outcome: Some(reason::PROTOCOL_VERSION_NOT_SUPPORTED),
        },
        IdentCase {
            name: "protocol version 3.0 is not supported",
            bytes: b"SSH-3.0-future\r\n".to_vec(),
            outcome: Some(reason::PROTOCOL_VERSION_NOT_SUPPORTED),
        },
        IdentCase {
            // RFC 4253 §4.2: "SSH-protoversion-softwareversion SP comments CR LF".
            name: "an identification without a software version is refused",
            bytes: b"SSH-2.0-\r\n".to_vec(),
            outcome: Some(reason::PROTOCOL_ERROR),
        },
        IdentCase {
            name: "a NUL in the identification is refused",
            bytes: b"SSH-2.0-nul\0here\r\n".to_vec(),
            outcome: Some(reason::PROTOCOL_ERROR),
        },
        IdentCase {
            // RFC 4253 §4.2: "printable US-ASCII characters, with the exception of
            // whitespace characters and the minus sign".
            name: "a control character in the software version is refused",
            bytes: b"SSH-2.0-bell\x07\r\n".to_vec(),
            outcome: Some(reason::PROTOCOL_ERROR),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identification_lines() {
    let target = Target::start().await;
    for case in ident_cases() {
        let mut h = target.attacker().await;
        let ident = h.read_ident().await;
        assert!(
            ident.is_some(),
            "{}: the server sends its line first",
            case.name
        );
        match case.outcome {
            None => {
                h.set_ident(&case.bytes);
                let mut kex = KexState::default();
                h.send_ident().await.unwrap();
                h.send_kexinit(&mut kex, &KexOptions::default()).await;
                h.recv_kexinit(&mut kex).await;
                h.send_kex_init(&mut kex).await;
                h.recv_kex_reply(&mut kex).await;
                h.send_newkeys(&mut kex).await;
                h.recv_newkeys().await;
                // The line went into the exchange hash byte for byte: the keys agree.
                h.login("alice", &target.user_key, &kex.session_id).await;
            }
            Some(r) => {
                h.send_raw(&case.bytes).await.unwrap();
                h.expect_disconnect(r, case.name).await;
            }
        }
        target.assert_serves(case.name).await;
    }
    assert_eq!(target.logins().len(), 2 + 10, "{:?}", target.log());
}

/// A crafted packet: `packet_length`, `padding_length` and whatever follows.
struct FrameCase {
    name: &'static str,
    packet_length: u32,
    padding_length: u8,
    rest: Vec<u8>,
    reason: u32,
}

/// Bad framings, for a block size of 8 (plaintext) or chacha20-poly1305 (length excluded from
/// the multiple; `encrypted`).
fn frame_cases(encrypted: bool) -> Vec<FrameCase> {
    // A well-formed IGNORE to frame: `padding` bytes of padding after it.
    let ignore = |padding: usize| {
        let mut v = vec![msg::IGNORE, 0, 0, 0, 0];
        v.resize(5 + padding, 0);
        v
    };
    // The smallest multiple-of-8 length: 16 with the length field in the clear text, 8 without.
    let (unit_len, odd_len) = if encrypted { (16, 13) } else { (12, 13) };
    vec![
        FrameCase {
            // RFC 4253 §6: "packet_length: The length of the packet in bytes, not including
            // 'mac' or the 'packet_length' field itself" holds at least padding_length and
            // four bytes of padding.
            name: "packet_length 0",
            packet_length: 0,
            padding_length: 0,
            rest: vec![],
            reason: reason::PROTOCOL_ERROR,
        },
        FrameCase {
            name: "packet_length 4, below the minimum of 5",
            packet_length: 4,
            padding_length: 4,
            rest: vec![0; 3],
            reason: reason::PROTOCOL_ERROR,
        },
        FrameCase {
            // RFC 4253 §6.1: implementations may refuse packets they consider too large; ours
            // must do so from the length alone, without waiting for 4 GiB.
            name: "packet_length 2^32-1",
            packet_length: u32::MAX,
            padding_length: 4,
            rest: vec![0; 11],
            reason: reason::PROTOCOL_ERROR,
        },
        FrameCase {
            name: "packet_length one block over the limit",
            packet_length: (MAX_PACKET_LENGTH + 8) & !7 | if encrypted { 0 } else { 4 },
            padding_length: 4,
            rest: vec![0; 11],
            reason: reason::PROTOCOL_ERROR,
        },
        FrameCase {
            // RFC 4253 §6: "the length of the concatenation of 'packet_length',
            // 'padding_length', 'payload', and 'random padding' MUST be a multiple of the
            // cipher block size or 8, whichever is larger."
            name: "packet_length not a multiple of the block size",
            packet_length: odd_len,
            padding_length: 4,
            rest: ignore(odd_len as usize - 5 - 1),
            reason: reason::PROTOCOL_ERROR,
        },
        FrameCase {
            // RFC 4253 §6: "There MUST be at least four bytes of padding."
            name: "padding_length 3",
            packet_length: unit_len,
            padding_length: 3,
            rest: ignore(unit_len as usize - 5 - 1),
            reason: reason::PROTOCOL_ERROR,
        },
        FrameCase {
            name: "padding_length equal to packet_length",
            packet_length: unit_len,
            padding_length: unit_len as u8,
            rest: ignore(unit_len as usize - 5 - 1),
            reason: reason::PROTOCOL_ERROR,
        },
        FrameCase {
            name: "padding_length 255, longer than the packet",
            packet_length: unit_len,
            padding_length: 255,
            rest: ignore(unit_len as usize - 5 - 1),
            reason: reason::PROTOCOL_ERROR,
        },
        FrameCase {
            // n1 = packet_length - padding_length - 1 = 0: no message number at all.
            name: "an empty payload",
            packet_length: unit_len,
            padding_length: unit_len as u8 - 1,
            rest: vec![0; unit_len as usize - 1],
            reason: reason::PROTOCOL_ERROR,
        },
    ]
}

/// Runs `attack` on a fresh connection for every case, then checks the server still serves.
async fn frames_against(target: &Target, encrypted: bool) {
    for case in frame_cases(encrypted) {
        let name = format!(
            "{} ({})",
            case.name,
            if encrypted {
                "after NEWKEYS"
            } else {
                "before KEXINIT"
            }
        );
        let mut h = target.attacker().await;
        if encrypted {
            h.handshake(&KexOptions::default()).await;
        } else {
            h.exchange_idents().await;
        }
        h.send_frame(case.packet_length, case.padding_length, &case.rest)
            .await
            .unwrap();
        h.expect_disconnect(case.reason, &name).await;
        target.assert_serves(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packet_framing_before_key_exchange() {
    let target = Target::start().await;
    frames_against(&target, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packet_framing_after_key_exchange() {
    let target = Target::start().await;
    frames_against(&target, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_tag_is_a_mac_error() {
    let target = Target::start().await;
    let case = "a chacha20-poly1305 tag with one bit flipped";
    let mut h = target.attacker().await;
    h.handshake(&KexOptions::default()).await;
    h.send_with_bad_tag(&[msg::IGNORE, 0, 0, 0, 0])
        .await
        .unwrap();
    // RFC 4253 §11.1: SSH_DISCONNECT_MAC_ERROR.
    h.expect_disconnect(reason::MAC_ERROR, case).await;
    target.assert_serves(case).await;
}

/// Reads how the connection ends, with the paused clock, and checks it closed without a
/// DISCONNECT after exactly the login grace time (tokio's clock, not the wall's).
async fn closed_at_grace<S: AsyncRead + AsyncWrite + Unpin>(
    h: &mut Hostile<S>,
    start: tokio::time::Instant,
    grace: Duration,
    case: &str,
) {
    // The server drops the connection when LoginGraceTime is over, without a DISCONNECT
    // (the userauth engine's own DISCONNECT needs a started userauth service). The server's
    // KEXINIT may come first.
    assert_eq!(h.ending().await, Ending::Closed, "{case}");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= grace && elapsed < grace + Duration::from_secs(1),
        "{case}: closed after {elapsed:?}, the grace time is {grace:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn identification_never_sent_or_never_finished() {
    let target = MemoryTarget::with(|_| {});
    let grace = target.settings().login_grace_time;
    let cases: [(&str, &[u8]); 3] = [
        ("no identification at all", b""),
        (
            "an identification without its newline",
            b"SSH-2.0-never-ending",
        ),
        ("4 KiB without a newline", &[b'x'; 4096]),
    ];
    for (case, bytes) in cases {
        let (mut h, server) = target.attacker();
        let start = tokio::time::Instant::now();
        h.read_ident().await.unwrap();
        h.send_raw(bytes).await.unwrap();
        closed_at_grace(&mut h, start, grace, case).await;
        let result = server.await.unwrap();
        assert!(
            matches!(result, Err(sshwire::Error::Timeout)),
            "{case}: {result:?}"
        );
        target.assert_serves(case).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_sender_is_cut_off_at_the_grace_time() {
    let target = MemoryTarget::with(|_| {});
    let grace = target.settings().login_grace_time;
    let case = "one byte every 10 s (never silent for long)";
    let (mut h, server) = target.attacker();
    let start = tokio::time::Instant::now();
    h.read_ident().await.unwrap();
    // Identification then a KEXINIT, one byte at a time: 120 s buys 12 bytes.
    let trickle = async {
        let mut line = b"SSH-2.0-slow\r\n".to_vec();
        line.extend_from_slice(&[0, 0, 1, 0, 4, msg::KEXINIT]);
        let (mut sent, mut cut_at) = (0, None);
        for b in line {
            tokio::time::sleep(Duration::from_secs(10)).await;
            if h.send_raw(&[b]).await.is_err() {
                cut_at = Some(start.elapsed());
                break;
            }
            sent += 1;
        }
        (h, sent, cut_at)
    };
    let (mut h, sent, cut_at) = trickle.await;
    // Every byte before the deadline was taken; the first write after it found the
    // connection gone (the server does not extend the grace time for progress).
    assert_eq!(sent, 12, "{case}: bytes sent before the grace time ended");
    let cut_at = cut_at.expect("the connection outlived the trickle");
    assert!(
        cut_at > grace && cut_at <= grace + Duration::from_secs(10),
        "{case}: cut off after {cut_at:?}, the grace time is {grace:?}"
    );
    assert_eq!(h.ending().await, Ending::Closed, "{case}");
    assert!(
        matches!(server.await.unwrap(), Err(sshwire::Error::Timeout)),
        "{case}"
    );
    target.assert_serves(case).await;
}

#[tokio::test(start_paused = true)]
async fn authentication_never_finished_is_cut_off_at_the_grace_time() {
    let target = MemoryTarget::with(|_| {});
    let grace = target.settings().login_grace_time;
    let case = "key exchange done, userauth started 10 s later, then one wrong password";
    let (mut h, server) = target.attacker();
    let start = tokio::time::Instant::now();
    h.handshake(&KexOptions::default()).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    h.start_userauth().await;
    h.send(&sshwire_tests::hostile::messages::userauth_password(
        "alice", "wrong",
    ))
    .await
    .unwrap();
    h.expect(msg::USERAUTH_FAILURE, case).await;
    // LoginGraceTime counts from the accept, not from the start of authentication (whose
    // own deadline, 10 s later, would send BY_APPLICATION): the connection is dropped at
    // 120 s.
    closed_at_grace(&mut h, start, grace, case).await;
    assert!(
        matches!(server.await.unwrap(), Err(sshwire::Error::Timeout)),
        "{case}"
    );
    target.assert_serves(case).await;
}
