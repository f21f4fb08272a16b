//! Private keys: generation, signing, and the key fields of OpenSSH private key files.

use core::fmt;

use sshwire_wire::{Reader, Writer};
use zeroize::Zeroizing;

use crate::ecdsa::{Curve, EcdsaPrivate};
use crate::ed25519::Ed25519Private;
use crate::public::{PublicInner, describe_name, encode_signature_blob};
use crate::rsa::{DEFAULT_RSA_BITS, RsaPrivate};
use crate::{KeyError, KeyType, PublicKey, SignatureAlgorithm, openssh_file};

/// A private key of a supported type.
///
/// Every secret it holds is zeroized when it is dropped (`ed25519-dalek` and RustCrypto's
/// ECDSA keys zeroize themselves; RSA components are kept in [`Zeroizing`] buffers), and its
/// `Debug` output shows only the type and the public fingerprint.
#[derive(Clone)]
pub struct PrivateKey {
    inner: PrivateInner,
}

#[derive(Clone)]
enum PrivateInner {
    Ed25519(Ed25519Private),
    Ecdsa(EcdsaPrivate),
    Rsa(RsaPrivate),
}

impl zeroize::ZeroizeOnDrop for PrivateKey {}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("type", &self.key_type().name())
            .field("public", &self.public_key().fingerprint_sha256())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a new key.
    ///
    /// `bits` is optional: RSA defaults to 3072 bits and accepts 2048, 3072 or 4096 (the
    /// sizes ring can sign with); for ECDSA, `bits` selects the curve as `ssh-keygen -b` does
    /// (256 or 384; 521 is unsupported), and `None` keeps the curve of `kind`; Ed25519
    /// accepts `None` or 256.
    pub fn generate(
        kind: KeyType,
        bits: Option<u32>,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<PrivateKey, KeyError> {
        let inner = match kind {
            KeyType::Ed25519 => match bits {
                None | Some(256) => PrivateInner::Ed25519(Ed25519Private::generate(rng)),
                Some(b) => {
                    return Err(KeyError::Unsupported(format!("Ed25519 keys of {b} bits")));
                }
            },
            KeyType::EcdsaP256 | KeyType::EcdsaP384 => {
                let curve = match (kind, bits) {
                    (KeyType::EcdsaP256, None) | (_, Some(256)) => Curve::P256,
                    (_, None) | (_, Some(384)) => Curve::P384,
                    (_, Some(b)) => {
                        return Err(KeyError::Unsupported(format!(
                            "ECDSA keys of {b} bits (256 or 384 are supported)"
                        )));
                    }
                };
                PrivateInner::Ecdsa(EcdsaPrivate::generate(curve, rng)?)
            }
            KeyType::Rsa => {
                PrivateInner::Rsa(RsaPrivate::generate(bits.unwrap_or(DEFAULT_RSA_BITS), rng)?)
            }
        };
        Ok(PrivateKey { inner })
    }

    /// The Ed25519 key with this RFC 8032 §5.1.5 32-byte private key (seed).
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> PrivateKey {
        PrivateKey {
            inner: PrivateInner::Ed25519(Ed25519Private::from_seed(seed)),
        }
    }

    /// The public half of the key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_inner(match &self.inner {
            PrivateInner::Ed25519(k) => PublicInner::Ed25519(k.public()),
            PrivateInner::Ecdsa(k) => PublicInner::Ecdsa(k.public()),
            PrivateInner::Rsa(k) => PublicInner::Rsa(k.public().clone()),
        })
    }

    /// The type of the key.
    pub fn key_type(&self) -> KeyType {
        match &self.inner {
            PrivateInner::Ed25519(_) => KeyType::Ed25519,
            PrivateInner::Ecdsa(k) => k.curve().key_type(),
            PrivateInner::Rsa(_) => KeyType::Rsa,
        }
    }

    /// Signs `data` with `alg` and returns the RFC 4253 §6.6 signature blob.
    ///
    /// `alg` must fit the key, else [`KeyError::AlgorithmMismatch`]. SHA-1 `ssh-rsa` is
    /// used only when asked for here by name. `rng` hedges ECDSA nonces (RFC 6979 with added
    /// randomness); Ed25519 and RSA PKCS#1 v1.5 signatures are deterministic and ignore it.
    pub fn sign(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<Vec<u8>, KeyError> {
        if alg.key_type() != self.key_type() {
            return Err(KeyError::AlgorithmMismatch);
        }
        let signature = match &self.inner {
            PrivateInner::Ed25519(k) => k.sign(data).to_vec(),
            PrivateInner::Ecdsa(k) => k.sign(data, rng)?,
            PrivateInner::Rsa(k) => k.sign(alg, data, rng)?,
        };
        Ok(encode_signature_blob(alg, &signature))
    }

    /// Decodes an OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    ///
    /// Files may be unencrypted or encrypted with `bcrypt` and `aes128/192/256-ctr` or
    /// `aes128/192/256-cbc`. Returns the key and its comment. An encrypted file without a
    /// passphrase is [`KeyError::PassphraseRequired`]; a passphrase that does not decrypt it
    /// is [`KeyError::WrongPassphrase`]. A passphrase given for an unencrypted file is
    /// ignored, as `ssh-keygen` does.
    pub fn from_openssh(
        text: &[u8],
        passphrase: Option<&[u8]>,
    ) -> Result<(PrivateKey, String), KeyError> {
        openssh_file::decode(text, passphrase)
    }

    /// Encodes the key as an OpenSSH private key file.
    ///
    /// With a non-empty passphrase the file is encrypted like `ssh-keygen` does: `aes256-ctr`
    /// with a key from `bcrypt` (16-byte salt, 16 rounds). Without one (or with an empty one)
    /// it is not encrypted. `rng` supplies the check integers and the salt. Base64 lines are
    /// 70 characters long.
    pub fn to_openssh(
        &self,
        comment: &str,
        passphrase: Option<&[u8]>,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<Zeroizing<String>, KeyError> {
        openssh_file::encode(self, comment, passphrase, rng)
    }

    /// The public key an OpenSSH private key file holds in the clear.
    ///
    /// PROTOCOL.key stores the public keys outside the (possibly encrypted) private section,
    /// so a client can offer a key to a server before asking for its passphrase. The file's
    /// private section is not checked: [`PrivateKey::from_openssh`] does that when it is used.
    pub fn openssh_public_key(text: &[u8]) -> Result<PublicKey, KeyError> {
        openssh_file::public_key(text)
    }

    /// Whether an OpenSSH private key file is encrypted (its cipher is not `none`).
    pub fn openssh_is_encrypted(text: &[u8]) -> Result<bool, KeyError> {
        openssh_file::is_encrypted(text)
    }

    /// Decodes the key fields of an OpenSSH private section, starting with the type name.
    ///
    /// OpenSSH `sshkey_private_serialize` (PROTOCOL.key: "the format of each private key is
    /// the same as the ssh-agent protocol", draft-miller-ssh-agent §4.2.3 to §4.2.5):
    ///
    /// - `ssh-ed25519`: `string ENC(A)`, `string k || ENC(A)`
    /// - `ecdsa-sha2-*`: `string curve`, `string Q`, `mpint d`
    /// - `ssh-rsa`: `mpint n`, `mpint e`, `mpint d`, `mpint iqmp`, `mpint p`, `mpint q`
    pub(crate) fn decode_fields(r: &mut Reader<'_>) -> Result<PrivateKey, KeyError> {
        let name = r.string()?;
        let kind = core::str::from_utf8(name)
            .ok()
            .and_then(KeyType::from_name)
            .ok_or_else(|| KeyError::Unsupported(format!("key type {}", describe_name(name))))?;
        let inner = match kind {
            KeyType::Ed25519 => {
                let public = r.string()?;
                let keypair = r.string()?;
                PrivateInner::Ed25519(Ed25519Private::from_openssh_fields(public, keypair)?)
            }
            KeyType::EcdsaP256 | KeyType::EcdsaP384 => {
                let curve = if kind == KeyType::EcdsaP256 {
                    Curve::P256
                } else {
                    Curve::P384
                };
                let public = crate::ecdsa::EcdsaPublic::decode_body(curve, r)?;
                let d = r.mpint_unsigned()?;
                let key = EcdsaPrivate::from_scalar(curve, d)?;
                // OpenSSH sshkey.c checks that the stored point is d·G.
                if key.public() != public {
                    return Err(KeyError::InvalidKey(
                        "ECDSA private key does not match its public key",
                    ));
                }
                PrivateInner::Ecdsa(key)
            }
            KeyType::Rsa => {
                let n = r.mpint_unsigned()?;
                let e = r.mpint_unsigned()?;
                let d = r.mpint_unsigned()?;
                let iqmp = r.mpint_unsigned()?;
                let p = r.mpint_unsigned()?;
                let q = r.mpint_unsigned()?;
                PrivateInner::Rsa(RsaPrivate::from_components(n, e, d, iqmp, p, q)?)
            }
        };
        Ok(PrivateKey { inner })
    }

    /// Appends the key fields of an OpenSSH private section; the inverse of `decode_fields`.
    pub(crate) fn encode_fields(&self, w: &mut Writer) {
        w.string(self.key_type().name().as_bytes());
        match &self.inner {
            PrivateInner::Ed25519(k) => {
                w.string(k.public().as_bytes())
                    .string(k.keypair_bytes().as_slice());
            }
            PrivateInner::Ecdsa(k) => {
                k.public().encode_body(w);
                w.mpint_unsigned(&k.scalar());
            }
            PrivateInner::Rsa(k) => {
                let public = k.public();
                w.mpint_unsigned(public.n())
                    .mpint_unsigned(public.e())
                    .mpint_unsigned(k.d())
                    .mpint_unsigned(k.iqmp())
                    .mpint_unsigned(k.p())
                    .mpint_unsigned(k.q());
            }
        }
    }

    /// An upper bound on the size of the encoded key fields, to size buffers up front so
    /// that secrets are never left behind by a reallocation.
    pub(crate) fn fields_len_bound(&self) -> usize {
        match &self.inner {
            PrivateInner::Ed25519(_) => 256,
            PrivateInner::Ecdsa(_) => 512,
            PrivateInner::Rsa(k) => 256 + 6 * (k.public().n().len() + 8),
        }
    }
}
