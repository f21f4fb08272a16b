//! Slow and silent servers against sshwire's client: one that sends its identification one
//! byte at a time forever, one that stalls in the middle of a packet after the key exchange,
//! and one that never answers the authentication request. The client gives up at its
//! `connect_timeout` (OpenSSH's `ConnectTimeout`, which in sshwire bounds the key exchange
//! and authentication too) with `Error::Timeout`, "connection timed out".
//!
//! Real loopback TCP with a short timeout: tokio's paused clock would jump past the timeout
//! while the socket is idle. Each attacker reports the point it reached, so the timeout is
//! known to have struck there and not earlier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use sshwire::Error;
use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire_tests::hostile::{Hostile, ServerKex, ServerKexOptions, msg};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The client's bound on connecting, the key exchange and authentication.
const TIMEOUT: Duration = Duration::from_secs(10);

fn auth() -> AuthOptions {
    let key = PrivateKey::generate(KeyType::Ed25519, None, &mut *sshwire::system_rng()).unwrap();
    let mut auth = AuthOptions::new("alice");
    auth.use_agent = false;
    auth.identities = vec![Identity::Key(Arc::new(key), "alice".into())];
    auth
}

/// Runs `attack` as the server of one connection and the client against it; returns the
/// client's result and whether the attacker reached its stall point before the client gave
/// up.
async fn against<F>(
    attack: impl FnOnce(Hostile<TcpStream>, oneshot::Sender<()>) -> F + Send + 'static,
) -> (Result<Client, Error>, bool)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (reached, mut at_stall) = oneshot::channel();
    let attacker = async move {
        let (stream, _) = listener.accept().await.unwrap();
        attack(Hostile::new(stream), reached).await;
    };
    let server = tokio::spawn(attacker);
    let config = ClientConfig {
        connect_timeout: Some(TIMEOUT),
        ..ClientConfig::default()
    };
    let mut trust = |_: &PublicKey| true;
    let r = Client::connect(
        "127.0.0.1",
        port,
        &config,
        &mut trust,
        &auth(),
        &mut NoPrompts,
    )
    .await;
    let stalled = at_stall.try_recv().is_ok();
    server.abort();
    (r, stalled)
}

/// Checks that the client gave up with a timeout after the attacker reached its stall.
fn assert_timed_out(r: Result<Client, Error>, stalled: bool, case: &str) {
    match r {
        Err(e @ Error::Timeout) => assert_eq!(e.to_string(), "connection timed out"),
        Err(e) => panic!("{case}: {e}, not a timeout"),
        Ok(_) => panic!("{case}: the client logged in"),
    }
    assert!(
        stalled,
        "{case}: the timeout struck before the attacker stalled"
    );
}

/// Waits forever (the test aborts it).
async fn forever() {
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_identifying_itself_one_byte_at_a_time_times_out() {
    let (r, stalled) = against(|mut h, reached| async move {
        // A line that never ends, one byte every 10 ms: 8 KiB (the line limit) would take
        // 80 s, far past the client's timeout.
        h.send_raw(b"S").await.unwrap();
        let _ = reached.send(());
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            tick.tick().await;
            if h.send_raw(b"a").await.is_err() {
                break;
            }
        }
        forever().await;
    })
    .await;
    assert_timed_out(r, stalled, "one byte per tick");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stalling_mid_packet_after_the_key_exchange_times_out() {
    let (r, stalled) = against(|mut h, reached| async move {
        let mut kex = ServerKex::default();
        h.serve_handshake(&mut kex, &ServerKexOptions::default())
            .await;
        h.expect(msg::SERVICE_REQUEST, "the client's SERVICE_REQUEST")
            .await;
        // Three bytes of an encrypted packet: not even its length can be decrypted.
        h.send_raw(&[0x41, 0x42, 0x43]).await.unwrap();
        let _ = reached.send(());
        forever().await;
    })
    .await;
    assert_timed_out(r, stalled, "stalled mid-packet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_authentication_times_out() {
    let (r, stalled) = against(|mut h, reached| async move {
        let mut kex = ServerKex::default();
        h.serve_handshake(&mut kex, &ServerKexOptions::default())
            .await;
        h.accept_userauth().await;
        h.expect(msg::USERAUTH_REQUEST, "the client's first request")
            .await;
        let _ = reached.send(());
        forever().await;
    })
    .await;
    assert_timed_out(r, stalled, "no answer to authentication");
}
