//! The server under attack, in-process: [`Target`] runs `Server::serve` on 127.0.0.1 (real
//! time), [`MemoryTarget`] runs `Server::serve_connection` over in-memory streams (for tokio's
//! paused clock). Both check that a legitimate client still logs in and runs a command.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::{Handler, Server, ServerSettings};
use sshwire::{Authenticated, Authenticator, Channel, Error, ExitStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Hostile;

/// The one account: logs in with [`Target::user_key`] or [`PASSWORD`].
pub const USER: &str = "alice";
/// Alice's password.
pub const PASSWORD: &str = "correct horse";

/// Alice's key and password.
struct Alice(PublicKey);

impl Authenticator for Alice {
    fn public_key(&self, user: &str, key: &PublicKey) -> bool {
        user == USER && *key == self.0
    }

    fn password(&self, user: &str, password: &[u8]) -> bool {
        user == USER && password == PASSWORD.as_bytes()
    }
}

/// `exec hello` prints `hello` and exits 0; everything else is refused.
struct Hello;

impl Handler for Hello {
    fn exec(
        &self,
        _: &Arc<Authenticated>,
        command: &[u8],
        channel: Channel,
    ) -> Result<(), Channel> {
        if command != b"hello" {
            return Err(channel);
        }
        tokio::spawn(async move {
            let mut channel = channel;
            let _ = channel.write_all(b"hello\n").await;
            let _ = channel.send_exit_status(0);
            let _ = channel.send_eof();
            let _ = channel.close();
        });
        Ok(())
    }
}

fn new_key() -> Arc<PrivateKey> {
    Arc::new(
        PrivateKey::generate(KeyType::Ed25519, None, &mut *sshwire::system_rng()).expect("key"),
    )
}

fn settings(tune: impl FnOnce(&mut ServerSettings)) -> ServerSettings {
    let mut settings = ServerSettings::new(vec![new_key()]);
    tune(&mut settings);
    settings
}

/// Logs in as alice with her key over `connect`, runs `hello`, and checks its output.
async fn legitimate_session(client: Result<Client, Error>, case: &str) {
    let client =
        client.unwrap_or_else(|e| panic!("{case}: the legitimate client could not log in: {e}"));
    let mut channel = client
        .exec("hello")
        .await
        .unwrap_or_else(|e| panic!("{case}: exec after the attack: {e}"));
    let mut out = Vec::new();
    channel
        .read_to_end(&mut out)
        .await
        .unwrap_or_else(|e| panic!("{case}: reading the command's output: {e}"));
    assert_eq!(
        out, b"hello\n",
        "{case}: the command's output after the attack"
    );
    assert_eq!(
        channel.exit_status().await,
        Some(ExitStatus::Code(0)),
        "{case}: exit status after the attack"
    );
    drop(channel);
    client.disconnect().await;
}

fn auth_options(key: &Arc<PrivateKey>) -> AuthOptions {
    let mut auth = AuthOptions::new(USER);
    auth.use_agent = false;
    auth.identities = vec![Identity::Key(key.clone(), "alice".into())];
    auth
}

/// `Server::serve` on a free port of 127.0.0.1, stopped when dropped.
pub struct Target {
    /// The port it listens on.
    pub port: u16,
    /// Alice's key.
    pub user_key: Arc<PrivateKey>,
    log: Arc<Mutex<Vec<String>>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl Target {
    /// A server with the default settings.
    pub async fn start() -> Target {
        Target::with(|_| {}).await
    }

    /// A server whose settings `tune` adjusts.
    pub async fn with(tune: impl FnOnce(&mut ServerSettings)) -> Target {
        let user_key = new_key();
        let server = Server::with_settings(settings(tune));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let (tx, rx) = oneshot::channel::<()>();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_sink = log.clone();
        let auth = Arc::new(Alice(user_key.public_key()));
        let task = tokio::spawn(async move {
            server
                .serve(
                    listener,
                    auth,
                    Arc::new(Hello),
                    async {
                        let _ = rx.await;
                    },
                    Duration::from_secs(1),
                    Arc::new(move |line: &str| {
                        if let Ok(mut l) = log_sink.lock() {
                            l.push(line.to_owned());
                        }
                    }),
                )
                .await
        });
        Target {
            port,
            user_key,
            log,
            shutdown: Some(tx),
            task,
        }
    }

    /// A new TCP connection to the server, as an attacker.
    pub async fn attacker(&self) -> Hostile<TcpStream> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let _ = stream.set_nodelay(true);
        Hostile::new(stream)
    }

    /// The server's log lines that say someone logged in.
    pub fn logins(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|s| s.contains("logged in"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Everything the server logged.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Checks that alice still logs in with her key and runs a command, after `case`.
    pub async fn assert_serves(&self, case: &str) {
        let config = ClientConfig {
            connect_timeout: Some(Duration::from_secs(20)),
            ..ClientConfig::default()
        };
        let mut trust = |_: &PublicKey| true;
        let client = Client::connect(
            "127.0.0.1",
            self.port,
            &config,
            &mut trust,
            &auth_options(&self.user_key),
            &mut NoPrompts,
        )
        .await;
        legitimate_session(client, case).await;
        assert!(
            !self.task.is_finished(),
            "{case}: the server's accept loop ended"
        );
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

/// The server's connections over in-memory streams, for tests on tokio's paused clock.
pub struct MemoryTarget {
    server: Server,
    /// Alice's key.
    pub user_key: Arc<PrivateKey>,
}

/// What `Server::serve_connection` returned for one connection.
pub type ServerResult = JoinHandle<Result<Arc<Authenticated>, Error>>;

impl MemoryTarget {
    /// A server whose settings `tune` adjusts.
    pub fn with(tune: impl FnOnce(&mut ServerSettings)) -> MemoryTarget {
        MemoryTarget {
            server: Server::with_settings(settings(tune)),
            user_key: new_key(),
        }
    }

    /// The server's settings.
    pub fn settings(&self) -> &ServerSettings {
        self.server.settings()
    }

    fn connection(&self) -> (DuplexStream, ServerResult) {
        let (a, b) = tokio::io::duplex(512 * 1024);
        let server = self.server.clone();
        let auth = Arc::new(Alice(self.user_key.public_key()));
        let task = tokio::spawn(async move {
            server
                .serve_connection(b, auth, Arc::new(Hello), |_, _| {})
                .await
        });
        (a, task)
    }

    /// A new connection to the server, as an attacker, and the server's side of it.
    pub fn attacker(&self) -> (Hostile<DuplexStream>, ServerResult) {
        let (stream, task) = self.connection();
        let mut h = Hostile::new(stream);
        // On a paused clock, waiting costs nothing: let the server's timers decide.
        h.patience = Duration::from_secs(24 * 3600);
        (h, task)
    }

    /// Checks that alice still logs in with her key and runs a command, after `case`.
    pub async fn assert_serves(&self, case: &str) {
        let (stream, task) = self.connection();
        let mut trust = |_: &PublicKey| true;
        let client = Client::over(
            stream,
            "memory",
            &ClientConfig::default(),
            &mut trust,
            &auth_options(&self.user_key),
            &mut NoPrompts,
        )
        .await;
        legitimate_session(client, case).await;
        let who = task.await.expect("server task").unwrap_or_else(|e| {
            panic!("{case}: the legitimate connection failed on the server: {e}")
        });
        assert_eq!(who.user, USER, "{case}");
    }
}
