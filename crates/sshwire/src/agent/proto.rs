//! The ssh-agent protocol's messages (draft-miller-ssh-agent), client side: a codec with no I/O.

use sshwire_keys::{PublicKey, SignatureAlgorithm};
use sshwire_wire::{Reader, Writer};

/// Longest agent message accepted, as OpenSSH's `AGENT_MAX_LEN`.
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;
/// Most identities accepted in one answer.
pub const MAX_IDENTITIES: u32 = 2048;

/// `SSH_AGENT_FAILURE`.
pub const FAILURE: u8 = 5;
/// `SSH_AGENTC_REQUEST_IDENTITIES`.
pub const REQUEST_IDENTITIES: u8 = 11;
/// `SSH_AGENT_IDENTITIES_ANSWER`.
pub const IDENTITIES_ANSWER: u8 = 12;
/// `SSH_AGENTC_SIGN_REQUEST`.
pub const SIGN_REQUEST: u8 = 13;
/// `SSH_AGENT_SIGN_RESPONSE`.
pub const SIGN_RESPONSE: u8 = 14;

/// draft-miller-ssh-agent §3.6.1: "SSH_AGENT_RSA_SHA2_256 2".
const RSA_SHA2_256: u32 = 2;
/// draft-miller-ssh-agent §3.6.1: "SSH_AGENT_RSA_SHA2_512 4".
const RSA_SHA2_512: u32 = 4;

/// Why an agent exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentError {
    /// The agent answered `SSH_AGENT_FAILURE` (for a signature: it does not have the key, or
    /// the user refused a confirmation).
    Refused,
    /// The agent's answer could not be decoded.
    Malformed(String),
    /// The socket failed.
    Io(String),
}

impl core::fmt::Display for AgentError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AgentError::Refused => f.write_str("the agent refused the request"),
            AgentError::Malformed(why) => write!(f, "malformed answer from the agent: {why}"),
            AgentError::Io(e) => write!(f, "cannot talk to the agent: {e}"),
        }
    }
}

impl std::error::Error for AgentError {}

fn malformed(e: impl core::fmt::Display) -> AgentError {
    AgentError::Malformed(e.to_string())
}

/// A framed request: `uint32 length, byte type, contents`.
fn frame(build: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut body = Writer::new();
    build(&mut body);
    let mut w = Writer::new();
    w.string(body.as_slice());
    w.into_vec()
}

/// `SSH_AGENTC_REQUEST_IDENTITIES`, framed.
pub fn request_identities() -> Vec<u8> {
    frame(|w| {
        w.u8(REQUEST_IDENTITIES);
    })
}

/// `SSH_AGENTC_SIGN_REQUEST` for `key` with `alg`, framed.
///
/// draft-miller-ssh-agent §3.6: "string key blob, string data, uint32 flags".
pub fn sign_request(key: &PublicKey, alg: SignatureAlgorithm, data: &[u8]) -> Vec<u8> {
    let flags = match alg {
        SignatureAlgorithm::RsaSha256 => RSA_SHA2_256,
        SignatureAlgorithm::RsaSha512 => RSA_SHA2_512,
        _ => 0,
    };
    frame(|w| {
        w.u8(SIGN_REQUEST)
            .string(&key.to_blob())
            .string(data)
            .u32(flags);
    })
}

/// The length of the message whose 4-byte header is `header`, checked against the limit.
pub fn message_len(header: [u8; 4]) -> Result<usize, AgentError> {
    let len = u32::from_be_bytes(header) as usize;
    if len == 0 || len > MAX_MESSAGE_LEN {
        return Err(AgentError::Malformed(format!("message length {len}")));
    }
    Ok(len)
}

/// Decodes an identities answer (the message body, type byte first).
///
/// Keys of types sshwire does not know (certificates, security keys) are skipped, as they
/// cannot be used here anyway.
pub fn parse_identities(body: &[u8]) -> Result<Vec<(PublicKey, String)>, AgentError> {
    let mut r = Reader::new(body);
    match r.u8().map_err(malformed)? {
        IDENTITIES_ANSWER => {}
        FAILURE => return Err(AgentError::Refused),
        t => return Err(AgentError::Malformed(format!("unexpected message {t}"))),
    }
    let count = r.u32().map_err(malformed)?;
    if count > MAX_IDENTITIES {
        return Err(AgentError::Malformed(format!("{count} identities")));
    }
    let mut keys = Vec::new();
    for _ in 0..count {
        let blob = r.string().map_err(malformed)?;
        let comment = r.string().map_err(malformed)?;
        if let Ok(key) = PublicKey::from_blob(blob) {
            keys.push((key, String::from_utf8_lossy(comment).into_owned()));
        }
    }
    r.finish().map_err(malformed)?;
    Ok(keys)
}

/// Decodes a sign response (the message body, type byte first) into the signature blob.
pub fn parse_signature(body: &[u8]) -> Result<Vec<u8>, AgentError> {
    let mut r = Reader::new(body);
    match r.u8().map_err(malformed)? {
        SIGN_RESPONSE => {}
        FAILURE => return Err(AgentError::Refused),
        t => return Err(AgentError::Malformed(format!("unexpected message {t}"))),
    }
    let sig = r.string().map_err(malformed)?;
    r.finish().map_err(malformed)?;
    Ok(sig.to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use proptest::prelude::*;
    use sshwire_keys::PrivateKey;

    #[test]
    fn identities_answer_round_trip_and_truncation() {
        let key = PrivateKey::from_ed25519_seed(&[1; 32]).public_key();
        let mut w = Writer::new();
        w.u8(IDENTITIES_ANSWER).u32(2);
        w.string(&key.to_blob()).string(b"mine");
        // An unknown key type is skipped, not an error.
        w.string(b"\0\0\0\x0bssh-unknown").string(b"other");
        let body = w.into_vec();
        assert_eq!(parse_identities(&body).unwrap(), [(key, "mine".to_owned())]);
        for cut in 0..body.len() {
            assert!(parse_identities(&body[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn failure_is_refused() {
        assert_eq!(parse_identities(&[FAILURE]), Err(AgentError::Refused));
        assert_eq!(parse_signature(&[FAILURE]), Err(AgentError::Refused));
    }

    #[test]
    fn limits() {
        assert!(message_len([0, 4, 0, 1]).is_err());
        assert!(message_len([0, 0, 0, 0]).is_err());
        assert_eq!(message_len([0, 4, 0, 0]).unwrap(), MAX_MESSAGE_LEN);
        let mut w = Writer::new();
        w.u8(IDENTITIES_ANSWER).u32(MAX_IDENTITIES + 1);
        assert!(parse_identities(w.as_slice()).is_err());
    }

    #[test]
    fn rsa_flags() {
        let key = PrivateKey::from_ed25519_seed(&[1; 32]).public_key();
        let req = sign_request(&key, SignatureAlgorithm::RsaSha512, b"x");
        assert_eq!(&req[req.len() - 4..], &[0, 0, 0, 4]);
        assert_eq!(req[4], SIGN_REQUEST);
    }

    proptest! {
        #[test]
        fn arbitrary_answers_never_panic(v in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_identities(&v);
            let _ = parse_signature(&v);
        }
    }
}
