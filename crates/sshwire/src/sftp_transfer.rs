//! Whole-file transfers over an [`SftpClient`]: pipelined, resumable, and safe for what the
//! user already has.
//!
//! - A download is written strictly in order ([`sshwire_sftp::transfer::Download`]), so the
//!   local file is a correct prefix of the remote one at every moment: a download interrupted
//!   in any way, even by `kill -9`, resumes exactly with [`Transfer::resume`].
//! - A download never clobbers an existing file until it has succeeded: over an existing file
//!   it goes to a temporary file in the same directory (`.NAME.sshwire-part`), renamed over
//!   the destination at the end. Into a new file it writes directly. Either way an
//!   interrupted download leaves a correct prefix where a resume looks for it.
//! - An upload's WRITEs on one handle are applied in order by the server (filexfer-02 §6.1),
//!   so an interrupted upload leaves the remote file a correct prefix too.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use sshwire_sftp::transfer::{Download, Upload};
use sshwire_sftp::{Attrs, OpenFlags, Times};
use tokio::io::AsyncSeekExt;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::local_io::{OrderedWriter, ReadAhead};
use crate::sftp_client::{SftpClient, SftpError};

/// Progress of a transfer: bytes done (counting what a resume skipped), and the total when
/// known.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, Option<u64>) + Send);

/// How to transfer one file; the default is a fresh copy, its block size, depth and sessions
/// chosen for the server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transfer {
    /// Continue from what the destination already has (`reget`/`reput`).
    pub resume: bool,
    /// Copy the permissions and times too (`-p`).
    pub preserve: bool,
    /// Block size; 0 takes the server's `limits@openssh.com` (255 KiB against OpenSSH, 32 KiB
    /// when unknown).
    pub block: u32,
    /// Requests in flight at most (over all the sessions a download reads over); 0 (the
    /// default) sizes them by block and round trip: see [`automatic_in_flight`].
    pub in_flight: usize,
    /// Sessions a download of at least [`STREAMED_MIN`] bytes reads over, each block going
    /// to the least busy; 0 (the default) chooses by server: 2 against one that answers a
    /// session's requests one at a time (OpenSSH's `sftp-server`), 1 against `sshwire
    /// serve` (known by its identification string), which answers them concurrently: there
    /// a second session only adds work.
    ///
    /// Only a client from [`Client::sftp`](crate::client::Client::sftp) (or
    /// [`Client::sftp_with`](crate::client::Client::sftp_with)) can open the further
    /// sessions, on its connection; they are opened on the first such download and kept, and
    /// read only when their handle shows the file this session opened (same size and
    /// modification time). The local file is still written in order. Uploads always use one
    /// session: two would write the remote file out of order, and an interrupted upload must
    /// leave a correct prefix.
    pub streams: usize,
}

/// The smallest download (bytes left to read) worth reading over more than one session.
///
/// Opening a session costs a few round trips and, against OpenSSH, a process: only files
/// that take several milliseconds to move gain from a second one.
pub const STREAMED_MIN: u64 = 8 << 20;

/// Bytes a transfer keeps in flight when the round trip is short (loopback, a LAN).
///
/// Deeper is slower there: between sshwire peers on loopback, 1 GiB put at 1120 MiB/s with
/// 64 blocks of 256 KiB (16 MiB) in flight and at 1400 MiB/s with 12 to 16 (3 to 4 MiB),
/// and got at 1740 against 2190 (docs/performance.md, session 11). The processor time of
/// the whole transfer fell by a fifth, all of it in copies: with less in flight, each
/// block is still in the processor's caches when it is next copied (into the socket, out
/// of it, into the file).
pub const IN_FLIGHT_BYTES: u64 = 4 << 20;

/// The rate the automatic depth keeps up with over a longer round trip: each millisecond
/// of it adds a mebibyte in flight, until [`MAX_AUTOMATIC_IN_FLIGHT`] requests.
const COVERED_BYTES_PER_SEC: u128 = 1 << 30;

/// Requests in flight at most when chosen automatically (OpenSSH's sftp keeps 64).
pub const MAX_AUTOMATIC_IN_FLIGHT: usize = 64;

/// Requests in flight at least when chosen automatically, so that large blocks still
/// overlap.
const MIN_AUTOMATIC_IN_FLIGHT: usize = 4;

/// Requests of `block` bytes a transfer keeps in flight when a request took `rtt` to be
/// answered: [`IN_FLIGHT_BYTES`], plus what 1 GiB/s moves in one round trip, in whole
/// blocks, between 4 and [`MAX_AUTOMATIC_IN_FLIGHT`].
///
/// The round trip is that of the transfer's `OPEN`: on loopback a fraction of a
/// millisecond, so 16 blocks of 255 KiB, or 64 of 32 KiB (OpenSSH's depth); over 10 ms,
/// 57 blocks of 255 KiB.
pub fn automatic_in_flight(block: u32, rtt: Duration) -> usize {
    let covered = COVERED_BYTES_PER_SEC.saturating_mul(rtt.as_micros()) / 1_000_000;
    let bytes = u128::from(IN_FLIGHT_BYTES).saturating_add(covered);
    let blocks = bytes / u128::from(block.max(1));
    usize::try_from(blocks)
        .unwrap_or(usize::MAX)
        .clamp(MIN_AUTOMATIC_IN_FLIGHT, MAX_AUTOMATIC_IN_FLIGHT)
}

/// The requests in flight `how` asks for, or if it leaves them to us, the automatic number
/// for `block` after an `OPEN` that took `rtt`.
fn in_flight_for(how: &Transfer, block: u32, rtt: Duration) -> usize {
    match how.in_flight {
        0 => automatic_in_flight(block, rtt),
        n => n,
    }
}

/// Why a transfer failed.
#[derive(Debug)]
pub enum TransferError {
    /// The server refused or failed.
    Remote(SftpError),
    /// The local file could not be read or written.
    Local(io::Error),
    /// Resuming makes no sense: the destination is longer than the source.
    CannotResume(String),
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferError::Remote(e) => write!(f, "{e}"),
            TransferError::Local(e) => write!(f, "{e}"),
            TransferError::CannotResume(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for TransferError {}

impl From<SftpError> for TransferError {
    fn from(e: SftpError) -> Self {
        TransferError::Remote(e)
    }
}

impl From<io::Error> for TransferError {
    fn from(e: io::Error) -> Self {
        TransferError::Local(e)
    }
}

impl SftpClient {
    /// Downloads `remote` to `local`; returns the bytes the file has.
    pub async fn download(
        &self,
        remote: &[u8],
        local: &Path,
        how: Transfer,
        progress: Progress<'_>,
    ) -> Result<u64, TransferError> {
        let attrs = self.stat(remote).await?;
        let total = attrs.size;
        let existing = tokio::fs::metadata(local).await.ok();
        // A device or a pipe (`get big /dev/null`) is written as it is: never replaced,
        // resumed, synced or chmod-ed.
        if existing
            .as_ref()
            .is_some_and(|m| !m.is_file() && !m.is_dir())
        {
            return self
                .download_into(
                    remote,
                    Sink {
                        path: local,
                        start: 0,
                        mode: 0o666,
                    },
                    total,
                    how,
                    progress,
                )
                .await;
        }
        // An interrupted download over an existing file left its prefix in the temporary
        // file: that is what a resume continues.
        let part = part_path(local);
        let partial = match how.resume {
            true => tokio::fs::metadata(&part).await.ok().map(|m| (part, m)),
            false => None,
        };
        let resumable = partial.or_else(|| existing.clone().map(|m| (local.to_path_buf(), m)));
        let (target, start) = match (&resumable, &existing, how.resume) {
            (Some((path, m)), _, true) => {
                if total.is_some_and(|t| m.len() > t) {
                    return Err(TransferError::CannotResume(format!(
                        "{} is longer than the remote file",
                        path.display()
                    )));
                }
                (path.clone(), m.len())
            }
            // Over an existing file: a temporary one next to it, renamed at the end.
            (_, Some(_), false) => (part_path(local), 0),
            _ => (local.to_path_buf(), 0),
        };
        // A new file gets the remote file's permissions (and its owner may write it), less
        // the umask, as OpenSSH's sftp creates it; a replaced file keeps its own.
        let mode = match &existing {
            Some(m) => std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777,
            None => attrs.permissions.map_or(0o666, |p| (p & 0o777) | 0o200),
        };
        let result = self
            .download_into(
                remote,
                Sink {
                    path: &target,
                    start,
                    mode,
                },
                total,
                how,
                progress,
            )
            .await;
        match result {
            Ok(n) => {
                if target != local {
                    tokio::fs::rename(&target, local).await?;
                    // The replaced file's permissions, exactly (the umask narrowed them).
                    if let Some(m) = &existing {
                        tokio::fs::set_permissions(local, m.permissions()).await?;
                    }
                }
                if how.preserve {
                    preserve_locally(local, &attrs).await?;
                }
                Ok(n)
            }
            Err(e) => {
                // A remote error before any byte: nothing worth keeping. Otherwise the
                // temporary file is a correct prefix that a resume continues.
                if target != local
                    && matches!(tokio::fs::metadata(&target).await, Ok(m) if m.len() == 0)
                {
                    let _ = tokio::fs::remove_file(&target).await;
                }
                Err(e)
            }
        }
    }

    async fn download_into(
        &self,
        remote: &[u8],
        sink: Sink<'_>,
        total: Option<u64>,
        how: Transfer,
        progress: Progress<'_>,
    ) -> Result<u64, TransferError> {
        let Sink {
            path: target,
            start,
            mode,
        } = sink;
        let opening = Instant::now();
        let handle = self.open(remote, OpenFlags::READ, Attrs::default()).await?;
        let rtt = opening.elapsed();
        let streams = self
            .read_streams(remote, &handle, total, start, how.streams)
            .await;
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(start == 0)
            .mode(mode)
            .open(target)
            .await?;
        if start > 0 {
            file.seek(io::SeekFrom::Start(start)).await?;
        }
        let mut file = OrderedWriter::new(file.into_std().await);
        let block = self.block_for(how.block, true);
        let mut plan = Download::new(start, block, in_flight_for(&how, block, rtt));
        let mut reads = JoinSet::new();
        // Each session with its handle and its reads in flight; each read goes to the least
        // busy (this session, the first, of equals).
        let mut streams: Vec<(SftpClient, Vec<u8>, usize)> =
            streams.into_iter().map(|(c, h)| (c, h, 0)).collect();
        let outcome: Result<(), TransferError> = async {
            progress(start, total);
            loop {
                while let Some((offset, len)) = plan.next_read() {
                    let (i, sftp, handle) = match streams
                        .iter_mut()
                        .enumerate()
                        .min_by_key(|(_, (_, _, busy))| *busy)
                    {
                        Some((i, (sftp, handle, busy))) => {
                            *busy += 1;
                            (i, sftp.clone(), handle.clone())
                        }
                        None => (usize::MAX, self.clone(), handle.clone()),
                    };
                    reads.spawn(
                        async move { (i, offset, sftp.read_block(&handle, offset, len).await) },
                    );
                }
                let Some(joined) = reads.join_next().await else {
                    break;
                };
                let (i, offset, answer) =
                    joined.map_err(|e| TransferError::Local(io::Error::other(e.to_string())))?;
                if let Some((_, _, busy)) = streams.get_mut(i) {
                    *busy -= 1;
                }
                match answer? {
                    Some(data) => plan.on_data(offset, data),
                    None => plan.on_eof(offset),
                }
                .map_err(|e| TransferError::Remote(SftpError::Protocol(e.to_string())))?;
                while let Some((_, data)) = plan.poll_write() {
                    file.write(data).await?;
                }
                progress(plan.written(), total);
                if plan.is_done() {
                    break;
                }
            }
            // No fsync: OpenSSH's sftp does not either (`get -f` asks for one), and an
            // interrupted download's prefix survives a killed process in the page cache.
            file.finish().await?;
            Ok(())
        }
        .await;
        reads.abort_all();
        // A failed download still lets the block being written land, so that the prefix on
        // disk is complete when the caller reports (and a resume measures) it.
        if outcome.is_err() {
            let _ = file.finish().await;
        }
        // The further sessions' handles first: only this session's close is reported, as a
        // read handle that will not close has lost nothing.
        for (sftp, handle, _) in streams.iter().skip(1) {
            let _ = sftp.close(handle).await;
        }
        let closed = self.close(&handle).await;
        outcome?;
        closed?;
        Ok(plan.written())
    }

    /// The sessions a download reads over, each with its handle of the file: this one first,
    /// then, for a large enough download, further ones on the same connection.
    ///
    /// A further session that cannot open the file is left out; this session's handle
    /// decides what the file is.
    async fn read_streams(
        &self,
        remote: &[u8],
        handle: &[u8],
        total: Option<u64>,
        start: u64,
        wanted: usize,
    ) -> Vec<(SftpClient, Vec<u8>)> {
        let mut streams = vec![(self.clone(), handle.to_vec())];
        let wanted = match wanted {
            0 => self.automatic_streams(),
            n => n,
        };
        let left = total.map_or(0, |t| t.saturating_sub(start));
        if wanted < 2 || left < STREAMED_MIN {
            return streams;
        }
        // The file the further handles must be: the one this handle has open. A file
        // replaced by a rename between the opens would otherwise mix two files' bytes.
        let Some(this) = self.fstat(handle).await.ok().and_then(|a| identity(&a)) else {
            return streams;
        };
        // Further sessions have no working directory of their own.
        let path = self.resolve(remote);
        for sftp in self.further_streams(wanted - 1).await {
            let Ok(h) = sftp.open(&path, OpenFlags::READ, Attrs::default()).await else {
                continue;
            };
            let same = sftp.fstat(&h).await.ok().and_then(|a| identity(&a)) == Some(this);
            if same {
                streams.push((sftp, h));
            } else {
                let _ = sftp.close(&h).await;
            }
        }
        streams
    }

    /// Uploads `local` to `remote`; returns the bytes the remote file has.
    pub async fn upload(
        &self,
        local: &Path,
        remote: &[u8],
        how: Transfer,
        progress: Progress<'_>,
    ) -> Result<u64, TransferError> {
        let meta = tokio::fs::metadata(local).await?;
        let total = meta.len();
        let start = if how.resume {
            match self.stat(remote).await {
                Ok(a) => {
                    let have = a.size.unwrap_or(0);
                    if have > total {
                        return Err(TransferError::CannotResume(format!(
                            "the remote file is longer than {}",
                            local.display()
                        )));
                    }
                    have
                }
                Err(e) if e.is_not_found() => 0,
                Err(e) => return Err(e.into()),
            }
        } else {
            0
        };
        let flags = if start > 0 {
            OpenFlags::WRITE
        } else {
            OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC
        };
        let mode = Attrs {
            permissions: Some(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777),
            ..Attrs::default()
        };
        let opening = Instant::now();
        let handle = self.open(remote, flags, mode.clone()).await?;
        let rtt = opening.elapsed();
        let file = tokio::fs::File::open(local).await?;
        let block = self.block_for(how.block, false);
        let in_flight = in_flight_for(&how, block, rtt);
        let room = self.write_room(&handle);
        let mut file = ReadAhead::new(file.into_std().await, start, block as usize, room);
        let mut plan = Upload::new(start);
        let mut writes = JoinSet::new();
        let outcome: Result<(), TransferError> = async {
            progress(start, Some(total));
            let mut eof = false;
            loop {
                while !eof && writes.len() < in_flight {
                    let buf = file.next().await?;
                    let n = buf.len();
                    if n == 0 {
                        eof = true;
                        break;
                    }
                    let offset = plan.sent(u32::try_from(n).unwrap_or(u32::MAX));
                    let (sftp, handle) = (self.clone(), handle.clone());
                    writes.spawn(async move { (offset, sftp.write(&handle, offset, buf).await) });
                }
                let Some(joined) = writes.join_next().await else {
                    break;
                };
                let (offset, answer) =
                    joined.map_err(|e| TransferError::Local(io::Error::other(e.to_string())))?;
                answer?;
                plan.on_ok(offset)
                    .map_err(|e| TransferError::Remote(SftpError::Protocol(e.to_string())))?;
                progress(plan.acked(), Some(total));
            }
            Ok(())
        }
        .await;
        writes.abort_all();
        if outcome.is_ok() && how.preserve {
            let times = Times {
                atime: unix_secs(meta.accessed().ok()),
                mtime: unix_secs(meta.modified().ok()),
            };
            let attrs = Attrs {
                permissions: mode.permissions,
                times: Some(times),
                ..Attrs::default()
            };
            let set = self.fsetstat(&handle, attrs).await;
            let closed = self.close(&handle).await;
            set?;
            closed?;
        } else {
            let closed = self.close(&handle).await;
            outcome?;
            closed?;
        }
        Ok(plan.acked())
    }

    /// The block size: the caller's, capped by the server's limits.
    fn block_for(&self, asked: u32, read: bool) -> u32 {
        let limits = self.transfer_limits();
        let cap = if read {
            limits.read_len
        } else {
            limits.write_len
        };
        if asked == 0 { cap } else { asked.min(cap) }.max(1)
    }
}

/// Where a download writes: the file, the offset to start at, and the permissions of a file
/// it creates.
struct Sink<'a> {
    path: &'a Path,
    start: u64,
    mode: u32,
}

/// `dir/.name.sshwire-part`: where a download over an existing file goes first.
fn part_path(local: &Path) -> PathBuf {
    let name = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    local.with_file_name(format!(".{name}.sshwire-part"))
}

/// What tells two handles of one path apart when the file was replaced between their opens:
/// its size and modification time (SFTP has no inode number); `None` when either is unknown.
fn identity(attrs: &Attrs) -> Option<(u64, u32)> {
    Some((attrs.size?, attrs.times?.mtime))
}

fn unix_secs(t: Option<std::time::SystemTime>) -> u32 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// Applies the remote permissions and times to the local file (`get -p`).
async fn preserve_locally(local: &Path, attrs: &Attrs) -> io::Result<()> {
    if let Some(mode) = attrs.permissions {
        use std::os::unix::fs::PermissionsExt;
        // Only the permission bits: a server's set-user-ID, set-group-ID or sticky bit would
        // otherwise turn a downloaded file into a program that runs as whoever downloaded it
        // (OpenSSH's sftp keeps 0777 too).
        tokio::fs::set_permissions(local, std::fs::Permissions::from_mode(mode & 0o777)).await?;
    }
    if let Some(t) = attrs.times {
        let path = local.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::options().write(true).open(&path)?;
            let at = |s: u32| UNIX_EPOCH + Duration::from_secs(u64::from(s));
            file.set_times(
                std::fs::FileTimes::new()
                    .set_accessed(at(t.atime))
                    .set_modified(at(t.mtime)),
            )
        })
        .await
        .map_err(|e| io::Error::other(e.to_string()))??;
    }
    Ok(())
}
