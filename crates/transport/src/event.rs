//! What an engine reports to its caller.

use sshwire_keys::{PublicKey, SignatureAlgorithm};

use crate::cipher::{CipherAlg, MacAlg};
use crate::compress::Compression;
use crate::kex::KexAlg;

/// Something that happened on the connection, for the caller to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A line the server sent before its identification (client only; RFC 4253 §4.2).
    Banner(String),
    /// The server's host key, verified to have signed the exchange hash (client only, first key
    /// exchange). The engine waits for [`crate::Transport::host_key_verdict`] before it sends
    /// `SSH_MSG_NEWKEYS`; on later exchanges the key must be the same and is not asked about.
    HostKey(PublicKey),
    /// A key exchange finished; new keys are in use both ways.
    KexComplete {
        /// Whether this was the first exchange of the connection.
        first: bool,
        /// The algorithms now in use.
        algorithms: Negotiated,
    },
    /// The client asked for a service (server only). Answer with
    /// [`crate::Transport::accept_service`] or disconnect.
    ServiceRequest(String),
    /// The server accepted the service we asked for (client only).
    ServiceAccept(String),
    /// The peer's `SSH_MSG_EXT_INFO` extensions (RFC 8308 §2.3), as (name, value) pairs.
    ExtInfo(Vec<(String, Vec<u8>)>),
    /// The peer's `SSH_MSG_DEBUG` (RFC 4253 §11.3).
    Debug {
        /// Whether the peer asked for the message to be shown to the user.
        always_display: bool,
        /// The message.
        message: String,
    },
    /// The peer did not implement the message we sent with this sequence number.
    Unimplemented(u32),
    /// A payload for the layers above (message number 50 or above), message number first.
    Message(Vec<u8>),
    /// A payload for the layers above, `buf[start..]`, in the buffer its packet arrived in
    /// (not copied out of it). Only after [`crate::Transport::set_messages_in_place`], and
    /// only for large packets read through [`crate::Transport::input_buffer`].
    MessageAt {
        /// The packet's buffer, cut off after the payload.
        buf: Vec<u8>,
        /// Where the payload starts in `buf`.
        start: usize,
    },
}

/// The algorithms one key exchange agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Key exchange method.
    pub kex: KexAlg,
    /// Host key signature algorithm.
    pub host_key: SignatureAlgorithm,
    /// Client to server algorithms.
    pub client_to_server: DirectionAlgorithms,
    /// Server to client algorithms.
    pub server_to_client: DirectionAlgorithms,
    /// Whether strict key exchange (`kex-strict-*-v00@openssh.com`) is in force.
    pub strict_kex: bool,
}

/// The algorithms of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectionAlgorithms {
    /// Cipher.
    pub cipher: CipherAlg,
    /// MAC; `None` for AEAD ciphers, which authenticate by themselves.
    pub mac: Option<MacAlg>,
    /// Compression.
    pub compression: Compression,
}
