//! Public keys: blobs, OpenSSH lines, fingerprints and signature verification.

use base64ct::{Base64, Encoding};
use sshwire_wire::{Reader, Writer};

use crate::ecdsa::{Curve, EcdsaPublic};
use crate::ed25519::Ed25519Public;
use crate::rsa::RsaPublic;
use crate::{KeyError, KeyType, SignatureAlgorithm, fingerprint};

/// Longest OpenSSH public key line accepted, in bytes.
///
/// A 16384-bit RSA key (the largest accepted) takes about 2.8 KB of base64.
pub const MAX_PUBLIC_LINE_LEN: usize = 16 * 1024;

/// An SSH public key of a supported type, validated when decoded.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PublicKey {
    inner: PublicInner,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum PublicInner {
    Ed25519(Ed25519Public),
    Ecdsa(EcdsaPublic),
    Rsa(RsaPublic),
}

/// A printable, bounded rendering of a name taken from untrusted input.
pub(crate) fn describe_name(name: &[u8]) -> String {
    let shown = name.get(..64).unwrap_or(name);
    format!("{:?}", String::from_utf8_lossy(shown))
}

/// Splits an RFC 4253 §6.6 signature blob into its algorithm name and signature bytes.
///
/// RFC 4253 §6.6: "Signatures are encoded as follows: `string signature format identifier`,
/// `string signature blob`". Trailing data after the blob is refused.
pub fn decode_signature_blob(blob: &[u8]) -> Result<(&str, &[u8]), KeyError> {
    let mut r = Reader::new(blob);
    let name = r.utf8()?;
    let signature = r.string()?;
    r.finish()?;
    Ok((name, signature))
}

/// Builds an RFC 4253 §6.6 signature blob.
pub(crate) fn encode_signature_blob(alg: SignatureAlgorithm, signature: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(alg.name().as_bytes()).string(signature);
    w.into_vec()
}

impl PublicKey {
    pub(crate) fn from_inner(inner: PublicInner) -> Self {
        PublicKey { inner }
    }

    /// Decodes the key type name and the rest of a key blob from `r`.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, KeyError> {
        let name = r.string()?;
        let kind = core::str::from_utf8(name)
            .ok()
            .and_then(KeyType::from_name)
            .ok_or_else(|| KeyError::Unsupported(format!("key type {}", describe_name(name))))?;
        Self::decode_body(kind, r)
    }

    /// Decodes the fields of a key blob of type `kind` that follow the name.
    pub(crate) fn decode_body(kind: KeyType, r: &mut Reader<'_>) -> Result<Self, KeyError> {
        let inner = match kind {
            KeyType::Ed25519 => PublicInner::Ed25519(Ed25519Public::decode_body(r)?),
            KeyType::EcdsaP256 => PublicInner::Ecdsa(EcdsaPublic::decode_body(Curve::P256, r)?),
            KeyType::EcdsaP384 => PublicInner::Ecdsa(EcdsaPublic::decode_body(Curve::P384, r)?),
            KeyType::Rsa => PublicInner::Rsa(RsaPublic::decode_body(r)?),
        };
        Ok(PublicKey { inner })
    }

    /// Decodes and validates a public key blob.
    ///
    /// The blob is RFC 4253 §6.6 `string name` followed by the type's fields: RFC 8709 §4
    /// for Ed25519, RFC 5656 §3.1 for ECDSA, RFC 4253 §6.6 for RSA. Ed25519 and ECDSA points
    /// must lie on their curve (and not be the identity); RSA moduli must be odd and between
    /// [`MIN_RSA_BITS`](crate::MIN_RSA_BITS) and [`MAX_RSA_BITS`](crate::MAX_RSA_BITS) bits,
    /// with an odd exponent of at most 33 bits. Trailing data is refused.
    pub fn from_blob(blob: &[u8]) -> Result<PublicKey, KeyError> {
        let mut r = Reader::new(blob);
        let key = Self::decode(&mut r)?;
        r.finish()?;
        Ok(key)
    }

    /// Appends the key blob to `w`.
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.string(self.key_type().name().as_bytes());
        match &self.inner {
            PublicInner::Ed25519(k) => k.encode_body(w),
            PublicInner::Ecdsa(k) => k.encode_body(w),
            PublicInner::Rsa(k) => k.encode_body(w),
        }
    }

    /// The key blob (RFC 4253 §6.6).
    pub fn to_blob(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_vec()
    }

    /// The type of the key.
    pub fn key_type(&self) -> KeyType {
        match &self.inner {
            PublicInner::Ed25519(_) => KeyType::Ed25519,
            PublicInner::Ecdsa(k) => k.curve().key_type(),
            PublicInner::Rsa(_) => KeyType::Rsa,
        }
    }

    /// Size of the key in bits, as `ssh-keygen -l` prints it.
    pub fn bits(&self) -> usize {
        match &self.inner {
            PublicInner::Ed25519(_) => 256,
            PublicInner::Ecdsa(k) => k.curve().field_len() * 8,
            PublicInner::Rsa(k) => k.bits(),
        }
    }

    /// The SHA-256 fingerprint, exactly as `ssh-keygen -l` prints it: `SHA256:` and the
    /// unpadded base64 of the digest of the key blob.
    pub fn fingerprint_sha256(&self) -> String {
        fingerprint::sha256(&self.to_blob())
    }

    /// Parses an OpenSSH public key line: `type base64-blob [comment]`.
    ///
    /// This is the format of `.pub` files and of `authorized_keys` lines without options
    /// (sshd(8) AUTHORIZED_KEYS FILE FORMAT). The type name must match the blob. Returns the
    /// key and the comment (empty if there is none).
    pub fn from_openssh(line: &str) -> Result<(PublicKey, String), KeyError> {
        if line.len() > MAX_PUBLIC_LINE_LEN {
            return Err(KeyError::Malformed("public key line is too long"));
        }
        let line = line.trim();
        let (name, rest) =
            line.split_once(|c: char| c.is_ascii_whitespace())
                .ok_or(KeyError::Malformed(
                    "public key line has no key after its type",
                ))?;
        let rest = rest.trim_start();
        let (encoded, comment) = match rest.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((encoded, comment)) => (encoded, comment.trim()),
            None => (rest, ""),
        };
        let blob = Base64::decode_vec(encoded)
            .map_err(|_| KeyError::Malformed("public key is not valid base64"))?;
        let key = PublicKey::from_blob(&blob)?;
        if key.key_type().name() != name {
            return Err(KeyError::Malformed(
                "key type in the line does not match the key blob",
            ));
        }
        Ok((key, comment.to_owned()))
    }

    /// The OpenSSH public key line `type base64-blob comment`, without a newline.
    ///
    /// The comment is omitted when empty. Line breaks in the comment are replaced by spaces
    /// so that the result stays one line.
    pub fn to_openssh(&self, comment: &str) -> String {
        let mut line = format!(
            "{} {}",
            self.key_type().name(),
            Base64::encode_string(&self.to_blob())
        );
        if !comment.is_empty() {
            line.push(' ');
            line.extend(
                comment
                    .chars()
                    .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
            );
        }
        line
    }

    /// The signature algorithms this key can verify, in preference order.
    ///
    /// RSA keys offer `rsa-sha2-512` and `rsa-sha2-256` (RFC 8332); SHA-1 `ssh-rsa` is left
    /// out and must be asked for by name.
    pub fn signature_algorithms(&self) -> &'static [SignatureAlgorithm] {
        match self.key_type() {
            KeyType::Ed25519 => &[SignatureAlgorithm::Ed25519],
            KeyType::EcdsaP256 => &[SignatureAlgorithm::EcdsaP256],
            KeyType::EcdsaP384 => &[SignatureAlgorithm::EcdsaP384],
            KeyType::Rsa => &[SignatureAlgorithm::RsaSha512, SignatureAlgorithm::RsaSha256],
        }
    }

    /// Verifies an RFC 4253 §6.6 signature blob over `data` with algorithm `alg`.
    ///
    /// The algorithm must fit the key and the blob must name the same algorithm, else
    /// [`KeyError::AlgorithmMismatch`]; a signature that does not verify is
    /// [`KeyError::BadSignature`].
    pub fn verify(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        signature_blob: &[u8],
    ) -> Result<(), KeyError> {
        if alg.key_type() != self.key_type() {
            return Err(KeyError::AlgorithmMismatch);
        }
        let (name, signature) = decode_signature_blob(signature_blob)?;
        // RFC 8332 §3 and RFC 4253 §6.6: the signature format identifier is the algorithm's
        // name; a blob made by another algorithm (e.g. "rsa-sha2-256" when "rsa-sha2-512"
        // was negotiated) is refused.
        if name != alg.name() {
            return Err(KeyError::AlgorithmMismatch);
        }
        match &self.inner {
            PublicInner::Ed25519(k) => k.verify(data, signature),
            PublicInner::Ecdsa(k) => k.verify(data, signature),
            PublicInner::Rsa(k) => k.verify(alg, data, signature),
        }
    }

    /// The raw public key: the Ed25519 key, the SEC1 point, or the RSA modulus.
    pub fn raw_public_bytes(&self) -> &[u8] {
        match &self.inner {
            PublicInner::Ed25519(k) => k.as_bytes(),
            PublicInner::Ecdsa(k) => k.point(),
            PublicInner::Rsa(k) => k.n(),
        }
    }

    /// The RSA public exponent, for RSA keys.
    pub fn rsa_exponent(&self) -> Option<&[u8]> {
        match &self.inner {
            PublicInner::Rsa(k) => Some(k.e()),
            _ => None,
        }
    }
}

impl core::fmt::Display for PublicKey {
    /// `type fingerprint`, e.g. `ssh-ed25519 SHA256:...`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {}", self.key_type(), self.fingerprint_sha256())
    }
}
