//! A hostile SSH peer for the security tests (issue 6, "hostile-peer suite").
//!
//! [`Hostile`] speaks just enough SSH to get where an attacker wants to be (identification,
//! a real curve25519 key exchange with its own keys, user authentication, a session channel)
//! and then sends whatever the test says: malformed identification lines, packets with bad
//! lengths and paddings, messages out of order, forged authentication results, window
//! overflows, decompression bombs. [`Ending`] is what the other side did about it.
//! [`target`] runs an sshwire server in-process for it to attack, and checks that a legitimate
//! client is still served afterwards. With the `server_*` steps ([`ServerKex`]) the attacker
//! plays a server instead, against sshwire's client.
//!
//! The attacker does not drive the engine under test: it derives its keys from the transport
//! crate's public key exchange functions and seals its packets with ring's
//! `chacha20_poly1305_openssh`, so no test-only code reaches a release build.

mod kex;
pub mod messages;
mod peer;
mod server_kex;
pub mod target;

pub use kex::{KexOptions, KexState};
pub use peer::Hostile;
pub use server_kex::{ServerKex, ServerKexOptions};

/// Message numbers (RFC 4250 §4.1).
pub mod msg {
    /// SSH_MSG_DISCONNECT.
    pub const DISCONNECT: u8 = 1;
    /// SSH_MSG_IGNORE.
    pub const IGNORE: u8 = 2;
    /// SSH_MSG_UNIMPLEMENTED.
    pub const UNIMPLEMENTED: u8 = 3;
    /// SSH_MSG_DEBUG.
    pub const DEBUG: u8 = 4;
    /// SSH_MSG_SERVICE_REQUEST.
    pub const SERVICE_REQUEST: u8 = 5;
    /// SSH_MSG_SERVICE_ACCEPT.
    pub const SERVICE_ACCEPT: u8 = 6;
    /// SSH_MSG_EXT_INFO (RFC 8308).
    pub const EXT_INFO: u8 = 7;
    /// SSH_MSG_KEXINIT.
    pub const KEXINIT: u8 = 20;
    /// SSH_MSG_NEWKEYS.
    pub const NEWKEYS: u8 = 21;
    /// SSH_MSG_KEX_ECDH_INIT (RFC 5656, RFC 8731).
    pub const KEX_ECDH_INIT: u8 = 30;
    /// SSH_MSG_KEX_ECDH_REPLY.
    pub const KEX_ECDH_REPLY: u8 = 31;
    /// SSH_MSG_USERAUTH_REQUEST.
    pub const USERAUTH_REQUEST: u8 = 50;
    /// SSH_MSG_USERAUTH_FAILURE.
    pub const USERAUTH_FAILURE: u8 = 51;
    /// SSH_MSG_USERAUTH_SUCCESS.
    pub const USERAUTH_SUCCESS: u8 = 52;
    /// SSH_MSG_USERAUTH_BANNER.
    pub const USERAUTH_BANNER: u8 = 53;
    /// SSH_MSG_USERAUTH_PK_OK / PASSWD_CHANGEREQ / INFO_REQUEST.
    pub const USERAUTH_60: u8 = 60;
    /// SSH_MSG_USERAUTH_INFO_RESPONSE (RFC 4256).
    pub const USERAUTH_INFO_RESPONSE: u8 = 61;
    /// SSH_MSG_GLOBAL_REQUEST.
    pub const GLOBAL_REQUEST: u8 = 80;
    /// SSH_MSG_REQUEST_SUCCESS.
    pub const REQUEST_SUCCESS: u8 = 81;
    /// SSH_MSG_REQUEST_FAILURE.
    pub const REQUEST_FAILURE: u8 = 82;
    /// SSH_MSG_CHANNEL_OPEN.
    pub const CHANNEL_OPEN: u8 = 90;
    /// SSH_MSG_CHANNEL_OPEN_CONFIRMATION.
    pub const CHANNEL_OPEN_CONFIRMATION: u8 = 91;
    /// SSH_MSG_CHANNEL_OPEN_FAILURE.
    pub const CHANNEL_OPEN_FAILURE: u8 = 92;
    /// SSH_MSG_CHANNEL_WINDOW_ADJUST.
    pub const CHANNEL_WINDOW_ADJUST: u8 = 93;
    /// SSH_MSG_CHANNEL_DATA.
    pub const CHANNEL_DATA: u8 = 94;
    /// SSH_MSG_CHANNEL_EOF.
    pub const CHANNEL_EOF: u8 = 96;
    /// SSH_MSG_CHANNEL_CLOSE.
    pub const CHANNEL_CLOSE: u8 = 97;
    /// SSH_MSG_CHANNEL_REQUEST.
    pub const CHANNEL_REQUEST: u8 = 98;
    /// SSH_MSG_CHANNEL_SUCCESS.
    pub const CHANNEL_SUCCESS: u8 = 99;
    /// SSH_MSG_CHANNEL_FAILURE.
    pub const CHANNEL_FAILURE: u8 = 100;
}

/// Disconnect reason codes (RFC 4253 §11.1, RFC 4250 §4.2.2).
pub mod reason {
    /// SSH_DISCONNECT_PROTOCOL_ERROR.
    pub const PROTOCOL_ERROR: u32 = 2;
    /// SSH_DISCONNECT_KEY_EXCHANGE_FAILED.
    pub const KEY_EXCHANGE_FAILED: u32 = 3;
    /// SSH_DISCONNECT_MAC_ERROR.
    pub const MAC_ERROR: u32 = 5;
    /// SSH_DISCONNECT_COMPRESSION_ERROR.
    pub const COMPRESSION_ERROR: u32 = 6;
    /// SSH_DISCONNECT_SERVICE_NOT_AVAILABLE.
    pub const SERVICE_NOT_AVAILABLE: u32 = 7;
    /// SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED.
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: u32 = 8;
    /// SSH_DISCONNECT_BY_APPLICATION.
    pub const BY_APPLICATION: u32 = 11;
    /// SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE.
    pub const NO_MORE_AUTH_METHODS_AVAILABLE: u32 = 14;
    /// SSH_DISCONNECT_ILLEGAL_USER_NAME.
    pub const ILLEGAL_USER_NAME: u32 = 15;
}

/// How the server ended the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// It sent `SSH_MSG_DISCONNECT` with this reason code and description.
    Disconnect {
        /// The reason code.
        reason: u32,
        /// The description.
        description: String,
    },
    /// It closed the connection without a DISCONNECT.
    Closed,
    /// It sent something the attacker could not read (a bug in the server or the attacker).
    Garbled(String),
}

impl Ending {
    fn from_disconnect(payload: &[u8]) -> Ending {
        let mut r = sshwire_wire::Reader::new(payload);
        let parsed = (|| {
            r.u8()?;
            let reason = r.u32()?;
            let description = String::from_utf8_lossy(r.string()?).into_owned();
            Ok::<_, sshwire_wire::Error>(Ending::Disconnect {
                reason,
                description,
            })
        })();
        parsed.unwrap_or_else(|e| Ending::Garbled(format!("DISCONNECT: {e}")))
    }

    /// The DISCONNECT reason code, if there was one.
    pub fn reason(&self) -> Option<u32> {
        match self {
            Ending::Disconnect { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}
