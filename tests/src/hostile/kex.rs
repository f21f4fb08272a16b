//! The attacker's own key exchange (curve25519-sha256, chacha20-poly1305@openssh.com), done
//! step by step from the transport crate's public building blocks, so that a test can stop or
//! misbehave between any two steps.

use sshwire_transport::kex::{KexAlg, KexClient, derive_key};
use sshwire_transport::kexinit::KexInit;
use sshwire_wire::{Reader, Writer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Hostile, msg};

/// What the attacker offers in its KEXINIT.
#[derive(Debug, Clone)]
pub struct KexOptions {
    /// Offer `kex-strict-c-v00@openssh.com` (OpenSSH PROTOCOL §1.10), as OpenSSH's client does.
    pub strict: bool,
    /// Offer `ext-info-c` (RFC 8308).
    pub ext_info: bool,
    /// Client-to-server compression offered: `none`, `zlib` or `zlib@openssh.com`.
    /// Server-to-client is always `none`, so that the attacker never has to inflate.
    pub compression: &'static str,
}

impl Default for KexOptions {
    fn default() -> Self {
        KexOptions {
            strict: true,
            ext_info: true,
            compression: "none",
        }
    }
}

/// The state between the steps of one key exchange.
#[derive(Default)]
pub struct KexState {
    i_c: Vec<u8>,
    i_s: Vec<u8>,
    client: Option<KexClient>,
    q_c: Vec<u8>,
    strict: bool,
    c2s_key: Option<[u8; 64]>,
    /// The exchange hash of this (first) exchange: the session identifier.
    pub session_id: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Hostile<S> {
    /// Sends our identification and reads the server's; panics if the server sends none.
    pub async fn exchange_idents(&mut self) {
        self.send_ident().await.expect("send identification");
        self.read_ident()
            .await
            .expect("the server closed before its identification");
    }

    /// Sends our KEXINIT (a write error is left for the next read to report).
    pub async fn send_kexinit(&mut self, kex: &mut KexState, opts: &KexOptions) {
        let mut kex_algorithms = vec![KexAlg::Curve25519Sha256.name().to_owned()];
        if opts.ext_info {
            kex_algorithms.push("ext-info-c".to_owned());
        }
        if opts.strict {
            kex_algorithms.push("kex-strict-c-v00@openssh.com".to_owned());
        }
        let list = |s: &str| vec![s.to_owned()];
        let init = KexInit {
            cookie: [7; 16],
            kex_algorithms,
            server_host_key_algorithms: list("ssh-ed25519"),
            encryption_client_to_server: list("chacha20-poly1305@openssh.com"),
            encryption_server_to_client: list("chacha20-poly1305@openssh.com"),
            mac_client_to_server: list("hmac-sha2-256"),
            mac_server_to_client: list("hmac-sha2-256"),
            compression_client_to_server: list(opts.compression),
            compression_server_to_client: list("none"),
            ..KexInit::default()
        };
        let mut w = Writer::new();
        init.encode(&mut w);
        kex.i_c = w.into_vec();
        kex.strict = opts.strict;
        let _ = self.send(&kex.i_c.clone()).await;
    }

    /// Reads the server's KEXINIT (it sends it right after its identification).
    pub async fn recv_kexinit(&mut self, kex: &mut KexState) {
        kex.i_s = self.expect(msg::KEXINIT, "the server's KEXINIT").await;
    }

    /// Sends `SSH_MSG_KEX_ECDH_INIT` with a fresh X25519 public value (RFC 8731 §3).
    pub async fn send_kex_init(&mut self, kex: &mut KexState) {
        let mut rng = *sshwire::system_rng();
        let (client, q_c) =
            KexClient::start(KexAlg::Curve25519Sha256, &mut rng).expect("X25519 key pair");
        let mut w = Writer::new();
        w.u8(msg::KEX_ECDH_INIT).string(&q_c);
        kex.client = Some(client);
        kex.q_c = q_c;
        self.send(w.as_slice()).await.expect("send KEX_ECDH_INIT");
    }

    /// Reads `SSH_MSG_KEX_ECDH_REPLY` and derives both directions' keys (RFC 4253 §7.2).
    ///
    /// The host key signature is not checked: the attacker trusts anyone.
    pub async fn recv_kex_reply(&mut self, kex: &mut KexState) {
        let reply = self
            .expect(msg::KEX_ECDH_REPLY, "the server's KEX_ECDH_REPLY")
            .await;
        let mut r = Reader::new(&reply);
        let (k_s, q_s) = (|| {
            r.u8()?;
            let k_s = r.string()?.to_vec();
            let q_s = r.string()?.to_vec();
            Ok::<_, sshwire_wire::Error>((k_s, q_s))
        })()
        .expect("a well-formed KEX_ECDH_REPLY");
        let k = kex
            .client
            .take()
            .expect("KEX_ECDH_INIT sent first")
            .finish(&q_s)
            .expect("the server's X25519 value");
        // RFC 4253 §8 / RFC 8731 §3.1:
        // H = HASH(V_C || V_S || I_C || I_S || K_S || Q_C || Q_S || K).
        let mut w = Writer::new();
        w.string(&self.ours)
            .string(&self.theirs)
            .string(&kex.i_c)
            .string(&kex.i_s)
            .string(&k_s)
            .string(&kex.q_c)
            .string(&q_s)
            .raw(k.encoded());
        let hash = KexAlg::Curve25519Sha256.hash();
        let h = hash.digest(w.as_slice());
        let key = |letter| {
            let v = derive_key(hash, k.encoded(), &h, letter, &h, 64);
            let mut a = [0u8; 64];
            a.copy_from_slice(&v);
            a
        };
        // RFC 4253 §7.2: "C" is the client-to-server encryption key, "D" server-to-client.
        kex.c2s_key = Some(key(b'C'));
        self.next_open = Some((key(b'D'), kex.strict));
        kex.session_id = h;
    }

    /// Sends NEWKEYS and switches our direction to the new keys.
    pub async fn send_newkeys(&mut self, kex: &mut KexState) {
        self.send_msg(msg::NEWKEYS, &[])
            .await
            .expect("send NEWKEYS");
        self.install_sealing(&kex.c2s_key.expect("KEX_ECDH_REPLY read first"));
        if kex.strict {
            // OpenSSH PROTOCOL §1.10: sequence numbers reset to zero after NEWKEYS.
            self.seq_out = 0;
        }
    }

    /// Reads the server's NEWKEYS (which switches its direction to the new keys).
    pub async fn recv_newkeys(&mut self) {
        self.expect(msg::NEWKEYS, "the server's NEWKEYS").await;
    }

    /// Identification and a whole key exchange; returns the session identifier.
    pub async fn handshake(&mut self, opts: &KexOptions) -> Vec<u8> {
        let mut kex = KexState::default();
        self.exchange_idents().await;
        self.send_kexinit(&mut kex, opts).await;
        self.recv_kexinit(&mut kex).await;
        self.send_kex_init(&mut kex).await;
        self.recv_kex_reply(&mut kex).await;
        self.send_newkeys(&mut kex).await;
        self.recv_newkeys().await;
        if opts.compression == "zlib" {
            // RFC 4253 §6.2: compression starts with the new keys.
            self.start_compression();
        }
        kex.session_id
    }
}
