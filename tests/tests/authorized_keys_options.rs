//! `sshwire serve` enforces the options of its `authorized_keys` lines (sshd(8),
//! AUTHORIZED_KEYS FILE FORMAT) against OpenSSH's `ssh`: `from=`, `expiry-time=` and
//! `command=` are checked, options it cannot honour refuse the key, and each refusal is
//! logged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sshwire_tests::{Serve, openssh_available, ssh_keygen};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// The options of each key's line, and whether it logs in from 127.0.0.1.
const CASES: &[(&str, bool)] = &[
    ("", true),
    ("from=\"127.0.0.0/8\"", true),
    ("from=\"127.0.0.1,10.*\"", true),
    ("from=\"10.0.0.0/8\"", false),
    ("from=\"*,!127.0.0.1\"", false),
    ("from=\"localhost\"", false),
    ("expiry-time=\"20200101Z\"", false),
    ("restrict,expiry-time=\"29991231\"", true),
    ("restrict,command=\"internal-sftp\"", true),
    ("command=\"/usr/lib/openssh/sftp-server\"", true),
    ("command=\"/bin/sh\"", false),
    ("command=\"internal-sftp -R\"", false),
    (
        "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc",
        true,
    ),
    ("cert-authority", false),
    ("environment=\"LD_PRELOAD=/tmp/x.so\"", false),
    ("restrict,permitopen=\"localhost:22\"", false),
    ("tunnel=\"1\"", false),
    // Unknown: the line is skipped, as sshd does, and the key cannot log in.
    ("no-such-option", false),
];

fn key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    ssh_keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-f",
        path.to_str().unwrap(),
    ]);
    path
}

/// Whether `ssh -i key` authenticates to `serve` (which then runs no command).
fn logs_in(serve: &Serve, key: &Path) -> (bool, String) {
    let out = Command::new("ssh")
        .args(["-v", "-F", "/dev/null", "-p", &serve.port.to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=20",
        ])
        .args([
            "-o",
            "PreferredAuthentications=publickey",
            "-i",
            key.to_str().unwrap(),
        ])
        .args(["alice@127.0.0.1", "true"])
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    (text.contains("Authenticated to 127.0.0.1"), text)
}

#[test]
fn key_options_decide_who_logs_in() {
    if !openssh_available("key_options_decide_who_logs_in") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let host = key(dir.path(), "host");
    let keys: Vec<PathBuf> = (0..CASES.len())
        .map(|i| key(dir.path(), &format!("id{i}")))
        .collect();
    let mut authorized = String::new();
    for ((options, _), key) in CASES.iter().zip(&keys) {
        let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
        authorized.push_str(&format!("{options} {public}"));
    }
    // 9 refused keys from one address would earn it a penalty: off, to try them all.
    let serve = Serve::start_with_users(
        Path::new(PROGRAM),
        &[host],
        &authorized,
        None,
        &["--no-penalties"],
    );
    for ((options, allowed), key) in CASES.iter().zip(&keys) {
        let (logged_in, text) = logs_in(&serve, key);
        assert_eq!(logged_in, *allowed, "{options:?}: {text}\n{}", serve.log());
    }
    let log = serve.log();
    // Every key refused for its options is logged, with the reason; the unknown option's
    // line is reported when the file is read.
    let refusals = log
        .lines()
        .filter(|l| l.contains("refused by its authorized_keys options"))
        .collect::<Vec<_>>();
    for needle in [
        "10.0.0.0/8",
        "excluded by !127.0.0.1",
        "expired",
        "/bin/sh",
        "internal-sftp -R",
        "cert-authority",
        "environment",
        "permitopen",
        "tunnel",
    ] {
        assert!(
            refusals.iter().any(|l| l.contains(needle)),
            "no refusal mentions {needle:?}:\n{log}"
        );
    }
    assert!(log.contains("skipped: unknown option"), "{log}");
}
