//! The accept loop with a [`Gatekeeper`] and a swappable [`Service`], over loopback TCP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::AtomicBool;

use sshwire_keys::{KeyType, PublicKey};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::*;
use crate::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};

/// Records how each connection ended; refuses everyone when told to.
struct Recorder {
    refuse: AtomicBool,
    ended: mpsc::UnboundedSender<Outcome>,
}

impl Gatekeeper for Recorder {
    fn admit(&self, _peer: SocketAddr) -> bool {
        !self.refuse.load(Ordering::Relaxed)
    }

    fn ended(&self, peer: SocketAddr, outcome: Outcome) {
        assert!(peer.ip().is_loopback());
        let _ = self.ended.send(outcome);
    }
}

struct OneKey(PublicKey);

impl Authenticator for OneKey {
    fn public_key(&self, _user: &str, key: &PublicKey) -> bool {
        *key == self.0
    }

    fn password(&self, _user: &str, _password: &[u8]) -> bool {
        false
    }
}

fn service(key: &PrivateKey) -> Service {
    Service {
        authenticator: Arc::new(OneKey(key.public_key())),
        handler: Arc::new(RefuseAll),
        policy: None,
    }
}

fn new_key() -> Arc<PrivateKey> {
    Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap())
}

async fn login(port: u16, key: &Arc<PrivateKey>) -> Result<Client, Error> {
    let mut auth = AuthOptions::new("anyone");
    auth.use_agent = false;
    auth.identities = vec![Identity::Key(key.clone(), "k".into())];
    let config = ClientConfig {
        connect_timeout: Some(Duration::from_secs(20)),
        ..ClientConfig::default()
    };
    let mut trust = |_: &PublicKey| true;
    Client::connect(
        "127.0.0.1",
        port,
        &config,
        &mut trust,
        &auth,
        &mut NoPrompts,
    )
    .await
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Outcome>) -> Outcome {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("no outcome")
        .expect("server gone")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gatekeeper_hears_each_outcome_and_refuses_before_the_version_exchange() {
    let (tx, mut ended) = mpsc::unbounded_channel();
    let gate = Arc::new(Recorder {
        refuse: AtomicBool::new(false),
        ended: tx,
    });
    let mut settings = ServerSettings::new(vec![new_key()]);
    settings.gatekeeper = Some(gate.clone());
    let server = Server::with_settings(settings);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (alice, bob) = (new_key(), new_key());
    let (services_tx, services) = watch::channel(service(&alice));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve_services(
                listener,
                services,
                async {
                    let _ = stopped.await;
                },
                Duration::from_secs(1),
                Arc::new(|_: &str| {}),
            )
            .await
    });

    let client = login(port, &alice).await.unwrap();
    client.disconnect().await;
    assert_eq!(next(&mut ended).await, Outcome::LoggedIn);
    assert!(login(port, &bob).await.is_err());
    // Each method and key the client tried counts.
    let failed = next(&mut ended).await;
    assert!(
        matches!(failed, Outcome::AuthFailed { failures } if failures >= 1),
        "{failed:?}"
    );
    drop(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    assert_eq!(next(&mut ended).await, Outcome::NoAuth);

    // A new service: bob's key from now on, alice's no more.
    services_tx.send_replace(service(&bob));
    login(port, &bob).await.unwrap().disconnect().await;
    assert_eq!(next(&mut ended).await, Outcome::LoggedIn);
    assert!(login(port, &alice).await.is_err());
    assert!(matches!(next(&mut ended).await, Outcome::AuthFailed { .. }));

    // Refused: closed without a byte, not even the identification line.
    gate.refuse.store(true, Ordering::Relaxed);
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);

    let _ = stop.send(());
    task.await.unwrap().unwrap();
    // A refused connection was never admitted, so it has no outcome.
    assert!(ended.try_recv().is_err());
}
