//! Our client against a private OpenSSH `sshd`: key exchange with every algorithm this
//! OpenSSH supports, host key verification, repeated rekeys and the userauth service.

use std::sync::Arc;
use std::time::Duration;

use sshwire::client::{HostKeyVerifier, connect};
use sshwire::keys::{PublicKey, SignatureAlgorithm};
use sshwire::transport::cipher::{CipherAlg, MacAlg};
use sshwire::transport::kex::KexAlg;
use sshwire::transport::{Config, Event};
use sshwire_tests::{Sshd, openssh_available, openssh_query};

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

/// Connects with one algorithm of each kind, rekeys `rekeys` times, asks for ssh-userauth.
async fn session(sshd: &Sshd, config: Config, rekeys: usize) -> Result<(), String> {
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
    driver
        .engine()
        .request_service("ssh-userauth")
        .map_err(|e| e.to_string())?;
    loop {
        match driver
            .next_event()
            .await
            .map_err(|e| format!("{what}: {e}"))?
        {
            Event::ServiceAccept(s) if s == "ssh-userauth" => return Ok(()),
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
    let sshd = Sshd::start(
        "KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,\
         ecdh-sha2-nistp256,ecdh-sha2-nistp384,diffie-hellman-group-exchange-sha256,\
         diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256\n",
    );
    let kexes = supported(KexAlg::all(), KexAlg::name, "kex");
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
            if let Err(e) = session(&sshd, config, 1).await {
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
    let sshd = Sshd::start("");
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
                ..Config::default()
            };
            if let Err(e) = session(&sshd, config, 2).await {
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
    let sshd = Sshd::start("");
    let config = Config {
        host_key_algorithms: vec![SignatureAlgorithm::RsaSha512],
        ..Config::default()
    };
    session(&sshd, config, 20)
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
