//! `sshwire exec` against a private OpenSSH `sshd`: every key type, an encrypted key through
//! SSH_ASKPASS, an ssh-agent, a password; data through `cat` both ways; exit statuses;
//! known_hosts policies side by side with OpenSSH's `ssh`; a long transfer across many
//! rekeys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sshwire::keys::{KeyType, PrivateKey};
use sshwire::system_rng;
use sshwire_tests::{Sshd, openssh_available, ssh_add, start_agent};

const SSHWIRE: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// A client-side home: its own ~/.ssh (empty), known_hosts and keys.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".ssh")).unwrap();
        Home { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn known_hosts(&self) -> PathBuf {
        self.path("known_hosts")
    }

    /// Writes a new key of type `t` (encrypted with `passphrase` if given); returns its file
    /// and its public line.
    fn key(&self, name: &str, t: KeyType, passphrase: Option<&str>) -> (PathBuf, String) {
        let bits = (t == KeyType::Rsa).then_some(2048);
        let key = PrivateKey::generate(t, bits, &mut *system_rng()).unwrap();
        let text = key
            .to_openssh(name, passphrase.map(str::as_bytes), &mut *system_rng())
            .unwrap();
        let path = self.path(name);
        std::fs::write(&path, text.as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        (path, key.public_key().to_openssh(name))
    }

    /// An askpass program that answers `answer` and records each prompt in `prompts`.
    fn askpass(&self, answer: &str) -> PathBuf {
        let script = self.path("askpass");
        let log = self.path("prompts");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nprintf '%s\\n' '{answer}'\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    fn prompts(&self) -> String {
        std::fs::read_to_string(self.path("prompts")).unwrap_or_default()
    }

    /// `sshwire exec` (or, with `program` = "ssh", OpenSSH's client) to the daemon, with this
    /// home's known_hosts; `args` come first, so their -o options win.
    fn command(&self, program: &str, sshd: &Sshd, args: &[&str], remote: &str) -> Command {
        let mut cmd = Command::new(if program == "ssh" { "ssh" } else { SSHWIRE });
        if program != "ssh" {
            cmd.arg("exec");
        }
        cmd.args(args)
            .arg("-p")
            .arg(sshd.port.to_string())
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.known_hosts().display()
            ))
            .args(["-o", "GlobalKnownHostsFile=/dev/null"])
            .args(["-o", "StrictHostKeyChecking=accept-new"])
            .arg("127.0.0.1")
            .arg(remote)
            .env("HOME", self.dir.path())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("SSH_ASKPASS")
            .env_remove("SSH_ASKPASS_REQUIRE")
            .env_remove("DISPLAY")
            .stdin(Stdio::null());
        cmd
    }

    fn exec(&self, sshd: &Sshd, args: &[&str], remote: &str) -> Output {
        self.command("sshwire", sshd, args, remote)
            .output()
            .unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check(out: &Output, status: i32, stdout: &str, sshd: &Sshd) {
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(status), stdout),
        "stderr: {}\nsshd log:\n{}",
        text(&out.stderr),
        sshd.log()
    );
}

#[test]
fn every_key_type_logs_in_and_a_stranger_does_not() {
    if !openssh_available("every_key_type_logs_in_and_a_stranger_does_not") {
        return;
    }
    let sshd = Sshd::start("");
    let home = Home::new();
    for (i, t) in [
        KeyType::Ed25519,
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa,
    ]
    .into_iter()
    .enumerate()
    {
        let (file, public) = home.key(&format!("id_{i}"), t, None);
        sshd.authorize(&public);
        let out = home.exec(
            &sshd,
            &["-i", file.to_str().unwrap(), "-o", "BatchMode=yes"],
            "echo hello",
        );
        check(&out, 0, "hello\n", &sshd);
    }
    let (stranger, _) = home.key("id_stranger", KeyType::Ed25519, None);
    let out = home.exec(
        &sshd,
        &["-i", stranger.to_str().unwrap(), "-o", "BatchMode=yes"],
        "echo hello",
    );
    assert_eq!(out.status.code(), Some(255));
    let err = text(&out.stderr);
    assert!(err.contains("Permission denied (publickey"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line, not a trace: {err}");
}

#[test]
fn encrypted_key_passphrase_comes_from_askpass() {
    if !openssh_available("encrypted_key_passphrase_comes_from_askpass") {
        return;
    }
    let sshd = Sshd::start("");
    let home = Home::new();
    let (file, public) = home.key("id_locked", KeyType::Ed25519, Some("open sesame"));
    sshd.authorize(&public);
    let askpass = home.askpass("open sesame");
    let out = home
        .command("sshwire", &sshd, &["-i", file.to_str().unwrap()], "echo in")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .output()
        .unwrap();
    check(&out, 0, "in\n", &sshd);
    assert_eq!(
        home.prompts().trim(),
        format!("Enter passphrase for key '{}':", file.display())
    );
    // BatchMode asks nothing: the key is skipped and the login fails.
    let out = home
        .command(
            "sshwire",
            &sshd,
            &["-i", file.to_str().unwrap(), "-o", "BatchMode=yes"],
            "echo in",
        )
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
}

#[test]
fn agent_keys_log_in() {
    if !openssh_available("agent_keys_log_in") {
        return;
    }
    let sshd = Sshd::start("");
    let home = Home::new();
    let (_agent, sock) = start_agent(home.dir.path());
    let (file, public) = home.key("id_agent", KeyType::EcdsaP256, None);
    ssh_add(&sock, &file);
    std::fs::remove_file(&file).unwrap();
    sshd.authorize(&public);
    let out = home
        .command("sshwire", &sshd, &["-o", "BatchMode=yes"], "echo agent")
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    check(&out, 0, "agent\n", &sshd);
}

/// The account and password `.ci/run` creates for password logins to sshd.
fn password_account() -> Option<(String, String)> {
    let user = std::env::var("SSHWIRE_TEST_PASSWORD_USER").ok()?;
    let password = std::env::var("SSHWIRE_TEST_PASSWORD").ok()?;
    Some((user, password))
}

#[test]
fn password_login_to_sshd() {
    if !openssh_available("password_login_to_sshd") {
        return;
    }
    let Some((user, password)) = password_account() else {
        if std::env::var("SSHWIRE_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!(
                "password_login_to_sshd: SSHWIRE_TEST_PASSWORD_USER and SSHWIRE_TEST_PASSWORD \
                 must name an account with that password (.ci/run creates one)"
            );
        }
        eprintln!(
            "SKIPPED password_login_to_sshd: set SSHWIRE_TEST_PASSWORD_USER and \
             SSHWIRE_TEST_PASSWORD to an account sshd may log in with a password"
        );
        return;
    };
    let sshd = Sshd::start("PasswordAuthentication yes\nKbdInteractiveAuthentication no\n");
    let home = Home::new();
    let askpass = home.askpass(&password);
    let out = home
        .command("sshwire", &sshd, &["-l", &user], "id -un")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .output()
        .unwrap();
    check(&out, 0, &format!("{user}\n"), &sshd);
    assert_eq!(
        home.prompts().trim(),
        format!("{user}@127.0.0.1's password:")
    );
    let wrong = home.askpass("not the password");
    let out = home
        .command(
            "sshwire",
            &sshd,
            &["-l", &user, "-o", "NumberOfPasswordPrompts=2"],
            "id -un",
        )
        .env("SSH_ASKPASS", &wrong)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
}

/// A daemon and a home whose key it accepts.
fn logged_in_pair(extra: &str) -> (Sshd, Home, Vec<String>) {
    let sshd = Sshd::start(extra);
    let home = Home::new();
    let (file, public) = home.key("id", KeyType::Ed25519, None);
    sshd.authorize(&public);
    let args = vec![
        "-i".to_owned(),
        file.display().to_string(),
        "-o".to_owned(),
        "BatchMode=yes".to_owned(),
    ];
    (sshd, home, args)
}

fn pattern_file(path: &Path, mib: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(mib << 20);
    let mut x: u32 = 0x1234_5678;
    while data.len() < mib << 20 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::File::create(path)
        .unwrap()
        .write_all(&data)
        .unwrap();
    data
}

/// `sshwire exec HOST remote` with `stdin` as its standard input.
fn exec_with_stdin(
    home: &Home,
    sshd: &Sshd,
    args: &[String],
    remote: &str,
    stdin: &Path,
) -> Output {
    home.command("sshwire", sshd, &strs(args), remote)
        .stdin(std::fs::File::open(stdin).unwrap())
        .output()
        .unwrap()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn cat_carries_64_mib_both_ways_intact() {
    if !openssh_available("cat_carries_64_mib_both_ways_intact") {
        return;
    }
    let (sshd, home, args) = logged_in_pair("");
    let local = home.path("local.bin");
    let data = pattern_file(&local, 64);
    // Up: our stdin through the remote cat into a remote file.
    let remote = home.path("remote.bin");
    let out = exec_with_stdin(
        &home,
        &sshd,
        &args,
        &format!("cat > '{}'", remote.display()),
        &local,
    );
    check(&out, 0, "", &sshd);
    assert!(std::fs::read(&remote).unwrap() == data, "upload differs");
    // Down: the remote cat of the file to our stdout.
    let out = home.exec(&sshd, &strs(&args), &format!("cat '{}'", remote.display()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout == data, "download differs");
    // Through: stdin to cat and back at once.
    let out = exec_with_stdin(&home, &sshd, &args, "cat", &local);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout == data, "echo differs");
}

#[test]
fn exit_status_and_stderr_propagate() {
    if !openssh_available("exit_status_and_stderr_propagate") {
        return;
    }
    let (sshd, home, args) = logged_in_pair("");
    let out = home.exec(&sshd, &strs(&args), "exit 7");
    check(&out, 7, "", &sshd);
    let out = home.exec(&sshd, &strs(&args), "echo out; echo err >&2; exit 3");
    check(&out, 3, "out\n", &sshd);
    assert_eq!(text(&out.stderr), "err\n");
    // Killed by a signal: no exit status, 255 as with ssh.
    let out = home.exec(&sshd, &strs(&args), "kill -TERM $$");
    let ssh = home
        .command("ssh", &sshd, &strs(&args), "kill -TERM $$")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), ssh.status.code());
    assert_eq!(out.status.code(), Some(255));
    // Arguments are joined with spaces, as ssh does.
    let out = home
        .command("sshwire", &sshd, &strs(&args), "echo")
        .args(["a", "b"])
        .output()
        .unwrap();
    check(&out, 0, "a b\n", &sshd);
}

/// Runs `ssh` and `sshwire exec` with the same options from the same starting known_hosts;
/// returns (status, known_hosts afterwards, stderr) for each.
fn both(
    sshd: &Sshd,
    args: &[String],
    known_hosts: &str,
    policy: &str,
) -> [(Option<i32>, String, String); 2] {
    ["ssh", "sshwire"].map(|program| {
        let home = Home::new();
        std::fs::write(home.known_hosts(), known_hosts).unwrap();
        let mut all = strs(args);
        all.extend(["-o", policy]);
        let out = home.command(program, sshd, &all, "true").output().unwrap();
        (
            out.status.code(),
            std::fs::read_to_string(home.known_hosts()).unwrap(),
            text(&out.stderr),
        )
    })
}

#[test]
fn known_hosts_policies_behave_as_openssh() {
    if !openssh_available("known_hosts_policies_behave_as_openssh") {
        return;
    }
    let (sshd, _home, args) = logged_in_pair("HostKeyAlgorithms ssh-ed25519\n");
    let host_key = sshd.host_public_key("ed25519");
    let fields: Vec<&str> = host_key.split_whitespace().collect();
    let known = format!("[127.0.0.1]:{} {} {}\n", sshd.port, fields[0], fields[1]);
    let other = PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap();
    let changed = format!(
        "[127.0.0.1]:{} {}\n",
        sshd.port,
        other.public_key().to_openssh("")
    );
    // (known_hosts before, policy, expected status)
    let cases = [
        ("", "StrictHostKeyChecking=yes", 255),
        ("", "StrictHostKeyChecking=accept-new", 0),
        ("", "StrictHostKeyChecking=no", 0),
        (known.as_str(), "StrictHostKeyChecking=yes", 0),
        (changed.as_str(), "StrictHostKeyChecking=yes", 255),
        (changed.as_str(), "StrictHostKeyChecking=accept-new", 255),
    ];
    for (before, policy, status) in cases {
        let [ssh, ours] = both(&sshd, &args, before, policy);
        assert_eq!(ssh.0, Some(status), "ssh, {policy}: {}", ssh.2);
        assert_eq!(ours.0, ssh.0, "{policy} from {before:?}: {}", ours.2);
        // Both record the same key under the same name (OpenSSH may hash; we compare the
        // key part and the line count).
        let key_part = |kh: &str| -> Vec<String> {
            kh.lines()
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
                .collect()
        };
        assert_eq!(key_part(&ours.1), key_part(&ssh.1), "{policy}");
        if before == changed {
            assert!(
                ours.2.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
                "{}",
                ours.2
            );
        }
        if status == 255 && before.is_empty() {
            assert!(
                ours.2.contains("Host key verification failed."),
                "{}",
                ours.2
            );
        }
    }
    // OpenSSH goes on after a changed key with StrictHostKeyChecking=no (keys only); we
    // refuse, deliberately.
    let [_, ours] = both(&sshd, &args, &changed, "StrictHostKeyChecking=no");
    assert_eq!(ours.0, Some(255), "{}", ours.2);
}

#[test]
fn a_256_mib_transfer_survives_many_rekeys() {
    if !openssh_available("a_256_mib_transfer_survives_many_rekeys") {
        return;
    }
    let (sshd, home, args) = logged_in_pair("RekeyLimit 16M\nLogLevel DEBUG1\n");
    let local = home.path("big.bin");
    let data = pattern_file(&local, 256);
    let out = exec_with_stdin(&home, &sshd, &args, "cat", &local);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout == data, "data changed across rekeys");
    // 512 MiB crossed the connection in all, 256 each way: sshd rekeyed every 16 MiB.
    let rekeys = sshd
        .log()
        .lines()
        .filter(|l| l.contains("SSH2_MSG_NEWKEYS received"))
        .count();
    assert!(rekeys >= 16, "only {rekeys} key exchanges:\n{}", sshd.log());
}
