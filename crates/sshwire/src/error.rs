//! Errors of the tokio endpoints.

use core::fmt;
use std::io;
use std::sync::Arc;

use sshwire_connection::OpenFailureReason;

use crate::sftp_client::SftpError;

/// Why a connection, a login or a channel operation failed.
///
/// Cloneable: when a connection dies, every channel handle and waiting call reports the same
/// error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed, or the peer closed it without a DISCONNECT.
    Io(Arc<io::Error>),
    /// The SSH transport failed; the DISCONNECT it implies has been sent.
    Transport(sshwire_transport::Error),
    /// User authentication failed on the server side; the DISCONNECT it implies has been sent.
    Auth(sshwire_auth::AuthError),
    /// The connection protocol failed; the DISCONNECT it implies has been sent.
    Connection(sshwire_connection::Error),
    /// The server accepted none of the credentials we had.
    PermissionDenied {
        /// The methods the server would still accept, as it last listed them.
        methods: Vec<String>,
        /// What we tried, in order (method names, with the key or file where one was used).
        tried: Vec<String>,
    },
    /// The peer refused to open a channel.
    ChannelOpenFailed {
        /// The peer's reason code.
        reason: OpenFailureReason,
        /// The peer's description.
        description: String,
    },
    /// The peer answered a channel or global request with failure.
    RequestRefused(String),
    /// The session was closed: by [`crate::Session::disconnect`], the peer's DISCONNECT, or a
    /// channel used after it was closed.
    Closed(String),
    /// Connecting took longer than allowed.
    Timeout,
    /// The `sftp` subsystem started but the SFTP session did not
    /// ([`Client::sftp`](crate::client::Client::sftp)).
    Sftp(SftpError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Transport(e) => write!(f, "{e}"),
            Error::Auth(e) => write!(f, "{e}"),
            Error::Connection(e) => write!(f, "{e}"),
            Error::PermissionDenied { methods, .. } => {
                write!(f, "Permission denied ({}).", methods.join(","))
            }
            Error::ChannelOpenFailed {
                reason,
                description,
            } => {
                write!(f, "channel open refused ({}", reason.0)?;
                if !description.is_empty() {
                    write!(f, ": {description}")?;
                }
                f.write_str(")")
            }
            Error::RequestRefused(what) => write!(f, "the server refused {what}"),
            Error::Closed(why) => write!(f, "connection closed: {why}"),
            Error::Timeout => f.write_str("connection timed out"),
            Error::Sftp(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(&**e),
            Error::Transport(e) => Some(e),
            Error::Auth(e) => Some(e),
            Error::Connection(e) => Some(e),
            Error::Sftp(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

impl From<sshwire_transport::Error> for Error {
    fn from(e: sshwire_transport::Error) -> Self {
        Error::Transport(e)
    }
}

impl From<sshwire_connection::Error> for Error {
    fn from(e: sshwire_connection::Error) -> Self {
        Error::Connection(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Io(inner) => inner.kind(),
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            Error::Closed(_) => io::ErrorKind::BrokenPipe,
            Error::Sftp(inner) => io::Error::from(inner.clone()).kind(),
            _ => io::ErrorKind::ConnectionAborted,
        };
        io::Error::new(kind, e)
    }
}

impl Error {
    /// Whether this is the peer hanging up (a DISCONNECT from it, or end of stream) rather
    /// than a failure.
    pub fn is_peer_hangup(&self) -> bool {
        match self {
            Error::Transport(sshwire_transport::Error::PeerDisconnected { .. }) => true,
            Error::Io(e) => e.kind() == io::ErrorKind::UnexpectedEof,
            _ => false,
        }
    }
}
