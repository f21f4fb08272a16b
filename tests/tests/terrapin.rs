//! Terrapin (CVE-2023-48795) against both pairings: a proxy injects an unencrypted
//! `SSH_MSG_IGNORE` just before `SSH_MSG_NEWKEYS` and drops the first packet after it, so that
//! without strict kex the receiver's sequence numbers line up again and a packet (such as
//! EXT_INFO) vanishes unnoticed. Both sides offer strict kex (OpenSSH PROTOCOL §1.10,
//! `kex-strict-*-v00@openssh.com`), under which the connection must fail instead, for
//! chacha20-poly1305 and for an encrypt-then-MAC mode, whichever side receives the
//! manipulated stream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sshwire_tests::proxy::{Direction, Proxy, Tamper};
use sshwire_tests::{Serve, Sshd, ed25519_key_file, openssh_available, openssh_query};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// What our transport says when a non-kex message arrives during the initial key exchange
/// under strict kex (`Error::UnexpectedMessage` with the state "in the initial key exchange
/// (strict kex)").
const OURS: &str = "(strict kex)";

/// What OpenSSH says in the same case (packet.c: "strict KEX violation: unexpected packet
/// type ...").
const THEIRS: &str = "strict KEX violation";

/// The suites: (cipher, MAC, the tag length of a mode whose packet length is in the clear).
const SUITES: [(&str, Option<&str>, Option<usize>); 2] = [
    ("chacha20-poly1305@openssh.com", None, None),
    (
        "aes128-ctr",
        Some("hmac-sha2-256-etm@openssh.com"),
        Some(32),
    ),
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// OpenSSH must offer the suites and strict kex (its KEXINIT lists the marker when it does;
/// `ssh -Q kex` does not show it, so its version tells: 9.6, or a distribution backport).
fn check_openssh_offers_suites() {
    let ciphers = openssh_query("cipher");
    let macs = openssh_query("mac");
    for (cipher, mac, _) in SUITES {
        assert!(ciphers.iter().any(|c| c == cipher), "ssh lacks {cipher}");
        if let Some(mac) = mac {
            assert!(macs.iter().any(|m| m == mac), "ssh lacks {mac}");
        }
    }
}

/// `-o` options for a suite, and options for a non-interactive login that trusts any host
/// key.
fn options(cipher: &str, mac: Option<&str>) -> Vec<String> {
    let mut o = vec![format!("Ciphers={cipher}")];
    if let Some(mac) = mac {
        o.push(format!("MACs={mac}"));
    }
    o.extend(
        [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "GlobalKnownHostsFile=/dev/null",
            "BatchMode=yes",
        ]
        .map(str::to_owned),
    );
    o.into_iter().flat_map(|o| ["-o".to_owned(), o]).collect()
}

/// Runs `program` under coreutils' `timeout`, so that a stalled connection fails the test.
fn run_bounded(program: &str, args: &[String], dir: &Path) -> Output {
    Command::new("timeout")
        .args(["-k", "5", "30", program])
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A log after its first `before` bytes, once it holds `message`, or as it is after a
/// deadline: a server writes its line as its side of the connection ends, and a thread
/// carries it into the log, possibly just after the client has exited (a condition polled,
/// with a deadline).
fn log_with(log: impl Fn() -> String, before: usize, message: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = log().get(before..).unwrap_or_default().to_owned();
        if now.contains(message) || Instant::now() > deadline {
            return now;
        }
        std::thread::yield_now();
    }
}

/// One connection's result: the client's output and the receiver's log.
struct Run {
    out: Output,
    /// The log of the side that received the manipulated stream.
    receiver: String,
    /// What our side (client or server) said about the connection.
    ours: String,
    proxy_injected: usize,
}

/// Asserts that the untouched connection worked and the manipulated one failed, the receiver
/// naming strict kex as the cause.
fn assert_refused(what: &str, clean: &Output, run: &Run, message: &str) {
    assert!(
        clean.status.success(),
        "{what}: the connection fails even without the manipulation: {}",
        text(&clean.stderr)
    );
    assert_eq!(run.proxy_injected, 1, "{what}: nothing was injected");
    assert_ne!(
        run.out.status.code(),
        Some(124),
        "{what}: the connection stalled"
    );
    assert!(
        !run.out.status.success(),
        "{what}: the connection survived the Terrapin manipulation\nstdout: {}\nstderr: {}",
        text(&run.out.stdout),
        text(&run.out.stderr)
    );
    assert!(
        run.receiver.contains(message),
        "{what}: the receiver does not name strict kex ({message:?})\nreceiver: {}\n\
         client stderr: {}",
        run.receiver,
        text(&run.out.stderr)
    );
    // Whichever side saw it, ours names the cause: its own refusal, or the reason in
    // OpenSSH's DISCONNECT.
    assert!(
        run.ours.contains(OURS) || run.ours.contains(&format!("PROTOCOL_ERROR): {THEIRS}")),
        "{what}: our side does not say why the connection ended: {}",
        run.ours
    );
}

/// A daemon that accepts a new key, and that key.
fn sshd_and_key(dir: &Path) -> (Sshd, PathBuf) {
    let sshd = Sshd::start("");
    let key = dir.join("id");
    sshd.authorize(&ed25519_key_file(&key));
    (sshd, key)
}

#[test]
fn sshwire_exec_to_openssh_sshd_terrapin_fails_under_strict_kex() {
    if !openssh_available("sshwire_exec_to_openssh_sshd_terrapin_fails_under_strict_kex") {
        return;
    }
    check_openssh_offers_suites();
    let dir = tempfile::tempdir().unwrap();
    let (sshd, key) = sshd_and_key(dir.path());
    for (cipher, mac, clear_length_tag) in SUITES {
        let args = |port: u16| -> Vec<String> {
            let mut a = vec![
                "exec".to_owned(),
                "-p".to_owned(),
                port.to_string(),
                "-i".to_owned(),
                key.display().to_string(),
            ];
            a.extend(options(cipher, mac));
            a.extend(["127.0.0.1".to_owned(), "echo reached".to_owned()]);
            a
        };
        let clean = run_bounded(PROGRAM, &args(sshd.port), dir.path());
        assert_eq!(text(&clean.stdout), "reached\n", "{}", text(&clean.stderr));
        for direction in [Direction::ServerToClient, Direction::ClientToServer] {
            let proxy = Proxy::start(
                sshd.port,
                Tamper::Terrapin {
                    direction,
                    clear_length_tag,
                },
            )
            .unwrap();
            let before = sshd.log().len();
            let out = run_bounded(PROGRAM, &args(proxy.port), dir.path());
            // Our client receives the server's stream; sshd the client's.
            let (receiver, message) = match direction {
                Direction::ServerToClient => (text(&out.stderr), OURS),
                Direction::ClientToServer => (log_with(|| sshd.log(), before, THEIRS), THEIRS),
            };
            let run = Run {
                ours: text(&out.stderr),
                out,
                receiver,
                proxy_injected: proxy.report().injected,
            };
            let what = format!("exec→sshd {cipher} {mac:?} {direction:?}");
            assert_refused(&what, &clean, &run, message);
            eprintln!(
                "{what}: refused ({:?}); our client said: {}",
                proxy.report(),
                run.ours.trim()
            );
        }
    }
}

#[test]
fn openssh_ssh_to_sshwire_serve_terrapin_fails_under_strict_kex() {
    if !openssh_available("openssh_ssh_to_sshwire_serve_terrapin_fails_under_strict_kex") {
        return;
    }
    check_openssh_offers_suites();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id");
    let public = ed25519_key_file(&key);
    let host = dir.path().join("host");
    ed25519_key_file(&host);
    let serve = Serve::start_with_users(Path::new(PROGRAM), &[host], &public, None, &[]);
    let batch = dir.path().join("batch");
    std::fs::write(&batch, "pwd\n").unwrap();
    for (cipher, mac, clear_length_tag) in SUITES {
        // OpenSSH's sftp (`sshwire serve` serves SFTP only) with a batch that needs a working
        // session.
        let args = |port: u16| -> Vec<String> {
            let mut a = vec![
                "-b".to_owned(),
                batch.display().to_string(),
                "-P".to_owned(),
                port.to_string(),
                "-i".to_owned(),
                key.display().to_string(),
                "-F".to_owned(),
                "/dev/null".to_owned(),
            ];
            a.extend(options(cipher, mac));
            a.push("127.0.0.1".to_owned());
            a
        };
        let clean = run_bounded("sftp", &args(serve.port), dir.path());
        assert!(
            text(&clean.stdout).contains("Remote working directory"),
            "{}",
            text(&clean.stderr)
        );
        for direction in [Direction::ServerToClient, Direction::ClientToServer] {
            let proxy = Proxy::start(
                serve.port,
                Tamper::Terrapin {
                    direction,
                    clear_length_tag,
                },
            )
            .unwrap();
            let before = serve.log().len();
            let out = run_bounded("sftp", &args(proxy.port), dir.path());
            // OpenSSH's client receives our server's stream; our server the client's.
            let (receiver, message) = match direction {
                Direction::ServerToClient => (text(&out.stderr), THEIRS),
                Direction::ClientToServer => (log_with(|| serve.log(), before, OURS), OURS),
            };
            let run = Run {
                ours: log_with(|| serve.log(), before, "strict"),
                out,
                receiver,
                proxy_injected: proxy.report().injected,
            };
            let what = format!("sftp→serve {cipher} {mac:?} {direction:?}");
            assert_refused(&what, &clean, &run, message);
            eprintln!(
                "{what}: refused ({:?}); our server said: {}",
                proxy.report(),
                run.ours.trim()
            );
        }
    }
}
