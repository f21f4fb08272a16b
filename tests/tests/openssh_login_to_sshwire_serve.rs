//! OpenSSH's `ssh` logs in to `sshwire serve` with ed25519, ecdsa and rsa keys, with a
//! password and with keyboard-interactive; wrong keys and passwords are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sshwire_tests::{Serve, openssh_available, ssh_keygen};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

struct Setup {
    dir: tempfile::TempDir,
    serve: Serve,
    user_keys: Vec<PathBuf>,
    stranger: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let key = |name: &str, t: &str, bits: &str| {
        let path = dir.path().join(name);
        ssh_keygen(&[
            "-q",
            "-t",
            t,
            "-b",
            bits,
            "-N",
            "",
            "-f",
            path.to_str().unwrap(),
        ]);
        path
    };
    let host = key("host", "ed25519", "256");
    let user_keys = vec![
        key("id_ed25519", "ed25519", "256"),
        key("id_ecdsa256", "ecdsa", "256"),
        key("id_ecdsa384", "ecdsa", "384"),
        key("id_rsa", "rsa", "2048"),
    ];
    let stranger = key("stranger", "ed25519", "256");
    let authorized: String = user_keys
        .iter()
        .map(|k| std::fs::read_to_string(format!("{}.pub", k.display())).unwrap())
        .collect();
    // The password file line comes from `sshwire passwd`, fed the password on stdin.
    let mut passwd = Command::new(PROGRAM)
        .args(["passwd", "alice"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut passwd.stdin.take().unwrap(), b"correct horse\n").unwrap();
    let out = passwd.wait_with_output().unwrap();
    assert!(out.status.success());
    let passwords = String::from_utf8(out.stdout).unwrap();
    assert!(passwords.starts_with("alice:$argon2id$"), "{passwords}");
    let serve = Serve::start_with_users(
        Path::new(PROGRAM),
        &[host],
        &authorized,
        Some(&passwords),
        &[],
    );
    Setup {
        dir,
        serve,
        user_keys,
        stranger,
    }
}

/// Runs `ssh -v` with `args` and an askpass program that answers `password`.
fn ssh(s: &Setup, user: &str, password: &str, args: &[&str]) -> Output {
    let askpass = s.dir.path().join("askpass.sh");
    std::fs::write(
        &askpass,
        format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        &askpass,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    Command::new("ssh")
        .args(["-v", "-F", "/dev/null", "-p", &s.serve.port.to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=20"])
        .args(args)
        .arg(format!("{user}@127.0.0.1"))
        .arg("true")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn log(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn keys_of_every_type_log_in_and_strangers_do_not() {
    if !openssh_available("keys_of_every_type_log_in_and_strangers_do_not") {
        return;
    }
    let s = setup();
    for key in &s.user_keys {
        let out = ssh(
            &s,
            "anyone",
            "",
            &[
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "PreferredAuthentications=publickey",
                "-i",
                key.to_str().unwrap(),
            ],
        );
        let text = log(&out);
        assert!(
            text.contains("Authenticated to 127.0.0.1"),
            "{}: {text}\n{}",
            key.display(),
            s.serve.log()
        );
        // Logged in, but sshwire serve runs no commands, and says so.
        assert!(
            text.contains("sshwire serve runs no commands") || !out.status.success(),
            "{text}"
        );
    }
    let out = ssh(
        &s,
        "anyone",
        "",
        &[
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "PreferredAuthentications=publickey",
            "-i",
            s.stranger.to_str().unwrap(),
        ],
    );
    let text = log(&out);
    assert!(!text.contains("Authenticated to"), "{text}");
    assert!(text.contains("Permission denied (publickey"), "{text}");
}

#[test]
fn password_and_keyboard_interactive() {
    if !openssh_available("password_and_keyboard_interactive") {
        return;
    }
    let s = setup();
    for method in ["password", "keyboard-interactive"] {
        let pref = format!("PreferredAuthentications={method}");
        let out = ssh(&s, "alice", "correct horse", &["-o", &pref]);
        let text = log(&out);
        assert!(
            text.contains(&format!(
                "Authenticated to 127.0.0.1 ([127.0.0.1]:{}) using \"{method}\"",
                s.serve.port
            )),
            "{method}: {text}\n{}",
            s.serve.log()
        );
        let out = ssh(&s, "alice", "wrong", &["-o", &pref]);
        let text = log(&out);
        assert!(!text.contains("Authenticated to"), "{method}: {text}");
        assert!(text.contains("Permission denied"), "{method}: {text}");
        // An unknown user is refused the same way.
        let out = ssh(&s, "mallory", "correct horse", &["-o", &pref]);
        assert!(log(&out).contains("Permission denied"), "{method}");
    }
}
