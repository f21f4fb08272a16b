//! Key types and signature algorithms, with their SSH names.

use core::fmt;

/// The kind of a key, named as in its public key blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Ed25519 (RFC 8709).
    Ed25519,
    /// ECDSA over NIST P-256 (RFC 5656).
    EcdsaP256,
    /// ECDSA over NIST P-384 (RFC 5656).
    EcdsaP384,
    /// RSA (RFC 4253 §6.6, RFC 8332).
    Rsa,
}

impl KeyType {
    /// Every key type, in preference order.
    pub const ALL: [KeyType; 4] = [
        KeyType::Ed25519,
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa,
    ];

    /// The name used in public key blobs and OpenSSH files.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ssh-ed25519",
            KeyType::EcdsaP256 => "ecdsa-sha2-nistp256",
            KeyType::EcdsaP384 => "ecdsa-sha2-nistp384",
            KeyType::Rsa => "ssh-rsa",
        }
    }

    /// The key type with this blob name.
    pub fn from_name(name: &str) -> Option<KeyType> {
        KeyType::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A public key signature algorithm, named as in `SSH_MSG_KEXINIT` and signature blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// `ssh-ed25519` (RFC 8709 §6).
    Ed25519,
    /// `ecdsa-sha2-nistp256` (RFC 5656 §3.1.2, SHA-256).
    EcdsaP256,
    /// `ecdsa-sha2-nistp384` (RFC 5656 §3.1.2, SHA-384).
    EcdsaP384,
    /// `rsa-sha2-256` (RFC 8332 §3).
    RsaSha256,
    /// `rsa-sha2-512` (RFC 8332 §3).
    RsaSha512,
    /// `ssh-rsa` with SHA-1 (RFC 4253 §6.6). Weak: only used when asked for by name.
    RsaSha1,
}

impl SignatureAlgorithm {
    /// Every signature algorithm.
    pub const ALL: [SignatureAlgorithm; 6] = [
        SignatureAlgorithm::Ed25519,
        SignatureAlgorithm::EcdsaP256,
        SignatureAlgorithm::EcdsaP384,
        SignatureAlgorithm::RsaSha512,
        SignatureAlgorithm::RsaSha256,
        SignatureAlgorithm::RsaSha1,
    ];

    /// The SSH name of the algorithm.
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::Ed25519 => "ssh-ed25519",
            SignatureAlgorithm::EcdsaP256 => "ecdsa-sha2-nistp256",
            SignatureAlgorithm::EcdsaP384 => "ecdsa-sha2-nistp384",
            SignatureAlgorithm::RsaSha256 => "rsa-sha2-256",
            SignatureAlgorithm::RsaSha512 => "rsa-sha2-512",
            SignatureAlgorithm::RsaSha1 => "ssh-rsa",
        }
    }

    /// The algorithm with this SSH name.
    pub fn from_name(name: &str) -> Option<SignatureAlgorithm> {
        SignatureAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// The type of key that makes signatures of this algorithm.
    pub fn key_type(self) -> KeyType {
        match self {
            SignatureAlgorithm::Ed25519 => KeyType::Ed25519,
            SignatureAlgorithm::EcdsaP256 => KeyType::EcdsaP256,
            SignatureAlgorithm::EcdsaP384 => KeyType::EcdsaP384,
            SignatureAlgorithm::RsaSha256
            | SignatureAlgorithm::RsaSha512
            | SignatureAlgorithm::RsaSha1 => KeyType::Rsa,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in KeyType::ALL {
            assert_eq!(KeyType::from_name(k.name()), Some(k));
        }
        for a in SignatureAlgorithm::ALL {
            assert_eq!(SignatureAlgorithm::from_name(a.name()), Some(a));
        }
        assert_eq!(SignatureAlgorithm::from_name("ssh-dss"), None);
        assert_eq!(
            SignatureAlgorithm::RsaSha1.key_type(),
            SignatureAlgorithm::RsaSha512.key_type()
        );
    }
}
