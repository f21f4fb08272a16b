//! The server's policy: which methods, in which combinations, how many tries and how fast.

use core::fmt;
use std::collections::BTreeMap;
use std::time::Duration;

use sshwire_keys::SignatureAlgorithm;

use crate::messages::method;

/// An authentication method the server engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// `none` (RFC 4252 §5.2): succeeds only when a policy sequence allows it.
    None,
    /// `password` (RFC 4252 §8).
    Password,
    /// `publickey` (RFC 4252 §7).
    PublicKey,
    /// `keyboard-interactive` (RFC 4256).
    KeyboardInteractive,
}

impl AuthMethod {
    /// Every method.
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::None,
        AuthMethod::Password,
        AuthMethod::PublicKey,
        AuthMethod::KeyboardInteractive,
    ];

    /// The method name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::None => method::NONE,
            AuthMethod::Password => method::PASSWORD,
            AuthMethod::PublicKey => method::PUBLICKEY,
            AuthMethod::KeyboardInteractive => method::KEYBOARD_INTERACTIVE,
        }
    }

    /// The method with this wire name.
    pub fn from_name(name: &str) -> Option<AuthMethod> {
        AuthMethod::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An `AuthenticationMethods` value that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid authentication methods: {}", self.0)
    }
}

impl std::error::Error for PolicyError {}

/// How the server authenticates users.
///
/// The defaults are those of `docs/auth.md` and DESIGN.md: any one of `publickey`,
/// `password`, `keyboard-interactive`; 6 attempts; 120 s of login grace; 1 s before each
/// FAILURE; no banner; `ssh-connection` only; SHA-2 signatures only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPolicy {
    /// The only service a client may authenticate for (RFC 4252 §5).
    pub service: String,
    /// The method sequences that authenticate a user, like OpenSSH's
    /// `AuthenticationMethods`: the user is in once every method of one sequence has
    /// succeeded, in order. `[[PublicKey, Password]]` requires both; `[[PublicKey],
    /// [Password]]` either one.
    pub methods: Vec<Vec<AuthMethod>>,
    /// Method sequences of particular users, in place of [`ServerPolicy::methods`].
    ///
    /// The engine picks them by the user name of the first request (the name cannot change
    /// afterwards). A name not listed here, whether or not the account exists, gets
    /// `methods`: an unknown user is answered exactly as a known user with the default
    /// methods. A listed user's sequences do show in the FAILURE replies, as they must for
    /// the client to know what to try (RFC 4252 §5.1).
    pub user_methods: BTreeMap<String, Vec<Vec<AuthMethod>>>,
    /// Failed attempts after which the connection is closed (OpenSSH's `MaxAuthTries`).
    ///
    /// Every FAILURE that is not a partial success counts, except the answer to a first
    /// `none` request.
    pub max_attempts: u32,
    /// Time from the engine's creation to success, after which the connection is closed
    /// (OpenSSH's `LoginGraceTime`).
    pub login_grace_time: Duration,
    /// Least time between a request that fails and its FAILURE reply.
    ///
    /// Measured from the arrival of the request, so that the backend's own time (an argon2
    /// check, a file read) is hidden too, as long as it is shorter. `none` failures and
    /// partial successes are answered at once.
    pub failure_delay: Duration,
    /// Text sent in `SSH_MSG_USERAUTH_BANNER` before the first reply, if any.
    pub banner: Option<String>,
    /// The public key signature algorithms accepted, for queries and signatures alike.
    pub signature_algorithms: Vec<SignatureAlgorithm>,
}

impl Default for ServerPolicy {
    fn default() -> Self {
        ServerPolicy {
            service: "ssh-connection".to_owned(),
            methods: vec![
                vec![AuthMethod::PublicKey],
                vec![AuthMethod::Password],
                vec![AuthMethod::KeyboardInteractive],
            ],
            user_methods: BTreeMap::new(),
            max_attempts: 6,
            login_grace_time: Duration::from_secs(120),
            failure_delay: Duration::from_secs(1),
            banner: None,
            signature_algorithms: vec![
                SignatureAlgorithm::Ed25519,
                SignatureAlgorithm::EcdsaP256,
                SignatureAlgorithm::EcdsaP384,
                SignatureAlgorithm::RsaSha512,
                SignatureAlgorithm::RsaSha256,
            ],
        }
    }
}

impl ServerPolicy {
    /// The method sequences that authenticate `user`.
    pub fn methods_for(&self, user: &str) -> &[Vec<AuthMethod>] {
        self.user_methods.get(user).unwrap_or(&self.methods)
    }

    /// Parses an OpenSSH `AuthenticationMethods` value: sequences separated by spaces, the
    /// methods of a sequence by commas, e.g. `"publickey,password publickey,keyboard-interactive"`.
    ///
    /// OpenSSH's `method:submethod` form is not supported.
    pub fn parse_methods(spec: &str) -> Result<Vec<Vec<AuthMethod>>, PolicyError> {
        let mut sequences = Vec::new();
        for seq in spec.split_ascii_whitespace() {
            let mut methods = Vec::new();
            for name in seq.split(',') {
                let m = AuthMethod::from_name(name)
                    .ok_or_else(|| PolicyError(format!("unknown method {name:?}")))?;
                methods.push(m);
            }
            sequences.push(methods);
        }
        if sequences.is_empty() {
            return Err(PolicyError("no method sequence".to_owned()));
        }
        Ok(sequences)
    }
}

/// The sequences a user still has to complete, as OpenSSH tracks `AuthenticationMethods`.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    remaining: Vec<Vec<AuthMethod>>,
    completed: Vec<AuthMethod>,
}

impl Progress {
    pub(crate) fn new(methods: &[Vec<AuthMethod>]) -> Self {
        Progress {
            remaining: methods.iter().filter(|s| !s.is_empty()).cloned().collect(),
            completed: Vec::new(),
        }
    }

    /// Whether `m` may be tried now: it comes next in some sequence.
    pub(crate) fn allows(&self, m: AuthMethod) -> bool {
        self.remaining.iter().any(|s| s.first() == Some(&m))
    }

    /// Records that `m` succeeded; returns whether a sequence is now complete.
    pub(crate) fn complete(&mut self, m: AuthMethod) -> bool {
        self.completed.push(m);
        let mut done = false;
        for seq in &mut self.remaining {
            if seq.first() == Some(&m) {
                seq.remove(0);
                done |= seq.is_empty();
            }
        }
        done
    }

    /// RFC 4252 §5.1: "a comma-separated name-list of authentication 'method name' values
    /// that may productively continue the authentication dialog"; `none` is never listed.
    pub(crate) fn can_continue(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for m in self.remaining.iter().filter_map(|s| s.first()) {
            if *m != AuthMethod::None && !names.contains(&m.name()) {
                names.push(m.name());
            }
        }
        names
    }

    /// The methods that succeeded, in order.
    pub(crate) fn completed(&self) -> &[AuthMethod] {
        &self.completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_syntax_parses() {
        assert_eq!(
            ServerPolicy::parse_methods("publickey,password keyboard-interactive").unwrap(),
            vec![
                vec![AuthMethod::PublicKey, AuthMethod::Password],
                vec![AuthMethod::KeyboardInteractive]
            ]
        );
        assert!(ServerPolicy::parse_methods("").is_err());
        assert!(ServerPolicy::parse_methods("publickey,,password").is_err());
        assert!(ServerPolicy::parse_methods("hostbased").is_err());
    }

    #[test]
    fn progress_follows_sequences() {
        let mut p = Progress::new(
            &ServerPolicy::parse_methods("publickey,password keyboard-interactive").unwrap(),
        );
        assert_eq!(p.can_continue(), ["publickey", "keyboard-interactive"]);
        assert!(!p.allows(AuthMethod::Password));
        assert!(!p.complete(AuthMethod::PublicKey));
        assert_eq!(p.can_continue(), ["password", "keyboard-interactive"]);
        assert!(p.complete(AuthMethod::Password));
        assert_eq!(p.completed(), [AuthMethod::PublicKey, AuthMethod::Password]);
    }
}
