//! Where files live by default, and writing key files safely.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The invoking user's home directory.
pub fn home() -> Result<PathBuf, String> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| "HOME is not set; give the file paths explicitly".to_owned())
}

/// `$XDG_CONFIG_HOME/sshwire`, or `~/.config/sshwire`.
pub fn config_dir() -> Result<PathBuf, String> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(d) => Ok(PathBuf::from(d).join("sshwire")),
        None => Ok(home()?.join(".config").join("sshwire")),
    }
}

/// Creates `path` with `mode` and writes `contents`, refusing to replace an existing file.
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create directory {}: {e}", parent.display()))?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                format!(
                    "{} already exists; remove it or choose another file with -f",
                    path.display()
                )
            }
            _ => format!("cannot create {}: {e}", path.display()),
        })?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The invoking user's login name: `$USER`, `$LOGNAME`, else `id -un`.
pub fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            let out = std::process::Command::new("id").arg("-un").output().ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "root".to_owned())
}

/// `user@host`, the comment ssh-keygen gives new keys.
pub fn default_comment() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "user".to_owned());
    let host = fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{user}@{host}")
}

/// `~` and `~/...` with the home directory, as OpenSSH's `tilde_expand_filename` does for
/// the current user; anything else unchanged.
pub fn expand_tilde(path: &str) -> PathBuf {
    match (path.strip_prefix('~'), home()) {
        (Some(""), Ok(h)) => h,
        (Some(rest), Ok(h)) if rest.starts_with('/') => h.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(path),
    }
}
