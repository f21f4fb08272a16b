//! Helpers shared by the sshwire fuzz targets and by `make_corpus`, which writes their seeds.
//!
//! Everything here is deterministic: the random generator, the keys and the engine
//! configuration are the same in every process. That is what lets `make_corpus` record a real
//! conversation between two engines and have a fuzz target's engine, built with the same seed,
//! accept the recorded peer bytes all the way through key exchange into encrypted packets.
#![forbid(unsafe_code)]

pub mod sftp;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use sshwire_keys::{KeyType, PrivateKey, SignatureAlgorithm};
use sshwire_transport::cipher::{CipherAlg, DirectionKeys, MacAlg, PacketOpener, PacketSealer};
use sshwire_transport::kex::{GexRequest, KexAlg};
use sshwire_transport::{Config, Error, Event, Transport};

/// A deterministic generator (SplitMix64). Not secure; fuzzing and seed making only.
pub use sshwire_keys::testing::TestRng as FuzzRng;

/// Seed of the client engine, in `transport_client` and in the recorded conversation.
pub const CLIENT_SEED: u64 = 0xc11e_0001;
/// Seed of the server engine, in `transport_server` and in the recorded conversation.
pub const SERVER_SEED: u64 = 0x5e4e_0002;

/// The identification line put in front of the input when the engine targets' flag asks.
pub const PEER_IDENT: &[u8] = b"SSH-2.0-OpenSSH_9.9 fuzzpeer\r\n";

/// The engines' configuration: the defaults, plus the SHA-1 MACs and host key signatures
/// (so their code is reachable too), less the 4096- and 8192-bit MODP groups (each exchange
/// would cost a fuzz run tens of milliseconds), and with group exchange capped at 3072 bits
/// for the same reason.
///
/// The fuzzing-only `none-for-fuzzing@sshwire` cipher comes first, so the recorded default
/// conversation carries its packets after `SSH_MSG_NEWKEYS` unprotected: a mutation there
/// reaches the message handlers instead of a MAC failure. The other seeds, recorded with one
/// real cipher each, keep the packet layers' own code covered. `fuzz/smoke.sh` and the
/// targets build with `--cfg fuzzing`; without it (a plain `cargo check`) the cipher does
/// not exist and the default list is used.
pub fn engine_config() -> Arc<Config> {
    let mut config = Config::default();
    #[cfg(fuzzing)]
    config.ciphers.insert(0, CipherAlg::FuzzingNone);
    config.macs = MacAlg::ALL.to_vec();
    config.host_key_algorithms = SignatureAlgorithm::ALL.to_vec();
    config
        .kex
        .retain(|k| !matches!(k, KexAlg::DhGroup16Sha512 | KexAlg::DhGroup18Sha512));
    config.gex = GexRequest {
        min: 2048,
        preferred: 2048,
        max: 3072,
    };
    Arc::new(config)
}

/// The server's host keys: a fixed Ed25519 key and a fixed ECDSA P-256 key.
pub fn host_keys() -> Vec<Arc<PrivateKey>> {
    static KEYS: OnceLock<Vec<Arc<PrivateKey>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ed = PrivateKey::from_ed25519_seed(&[7; 32]);
        let ec = PrivateKey::generate(KeyType::EcdsaP256, None, &mut FuzzRng::new(0xec))
            .expect("P-256 generation");
        vec![Arc::new(ed), Arc::new(ec)]
    })
    .clone()
}

/// One fixed key of each type (Ed25519, P-256, P-384, RSA 2048), in [`KeyType::ALL`] order.
///
/// The RSA key takes a moment to generate; it is made once per process.
pub fn signing_keys() -> &'static [PrivateKey] {
    static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = FuzzRng::new(0x5167);
        KeyType::ALL
            .iter()
            .map(|&kind| {
                let bits = (kind == KeyType::Rsa).then_some(2048);
                PrivateKey::generate(kind, bits, &mut rng).expect("key generation")
            })
            .collect()
    })
}

/// The message the `public_key` target verifies arbitrary signatures over.
pub const VERIFY_MESSAGE: &[u8] = b"sshwire fuzz: the exchange hash";

/// A packet protection: `None` is the unencrypted state, else a cipher and its MAC.
pub type Suite = Option<(CipherAlg, Option<MacAlg>)>;

/// Every packet protection: plaintext, each AEAD cipher, each AES-CTR cipher with each MAC.
pub fn suites() -> Vec<Suite> {
    let mut all = vec![None];
    for cipher in CipherAlg::ALL {
        if cipher.is_aead() {
            all.push(Some((cipher, None)));
        } else {
            all.extend(MacAlg::ALL.iter().map(|&mac| Some((cipher, Some(mac)))));
        }
    }
    all
}

/// Fixed keys long enough for every cipher and MAC.
pub fn suite_keys() -> DirectionKeys {
    DirectionKeys::new(
        (0u8..16).collect(),
        (0u8..64)
            .map(|i| i.wrapping_mul(3).wrapping_add(1))
            .collect(),
        (0u8..64)
            .map(|i| i.wrapping_mul(5).wrapping_add(2))
            .collect(),
    )
}

/// An opener for `suite` keyed with [`suite_keys`].
pub fn opener(suite: Suite) -> PacketOpener {
    match suite {
        None => PacketOpener::plaintext(),
        Some((cipher, mac)) => PacketOpener::new(cipher, mac, &suite_keys()).expect("opener"),
    }
}

/// A sealer for `suite` keyed with [`suite_keys`].
pub fn sealer(suite: Suite) -> PacketSealer {
    match suite {
        None => PacketSealer::plaintext(),
        Some((cipher, mac)) => PacketSealer::new(cipher, mac, &suite_keys()).expect("sealer"),
    }
}

/// The input of the engine targets, decoded.
///
/// Layout: `byte flags` (bit 0: put [`PEER_IDENT`] in front of the stream; bit 1: read the
/// stream into the engine's own buffers, [`Transport::input_buffer`], with large messages
/// handed over in place), `byte n`, `n` big-endian `u16` offsets where the stream is cut into
/// separate input calls, and the peer's bytes.
#[derive(Debug)]
pub struct EngineInput<'a> {
    /// Whether [`PEER_IDENT`] goes in front of `stream`.
    pub prefix_ident: bool,
    /// Whether the stream goes through [`Transport::input_buffer`] instead of
    /// [`Transport::handle_input`].
    pub lend: bool,
    /// Offsets (into the stream with its prefix) where input calls are split.
    pub cuts: Vec<usize>,
    /// The peer's bytes.
    pub stream: &'a [u8],
}

impl<'a> EngineInput<'a> {
    /// Decodes the layout described on the type; `None` if the header is cut short.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&flags, rest) = data.split_first()?;
        let (&n, mut rest) = rest.split_first()?;
        let mut cuts = Vec::with_capacity(usize::from(n % 16));
        for _ in 0..n % 16 {
            let (cut, tail) = rest.split_first_chunk::<2>()?;
            cuts.push(usize::from(u16::from_be_bytes(*cut)));
            rest = tail;
        }
        Some(EngineInput {
            prefix_ident: flags & 1 == 1,
            lend: flags & 2 == 2,
            cuts,
            stream: rest,
        })
    }

    /// Encodes an input in the layout [`EngineInput::parse`] reads.
    pub fn encode(prefix_ident: bool, cuts: &[u16], stream: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::from(prefix_ident), cuts.len() as u8];
        for cut in cuts {
            out.extend_from_slice(&cut.to_be_bytes());
        }
        out.extend_from_slice(stream);
        out
    }
}

/// The client engine of `transport_client` and of the recordings: seeded with
/// [`CLIENT_SEED`], with its `ssh-userauth` service request queued from the start (it goes out
/// after the first key exchange), so that nothing it sends depends on how its input is cut.
pub fn client_engine(config: Arc<Config>) -> Transport {
    let mut client = Transport::client(config, Box::new(FuzzRng::new(CLIENT_SEED)));
    client
        .request_service("ssh-userauth")
        .expect("queueing a service request");
    client
}

/// The server engine of `transport_server` and of the recordings: seeded with
/// [`SERVER_SEED`], with the [`host_keys`].
pub fn server_engine(config: Arc<Config>) -> Transport {
    Transport::server(config, host_keys(), Box::new(FuzzRng::new(SERVER_SEED)))
}

/// What a driver does with each event, the same in the fuzz targets and in the recordings:
/// trust the host key, accept any service (server), send an upper-layer message once the
/// service is accepted (client) and answer it (server). Returns the result of any call made.
pub fn react(
    engine: &mut Transport,
    now: Instant,
    is_client: bool,
    event: Event,
) -> Result<(), Error> {
    match event {
        Event::HostKey(_) => engine.host_key_verdict(now, true),
        Event::ServiceRequest(name) if !is_client => engine.accept_service(&name),
        Event::ServiceAccept(_) if is_client => {
            engine.send(&[50, 0, 0, 0, 4, b'f', b'u', b'z', b'z'])
        }
        Event::Message(m) if !is_client && m.first() == Some(&50) => {
            engine.send(&[51, 0, 0, 0, 0, 0])
        }
        Event::MessageAt { buf, start } if !is_client && buf.get(start) == Some(&50) => {
            engine.send(&[51, 0, 0, 0, 0, 0])
        }
        _ => Ok(()),
    }
}

/// Checks that an engine that failed with `error` keeps failing with exactly that error, from
/// every entry point, and queues nothing more to send.
pub fn assert_sticky(engine: &mut Transport, now: Instant, error: &Error) {
    let mut out = Vec::new();
    engine.poll_transmit(&mut out);
    assert_eq!(engine.error(), Some(error));
    assert!(engine.is_closed());
    assert!(!engine.is_established());
    assert_eq!(
        engine.handle_input(now, b"SSH-2.0-x\r\n").as_ref(),
        Err(error)
    );
    assert_eq!(engine.handle_input(now, &[]).as_ref(), Err(error));
    assert_eq!(engine.handle_timeout(now).as_ref(), Err(error));
    assert_eq!(engine.send(&[50]).as_ref(), Err(error));
    assert_eq!(engine.rekey().as_ref(), Err(error));
    assert_eq!(engine.host_key_verdict(now, true).as_ref(), Err(error));
    assert_eq!(engine.send_capacity(), 0);
    assert_eq!(engine.poll_timeout(), None);
    out.clear();
    engine.poll_transmit(&mut out);
    assert!(
        out.is_empty(),
        "a failed engine queued {} more bytes",
        out.len()
    );
}

/// Feeds `input` to `engine` as the peer's bytes, split at the input's cuts, reacting to
/// events with [`react`] and draining what the engine sends. Asserts that `handle_input` never
/// claims more than it was given and that errors are sticky. Returns the error, if any.
pub fn drive(engine: &mut Transport, is_client: bool, input: &EngineInput<'_>) -> Option<Error> {
    let now = Instant::now();
    let mut bytes = Vec::with_capacity(PEER_IDENT.len() + input.stream.len());
    if input.prefix_ident {
        bytes.extend_from_slice(PEER_IDENT);
    }
    bytes.extend_from_slice(input.stream);
    let mut ends: Vec<usize> = input.cuts.iter().map(|&c| c.min(bytes.len())).collect();
    ends.push(bytes.len());
    ends.sort_unstable();
    ends.dedup();

    let mut out = Vec::new();
    let mut pos = 0;
    let mut failed = None;
    if input.lend {
        engine.set_messages_in_place(true);
    }
    'feed: for end in ends {
        while pos < end {
            let mut progressed = false;
            let taken = if input.lend {
                let (buf, room) = engine.input_buffer();
                let n = room.min(end - pos);
                assert!(buf.capacity() - buf.len() >= n, "less room than offered");
                buf.extend_from_slice(&bytes[pos..pos + n]);
                engine.process_input(now).map(|()| n)
            } else {
                engine.handle_input(now, &bytes[pos..end])
            };
            match taken {
                Ok(n) => {
                    assert!(n <= end - pos, "took {n} of {} bytes", end - pos);
                    pos += n;
                    progressed |= n > 0;
                }
                Err(e) => {
                    failed = Some(e);
                    break 'feed;
                }
            }
            while let Some(event) = engine.poll_event() {
                progressed = true;
                if let Err(e) = react(engine, now, is_client, event) {
                    failed = Some(e);
                    break 'feed;
                }
            }
            out.clear();
            engine.poll_transmit(&mut out);
            if !progressed {
                break 'feed;
            }
        }
    }
    if let Some(e) = &failed {
        assert_sticky(engine, now, e);
    } else {
        assert!(engine.error().is_none());
    }
    failed
}
