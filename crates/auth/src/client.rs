//! The client engine: sends the attempts its caller chooses and reports the server's answers.

use std::collections::VecDeque;
use std::time::Instant;

use sshwire_keys::{KeyType, PublicKey, SignatureAlgorithm, decode_signature_blob};
use sshwire_transport::MessageNumber;
use sshwire_wire::{NameList, NameListLimits, Writer};
use zeroize::Zeroizing;

use crate::error::AuthError;
use crate::messages::{
    InfoResponse, MethodRequest, Pending, ServerMessage, UserauthRequest, publickey_signed_data,
};

/// Something the server told the client, for the caller to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// `SSH_MSG_USERAUTH_BANNER`: text to show the user before authentication (RFC 4252 §5.4).
    Banner {
        /// The message.
        message: String,
        /// Its language tag.
        language: String,
    },
    /// `SSH_MSG_USERAUTH_FAILURE`: the attempt failed, or succeeded only partially.
    ///
    /// The caller picks the next attempt among `methods`, in its own order of preference
    /// (like OpenSSH's `PreferredAuthentications`), or gives up.
    Failure {
        /// The methods that can continue (RFC 4252 §5.1).
        methods: Vec<String>,
        /// Whether the attempt succeeded but more methods are required.
        partial_success: bool,
    },
    /// `SSH_MSG_USERAUTH_PK_OK`: the server would accept a signature by the queried key.
    PkOk {
        /// The key of the query.
        key: PublicKey,
        /// The algorithm of the query.
        algorithm: SignatureAlgorithm,
    },
    /// `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ`: the password must be changed
    /// ([`ClientAuth::change_password`]) before it is accepted.
    PasswordChangeRequested {
        /// The server's prompt.
        prompt: String,
        /// Its language tag.
        language: String,
    },
    /// `SSH_MSG_USERAUTH_INFO_REQUEST`: answer with [`ClientAuth::info_response`] (with as many
    /// responses as there are prompts; none when there are no prompts).
    InfoRequest {
        /// The name of the request, to show (may be empty).
        name: String,
        /// Instructions, to show (may be empty).
        instruction: String,
        /// The prompts and whether each answer may be echoed.
        prompts: Vec<(String, bool)>,
    },
    /// `SSH_MSG_USERAUTH_SUCCESS`: the user is authenticated; the endpoint now calls
    /// `Transport::auth_succeeded` and starts the service.
    Success,
}

/// Where the client engine stands.
#[derive(Debug, Clone)]
enum State {
    /// No request in flight; the caller starts the next one.
    Idle,
    /// A request is in flight; `Pending` says what number 60 would mean.
    Awaiting(Pending),
    /// A publickey query is in flight for this key and algorithm.
    AwaitingPkOk {
        key: PublicKey,
        algorithm: SignatureAlgorithm,
    },
    /// The caller is signing: the request waits for the signature blob.
    Signing {
        key_blob: Vec<u8>,
        algorithm: SignatureAlgorithm,
    },
    /// The server sent an INFO_REQUEST with this many prompts; the caller answers.
    AnsweringInfo { prompts: usize },
    /// Authentication succeeded; nothing more is accepted.
    Done,
}

impl State {
    fn describe(&self) -> &'static str {
        match self {
            State::Idle => "no authentication request was in flight",
            State::Awaiting(_) | State::AwaitingPkOk { .. } => "awaiting an answer",
            State::Signing { .. } => "waiting for the caller's signature",
            State::AnsweringInfo { .. } => "waiting for the caller's info response",
            State::Done => "authenticated",
        }
    }
}

/// The client side of user authentication (RFC 4252, RFC 4256), as a sans-I/O engine.
///
/// The endpoint asks the transport for the `ssh-userauth` service, creates the engine with
/// the session id, hands it every payload numbered 50..=79 ([`ClientAuth::handle_message`]),
/// sends what [`ClientAuth::poll_transmit`] yields with `Transport::send`, and acts on
/// [`ClientAuth::poll_event`]. The caller drives the attempts: one request is in flight at a
/// time, and starting another before the answer is [`AuthError::ApiMisuse`].
#[derive(Debug)]
pub struct ClientAuth {
    user: String,
    service: String,
    session_id: Vec<u8>,
    state: State,
    server_sig_algs: Option<Vec<SignatureAlgorithm>>,
    allow_sha1: bool,
    /// Requests to send; they may hold passwords, so they are wiped if never taken.
    tx: VecDeque<Zeroizing<Vec<u8>>>,
    events: VecDeque<ClientEvent>,
    error: Option<AuthError>,
}

impl ClientAuth {
    /// A client that authenticates `user` for `service` (normally `ssh-connection`) on the
    /// connection with this session id (`Transport::session_id`).
    pub fn new(user: &str, service: &str, session_id: &[u8]) -> Self {
        ClientAuth {
            user: user.to_owned(),
            service: service.to_owned(),
            session_id: session_id.to_vec(),
            state: State::Idle,
            server_sig_algs: None,
            allow_sha1: false,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            error: None,
        }
    }

    /// Allows `ssh-rsa` (SHA-1) signatures in [`ClientAuth::signature_algorithm`] when the
    /// server lists nothing better. Off by default.
    pub fn allow_sha1_rsa(&mut self, allow: bool) {
        self.allow_sha1 = allow;
    }

    /// Records the value of the server's `server-sig-algs` extension (RFC 8308 §3.1), from
    /// the transport's `Event::ExtInfo`.
    ///
    /// The value is a name-list; names we do not know are ignored. A value that is not a
    /// valid name-list is the server's fault.
    pub fn set_server_sig_algs(&mut self, value: &[u8]) -> Result<(), AuthError> {
        self.check()?;
        let r = NameList::parse(value, NameListLimits::default())
            .map(|list| {
                self.server_sig_algs = Some(
                    list.iter()
                        .filter_map(SignatureAlgorithm::from_name)
                        .collect(),
                );
            })
            .map_err(|why| AuthError::InvalidMessage {
                number: MessageNumber::EXT_INFO,
                why,
            });
        self.fail_on(r)
    }

    /// The signature algorithm to use with `key`, or `None` when the server accepts none
    /// that the key can make (skip the key).
    ///
    /// Ed25519 and ECDSA keys have one algorithm. For RSA keys (RFC 8332 §3.3):
    /// - when the server sent `server-sig-algs`, the first of `rsa-sha2-512`, `rsa-sha2-256`
    ///   that it lists, else `ssh-rsa` if it lists that and SHA-1 was allowed
    ///   ([`ClientAuth::allow_sha1_rsa`]), else `None`;
    /// - when it did not, `rsa-sha2-512`. RFC 8332 §3.3 lets a client default to `ssh-rsa`
    ///   there "to avoid authentication penalties", and also lets it default to the new
    ///   algorithms once they are widely adopted; OpenSSH has sent `server-sig-algs` since
    ///   7.2 and refuses `ssh-rsa` since 8.8, so SHA-2 is the better guess today.
    pub fn signature_algorithm(&self, key: &PublicKey) -> Option<SignatureAlgorithm> {
        match key.key_type() {
            KeyType::Rsa => match &self.server_sig_algs {
                None => Some(SignatureAlgorithm::RsaSha512),
                Some(algs) => [SignatureAlgorithm::RsaSha512, SignatureAlgorithm::RsaSha256]
                    .into_iter()
                    .find(|a| algs.contains(a))
                    .or_else(|| {
                        (self.allow_sha1 && algs.contains(&SignatureAlgorithm::RsaSha1))
                            .then_some(SignatureAlgorithm::RsaSha1)
                    }),
            },
            _ => key.signature_algorithms().first().copied(),
        }
    }

    // ----- attempts -----------------------------------------------------------------------

    /// Sends a `none` request (RFC 4252 §5.2), normally first, to learn the methods that can
    /// continue.
    pub fn none(&mut self) -> Result<(), AuthError> {
        self.start(MethodRequest::None, State::Awaiting(Pending::None))
    }

    /// Sends a `password` request (RFC 4252 §8).
    pub fn password(&mut self, password: &str) -> Result<(), AuthError> {
        self.start(
            MethodRequest::Password {
                password,
                new_password: None,
            },
            State::Awaiting(Pending::Password),
        )
    }

    /// Sends a `password` request that changes the password (RFC 4252 §8), normally after
    /// [`ClientEvent::PasswordChangeRequested`].
    pub fn change_password(&mut self, old: &str, new: &str) -> Result<(), AuthError> {
        self.start(
            MethodRequest::Password {
                password: old,
                new_password: Some(new),
            },
            State::Awaiting(Pending::Password),
        )
    }

    /// Asks whether the server would accept `key` with `algorithm` (RFC 4252 §7, without a
    /// signature); the answer is [`ClientEvent::PkOk`] or [`ClientEvent::Failure`].
    pub fn publickey_query(
        &mut self,
        key: &PublicKey,
        algorithm: SignatureAlgorithm,
    ) -> Result<(), AuthError> {
        self.check()?;
        if algorithm.key_type() != key.key_type() {
            return self.fail_on(Err(AuthError::ApiMisuse(
                "signature algorithm does not fit the key",
            )));
        }
        let blob = key.to_blob();
        self.start(
            MethodRequest::PublicKey {
                algorithm: algorithm.name(),
                key_blob: &blob,
                signature: None,
            },
            State::AwaitingPkOk {
                key: key.clone(),
                algorithm,
            },
        )
    }

    /// Starts a signed `publickey` request: returns the data to sign (RFC 4252 §7).
    ///
    /// Sign it with the private key (or have an agent sign it) using `algorithm`, then hand
    /// the signature blob to [`ClientAuth::publickey_signed`]. Nothing is sent until then.
    pub fn publickey_sign_data(
        &mut self,
        key: &PublicKey,
        algorithm: SignatureAlgorithm,
    ) -> Result<Vec<u8>, AuthError> {
        self.check()?;
        let r = match self.state {
            State::Idle if algorithm.key_type() == key.key_type() => Ok(()),
            State::Idle => Err(AuthError::ApiMisuse(
                "signature algorithm does not fit the key",
            )),
            _ => Err(AuthError::ApiMisuse(
                "an authentication request is already in progress",
            )),
        };
        self.fail_on(r)?;
        let key_blob = key.to_blob();
        let data = publickey_signed_data(
            &self.session_id,
            &self.user,
            &self.service,
            algorithm.name(),
            &key_blob,
        );
        self.state = State::Signing {
            key_blob,
            algorithm,
        };
        Ok(data)
    }

    /// Sends the signed `publickey` request with `signature_blob` (RFC 4253 §6.6 format),
    /// made over the data [`ClientAuth::publickey_sign_data`] returned.
    pub fn publickey_signed(&mut self, signature_blob: &[u8]) -> Result<(), AuthError> {
        self.check()?;
        let State::Signing {
            key_blob,
            algorithm,
        } = core::mem::replace(&mut self.state, State::Idle)
        else {
            return self.fail_on(Err(AuthError::ApiMisuse(
                "publickey_signed without publickey_sign_data",
            )));
        };
        // RFC 8332 §3: the signature's format identifier is the algorithm of the request.
        let name_fits =
            decode_signature_blob(signature_blob).is_ok_and(|(name, _)| name == algorithm.name());
        if !name_fits {
            return self.fail_on(Err(AuthError::ApiMisuse(
                "the signature blob does not name the algorithm of the request",
            )));
        }
        self.start(
            MethodRequest::PublicKey {
                algorithm: algorithm.name(),
                key_blob: &key_blob,
                signature: Some(signature_blob),
            },
            State::Awaiting(Pending::PublicKeySigned),
        )
    }

    /// Abandons a signed request started with [`ClientAuth::publickey_sign_data`] (the agent
    /// refused to sign); the engine is idle again.
    pub fn publickey_sign_cancel(&mut self) {
        if matches!(self.state, State::Signing { .. }) {
            self.state = State::Idle;
        }
    }

    /// Sends a `keyboard-interactive` request (RFC 4256 §3.1) with the submethods wanted
    /// (comma separated, normally empty).
    pub fn keyboard_interactive(&mut self, submethods: &str) -> Result<(), AuthError> {
        self.start(
            MethodRequest::KeyboardInteractive {
                language: "",
                submethods,
            },
            State::Awaiting(Pending::KeyboardInteractive),
        )
    }

    /// Answers the last [`ClientEvent::InfoRequest`] (RFC 4256 §3.4), one response per prompt.
    pub fn info_response(&mut self, responses: Vec<String>) -> Result<(), AuthError> {
        self.check()?;
        let r = match self.state {
            // RFC 4256 §3.4: "num-responses MUST match the num-prompts field in the
            // corresponding SSH_MSG_USERAUTH_INFO_REQUEST message."
            State::AnsweringInfo { prompts } if prompts == responses.len() => {
                let mut w = Writer::new();
                InfoResponse {
                    responses: responses.iter().map(String::as_str).collect(),
                }
                .encode(&mut w);
                self.tx.push_back(Zeroizing::new(w.into_vec()));
                self.state = State::Awaiting(Pending::KeyboardInteractive);
                Ok(())
            }
            State::AnsweringInfo { .. } => Err(AuthError::ApiMisuse(
                "the number of responses must match the number of prompts",
            )),
            _ => Err(AuthError::ApiMisuse("no info request to answer")),
        };
        self.fail_on(r)
    }

    fn start(&mut self, method: MethodRequest<'_>, next: State) -> Result<(), AuthError> {
        self.check()?;
        // One request at a time: the meaning of message number 60 depends on it. While the
        // caller answers an INFO_REQUEST it may instead start a new request (RFC 4256 §3.4
        // lets the client abandon the exchange that way).
        if !matches!(self.state, State::Idle | State::AnsweringInfo { .. }) {
            return self.fail_on(Err(AuthError::ApiMisuse(
                "an authentication request is already in progress",
            )));
        }
        let mut w = Writer::new();
        UserauthRequest {
            user: &self.user,
            service: &self.service,
            method,
        }
        .encode(&mut w);
        self.tx.push_back(Zeroizing::new(w.into_vec()));
        self.state = next;
        Ok(())
    }

    // ----- input and output ---------------------------------------------------------------

    /// Consumes one payload from the server (message number first, 50..=79).
    pub fn handle_message(&mut self, _now: Instant, payload: &[u8]) -> Result<(), AuthError> {
        self.check()?;
        let r = self.on_message(payload);
        self.fail_on(r)
    }

    fn on_message(&mut self, payload: &[u8]) -> Result<(), AuthError> {
        let number = MessageNumber(payload.first().copied().unwrap_or(0));
        if matches!(self.state, State::Done) {
            // After SUCCESS the endpoint hands the payloads to the connection layer.
            return Err(AuthError::UnexpectedMessage {
                number,
                state: self.state.describe(),
            });
        }
        let pending = match &self.state {
            State::Awaiting(p) => Some(*p),
            State::AwaitingPkOk { .. } => Some(Pending::PublicKeyQuery),
            _ => None,
        };
        let message = ServerMessage::decode(payload, pending)
            .map_err(|why| AuthError::InvalidMessage { number, why })?;
        match message {
            // RFC 4252 §5.4: "The SSH server may send an SSH_MSG_USERAUTH_BANNER message at
            // any time after this authentication protocol starts and before authentication is
            // successful."
            ServerMessage::Banner(b) => {
                self.events.push_back(ClientEvent::Banner {
                    message: b.message.to_owned(),
                    language: b.language.to_owned(),
                });
            }
            ServerMessage::Failure(f) => {
                if pending.is_none() {
                    return Err(AuthError::UnexpectedMessage {
                        number,
                        state: self.state.describe(),
                    });
                }
                self.state = State::Idle;
                self.events.push_back(ClientEvent::Failure {
                    methods: f.methods.iter().map(str::to_owned).collect(),
                    partial_success: f.partial_success,
                });
            }
            ServerMessage::Success => {
                // A query is not an authentication: RFC 4252 §7 answers it with PK_OK or
                // FAILURE only.
                if matches!(pending, None | Some(Pending::PublicKeyQuery)) {
                    return Err(AuthError::UnexpectedMessage {
                        number,
                        state: self.state.describe(),
                    });
                }
                self.state = State::Done;
                self.events.push_back(ClientEvent::Success);
            }
            ServerMessage::PkOk(ok) => {
                let State::AwaitingPkOk { key, algorithm } =
                    core::mem::replace(&mut self.state, State::Idle)
                else {
                    return Err(AuthError::PeerMisbehaved("PK_OK answers no query"));
                };
                // RFC 4252 §7: PK_OK repeats "public key algorithm name from the request" and
                // "public key blob from the request".
                if ok.algorithm != algorithm.name() || ok.key_blob != key.to_blob().as_slice() {
                    return Err(AuthError::PeerMisbehaved(
                        "PK_OK names another key or algorithm than the query",
                    ));
                }
                self.events.push_back(ClientEvent::PkOk { key, algorithm });
            }
            ServerMessage::PasswdChangeReq(c) => {
                self.state = State::Idle;
                self.events.push_back(ClientEvent::PasswordChangeRequested {
                    prompt: c.prompt.to_owned(),
                    language: c.language.to_owned(),
                });
            }
            ServerMessage::InfoRequest(i) => {
                self.state = State::AnsweringInfo {
                    prompts: i.prompts.len(),
                };
                self.events.push_back(ClientEvent::InfoRequest {
                    name: i.name.to_owned(),
                    instruction: i.instruction.to_owned(),
                    prompts: i
                        .prompts
                        .iter()
                        .map(|p| (p.prompt.to_owned(), p.echo))
                        .collect(),
                });
            }
        }
        Ok(())
    }

    /// The next payload to send with `Transport::send`, if any.
    ///
    /// A payload may hold a password: the caller should not keep it once sent.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front().map(|mut p| core::mem::take(&mut *p))
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Whether the server has accepted the user.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Done) && self.error.is_none()
    }

    /// Whether a request is in flight or the caller owes an answer (a signature or info
    /// response); when `false`, the caller may start an attempt.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle) && self.error.is_none()
    }

    /// The sticky error, if the engine has failed.
    pub fn error(&self) -> Option<&AuthError> {
        self.error.as_ref()
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
        }
        r
    }
}
