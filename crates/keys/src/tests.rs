//! Tests across modules: known answers, round trips and hostile input.

use std::sync::OnceLock;

use proptest::prelude::*;
use sshwire_wire::Writer;

use crate::openssh_file::{armor, dearmor};
use crate::{KeyError, KeyType, PrivateKey, PublicKey, SignatureAlgorithm, decode_signature_blob};

type Rng = rand_core::UnwrapErr<getrandom::SysRng>;

fn rng() -> Rng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// One key of every type; the RSA key is generated once (it is slow in debug builds).
fn keys() -> &'static [PrivateKey] {
    static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rng();
        vec![
            PrivateKey::generate(KeyType::Ed25519, None, &mut rng).unwrap(),
            PrivateKey::generate(KeyType::EcdsaP256, None, &mut rng).unwrap(),
            PrivateKey::generate(KeyType::EcdsaP384, None, &mut rng).unwrap(),
            PrivateKey::generate(KeyType::Rsa, Some(2048), &mut rng).unwrap(),
        ]
    })
}

/// The algorithms a key of `kind` signs with (all but SHA-1 `ssh-rsa`, which sshwire only
/// verifies).
fn algorithms_of(kind: KeyType) -> Vec<SignatureAlgorithm> {
    SignatureAlgorithm::ALL
        .into_iter()
        .filter(|a| a.key_type() == kind && *a != SignatureAlgorithm::RsaSha1)
        .collect()
}

// RFC 8032 §7.1, TEST 1 and TEST 2.
const RFC8032_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC8032_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
const RFC8032_SECRET2: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const RFC8032_SIG2: &str = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

#[test]
fn rfc8032_vectors_through_ssh_blobs() {
    let mut w = Writer::new();
    w.string(b"ssh-ed25519").string(&hex(RFC8032_PUBLIC));
    let blob = w.into_vec();
    let public = PublicKey::from_blob(&blob).unwrap();
    assert_eq!(public.to_blob(), blob);
    // Fingerprint as printed by `ssh-keygen -l -E sha256` for this key.
    assert_eq!(
        public.fingerprint_sha256(),
        "SHA256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8"
    );
    assert_eq!(
        public.to_openssh("rfc8032"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea rfc8032"
    );

    let mut w = Writer::new();
    w.string(b"ssh-ed25519").string(&hex(RFC8032_SIG));
    let sig_blob = w.into_vec();
    public
        .verify(SignatureAlgorithm::Ed25519, b"", &sig_blob)
        .unwrap();

    let seed: [u8; 32] = hex(RFC8032_SECRET).try_into().unwrap();
    let key = PrivateKey::from_ed25519_seed(&seed);
    assert_eq!(key.public_key(), public);
    let made = key
        .sign(SignatureAlgorithm::Ed25519, b"", &mut rng())
        .unwrap();
    assert_eq!(made, sig_blob);

    let seed2: [u8; 32] = hex(RFC8032_SECRET2).try_into().unwrap();
    let key2 = PrivateKey::from_ed25519_seed(&seed2);
    let made2 = key2
        .sign(SignatureAlgorithm::Ed25519, &[0x72], &mut rng())
        .unwrap();
    assert_eq!(decode_signature_blob(&made2).unwrap().1, hex(RFC8032_SIG2));
}

#[test]
fn sign_verify_round_trip_every_algorithm() {
    let mut rng = rng();
    for key in keys() {
        let public = key.public_key();
        for alg in algorithms_of(key.key_type()) {
            let sig = key.sign(alg, b"exchange hash", &mut rng).unwrap();
            let (name, _) = decode_signature_blob(&sig).unwrap();
            assert_eq!(name, alg.name());
            public.verify(alg, b"exchange hash", &sig).unwrap();
            assert_eq!(
                public.verify(alg, b"exchange hasH", &sig),
                Err(KeyError::BadSignature),
                "{alg} accepted the wrong data"
            );
        }
    }
}

#[test]
fn rsa_signature_lengths_and_algorithms() {
    let key = &keys()[3];
    let public = key.public_key();
    assert_eq!(
        public.signature_algorithms(),
        [SignatureAlgorithm::RsaSha512, SignatureAlgorithm::RsaSha256]
    );
    assert_eq!(public.bits(), 2048);
    let mut rng = rng();
    let sig256 = key
        .sign(SignatureAlgorithm::RsaSha256, b"m", &mut rng)
        .unwrap();
    assert_eq!(decode_signature_blob(&sig256).unwrap().1.len(), 256);
    // A blob made by rsa-sha2-256 checked as rsa-sha2-512: its name differs.
    assert_eq!(
        public.verify(SignatureAlgorithm::RsaSha512, b"m", &sig256),
        Err(KeyError::AlgorithmMismatch)
    );
    // The same bytes relabelled: the name matches but the hash does not.
    let raw = decode_signature_blob(&sig256).unwrap().1;
    let mut w = Writer::new();
    w.string(b"rsa-sha2-512").string(raw);
    assert_eq!(
        public.verify(SignatureAlgorithm::RsaSha512, b"m", &w.into_vec()),
        Err(KeyError::BadSignature)
    );
    // sshwire makes no SHA-1 ssh-rsa signatures (ring cannot; see rsa.rs); verifying them
    // is checked against the rsa crate's in rsa.rs.
    assert!(matches!(
        key.sign(SignatureAlgorithm::RsaSha1, b"m", &mut rng),
        Err(KeyError::Unsupported(_))
    ));
}

#[test]
fn short_rsa_signatures_are_left_padded() {
    // Find a signature with a leading zero byte, strip it, and check it still verifies.
    let key = &keys()[3];
    let public = key.public_key();
    let mut rng = rng();
    for i in 0u32..2000 {
        let data = i.to_be_bytes();
        let sig = key
            .sign(SignatureAlgorithm::RsaSha256, &data, &mut rng)
            .unwrap();
        let raw = decode_signature_blob(&sig).unwrap().1;
        if raw[0] == 0 {
            let mut w = Writer::new();
            w.string(b"rsa-sha2-256").string(&raw[1..]);
            public
                .verify(SignatureAlgorithm::RsaSha256, &data, &w.into_vec())
                .unwrap();
            // Longer than the modulus is refused.
            let mut long = vec![0u8];
            long.extend_from_slice(raw);
            let mut w = Writer::new();
            w.string(b"rsa-sha2-256").string(&long);
            assert_eq!(
                public.verify(SignatureAlgorithm::RsaSha256, &data, &w.into_vec()),
                Err(KeyError::BadSignature)
            );
            return;
        }
    }
    panic!("no signature with a leading zero in 2000 tries");
}

#[test]
fn wrong_algorithm_for_key_is_a_mismatch() {
    let mut rng = rng();
    let ed = &keys()[0];
    let p256 = &keys()[1];
    assert_eq!(
        ed.sign(SignatureAlgorithm::RsaSha256, b"x", &mut rng),
        Err(KeyError::AlgorithmMismatch)
    );
    let sig = ed
        .sign(SignatureAlgorithm::Ed25519, b"x", &mut rng)
        .unwrap();
    assert_eq!(
        p256.public_key()
            .verify(SignatureAlgorithm::EcdsaP256, b"x", &sig),
        Err(KeyError::AlgorithmMismatch)
    );
    assert_eq!(
        p256.public_key()
            .verify(SignatureAlgorithm::Ed25519, b"x", &sig),
        Err(KeyError::AlgorithmMismatch)
    );
    // A P-384 signature relabelled as P-256 does not verify.
    let p384 = &keys()[2];
    let sig = p384
        .sign(SignatureAlgorithm::EcdsaP384, b"x", &mut rng)
        .unwrap();
    let raw = decode_signature_blob(&sig).unwrap().1;
    let mut w = Writer::new();
    w.string(b"ecdsa-sha2-nistp256").string(raw);
    assert!(
        p256.public_key()
            .verify(SignatureAlgorithm::EcdsaP256, b"x", &w.into_vec())
            .is_err()
    );
}

#[test]
fn flipped_bits_in_signatures_fail() {
    let mut rng = rng();
    for key in keys() {
        let public = key.public_key();
        let alg = public.signature_algorithms()[0];
        let sig = key.sign(alg, b"data", &mut rng).unwrap();
        for byte in 0..sig.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = sig.clone();
                bad[byte] ^= bit;
                assert!(
                    public.verify(alg, b"data", &bad).is_err(),
                    "{alg}: flipped bit {bit:#x} at {byte} accepted"
                );
            }
        }
    }
}

#[test]
fn truncated_public_and_signature_blobs_are_errors() {
    let mut rng = rng();
    for key in keys() {
        let public = key.public_key();
        let blob = public.to_blob();
        for cut in 0..blob.len() {
            assert!(PublicKey::from_blob(&blob[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = blob.clone();
        long.push(0);
        assert!(matches!(
            PublicKey::from_blob(&long),
            Err(KeyError::Wire(sshwire_wire::Error::TrailingData(1)))
        ));
        let alg = public.signature_algorithms()[0];
        let sig = key.sign(alg, b"d", &mut rng).unwrap();
        for cut in 0..sig.len() {
            assert!(
                public.verify(alg, b"d", &sig[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn truncated_private_key_files_are_errors() {
    let mut rng = rng();
    for key in keys() {
        for passphrase in [None, Some(&b"pw"[..])] {
            let file = key.to_openssh("comment", passphrase, &mut rng).unwrap();
            let binary = dearmor(file.as_bytes()).unwrap();
            // Decrypting needs bcrypt; keep the encrypted case to the cuts that reach it.
            let step = if passphrase.is_some() { 97 } else { 1 };
            for cut in (0..binary.len()).step_by(step) {
                let text = armor(&binary[..cut]).unwrap();
                assert!(
                    PrivateKey::from_openssh(text.as_bytes(), passphrase).is_err(),
                    "{:?} cut at {cut}",
                    key.key_type()
                );
            }
            let (back, comment) = PrivateKey::from_openssh(file.as_bytes(), passphrase).unwrap();
            assert_eq!(back.public_key(), key.public_key());
            assert_eq!(comment, "comment");
        }
    }
}

#[test]
fn private_file_layout_matches_openssh() {
    let key = &keys()[0];
    let file = key.to_openssh("me", None, &mut rng()).unwrap();
    assert!(file.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    assert!(file.ends_with("\n-----END OPENSSH PRIVATE KEY-----\n"));
    let lines: Vec<&str> = file.lines().collect();
    for line in &lines[1..lines.len() - 2] {
        assert_eq!(line.len(), 70);
    }
    assert!(!PrivateKey::openssh_is_encrypted(file.as_bytes()).unwrap());
    let binary = dearmor(file.as_bytes()).unwrap();
    assert!(binary.starts_with(b"openssh-key-v1\0\0\0\0\x04none\0\0\0\x04none\0\0\0\0\0\0\0\x01"));
}

#[test]
fn passphrases() {
    let mut rng = rng();
    let key = &keys()[1];
    let file = key.to_openssh("c", Some(b"right"), &mut rng).unwrap();
    assert!(PrivateKey::openssh_is_encrypted(file.as_bytes()).unwrap());
    assert!(file.len() > 200);
    assert_eq!(
        PrivateKey::from_openssh(file.as_bytes(), None).unwrap_err(),
        KeyError::PassphraseRequired
    );
    assert_eq!(
        PrivateKey::from_openssh(file.as_bytes(), Some(b"wrong")).unwrap_err(),
        KeyError::WrongPassphrase
    );
    assert_eq!(
        PrivateKey::from_openssh(file.as_bytes(), Some(b"")).unwrap_err(),
        KeyError::WrongPassphrase
    );
    let (back, comment) = PrivateKey::from_openssh(file.as_bytes(), Some(b"right")).unwrap();
    assert_eq!(back.public_key(), key.public_key());
    assert_eq!(comment, "c");
    // An empty passphrase writes an unencrypted file, as `ssh-keygen -N ""` does.
    let plain = key.to_openssh("c", Some(b""), &mut rng).unwrap();
    assert!(!PrivateKey::openssh_is_encrypted(plain.as_bytes()).unwrap());
    // A passphrase for an unencrypted file is ignored.
    assert!(PrivateKey::from_openssh(plain.as_bytes(), Some(b"x")).is_ok());
}

/// Rebuilds an unencrypted file from its parts, to tamper with one of them.
fn rebuild(count: u32, public: &[u8], private: &[u8]) -> String {
    let mut w = Writer::new();
    w.raw(b"openssh-key-v1\0")
        .string(b"none")
        .string(b"none")
        .string(b"")
        .u32(count)
        .string(public)
        .string(private);
    armor(w.as_slice()).unwrap().to_string()
}

fn private_section(key: &PrivateKey, comment: &str, check: [u32; 2], pad: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(check[0]).u32(check[1]);
    key.encode_fields(&mut w);
    w.string(comment.as_bytes()).raw(pad);
    w.into_vec()
}

fn padding_for(key: &PrivateKey, comment: &str) -> Vec<u8> {
    let len = private_section(key, comment, [0, 0], &[]).len();
    (1..=((8 - len % 8) % 8) as u8).collect()
}

#[test]
fn tampered_private_files_are_refused() {
    let key = &keys()[0];
    let public = key.public_key().to_blob();
    let pad = padding_for(key, "c");
    let good = private_section(key, "c", [7, 7], &pad);
    assert!(PrivateKey::from_openssh(rebuild(1, &public, &good).as_bytes(), None).is_ok());
    // Two keys, or none.
    for count in [0, 2] {
        assert!(PrivateKey::from_openssh(rebuild(count, &public, &good).as_bytes(), None).is_err());
    }
    // Check integers differ.
    let bad = private_section(key, "c", [7, 8], &pad);
    assert!(matches!(
        PrivateKey::from_openssh(rebuild(1, &public, &bad).as_bytes(), None),
        Err(KeyError::Malformed(_))
    ));
    // Wrong padding bytes, or a whole extra block of padding.
    if !pad.is_empty() {
        let mut wrong = pad.clone();
        *wrong.last_mut().unwrap() ^= 0x10;
        let bad = private_section(key, "c", [7, 7], &wrong);
        assert!(PrivateKey::from_openssh(rebuild(1, &public, &bad).as_bytes(), None).is_err());
    }
    let long_pad: Vec<u8> = (1..=(pad.len() as u8 + 8)).collect();
    let bad = private_section(key, "c", [7, 7], &long_pad);
    assert!(PrivateKey::from_openssh(rebuild(1, &public, &bad).as_bytes(), None).is_err());
    // Not a multiple of the block size.
    let mut bad = good.clone();
    bad.push(pad.len() as u8 + 1);
    assert!(PrivateKey::from_openssh(rebuild(1, &public, &bad).as_bytes(), None).is_err());
    // The public key in the clear is another key.
    let other = keys()[1].public_key().to_blob();
    assert!(matches!(
        PrivateKey::from_openssh(rebuild(1, &other, &good).as_bytes(), None),
        Err(KeyError::InvalidKey(_))
    ));
    // Armor problems.
    let text = rebuild(1, &public, &good);
    assert!(
        PrivateKey::from_openssh(text.replace("BEGIN OPENSSH", "BEGIN RSA").as_bytes(), None)
            .is_err()
    );
    assert!(
        PrivateKey::from_openssh(
            text.replace("-----END OPENSSH PRIVATE KEY-----", "")
                .as_bytes(),
            None
        )
        .is_err()
    );
    assert!(PrivateKey::from_openssh(format!("{text}junk").as_bytes(), None).is_err());
    // CRLF line ends and surrounding blank lines are fine.
    let crlf = format!("\n\n{}\n", text.replace('\n', "\r\n"));
    assert!(PrivateKey::from_openssh(crlf.as_bytes(), None).is_ok());
}

#[test]
fn excessive_bcrypt_rounds_are_refused() {
    let key = &keys()[0];
    let file = key.to_openssh("c", Some(b"pw"), &mut rng()).unwrap();
    let mut binary = dearmor(file.as_bytes()).unwrap().to_vec();
    // magic(15) + "aes256-ctr"(4+10) + "bcrypt"(4+6) + kdfoptions len(4) + salt(4+16) = rounds.
    let at = 15 + 14 + 10 + 4 + 20;
    assert_eq!(&binary[at..at + 4], &16u32.to_be_bytes());
    binary[at..at + 4].copy_from_slice(&1_000_000u32.to_be_bytes());
    let text = armor(&binary).unwrap();
    assert!(matches!(
        PrivateKey::from_openssh(text.as_bytes(), Some(b"pw")),
        Err(KeyError::Unsupported(_))
    ));
    binary[at..at + 4].copy_from_slice(&0u32.to_be_bytes());
    let text = armor(&binary).unwrap();
    assert!(PrivateKey::from_openssh(text.as_bytes(), Some(b"pw")).is_err());
}

fn ecdsa_blob(name: &[u8], curve: &[u8], point: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(name).string(curve).string(point);
    w.into_vec()
}

#[test]
fn bad_ecdsa_points_are_refused() {
    let good = keys()[1].public_key().to_blob();
    assert!(PublicKey::from_blob(&good).is_ok());
    let point = keys()[1].public_key().raw_public_bytes().to_vec();
    let name = b"ecdsa-sha2-nistp256";
    // Off the curve: change y.
    let mut off = point.clone();
    off[64] ^= 1;
    assert!(matches!(
        PublicKey::from_blob(&ecdsa_blob(name, b"nistp256", &off)),
        Err(KeyError::InvalidKey(_))
    ));
    // The identity (SEC1 encodes it as a single zero byte), and zeros of the right length.
    assert!(PublicKey::from_blob(&ecdsa_blob(name, b"nistp256", &[0])).is_err());
    let mut zeros = vec![0u8; 65];
    zeros[0] = 4;
    assert!(PublicKey::from_blob(&ecdsa_blob(name, b"nistp256", &zeros)).is_err());
    // Wrong length, compressed form, wrong curve identifier, P-384 point under P-256.
    assert!(PublicKey::from_blob(&ecdsa_blob(name, b"nistp256", &point[..64])).is_err());
    let mut compressed = point[..33].to_vec();
    compressed[0] = 2 + (point[64] & 1);
    assert!(PublicKey::from_blob(&ecdsa_blob(name, b"nistp256", &compressed)).is_err());
    assert!(matches!(
        PublicKey::from_blob(&ecdsa_blob(name, b"nistp384", &point)),
        Err(KeyError::Malformed(_))
    ));
    let p384 = keys()[2].public_key().raw_public_bytes().to_vec();
    assert!(PublicKey::from_blob(&ecdsa_blob(name, b"nistp256", &p384)).is_err());
    assert!(PublicKey::from_blob(&ecdsa_blob(b"ecdsa-sha2-nistp384", b"nistp384", &p384)).is_ok());
    // nistp521 is not supported.
    assert!(matches!(
        PublicKey::from_blob(&ecdsa_blob(b"ecdsa-sha2-nistp521", b"nistp521", &[4; 133])),
        Err(KeyError::Unsupported(_))
    ));
}

#[test]
fn bad_ecdsa_signatures_are_refused() {
    let key = &keys()[1];
    let public = key.public_key();
    let alg = SignatureAlgorithm::EcdsaP256;
    let blob = |r: &[u8], s: &[u8]| {
        let mut inner = Writer::new();
        inner.mpint_unsigned(r).mpint_unsigned(s);
        let mut w = Writer::new();
        w.string(alg.name().as_bytes()).string(inner.as_slice());
        w.into_vec()
    };
    // Zero r or s, values at or above the order, oversized values.
    let order = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    for (r, s) in [
        (vec![], vec![1]),
        (vec![1], vec![]),
        (order.clone(), vec![1]),
        (vec![1], order.clone()),
        (vec![1; 33], vec![1]),
    ] {
        assert_eq!(
            public.verify(alg, b"m", &blob(&r, &s)),
            Err(KeyError::BadSignature)
        );
    }
    // Trailing data inside the signature.
    let sig = key.sign(alg, b"m", &mut rng()).unwrap();
    let raw = decode_signature_blob(&sig).unwrap().1;
    let mut inner = raw.to_vec();
    inner.push(0);
    let mut w = Writer::new();
    w.string(alg.name().as_bytes()).string(&inner);
    assert!(public.verify(alg, b"m", &w.into_vec()).is_err());
}

fn rsa_blob(e: &[u8], n: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(b"ssh-rsa").mpint_unsigned(e).mpint_unsigned(n);
    w.into_vec()
}

#[test]
fn bad_rsa_keys_are_refused() {
    let public = keys()[3].public_key();
    let n = public.raw_public_bytes().to_vec();
    let e = public.rsa_exponent().unwrap().to_vec();
    assert!(PublicKey::from_blob(&rsa_blob(&e, &n)).is_ok());
    // 1023 bits: too small. 1024 bits: accepted.
    let mut small = vec![0xffu8; 128];
    small[0] = 0x7f;
    assert!(matches!(
        PublicKey::from_blob(&rsa_blob(&e, &small)),
        Err(KeyError::InvalidKey(_))
    ));
    small[0] = 0xff;
    assert!(PublicKey::from_blob(&rsa_blob(&e, &small)).is_ok());
    // Over 16384 bits.
    assert!(PublicKey::from_blob(&rsa_blob(&e, &vec![0xff; 2049])).is_err());
    // Even modulus, even, tiny and huge exponents.
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xfe;
    assert!(PublicKey::from_blob(&rsa_blob(&e, &even)).is_err());
    for bad_e in [&[][..], &[1], &[2], &[0x01, 0, 0, 0, 0, 1]] {
        assert!(
            PublicKey::from_blob(&rsa_blob(bad_e, &n)).is_err(),
            "e = {bad_e:?}"
        );
    }
    assert!(PublicKey::from_blob(&rsa_blob(&[3], &n)).is_ok());
}

#[test]
fn generation_parameters() {
    let mut rng = rng();
    assert_eq!(
        PrivateKey::generate(KeyType::EcdsaP256, Some(384), &mut rng)
            .unwrap()
            .key_type(),
        KeyType::EcdsaP384
    );
    assert_eq!(
        PrivateKey::generate(KeyType::EcdsaP384, None, &mut rng)
            .unwrap()
            .key_type(),
        KeyType::EcdsaP384
    );
    assert!(matches!(
        PrivateKey::generate(KeyType::EcdsaP256, Some(521), &mut rng),
        Err(KeyError::Unsupported(_))
    ));
    assert!(matches!(
        PrivateKey::generate(KeyType::Rsa, Some(1024), &mut rng),
        Err(KeyError::Unsupported(_))
    ));
    assert!(matches!(
        PrivateKey::generate(KeyType::Ed25519, Some(512), &mut rng),
        Err(KeyError::Unsupported(_))
    ));
}

#[test]
fn debug_output_hides_secrets() {
    let seed = [0x42u8; 32];
    let key = PrivateKey::from_ed25519_seed(&seed);
    let shown = format!("{key:?}");
    assert!(shown.contains("ssh-ed25519"));
    assert!(!shown.contains("42, 42") && !shown.contains("4242"));
    for key in keys() {
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.public_key().fingerprint_sha256()));
        assert!(shown.len() < 200);
    }
}

#[test]
fn public_lines() {
    let key = keys()[2].public_key();
    let line = key.to_openssh("a comment with spaces");
    let (back, comment) = PublicKey::from_openssh(&line).unwrap();
    assert_eq!(
        (back, comment.as_str()),
        (key.clone(), "a comment with spaces")
    );
    let (_, comment) = PublicKey::from_openssh(&key.to_openssh("")).unwrap();
    assert_eq!(comment, "");
    // Type name must match the blob.
    let swapped = line.replacen("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp256", 1);
    assert!(PublicKey::from_openssh(&swapped).is_err());
    assert!(PublicKey::from_openssh("ssh-ed25519").is_err());
    assert!(PublicKey::from_openssh("ssh-ed25519 !!!!").is_err());
    assert!(PublicKey::from_openssh("").is_err());
}

#[test]
fn error_messages_are_one_line() {
    let errors = [
        KeyError::Malformed("x"),
        KeyError::Wire(sshwire_wire::Error::TrailingData(1)),
        KeyError::InvalidKey("x"),
        KeyError::Unsupported("x".into()),
        KeyError::PassphraseRequired,
        KeyError::WrongPassphrase,
        KeyError::BadSignature,
        KeyError::AlgorithmMismatch,
        KeyError::Generation,
        KeyError::Signing,
    ];
    for e in errors {
        let s = e.to_string();
        assert!(!s.is_empty() && !s.contains('\n'));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_blobs_never_panic(v in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = PublicKey::from_blob(&v);
        let _ = decode_signature_blob(&v);
        for key in keys() {
            for alg in SignatureAlgorithm::ALL {
                let _ = key.public_key().verify(alg, b"data", &v);
            }
        }
    }

    #[test]
    fn arbitrary_blobs_with_known_names_never_panic(
        kind in 0usize..4,
        v in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut w = Writer::new();
        w.string(KeyType::ALL[kind].name().as_bytes()).raw(&v);
        let _ = PublicKey::from_blob(w.as_slice());
        let alg = SignatureAlgorithm::ALL[kind];
        let mut w = Writer::new();
        w.string(alg.name().as_bytes()).string(&v);
        let _ = keys()[alg.key_type() as usize].public_key().verify(alg, b"d", w.as_slice());
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}", v in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = PublicKey::from_openssh(&s);
        let _ = PrivateKey::from_openssh(s.as_bytes(), Some(b"pw"));
        let _ = PrivateKey::openssh_is_encrypted(&v);
        // Arbitrary bodies inside a valid armor, with and without the magic.
        let _ = PrivateKey::from_openssh(armor(&v).unwrap().as_bytes(), None);
        let mut with_magic = b"openssh-key-v1\0".to_vec();
        with_magic.extend_from_slice(&v);
        let _ = PrivateKey::from_openssh(armor(&with_magic).unwrap().as_bytes(), None);
    }

    #[test]
    fn mutated_private_files_never_panic(index in any::<prop::sample::Index>(), byte: u8, which in 0usize..4) {
        static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        let files = FILES.get_or_init(|| {
            keys()
                .iter()
                .map(|k| dearmor(k.to_openssh("c", None, &mut rng()).unwrap().as_bytes()).unwrap().to_vec())
                .collect()
        });
        let mut binary = files[which].clone();
        let at = index.index(binary.len());
        binary[at] = byte;
        let _ = PrivateKey::from_openssh(armor(&binary).unwrap().as_bytes(), None);
    }

    #[test]
    fn ed25519_round_trips(seed: [u8; 32], data in proptest::collection::vec(any::<u8>(), 0..64),
                           comment in "[ -~]{0,40}") {
        let key = PrivateKey::from_ed25519_seed(&seed);
        let public = key.public_key();
        prop_assert_eq!(PublicKey::from_blob(&public.to_blob()).unwrap(), public.clone());
        let (back, c) = PublicKey::from_openssh(&public.to_openssh(&comment)).unwrap();
        prop_assert_eq!(&back, &public);
        prop_assert_eq!(c, comment.trim());
        let sig = key.sign(SignatureAlgorithm::Ed25519, &data, &mut rng()).unwrap();
        prop_assert!(public.verify(SignatureAlgorithm::Ed25519, &data, &sig).is_ok());
        let file = key.to_openssh(&comment, None, &mut rng()).unwrap();
        let (loaded, c) = PrivateKey::from_openssh(file.as_bytes(), None).unwrap();
        prop_assert_eq!(loaded.public_key(), public);
        prop_assert_eq!(c, comment);
    }

    #[test]
    fn ecdsa_round_trips(p384: bool, comment in "\\PC{0,20}") {
        let kind = if p384 { KeyType::EcdsaP384 } else { KeyType::EcdsaP256 };
        let key = PrivateKey::generate(kind, None, &mut rng()).unwrap();
        let public = key.public_key();
        prop_assert_eq!(PublicKey::from_blob(&public.to_blob()).unwrap(), public.clone());
        let file = key.to_openssh(&comment, None, &mut rng()).unwrap();
        let (loaded, c) = PrivateKey::from_openssh(file.as_bytes(), None).unwrap();
        prop_assert_eq!(loaded.public_key(), public);
        prop_assert_eq!(c, comment);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    #[test]
    fn encrypted_round_trips(which in 0usize..4, passphrase in proptest::collection::vec(any::<u8>(), 1..20),
                             comment in "\\PC{0,20}") {
        let key = &keys()[which];
        let file = key.to_openssh(&comment, Some(&passphrase), &mut rng()).unwrap();
        let (loaded, c) = PrivateKey::from_openssh(file.as_bytes(), Some(&passphrase)).unwrap();
        prop_assert_eq!(loaded.public_key(), key.public_key());
        prop_assert_eq!(c, comment);
        // The public key is readable without the passphrase.
        prop_assert_eq!(PrivateKey::openssh_public_key(file.as_bytes()).unwrap(), key.public_key());
        let alg = key.public_key().signature_algorithms()[0];
        let sig = loaded.sign(alg, b"d", &mut rng()).unwrap();
        prop_assert!(key.public_key().verify(alg, b"d", &sig).is_ok());
    }
}

#[test]
fn inconsistent_rsa_private_keys_are_refused() {
    let key = &keys()[3];
    let mut w = Writer::new();
    key.encode_fields(&mut w);
    let fields = w.into_vec();
    let mut r = sshwire_wire::Reader::new(&fields);
    assert_eq!(r.string().unwrap(), b"ssh-rsa");
    let parts: Vec<Vec<u8>> = (0..6)
        .map(|_| r.mpint_unsigned().unwrap().to_vec())
        .collect();
    r.finish().unwrap();
    let load = |parts: &[Vec<u8>]| {
        let mut w = Writer::new();
        w.u32(1).u32(1).string(b"ssh-rsa");
        for part in parts {
            w.mpint_unsigned(part);
        }
        w.string(b"");
        let mut pad = 1u8;
        while !w.len().is_multiple_of(8) {
            w.u8(pad);
            pad += 1;
        }
        let text = rebuild(1, &key.public_key().to_blob(), w.as_slice());
        PrivateKey::from_openssh(text.as_bytes(), None)
    };
    assert!(load(&parts).is_ok());
    // [n, e, d, iqmp, p, q]: a wrong iqmp, swapped primes, a wrong prime.
    let mut bad = parts.clone();
    *bad[3].last_mut().unwrap() ^= 1;
    assert!(matches!(load(&bad), Err(KeyError::InvalidKey(_))));
    let mut bad = parts.clone();
    bad.swap(4, 5);
    assert!(matches!(load(&bad), Err(KeyError::InvalidKey(_))));
    let mut bad = parts.clone();
    *bad[4].last_mut().unwrap() ^= 2;
    assert!(matches!(load(&bad), Err(KeyError::InvalidKey(_))));
    // A wrong d passes the load-time checks but ring refuses to sign with it.
    let mut bad = parts.clone();
    *bad[2].last_mut().unwrap() ^= 2;
    if let Ok((loaded, _)) = load(&bad) {
        assert!(
            loaded
                .sign(SignatureAlgorithm::RsaSha256, b"m", &mut rng())
                .is_err()
        );
    }
}
