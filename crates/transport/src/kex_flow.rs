//! The key exchange state machine: from KEXINIT to NEWKEYS (RFC 4253 §7, §8).
//!
//! One [`KexRun`] lives for one exchange, initial or rekey. Its [`Phase`] says which message it
//! waits for; each transition consumes the old phase and returns the next, so a phase's secrets
//! (the ephemeral key, the derived keys) cannot be used twice.

use sshwire_keys::{PublicKey, SignatureAlgorithm};
use sshwire_wire::Writer;

use crate::Error;
use crate::cipher::{CipherAlg, DirectionKeys, MacAlg, PacketOpener, PacketSealer};
use crate::compress::Compression;
use crate::config::Config;
use crate::event::{DirectionAlgorithms, Negotiated};
use crate::kex::{DhGroup, ExchangeHasher, HashAlg, KexAlg, KexClient, SharedSecret, derive_key};
use crate::kexinit::{KexInit, choose};
use crate::messages::{GexGroup, KexInitValue};
use crate::msg::MessageNumber;

/// Marker a client puts in its first `kex_algorithms` to ask for RFC 8308 extensions.
pub(crate) const EXT_INFO_C: &str = "ext-info-c";
/// OpenSSH PROTOCOL §1.10: a client's offer of strict key exchange.
pub(crate) const KEX_STRICT_C: &str = "kex-strict-c-v00@openssh.com";
/// OpenSSH PROTOCOL §1.10: a server's offer of strict key exchange.
pub(crate) const KEX_STRICT_S: &str = "kex-strict-s-v00@openssh.com";

/// One key exchange in progress.
pub(crate) struct KexRun {
    /// Our KEXINIT payload, as sent (I_C or I_S in the exchange hash).
    pub(crate) ours: Vec<u8>,
    /// The peer's KEXINIT payload, once it has arrived.
    pub(crate) theirs: Option<Vec<u8>>,
    /// The agreed algorithms, once both KEXINITs are known.
    pub(crate) negotiated: Option<Negotiated>,
    /// The peer guessed wrong with `first_kex_packet_follows`: drop its next packet.
    pub(crate) ignore_next: bool,
    /// Whether we have sent NEWKEYS (after which we may send other messages again).
    pub(crate) sent_newkeys: bool,
    /// Which message comes next.
    pub(crate) phase: Phase,
}

/// Which message a key exchange waits for.
pub(crate) enum Phase {
    /// The peer's KEXINIT.
    ExpectKexInit,
    /// Client: the server's reply (31) to our INIT (30).
    ClientExpectReply {
        /// Our ephemeral secret.
        client: KexClient,
        /// Our public value, as sent.
        q_c: Vec<u8>,
    },
    /// Client: `SSH_MSG_KEX_DH_GEX_GROUP` (RFC 4419 §3).
    ClientExpectGexGroup,
    /// Client: `SSH_MSG_KEX_DH_GEX_REPLY`.
    ClientExpectGexReply {
        /// Our ephemeral secret.
        client: KexClient,
        /// Our public value `e`, as sent.
        e: Vec<u8>,
        /// The group's prime, as the mpint content received.
        p: Vec<u8>,
        /// The group's generator, as the mpint content received.
        g: Vec<u8>,
    },
    /// Client: the host key signature verified; the caller decides whether to trust the key.
    AwaitHostKeyVerdict(Box<NewKeys>),
    /// Server: the client's INIT (30).
    ServerExpectInit,
    /// Server: `SSH_MSG_KEX_DH_GEX_REQUEST` (RFC 4419 §3).
    ServerExpectGexRequest,
    /// Server: `SSH_MSG_KEX_DH_GEX_INIT`, in the group we sent.
    ServerExpectGexInit {
        /// The client's request, as received (it is part of the exchange hash).
        request: crate::kex::GexRequest,
        /// The group we chose for it.
        group: &'static crate::kex::DhGroup,
    },
    /// Our NEWKEYS is sent; the peer's is due. Holds the keys for the incoming direction.
    ExpectNewKeys(Box<(PacketOpener, Compression)>),
    /// A transition is under way (never observed from outside).
    Poisoned,
}

impl Phase {
    /// A name for errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Phase::ExpectKexInit => "waiting for KEXINIT",
            Phase::ClientExpectReply { .. } => "waiting for the key exchange reply",
            Phase::ClientExpectGexGroup => "waiting for the DH group",
            Phase::ClientExpectGexReply { .. } => "waiting for the DH group exchange reply",
            Phase::AwaitHostKeyVerdict(_) => "waiting for the host key verdict",
            Phase::ServerExpectInit => "waiting for the key exchange init",
            Phase::ServerExpectGexRequest => "waiting for the DH group exchange request",
            Phase::ServerExpectGexInit { .. } => "waiting for the DH group exchange init",
            Phase::ExpectNewKeys(_) => "waiting for NEWKEYS",
            Phase::Poisoned => "failed",
        }
    }
}

/// Keys for both directions, derived but not yet in use.
pub(crate) struct NewKeys {
    /// The sending direction's sealer and compression.
    pub(crate) outgoing: (PacketSealer, Compression),
    /// The receiving direction's opener and compression.
    pub(crate) incoming: (PacketOpener, Compression),
    /// The server's host key (client side), to hand to the caller or compare on rekey.
    pub(crate) host_key: Option<PublicKey>,
}

/// Our KEXINIT for this side, from the configuration.
pub(crate) fn our_kexinit(
    config: &Config,
    is_client: bool,
    first: bool,
    host_key_algorithms: &[SignatureAlgorithm],
    cookie: [u8; 16],
) -> KexInit {
    let mut kex: Vec<String> = config.kex.iter().map(|k| k.name().to_owned()).collect();
    // OpenSSH PROTOCOL §1.10: the strict-kex markers are sent "only in the first KEXINIT";
    // RFC 8308 §2.1: "ext-info-c" likewise only in the first.
    if first {
        if is_client {
            kex.push(EXT_INFO_C.to_owned());
            kex.push(KEX_STRICT_C.to_owned());
        } else {
            kex.push(KEX_STRICT_S.to_owned());
        }
    }
    let names = |v: Vec<&'static str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    let ciphers = names(config.ciphers.iter().map(|c| c.name()).collect());
    let macs = names(config.macs.iter().map(|m| m.name()).collect());
    let comp = names(config.compression.iter().map(|c| c.name()).collect());
    KexInit {
        cookie,
        kex_algorithms: kex,
        server_host_key_algorithms: names(host_key_algorithms.iter().map(|a| a.name()).collect()),
        encryption_client_to_server: ciphers.clone(),
        encryption_server_to_client: ciphers,
        mac_client_to_server: macs.clone(),
        mac_server_to_client: macs,
        compression_client_to_server: comp.clone(),
        compression_server_to_client: comp,
        languages_client_to_server: Vec::new(),
        languages_server_to_client: Vec::new(),
        first_kex_packet_follows: false,
        reserved: 0,
    }
}

/// Applies RFC 4253 §7.1 to both KEXINITs.
pub(crate) fn negotiate(
    client: &KexInit,
    server: &KexInit,
    strict_kex: bool,
) -> Result<Negotiated, Error> {
    fn pick<T>(
        category: &'static str,
        c: &[String],
        s: &[String],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, Error> {
        // Only names we implement can win; markers such as "ext-info-c" never match.
        let c_known: Vec<String> = c.iter().filter(|n| parse(n).is_some()).cloned().collect();
        choose(&c_known, s)
            .and_then(&parse)
            .ok_or_else(|| Error::NoCommonAlgorithm {
                category,
                ours: c.join(","),
                theirs: s.join(","),
            })
    }
    let kex = pick(
        "kex",
        &client.kex_algorithms,
        &server.kex_algorithms,
        KexAlg::from_name,
    )?;
    let host_key = pick(
        "host key",
        &client.server_host_key_algorithms,
        &server.server_host_key_algorithms,
        SignatureAlgorithm::from_name,
    )?;
    let direction = |ciphers: (&[String], &[String]),
                     macs: (&[String], &[String]),
                     comp: (&[String], &[String])|
     -> Result<DirectionAlgorithms, Error> {
        let cipher = pick("cipher", ciphers.0, ciphers.1, CipherAlg::from_name)?;
        // OpenSSH PROTOCOL §1.6 (and RFC 5647 §5.1 in spirit): with an AEAD cipher the MAC
        // lists are not used.
        let mac = if cipher.is_aead() {
            None
        } else {
            Some(pick("MAC", macs.0, macs.1, MacAlg::from_name)?)
        };
        let compression = pick("compression", comp.0, comp.1, Compression::from_name)?;
        Ok(DirectionAlgorithms {
            cipher,
            mac,
            compression,
        })
    };
    Ok(Negotiated {
        kex,
        host_key,
        client_to_server: direction(
            (
                &client.encryption_client_to_server,
                &server.encryption_client_to_server,
            ),
            (&client.mac_client_to_server, &server.mac_client_to_server),
            (
                &client.compression_client_to_server,
                &server.compression_client_to_server,
            ),
        )?,
        server_to_client: direction(
            (
                &client.encryption_server_to_client,
                &server.encryption_server_to_client,
            ),
            (&client.mac_server_to_client, &server.mac_server_to_client),
            (
                &client.compression_server_to_client,
                &server.compression_server_to_client,
            ),
        )?,
        strict_kex,
    })
}

/// The fields of the exchange hash H that both roles compute (RFC 4253 §8, RFC 5656 §4,
/// RFC 4419 §3, RFC 8731 §3.1).
pub(crate) struct HashInput<'a> {
    pub(crate) prefix: HashPrefix<'a>,
    pub(crate) k_s: &'a [u8],
    /// RFC 4419 §3: min, n, max, p and g (mpint contents, as received), for group exchange
    /// only.
    pub(crate) gex: Option<(crate::kex::GexRequest, &'a [u8], &'a [u8])>,
    pub(crate) q_c: &'a [u8],
    pub(crate) q_s: &'a [u8],
    pub(crate) k: &'a SharedSecret,
}

/// The fields of H that come before the method's own: identifications and KEXINITs.
pub(crate) struct HashPrefix<'a> {
    pub(crate) v_c: &'a [u8],
    pub(crate) v_s: &'a [u8],
    pub(crate) i_c: &'a [u8],
    pub(crate) i_s: &'a [u8],
}

impl HashInput<'_> {
    /// H = HASH(V_C || V_S || I_C || I_S || K_S || [min || n || max || p || g] || Q_C || Q_S || K).
    pub(crate) fn hash(&self, alg: HashAlg) -> Vec<u8> {
        let mut w = Writer::new();
        let p = &self.prefix;
        w.string(p.v_c)
            .string(p.v_s)
            .string(p.i_c)
            .string(p.i_s)
            .string(self.k_s);
        if let Some((req, p, g)) = &self.gex {
            // p and g are the mpint contents the server sent (checked canonical by DhGroup), so
            // writing them as strings reproduces the mpint encoding exactly.
            w.u32(req.min)
                .u32(req.preferred)
                .u32(req.max)
                .string(p)
                .string(g);
        }
        // The public values are carried as the content of a `string` (ECDH, hybrids) or of an
        // `mpint` (DH); either way the encoding on the wire and in the hash is the same.
        w.string(self.q_c).string(self.q_s);
        let mut h = ExchangeHasher::new(alg);
        h.update(w.as_slice());
        h.update(self.k.encoded());
        h.finish()
    }
}

/// Derives both directions' keys (RFC 4253 §7.2) and builds the sealer and opener.
pub(crate) fn derive_new_keys(
    n: &Negotiated,
    k: &SharedSecret,
    h: &[u8],
    session_id: &[u8],
    is_client: bool,
    host_key: Option<PublicKey>,
) -> Result<NewKeys, Error> {
    let hash = n.kex.hash();
    let dir = |algs: &DirectionAlgorithms, letters: [u8; 3]| {
        let [iv, key, mac] = letters;
        DirectionKeys {
            iv: derive_key(hash, k.encoded(), h, iv, session_id, algs.cipher.iv_len()),
            key: derive_key(hash, k.encoded(), h, key, session_id, algs.cipher.key_len()),
            mac_key: derive_key(
                hash,
                k.encoded(),
                h,
                mac,
                session_id,
                algs.mac.map_or(0, |m| m.key_len()),
            ),
        }
    };
    // RFC 4253 §7.2: "Initial IV client to server: HASH(K || H || "A" || session_id)", "B" for
    // server to client, "C"/"D" for the encryption keys and "E"/"F" for the integrity keys.
    let c2s = dir(&n.client_to_server, *b"ACE");
    let s2c = dir(&n.server_to_client, *b"BDF");
    let (out_algs, out_keys, in_algs, in_keys) = if is_client {
        (&n.client_to_server, c2s, &n.server_to_client, s2c)
    } else {
        (&n.server_to_client, s2c, &n.client_to_server, c2s)
    };
    let sealer = PacketSealer::new(out_algs.cipher, out_algs.mac, &out_keys)
        .map_err(|_| Error::ApiMisuse("cipher rejected derived key lengths"))?;
    let opener = PacketOpener::new(in_algs.cipher, in_algs.mac, &in_keys)
        .map_err(|_| Error::ApiMisuse("cipher rejected derived key lengths"))?;
    Ok(NewKeys {
        outgoing: (sealer, out_algs.compression),
        incoming: (opener, in_algs.compression),
        host_key,
    })
}

/// Checks the server's host key and its signature over H (client side).
///
/// RFC 4253 §8: "The client verifies that K_S really is the host key for the server [...] The
/// client then computes [...] H, and verifies the signature s on H."
pub(crate) fn verify_host_key(
    n: &Negotiated,
    k_s: &[u8],
    h: &[u8],
    sig: &[u8],
) -> Result<PublicKey, Error> {
    let key = PublicKey::from_blob(k_s).map_err(|e| Error::HostKeyInvalid(e.to_string()))?;
    if key.key_type() != n.host_key.key_type() {
        return Err(Error::HostKeyInvalid(format!(
            "server sent a {} key for the negotiated {} algorithm",
            key.key_type().name(),
            n.host_key.name()
        )));
    }
    key.verify(n.host_key, h, sig)
        .map_err(|e| Error::HostKeyInvalid(format!("signature over the exchange hash: {e}")))?;
    Ok(key)
}

/// Parses `SSH_MSG_KEX_DH_GEX_GROUP`: `mpint p, mpint g` (RFC 4419 §3).
pub(crate) fn read_gex_group(
    payload: &[u8],
    config: &Config,
) -> Result<(DhGroup, Vec<u8>, Vec<u8>), Error> {
    let number = MessageNumber::KEX_DH_GEX_GROUP;
    // The kex module takes mpint contents and checks their canonical form itself.
    let GexGroup { p, g } =
        GexGroup::decode(payload).map_err(|why| Error::InvalidMessage { number, why })?;
    let group = DhGroup::from_wire(p, g, config.gex.min, config.gex.max)?;
    Ok((group, p.to_vec(), g.to_vec()))
}

/// Starts the client's side of a non-GEX exchange: the INIT message and the secret.
pub(crate) fn client_init(
    alg: KexAlg,
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<(KexClient, Vec<u8>, Vec<u8>), Error> {
    let (client, q_c) = KexClient::start(alg, rng)?;
    let mut w = Writer::new();
    KexInitValue {
        number: MessageNumber::KEX_INIT,
        public: &q_c,
    }
    .encode(&mut w);
    Ok((client, q_c, w.into_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair_tests::{TestRng, host_keys};

    /// Both sides offer only the fuzzing builds' `none` cipher (and a plain `none`): outside
    /// a fuzzing build neither name is a cipher, so the negotiation fails.
    #[cfg(not(fuzzing))]
    #[test]
    fn the_fuzzing_none_cipher_is_not_negotiable() {
        let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let side = KexInit {
            kex_algorithms: names(&["curve25519-sha256"]),
            server_host_key_algorithms: names(&["ssh-ed25519"]),
            encryption_client_to_server: names(&["none-for-fuzzing@sshwire", "none"]),
            encryption_server_to_client: names(&["none-for-fuzzing@sshwire", "none"]),
            mac_client_to_server: names(&["hmac-sha2-256"]),
            mac_server_to_client: names(&["hmac-sha2-256"]),
            compression_client_to_server: names(&["none"]),
            compression_server_to_client: names(&["none"]),
            ..KexInit::default()
        };
        assert!(matches!(
            negotiate(&side, &side, true),
            Err(Error::NoCommonAlgorithm {
                category: "cipher",
                ..
            })
        ));
        assert_eq!(CipherAlg::from_name("none-for-fuzzing@sshwire"), None);
        let mut usable = side.clone();
        usable.encryption_client_to_server.push("aes128-ctr".into());
        usable.encryption_server_to_client.push("aes128-ctr".into());
        let chosen = negotiate(&usable, &usable, true).expect("aes128-ctr is common");
        assert_eq!(chosen.client_to_server.cipher, CipherAlg::Aes128Ctr);
    }

    fn negotiated(host_key: SignatureAlgorithm) -> Negotiated {
        let dir = DirectionAlgorithms {
            cipher: CipherAlg::Aes128Gcm,
            mac: None,
            compression: Compression::None,
        };
        Negotiated {
            kex: KexAlg::Curve25519Sha256,
            host_key,
            client_to_server: dir,
            server_to_client: dir,
            strict_kex: true,
        }
    }

    #[test]
    fn host_key_signature_checks() {
        let h = [5u8; 32];
        let mut rng = TestRng(3);
        let rsa = &host_keys()[3];
        let blob = rsa.public_key().to_blob();
        let good = rsa
            .sign(SignatureAlgorithm::RsaSha512, &h, &mut rng)
            .unwrap();
        assert!(
            verify_host_key(&negotiated(SignatureAlgorithm::RsaSha512), &blob, &h, &good).is_ok()
        );
        // Signed by the wrong algorithm: rsa-sha2-256 where rsa-sha2-512 was negotiated.
        let wrong_alg = rsa
            .sign(SignatureAlgorithm::RsaSha256, &h, &mut rng)
            .unwrap();
        assert!(matches!(
            verify_host_key(
                &negotiated(SignatureAlgorithm::RsaSha512),
                &blob,
                &h,
                &wrong_alg
            ),
            Err(Error::HostKeyInvalid(_))
        ));
        // Signed over the wrong hash.
        let wrong_hash = rsa
            .sign(SignatureAlgorithm::RsaSha512, &[6u8; 32], &mut rng)
            .unwrap();
        assert!(matches!(
            verify_host_key(
                &negotiated(SignatureAlgorithm::RsaSha512),
                &blob,
                &h,
                &wrong_hash
            ),
            Err(Error::HostKeyInvalid(_))
        ));
        // A key of another type than the negotiated algorithm.
        let ed = &host_keys()[0];
        let ed_sig = ed.sign(SignatureAlgorithm::Ed25519, &h, &mut rng).unwrap();
        assert!(matches!(
            verify_host_key(
                &negotiated(SignatureAlgorithm::EcdsaP256),
                &ed.public_key().to_blob(),
                &h,
                &ed_sig
            ),
            Err(Error::HostKeyInvalid(_))
        ));
        // A malformed blob.
        assert!(matches!(
            verify_host_key(
                &negotiated(SignatureAlgorithm::Ed25519),
                &[0, 0, 0, 1],
                &h,
                &ed_sig
            ),
            Err(Error::HostKeyInvalid(_))
        ));
    }
}
