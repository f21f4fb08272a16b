//! SFTP throughput: OpenSSH's `sftp` getting and putting a file against `sshwire serve` and
//! against OpenSSH's sshd (with its own sftp-server), per cipher, in one run.
//!
//! `cargo run --release -p sshwire-tests --bin sftp-bench [MiB] [repetitions]`
//!
//! Downloads go to /dev/null; uploads write a file on the server (the same disk for both
//! servers). Prints the median of the repetitions and sshwire serve's ratio to sshd.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sshwire_tests::{Serve, Sshd, ed25519_key_file};

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let program = sibling("sshwire-under-test");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id");
    let public = ed25519_key_file(&key);
    let host = dir.path().join("host");
    ed25519_key_file(&host);
    let sshd = Sshd::start("");
    sshd.authorize(&public);
    let serve = Serve::start_with_users(&program, &[host], &public, None, &[]);
    // The same file on both servers, and one to upload.
    let local = dir.path().join("local.bin");
    write_file(&local, mib);
    let sshd_file = sshd.dir.path().join("big.bin");
    std::fs::copy(&local, &sshd_file).unwrap();
    std::fs::copy(&local, serve.dir.path().join("root/big.bin")).unwrap();
    let sshd_upload = sshd.dir.path().join("up.bin");
    let ssh_version = Command::new("ssh").arg("-V").output().unwrap();
    println!(
        "OpenSSH sftp, {mib} MiB per run, median of {reps}; {}",
        String::from_utf8_lossy(&ssh_version.stderr).trim()
    );
    println!(
        "{:<32} {:>4} {:>12} {:>14} {:>7}",
        "cipher", "op", "sshd MiB/s", "sshwire MiB/s", "ratio"
    );
    for cipher in [
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
    ] {
        for get in [true, false] {
            let batch = |remote: &str| {
                if get {
                    format!("get {remote} /dev/null\n")
                } else {
                    format!("put {} {remote}\n", local.display())
                }
            };
            let theirs = median(reps, || {
                let remote = if get { &sshd_file } else { &sshd_upload };
                sftp(
                    sshd.port,
                    &key,
                    cipher,
                    &batch(&remote.display().to_string()),
                )
            });
            let ours = median(reps, || {
                sftp(
                    serve.port,
                    &key,
                    cipher,
                    &batch(if get { "/big.bin" } else { "/up.bin" }),
                )
            });
            let rate = |d: Duration| mib as f64 / d.as_secs_f64();
            println!(
                "{:<32} {:>4} {:>12.0} {:>14.0} {:>6.2}x",
                cipher,
                if get { "get" } else { "put" },
                rate(theirs),
                rate(ours),
                rate(ours) / rate(theirs)
            );
        }
    }
}

/// A program built next to this one.
fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build --release -p sshwire-tests)",
        path.display()
    );
    path
}

fn write_file(path: &Path, mib: usize) {
    let block: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i * 31 + i / 4096) as u8)
        .collect();
    let mut f = std::fs::File::create(path).unwrap();
    for _ in 0..mib {
        std::io::Write::write_all(&mut f, &block).unwrap();
    }
}

fn median(reps: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..reps.max(1)).map(|_| run()).collect();
    times.sort();
    times[times.len() / 2]
}

/// One `sftp -b` session, connection set-up included.
fn sftp(port: u16, key: &Path, cipher: &str, batch: &str) -> Duration {
    let mut child = Command::new("sftp")
        .args(["-q", "-b", "-", "-P", &port.to_string(), "-c", cipher, "-i"])
        .arg(key)
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "127.0.0.1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), batch.as_bytes()).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "sftp failed: {batch}");
    start.elapsed()
}
