//! Whole client + server exchanges in memory, with a fake clock.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sshwire_keys::{KeyType, PrivateKey, PublicKey, SignatureAlgorithm};
use sshwire_transport::DisconnectReason;
use sshwire_wire::Writer;

use crate::messages::{MethodRequest, UserauthRequest, publickey_signed_data};
use crate::test_rng::TestRng;
use crate::*;

const SID: &[u8] = b"session id of this connection";

/// One key of each type, generated once per test binary.
fn keys() -> &'static [PrivateKey] {
    static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = TestRng(7);
        [
            (KeyType::Ed25519, None),
            (KeyType::EcdsaP256, None),
            (KeyType::EcdsaP384, None),
            (KeyType::Rsa, Some(2048)),
        ]
        .into_iter()
        .map(|(t, bits)| PrivateKey::generate(t, bits, &mut rng).unwrap())
        .collect()
    })
}

fn ed25519(seed: u8) -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[seed; 32])
}

/// The application behind the server: users, passwords, keys, challenges.
struct Backend {
    users: Vec<(&'static str, &'static str, Vec<PublicKey>)>,
    /// A password that is right but expired: answered with a change request.
    expired: Option<&'static str>,
    /// Keyboard-interactive: the answers expected, one challenge round per entry.
    rounds: Vec<&'static str>,
    asked: Vec<ServerEvent>,
}

impl Backend {
    fn new() -> Self {
        Backend {
            users: vec![("alice", "right", vec![ed25519(1).public_key()])],
            expired: None,
            rounds: vec!["one", "two"],
            asked: Vec::new(),
        }
    }

    fn user(&self, name: &str) -> Option<&(&'static str, &'static str, Vec<PublicKey>)> {
        self.users.iter().find(|u| u.0 == name)
    }

    fn answer(&mut self, e: &ServerEvent) -> Option<(QuestionId, Verdict)> {
        self.asked.push(e.clone());
        let yes = |b: bool| if b { Verdict::Accept } else { Verdict::Reject };
        Some(match e {
            ServerEvent::CheckPassword {
                id,
                user,
                password,
                new_password,
            } => {
                let right = self.user(user).is_some_and(|u| u.1 == password.expose());
                let expired = self.expired == Some(password.expose());
                match (right || expired, expired, new_password) {
                    (true, true, None) => (
                        *id,
                        Verdict::ChangePassword {
                            prompt: "expired".into(),
                        },
                    ),
                    (true, true, Some(_)) => (*id, Verdict::Accept),
                    (ok, _, _) => (*id, yes(ok)),
                }
            }
            ServerEvent::CheckPublicKey { id, user, key, .. } => {
                (*id, yes(self.user(user).is_some_and(|u| u.2.contains(key))))
            }
            ServerEvent::KeyboardInteractive { id, .. } => (*id, self.challenge(0)),
            ServerEvent::KeyboardInteractiveResponses {
                id,
                user,
                responses,
            } => {
                let round = self
                    .asked
                    .iter()
                    .filter(|a| matches!(a, ServerEvent::KeyboardInteractiveResponses { .. }))
                    .count();
                let want = self.rounds.get(round - 1).copied();
                let ok = self.user(user).is_some()
                    && responses.len() == 1
                    && responses.first().map(Secret::expose) == want;
                if !ok {
                    (*id, Verdict::Reject)
                } else if round < self.rounds.len() {
                    (*id, self.challenge(round))
                } else {
                    (*id, Verdict::Accept)
                }
            }
            ServerEvent::Success { .. } => return None,
        })
    }

    fn challenge(&self, round: usize) -> Verdict {
        Verdict::Challenge {
            name: format!("round {round}"),
            instruction: "answer".into(),
            prompts: vec![(format!("word {round}: "), false)],
        }
    }
}

/// A client and a server engine, a fake clock, and what each side received.
struct Pair {
    client: ClientAuth,
    server: ServerAuth,
    backend: Backend,
    start: Instant,
    now: Instant,
    client_events: Vec<ClientEvent>,
    server_success: Option<ServerEvent>,
    /// Every payload the server sent, with the time since the start.
    server_sent: Sent,
    /// Whether the server's payloads reach the client engine (not when the test forges
    /// the client's requests).
    deliver: bool,
}

impl Pair {
    fn new(user: &str, policy: ServerPolicy) -> Self {
        let start = Instant::now();
        Pair {
            client: ClientAuth::new(user, "ssh-connection", SID),
            server: ServerAuth::new(Arc::new(policy), SID, start),
            backend: Backend::new(),
            start,
            now: start,
            client_events: Vec::new(),
            server_success: None,
            server_sent: Vec::new(),
            deliver: true,
        }
    }

    /// Moves payloads, answers questions and lets held failures go, until nothing moves;
    /// never advances the clock to the grace deadline.
    fn settle(&mut self) -> Result<(), AuthError> {
        loop {
            let mut moved = false;
            while let Some(p) = self.client.poll_transmit() {
                moved = true;
                self.server.handle_message(self.now, &p)?;
            }
            while let Some(e) = self.server.poll_event() {
                moved = true;
                if let ServerEvent::Success { .. } = e {
                    self.server_success = Some(e);
                } else if let Some((id, v)) = self.backend.answer(&e) {
                    self.server.decide(self.now, id, v)?;
                }
            }
            while let Some(p) = self.server.poll_transmit() {
                moved = true;
                self.server_sent.push((self.now - self.start, p.clone()));
                if self.deliver {
                    self.client.handle_message(self.now, &p)?;
                }
            }
            while let Some(e) = self.client.poll_event() {
                moved = true;
                self.client_events.push(e);
            }
            if moved {
                continue;
            }
            match self.server.poll_timeout() {
                Some(t) if t < self.start + Duration::from_secs(100) => {
                    self.now = self.now.max(t);
                    self.server.handle_timeout(self.now)?;
                }
                _ => return Ok(()),
            }
        }
    }

    fn last_client_event(&self) -> Option<&ClientEvent> {
        self.client_events.last()
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Signs a publickey request with `key` for the client's pending sign data.
    fn sign_with(&mut self, named: &PublicKey, signer: &PrivateKey, alg: SignatureAlgorithm) {
        let data = self.client.publickey_sign_data(named, alg).unwrap();
        let sig = if alg == SignatureAlgorithm::RsaSha1 {
            // sshwire's keys make no SHA-1 signatures; the server refuses the algorithm by
            // policy before it looks at the signature, so a blob of the right shape will do.
            let mut w = Writer::new();
            w.string(alg.name().as_bytes()).string(&[1; 256]);
            w.into_vec()
        } else {
            signer.sign(alg, &data, &mut TestRng(3)).unwrap()
        };
        self.client.publickey_signed(&sig).unwrap();
    }
}

fn failure(methods: &[&str], partial: bool) -> ClientEvent {
    ClientEvent::Failure {
        methods: methods.iter().map(|s| s.to_string()).collect(),
        partial_success: partial,
    }
}

const ALL: &[&str] = &["publickey", "password", "keyboard-interactive"];

fn reason(e: &AuthError) -> DisconnectReason {
    e.disconnect().0
}

// ----- the methods ------------------------------------------------------------------------

#[test]
fn none_lists_the_methods_at_once() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.none().unwrap();
    p.settle().unwrap();
    assert_eq!(p.client_events, [failure(ALL, false)]);
    assert_eq!(p.elapsed(), Duration::ZERO);
    assert_eq!(p.server.failures(), 0);
    assert!(p.client.is_idle());
}

#[test]
fn none_can_be_allowed_by_policy() {
    let policy = ServerPolicy {
        methods: vec![vec![AuthMethod::None]],
        ..ServerPolicy::default()
    };
    let mut p = Pair::new("anyone", policy);
    p.client.none().unwrap();
    p.settle().unwrap();
    assert_eq!(p.client_events, [ClientEvent::Success]);
}

#[test]
fn right_password_succeeds() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.password("right").unwrap();
    p.settle().unwrap();
    assert_eq!(p.client_events, [ClientEvent::Success]);
    assert!(p.client.is_authenticated() && p.server.is_authenticated());
    assert_eq!(
        p.server_success,
        Some(ServerEvent::Success {
            user: "alice".into(),
            methods: vec![AuthMethod::Password],
            public_keys: vec![],
        })
    );
    assert_eq!(p.elapsed(), Duration::ZERO);
    assert_eq!(p.server.poll_timeout(), None);
}

#[test]
fn wrong_password_fails_after_the_delay_exactly() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.password("wrong").unwrap();
    while let Some(m) = p.client.poll_transmit() {
        p.server.handle_message(p.now, &m).unwrap();
    }
    let Some(ServerEvent::CheckPassword { id, .. }) = p.server.poll_event() else {
        panic!("no question")
    };
    // The backend takes 300 ms.
    p.now += Duration::from_millis(300);
    p.server.decide(p.now, id, Verdict::Reject).unwrap();
    assert_eq!(p.server.poll_transmit(), None);
    let due = p.server.poll_timeout().unwrap();
    assert_eq!(due, p.start + Duration::from_secs(1));
    // Nothing goes out a nanosecond early.
    p.server
        .handle_timeout(due - Duration::from_nanos(1))
        .unwrap();
    assert_eq!(p.server.poll_transmit(), None);
    p.server.handle_timeout(due).unwrap();
    let reply = p.server.poll_transmit().unwrap();
    p.client.handle_message(due, &reply).unwrap();
    assert_eq!(p.client.poll_event(), Some(failure(ALL, false)));
    assert_eq!(p.server.failures(), 1);
}

#[test]
fn a_slow_backend_answers_as_soon_as_it_decides() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.password("wrong").unwrap();
    let m = p.client.poll_transmit().unwrap();
    p.server.handle_message(p.now, &m).unwrap();
    let Some(ServerEvent::CheckPassword { id, .. }) = p.server.poll_event() else {
        panic!()
    };
    p.now += Duration::from_secs(3);
    p.server.decide(p.now, id, Verdict::Reject).unwrap();
    assert!(p.server.poll_transmit().is_some());
}

#[test]
fn password_change_request_then_change() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.backend.expired = Some("old");
    p.client.password("old").unwrap();
    p.settle().unwrap();
    assert_eq!(
        p.client_events,
        [ClientEvent::PasswordChangeRequested {
            prompt: "expired".into(),
            language: String::new()
        }]
    );
    assert_eq!(p.server.failures(), 0);
    p.client.change_password("old", "new").unwrap();
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&ClientEvent::Success));
    assert!(p.backend.asked.iter().any(|e| matches!(e,
        ServerEvent::CheckPassword { new_password: Some(n), .. } if n.expose() == "new")));
}

#[test]
fn publickey_query_then_signed_for_every_key_type() {
    for (i, key) in keys().iter().enumerate() {
        let public = key.public_key();
        let mut p = Pair::new("alice", ServerPolicy::default());
        p.backend.users[0].2 = vec![public.clone()];
        let alg = p.client.signature_algorithm(&public).unwrap();
        p.client.publickey_query(&public, alg).unwrap();
        p.settle().unwrap();
        assert_eq!(
            p.client_events,
            [ClientEvent::PkOk {
                key: public.clone(),
                algorithm: alg
            }],
            "key {i}"
        );
        p.sign_with(&public, key, alg);
        p.settle().unwrap();
        assert_eq!(
            p.last_client_event(),
            Some(&ClientEvent::Success),
            "key {i}"
        );
        assert_eq!(
            p.server_success,
            Some(ServerEvent::Success {
                user: "alice".into(),
                methods: vec![AuthMethod::PublicKey],
                public_keys: vec![public.clone()],
            })
        );
        assert_eq!(p.elapsed(), Duration::ZERO);
    }
}

#[test]
fn rsa_algorithm_follows_server_sig_algs() {
    let rsa = keys().get(3).unwrap();
    let public = rsa.public_key();
    let mut c = ClientAuth::new("alice", "ssh-connection", SID);
    // RFC 8332 §3.3: without server-sig-algs we default to SHA-512.
    assert_eq!(
        c.signature_algorithm(&public),
        Some(SignatureAlgorithm::RsaSha512)
    );
    c.set_server_sig_algs(b"ssh-ed25519,rsa-sha2-256,ssh-rsa")
        .unwrap();
    assert_eq!(
        c.signature_algorithm(&public),
        Some(SignatureAlgorithm::RsaSha256)
    );
    c.set_server_sig_algs(b"ssh-ed25519,ssh-rsa").unwrap();
    assert_eq!(c.signature_algorithm(&public), None);
    c.allow_sha1_rsa(true);
    assert_eq!(
        c.signature_algorithm(&public),
        Some(SignatureAlgorithm::RsaSha1)
    );
    c.set_server_sig_algs(b"rsa-sha2-512,rsa-sha2-256").unwrap();
    assert_eq!(
        c.signature_algorithm(&public),
        Some(SignatureAlgorithm::RsaSha512)
    );
    // A malformed value is the server's fault.
    assert_eq!(
        c.set_server_sig_algs(b"a,,b").map_err(|e| reason(&e)),
        Err(DisconnectReason::PROTOCOL_ERROR)
    );

    // A whole session with rsa-sha2-256 picked from server-sig-algs.
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.backend.users[0].2 = vec![public.clone()];
    p.client.set_server_sig_algs(b"rsa-sha2-256").unwrap();
    let alg = p.client.signature_algorithm(&public).unwrap();
    p.sign_with(&public, rsa, alg);
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&ClientEvent::Success));
    assert!(p.backend.asked.iter().any(|e| matches!(
        e,
        ServerEvent::CheckPublicKey {
            algorithm: SignatureAlgorithm::RsaSha256,
            signed: true,
            ..
        }
    )));
}

#[test]
fn sha1_rsa_is_refused_by_the_default_policy() {
    let rsa = keys().get(3).unwrap();
    let public = rsa.public_key();
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.backend.users[0].2 = vec![public.clone()];
    p.sign_with(&public, rsa, SignatureAlgorithm::RsaSha1);
    p.settle().unwrap();
    assert_eq!(p.client_events, [failure(ALL, false)]);
    assert!(p.backend.asked.is_empty());
}

#[test]
fn unknown_key_query_fails_after_the_delay_and_counts() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    let other = ed25519(9).public_key();
    p.client
        .publickey_query(&other, SignatureAlgorithm::Ed25519)
        .unwrap();
    p.settle().unwrap();
    assert_eq!(p.client_events, [failure(ALL, false)]);
    assert_eq!(p.elapsed(), Duration::from_secs(1));
    assert_eq!(p.server.failures(), 1);
}

#[test]
fn keyboard_interactive_in_two_rounds() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.keyboard_interactive("").unwrap();
    p.settle().unwrap();
    assert_eq!(
        p.client_events,
        [ClientEvent::InfoRequest {
            name: "round 0".into(),
            instruction: "answer".into(),
            prompts: vec![("word 0: ".into(), false)]
        }]
    );
    p.client.info_response(vec!["one".into()]).unwrap();
    p.settle().unwrap();
    assert!(
        matches!(p.last_client_event(), Some(ClientEvent::InfoRequest { name, .. }) if name == "round 1")
    );
    p.client.info_response(vec!["two".into()]).unwrap();
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&ClientEvent::Success));
    assert!(
        matches!(&p.server_success, Some(ServerEvent::Success { methods, .. }) if methods == &[AuthMethod::KeyboardInteractive])
    );
}

#[test]
fn keyboard_interactive_wrong_answer_fails_after_the_delay() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.keyboard_interactive("").unwrap();
    p.settle().unwrap();
    p.now += Duration::from_secs(5); // the user types slowly
    p.client.info_response(vec!["nope".into()]).unwrap();
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(ALL, false)));
    // The delay counts from the response, not from the first request.
    assert_eq!(p.elapsed(), Duration::from_secs(6));
}

#[test]
fn multi_method_publickey_then_password() {
    let policy = ServerPolicy {
        methods: ServerPolicy::parse_methods("publickey,password").unwrap(),
        ..ServerPolicy::default()
    };
    let key = ed25519(1);
    let mut p = Pair::new("alice", policy);
    p.client.none().unwrap();
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(&["publickey"], false)));
    // The password alone is not enough, even when right: a failure, counted and delayed.
    p.client.password("right").unwrap();
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(&["publickey"], false)));
    assert_eq!(p.elapsed(), Duration::from_secs(1));
    p.sign_with(&key.public_key(), &key, SignatureAlgorithm::Ed25519);
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(&["password"], true)));
    assert!(!p.server.is_authenticated());
    p.client.password("right").unwrap();
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&ClientEvent::Success));
    assert_eq!(
        p.server_success,
        Some(ServerEvent::Success {
            user: "alice".into(),
            methods: vec![AuthMethod::PublicKey, AuthMethod::Password],
            public_keys: vec![key.public_key()],
        })
    );
}

#[test]
fn a_user_with_methods_of_their_own_gets_only_those() {
    let mut policy = ServerPolicy::default();
    policy.user_methods.insert(
        "alice".into(),
        ServerPolicy::parse_methods("publickey,password").unwrap(),
    );
    let policy = Arc::new(policy);
    let key = ed25519(1);
    let mut p = Pair::new("alice", ServerPolicy::clone(&policy));
    p.client.none().unwrap();
    p.settle().unwrap();
    // RFC 4252 §5.1: only what may productively continue is listed.
    assert_eq!(p.last_client_event(), Some(&failure(&["publickey"], false)));
    p.client.password("right").unwrap();
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(&["publickey"], false)));
    p.sign_with(&key.public_key(), &key, SignatureAlgorithm::Ed25519);
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(&["password"], true)));
    p.client.password("right").unwrap();
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&ClientEvent::Success));

    // Anyone else, known or not, gets the default methods: any one of them.
    for user in ["bob", "nobody"] {
        let mut p = Pair::new(user, ServerPolicy::clone(&policy));
        p.client.none().unwrap();
        p.settle().unwrap();
        assert_eq!(p.last_client_event(), Some(&failure(ALL, false)), "{user}");
    }
}

#[test]
fn one_key_cannot_complete_two_publickey_steps() {
    let policy = ServerPolicy {
        methods: ServerPolicy::parse_methods("publickey,publickey").unwrap(),
        ..ServerPolicy::default()
    };
    let (k1, k2) = (ed25519(1), ed25519(2));
    let mut p = Pair::new("alice", policy);
    p.backend.users[0].2 = vec![k1.public_key(), k2.public_key()];
    p.sign_with(&k1.public_key(), &k1, SignatureAlgorithm::Ed25519);
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(&["publickey"], true)));
    p.sign_with(&k1.public_key(), &k1, SignatureAlgorithm::Ed25519);
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(&["publickey"], false)));
    p.sign_with(&k2.public_key(), &k2, SignatureAlgorithm::Ed25519);
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&ClientEvent::Success));
}

#[test]
fn banner_comes_once_before_the_first_reply() {
    let policy = ServerPolicy {
        banner: Some("Authorised users only.\n".into()),
        ..ServerPolicy::default()
    };
    let mut p = Pair::new("alice", policy);
    p.client.none().unwrap();
    p.settle().unwrap();
    p.client.password("right").unwrap();
    p.settle().unwrap();
    assert_eq!(
        p.client_events,
        [
            ClientEvent::Banner {
                message: "Authorised users only.\n".into(),
                language: String::new()
            },
            failure(ALL, false),
            ClientEvent::Success
        ]
    );
}

// ----- limits -----------------------------------------------------------------------------

#[test]
fn attempts_are_exhausted_after_six_failures() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.none().unwrap();
    p.settle().unwrap();
    for i in 1..=5 {
        p.client.password("wrong").unwrap();
        p.settle().unwrap();
        assert_eq!(
            p.last_client_event(),
            Some(&failure(ALL, false)),
            "attempt {i}"
        );
    }
    p.client.password("wrong").unwrap();
    let err = p.settle().unwrap_err();
    assert_eq!(err, AuthError::TooManyAttempts);
    assert_eq!(
        reason(&err),
        DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE
    );
    // Even the disconnect waits for the delay.
    assert_eq!(p.elapsed(), Duration::from_secs(6));
    assert_eq!(
        p.server.handle_timeout(p.now),
        Err(AuthError::TooManyAttempts)
    );
    // The right password no longer helps: errors are sticky.
    assert_eq!(
        p.server.handle_message(p.now, &[50]),
        Err(AuthError::TooManyAttempts)
    );
}

#[test]
fn grace_time_expires() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.password("right").unwrap();
    let m = p.client.poll_transmit().unwrap();
    p.server.handle_message(p.now, &m).unwrap();
    let Some(ServerEvent::CheckPassword { id, .. }) = p.server.poll_event() else {
        panic!()
    };
    let deadline = p.server.poll_timeout().unwrap();
    assert_eq!(deadline, p.start + Duration::from_secs(120));
    p.server
        .handle_timeout(deadline - Duration::from_millis(1))
        .unwrap();
    let err = p.server.handle_timeout(deadline).unwrap_err();
    assert_eq!(err, AuthError::GraceTimeExpired);
    assert_eq!(reason(&err), DisconnectReason::BY_APPLICATION);
    // A late answer does not log the user in.
    assert_eq!(p.server.decide(deadline, id, Verdict::Accept), Err(err));
    assert_eq!(p.server.poll_transmit(), None);
    assert!(!p.server.is_authenticated());
}

#[test]
fn a_message_after_the_grace_deadline_is_refused_even_without_a_timer() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.password("right").unwrap();
    let m = p.client.poll_transmit().unwrap();
    let late = p.start + Duration::from_secs(121);
    assert_eq!(
        p.server.handle_message(late, &m),
        Err(AuthError::GraceTimeExpired)
    );
}

#[test]
fn pipelined_requests_are_answered_in_order_each_after_its_delay() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    let req = |pw: &str| {
        UserauthRequest {
            user: "alice",
            service: "ssh-connection",
            method: MethodRequest::Password {
                password: pw,
                new_password: None,
            },
        }
        .to_vec()
    };
    for pw in ["a", "b", "right"] {
        p.server.handle_message(p.now, &req(pw)).unwrap();
    }
    let mut seen = Vec::new();
    loop {
        while let Some(e) = p.server.poll_event() {
            if let Some((id, v)) = p.backend.answer(&e) {
                p.server.decide(p.now, id, v).unwrap();
            }
        }
        while let Some(m) = p.server.poll_transmit() {
            seen.push((p.now - p.start, m.first().copied()));
        }
        match p.server.poll_timeout() {
            Some(t) if !p.server.is_authenticated() && t < p.start + Duration::from_secs(60) => {
                p.now = t;
                p.server.handle_timeout(t).unwrap();
            }
            _ => break,
        }
    }
    assert_eq!(
        seen,
        [
            (Duration::from_secs(1), Some(51)),
            (Duration::from_secs(2), Some(51)),
            (Duration::from_secs(2), Some(52)),
        ]
    );
}

#[test]
fn too_many_pipelined_requests_are_refused() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    let m = UserauthRequest {
        user: "alice",
        service: "ssh-connection",
        method: MethodRequest::Password {
            password: "x",
            new_password: None,
        },
    }
    .to_vec();
    let mut result = Ok(());
    for _ in 0..=MAX_QUEUED_MESSAGES + 1 {
        result = p.server.handle_message(p.now, &m);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(
        result.map_err(|e| reason(&e)),
        Err(DisconnectReason::PROTOCOL_ERROR)
    );
}

// ----- unknown users ----------------------------------------------------------------------

/// Runs the same attempts for `user` and records what the server sent, and when.
type Sent = Vec<(Duration, Vec<u8>)>;
type Step = Box<dyn Fn(&mut Pair)>;

fn transcript(user: &str) -> (Sent, Result<(), AuthError>) {
    let policy = ServerPolicy {
        banner: Some("hello".into()),
        ..ServerPolicy::default()
    };
    let mut p = Pair::new(user, policy);
    let stranger = ed25519(9);
    let mut steps: Vec<Step> = vec![
        Box::new(|p| p.client.none().unwrap()),
        Box::new(|p| p.client.password("guess").unwrap()),
        Box::new(move |p| {
            p.client
                .publickey_query(&ed25519(9).public_key(), SignatureAlgorithm::Ed25519)
                .unwrap()
        }),
        Box::new(move |p| {
            p.sign_with(
                &stranger.public_key(),
                &stranger,
                SignatureAlgorithm::Ed25519,
            )
        }),
        Box::new(|p| p.client.keyboard_interactive("").unwrap()),
    ];
    let mut result = Ok(());
    for step in steps.drain(..) {
        step(&mut p);
        result = p.settle();
        if result.is_err() {
            break;
        }
        if matches!(p.last_client_event(), Some(ClientEvent::InfoRequest { .. })) {
            p.client.info_response(vec!["wrong".into()]).unwrap();
            result = p.settle();
        }
    }
    for _ in 0..3 {
        if result.is_err() {
            break;
        }
        p.client.password("guess").unwrap();
        result = p.settle();
    }
    (p.server_sent, result)
}

#[test]
fn unknown_user_is_indistinguishable_from_a_wrong_password() {
    let known = transcript("alice");
    let unknown = transcript("mallory");
    assert_eq!(known, unknown);
    assert_eq!(known.1, Err(AuthError::TooManyAttempts));
    // The banner, FAILURE to none, three delayed FAILUREs, the INFO_REQUEST, two more
    // delayed FAILUREs; then the sixth failure ends the connection.
    assert_eq!(known.0.len(), 8);
    assert_eq!(
        known.0.last().map(|(t, _)| *t),
        Some(Duration::from_secs(5))
    );
}

// ----- hostile clients --------------------------------------------------------------------

fn server() -> ServerAuth {
    ServerAuth::new(Arc::new(ServerPolicy::default()), SID, Instant::now())
}

fn raw_request(user: &str, service: &str, method: MethodRequest<'_>) -> Vec<u8> {
    UserauthRequest {
        user,
        service,
        method,
    }
    .to_vec()
}

#[test]
fn server_messages_from_a_client_are_protocol_errors() {
    for payload in [
        vec![51u8, 0, 0, 0, 0, 0],
        vec![52],
        vec![53, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![60, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![],
        vec![54],
        vec![79],
        vec![200],
    ] {
        let mut s = server();
        let err = s.handle_message(Instant::now(), &payload).unwrap_err();
        assert_eq!(
            reason(&err),
            DisconnectReason::PROTOCOL_ERROR,
            "{payload:?}"
        );
        assert_eq!(s.handle_message(Instant::now(), &[50]), Err(err), "sticky");
    }
}

#[test]
fn connection_messages_before_success_are_protocol_errors() {
    for n in 80u8..=127 {
        let mut s = server();
        let now = Instant::now();
        s.handle_message(
            now,
            &raw_request("alice", "ssh-connection", MethodRequest::None),
        )
        .unwrap();
        let err = s.handle_message(now, &[n, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(reason(&err), DisconnectReason::PROTOCOL_ERROR, "{n}");
        assert_eq!(s.poll_transmit(), None, "{n}: nothing more goes out");
    }
}

#[test]
fn other_services_are_not_available() {
    let mut s = server();
    let err = s
        .handle_message(
            Instant::now(),
            &raw_request("alice", "ssh-userauth", MethodRequest::None),
        )
        .unwrap_err();
    assert_eq!(reason(&err), DisconnectReason::SERVICE_NOT_AVAILABLE);
}

#[test]
fn a_change_of_user_disconnects() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.none().unwrap();
    p.settle().unwrap();
    let err = p
        .server
        .handle_message(
            p.now,
            &raw_request("root", "ssh-connection", MethodRequest::None),
        )
        .unwrap_err();
    assert_eq!(reason(&err), DisconnectReason::PROTOCOL_ERROR);
}

#[test]
fn a_change_of_user_after_partial_success_disconnects() {
    let policy = ServerPolicy {
        methods: ServerPolicy::parse_methods("publickey,password").unwrap(),
        ..ServerPolicy::default()
    };
    let key = ed25519(1);
    let mut p = Pair::new("alice", policy);
    p.sign_with(&key.public_key(), &key, SignatureAlgorithm::Ed25519);
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(&["password"], true)));
    let m = raw_request(
        "bob",
        "ssh-connection",
        MethodRequest::Password {
            password: "right",
            new_password: None,
        },
    );
    assert_eq!(
        p.server.handle_message(p.now, &m).map_err(|e| reason(&e)),
        Err(DisconnectReason::PROTOCOL_ERROR)
    );
    assert!(!p.server.is_authenticated());
}

#[test]
fn a_signature_over_another_session_fails_without_asking() {
    let key = ed25519(1);
    let public = key.public_key();
    let blob = public.to_blob();
    let data = publickey_signed_data(
        b"another session",
        "alice",
        "ssh-connection",
        "ssh-ed25519",
        &blob,
    );
    let sig = key
        .sign(SignatureAlgorithm::Ed25519, &data, &mut TestRng(1))
        .unwrap();
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.deliver = false;
    let m = raw_request(
        "alice",
        "ssh-connection",
        MethodRequest::PublicKey {
            algorithm: "ssh-ed25519",
            key_blob: &blob,
            signature: Some(&sig),
        },
    );
    p.server.handle_message(p.now, &m).unwrap();
    p.settle().unwrap();
    assert_eq!(p.client_events, []); // the client engine sent nothing, so it cannot read it
    assert!(p.backend.asked.is_empty(), "the application is never asked");
    assert_eq!(p.server.failures(), 1);
    assert!(
        matches!(p.server_sent.as_slice(), [(d, m)] if *d == Duration::from_secs(1) && m.first() == Some(&51))
    );
}

#[test]
fn a_signature_by_another_key_than_the_one_named_fails() {
    let (named, signer) = (ed25519(1), ed25519(2));
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.backend.users[0].2 = vec![named.public_key(), signer.public_key()];
    // The query for the named key succeeds...
    p.client
        .publickey_query(&named.public_key(), SignatureAlgorithm::Ed25519)
        .unwrap();
    p.settle().unwrap();
    assert!(matches!(
        p.last_client_event(),
        Some(ClientEvent::PkOk { .. })
    ));
    // ...but a signature by another key over the named key's request does not log in.
    p.sign_with(&named.public_key(), &signer, SignatureAlgorithm::Ed25519);
    p.settle().unwrap();
    assert_eq!(p.last_client_event(), Some(&failure(ALL, false)));
    assert!(p.server_success.is_none());
    assert!(
        !p.backend
            .asked
            .iter()
            .any(|e| matches!(e, ServerEvent::CheckPublicKey { signed: true, .. }))
    );
}

#[test]
fn key_and_algorithm_must_agree() {
    let key = ed25519(1);
    let blob = key.public_key().to_blob();
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.deliver = false;
    for alg in ["ecdsa-sha2-nistp256", "ssh-dss", ""] {
        let m = raw_request(
            "alice",
            "ssh-connection",
            MethodRequest::PublicKey {
                algorithm: alg,
                key_blob: &blob,
                signature: None,
            },
        );
        p.server.handle_message(p.now, &m).unwrap();
        p.settle().unwrap();
    }
    let garbage = raw_request(
        "alice",
        "ssh-connection",
        MethodRequest::PublicKey {
            algorithm: "ssh-ed25519",
            key_blob: b"not a key",
            signature: None,
        },
    );
    p.server.handle_message(p.now, &garbage).unwrap();
    p.settle().unwrap();
    assert!(p.backend.asked.is_empty());
    assert_eq!(p.server.failures(), 4);
}

#[test]
fn huge_passwords_are_protocol_errors() {
    let huge = "p".repeat(1024 * 1024);
    let mut s = server();
    let m = raw_request(
        "alice",
        "ssh-connection",
        MethodRequest::Password {
            password: &huge,
            new_password: None,
        },
    );
    let err = s.handle_message(Instant::now(), &m).unwrap_err();
    assert_eq!(reason(&err), DisconnectReason::PROTOCOL_ERROR);
    assert!(s.poll_event().is_none(), "the application never sees it");
}

#[test]
fn user_names_with_nul_are_illegal() {
    for user in ["ali\0ce", "\0", "alice\n", "a\u{7f}"] {
        let mut s = server();
        let err = s
            .handle_message(
                Instant::now(),
                &raw_request(user, "ssh-connection", MethodRequest::None),
            )
            .unwrap_err();
        assert_eq!(
            reason(&err),
            DisconnectReason::ILLEGAL_USER_NAME,
            "{user:?}"
        );
    }
}

#[test]
fn info_response_counts_must_match_the_prompts() {
    for n in [0usize, 2, 32] {
        let mut p = Pair::new("alice", ServerPolicy::default());
        p.client.keyboard_interactive("").unwrap();
        p.settle().unwrap();
        let mut w = Writer::new();
        crate::messages::InfoResponse {
            responses: vec!["x"; n],
        }
        .encode(&mut w);
        let err = p.server.handle_message(p.now, w.as_slice()).unwrap_err();
        assert_eq!(reason(&err), DisconnectReason::PROTOCOL_ERROR, "{n}");
    }
    // The client engine refuses to send a wrong count in the first place.
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.keyboard_interactive("").unwrap();
    p.settle().unwrap();
    assert!(matches!(
        p.client.info_response(vec![]),
        Err(AuthError::ApiMisuse(_))
    ));
}

#[test]
fn an_unsolicited_info_response_is_a_protocol_error() {
    let mut s = server();
    let err = s
        .handle_message(Instant::now(), &[61, 0, 0, 0, 0])
        .unwrap_err();
    assert_eq!(reason(&err), DisconnectReason::PROTOCOL_ERROR);
}

#[test]
fn requests_after_success_are_ignored() {
    let mut p = Pair::new("alice", ServerPolicy::default());
    p.client.password("right").unwrap();
    p.settle().unwrap();
    assert!(p.server.is_authenticated());
    let m = raw_request("root", "ssh-connection", MethodRequest::None);
    p.server.handle_message(p.now, &m).unwrap();
    assert_eq!(p.server.poll_transmit(), None);
    assert!(matches!(
        p.server.handle_message(p.now, &[90]),
        Err(AuthError::ApiMisuse(_))
    ));
}

#[test]
fn verdicts_must_fit_the_question() {
    let mut s = server();
    let now = Instant::now();
    s.handle_message(
        now,
        &raw_request(
            "alice",
            "ssh-connection",
            MethodRequest::Password {
                password: "x",
                new_password: None,
            },
        ),
    )
    .unwrap();
    let Some(ServerEvent::CheckPassword { id, .. }) = s.poll_event() else {
        panic!()
    };
    let challenge = Verdict::Challenge {
        name: String::new(),
        instruction: String::new(),
        prompts: vec![],
    };
    assert_eq!(
        s.decide(now, id, challenge).map_err(|e| e.blame()),
        Err(Blame::Local)
    );
}

// ----- a hostile server -------------------------------------------------------------------

#[test]
fn answers_to_nothing_are_protocol_errors_at_the_client() {
    let pk_ok = {
        let mut w = Writer::new();
        crate::messages::PkOk {
            algorithm: "ssh-ed25519",
            key_blob: &ed25519(1).public_key().to_blob(),
        }
        .encode(&mut w);
        w.into_vec()
    };
    for payload in [
        vec![52u8],
        vec![51, 0, 0, 0, 0, 0],
        pk_ok.clone(),
        vec![50],
        vec![61],
        vec![94],
    ] {
        let mut c = ClientAuth::new("alice", "ssh-connection", SID);
        let err = c.handle_message(Instant::now(), &payload).unwrap_err();
        assert_eq!(
            reason(&err),
            DisconnectReason::PROTOCOL_ERROR,
            "{payload:?}"
        );
    }
    // PK_OK for another key than the one queried.
    let mut c = ClientAuth::new("alice", "ssh-connection", SID);
    c.publickey_query(&ed25519(2).public_key(), SignatureAlgorithm::Ed25519)
        .unwrap();
    assert!(c.handle_message(Instant::now(), &pk_ok).is_err());
    // SUCCESS in answer to a query.
    let mut c = ClientAuth::new("alice", "ssh-connection", SID);
    c.publickey_query(&ed25519(1).public_key(), SignatureAlgorithm::Ed25519)
        .unwrap();
    assert!(c.handle_message(Instant::now(), &[52]).is_err());
    // A PK_OK after a password request reads as a PASSWD_CHANGEREQ (of garbage) or fails.
    let mut c = ClientAuth::new("alice", "ssh-connection", SID);
    c.none().unwrap();
    assert!(c.handle_message(Instant::now(), &pk_ok).is_err());
}

#[test]
fn the_client_allows_one_request_at_a_time() {
    let mut c = ClientAuth::new("alice", "ssh-connection", SID);
    c.none().unwrap();
    assert!(matches!(c.password("x"), Err(AuthError::ApiMisuse(_))));
    let mut c = ClientAuth::new("alice", "ssh-connection", SID);
    let key = ed25519(1);
    assert!(c.publickey_signed(b"sig").is_err());
    let mut c = ClientAuth::new("alice", "ssh-connection", SID);
    let data = c
        .publickey_sign_data(&key.public_key(), SignatureAlgorithm::Ed25519)
        .unwrap();
    c.publickey_sign_cancel();
    assert!(c.is_idle());
    let _ = data;
    // A signature blob naming another algorithm is the caller's bug.
    let rsa = keys().get(3).unwrap();
    let data = c
        .publickey_sign_data(&rsa.public_key(), SignatureAlgorithm::RsaSha512)
        .unwrap();
    let sig = rsa
        .sign(SignatureAlgorithm::RsaSha256, &data, &mut TestRng(1))
        .unwrap();
    assert!(matches!(
        c.publickey_signed(&sig),
        Err(AuthError::ApiMisuse(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary payloads, fed to both engines after a realistic start, never panic.
    #[test]
    fn arbitrary_payloads_never_panic(payloads in proptest::collection::vec(
        (50u8..=127, proptest::collection::vec(any::<u8>(), 0..64)), 1..8)) {
        let mut p = Pair::new("alice", ServerPolicy::default());
        p.client.keyboard_interactive("").unwrap();
        let _ = p.settle();
        for (n, rest) in &payloads {
            let mut m = vec![*n];
            m.extend_from_slice(rest);
            let _ = p.server.handle_message(p.now, &m);
            let _ = p.client.handle_message(p.now, &m);
            let _ = p.server.handle_timeout(p.now + Duration::from_secs(2));
        }
    }
}

#[test]
fn a_pipelined_info_response_is_refused_when_its_turn_comes() {
    let mut s = server();
    let now = Instant::now();
    s.handle_message(
        now,
        &raw_request(
            "alice",
            "ssh-connection",
            MethodRequest::KeyboardInteractive {
                language: "",
                submethods: "",
            },
        ),
    )
    .unwrap();
    // The application has not answered yet: the response waits in the queue...
    s.handle_message(now, &[61, 0, 0, 0, 0]).unwrap();
    let Some(ServerEvent::KeyboardInteractive { id, .. }) = s.poll_event() else {
        panic!()
    };
    // ...and is refused once the server is ready for it (after the FAILURE's delay), since
    // no challenge was sent.
    s.decide(now, id, Verdict::Reject).unwrap();
    let err = s.handle_timeout(now + Duration::from_secs(1)).unwrap_err();
    assert_eq!(reason(&err), DisconnectReason::PROTOCOL_ERROR);
}

#[test]
fn client_errors_are_sticky() {
    let mut c = ClientAuth::new("alice", "ssh-connection", SID);
    let err = c.handle_message(Instant::now(), &[52]).unwrap_err();
    assert_eq!(c.error(), Some(&err));
    assert_eq!(c.none(), Err(err.clone()));
    assert_eq!(c.poll_transmit(), None);
    assert_eq!(c.set_server_sig_algs(b"ssh-ed25519"), Err(err));
}
