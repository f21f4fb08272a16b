//! Packet tracing: the hook the engine calls for every payload, and the describers of the
//! transport's own messages (numbers 1 to 49).
//!
//! A [`Tracer`] set with [`Transport::set_tracer`](crate::Transport::set_tracer) sees every
//! payload the engine seals or opens, key exchange included, and the messages of the layers
//! above as they pass. With no tracer set, the engine pays one branch per packet: nothing is
//! formatted or allocated.
//!
//! [`describe`] turns a transport payload into one line of text with the message's name and
//! fields. It decodes with the codecs of [`crate::messages`] and [`crate::kexinit`], never
//! panics on any bytes, and leaves out what must not be shown: the KEXINIT cookie, and the key
//! exchange's public values beyond their length and first bytes. Peer text is escaped
//! ([`sshwire_wire::trace::text`]).

use core::fmt::Write;

use sshwire_keys::{PublicKey, decode_signature_blob};
use sshwire_wire::trace::{hex_prefix, name_text, names, text};

use crate::kex::KexAlg;
use crate::kexinit::KexInit;
use crate::messages::{
    Debug, Disconnect, ExtInfo, GexGroup, GexRequestMessage, KexInitValue, KexReply, Ping, Service,
    Unimplemented,
};
use crate::msg::MessageNumber;

/// Which way a payload went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We sealed it for the peer.
    Sent,
    /// We opened it from the peer.
    Received,
}

impl Direction {
    /// `>` for sent, `<` for received.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => ">",
            Direction::Received => "<",
        }
    }
}

/// One payload as the engine seals or opens it.
#[derive(Debug, Clone, Copy)]
pub struct Traced<'a> {
    /// Sent or received.
    pub direction: Direction,
    /// The packet's sequence number in its direction (RFC 4253 §6.4).
    pub seq: u32,
    /// The payload, message number first, before compression or after decompression.
    pub payload: &'a [u8],
    /// The key exchange method under way, once both KEXINITs are known: it decides the names
    /// of messages 30 to 34.
    pub kex: Option<KexAlg>,
}

/// Sees every payload an engine sends and receives.
pub trait Tracer: Send {
    /// Called once per payload, in the order the engine seals or opens them.
    fn packet(&mut self, packet: &Traced<'_>);
}

impl<F: FnMut(&Traced<'_>) + Send> Tracer for F {
    fn packet(&mut self, packet: &Traced<'_>) {
        self(packet)
    }
}

/// A message number's name, or `msg N` for a number without one.
pub fn message_name(number: u8) -> String {
    match MessageNumber(number).name() {
        Some(n) => n.to_owned(),
        None => format!("msg {number}"),
    }
}

/// The fallback line: the number's name and the payload's length.
pub fn undecoded(payload: &[u8]) -> String {
    match payload.first() {
        Some(&n) => format!("{} ({} bytes)", message_name(n), payload.len()),
        None => "empty payload".to_owned(),
    }
}

/// A transport message (numbers 1 to 49, and PING/PONG) as one line.
///
/// `kex` names the key exchange method under way, for messages 30 to 34; without it they get
/// generic names. A payload that does not decode is shown as its name, its length and
/// `(malformed)`.
pub fn describe(payload: &[u8], kex: Option<KexAlg>) -> String {
    let Some(&number) = payload.first() else {
        return "empty payload".to_owned();
    };
    let n = MessageNumber(number);
    let decoded = match n {
        MessageNumber::DISCONNECT => Disconnect::decode(payload).ok().map(|m| {
            let reason = match m.reason.name() {
                Some(name) => format!("SSH_DISCONNECT_{name}"),
                None => format!("{}", m.reason.0),
            };
            format!(
                "SSH_MSG_DISCONNECT reason={reason} description={}",
                text(m.description)
            )
        }),
        MessageNumber::IGNORE => Some(format!("SSH_MSG_IGNORE ({} bytes)", payload.len())),
        MessageNumber::DEBUG => Debug::decode(payload).ok().map(|m| {
            format!(
                "SSH_MSG_DEBUG always_display={} message={}",
                m.always_display,
                text(m.message)
            )
        }),
        MessageNumber::UNIMPLEMENTED => Unimplemented::decode(payload)
            .ok()
            .map(|m| format!("SSH_MSG_UNIMPLEMENTED seq={}", m.seq)),
        MessageNumber::SERVICE_REQUEST | MessageNumber::SERVICE_ACCEPT => {
            Service::decode(payload, n)
                .ok()
                .map(|m| format!("{} service={}", message_name(number), name_text(m.name)))
        }
        MessageNumber::EXT_INFO => ExtInfo::decode(payload).ok().map(|m| ext_info(&m)),
        MessageNumber::KEXINIT => KexInit::decode(payload).ok().map(|m| kexinit(&m)),
        MessageNumber::NEWKEYS => (payload.len() == 1).then(|| "SSH_MSG_NEWKEYS".to_owned()),
        MessageNumber::PING | MessageNumber::PONG => Ping::decode(payload, n)
            .ok()
            .map(|m| format!("{} data={}", message_name(number), hex_prefix(m.data))),
        n if (30..=49).contains(&n.0) => kex_message(payload, n, kex),
        _ => return undecoded(payload),
    };
    decoded.unwrap_or_else(|| format!("{} (malformed)", undecoded(payload)))
}

fn kexinit(m: &KexInit) -> String {
    let list = |l: &Vec<String>| names(l.iter().map(String::as_str));
    // The cookie is left out: 16 random bytes that mean nothing to a reader.
    format!(
        "SSH_MSG_KEXINIT kex_algorithms={} server_host_key_algorithms={} \
         encryption_c2s={} encryption_s2c={} mac_c2s={} mac_s2c={} \
         compression_c2s={} compression_s2c={} languages_c2s={} languages_s2c={} \
         first_kex_packet_follows={}",
        list(&m.kex_algorithms),
        list(&m.server_host_key_algorithms),
        list(&m.encryption_client_to_server),
        list(&m.encryption_server_to_client),
        list(&m.mac_client_to_server),
        list(&m.mac_server_to_client),
        list(&m.compression_client_to_server),
        list(&m.compression_server_to_client),
        list(&m.languages_client_to_server),
        list(&m.languages_server_to_client),
        m.first_kex_packet_follows,
    )
}

fn ext_info(m: &ExtInfo<'_>) -> String {
    let mut out = format!("SSH_MSG_EXT_INFO count={}", m.extensions.len());
    for (name, value) in &m.extensions {
        // RFC 8308 §3: the values of the extensions defined there are name-lists or short
        // text; shown as text, escaped.
        let _ = write!(out, " {}={}", name_text(name), text(value));
    }
    out
}

/// The names of messages 30 to 34 under `kex` (RFC 4253 §8, RFC 4419 §5, RFC 5656 §4,
/// RFC 8731 §3, draft-ietf-sshm-mlkem-hybrid-kex).
fn kex_names(kex: Option<KexAlg>) -> (&'static str, &'static str, &'static str) {
    match kex {
        Some(
            KexAlg::Curve25519Sha256
            | KexAlg::Curve25519Sha256LibSsh
            | KexAlg::EcdhSha2Nistp256
            | KexAlg::EcdhSha2Nistp384,
        ) => ("SSH_MSG_KEX_ECDH_INIT", "SSH_MSG_KEX_ECDH_REPLY", "Q"),
        Some(KexAlg::DhGroup14Sha256 | KexAlg::DhGroup16Sha512 | KexAlg::DhGroup18Sha512) => {
            ("SSH_MSG_KEXDH_INIT", "SSH_MSG_KEXDH_REPLY", "e/f")
        }
        Some(
            KexAlg::MlKem768X25519Sha256
            | KexAlg::Sntrup761X25519Sha512
            | KexAlg::Sntrup761X25519Sha512OpenSsh,
        ) => ("SSH_MSG_KEX_HYBRID_INIT", "SSH_MSG_KEX_HYBRID_REPLY", "C/S"),
        Some(KexAlg::DhGexSha256) => ("msg 30", "SSH_MSG_KEX_DH_GEX_GROUP", "e/f"),
        None => ("SSH_MSG_KEX_INIT(30)", "SSH_MSG_KEX_REPLY(31)", "public"),
    }
}

fn kex_message(payload: &[u8], n: MessageNumber, kex: Option<KexAlg>) -> Option<String> {
    let gex = kex.is_some_and(KexAlg::is_gex);
    let (init, reply, _) = kex_names(kex);
    match n.0 {
        30 if !gex => KexInitValue::decode(payload, n)
            .ok()
            .map(|m| format!("{init} public={}", hex_prefix(m.public))),
        31 if gex => GexGroup::decode(payload).ok().map(|m| {
            format!(
                "SSH_MSG_KEX_DH_GEX_GROUP p={} bits g={}",
                mpint_bits(m.p),
                hex_prefix(m.g)
            )
        }),
        31 => KexReply::decode(payload, n)
            .ok()
            .map(|m| kex_reply(reply, &m)),
        32 => KexInitValue::decode(payload, n)
            .ok()
            .map(|m| format!("SSH_MSG_KEX_DH_GEX_INIT e={}", hex_prefix(m.public))),
        33 => KexReply::decode(payload, n)
            .ok()
            .map(|m| kex_reply("SSH_MSG_KEX_DH_GEX_REPLY", &m)),
        34 => GexRequestMessage::decode(payload).ok().map(|m| {
            format!(
                "SSH_MSG_KEX_DH_GEX_REQUEST min={} n={} max={}",
                m.min, m.preferred, m.max
            )
        }),
        _ => Some(undecoded(payload)),
    }
}

fn kex_reply(name: &str, m: &KexReply<'_>) -> String {
    format!(
        "{name} host_key={} public={} signature={}",
        host_key(m.host_key),
        hex_prefix(m.public),
        signature(m.signature)
    )
}

/// A key blob as its type and SHA-256 fingerprint, or its type name and length when it does
/// not parse.
pub fn host_key(blob: &[u8]) -> String {
    match PublicKey::from_blob(blob) {
        Ok(k) => format!("{} {}", k.key_type(), k.fingerprint_sha256()),
        Err(_) => {
            let mut r = sshwire_wire::Reader::new(blob);
            match r.string() {
                Ok(kind) => format!("{} (unparsed, {} bytes)", text(kind), blob.len()),
                Err(_) => format!("(malformed, {} bytes)", blob.len()),
            }
        }
    }
}

/// A signature blob as its algorithm and the length of the signature proper.
pub fn signature(blob: &[u8]) -> String {
    match decode_signature_blob(blob) {
        Ok((alg, sig)) => format!("{} ({} bytes)", name_text(alg), sig.len()),
        Err(_) => format!("(malformed, {} bytes)", blob.len()),
    }
}

/// The size in bits of an mpint's content.
fn mpint_bits(content: &[u8]) -> usize {
    let mut bytes = content;
    while let Some((&0, rest)) = bytes.split_first() {
        bytes = rest;
    }
    match bytes.first() {
        Some(&top) => (bytes.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::msg::DisconnectReason;
    use proptest::prelude::*;
    use sshwire_wire::Writer;

    fn encoded(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        f(&mut w);
        w.into_vec()
    }

    #[test]
    fn kexinit_shows_every_name_list_and_not_the_cookie() {
        let m = KexInit {
            cookie: [0xc0; 16],
            kex_algorithms: vec![
                "curve25519-sha256".into(),
                "kex-strict-c-v00@openssh.com".into(),
            ],
            server_host_key_algorithms: vec!["ssh-ed25519".into()],
            encryption_client_to_server: vec!["aes128-ctr".into()],
            encryption_server_to_client: vec!["aes256-ctr".into()],
            mac_client_to_server: vec!["hmac-sha2-256".into()],
            mac_server_to_client: vec!["hmac-sha2-512".into()],
            compression_client_to_server: vec!["none".into()],
            compression_server_to_client: vec!["zlib@openssh.com".into()],
            languages_client_to_server: vec![],
            languages_server_to_client: vec![],
            first_kex_packet_follows: true,
            reserved: 0,
        };
        let line = describe(&encoded(|w| m.encode(w)), None);
        for field in [
            "SSH_MSG_KEXINIT",
            "kex_algorithms=[curve25519-sha256,kex-strict-c-v00@openssh.com]",
            "server_host_key_algorithms=[ssh-ed25519]",
            "encryption_c2s=[aes128-ctr]",
            "encryption_s2c=[aes256-ctr]",
            "mac_c2s=[hmac-sha2-256]",
            "mac_s2c=[hmac-sha2-512]",
            "compression_c2s=[none]",
            "compression_s2c=[zlib@openssh.com]",
            "languages_c2s=[]",
            "first_kex_packet_follows=true",
        ] {
            assert!(line.contains(field), "{field} missing from {line}");
        }
        assert!(!line.contains("c0c0"), "{line}");
    }

    #[test]
    fn disconnect_names_its_reason_and_escapes_its_text() {
        let p = encoded(|w| {
            Disconnect {
                reason: DisconnectReason::BY_APPLICATION,
                description: b"bye\x1b[31m",
                language: b"",
            }
            .encode(w)
        });
        assert_eq!(
            describe(&p, None),
            r#"SSH_MSG_DISCONNECT reason=SSH_DISCONNECT_BY_APPLICATION description="bye\u{1b}[31m""#
        );
    }

    #[test]
    fn small_messages_show_their_fields() {
        let debug = encoded(|w| {
            Debug {
                always_display: false,
                message: b"hi\n",
                language: b"",
            }
            .encode(w)
        });
        assert_eq!(
            describe(&debug, None),
            r#"SSH_MSG_DEBUG always_display=false message="hi\n""#
        );
        assert_eq!(
            describe(&[2, 0, 0, 0, 1, 9], None),
            "SSH_MSG_IGNORE (6 bytes)"
        );
        assert_eq!(
            describe(&[3, 0, 0, 0, 7], None),
            "SSH_MSG_UNIMPLEMENTED seq=7"
        );
        assert_eq!(describe(&[21], None), "SSH_MSG_NEWKEYS");
        let service = encoded(|w| {
            Service {
                number: MessageNumber::SERVICE_REQUEST,
                name: "ssh-userauth",
            }
            .encode(w)
        });
        assert_eq!(
            describe(&service, None),
            "SSH_MSG_SERVICE_REQUEST service=ssh-userauth"
        );
        let ext = encoded(|w| {
            ExtInfo {
                extensions: vec![("server-sig-algs", b"ssh-ed25519,rsa-sha2-512")],
            }
            .encode(w)
        });
        assert_eq!(
            describe(&ext, None),
            r#"SSH_MSG_EXT_INFO count=1 server-sig-algs="ssh-ed25519,rsa-sha2-512""#
        );
        assert_eq!(describe(&[123, 1, 2], None), "msg 123 (3 bytes)");
        assert_eq!(
            describe(&[21, 0], None),
            "SSH_MSG_NEWKEYS (2 bytes) (malformed)"
        );
    }

    #[test]
    fn key_exchange_messages_are_named_by_the_method_and_show_no_whole_value() {
        let public = [0x5a; 32];
        let init = encoded(|w| {
            KexInitValue {
                number: MessageNumber::KEX_INIT,
                public: &public,
            }
            .encode(w)
        });
        assert_eq!(
            describe(&init, Some(KexAlg::Curve25519Sha256)),
            "SSH_MSG_KEX_ECDH_INIT public=32 bytes 5a5a5a5a5a5a5a5a.."
        );
        assert!(
            describe(&init, Some(KexAlg::MlKem768X25519Sha256))
                .starts_with("SSH_MSG_KEX_HYBRID_INIT")
        );
        assert!(describe(&init, Some(KexAlg::DhGroup14Sha256)).starts_with("SSH_MSG_KEXDH_INIT"));

        let key = sshwire_keys::PrivateKey::generate(
            sshwire_keys::KeyType::Ed25519,
            None,
            &mut sshwire_keys::testing::TestRng(1),
        )
        .unwrap();
        let blob = key.public_key().to_blob();
        let mut sig = Writer::new();
        sig.string(b"ssh-ed25519").string(&[7; 64]);
        let sig = sig.into_vec();
        let reply = encoded(|w| {
            KexReply {
                number: MessageNumber::KEX_REPLY,
                host_key: &blob,
                public: &public,
                signature: &sig,
            }
            .encode(w)
        });
        let line = describe(&reply, Some(KexAlg::Curve25519Sha256));
        assert!(
            line.starts_with("SSH_MSG_KEX_ECDH_REPLY host_key=ssh-ed25519 SHA256:"),
            "{line}"
        );
        assert!(
            line.contains(&key.public_key().fingerprint_sha256()),
            "{line}"
        );
        assert!(line.ends_with("signature=ssh-ed25519 (64 bytes)"), "{line}");
        assert!(!line.contains(&"5a".repeat(9)), "{line}");
    }

    #[test]
    fn group_exchange_messages_show_their_sizes() {
        let req = encoded(|w| {
            GexRequestMessage {
                min: 2048,
                preferred: 4096,
                max: 8192,
            }
            .encode(w)
        });
        let gex = Some(KexAlg::DhGexSha256);
        assert_eq!(
            describe(&req, gex),
            "SSH_MSG_KEX_DH_GEX_REQUEST min=2048 n=4096 max=8192"
        );
        let mut p = vec![0u8];
        p.extend_from_slice(&[0xff; 256]);
        let group = encoded(|w| GexGroup { p: &p, g: &[2] }.encode(w));
        assert_eq!(
            describe(&group, gex),
            "SSH_MSG_KEX_DH_GEX_GROUP p=2048 bits g=1 bytes 02"
        );
    }

    #[test]
    fn a_tracer_sees_every_packet_of_both_sides_in_order() {
        use crate::Config;
        use crate::pair_tests::Pair;
        use std::sync::{Arc, Mutex};

        type Log = Arc<Mutex<Vec<(Direction, u32, String)>>>;
        fn tracer(log: &Log) -> Box<dyn Tracer> {
            let log = log.clone();
            Box::new(move |p: &Traced<'_>| {
                log.lock()
                    .unwrap()
                    .push((p.direction, p.seq, describe(p.payload, p.kex)));
            })
        }
        let mut pair = Pair::new(Config::default(), Config::default());
        let (client_log, server_log): (Log, Log) = Default::default();
        pair.client.set_tracer(tracer(&client_log));
        pair.server.set_tracer(tracer(&server_log));
        pair.run();
        assert!(pair.established());
        pair.client.send(&[200, 1, 2, 3]).unwrap();
        pair.run();

        let client = client_log.lock().unwrap().clone();
        let server = server_log.lock().unwrap().clone();
        let names = |log: &[(Direction, u32, String)], d: Direction| -> Vec<String> {
            log.iter()
                .filter(|(dir, _, _)| *dir == d)
                .map(|(_, _, line)| line.split(' ').next().unwrap_or_default().to_owned())
                .collect()
        };
        // The default method is the ML-KEM hybrid; the client speaks first in it.
        assert_eq!(
            names(&client, Direction::Sent),
            [
                "SSH_MSG_KEXINIT",
                "SSH_MSG_KEX_HYBRID_INIT",
                "SSH_MSG_NEWKEYS",
                "msg"
            ]
        );
        assert_eq!(
            names(&client, Direction::Sent),
            names(&server, Direction::Received)
        );
        assert_eq!(
            names(&server, Direction::Sent),
            names(&client, Direction::Received)
        );
        assert!(names(&server, Direction::Sent).contains(&"SSH_MSG_KEX_HYBRID_REPLY".to_owned()));
        // Sequence numbers count from 0, one per packet, and start again from 0 after
        // NEWKEYS under strict kex (OpenSSH PROTOCOL §1.10).
        let seqs: Vec<u32> = client
            .iter()
            .filter(|e| e.0 == Direction::Sent)
            .map(|e| e.1)
            .collect();
        assert_eq!(seqs, [0, 1, 2, 0]);
    }

    proptest! {
        #[test]
        fn any_bytes_describe_without_panicking(
            number in 0u8..=255,
            body in proptest::collection::vec(any::<u8>(), 0..200),
            kex in proptest::option::of(proptest::sample::select(KexAlg::all().to_vec())),
        ) {
            let mut payload = vec![number];
            payload.extend_from_slice(&body);
            let line = describe(&payload, kex);
            prop_assert!(!line.chars().any(char::is_control));
            prop_assert!(line.len() < 8 * 1024);
        }
    }
}
