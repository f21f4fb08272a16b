//! The download side of a tree transfer: a remote source, a local destination.

use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sshwire_sftp::Attrs;

use super::walk::{FileJob, Listed, Outcome, Side};
use super::{SKIP_UNCHANGED, TreeTransfer, list_bounded, remote_join, set_local_times};
use crate::sftp_client::SftpClient;
use crate::sftp_transfer::TransferError;

pub(super) struct Download {
    pub sftp: SftpClient,
}

impl Side for Download {
    type Src = Vec<u8>;
    type Dst = PathBuf;

    fn join_src(src: &Vec<u8>, name: &[u8]) -> Vec<u8> {
        remote_join(src, name)
    }

    fn join_dst(dst: &PathBuf, name: &[u8]) -> PathBuf {
        // The walk has checked that `name` is one component: not empty, no `/`, no NUL,
        // neither `.` nor `..`.
        dst.join(OsStr::from_bytes(name))
    }

    fn show_src(src: &Vec<u8>) -> String {
        String::from_utf8_lossy(src).into_owned()
    }

    fn show_dst(dst: &PathBuf) -> String {
        dst.display().to_string()
    }

    async fn stat(&self, src: &Vec<u8>) -> Result<Attrs, TransferError> {
        Ok(self.sftp.stat(src).await?)
    }

    async fn canonical(&self, src: &Vec<u8>) -> Result<Vec<u8>, TransferError> {
        Ok(self.sftp.realpath(src).await?)
    }

    async fn list(&self, src: &Vec<u8>) -> Result<Vec<Listed>, TransferError> {
        let entries = list_bounded(&self.sftp, src).await?;
        Ok(entries
            .into_iter()
            .map(|(name, attrs)| Listed {
                name,
                attrs: Ok(attrs),
            })
            .collect())
    }

    async fn make_dir(
        &self,
        dst: &PathBuf,
        attrs: &Attrs,
        how: &TreeTransfer,
    ) -> Result<bool, TransferError> {
        // Writable by us while its contents arrive; the exact mode comes at the end.
        let mode = match (how.file.preserve, attrs.permissions) {
            (true, Some(m)) => (m & 0o777) | 0o700,
            _ => 0o777,
        };
        match tokio::fs::DirBuilder::new().mode(mode).create(dst).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if tokio::fs::metadata(dst).await?.is_dir() {
                    Ok(false)
                } else {
                    Err(TransferError::Local(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists but is not a directory", dst.display()),
                    )))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn finish_dir(
        &self,
        dst: &PathBuf,
        attrs: &Attrs,
        _created: bool,
        how: &TreeTransfer,
    ) -> Result<(), TransferError> {
        if !how.file.preserve {
            return Ok(());
        }
        if let Some(times) = attrs.times {
            set_local_times(dst, times).await?;
        }
        if let Some(mode) = attrs.permissions {
            // Never the server's set-user-ID, set-group-ID or sticky bits (see
            // `sftp_transfer::preserve_locally`).
            let perms = std::fs::Permissions::from_mode(mode & 0o777);
            tokio::fs::set_permissions(dst, perms).await?;
        }
        Ok(())
    }

    fn file(
        &self,
        job: FileJob<Vec<u8>, PathBuf>,
    ) -> impl Future<Output = Outcome> + Send + 'static {
        let sftp = self.sftp.clone();
        async move {
            if job.sync && unchanged(&job.dst, &job.attrs).await {
                return Outcome::Skipped(SKIP_UNCHANGED);
            }
            job.report.started(job.attrs.size).await;
            let report = &job.report;
            let mut progress = |done, total| report.progress(done, total);
            let bytes = match sftp
                .download(&job.src, &job.dst, job.file, &mut progress)
                .await
            {
                Ok(n) => n,
                Err(e) => return Outcome::Failed(e),
            };
            // Synchronising keeps the times, so that the next run finds the file unchanged.
            if job.sync
                && !job.file.preserve
                && let Some(times) = job.attrs.times
                && let Err(e) = set_local_times(&job.dst, times).await
            {
                return Outcome::Failed(e.into());
            }
            Outcome::Done(bytes)
        }
    }
}

/// Whether the local file has the remote one's size and modification time.
async fn unchanged(local: &Path, remote: &Attrs) -> bool {
    let Ok(meta) = tokio::fs::symlink_metadata(local).await else {
        return false;
    };
    meta.is_file()
        && remote.size == Some(meta.len())
        && remote.times.map(|t| i64::from(t.mtime)) == Some(meta.mtime())
}
