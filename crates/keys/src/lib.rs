//! SSH public and private keys, signatures, and OpenSSH key files.
//!
//! sshwire-keys implements the host and user key algorithms of SSH:
//!
//! | key type | signature algorithms | specification |
//! | --- | --- | --- |
//! | `ssh-ed25519` | `ssh-ed25519` | RFC 8709 |
//! | `ecdsa-sha2-nistp256` | `ecdsa-sha2-nistp256` | RFC 5656 |
//! | `ecdsa-sha2-nistp384` | `ecdsa-sha2-nistp384` | RFC 5656 |
//! | `ssh-rsa` | `rsa-sha2-512`, `rsa-sha2-256`, `ssh-rsa` (SHA-1, by name only) | RFC 8332, RFC 4253 |
//!
//! It decodes and validates public key blobs ([`PublicKey::from_blob`]) and OpenSSH public
//! key lines, computes `ssh-keygen`-compatible fingerprints, verifies and makes signature
//! blobs, generates keys, and reads and writes OpenSSH private key files (`openssh-key-v1`,
//! optionally encrypted with bcrypt and AES).
//!
//! # Backends and limits
//!
//! - Ed25519: `ed25519-dalek`, verification is strict (RFC 8032 §5.1.7: canonical `S`, no
//!   small-order keys or `R`).
//! - ECDSA: RustCrypto `p256`/`p384` for keys, signing (RFC 6979 nonces hedged with the
//!   injected randomness) and verification. Public points must be uncompressed, on the curve
//!   and not the identity. `nistp521` is not supported.
//! - RSA: ring signs `rsa-sha2-256`/`rsa-sha2-512` (constant-time CRT) and verifies
//!   everything; ring cannot make SHA-1 PKCS#1 signatures, so legacy `ssh-rsa` signatures are
//!   made by the `rsa` crate (blinded with the injected randomness), which also generates
//!   keys. Moduli of [`MIN_RSA_BITS`] to [`MAX_RSA_BITS`] bits are accepted; signatures by
//!   keys over [`MAX_RSA_VERIFY_BITS`] cannot be verified, and only keys of
//!   [`RSA_SIGNING_BITS`] can sign with SHA-2 (ring's private key rules).
//! - OpenSSH private key files: one key per file; ciphers `none`, `aes{128,192,256}-ctr`,
//!   `aes{128,192,256}-cbc` (read only); KDF `bcrypt` with at most [`MAX_BCRYPT_ROUNDS`]
//!   rounds; files of at most [`MAX_PRIVATE_KEY_FILE_LEN`] bytes. Encrypted files are written
//!   as `ssh-keygen` does: `aes256-ctr`, `bcrypt`, [`DEFAULT_BCRYPT_ROUNDS`] rounds.
//!
//! Randomness is always injected: every function that needs it takes
//! `rng: &mut dyn rand_core::CryptoRng` ([`rand_core`] is re-exported).
//!
//! ```
//! use sshwire_keys::{KeyType, PrivateKey, PublicKey, SignatureAlgorithm};
//! // Any `rand_core::CryptoRng` will do; here, the operating system's generator.
//! let mut rng = sshwire_keys::rand_core::UnwrapErr(getrandom::SysRng);
//! let key = PrivateKey::generate(KeyType::Ed25519, None, &mut rng)?;
//! let public = key.public_key();
//!
//! // Public keys travel as blobs and as OpenSSH lines.
//! let line = public.to_openssh("alice@example");
//! let (parsed, comment) = PublicKey::from_openssh(&line)?;
//! assert_eq!((parsed.clone(), comment.as_str()), (public.clone(), "alice@example"));
//! assert_eq!(PublicKey::from_blob(&public.to_blob())?, public);
//! assert!(public.fingerprint_sha256().starts_with("SHA256:"));
//!
//! // Signatures are RFC 4253 §6.6 blobs.
//! let signature = key.sign(SignatureAlgorithm::Ed25519, b"data", &mut rng)?;
//! public.verify(SignatureAlgorithm::Ed25519, b"data", &signature)?;
//! assert!(public.verify(SignatureAlgorithm::Ed25519, b"other", &signature).is_err());
//!
//! // Private keys are stored in OpenSSH's format, optionally encrypted.
//! let file = key.to_openssh("alice@example", Some(b"secret"), &mut rng)?;
//! assert!(PrivateKey::openssh_is_encrypted(file.as_bytes())?);
//! let (loaded, _) = PrivateKey::from_openssh(file.as_bytes(), Some(b"secret"))?;
//! assert_eq!(loaded.public_key(), public);
//! # Ok::<(), sshwire_keys::KeyError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod algorithm;
pub mod authorized_keys;
mod ecdsa;
mod ed25519;
mod error;
mod fingerprint;
pub mod key_options;
pub mod known_hosts;
mod openssh_file;
mod pattern;
mod private;
mod public;
mod rsa;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use algorithm::{KeyType, SignatureAlgorithm};
pub use error::KeyError;
pub use openssh_file::{DEFAULT_BCRYPT_ROUNDS, MAX_BCRYPT_ROUNDS, MAX_PRIVATE_KEY_FILE_LEN};
pub use pattern::wildcard_match;
pub use private::PrivateKey;
pub use public::{MAX_PUBLIC_LINE_LEN, PublicKey, decode_signature_blob};
pub use rand_core;
pub use rsa::{
    DEFAULT_RSA_BITS, MAX_RSA_BITS, MAX_RSA_VERIFY_BITS, MIN_RSA_BITS, RSA_SIGNING_BITS,
};
pub use zeroize;
