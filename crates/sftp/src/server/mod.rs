//! The SFTP server: a [`Session`] answers requests from a [`Filesystem`](crate::fs::Filesystem)
//! under a [`ServerConfig`] policy, and reports changes to an [`AuditSink`].
//!
//! Like the rest of this crate it does no I/O and spawns nothing: a runner (the `sshwire`
//! crate's `sftp_server::serve` on tokio, or anything else) frames packets off a byte stream
//! ([`decode_frame`](crate::decode_frame)), decodes them ([`Session::decode`]), calls
//! [`Session::handle`] for each in arrival order and runs the futures it returns, as many at
//! once as it likes, writing each [`Response`](crate::Response) when it is ready: responses
//! carry the request id, and filexfer-02 §6.1 lets them go out in any order.
//!
//! What a session does, as OpenSSH's `sftp-server` does it unless said otherwise:
//!
//! - The first packet must be `SSH_FXP_INIT`; the answer is `SSH_FXP_VERSION` 3 with the
//!   OpenSSH extensions that the policy permits and the backend
//!   [supports](crate::fs::Filesystem::supports). Any other packet first, or a second
//!   `INIT`, ends the session ([`ProtocolError`]).
//! - Requests touching the same file run in the order they came, others at the same time
//!   (`order` module, after filexfer-02 §6.1).
//! - Handles are 12 opaque bytes; at most [`ServerConfig::max_handles`] are open. A handle
//!   that is stale, forged or of the wrong kind gets `SSH_FX_FAILURE` (v3 has no
//!   `INVALID_HANDLE`).
//! - `READ` lengths above [`ServerConfig::max_read_len`] are shortened, not refused; reading
//!   at or past the end answers `SSH_FX_EOF`, as does `READDIR` past the last entry.
//! - `READDIR` answers at most 100 entries or about 200 KiB, with an `ls -l`
//!   [`longname`](longname::longname).
//! - Relative paths are joined to the start directory; absolute paths go to the backend as
//!   they are. A path with a NUL byte answers `SSH_FX_NO_SUCH_FILE` (OpenSSH ends the session
//!   instead: its parser refuses such a string outright).
//! - Unknown packet types and unknown extended requests answer `SSH_FX_OP_UNSUPPORTED`; the
//!   session goes on.

mod audit;
mod config;
mod handles;
mod longname;
mod order;
mod session;

#[cfg(test)]
mod tests;

pub use audit::{AuditEvent, AuditFormat, AuditOperation, AuditSink, LineSink, flags_string};
pub use config::{IdNames, RequestKind, ServerConfig};
pub use longname::{longname, ls_date, mode_string};
pub use session::{ProtocolError, Session};

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, also after a panic elsewhere poisoned it (the data stays consistent: no
/// lock here is held across code that can panic halfway through a change).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
