//! Whole-connection tests: a client engine and a server engine wired together in memory,
//! with a fake clock.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sshwire_keys::{KeyType, PrivateKey, SignatureAlgorithm};
use sshwire_wire::Writer;

use crate::cipher::{CipherAlg, MacAlg};
use crate::compress::Compression;
use crate::engine::AFTER_BIG_READ;
use crate::kex::KexAlg;
use crate::msg::{DisconnectReason, MessageNumber};
use crate::{Config, Error, Event, IN_PLACE_MIN, Transport};

pub(crate) use sshwire_keys::testing::TestRng;

pub(crate) fn rng(seed: u64) -> Box<TestRng> {
    Box::new(TestRng(seed))
}

/// One host key of each type, generated once per test binary.
pub(crate) fn host_keys() -> &'static [Arc<PrivateKey>] {
    static KEYS: OnceLock<Vec<Arc<PrivateKey>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut r = TestRng(99);
        [
            (KeyType::Ed25519, None),
            (KeyType::EcdsaP256, Some(256)),
            (KeyType::EcdsaP384, Some(384)),
            (KeyType::Rsa, Some(2048)),
        ]
        .into_iter()
        .map(|(t, bits)| Arc::new(PrivateKey::generate(t, bits, &mut r).unwrap()))
        .collect()
    })
}

/// A client and a server engine, the bytes in flight between them, and a fake clock.
pub(crate) struct Pair {
    pub(crate) client: Transport,
    pub(crate) server: Transport,
    pub(crate) now: Instant,
    pub(crate) to_server: Vec<u8>,
    pub(crate) to_client: Vec<u8>,
    pub(crate) client_events: Vec<Event>,
    pub(crate) server_events: Vec<Event>,
    /// What the client answers when asked about the host key.
    pub(crate) trust_host_key: bool,
    /// Delivers the server's input through [`Transport::input_buffer`] in pieces of at most
    /// this many bytes, instead of [`Transport::handle_input`].
    pub(crate) lend_to_server: Option<usize>,
}

impl Pair {
    pub(crate) fn new(client: Config, server: Config) -> Self {
        Self::with_keys(client, server, host_keys().to_vec())
    }

    pub(crate) fn with_keys(client: Config, server: Config, keys: Vec<Arc<PrivateKey>>) -> Self {
        Pair {
            client: Transport::client(Arc::new(client), rng(1)),
            server: Transport::server(Arc::new(server), keys, rng(2)),
            now: Instant::now(),
            to_server: Vec::new(),
            to_client: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            trust_host_key: true,
            lend_to_server: None,
        }
    }

    /// Moves bytes and events until neither side has anything more to do.
    pub(crate) fn run(&mut self) {
        loop {
            let mut progress = false;
            self.client.poll_transmit(&mut self.to_server);
            self.server.poll_transmit(&mut self.to_client);
            if let Some(step) = self.lend_to_server {
                while !self.to_server.is_empty() && !self.server.is_closed() {
                    let (buf, room) = self.server.input_buffer();
                    let n = room.min(step).min(self.to_server.len());
                    if n == 0 {
                        break;
                    }
                    let spare = buf.capacity() - buf.len();
                    assert!(spare >= n, "{spare} spare bytes, {n} offered");
                    buf.extend_from_slice(&self.to_server[..n]);
                    self.to_server.drain(..n);
                    progress = true;
                    if self.server.process_input(self.now).is_err() {
                        break;
                    }
                }
            } else if !self.to_server.is_empty()
                && !self.server.is_closed()
                && let Ok(n) = self.server.handle_input(self.now, &self.to_server)
            {
                progress |= n > 0;
                self.to_server.drain(..n);
            }
            if !self.to_client.is_empty()
                && !self.client.is_closed()
                && let Ok(n) = self.client.handle_input(self.now, &self.to_client)
            {
                progress |= n > 0;
                self.to_client.drain(..n);
            }
            while let Some(e) = self.client.poll_event() {
                progress = true;
                if let Event::HostKey(_) = e {
                    let _ = self.client.host_key_verdict(self.now, self.trust_host_key);
                }
                self.client_events.push(e);
            }
            while let Some(e) = self.server.poll_event() {
                progress = true;
                self.server_events.push(e);
            }
            if self.client.wants_transmit() || self.server.wants_transmit() {
                progress = true;
            }
            if self.client.is_closed() && self.server.is_closed() {
                // Deliver the last words, then stop.
                self.client.poll_transmit(&mut self.to_server);
                self.server.poll_transmit(&mut self.to_client);
                return;
            }
            if !progress {
                return;
            }
        }
    }

    /// Advances the fake clock and lets both engines act on it.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
        let _ = self.client.handle_timeout(self.now);
        let _ = self.server.handle_timeout(self.now);
        self.run();
    }

    pub(crate) fn established(&self) -> bool {
        self.client.is_established() && self.server.is_established()
    }

    /// Drains upper-layer payloads a side received.
    pub(crate) fn take_messages(events: &mut Vec<Event>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        events.retain(|e| match e {
            Event::Message(m) => {
                out.push(m.clone());
                false
            }
            Event::MessageAt { buf, start } => {
                out.push(buf[*start..].to_vec());
                false
            }
            _ => true,
        });
        out
    }
}

/// A payload numbered 94 (CHANNEL_DATA is as good a number as any) carrying `data`.
fn upper(data: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(94).string(data);
    w.into_vec()
}

fn config_with(
    kex: KexAlg,
    host_key: SignatureAlgorithm,
    cipher: CipherAlg,
    mac: Option<MacAlg>,
) -> Config {
    Config {
        kex: vec![kex],
        host_key_algorithms: vec![host_key],
        ciphers: vec![cipher],
        macs: mac.map_or_else(|| MacAlg::defaults().to_vec(), |m| vec![m]),
        ..Config::default()
    }
}

/// Every cipher with every MAC it can take (AEADs take none).
fn cipher_mac_combinations() -> Vec<(CipherAlg, Option<MacAlg>)> {
    let mut v = Vec::new();
    for &c in CipherAlg::all() {
        if c.is_aead() {
            v.push((c, None));
        } else {
            for &m in [
                MacAlg::HmacSha256Etm,
                MacAlg::HmacSha512Etm,
                MacAlg::HmacSha256,
                MacAlg::HmacSha512,
                MacAlg::HmacSha1,
                MacAlg::HmacSha1Etm,
            ]
            .iter()
            {
                v.push((c, Some(m)));
            }
        }
    }
    v
}

fn handshake_and_exchange(client: Config, server: Config) -> Pair {
    let mut p = Pair::new(client, server);
    p.run();
    assert!(
        p.established(),
        "not established: client {:?} server {:?}",
        p.client.error(),
        p.server.error()
    );
    let n = *p.client.negotiated().unwrap();
    assert_eq!(Some(&n), p.server.negotiated());
    assert!(n.strict_kex);
    assert_eq!(p.client.session_id(), p.server.session_id());
    p.client.send(&upper(b"to the server")).unwrap();
    p.server.send(&upper(b"to the client")).unwrap();
    p.run();
    assert_eq!(
        Pair::take_messages(&mut p.server_events),
        [upper(b"to the server")]
    );
    assert_eq!(
        Pair::take_messages(&mut p.client_events),
        [upper(b"to the client")]
    );
    p
}

const HOST_KEY_ALGORITHMS: [SignatureAlgorithm; 5] = [
    SignatureAlgorithm::Ed25519,
    SignatureAlgorithm::EcdsaP256,
    SignatureAlgorithm::EcdsaP384,
    SignatureAlgorithm::RsaSha256,
    SignatureAlgorithm::RsaSha512,
];

/// Every cipher x MAC x host key combination with one key exchange method: a handshake, a
/// message each way, and the agreed algorithms checked on both sides.
fn full_matrix(kex: KexAlg) {
    for (cipher, mac) in cipher_mac_combinations() {
        for host_key in HOST_KEY_ALGORITHMS {
            let cfg = config_with(kex, host_key, cipher, mac);
            let p = handshake_and_exchange(cfg.clone(), cfg);
            let n = p.client.negotiated().unwrap();
            assert_eq!((n.kex, n.host_key), (kex, host_key));
            assert_eq!(
                (n.client_to_server.cipher, n.client_to_server.mac),
                (cipher, mac)
            );
            assert_eq!(
                (n.server_to_client.cipher, n.server_to_client.mac),
                (cipher, mac)
            );
        }
    }
}

/// One test per key exchange method, so the matrix runs in parallel.
macro_rules! matrix_tests {
    ($($name:ident => $kex:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                full_matrix($kex);
            }
        )*
        /// Every method has a matrix test above.
        #[test]
        fn matrix_covers_every_kex() {
            let covered = [$($kex),*];
            for kex in KexAlg::all() {
                assert!(covered.contains(kex), "{kex:?}");
            }
        }
    };
}

matrix_tests! {
    matrix_mlkem768x25519 => KexAlg::MlKem768X25519Sha256,
    matrix_sntrup761x25519 => KexAlg::Sntrup761X25519Sha512,
    matrix_sntrup761x25519_openssh => KexAlg::Sntrup761X25519Sha512OpenSsh,
    matrix_curve25519 => KexAlg::Curve25519Sha256,
    matrix_curve25519_libssh => KexAlg::Curve25519Sha256LibSsh,
    matrix_ecdh_nistp256 => KexAlg::EcdhSha2Nistp256,
    matrix_ecdh_nistp384 => KexAlg::EcdhSha2Nistp384,
    matrix_dh_group14 => KexAlg::DhGroup14Sha256,
    matrix_dh_group16 => KexAlg::DhGroup16Sha512,
    matrix_dh_group18 => KexAlg::DhGroup18Sha512,
    matrix_dh_group_exchange => KexAlg::DhGexSha256,
}

/// Streams `total` bytes each way in 32 KiB payloads, returning what each side received.
fn stream_both_ways(p: &mut Pair, total: usize) -> (Vec<u8>, Vec<u8>) {
    let chunk = 32 * 1024;
    let pattern = |i: usize| (i % 251) as u8;
    let mut sent = 0;
    let (mut at_server, mut at_client) = (Vec::new(), Vec::new());
    while sent < total {
        let n = chunk.min(total - sent);
        let data: Vec<u8> = (sent..sent + n).map(pattern).collect();
        let mut msg = vec![94];
        msg.extend_from_slice(&data);
        // Respect the queue bound during a rekey: let the pair drain it first.
        while p.client.send_capacity() < msg.len() || p.server.send_capacity() < msg.len() {
            p.run();
        }
        p.client.send(&msg).unwrap();
        p.server.send(&msg).unwrap();
        sent += n;
        if sent % (256 * 1024) == 0 {
            p.run();
            for m in Pair::take_messages(&mut p.server_events) {
                at_server.extend_from_slice(&m[1..]);
            }
            for m in Pair::take_messages(&mut p.client_events) {
                at_client.extend_from_slice(&m[1..]);
            }
        }
    }
    p.run();
    for m in Pair::take_messages(&mut p.server_events) {
        at_server.extend_from_slice(&m[1..]);
    }
    for m in Pair::take_messages(&mut p.client_events) {
        at_client.extend_from_slice(&m[1..]);
    }
    let expected: Vec<u8> = (0..total).map(pattern).collect();
    assert!(at_server == expected, "server received different bytes");
    assert!(at_client == expected, "client received different bytes");
    (at_server, at_client)
}

/// Input read straight into the engine's buffer, in pieces of any size, gives the same
/// session as input handed over: handshake, a rekey, and data both ways arrive intact.
#[test]
fn input_read_into_the_engines_buffer_is_the_same_session() {
    for step in [1, 5, 4096, 100_000, usize::MAX] {
        let cfg = Config {
            rekey_after_bytes: 512 * 1024,
            ..Config::default()
        };
        let mut p = Pair::new(cfg.clone(), cfg);
        p.lend_to_server = Some(step);
        p.run();
        assert!(p.established(), "step {step}");
        let total = if step < 100 { 64 * 1024 } else { 1 << 20 };
        stream_both_ways(&mut p, total);
        if step >= 100 {
            assert!(
                kex_completions(&p.server_events) >= 2,
                "step {step}: no rekey"
            );
        }
    }
}

fn kex_completions(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::KexComplete { .. }))
        .count()
}

#[test]
fn rekeys_ten_times_in_64_mib_each_way() {
    for (cipher, mac) in [
        (CipherAlg::ChaCha20Poly1305, None),
        (CipherAlg::Aes256Gcm, None),
        (CipherAlg::Aes128Ctr, Some(MacAlg::HmacSha256Etm)),
        (CipherAlg::Aes256Ctr, Some(MacAlg::HmacSha512)),
    ] {
        let mut cfg = config_with(
            KexAlg::Curve25519Sha256,
            SignatureAlgorithm::Ed25519,
            cipher,
            mac,
        );
        // 64 MiB each way over a 6 MiB limit: the first of the two directions to reach it
        // triggers each exchange, so at least ten happen.
        cfg.rekey_after_bytes = 6 * 1024 * 1024;
        let mut p = Pair::new(cfg.clone(), cfg);
        p.run();
        assert!(p.established());
        stream_both_ways(&mut p, 64 * 1024 * 1024);
        let rekeys = kex_completions(&p.client_events) - 1;
        assert!(rekeys >= 10, "{cipher:?}: only {rekeys} rekeys");
        assert_eq!(kex_completions(&p.server_events), rekeys + 1);
        assert!(p.client.error().is_none() && p.server.error().is_none());
    }
}

#[test]
fn rekey_on_request_and_by_time_keeps_the_session_id() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    let sid = p.client.session_id().unwrap().to_vec();
    p.client.rekey().unwrap();
    p.run();
    p.server.rekey().unwrap();
    p.run();
    assert_eq!(kex_completions(&p.client_events), 3);
    // RFC 4253 §7.2: "The session identifier [...] is not changed" by later exchanges.
    assert_eq!(p.client.session_id().unwrap(), sid);
    assert_eq!(p.server.session_id().unwrap(), sid);
    let due = p.client.poll_timeout().unwrap();
    assert_eq!(due, p.now + Duration::from_secs(3600));
    p.advance(Duration::from_secs(3599));
    assert_eq!(kex_completions(&p.client_events), 3);
    p.advance(Duration::from_secs(1));
    assert_eq!(kex_completions(&p.client_events), 4);
    p.client.send(&upper(b"still here")).unwrap();
    p.run();
    assert_eq!(
        Pair::take_messages(&mut p.server_events),
        [upper(b"still here")]
    );
}

#[test]
fn strict_kex_resets_sequence_numbers_after_every_newkeys() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    // After NEWKEYS the counters restarted at zero; only the packets since then count.
    // Server sent EXT_INFO after its NEWKEYS: one packet. Client sent nothing yet.
    assert_eq!(p.client.outgoing.seq, 0);
    assert_eq!(p.server.outgoing.seq, 1);
    assert_eq!(p.client.incoming.seq, 1);
    assert_eq!(p.server.incoming.seq, 0);
    for _ in 0..5 {
        p.client.send(&upper(b"x")).unwrap();
    }
    p.run();
    assert_eq!(p.server.incoming.seq, 5);
    p.client.rekey().unwrap();
    p.run();
    assert_eq!(p.client.outgoing.seq, 0);
    assert_eq!(p.server.incoming.seq, 0);
    assert_eq!(p.server.outgoing.seq, 0);
    assert_eq!(p.client.incoming.seq, 0);
}

/// A plaintext packet carrying `payload`, as sent before the first NEWKEYS.
fn plaintext_packet(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    crate::cipher::PacketSealer::plaintext()
        .seal(0, payload, &mut TestRng(5), &mut out)
        .unwrap();
    out
}

fn split_ident(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let lf = bytes.iter().position(|&b| b == b'\n').unwrap();
    (bytes[..=lf].to_vec(), bytes[lf + 1..].to_vec())
}

#[test]
fn strict_kex_refuses_ignore_before_kexinit() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.client.poll_transmit(&mut p.to_server);
    let (ident, rest) = split_ident(&p.to_server);
    let mut injected = ident;
    injected.extend(plaintext_packet(&[MessageNumber::IGNORE.0, 0, 0, 0, 0]));
    injected.extend(rest);
    let r = p.server.handle_input(p.now, &injected);
    assert_eq!(
        r,
        Err(Error::PeerMisbehaved(
            "strict kex: KEXINIT was not the first packet"
        ))
    );
}

#[test]
fn strict_kex_refuses_ignore_between_kexinit_and_newkeys() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.client.poll_transmit(&mut p.to_server);
    let mut injected = p.to_server.clone();
    injected.extend(plaintext_packet(&[MessageNumber::IGNORE.0, 0, 0, 0, 0]));
    let r = p.server.handle_input(p.now, &injected);
    assert!(
        matches!(
            r,
            Err(Error::UnexpectedMessage {
                number: MessageNumber::IGNORE,
                ..
            })
        ),
        "{r:?}"
    );
    // The last word went out: a plaintext DISCONNECT with PROTOCOL_ERROR.
    let err = p.server.error().unwrap().disconnect().unwrap();
    assert_eq!(err.0, DisconnectReason::PROTOCOL_ERROR);
}

#[test]
fn duplicate_kexinit_is_fatal() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.client.poll_transmit(&mut p.to_server);
    let (ident, rest) = split_ident(&p.to_server);
    let mut injected = ident;
    injected.extend(&rest);
    // The same KEXINIT packet again (sequence numbers do not matter in plaintext).
    injected.extend(&rest);
    let r = p.server.handle_input(p.now, &injected);
    assert!(
        matches!(
            r,
            Err(Error::UnexpectedMessage {
                number: MessageNumber::KEXINIT,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn upper_layer_message_during_initial_kex_is_fatal() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.client.poll_transmit(&mut p.to_server);
    let mut injected = p.to_server.clone();
    injected.extend(plaintext_packet(&upper(b"early")));
    let r = p.server.handle_input(p.now, &injected);
    assert!(matches!(r, Err(Error::UnexpectedMessage { .. })), "{r:?}");
}

#[test]
fn rejected_host_key_disconnects_with_host_key_not_verifiable() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.trust_host_key = false;
    p.run();
    assert_eq!(p.client.error(), Some(&Error::HostKeyRejected));
    p.run();
    // The server read the client's DISCONNECT.
    assert!(
        matches!(
            p.server.error(),
            Some(Error::PeerDisconnected {
                reason: DisconnectReason::HOST_KEY_NOT_VERIFIABLE,
                ..
            })
        ),
        "{:?}",
        p.server.error()
    );
}

#[test]
fn host_key_event_carries_the_servers_key() {
    let keys = vec![host_keys()[0].clone()];
    let mut p = Pair::with_keys(Config::default(), Config::default(), keys);
    p.run();
    let seen: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::HostKey(k) => Some(k.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(seen, [host_keys()[0].public_key()]);
}

#[test]
fn flipped_bit_after_kex_is_a_mac_error_for_each_cipher() {
    for (cipher, mac) in cipher_mac_combinations() {
        let cfg = config_with(
            KexAlg::Curve25519Sha256,
            SignatureAlgorithm::Ed25519,
            cipher,
            mac,
        );
        let mut p = Pair::new(cfg.clone(), cfg);
        p.run();
        assert!(p.established());
        p.client.send(&upper(&[7u8; 100])).unwrap();
        let mut out = Vec::new();
        p.client.poll_transmit(&mut out);
        let last = out.len() - 1;
        out[last / 2] ^= 0x10;
        let r = p.server.handle_input(p.now, &out);
        let e = r.unwrap_err();
        let (reason, _) = e.disconnect().unwrap();
        assert!(
            reason == DisconnectReason::MAC_ERROR || reason == DisconnectReason::PROTOCOL_ERROR,
            "{cipher:?} {mac:?}: {e}"
        );
        assert!(Pair::take_messages(&mut p.server_events).is_empty());
    }
}

#[test]
fn service_request_and_accept() {
    let mut p = Pair::new(Config::default(), Config::default());
    // Asked before the exchange completes: queued until it does.
    p.client.request_service("ssh-userauth").unwrap();
    p.run();
    assert!(
        p.server_events
            .contains(&Event::ServiceRequest("ssh-userauth".into()))
    );
    p.server.accept_service("ssh-userauth").unwrap();
    p.run();
    assert!(
        p.client_events
            .contains(&Event::ServiceAccept("ssh-userauth".into()))
    );
}

#[test]
fn unsolicited_service_accept_is_fatal() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    p.server.accept_service("ssh-connection").unwrap();
    p.run();
    assert!(matches!(
        p.client.error(),
        Some(Error::UnexpectedMessage {
            number: MessageNumber::SERVICE_ACCEPT,
            ..
        })
    ));
}

#[test]
fn server_sends_ext_info_with_server_sig_algs() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    let ext = p
        .client_events
        .iter()
        .find_map(|e| match e {
            Event::ExtInfo(v) => Some(v.clone()),
            _ => None,
        })
        .expect("no EXT_INFO");
    let sig_algs = ext.iter().find(|(n, _)| n == "server-sig-algs").unwrap();
    assert_eq!(
        sig_algs.1,
        b"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,rsa-sha2-512,rsa-sha2-256"
    );
}

#[test]
fn zlib_compresses_from_newkeys() {
    let cfg = Config {
        compression: vec![Compression::Zlib],
        ..Config::default()
    };
    let mut p = Pair::new(cfg.clone(), cfg);
    p.run();
    assert!(p.established());
    let big = upper(&vec![b'a'; 100_000]);
    p.client.send(&big).unwrap();
    let mut wire = Vec::new();
    p.client.poll_transmit(&mut wire);
    assert!(wire.len() < 2000, "not compressed: {} bytes", wire.len());
    p.server.handle_input(p.now, &wire).unwrap();
    p.run();
    assert_eq!(Pair::take_messages(&mut p.server_events), [big]);
}

#[test]
fn delayed_zlib_waits_for_authentication() {
    let cfg = Config {
        compression: vec![Compression::ZlibOpenSsh],
        ..Config::default()
    };
    let mut p = Pair::new(cfg.clone(), cfg);
    p.run();
    let big = upper(&vec![b'a'; 100_000]);
    p.client.send(&big).unwrap();
    let mut wire = Vec::new();
    p.client.poll_transmit(&mut wire);
    assert!(wire.len() > 100_000, "compressed before authentication");
    p.server.handle_input(p.now, &wire).unwrap();
    p.client.auth_succeeded();
    p.server.auth_succeeded();
    p.client.send(&big).unwrap();
    let mut wire = Vec::new();
    p.client.poll_transmit(&mut wire);
    assert!(wire.len() < 2000, "not compressed after authentication");
    p.server.handle_input(p.now, &wire).unwrap();
    p.run();
    assert_eq!(
        Pair::take_messages(&mut p.server_events),
        [big.clone(), big]
    );
    // A rekey after authentication compresses from its NEWKEYS on.
    p.client.rekey().unwrap();
    p.run();
    p.server.send(&upper(&vec![b'b'; 50_000])).unwrap();
    p.run();
    assert_eq!(Pair::take_messages(&mut p.client_events).len(), 1);
}

#[test]
fn no_common_cipher_is_a_key_exchange_failure() {
    let client = Config {
        ciphers: vec![CipherAlg::Aes128Ctr],
        ..Config::default()
    };
    let server = Config {
        ciphers: vec![CipherAlg::Aes256Gcm],
        ..Config::default()
    };
    let mut p = Pair::new(client, server);
    p.run();
    let e = p.client.error().unwrap();
    assert!(
        matches!(
            e,
            Error::NoCommonAlgorithm {
                category: "cipher",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.disconnect().unwrap().0,
        DisconnectReason::KEY_EXCHANGE_FAILED
    );
}

#[test]
fn unknown_transport_message_gets_unimplemented() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    // Number 15 is in the generic transport range and unassigned.
    p.client.send_transport(&[15, 1, 2, 3]).unwrap();
    p.run();
    assert!(
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::Unimplemented(_))),
        "{:?}",
        p.client_events
    );
    assert!(p.server.error().is_none());
}

/// An upper-layer message the layers above do not know is answered with UNIMPLEMENTED and
/// the number of the packet that carried it (RFC 4253 §11.4), and the connection goes on.
#[test]
fn an_upper_layer_message_can_be_rejected_as_unimplemented() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    assert!(p.established());
    assert!(matches!(
        p.server.reject_message(),
        Err(Error::ApiMisuse(_))
    ));
    p.client.send(&upper(b"first")).unwrap();
    p.run();
    let seq = p.client.outgoing.seq;
    p.client.send(&[200, 1, 2]).unwrap();
    p.run();
    assert_eq!(
        Pair::take_messages(&mut p.server_events).last(),
        Some(&vec![200, 1, 2])
    );
    p.server.reject_message().unwrap();
    p.run();
    assert!(
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::Unimplemented(s) if *s == seq)),
        "{:?}",
        p.client_events
    );
    p.client.send(&upper(b"after")).unwrap();
    p.run();
    assert_eq!(
        Pair::take_messages(&mut p.server_events),
        vec![upper(b"after")]
    );
    assert!(p.server.error().is_none() && p.client.error().is_none());
}

#[test]
fn ping_is_answered() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    let mut w = Writer::new();
    w.u8(MessageNumber::PING.0).string(b"are you there");
    p.client.send_transport(w.as_slice()).unwrap();
    p.run();
    assert!(p.client.error().is_none() && p.server.error().is_none());
}

#[test]
fn peer_disconnect_is_reported_and_sticky() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    p.client.disconnect(DisconnectReason::BY_APPLICATION, "bye");
    p.run();
    let expected = Error::PeerDisconnected {
        reason: DisconnectReason::BY_APPLICATION,
        description: "bye".into(),
    };
    assert_eq!(p.server.error(), Some(&expected));
    assert_eq!(p.server.send(&upper(b"x")), Err(expected.clone()));
    assert_eq!(p.server.handle_input(p.now, b"more"), Err(expected));
}

#[test]
fn server_banner_lines_reach_the_client() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.to_client
        .extend_from_slice(b"Welcome\r\nto the server\r\n");
    p.run();
    assert!(p.established());
    assert_eq!(
        p.client_events[..2],
        [
            Event::Banner("Welcome".into()),
            Event::Banner("to the server".into())
        ]
    );
}

#[test]
fn input_in_single_bytes_works() {
    let mut p = Pair::new(Config::default(), Config::default());
    for _ in 0..200_000 {
        p.client.poll_transmit(&mut p.to_server);
        p.server.poll_transmit(&mut p.to_client);
        if let Some(&b) = p.to_server.first() {
            assert_eq!(p.server.handle_input(p.now, &[b]).unwrap(), 1);
            p.to_server.remove(0);
        }
        if let Some(&b) = p.to_client.first()
            && p.client.handle_input(p.now, &[b]).unwrap() == 1
        {
            p.to_client.remove(0);
        }
        while let Some(e) = p.client.poll_event() {
            if let Event::HostKey(_) = e {
                p.client.host_key_verdict(p.now, true).unwrap();
            }
        }
        while p.server.poll_event().is_some() {}
        if p.established() {
            break;
        }
    }
    assert!(p.established());
}

/// Rewrites the client's first flight so that its KEXINIT says `first_kex_packet_follows`,
/// followed by `guess` (a kex packet sent on a guess), and returns the bytes for the server.
fn client_flight_with_guess(p: &mut Pair, guess: Option<Vec<u8>>) -> Vec<u8> {
    p.client.poll_transmit(&mut p.to_server);
    let (ident, _kexinit_packet) = split_ident(&p.to_server);
    let kex = p.client.kex.as_mut().unwrap();
    let mut init = crate::kexinit::KexInit::decode(&kex.ours).unwrap();
    init.first_kex_packet_follows = true;
    let mut w = Writer::new();
    init.encode(&mut w);
    // The exchange hash must cover the KEXINIT as sent.
    kex.ours = w.as_slice().to_vec();
    let mut bytes = ident;
    bytes.extend(plaintext_packet(w.as_slice()));
    if let Some(g) = guess {
        bytes.extend(plaintext_packet(&g));
    }
    p.to_server.clear();
    bytes
}

#[test]
fn wrong_guess_is_silently_ignored() {
    let client = Config {
        kex: vec![KexAlg::Curve25519Sha256, KexAlg::EcdhSha2Nistp256],
        ..Config::default()
    };
    let server = Config {
        kex: vec![KexAlg::EcdhSha2Nistp256, KexAlg::Curve25519Sha256],
        ..Config::default()
    };
    let mut p = Pair::new(client, server);
    // A well-formed curve25519 INIT: if the server acted on it, it would answer it and then
    // choke on the client's real INIT.
    let mut guess = Writer::new();
    guess.u8(MessageNumber::KEX_INIT.0).string(&[9u8; 32]);
    let flight = client_flight_with_guess(&mut p, Some(guess.into_vec()));
    assert_eq!(p.server.handle_input(p.now, &flight).unwrap(), flight.len());
    p.run();
    assert!(
        p.established(),
        "{:?} / {:?}",
        p.client.error(),
        p.server.error()
    );
    assert_eq!(p.server.negotiated().unwrap().kex, KexAlg::Curve25519Sha256);
}

#[test]
fn right_guess_is_used() {
    let mut p = Pair::new(Config::default(), Config::default());
    // Both prefer the same kex and host key: the guess is right, and the packet that follows
    // the KEXINIT is the client's real INIT, which the server must act on.
    let flight = client_flight_with_guess(&mut p, None);
    p.server.handle_input(p.now, &flight).unwrap();
    p.run();
    assert!(
        p.established(),
        "{:?} / {:?}",
        p.client.error(),
        p.server.error()
    );
}

/// A server that has seen a real client's KEXINIT, then gets `init` as the client's INIT.
fn server_after_client_init(kex: KexAlg, init: &[u8]) -> Error {
    let cfg = Config {
        kex: vec![kex],
        ..Config::default()
    };
    let mut p = Pair::new(cfg.clone(), cfg);
    p.client.poll_transmit(&mut p.to_server);
    let mut bytes = p.to_server.clone();
    let mut w = Writer::new();
    w.u8(MessageNumber::KEX_INIT.0).string(init);
    bytes.extend(plaintext_packet(w.as_slice()));
    p.server.handle_input(p.now, &bytes).unwrap_err()
}

#[test]
fn invalid_public_values_fail_the_key_exchange() {
    let mut p256_zero = vec![4u8];
    p256_zero.extend([0u8; 64]);
    let mut p256_off_curve = vec![4u8];
    p256_off_curve.extend([1u8; 64]);
    let group14_p_minus_1 = {
        // RFC 3526 group 14 prime ends in ...FFFFFFFF; p-1 ends in ...FE. Its mpint content
        // has a leading zero because the top bit is set.
        let mut v = vec![0u8];
        v.extend(std::iter::repeat_n(0xffu8, 256));
        v
    };
    let cases: Vec<(KexAlg, Vec<u8>)> = vec![
        (KexAlg::Curve25519Sha256, vec![0u8; 32]),
        (KexAlg::Curve25519Sha256, vec![1u8; 31]),
        (KexAlg::EcdhSha2Nistp256, p256_zero),
        (KexAlg::EcdhSha2Nistp256, p256_off_curve),
        (KexAlg::EcdhSha2Nistp384, vec![4u8; 10]),
        (KexAlg::DhGroup14Sha256, vec![]),
        (KexAlg::DhGroup14Sha256, vec![1]),
        (KexAlg::DhGroup14Sha256, group14_p_minus_1),
        (KexAlg::MlKem768X25519Sha256, vec![0u8; 100]),
        (KexAlg::Sntrup761X25519Sha512, vec![0u8; 1158]),
    ];
    for (kex, value) in cases {
        let e = server_after_client_init(kex, &value);
        assert!(matches!(e, Error::Kex(_)), "{kex:?} {value:02x?}: {e}");
        assert_eq!(
            e.disconnect().unwrap().0,
            DisconnectReason::KEY_EXCHANGE_FAILED,
            "{kex:?}"
        );
    }
}

#[test]
fn rekey_after_a_packet_count() {
    let cfg = Config {
        rekey_after_packets: 10,
        ..Config::default()
    };
    let mut p = Pair::new(cfg.clone(), cfg);
    p.run();
    for i in 0..25u8 {
        p.client.send(&upper(&[i])).unwrap();
        p.run();
    }
    let received = Pair::take_messages(&mut p.server_events);
    assert_eq!(received.len(), 25);
    assert!(
        kex_completions(&p.client_events) >= 3,
        "{:?}",
        p.client_events
    );
}

#[test]
fn debug_messages_are_reported() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    let mut w = Writer::new();
    crate::messages::Debug {
        always_display: true,
        message: b"hello from the server",
        language: b"",
    }
    .encode(&mut w);
    p.server.send_transport(w.as_slice()).unwrap();
    p.run();
    assert!(p.client_events.contains(&Event::Debug {
        always_display: true,
        message: "hello from the server".into()
    }));
}

mod hostile_transport_messages {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// Arbitrary payloads numbered as transport messages, after the key exchange, never
        /// panic the receiver; whatever error they cause names a disconnect reason.
        #[test]
        fn never_panic(number in prop_oneof![1u8..=49, Just(192u8), Just(193u8)],
                       body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let cfg = Config {
                kex: vec![KexAlg::Curve25519Sha256],
                ..Config::default()
            };
            let mut p = Pair::new(cfg.clone(), cfg);
            p.run();
            let mut payload = vec![number];
            payload.extend(&body);
            p.client.send_transport(&payload).unwrap();
            let mut wire = Vec::new();
            p.client.poll_transmit(&mut wire);
            match p.server.handle_input(p.now, &wire) {
                Ok(_) => {}
                Err(Error::PeerDisconnected { .. }) => {}
                Err(e) => prop_assert!(e.disconnect().is_some(), "{}", e),
            }
        }
    }
}

/// `payload` after `SEND_HEADROOM` bytes of room, as `send_owned` takes it.
fn with_room(payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0xAB; crate::SEND_HEADROOM];
    packet.extend_from_slice(payload);
    packet
}

/// Packets sealed in their own buffers arrive as the same messages, in order with the
/// others, whether they are taken as buffers or copied out, sealed in place, queued during a
/// key exchange or compressed.
#[test]
fn payloads_sealed_in_their_own_buffers_arrive_intact_and_in_order() {
    for compression in [Compression::None, Compression::Zlib] {
        let cfg = Config {
            compression: vec![compression],
            ..Config::default()
        };
        let mut p = Pair::new(cfg.clone(), cfg);
        p.run();
        assert!(p.established());
        let messages: Vec<Vec<u8>> = (0..6u8)
            .map(|i| upper(&vec![i; 1000 * usize::from(i) + 1]))
            .collect();
        // Owned, copied, owned: one stream, in order, taken as buffers.
        p.client.send_owned(with_room(&messages[0])).unwrap();
        p.client.send(&messages[1]).unwrap();
        p.client.send_owned(with_room(&messages[2])).unwrap();
        let mut buffers = std::collections::VecDeque::new();
        p.client.poll_transmit_buffers(&mut buffers);
        assert_eq!(p.client.transmit_len(), 0);
        let wire: Vec<u8> = buffers.into_iter().flatten().collect();
        p.server.handle_input(p.now, &wire).unwrap();
        // During a key exchange (queued), and taken by copy.
        p.client.rekey().unwrap();
        p.client.send_owned(with_room(&messages[3])).unwrap();
        p.run();
        p.client.send_owned(with_room(&messages[4])).unwrap();
        p.client.send(&messages[5]).unwrap();
        p.run();
        assert_eq!(
            Pair::take_messages(&mut p.server_events),
            messages,
            "{compression:?}"
        );
    }
    // Transport messages and empty payloads are not the caller's to send.
    let mut p = Pair::new(Config::default(), Config::default());
    p.run();
    assert!(p.client.send_owned(with_room(&[2])).is_err());
}

/// Right after a large packet the receive buffer is offered for a short read only, so that a
/// large packet following it is read almost wholly into its own buffer rather than copied
/// there; the offers after that are large again.
#[test]
fn after_a_large_packet_the_next_read_is_short() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.server.set_messages_in_place(true);
    p.run();
    assert!(p.established());
    let message = |seed: u8| {
        let mut m = vec![94u8];
        m.extend((0..200_000).map(|j| (j as u8) ^ seed));
        m
    };
    for seed in [1, 2, 3] {
        p.client.send(&message(seed)).unwrap();
    }
    p.client.poll_transmit(&mut p.to_server);
    let mut offers = Vec::new();
    while !p.to_server.is_empty() {
        let (buf, room) = p.server.input_buffer();
        let n = room.min(p.to_server.len());
        assert!(n > 0);
        buf.extend_from_slice(&p.to_server[..n]);
        p.to_server.drain(..n);
        offers.push(room);
        p.server.process_input(p.now).unwrap();
    }
    let mut events: Vec<Event> = std::iter::from_fn(|| p.server.poll_event()).collect();
    let in_place = events
        .iter()
        .filter(|e| matches!(e, Event::MessageAt { .. }))
        .count();
    assert!(Pair::take_messages(&mut events) == [message(1), message(2), message(3)]);
    assert_eq!(
        in_place, 2,
        "the two after the first arrive in their own buffers"
    );
    // The first read takes the first packet whole and the second's start (copied into its
    // own buffer, where the rest is read); after the second, the offer is short, so the
    // third is read into its own buffer too instead of arriving whole in the receive buffer.
    let short = offers.iter().filter(|&&r| r <= AFTER_BIG_READ).count();
    assert_eq!(short, 1, "{offers:?}");
    assert!(offers[0] > AFTER_BIG_READ, "{offers:?}");
}

/// Large packets read into buffers of their own arrive as the same messages, handed over in
/// those buffers, whatever the pieces the input comes in, across a rekey, and for every
/// cipher; small ones are copied as before.
#[test]
fn large_messages_handed_over_in_their_own_buffers_are_the_same() {
    for (cipher, mac) in cipher_mac_combinations() {
        for step in [4096, 100_000, usize::MAX] {
            let mut cfg = config_with(
                KexAlg::Curve25519Sha256,
                SignatureAlgorithm::Ed25519,
                cipher,
                mac,
            );
            cfg.rekey_after_bytes = 1 << 20;
            let mut p = Pair::new(cfg.clone(), cfg);
            p.lend_to_server = Some(step);
            p.server.set_messages_in_place(true);
            p.run();
            assert!(p.established());
            let sizes = [70_000usize, 10, 200_000, 256 * 1024 - 1, 65_535, 150_000, 5];
            let messages: Vec<Vec<u8>> = sizes
                .iter()
                .cycle()
                .take(20)
                .enumerate()
                .map(|(i, &n)| {
                    let mut m = vec![94u8];
                    m.extend((0..n - 1).map(|j| (i * 7 + j) as u8));
                    m
                })
                .collect();
            let mut got = Vec::new();
            let mut handed_over = 0;
            for m in &messages {
                p.client.send(m).unwrap();
                p.run();
                for e in &p.server_events {
                    if let Event::MessageAt { buf, start } = e {
                        assert!(buf.len() - start >= IN_PLACE_MIN - 64);
                        handed_over += 1;
                    }
                }
                got.extend(Pair::take_messages(&mut p.server_events));
            }
            assert!(got == messages, "{cipher}/{mac:?} step {step}");
            // In small pieces, every large packet is read into its own buffer; in pieces as
            // large as a packet, those that arrive whole are opened where they lie instead.
            let least = match step {
                4096 => 12,
                100_000 => 1,
                _ => 0,
            };
            assert!(
                handed_over >= least,
                "{cipher}/{mac:?} step {step}: {handed_over}"
            );
            assert!(
                kex_completions(&p.server_events) >= 2,
                "{cipher}/{mac:?}: no rekey"
            );
        }
    }
}
