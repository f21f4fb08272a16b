//! Codec tests: round trips, truncation at every length, trailing bytes, arbitrary input.

use super::*;
use proptest::prelude::*;

fn blob(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.:-]{0,20}"
}

/// A name no typed variant claims, so `Other` survives a round trip as `Other`.
fn other_name() -> impl Strategy<Value = String> {
    "x-[a-z0-9@.-]{0,20}"
}

fn cow(s: String) -> Cow<'static, str> {
    Cow::Owned(s)
}

fn cowb(b: Vec<u8>) -> Cow<'static, [u8]> {
    Cow::Owned(b)
}

fn channel_type() -> impl Strategy<Value = ChannelType<'static>> {
    prop_oneof![
        Just(ChannelType::Session),
        (word(), any::<u32>(), word(), any::<u32>()).prop_map(|(h, p, o, op)| {
            ChannelType::DirectTcpip {
                host: cow(h),
                port: p,
                originator: cow(o),
                originator_port: op,
            }
        }),
        (word(), any::<u32>(), word(), any::<u32>()).prop_map(|(h, p, o, op)| {
            ChannelType::ForwardedTcpip {
                address: cow(h),
                port: p,
                originator: cow(o),
                originator_port: op,
            }
        }),
        (word(), any::<u32>()).prop_map(|(o, op)| ChannelType::X11 {
            originator: cow(o),
            originator_port: op,
        }),
        (other_name(), blob(40)).prop_map(|(n, d)| ChannelType::Other {
            name: cow(n),
            data: cowb(d),
        }),
    ]
}

fn request_type() -> impl Strategy<Value = ChannelRequestType<'static>> {
    use ChannelRequestType as T;
    let u = any::<u32>;
    prop_oneof![
        (word(), u(), u(), u(), u(), blob(20)).prop_map(|(t, c, r, w, h, m)| T::PtyReq {
            term: cow(t),
            columns: c,
            rows: r,
            width_px: w,
            height_px: h,
            modes: cowb(m),
        }),
        (blob(10), blob(20)).prop_map(|(n, v)| T::Env {
            name: cowb(n),
            value: cowb(v),
        }),
        Just(T::Shell),
        blob(40).prop_map(|c| T::Exec { command: cowb(c) }),
        word().prop_map(|n| T::Subsystem { name: cow(n) }),
        (u(), u(), u(), u()).prop_map(|(c, r, w, h)| T::WindowChange {
            columns: c,
            rows: r,
            width_px: w,
            height_px: h,
        }),
        word().prop_map(|n| T::Signal { name: cow(n) }),
        u().prop_map(|status| T::ExitStatus { status }),
        (word(), any::<bool>(), word(), word()).prop_map(|(s, c, m, l)| T::ExitSignal {
            signal: cow(s),
            core_dumped: c,
            message: cow(m),
            language: cow(l),
        }),
        Just(T::Keepalive),
        Just(T::Eow),
        (other_name(), blob(40)).prop_map(|(n, d)| T::Other {
            name: cow(n),
            data: cowb(d),
        }),
    ]
}

fn global_type() -> impl Strategy<Value = GlobalRequestType<'static>> {
    use GlobalRequestType as G;
    prop_oneof![
        (word(), any::<u32>()).prop_map(|(a, port)| G::TcpipForward {
            address: cow(a),
            port
        }),
        (word(), any::<u32>()).prop_map(|(a, port)| G::CancelTcpipForward {
            address: cow(a),
            port
        }),
        Just(G::Keepalive),
        Just(G::NoMoreSessions),
        proptest::collection::vec(blob(30), 0..4)
            .prop_map(|k| G::HostKeys(k.into_iter().map(cowb).collect())),
    ]
}

/// Encodes `m`, checks it decodes to itself, that every strict prefix either fails or (for
/// messages ending in uninterpreted bytes) decodes to something else, and that a trailing
/// byte is refused unless the message ends in uninterpreted bytes.
fn check(m: &Message<'_>, open_ended: bool) -> Result<(), TestCaseError> {
    let mut w = Writer::new();
    m.encode(&mut w);
    let v = w.into_vec();
    prop_assert_eq!(&Message::decode(&v).unwrap(), m);
    for cut in 0..v.len() {
        match Message::decode(&v[..cut]) {
            Err(_) => {}
            Ok(d) => {
                prop_assert!(open_ended, "cut at {} decoded: {:?}", cut, d);
                prop_assert_ne!(&d, m);
            }
        }
    }
    let mut longer = v.clone();
    longer.push(0);
    prop_assert_eq!(Message::decode(&longer).is_err(), !open_ended);
    Ok(())
}

fn ends_in_raw_bytes(r: &ChannelRequestType<'_>) -> bool {
    matches!(r, ChannelRequestType::Other { .. })
}

proptest! {
    #[test]
    fn global_request(kind in global_type(), want_reply: bool) {
        let g = GlobalRequest::from_typed(&kind, want_reply);
        prop_assert_eq!(&g.typed().unwrap(), &kind);
        check(&Message::GlobalRequest(g), true)?;
    }

    #[test]
    fn global_request_other(name in other_name(), want_reply: bool, data in blob(40)) {
        let g = GlobalRequest { name: cow(name), want_reply, data: cowb(data) };
        prop_assert_eq!(g.typed().unwrap(), GlobalRequestType::Other);
        check(&Message::GlobalRequest(g), true)?;
    }

    #[test]
    fn request_replies(data in blob(40)) {
        check(&Message::RequestSuccess(RequestSuccess { data: &data }), true)?;
        check(&Message::RequestFailure, false)?;
    }

    #[test]
    fn channel_open(t in channel_type(), sender: u32, window: u32, packet: u32) {
        let open_ended = matches!(t, ChannelType::Other { .. });
        check(&Message::ChannelOpen(ChannelOpen { channel_type: t, sender, initial_window: window, max_packet: packet }), open_ended)?;
    }

    #[test]
    fn open_replies(a: u32, b: u32, c: u32, d: u32, data in blob(20), desc in word(), lang in word()) {
        check(&Message::OpenConfirmation(OpenConfirmation { recipient: a, sender: b, initial_window: c, max_packet: d, data: &data }), true)?;
        check(&Message::OpenFailure(OpenFailure { recipient: a, reason: OpenFailureReason(b), description: cow(desc), language: cow(lang) }), false)?;
    }

    #[test]
    fn flow_messages(a: u32, b: u32, data in blob(100)) {
        check(&Message::WindowAdjust(WindowAdjust { recipient: a, bytes_to_add: b }), false)?;
        check(&Message::Data(ChannelData { recipient: a, data: &data }), false)?;
        check(&Message::ExtendedData(ExtendedData { recipient: a, data_type: b, data: &data }), false)?;
        for n in [CHANNEL_EOF, CHANNEL_CLOSE, CHANNEL_SUCCESS, CHANNEL_FAILURE] {
            check(&Message::Signal(ChannelSignal { number: n, recipient: a }), false)?;
        }
    }

    #[test]
    fn data_header_matches_full_encoding(a: u32, code: u32, data in blob(100)) {
        let mut fast = Vec::new();
        ChannelData::encode_header(a, len32(data.len()), &mut fast);
        prop_assert_eq!(fast.len(), DATA_HEADER_LEN);
        fast.extend_from_slice(&data);
        let mut w = Writer::new();
        ChannelData { recipient: a, data: &data }.encode(&mut w);
        prop_assert_eq!(&fast, w.as_slice());

        let mut fast = Vec::new();
        ExtendedData::encode_header(a, code, len32(data.len()), &mut fast);
        prop_assert_eq!(fast.len(), EXTENDED_DATA_HEADER_LEN);
        fast.extend_from_slice(&data);
        let mut w = Writer::new();
        ExtendedData { recipient: a, data_type: code, data: &data }.encode(&mut w);
        prop_assert_eq!(&fast, w.as_slice());
    }

    #[test]
    fn channel_request(recipient: u32, want_reply: bool, request in request_type()) {
        let open_ended = ends_in_raw_bytes(&request);
        let m = ChannelRequest { recipient, want_reply, request };
        let owned = m.clone().request.into_owned();
        prop_assert_eq!(&owned, &m.request);
        check(&Message::ChannelRequest(m), open_ended)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(v in blob(300)) {
        if let Ok(Message::GlobalRequest(g)) = Message::decode(&v) {
            let _ = g.typed();
        }
        let _ = GlobalRequest::decode(&v);
        let _ = RequestSuccess::decode(&v);
        let _ = RequestFailure::decode(&v);
        let _ = ChannelOpen::decode(&v);
        let _ = OpenConfirmation::decode(&v);
        let _ = OpenFailure::decode(&v);
        let _ = WindowAdjust::decode(&v);
        let _ = ChannelData::decode(&v);
        let _ = ExtendedData::decode(&v);
        let _ = ChannelSignal::decode(&v, CHANNEL_EOF);
        let _ = ChannelRequest::decode(&v);
    }

    /// Arbitrary bytes behind each message number, so every decoder sees deep input.
    #[test]
    fn arbitrary_bodies_never_panic(n in 80u8..=100, v in blob(300)) {
        let mut p = vec![n];
        p.extend_from_slice(&v);
        if let Ok(Message::GlobalRequest(g)) = Message::decode(&p) {
            let _ = g.typed();
        }
    }
}

#[test]
fn every_known_name_with_bad_data_is_refused() {
    for name in [
        "pty-req",
        "env",
        "exec",
        "subsystem",
        "window-change",
        "signal",
        "exit-status",
        "exit-signal",
    ] {
        let mut w = Writer::new();
        w.u8(CHANNEL_REQUEST.0)
            .u32(0)
            .string(name.as_bytes())
            .bool(true)
            .u8(1);
        assert!(ChannelRequest::decode(w.as_slice()).is_err(), "{name}");
    }
    for name in ["direct-tcpip", "forwarded-tcpip", "x11"] {
        let mut w = Writer::new();
        w.u8(CHANNEL_OPEN.0)
            .string(name.as_bytes())
            .u32(0)
            .u32(0)
            .u32(0)
            .u8(1);
        assert!(ChannelOpen::decode(w.as_slice()).is_err(), "{name}");
    }
    let g = GlobalRequest {
        name: Cow::Borrowed(GlobalRequest::TCPIP_FORWARD),
        want_reply: true,
        data: Cow::Borrowed(&[0, 0, 0, 9]),
    };
    assert!(g.typed().is_err());
}

#[test]
fn over_long_names_are_refused() {
    let long = "x".repeat(MAX_NAME_LEN + 1);
    let mut w = Writer::new();
    w.u8(CHANNEL_OPEN.0)
        .string(long.as_bytes())
        .u32(0)
        .u32(0)
        .u32(0);
    assert!(matches!(
        ChannelOpen::decode(w.as_slice()),
        Err(Error::TooLong { .. })
    ));
    let mut keys = Writer::new();
    for _ in 0..=MAX_HOST_KEYS {
        keys.string(b"k");
    }
    let g = GlobalRequest {
        name: Cow::Borrowed(GlobalRequest::HOST_KEYS),
        want_reply: false,
        data: Cow::Owned(keys.into_vec()),
    };
    assert!(matches!(g.typed(), Err(Error::TooLong { .. })));
}

#[test]
fn unknown_numbers_are_refused() {
    for n in [0u8, 50, 79, 83, 89, 101, 127, 255] {
        assert!(Message::decode(&[n, 0, 0, 0, 0]).is_err(), "{n}");
    }
    assert!(Message::decode(&[]).is_err());
}

#[test]
fn reason_names() {
    assert_eq!(
        OpenFailureReason::RESOURCE_SHORTAGE.to_string(),
        "SSH_OPEN_RESOURCE_SHORTAGE"
    );
    assert_eq!(OpenFailureReason(77).to_string(), "open failure reason 77");
}
