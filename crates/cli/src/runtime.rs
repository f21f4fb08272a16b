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
///
/// `TOKIO_WORKER_THREADS` sets the number of workers, as tokio documents; it is read here,
/// because tokio itself panics at start-up on a value it cannot parse (an empty one, say).
pub(crate) fn server() -> io::Result<Runtime> {
    let mut builder = Builder::new_multi_thread();
    let value = std::env::var_os(WORKERS_VAR);
    if let Some(n) = worker_threads(value.as_deref().map(|v| v.to_string_lossy()).as_deref())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
    {
        builder.worker_threads(n);
    }
    builder.enable_all().build()
}

/// The environment variable tokio reads for its number of worker threads.
const WORKERS_VAR: &str = "TOKIO_WORKER_THREADS";

/// The worker count `TOKIO_WORKER_THREADS` asks for: `None` when unset (one per core).
fn worker_threads(value: Option<&str>) -> Result<Option<usize>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(format!(
            "{WORKERS_VAR} must be a number of threads above 0, not {value:?}: set it so, or unset it for one per core"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::worker_threads;

    #[test]
    fn worker_threads_come_from_a_positive_number_only() {
        assert_eq!(worker_threads(None), Ok(None));
        assert_eq!(worker_threads(Some("3")), Ok(Some(3)));
        assert_eq!(worker_threads(Some(" 2 ")), Ok(Some(2)));
        for bad in ["", "0", "-1", "two", "1.5"] {
            let e = worker_threads(Some(bad)).expect_err(bad);
            assert!(e.starts_with("TOKIO_WORKER_THREADS must be"), "{e}");
        }
    }
}
