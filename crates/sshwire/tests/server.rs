//! The server's accept loop over real loopback TCP: a legitimate client still logs in while
//! hundreds of idle connections are open, and shutdown drains authenticated sessions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::sync::Arc;
use std::time::Duration;

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::{Handler, Server, ServerSettings};
use sshwire::{Authenticated, Authenticator, Channel, Error, ExitStatus, system_rng};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

struct OneKey(PublicKey);

impl Authenticator for OneKey {
    fn public_key(&self, _user: &str, key: &PublicKey) -> bool {
        *key == self.0
    }

    fn password(&self, _user: &str, _password: &[u8]) -> bool {
        false
    }
}

/// `wait`: answers after the server's shutdown signal, so a session is mid-command then.
struct Wait(tokio::sync::watch::Receiver<bool>);

impl Handler for Wait {
    fn exec(&self, _: &Arc<Authenticated>, _: &[u8], channel: Channel) -> Result<(), Channel> {
        let mut stop = self.0.clone();
        tokio::spawn(async move {
            let _ = stop.wait_for(|s| *s).await;
            channel.try_write_stderr(b"finishing\n").unwrap();
            channel.send_exit_status(0).unwrap();
            channel.close().unwrap();
        });
        Ok(())
    }
}

struct Running {
    port: u16,
    key: Arc<PrivateKey>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
    shutting_down: tokio::sync::watch::Sender<bool>,
}

async fn start(max_unauthenticated: usize, drain: Duration) -> Running {
    let key = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap());
    let host = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap());
    let mut settings = ServerSettings::new(vec![host]);
    settings.max_unauthenticated = max_unauthenticated;
    let server = Server::with_settings(settings);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = oneshot::channel::<()>();
    let (shutting_down, watch) = tokio::sync::watch::channel(false);
    let handler = Arc::new(Wait(watch));
    let auth = Arc::new(OneKey(key.public_key()));
    let task = tokio::spawn(async move {
        server
            .serve(
                listener,
                auth,
                handler,
                async {
                    let _ = rx.await;
                },
                drain,
                Arc::new(|_: &str| {}),
            )
            .await
    });
    Running {
        port,
        key,
        shutdown: Some(tx),
        task,
        shutting_down,
    }
}

async fn login(r: &Running) -> Result<Client, Error> {
    let mut auth = AuthOptions::new("anyone");
    auth.use_agent = false;
    auth.identities = vec![Identity::Key(r.key.clone(), "k".into())];
    let config = ClientConfig {
        connect_timeout: Some(Duration::from_secs(20)),
        ..ClientConfig::default()
    };
    let mut trust = |_: &PublicKey| true;
    Client::connect(
        "127.0.0.1",
        r.port,
        &config,
        &mut trust,
        &auth,
        &mut NoPrompts,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_logs_in_while_hundreds_of_idle_connections_are_open() {
    let server = start(50, Duration::from_secs(1)).await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(
            TcpStream::connect(("127.0.0.1", server.port))
                .await
                .unwrap(),
        );
    }
    let client = login(&server).await.unwrap();
    assert_eq!(client.logged_in().methods, ["publickey"]);
    // The oldest idle connections were let go to make room: at most the limit stay open.
    let mut closed = 0;
    for s in &mut idle {
        let mut buf = vec![0u8; 4096];
        // Each got the server's identification and KEXINIT; an evicted one then ends.
        loop {
            match tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => continue,
                Err(_) => break,
            }
        }
    }
    assert!(closed >= 240, "only {closed} idle connections were dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_drains_sessions() {
    let mut server = start(100, Duration::from_secs(30)).await;
    let client = login(&server).await.unwrap();
    let mut channel = client.exec("wait").await.unwrap();
    // An unauthenticated connection at shutdown time is dropped.
    let mut pending = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut banner = [0u8; 8];
    pending.read_exact(&mut banner).await.unwrap();
    assert_eq!(&banner, b"SSH-2.0-");
    server.shutdown.take().unwrap().send(()).unwrap();
    let mut rest = Vec::new();
    let _ = pending.read_to_end(&mut rest).await;
    // The listener is gone.
    assert!(
        TcpStream::connect(("127.0.0.1", server.port))
            .await
            .is_err()
    );
    // The session still finishes its command.
    server.shutting_down.send(true).unwrap();
    let mut err = String::new();
    channel.stderr().read_to_string(&mut err).await.unwrap();
    assert_eq!(err, "finishing\n");
    let mut out = Vec::new();
    channel.read_to_end(&mut out).await.unwrap();
    assert_eq!(channel.exit_status().await, Some(ExitStatus::Code(0)));
    drop(channel);
    client.disconnect().await;
    server.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_still_running_after_the_drain_time_are_disconnected() {
    let mut server = start(100, Duration::from_millis(300)).await;
    let client = login(&server).await.unwrap();
    let _channel = client.exec("wait").await.unwrap();
    server.shutdown.take().unwrap().send(()).unwrap();
    let end = client.session().closed().await;
    assert!(
        end.to_string().contains("BY_APPLICATION") || matches!(end, Error::Closed(_)),
        "{end}"
    );
    server.task.await.unwrap().unwrap();
}
