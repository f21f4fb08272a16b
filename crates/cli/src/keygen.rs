//! `sshwire keygen`: key pairs in OpenSSH's formats.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use sshwire::system_rng;
use sshwire_keys::{KeyType, PrivateKey};

use crate::paths;

/// Arguments of `sshwire keygen`, named as ssh-keygen's.
#[derive(Parser)]
pub struct Args {
    /// Key type.
    #[arg(short = 't', value_enum, default_value_t = Kind::Ed25519)]
    kind: Kind,
    /// Key size in bits: 256 or 384 for ecdsa, 2048 to 16384 for rsa (default 3072).
    #[arg(short = 'b')]
    bits: Option<u32>,
    /// Output file for the private key; the public key goes to FILE.pub.
    #[arg(short = 'f')]
    file: Option<PathBuf>,
    /// Passphrase to encrypt the private key with (empty: not encrypted).
    #[arg(short = 'N', default_value = "")]
    passphrase: String,
    /// Comment stored with the key (default: user@host).
    #[arg(short = 'C')]
    comment: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Ed25519,
    Ecdsa,
    Rsa,
}

pub fn run(args: Args) -> Result<(), String> {
    let (kind, default_name) = match (args.kind, args.bits) {
        (Kind::Ed25519, None) => (KeyType::Ed25519, "id_ed25519"),
        (Kind::Ed25519, Some(_)) => return Err("-b is not used with ed25519 keys".into()),
        (Kind::Ecdsa, None | Some(256)) => (KeyType::EcdsaP256, "id_ecdsa"),
        (Kind::Ecdsa, Some(384)) => (KeyType::EcdsaP384, "id_ecdsa"),
        (Kind::Ecdsa, Some(b)) => {
            return Err(format!("ecdsa keys are 256 or 384 bits, not {b}"));
        }
        (Kind::Rsa, _) => (KeyType::Rsa, "id_rsa"),
    };
    let bits = match kind {
        KeyType::Rsa => Some(args.bits.unwrap_or(3072)),
        _ => args.bits,
    };
    let path = match args.file {
        Some(p) => p,
        None => paths::home()?.join(".ssh").join(default_name),
    };
    let pub_path = {
        let mut p = path.clone().into_os_string();
        p.push(".pub");
        PathBuf::from(p)
    };
    for p in [&path, &pub_path] {
        if p.exists() {
            return Err(format!(
                "{} already exists; remove it or choose another file with -f",
                p.display()
            ));
        }
    }
    let comment = args.comment.unwrap_or_else(paths::default_comment);
    println!("Generating public/private {} key pair.", kind.name());
    let mut rng = system_rng();
    let key = PrivateKey::generate(kind, bits, &mut *rng)
        .map_err(|e| format!("key generation failed: {e}"))?;
    let passphrase = (!args.passphrase.is_empty()).then_some(args.passphrase.as_bytes());
    let private = key
        .to_openssh(&comment, passphrase, &mut *rng)
        .map_err(|e| format!("cannot encode the key: {e}"))?;
    let public = key.public_key();
    paths::write_new(&path, private.as_bytes(), 0o600)?;
    paths::write_new(
        &pub_path,
        format!("{}\n", public.to_openssh(&comment)).as_bytes(),
        0o644,
    )?;
    println!("Your identification has been saved in {}", path.display());
    println!("Your public key has been saved in {}", pub_path.display());
    println!("The key fingerprint is:");
    println!("{} {comment}", public.fingerprint_sha256());
    Ok(())
}
