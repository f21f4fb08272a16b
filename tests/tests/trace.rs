//! `SSHWIRE_TRACE=1` and `-vvv`: a real `sshwire sftp -b` session against `sshwire serve`, both
//! traced, shows every layer decoded (KEXINIT with its name-lists, NEWKEYS, the login, the
//! session channel, the SFTP packets) and never the password.
//!
//! Needs nothing but the `sshwire` program: keys and the password file come from its own
//! `keygen` and `passwd`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// The password of `alice`; it must never appear in a trace.
const PASSWORD: &str = "tr4ce-me-N0t-hunter2";

/// A traced `sshwire serve`, its standard error going to a file; killed on drop.
struct TracedServe {
    child: Child,
    port: u16,
    stderr: PathBuf,
}

impl TracedServe {
    /// Stops the server and returns everything it wrote to standard error.
    ///
    /// Every line the tests look for was written before the client's request that needed it
    /// was answered, so it is in the file once the client has exited.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.stderr).unwrap()
    }
}

impl Drop for TracedServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    dir: tempfile::TempDir,
    /// alice's key (authorized on the server).
    key: PathBuf,
}

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(PROGRAM)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sshwire {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A host key, alice's key and password, and a served tree with `docs/report.txt`.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    for name in ["host", "alice"] {
        run(
            &[
                "keygen",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                p(name).to_str().unwrap(),
            ],
            "",
        );
    }
    std::fs::copy(p("alice.pub"), p("authorized_keys")).unwrap();
    let passwd = run(&["passwd", "alice"], &format!("{PASSWORD}\n"));
    std::fs::write(p("passwords"), passwd.stdout).unwrap();
    std::fs::create_dir_all(p("root/docs")).unwrap();
    std::fs::write(p("root/docs/report.txt"), b"quarterly numbers\n").unwrap();
    std::fs::write(
        p("askpass.sh"),
        format!("#!/bin/sh\nprintf '%s\\n' '{PASSWORD}'\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        p("askpass.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::create_dir(p("local")).unwrap();
    let key = p("alice");
    Setup { dir, key }
}

/// Starts `sshwire serve` with `SSHWIRE_TRACE=1`.
fn serve(s: &Setup) -> TracedServe {
    let p = |name: &str| s.dir.path().join(name);
    let stderr = p("serve.err");
    let mut child = Command::new(PROGRAM)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--root"])
        .arg(p("root"))
        .arg("--host-key")
        .arg(p("host"))
        .arg("--authorized-keys")
        .arg(p("authorized_keys"))
        .arg("--password-file")
        .arg(p("passwords"))
        .env("SSHWIRE_TRACE", "1")
        .env("XDG_CONFIG_HOME", p("config"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut port = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
            port = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse().ok());
            break;
        }
    }
    // The rest of its standard output (the host key, how to connect) is read and dropped, so
    // that the server never writes to a closed pipe.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    let Some(port) = port else {
        let _ = child.kill();
        panic!(
            "sshwire serve did not start: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
    };
    TracedServe {
        child,
        port,
        stderr,
    }
}

/// Runs `sshwire sftp -b` with `batch` and `extra` arguments; `trace_env` sets SSHWIRE_TRACE.
fn sftp(s: &Setup, server: &TracedServe, batch: &str, extra: &[&str], trace_env: bool) -> Output {
    let batch_file = s.dir.path().join("batch");
    std::fs::write(&batch_file, batch).unwrap();
    let mut cmd = Command::new(PROGRAM);
    cmd.arg("sftp")
        .args(["-F", "none", "-P", &server.port.to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .arg("-b")
        .arg(&batch_file)
        .args(extra)
        .arg("alice@127.0.0.1")
        .current_dir(s.dir.path().join("local"))
        .env("SSH_ASKPASS", s.dir.path().join("askpass.sh"))
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .env("HOME", s.dir.path())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSHWIRE_TRACE")
        .stdin(Stdio::null());
    if trace_env {
        cmd.env("SSHWIRE_TRACE", "1");
    }
    cmd.output().unwrap()
}

/// The trace lines of `side` in `stderr`.
fn trace_lines(stderr: &str, side: &str) -> Vec<String> {
    let prefix = format!("trace: {side} ");
    stderr
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// Asserts that some line of `lines` contains every one of `parts`.
fn has(lines: &[String], parts: &[&str], what: &str) {
    assert!(
        lines.iter().any(|l| parts.iter().all(|p| l.contains(p))),
        "{what}: no trace line with {parts:?} in:\n{}",
        lines.join("\n")
    );
}

#[test]
fn a_traced_sftp_session_shows_every_layer_and_never_the_password() {
    let s = setup();
    let server = serve(&s);
    let out = sftp(
        &s,
        &server,
        "ls docs\nget docs/report.txt\n",
        &[
            "-o",
            "BatchMode=no",
            "-o",
            "PreferredAuthentications=password",
        ],
        true,
    );
    let client_err = String::from_utf8_lossy(&out.stderr).into_owned();
    let server_err = server.stop();
    assert!(out.status.success(), "{client_err}\n{server_err}");
    assert_eq!(
        std::fs::read(s.dir.path().join("local/report.txt")).unwrap(),
        b"quarterly numbers\n"
    );
    let client = trace_lines(&client_err, "client");
    let server = trace_lines(&server_err, "server");
    for (lines, us) in [(&client, "client"), (&server, "server")] {
        let kexinit: &[&str] = &[
            "SSH_MSG_KEXINIT kex_algorithms=[",
            "curve25519-sha256",
            "server_host_key_algorithms=[",
            "encryption_c2s=[",
            "mac_s2c=[",
            "compression_c2s=[",
            "first_kex_packet_follows=false",
        ];
        has(lines, &[&[" > #0 "][..], kexinit].concat(), us);
        has(lines, &[&[" < #0 "][..], kexinit].concat(), us);
        has(lines, &[" > #", "SSH_MSG_NEWKEYS"], us);
        has(lines, &[" < #", "SSH_MSG_NEWKEYS"], us);
        has(
            lines,
            &[
                "SSH_MSG_USERAUTH_REQUEST user=\"alice\" service=ssh-connection method=password",
                "password=<redacted>",
            ],
            us,
        );
        has(lines, &["SSH_MSG_USERAUTH_SUCCESS"], us);
        has(lines, &["SSH_MSG_CHANNEL_OPEN type=session sender=0"], us);
        has(
            lines,
            &["SSH_MSG_CHANNEL_REQUEST", "type=subsystem", "name=\"sftp\""],
            us,
        );
        has(lines, &[" sftp SSH_FXP_OPENDIR id=", "path=\"/docs\""], us);
        has(
            lines,
            &[" sftp SSH_FXP_NAME id=", "names=[", "\"report.txt\""],
            us,
        );
        has(
            lines,
            &[
                " sftp SSH_FXP_OPEN id=",
                "path=\"/docs/report.txt\"",
                "pflags=READ",
            ],
            us,
        );
        has(lines, &[" sftp SSH_FXP_DATA id=", "(18 bytes)"], us);
    }
    // Which way each went: the client sends the request, the server receives it.
    has(&client, &["client > #", "method=password"], "client");
    has(&server, &["server < #", "method=password"], "server");
    has(&client, &["client > sftp SSH_FXP_OPENDIR"], "client");
    has(&server, &["server < sftp SSH_FXP_OPENDIR"], "server");
    has(&client, &["client < sftp SSH_FXP_NAME"], "client");
    has(&server, &["server > sftp SSH_FXP_NAME"], "server");
    // No secret and no file content anywhere, in the traces or around them.
    for (text, who) in [(&client_err, "client"), (&server_err, "server")] {
        assert!(!text.contains(PASSWORD), "{who} printed the password");
        assert!(!text.contains("quarterly"), "{who} printed file data");
    }
}

#[test]
fn vvv_traces_a_publickey_login_without_the_environment_variable() {
    let s = setup();
    let server = serve(&s);
    let key = s.key.to_str().unwrap().to_owned();
    let out = sftp(
        &s,
        &server,
        "ls\n",
        &[
            "-vvv",
            "-i",
            &key,
            "-o",
            "PreferredAuthentications=publickey",
        ],
        false,
    );
    let client_err = String::from_utf8_lossy(&out.stderr).into_owned();
    drop(server);
    assert!(out.status.success(), "{client_err}");
    let client = trace_lines(&client_err, "client");
    has(
        &client,
        &["client > #0 SSH_MSG_KEXINIT kex_algorithms=["],
        "-vvv",
    );
    has(
        &client,
        &[
            "client > #",
            "method=publickey algorithm=ssh-ed25519 key=ssh-ed25519 SHA256:",
            "signature=ssh-ed25519 (64 bytes)",
        ],
        "-vvv",
    );
    has(&client, &["client > sftp SSH_FXP_OPENDIR id="], "-vvv");
    // The private key's bytes never appear: only its public fingerprint.
    let private = std::fs::read_to_string(&s.key).unwrap();
    let body: String = private
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for chunk in body.as_bytes().chunks(24) {
        let chunk = std::str::from_utf8(chunk).unwrap();
        assert!(
            !client_err.contains(chunk),
            "private key material in the trace"
        );
    }
}

#[test]
fn without_the_variable_or_vvv_nothing_is_traced() {
    let s = setup();
    let server = serve(&s);
    let key = s.key.to_str().unwrap().to_owned();
    let out = sftp(&s, &server, "ls\n", &["-v", "-i", &key], false);
    drop(server);
    let client_err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{client_err}");
    assert!(!client_err.contains("trace:"), "{client_err}");
}
