//! User authentication on the server side: the `ssh-userauth` service driven over a
//! [`Driver`], with credentials decided by an [`Authenticator`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sshwire_auth::{AuthMethod, ServerAuth, ServerEvent, ServerPolicy, Verdict};
use sshwire_keys::PublicKey;
use sshwire_transport::{DisconnectReason, Event};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::driver::sleep_until;
use crate::{Driver, Error};

/// Decides whose credentials are good.
///
/// Both checks must answer unknown users exactly as known users with a wrong credential, after
/// the same work: the engine already makes the replies and their timing identical.
pub trait Authenticator: Send + Sync + 'static {
    /// Whether `key` may log in as `user`.
    ///
    /// Asked for key queries and for requests whose signature the engine has verified.
    fn public_key(&self, user: &str, key: &PublicKey) -> bool;

    /// Whether `key` may log in as `user` from the client at `peer` (`None` when the
    /// connection is not a TCP one, e.g. [`crate::server::Server::serve_connection`]).
    ///
    /// This is what the server asks; the default ignores `peer` and asks
    /// [`Authenticator::public_key`]. Implement it to apply address rules such as
    /// `authorized_keys`' `from=`.
    fn public_key_from(&self, user: &str, key: &PublicKey, peer: Option<SocketAddr>) -> bool {
        let _ = peer;
        self.public_key(user, key)
    }

    /// Whether `password` is `user`'s. It runs on a blocking thread: hashing may be slow.
    fn password(&self, user: &str, password: &[u8]) -> bool;
}

/// An authorized_keys file whose keys log in under any user name; passwords are refused.
///
/// Key options are applied for a server that serves only SFTP (`sshwire serve`), by
/// [`sshwire_keys::key_options::decide_sftp_only`]: `from=` against the peer's address,
/// `expiry-time=`, `command=` only for the SFTP server, and keys with options that cannot be
/// honoured (`cert-authority`, `environment=`, `permitopen=` ...) refused. Asked without a
/// peer address ([`Authenticator::public_key`]), a key with `from=` is refused. For keys per
/// user, keep one `AuthorizedKeys` per user and implement [`Authenticator`] over the map.
impl Authenticator for sshwire_keys::authorized_keys::AuthorizedKeys {
    fn public_key(&self, user: &str, key: &PublicKey) -> bool {
        self.public_key_from(user, key, None)
    }

    fn public_key_from(&self, _user: &str, key: &PublicKey, peer: Option<SocketAddr>) -> bool {
        use sshwire_keys::key_options::{KeyDecision, decide_sftp_only};
        decide_sftp_only(self, key, peer.map(|p| p.ip()), unix_now()) == KeyDecision::Allowed
    }

    fn password(&self, _user: &str, _password: &[u8]) -> bool {
        false
    }
}

/// Seconds since the Unix epoch, now (before the epoch counts as the epoch).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A password file (`user:$argon2id$...` lines, as `sshwire passwd` prints them); keys are
/// refused.
impl Authenticator for sshwire_auth::PasswordFile {
    fn public_key(&self, _user: &str, _key: &PublicKey) -> bool {
        false
    }

    fn password(&self, user: &str, password: &[u8]) -> bool {
        self.verify(user, password)
    }
}

/// Accepts what any of its authenticators accepts.
pub struct AnyOf(pub Vec<Arc<dyn Authenticator>>);

impl Authenticator for AnyOf {
    fn public_key(&self, user: &str, key: &PublicKey) -> bool {
        self.0.iter().any(|a| a.public_key(user, key))
    }

    fn public_key_from(&self, user: &str, key: &PublicKey, peer: Option<SocketAddr>) -> bool {
        self.0.iter().any(|a| a.public_key_from(user, key, peer))
    }

    fn password(&self, user: &str, password: &[u8]) -> bool {
        self.0.iter().any(|a| a.password(user, password))
    }
}

/// Who logged in, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user name.
    pub user: String,
    /// The methods that succeeded, in order.
    pub methods: Vec<AuthMethod>,
    /// The keys that signed (never one only queried).
    pub public_keys: Vec<PublicKey>,
}

/// The prompt of the keyboard-interactive challenge, which asks for the password.
const PASSWORD_PROMPT: &str = "Password: ";

/// Runs the `ssh-userauth` service on an established server connection until a user is in.
///
/// Any other service request before success is refused with `SERVICE_NOT_AVAILABLE`, and
/// connection-layer messages before success are a protocol error (RFC 4252 §6). On failure the
/// engine's DISCONNECT has been sent.
pub async fn authenticate<S: AsyncRead + AsyncWrite>(
    driver: &mut Driver<S>,
    policy: Arc<ServerPolicy>,
    authenticator: Arc<dyn Authenticator>,
) -> Result<Authenticated, Error> {
    authenticate_counted(driver, policy, authenticator, None, &AuthTally::default()).await
}

/// [`authenticate`] for a client at `peer`, which [`Authenticator::public_key_from`] is told
/// (for `from=` in authorized_keys, say) and the log lines name.
pub async fn authenticate_from<S: AsyncRead + AsyncWrite>(
    driver: &mut Driver<S>,
    policy: Arc<ServerPolicy>,
    authenticator: Arc<dyn Authenticator>,
    peer: SocketAddr,
) -> Result<Authenticated, Error> {
    authenticate_counted(
        driver,
        policy,
        authenticator,
        Some(peer),
        &AuthTally::default(),
    )
    .await
}

/// What an authentication has seen so far, readable while it runs and after it was dropped.
#[derive(Debug, Default)]
pub(crate) struct AuthTally {
    /// Attempts that failed, as the engine counts them for `max_attempts`.
    failures: AtomicU32,
}

impl AuthTally {
    /// Attempts that failed.
    pub(crate) fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// [`authenticate`] for a connection from `peer`: every verdict is logged with `tracing`
/// (user, method, peer), [`Authenticator::public_key_from`] is told the address, and the
/// failed attempts are counted in `tally`.
pub(crate) async fn authenticate_counted<S: AsyncRead + AsyncWrite>(
    driver: &mut Driver<S>,
    policy: Arc<ServerPolicy>,
    authenticator: Arc<dyn Authenticator>,
    peer: Option<SocketAddr>,
    tally: &AuthTally,
) -> Result<Authenticated, Error> {
    let peer_addr = peer;
    let peer = peer.map(tracing::field::display);
    let mut auth: Option<ServerAuth> = None;
    loop {
        let deadline = auth.as_ref().and_then(ServerAuth::poll_timeout);
        let event = tokio::select! {
            ev = driver.next_event() => Some(ev?),
            () = sleep_until(deadline.map(Instant::from_std)) => None,
        };
        let now = Instant::now().into_std();
        let step = match (event, auth.as_mut()) {
            (None, Some(a)) => a.handle_timeout(now),
            (Some(Event::ServiceRequest(name)), None) if name == "ssh-userauth" => {
                driver.engine().accept_service(&name)?;
                let session_id = driver.engine().session_id().unwrap_or_default().to_vec();
                auth = Some(ServerAuth::new(policy.clone(), &session_id, now));
                Ok(())
            }
            (Some(Event::ServiceRequest(name)), _) => {
                let why = format!("service {name} is not available");
                driver
                    .disconnect_in_place(DisconnectReason::SERVICE_NOT_AVAILABLE, &why)
                    .await;
                return Err(sshwire_transport::Error::LocallyClosed {
                    reason: DisconnectReason::SERVICE_NOT_AVAILABLE,
                    description: why,
                }
                .into());
            }
            (Some(Event::Message(m)), Some(a)) => a.handle_message(now, &m),
            (Some(Event::Message(_)), None) => {
                let why = "message before the ssh-userauth service";
                driver
                    .disconnect_in_place(DisconnectReason::PROTOCOL_ERROR, why)
                    .await;
                return Err(sshwire_transport::Error::PeerMisbehaved(why).into());
            }
            _ => Ok(()),
        };
        let Some(a) = auth.as_mut() else {
            continue;
        };
        tally.failures.store(a.failures(), Ordering::Relaxed);
        if let Err(e) = step {
            log_auth_end(a, &peer, &e);
            return Err(fail(driver, e).await);
        }
        // Answer questions; each answer may produce more output and more questions.
        while let Some(ev) = a.poll_event() {
            let now = Instant::now().into_std();
            // The user and method of a final verdict, for the log.
            let mut logged: Option<(String, AuthMethod)> = None;
            let (id, verdict) = match ev {
                ServerEvent::CheckPublicKey {
                    id,
                    user,
                    key,
                    signed,
                    ..
                } => {
                    let ok = authenticator.public_key_from(&user, &key, peer_addr);
                    if signed || !ok {
                        // A refused query is a failed attempt too (the engine counts it).
                        tracing::debug!(
                            event = "auth_key",
                            peer,
                            user,
                            signed,
                            accepted = ok,
                            key = %key.fingerprint_sha256(),
                            "public key checked"
                        );
                        logged = Some((user, AuthMethod::PublicKey));
                    } else {
                        tracing::debug!(
                            event = "auth_key_query",
                            peer,
                            user,
                            key = %key.fingerprint_sha256(),
                            "public key query accepted"
                        );
                    }
                    (id, verdict(ok))
                }
                ServerEvent::CheckPassword {
                    id, user, password, ..
                } => {
                    let ok =
                        check_password(&authenticator, user.clone(), password.expose().as_bytes())
                            .await;
                    logged = Some((user, AuthMethod::Password));
                    (id, verdict(ok))
                }
                ServerEvent::KeyboardInteractive { id, .. } => (
                    id,
                    Verdict::Challenge {
                        name: String::new(),
                        instruction: String::new(),
                        prompts: vec![(PASSWORD_PROMPT.to_owned(), false)],
                    },
                ),
                ServerEvent::KeyboardInteractiveResponses {
                    id,
                    user,
                    responses,
                } => {
                    let ok = match responses.as_slice() {
                        [one] => {
                            check_password(&authenticator, user.clone(), one.expose().as_bytes())
                                .await
                        }
                        _ => false,
                    };
                    logged = Some((user, AuthMethod::KeyboardInteractive));
                    (id, verdict(ok))
                }
                ServerEvent::Success {
                    user,
                    methods,
                    public_keys,
                } => {
                    tracing::info!(
                        event = "auth_success",
                        peer,
                        user,
                        methods = %method_list(&methods),
                        "authenticated"
                    );
                    driver.send_all(|| a.poll_transmit())?;
                    driver.flush().await?;
                    // The SUCCESS is out: delayed compression may start now.
                    driver.engine().auth_succeeded();
                    return Ok(Authenticated {
                        user,
                        methods,
                        public_keys,
                    });
                }
                _ => continue,
            };
            let accepted = verdict == Verdict::Accept;
            if let Err(e) = a.decide(now, id, verdict) {
                log_auth_end(a, &peer, &e);
                return Err(fail(driver, e).await);
            }
            tally.failures.store(a.failures(), Ordering::Relaxed);
            match logged {
                Some((user, method)) if !accepted => tracing::info!(
                    event = "auth_failure",
                    peer,
                    user,
                    method = method.name(),
                    failures = a.failures(),
                    "authentication failed"
                ),
                // RFC 4252 §5.1: a method that succeeded without completing a sequence is a
                // partial success; the Success event follows otherwise.
                Some((user, method)) if !a.is_authenticated() => tracing::info!(
                    event = "auth_partial",
                    peer,
                    user,
                    method = method.name(),
                    "partial success: more methods required"
                ),
                _ => {}
            }
        }
        driver.send_all(|| a.poll_transmit())?;
    }
}

/// Logs why authentication ended without success.
fn log_auth_end(
    a: &ServerAuth,
    peer: &Option<tracing::field::DisplayValue<SocketAddr>>,
    e: &sshwire_auth::AuthError,
) {
    tracing::info!(
        event = "auth_end",
        peer,
        user = a.user(),
        failures = a.failures(),
        reason = %crate::server::printable(&e.to_string()),
        "authentication ended without success"
    );
}

/// Method names, comma-separated as in OpenSSH's `AuthenticationMethods`.
fn method_list(methods: &[AuthMethod]) -> String {
    methods
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(",")
}

fn verdict(ok: bool) -> Verdict {
    if ok { Verdict::Accept } else { Verdict::Reject }
}

/// Most password checks ([`Authenticator::password`]) that run at once in a process, over
/// every server and connection in it.
///
/// A check hashes: argon2id at `sshwire passwd`'s cost takes about 19 MiB and a core for
/// each. Without this bound a flood of password attempts, one per connection in
/// authentication, could run as many hashes at once as there are such connections (100 by
/// default). The others wait their turn, within the login grace time.
pub const MAX_CONCURRENT_PASSWORD_CHECKS: usize = 4;

/// The permits of [`MAX_CONCURRENT_PASSWORD_CHECKS`].
static PASSWORD_CHECKS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(MAX_CONCURRENT_PASSWORD_CHECKS);

/// Runs the password check on a blocking thread, once one of the
/// [`MAX_CONCURRENT_PASSWORD_CHECKS`] permits is free.
///
/// The permit moves into the blocking task, so a check whose connection is dropped (at the
/// login grace time, or evicted) keeps its permit until its hash ends.
async fn check_password(auth: &Arc<dyn Authenticator>, user: String, password: &[u8]) -> bool {
    let Ok(permit) = PASSWORD_CHECKS.acquire().await else {
        return false;
    };
    let auth = auth.clone();
    let password = zeroize::Zeroizing::new(password.to_vec());
    tokio::task::spawn_blocking(move || {
        let ok = auth.password(&user, &password);
        drop(permit);
        ok
    })
    .await
    .unwrap_or(false)
}

/// Sends the DISCONNECT an authentication error implies and returns the error.
async fn fail<S: AsyncRead + AsyncWrite>(
    driver: &mut Driver<S>,
    e: sshwire_auth::AuthError,
) -> Error {
    let (reason, description) = e.disconnect();
    driver.disconnect_in_place(reason, &description).await;
    Error::Auth(e)
}
