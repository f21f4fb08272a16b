//! Recursive transfers over an [`SftpClient`]: whole directory trees down or up, with
//! exclusions, synchronisation, several files at once, and an error handler.
//!
//! The behaviour is that of OpenSSH's `get -r` and `put -r`: the destination directory is
//! created when missing, symbolic links are skipped unless followed, anything but regular
//! files and directories is skipped, `.` and `..` are ignored, and when preserving, a
//! directory's permissions and times are applied after its contents.
//!
//! - The walk is depth-first and lazy: it holds the listings of the directories on the path
//!   it is in, never the whole tree, and refuses to go deeper than [`MAX_TREE_DEPTH`]
//!   directories. When following links, a link back to a directory being walked is skipped
//!   as a loop.
//! - Up to [`TreeTransfer::files_at_once`] files are transferred at once, each pipelined as
//!   [`SftpClient::download`] and [`SftpClient::upload`] do; a directory exists before any of
//!   its files is started.
//! - A remote name is one path component: a name that is empty or holds `/` or NUL is never
//!   joined to a local path; it is reported to [`TreeEvents::failed`] instead, so nothing is
//!   ever written outside the local destination.
//!
//! ```no_run
//! use std::path::Path;
//! use sshwire::sftp_client::SftpClient;
//! use sshwire::sftp_transfer::TransferError;
//! use sshwire::sftp_tree::{TreeEvents, TreeTransfer};
//!
//! struct Print;
//!
//! impl TreeEvents for Print {
//!     fn entering(&mut self, from: &str, _to: &str) {
//!         println!("Retrieving {from}");
//!     }
//!     fn failed(&mut self, from: &str, error: &TransferError) -> bool {
//!         eprintln!("{from}: {error}");
//!         true // go on with the rest of the tree
//!     }
//! }
//!
//! # async fn example(sftp: SftpClient) -> Result<(), TransferError> {
//! let how = TreeTransfer {
//!     exclude: vec![b"*.tmp".to_vec(), b".git".to_vec()],
//!     sync: true,
//!     ..TreeTransfer::default()
//! };
//! let summary = sftp.download_tree(b"/srv/www", Path::new("www"), &how, &mut Print).await?;
//! println!("{} files, {} bytes, {} failed", summary.files, summary.bytes, summary.failed);
//! # Ok(())
//! # }
//! ```

mod download;
mod listing;
mod upload;
mod walk;

pub(crate) use listing::list_bounded;

use std::io;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use sshwire_sftp::Times;

use crate::sftp_client::SftpClient;
use crate::sftp_transfer::{Transfer, TransferError};

/// Directories one transfer descends at most, the top one included.
pub const MAX_TREE_DEPTH: usize = 256;

/// Entries one remote directory listing may hold at most (a server that never ends a
/// listing is refused, not believed).
pub const MAX_LISTING_ENTRIES: usize = 1 << 20;
/// Bytes of names one remote directory listing may hold at most.
pub const MAX_LISTING_BYTES: usize = 64 << 20;

/// Why [`TreeEvents::skipped`] skipped an entry: a pattern of [`TreeTransfer::exclude`]
/// matched its name.
pub const SKIP_EXCLUDED: &str = "excluded";
/// Why [`TreeEvents::skipped`] skipped an entry: [`TreeTransfer::sync`] found the
/// destination with the same size and modification time.
pub const SKIP_UNCHANGED: &str = "unchanged";
/// Why [`TreeEvents::skipped`] skipped an entry: it is neither a regular file nor a
/// directory (a device, a socket, or a link not followed).
pub const SKIP_NOT_REGULAR: &str = "not a regular file";
/// Why [`TreeEvents::skipped`] skipped an entry: a followed link leads back to a directory
/// being walked.
pub const SKIP_LINK_LOOP: &str = "a symbolic link loop";

/// How to transfer a tree.
#[derive(Debug, Clone)]
pub struct TreeTransfer {
    /// How to transfer each file: resume (`reget -r`/`reput -r`), preserve (`-p`), block
    /// size and requests in flight per file.
    pub file: Transfer,
    /// Glob patterns ([`crate::sftp_glob::glob_match`]) matched against each entry's name;
    /// a match is neither transferred nor descended into.
    pub exclude: Vec<Vec<u8>>,
    /// Transfer only files whose destination is missing or differs in size or modification
    /// time (seconds); the times of what is transferred are preserved, so that the next
    /// synchronisation skips it.
    pub sync: bool,
    /// Follow symbolic links in the source (`-L`), instead of skipping them.
    pub follow_links: bool,
    /// Files transferred at once (at least one).
    pub files_at_once: usize,
}

impl Default for TreeTransfer {
    fn default() -> Self {
        TreeTransfer {
            file: Transfer::default(),
            exclude: Vec::new(),
            sync: false,
            follow_links: false,
            files_at_once: 8,
        }
    }
}

/// What happened in a tree transfer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeSummary {
    /// Files transferred (resumed ones included).
    pub files: u64,
    /// Bytes those files hold.
    pub bytes: u64,
    /// Entries skipped (excluded, unchanged, not regular files, link loops).
    pub skipped: u64,
    /// Files and directories that failed, the error handler having chosen to go on.
    pub failed: u64,
    /// Directories entered, the top one included.
    pub dirs: u64,
}

/// What a tree transfer reports as it goes; every method has a default that does nothing.
///
/// Paths are shown as text (bytes that are not UTF-8 replaced). Events of files transferred
/// at once interleave, each naming its file.
pub trait TreeEvents: Send {
    /// A directory is started: `from` is being walked into `to`, which now exists.
    fn entering(&mut self, from: &str, to: &str) {
        let _ = (from, to);
    }

    /// A file is started; `size` is its size when known.
    fn file_started(&mut self, from: &str, to: &str, size: Option<u64>) {
        let _ = (from, to, size);
    }

    /// A file has `done` of its `total` bytes (what a resume skipped included).
    fn progress(&mut self, from: &str, done: u64, total: Option<u64>) {
        let _ = (from, done, total);
    }

    /// A file is complete; it holds `bytes` bytes.
    fn file_done(&mut self, from: &str, to: &str, bytes: u64) {
        let _ = (from, to, bytes);
    }

    /// An entry is skipped; `why` is one of the `SKIP_*` constants of this module.
    fn skipped(&mut self, from: &str, why: &str) {
        let _ = (from, why);
    }

    /// A file or directory failed. Returning `true` goes on with the rest of the tree (the
    /// summary counts the failure); `false`, the default, stops the transfer with `error`
    /// once the files in flight have finished.
    fn failed(&mut self, from: &str, error: &TransferError) -> bool {
        let _ = (from, error);
        false
    }
}

/// Reports nothing and stops at the first failure.
impl TreeEvents for () {}

impl SftpClient {
    /// Downloads the remote directory `remote` into `local` (`get -r`).
    ///
    /// `remote` is canonicalized first (REALPATH), as OpenSSH's sftp does, so events show
    /// absolute remote paths. `local` is created when missing; files in it are replaced as
    /// [`SftpClient::download`] replaces them, never clobbered by a failed transfer.
    pub async fn download_tree(
        &self,
        remote: &[u8],
        local: &Path,
        how: &TreeTransfer,
        events: &mut dyn TreeEvents,
    ) -> Result<TreeSummary, TransferError> {
        let root = self.realpath(remote).await?;
        let side = download::Download { sftp: self.clone() };
        walk::run(&side, root, local.to_path_buf(), how, events).await
    }

    /// Uploads the local directory `local` into `remote` (`put -r`), created when missing.
    pub async fn upload_tree(
        &self,
        local: &Path,
        remote: &[u8],
        how: &TreeTransfer,
        events: &mut dyn TreeEvents,
    ) -> Result<TreeSummary, TransferError> {
        let side = upload::Upload { sftp: self.clone() };
        walk::run(&side, local.to_path_buf(), remote.to_vec(), how, events).await
    }
}

/// `S_IFMT`: the file type bits of a mode.
const S_IFMT: u32 = 0o170_000;
/// `S_IFDIR`: a directory.
const S_IFDIR: u32 = 0o040_000;
/// `S_IFREG`: a regular file.
const S_IFREG: u32 = 0o100_000;
/// `S_IFLNK`: a symbolic link.
const S_IFLNK: u32 = 0o120_000;

/// The file type of `permissions`, when the attributes have them.
fn file_type(permissions: Option<u32>) -> Option<u32> {
    permissions.map(|m| m & S_IFMT)
}

/// `base/name` for a remote path; an empty base is the current directory.
fn remote_join(base: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    if !out.is_empty() && !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// Seconds since the epoch as SFTP v3 carries them, clamped to its 32 bits.
fn secs32(secs: i64) -> u32 {
    u32::try_from(secs.max(0)).unwrap_or(u32::MAX)
}

/// Sets a local file's or directory's access and modification times.
async fn set_local_times(path: &Path, times: Times) -> io::Result<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)?;
        let at = |s: u32| UNIX_EPOCH + Duration::from_secs(u64::from(s));
        file.set_times(
            std::fs::FileTimes::new()
                .set_accessed(at(times.atime))
                .set_modified(at(times.mtime)),
        )
    })
    .await
    .map_err(|e| io::Error::other(e.to_string()))?
}
