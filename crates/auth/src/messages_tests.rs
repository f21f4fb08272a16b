//! Codec tests: round trips, truncation at every length, limits, and arbitrary bytes.

use super::*;
use proptest::prelude::*;

fn encoded(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    f(&mut w);
    w.into_vec()
}

/// Every cut of a valid message must be refused by `decode`.
fn assert_truncations_fail(v: &[u8], decode: impl Fn(&[u8]) -> Result<(), Error>) {
    for cut in 0..v.len() {
        let r = decode(v.get(..cut).unwrap());
        assert!(r.is_err(), "cut at {cut} of {} decoded: {r:?}", v.len());
    }
    // And one byte more is trailing data.
    let mut longer = v.to_vec();
    longer.push(0);
    assert!(decode(&longer).is_err(), "trailing byte accepted");
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 é:.-]{0,40}"
}

fn method_request() -> impl Strategy<Value = (u8, String, Option<String>, Vec<u8>, Option<Vec<u8>>)>
{
    (
        0u8..5,
        text(),
        proptest::option::of(text()),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    )
}

fn build<'a>(
    kind: u8,
    a: &'a str,
    b: &'a Option<String>,
    blob: &'a [u8],
    sig: &'a Option<Vec<u8>>,
) -> MethodRequest<'a> {
    match kind {
        0 => MethodRequest::None,
        1 => MethodRequest::Password {
            password: a,
            new_password: b.as_deref(),
        },
        2 => MethodRequest::PublicKey {
            algorithm: "ssh-ed25519",
            key_blob: blob,
            signature: sig.as_deref(),
        },
        3 => MethodRequest::KeyboardInteractive {
            language: "",
            submethods: a,
        },
        _ => MethodRequest::Other {
            name: "hostbased",
            data: blob,
        },
    }
}

proptest! {
    #[test]
    fn request_round_trips(user in text(), (kind, a, b, blob, sig) in method_request()) {
        let m = UserauthRequest { user: &user, service: "ssh-connection", method: build(kind, &a, &b, &blob, &sig) };
        let v = m.to_vec();
        prop_assert_eq!(UserauthRequest::decode(&v).unwrap(), m.clone());
        prop_assert_eq!(ClientMessage::decode(&v).unwrap(), ClientMessage::Request(m.clone()));
        if kind != 4 {
            // An unknown method takes every remaining byte, so only known ones truncate.
            assert_truncations_fail(&v, |b| UserauthRequest::decode(b).map(drop));
        }
    }

    #[test]
    fn failure_round_trips(names in proptest::collection::vec("[a-z-]{1,20}", 0..8), partial: bool) {
        let joined = names.join(",");
        let list = NameList::parse(joined.as_bytes(), FAILURE_NAME_LIST_LIMITS).unwrap();
        let m = Failure { methods: list, partial_success: partial };
        let v = encoded(|w| m.encode(w));
        prop_assert_eq!(Failure::decode(&v).unwrap(), m.clone());
        prop_assert_eq!(ServerMessage::decode(&v, None).unwrap(), ServerMessage::Failure(m));
        prop_assert_eq!(v.clone(), encoded(|w| encode_failure(w, names.iter().map(String::as_str), partial)));
        assert_truncations_fail(&v, |b| Failure::decode(b).map(drop));
    }

    #[test]
    fn banner_and_changereq_round_trip(message in text(), language in "[a-z-]{0,10}") {
        let b = Banner { message: &message, language: &language };
        let v = encoded(|w| b.encode(w));
        prop_assert_eq!(Banner::decode(&v).unwrap(), b.clone());
        assert_truncations_fail(&v, |b| Banner::decode(b).map(drop));
        let c = PasswdChangeReq { prompt: &message, language: &language };
        let v = encoded(|w| c.encode(w));
        prop_assert_eq!(PasswdChangeReq::decode(&v).unwrap(), c.clone());
        prop_assert_eq!(ServerMessage::decode(&v, Some(Pending::Password)).unwrap(), ServerMessage::PasswdChangeReq(c));
        assert_truncations_fail(&v, |b| PasswdChangeReq::decode(b).map(drop));
    }

    #[test]
    fn pk_ok_round_trips(blob in proptest::collection::vec(any::<u8>(), 0..100)) {
        let m = PkOk { algorithm: "rsa-sha2-512", key_blob: &blob };
        let v = encoded(|w| m.encode(w));
        prop_assert_eq!(PkOk::decode(&v).unwrap(), m.clone());
        prop_assert_eq!(ServerMessage::decode(&v, Some(Pending::PublicKeyQuery)).unwrap(), ServerMessage::PkOk(m));
        assert_truncations_fail(&v, |b| PkOk::decode(b).map(drop));
    }

    #[test]
    fn info_request_round_trips(name in text(), instruction in text(),
                                prompts in proptest::collection::vec((text(), any::<bool>()), 0..6)) {
        let m = InfoRequest {
            name: &name,
            instruction: &instruction,
            language: "",
            prompts: prompts.iter().map(|(p, e)| Prompt { prompt: p, echo: *e }).collect(),
        };
        let v = encoded(|w| m.encode(w));
        prop_assert_eq!(InfoRequest::decode(&v).unwrap(), m.clone());
        prop_assert_eq!(ServerMessage::decode(&v, Some(Pending::KeyboardInteractive)).unwrap(), ServerMessage::InfoRequest(m));
        assert_truncations_fail(&v, |b| InfoRequest::decode(b).map(drop));
    }

    #[test]
    fn info_response_round_trips(responses in proptest::collection::vec(text(), 0..6)) {
        let m = InfoResponse { responses: responses.iter().map(String::as_str).collect() };
        let v = encoded(|w| m.encode(w));
        prop_assert_eq!(InfoResponse::decode(&v).unwrap(), m.clone());
        prop_assert_eq!(ClientMessage::decode(&v).unwrap(), ClientMessage::InfoResponse(m));
        assert_truncations_fail(&v, |b| InfoResponse::decode(b).map(drop));
    }

    #[test]
    fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..256), first in 50u8..62) {
        let mut with_number = vec![first];
        with_number.extend_from_slice(&v);
        for p in [&v[..], &with_number[..]] {
            let _ = ClientMessage::decode(p);
            for pending in [None, Some(Pending::None), Some(Pending::Password), Some(Pending::PublicKeyQuery),
                            Some(Pending::PublicKeySigned), Some(Pending::KeyboardInteractive)] {
                let _ = ServerMessage::decode(p, pending);
            }
            let _ = UserauthRequest::decode(p);
            let _ = Failure::decode(p);
            let _ = Success::decode(p);
            let _ = Banner::decode(p);
            let _ = PkOk::decode(p);
            let _ = PasswdChangeReq::decode(p);
            let _ = InfoRequest::decode(p);
            let _ = InfoResponse::decode(p);
        }
    }
}

#[test]
fn success_is_one_byte() {
    let v = encoded(|w| Success.encode(w));
    assert_eq!(v, [52]);
    assert_eq!(Success::decode(&v), Ok(Success));
    assert!(Success::decode(&[52, 0]).is_err());
    assert!(Success::decode(&[]).is_err());
}

#[test]
fn number_60_needs_a_request_that_it_answers() {
    let v = encoded(|w| {
        PkOk {
            algorithm: "ssh-ed25519",
            key_blob: b"k",
        }
        .encode(w)
    });
    for pending in [None, Some(Pending::None), Some(Pending::PublicKeySigned)] {
        assert!(ServerMessage::decode(&v, pending).is_err());
    }
    // The same bytes read as a PASSWD_CHANGEREQ when a password request is pending.
    assert!(matches!(
        ServerMessage::decode(&v, Some(Pending::Password)),
        Ok(ServerMessage::PasswdChangeReq(_))
    ));
}

#[test]
fn numbers_from_the_wrong_side_are_refused() {
    for n in [50u8, 61, 54, 80, 127, 200] {
        assert!(ServerMessage::decode(&[n], None).is_err(), "{n}");
    }
    for n in [51u8, 52, 53, 60, 62, 80, 100, 127] {
        assert!(ClientMessage::decode(&[n]).is_err(), "{n}");
    }
}

#[test]
fn limits_are_enforced() {
    let long = "x".repeat(MAX_PASSWORD_LEN + 1);
    let v = UserauthRequest {
        user: "u",
        service: "ssh-connection",
        method: MethodRequest::Password {
            password: &long,
            new_password: None,
        },
    }
    .to_vec();
    assert!(matches!(
        UserauthRequest::decode(&v),
        Err(Error::TooLong { .. })
    ));
    let v = UserauthRequest {
        user: &"u".repeat(MAX_USER_LEN + 1),
        service: "ssh-connection",
        method: MethodRequest::None,
    }
    .to_vec();
    assert!(matches!(
        UserauthRequest::decode(&v),
        Err(Error::TooLong { .. })
    ));
    // 33 prompts: the count alone is refused, before any allocation.
    let mut w = Writer::new();
    w.u8(60).string(b"").string(b"").string(b"").u32(33);
    assert!(matches!(
        InfoRequest::decode(w.as_slice()),
        Err(Error::TooLong { .. })
    ));
    let mut w = Writer::new();
    w.u8(61).u32(u32::MAX);
    assert!(matches!(
        InfoResponse::decode(w.as_slice()),
        Err(Error::TooLong { .. })
    ));
    // A non-UTF-8 password.
    let mut w = Writer::new();
    w.u8(50)
        .string(b"u")
        .string(b"ssh-connection")
        .string(b"password")
        .bool(false)
        .string(&[0xff]);
    assert_eq!(
        UserauthRequest::decode(w.as_slice()),
        Err(Error::InvalidUtf8)
    );
}

#[test]
fn signed_data_follows_rfc4252_section_7() {
    let data = publickey_signed_data(b"SID", "alice", "ssh-connection", "ssh-ed25519", b"BLOB");
    let mut r = Reader::new(&data);
    assert_eq!(r.string().unwrap(), b"SID");
    assert_eq!(r.u8().unwrap(), 50);
    assert_eq!(r.string().unwrap(), b"alice");
    assert_eq!(r.string().unwrap(), b"ssh-connection");
    assert_eq!(r.string().unwrap(), b"publickey");
    assert!(r.bool().unwrap());
    assert_eq!(r.string().unwrap(), b"ssh-ed25519");
    assert_eq!(r.string().unwrap(), b"BLOB");
    r.finish().unwrap();
    // It is the session id followed by the signed request without its signature.
    let request = UserauthRequest {
        user: "alice",
        service: "ssh-connection",
        method: MethodRequest::PublicKey {
            algorithm: "ssh-ed25519",
            key_blob: b"BLOB",
            signature: Some(b"S"),
        },
    }
    .to_vec();
    let tail = data.get(7..).unwrap();
    assert_eq!(tail, request.get(..request.len() - 5).unwrap());
}
