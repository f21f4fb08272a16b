//! The user authentication error type and its mapping to `SSH_MSG_DISCONNECT` reasons.

use core::fmt;

use sshwire_transport::{DisconnectReason, MessageNumber};

/// Why an authentication engine stopped, and who is to blame.
///
/// Errors are sticky: once an engine returns one, every later call returns it again. The
/// endpoint ends the connection with [`AuthError::disconnect`] as the last word, through
/// `Transport::disconnect`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The peer sent a message that could not be decoded (the peer's fault).
    InvalidMessage {
        /// The message's number (0 for an empty payload).
        number: MessageNumber,
        /// What was wrong with it.
        why: sshwire_wire::Error,
    },
    /// The peer sent a message that is not allowed now (the peer's fault).
    UnexpectedMessage {
        /// The message's number.
        number: MessageNumber,
        /// The state that refused it.
        state: &'static str,
    },
    /// The peer broke a rule of the protocol (the peer's fault).
    PeerMisbehaved(&'static str),
    /// The client asked for a service the server does not offer (RFC 4252 §5).
    ServiceNotAvailable(String),
    /// The client sent a user name no account can have (NUL or other control characters).
    IllegalUserName,
    /// The client failed too many times (the server's `max_attempts`).
    TooManyAttempts,
    /// The client did not authenticate within the login grace time.
    GraceTimeExpired,
    /// The caller used the API in a way it forbids; never the peer's fault.
    ApiMisuse(&'static str),
}

/// Who caused an [`AuthError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The peer sent something wrong or did not authenticate in time.
    Peer,
    /// The local caller misused the API.
    Local,
}

impl AuthError {
    /// Who is to blame.
    pub fn blame(&self) -> Blame {
        match self {
            AuthError::ApiMisuse(_) => Blame::Local,
            _ => Blame::Peer,
        }
    }

    /// The reason code and description of the `SSH_MSG_DISCONNECT` this error sends.
    pub fn disconnect(&self) -> (DisconnectReason, String) {
        let reason = match self {
            AuthError::InvalidMessage { .. }
            | AuthError::UnexpectedMessage { .. }
            | AuthError::PeerMisbehaved(_) => DisconnectReason::PROTOCOL_ERROR,
            AuthError::ServiceNotAvailable(_) => DisconnectReason::SERVICE_NOT_AVAILABLE,
            AuthError::IllegalUserName => DisconnectReason::ILLEGAL_USER_NAME,
            AuthError::TooManyAttempts => DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE,
            AuthError::GraceTimeExpired | AuthError::ApiMisuse(_) => {
                DisconnectReason::BY_APPLICATION
            }
        };
        (reason, self.to_string())
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::InvalidMessage { number, why } => write!(f, "malformed {number}: {why}"),
            AuthError::UnexpectedMessage { number, state } => {
                write!(f, "unexpected {number} while {state}")
            }
            AuthError::PeerMisbehaved(why) => write!(f, "protocol violation: {why}"),
            AuthError::ServiceNotAvailable(name) => {
                // The name came from the peer: show it escaped.
                write!(f, "service {name:?} not available")
            }
            AuthError::IllegalUserName => f.write_str("illegal user name"),
            AuthError::TooManyAttempts => f.write_str("too many authentication failures"),
            AuthError::GraceTimeExpired => f.write_str("login grace time expired"),
            AuthError::ApiMisuse(why) => write!(f, "API misuse: {why}"),
        }
    }
}

impl std::error::Error for AuthError {}
