//! Copies between this machine and one host: downloads, uploads, and local copies.

use std::path::{Path, PathBuf};

use sshwire::sftp::Attrs;
use sshwire::sftp_client::SftpClient;
use sshwire::sftp_glob::has_wildcards;
use sshwire::sftp_transfer::TransferError;
use sshwire::sftp_tree::{TreeEvents, TreeTransfer};

use super::meter::Meter;
use super::operand::Remote;
use super::{Settings, io_text, problem, remote_text};
use crate::transfer_failure::{self, Resume};

/// `S_IFMT`: the file type bits of a mode.
const S_IFMT: u32 = 0o170_000;
/// `S_IFDIR`: a directory.
const S_IFDIR: u32 = 0o040_000;
/// `S_IFLNK`: a symbolic link.
const S_IFLNK: u32 = 0o120_000;

/// Whether attributes say directory.
pub fn is_dir(a: &Attrs) -> bool {
    a.permissions.is_some_and(|p| p & S_IFMT == S_IFDIR)
}

/// Whether attributes say symbolic link.
pub fn is_link(a: &Attrs) -> bool {
    a.permissions.is_some_and(|p| p & S_IFMT == S_IFLNK)
}

/// A remote path as text.
pub fn shown(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// The last component of a remote path (trailing slashes ignored).
pub fn base_name(path: &[u8]) -> &[u8] {
    let trimmed = match path.iter().rposition(|&b| b != b'/') {
        Some(end) => path.get(..=end).unwrap_or(path),
        None => path,
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(slash) => trimmed.get(slash + 1..).unwrap_or(trimmed),
        None => trimmed,
    }
}

/// `dir/name` for a remote path.
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = dir.to_vec();
    if !out.is_empty() && !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// A remote operand's path for the server: `~` and `~/...` are the login directory, which
/// relative paths start from.
pub fn remote_path(r: &Remote) -> Vec<u8> {
    let p = r.sftp_path();
    match p {
        b"~" => b".".to_vec(),
        _ => p.strip_prefix(b"~/").unwrap_or(p).to_vec(),
    }
}

/// The remote paths a source names, with their attributes (links followed): the matches
/// of a pattern, or the path itself. A problem comes back as its line.
pub async fn sources(sftp: &SftpClient, r: &Remote) -> Result<Vec<(Vec<u8>, Attrs)>, String> {
    let path = remote_path(r);
    if !has_wildcards(&path) {
        return match sftp.stat(&path).await {
            Ok(a) => Ok(vec![(path, a)]),
            Err(e) => Err(format!("{}: {}", shown(&path), remote_text(&e))),
        };
    }
    let matches = sftp.glob(&path).await.map_err(|e| match e.is_not_found() {
        true => format!("{}: No such file or directory", shown(&path)),
        false => format!("{}: {}", shown(&path), remote_text(&e)),
    })?;
    let mut out = Vec::with_capacity(matches.len());
    for m in matches {
        let attrs = match is_link(&m.attrs) {
            true => sftp.stat(&m.path).await.unwrap_or(m.attrs),
            false => m.attrs,
        };
        out.push((m.path, attrs));
    }
    Ok(out)
}

/// A transfer error's text for scp's lines.
pub fn transfer_text(e: &TransferError) -> String {
    match e {
        TransferError::Remote(e) => remote_text(e),
        TransferError::Local(e) => io_text(e),
        TransferError::CannotResume(why) => why.clone(),
    }
}

/// Reports a tree transfer: a meter per file, a line per problem; the tree goes on.
pub struct Events {
    meter_on: bool,
    meter: Option<Meter>,
    /// Whether any entry failed.
    pub failed: bool,
}

impl Events {
    /// Events with meters when `meter_on`.
    pub fn new(meter_on: bool) -> Events {
        Events {
            meter_on,
            meter: None,
            failed: false,
        }
    }
}

impl TreeEvents for Events {
    fn file_started(&mut self, from: &str, _to: &str, _size: Option<u64>) {
        let name = shown(base_name(from.as_bytes()));
        self.meter = Some(Meter::new(&name, self.meter_on));
    }

    fn progress(&mut self, _from: &str, done: u64, total: Option<u64>) {
        if let Some(m) = &mut self.meter {
            m.update(done, total);
        }
    }

    fn file_done(&mut self, _from: &str, _to: &str, bytes: u64) {
        if let Some(m) = &mut self.meter {
            m.finish(bytes);
        }
    }

    fn failed(&mut self, from: &str, error: &TransferError) -> bool {
        problem(format!("{from}: {}", transfer_text(error)));
        self.failed = true;
        true
    }
}

/// How a tree is copied: scp follows symbolic links; one file at a time under a meter.
pub fn tree_settings(settings: Settings) -> TreeTransfer {
    TreeTransfer {
        file: settings.transfer,
        follow_links: true,
        files_at_once: if settings.meter { 1 } else { 8 },
        ..TreeTransfer::default()
    }
}

/// Downloads what `from` names into `target` (into it when `target_is_dir`).
pub async fn download(
    sftp: &SftpClient,
    from: &Remote,
    target: &Path,
    target_is_dir: bool,
    settings: Settings,
) -> Result<bool, String> {
    let matches = match sources(sftp, from).await {
        Ok(m) => m,
        Err(line) => {
            problem(line);
            return Ok(false);
        }
    };
    let host = from.user_host();
    let resume = Resume::Sftp {
        host: &host,
        port: settings.port,
    };
    let mut ok = true;
    for (path, attrs) in matches {
        let name = shown(base_name(&path));
        let local: PathBuf = match target_is_dir {
            true => target.join(&name),
            false => target.to_path_buf(),
        };
        if is_dir(&attrs) {
            if !settings.recursive {
                problem(format!("download {}/: not a regular file", shown(&path)));
                ok = false;
                continue;
            }
            let mut events = Events::new(settings.meter);
            let how = tree_settings(settings);
            match sftp.download_tree(&path, &local, &how, &mut events).await {
                Ok(summary) => ok &= summary.failed == 0 && !events.failed,
                Err(e) => {
                    problem(download_problem(&e, &path, &local));
                    ok = false;
                }
            }
            continue;
        }
        let existed = std::fs::metadata(&local).is_ok_and(|m| m.is_file());
        let mut meter = Meter::new(&name, settings.meter);
        let result = {
            let mut progress = |done: u64, total: Option<u64>| meter.update(done, total);
            sftp.download(&path, &local, settings.transfer, &mut progress)
                .await
        };
        match result {
            Ok(bytes) => meter.finish(bytes),
            Err(e) => {
                drop(meter);
                let f = transfer_failure::download(&e, &shown(&path), &local, existed, &resume);
                if f.session_lost {
                    return Err(f.line);
                }
                // scp's own words, but for a full disk, where what was kept matters.
                let full = matches!(&e, TransferError::Local(io)
                    if io.kind() == std::io::ErrorKind::StorageFull);
                problem(match full {
                    true => f.line,
                    false => download_problem(&e, &path, &local),
                });
                ok = false;
            }
        }
    }
    Ok(ok)
}

fn download_problem(e: &TransferError, remote: &[u8], local: &Path) -> String {
    match e {
        TransferError::Local(io) => format!("open local \"{}\": {}", local.display(), io_text(io)),
        other => format!("{}: {}", shown(remote), transfer_text(other)),
    }
}

/// Uploads the local `path` to `to` (into it when `to_is_dir`).
pub async fn upload(
    sftp: &SftpClient,
    path: &Path,
    to: &Remote,
    to_is_dir: bool,
    settings: Settings,
) -> Result<bool, String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            problem(format!(
                "stat local \"{}\": {}",
                path.display(),
                io_text(&e)
            ));
            return Ok(false);
        }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let dir = remote_path(to);
    let remote = match to_is_dir {
        true => join(&dir, name.as_bytes()),
        false => dir,
    };
    if meta.is_dir() && settings.recursive {
        let mut events = Events::new(settings.meter);
        let how = tree_settings(settings);
        return Ok(
            match sftp.upload_tree(path, &remote, &how, &mut events).await {
                Ok(summary) => summary.failed == 0 && !events.failed,
                Err(e) => {
                    problem(upload_problem(&e, path, &remote));
                    false
                }
            },
        );
    }
    if !meta.is_file() {
        problem(format!(
            "local \"{}\" is not a regular file",
            path.display()
        ));
        return Ok(false);
    }
    let mut meter = Meter::new(&name, settings.meter);
    let result = {
        let mut progress = |done: u64, total: Option<u64>| meter.update(done, total);
        sftp.upload(path, &remote, settings.transfer, &mut progress)
            .await
    };
    match result {
        Ok(bytes) => {
            meter.finish(bytes);
            Ok(true)
        }
        Err(e) => {
            drop(meter);
            let host = to.user_host();
            let resume = Resume::Sftp {
                host: &host,
                port: settings.port,
            };
            let f = transfer_failure::upload(&e, path, &shown(&remote), &resume);
            if f.session_lost {
                return Err(f.line);
            }
            problem(upload_problem(&e, path, &remote));
            Ok(false)
        }
    }
}

fn upload_problem(e: &TransferError, local: &Path, remote: &[u8]) -> String {
    match e {
        TransferError::Local(io) => format!("read local \"{}\": {}", local.display(), io_text(io)),
        other => format!("dest open \"{}\": {}", shown(remote), transfer_text(other)),
    }
}

/// Copies between two local paths with `cp`, as scp does.
pub async fn local(path: &Path, target: &Path, settings: Settings) -> bool {
    let mut cmd = tokio::process::Command::new("cp");
    if settings.recursive {
        cmd.arg("-r");
    }
    if settings.transfer.preserve {
        cmd.arg("-p");
    }
    cmd.arg("--").arg(path).arg(target);
    match cmd.status().await {
        Ok(status) => status.success(),
        Err(e) => {
            problem(format!("cp: {}", io_text(&e)));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_and_joins() {
        assert_eq!(base_name(b"/a/b/c"), b"c");
        assert_eq!(base_name(b"/a/b/"), b"b");
        assert_eq!(base_name(b"c"), b"c");
        assert_eq!(base_name(b"/"), b"");
        assert_eq!(join(b"/d", b"x"), b"/d/x");
        assert_eq!(join(b"/d/", b"x"), b"/d/x");
        assert_eq!(join(b"", b"x"), b"x");
        let r = |p: &str| Remote {
            user: None,
            host: "h".into(),
            path: p.into(),
        };
        assert_eq!(remote_path(&r("~/f")), b"f");
        assert_eq!(remote_path(&r("~")), b".");
        assert_eq!(remote_path(&r("")), b".");
        assert_eq!(remote_path(&r("/abs")), b"/abs");
    }
}
