//! Password files of `user:$argon2id$...` lines: verification for the server, hashing for
//! `sshwire passwd`.
//!
//! A line holds a user name, a colon and an argon2id hash in the PHC string format, e.g.
//! `alice:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$...`. Blank lines and lines
//! starting with `#` are ignored.

use core::fmt;

use argon2::{Algorithm, Argon2, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use subtle::ConstantTimeEq;

/// Most bytes in a password file.
pub const MAX_PASSWORD_FILE_LEN: usize = 1024 * 1024;
/// Largest argon2 memory cost accepted from a file, in KiB (256 MiB): a bigger one would let
/// one login attempt exhaust the server's memory.
pub const MAX_M_COST: u32 = 256 * 1024;
/// Largest argon2 time cost accepted from a file.
pub const MAX_T_COST: u32 = 16;
/// Largest argon2 parallelism accepted from a file (we compute on one thread anyway).
pub const MAX_P_COST: u32 = 16;

/// Why a password file or a hash was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordFileError {
    /// A line is malformed.
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The file is larger than [`MAX_PASSWORD_FILE_LEN`].
    TooLarge,
    /// Hashing failed (argon2 refused the parameters, or the random generator failed).
    Hashing,
}

impl fmt::Display for PasswordFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordFileError::Line { line, why } => write!(f, "password file line {line}: {why}"),
            PasswordFileError::TooLarge => f.write_str("password file too large"),
            PasswordFileError::Hashing => f.write_str("password hashing failed"),
        }
    }
}

impl std::error::Error for PasswordFileError {}

#[derive(Debug, Clone)]
struct Entry {
    user: String,
    hash: PasswordHash,
}

/// A parsed password file.
#[derive(Debug, Clone)]
pub struct PasswordFile {
    entries: Vec<Entry>,
    /// A hash with the parameters of the first entry (or the defaults), verified against
    /// for unknown users so that they cost the same time as known ones.
    dummy: PasswordHash,
}

/// Checks that `hash` is an argon2id PHC string with bounded costs.
fn check_hash(hash: &str) -> Result<PasswordHash, &'static str> {
    let parsed = PasswordHash::new(hash).map_err(|_| "not a PHC password hash string")?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err("only argon2id hashes are accepted");
    }
    let params = argon2::Params::try_from(&parsed).map_err(|_| "invalid argon2 parameters")?;
    if params.m_cost() > MAX_M_COST || params.t_cost() > MAX_T_COST || params.p_cost() > MAX_P_COST
    {
        return Err("argon2 costs beyond the accepted limits");
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("hash without salt or output");
    }
    Ok(parsed)
}

impl PasswordFile {
    /// Parses a password file; duplicate users, bad names and bad hashes are errors.
    ///
    /// User names may not be empty or hold `:`, whitespace or control characters.
    pub fn parse(text: &str) -> Result<PasswordFile, PasswordFileError> {
        if text.len() > MAX_PASSWORD_FILE_LEN {
            return Err(PasswordFileError::TooLarge);
        }
        let mut entries: Vec<Entry> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |why| PasswordFileError::Line { line, why };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (user, hash) = trimmed
                .split_once(':')
                .ok_or(err("no ':' after the user name"))?;
            if user.is_empty() || user.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(err("invalid user name"));
            }
            if entries.iter().any(|e| e.user == user) {
                return Err(err("user listed twice"));
            }
            let hash = check_hash(hash).map_err(err)?;
            entries.push(Entry {
                user: user.to_owned(),
                hash,
            });
        }
        let params = match entries.first() {
            Some(e) => argon2::Params::try_from(&e.hash).map_err(|_| PasswordFileError::Hashing)?,
            None => argon2::Params::default(),
        };
        // The dummy's password is irrelevant: unknown users are refused whatever it is.
        let dummy = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(b"sshwire-unknown-user", b"sshwire-dummy-salt")
            .map_err(|_| PasswordFileError::Hashing)?;
        Ok(PasswordFile { entries, dummy })
    }

    /// How many users the file lists.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file lists no user.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `password` is the password of `user`.
    ///
    /// An unknown user costs the same: every entry's name is compared in constant time, and
    /// a hash with the first entry's parameters is computed and compared anyway. The answer
    /// is `false` then, exactly as for a wrong password.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        let mut found: Option<&PasswordHash> = None;
        for e in &self.entries {
            let same =
                e.user.len() == user.len() && bool::from(e.user.as_bytes().ct_eq(user.as_bytes()));
            if same {
                found = Some(&e.hash);
            }
        }
        let hash = found.unwrap_or(&self.dummy);
        let ok = Argon2::default().verify_password(password, hash).is_ok();
        ok && found.is_some()
    }
}

/// Hashes `password` with argon2id and the default parameters (19 MiB, 2 passes, 1 lane,
/// the OWASP recommendation) and a 16-byte salt from `rng`; returns the PHC string.
pub fn hash_password(
    password: &[u8],
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<String, PasswordFileError> {
    hash_password_with(password, argon2::Params::default(), rng)
}

/// Hashes `password` with argon2id and the given parameters; returns the PHC string.
pub fn hash_password_with(
    password: &[u8],
    params: argon2::Params,
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<String, PasswordFileError> {
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(password, &salt)
        .map_err(|_| PasswordFileError::Hashing)?;
    Ok(hash.to_string())
}

/// A password file line for `user` with the hash of `password`, without a newline.
pub fn password_file_line(
    user: &str,
    password: &[u8],
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<String, PasswordFileError> {
    Ok(format!("{user}:{}", hash_password(password, rng)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::TestRng;

    fn cheap() -> argon2::Params {
        argon2::Params::new(64, 1, 1, None).unwrap()
    }

    #[test]
    fn hash_then_verify() {
        let mut rng = TestRng(1);
        let alice = hash_password_with(b"correct horse", cheap(), &mut rng).unwrap();
        let bob = hash_password_with(b"battery staple", cheap(), &mut rng).unwrap();
        assert!(alice.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let file =
            PasswordFile::parse(&format!("# users\n\nalice:{alice}\n  bob:{bob}  \n")).unwrap();
        assert_eq!(file.len(), 2);
        assert!(file.verify("alice", b"correct horse"));
        assert!(file.verify("bob", b"battery staple"));
        assert!(!file.verify("alice", b"battery staple"));
        assert!(!file.verify("carol", b"correct horse"));
        assert!(!file.verify("carol", b"sshwire-unknown-user"));
        assert!(!file.verify("", b""));
    }

    #[test]
    fn default_parameters_hash() {
        let line = password_file_line("alice", b"pw", &mut TestRng(2)).unwrap();
        let file = PasswordFile::parse(&line).unwrap();
        assert!(file.verify("alice", b"pw"));
    }

    #[test]
    fn bad_files_are_refused() {
        let mut rng = TestRng(3);
        let h = hash_password_with(b"x", cheap(), &mut rng).unwrap();
        let bad = [
            "alice".to_owned(),
            format!(":{h}"),
            format!("al ice:{h}"),
            format!("alice:{h}\nalice:{h}"),
            "alice:$2b$10$abcdefghijklmnopqrstuu".to_owned(),
            "alice:$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
            "alice:$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
            "alice:$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ".to_owned(),
        ];
        for text in bad {
            assert!(PasswordFile::parse(&text).is_err(), "{text}");
        }
        assert!(PasswordFile::parse("").unwrap().is_empty());
    }
}
