//! The server engine: applies the policy, asks the application about credentials, and paces
//! its answers.

use core::fmt;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use sshwire_keys::{PublicKey, SignatureAlgorithm};
use sshwire_transport::MessageNumber;
use sshwire_wire::Writer;
use zeroize::Zeroizing;

use crate::error::AuthError;
use crate::messages::{
    Banner, ClientMessage, InfoRequest, MAX_PROMPTS, MAX_TEXT_LEN, MethodRequest, PasswdChangeReq,
    PkOk, Prompt, Success, USERAUTH_REQUEST, UserauthRequest, encode_failure,
    publickey_signed_data,
};
use crate::policy::{AuthMethod, Progress, ServerPolicy};

/// Most client messages held while the engine waits for the application or a failure delay.
///
/// RFC 4252 §5 lets a client send requests without waiting for answers; the server "MUST
/// process each request completely" in order, so they wait here. Each will cost an attempt,
/// so more than this is no honest client.
pub const MAX_QUEUED_MESSAGES: usize = 16;

/// A secret the client sent (a password or a keyboard-interactive response).
///
/// Zeroized on drop; its `Debug` output hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn new(s: &str) -> Self {
        Secret(Zeroizing::new(s.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Names one question the engine asked; the answer to [`ServerAuth::decide`] carries it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuestionId(u64);

/// Something the application must decide or learn.
///
/// Every question is answered with [`ServerAuth::decide`] and its id, at any later time (an
/// async backend may take as long as it needs; the failure delay and the login grace time
/// keep running). The engine asks one question at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Is this the user's password? Answer [`Verdict::Accept`], [`Verdict::Reject`] or
    /// [`Verdict::ChangePassword`].
    ///
    /// Unknown users must be answered exactly as known users with a wrong password, after
    /// the same work (see [`crate::PasswordFile::verify`]).
    CheckPassword {
        /// The question.
        id: QuestionId,
        /// The user name.
        user: String,
        /// The password (the old one when `new_password` is set).
        password: Secret,
        /// The new password, when the client is changing it (RFC 4252 §8).
        new_password: Option<Secret>,
    },
    /// May `key` log in as `user`? Answer [`Verdict::Accept`] or [`Verdict::Reject`].
    ///
    /// When `signed` is true the engine has already verified the client's signature by this
    /// key over this session; accepting logs the user in (or completes this step). When it is
    /// false the client only asks, and accepting sends `SSH_MSG_USERAUTH_PK_OK`.
    CheckPublicKey {
        /// The question.
        id: QuestionId,
        /// The user name.
        user: String,
        /// The key.
        key: PublicKey,
        /// The signature algorithm of the request.
        algorithm: SignatureAlgorithm,
        /// Whether the request carried a valid signature.
        signed: bool,
    },
    /// The client starts `keyboard-interactive` (RFC 4256 §3.1). Answer
    /// [`Verdict::Challenge`] (an INFO_REQUEST), [`Verdict::Accept`] or [`Verdict::Reject`].
    KeyboardInteractive {
        /// The question.
        id: QuestionId,
        /// The user name.
        user: String,
        /// The submethods the client asked for (a hint).
        submethods: String,
    },
    /// The client answered the last challenge (RFC 4256 §3.4), one response per prompt.
    /// Answer with another [`Verdict::Challenge`], [`Verdict::Accept`] or [`Verdict::Reject`].
    KeyboardInteractiveResponses {
        /// The question.
        id: QuestionId,
        /// The user name.
        user: String,
        /// The responses, in the order of the prompts.
        responses: Vec<Secret>,
    },
    /// The user is authenticated; the engine accepts nothing more. The endpoint has sent
    /// `SSH_MSG_USERAUTH_SUCCESS` (drained from [`ServerAuth::poll_transmit`]), calls
    /// `Transport::auth_succeeded` and starts the connection layer.
    Success {
        /// The user name.
        user: String,
        /// The methods that succeeded, in order.
        methods: Vec<AuthMethod>,
        /// The keys that signed, in order (never a key that was only queried).
        public_keys: Vec<PublicKey>,
    },
}

/// The application's answer to a [`ServerEvent`] question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credential is good.
    Accept,
    /// The credential is refused (or the user does not exist: answer the same).
    Reject,
    /// The password is right but expired: send `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ` with
    /// this prompt (RFC 4252 §8). Only for [`ServerEvent::CheckPassword`].
    ChangePassword {
        /// The prompt shown to the user.
        prompt: String,
    },
    /// Send `SSH_MSG_USERAUTH_INFO_REQUEST` (RFC 4256 §3.2). Only for keyboard-interactive
    /// questions; at most [`MAX_PROMPTS`] prompts.
    Challenge {
        /// A name for the request (may be empty).
        name: String,
        /// Instructions (may be empty).
        instruction: String,
        /// Prompts and whether each answer may be echoed.
        prompts: Vec<(String, bool)>,
    },
}

/// What a pending question is about.
#[derive(Debug, Clone)]
enum Question {
    Password,
    PublicKeyQuery {
        key: PublicKey,
        algorithm: SignatureAlgorithm,
    },
    PublicKeySigned {
        key: PublicKey,
    },
    KeyboardInteractive,
}

impl Question {
    fn method(&self) -> AuthMethod {
        match self {
            Question::Password => AuthMethod::Password,
            Question::PublicKeyQuery { .. } | Question::PublicKeySigned { .. } => {
                AuthMethod::PublicKey
            }
            Question::KeyboardInteractive => AuthMethod::KeyboardInteractive,
        }
    }
}

/// Where the server engine stands.
#[derive(Debug)]
enum State {
    /// Waiting for the client's next request.
    Ready,
    /// The application owes an answer to question `id`.
    Deciding {
        id: QuestionId,
        question: Question,
        /// When the request arrived: the failure delay counts from here.
        received: Instant,
    },
    /// An INFO_REQUEST with this many prompts is out; the client owes an INFO_RESPONSE.
    AwaitingInfoResponse { prompts: usize },
    /// A FAILURE is held back until `until`; then the connection ends if `last`.
    HoldingFailure { until: Instant, last: bool },
    /// Authentication succeeded.
    Done,
}

impl State {
    fn describe(&self) -> &'static str {
        match self {
            State::Ready => "waiting for a request",
            State::Deciding { .. } => "waiting for the application",
            State::AwaitingInfoResponse { .. } => "waiting for an info response",
            State::HoldingFailure { .. } => "holding a failure",
            State::Done => "authenticated",
        }
    }
}

/// The server side of user authentication (RFC 4252, RFC 4256, RFC 8332), as a sans-I/O
/// engine.
///
/// The endpoint accepts the `ssh-userauth` service on the transport, creates the engine with
/// the session id, hands it every payload numbered 50 and above until success
/// ([`ServerAuth::handle_message`]), sends what [`ServerAuth::poll_transmit`] yields, answers
/// the questions of [`ServerAuth::poll_event`] with [`ServerAuth::decide`], and arms a timer
/// from [`ServerAuth::poll_timeout`] that calls [`ServerAuth::handle_timeout`]. On an error it
/// sends the DISCONNECT of [`AuthError::disconnect`].
///
/// The engine never branches on whether a user exists: it does not know. What it sends, and
/// when, depends only on the messages, the policy and the application's verdicts.
#[derive(Debug)]
pub struct ServerAuth {
    policy: Arc<ServerPolicy>,
    session_id: Vec<u8>,
    grace_deadline: Instant,
    state: State,
    user: Option<String>,
    progress: Progress,
    public_keys: Vec<PublicKey>,
    failures: u32,
    requests: u64,
    next_question: u64,
    banner_sent: bool,
    /// Pipelined client messages; they may hold passwords, so they are wiped on drop.
    queue: VecDeque<Zeroizing<Vec<u8>>>,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<ServerEvent>,
    error: Option<AuthError>,
}

impl ServerAuth {
    /// A server engine for the connection with this session id, started at `now` (the
    /// login grace time runs from here).
    pub fn new(policy: Arc<ServerPolicy>, session_id: &[u8], now: Instant) -> Self {
        let progress = Progress::new(&policy.methods);
        ServerAuth {
            grace_deadline: now + policy.login_grace_time,
            policy,
            session_id: session_id.to_vec(),
            state: State::Ready,
            user: None,
            progress,
            public_keys: Vec::new(),
            failures: 0,
            requests: 0,
            next_question: 0,
            banner_sent: false,
            queue: VecDeque::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            error: None,
        }
    }

    // ----- the caller's interface ---------------------------------------------------------

    /// Consumes one payload from the client (message number first).
    pub fn handle_message(&mut self, now: Instant, payload: &[u8]) -> Result<(), AuthError> {
        self.check()?;
        let r = self.on_message(now, payload);
        self.fail_on(r)
    }

    /// Answers question `id` (from [`ServerAuth::poll_event`]) at time `now`.
    pub fn decide(
        &mut self,
        now: Instant,
        id: QuestionId,
        verdict: Verdict,
    ) -> Result<(), AuthError> {
        self.check()?;
        let r = self.on_verdict(now, id, verdict);
        self.fail_on(r)
    }

    /// When [`ServerAuth::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() || matches!(self.state, State::Done) {
            return None;
        }
        Some(match self.state {
            State::HoldingFailure { until, .. } => until.min(self.grace_deadline),
            _ => self.grace_deadline,
        })
    }

    /// Acts on the passage of time: releases a held FAILURE, ends the login grace time.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), AuthError> {
        self.check()?;
        let r = self.advance(now);
        self.fail_on(r)
    }

    /// The next payload to send with `Transport::send`, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Whether the user is authenticated.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Done) && self.error.is_none()
    }

    /// The user name of the requests so far.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// How many attempts have failed.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The sticky error, if the engine has failed.
    pub fn error(&self) -> Option<&AuthError> {
        self.error.as_ref()
    }

    // ----- input --------------------------------------------------------------------------

    fn on_message(&mut self, now: Instant, payload: &[u8]) -> Result<(), AuthError> {
        self.check_grace(now)?;
        let number = MessageNumber(payload.first().copied().unwrap_or(0));
        if matches!(self.state, State::Done) {
            // RFC 4252 §5.1: "Any authentication requests received after the
            // SSH_MSG_USERAUTH_SUCCESS message SHOULD be silently ignored."
            if number == USERAUTH_REQUEST {
                return Ok(());
            }
            return Err(AuthError::ApiMisuse(
                "after success, payloads belong to the connection layer",
            ));
        }
        // RFC 4252 §6: "Message numbers of 80 and higher are reserved for protocols running
        // after this authentication protocol, so receiving one of them before authentication
        // is complete is an error, to which the server MUST respond by disconnecting".
        // Server-to-client numbers (51, 52, 53, 60) and unknown ones are refused the same way.
        ClientMessage::decode(payload).map_err(|why| AuthError::InvalidMessage { number, why })?;
        match self.state {
            State::Ready | State::AwaitingInfoResponse { .. } => {
                self.process(now, payload)?;
                self.advance(now)
            }
            _ => {
                if self.queue.len() >= MAX_QUEUED_MESSAGES {
                    return Err(AuthError::PeerMisbehaved(
                        "too many requests sent without waiting for answers",
                    ));
                }
                self.queue.push_back(Zeroizing::new(payload.to_vec()));
                Ok(())
            }
        }
    }

    /// Processes one decoded client message in state Ready or AwaitingInfoResponse.
    fn process(&mut self, now: Instant, payload: &[u8]) -> Result<(), AuthError> {
        let number = MessageNumber(payload.first().copied().unwrap_or(0));
        let message = ClientMessage::decode(payload)
            .map_err(|why| AuthError::InvalidMessage { number, why })?;
        match message {
            ClientMessage::Request(request) => self.on_request(now, &request),
            ClientMessage::InfoResponse(response) => {
                let State::AwaitingInfoResponse { prompts } = self.state else {
                    return Err(AuthError::UnexpectedMessage {
                        number,
                        state: self.state.describe(),
                    });
                };
                // RFC 4256 §3.4: "num-responses MUST match the num-prompts field in the
                // corresponding SSH_MSG_USERAUTH_INFO_REQUEST message."
                if response.responses.len() != prompts {
                    return Err(AuthError::PeerMisbehaved(
                        "the number of responses does not match the number of prompts",
                    ));
                }
                let id = self.ask(now, Question::KeyboardInteractive);
                self.events
                    .push_back(ServerEvent::KeyboardInteractiveResponses {
                        id,
                        user: self.user.clone().unwrap_or_default(),
                        responses: response.responses.iter().map(|r| Secret::new(r)).collect(),
                    });
                Ok(())
            }
        }
    }

    fn on_request(&mut self, now: Instant, request: &UserauthRequest<'_>) -> Result<(), AuthError> {
        // A new request abandons a keyboard-interactive exchange in progress.
        self.state = State::Ready;
        let first_request = self.requests == 0;
        self.requests = self.requests.saturating_add(1);

        // No account name holds NUL or other control characters; such a name is refused
        // outright (whether or not "accounts" exist is not the question).
        if request.user.chars().any(char::is_control) {
            return Err(AuthError::IllegalUserName);
        }
        // RFC 4252 §5: "If the requested service is not available, the server MAY disconnect
        // immediately or at any later time. [...] In any case, if the service does not
        // exist, authentication MUST NOT be accepted." We disconnect at once.
        if request.service != self.policy.service {
            return Err(AuthError::ServiceNotAvailable(request.service.to_owned()));
        }
        // RFC 4252 §5: "The 'user name' and 'service name' are repeated in every new
        // authentication attempt, and MAY change. The server implementation MUST carefully
        // check them in every message, and MUST flush any accumulated authentication states
        // if they change. If it is unable to flush an authentication state, it MUST
        // disconnect if the 'user name' or 'service name' changes." Like OpenSSH, we
        // disconnect: a change of user mid-way is no honest client, and partial successes
        // must never carry over to another account.
        match &self.user {
            Some(user) if user != request.user => {
                return Err(AuthError::PeerMisbehaved(
                    "change of user name during authentication",
                ));
            }
            Some(_) => {}
            None => {
                // The user's own method sequences, if the policy has any, from here on
                // (nothing has succeeded yet: the name is set by the first request).
                self.progress = Progress::new(self.policy.methods_for(request.user));
                self.user = Some(request.user.to_owned());
            }
        }
        // RFC 4252 §5.4: "The SSH server may send an SSH_MSG_USERAUTH_BANNER message at any
        // time after this authentication protocol starts and before authentication is
        // successful." We send it once, before the first reply.
        if !self.banner_sent {
            self.banner_sent = true;
            if let Some(text) = self.policy.banner.as_deref().filter(|t| !t.is_empty()) {
                let mut w = Writer::new();
                Banner {
                    message: text,
                    language: "",
                }
                .encode(&mut w);
                self.tx.push_back(w.into_vec());
            }
        }

        match &request.method {
            MethodRequest::None => {
                if self.progress.allows(AuthMethod::None) {
                    return self.method_succeeded(AuthMethod::None, None);
                }
                // OpenSSH does not count a first "none" (it is how clients learn the
                // methods) and does not delay its answer.
                self.fail(now, !first_request, false);
                Ok(())
            }
            MethodRequest::Password {
                password,
                new_password,
            } if self.progress.allows(AuthMethod::Password) => {
                let id = self.ask(now, Question::Password);
                self.events.push_back(ServerEvent::CheckPassword {
                    id,
                    user: request.user.to_owned(),
                    password: Secret::new(password),
                    new_password: new_password.map(Secret::new),
                });
                Ok(())
            }
            MethodRequest::PublicKey {
                algorithm,
                key_blob,
                signature,
            } if self.progress.allows(AuthMethod::PublicKey) => {
                self.on_publickey(now, request, algorithm, key_blob, *signature);
                Ok(())
            }
            MethodRequest::KeyboardInteractive { submethods, .. }
                if self.progress.allows(AuthMethod::KeyboardInteractive) =>
            {
                let id = self.ask(now, Question::KeyboardInteractive);
                self.events.push_back(ServerEvent::KeyboardInteractive {
                    id,
                    user: request.user.to_owned(),
                    submethods: (*submethods).to_owned(),
                });
                Ok(())
            }
            // RFC 4252 §5.1: a method the server does not allow (now) gets FAILURE with the
            // methods that can continue.
            _ => {
                self.fail(now, true, true);
                Ok(())
            }
        }
    }

    fn on_publickey(
        &mut self,
        now: Instant,
        request: &UserauthRequest<'_>,
        algorithm: &str,
        key_blob: &[u8],
        signature: Option<&[u8]>,
    ) {
        let algorithm_ok = SignatureAlgorithm::from_name(algorithm)
            .filter(|a| self.policy.signature_algorithms.contains(a));
        let key = PublicKey::from_blob(key_blob).ok();
        let (Some(alg), Some(key)) = (algorithm_ok, key) else {
            // An algorithm we do not accept or a key we cannot read: FAILURE, as for a key
            // the user does not have (OpenSSH does the same).
            self.fail(now, true, true);
            return;
        };
        // RFC 4252 §7: the algorithm names the key's type ("public key algorithm name");
        // an RSA key with an ECDSA algorithm is refused.
        if alg.key_type() != key.key_type() || self.public_keys.contains(&key) {
            // A key that already completed a step may not complete another one.
            self.fail(now, true, true);
            return;
        }
        let question = match signature {
            None => Question::PublicKeyQuery {
                key: key.clone(),
                algorithm: alg,
            },
            Some(signature) => {
                // RFC 4252 §7: "When the server receives this message, it MUST check
                // whether the supplied key is acceptable for authentication, and if so, it
                // MUST check whether the signature is correct." The signature is checked
                // first, by us, over this session's id: a bad one fails the same way for
                // every user, without asking the application.
                let data = publickey_signed_data(
                    &self.session_id,
                    request.user,
                    request.service,
                    algorithm,
                    key_blob,
                );
                if key.verify(alg, &data, signature).is_err() {
                    self.fail(now, true, true);
                    return;
                }
                Question::PublicKeySigned { key: key.clone() }
            }
        };
        let signed = matches!(question, Question::PublicKeySigned { .. });
        let id = self.ask(now, question);
        self.events.push_back(ServerEvent::CheckPublicKey {
            id,
            user: request.user.to_owned(),
            key,
            algorithm: alg,
            signed,
        });
    }

    fn ask(&mut self, now: Instant, question: Question) -> QuestionId {
        let id = QuestionId(self.next_question);
        self.next_question = self.next_question.wrapping_add(1);
        self.state = State::Deciding {
            id,
            question,
            received: now,
        };
        id
    }

    // ----- verdicts -----------------------------------------------------------------------

    fn on_verdict(
        &mut self,
        now: Instant,
        id: QuestionId,
        verdict: Verdict,
    ) -> Result<(), AuthError> {
        self.check_grace(now)?;
        let State::Deciding {
            id: pending,
            question,
            received,
        } = core::mem::replace(&mut self.state, State::Ready)
        else {
            return Err(AuthError::ApiMisuse("no question is pending"));
        };
        if pending != id {
            return Err(AuthError::ApiMisuse(
                "answer to another question than the pending one",
            ));
        }
        match (verdict, question) {
            (Verdict::Reject, _) => self.fail(received, true, true),
            (Verdict::Accept, Question::PublicKeyQuery { key, algorithm }) => {
                // RFC 4252 §7: "the server MUST respond to this message with either
                // SSH_MSG_USERAUTH_FAILURE or with the following: byte SSH_MSG_USERAUTH_PK_OK,
                // string public key algorithm name from the request, string public key blob
                // from the request".
                let mut w = Writer::new();
                PkOk {
                    algorithm: algorithm.name(),
                    key_blob: &key.to_blob(),
                }
                .encode(&mut w);
                self.tx.push_back(w.into_vec());
            }
            (Verdict::Accept, Question::PublicKeySigned { key }) => {
                self.method_succeeded(AuthMethod::PublicKey, Some(key))?;
            }
            (Verdict::Accept, q) => self.method_succeeded(q.method(), None)?,
            (Verdict::ChangePassword { prompt }, Question::Password) => {
                if prompt.len() > MAX_TEXT_LEN {
                    return Err(AuthError::ApiMisuse("password change prompt too long"));
                }
                // RFC 4252 §8: "the server MAY respond with SSH_MSG_USERAUTH_PASSWD_CHANGEREQ"
                // when "the password has expired".
                let mut w = Writer::new();
                PasswdChangeReq {
                    prompt: &prompt,
                    language: "",
                }
                .encode(&mut w);
                self.tx.push_back(w.into_vec());
            }
            (
                Verdict::Challenge {
                    name,
                    instruction,
                    prompts,
                },
                Question::KeyboardInteractive,
            ) => {
                let too_long = |s: &str| s.len() > MAX_TEXT_LEN;
                if prompts.len() > MAX_PROMPTS
                    || too_long(&name)
                    || too_long(&instruction)
                    || prompts.iter().any(|(p, _)| too_long(p))
                {
                    return Err(AuthError::ApiMisuse("challenge beyond the codec's limits"));
                }
                let mut w = Writer::new();
                InfoRequest {
                    name: &name,
                    instruction: &instruction,
                    language: "",
                    prompts: prompts
                        .iter()
                        .map(|(p, echo)| Prompt {
                            prompt: p,
                            echo: *echo,
                        })
                        .collect(),
                }
                .encode(&mut w);
                self.tx.push_back(w.into_vec());
                self.state = State::AwaitingInfoResponse {
                    prompts: prompts.len(),
                };
            }
            (Verdict::ChangePassword { .. }, _) => {
                return Err(AuthError::ApiMisuse(
                    "a password change answers a password only",
                ));
            }
            (Verdict::Challenge { .. }, _) => {
                return Err(AuthError::ApiMisuse(
                    "a challenge answers keyboard-interactive only",
                ));
            }
        }
        self.advance(now)
    }

    // ----- outcomes -----------------------------------------------------------------------

    /// A method succeeded: SUCCESS if a sequence is complete, else a partial-success FAILURE.
    fn method_succeeded(&mut self, m: AuthMethod, key: Option<PublicKey>) -> Result<(), AuthError> {
        if let Some(key) = key {
            self.public_keys.push(key);
        }
        if self.progress.complete(m) {
            let mut w = Writer::new();
            Success.encode(&mut w);
            self.tx.push_back(w.into_vec());
            self.state = State::Done;
            self.queue.clear();
            self.events.push_back(ServerEvent::Success {
                user: self.user.clone().unwrap_or_default(),
                methods: self.progress.completed().to_vec(),
                public_keys: self.public_keys.clone(),
            });
        } else {
            // RFC 4252 §5.1: "The value of 'partial success' MUST be TRUE if the
            // authentication request to which this is a response was successful."
            let mut w = Writer::new();
            encode_failure(&mut w, self.progress.can_continue(), true);
            self.tx.push_back(w.into_vec());
            self.state = State::Ready;
        }
        Ok(())
    }

    /// A request failed: hold its FAILURE until `since + failure_delay` (when `delayed`),
    /// counting the attempt (when `counted`).
    fn fail(&mut self, since: Instant, counted: bool, delayed: bool) {
        if counted {
            self.failures = self.failures.saturating_add(1);
        }
        let until = if delayed {
            since + self.policy.failure_delay
        } else {
            since
        };
        self.state = State::HoldingFailure {
            until,
            last: self.failures >= self.policy.max_attempts,
        };
    }

    /// Releases what is due at `now` and processes queued messages while the engine is ready.
    fn advance(&mut self, now: Instant) -> Result<(), AuthError> {
        loop {
            self.check_grace(now)?;
            match self.state {
                State::HoldingFailure { until, last } if now >= until => {
                    if last {
                        // OpenSSH closes the connection instead of the last FAILURE.
                        return Err(AuthError::TooManyAttempts);
                    }
                    // RFC 4252 §5.1: "authentications that can continue" and "partial
                    // success" FALSE.
                    let mut w = Writer::new();
                    encode_failure(&mut w, self.progress.can_continue(), false);
                    self.tx.push_back(w.into_vec());
                    self.state = State::Ready;
                }
                State::Ready | State::AwaitingInfoResponse { .. } => match self.queue.pop_front() {
                    Some(payload) => self.process(now, &payload)?,
                    None => return Ok(()),
                },
                _ => return Ok(()),
            }
        }
    }

    fn check_grace(&self, now: Instant) -> Result<(), AuthError> {
        if now >= self.grace_deadline && !matches!(self.state, State::Done) {
            return Err(AuthError::GraceTimeExpired);
        }
        Ok(())
    }

    fn check(&self) -> Result<(), AuthError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn fail_on<T>(&mut self, r: Result<T, AuthError>) -> Result<T, AuthError> {
        if let Err(e) = &r {
            self.error = Some(e.clone());
            self.tx.clear();
            self.queue.clear();
        }
        r
    }
}
