//! `Client::sftp` over a whole SSH session in memory: our client logs in to our server, whose
//! `sftp` subsystem serves a `MemoryFs`, and talks SFTP on the channel it opens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::sync::Arc;

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::{Server, ServerSettings};
use sshwire::sftp::fs::Filesystem;
use sshwire::sftp::memory::MemoryFs;
use sshwire::sftp::server::ServerConfig;
use sshwire::sftp_server::SftpSubsystem;
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
    let client_key = key();
    let server = Server::with_settings(ServerSettings::new(vec![key()]));
    let auth: Arc<dyn Authenticator> = Arc::new(OneKey(client_key.public_key()));
    let served = fs.clone();
    let handler = SftpSubsystem::new(move |who: &Authenticated| {
        (who.user == "alice").then(|| {
            let fs: Arc<dyn Filesystem> = Arc::new(served.clone());
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
    Client::over(
        a,
        "test",
        &ClientConfig::default(),
        &mut trust,
        &options,
        &mut NoPrompts,
    )
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
