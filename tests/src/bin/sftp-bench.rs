//! SFTP throughput in one run: OpenSSH's `sftp` and `sshwire sftp`, each against OpenSSH's
//! sshd (with its own sftp-server) and against `sshwire serve`, per cipher; then many small
//! files, recursively.
//!
//! `cargo build --release -p sshwire-tests --bins`, then
//! `cargo run --release -p sshwire-tests --bin sftp-bench [MiB] [repetitions] [files]`
//!
//! Downloads of the large file go to /dev/null; uploads write a file on the server (the same
//! disk for both servers); the small files go to a local directory emptied before each run.
//! Prints the median of the repetitions and each pairing's ratio to OpenSSH's pair.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sshwire_tests::{Serve, Sshd, ed25519_key_file};

/// Which client program runs a batch.
#[derive(Clone, Copy)]
enum Client<'a> {
    /// OpenSSH's `sftp`.
    OpenSsh,
    /// `sshwire sftp`, through this program.
    Sshwire(&'a Path),
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let files: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
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
    let ssh_version = Command::new("ssh").arg("-V").output().unwrap();
    println!(
        "{mib} MiB per transfer, {files} files of 4 KiB, median of {reps}; {}",
        String::from_utf8_lossy(&ssh_version.stderr).trim()
    );
    println!("columns: client -> server; ratios are to OpenSSH sftp -> sshd (higher is better)");
    println!(
        "{:<30} {:>4} {:>11} {:>11} {:>11} {:>11} {:>8} {:>8} {:>8}",
        "cipher",
        "op",
        "sftp>sshd",
        "ours>sshd",
        "sftp>ours",
        "ours>ours",
        "ours>sshd",
        "sftp>ours",
        "pair"
    );
    let sshd_remote = |name: &str| sshd.dir.path().join(name).display().to_string();
    let serve_remote = |name: &str| format!("/{name}");
    let ours = Client::Sshwire(&program);
    for cipher in [
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
    ] {
        for get in [true, false] {
            let batch = |remote: String| {
                if get {
                    format!("get {remote} /dev/null\n")
                } else {
                    format!("put {} {remote}\n", local.display())
                }
            };
            let name = if get { "big.bin" } else { "up.bin" };
            let time = |client: Client<'_>, port: u16, remote: String| {
                median(reps, || {
                    sftp(client, port, &key, cipher, &batch(remote.clone()))
                })
            };
            let a = time(Client::OpenSsh, sshd.port, sshd_remote(name));
            let b = time(ours, sshd.port, sshd_remote(name));
            let c = time(Client::OpenSsh, serve.port, serve_remote(name));
            let d = time(ours, serve.port, serve_remote(name));
            let rate = |t: Duration| mib as f64 / t.as_secs_f64();
            println!(
                "{:<30} {:>4} {:>11.0} {:>11.0} {:>11.0} {:>11.0} {:>7.2}x {:>7.2}x {:>7.2}x",
                cipher,
                if get { "get" } else { "put" },
                rate(a),
                rate(b),
                rate(c),
                rate(d),
                rate(b) / rate(a),
                rate(c) / rate(a),
                rate(d) / rate(a)
            );
        }
    }
    // Many small files, recursively, with aes128-gcm.
    let tree = dir.path().join("small");
    std::fs::create_dir_all(&tree).unwrap();
    for i in 0..files {
        std::fs::write(tree.join(format!("f{i:05}")), vec![(i % 251) as u8; 4096]).unwrap();
    }
    let fetched = dir.path().join("fetched");
    let cipher = "aes128-gcm@openssh.com";
    for get in [false, true] {
        let batch = |remote: String| {
            let _ = std::fs::remove_dir_all(&fetched);
            if get {
                format!("get -r {remote} {}\n", fetched.display())
            } else {
                format!("put -r {} {remote}\n", tree.display())
            }
        };
        let time = |client: Client<'_>, port: u16, remote: String| {
            median(reps, || {
                sftp(client, port, &key, cipher, &batch(remote.clone()))
            })
        };
        let a = time(Client::OpenSsh, sshd.port, sshd_remote("small"));
        let b = time(ours, sshd.port, sshd_remote("small"));
        let c = time(Client::OpenSsh, serve.port, serve_remote("small"));
        let d = time(ours, serve.port, serve_remote("small"));
        let rate = |t: Duration| files as f64 / t.as_secs_f64();
        println!(
            "{:<30} {:>4} {:>11.0} {:>11.0} {:>11.0} {:>11.0} {:>7.2}x {:>7.2}x {:>7.2}x",
            format!("{files} x 4 KiB, files/s"),
            if get { "get" } else { "put" },
            rate(a),
            rate(b),
            rate(c),
            rate(d),
            rate(b) / rate(a),
            rate(c) / rate(a),
            rate(d) / rate(a)
        );
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

/// One batch session, connection set-up included.
fn sftp(client: Client<'_>, port: u16, key: &Path, cipher: &str, batch: &str) -> Duration {
    let mut cmd = match client {
        Client::OpenSsh => Command::new("sftp"),
        Client::Sshwire(program) => {
            let mut c = Command::new(program);
            c.arg("sftp");
            c
        }
    };
    let mut child = cmd
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
