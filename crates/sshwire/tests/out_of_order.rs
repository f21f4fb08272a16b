//! Authentication-stage messages out of order at the endpoints. The server, once the user is
//! in: a late USERAUTH_REQUEST is ignored (RFC 4252 §5.1), a second SERVICE_REQUEST ends the
//! connection with SERVICE_NOT_AVAILABLE (RFC 4253 §10) instead of going unanswered. The
//! client, before its service is accepted: a USERAUTH_SUCCESS it never asked for ends the
//! connection instead of being ignored while the client waits forever.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::sync::Arc;

use sshwire::client::{AuthOptions, Client, ClientConfig, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::{RefuseAll, Server, ServerSettings};
use sshwire::transport::{Config, DisconnectReason, Event, Transport};
use sshwire::{Authenticated, Authenticator, Driver, Error, system_rng};
use sshwire_wire::Writer;
use tokio::io::DuplexStream;
use tokio::task::JoinHandle;

struct OneKey(PublicKey);

impl Authenticator for OneKey {
    fn public_key(&self, _user: &str, key: &PublicKey) -> bool {
        *key == self.0
    }

    fn password(&self, _user: &str, _password: &[u8]) -> bool {
        false
    }
}

fn key() -> Arc<PrivateKey> {
    Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap())
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// A client transport over a duplex stream to a server, logged in by hand with a key.
async fn logged_in() -> (
    Driver<DuplexStream>,
    JoinHandle<Result<Arc<Authenticated>, Error>>,
) {
    let user = key();
    let server = Server::with_settings(ServerSettings::new(vec![key()]));
    let (a, b) = tokio::io::duplex(256 * 1024);
    let auth = Arc::new(OneKey(user.public_key()));
    let task = tokio::spawn(async move {
        server
            .serve_connection(b, auth, Arc::new(RefuseAll), |_, _| {})
            .await
    });
    let mut driver = Driver::new(
        a,
        Transport::client(Arc::new(Config::default()), system_rng()),
    );
    loop {
        match driver.next_event().await.unwrap() {
            Event::HostKey(_) => driver.engine().host_key_verdict(now(), true).unwrap(),
            Event::KexComplete { first: true, .. } => break,
            _ => {}
        }
    }
    driver.engine().request_service("ssh-userauth").unwrap();
    while !matches!(driver.next_event().await.unwrap(), Event::ServiceAccept(_)) {}
    let session_id = driver.engine().session_id().unwrap().to_vec();
    let alg = user.public_key().signature_algorithms()[0];
    let mut request = Writer::new();
    request
        .u8(50)
        .string(b"alice")
        .string(b"ssh-connection")
        .string(b"publickey")
        .bool(true)
        .string(alg.name().as_bytes())
        .string(&user.public_key().to_blob());
    let mut signed = Writer::new();
    signed.string(&session_id).raw(request.as_slice());
    let sig = user
        .sign(alg, signed.as_slice(), &mut *system_rng())
        .unwrap();
    request.string(&sig);
    driver.engine().send(request.as_slice()).unwrap();
    loop {
        if let Event::Message(m) = driver.next_event().await.unwrap()
            && m.first() == Some(&52)
        {
            break;
        }
    }
    driver.engine().auth_succeeded();
    (driver, task)
}

#[tokio::test(start_paused = true)]
async fn a_late_userauth_request_is_ignored() {
    let (mut driver, _server) = logged_in().await;
    let mut late = Writer::new();
    late.u8(50)
        .string(b"root")
        .string(b"ssh-connection")
        .string(b"none");
    driver.engine().send(late.as_slice()).unwrap();
    // The connection goes on: a session channel opens.
    let mut open = Writer::new();
    open.u8(90)
        .string(b"session")
        .u32(0)
        .u32(1 << 20)
        .u32(32768);
    driver.engine().send(open.as_slice()).unwrap();
    loop {
        match driver.next_event().await {
            Ok(Event::Message(m)) if m.first() == Some(&91) => break,
            Ok(_) => {}
            Err(e) => panic!("the late USERAUTH_REQUEST ended the connection: {e}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_service_request_after_login_is_refused_with_a_disconnect() {
    let (mut driver, server) = logged_in().await;
    driver.engine().request_service("ssh-userauth").unwrap();
    // On the paused clock the timeout fires as soon as nothing else can happen: an unanswered
    // request fails the test instead of hanging it.
    let end = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            match driver.next_event().await {
                Ok(Event::ServiceAccept(_)) => panic!("the service was started twice"),
                Ok(_) => {}
                Err(e) => break e,
            }
        }
    })
    .await
    .expect("the server neither accepted nor refused the second SERVICE_REQUEST");
    assert!(
        matches!(
            &end,
            Error::Transport(sshwire::transport::Error::PeerDisconnected { reason, .. })
                if *reason == DisconnectReason::SERVICE_NOT_AVAILABLE
        ),
        "{end}"
    );
    assert!(server.await.unwrap().is_err());
}

/// A fake server that completes the key exchange, then runs `script` on its driver once the
/// client asks for a service; returns the error that ended the connection for it.
async fn fake_server(
    stream: DuplexStream,
    script: impl AsyncFnOnce(&mut Driver<DuplexStream>),
) -> Error {
    let server = Server::new(Arc::new(Config::default()), vec![key()]);
    let mut driver = server.handshake(stream).await.unwrap();
    while !matches!(driver.next_event().await.unwrap(), Event::ServiceRequest(_)) {}
    script(&mut driver).await;
    loop {
        if let Err(e) = driver.next_event().await {
            return e;
        }
    }
}

/// Runs our client against `script`; checks that it fails with a PROTOCOL_ERROR DISCONNECT.
async fn client_refuses(case: &str, script: impl AsyncFnOnce(&mut Driver<DuplexStream>)) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let mut auth = AuthOptions::new("alice");
    auth.use_agent = false;
    let mut trust = |_: &PublicKey| true;
    let (config, mut prompts) = (ClientConfig::default(), NoPrompts);
    let client = Client::over(a, "fake", &config, &mut trust, &auth, &mut prompts);
    // On the paused clock the timeout fires as soon as nothing else can happen.
    let both = async { tokio::join!(client, fake_server(b, script)) };
    let (client, end) = tokio::time::timeout(std::time::Duration::from_secs(60), both)
        .await
        .unwrap_or_else(|_| panic!("{case}: the client neither failed nor logged in"));
    assert!(client.is_err(), "{case}: the client logged in");
    assert!(
        matches!(
            &end,
            Error::Transport(sshwire::transport::Error::PeerDisconnected { reason, .. })
                if *reason == DisconnectReason::PROTOCOL_ERROR
        ),
        "{case}: {end}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_refuses_userauth_success_before_service_accept() {
    client_refuses("USERAUTH_SUCCESS instead of SERVICE_ACCEPT", async |d| {
        d.engine().send(&[52]).unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_client_says_why_it_refuses_a_channel_before_userauth_success() {
    client_refuses("CHANNEL_OPEN in answer to the first request", async |d| {
        d.engine().accept_service("ssh-userauth").unwrap();
        while !matches!(d.next_event().await.unwrap(), Event::Message(_)) {}
        let mut open = Writer::new();
        open.u8(90)
            .string(b"session")
            .u32(0)
            .u32(1 << 20)
            .u32(32768);
        d.engine().send(open.as_slice()).unwrap();
    })
    .await;
}
