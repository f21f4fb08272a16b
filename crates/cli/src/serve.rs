//! `sshwire serve`: an SSH server for SFTP that works with no configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use sshwire::server::Server;
use sshwire::{Authenticator, Driver, authenticate, system_rng};
use sshwire_auth::{AuthMethod, AuthorizedKeys, PasswordFile, ServerPolicy};
use sshwire_connection::{
    self as connection, ChannelRequestType, ChannelType, Connection, OpenFailureReason,
    messages::EXTENDED_DATA_STDERR,
};
use sshwire_keys::{KeyType, PrivateKey, PublicKey};
use sshwire_transport::{Config, Event};
use tokio::net::{TcpListener, TcpStream};

use crate::paths;

/// OpenSSH's LoginGraceTime default; the auth engine enforces it too, this bounds the key
/// exchange before it.
const LOGIN_GRACE: Duration = Duration::from_secs(120);

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
    /// authorized_keys file: a key listed there logs in under any user name (default:
    /// ~/.ssh/authorized_keys).
    #[arg(long)]
    authorized_keys: Option<PathBuf>,
    /// Password file: lines `user:$argon2id$...` as `sshwire passwd` prints them.
    #[arg(long)]
    password_file: Option<PathBuf>,
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
    let credentials = Credentials::load(&authorized_keys, args.password_file.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(args.listen, args.root, host_keys, credentials))
}

async fn serve(
    listen: SocketAddr,
    root: PathBuf,
    host_keys: Vec<Arc<PrivateKey>>,
    credentials: Credentials,
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
    println!("{}", credentials.summary);
    println!("connect with: sftp -P {} {}", local.port(), local.ip());
    let server = Server::new(Arc::new(Config::default()), host_keys);
    let policy = Arc::new(credentials.policy());
    let authenticator: Arc<dyn Authenticator> = Arc::new(credentials);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("sshwire serve: accept failed: {e}");
                continue;
            }
        };
        let server = server.clone();
        let (policy, authenticator) = (policy.clone(), authenticator.clone());
        tokio::spawn(async move {
            if let Err(e) = connection(&server, stream, policy, authenticator).await {
                eprintln!("sshwire serve: {peer}: {e}");
            }
        });
    }
}

/// One connection: key exchange, user authentication, then the session channels.
async fn connection(
    server: &Server,
    stream: TcpStream,
    policy: Arc<ServerPolicy>,
    authenticator: Arc<dyn Authenticator>,
) -> Result<(), sshwire::Error> {
    let mut driver = tokio::time::timeout(LOGIN_GRACE, server.handshake_tcp(stream))
        .await
        .map_err(|_| sshwire::Error::Timeout)??;
    let who = authenticate(&mut driver, policy, authenticator).await?;
    eprintln!(
        "sshwire serve: {} logged in ({})",
        who.user,
        who.methods
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(",")
    );
    channels(&mut driver).await
}

/// The connection layer: session channels are accepted, but `sshwire serve` runs no commands
/// and, until the SFTP server lands, serves no subsystem; each request is refused with a line
/// on the channel's stderr saying so.
async fn channels(driver: &mut Driver<TcpStream>) -> Result<(), sshwire::Error> {
    let mut conn = Connection::server(connection::Config::openssh());
    loop {
        while let Some(p) = conn.poll_transmit() {
            driver.engine().send(&p)?;
        }
        let event = match driver.next_event().await {
            Ok(e) => e,
            // The client hung up, with or without a DISCONNECT: the session is over.
            Err(sshwire::Error::Transport(sshwire_transport::Error::PeerDisconnected {
                ..
            })) => {
                return Ok(());
            }
            Err(sshwire::Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Event::Message(m) = event else {
            continue;
        };
        let mut handled = conn.handle_message(&m);
        if matches!(handled, Err(connection::Error::OutputFull)) {
            // The engine holds back input while its output queue is full: drain, then retry.
            while let Some(p) = conn.poll_transmit() {
                driver.engine().send(&p)?;
            }
            handled = conn.handle_message(&m);
        }
        if let Err(e) = handled
            && let Some((reason, description)) = e.disconnect()
        {
            driver.disconnect_in_place(reason, &description).await;
            return Err(sshwire_transport::Error::LocallyClosed {
                reason,
                description,
            }
            .into());
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                connection::Event::ChannelOpenRequest {
                    channel,
                    channel_type: ChannelType::Session,
                } => {
                    let _ = conn.accept_channel(channel);
                }
                connection::Event::ChannelOpenRequest { channel, .. } => {
                    let _ = conn.reject_channel(
                        channel,
                        OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                        "sshwire serve only opens session channels",
                    );
                }
                connection::Event::ChannelRequest {
                    channel,
                    request,
                    reply,
                } => {
                    let refusal = match &request {
                        ChannelRequestType::Exec { .. } | ChannelRequestType::Shell => {
                            Some("sshwire serve runs no commands; it serves SFTP.\r\n".to_owned())
                        }
                        ChannelRequestType::Subsystem { name } => Some(format!(
                            "sshwire serve: the {name} subsystem is not available in this build.\r\n"
                        )),
                        _ => None,
                    };
                    if let Some(text) = refusal {
                        let _ =
                            conn.send_extended_data(channel, EXTENDED_DATA_STDERR, text.as_bytes());
                    }
                    if let Some(id) = reply {
                        let _ = conn.reply(channel, id, false);
                    }
                }
                connection::Event::Eof { channel } | connection::Event::Closed { channel } => {
                    let _ = conn.close(channel);
                }
                connection::Event::GlobalRequest {
                    reply: Some(id), ..
                } => {
                    let _ = conn.reply_global(id, false, &[]);
                }
                _ => {}
            }
        }
    }
}

/// The users `sshwire serve` lets in: keys from an authorized_keys file (any user name) and
/// passwords from a password file.
struct Credentials {
    keys: AuthorizedKeys,
    passwords: Option<PasswordFile>,
    summary: String,
}

impl Credentials {
    fn load(authorized_keys: &Path, password_file: Option<&Path>) -> Result<Self, String> {
        let keys = match std::fs::read_to_string(authorized_keys) {
            Ok(text) => AuthorizedKeys::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => AuthorizedKeys::parse(""),
            Err(e) => {
                return Err(format!("cannot read {}: {e}", authorized_keys.display()));
            }
        };
        let passwords = match password_file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read password file {}: {e}", p.display()))?;
                Some(PasswordFile::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?)
            }
            None => None,
        };
        let mut summary = format!(
            "authorized keys: {} ({} keys)",
            authorized_keys.display(),
            keys.keys.len()
        );
        if let (Some(p), Some(f)) = (password_file, &passwords) {
            summary.push_str(&format!(
                "; password file: {} ({} users)",
                p.display(),
                f.len()
            ));
        }
        if keys.keys.is_empty() && passwords.is_none() {
            summary.push_str("; nobody can log in: add a key there or give --password-file");
        }
        Ok(Credentials {
            keys,
            passwords,
            summary,
        })
    }

    /// Public keys always; passwords (also through keyboard-interactive) with a password file.
    fn policy(&self) -> ServerPolicy {
        let mut methods = vec![vec![AuthMethod::PublicKey]];
        if self.passwords.is_some() {
            methods.push(vec![AuthMethod::Password]);
            methods.push(vec![AuthMethod::KeyboardInteractive]);
        }
        ServerPolicy {
            methods,
            ..ServerPolicy::default()
        }
    }
}

impl Authenticator for Credentials {
    fn public_key(&self, _user: &str, key: &PublicKey) -> bool {
        self.keys.find(key).is_some()
    }

    fn password(&self, user: &str, password: &[u8]) -> bool {
        self.passwords
            .as_ref()
            .is_some_and(|f| f.verify(user, password))
    }
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
