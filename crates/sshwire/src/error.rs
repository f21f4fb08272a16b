//! Errors of the tokio endpoints.

use core::fmt;
use std::io;

/// Why a connection failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed, or the peer closed it without a DISCONNECT.
    Io(io::Error),
    /// The SSH transport failed; the DISCONNECT it implies has been sent.
    Transport(sshwire_transport::Error),
    /// User authentication failed; the DISCONNECT it implies has been sent.
    Auth(sshwire_auth::AuthError),
    /// Connecting took longer than allowed.
    Timeout,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Transport(e) => write!(f, "{e}"),
            Error::Auth(e) => write!(f, "{e}"),
            Error::Timeout => f.write_str("connection timed out"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Transport(e) => Some(e),
            Error::Auth(e) => Some(e),
            Error::Timeout => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<sshwire_transport::Error> for Error {
    fn from(e: sshwire_transport::Error) -> Self {
        Error::Transport(e)
    }
}
