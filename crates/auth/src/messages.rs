//! The user authentication messages: one codec, shared by client and server.
//!
//! Every type encodes its whole payload (message number first) and decodes from a whole
//! payload, refusing a wrong message number, truncation, trailing bytes and anything longer
//! than the documented limits. Decoded values borrow from the payload.
//!
//! Message number 60 means three different things (RFC 4252 §7 `SSH_MSG_USERAUTH_PK_OK`,
//! RFC 4252 §8 `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ`, RFC 4256 §3.2
//! `SSH_MSG_USERAUTH_INFO_REQUEST`): which one it is depends on the method of the request it
//! answers. [`ServerMessage::decode`] therefore takes that method as an argument and refuses a
//! 60 that answers no request that could have one.

use sshwire_transport::MessageNumber;
use sshwire_wire::{Error, NameList, NameListLimits, Reader, Writer};

/// `SSH_MSG_USERAUTH_REQUEST` (RFC 4252 §5).
pub const USERAUTH_REQUEST: MessageNumber = MessageNumber(50);
/// `SSH_MSG_USERAUTH_FAILURE` (RFC 4252 §5.1).
pub const USERAUTH_FAILURE: MessageNumber = MessageNumber(51);
/// `SSH_MSG_USERAUTH_SUCCESS` (RFC 4252 §5.1).
pub const USERAUTH_SUCCESS: MessageNumber = MessageNumber(52);
/// `SSH_MSG_USERAUTH_BANNER` (RFC 4252 §5.4).
pub const USERAUTH_BANNER: MessageNumber = MessageNumber(53);
/// `SSH_MSG_USERAUTH_PK_OK`, `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ` and
/// `SSH_MSG_USERAUTH_INFO_REQUEST`: the method-specific number 60 (RFC 4250 §4.1.2).
pub const USERAUTH_60: MessageNumber = MessageNumber(60);
/// `SSH_MSG_USERAUTH_INFO_RESPONSE` (RFC 4256 §3.4).
pub const USERAUTH_INFO_RESPONSE: MessageNumber = MessageNumber(61);

/// Longest user name accepted, in bytes.
pub const MAX_USER_LEN: usize = 256;
/// Longest service or method name accepted (RFC 4250 names are at most 64 characters).
pub const MAX_NAME_LEN: usize = 64;
/// Longest password accepted, in bytes (OpenSSH's `auth-passwd.c` refuses longer ones too).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Longest public key blob accepted (a 16384-bit RSA key takes about 2 KiB).
pub const MAX_KEY_BLOB_LEN: usize = 8 * 1024;
/// Longest signature blob accepted.
pub const MAX_SIGNATURE_LEN: usize = 8 * 1024;
/// Longest banner accepted by a client.
pub const MAX_BANNER_LEN: usize = 32 * 1024;
/// Longest language tag accepted (RFC 3066 tags are far shorter).
pub const MAX_LANGUAGE_LEN: usize = 64;
/// Longest prompt, name, instruction or submethod list accepted.
pub const MAX_TEXT_LEN: usize = 4096;
/// Longest keyboard-interactive response accepted, in bytes.
pub const MAX_RESPONSE_LEN: usize = MAX_PASSWORD_LEN;
/// Most prompts in one `SSH_MSG_USERAUTH_INFO_REQUEST` and responses in one
/// `SSH_MSG_USERAUTH_INFO_RESPONSE`.
pub const MAX_PROMPTS: usize = 32;
/// Longest method-specific data of a method this codec does not know.
pub const MAX_OTHER_METHOD_DATA: usize = 16 * 1024;

/// Bounds on the name-list of `SSH_MSG_USERAUTH_FAILURE`.
pub const FAILURE_NAME_LIST_LIMITS: NameListLimits = NameListLimits {
    max_len: 1024,
    max_names: 32,
};

/// The method names of RFC 4252 §5.2, §7, §8 and RFC 4256 §3.1.
pub mod method {
    /// `none` (RFC 4252 §5.2).
    pub const NONE: &str = "none";
    /// `password` (RFC 4252 §8).
    pub const PASSWORD: &str = "password";
    /// `publickey` (RFC 4252 §7).
    pub const PUBLICKEY: &str = "publickey";
    /// `keyboard-interactive` (RFC 4256 §3.1).
    pub const KEYBOARD_INTERACTIVE: &str = "keyboard-interactive";
}

/// Starts a reader after the message number, which must be `number`.
fn body(payload: &[u8], number: MessageNumber) -> Result<Reader<'_>, Error> {
    let mut r = Reader::new(payload);
    if r.u8()? != number.0 {
        return Err(Error::Invalid("unexpected message number"));
    }
    Ok(r)
}

/// A UTF-8 `string` of at most `limit` bytes.
fn utf8_limited<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
    limit: usize,
) -> Result<&'a str, Error> {
    let save = r.clone();
    let s = r.string_limited(what, limit)?;
    core::str::from_utf8(s).map_err(|_| {
        *r = save;
        Error::InvalidUtf8
    })
}

/// A count as a `uint32`, refused above `limit`.
fn count(r: &mut Reader<'_>, what: &'static str, limit: usize) -> Result<usize, Error> {
    let n = r.u32()?;
    match usize::try_from(n) {
        Ok(n) if n <= limit => Ok(n),
        _ => Err(Error::TooLong {
            what,
            limit,
            found: usize::try_from(n).unwrap_or(usize::MAX),
        }),
    }
}

fn u32_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The method-specific part of an `SSH_MSG_USERAUTH_REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodRequest<'a> {
    /// RFC 4252 §5.2: `"none"`, no further fields.
    None,
    /// RFC 4252 §8: `"password"`, `boolean FALSE`, `string plaintext password`; or with
    /// `boolean TRUE`, the old password then the new one.
    Password {
        /// `string plaintext password in ISO-10646 UTF-8 encoding` (the old one on a change).
        password: &'a str,
        /// `string plaintext new password`, present when the change flag is TRUE.
        new_password: Option<&'a str>,
    },
    /// RFC 4252 §7: `"publickey"`, `boolean`, `string public key algorithm name`, `string
    /// public key blob` and, when the boolean is TRUE, `string signature`.
    PublicKey {
        /// The public key algorithm name, e.g. `rsa-sha2-512`.
        algorithm: &'a str,
        /// The public key blob (RFC 4253 §6.6).
        key_blob: &'a [u8],
        /// The signature blob; `None` for a query (the boolean is FALSE).
        signature: Option<&'a [u8]>,
    },
    /// RFC 4256 §3.1: `"keyboard-interactive"`, `string language tag`, `string submethods`.
    KeyboardInteractive {
        /// The deprecated language tag (RFC 4256 §3.1: "SHOULD be the empty string").
        language: &'a str,
        /// The submethods the client would like, comma separated.
        submethods: &'a str,
    },
    /// A method this codec does not know, with its fields undecoded.
    Other {
        /// The method name.
        name: &'a str,
        /// Everything after the method name.
        data: &'a [u8],
    },
}

impl MethodRequest<'_> {
    /// The method name on the wire.
    pub fn name(&self) -> &str {
        match self {
            MethodRequest::None => method::NONE,
            MethodRequest::Password { .. } => method::PASSWORD,
            MethodRequest::PublicKey { .. } => method::PUBLICKEY,
            MethodRequest::KeyboardInteractive { .. } => method::KEYBOARD_INTERACTIVE,
            MethodRequest::Other { name, .. } => name,
        }
    }
}

/// `SSH_MSG_USERAUTH_REQUEST` (RFC 4252 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthRequest<'a> {
    /// `string user name in ISO-10646 UTF-8 encoding`, at most [`MAX_USER_LEN`] bytes.
    pub user: &'a str,
    /// `string service name in US-ASCII`, at most [`MAX_NAME_LEN`] bytes.
    pub service: &'a str,
    /// `string method name` and the method-specific fields.
    pub method: MethodRequest<'a>,
}

impl<'a> UserauthRequest<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(USERAUTH_REQUEST.0)
            .string(self.user.as_bytes())
            .string(self.service.as_bytes())
            .string(self.method.name().as_bytes());
        match &self.method {
            MethodRequest::None => {}
            MethodRequest::Password {
                password,
                new_password,
            } => {
                w.bool(new_password.is_some()).string(password.as_bytes());
                if let Some(new) = new_password {
                    w.string(new.as_bytes());
                }
            }
            MethodRequest::PublicKey {
                algorithm,
                key_blob,
                signature,
            } => {
                w.bool(signature.is_some())
                    .string(algorithm.as_bytes())
                    .string(key_blob);
                if let Some(sig) = signature {
                    w.string(sig);
                }
            }
            MethodRequest::KeyboardInteractive {
                language,
                submethods,
            } => {
                w.string(language.as_bytes()).string(submethods.as_bytes());
            }
            MethodRequest::Other { data, .. } => {
                w.raw(data);
            }
        }
    }

    /// The whole message as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_vec()
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, USERAUTH_REQUEST)?;
        let user = utf8_limited(&mut r, "user name", MAX_USER_LEN)?;
        let service = utf8_limited(&mut r, "service name", MAX_NAME_LEN)?;
        let name = utf8_limited(&mut r, "method name", MAX_NAME_LEN)?;
        let method = match name {
            method::NONE => MethodRequest::None,
            method::PASSWORD => {
                let change = r.bool()?;
                let password = utf8_limited(&mut r, "password", MAX_PASSWORD_LEN)?;
                let new_password = if change {
                    Some(utf8_limited(&mut r, "new password", MAX_PASSWORD_LEN)?)
                } else {
                    None
                };
                MethodRequest::Password {
                    password,
                    new_password,
                }
            }
            method::PUBLICKEY => {
                let signed = r.bool()?;
                let algorithm = utf8_limited(&mut r, "public key algorithm", MAX_NAME_LEN)?;
                let key_blob = r.string_limited("public key blob", MAX_KEY_BLOB_LEN)?;
                let signature = if signed {
                    Some(r.string_limited("signature", MAX_SIGNATURE_LEN)?)
                } else {
                    None
                };
                MethodRequest::PublicKey {
                    algorithm,
                    key_blob,
                    signature,
                }
            }
            method::KEYBOARD_INTERACTIVE => MethodRequest::KeyboardInteractive {
                language: utf8_limited(&mut r, "language tag", MAX_LANGUAGE_LEN)?,
                submethods: utf8_limited(&mut r, "submethods", MAX_TEXT_LEN)?,
            },
            _ => {
                let data = r.rest();
                if data.len() > MAX_OTHER_METHOD_DATA {
                    return Err(Error::TooLong {
                        what: "method-specific fields",
                        limit: MAX_OTHER_METHOD_DATA,
                        found: data.len(),
                    });
                }
                MethodRequest::Other { name, data }
            }
        };
        r.finish()?;
        Ok(UserauthRequest {
            user,
            service,
            method,
        })
    }
}

/// The data a `publickey` signature covers (RFC 4252 §7), used by client and server alike.
///
/// RFC 4252 §7: "The value of 'signature' is a signature by the corresponding private key over
/// the following data, in the following order: `string session identifier`, `byte
/// SSH_MSG_USERAUTH_REQUEST`, `string user name`, `string service name`, `string
/// "publickey"`, `boolean TRUE`, `string public key algorithm name`, `string public key to be
/// used for authentication`".
pub fn publickey_signed_data(
    session_id: &[u8],
    user: &str,
    service: &str,
    algorithm: &str,
    key_blob: &[u8],
) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(session_id)
        .u8(USERAUTH_REQUEST.0)
        .string(user.as_bytes())
        .string(service.as_bytes())
        .string(method::PUBLICKEY.as_bytes())
        .bool(true)
        .string(algorithm.as_bytes())
        .string(key_blob);
    w.into_vec()
}

/// `SSH_MSG_USERAUTH_FAILURE` (RFC 4252 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<'a> {
    /// `name-list authentications that can continue`.
    pub methods: NameList<'a>,
    /// `boolean partial success`.
    pub partial_success: bool,
}

impl<'a> Failure<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(USERAUTH_FAILURE.0)
            .name_list(self.methods.iter())
            .bool(self.partial_success);
    }

    /// Decodes a whole message; the name-list is bounded by [`FAILURE_NAME_LIST_LIMITS`].
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, USERAUTH_FAILURE)?;
        let methods = r.name_list_limited(FAILURE_NAME_LIST_LIMITS)?;
        let partial_success = r.bool()?;
        r.finish()?;
        Ok(Failure {
            methods,
            partial_success,
        })
    }
}

/// Encodes `SSH_MSG_USERAUTH_FAILURE` from method names the caller guarantees are valid.
pub fn encode_failure<'n>(
    w: &mut Writer,
    methods: impl IntoIterator<Item = &'n str>,
    partial_success: bool,
) {
    w.u8(USERAUTH_FAILURE.0)
        .name_list(methods)
        .bool(partial_success);
}

/// `SSH_MSG_USERAUTH_SUCCESS` (RFC 4252 §5.1): the number alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Success;

impl Success {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(USERAUTH_SUCCESS.0);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        body(payload, USERAUTH_SUCCESS)?.finish()?;
        Ok(Success)
    }
}

/// `SSH_MSG_USERAUTH_BANNER` (RFC 4252 §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner<'a> {
    /// `string message in ISO-10646 UTF-8 encoding`, at most [`MAX_BANNER_LEN`] bytes.
    pub message: &'a str,
    /// `string language tag`.
    pub language: &'a str,
}

impl<'a> Banner<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(USERAUTH_BANNER.0)
            .string(self.message.as_bytes())
            .string(self.language.as_bytes());
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, USERAUTH_BANNER)?;
        let message = utf8_limited(&mut r, "banner", MAX_BANNER_LEN)?;
        let language = utf8_limited(&mut r, "language tag", MAX_LANGUAGE_LEN)?;
        r.finish()?;
        Ok(Banner { message, language })
    }
}

/// `SSH_MSG_USERAUTH_PK_OK` (RFC 4252 §7), number 60 in answer to a `publickey` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkOk<'a> {
    /// `string public key algorithm name from the request`.
    pub algorithm: &'a str,
    /// `string public key blob from the request`.
    pub key_blob: &'a [u8],
}

impl<'a> PkOk<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(USERAUTH_60.0)
            .string(self.algorithm.as_bytes())
            .string(self.key_blob);
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, USERAUTH_60)?;
        let algorithm = utf8_limited(&mut r, "public key algorithm", MAX_NAME_LEN)?;
        let key_blob = r.string_limited("public key blob", MAX_KEY_BLOB_LEN)?;
        r.finish()?;
        Ok(PkOk {
            algorithm,
            key_blob,
        })
    }
}

/// `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ` (RFC 4252 §8), number 60 in answer to `password`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdChangeReq<'a> {
    /// `string prompt in ISO-10646 UTF-8 encoding`.
    pub prompt: &'a str,
    /// `string language tag`.
    pub language: &'a str,
}

impl<'a> PasswdChangeReq<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(USERAUTH_60.0)
            .string(self.prompt.as_bytes())
            .string(self.language.as_bytes());
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, USERAUTH_60)?;
        let prompt = utf8_limited(&mut r, "password change prompt", MAX_TEXT_LEN)?;
        let language = utf8_limited(&mut r, "language tag", MAX_LANGUAGE_LEN)?;
        r.finish()?;
        Ok(PasswdChangeReq { prompt, language })
    }
}

/// One prompt of an `SSH_MSG_USERAUTH_INFO_REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt<'a> {
    /// `string prompt[n] (ISO-10646 UTF-8)`.
    pub prompt: &'a str,
    /// `boolean echo[n]`: whether the answer may be shown as it is typed.
    pub echo: bool,
}

/// `SSH_MSG_USERAUTH_INFO_REQUEST` (RFC 4256 §3.2), number 60 in answer to
/// `keyboard-interactive`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest<'a> {
    /// `string name (ISO-10646 UTF-8)`.
    pub name: &'a str,
    /// `string instruction (ISO-10646 UTF-8)`.
    pub instruction: &'a str,
    /// `string language tag` (RFC 4256 §3.2: deprecated).
    pub language: &'a str,
    /// `int num-prompts` and the prompts, at most [`MAX_PROMPTS`].
    pub prompts: Vec<Prompt<'a>>,
}

impl<'a> InfoRequest<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(USERAUTH_60.0)
            .string(self.name.as_bytes())
            .string(self.instruction.as_bytes())
            .string(self.language.as_bytes())
            .u32(u32_len(self.prompts.len()));
        for p in &self.prompts {
            w.string(p.prompt.as_bytes()).bool(p.echo);
        }
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, USERAUTH_60)?;
        let name = utf8_limited(&mut r, "info request name", MAX_TEXT_LEN)?;
        let instruction = utf8_limited(&mut r, "info request instruction", MAX_TEXT_LEN)?;
        let language = utf8_limited(&mut r, "language tag", MAX_LANGUAGE_LEN)?;
        let n = count(&mut r, "info request prompts", MAX_PROMPTS)?;
        let mut prompts = Vec::with_capacity(n);
        for _ in 0..n {
            let prompt = utf8_limited(&mut r, "prompt", MAX_TEXT_LEN)?;
            let echo = r.bool()?;
            prompts.push(Prompt { prompt, echo });
        }
        r.finish()?;
        Ok(InfoRequest {
            name,
            instruction,
            language,
            prompts,
        })
    }
}

/// `SSH_MSG_USERAUTH_INFO_RESPONSE` (RFC 4256 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoResponse<'a> {
    /// `int num-responses` and `string response[n] (ISO-10646 UTF-8)`, at most
    /// [`MAX_PROMPTS`] of at most [`MAX_RESPONSE_LEN`] bytes.
    pub responses: Vec<&'a str>,
}

impl<'a> InfoResponse<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(USERAUTH_INFO_RESPONSE.0)
            .u32(u32_len(self.responses.len()));
        for r in &self.responses {
            w.string(r.as_bytes());
        }
    }

    /// Decodes a whole message.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = body(payload, USERAUTH_INFO_RESPONSE)?;
        let n = count(&mut r, "info responses", MAX_PROMPTS)?;
        let mut responses = Vec::with_capacity(n);
        for _ in 0..n {
            responses.push(utf8_limited(&mut r, "response", MAX_RESPONSE_LEN)?);
        }
        r.finish()?;
        Ok(InfoResponse { responses })
    }
}

/// What a client's pending request was, which decides the meaning of message number 60.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// `none`: no number-60 answer exists.
    None,
    /// `password` (with or without the change flag): 60 is PASSWD_CHANGEREQ.
    Password,
    /// A `publickey` query (no signature): 60 is PK_OK.
    PublicKeyQuery,
    /// A signed `publickey` request: no number-60 answer exists.
    PublicKeySigned,
    /// `keyboard-interactive` or an INFO_RESPONSE: 60 is INFO_REQUEST.
    KeyboardInteractive,
}

/// Any message a server sends during user authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage<'a> {
    /// `SSH_MSG_USERAUTH_FAILURE`.
    Failure(Failure<'a>),
    /// `SSH_MSG_USERAUTH_SUCCESS`.
    Success,
    /// `SSH_MSG_USERAUTH_BANNER`.
    Banner(Banner<'a>),
    /// `SSH_MSG_USERAUTH_PK_OK`.
    PkOk(PkOk<'a>),
    /// `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ`.
    PasswdChangeReq(PasswdChangeReq<'a>),
    /// `SSH_MSG_USERAUTH_INFO_REQUEST`.
    InfoRequest(InfoRequest<'a>),
}

impl<'a> ServerMessage<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            ServerMessage::Failure(m) => m.encode(w),
            ServerMessage::Success => Success.encode(w),
            ServerMessage::Banner(m) => m.encode(w),
            ServerMessage::PkOk(m) => m.encode(w),
            ServerMessage::PasswdChangeReq(m) => m.encode(w),
            ServerMessage::InfoRequest(m) => m.encode(w),
        }
    }

    /// Decodes a whole message; `pending` is the request it may answer (`None` when the
    /// client has no request in flight), which decides what number 60 means.
    ///
    /// A number 60 that answers nothing, and any number a server does not send here, is
    /// [`Error::Invalid`].
    pub fn decode(payload: &'a [u8], pending: Option<Pending>) -> Result<Self, Error> {
        let number = MessageNumber(*payload.first().ok_or(Error::Truncated {
            needed: 1,
            available: 0,
        })?);
        Ok(match number {
            USERAUTH_FAILURE => ServerMessage::Failure(Failure::decode(payload)?),
            USERAUTH_SUCCESS => {
                Success::decode(payload)?;
                ServerMessage::Success
            }
            USERAUTH_BANNER => ServerMessage::Banner(Banner::decode(payload)?),
            USERAUTH_60 => match pending {
                Some(Pending::PublicKeyQuery) => ServerMessage::PkOk(PkOk::decode(payload)?),
                Some(Pending::Password) => {
                    ServerMessage::PasswdChangeReq(PasswdChangeReq::decode(payload)?)
                }
                Some(Pending::KeyboardInteractive) => {
                    ServerMessage::InfoRequest(InfoRequest::decode(payload)?)
                }
                _ => return Err(Error::Invalid("message 60 answers no request in flight")),
            },
            _ => {
                return Err(Error::Invalid(
                    "not a message a server sends in user authentication",
                ));
            }
        })
    }
}

/// Any message a client sends during user authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage<'a> {
    /// `SSH_MSG_USERAUTH_REQUEST`.
    Request(UserauthRequest<'a>),
    /// `SSH_MSG_USERAUTH_INFO_RESPONSE`.
    InfoResponse(InfoResponse<'a>),
}

impl<'a> ClientMessage<'a> {
    /// Appends the whole message.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            ClientMessage::Request(m) => m.encode(w),
            ClientMessage::InfoResponse(m) => m.encode(w),
        }
    }

    /// Decodes a whole message; any number a client does not send is [`Error::Invalid`].
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        match payload.first().map(|&n| MessageNumber(n)) {
            Some(USERAUTH_REQUEST) => Ok(ClientMessage::Request(UserauthRequest::decode(payload)?)),
            Some(USERAUTH_INFO_RESPONSE) => {
                Ok(ClientMessage::InfoResponse(InfoResponse::decode(payload)?))
            }
            Some(_) => Err(Error::Invalid(
                "not a message a client sends in user authentication",
            )),
            None => Err(Error::Truncated {
                needed: 1,
                available: 0,
            }),
        }
    }
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
