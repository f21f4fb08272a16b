//! Hostile peer against sshwire's server: resource limits. Password guessing (attempts per
//! connection), thousands of idle connections (the startup limit), decompression bombs.
//!
//! Each case asserts the exact outcome and then that a legitimate client is still served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sshwire_tests::hostile::messages::{payload, userauth_password, userauth_request};
use sshwire_tests::hostile::target::{MemoryTarget, PASSWORD, Target, USER};
use sshwire_tests::hostile::{Ending, KexOptions, msg, reason};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The attempts the default policy allows per connection (DESIGN.md: "6 attempts").
const MAX_ATTEMPTS: usize = 6;

#[tokio::test(start_paused = true)]
async fn password_guessing_ends_after_the_allowed_attempts() {
    let target = MemoryTarget::with(|_| {});
    let delay = target.settings().policy.failure_delay;
    assert_eq!(target.settings().policy.max_attempts as usize, MAX_ATTEMPTS);

    // One guess at a time, each waiting for its answer, as a careful attacker would.
    let case = "wrong passwords one at a time";
    let (mut h, server) = target.attacker();
    h.handshake(&KexOptions::default()).await;
    h.start_userauth().await;
    // The first `none` is not an attempt (docs/auth.md): it only lists the methods.
    h.send(&userauth_request(USER, "ssh-connection", "none", b""))
        .await
        .unwrap();
    h.expect(msg::USERAUTH_FAILURE, case).await;
    let start = tokio::time::Instant::now();
    for guess in 1..MAX_ATTEMPTS {
        h.send(&userauth_password(USER, &format!("guess {guess}")))
            .await
            .unwrap();
        h.expect(msg::USERAUTH_FAILURE, case).await;
    }
    h.send(&userauth_password(USER, "the last guess"))
        .await
        .unwrap();
    // RFC 4252 §4: "The server SHOULD have a limit on the number of failed authentication
    // attempts"; the last one ends the connection instead of its FAILURE. OpenSSH sends
    // PROTOCOL_ERROR there, sshwire the more telling NO_MORE_AUTH_METHODS_AVAILABLE.
    h.expect_disconnect(reason::NO_MORE_AUTH_METHODS_AVAILABLE, case)
        .await;
    // Every failure was held for the delay, the last one too.
    assert!(
        start.elapsed() >= delay * MAX_ATTEMPTS as u32,
        "{case}: {MAX_ATTEMPTS} failures took {:?}",
        start.elapsed()
    );
    let result = server.await.unwrap();
    assert!(
        matches!(
            result,
            Err(sshwire::Error::Auth(
                sshwire::auth::AuthError::TooManyAttempts
            ))
        ),
        "{case}: {result:?}"
    );
    target.assert_serves(case).await;

    // Ten guesses at once, the right password last: the limit holds, and nothing after the
    // sixth failure is even looked at.
    let case = "ten pipelined guesses, the right one last";
    let (mut h, server) = target.attacker();
    h.handshake(&KexOptions::default()).await;
    h.start_userauth().await;
    for guess in 0..9 {
        h.send(&userauth_password(USER, &format!("guess {guess}")))
            .await
            .unwrap();
    }
    h.send(&userauth_password(USER, PASSWORD)).await.unwrap();
    h.waiting_for(case);
    let (end, seen) = h.ending_with_messages().await;
    assert_eq!(
        end.reason(),
        Some(reason::NO_MORE_AUTH_METHODS_AVAILABLE),
        "{case}: {end:?}"
    );
    assert_eq!(
        seen,
        vec![msg::USERAUTH_FAILURE; MAX_ATTEMPTS - 1],
        "{case}: FAILUREs before the DISCONNECT, and no SUCCESS"
    );
    assert!(server.await.unwrap().is_err(), "{case}: logged in");
    target.assert_serves(case).await;

    // RFC 4252 §5 lets a client send requests without waiting; the server queues at most 16
    // (docs/auth.md) rather than buffer a flood.
    let case = "a hundred pipelined guesses";
    let (mut h, server) = target.attacker();
    h.handshake(&KexOptions::default()).await;
    h.start_userauth().await;
    for guess in 0..100 {
        if h.send(&userauth_password(USER, &format!("guess {guess}")))
            .await
            .is_err()
        {
            break;
        }
    }
    h.send(&userauth_password(USER, PASSWORD)).await.ok();
    h.waiting_for(case);
    let (end, seen) = h.ending_with_messages().await;
    assert_eq!(
        end.reason(),
        Some(reason::PROTOCOL_ERROR),
        "{case}: {end:?}"
    );
    assert!(!seen.contains(&msg::USERAUTH_SUCCESS), "{case}: {seen:?}");
    assert!(server.await.unwrap().is_err(), "{case}: logged in");
    target.assert_serves(case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_idle_connections_do_not_lock_anyone_out() {
    const IDLE: usize = 2000;
    const LIMIT: usize = 100;
    let target = Target::with(|s| s.max_unauthenticated = LIMIT).await;
    let case = "2000 idle connections against a limit of 100";
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(
            TcpStream::connect(("127.0.0.1", target.port))
                .await
                .unwrap(),
        );
    }
    target.assert_serves(case).await;
    // The server let the oldest go to make room; at most LIMIT stay open. Each got the
    // server's identification and KEXINIT first; an evicted one then reads end of stream.
    let mut open = 0;
    for s in &mut idle {
        let mut buf = vec![0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => continue,
                Err(_) => {
                    open += 1;
                    break;
                }
            }
        }
    }
    assert!(open <= LIMIT, "{case}: {open} idle connections still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_stuck_in_authentication_are_evicted_too() {
    const LIMIT: usize = 20;
    let target = Target::with(|s| s.max_unauthenticated = LIMIT).await;
    let case = "30 connections past their key exchange, idle in authentication (limit 20)";
    let mut stuck = Vec::new();
    for _ in 0..30 {
        let mut h = target.attacker().await;
        h.handshake(&KexOptions::default()).await;
        h.start_userauth().await;
        stuck.push(h);
    }
    target.assert_serves(case).await;
    // The oldest ten went first (and the eleventh for the legitimate client's slot): dropped
    // without a word, as the startup limit does.
    for (i, h) in stuck.iter_mut().enumerate().take(10) {
        assert_eq!(h.ending().await, Ending::Closed, "{case}: connection {i}");
    }
}

/// One compressed payload: an IGNORE carrying `zeros` zero bytes (IGNORE is allowed anywhere
/// after NEWKEYS).
fn ignore_of(zeros: usize) -> Vec<u8> {
    payload(msg::IGNORE, |w| {
        w.string(&vec![0u8; zeros]);
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decompression_bombs_are_refused_within_the_packet_limit() {
    let target = Target::start().await;
    // Config::max_payload_len: "The largest payload accepted from the peer (after
    // decompression)".
    const LIMIT: usize = 256 * 1024;

    let case = "zlib: an IGNORE inflating to just under the payload limit is accepted";
    let mut h = target.attacker().await;
    let sid = h
        .handshake(&KexOptions {
            compression: "zlib",
            ..KexOptions::default()
        })
        .await;
    h.send(&ignore_of(LIMIT - 64)).await.unwrap();
    h.login(USER, &target.user_key, &sid).await;
    h.open_session(0).await;
    target.assert_serves(case).await;

    for (case, zeros) in [
        (
            "zlib: 1 KiB of zlib inflating one byte past the limit",
            LIMIT - 4,
        ),
        ("zlib: 1 KiB of zlib inflating to 64 MiB", 64 << 20),
    ] {
        let mut h = target.attacker().await;
        h.handshake(&KexOptions {
            compression: "zlib",
            ..KexOptions::default()
        })
        .await;
        h.send(&ignore_of(zeros)).await.unwrap();
        // RFC 4253 §11.1: SSH_DISCONNECT_COMPRESSION_ERROR.
        h.expect_disconnect(reason::COMPRESSION_ERROR, case).await;
        target.assert_serves(case).await;
    }

    let case = "zlib@openssh.com: a bomb right after USERAUTH_SUCCESS";
    let mut h = target.attacker().await;
    let sid = h
        .handshake(&KexOptions {
            compression: "zlib@openssh.com",
            ..KexOptions::default()
        })
        .await;
    h.login(USER, &target.user_key, &sid).await;
    // OpenSSH PROTOCOL §2.2: compression starts after the server's USERAUTH_SUCCESS.
    h.start_compression();
    h.send(&ignore_of(16 << 20)).await.unwrap();
    h.expect_disconnect(reason::COMPRESSION_ERROR, case).await;
    target.assert_serves(case).await;

    let case = "zlib: a payload that is not zlib at all";
    let mut h = target.attacker().await;
    h.handshake(&KexOptions {
        compression: "zlib",
        ..KexOptions::default()
    })
    .await;
    h.send_uncompressed(&[0xff; 64]).await.unwrap();
    h.expect_disconnect(reason::COMPRESSION_ERROR, case).await;
    target.assert_serves(case).await;
}
