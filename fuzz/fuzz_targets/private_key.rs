//! Fuzzes `PrivateKey::from_openssh`, the OpenSSH private key file decoder.
//!
//! The first input byte picks a mode:
//! - even: the rest is the file's text as given, decoded without a passphrase. This covers
//!   the armor, the base64 body, the container header, and the whole unencrypted path; an
//!   encrypted file stops at `PassphraseRequired` before any key derivation.
//!   `openssh_is_encrypted` must agree with the outcome.
//! - odd: the rest is the binary body, which the target armors itself (so mutations land in
//!   the structure, not in the base64), decoded with the passphrase `fuzz`. bcrypt costs
//!   about a millisecond per round, so the target reads the kdfoptions' `rounds` field first
//!   and, above 2 rounds, decodes without the passphrase instead (header parsing only). With
//!   1 or 2 rounds the whole encrypted path runs: bcrypt_pbkdf, AES-CTR or AES-CBC decryption
//!   and the check integers (the crate itself allows up to `MAX_BCRYPT_ROUNDS`, 1024).
//!
//! Whenever a key decodes, writing it back unencrypted with `to_openssh` and decoding that
//! gives the same public key and comment.
#![no_main]

use base64ct::{Base64, Encoding};
use libfuzzer_sys::fuzz_target;
use sshwire_fuzz::FuzzRng;
use sshwire_keys::{KeyError, PrivateKey};
use sshwire_wire::Reader;

const MAX_FUZZ_ROUNDS: u32 = 2;

/// The bcrypt rounds a binary key file asks for, if it is well formed that far.
fn bcrypt_rounds(binary: &[u8]) -> Option<u32> {
    let mut r = Reader::new(binary);
    r.bytes(b"openssh-key-v1\0".len()).ok()?;
    r.string().ok()?; // cipher
    r.string().ok()?; // KDF
    let mut kdf = Reader::new(r.string().ok()?);
    kdf.string().ok()?; // salt
    kdf.u32().ok()
}

fn armor(binary: &[u8]) -> Vec<u8> {
    let encoded = Base64::encode_string(binary);
    let mut text = b"-----BEGIN OPENSSH PRIVATE KEY-----\n".to_vec();
    for line in encoded.as_bytes().chunks(70) {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    text.extend_from_slice(b"-----END OPENSSH PRIVATE KEY-----\n");
    text
}

fn round_trip(key: &PrivateKey, comment: &str) {
    let text = key
        .to_openssh(comment, None, &mut FuzzRng::new(1))
        .expect("writing an unencrypted key file");
    let (again, again_comment) =
        PrivateKey::from_openssh(text.as_bytes(), None).expect("reading our own key file");
    assert_eq!(again.public_key(), key.public_key());
    assert_eq!(again_comment, comment);
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let result = PrivateKey::from_openssh(data, None);
        let encrypted = PrivateKey::openssh_is_encrypted(data);
        match &result {
            Ok(_) => assert_eq!(encrypted, Ok(false)),
            Err(KeyError::PassphraseRequired) => assert_eq!(encrypted, Ok(true)),
            Err(_) => {}
        }
        if let Ok((key, comment)) = result {
            round_trip(&key, &comment);
        }
    } else {
        let passphrase: Option<&[u8]> = match bcrypt_rounds(data) {
            Some(rounds) if rounds > MAX_FUZZ_ROUNDS => None,
            _ => Some(b"fuzz"),
        };
        if let Ok((key, comment)) = PrivateKey::from_openssh(&armor(data), passphrase) {
            round_trip(&key, &comment);
        }
    }
});
