//! `sshwire serve`: an SSH server for SFTP that works with no configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use sshwire::server::Server;
use sshwire::{Driver, system_rng};
use sshwire_keys::{KeyType, PrivateKey};
use sshwire_transport::{Config, DisconnectReason, Event, MessageNumber};
use sshwire_wire::{Reader, Writer};
use tokio::net::{TcpListener, TcpStream};

use crate::paths;

/// RFC 4252 §5.4 allows a server to send a banner before authentication completes.
const NO_AUTH_BANNER: &str = "sshwire serve: user authentication is not available in this \
build yet; every method is refused.\r\n";

/// OpenSSH's LoginGraceTime default.
const LOGIN_GRACE: Duration = Duration::from_secs(120);

/// OpenSSH's MaxAuthTries default.
const MAX_AUTH_TRIES: u32 = 6;

/// Arguments of `sshwire serve`.
#[derive(Parser)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2222")]
    listen: SocketAddr,
    /// Directory to serve (created if missing).
    #[arg(long, default_value = "sftp-root")]
    root: PathBuf,
    /// Host private key file (repeat for several); default: one ed25519 key generated on first
    /// run and kept in ~/.config/sshwire.
    #[arg(long = "host-key")]
    host_keys: Vec<PathBuf>,
    /// authorized_keys file of the users who may log in (default: ~/.ssh/authorized_keys).
    #[arg(long)]
    authorized_keys: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), String> {
    let host_keys = if args.host_keys.is_empty() {
        vec![default_host_key()?]
    } else {
        args.host_keys
            .iter()
            .map(|p| load_host_key(p))
            .collect::<Result<Vec<_>, _>>()?
    };
    std::fs::create_dir_all(&args.root).map_err(|e| {
        format!(
            "cannot create the root directory {}: {e}",
            args.root.display()
        )
    })?;
    let authorized_keys = match args.authorized_keys {
        Some(p) => p,
        None => paths::home()?.join(".ssh").join("authorized_keys"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(args.listen, args.root, host_keys, authorized_keys))
}

async fn serve(
    listen: SocketAddr,
    root: PathBuf,
    host_keys: Vec<Arc<PrivateKey>>,
    authorized_keys: PathBuf,
) -> Result<(), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "sshwire serve: listening on {local}, serving {}",
        root.display()
    );
    for key in &host_keys {
        println!(
            "host key: {} {}",
            key.public_key().fingerprint_sha256(),
            key.key_type().name()
        );
    }
    println!("authorized keys: {}", authorized_keys.display());
    println!("connect with: sftp -P {} {}", local.port(), local.ip());
    let server = Server::new(Arc::new(Config::default()), host_keys);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("sshwire serve: accept failed: {e}");
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(LOGIN_GRACE, connection(&server, stream)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("sshwire serve: {peer}: {e}"),
                Err(_) => eprintln!("sshwire serve: {peer}: login grace time exceeded"),
            }
        });
    }
}

/// One connection: key exchange, the `ssh-userauth` service, and for now a refusal of every
/// authentication attempt.
async fn connection(server: &Server, stream: TcpStream) -> Result<(), sshwire::Error> {
    let mut driver = server.handshake_tcp(stream).await?;
    let mut attempts = 0u32;
    loop {
        match driver.next_event().await? {
            Event::ServiceRequest(name) if name == "ssh-userauth" => {
                driver.engine().accept_service(&name)?;
            }
            Event::ServiceRequest(name) => {
                let why = format!("service {name} is not available");
                driver
                    .disconnect(DisconnectReason::SERVICE_NOT_AVAILABLE, &why)
                    .await;
                return Ok(());
            }
            Event::Message(m) if m.first() == Some(&50) => {
                attempts += 1;
                if attempts > MAX_AUTH_TRIES {
                    driver
                        .disconnect(
                            DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE,
                            "too many authentication failures",
                        )
                        .await;
                    return Ok(());
                }
                refuse(&mut driver, &m, attempts == 1)?;
            }
            Event::Message(m) => {
                // RFC 4252 §6: no other message is allowed before authentication succeeds.
                let number = MessageNumber(m.first().copied().unwrap_or(0));
                let why = format!("{number} before authentication");
                driver
                    .disconnect(DisconnectReason::PROTOCOL_ERROR, &why)
                    .await;
                return Ok(());
            }
            _ => {}
        }
    }
}

/// Answers a `USERAUTH_REQUEST` with failure, the first time with a banner saying why.
fn refuse(
    driver: &mut Driver<TcpStream>,
    request: &[u8],
    first: bool,
) -> Result<(), sshwire::Error> {
    let mut r = Reader::new(request.get(1..).unwrap_or_default());
    let valid = r
        .string()
        .and_then(|_| r.string())
        .and_then(|_| r.string())
        .is_ok();
    if !valid {
        return Err(sshwire_transport::Error::PeerMisbehaved("malformed USERAUTH_REQUEST").into());
    }
    if first {
        // RFC 4252 §5.4: "byte SSH_MSG_USERAUTH_BANNER, string message, string language tag".
        let mut w = Writer::new();
        w.u8(53).string(NO_AUTH_BANNER.as_bytes()).string(b"");
        driver.engine().send(w.as_slice())?;
    }
    // RFC 4252 §5.1: "byte SSH_MSG_USERAUTH_FAILURE, name-list authentications that can
    // continue, boolean partial success".
    let mut w = Writer::new();
    w.u8(51).name_list(["publickey", "password"]).bool(false);
    driver.engine().send(w.as_slice())?;
    Ok(())
}

/// Loads a host key, which must not be encrypted.
fn load_host_key(path: &Path) -> Result<Arc<PrivateKey>, String> {
    let text =
        std::fs::read(path).map_err(|e| format!("cannot read host key {}: {e}", path.display()))?;
    let (key, _comment) = PrivateKey::from_openssh(&text, None).map_err(|e| {
        format!(
            "cannot load host key {}: {e} (host keys must not have a passphrase)",
            path.display()
        )
    })?;
    Ok(Arc::new(key))
}

/// The host key kept in the config directory, generated on first use.
fn default_host_key() -> Result<Arc<PrivateKey>, String> {
    let path = paths::config_dir()?.join("ssh_host_ed25519_key");
    if path.exists() {
        return load_host_key(&path);
    }
    let key = PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng())
        .map_err(|e| format!("cannot generate a host key: {e}"))?;
    let text = key
        .to_openssh("sshwire host key", None, &mut *system_rng())
        .map_err(|e| format!("cannot encode the host key: {e}"))?;
    paths::write_new(&path, text.as_bytes(), 0o600)?;
    eprintln!(
        "sshwire serve: generated a new host key in {}",
        path.display()
    );
    Ok(Arc::new(key))
}
