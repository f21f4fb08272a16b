//! The server runs at most `MAX_CONCURRENT_PASSWORD_CHECKS` password checks at once, however
//! many clients send passwords together: an authenticator counts the checks inside it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sshwire::client::{AuthOptions, Client, ClientConfig, Prompter};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::{Handler, Server, ServerSettings};
use sshwire::{Authenticator, MAX_CONCURRENT_PASSWORD_CHECKS, system_rng};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

/// Checks inside `password` now, the most ever at once, and the checks made.
#[derive(Default)]
struct Counts {
    inside: usize,
    most: usize,
    done: usize,
}

/// Accepts the password "right" for anyone, counting the checks that overlap.
///
/// The first checks wait inside until the bound is full, then up to 2 s more for one over
/// it, so that every client has sent its password while they are held: with no bound, the
/// others would come in and `most` would exceed it. Later checks pass at once.
struct Counting {
    counts: Mutex<Counts>,
    changed: Condvar,
}

impl Authenticator for Counting {
    fn public_key(&self, _user: &str, _key: &PublicKey) -> bool {
        false
    }

    fn password(&self, _user: &str, password: &[u8]) -> bool {
        let mut c = self.counts.lock().unwrap();
        c.inside += 1;
        c.most = c.most.max(c.inside);
        self.changed.notify_all();
        if c.done == 0 {
            // Hold until the bound is full (or, if it is broken, one more than it).
            let (held, _) = self
                .changed
                .wait_timeout_while(c, Duration::from_secs(60), |c| {
                    c.done == 0 && c.inside < MAX_CONCURRENT_PASSWORD_CHECKS
                })
                .unwrap();
            // Then give any check beyond the bound the chance to come in.
            let (held, _) = self
                .changed
                .wait_timeout_while(held, Duration::from_secs(2), |c| {
                    c.done == 0 && c.inside <= MAX_CONCURRENT_PASSWORD_CHECKS
                })
                .unwrap();
            c = held;
        }
        c.inside -= 1;
        c.done += 1;
        self.changed.notify_all();
        password == b"right"
    }
}

struct NoHandler;
impl Handler for NoHandler {}

struct Answer;
impl Prompter for Answer {
    fn password(&mut self, _: &str) -> Option<Zeroizing<String>> {
        Some(Zeroizing::new("right".to_owned()))
    }

    fn passphrase(&mut self, _: &str) -> Option<Zeroizing<String>> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_checks_are_bounded_under_many_parallel_attempts() {
    const CLIENTS: usize = 24;
    let host = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap());
    let server = Server::with_settings(ServerSettings::new(vec![host]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let auth = Arc::new(Counting {
        counts: Mutex::new(Counts::default()),
        changed: Condvar::new(),
    });
    let serving = auth.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(
                listener,
                serving,
                Arc::new(NoHandler),
                async {
                    let _ = stopped.await;
                },
                Duration::from_secs(1),
                Arc::new(|_: &str| {}),
            )
            .await
    });
    let clients = (0..CLIENTS).map(|i| {
        tokio::spawn(async move {
            let mut options = AuthOptions::new(&format!("user{i}"));
            options.use_agent = false;
            options.preferred = vec!["password".to_owned()];
            let config = ClientConfig {
                connect_timeout: Some(Duration::from_secs(60)),
                ..ClientConfig::default()
            };
            let mut trust = |_: &PublicKey| true;
            Client::connect(
                "127.0.0.1",
                port,
                &config,
                &mut trust,
                &options,
                &mut Answer,
            )
            .await
            .map(|_| ())
        })
    });
    for client in clients.collect::<Vec<_>>() {
        client.await.unwrap().unwrap();
    }
    let (done, most) = {
        let c = auth.counts.lock().unwrap();
        (c.done, c.most)
    };
    assert_eq!(done, CLIENTS);
    assert_eq!(most, MAX_CONCURRENT_PASSWORD_CHECKS, "checks at once");
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
