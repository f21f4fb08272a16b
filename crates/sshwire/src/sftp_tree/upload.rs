//! The upload side of a tree transfer: a local source, a remote destination.

use std::future::Future;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use sshwire_sftp::{Attrs, Times};

use super::walk::{FileJob, Listed, Outcome, Side};
use super::{S_IFDIR, SKIP_UNCHANGED, TreeTransfer, file_type, remote_join, secs32};
use crate::sftp_client::SftpClient;
use crate::sftp_transfer::TransferError;

pub(super) struct Upload {
    pub sftp: SftpClient,
}

/// A local file's metadata as SFTP attributes: size, mode with its type, times.
fn attrs_of(meta: &std::fs::Metadata) -> Attrs {
    Attrs {
        size: Some(meta.len()),
        permissions: Some(meta.mode()),
        times: Some(times_of(meta)),
        ..Attrs::default()
    }
}

fn times_of(meta: &std::fs::Metadata) -> Times {
    Times {
        atime: secs32(meta.atime()),
        mtime: secs32(meta.mtime()),
    }
}

impl Side for Upload {
    type Src = PathBuf;
    type Dst = Vec<u8>;

    fn join_src(src: &PathBuf, name: &[u8]) -> PathBuf {
        src.join(std::ffi::OsStr::from_bytes(name))
    }

    fn join_dst(dst: &Vec<u8>, name: &[u8]) -> Vec<u8> {
        remote_join(dst, name)
    }

    fn show_src(src: &PathBuf) -> String {
        src.display().to_string()
    }

    fn show_dst(dst: &Vec<u8>) -> String {
        String::from_utf8_lossy(dst).into_owned()
    }

    async fn stat(&self, src: &PathBuf) -> Result<Attrs, TransferError> {
        Ok(attrs_of(&tokio::fs::metadata(src).await?))
    }

    async fn canonical(&self, src: &PathBuf) -> Result<PathBuf, TransferError> {
        Ok(tokio::fs::canonicalize(src).await?)
    }

    async fn list(&self, src: &PathBuf) -> Result<Vec<Listed>, TransferError> {
        let dir = src.clone();
        let listed = tokio::task::spawn_blocking(move || -> io::Result<Vec<Listed>> {
            let mut out = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                // `DirEntry::metadata` does not follow a link, as `lstat`.
                let attrs = entry
                    .metadata()
                    .map(|m| attrs_of(&m))
                    .map_err(TransferError::Local);
                out.push(Listed {
                    name: entry.file_name().into_vec(),
                    attrs,
                });
            }
            Ok(out)
        })
        .await
        .map_err(|e| io::Error::other(e.to_string()))??;
        Ok(listed)
    }

    async fn make_dir(
        &self,
        dst: &Vec<u8>,
        attrs: &Attrs,
        how: &TreeTransfer,
    ) -> Result<bool, TransferError> {
        // Writable and searchable by us while its contents arrive; the exact mode at the end.
        let wanted = Attrs {
            permissions: attrs.permissions.map(|m| (m & 0o1777) | 0o300),
            times: attrs.times.filter(|_| how.file.preserve),
            ..Attrs::default()
        };
        match self.sftp.mkdir(dst, wanted).await {
            Ok(()) => Ok(true),
            // SFTP v3 has no status for "exists": look at what is there.
            Err(refused) => match self.sftp.stat(dst).await {
                Ok(a) if file_type(a.permissions) == Some(S_IFDIR) => Ok(false),
                Ok(_) => Err(TransferError::Local(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists but is not a directory",
                        String::from_utf8_lossy(dst)
                    ),
                ))),
                Err(_) => Err(refused.into()),
            },
        }
    }

    async fn finish_dir(
        &self,
        dst: &Vec<u8>,
        attrs: &Attrs,
        created: bool,
        how: &TreeTransfer,
    ) -> Result<(), TransferError> {
        // A directory we created gets the source's mode back (without the bits added for
        // the transfer); preserving sets mode and times on an existing one too.
        if !created && !how.file.preserve {
            return Ok(());
        }
        let wanted = Attrs {
            permissions: attrs.permissions.map(|m| m & 0o1777),
            times: attrs.times.filter(|_| how.file.preserve),
            ..Attrs::default()
        };
        Ok(self.sftp.setstat(dst, wanted).await?)
    }

    fn file(
        &self,
        job: FileJob<PathBuf, Vec<u8>>,
    ) -> impl Future<Output = Outcome> + Send + 'static {
        let sftp = self.sftp.clone();
        async move {
            if job.sync && unchanged(&sftp, &job.dst, &job.attrs).await {
                return Outcome::Skipped(SKIP_UNCHANGED);
            }
            job.report.started(job.attrs.size).await;
            let report = &job.report;
            let mut progress = |done, total| report.progress(done, total);
            let bytes = match sftp
                .upload(&job.src, &job.dst, job.file, &mut progress)
                .await
            {
                Ok(n) => n,
                Err(e) => return Outcome::Failed(e),
            };
            // Synchronising keeps the times, so that the next run finds the file unchanged.
            if job.sync && !job.file.preserve {
                let times = Attrs {
                    times: job.attrs.times,
                    ..Attrs::default()
                };
                if let Err(e) = sftp.setstat(&job.dst, times).await {
                    return Outcome::Failed(e.into());
                }
            }
            Outcome::Done(bytes)
        }
    }
}

/// Whether the remote file has the local one's size and modification time.
async fn unchanged(sftp: &SftpClient, remote: &[u8], local: &Attrs) -> bool {
    match sftp.stat(remote).await {
        Ok(a) => a.size == local.size && a.times.map(|t| t.mtime) == local.times.map(|t| t.mtime),
        Err(_) => false,
    }
}
