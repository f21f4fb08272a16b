//! Integrity under bit flips, like OpenSSH's regress/integrity.sh: a proxy flips one bit of the
//! encrypted stream, at several offsets past the authentication, during a 3 MB transfer, for
//! each cipher and MAC both sides offer, in both pairings (OpenSSH's `sftp` against
//! `sshwire serve`, and `sshwire exec` against OpenSSH's sshd) and both directions. Every flip
//! must end the connection with an integrity error on the receiving side, and the
//! destination must be absent or a true prefix of the source: no flipped byte is ever
//! accepted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sshwire_tests::proxy::{Direction, Proxy, Tamper};
use sshwire_tests::{Serve, Sshd, ed25519_key_file, openssh_available, openssh_query};
use sshwire_transport::cipher::{CipherAlg, MacAlg};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// Bytes transferred: enough that every offset below lands in the middle of the data.
const SIZE: usize = 3_000_000;

/// How long one transfer may take before it counts as hung (`timeout`'s limit, in seconds).
const TIMEOUT: &str = "30";

/// What a receiver of ours says when it refuses a packet (the transport's `PacketError`):
/// a MAC or AEAD tag that does not verify, or (when the flip hit a length or padding field)
/// a length or padding out of bounds.
const OURS: [&str; 3] = [
    "message authentication failed",
    "bad packet length",
    "bad padding length",
];

/// What OpenSSH says in the same cases (packet.c, ssherr.c).
const THEIRS: [&str; 4] = [
    "Corrupted MAC on input",
    "message authentication code incorrect",
    "Bad packet length",
    "padding error",
];

/// (cipher, MAC) pairs to try, those both sides support: aes128-ctr with each SHA-2 MAC, and
/// the AEAD ciphers (whose MAC is implicit).
fn suites() -> Vec<(String, Option<String>)> {
    let their_ciphers = openssh_query("cipher");
    let their_macs = openssh_query("mac");
    let our_ciphers: Vec<&str> = CipherAlg::all().iter().map(|c| c.name()).collect();
    let our_macs: Vec<&str> = MacAlg::ALL.iter().map(|m| m.name()).collect();
    let both = |name: &str, ours: &[&str], theirs: &[String]| {
        ours.contains(&name) && theirs.iter().any(|t| t == name)
    };
    let mut suites = Vec::new();
    if both("aes128-ctr", &our_ciphers, &their_ciphers) {
        for mac in [
            "hmac-sha2-256",
            "hmac-sha2-512",
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
        ] {
            if both(mac, &our_macs, &their_macs) {
                suites.push(("aes128-ctr".to_owned(), Some(mac.to_owned())));
            }
        }
    }
    for cipher in [
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
    ] {
        if both(cipher, &our_ciphers, &their_ciphers) {
            suites.push((cipher.to_owned(), None));
        }
    }
    assert!(suites.len() >= 5, "too few common suites: {suites:?}");
    suites
}

/// `-o` options choosing the suite.
fn suite_options(cipher: &str, mac: &Option<String>) -> Vec<String> {
    let mut o = vec!["-o".to_owned(), format!("Ciphers={cipher}")];
    if let Some(mac) = mac {
        o.extend(["-o".to_owned(), format!("MACs={mac}")]);
    }
    o
}

/// The flips for suite number `i`: three offsets past the authentication (which takes a few
/// KB), spread over the transfer and varied per suite, each with its own bit.
fn flips(i: usize) -> [(u64, u8); 3] {
    let k = i as u64;
    [
        (65_536 + 7 * k, (i % 8) as u8),
        (700_001 + 1031 * k, ((i + 3) % 8) as u8),
        (1_900_000 + 4093 * k, ((i + 6) % 8) as u8),
    ]
}

/// Deterministic, non-repeating-looking contents.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cmd` under coreutils' `timeout`, so that a hung transfer fails the test.
fn run_bounded(program: &str, args: &[String], stdin: Option<&Path>, dir: &Path) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", TIMEOUT, program])
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("SSH_AUTH_SOCK");
    match stdin {
        Some(p) => cmd.stdin(std::fs::File::open(p).unwrap()),
        None => cmd.stdin(Stdio::null()),
    };
    cmd.output().unwrap()
}

/// What one flipped transfer must show; `what` names it in failures.
struct Outcome<'a> {
    what: String,
    out: Output,
    /// The log of the side that received the flipped bit.
    receiver_log: String,
    /// The messages that side may give.
    messages: &'static [&'static str],
    /// The destination file, or the downloaded bytes.
    destination: Option<Vec<u8>>,
    /// Whether the destination may have holes (runs of zeros where the source has data).
    /// Never with our server or OpenSSH's: both answer the READs of one handle in order and
    /// apply its WRITEs in order, so a transfer cut short leaves a prefix. (Before `sshwire
    /// serve` ordered its READ replies, OpenSSH's `sftp` left whole zero blocks.)
    holes_allowed: bool,
    proxy: &'a Proxy,
}

impl Outcome<'_> {
    /// Checks it; returns the message the receiver gave and whether the destination had
    /// holes.
    fn check(&self, source: &[u8]) -> (&'static str, bool) {
        let what = &self.what;
        let report = self.proxy.report();
        assert_eq!(report.flipped, 1, "{what}: the bit was not flipped");
        assert_ne!(
            self.out.status.code(),
            Some(124),
            "{what}: the transfer hung\nstderr: {}\nreceiver: {}",
            text(&self.out.stderr),
            self.receiver_log
        );
        assert!(
            !self.out.status.success(),
            "{what}: the transfer succeeded despite the flip\nstderr: {}",
            text(&self.out.stderr)
        );
        let mut had_holes = false;
        if let Some(dest) = &self.destination {
            let holes = if self.holes_allowed {
                holes(dest, source)
            } else {
                Vec::new()
            };
            let complete = dest.len() == source.len() && holes.is_empty();
            let faithful = dest.len() <= source.len()
                && dest
                    .iter()
                    .zip(source)
                    .enumerate()
                    .all(|(i, (d, s))| d == s || holes.iter().any(|h| h.contains(&i)));
            assert!(
                faithful && !complete,
                "{what}: the destination ({} bytes, holes {holes:?}) is not the source ({} \
                 bytes) cut short: a corrupted byte was accepted (first difference at {:?})\n\
                 stderr: {}\nreceiver: {}",
                dest.len(),
                source.len(),
                dest.iter().zip(source).position(|(a, b)| a != b),
                text(&self.out.stderr),
                self.receiver_log
            );
            had_holes = !holes.is_empty();
            if had_holes {
                eprintln!("{what}: holes {holes:?} in {} bytes", dest.len());
            }
        }
        let Some(found) = self
            .messages
            .iter()
            .find(|m| self.receiver_log.contains(**m))
            .copied()
        else {
            panic!(
                "{what}: the receiver gave no integrity error\nreceiver: {}\nclient stderr: {}",
                self.receiver_log,
                text(&self.out.stderr)
            );
        };
        (found, had_holes)
    }
}

/// The holes of `dest`: runs of at least [`MIN_HOLE`] zero bytes where `source` is not zero
/// (blocks an interrupted SFTP transfer never wrote). A flipped bit accepted would show as a
/// lone wrong byte, never as such a run.
fn holes(dest: &[u8], source: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, d) in dest.iter().chain([&1]).enumerate() {
        match (start, *d == 0) {
            (None, true) => start = Some(i),
            (Some(b), false) => {
                start = None;
                runs.push(b..i);
            }
            _ => {}
        }
    }
    runs.retain(|r| {
        r.len() >= MIN_HOLE
            && source
                .get(r.clone())
                .is_some_and(|s| s.iter().any(|&x| x != 0))
    });
    runs
}

/// The shortest run of zeros counted as a hole: far more than one flipped byte, less than an
/// SFTP read or write (OpenSSH's sftp moves 32 KiB at a time).
const MIN_HOLE: usize = 1024;

/// Tallies which message each flip produced, for the test's output.
#[derive(Default, Debug)]
struct Tally {
    messages: std::collections::BTreeMap<&'static str, usize>,
    runs: usize,
    with_holes: usize,
}

impl Tally {
    fn add(&mut self, (message, holes): (&'static str, bool)) {
        *self.messages.entry(message).or_default() += 1;
        self.runs += 1;
        self.with_holes += usize::from(holes);
    }
}

#[test]
fn openssh_sftp_to_sshwire_serve_every_flip_is_refused() {
    if !openssh_available("openssh_sftp_to_sshwire_serve_every_flip_is_refused") {
        return;
    }
    let client_dir = tempfile::tempdir().unwrap();
    let key = client_dir.path().join("id");
    let public = ed25519_key_file(&key);
    let host = client_dir.path().join("host");
    ed25519_key_file(&host);
    let serve = Serve::start_with_users(Path::new(PROGRAM), &[host], &public, None, &[]);
    let root = serve.dir.path().join("root");
    let source = pattern(SIZE);
    let local = client_dir.path().join("source.bin");
    std::fs::write(&local, &source).unwrap();
    std::fs::write(root.join("source.bin"), &source).unwrap();
    let mut tally = Tally::default();
    for (i, (cipher, mac)) in suites().iter().enumerate() {
        for (j, (offset, bit)) in flips(i).into_iter().enumerate() {
            for direction in [Direction::ClientToServer, Direction::ServerToClient] {
                let proxy = Proxy::start(
                    serve.port,
                    Tamper::FlipBit {
                        direction,
                        offset,
                        bit,
                    },
                )
                .unwrap();
                // Up for client-to-server flips, down for server-to-client ones, so that the
                // flipped stream carries the data.
                let name = format!("f{i}_{j}_{direction:?}.bin");
                let (command, dest) = match direction {
                    Direction::ClientToServer => (
                        format!("put {} {name}\n", local.display()),
                        root.join(&name),
                    ),
                    Direction::ServerToClient => (
                        format!(
                            "get source.bin {}\n",
                            client_dir.path().join(&name).display()
                        ),
                        client_dir.path().join(&name),
                    ),
                };
                let batch = client_dir.path().join("batch");
                std::fs::write(&batch, command).unwrap();
                let before = serve.log().len();
                let mut args = vec![
                    "-b".to_owned(),
                    batch.display().to_string(),
                    "-P".to_owned(),
                    proxy.port.to_string(),
                    "-i".to_owned(),
                    key.display().to_string(),
                    "-F".to_owned(),
                    "/dev/null".to_owned(),
                ];
                for o in [
                    "StrictHostKeyChecking=no",
                    "UserKnownHostsFile=/dev/null",
                    "BatchMode=yes",
                ] {
                    args.extend(["-o".to_owned(), o.to_owned()]);
                }
                args.extend(suite_options(cipher, mac));
                args.push("127.0.0.1".to_owned());
                let out = run_bounded("sftp", &args, None, client_dir.path());
                let (receiver_log, messages): (String, &'static [&'static str]) = match direction {
                    Direction::ClientToServer => (log_with(|| serve.log(), before, &OURS), &OURS),
                    Direction::ServerToClient => (text(&out.stderr), &THEIRS),
                };
                let outcome = Outcome {
                    what: format!(
                        "sftp→serve {cipher} {mac:?} {direction:?} offset {offset} bit {bit}"
                    ),
                    out,
                    receiver_log,
                    messages,
                    destination: std::fs::read(&dest).ok(),
                    holes_allowed: false,
                    proxy: &proxy,
                };
                tally.add(outcome.check(&source));
                let _ = std::fs::remove_file(&dest);
            }
        }
    }
    eprintln!("every flip refused: {tally:?}");
}

/// A server's log after its first `before` bytes, once it holds one of `messages`, or as it
/// is after a deadline. The server writes its line as its side of the connection ends, and a
/// thread carries it into the log; the client may have exited a moment before: a condition
/// polled, with a deadline.
fn log_with(log: impl Fn() -> String, before: usize, messages: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = log().get(before..).unwrap_or_default().to_owned();
        if messages.iter().any(|m| now.contains(m)) || Instant::now() > deadline {
            return now;
        }
        std::thread::yield_now();
    }
}

/// A daemon that accepts `key` and the client's directory.
fn sshd_and_key() -> (Sshd, tempfile::TempDir, PathBuf) {
    let sshd = Sshd::start("");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id");
    sshd.authorize(&ed25519_key_file(&key));
    (sshd, dir, key)
}

#[test]
fn sshwire_exec_to_openssh_sshd_every_flip_is_refused() {
    if !openssh_available("sshwire_exec_to_openssh_sshd_every_flip_is_refused") {
        return;
    }
    let (sshd, dir, key) = sshd_and_key();
    let source = pattern(SIZE);
    let local = dir.path().join("source.bin");
    std::fs::write(&local, &source).unwrap();
    let mut tally = Tally::default();
    for (i, (cipher, mac)) in suites().iter().enumerate() {
        for (j, (offset, bit)) in flips(i).into_iter().enumerate() {
            for direction in [Direction::ClientToServer, Direction::ServerToClient] {
                let proxy = Proxy::start(
                    sshd.port,
                    Tamper::FlipBit {
                        direction,
                        offset,
                        bit,
                    },
                )
                .unwrap();
                let dest = dir.path().join(format!("f{i}_{j}.bin"));
                let remote = match direction {
                    Direction::ClientToServer => format!("cat > '{}'", dest.display()),
                    Direction::ServerToClient => format!("cat '{}'", local.display()),
                };
                let mut args = vec![
                    "exec".to_owned(),
                    "-p".to_owned(),
                    proxy.port.to_string(),
                    "-i".to_owned(),
                    key.display().to_string(),
                ];
                for o in [
                    "StrictHostKeyChecking=no",
                    "UserKnownHostsFile=/dev/null",
                    "GlobalKnownHostsFile=/dev/null",
                    "BatchMode=yes",
                ] {
                    args.extend(["-o".to_owned(), o.to_owned()]);
                }
                args.extend(suite_options(cipher, mac));
                args.extend(["127.0.0.1".to_owned(), remote]);
                let before = sshd.log().len();
                let stdin = (direction == Direction::ClientToServer).then_some(local.as_path());
                let out = run_bounded(PROGRAM, &args, stdin, dir.path());
                let (receiver_log, messages, destination): (String, &'static [&'static str], _) =
                    match direction {
                        Direction::ClientToServer => (
                            log_with(|| sshd.log(), before, &THEIRS),
                            &THEIRS,
                            std::fs::read(&dest).ok(),
                        ),
                        Direction::ServerToClient => {
                            (text(&out.stderr), &OURS, Some(out.stdout.clone()))
                        }
                    };
                let outcome = Outcome {
                    what: format!(
                        "exec→sshd {cipher} {mac:?} {direction:?} offset {offset} bit {bit}"
                    ),
                    out,
                    receiver_log,
                    messages,
                    destination,
                    holes_allowed: false,
                    proxy: &proxy,
                };
                tally.add(outcome.check(&source));
                let _ = std::fs::remove_file(&dest);
            }
        }
    }
    eprintln!("every flip refused: {tally:?}");
}
