//! Fuzzes the public key decoders of sshwire-keys and signature verification.
//!
//! The first input byte picks a mode; the rest is its data.
//! - 0, `PublicKey::from_blob`: an accepted blob re-encodes (`to_blob`) to the input, decodes
//!   again to the same key, and survives the OpenSSH line round trip.
//! - 1, `PublicKey::from_openssh` (UTF-8 input): an accepted line's key and comment come back
//!   the same through `to_openssh` (the comment where it has no line break).
//! - 2, `decode_signature_blob`: an accepted blob is exactly `string name || string sig`.
//! - 3, `verify` of an arbitrary signature blob, with each signature algorithm, against a fixed
//!   key of each type (Ed25519, P-256, P-384, RSA 2048) over a fixed message: a signature
//!   algorithm that does not fit the key is always `AlgorithmMismatch`; nothing panics.
//! - 4, bit flips in a real signature: byte 1 picks the key and algorithm, bytes 2 and 3 a bit
//!   position, the rest is the signed data. The untouched blob verifies; with the bit flipped it
//!   never does, over the same data or with the data's last byte changed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_fuzz::{FuzzRng, VERIFY_MESSAGE as MESSAGE, signing_keys};
use sshwire_keys::{KeyError, PublicKey, SignatureAlgorithm, decode_signature_blob};
use sshwire_wire::Writer;

fn blob_round_trip(data: &[u8]) {
    let Ok(key) = PublicKey::from_blob(data) else {
        return;
    };
    assert_eq!(key.to_blob(), data);
    assert_eq!(PublicKey::from_blob(&key.to_blob()).as_ref(), Ok(&key));
    let line = key.to_openssh("fuzz");
    assert_eq!(
        PublicKey::from_openssh(&line),
        Ok((key.clone(), "fuzz".to_owned()))
    );
    assert!(key.fingerprint_sha256().starts_with("SHA256:"));
    assert!(!key.signature_algorithms().is_empty());
    let _ = key.raw_public_bytes();
}

fn line_round_trip(data: &[u8]) {
    let Ok(line) = core::str::from_utf8(data) else {
        return;
    };
    let Ok((key, comment)) = PublicKey::from_openssh(line) else {
        return;
    };
    let again = PublicKey::from_openssh(&key.to_openssh(&comment)).expect("our own line");
    assert_eq!(again.0, key);
    if !comment.contains(['\n', '\r']) {
        assert_eq!(again.1, comment);
    }
}

fn signature_blob(data: &[u8]) {
    let Ok((name, signature)) = decode_signature_blob(data) else {
        return;
    };
    let mut w = Writer::new();
    w.string(name.as_bytes()).string(signature);
    assert_eq!(w.as_slice(), data);
}

fn verify_arbitrary(data: &[u8]) {
    for key in signing_keys() {
        let public = key.public_key();
        for alg in SignatureAlgorithm::ALL {
            let r = public.verify(alg, MESSAGE, data);
            if alg.key_type() != public.key_type() {
                assert_eq!(r, Err(KeyError::AlgorithmMismatch));
            }
        }
    }
}

fn flipped_signature(data: &[u8]) {
    let [pick, b0, b1, signed @ ..] = data else {
        return;
    };
    let keys = signing_keys();
    let key = &keys[usize::from(pick % 4)];
    // A local key makes no SHA-1 `ssh-rsa` signature (ring has none, and the `rsa` crate's
    // private-key operations carry a timing advisory); it is still verified, below and in
    // the blob cases.
    let algs: Vec<SignatureAlgorithm> = SignatureAlgorithm::ALL
        .into_iter()
        .filter(|a| a.key_type() == key.key_type() && *a != SignatureAlgorithm::RsaSha1)
        .collect();
    let alg = algs[usize::from(pick / 4) % algs.len()];
    let public = key.public_key();
    let bit = u16::from_be_bytes([*b0, *b1]);
    let blob = key
        .sign(alg, signed, &mut FuzzRng::new(u64::from(bit)))
        .expect("signing with a fixed key");
    assert_eq!(public.verify(alg, signed, &blob), Ok(()));

    let mut bad = blob.clone();
    let at = usize::from(bit) % (bad.len() * 8);
    bad[at / 8] ^= 1 << (at % 8);
    assert!(
        public.verify(alg, signed, &bad).is_err(),
        "{alg:?}: flipped bit {at} verified"
    );
    if let Some((last, rest)) = signed.split_last() {
        let mut other = rest.to_vec();
        other.push(last ^ 1);
        assert!(
            public.verify(alg, &other, &blob).is_err(),
            "{alg:?}: other data verified"
        );
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    match mode % 5 {
        0 => blob_round_trip(data),
        1 => line_round_trip(data),
        2 => signature_blob(data),
        3 => verify_arbitrary(data),
        _ => flipped_signature(data),
    }
});
