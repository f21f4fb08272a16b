//! Running `sshwire serve`: JSON logs, SIGHUP reloads, SIGTERM drains, methods per user
//! (publickey,password), per-source penalties and `--check-config`, with OpenSSH's clients.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sshwire_tests::{openssh_available, ssh_keygen};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// How long anything awaited may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(30);

/// A `sshwire serve` process with its configuration in a temporary directory.
struct Running {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
}

impl Running {
    /// Writes `config` (`{dir}` replaced by the directory) and starts the server with it.
    fn start(dir: tempfile::TempDir, config: &str, extra: &[&str]) -> Running {
        write_config(dir.path(), config);
        let mut cmd = Command::new(PROGRAM);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(dir.path().join("sshwire.toml"))
            .args(extra);
        Running::spawn(dir, cmd)
    }

    /// Starts the server without a configuration: `--root`, `--authorized-keys` and
    /// `--host-key` in `dir`.
    fn start_flags(dir: tempfile::TempDir, host_key: &Path) -> Running {
        let mut cmd = Command::new(PROGRAM);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--root"])
            .arg(dir.path().join("root"))
            .arg("--authorized-keys")
            .arg(dir.path().join("authorized_keys"))
            .arg("--host-key")
            .arg(host_key);
        Running::spawn(dir, cmd)
    }

    fn spawn(dir: tempfile::TempDir, mut cmd: Command) -> Running {
        let mut child = cmd
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut port = None;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
                port = rest.split(',').next().and_then(|p| p.parse().ok());
                break;
            }
        }
        // The rest of standard output (host keys, users) is read and dropped.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        let Some(port) = port else {
            panic!("serve did not start: {:?}", stderr.lock().unwrap());
        };
        Running {
            child,
            port,
            stderr,
            dir,
        }
    }

    fn log(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until a log line contains `text`; returns it.
    fn wait_for_log(&self, text: &str) -> String {
        self.wait_for_log_after(0, text)
    }

    /// Waits until a log line after the first `skip` contains `text`.
    fn wait_for_log_after(&self, skip: usize, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(l) = self.log().iter().skip(skip).find(|l| l.contains(text)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} in the log:\n{}",
                self.log().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Whether a new connection is served: the server's identification comes, or the
    /// connection is closed (or refused) without it.
    fn serves_new_connections(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut first = [0u8; 4];
        match s.read_exact(&mut first) {
            Ok(()) => &first == b"SSH-",
            Err(_) => false,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, config: &str) {
    let text = config.replace("{dir}", &dir.display().to_string());
    std::fs::write(dir.join("sshwire.toml"), text).unwrap();
}

/// A new ed25519 key file in `dir`; returns its path and public line.
fn key(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("id_{name}"));
    ssh_keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-f",
        path.to_str().unwrap(),
    ]);
    let public = std::fs::read_to_string(format!("{}.pub", path.display())).unwrap();
    (path, public.trim().to_owned())
}

/// The argon2id hash `sshwire passwd` prints for `password`.
fn password_hash(password: &str) -> String {
    let mut p = Command::new(PROGRAM)
        .args(["passwd", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    line.trim().trim_start_matches("alice:").to_owned()
}

/// OpenSSH's options for a test server: no host key checks, no config, no agent.
fn client_options(port: u16) -> Vec<String> {
    [
        "-F",
        "/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ConnectTimeout=20",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-o",
        &format!("Port={port}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// An askpass program in `dir` that answers `password`.
fn write_askpass(dir: &Path, password: &str) -> PathBuf {
    let askpass = dir.join("askpass.sh");
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
    askpass
}

/// `ssh -v` as `user` with `args`; an askpass program answers `password` if asked.
fn ssh(r: &Running, user: &str, password: Option<&str>, args: &[&str]) -> Output {
    let askpass = write_askpass(r.dir.path(), password.unwrap_or("not the password"));
    let mut cmd = Command::new("ssh");
    cmd.arg("-v").args(client_options(r.port));
    if password.is_none() {
        cmd.args(["-o", "BatchMode=yes"]);
    }
    cmd.args(args)
        .arg(format!("{user}@127.0.0.1"))
        .arg("true")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `ssh` with only the key `key` and publickey authentication.
fn ssh_key(r: &Running, user: &str, key: &Path) -> String {
    text(&ssh(
        r,
        user,
        None,
        &[
            "-o",
            "PreferredAuthentications=publickey",
            "-i",
            key.to_str().unwrap(),
        ],
    ))
}

/// An OpenSSH `sftp -b -` session reading its commands from our pipe.
struct SftpSession {
    child: Child,
    stdin: ChildStdin,
}

impl SftpSession {
    fn start(r: &Running, user: &str, key: &Path) -> SftpSession {
        let mut child = Command::new("sftp")
            .args(["-b", "-"])
            .args(client_options(r.port))
            .args(["-o", "BatchMode=yes", "-i", key.to_str().unwrap()])
            .arg(format!("{user}@127.0.0.1"))
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        SftpSession { child, stdin }
    }

    fn send(&mut self, commands: &str) {
        self.stdin.write_all(commands.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn finish(mut self) -> Output {
        self.send("bye\n");
        drop(self.stdin);
        self.child.wait_with_output().unwrap()
    }
}

/// Waits until `path` exists (a command of an SFTP session took effect).
fn wait_for_path(path: &Path) {
    let deadline = Instant::now() + PATIENCE;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn user_config(root: &str, keys: &[&str], extra: &str) -> String {
    let keys: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
    format!(
        "[[user]]\nname = \"alice\"\nroot = \"{root}\"\nkeys = [{}]\n{extra}",
        keys.join(", ")
    )
}

fn host_key_line(dir: &Path) -> String {
    let (host, _) = key(dir, "host");
    assert!(host.ends_with("id_host"));
    format!("host_keys = [\"{}\"]\n", host.display())
}

#[test]
fn json_logs_carry_the_authentication_events() {
    if !openssh_available("json_logs_carry_the_authentication_events") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (alice, alice_pub) = key(dir.path(), "alice");
    let (stranger, _) = key(dir.path(), "stranger");
    let config = host_key_line(dir.path())
        + "log_format = \"json\"\n"
        + &user_config("{dir}/alice", &[&alice_pub], "");
    let r = Running::start(dir, &config, &[]);
    let refused = ssh_key(&r, "alice", &stranger);
    assert!(refused.contains("Permission denied"), "{refused}");
    let ok = ssh_key(&r, "alice", &alice);
    assert!(ok.contains("Authenticated to 127.0.0.1"), "{ok}");
    r.wait_for_log("\"session_end\"");

    let events: Vec<serde_json::Value> = r
        .log()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let find = |event: &str| {
        events
            .iter()
            .find(|e| e["event"] == event)
            .unwrap_or_else(|| panic!("no {event} in {events:#?}"))
    };
    for e in &events {
        assert!(e["timestamp"].is_string() && e["level"].is_string(), "{e}");
    }
    let failure = find("auth_failure");
    assert_eq!(failure["user"], "alice");
    assert_eq!(failure["method"], "publickey");
    assert!(
        failure["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{failure}"
    );
    let success = find("auth_success");
    assert_eq!(success["user"], "alice");
    assert_eq!(success["methods"], "publickey");
    let end = find("session_end");
    assert!(end["bytes_in"].as_u64().unwrap() > 0, "{end}");
    assert!(end["duration_ms"].is_u64(), "{end}");
    assert_eq!(
        find("listening")["address"],
        format!("127.0.0.1:{}", r.port)
    );
}

#[test]
fn text_logs_are_lines_with_the_same_fields() {
    if !openssh_available("text_logs_are_lines_with_the_same_fields") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, alice_pub) = key(dir.path(), "alice");
    let (stranger, _) = key(dir.path(), "stranger");
    let config = host_key_line(dir.path()) + &user_config("{dir}/alice", &[&alice_pub], "");
    let r = Running::start(dir, &config, &["--log-level", "info"]);
    ssh_key(&r, "mallory", &stranger);
    let line = r.wait_for_log("event=\"auth_failure\"");
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("user=\"mallory\""), "{line}");
    assert!(line.contains("method=\"publickey\""), "{line}");
    assert!(line.contains("peer=127.0.0.1:"), "{line}");
    assert!(!line.starts_with('{'), "{line}");
}

#[test]
fn sighup_swaps_a_key_while_an_open_session_keeps_working() {
    if !openssh_available("sighup_swaps_a_key_while_an_open_session_keeps_working") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (old, old_pub) = key(dir.path(), "old");
    let (new, new_pub) = key(dir.path(), "new");
    let host = host_key_line(dir.path());
    let config = |k: &str| host.clone() + &user_config("{dir}/alice", &[k], "");
    let r = Running::start(dir, &config(&old_pub), &[]);
    let root = r.dir.path().join("alice");

    let mut session = SftpSession::start(&r, "alice", &old);
    session.send("mkdir before\n");
    wait_for_path(&root.join("before"));

    write_config(r.dir.path(), &config(&new_pub));
    let seen = r.log().len();
    r.signal("HUP");
    r.wait_for_log_after(seen, "event=\"reload\"");
    let refused = ssh_key(&r, "alice", &old);
    assert!(refused.contains("Permission denied"), "{refused}");
    let accepted = ssh_key(&r, "alice", &new);
    assert!(accepted.contains("Authenticated to"), "{accepted}");

    // A configuration that does not load changes nothing.
    std::fs::write(r.dir.path().join("sshwire.toml"), "[[user]]\nname = 3\n").unwrap();
    let seen = r.log().len();
    r.signal("HUP");
    let failed = r.wait_for_log_after(seen, "event=\"reload_failed\"");
    assert!(failed.contains("ERROR"), "{failed}");
    let accepted = ssh_key(&r, "alice", &new);
    assert!(accepted.contains("Authenticated to"), "{accepted}");

    // The session opened with the old key goes on through both reloads.
    std::fs::write(r.dir.path().join("file"), b"after the reloads").unwrap();
    session.send(&format!(
        "put {} after.txt\nmkdir after\n",
        r.dir.path().join("file").display()
    ));
    let out = session.finish();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root.join("after").is_dir());
    assert_eq!(
        std::fs::read(root.join("after.txt")).unwrap(),
        b"after the reloads"
    );
}

#[test]
fn sighup_without_a_config_rereads_the_authorized_keys_file() {
    if !openssh_available("sighup_without_a_config_rereads_the_authorized_keys_file") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (host, _) = key(dir.path(), "host");
    let (old, old_pub) = key(dir.path(), "old");
    let (new, new_pub) = key(dir.path(), "new");
    let keys = dir.path().join("authorized_keys");
    std::fs::write(&keys, format!("{old_pub}\n")).unwrap();
    let r = Running::start_flags(dir, &host);
    assert!(ssh_key(&r, "anyone", &old).contains("Authenticated to"));
    std::fs::write(&keys, format!("{new_pub}\n")).unwrap();
    // Unchanged until the signal.
    assert!(ssh_key(&r, "anyone", &new).contains("Permission denied"));
    let seen = r.log().len();
    r.signal("HUP");
    r.wait_for_log_after(seen, "event=\"reload\"");
    assert!(ssh_key(&r, "anyone", &old).contains("Permission denied"));
    assert!(ssh_key(&r, "anyone", &new).contains("Authenticated to"));
}

#[test]
fn sigterm_lets_an_open_session_finish_refuses_new_ones_and_exits_0() {
    if !openssh_available("sigterm_lets_an_open_session_finish_refuses_new_ones_and_exits_0") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (alice, alice_pub) = key(dir.path(), "alice");
    let config = host_key_line(dir.path()) + &user_config("{dir}/alice", &[&alice_pub], "");
    let mut r = Running::start(dir, &config, &[]);
    let root = r.dir.path().join("alice");
    let mut session = SftpSession::start(&r, "alice", &alice);
    session.send("mkdir before\n");
    wait_for_path(&root.join("before"));

    r.signal("TERM");
    r.wait_for_log("event=\"shutdown\"");
    assert!(!r.serves_new_connections(), "a connection after SIGTERM");

    let big: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(r.dir.path().join("big"), &big).unwrap();
    session.send(&format!("put {} big\n", r.dir.path().join("big").display()));
    let out = session.finish();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(root.join("big")).unwrap(), big);

    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(s) = r.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after the drain"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}\n{}", r.log().join("\n"));
}

#[test]
fn publickey_then_password_needs_both() {
    if !openssh_available("publickey_then_password_needs_both") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (alice, alice_pub) = key(dir.path(), "alice");
    let hash = password_hash("correct horse");
    let config = host_key_line(dir.path())
        + &user_config(
            "{dir}/alice",
            &[&alice_pub],
            &format!("password = \"{hash}\"\nauth_methods = [\"publickey,password\"]\n"),
        )
        + "[penalties]\nexempt = [\"127.0.0.0/8\"]\n";
    let r = Running::start(dir, &config, &[]);
    let key = alice.to_str().unwrap();

    // The key alone: a partial success, then only "password" can continue.
    let out = text(&ssh(
        &r,
        "alice",
        None,
        &["-o", "PreferredAuthentications=publickey", "-i", key],
    ));
    assert!(
        out.contains("Authenticated using \"publickey\" with partial success"),
        "{out}"
    );
    assert!(
        out.contains("Authentications that can continue: password"),
        "{out}"
    );
    assert!(!out.contains("Authenticated to"), "{out}");
    // The password alone (even the right one) is not offered: the key comes first.
    let out = text(&ssh(
        &r,
        "alice",
        Some("correct horse"),
        &["-o", "PreferredAuthentications=password"],
    ));
    assert!(
        out.contains("Authentications that can continue: publickey"),
        "{out}"
    );
    assert!(!out.contains("Authenticated to"), "{out}");
    // The key, then a wrong password.
    let out = text(&ssh(
        &r,
        "alice",
        Some("wrong"),
        &[
            "-o",
            "PreferredAuthentications=publickey,password",
            "-i",
            key,
        ],
    ));
    assert!(!out.contains("Authenticated to"), "{out}");
    // Both.
    let out = text(&ssh(
        &r,
        "alice",
        Some("correct horse"),
        &[
            "-o",
            "PreferredAuthentications=publickey,password",
            "-i",
            key,
        ],
    ));
    assert!(
        out.contains(&format!(
            "Authenticated to 127.0.0.1 ([127.0.0.1]:{}) using \"password\"",
            r.port
        )),
        "{out}"
    );
    let success = r.wait_for_log("event=\"auth_success\"");
    assert!(success.contains("methods=publickey,password"), "{success}");
    // Our own client: the key, then the password from the askpass program.
    let ours = |password: &str| {
        let askpass = write_askpass(r.dir.path(), password);
        let batch = r.dir.path().join("batch");
        std::fs::write(&batch, "mkdir ours\n").unwrap();
        Command::new(PROGRAM)
            // -b implies BatchMode (no password), unless an -o says otherwise first.
            .args(["sftp", "-o", "BatchMode=no", "-b"])
            .arg(&batch)
            .args(["-P", &r.port.to_string(), "-i", key])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .arg("alice@127.0.0.1")
            .env("HOME", r.dir.path())
            .env("SSH_ASKPASS", askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = ours("wrong");
    assert!(!out.status.success());
    assert!(!r.dir.path().join("alice/ours").exists());
    let out = ours("correct horse");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(r.dir.path().join("alice/ours").is_dir());
    // Another user name gets the default methods, whether or not it exists.
    let out = text(&ssh(
        &r,
        "bob",
        None,
        &["-o", "PreferredAuthentications=publickey", "-i", key],
    ));
    assert!(
        out.contains("Authentications that can continue: publickey,password,keyboard-interactive"),
        "{out}"
    );
}

#[test]
fn a_penalized_source_is_refused_and_an_exempt_one_is_not() {
    if !openssh_available("a_penalized_source_is_refused_and_an_exempt_one_is_not") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, alice_pub) = key(dir.path(), "alice");
    let (stranger, _) = key(dir.path(), "stranger");
    let host = host_key_line(dir.path());
    // One failed connection is a penalty long enough to be active.
    let config = host.clone()
        + &user_config("{dir}/alice", &[&alice_pub], "")
        + "[penalties]\nauthfail = 300\nmin = 60\n";
    let r = Running::start(dir, &config, &[]);
    assert!(r.serves_new_connections());
    let out = ssh_key(&r, "alice", &stranger);
    assert!(out.contains("Permission denied"), "{out}");
    r.wait_for_log("event=\"penalty_active\"");
    assert!(!r.serves_new_connections());
    let refused = r.wait_for_log("event=\"penalty_refused\"");
    assert!(refused.contains("peer=127.0.0.1:"), "{refused}");

    // The same with loopback exempt: served after the failure is recorded.
    let dir = tempfile::tempdir().unwrap();
    let config = host
        + &user_config("{dir}/alice", &[&alice_pub], "")
        + "[penalties]\nauthfail = 300\nmin = 60\nexempt = [\"127.0.0.0/8\", \"::1\"]\n";
    let r = Running::start(dir, &config, &[]);
    let out = ssh_key(&r, "alice", &stranger);
    assert!(out.contains("Permission denied"), "{out}");
    r.wait_for_log("event=\"connection_end\"");
    assert!(r.serves_new_connections());
    assert!(
        !r.log().iter().any(|l| l.contains("penalty")),
        "{:?}",
        r.log()
    );
}

fn check_config(config: &Path, extra: &[&str]) -> Output {
    Command::new(PROGRAM)
        .args(["serve", "--check-config", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn check_config_says_ok_or_names_every_problem_and_never_listens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, alice_pub) = key(d, "alice");
    let host = host_key_line(d);
    // Something already listens on the configured port: a check does not mind.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let good = format!(
        "{host}listen = \"127.0.0.1:{port}\"\n{}{}",
        user_config(&format!("{}/alice", d.display()), &[&alice_pub], ""),
        user_config(&format!("{}/bob", d.display()), &[&alice_pub], "").replace("alice", "bob")
    );
    let path = d.join("good.toml");
    std::fs::write(&path, good).unwrap();
    let out = check_config(&path, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        format!("config OK: 2 users, 1 host key, listening on 127.0.0.1:{port}")
    );
    assert!(!d.join("alice").exists(), "a check creates nothing");

    // A configuration that does not load: each of its problems on a line.
    let bad = format!(
        "{host}{}read_onyl = true\n{}",
        user_config(&format!("{}/alice", d.display()), &[&alice_pub], ""),
        user_config(
            &format!("{}/bob", d.display()),
            &[],
            "password = \"$argon2id$nonsense\"\n"
        )
        .replace("alice", "bob")
    );
    let path = d.join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let out = check_config(&path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("read_onyl"), "{stderr}");
    // A configuration that loads, with a host key that is missing and a root that is a file.
    std::fs::write(d.join("file"), b"").unwrap();
    let bad = format!(
        "host_keys = [\"{}/missing_key\"]\n{}{}",
        d.display(),
        user_config(&format!("{}/file", d.display()), &[&alice_pub], ""),
        user_config(
            &format!("{}/bob", d.display()),
            &[&alice_pub],
            "password = \"$argon2id$nonsense\"\n"
        )
        .replace("alice", "bob")
    );
    std::fs::write(&path, &bad).unwrap();
    let out = check_config(&path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("user \"bob\": bad password hash"),
        "{stderr}"
    );
    let fixed = bad.replace("password = \"$argon2id$nonsense\"", "");
    std::fs::write(&path, fixed).unwrap();
    let out = check_config(&path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.iter().any(|l| l.contains("missing_key")), "{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("root") && l.contains("is not a directory")),
        "{stderr}"
    );
    assert!(stderr.contains("2 problems"), "{stderr}");
}
