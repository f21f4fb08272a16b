//! The attacker playing a server: its side of the key exchange (curve25519-sha256 with an
//! Ed25519 host key, chacha20-poly1305@openssh.com), step by step, to attack a client.

use std::sync::Arc;

use sshwire::keys::{KeyType, PrivateKey, SignatureAlgorithm};
use sshwire_transport::kex::{KexAlg, derive_key, server_reply};
use sshwire_transport::kexinit::KexInit;
use sshwire_wire::{Reader, Writer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Hostile, msg};

/// What the attacker, as a server, offers and does in its key exchange.
#[derive(Debug, Clone)]
pub struct ServerKexOptions {
    /// Offer `kex-strict-s-v00@openssh.com`.
    pub strict: bool,
    /// Server-to-client compression offered: `none` or `zlib`.
    pub compression: &'static str,
    /// Sign something other than the exchange hash (a forged server).
    pub bad_signature: bool,
}

impl Default for ServerKexOptions {
    fn default() -> Self {
        ServerKexOptions {
            strict: true,
            compression: "none",
            bad_signature: false,
        }
    }
}

/// The state between the steps of the server's key exchange.
pub struct ServerKex {
    i_c: Vec<u8>,
    i_s: Vec<u8>,
    strict: bool,
    /// The host key the attacker signs with.
    pub host_key: Arc<PrivateKey>,
    s2c_key: Option<[u8; 64]>,
    /// The session identifier, once KEX_ECDH_REPLY is sent.
    pub session_id: Vec<u8>,
}

impl Default for ServerKex {
    fn default() -> Self {
        let host_key = PrivateKey::generate(KeyType::Ed25519, None, &mut *sshwire::system_rng())
            .expect("host key");
        ServerKex {
            i_c: Vec::new(),
            i_s: Vec::new(),
            strict: false,
            host_key: Arc::new(host_key),
            s2c_key: None,
            session_id: Vec::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Hostile<S> {
    /// Sends the server's KEXINIT.
    pub async fn server_send_kexinit(&mut self, kex: &mut ServerKex, opts: &ServerKexOptions) {
        let mut kex_algorithms = vec![KexAlg::Curve25519Sha256.name().to_owned()];
        if opts.strict {
            kex_algorithms.push("kex-strict-s-v00@openssh.com".to_owned());
        }
        let list = |s: &str| vec![s.to_owned()];
        let init = KexInit {
            cookie: [9; 16],
            kex_algorithms,
            server_host_key_algorithms: list("ssh-ed25519"),
            encryption_client_to_server: list("chacha20-poly1305@openssh.com"),
            encryption_server_to_client: list("chacha20-poly1305@openssh.com"),
            mac_client_to_server: list("hmac-sha2-256"),
            mac_server_to_client: list("hmac-sha2-256"),
            compression_client_to_server: list("none"),
            compression_server_to_client: list(opts.compression),
            ..KexInit::default()
        };
        let mut w = Writer::new();
        init.encode(&mut w);
        kex.i_s = w.into_vec();
        let _ = self.send(&kex.i_s.clone()).await;
    }

    /// Reads the client's KEXINIT; strict kex applies if both offered it.
    pub async fn server_recv_kexinit(&mut self, kex: &mut ServerKex, opts: &ServerKexOptions) {
        kex.i_c = self.expect(msg::KEXINIT, "the client's KEXINIT").await;
        let theirs = KexInit::decode(&kex.i_c).expect("the client's KEXINIT decodes");
        kex.strict = opts.strict
            && theirs
                .kex_algorithms
                .iter()
                .any(|n| n == "kex-strict-c-v00@openssh.com");
    }

    /// Reads KEX_ECDH_INIT and answers KEX_ECDH_REPLY, signed with the host key (RFC 8731 §3,
    /// RFC 4253 §8), or with a signature over the wrong data if `opts.bad_signature`.
    pub async fn server_kex_reply(&mut self, kex: &mut ServerKex, opts: &ServerKexOptions) {
        let init = self
            .expect(msg::KEX_ECDH_INIT, "the client's KEX_ECDH_INIT")
            .await;
        let mut r = Reader::new(&init);
        let q_c = (|| {
            r.u8()?;
            Ok::<_, sshwire_wire::Error>(r.string()?.to_vec())
        })()
        .expect("a well-formed KEX_ECDH_INIT");
        let (q_s, k) = server_reply(KexAlg::Curve25519Sha256, &q_c, &mut *sshwire::system_rng())
            .expect("the client's X25519 value");
        let k_s = kex.host_key.public_key().to_blob();
        // H = HASH(V_C || V_S || I_C || I_S || K_S || Q_C || Q_S || K); the client's line is
        // theirs, ours is V_S.
        let mut w = Writer::new();
        w.string(&self.theirs)
            .string(&self.ours)
            .string(&kex.i_c)
            .string(&kex.i_s)
            .string(&k_s)
            .string(&q_c)
            .string(&q_s)
            .raw(k.encoded());
        let hash = KexAlg::Curve25519Sha256.hash();
        let h = hash.digest(w.as_slice());
        let mut signed = h.clone();
        if opts.bad_signature {
            signed.push(0);
        }
        let sig = kex
            .host_key
            .sign(
                SignatureAlgorithm::Ed25519,
                &signed,
                &mut *sshwire::system_rng(),
            )
            .expect("sign H");
        let mut reply = Writer::new();
        reply
            .u8(msg::KEX_ECDH_REPLY)
            .string(&k_s)
            .string(&q_s)
            .string(&sig);
        let _ = self.send(reply.as_slice()).await;
        let key = |letter| {
            let v = derive_key(hash, k.encoded(), &h, letter, &h, 64);
            let mut a = [0u8; 64];
            a.copy_from_slice(&v);
            a
        };
        // RFC 4253 §7.2: "C" client to server, "D" server to client.
        kex.s2c_key = Some(key(b'D'));
        self.next_open = Some((key(b'C'), kex.strict));
        kex.session_id = h;
    }

    /// Sends the server's NEWKEYS and switches its direction to the new keys.
    pub async fn server_send_newkeys(&mut self, kex: &mut ServerKex) {
        let _ = self.send_msg(msg::NEWKEYS, &[]).await;
        self.install_sealing(&kex.s2c_key.expect("KEX_ECDH_REPLY sent first"));
        if kex.strict {
            self.seq_out = 0;
        }
    }

    /// The server's whole side of the handshake, up to the client's NEWKEYS; returns the
    /// session identifier.
    pub async fn serve_handshake(&mut self, kex: &mut ServerKex, opts: &ServerKexOptions) {
        self.exchange_idents().await;
        self.server_send_kexinit(kex, opts).await;
        self.server_recv_kexinit(kex, opts).await;
        self.server_kex_reply(kex, opts).await;
        self.server_send_newkeys(kex).await;
        self.recv_newkeys().await;
        if opts.compression == "zlib" {
            self.start_compression();
        }
    }

    /// Answers the client's SERVICE_REQUEST for `ssh-userauth`.
    pub async fn accept_userauth(&mut self) {
        let request = self
            .expect(msg::SERVICE_REQUEST, "the client's SERVICE_REQUEST")
            .await;
        let name = request.get(5..).unwrap_or_default().to_vec();
        let mut w = Writer::new();
        w.u8(msg::SERVICE_ACCEPT).string(&name);
        let _ = self.send(w.as_slice()).await;
    }
}
