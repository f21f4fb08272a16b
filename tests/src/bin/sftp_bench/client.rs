//! Running one `sftp -b` batch with either client, and the statistics of the times.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which client program runs a batch.
#[derive(Clone, Copy)]
pub enum Client<'a> {
    /// OpenSSH's `sftp`.
    OpenSsh,
    /// `sshwire sftp`, through this program.
    Sshwire(&'a Path),
}

/// How every client connects: the key, the cipher and, if pinned, the key exchange.
#[derive(Clone, Copy)]
pub struct Connect<'a> {
    /// The private key file.
    pub key: &'a Path,
    /// The cipher (`-c`).
    pub cipher: &'a str,
    /// The key exchange (`-o KexAlgorithms=`); each client's default when none.
    pub kex: Option<&'a str>,
}

/// One batch session, from spawning the client until it has exited successfully (so
/// connection set-up is included).
pub fn sftp(client: Client<'_>, port: u16, how: Connect<'_>, batch: &str) -> Duration {
    let mut cmd = match client {
        Client::OpenSsh => Command::new("sftp"),
        Client::Sshwire(program) => {
            let mut c = Command::new(program);
            c.arg("sftp");
            c
        }
    };
    cmd.args([
        "-q",
        "-b",
        "-",
        "-P",
        &port.to_string(),
        "-c",
        how.cipher,
        "-i",
    ])
    .arg(how.key);
    if let Some(kex) = how.kex {
        cmd.arg("-o").arg(format!("KexAlgorithms={kex}"));
    }
    cmd.args([
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "127.0.0.1",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), batch.as_bytes()).unwrap();
    let status = child.wait().unwrap();
    let elapsed = start.elapsed();
    assert!(status.success(), "sftp failed: {batch}");
    elapsed
}

/// The median of `times` (the lower middle one of an even count).
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    percentile(&times, 50)
}

/// The `p`th percentile of sorted `times` (nearest rank); zero for none.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let ms: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 50), Duration::from_millis(100));
        assert_eq!(percentile(&ms, 99), Duration::from_millis(198));
        let three: Vec<Duration> = (1..=3).map(Duration::from_millis).collect();
        assert_eq!(percentile(&three, 50), Duration::from_millis(2));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }
}
