//! `ClientConfig::trace` and `ServerSettings::trace` over a whole session in memory: both
//! ends trace every SSH message and, through `Client::sftp` and `SftpSubsystem`, every SFTP
//! packet, with the side and direction of each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::sync::{Arc, Mutex};

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::{Server, ServerSettings};
use sshwire::sftp::fs::Filesystem;
use sshwire::sftp::memory::MemoryFs;
use sshwire::sftp::server::ServerConfig;
use sshwire::sftp_server::SftpSubsystem;
use sshwire::trace::TraceSink;
use sshwire::{Authenticated, Authenticator, system_rng};

/// Lets in the one key.
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

type Lines = Arc<Mutex<Vec<String>>>;

fn sink(lines: &Lines) -> TraceSink {
    let lines = lines.clone();
    Arc::new(move |line: &str| lines.lock().unwrap().push(line.to_owned()))
}

fn has(lines: &Lines, start: &str, part: &str) {
    let lines = lines.lock().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(start) && l.contains(part)),
        "no line starting {start:?} with {part:?}:\n{}",
        lines.join("\n")
    );
}

#[tokio::test]
async fn both_ends_trace_ssh_messages_and_sftp_packets() {
    let (client_lines, server_lines): (Lines, Lines) = Default::default();
    let fs = MemoryFs::new();
    fs.write_file(b"/notes.txt", b"private notes").unwrap();

    let client_key = key();
    let mut settings = ServerSettings::new(vec![key()]);
    settings.trace = Some(sink(&server_lines));
    let server = Server::with_settings(settings);
    let auth: Arc<dyn Authenticator> = Arc::new(OneKey(client_key.public_key()));
    let handler = SftpSubsystem::new(move |_: &Authenticated| {
        let fs: Arc<dyn Filesystem> = Arc::new(fs.clone());
        Some((fs, ServerConfig::default()))
    });
    let (a, b) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        server
            .serve_connection(b, auth, Arc::new(handler), |_, _| {})
            .await
    });
    let mut options = AuthOptions::new("alice");
    options.use_agent = false;
    options.identities = vec![Identity::Key(client_key, "test".into())];
    let config = ClientConfig {
        trace: Some(sink(&client_lines)),
        ..ClientConfig::default()
    };
    let mut trust = |_: &PublicKey| true;
    let client = Client::over(a, "test", &config, &mut trust, &options, &mut NoPrompts)
        .await
        .unwrap();
    let sftp = client.sftp().await.unwrap();
    let names = sftp.list(b"/").await.unwrap();
    assert!(names.iter().any(|n| n.filename == b"notes.txt"));
    drop(sftp);
    client.disconnect().await;

    // Every layer, from the very first packet, on both sides.
    has(
        &client_lines,
        "client > #0 ",
        "SSH_MSG_KEXINIT kex_algorithms=[",
    );
    has(
        &server_lines,
        "server < #0 ",
        "SSH_MSG_KEXINIT kex_algorithms=[",
    );
    has(
        &client_lines,
        "client > #",
        "method=publickey algorithm=ssh-ed25519",
    );
    has(&server_lines, "server > #", "SSH_MSG_USERAUTH_SUCCESS");
    has(
        &client_lines,
        "client > #",
        "SSH_MSG_CHANNEL_OPEN type=session",
    );
    has(&client_lines, "client > sftp ", "SSH_FXP_INIT version=3");
    has(&client_lines, "client > sftp ", "SSH_FXP_OPENDIR id=");
    has(&server_lines, "server < sftp ", "SSH_FXP_OPENDIR id=");
    has(&server_lines, "server > sftp ", "SSH_FXP_NAME id=");
    has(&client_lines, "client < sftp ", "\"notes.txt\"");
    for lines in [&client_lines, &server_lines] {
        assert!(
            !lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("private notes")),
            "file data in a trace"
        );
    }
}
