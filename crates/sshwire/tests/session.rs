//! Whole sessions in memory: our client and our server over a duplex stream, with tokio's
//! paused clock standing in for time (auth delays and keepalives advance it, not the wall).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts, Prompter};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::{Handler, RefuseAll, Server, ServerSettings};
use sshwire::{Authenticated, Authenticator, Channel, Error, ExitStatus, system_rng};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use zeroize::Zeroizing;

fn key(t: KeyType) -> Arc<PrivateKey> {
    Arc::new(PrivateKey::generate(t, None, &mut *system_rng()).unwrap())
}

/// Accepts one user key and one password.
struct Users {
    key: PublicKey,
    password: &'static str,
}

impl Authenticator for Users {
    fn public_key(&self, user: &str, key: &PublicKey) -> bool {
        user == "alice" && *key == self.key
    }

    fn password(&self, user: &str, password: &[u8]) -> bool {
        user == "alice" && password == self.password.as_bytes()
    }
}

/// Runs test commands: `cat` echoes stdin, `exit N` exits with N, `err TEXT` writes TEXT to
/// stderr, `send N` writes N bytes, `signal` dies of SIGTERM.
struct Commands;

impl Handler for Commands {
    fn exec(
        &self,
        _user: &Arc<Authenticated>,
        command: &[u8],
        channel: Channel,
    ) -> Result<(), Channel> {
        let command = String::from_utf8_lossy(command).into_owned();
        tokio::spawn(async move {
            let mut channel = channel;
            if command == "cat" {
                let (mut r, mut w) = tokio::io::split(channel);
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                channel = r.unsplit(w);
                channel.send_exit_status(0).unwrap();
            } else if let Some(n) = command.strip_prefix("exit ") {
                channel.send_exit_status(n.parse().unwrap()).unwrap();
            } else if let Some(text) = command.strip_prefix("err ") {
                channel.stderr().write_all(text.as_bytes()).await.unwrap();
                channel.write_all(b"out").await.unwrap();
                channel.send_exit_status(1).unwrap();
            } else if let Some(n) = command.strip_prefix("send ") {
                let data = pattern(n.parse().unwrap(), 7);
                channel.write_all(&data).await.unwrap();
            } else if command == "signal" {
                channel.send_exit_signal("TERM", false, "killed").unwrap();
            }
            channel.send_eof().unwrap();
            channel.close().unwrap();
        });
        Ok(())
    }
}

struct Pair {
    client_key: Arc<PrivateKey>,
    server: Server,
    users: Arc<Users>,
    logins: Arc<Mutex<Vec<Authenticated>>>,
}

impl Pair {
    fn new() -> Self {
        let client_key = key(KeyType::Ed25519);
        let server = Server::with_settings(ServerSettings::new(vec![key(KeyType::Ed25519)]));
        let users = Arc::new(Users {
            key: client_key.public_key(),
            password: "correct horse",
        });
        Pair {
            client_key,
            server,
            users,
            logins: Arc::default(),
        }
    }

    /// Starts the server side on one end of a duplex stream; returns the other end and the
    /// server's result.
    fn serve(
        &self,
        handler: Arc<dyn Handler>,
    ) -> (
        DuplexStream,
        tokio::task::JoinHandle<Result<Arc<Authenticated>, Error>>,
    ) {
        let (a, b) = tokio::io::duplex(256 * 1024);
        let server = self.server.clone();
        let users: Arc<dyn Authenticator> = self.users.clone();
        let logins = self.logins.clone();
        let task = tokio::spawn(async move {
            server
                .serve_connection(b, users, handler, move |who, _| {
                    logins.lock().unwrap().push((**who).clone());
                })
                .await
        });
        (a, task)
    }

    async fn client_with(
        &self,
        handler: Arc<dyn Handler>,
        auth: AuthOptions,
        prompter: &mut dyn Prompter,
    ) -> (
        Result<Client, Error>,
        tokio::task::JoinHandle<Result<Arc<Authenticated>, Error>>,
    ) {
        let (stream, task) = self.serve(handler);
        let mut trust = |_: &PublicKey| true;
        let client = Client::over(
            stream,
            "test",
            &ClientConfig::default(),
            &mut trust,
            &auth,
            prompter,
        )
        .await;
        (client, task)
    }

    async fn client(
        &self,
        handler: Arc<dyn Handler>,
    ) -> (
        Client,
        tokio::task::JoinHandle<Result<Arc<Authenticated>, Error>>,
    ) {
        let mut auth = AuthOptions::new("alice");
        auth.use_agent = false;
        auth.identities = vec![Identity::Key(self.client_key.clone(), "test key".into())];
        let (client, task) = self.client_with(handler, auth, &mut NoPrompts).await;
        (client.unwrap(), task)
    }
}

/// Answers password prompts from a list, and records them.
#[derive(Default)]
struct Answers {
    passwords: Vec<&'static str>,
    passphrases: Vec<&'static str>,
    asked: Vec<String>,
}

impl Prompter for Answers {
    fn password(&mut self, prompt: &str) -> Option<Zeroizing<String>> {
        self.asked.push(prompt.to_owned());
        (!self.passwords.is_empty()).then(|| Zeroizing::new(self.passwords.remove(0).to_owned()))
    }

    fn passphrase(&mut self, prompt: &str) -> Option<Zeroizing<String>> {
        self.asked.push(prompt.to_owned());
        (!self.passphrases.is_empty())
            .then(|| Zeroizing::new(self.passphrases.remove(0).to_owned()))
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Writes `data` to a channel running `cat` (then EOF) while reading what comes back.
async fn echo(channel: Channel, data: &[u8]) -> (Vec<u8>, Channel) {
    let (mut r, mut w) = tokio::io::split(channel);
    let sent = data.to_vec();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    let w = writer.await.unwrap();
    (back, r.unsplit(w))
}

#[tokio::test(start_paused = true)]
async fn exec_cat_round_trips_data_and_exit_status() {
    let pair = Pair::new();
    let (client, server) = pair.client(Arc::new(Commands)).await;
    assert_eq!(client.logged_in().methods, ["publickey"]);
    assert_eq!(client.logged_in().key, Some(pair.client_key.public_key()));
    let channel = client.exec("cat").await.unwrap();
    let data = pattern(8 * 1024 * 1024 + 17, 5);
    let (back, channel) = echo(channel, &data).await;
    assert!(back == data, "echoed data differs");
    assert_eq!(channel.exit_status().await, Some(ExitStatus::Code(0)));
    // The identity the server saw is the key that signed.
    client.disconnect().await;
    let who = server.await.unwrap().unwrap();
    assert_eq!(who.public_keys, vec![pair.client_key.public_key()]);
    assert_eq!(pair.logins.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn exit_codes_signals_and_stderr_reach_the_client() {
    let pair = Pair::new();
    let (client, _server) = pair.client(Arc::new(Commands)).await;
    let ch = client.exec("exit 42").await.unwrap();
    assert_eq!(ch.exit_status().await, Some(ExitStatus::Code(42)));
    let ch = client.exec("signal").await.unwrap();
    assert_eq!(
        ch.exit_status().await,
        Some(ExitStatus::Signal {
            name: "TERM".into(),
            core_dumped: false,
            message: "killed".into()
        })
    );
    let mut ch = client.exec("err oops").await.unwrap();
    let mut err = String::new();
    ch.stderr().read_to_string(&mut err).await.unwrap();
    let mut out = String::new();
    ch.read_to_string(&mut out).await.unwrap();
    assert_eq!((err.as_str(), out.as_str()), ("oops", "out"));
    assert_eq!(ch.exit_status().await, Some(ExitStatus::Code(1)));
}

#[tokio::test(start_paused = true)]
async fn many_channels_at_once() {
    let pair = Pair::new();
    let (client, _server) = pair.client(Arc::new(Commands)).await;
    let client = Arc::new(client);
    let mut tasks = Vec::new();
    for i in 0..40u8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let ch = client.exec("cat").await.unwrap();
            let data = pattern(100_000 + usize::from(i) * 1000, i);
            echo(ch, &data).await.0 == data
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap());
    }
}

/// Several channels sending at once to a client that says nothing meanwhile: their data
/// all within the window, so no WINDOW_ADJUST comes back. The server's connection task must
/// keep feeding the socket on its own (it once stopped when writers had queued more than the
/// socket took in one go, and waited for a word from the client that never came).
#[tokio::test(start_paused = true)]
async fn channels_sending_at_once_to_a_silent_peer_all_finish() {
    let pair = Pair::new();
    let (client, _server) = pair.client(Arc::new(Commands)).await;
    let client = Arc::new(client);
    // Under half the 16 MiB window each, so reading it sends nothing back.
    let len = 7_000_000;
    let mut channels = Vec::new();
    for _ in 0..3 {
        channels.push(client.exec(format!("send {len}")).await.unwrap());
    }
    let reads: Vec<_> = channels
        .into_iter()
        .map(|mut ch| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                ch.read_to_end(&mut got).await.unwrap();
                got
            })
        })
        .collect();
    // On the paused clock an idle runtime jumps to this deadline at once: a stall fails
    // here instead of hanging.
    let all = tokio::time::timeout(Duration::from_secs(3600), async {
        let mut all = Vec::new();
        for r in reads {
            all.push(r.await.unwrap());
        }
        all
    })
    .await
    .expect("the transfers stalled");
    for got in all {
        assert!(got == pattern(len, 7), "a channel's data arrived damaged");
    }
}

#[tokio::test(start_paused = true)]
async fn refused_requests_leave_the_channel_usable() {
    let pair = Pair::new();
    let (client, _server) = pair.client(Arc::new(RefuseAll)).await;
    let ch = client.session().open_session().await.unwrap();
    let e = ch.subsystem("sftp").await.unwrap_err();
    assert!(matches!(e, Error::RequestRefused(_)), "{e}");
    let e = ch.exec("ls").await.unwrap_err();
    assert!(matches!(e, Error::RequestRefused(_)), "{e}");
    drop(ch);
    // The connection is fine: another channel opens.
    client.session().open_session().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn password_and_keyboard_interactive_logins_and_refusal() {
    let pair = Pair::new();
    let mut auth = AuthOptions::new("alice");
    auth.use_agent = false;
    // OpenSSH's order: keyboard-interactive before password; the server's one prompt is
    // answered with the password.
    let mut answers = Answers {
        passwords: vec!["wrong", "correct horse"],
        ..Answers::default()
    };
    let (client, _server) = pair
        .client_with(Arc::new(RefuseAll), auth.clone(), &mut answers)
        .await;
    assert_eq!(
        client.unwrap().logged_in().methods,
        ["keyboard-interactive"]
    );
    assert_eq!(answers.asked, ["Password: "; 2]);

    auth.preferred = vec!["password".into()];
    let mut answers = Answers {
        passwords: vec!["wrong", "correct horse"],
        ..Answers::default()
    };
    let (client, _server) = pair
        .client_with(Arc::new(RefuseAll), auth.clone(), &mut answers)
        .await;
    assert_eq!(client.unwrap().logged_in().methods, ["password"]);
    assert_eq!(answers.asked, ["alice@test's password: "; 2]);

    let mut answers = Answers {
        passwords: vec!["a", "b", "c", "d"],
        ..Answers::default()
    };
    let (client, server) = pair
        .client_with(Arc::new(RefuseAll), auth, &mut answers)
        .await;
    let Err(Error::PermissionDenied { methods, tried }) = client else {
        panic!("logged in with wrong passwords");
    };
    assert!(methods.contains(&"password".to_owned()), "{methods:?}");
    // NumberOfPasswordPrompts: three prompts, then we give up.
    assert_eq!(tried, ["password"; 3]);
    assert_eq!(answers.passwords, ["d"]);
    assert!(server.await.unwrap().is_err());
}

#[tokio::test(start_paused = true)]
async fn encrypted_key_file_asks_for_its_passphrase_only_when_accepted() {
    let pair = Pair::new();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("id_good");
    let other = dir.path().join("id_other");
    let write = |path: &std::path::Path, key: &PrivateKey| {
        let text = key
            .to_openssh("", Some(b"secret"), &mut *system_rng())
            .unwrap();
        std::fs::write(path, text.as_bytes()).unwrap();
    };
    write(&other, &key(KeyType::EcdsaP256));
    write(&good, &pair.client_key);
    let mut auth = AuthOptions::new("alice");
    auth.use_agent = false;
    auth.preferred = vec!["publickey".into()];
    auth.identities = vec![
        Identity::File(other.clone()),
        Identity::File(dir.path().join("missing")),
        Identity::File(good.clone()),
    ];
    let mut answers = Answers {
        passphrases: vec!["not it", "secret"],
        ..Answers::default()
    };
    let (client, _server) = pair
        .client_with(Arc::new(RefuseAll), auth, &mut answers)
        .await;
    let client = client.unwrap();
    assert_eq!(client.logged_in().key, Some(pair.client_key.public_key()));
    // Only the accepted key's passphrase was asked for; a wrong one is asked again.
    let prompt = format!("Enter passphrase for key '{}': ", good.display());
    assert_eq!(answers.asked, [prompt.clone(), prompt]);
}

#[tokio::test(start_paused = true)]
async fn keepalives_detect_a_dead_server() {
    let pair = Pair::new();
    let (stream, server_side) = tokio::io::duplex(64 * 1024);
    let server = pair.server.clone();
    let users: Arc<dyn Authenticator> = pair.users.clone();
    let (frozen_tx, frozen_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        // Log the client in, then stop reading and answering, keeping the socket open.
        let mut driver = server.handshake(server_side).await.unwrap();
        let policy = server.settings().policy.clone();
        sshwire::authenticate(&mut driver, policy, users)
            .await
            .unwrap();
        driver.flush().await.unwrap();
        let _ = frozen_tx.send(());
        std::future::pending::<()>().await;
        drop(driver);
    });
    let mut config = ClientConfig::default();
    config.session.keepalive_interval = Some(Duration::from_secs(15));
    config.session.keepalive_count_max = 3;
    let mut auth = AuthOptions::new("alice");
    auth.use_agent = false;
    auth.identities = vec![Identity::Key(pair.client_key.clone(), "k".into())];
    let mut trust = |_: &PublicKey| true;
    let client = Client::over(stream, "test", &config, &mut trust, &auth, &mut NoPrompts)
        .await
        .unwrap();
    frozen_rx.await.unwrap();
    let started = tokio::time::Instant::now();
    let end = client.session().closed().await;
    assert!(matches!(end, Error::Timeout), "{end}");
    // Three unanswered keepalives, one every 15 s, then the fourth interval gives up.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited < Duration::from_secs(61),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_client_disconnects() {
    let pair = Pair::new();
    let (client, mut server) = pair.client(Arc::new(RefuseAll)).await;
    let ch = client.session().open_session().await.unwrap();
    drop(client);
    // A channel keeps the connection alive: the server does not finish while every task runs
    // to idle (the paused clock only moves then), and the channel still gets answers.
    assert!(
        tokio::time::timeout(Duration::from_secs(10), &mut server)
            .await
            .is_err()
    );
    let e = ch.exec("true").await.unwrap_err();
    assert!(matches!(e, Error::RequestRefused(_)), "{e}");
    // The last handle gone ends it.
    drop(ch);
    let who = server.await.unwrap().unwrap();
    assert_eq!(who.user, "alice");
}

/// Logs in to a server that decides with `authenticator`.
async fn login_with(
    authenticator: Arc<dyn Authenticator>,
    auth: AuthOptions,
    prompter: &mut dyn Prompter,
) -> Result<Client, Error> {
    let server = Server::with_settings(ServerSettings::new(vec![key(KeyType::Ed25519)]));
    let (a, b) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let _ = server
            .serve_connection(b, authenticator, Arc::new(RefuseAll), |_, _| {})
            .await;
    });
    let mut trust = |_: &PublicKey| true;
    Client::over(
        a,
        "t",
        &ClientConfig::default(),
        &mut trust,
        &auth,
        prompter,
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn ready_made_authenticators_from_files() {
    use sshwire::AnyOf;
    use sshwire::auth::password_file::password_file_line;
    use sshwire::auth::{AuthorizedKeys, PasswordFile};
    let alice = key(KeyType::Ed25519);
    let keys = AuthorizedKeys::parse(&format!(
        "# a comment\n{}\n",
        alice.public_key().to_openssh("alice@laptop")
    ));
    let line = password_file_line("bob", b"hunter2", &mut *system_rng()).unwrap();
    let passwords = PasswordFile::parse(&line).unwrap();
    let files: Arc<dyn Authenticator> = Arc::new(AnyOf(vec![Arc::new(keys), Arc::new(passwords)]));
    let with_key = |k: &Arc<PrivateKey>, user: &str| {
        let mut auth = AuthOptions::new(user);
        auth.use_agent = false;
        auth.preferred = vec!["publickey".into()];
        auth.identities = vec![Identity::Key(k.clone(), "k".into())];
        auth
    };
    // A listed key logs in under any name; another key does not.
    let c = login_with(files.clone(), with_key(&alice, "anyone"), &mut NoPrompts).await;
    assert_eq!(c.unwrap().logged_in().methods, ["publickey"]);
    let stranger = key(KeyType::Ed25519);
    let c = login_with(files.clone(), with_key(&stranger, "anyone"), &mut NoPrompts).await;
    assert!(matches!(c, Err(Error::PermissionDenied { .. })));
    // Bob's password, and only Bob's.
    let mut by_password = AuthOptions::new("bob");
    by_password.use_agent = false;
    by_password.preferred = vec!["password".into()];
    let mut right = Answers {
        passwords: vec!["hunter2"],
        ..Answers::default()
    };
    let c = login_with(files.clone(), by_password.clone(), &mut right).await;
    assert_eq!(c.unwrap().logged_in().methods, ["password"]);
    by_password.user = "alice".into();
    let mut wrong_user = Answers {
        passwords: vec!["hunter2"],
        ..Answers::default()
    };
    let c = login_with(files, by_password, &mut wrong_user).await;
    assert!(matches!(c, Err(Error::PermissionDenied { .. })));
}
