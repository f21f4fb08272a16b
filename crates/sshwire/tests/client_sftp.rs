//! `Client::sftp` over a whole SSH session in memory: our client logs in to our server, whose
//! `sftp` subsystem serves a `MemoryFs`, and talks SFTP on the channel it opens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::{Server, ServerSettings};
use sshwire::sftp::fs::Filesystem;
use sshwire::sftp::memory::MemoryFs;
use sshwire::sftp::server::ServerConfig;
use sshwire::sftp_server::SftpSubsystem;
use sshwire::sftp_transfer::{STREAMED_MIN, Transfer};
use sshwire::{Authenticated, Authenticator, Error, system_rng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Lets in the one key, under any user name.
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

/// Logs `user` in to a server that serves `fs` over `sftp` to alice and refuses it to anyone
/// else.
async fn login(user: &str, fs: &MemoryFs) -> Client {
    login_counting(user, fs, Arc::new(AtomicUsize::new(0))).await
}

/// As [`login`], counting the SFTP sessions the server starts in `sessions`.
async fn login_counting(user: &str, fs: &MemoryFs, sessions: Arc<AtomicUsize>) -> Client {
    let served = fs.clone();
    login_serving(user, move |_| {
        sessions.fetch_add(1, Ordering::SeqCst);
        served.clone()
    })
    .await
}

/// Logs `user` in to a server whose `n`th SFTP session (from 0) serves `pick(n)`, to alice
/// only.
async fn login_serving(
    user: &str,
    pick: impl Fn(usize) -> MemoryFs + Send + Sync + 'static,
) -> Client {
    login_serving_with(user, &ClientConfig::default(), None, pick).await
}

/// As [`login_serving`], with the client's `config` and the server's connection settings.
async fn login_serving_with(
    user: &str,
    config: &ClientConfig,
    server_connection: Option<sshwire::connection::Config>,
    pick: impl Fn(usize) -> MemoryFs + Send + Sync + 'static,
) -> Client {
    let client_key = key();
    let mut settings = ServerSettings::new(vec![key()]);
    if let Some(c) = server_connection {
        settings.session.connection = c;
    }
    let server = Server::with_settings(settings);
    let auth: Arc<dyn Authenticator> = Arc::new(OneKey(client_key.public_key()));
    let started = AtomicUsize::new(0);
    let handler = SftpSubsystem::new(move |who: &Authenticated| {
        let fs = pick(started.fetch_add(1, Ordering::SeqCst));
        (who.user == "alice").then(|| {
            let fs: Arc<dyn Filesystem> = Arc::new(fs);
            (fs, ServerConfig::default())
        })
    });
    let (a, b) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        server
            .serve_connection(b, auth, Arc::new(handler), |_, _| {})
            .await
    });
    let mut options = AuthOptions::new(user);
    options.use_agent = false;
    options.identities = vec![Identity::Key(client_key, "test".into())];
    let mut trust = |_: &PublicKey| true;
    Client::over(a, "test", config, &mut trust, &options, &mut NoPrompts)
        .await
        .unwrap()
}

#[tokio::test]
async fn client_sftp_reads_and_writes_the_servers_files() {
    let fs = MemoryFs::new();
    fs.write_file(b"/hello.txt", b"hello over sftp").unwrap();
    let client = login("alice", &fs).await;

    let sftp = client.sftp().await.unwrap();
    // The session negotiated: sshwire's server offers limits@openssh.com, so 255 KiB blocks.
    assert_eq!(sftp.transfer_limits().read_len, 255 * 1024);
    let mut file = sftp.open_read(b"/hello.txt").await.unwrap();
    let mut text = String::new();
    file.read_to_string(&mut text).await.unwrap();
    assert_eq!(text, "hello over sftp");
    file.close().await.unwrap();

    // A second session on the same connection, on a channel of its own: what it writes is
    // what the server holds and what the first session reads.
    let other = client.sftp().await.unwrap();
    let mut file = other.create(b"/second.txt").await.unwrap();
    file.write_all(b"written by the second session")
        .await
        .unwrap();
    file.close().await.unwrap();
    assert_eq!(
        fs.read_file(b"/second.txt").unwrap(),
        b"written by the second session"
    );
    assert_eq!(sftp.stat(b"/second.txt").await.unwrap().size, Some(29));
    client.disconnect().await;
}

#[tokio::test]
async fn client_sftp_reports_a_refused_subsystem() {
    let fs = MemoryFs::new();
    let client = login("bob", &fs).await;
    match client.sftp().await {
        Err(Error::RequestRefused(_)) => {}
        Err(other) => panic!("a refused subsystem gave {other:?}"),
        Ok(_) => panic!("the subsystem was refused, yet a session started"),
    }
    client.disconnect().await;
}

/// Downloads the server's `/big.bin` to `local`; returns the size the download reports.
async fn get_big(
    sftp: &sshwire::sftp_client::SftpClient,
    local: &std::path::Path,
    how: sshwire::sftp_transfer::Transfer,
) -> u64 {
    sftp.download(b"/big.bin", local, how, &mut |_, _| {})
        .await
        .unwrap()
}

/// Downloads the server's `/big.bin` with the default [`Transfer`] and checks that it is
/// `data`, byte for byte.
async fn get_big_intact(sftp: &sshwire::sftp_client::SftpClient, data: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    let how = Transfer::default();
    assert_eq!(get_big(sftp, &local, how).await, data.len() as u64);
    assert!(
        std::fs::read(&local).unwrap() == data,
        "the file arrived intact"
    );
}

/// A download read over two sessions: a second `sftp` session opens on the connection, the
/// file arrives byte for byte, a resume over two sessions continues a prefix exactly, and
/// a later download reuses the session instead of opening a third.
#[tokio::test]
async fn client_sftp_download_reads_over_two_sessions() {
    let fs = MemoryFs::new();
    let size = usize::try_from(STREAMED_MIN).unwrap() + 3 * 255 * 1024 + 17;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 + i / 4099) as u8).collect();
    fs.write_file(b"/big.bin", &data).unwrap();
    let sessions = Arc::new(AtomicUsize::new(0));
    let client = login_counting("alice", &fs, sessions.clone()).await;
    let sftp = client.sftp().await.unwrap();
    assert_eq!(sessions.load(Ordering::SeqCst), 1);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    let how = Transfer {
        streams: 2,
        ..Transfer::default()
    };
    assert_eq!(get_big(&sftp, &local, how).await, size as u64);
    assert_eq!(
        sessions.load(Ordering::SeqCst),
        2,
        "a second session opened"
    );
    assert!(
        std::fs::read(&local).unwrap() == data,
        "the file arrived intact"
    );

    // A prefix, resumed over both sessions (the second is reused, not opened again).
    std::fs::write(&local, &data[..1_000_003]).unwrap();
    let resume = Transfer {
        resume: true,
        ..how
    };
    sftp.download(b"/big.bin", &local, resume, &mut |_, _| {})
        .await
        .unwrap();
    assert!(
        std::fs::read(&local).unwrap() == data,
        "the resume is exact"
    );
    assert_eq!(
        sessions.load(Ordering::SeqCst),
        2,
        "the second session is reused"
    );

    // One stream asked for: no further session, same file.
    std::fs::remove_file(&local).unwrap();
    let single = Transfer {
        streams: 1,
        ..Transfer::default()
    };
    sftp.download(b"/big.bin", &local, single, &mut |_, _| {})
        .await
        .unwrap();
    assert!(std::fs::read(&local).unwrap() == data);
    client.disconnect().await;
}

/// The server sends each `DATA` in the buffer its block was read into when the client's
/// window takes it whole, and copies it into packets cut to the window when not: with a
/// window of little more than one block the two alternate, and every byte still arrives in
/// its place.
#[tokio::test]
async fn downloads_arrive_whole_whether_the_window_takes_a_block_or_not() {
    let size = 3 * 1024 * 1024 + 4321;
    let data: Vec<u8> = (0..size).map(|i| (i * 17 + i / 7919) as u8).collect();
    let fs = MemoryFs::new();
    fs.write_file(b"/big.bin", &data).unwrap();
    let mut config = ClientConfig {
        keep_windows: true,
        ..ClientConfig::default()
    };
    config.session.connection = sshwire::connection::Config {
        initial_window: 300 * 1024,
        ..sshwire::connection::Config::sshwire()
    };
    let client = login_serving_with("alice", &config, None, move |_| fs.clone()).await;
    let sftp = client.sftp().await.unwrap();
    get_big_intact(&sftp, &data).await;
    let mut file = sftp.open_read(b"/big.bin").await.unwrap();
    let mut read = Vec::new();
    file.read_to_end(&mut read).await.unwrap();
    assert!(read == data, "read through a File, intact");
    client.disconnect().await;
}

/// The client sends each `WRITE` of an upload in the buffer its block was read into when the
/// server's window takes it whole (sshwire's 16 MiB), and copies it into packets cut to the
/// window when not (a window smaller than a block); either way the server's file is the
/// local one, byte for byte.
#[tokio::test]
async fn uploads_arrive_whole_whether_the_window_takes_a_block_or_not() {
    let size = 3 * 1024 * 1024 + 4321;
    let data: Vec<u8> = (0..size).map(|i| (i * 23 + i / 7907) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("up.bin");
    std::fs::write(&local, &data).unwrap();
    let narrow = sshwire::connection::Config {
        initial_window: 200 * 1024,
        ..sshwire::connection::Config::sshwire()
    };
    for server_connection in [None, Some(narrow)] {
        let fs = MemoryFs::new();
        let served = fs.clone();
        let client = login_serving_with(
            "alice",
            &ClientConfig::default(),
            server_connection.clone(),
            move |_| served.clone(),
        )
        .await;
        let sftp = client.sftp().await.unwrap();
        let sent = sftp
            .upload(&local, b"/up.bin", Transfer::default(), &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(sent, size as u64);
        assert!(
            fs.read_file(b"/up.bin").unwrap() == data,
            "{server_connection:?}: the upload differs"
        );
        client.disconnect().await;
    }
}

/// By default a download from sshwire's server, which answers a session's requests
/// concurrently, reads over the one session: a second would only add work.
#[tokio::test]
async fn a_download_from_sshwire_reads_over_one_session_by_default() {
    let fs = MemoryFs::new();
    let size = usize::try_from(STREAMED_MIN).unwrap() + 255 * 1024 + 3;
    let data: Vec<u8> = (0..size).map(|i| (i * 11 + i / 4093) as u8).collect();
    fs.write_file(b"/big.bin", &data).unwrap();
    let sessions = Arc::new(AtomicUsize::new(0));
    let client = login_counting("alice", &fs, sessions.clone()).await;
    let sftp = client.sftp().await.unwrap();
    get_big_intact(&sftp, &data).await;
    assert_eq!(
        sessions.load(Ordering::SeqCst),
        1,
        "no further session opened"
    );
    client.disconnect().await;
}

#[tokio::test]
async fn a_further_session_that_sees_another_file_is_not_read() {
    // The first session serves the file; later ones a file of the same name that was
    // replaced in between (another size): mixing the two would corrupt the download.
    let size = 9 * 1024 * 1024 + 5;
    let data: Vec<u8> = (0..size).map(|i| (i * 13 + i / 8191) as u8).collect();
    let first = MemoryFs::new();
    first.write_file(b"/big.bin", &data).unwrap();
    let replaced = MemoryFs::new();
    replaced
        .write_file(b"/big.bin", &vec![0xee; size + 1])
        .unwrap();
    let client = login_serving("alice", move |n| {
        if n == 0 {
            first.clone()
        } else {
            replaced.clone()
        }
    })
    .await;
    let sftp = client.sftp().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    let how = Transfer {
        streams: 3,
        ..Transfer::default()
    };
    assert_eq!(get_big(&sftp, &local, how).await, size as u64);
    assert!(
        std::fs::read(&local).unwrap() == data,
        "only the first session's file was read"
    );
    client.disconnect().await;
}
