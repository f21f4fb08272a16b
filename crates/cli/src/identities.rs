//! The identity (private key) files a connection would offer, checked before it is made: a
//! file that is missing, unreadable, open to others or not a key gets one warning line and
//! is left out, as OpenSSH's ssh warns and goes on without it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sshwire_keys::{KeyError, PrivateKey};

/// The files kept, the warnings to print now, and notes for a login that fails.
#[derive(Debug, Default)]
pub struct Checked {
    /// The files worth offering, in order.
    pub files: Vec<PathBuf>,
    /// One line each, printed before connecting (unless `-q`).
    pub warnings: Vec<String>,
    /// Said on the "Permission denied" line if the login fails: keys that could not be used
    /// for a reason the user can fix.
    pub notes: Vec<String>,
}

/// Checks `explicit` files (`-i`, `IdentityFile`: each problem is a warning) and `defaults`
/// (OpenSSH's default names: a missing one is skipped silently).
pub fn check(explicit: &[PathBuf], defaults: &[PathBuf], batch: bool) -> Checked {
    let mut out = Checked::default();
    let uid = rustix::process::getuid().as_raw();
    for (path, given) in explicit
        .iter()
        .map(|p| (p, true))
        .chain(defaults.iter().map(|p| (p, false)))
    {
        match check_one(path, uid, batch) {
            Ok(note) => {
                out.notes.extend(note);
                out.files.push(path.clone());
            }
            Err(None) => {}
            Err(Some(warning)) if given || !warning.contains("not accessible") => {
                out.warnings.push(warning);
            }
            Err(Some(_)) => {}
        }
    }
    out
}

/// `Ok` with a note when the key can only be used with a passphrase that cannot be asked
/// for; `Err` with a warning when the file is left out.
fn check_one(path: &Path, uid: u32, batch: bool) -> Result<Option<String>, Option<String>> {
    let shown = path.display();
    let (meta, text) = match std::fs::metadata(path).and_then(|m| Ok((m, std::fs::read(path)?))) {
        Ok((meta, text)) => (meta, zeroize::Zeroizing::new(text)),
        Err(e) => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
            return Err(Some(format!(
                "Warning: Identity file {shown} not accessible: {text}; going on without it"
            )));
        }
    };
    if text.starts_with(b"ssh-") || text.starts_with(b"ecdsa-") {
        return Err(Some(format!(
            "Warning: Identity file {shown} is ignored: it is a public key; name the private \
             key, not the .pub file"
        )));
    }
    // ssh(1), "~/.ssh/id_*": "These files contain sensitive data and should be readable by
    // the user but not accessible by others"; OpenSSH ignores such a key when it belongs to
    // the user.
    let mode = meta.permissions().mode() & 0o777;
    if meta.uid() == uid && mode & 0o077 != 0 {
        return Err(Some(format!(
            "Warning: Identity file {shown} is ignored: its permissions {mode:04o} are too \
             open (others can read it); run chmod 600 {shown}"
        )));
    }
    if let Err(e) = PrivateKey::openssh_public_key(&text) {
        return Err(Some(format!(
            "Warning: Identity file {shown} is ignored: it is not a private key sshwire can \
             read ({e}); check that -i names the right file"
        )));
    }
    match PrivateKey::from_openssh(&text, None) {
        Err(KeyError::PassphraseRequired) if batch => Ok(Some(format!(
            "key {shown} needs a passphrase, which BatchMode cannot ask for: load it into \
             ssh-agent with ssh-add {shown}"
        ))),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use sshwire_keys::KeyType;

    #[test]
    fn unusable_key_files_are_left_out_with_one_warning_each() {
        let dir = tempfile::tempdir().unwrap();
        let key =
            PrivateKey::generate(KeyType::Ed25519, None, &mut *sshwire::system_rng()).unwrap();
        let text = key
            .to_openssh("k", None, &mut *sshwire::system_rng())
            .unwrap();
        let good = dir.path().join("good");
        let open = dir.path().join("open");
        let junk = dir.path().join("junk");
        let public = dir.path().join("good.pub");
        for (p, mode, body) in [
            (&good, 0o600, text.as_bytes().to_vec()),
            (&open, 0o644, text.as_bytes().to_vec()),
            (&junk, 0o600, b"garbage\n".to_vec()),
            (
                &public,
                0o600,
                key.public_key().to_openssh("k").into_bytes(),
            ),
        ] {
            std::fs::write(p, body).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let missing = dir.path().join("missing");
        let c = check(
            &[good.clone(), open, junk, public, missing.clone()],
            &[dir.path().join("id_default_absent")],
            true,
        );
        assert_eq!(c.files, vec![good]);
        assert_eq!(c.warnings.len(), 4, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("permissions 0644 are too open"));
        assert!(c.warnings[1].contains("is not a private key"));
        assert!(c.warnings[2].contains("not the .pub file"));
        assert_eq!(
            c.warnings[3],
            format!(
                "Warning: Identity file {} not accessible: No such file or directory; going on \
                 without it",
                missing.display()
            )
        );
        assert!(c.notes.is_empty());
    }
}
