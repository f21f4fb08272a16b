//! Directory walks and conveniences over [`SftpClient`]: a streaming directory listing,
//! `makedirs`, `rmtree`, `exists`/`is_dir`/`is_file`, the SETSTAT shorthands and a server-side
//! `copy`; what paramiko's `SFTPClient` and AsyncSSH's `SFTPClient` offer besides the
//! requests themselves.
//!
//! Paths are resolved against the client's working directory like every other call.

use std::collections::VecDeque;

use sshwire_sftp::{Attrs, ExtendedRequest, NameEntry, Owner, Request, Times};
use tokio::io::AsyncWriteExt;

use crate::sftp_client::{SftpClient, SftpError, expect_ok};
use crate::sftp_file::OpenOptions;

/// The file type bits of `permissions` (POSIX `S_IFMT`).
const S_IFMT: u32 = 0o170_000;
/// A directory (`S_IFDIR`).
const S_IFDIR: u32 = 0o040_000;
/// A regular file (`S_IFREG`).
const S_IFREG: u32 = 0o100_000;

/// Whether the attributes say "directory" (false when they carry no permissions).
pub(crate) fn is_dir_mode(attrs: &Attrs) -> bool {
    attrs.permissions.is_some_and(|p| p & S_IFMT == S_IFDIR)
}

fn is_file_mode(attrs: &Attrs) -> bool {
    attrs.permissions.is_some_and(|p| p & S_IFMT == S_IFREG)
}

/// `dir/name`, with one slash between.
fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = dir.to_vec();
    if !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// The entries of a directory, a READDIR batch at a time: returned by
/// [`SftpClient::read_dir`].
///
/// The handle is closed when the listing ends, when an error ends it, or when the `ReadDir`
/// is dropped (a CLOSE sent without waiting).
pub struct ReadDir {
    client: SftpClient,
    handle: Option<Vec<u8>>,
    batch: VecDeque<NameEntry>,
}

impl ReadDir {
    /// The next entry (`.` and `..` included when the server lists them); `None` at the end.
    pub async fn next(&mut self) -> Option<Result<NameEntry, SftpError>> {
        loop {
            if let Some(entry) = self.batch.pop_front() {
                return Some(Ok(entry));
            }
            // Kept until the end: if this future is dropped while waiting, `Drop` closes.
            let handle = self.handle.clone()?;
            match self.client.readdir(&handle).await {
                Ok(Some(entries)) => self.batch.extend(entries),
                Ok(None) => {
                    self.handle = None;
                    // Sent before the first await, so it goes even if nobody waits.
                    let closed = match self.client.start_now(|id| Request::Close { id, handle }) {
                        Ok(pending) => pending.await.and_then(expect_ok),
                        Err(e) => Err(e),
                    };
                    return closed.err().map(Err);
                }
                Err(e) => {
                    self.handle = None;
                    self.client
                        .send_detached(|id| Request::Close { id, handle });
                    return Some(Err(e));
                }
            }
        }
    }
}

impl std::fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadDir")
            .field("open", &self.handle.is_some())
            .field("batch", &self.batch.len())
            .finish()
    }
}

impl Drop for ReadDir {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.client
                .send_detached(|id| Request::Close { id, handle });
        }
    }
}

impl SftpClient {
    /// Lists a directory as a stream: entries come as the server sends them, a batch in
    /// memory at a time (see [`SftpClient::list`] for all at once).
    pub async fn read_dir(&self, path: &[u8]) -> Result<ReadDir, SftpError> {
        let handle = self.opendir(path).await?;
        Ok(ReadDir {
            client: self.clone(),
            handle: Some(handle),
            batch: VecDeque::new(),
        })
    }

    /// Whether `path` exists (following links): false when the server says it does not,
    /// an error for any other failure.
    pub async fn exists(&self, path: &[u8]) -> Result<bool, SftpError> {
        self.stat_or_none(path).await.map(|a| a.is_some())
    }

    /// Whether `path` is a directory (following links); false when it does not exist.
    pub async fn is_dir(&self, path: &[u8]) -> Result<bool, SftpError> {
        Ok(self
            .stat_or_none(path)
            .await?
            .is_some_and(|a| is_dir_mode(&a)))
    }

    /// Whether `path` is a regular file (following links); false when it does not exist.
    pub async fn is_file(&self, path: &[u8]) -> Result<bool, SftpError> {
        Ok(self
            .stat_or_none(path)
            .await?
            .is_some_and(|a| is_file_mode(&a)))
    }

    async fn stat_or_none(&self, path: &[u8]) -> Result<Option<Attrs>, SftpError> {
        match self.stat(path).await {
            Ok(a) => Ok(Some(a)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates `path` and its missing parents with permissions `mode` (as `mkdir -p`);
    /// succeeds if it already is a directory.
    pub async fn makedirs(&self, path: &[u8], mode: u32) -> Result<(), SftpError> {
        let full = self.resolve(path);
        if self.is_dir(&full).await? {
            return Ok(());
        }
        let attrs = Attrs {
            permissions: Some(mode),
            ..Attrs::default()
        };
        let mut prefix = Vec::new();
        if full.starts_with(b"/") {
            prefix.push(b'/');
        }
        for part in full.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
            prefix = if prefix.is_empty() {
                part.to_vec()
            } else {
                join(&prefix, part)
            };
            match self.stat_or_none(&prefix).await? {
                Some(a) if is_dir_mode(&a) => continue,
                Some(_) => return Err(SftpError::NotADirectory(prefix)),
                None => {}
            }
            if let Err(e) = self.mkdir(&prefix, attrs.clone()).await {
                // Someone else may have made it meanwhile: only a directory will do.
                if !self.is_dir(&prefix).await.unwrap_or(false) {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Removes `path` and everything under it, depth first, never following a symbolic link:
    /// a link (to a directory or not) is removed as a link. A `path` that is not a
    /// directory is removed as a file (as `rm -rf`).
    pub async fn rmtree(&self, path: &[u8]) -> Result<(), SftpError> {
        let top = self.resolve(path);
        if !is_dir_mode(&self.lstat(&top).await?) {
            return self.remove(&top).await;
        }
        // Directories to empty, then (second visit) to remove.
        let mut stack = vec![(top, false)];
        while let Some((dir, emptied)) = stack.pop() {
            if emptied {
                self.rmdir(&dir).await?;
                continue;
            }
            stack.push((dir.clone(), true));
            let mut entries = self.read_dir(&dir).await?;
            while let Some(entry) = entries.next().await {
                let entry = entry?;
                if entry.filename == b"." || entry.filename == b".." {
                    continue;
                }
                // A name is one path component; anything else would aim the removal
                // elsewhere.
                if entry.filename.is_empty() || entry.filename.contains(&b'/') {
                    return Err(SftpError::Protocol(format!(
                        "a directory entry named {:?}",
                        String::from_utf8_lossy(&entry.filename)
                    )));
                }
                let child = join(&dir, &entry.filename);
                // The listing's attributes decide only when they say "not a directory";
                // a directory is checked with LSTAT, so that a server giving STAT's answer
                // for a link never makes us descend through it.
                let descend = if entry.attrs.permissions.is_some() && !is_dir_mode(&entry.attrs) {
                    false
                } else {
                    is_dir_mode(&self.lstat(&child).await?)
                };
                if descend {
                    stack.push((child, false));
                } else {
                    self.remove(&child).await?;
                }
            }
        }
        Ok(())
    }

    /// Sets the permission bits (SETSTAT).
    pub async fn chmod(&self, path: &[u8], mode: u32) -> Result<(), SftpError> {
        self.setstat(
            path,
            Attrs {
                permissions: Some(mode),
                ..Attrs::default()
            },
        )
        .await
    }

    /// Sets the owner and group by number (SETSTAT).
    pub async fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), SftpError> {
        self.setstat(
            path,
            Attrs {
                owner: Some(Owner { uid, gid }),
                ..Attrs::default()
            },
        )
        .await
    }

    /// Sets the access and modification times, in seconds since 1970 (SETSTAT).
    pub async fn utime(&self, path: &[u8], atime: u32, mtime: u32) -> Result<(), SftpError> {
        self.setstat(
            path,
            Attrs {
                times: Some(Times { atime, mtime }),
                ..Attrs::default()
            },
        )
        .await
    }

    /// Cuts or extends a file to `len` bytes (SETSTAT of the size).
    pub async fn truncate(&self, path: &[u8], len: u64) -> Result<(), SftpError> {
        self.setstat(
            path,
            Attrs {
                size: Some(len),
                ..Attrs::default()
            },
        )
        .await
    }

    /// Copies the file `src` to `dst` (created or truncated, with `src`'s permission bits);
    /// returns the bytes copied.
    ///
    /// The server copies by itself when it offers `copy-data`; otherwise the data comes
    /// through this client, read ahead and written behind a few blocks at a time (memory
    /// bounded by the [`File`](crate::sftp_file::File) pipelines).
    pub async fn copy(&self, src: &[u8], dst: &[u8]) -> Result<u64, SftpError> {
        let mut from = self.open_read(src).await?;
        let attrs = from.stat().await?;
        let mode = attrs.permissions.map_or(0o644, |p| p & 0o7777);
        let mut to = self
            .open_file(
                dst,
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(mode),
            )
            .await?;
        let copied = if self.server().supports(ExtendedRequest::COPY_DATA, "1") {
            // OpenSSH PROTOCOL (copy-data): "If read-data-length is 0, then the data is
            // read until EOF is reached."
            match self.copy_data(from.handle(), 0, 0, to.handle(), 0).await {
                Ok(()) => to.stat().await.map(|a| a.size.unwrap_or(0)),
                Err(e) => Err(e),
            }
        } else {
            tokio::io::copy(&mut from, &mut to)
                .await
                .map_err(|e| match e.into_inner() {
                    Some(inner) => match inner.downcast::<SftpError>() {
                        Ok(e) => *e,
                        Err(other) => SftpError::Protocol(other.to_string()),
                    },
                    None => SftpError::Protocol("copy failed".into()),
                })
        };
        let flushed = match &copied {
            Ok(_) => to
                .flush()
                .await
                .map_err(|e| SftpError::Protocol(e.to_string())),
            Err(_) => Ok(()),
        };
        let closed_to = to.close().await;
        let closed_from = from.close().await;
        let n = copied?;
        flushed?;
        closed_to?;
        closed_from?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_puts_one_slash() {
        assert_eq!(join(b"/", b"a"), b"/a");
        assert_eq!(join(b"/d", b"a"), b"/d/a");
        assert_eq!(join(b"d/", b"a"), b"d/a");
    }

    #[test]
    fn modes() {
        let dir = Attrs {
            permissions: Some(0o040_755),
            ..Attrs::default()
        };
        let file = Attrs {
            permissions: Some(0o100_644),
            ..Attrs::default()
        };
        let link = Attrs {
            permissions: Some(0o120_777),
            ..Attrs::default()
        };
        assert!(is_dir_mode(&dir) && !is_file_mode(&dir));
        assert!(is_file_mode(&file) && !is_dir_mode(&file));
        assert!(!is_dir_mode(&link) && !is_file_mode(&link));
        assert!(!is_dir_mode(&Attrs::default()));
    }
}
