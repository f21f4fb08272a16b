//! User authentication on the client side: the `ssh-userauth` service driven over a
//! [`Driver`], trying keys (loaded, from files, from an agent), keyboard-interactive and
//! passwords in the order the caller prefers, as OpenSSH's `ssh` does.

use std::path::PathBuf;
use std::sync::Arc;

use sshwire_auth::{ClientAuth, ClientEvent};
use sshwire_keys::{KeyError, PrivateKey, PublicKey};
use sshwire_transport::{DisconnectReason, Event};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::agent::Agent;
use crate::{Driver, Error, system_rng};

/// `SSH_MSG_USERAUTH_BANNER` (RFC 4252 §5.4).
const USERAUTH_BANNER: u8 = 53;

/// A key to offer.
#[derive(Clone)]
pub enum Identity {
    /// An OpenSSH private key file (`IdentityFile`); its passphrase, if it has one, is asked
    /// for only when the server would accept the key.
    File(PathBuf),
    /// A key already in memory, with a label for messages.
    Key(Arc<PrivateKey>, String),
}

/// What to try, and in which order.
#[derive(Clone)]
pub struct AuthOptions {
    /// The user to log in as.
    pub user: String,
    /// Keys to offer, in order, after those of the agent.
    pub identities: Vec<Identity>,
    /// Use the agent at `SSH_AUTH_SOCK`, if there is one.
    pub use_agent: bool,
    /// Offer only `identities`, not every key the agent holds (OpenSSH's `IdentitiesOnly`);
    /// the agent still signs for those of them it holds.
    pub identities_only: bool,
    /// Method names in order of preference (OpenSSH's `PreferredAuthentications`); methods
    /// not listed are not tried.
    pub preferred: Vec<String>,
    /// Password (and keyboard-interactive) prompts before giving up
    /// (`NumberOfPasswordPrompts`, 3).
    pub password_prompts: u32,
    /// Allow `ssh-rsa` (SHA-1) signatures when the server offers nothing better.
    pub allow_sha1_rsa: bool,
}

impl AuthOptions {
    /// OpenSSH's defaults for `user`: the agent, then keys, then keyboard-interactive, then
    /// password.
    pub fn new(user: &str) -> Self {
        AuthOptions {
            user: user.to_owned(),
            identities: Vec::new(),
            use_agent: true,
            identities_only: false,
            preferred: ["publickey", "keyboard-interactive", "password"]
                .map(str::to_owned)
                .to_vec(),
            password_prompts: 3,
            allow_sha1_rsa: false,
        }
    }
}

/// Asks the person at the keyboard.
///
/// The calls happen during authentication only, before any channel exists, so a blocking
/// implementation (reading a terminal) holds up nothing else of the connection.
pub trait Prompter: Send {
    /// A password, for `prompt` (such as `user@host's password: `); `None` gives up on
    /// passwords.
    fn password(&mut self, prompt: &str) -> Option<Zeroizing<String>>;

    /// A key file's passphrase, for `prompt` (`Enter passphrase for key '...': `); `None`
    /// skips the key.
    fn passphrase(&mut self, prompt: &str) -> Option<Zeroizing<String>>;

    /// Answers to a keyboard-interactive request (RFC 4256 §3.2): one per prompt, whose
    /// flag says whether the answer may be echoed. `None` gives up on the method.
    ///
    /// The default answers a single non-echoed prompt with [`Prompter::password`] and gives
    /// up on anything else.
    fn keyboard_interactive(
        &mut self,
        name: &str,
        instruction: &str,
        prompts: &[(String, bool)],
    ) -> Option<Vec<Zeroizing<String>>> {
        let _ = (name, instruction);
        match prompts {
            [] => Some(Vec::new()),
            [(prompt, false)] => self.password(prompt).map(|p| vec![p]),
            _ => None,
        }
    }

    /// The server's banner (RFC 4252 §5.4), to show before authentication.
    fn banner(&mut self, text: &str) {
        let _ = text;
    }

    /// A new password when the server demands a change (RFC 4252 §8); `None` (the default)
    /// gives up on the password method.
    fn new_password(&mut self, prompt: &str) -> Option<Zeroizing<String>> {
        let _ = prompt;
        None
    }
}

/// A prompter with nothing to say: batch mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPrompts;

impl Prompter for NoPrompts {
    fn password(&mut self, _: &str) -> Option<Zeroizing<String>> {
        None
    }

    fn passphrase(&mut self, _: &str) -> Option<Zeroizing<String>> {
        None
    }
}

/// How the login went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedIn {
    /// The methods that succeeded (more than one when the server asked for several).
    pub methods: Vec<String>,
    /// The key that logged in, if a key did.
    pub key: Option<PublicKey>,
}

/// One key to offer, and where its private half is.
enum Candidate {
    Agent(PublicKey, String),
    Loaded(Arc<PrivateKey>, String),
    /// A file: its public key, its path and text (decrypted when needed).
    File(PublicKey, PathBuf, Zeroizing<Vec<u8>>),
}

impl Candidate {
    fn public_key(&self) -> PublicKey {
        match self {
            Candidate::Agent(k, _) | Candidate::File(k, _, _) => k.clone(),
            Candidate::Loaded(k, _) => k.public_key(),
        }
    }

    fn label(&self) -> String {
        match self {
            Candidate::Agent(_, c) => format!("agent key {c}"),
            Candidate::Loaded(_, l) => l.clone(),
            Candidate::File(_, p, _) => p.display().to_string(),
        }
    }
}

/// The state of one login.
struct Login<'a> {
    options: &'a AuthOptions,
    prompter: &'a mut dyn Prompter,
    host: &'a str,
    auth: ClientAuth,
    agent: Option<Agent>,
    candidates: std::collections::VecDeque<Candidate>,
    /// The key whose query is in flight.
    querying: Option<Candidate>,
    /// The key whose signed request is in flight.
    signed_with: Option<PublicKey>,
    password_left: u32,
    kbd_left: u32,
    /// The method of the request in flight.
    current: Option<&'static str>,
    tried: Vec<String>,
    succeeded: Vec<String>,
    key: Option<PublicKey>,
    /// Problems worth telling the user (unreadable key files), reported with a refusal.
    warnings: Vec<String>,
    /// The methods the server last said can continue.
    last_allowed: Vec<String>,
}

/// Authenticates on an established client connection (its first key exchange done), as
/// OpenSSH's `ssh` would, and leaves the transport ready for the connection protocol.
///
/// `host` is used in prompts (`user@host's password: `). Returns the methods that worked;
/// fails with [`Error::PermissionDenied`] when nothing we have is accepted.
pub async fn authenticate<S: AsyncRead + AsyncWrite>(
    driver: &mut Driver<S>,
    host: &str,
    options: &AuthOptions,
    prompter: &mut dyn Prompter,
) -> Result<LoggedIn, Error> {
    driver.engine().request_service("ssh-userauth")?;
    let mut sig_algs: Option<Vec<u8>> = None;
    loop {
        match driver.next_event().await? {
            Event::ServiceAccept(_) => break,
            Event::ExtInfo(pairs) => sig_algs = server_sig_algs(pairs).or(sig_algs),
            // An early USERAUTH_BANNER is tolerated (and dropped). Anything else of the layers
            // above answers nothing we asked (a USERAUTH_SUCCESS before any request, a channel
            // before authentication): refused, rather than ignored while we wait forever.
            Event::Message(m) if m.first() != Some(&USERAUTH_BANNER) => {
                let why = "message before the ssh-userauth service was accepted";
                driver
                    .disconnect_in_place(DisconnectReason::PROTOCOL_ERROR, why)
                    .await;
                return Err(sshwire_transport::Error::PeerMisbehaved(why).into());
            }
            _ => {}
        }
    }
    let session_id = driver.engine().session_id().unwrap_or_default().to_vec();
    let mut auth = ClientAuth::new(&options.user, "ssh-connection", &session_id);
    auth.allow_sha1_rsa(options.allow_sha1_rsa);
    if let Some(v) = &sig_algs {
        auth.set_server_sig_algs(v).map_err(Error::Auth)?;
    }
    let mut login = Login {
        options,
        prompter,
        host,
        auth,
        agent: None,
        candidates: Default::default(),
        querying: None,
        signed_with: None,
        password_left: options.password_prompts,
        kbd_left: options.password_prompts,
        current: None,
        tried: Vec::new(),
        succeeded: Vec::new(),
        key: None,
        warnings: Vec::new(),
        last_allowed: Vec::new(),
    };
    login.gather_keys().await;
    // RFC 4252 §5.2: "none" first, to learn which methods can continue.
    login.auth.none().map_err(Error::Auth)?;
    login.current = Some("none");
    loop {
        driver.send_all(|| login.auth.poll_transmit())?;
        while let Some(ev) = login.auth.poll_event() {
            if let Some(done) = login.on_event(ev).await? {
                driver.send_all(|| login.auth.poll_transmit())?;
                driver.engine().auth_succeeded();
                return Ok(done);
            }
            driver.send_all(|| login.auth.poll_transmit())?;
        }
        match driver.next_event().await? {
            Event::Message(m) => {
                let now = Instant::now().into_std();
                if let Err(e) = login.auth.handle_message(now, &m) {
                    // The server broke the protocol (a channel before USERAUTH_SUCCESS, an
                    // answer to nothing): say so before hanging up, as the server does.
                    let (reason, description) = e.disconnect();
                    driver.disconnect_in_place(reason, &description).await;
                    return Err(Error::Auth(e));
                }
            }
            Event::ExtInfo(pairs) => {
                if let Some(v) = server_sig_algs(pairs) {
                    login.auth.set_server_sig_algs(&v).map_err(Error::Auth)?;
                }
            }
            _ => {}
        }
    }
}

impl Login<'_> {
    /// Collects the keys to offer: the agent's first, then the identities.
    async fn gather_keys(&mut self) {
        let mut agent_keys = Vec::new();
        if self.options.use_agent
            && let Ok(Some(mut agent)) = Agent::from_env().await
        {
            if let Ok(ids) = agent.identities().await {
                agent_keys = ids;
            }
            self.agent = Some(agent);
        }
        let mut listed = Vec::new();
        for identity in &self.options.identities {
            match identity {
                Identity::Key(k, label) => {
                    listed.push(Candidate::Loaded(k.clone(), label.clone()));
                }
                Identity::File(path) => match std::fs::read(path) {
                    Ok(text) => {
                        let text = Zeroizing::new(text);
                        match PrivateKey::openssh_public_key(&text) {
                            Ok(public) => listed.push(Candidate::File(public, path.clone(), text)),
                            Err(e) => self
                                .warnings
                                .push(format!("cannot load key {}: {e}", path.display())),
                        }
                    }
                    // OpenSSH skips default identity files that do not exist, silently.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => self
                        .warnings
                        .push(format!("cannot read key {}: {e}", path.display())),
                },
            }
        }
        // Keys the agent holds are signed by the agent (no passphrase needed); with
        // IdentitiesOnly, only those of them that are also listed.
        let listed_keys: Vec<PublicKey> = listed.iter().map(Candidate::public_key).collect();
        for (key, comment) in agent_keys {
            if !self.options.identities_only || listed_keys.contains(&key) {
                self.candidates.push_back(Candidate::Agent(key, comment));
            }
        }
        for c in listed {
            let k = c.public_key();
            if !self.candidates.iter().any(|a| a.public_key() == k) {
                self.candidates.push_back(c);
            }
        }
    }

    /// Acts on one answer of the server; `Some` once logged in.
    async fn on_event(&mut self, ev: ClientEvent) -> Result<Option<LoggedIn>, Error> {
        match ev {
            ClientEvent::Banner { message, .. } => self.prompter.banner(&message),
            ClientEvent::Success => {
                if let Some(m) = self.current.take() {
                    self.succeeded.push(m.to_owned());
                }
                if self.signed_with.is_some() {
                    self.key = self.signed_with.take();
                }
                return Ok(Some(LoggedIn {
                    methods: self.succeeded.clone(),
                    key: self.key.clone(),
                }));
            }
            ClientEvent::Failure {
                methods,
                partial_success,
            } => {
                if partial_success {
                    if let Some(m) = self.current {
                        self.succeeded.push(m.to_owned());
                    }
                    if self.signed_with.is_some() {
                        self.key = self.signed_with.clone();
                    }
                }
                self.querying = None;
                self.signed_with = None;
                self.current = None;
                self.next_attempt(Some(methods)).await?;
            }
            ClientEvent::PkOk { key, algorithm } => {
                let Some(candidate) = self.querying.take() else {
                    return Err(Error::Auth(sshwire_auth::AuthError::ApiMisuse(
                        "PK_OK without a query",
                    )));
                };
                let data = self
                    .auth
                    .publickey_sign_data(&key, algorithm)
                    .map_err(Error::Auth)?;
                match self.sign(&candidate, algorithm, &data).await {
                    Some(sig) => {
                        self.auth.publickey_signed(&sig).map_err(Error::Auth)?;
                        self.signed_with = Some(key);
                    }
                    None => {
                        // No passphrase, or the agent refused: on to the next key. The
                        // server's method list is unchanged since it accepted the query.
                        self.auth.publickey_sign_cancel();
                        self.next_attempt(None).await?;
                    }
                }
            }
            ClientEvent::InfoRequest {
                name,
                instruction,
                prompts,
            } => {
                let answers = self
                    .prompter
                    .keyboard_interactive(&name, &instruction, &prompts)
                    .unwrap_or_default();
                // A count that does not match is refused by the engine, which is our own bug;
                // an abandoned prompt is answered with empty strings so the server can fail it.
                let mut responses: Vec<String> =
                    answers.iter().map(|a| a.as_str().to_owned()).collect();
                responses.resize(prompts.len(), String::new());
                self.auth.info_response(responses).map_err(Error::Auth)?;
            }
            ClientEvent::PasswordChangeRequested { prompt, .. } => {
                let old = self.prompter.password(&format!(
                    "{}@{}'s old password: ",
                    self.options.user, self.host
                ));
                let new = self.prompter.new_password(&prompt);
                match (old, new) {
                    (Some(old), Some(new)) => {
                        self.auth.change_password(&old, &new).map_err(Error::Auth)?;
                    }
                    _ => {
                        self.password_left = 0;
                        self.next_attempt(None).await?;
                    }
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// Starts the next attempt among `allowed` (by default what the server said last), in
    /// the caller's order of preference.
    async fn next_attempt(&mut self, allowed: Option<Vec<String>>) -> Result<(), Error> {
        let allowed = allowed.unwrap_or_else(|| self.last_allowed.clone());
        self.last_allowed = allowed.clone();
        for method in &self.options.preferred {
            if !allowed.iter().any(|m| m == method) {
                continue;
            }
            match method.as_str() {
                "publickey" => {
                    while let Some(c) = self.candidates.pop_front() {
                        let key = c.public_key();
                        let Some(alg) = self.auth.signature_algorithm(&key) else {
                            continue;
                        };
                        self.tried.push(format!("publickey {}", c.label()));
                        self.auth.publickey_query(&key, alg).map_err(Error::Auth)?;
                        self.querying = Some(c);
                        self.current = Some("publickey");
                        return Ok(());
                    }
                }
                "keyboard-interactive" if self.kbd_left > 0 => {
                    self.kbd_left -= 1;
                    self.tried.push("keyboard-interactive".to_owned());
                    self.auth.keyboard_interactive("").map_err(Error::Auth)?;
                    self.current = Some("keyboard-interactive");
                    return Ok(());
                }
                "password" if self.password_left > 0 => {
                    self.password_left -= 1;
                    let prompt = format!("{}@{}'s password: ", self.options.user, self.host);
                    match self.prompter.password(&prompt) {
                        Some(p) => {
                            self.tried.push("password".to_owned());
                            self.auth.password(&p).map_err(Error::Auth)?;
                            self.current = Some("password");
                            return Ok(());
                        }
                        None => self.password_left = 0,
                    }
                }
                _ => {}
            }
        }
        let mut tried = std::mem::take(&mut self.tried);
        tried.append(&mut self.warnings);
        Err(Error::PermissionDenied {
            methods: allowed,
            tried,
        })
    }

    /// A signature over `data` by the candidate's private key; `None` to skip the key.
    async fn sign(
        &mut self,
        candidate: &Candidate,
        algorithm: sshwire_keys::SignatureAlgorithm,
        data: &[u8],
    ) -> Option<Vec<u8>> {
        match candidate {
            Candidate::Agent(key, _) => {
                let agent = self.agent.as_mut()?;
                agent.sign(key, algorithm, data).await.ok()
            }
            Candidate::Loaded(key, _) => key.sign(algorithm, data, &mut *system_rng()).ok(),
            Candidate::File(_, path, text) => {
                let key = self.load(path, text)?;
                key.sign(algorithm, data, &mut *system_rng()).ok()
            }
        }
    }

    /// Decrypts a key file, asking for its passphrase (three times at most, like OpenSSH).
    fn load(&mut self, path: &std::path::Path, text: &[u8]) -> Option<PrivateKey> {
        match PrivateKey::from_openssh(text, None) {
            Ok((key, _)) => return Some(key),
            Err(KeyError::PassphraseRequired) => {}
            Err(e) => {
                self.warnings
                    .push(format!("cannot load key {}: {e}", path.display()));
                return None;
            }
        }
        let prompt = format!("Enter passphrase for key '{}': ", path.display());
        for _ in 0..3 {
            let passphrase = self.prompter.passphrase(&prompt)?;
            match PrivateKey::from_openssh(text, Some(passphrase.as_bytes())) {
                Ok((key, _)) => return Some(key),
                Err(KeyError::WrongPassphrase) => continue,
                Err(e) => {
                    self.warnings
                        .push(format!("cannot load key {}: {e}", path.display()));
                    return None;
                }
            }
        }
        self.warnings
            .push(format!("wrong passphrase for key {}", path.display()));
        None
    }
}

/// The value of `server-sig-algs` among EXT_INFO's pairs.
fn server_sig_algs(pairs: Vec<(String, Vec<u8>)>) -> Option<Vec<u8>> {
    pairs
        .into_iter()
        .find(|(name, _)| name == "server-sig-algs")
        .map(|(_, v)| v)
}
