//! Message numbers of the transport layer and the ranges of the layers above it.
//!
//! RFC 4250 §4.1.2 assigns the numbers; RFC 4253 §12 and RFC 4251 §7 give the ranges.

use core::fmt;

/// A message number: the first byte of every payload.
///
/// A newtype rather than an enum, so that numbers we do not know survive a round trip (they must
/// be answered with `SSH_MSG_UNIMPLEMENTED`, RFC 4253 §11.4, not refused at decode time).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageNumber(pub u8);

impl MessageNumber {
    /// `SSH_MSG_DISCONNECT` (RFC 4253 §11.1).
    pub const DISCONNECT: Self = Self(1);
    /// `SSH_MSG_IGNORE` (RFC 4253 §11.2).
    pub const IGNORE: Self = Self(2);
    /// `SSH_MSG_UNIMPLEMENTED` (RFC 4253 §11.4).
    pub const UNIMPLEMENTED: Self = Self(3);
    /// `SSH_MSG_DEBUG` (RFC 4253 §11.3).
    pub const DEBUG: Self = Self(4);
    /// `SSH_MSG_SERVICE_REQUEST` (RFC 4253 §10).
    pub const SERVICE_REQUEST: Self = Self(5);
    /// `SSH_MSG_SERVICE_ACCEPT` (RFC 4253 §10).
    pub const SERVICE_ACCEPT: Self = Self(6);
    /// `SSH_MSG_EXT_INFO` (RFC 8308 §2.3).
    pub const EXT_INFO: Self = Self(7);
    /// `SSH_MSG_NEWCOMPRESS` (RFC 8308 §3.2).
    pub const NEWCOMPRESS: Self = Self(8);
    /// `SSH_MSG_KEXINIT` (RFC 4253 §7.1).
    pub const KEXINIT: Self = Self(20);
    /// `SSH_MSG_NEWKEYS` (RFC 4253 §7.3).
    pub const NEWKEYS: Self = Self(21);
    /// `SSH_MSG_KEXDH_INIT`, `SSH_MSG_KEX_ECDH_INIT` and the hybrid `INIT` messages (30).
    pub const KEX_INIT: Self = Self(30);
    /// `SSH_MSG_KEXDH_REPLY`, `SSH_MSG_KEX_ECDH_REPLY`, hybrid `REPLY`, and
    /// `SSH_MSG_KEX_DH_GEX_GROUP` (31; RFC 4419 reuses the number).
    pub const KEX_REPLY: Self = Self(31);
    /// `SSH_MSG_KEX_DH_GEX_GROUP` (RFC 4419 §5).
    pub const KEX_DH_GEX_GROUP: Self = Self(31);
    /// `SSH_MSG_KEX_DH_GEX_INIT` (RFC 4419 §5).
    pub const KEX_DH_GEX_INIT: Self = Self(32);
    /// `SSH_MSG_KEX_DH_GEX_REPLY` (RFC 4419 §5).
    pub const KEX_DH_GEX_REPLY: Self = Self(33);
    /// `SSH_MSG_KEX_DH_GEX_REQUEST` (RFC 4419 §5).
    pub const KEX_DH_GEX_REQUEST: Self = Self(34);
    /// `SSH2_MSG_PING` (OpenSSH PROTOCOL §1.9, `ping@openssh.com`).
    pub const PING: Self = Self(192);
    /// `SSH2_MSG_PONG` (OpenSSH PROTOCOL §1.9).
    pub const PONG: Self = Self(193);

    /// RFC 4253 §7.1: generic transport messages are 1 to 19.
    pub fn is_transport_generic(self) -> bool {
        (1..=19).contains(&self.0)
    }

    /// RFC 4253 §7.1: algorithm negotiation (20 to 29) and method-specific key exchange
    /// messages (30 to 49).
    pub fn is_kex(self) -> bool {
        (20..=49).contains(&self.0)
    }

    /// RFC 4251 §7: 50 and above belong to the layers above the transport
    /// (user authentication 50..=79, connection 80..=127, reserved and local above).
    pub fn is_upper_layer(self) -> bool {
        self.0 >= 50 && self != Self::PING && self != Self::PONG
    }

    /// The RFC name of a known number, for traces and errors.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "SSH_MSG_DISCONNECT",
            2 => "SSH_MSG_IGNORE",
            3 => "SSH_MSG_UNIMPLEMENTED",
            4 => "SSH_MSG_DEBUG",
            5 => "SSH_MSG_SERVICE_REQUEST",
            6 => "SSH_MSG_SERVICE_ACCEPT",
            7 => "SSH_MSG_EXT_INFO",
            8 => "SSH_MSG_NEWCOMPRESS",
            20 => "SSH_MSG_KEXINIT",
            21 => "SSH_MSG_NEWKEYS",
            30 => "SSH_MSG_KEX_INIT(30)",
            31 => "SSH_MSG_KEX_REPLY(31)",
            32 => "SSH_MSG_KEX_DH_GEX_INIT",
            33 => "SSH_MSG_KEX_DH_GEX_REPLY",
            34 => "SSH_MSG_KEX_DH_GEX_REQUEST",
            50 => "SSH_MSG_USERAUTH_REQUEST",
            51 => "SSH_MSG_USERAUTH_FAILURE",
            52 => "SSH_MSG_USERAUTH_SUCCESS",
            53 => "SSH_MSG_USERAUTH_BANNER",
            80 => "SSH_MSG_GLOBAL_REQUEST",
            81 => "SSH_MSG_REQUEST_SUCCESS",
            82 => "SSH_MSG_REQUEST_FAILURE",
            90 => "SSH_MSG_CHANNEL_OPEN",
            91 => "SSH_MSG_CHANNEL_OPEN_CONFIRMATION",
            92 => "SSH_MSG_CHANNEL_OPEN_FAILURE",
            93 => "SSH_MSG_CHANNEL_WINDOW_ADJUST",
            94 => "SSH_MSG_CHANNEL_DATA",
            95 => "SSH_MSG_CHANNEL_EXTENDED_DATA",
            96 => "SSH_MSG_CHANNEL_EOF",
            97 => "SSH_MSG_CHANNEL_CLOSE",
            98 => "SSH_MSG_CHANNEL_REQUEST",
            99 => "SSH_MSG_CHANNEL_SUCCESS",
            100 => "SSH_MSG_CHANNEL_FAILURE",
            192 => "SSH2_MSG_PING",
            193 => "SSH2_MSG_PONG",
            _ => return None,
        })
    }
}

impl fmt::Debug for MessageNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "MessageNumber({})", self.0),
        }
    }
}

impl fmt::Display for MessageNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A reason code of `SSH_MSG_DISCONNECT` (RFC 4253 §11.1, RFC 4250 §4.2.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DisconnectReason(pub u32);

impl DisconnectReason {
    /// `SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT`.
    pub const HOST_NOT_ALLOWED_TO_CONNECT: Self = Self(1);
    /// `SSH_DISCONNECT_PROTOCOL_ERROR`.
    pub const PROTOCOL_ERROR: Self = Self(2);
    /// `SSH_DISCONNECT_KEY_EXCHANGE_FAILED`.
    pub const KEY_EXCHANGE_FAILED: Self = Self(3);
    /// `SSH_DISCONNECT_RESERVED`.
    pub const RESERVED: Self = Self(4);
    /// `SSH_DISCONNECT_MAC_ERROR`.
    pub const MAC_ERROR: Self = Self(5);
    /// `SSH_DISCONNECT_COMPRESSION_ERROR`.
    pub const COMPRESSION_ERROR: Self = Self(6);
    /// `SSH_DISCONNECT_SERVICE_NOT_AVAILABLE`.
    pub const SERVICE_NOT_AVAILABLE: Self = Self(7);
    /// `SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED`.
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: Self = Self(8);
    /// `SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE`.
    pub const HOST_KEY_NOT_VERIFIABLE: Self = Self(9);
    /// `SSH_DISCONNECT_CONNECTION_LOST`.
    pub const CONNECTION_LOST: Self = Self(10);
    /// `SSH_DISCONNECT_BY_APPLICATION`.
    pub const BY_APPLICATION: Self = Self(11);
    /// `SSH_DISCONNECT_TOO_MANY_CONNECTIONS`.
    pub const TOO_MANY_CONNECTIONS: Self = Self(12);
    /// `SSH_DISCONNECT_AUTH_CANCELLED_BY_USER`.
    pub const AUTH_CANCELLED_BY_USER: Self = Self(13);
    /// `SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE`.
    pub const NO_MORE_AUTH_METHODS_AVAILABLE: Self = Self(14);
    /// `SSH_DISCONNECT_ILLEGAL_USER_NAME`.
    pub const ILLEGAL_USER_NAME: Self = Self(15);

    /// The RFC 4250 symbol of a known code.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "HOST_NOT_ALLOWED_TO_CONNECT",
            2 => "PROTOCOL_ERROR",
            3 => "KEY_EXCHANGE_FAILED",
            4 => "RESERVED",
            5 => "MAC_ERROR",
            6 => "COMPRESSION_ERROR",
            7 => "SERVICE_NOT_AVAILABLE",
            8 => "PROTOCOL_VERSION_NOT_SUPPORTED",
            9 => "HOST_KEY_NOT_VERIFIABLE",
            10 => "CONNECTION_LOST",
            11 => "BY_APPLICATION",
            12 => "TOO_MANY_CONNECTIONS",
            13 => "AUTH_CANCELLED_BY_USER",
            14 => "NO_MORE_AUTH_METHODS_AVAILABLE",
            15 => "ILLEGAL_USER_NAME",
            _ => return None,
        })
    }
}

impl fmt::Debug for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "DisconnectReason({})", self.0),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
