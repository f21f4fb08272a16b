//! Packet traces on standard error: `SSHWIRE_TRACE=1`, or `-vvv` on the client commands.
//!
//! Each message sent or received becomes one line, `trace: client > #3 SSH_MSG_...` (see
//! `sshwire::trace`); passwords and file data never appear in it.

use std::io::Write;
use std::sync::Arc;

use sshwire::trace::TraceSink;

/// The environment variable that turns tracing on (any value but empty and `0`).
pub const ENV: &str = "SSHWIRE_TRACE";

/// Whether `SSHWIRE_TRACE` asks for a trace.
fn env_enabled() -> bool {
    std::env::var_os(ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The trace sink when `SSHWIRE_TRACE` is set or `verbosity` is 3 (`-vvv`) or more.
pub fn sink(verbosity: i32) -> Option<TraceSink> {
    (env_enabled() || verbosity >= 3).then(|| {
        // A closed standard error loses the trace, and nothing else: eprintln! would panic in
        // whichever task sent the message.
        let sink: TraceSink = Arc::new(|line: &str| {
            let _ = writeln!(std::io::stderr().lock(), "trace: {line}");
        });
        sink
    })
}
