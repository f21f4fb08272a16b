//! The async runtimes the commands run on.
//!
//! A client drives one connection: its protocol work (sealing, opening, the engines) runs on
//! one thread, and file I/O on tokio's blocking pool. Measured with `sftp-bench`, one thread
//! beat two workers by 5-15% on both get and put (docs/performance.md): with two workers,
//! the connection task and the SFTP task woke each other across threads for every packet.
//! A server serves many connections at once and gets a worker per core.

use std::io;

use tokio::runtime::{Builder, Runtime};

/// The runtime of a client command (`sftp`, `cp`, `exec`).
pub(crate) fn client() -> io::Result<Runtime> {
    Builder::new_current_thread().enable_all().build()
}

/// The runtime of a server command (`serve`, `sftp-server`).
pub(crate) fn server() -> io::Result<Runtime> {
    Builder::new_multi_thread().enable_all().build()
}
