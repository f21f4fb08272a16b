//! Our client against a private OpenSSH `sshd`: key exchange with every algorithm this
//! OpenSSH supports, host key verification, repeated rekeys and the userauth service.

use std::sync::Arc;
use std::time::Duration;

use sshwire::client::{HostKeyVerifier, connect};
use sshwire::keys::{KeyType, PrivateKey};
use sshwire::keys::{PublicKey, SignatureAlgorithm};
use sshwire::transport::cipher::{CipherAlg, MacAlg};
use sshwire::transport::compress::Compression;
use sshwire::transport::kex::KexAlg;
use sshwire::transport::{Config, Event};
use sshwire_tests::{Sshd, current_user, openssh_available, openssh_query, userauth_publickey};

/// A private sshd that lets the current user in with a fresh Ed25519 key.
fn sshd_with_user_key(extra: &str) -> (Sshd, PrivateKey) {
    let sshd = Sshd::start(extra);
    let key = PrivateKey::generate(KeyType::Ed25519, None, &mut *sshwire::system_rng()).unwrap();
    sshd.authorize(&key.public_key().to_openssh("test"));
    (sshd, key)
}

/// Trusts exactly one key, and records that it was asked.
struct Expect {
    key: PublicKey,
    asked: bool,
}

impl HostKeyVerifier for Expect {
    fn verify(&mut self, key: &PublicKey) -> bool {
        self.asked = true;
        *key == self.key
    }
}

fn host_key_file(alg: SignatureAlgorithm) -> &'static str {
    match alg {
        SignatureAlgorithm::Ed25519 => "ed25519",
        SignatureAlgorithm::EcdsaP256 => "ecdsa256",
        SignatureAlgorithm::EcdsaP384 => "ecdsa384",
        _ => "rsa",
    }
}

/// Connects with one algorithm of each kind, authenticates (OpenSSH refuses to rekey before
/// that), then rekeys `rekeys` times.
async fn session(
    sshd: &Sshd,
    user_key: &PrivateKey,
    config: Config,
    rekeys: usize,
) -> Result<(), String> {
    tokio::time::timeout(
        Duration::from_secs(60),
        session_inner(sshd, user_key, config, rekeys),
    )
    .await
    .map_err(|_| "session timed out".to_owned())?
}

async fn session_inner(
    sshd: &Sshd,
    user_key: &PrivateKey,
    config: Config,
    rekeys: usize,
) -> Result<(), String> {
    let alg = config.host_key_algorithms[0];
    let expected = PublicKey::from_openssh(&sshd.host_public_key(host_key_file(alg)))
        .map_err(|e| e.to_string())?
        .0;
    let mut verifier = Expect {
        key: expected,
        asked: false,
    };
    let what = format!(
        "{} {} {} {:?}",
        config.kex[0].name(),
        alg.name(),
        config.ciphers[0].name(),
        config.macs.first().map(|m| m.name())
    );
    let mut driver = connect(
        ("127.0.0.1", sshd.port),
        Arc::new(config),
        &mut verifier,
        Some(Duration::from_secs(30)),
    )
    .await
    .map_err(|e| format!("{what}: {e}"))?;
    if !verifier.asked {
        return Err(format!("{what}: host key was never checked"));
    }
    userauth_publickey(&mut driver, &current_user(), user_key)
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    for i in 0..rekeys {
        driver.engine().rekey().map_err(|e| e.to_string())?;
        loop {
            match driver
                .next_event()
                .await
                .map_err(|e| format!("{what}: rekey {i}: {e}"))?
            {
                Event::KexComplete { first: false, .. } => break,
                _ => continue,
            }
        }
    }
    // After the rekeys the connection still carries traffic: a global request that wants a
    // reply (RFC 4254 §4) gets one (sshd refuses this unknown request with REQUEST_FAILURE).
    let mut w = sshwire_wire::Writer::new();
    w.u8(80).string(b"still-alive@sshwire.test").bool(true);
    driver
        .engine()
        .send(w.as_slice())
        .map_err(|e| e.to_string())?;
    loop {
        match driver
            .next_event()
            .await
            .map_err(|e| format!("{what}: {e}"))?
        {
            Event::Message(m) if matches!(m.first(), Some(81 | 82)) => return Ok(()),
            _ => continue,
        }
    }
}

fn supported<T: Copy>(ours: &[T], name: impl Fn(T) -> &'static str, what: &str) -> Vec<T> {
    let theirs = openssh_query(what);
    ours.iter()
        .copied()
        .filter(|x| theirs.iter().any(|t| t == name(*x)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kex_and_host_key_against_sshd() {
    if !openssh_available("every_kex_and_host_key_against_sshd") {
        return;
    }
    let kexes = supported(KexAlg::all(), KexAlg::name, "kex");
    let names: Vec<&str> = kexes.iter().map(|k| k.name()).collect();
    let (sshd, user_key) = sshd_with_user_key(&format!("KexAlgorithms {}\n", names.join(",")));
    assert!(kexes.contains(&KexAlg::DhGexSha256));
    let mut done = 0;
    for &kex in &kexes {
        for alg in [
            SignatureAlgorithm::Ed25519,
            SignatureAlgorithm::EcdsaP256,
            SignatureAlgorithm::EcdsaP384,
            SignatureAlgorithm::RsaSha512,
            SignatureAlgorithm::RsaSha256,
        ] {
            let config = Config {
                kex: vec![kex],
                host_key_algorithms: vec![alg],
                ..Config::default()
            };
            if let Err(e) = session(&sshd, &user_key, config, 1).await {
                panic!("{e}\nsshd log:\n{}", sshd.log());
            }
            done += 1;
        }
    }
    eprintln!("{done} kex x host key combinations completed against sshd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cipher_and_mac_against_sshd() {
    if !openssh_available("every_cipher_and_mac_against_sshd") {
        return;
    }
    let (sshd, user_key) = sshd_with_user_key("Compression yes\n");
    let ciphers = supported(CipherAlg::all(), CipherAlg::name, "cipher");
    let macs = supported(
        &[
            MacAlg::HmacSha256Etm,
            MacAlg::HmacSha512Etm,
            MacAlg::HmacSha256,
            MacAlg::HmacSha512,
            MacAlg::HmacSha1,
            MacAlg::HmacSha1Etm,
        ],
        MacAlg::name,
        "mac",
    );
    for &cipher in &ciphers {
        let mac_choices: Vec<Option<MacAlg>> = if cipher.is_aead() {
            vec![None]
        } else {
            macs.iter().copied().map(Some).collect()
        };
        for mac in mac_choices {
            let config = Config {
                kex: vec![KexAlg::Curve25519Sha256],
                host_key_algorithms: vec![SignatureAlgorithm::Ed25519],
                ciphers: vec![cipher],
                macs: mac.map_or_else(|| MacAlg::defaults().to_vec(), |m| vec![m]),
                // Delayed compression starts after authentication, before the rekeys.
                compression: vec![Compression::ZlibOpenSsh],
                ..Config::default()
            };
            if let Err(e) = session(&sshd, &user_key, config, 2).await {
                panic!("{e}\nsshd log:\n{}", sshd.log());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekeys_repeatedly_against_sshd() {
    if !openssh_available("rekeys_repeatedly_against_sshd") {
        return;
    }
    let (sshd, user_key) = sshd_with_user_key("");
    let config = Config {
        host_key_algorithms: vec![SignatureAlgorithm::RsaSha512],
        ..Config::default()
    };
    session(&sshd, &user_key, config, 20)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_host_key_is_refused() {
    if !openssh_available("wrong_host_key_is_refused") {
        return;
    }
    let sshd = Sshd::start("");
    // Expect the ECDSA key while the server presents its Ed25519 key.
    let other = PublicKey::from_openssh(&sshd.host_public_key("ecdsa256"))
        .unwrap()
        .0;
    let mut verifier = Expect {
        key: other,
        asked: false,
    };
    let config = Config {
        host_key_algorithms: vec![SignatureAlgorithm::Ed25519],
        ..Config::default()
    };
    let r = connect(
        ("127.0.0.1", sshd.port),
        Arc::new(config),
        &mut verifier,
        None,
    )
    .await;
    let e = r.err().expect("connected despite a wrong host key");
    assert!(verifier.asked);
    assert_eq!(e.to_string(), "host key verification failed");
}
