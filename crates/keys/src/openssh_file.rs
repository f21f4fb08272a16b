//! The OpenSSH private key file format, `openssh-key-v1` (OpenSSH PROTOCOL.key).
//!
//! ```text
//! -----BEGIN OPENSSH PRIVATE KEY-----
//! base64 of:
//!   byte[]  "openssh-key-v1\0"
//!   string  ciphername
//!   string  kdfname
//!   string  kdfoptions            (bcrypt: string salt, uint32 rounds)
//!   uint32  number of keys N      (sshwire: exactly 1)
//!   string  publickey1
//!   string  encrypted private section:
//!             uint32 checkint, uint32 checkint, key fields, string comment, padding 1, 2, 3...
//! -----END OPENSSH PRIVATE KEY-----
//! ```

use aes::cipher::{BlockCipherDecrypt, KeyInit};
use base64ct::{Base64, Encoding};
use ctr::cipher::{KeyIvInit, StreamCipher};
use sshwire_wire::{Reader, Writer};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::public::describe_name;
use crate::{KeyError, PrivateKey, PublicKey};

/// PROTOCOL.key: `#define AUTH_MAGIC "openssh-key-v1"`, written with its terminating NUL.
const AUTH_MAGIC: &[u8] = b"openssh-key-v1\0";
const BEGIN: &[u8] = b"-----BEGIN OPENSSH PRIVATE KEY-----";
const END: &[u8] = b"-----END OPENSSH PRIVATE KEY-----";
/// OpenSSH wraps the base64 body at 70 columns.
const LINE_LEN: usize = 70;

/// Longest private key file accepted, in bytes; a 16384-bit RSA key takes about 13 KB.
pub const MAX_PRIVATE_KEY_FILE_LEN: usize = 256 * 1024;
/// Most bcrypt rounds accepted when reading a file.
///
/// Each round costs about as much as `ssh-keygen -a 1`; `ssh-keygen` writes 16 by default
/// and 100 is a common hardened choice. 1024 bounds the work an untrusted file can demand
/// to some seconds while leaving room for those settings.
pub const MAX_BCRYPT_ROUNDS: u32 = 1024;
/// Rounds used when writing an encrypted file (`ssh-keygen`'s default).
pub const DEFAULT_BCRYPT_ROUNDS: u32 = 16;
/// Length of the bcrypt salt written, 16 bytes as `ssh-keygen` writes.
const SALT_LEN: usize = 16;
/// Longest bcrypt salt accepted when reading.
const MAX_SALT_LEN: usize = 1024;
/// Longest cipher or KDF name accepted.
const MAX_NAME_LEN: usize = 64;

/// A cipher that may protect the private section.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cipher {
    None,
    AesCtr(AesKeyLen),
    AesCbc(AesKeyLen),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum AesKeyLen {
    K128,
    K192,
    K256,
}

impl AesKeyLen {
    fn bytes(self) -> usize {
        match self {
            AesKeyLen::K128 => 16,
            AesKeyLen::K192 => 24,
            AesKeyLen::K256 => 32,
        }
    }
}

impl Cipher {
    fn from_name(name: &str) -> Option<Cipher> {
        Some(match name {
            "none" => Cipher::None,
            "aes128-ctr" => Cipher::AesCtr(AesKeyLen::K128),
            "aes192-ctr" => Cipher::AesCtr(AesKeyLen::K192),
            "aes256-ctr" => Cipher::AesCtr(AesKeyLen::K256),
            "aes128-cbc" => Cipher::AesCbc(AesKeyLen::K128),
            "aes192-cbc" => Cipher::AesCbc(AesKeyLen::K192),
            "aes256-cbc" => Cipher::AesCbc(AesKeyLen::K256),
            _ => return None,
        })
    }

    /// PROTOCOL.key pads the private section to the cipher's block size, 8 for `none`.
    fn block_size(self) -> usize {
        match self {
            Cipher::None => 8,
            Cipher::AesCtr(_) | Cipher::AesCbc(_) => 16,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Cipher::None => 0,
            Cipher::AesCtr(k) | Cipher::AesCbc(k) => k.bytes(),
        }
    }

    fn iv_len(self) -> usize {
        match self {
            Cipher::None => 0,
            Cipher::AesCtr(_) | Cipher::AesCbc(_) => 16,
        }
    }

    /// Encrypts (CTR only, the one cipher sshwire writes) or decrypts `buf` in place.
    fn apply(self, key_iv: &[u8], buf: &mut [u8], decrypt: bool) -> Result<(), KeyError> {
        let (key, iv) = key_iv
            .split_at_checked(self.key_len())
            .ok_or(KeyError::Malformed("derived key too short"))?;
        let bad_key = |_| KeyError::Malformed("cipher key or IV of the wrong length");
        match self {
            Cipher::None => Ok(()),
            Cipher::AesCtr(AesKeyLen::K128) => {
                ctr::Ctr128BE::<aes::Aes128>::new_from_slices(key, iv)
                    .map_err(bad_key)?
                    .apply_keystream(buf);
                Ok(())
            }
            Cipher::AesCtr(AesKeyLen::K192) => {
                ctr::Ctr128BE::<aes::Aes192>::new_from_slices(key, iv)
                    .map_err(bad_key)?
                    .apply_keystream(buf);
                Ok(())
            }
            Cipher::AesCtr(AesKeyLen::K256) => {
                ctr::Ctr128BE::<aes::Aes256>::new_from_slices(key, iv)
                    .map_err(bad_key)?
                    .apply_keystream(buf);
                Ok(())
            }
            Cipher::AesCbc(k) => {
                if !decrypt {
                    return Err(KeyError::Unsupported("writing aes-cbc key files".into()));
                }
                match k {
                    AesKeyLen::K128 => {
                        cbc_decrypt(&aes::Aes128::new_from_slice(key).map_err(bad_key)?, iv, buf)
                    }
                    AesKeyLen::K192 => {
                        cbc_decrypt(&aes::Aes192::new_from_slice(key).map_err(bad_key)?, iv, buf)
                    }
                    AesKeyLen::K256 => {
                        cbc_decrypt(&aes::Aes256::new_from_slice(key).map_err(bad_key)?, iv, buf)
                    }
                }
            }
        }
    }
}

/// CBC decryption (NIST SP 800-38A §6.2): `P_i = D(C_i) XOR C_{i-1}`, `C_0 = IV`.
fn cbc_decrypt<C>(cipher: &C, iv: &[u8], buf: &mut [u8]) -> Result<(), KeyError>
where
    C: BlockCipherDecrypt,
{
    let mut previous: [u8; 16] = iv
        .try_into()
        .map_err(|_| KeyError::Malformed("cipher IV of the wrong length"))?;
    let mut chunks = buf.chunks_exact_mut(16);
    for chunk in &mut chunks {
        let saved: [u8; 16] = (&*chunk)
            .try_into()
            .map_err(|_| KeyError::Malformed("partial cipher block"))?;
        let block = aes::cipher::Block::<C>::try_from(&*chunk)
            .map_err(|_| KeyError::Malformed("cipher block size is not 16"))?;
        let mut block = Zeroizing::new(block);
        cipher.decrypt_block(&mut block);
        for ((out, plain), prev) in chunk.iter_mut().zip(block.iter()).zip(previous.iter()) {
            *out = plain ^ prev;
        }
        previous = saved;
    }
    if chunks.into_remainder().is_empty() {
        Ok(())
    } else {
        Err(KeyError::Malformed("partial cipher block"))
    }
}

/// Removes the PEM-style armor and decodes the base64 body.
pub(crate) fn dearmor(text: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if text.len() > MAX_PRIVATE_KEY_FILE_LEN {
        return Err(KeyError::Malformed("private key file is too long"));
    }
    let mut lines = text.split(|&b| b == b'\n').map(<[u8]>::trim_ascii);
    let first = lines.by_ref().find(|l| !l.is_empty());
    if first != Some(BEGIN) {
        return Err(KeyError::Malformed(
            "not an OpenSSH private key (no BEGIN OPENSSH PRIVATE KEY line)",
        ));
    }
    let mut body = Zeroizing::new(Vec::with_capacity(text.len()));
    let mut ended = false;
    for line in lines.by_ref() {
        if line == END {
            ended = true;
            break;
        }
        body.extend_from_slice(line);
    }
    if !ended {
        return Err(KeyError::Malformed("no END OPENSSH PRIVATE KEY line"));
    }
    if lines.any(|l| !l.is_empty()) {
        return Err(KeyError::Malformed("data after the END line"));
    }
    let mut binary = Zeroizing::new(vec![0u8; body.len() / 4 * 3 + 3]);
    let len = Base64::decode(body.as_slice(), &mut binary)
        .map_err(|_| KeyError::Malformed("private key body is not valid base64"))?
        .len();
    binary.truncate(len);
    Ok(binary)
}

/// The fields of the outer, unencrypted part of a key file.
struct Container<'a> {
    cipher: Cipher,
    kdf_options: &'a [u8],
    public: &'a [u8],
    private: &'a [u8],
}

/// Reads the magic and the cipher name.
fn read_header<'a>(r: &mut Reader<'a>) -> Result<&'a str, KeyError> {
    let magic = r.bytes(AUTH_MAGIC.len())?;
    if magic != AUTH_MAGIC {
        return Err(KeyError::Malformed("not an openssh-key-v1 file"));
    }
    core::str::from_utf8(r.string_limited("cipher name", MAX_NAME_LEN)?)
        .map_err(|_| KeyError::Malformed("cipher name is not UTF-8"))
}

fn parse_container(binary: &[u8]) -> Result<Container<'_>, KeyError> {
    let mut r = Reader::new(binary);
    let cipher_name = read_header(&mut r)?;
    let kdf_name = r.string_limited("KDF name", MAX_NAME_LEN)?;
    let kdf_options = r.string()?;
    // sshwire reads one key per file, as every OpenSSH tool writes.
    let count = r.u32()?;
    if count != 1 {
        return Err(KeyError::Malformed("key file must hold exactly one key"));
    }
    let public = r.string()?;
    let private = r.string()?;
    let cipher = Cipher::from_name(cipher_name).ok_or_else(|| {
        KeyError::Unsupported(format!(
            "key file cipher {}",
            describe_name(cipher_name.as_bytes())
        ))
    })?;
    // AEAD ciphers would be followed by a tag; none is supported, so nothing may follow.
    r.finish()?;
    match (cipher, kdf_name) {
        // PROTOCOL.key: "If no encryption is used, cipher name is 'none', KDF is 'none' [...]
        // kdfoptions is empty".
        (Cipher::None, b"none") => {
            if !kdf_options.is_empty() {
                return Err(KeyError::Malformed("KDF options present without a KDF"));
            }
        }
        (Cipher::None, _) | (_, b"none") => {
            return Err(KeyError::Malformed(
                "cipher and KDF must both be none or both be set",
            ));
        }
        (_, b"bcrypt") => {}
        (_, other) => {
            return Err(KeyError::Unsupported(format!(
                "key file KDF {}",
                describe_name(other)
            )));
        }
    }
    Ok(Container {
        cipher,
        kdf_options,
        public,
        private,
    })
}

/// Derives the cipher key and IV with bcrypt_pbkdf from the `kdfoptions` of a file.
fn derive_key(
    cipher: Cipher,
    kdf_options: &[u8],
    passphrase: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    // PROTOCOL.key: bcrypt kdfoptions are `string salt`, `uint32 rounds`.
    let mut r = Reader::new(kdf_options);
    let salt = r.string_limited("bcrypt salt", MAX_SALT_LEN)?;
    let rounds = r.u32()?;
    r.finish()?;
    if salt.is_empty() {
        return Err(KeyError::Malformed("empty bcrypt salt"));
    }
    if rounds == 0 {
        return Err(KeyError::Malformed("zero bcrypt rounds"));
    }
    if rounds > MAX_BCRYPT_ROUNDS {
        return Err(KeyError::Unsupported(format!(
            "{rounds} bcrypt rounds (at most {MAX_BCRYPT_ROUNDS} are allowed)"
        )));
    }
    if passphrase.is_empty() {
        return Err(KeyError::WrongPassphrase);
    }
    let mut key_iv = Zeroizing::new(vec![0u8; cipher.key_len() + cipher.iv_len()]);
    bcrypt_pbkdf::bcrypt_pbkdf(passphrase, salt, rounds, &mut key_iv)
        .map_err(|_| KeyError::Malformed("bcrypt parameters refused"))?;
    Ok(key_iv)
}

/// Whether the file's cipher is not `none`.
pub(crate) fn is_encrypted(text: &[u8]) -> Result<bool, KeyError> {
    let binary = dearmor(text)?;
    let mut r = Reader::new(&binary);
    Ok(read_header(&mut r)? != "none")
}

/// The public key stored in the clear in a key file, encrypted or not.
pub(crate) fn public_key(text: &[u8]) -> Result<PublicKey, KeyError> {
    let binary = dearmor(text)?;
    let container = parse_container(&binary)?;
    PublicKey::from_blob(container.public)
}

/// Decodes a key file; see [`PrivateKey::from_openssh`].
pub(crate) fn decode(
    text: &[u8],
    passphrase: Option<&[u8]>,
) -> Result<(PrivateKey, String), KeyError> {
    let binary = dearmor(text)?;
    let container = parse_container(&binary)?;
    let public = PublicKey::from_blob(container.public)?;
    let cipher = container.cipher;
    // PROTOCOL.key: the private section "is padded [...] until the total length is a multiple
    // of the cipher block size"; OpenSSH refuses other lengths before decrypting.
    if !container.private.len().is_multiple_of(cipher.block_size()) {
        return Err(KeyError::Malformed(
            "private section is not a multiple of the cipher block size",
        ));
    }
    let mut plain = Zeroizing::new(container.private.to_vec());
    let encrypted = cipher != Cipher::None;
    if encrypted {
        let passphrase = passphrase.ok_or(KeyError::PassphraseRequired)?;
        let key_iv = derive_key(cipher, container.kdf_options, passphrase)?;
        cipher.apply(&key_iv, &mut plain, true)?;
    }
    let mut r = Reader::new(&plain);
    let check1 = r.array::<4>()?;
    let check2 = r.array::<4>()?;
    // PROTOCOL.key: "a random integer is assigned to both checkint fields so successful
    // decryption can be quickly checked by verifying that both checkint fields hold the same
    // value". The check integers are secret, so they are compared in constant time.
    if !bool::from(check1.ct_eq(&check2)) {
        return Err(if encrypted {
            KeyError::WrongPassphrase
        } else {
            KeyError::Malformed("check integers differ")
        });
    }
    let key = PrivateKey::decode_fields(&mut r)?;
    let comment = core::str::from_utf8(r.string()?)
        .map_err(|_| KeyError::Malformed("key comment is not UTF-8"))?
        .to_owned();
    // PROTOCOL.key: "padded with the bytes 1, 2, 3, ... until the total length is a multiple
    // of the cipher block size".
    let padding = r.rest();
    let padding_ok = padding.len() < cipher.block_size()
        && padding
            .iter()
            .zip(1u8..)
            .all(|(&byte, expected)| byte == expected);
    if !padding_ok {
        return Err(KeyError::Malformed("bad padding after the private key"));
    }
    // OpenSSH sshkey_parse_private2: the public key in the clear must be the private key's.
    if key.public_key() != public {
        return Err(KeyError::InvalidKey(
            "public key of the file does not match its private key",
        ));
    }
    Ok((key, comment))
}

/// Encodes a key file; see [`PrivateKey::to_openssh`].
pub(crate) fn encode(
    key: &PrivateKey,
    comment: &str,
    passphrase: Option<&[u8]>,
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<Zeroizing<String>, KeyError> {
    let passphrase = passphrase.filter(|p| !p.is_empty());
    let cipher = if passphrase.is_some() {
        Cipher::AesCtr(AesKeyLen::K256)
    } else {
        Cipher::None
    };
    let block = cipher.block_size();

    // Buffers holding secrets are allocated at their final size so that no reallocation
    // leaves a copy behind; they are wiped on drop.
    let capacity = key.fields_len_bound() + comment.len() + 64;
    let mut w = Writer::from_vec(Vec::with_capacity(capacity));
    let check = rng.next_u32();
    w.u32(check).u32(check);
    key.encode_fields(&mut w);
    w.string(comment.as_bytes());
    let mut pad = 1u8;
    while !w.len().is_multiple_of(block) {
        w.u8(pad);
        pad = pad.wrapping_add(1);
    }
    let mut private = Zeroizing::new(w.into_vec());

    let mut kdf_options = Writer::new();
    if let Some(passphrase) = passphrase {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        kdf_options.string(&salt).u32(DEFAULT_BCRYPT_ROUNDS);
        let key_iv = derive_key(cipher, kdf_options.as_slice(), passphrase)?;
        cipher.apply(&key_iv, &mut private, false)?;
    }
    let (cipher_name, kdf_name) = match passphrase {
        Some(_) => ("aes256-ctr", "bcrypt"),
        None => ("none", "none"),
    };

    let public = key.public_key().to_blob();
    let mut w = Writer::from_vec(Vec::with_capacity(private.len() + public.len() + 256));
    w.raw(AUTH_MAGIC)
        .string(cipher_name.as_bytes())
        .string(kdf_name.as_bytes())
        .string(kdf_options.as_slice())
        .u32(1)
        .string(&public)
        .string(&private);
    let binary = Zeroizing::new(w.into_vec());

    armor(&binary)
}

/// Wraps a binary key file in base64 lines of 70 characters between the BEGIN and END lines.
pub(crate) fn armor(binary: &[u8]) -> Result<Zeroizing<String>, KeyError> {
    let mut encoded = Zeroizing::new(vec![0u8; Base64::encoded_len(binary)]);
    let encoded = Base64::encode(binary, &mut encoded)
        .map_err(|_| KeyError::Malformed("base64 buffer too small"))?;
    let lines = encoded.len().div_ceil(LINE_LEN);
    let mut out = Zeroizing::new(String::with_capacity(
        BEGIN.len() + END.len() + encoded.len() + lines + 2,
    ));
    out.push_str("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    let mut rest = encoded;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at_checked(LINE_LEN).unwrap_or((rest, ""));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    Ok(out)
}
