//! Key fingerprints, as printed by `ssh-keygen -l`.

use base64ct::{Base64Unpadded, Encoding};

/// `SHA256:` followed by the unpadded base64 of the SHA-256 of `blob`.
///
/// This is OpenSSH's default fingerprint format (`sshkey_fingerprint` with
/// `SSH_FP_BASE64`): the digest of the public key blob, base64 without `=` padding.
pub(crate) fn sha256(blob: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, blob);
    format!("SHA256:{}", Base64Unpadded::encode_string(digest.as_ref()))
}
