//! The tokio driver over an in-memory duplex stream: a client and a server handshake,
//! exchange messages, and a refused host key reaches the server as the client's last word.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::sync::Arc;

use sshwire::client::handshake;
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::Server;
use sshwire::transport::{Config, DisconnectReason, Event, Transport};
use sshwire::{Driver, system_rng};

fn host_key() -> Arc<PrivateKey> {
    Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap())
}

#[tokio::test]
async fn handshake_and_messages_over_a_duplex() {
    let key = host_key();
    let expected = key.public_key();
    let server = Server::new(Arc::new(Config::default()), vec![key]);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server_task = tokio::spawn(async move {
        let mut driver = server.handshake(b).await.unwrap();
        // Echo one upper-layer message back.
        loop {
            if let Event::Message(m) = driver.next_event().await.unwrap() {
                driver.engine().send(&m).unwrap();
                driver.flush().await.unwrap();
                return m;
            }
        }
    });
    let mut client = Driver::new(
        a,
        Transport::client(Arc::new(Config::default()), system_rng()),
    );
    let mut seen = None;
    let mut verify = |k: &PublicKey| {
        seen = Some(k.clone());
        true
    };
    handshake(&mut client, &mut verify).await.unwrap();
    assert_eq!(seen, Some(expected));
    let big: Vec<u8> = std::iter::once(94)
        .chain((0..200_000u32).map(|i| i as u8))
        .collect();
    client.engine().send(&big).unwrap();
    let echoed = loop {
        if let Event::Message(m) = client.next_event().await.unwrap() {
            break m;
        }
    };
    assert_eq!(echoed, big);
    assert_eq!(server_task.await.unwrap(), big);
}

#[tokio::test]
async fn refused_host_key_is_the_clients_last_word() {
    let server = Server::new(Arc::new(Config::default()), vec![host_key()]);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server_task = tokio::spawn(async move { server.handshake(b).await.err() });
    let mut client = Driver::new(
        a,
        Transport::client(Arc::new(Config::default()), system_rng()),
    );
    let mut refuse = |_: &PublicKey| false;
    let err = handshake(&mut client, &mut refuse).await.unwrap_err();
    assert_eq!(err.to_string(), "host key verification failed");
    let server_err = server_task
        .await
        .unwrap()
        .expect("server handshake succeeded");
    match server_err {
        sshwire::Error::Transport(sshwire::transport::Error::PeerDisconnected {
            reason, ..
        }) => {
            assert_eq!(reason, DisconnectReason::HOST_KEY_NOT_VERIFIABLE);
        }
        other => panic!("unexpected server error: {other}"),
    }
}

#[tokio::test]
async fn peer_hanging_up_is_an_io_error() {
    let server = Server::new(Arc::new(Config::default()), vec![host_key()]);
    let (a, b) = tokio::io::duplex(1024);
    drop(a);
    let err = server
        .handshake(b)
        .await
        .err()
        .expect("handshake with nobody succeeded");
    assert!(matches!(err, sshwire::Error::Io(_)), "{err}");
}
