//! The connection protocol's messages (RFC 4254, numbers 80 to 100): one codec for both roles.
//!
//! Every type encodes its whole payload, message number first, and decodes from a whole
//! payload, refusing a wrong message number, truncation, over-long fields and trailing bytes.
//! Decoded values borrow from the payload ([`Cow::Borrowed`]); [`ChannelRequestType::into_owned`]
//! and friends turn them into `'static` values that can outlive it (the engine's events).
//!
//! Request-specific and channel-type-specific data is typed for the requests and channel types
//! RFC 4254 and OpenSSH's `PROTOCOL` define; anything else is kept as its name and raw bytes, so
//! it survives a round trip.

use std::borrow::Cow;

use sshwire_transport::MessageNumber;
use sshwire_wire::{Error, Reader, Writer};

/// `SSH_MSG_GLOBAL_REQUEST` (RFC 4254 §4).
pub const GLOBAL_REQUEST: MessageNumber = MessageNumber(80);
/// `SSH_MSG_REQUEST_SUCCESS` (RFC 4254 §4).
pub const REQUEST_SUCCESS: MessageNumber = MessageNumber(81);
/// `SSH_MSG_REQUEST_FAILURE` (RFC 4254 §4).
pub const REQUEST_FAILURE: MessageNumber = MessageNumber(82);
/// `SSH_MSG_CHANNEL_OPEN` (RFC 4254 §5.1).
pub const CHANNEL_OPEN: MessageNumber = MessageNumber(90);
/// `SSH_MSG_CHANNEL_OPEN_CONFIRMATION` (RFC 4254 §5.1).
pub const CHANNEL_OPEN_CONFIRMATION: MessageNumber = MessageNumber(91);
/// `SSH_MSG_CHANNEL_OPEN_FAILURE` (RFC 4254 §5.1).
pub const CHANNEL_OPEN_FAILURE: MessageNumber = MessageNumber(92);
/// `SSH_MSG_CHANNEL_WINDOW_ADJUST` (RFC 4254 §5.2).
pub const CHANNEL_WINDOW_ADJUST: MessageNumber = MessageNumber(93);
/// `SSH_MSG_CHANNEL_DATA` (RFC 4254 §5.2).
pub const CHANNEL_DATA: MessageNumber = MessageNumber(94);
/// `SSH_MSG_CHANNEL_EXTENDED_DATA` (RFC 4254 §5.2).
pub const CHANNEL_EXTENDED_DATA: MessageNumber = MessageNumber(95);
/// `SSH_MSG_CHANNEL_EOF` (RFC 4254 §5.3).
pub const CHANNEL_EOF: MessageNumber = MessageNumber(96);
/// `SSH_MSG_CHANNEL_CLOSE` (RFC 4254 §5.3).
pub const CHANNEL_CLOSE: MessageNumber = MessageNumber(97);
/// `SSH_MSG_CHANNEL_REQUEST` (RFC 4254 §5.4).
pub const CHANNEL_REQUEST: MessageNumber = MessageNumber(98);
/// `SSH_MSG_CHANNEL_SUCCESS` (RFC 4254 §5.4).
pub const CHANNEL_SUCCESS: MessageNumber = MessageNumber(99);
/// `SSH_MSG_CHANNEL_FAILURE` (RFC 4254 §5.4).
pub const CHANNEL_FAILURE: MessageNumber = MessageNumber(100);

/// Longest request name or channel type accepted (RFC 4250 §4.6.1: names are at most 64
/// characters); signal and subsystem names are held to the same bound.
pub const MAX_NAME_LEN: usize = 64;
/// Longest host name or address accepted in a forwarding message.
pub const MAX_ADDRESS_LEN: usize = 1024;
/// Longest `TERM` value accepted in `pty-req`.
pub const MAX_TERM_LEN: usize = 1024;
/// Longest encoded terminal modes accepted in `pty-req` (RFC 4254 §8 defines fewer than 100
/// five-byte opcodes).
pub const MAX_MODES_LEN: usize = 4096;
/// Longest environment variable name accepted in `env`.
pub const MAX_ENV_NAME_LEN: usize = 1024;
/// Longest environment variable value, or `exec` command, accepted.
pub const MAX_COMMAND_LEN: usize = 256 * 1024;
/// Longest description or error message accepted.
pub const MAX_TEXT_LEN: usize = 4096;
/// Longest language tag accepted (RFC 3066 tags are far shorter).
pub const MAX_LANGUAGE_LEN: usize = 64;
/// Most host keys accepted in one `hostkeys-00@openssh.com` request.
pub const MAX_HOST_KEYS: usize = 64;
/// Longest public key blob accepted in `hostkeys-00@openssh.com`.
pub const MAX_HOST_KEY_LEN: usize = 16 * 1024;

/// Extended data type code `SSH_EXTENDED_DATA_STDERR` (RFC 4254 §5.2).
pub const EXTENDED_DATA_STDERR: u32 = 1;

/// Bytes of a `CHANNEL_DATA` payload before its data: number, recipient, length.
pub const DATA_HEADER_LEN: usize = 1 + 4 + 4;
/// Bytes of a `CHANNEL_EXTENDED_DATA` payload before its data: number, recipient, code, length.
pub const EXTENDED_DATA_HEADER_LEN: usize = 1 + 4 + 4 + 4;

/// Starts a reader after the message number, which must be `number`.
fn body(payload: &[u8], number: MessageNumber) -> Result<Reader<'_>, Error> {
    let mut r = Reader::new(payload);
    if r.u8()? != number.0 {
        return Err(Error::Invalid("unexpected message number"));
    }
    Ok(r)
}

/// A UTF-8 `string` of at most `limit` bytes.
fn text<'a>(r: &mut Reader<'a>, what: &'static str, limit: usize) -> Result<Cow<'a, str>, Error> {
    let save = r.clone();
    let s = r.string_limited(what, limit)?;
    match core::str::from_utf8(s) {
        Ok(s) => Ok(Cow::Borrowed(s)),
        Err(_) => {
            *r = save;
            Err(Error::InvalidUtf8)
        }
    }
}

/// A `string` of at most `limit` bytes.
fn bytes<'a>(r: &mut Reader<'a>, what: &'static str, limit: usize) -> Result<Cow<'a, [u8]>, Error> {
    r.string_limited(what, limit).map(Cow::Borrowed)
}

/// A `u32` count of a collection's length, saturating (lengths here are bounded far below).
#[cfg(test)]
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A reason code of `SSH_MSG_CHANNEL_OPEN_FAILURE` (RFC 4254 §5.1, RFC 4250 §4.3).
///
/// A newtype, so codes this crate does not name survive a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpenFailureReason(pub u32);

impl OpenFailureReason {
    /// `SSH_OPEN_ADMINISTRATIVELY_PROHIBITED`.
    pub const ADMINISTRATIVELY_PROHIBITED: Self = Self(1);
    /// `SSH_OPEN_CONNECT_FAILED`.
    pub const CONNECT_FAILED: Self = Self(2);
    /// `SSH_OPEN_UNKNOWN_CHANNEL_TYPE`.
    pub const UNKNOWN_CHANNEL_TYPE: Self = Self(3);
    /// `SSH_OPEN_RESOURCE_SHORTAGE`.
    pub const RESOURCE_SHORTAGE: Self = Self(4);

    /// The RFC 4250 symbol of a known code.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "SSH_OPEN_ADMINISTRATIVELY_PROHIBITED",
            2 => "SSH_OPEN_CONNECT_FAILED",
            3 => "SSH_OPEN_UNKNOWN_CHANNEL_TYPE",
            4 => "SSH_OPEN_RESOURCE_SHORTAGE",
            _ => return None,
        })
    }
}

impl core::fmt::Display for OpenFailureReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "open failure reason {}", self.0),
        }
    }
}

/// `SSH_MSG_GLOBAL_REQUEST` (RFC 4254 §4), with its request-specific data kept as bytes.
///
/// [`GlobalRequest::typed`] interprets the data of the requests this crate knows; the
/// constructors build them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalRequest<'a> {
    /// `string request name in US-ASCII only`.
    pub name: Cow<'a, str>,
    /// `boolean want reply`.
    pub want_reply: bool,
    /// `....  request-specific data follows`.
    pub data: Cow<'a, [u8]>,
}

/// The request-specific data of a global request, interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalRequestType<'a> {
    /// `tcpip-forward` (RFC 4254 §7.1): listen on an address and port of the server.
    TcpipForward {
        /// `string address to bind (e.g., "0.0.0.0")`.
        address: Cow<'a, str>,
        /// `uint32 port number to bind` (0: the server chooses).
        port: u32,
    },
    /// `cancel-tcpip-forward` (RFC 4254 §7.1).
    CancelTcpipForward {
        /// `string address_to_bind`.
        address: Cow<'a, str>,
        /// `uint32 port number to bind`.
        port: u32,
    },
    /// `keepalive@openssh.com`: a liveness probe; OpenSSH answers it with failure.
    Keepalive,
    /// `no-more-sessions@openssh.com`: the client will open no further sessions (OpenSSH
    /// `PROTOCOL` §2.2), so the server refuses any.
    NoMoreSessions,
    /// `hostkeys-00@openssh.com`: the server's host keys, as public key blobs (OpenSSH
    /// `PROTOCOL` §2.5).
    HostKeys(Vec<Cow<'a, [u8]>>),
    /// Any other request: its data is in [`GlobalRequest::data`].
    Other,
}

impl GlobalRequest<'_> {
    /// `tcpip-forward` name.
    pub const TCPIP_FORWARD: &'static str = "tcpip-forward";
    /// `cancel-tcpip-forward` name.
    pub const CANCEL_TCPIP_FORWARD: &'static str = "cancel-tcpip-forward";
    /// `keepalive@openssh.com` name.
    pub const KEEPALIVE: &'static str = "keepalive@openssh.com";
    /// `no-more-sessions@openssh.com` name.
    pub const NO_MORE_SESSIONS: &'static str = "no-more-sessions@openssh.com";
    /// `hostkeys-00@openssh.com` name.
    pub const HOST_KEYS: &'static str = "hostkeys-00@openssh.com";

    /// A request built from its typed data.
    ///
    /// [`GlobalRequestType::Other`] has no name or data of its own: build those requests
    /// field by field.
    pub fn from_typed(kind: &GlobalRequestType<'_>, want_reply: bool) -> GlobalRequest<'static> {
        let mut w = Writer::new();
        let name = match kind {
            GlobalRequestType::TcpipForward { address, port } => {
                w.string(address.as_bytes()).u32(*port);
                Self::TCPIP_FORWARD
            }
            GlobalRequestType::CancelTcpipForward { address, port } => {
                w.string(address.as_bytes()).u32(*port);
                Self::CANCEL_TCPIP_FORWARD
            }
            GlobalRequestType::Keepalive => Self::KEEPALIVE,
            GlobalRequestType::NoMoreSessions => Self::NO_MORE_SESSIONS,
            GlobalRequestType::HostKeys(keys) => {
                for k in keys {
                    w.string(k);
                }
                Self::HOST_KEYS
            }
            GlobalRequestType::Other => "",
        };
        GlobalRequest {
            name: Cow::Borrowed(name),
            want_reply,
            data: Cow::Owned(w.into_vec()),
        }
    }

    /// The request-specific data, interpreted for the requests this crate knows.
    ///
    /// Fails when a known request's data is malformed.
    pub fn typed(&self) -> Result<GlobalRequestType<'_>, Error> {
        let mut r = Reader::new(&self.data);
        let kind = match &*self.name {
            Self::TCPIP_FORWARD | Self::CANCEL_TCPIP_FORWARD => {
                let address = text(&mut r, "bind address", MAX_ADDRESS_LEN)?;
                let port = r.u32()?;
                if self.name == Self::TCPIP_FORWARD {
                    GlobalRequestType::TcpipForward { address, port }
                } else {
                    GlobalRequestType::CancelTcpipForward { address, port }
                }
            }
            Self::KEEPALIVE => GlobalRequestType::Keepalive,
            Self::NO_MORE_SESSIONS => GlobalRequestType::NoMoreSessions,
            Self::HOST_KEYS => {
                let mut keys = Vec::new();
                while !r.is_empty() {
                    if keys.len() == MAX_HOST_KEYS {
                        return Err(Error::TooLong {
                            what: "host keys",
                            limit: MAX_HOST_KEYS,
                            found: MAX_HOST_KEYS + 1,
                        });
                    }
                    keys.push(bytes(&mut r, "host key", MAX_HOST_KEY_LEN)?);
                }
                GlobalRequestType::HostKeys(keys)
            }
            _ => return Ok(GlobalRequestType::Other),
        };
        r.finish()?;
        Ok(kind)
    }

    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(GLOBAL_REQUEST.0)
            .string(self.name.as_bytes())
            .bool(self.want_reply)
            .raw(&self.data);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &[u8]) -> Result<GlobalRequest<'_>, Error> {
        let mut r = body(payload, GLOBAL_REQUEST)?;
        let name = text(&mut r, "request name", MAX_NAME_LEN)?;
        let want_reply = r.bool()?;
        let data = Cow::Borrowed(r.rest());
        Ok(GlobalRequest {
            name,
            want_reply,
            data,
        })
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> GlobalRequest<'static> {
        GlobalRequest {
            name: Cow::Owned(self.name.into_owned()),
            want_reply: self.want_reply,
            data: Cow::Owned(self.data.into_owned()),
        }
    }
}

/// `SSH_MSG_REQUEST_SUCCESS` (RFC 4254 §4), with its response-specific data (for
/// `tcpip-forward` with port 0, the port that was bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSuccess<'a> {
    /// `....  response specific data`.
    pub data: &'a [u8],
}

impl<'a> RequestSuccess<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(REQUEST_SUCCESS.0).raw(self.data);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, REQUEST_SUCCESS)?;
        Ok(RequestSuccess { data: r.rest() })
    }
}

/// `SSH_MSG_REQUEST_FAILURE` (RFC 4254 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFailure;

impl RequestFailure {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(REQUEST_FAILURE.0);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        body(payload, REQUEST_FAILURE)?.finish()?;
        Ok(RequestFailure)
    }
}

/// The type of a channel and its channel-type-specific data (RFC 4254 §6.1, §6.3.2, §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelType<'a> {
    /// `session` (RFC 4254 §6.1): a shell, a command or a subsystem.
    Session,
    /// `direct-tcpip` (RFC 4254 §7.2): a connection the server makes on the client's behalf.
    DirectTcpip {
        /// `string host to connect`.
        host: Cow<'a, str>,
        /// `uint32 port to connect`.
        port: u32,
        /// `string originator IP address`.
        originator: Cow<'a, str>,
        /// `uint32 originator port`.
        originator_port: u32,
    },
    /// `forwarded-tcpip` (RFC 4254 §7.2): a connection to a port forwarded with `tcpip-forward`.
    ForwardedTcpip {
        /// `string address that was connected`.
        address: Cow<'a, str>,
        /// `uint32 port that was connected`.
        port: u32,
        /// `string originator IP address`.
        originator: Cow<'a, str>,
        /// `uint32 originator port`.
        originator_port: u32,
    },
    /// `x11` (RFC 4254 §6.3.2).
    X11 {
        /// `string originator address`.
        originator: Cow<'a, str>,
        /// `uint32 originator port`.
        originator_port: u32,
    },
    /// Any other channel type, with its data uninterpreted.
    Other {
        /// `string channel type in US-ASCII only`.
        name: Cow<'a, str>,
        /// `....  channel type specific data follows`.
        data: Cow<'a, [u8]>,
    },
}

impl ChannelType<'_> {
    /// The channel type's name as it goes on the wire.
    pub fn name(&self) -> &str {
        match self {
            ChannelType::Session => "session",
            ChannelType::DirectTcpip { .. } => "direct-tcpip",
            ChannelType::ForwardedTcpip { .. } => "forwarded-tcpip",
            ChannelType::X11 { .. } => "x11",
            ChannelType::Other { name, .. } => name,
        }
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> ChannelType<'static> {
        let own = |s: Cow<'_, str>| Cow::Owned(s.into_owned());
        match self {
            ChannelType::Session => ChannelType::Session,
            ChannelType::DirectTcpip {
                host,
                port,
                originator,
                originator_port,
            } => ChannelType::DirectTcpip {
                host: own(host),
                port,
                originator: own(originator),
                originator_port,
            },
            ChannelType::ForwardedTcpip {
                address,
                port,
                originator,
                originator_port,
            } => ChannelType::ForwardedTcpip {
                address: own(address),
                port,
                originator: own(originator),
                originator_port,
            },
            ChannelType::X11 {
                originator,
                originator_port,
            } => ChannelType::X11 {
                originator: own(originator),
                originator_port,
            },
            ChannelType::Other { name, data } => ChannelType::Other {
                name: own(name),
                data: Cow::Owned(data.into_owned()),
            },
        }
    }
}

/// `SSH_MSG_CHANNEL_OPEN` (RFC 4254 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOpen<'a> {
    /// The channel type and its data.
    pub channel_type: ChannelType<'a>,
    /// `uint32 sender channel`.
    pub sender: u32,
    /// `uint32 initial window size`.
    pub initial_window: u32,
    /// `uint32 maximum packet size`.
    pub max_packet: u32,
}

impl<'a> ChannelOpen<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(CHANNEL_OPEN.0)
            .string(self.channel_type.name().as_bytes())
            .u32(self.sender)
            .u32(self.initial_window)
            .u32(self.max_packet);
        match &self.channel_type {
            ChannelType::Session => {}
            ChannelType::DirectTcpip {
                host: a,
                port: p,
                originator: o,
                originator_port: op,
            }
            | ChannelType::ForwardedTcpip {
                address: a,
                port: p,
                originator: o,
                originator_port: op,
            } => {
                w.string(a.as_bytes()).u32(*p).string(o.as_bytes()).u32(*op);
            }
            ChannelType::X11 {
                originator,
                originator_port,
            } => {
                w.string(originator.as_bytes()).u32(*originator_port);
            }
            ChannelType::Other { data, .. } => {
                w.raw(data);
            }
        }
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, CHANNEL_OPEN)?;
        let name = text(&mut r, "channel type", MAX_NAME_LEN)?;
        let sender = r.u32()?;
        let initial_window = r.u32()?;
        let max_packet = r.u32()?;
        let channel_type = match &*name {
            "session" => ChannelType::Session,
            "direct-tcpip" | "forwarded-tcpip" => {
                let a = text(&mut r, "address", MAX_ADDRESS_LEN)?;
                let p = r.u32()?;
                let o = text(&mut r, "originator address", MAX_ADDRESS_LEN)?;
                let op = r.u32()?;
                if name == "direct-tcpip" {
                    ChannelType::DirectTcpip {
                        host: a,
                        port: p,
                        originator: o,
                        originator_port: op,
                    }
                } else {
                    ChannelType::ForwardedTcpip {
                        address: a,
                        port: p,
                        originator: o,
                        originator_port: op,
                    }
                }
            }
            "x11" => ChannelType::X11 {
                originator: text(&mut r, "originator address", MAX_ADDRESS_LEN)?,
                originator_port: r.u32()?,
            },
            _ => ChannelType::Other {
                name,
                data: Cow::Borrowed(r.rest()),
            },
        };
        r.finish()?;
        Ok(ChannelOpen {
            channel_type,
            sender,
            initial_window,
            max_packet,
        })
    }
}

/// `SSH_MSG_CHANNEL_OPEN_CONFIRMATION` (RFC 4254 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenConfirmation<'a> {
    /// `uint32 recipient channel`: the opener's number.
    pub recipient: u32,
    /// `uint32 sender channel`: the confirmer's number.
    pub sender: u32,
    /// `uint32 initial window size`.
    pub initial_window: u32,
    /// `uint32 maximum packet size`.
    pub max_packet: u32,
    /// `....  channel type specific data follows` (empty for every type RFC 4254 defines).
    pub data: &'a [u8],
}

impl<'a> OpenConfirmation<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(CHANNEL_OPEN_CONFIRMATION.0)
            .u32(self.recipient)
            .u32(self.sender)
            .u32(self.initial_window)
            .u32(self.max_packet)
            .raw(self.data);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, CHANNEL_OPEN_CONFIRMATION)?;
        Ok(OpenConfirmation {
            recipient: r.u32()?,
            sender: r.u32()?,
            initial_window: r.u32()?,
            max_packet: r.u32()?,
            data: r.rest(),
        })
    }
}

/// `SSH_MSG_CHANNEL_OPEN_FAILURE` (RFC 4254 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFailure<'a> {
    /// `uint32 recipient channel`.
    pub recipient: u32,
    /// `uint32 reason code`.
    pub reason: OpenFailureReason,
    /// `string description in ISO-10646 UTF-8 encoding`.
    pub description: Cow<'a, str>,
    /// `string language tag`.
    pub language: Cow<'a, str>,
}

impl<'a> OpenFailure<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(CHANNEL_OPEN_FAILURE.0)
            .u32(self.recipient)
            .u32(self.reason.0)
            .string(self.description.as_bytes())
            .string(self.language.as_bytes());
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, CHANNEL_OPEN_FAILURE)?;
        let m = OpenFailure {
            recipient: r.u32()?,
            reason: OpenFailureReason(r.u32()?),
            description: text(&mut r, "description", MAX_TEXT_LEN)?,
            language: text(&mut r, "language tag", MAX_LANGUAGE_LEN)?,
        };
        r.finish()?;
        Ok(m)
    }
}

/// `SSH_MSG_CHANNEL_WINDOW_ADJUST` (RFC 4254 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowAdjust {
    /// `uint32 recipient channel`.
    pub recipient: u32,
    /// `uint32 bytes to add`.
    pub bytes_to_add: u32,
}

impl WindowAdjust {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(CHANNEL_WINDOW_ADJUST.0)
            .u32(self.recipient)
            .u32(self.bytes_to_add);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        let mut r = body(payload, CHANNEL_WINDOW_ADJUST)?;
        let m = WindowAdjust {
            recipient: r.u32()?,
            bytes_to_add: r.u32()?,
        };
        r.finish()?;
        Ok(m)
    }
}

/// `SSH_MSG_CHANNEL_DATA` (RFC 4254 §5.2).
///
/// The data is bounded by the payload, which the transport bounds; the engine checks it
/// against the channel's window and maximum packet size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelData<'a> {
    /// `uint32 recipient channel`.
    pub recipient: u32,
    /// `string data`.
    pub data: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// Appends the header of a message carrying `len` bytes of data; the data follows.
    ///
    /// This is how the engine writes data without copying it twice: header, then the
    /// caller's bytes straight into the same buffer.
    pub fn encode_header(recipient: u32, len: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::header(recipient, len));
    }

    /// The header [`ChannelData::encode_header`] appends, for a sender that writes it into
    /// room left in front of the data.
    pub fn header(recipient: u32, len: u32) -> [u8; DATA_HEADER_LEN] {
        let [r0, r1, r2, r3] = recipient.to_be_bytes();
        let [l0, l1, l2, l3] = len.to_be_bytes();
        [CHANNEL_DATA.0, r0, r1, r2, r3, l0, l1, l2, l3]
    }

    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(CHANNEL_DATA.0).u32(self.recipient).string(self.data);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, CHANNEL_DATA)?;
        let m = ChannelData {
            recipient: r.u32()?,
            data: r.string()?,
        };
        r.finish()?;
        Ok(m)
    }
}

/// `SSH_MSG_CHANNEL_EXTENDED_DATA` (RFC 4254 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedData<'a> {
    /// `uint32 recipient channel`.
    pub recipient: u32,
    /// `uint32 data_type_code` ([`EXTENDED_DATA_STDERR`] is the only one defined).
    pub data_type: u32,
    /// `string data`.
    pub data: &'a [u8],
}

impl<'a> ExtendedData<'a> {
    /// Appends the header of a message carrying `len` bytes of data; the data follows.
    pub fn encode_header(recipient: u32, data_type: u32, len: u32, out: &mut Vec<u8>) {
        out.push(CHANNEL_EXTENDED_DATA.0);
        out.extend_from_slice(&recipient.to_be_bytes());
        out.extend_from_slice(&data_type.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
    }

    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(CHANNEL_EXTENDED_DATA.0)
            .u32(self.recipient)
            .u32(self.data_type)
            .string(self.data);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, CHANNEL_EXTENDED_DATA)?;
        let m = ExtendedData {
            recipient: r.u32()?,
            data_type: r.u32()?,
            data: r.string()?,
        };
        r.finish()?;
        Ok(m)
    }
}

/// A message whose only field is the recipient channel: `SSH_MSG_CHANNEL_EOF`,
/// `SSH_MSG_CHANNEL_CLOSE`, `SSH_MSG_CHANNEL_SUCCESS` or `SSH_MSG_CHANNEL_FAILURE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelSignal {
    /// Which of the four messages.
    pub number: MessageNumber,
    /// `uint32 recipient channel`.
    pub recipient: u32,
}

impl ChannelSignal {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.number.0).u32(self.recipient);
    }

    /// Decodes a whole message of number `number`.
    pub fn decode(payload: &[u8], number: MessageNumber) -> Result<Self, Error> {
        let mut r = body(payload, number)?;
        let recipient = r.u32()?;
        r.finish()?;
        Ok(ChannelSignal { number, recipient })
    }
}

/// A channel request and its request-specific data (RFC 4254 §6, OpenSSH `PROTOCOL` §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRequestType<'a> {
    /// `pty-req` (RFC 4254 §6.2).
    PtyReq {
        /// `string TERM environment variable value (e.g., vt100)`.
        term: Cow<'a, str>,
        /// `uint32 terminal width, characters`.
        columns: u32,
        /// `uint32 terminal height, rows`.
        rows: u32,
        /// `uint32 terminal width, pixels`.
        width_px: u32,
        /// `uint32 terminal height, pixels`.
        height_px: u32,
        /// `string encoded terminal modes` (RFC 4254 §8).
        modes: Cow<'a, [u8]>,
    },
    /// `env` (RFC 4254 §6.4).
    Env {
        /// `string variable name`.
        name: Cow<'a, [u8]>,
        /// `string variable value`.
        value: Cow<'a, [u8]>,
    },
    /// `shell` (RFC 4254 §6.5).
    Shell,
    /// `exec` (RFC 4254 §6.5).
    Exec {
        /// `string command`.
        command: Cow<'a, [u8]>,
    },
    /// `subsystem` (RFC 4254 §6.5).
    Subsystem {
        /// `string subsystem name`.
        name: Cow<'a, str>,
    },
    /// `window-change` (RFC 4254 §6.7).
    WindowChange {
        /// `uint32 terminal width, columns`.
        columns: u32,
        /// `uint32 terminal height, rows`.
        rows: u32,
        /// `uint32 terminal width, pixels`.
        width_px: u32,
        /// `uint32 terminal height, pixels`.
        height_px: u32,
    },
    /// `signal` (RFC 4254 §6.9).
    Signal {
        /// `string signal name (without the "SIG" prefix)`.
        name: Cow<'a, str>,
    },
    /// `exit-status` (RFC 4254 §6.10).
    ExitStatus {
        /// `uint32 exit_status`.
        status: u32,
    },
    /// `exit-signal` (RFC 4254 §6.10).
    ExitSignal {
        /// `string signal name (without the "SIG" prefix)`.
        signal: Cow<'a, str>,
        /// `boolean core dumped`.
        core_dumped: bool,
        /// `string error message in ISO-10646 UTF-8 encoding`.
        message: Cow<'a, str>,
        /// `string language tag`.
        language: Cow<'a, str>,
    },
    /// `keepalive@openssh.com`: a liveness probe; OpenSSH answers it with failure.
    Keepalive,
    /// `eow@openssh.com`: end of write; the peer will not read stdin any more (OpenSSH
    /// `PROTOCOL` §2.1).
    Eow,
    /// Any other request, with its data uninterpreted.
    Other {
        /// `string request type in US-ASCII characters only`.
        name: Cow<'a, str>,
        /// `....  type-specific data follows`.
        data: Cow<'a, [u8]>,
    },
}

impl ChannelRequestType<'_> {
    /// The request's name as it goes on the wire.
    pub fn name(&self) -> &str {
        match self {
            ChannelRequestType::PtyReq { .. } => "pty-req",
            ChannelRequestType::Env { .. } => "env",
            ChannelRequestType::Shell => "shell",
            ChannelRequestType::Exec { .. } => "exec",
            ChannelRequestType::Subsystem { .. } => "subsystem",
            ChannelRequestType::WindowChange { .. } => "window-change",
            ChannelRequestType::Signal { .. } => "signal",
            ChannelRequestType::ExitStatus { .. } => "exit-status",
            ChannelRequestType::ExitSignal { .. } => "exit-signal",
            ChannelRequestType::Keepalive => "keepalive@openssh.com",
            ChannelRequestType::Eow => "eow@openssh.com",
            ChannelRequestType::Other { name, .. } => name,
        }
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> ChannelRequestType<'static> {
        fn s(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        fn b(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
            Cow::Owned(c.into_owned())
        }
        use ChannelRequestType as T;
        match self {
            T::PtyReq {
                term,
                columns,
                rows,
                width_px,
                height_px,
                modes,
            } => T::PtyReq {
                term: s(term),
                columns,
                rows,
                width_px,
                height_px,
                modes: b(modes),
            },
            T::Env { name, value } => T::Env {
                name: b(name),
                value: b(value),
            },
            T::Shell => T::Shell,
            T::Exec { command } => T::Exec {
                command: b(command),
            },
            T::Subsystem { name } => T::Subsystem { name: s(name) },
            T::WindowChange {
                columns,
                rows,
                width_px,
                height_px,
            } => T::WindowChange {
                columns,
                rows,
                width_px,
                height_px,
            },
            T::Signal { name } => T::Signal { name: s(name) },
            T::ExitStatus { status } => T::ExitStatus { status },
            T::ExitSignal {
                signal,
                core_dumped,
                message,
                language,
            } => T::ExitSignal {
                signal: s(signal),
                core_dumped,
                message: s(message),
                language: s(language),
            },
            T::Keepalive => T::Keepalive,
            T::Eow => T::Eow,
            T::Other { name, data } => T::Other {
                name: s(name),
                data: b(data),
            },
        }
    }

    /// Appends the request-specific data.
    fn encode_data(&self, w: &mut Writer) {
        use ChannelRequestType as T;
        match self {
            T::PtyReq {
                term,
                columns,
                rows,
                width_px,
                height_px,
                modes,
            } => {
                w.string(term.as_bytes())
                    .u32(*columns)
                    .u32(*rows)
                    .u32(*width_px)
                    .u32(*height_px)
                    .string(modes);
            }
            T::Env { name, value } => {
                w.string(name).string(value);
            }
            T::Shell | T::Keepalive | T::Eow => {}
            T::Exec { command } => {
                w.string(command);
            }
            T::Subsystem { name } | T::Signal { name } => {
                w.string(name.as_bytes());
            }
            T::WindowChange {
                columns,
                rows,
                width_px,
                height_px,
            } => {
                w.u32(*columns).u32(*rows).u32(*width_px).u32(*height_px);
            }
            T::ExitStatus { status } => {
                w.u32(*status);
            }
            T::ExitSignal {
                signal,
                core_dumped,
                message,
                language,
            } => {
                w.string(signal.as_bytes())
                    .bool(*core_dumped)
                    .string(message.as_bytes())
                    .string(language.as_bytes());
            }
            T::Other { data, .. } => {
                w.raw(data);
            }
        }
    }

    /// Decodes the request-specific data of the request named `name`.
    fn decode_data<'a>(
        name: Cow<'a, str>,
        r: &mut Reader<'a>,
    ) -> Result<ChannelRequestType<'a>, Error> {
        use ChannelRequestType as T;
        Ok(match &*name {
            "pty-req" => T::PtyReq {
                term: text(r, "TERM", MAX_TERM_LEN)?,
                columns: r.u32()?,
                rows: r.u32()?,
                width_px: r.u32()?,
                height_px: r.u32()?,
                modes: bytes(r, "terminal modes", MAX_MODES_LEN)?,
            },
            "env" => T::Env {
                name: bytes(r, "variable name", MAX_ENV_NAME_LEN)?,
                value: bytes(r, "variable value", MAX_COMMAND_LEN)?,
            },
            "shell" => T::Shell,
            "exec" => T::Exec {
                command: bytes(r, "command", MAX_COMMAND_LEN)?,
            },
            "subsystem" => T::Subsystem {
                name: text(r, "subsystem name", MAX_NAME_LEN)?,
            },
            "window-change" => T::WindowChange {
                columns: r.u32()?,
                rows: r.u32()?,
                width_px: r.u32()?,
                height_px: r.u32()?,
            },
            "signal" => T::Signal {
                name: text(r, "signal name", MAX_NAME_LEN)?,
            },
            "exit-status" => T::ExitStatus { status: r.u32()? },
            "exit-signal" => T::ExitSignal {
                signal: text(r, "signal name", MAX_NAME_LEN)?,
                core_dumped: r.bool()?,
                message: text(r, "error message", MAX_TEXT_LEN)?,
                language: text(r, "language tag", MAX_LANGUAGE_LEN)?,
            },
            "keepalive@openssh.com" => T::Keepalive,
            "eow@openssh.com" => T::Eow,
            _ => T::Other {
                name,
                data: Cow::Borrowed(r.rest()),
            },
        })
    }
}

/// `SSH_MSG_CHANNEL_REQUEST` (RFC 4254 §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRequest<'a> {
    /// `uint32 recipient channel`.
    pub recipient: u32,
    /// `boolean want reply`.
    pub want_reply: bool,
    /// `string request type` and the type-specific data.
    pub request: ChannelRequestType<'a>,
}

impl<'a> ChannelRequest<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(CHANNEL_REQUEST.0)
            .u32(self.recipient)
            .string(self.request.name().as_bytes())
            .bool(self.want_reply);
        self.request.encode_data(w);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, CHANNEL_REQUEST)?;
        let recipient = r.u32()?;
        let name = text(&mut r, "request type", MAX_NAME_LEN)?;
        let want_reply = r.bool()?;
        let request = ChannelRequestType::decode_data(name, &mut r)?;
        r.finish()?;
        Ok(ChannelRequest {
            recipient,
            want_reply,
            request,
        })
    }
}

/// Any connection protocol message, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// `SSH_MSG_GLOBAL_REQUEST`.
    GlobalRequest(GlobalRequest<'a>),
    /// `SSH_MSG_REQUEST_SUCCESS`.
    RequestSuccess(RequestSuccess<'a>),
    /// `SSH_MSG_REQUEST_FAILURE`.
    RequestFailure,
    /// `SSH_MSG_CHANNEL_OPEN`.
    ChannelOpen(ChannelOpen<'a>),
    /// `SSH_MSG_CHANNEL_OPEN_CONFIRMATION`.
    OpenConfirmation(OpenConfirmation<'a>),
    /// `SSH_MSG_CHANNEL_OPEN_FAILURE`.
    OpenFailure(OpenFailure<'a>),
    /// `SSH_MSG_CHANNEL_WINDOW_ADJUST`.
    WindowAdjust(WindowAdjust),
    /// `SSH_MSG_CHANNEL_DATA`.
    Data(ChannelData<'a>),
    /// `SSH_MSG_CHANNEL_EXTENDED_DATA`.
    ExtendedData(ExtendedData<'a>),
    /// `SSH_MSG_CHANNEL_EOF`, `_CLOSE`, `_SUCCESS` or `_FAILURE`.
    Signal(ChannelSignal),
    /// `SSH_MSG_CHANNEL_REQUEST`.
    ChannelRequest(ChannelRequest<'a>),
}

impl<'a> Message<'a> {
    /// Decodes a whole payload of any connection protocol message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let number = MessageNumber(*payload.first().ok_or(Error::Truncated {
            needed: 1,
            available: 0,
        })?);
        Ok(match number {
            GLOBAL_REQUEST => Message::GlobalRequest(GlobalRequest::decode(payload)?),
            REQUEST_SUCCESS => Message::RequestSuccess(RequestSuccess::decode(payload)?),
            REQUEST_FAILURE => {
                RequestFailure::decode(payload)?;
                Message::RequestFailure
            }
            CHANNEL_OPEN => Message::ChannelOpen(ChannelOpen::decode(payload)?),
            CHANNEL_OPEN_CONFIRMATION => {
                Message::OpenConfirmation(OpenConfirmation::decode(payload)?)
            }
            CHANNEL_OPEN_FAILURE => Message::OpenFailure(OpenFailure::decode(payload)?),
            CHANNEL_WINDOW_ADJUST => Message::WindowAdjust(WindowAdjust::decode(payload)?),
            CHANNEL_DATA => Message::Data(ChannelData::decode(payload)?),
            CHANNEL_EXTENDED_DATA => Message::ExtendedData(ExtendedData::decode(payload)?),
            CHANNEL_EOF | CHANNEL_CLOSE | CHANNEL_SUCCESS | CHANNEL_FAILURE => {
                Message::Signal(ChannelSignal::decode(payload, number)?)
            }
            CHANNEL_REQUEST => Message::ChannelRequest(ChannelRequest::decode(payload)?),
            _ => return Err(Error::Invalid("not a connection protocol message")),
        })
    }

    /// Appends the whole payload.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Message::GlobalRequest(m) => m.encode(w),
            Message::RequestSuccess(m) => m.encode(w),
            Message::RequestFailure => RequestFailure.encode(w),
            Message::ChannelOpen(m) => m.encode(w),
            Message::OpenConfirmation(m) => m.encode(w),
            Message::OpenFailure(m) => m.encode(w),
            Message::WindowAdjust(m) => m.encode(w),
            Message::Data(m) => m.encode(w),
            Message::ExtendedData(m) => m.encode(w),
            Message::Signal(m) => m.encode(w),
            Message::ChannelRequest(m) => m.encode(w),
        }
    }
}

#[cfg(test)]
mod tests;
