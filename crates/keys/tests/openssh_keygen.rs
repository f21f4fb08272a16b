//! Interoperability with OpenSSH's `ssh-keygen`.
//!
//! Keys made by `ssh-keygen` must load here with the same public key, comment and fingerprint;
//! keys written here must load in `ssh-keygen`; signatures must verify both ways (through the
//! SSHSIG format of `ssh-keygen -Y`). Without `ssh-keygen` the tests are skipped, unless
//! `SSHWIRE_REQUIRE_INTEROP=1` is set, in which case they fail.

// The whole file is test code, helpers included; clippy.toml only covers `#[test]` bodies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64ct::{Base64, Encoding};
use sshwire_keys::{KeyType, PrivateKey, PublicKey, SignatureAlgorithm};
use sshwire_wire::{Reader, Writer};

type Rng = sshwire_keys::rand_core::UnwrapErr<getrandom::SysRng>;

fn rng() -> Rng {
    sshwire_keys::rand_core::UnwrapErr(getrandom::SysRng)
}

/// Whether `ssh-keygen` can be run; panics if it cannot but interop is required.
fn have_keygen() -> bool {
    let found = Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var("SSHWIRE_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("ssh-keygen not found and SSHWIRE_REQUIRE_INTEROP=1");
        }
        eprintln!("ssh-keygen not found: skipping OpenSSH interoperability test");
    }
    found
}

/// Runs `ssh-keygen` with `args`, feeding `stdin`, and returns its standard output.
fn keygen(args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new("ssh-keygen")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const KINDS: [(&str, Option<&str>, KeyType); 4] = [
    ("ed25519", None, KeyType::Ed25519),
    ("ecdsa", Some("256"), KeyType::EcdsaP256),
    ("ecdsa", Some("384"), KeyType::EcdsaP384),
    ("rsa", Some("2048"), KeyType::Rsa),
];

/// Generates a key with `ssh-keygen` and returns the path of the private key file.
fn keygen_key(
    dir: &Path,
    name: &str,
    kind: &str,
    bits: Option<&str>,
    pass: &str,
    extra: &[&str],
) -> PathBuf {
    let path = dir.join(name);
    let path_str = path.to_str().unwrap();
    let mut args = vec![
        "-q",
        "-t",
        kind,
        "-N",
        pass,
        "-C",
        "made by ssh-keygen",
        "-f",
        path_str,
    ];
    if let Some(bits) = bits {
        args.extend(["-b", bits]);
    }
    args.extend(extra);
    keygen(&args, b"");
    path
}

/// A key for `ssh-keygen` to make: file name, `-t`, `-b`, expected type, `-N`, more arguments.
type Case = (
    String,
    &'static str,
    Option<&'static str>,
    KeyType,
    &'static str,
    Vec<&'static str>,
);

#[test]
fn keygen_keys_load_with_the_same_public_key_and_fingerprint() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<Case> = Vec::new();
    for (i, (kind, bits, key_type)) in KINDS.into_iter().enumerate() {
        cases.push((format!("plain{i}"), kind, bits, key_type, "", vec![]));
        cases.push((
            format!("enc{i}"),
            kind,
            bits,
            key_type,
            "passphrase",
            vec![],
        ));
    }
    // Other ciphers ssh-keygen can write.
    for cipher in ["aes128-ctr", "aes192-ctr", "aes256-cbc", "aes128-cbc"] {
        cases.push((
            cipher.to_string(),
            "ed25519",
            None,
            KeyType::Ed25519,
            "pw",
            vec!["-Z", cipher],
        ));
    }
    for (name, kind, bits, key_type, pass, extra) in cases {
        let path = keygen_key(dir.path(), &name, kind, bits, pass, &extra);
        let text = fs::read(&path).unwrap();
        let pub_line = fs::read_to_string(path.with_extension("pub")).unwrap();
        let (expected, comment) = PublicKey::from_openssh(&pub_line).unwrap();
        assert_eq!(comment, "made by ssh-keygen");
        assert_eq!(expected.key_type(), key_type);
        assert_eq!(pub_line.trim(), expected.to_openssh(&comment), "{name}");

        assert_eq!(
            PrivateKey::openssh_is_encrypted(&text).unwrap(),
            !pass.is_empty()
        );
        let passphrase = (!pass.is_empty()).then_some(pass.as_bytes());
        if passphrase.is_some() {
            assert!(PrivateKey::from_openssh(&text, Some(b"not it")).is_err());
        }
        let (key, comment) = PrivateKey::from_openssh(&text, passphrase).unwrap();
        assert_eq!(comment, "made by ssh-keygen");
        assert_eq!(key.public_key(), expected, "{name}");

        // ssh-keygen -l prints "bits SHA256:... comment (TYPE)".
        let listing = keygen(
            &[
                "-l",
                "-E",
                "sha256",
                "-f",
                path.with_extension("pub").to_str().unwrap(),
            ],
            b"",
        );
        let mut fields = listing.split_whitespace();
        assert_eq!(fields.next().unwrap(), expected.bits().to_string());
        assert_eq!(
            fields.next().unwrap(),
            expected.fingerprint_sha256(),
            "{name}"
        );

        // The loaded key signs.
        let mut rng = rng();
        for &alg in expected.signature_algorithms() {
            let sig = key.sign(alg, b"data", &mut rng).unwrap();
            expected.verify(alg, b"data", &sig).unwrap();
        }
    }
}

fn write_private(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn our_keys_load_in_keygen() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng();
    for (i, (_, bits, key_type)) in KINDS.into_iter().enumerate() {
        let bits = bits.map(|b| b.parse().unwrap());
        let key = PrivateKey::generate(key_type, bits, &mut rng).unwrap();
        let public = key.public_key();
        for pass in [None, Some("secret passphrase")] {
            let path = dir.path().join(format!("ours{i}-{}", pass.is_some()));
            let file = key
                .to_openssh("written by sshwire", pass.map(str::as_bytes), &mut rng)
                .unwrap();
            write_private(&path, &file);
            let mut args = vec!["-y", "-f", path.to_str().unwrap()];
            if let Some(pass) = pass {
                args.extend(["-P", pass]);
            }
            let printed = keygen(&args, b"");
            let (theirs, _) = PublicKey::from_openssh(printed.trim()).unwrap();
            assert_eq!(theirs, public, "{key_type} encrypted={}", pass.is_some());
            assert!(printed.starts_with(&public.to_openssh("")));
        }
        let pub_path = dir.path().join(format!("ours{i}.pub"));
        fs::write(&pub_path, public.to_openssh("c") + "\n").unwrap();
        let listing = keygen(
            &["-l", "-E", "sha256", "-f", pub_path.to_str().unwrap()],
            b"",
        );
        assert_eq!(
            listing.split_whitespace().nth(1).unwrap(),
            public.fingerprint_sha256()
        );
    }
}

#[test]
fn small_rsa_keys_verify_but_do_not_sign() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = keygen_key(dir.path(), "rsa1024", "rsa", Some("1024"), "", &[]);
    let (key, _) = PrivateKey::from_openssh(&fs::read(&path).unwrap(), None).unwrap();
    assert_eq!(key.public_key().bits(), 1024);
    assert!(matches!(
        key.sign(SignatureAlgorithm::RsaSha512, b"m", &mut rng()),
        Err(sshwire_keys::KeyError::Unsupported(_))
    ));
    // ssh-keygen signs with it; sshwire verifies (1024 bits is MIN_RSA_BITS).
    let message_path = dir.path().join("m");
    fs::write(&message_path, b"m").unwrap();
    keygen(
        &[
            "-Y",
            "sign",
            "-n",
            NAMESPACE,
            "-f",
            path.to_str().unwrap(),
            message_path.to_str().unwrap(),
        ],
        b"",
    );
    let (public, blob) = sshsig_parse(&fs::read_to_string(dir.path().join("m.sig")).unwrap());
    assert_eq!(public, key.public_key());
    public
        .verify(
            SignatureAlgorithm::RsaSha512,
            &sshsig_signed_data(b"m"),
            &blob,
        )
        .unwrap();
}

// --- SSHSIG (OpenSSH PROTOCOL.sshsig), to check signatures both ways through `ssh-keygen -Y`.

const SSHSIG_MAGIC: &[u8] = b"SSHSIG";
const NAMESPACE: &str = "file@sshwire";

/// PROTOCOL.sshsig: the data actually signed.
fn sshsig_signed_data(message: &[u8]) -> Vec<u8> {
    let hash = ring::digest::digest(&ring::digest::SHA512, message);
    let mut w = Writer::new();
    w.raw(SSHSIG_MAGIC)
        .string(NAMESPACE.as_bytes())
        .string(b"")
        .string(b"sha512")
        .string(hash.as_ref());
    w.into_vec()
}

fn sshsig_armor(public: &PublicKey, signature_blob: &[u8]) -> String {
    let mut w = Writer::new();
    w.raw(SSHSIG_MAGIC)
        .u32(1)
        .string(&public.to_blob())
        .string(NAMESPACE.as_bytes())
        .string(b"")
        .string(b"sha512")
        .string(signature_blob);
    let encoded = Base64::encode_string(w.as_slice());
    let mut out = String::from("-----BEGIN SSH SIGNATURE-----\n");
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str("-----END SSH SIGNATURE-----\n");
    out
}

/// Returns the public key and the signature blob of an armored SSHSIG.
fn sshsig_parse(text: &str) -> (PublicKey, Vec<u8>) {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let binary = Base64::decode_vec(&body).unwrap();
    let mut r = Reader::new(&binary);
    assert_eq!(r.bytes(6).unwrap(), SSHSIG_MAGIC);
    assert_eq!(r.u32().unwrap(), 1);
    let public = PublicKey::from_blob(r.string().unwrap()).unwrap();
    assert_eq!(r.string().unwrap(), NAMESPACE.as_bytes());
    r.string().unwrap();
    assert_eq!(r.string().unwrap(), b"sha512");
    let signature = r.string().unwrap().to_vec();
    r.finish().unwrap();
    (public, signature)
}

#[test]
fn signatures_verify_both_ways_through_sshsig() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let message = b"a message signed by both implementations\n";
    let message_path = dir.path().join("message");
    fs::write(&message_path, message).unwrap();
    let mut rng = rng();
    for (i, (kind, bits, key_type)) in KINDS.into_iter().enumerate() {
        // ssh-keygen signs, sshwire verifies.
        let path = keygen_key(dir.path(), &format!("signer{i}"), kind, bits, "", &[]);
        keygen(
            &[
                "-Y",
                "sign",
                "-n",
                NAMESPACE,
                "-f",
                path.to_str().unwrap(),
                message_path.to_str().unwrap(),
            ],
            b"",
        );
        let sig_text = fs::read_to_string(dir.path().join("message.sig")).unwrap();
        fs::remove_file(dir.path().join("message.sig")).unwrap();
        let (public, blob) = sshsig_parse(&sig_text);
        let (name, _) = sshwire_keys::decode_signature_blob(&blob).unwrap();
        let alg = SignatureAlgorithm::from_name(name).unwrap();
        assert_eq!(alg.key_type(), key_type);
        public
            .verify(alg, &sshsig_signed_data(message), &blob)
            .unwrap();
        assert!(
            public
                .verify(alg, &sshsig_signed_data(b"other"), &blob)
                .is_err()
        );

        // sshwire signs, ssh-keygen verifies, with every algorithm of the key.
        let (key, _) = PrivateKey::from_openssh(&fs::read(&path).unwrap(), None).unwrap();
        let mut algs = key.public_key().signature_algorithms().to_vec();
        if key_type == KeyType::Rsa {
            // sshwire makes no SHA-1 ssh-rsa signatures (ring has no such signing encoding).
            assert!(matches!(
                key.sign(SignatureAlgorithm::RsaSha1, b"m", &mut rng),
                Err(sshwire_keys::KeyError::Unsupported(_))
            ));
            algs.retain(|a| *a != SignatureAlgorithm::RsaSha1);
        }
        for alg in algs {
            let blob = key
                .sign(alg, &sshsig_signed_data(message), &mut rng)
                .unwrap();
            let sig_path = dir.path().join(format!("ours{i}-{alg}.sig"));
            fs::write(&sig_path, sshsig_armor(&key.public_key(), &blob)).unwrap();
            let out = keygen(
                &[
                    "-Y",
                    "check-novalidate",
                    "-n",
                    NAMESPACE,
                    "-s",
                    sig_path.to_str().unwrap(),
                ],
                message,
            );
            assert!(out.contains("Good"), "{alg}: {out}");
        }
    }
}
