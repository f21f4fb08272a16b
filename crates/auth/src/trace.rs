//! Packet-trace describers of the user authentication messages (numbers 50 to 79).
//!
//! [`describe`] turns a payload into one line of text with the message's name and fields,
//! decoding with [`crate::messages`]. Secrets never appear: a password (and the new password of
//! a change request) shows as `<redacted>`, keyboard-interactive answers as their count only,
//! and a payload that does not decode as its name and length alone. Peer text (banners,
//! prompts) is escaped ([`sshwire_wire::trace::text`]).
//!
//! Number 60 means PK_OK, PASSWD_CHANGEREQ or INFO_REQUEST depending on the request it
//! answers (RFC 4252 §7, §8; RFC 4256 §3.2): a tracer keeps that with [`pending_after`].

use core::fmt::Write;

use sshwire_transport::trace::{host_key, signature, undecoded};
use sshwire_wire::trace::{name_text, names, text};

use crate::messages::{
    Banner, Failure, InfoRequest, InfoResponse, MethodRequest, PasswdChangeReq, Pending, PkOk,
    Success, USERAUTH_60, USERAUTH_BANNER, USERAUTH_FAILURE, USERAUTH_INFO_RESPONSE,
    USERAUTH_REQUEST, USERAUTH_SUCCESS, UserauthRequest,
};

/// What stands in for a secret in a trace.
pub const REDACTED: &str = "<redacted>";

/// Most prompts of an INFO_REQUEST shown one by one.
const MAX_PROMPTS_SHOWN: usize = 8;

/// The request in flight after `payload` passed, if `payload` changes it.
///
/// A USERAUTH_REQUEST sets it from its method; an INFO_RESPONSE keeps keyboard-interactive
/// going; any other message leaves it as it was (`None`).
pub fn pending_after(payload: &[u8]) -> Option<Pending> {
    match payload
        .first()
        .map(|&n| sshwire_transport::MessageNumber(n))
    {
        Some(USERAUTH_REQUEST) => Some(match UserauthRequest::decode(payload).ok()?.method {
            MethodRequest::Password { .. } => Pending::Password,
            MethodRequest::PublicKey {
                signature: None, ..
            } => Pending::PublicKeyQuery,
            MethodRequest::PublicKey { .. } => Pending::PublicKeySigned,
            MethodRequest::KeyboardInteractive { .. } => Pending::KeyboardInteractive,
            MethodRequest::None | MethodRequest::Other { .. } => Pending::None,
        }),
        Some(USERAUTH_INFO_RESPONSE) => Some(Pending::KeyboardInteractive),
        _ => None,
    }
}

/// A user authentication message (50 to 79) as one line.
///
/// `pending` is the request in flight (from [`pending_after`]), which names number 60; without
/// it, 60 is shown by length only.
pub fn describe(payload: &[u8], pending: Option<Pending>) -> String {
    let Some(&number) = payload.first() else {
        return "empty payload".to_owned();
    };
    let n = sshwire_transport::MessageNumber(number);
    let decoded = match n {
        USERAUTH_REQUEST => UserauthRequest::decode(payload).ok().map(|m| request(&m)),
        USERAUTH_FAILURE => Failure::decode(payload).ok().map(|m| {
            format!(
                "SSH_MSG_USERAUTH_FAILURE methods={} partial_success={}",
                names(m.methods.iter()),
                m.partial_success
            )
        }),
        USERAUTH_SUCCESS => Success::decode(payload)
            .ok()
            .map(|_| "SSH_MSG_USERAUTH_SUCCESS".to_owned()),
        USERAUTH_BANNER => Banner::decode(payload).ok().map(|m| {
            format!(
                "SSH_MSG_USERAUTH_BANNER message={}",
                text(m.message.as_bytes())
            )
        }),
        USERAUTH_60 => match pending {
            Some(Pending::PublicKeyQuery) => PkOk::decode(payload).ok().map(|m| {
                format!(
                    "SSH_MSG_USERAUTH_PK_OK algorithm={} key={}",
                    name_text(m.algorithm),
                    host_key(m.key_blob)
                )
            }),
            Some(Pending::Password) => PasswdChangeReq::decode(payload).ok().map(|m| {
                format!(
                    "SSH_MSG_USERAUTH_PASSWD_CHANGEREQ prompt={}",
                    text(m.prompt.as_bytes())
                )
            }),
            Some(Pending::KeyboardInteractive) => {
                InfoRequest::decode(payload).ok().map(|m| info_request(&m))
            }
            _ => Some(format!("SSH_MSG_USERAUTH_60 ({} bytes)", payload.len())),
        },
        USERAUTH_INFO_RESPONSE => InfoResponse::decode(payload).ok().map(|m| {
            format!(
                "SSH_MSG_USERAUTH_INFO_RESPONSE responses={} answers={REDACTED}",
                m.responses.len()
            )
        }),
        _ => Some(format!("msg {number} ({} bytes)", payload.len())),
    };
    decoded.unwrap_or_else(|| format!("{} (malformed)", name_or_number(payload)))
}

/// The fallback for a payload that does not decode: its name and length, nothing of its
/// contents.
fn name_or_number(payload: &[u8]) -> String {
    match payload
        .first()
        .map(|&n| sshwire_transport::MessageNumber(n))
    {
        Some(USERAUTH_60) => format!("SSH_MSG_USERAUTH_60 ({} bytes)", payload.len()),
        Some(USERAUTH_INFO_RESPONSE) => {
            format!("SSH_MSG_USERAUTH_INFO_RESPONSE ({} bytes)", payload.len())
        }
        _ => undecoded(payload),
    }
}

fn request(m: &UserauthRequest<'_>) -> String {
    let mut out = format!(
        "SSH_MSG_USERAUTH_REQUEST user={} service={} method={}",
        text(m.user.as_bytes()),
        name_text(m.service),
        name_text(m.method.name())
    );
    match &m.method {
        MethodRequest::None => {}
        MethodRequest::Password { new_password, .. } => {
            // RFC 4252 §8: the password is sent in plaintext inside the encrypted transport;
            // a trace must not be the place it leaks from.
            let _ = write!(out, " password={REDACTED}");
            if new_password.is_some() {
                let _ = write!(out, " change=true new_password={REDACTED}");
            }
        }
        MethodRequest::PublicKey {
            algorithm,
            key_blob,
            signature: sig,
        } => {
            let _ = write!(
                out,
                " algorithm={} key={} signature={}",
                name_text(algorithm),
                host_key(key_blob),
                match sig {
                    Some(s) => signature(s),
                    None => "none (query)".to_owned(),
                }
            );
        }
        MethodRequest::KeyboardInteractive { submethods, .. } => {
            let _ = write!(out, " submethods={}", text(submethods.as_bytes()));
        }
        MethodRequest::Other { data, .. } => {
            let _ = write!(out, " ({} bytes of method data)", data.len());
        }
    }
    out
}

fn info_request(m: &InfoRequest<'_>) -> String {
    let mut out = format!(
        "SSH_MSG_USERAUTH_INFO_REQUEST name={} instruction={} prompts={}",
        text(m.name.as_bytes()),
        text(m.instruction.as_bytes()),
        m.prompts.len()
    );
    for p in m.prompts.iter().take(MAX_PROMPTS_SHOWN) {
        let _ = write!(out, " [{} echo={}]", text(p.prompt.as_bytes()), p.echo);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::messages::{ClientMessage, Prompt, ServerMessage};
    use proptest::prelude::*;
    use sshwire_wire::Writer;

    fn client(m: ClientMessage<'_>) -> Vec<u8> {
        let mut w = Writer::new();
        m.encode(&mut w);
        w.into_vec()
    }

    fn server(m: ServerMessage<'_>) -> Vec<u8> {
        let mut w = Writer::new();
        m.encode(&mut w);
        w.into_vec()
    }

    fn req(method: MethodRequest<'_>) -> Vec<u8> {
        client(ClientMessage::Request(UserauthRequest {
            user: "alice",
            service: "ssh-connection",
            method,
        }))
    }

    #[test]
    fn a_password_request_names_the_method_and_never_the_password() {
        let p = req(MethodRequest::Password {
            password: "hunter2-secret",
            new_password: None,
        });
        let line = describe(&p, None);
        assert_eq!(
            line,
            r#"SSH_MSG_USERAUTH_REQUEST user="alice" service=ssh-connection method=password password=<redacted>"#
        );
        assert_eq!(pending_after(&p), Some(Pending::Password));

        let change = req(MethodRequest::Password {
            password: "old-secret",
            new_password: Some("new-secret"),
        });
        let line = describe(&change, None);
        assert!(line.contains("new_password=<redacted>"), "{line}");
        assert!(!line.contains("secret"), "{line}");
    }

    #[test]
    fn a_publickey_request_shows_algorithm_fingerprint_and_signature_presence() {
        let key = sshwire_keys::PrivateKey::generate(
            sshwire_keys::KeyType::Ed25519,
            None,
            &mut sshwire_keys::testing::TestRng(3),
        )
        .unwrap();
        let blob = key.public_key().to_blob();
        let query = req(MethodRequest::PublicKey {
            algorithm: "ssh-ed25519",
            key_blob: &blob,
            signature: None,
        });
        let line = describe(&query, None);
        assert!(
            line.contains("method=publickey algorithm=ssh-ed25519"),
            "{line}"
        );
        assert!(
            line.contains(&key.public_key().fingerprint_sha256()),
            "{line}"
        );
        assert!(line.ends_with("signature=none (query)"), "{line}");
        assert_eq!(pending_after(&query), Some(Pending::PublicKeyQuery));

        let mut sig = Writer::new();
        sig.string(b"ssh-ed25519").string(&[1; 64]);
        let sig = sig.into_vec();
        let signed = req(MethodRequest::PublicKey {
            algorithm: "ssh-ed25519",
            key_blob: &blob,
            signature: Some(&sig),
        });
        assert!(describe(&signed, None).ends_with("signature=ssh-ed25519 (64 bytes)"));

        let pk_ok = server(ServerMessage::PkOk(PkOk {
            algorithm: "ssh-ed25519",
            key_blob: &blob,
        }));
        assert!(
            describe(&pk_ok, Some(Pending::PublicKeyQuery)).starts_with(
                "SSH_MSG_USERAUTH_PK_OK algorithm=ssh-ed25519 key=ssh-ed25519 SHA256:"
            )
        );
    }

    #[test]
    fn keyboard_interactive_shows_prompts_and_never_the_answers() {
        let start = req(MethodRequest::KeyboardInteractive {
            language: "",
            submethods: "pam",
        });
        assert!(describe(&start, None).ends_with("method=keyboard-interactive submethods=\"pam\""));
        let pending = pending_after(&start);
        assert_eq!(pending, Some(Pending::KeyboardInteractive));
        let info = server(ServerMessage::InfoRequest(InfoRequest {
            name: "",
            instruction: "Log in\x1b[2J",
            language: "",
            prompts: vec![
                Prompt {
                    prompt: "Password: ",
                    echo: false,
                },
                Prompt {
                    prompt: "Code: ",
                    echo: true,
                },
            ],
        }));
        assert_eq!(
            describe(&info, pending),
            r#"SSH_MSG_USERAUTH_INFO_REQUEST name="" instruction="Log in\u{1b}[2J" prompts=2 ["Password: " echo=false] ["Code: " echo=true]"#
        );
        let answers = client(ClientMessage::InfoResponse(InfoResponse {
            responses: vec!["s3cret-answer", "123456"],
        }));
        let line = describe(&answers, pending);
        assert_eq!(
            line,
            "SSH_MSG_USERAUTH_INFO_RESPONSE responses=2 answers=<redacted>"
        );
    }

    #[test]
    fn server_messages_show_their_fields() {
        let failure = server(ServerMessage::Failure(Failure {
            methods: sshwire_wire::Reader::new(b"\0\0\0\x12publickey,password")
                .name_list()
                .unwrap(),
            partial_success: false,
        }));
        assert_eq!(
            describe(&failure, None),
            "SSH_MSG_USERAUTH_FAILURE methods=[publickey,password] partial_success=false"
        );
        assert_eq!(describe(&[52], None), "SSH_MSG_USERAUTH_SUCCESS");
        let banner = server(ServerMessage::Banner(Banner {
            message: "Welcome\r\n\x07",
            language: "",
        }));
        assert_eq!(
            describe(&banner, None),
            r#"SSH_MSG_USERAUTH_BANNER message="Welcome\r\n\u{7}""#
        );
        let change = server(ServerMessage::PasswdChangeReq(PasswdChangeReq {
            prompt: "expired",
            language: "",
        }));
        assert_eq!(
            describe(&change, Some(Pending::Password)),
            r#"SSH_MSG_USERAUTH_PASSWD_CHANGEREQ prompt="expired""#
        );
        assert_eq!(describe(&change, None), "SSH_MSG_USERAUTH_60 (16 bytes)");
    }

    proptest! {
        #[test]
        fn any_bytes_describe_without_panicking(
            number in 50u8..=79,
            body in proptest::collection::vec(any::<u8>(), 0..200),
            pending in proptest::sample::select(vec![
                None,
                Some(Pending::None),
                Some(Pending::Password),
                Some(Pending::PublicKeyQuery),
                Some(Pending::PublicKeySigned),
                Some(Pending::KeyboardInteractive),
            ]),
        ) {
            let mut payload = vec![number];
            payload.extend_from_slice(&body);
            let line = describe(&payload, pending);
            let _ = pending_after(&payload);
            prop_assert!(!line.chars().any(char::is_control));
            prop_assert!(line.len() < 8 * 1024);
        }

        #[test]
        fn a_password_never_reaches_the_trace(password in "[a-zA-Z0-9]{12,40}") {
            let p = req(MethodRequest::Password { password: &password, new_password: Some(&password) });
            prop_assert!(!describe(&p, None).contains(&password));
            let r = client(ClientMessage::InfoResponse(InfoResponse { responses: vec![&password] }));
            prop_assert!(!describe(&r, Some(Pending::KeyboardInteractive)).contains(&password));
        }
    }
}
