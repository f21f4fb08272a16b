//! The `sshwire` command: `keygen` writes keys OpenSSH reads, `serve` keeps its host key.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use sshwire_tests::openssh_available;

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

fn keygen(args: &[&str]) -> std::process::Output {
    Command::new(PROGRAM)
        .arg("keygen")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn keygen_writes_keys_that_ssh_keygen_reads() {
    if !openssh_available("keygen_writes_keys_that_ssh_keygen_reads") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, (t, bits, pass)) in [
        ("ed25519", None, ""),
        ("ed25519", None, "correct horse"),
        ("ecdsa", Some("256"), ""),
        ("ecdsa", Some("384"), "pw"),
        ("rsa", Some("2048"), "pw"),
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.path().join(format!("key{i}"));
        let file_s = file.to_str().unwrap();
        let mut args = vec!["-t", t, "-f", file_s, "-N", pass, "-C", "me@test"];
        if let Some(b) = bits {
            args.extend(["-b", b]);
        }
        let out = keygen(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "private key mode");
        let public = std::fs::read_to_string(format!("{file_s}.pub")).unwrap();
        assert!(public.ends_with(" me@test\n"), "{public}");
        let derived = Command::new("ssh-keygen")
            .args(["-y", "-P", pass, "-f", file_s])
            .output()
            .unwrap();
        assert!(
            derived.status.success(),
            "ssh-keygen -y: {}",
            String::from_utf8_lossy(&derived.stderr)
        );
        let derived = String::from_utf8_lossy(&derived.stdout);
        let body = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        assert_eq!(body(&derived), body(&public), "{t} {bits:?}");
        // The fingerprint we printed is the one ssh-keygen computes.
        let printed = String::from_utf8_lossy(&out.stdout);
        let fp = Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f", &format!("{file_s}.pub")])
            .output()
            .unwrap();
        let fp = String::from_utf8_lossy(&fp.stdout);
        let fp = fp.split_whitespace().nth(1).unwrap();
        assert!(printed.contains(fp), "{printed} lacks {fp}");
    }
}

#[test]
fn keygen_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("id");
    std::fs::write(&file, "precious").unwrap();
    let out = keygen(&["-f", file.to_str().unwrap(), "-N", ""]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
}

/// Starts `sshwire serve` with no host key option and returns the fingerprint it prints.
fn serve_fingerprint(config_home: &std::path::Path, root: &std::path::Path) -> String {
    let mut child = Command::new(PROGRAM)
        .args(["serve", "--listen", "127.0.0.1:0", "--root"])
        .arg(root)
        .env("XDG_CONFIG_HOME", config_home)
        .env("HOME", config_home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut fingerprint = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("host key: ") {
            fingerprint = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("connect with:") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    fingerprint.expect("no host key line")
}

#[test]
fn serve_generates_its_host_key_once_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("served");
    let first = serve_fingerprint(dir.path(), &root);
    assert!(first.starts_with("SHA256:"), "{first}");
    assert!(root.is_dir(), "root directory not created");
    let key = dir.path().join("sshwire").join("ssh_host_ed25519_key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(serve_fingerprint(dir.path(), &root), first);
}

/// `sshwire sftp-server -Q requests` names the requests `-p` and `-P` take, as OpenSSH's
/// `sftp-server -Q requests` does, in the same order.
#[test]
fn sftp_server_lists_requests_like_openssh() {
    let ours = Command::new(PROGRAM)
        .args(["sftp-server", "-Q", "requests"])
        .output()
        .unwrap();
    assert!(ours.status.success());
    let ours = String::from_utf8(ours.stdout).unwrap();
    assert_eq!(ours.lines().count(), 29);
    assert!(ours.starts_with("open\nclose\nread\nwrite\n"), "{ours}");
    // Anything else to query is an error, as with OpenSSH.
    let bad = Command::new(PROGRAM)
        .args(["sftp-server", "-Q", "cipher"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!bad.success());
    if !openssh_available("sftp_server_lists_requests_like_openssh") {
        return;
    }
    let openssh = std::path::Path::new("/usr/lib/openssh/sftp-server");
    if !openssh.exists() {
        eprintln!(
            "sftp_server_lists_requests_like_openssh: no {}",
            openssh.display()
        );
        return;
    }
    let theirs = Command::new(openssh)
        .args(["-Q", "requests"])
        .output()
        .unwrap();
    assert_eq!(ours, String::from_utf8(theirs.stdout).unwrap());
}

/// `sshwire serve` with no flags at all, in an empty directory: it listens on 127.0.0.1:2222,
/// serves `./sftp-root` to the invoking user (their `~/.ssh/authorized_keys`), who logs in
/// with their key over our client and OpenSSH's sftp, and it keeps its host key across
/// restarts. The only test that uses port 2222.
#[test]
fn serve_with_no_flags_serves_the_invoking_user_and_keeps_its_host_key() {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    let key = ssh.join("id_ed25519");
    let public = sshwire_tests::ed25519_key_file(&key);
    std::fs::write(ssh.join("authorized_keys"), &public).unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = Command::new(PROGRAM)
            .arg("serve")
            .current_dir(cwd.path())
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut fingerprint = None;
        let mut seen = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            seen.push(line.clone());
            if let Some(rest) = line.strip_prefix("host key: ") {
                fingerprint = rest.split_whitespace().next().map(str::to_owned);
            }
            if line.starts_with("connect with:") {
                break;
            }
        }
        let Some(fingerprint) = fingerprint else {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sshwire serve did not start on its default 127.0.0.1:2222 (is the port busy?): \
                 {}\n{err}",
                seen.join("\n")
            );
        };
        assert!(
            seen.iter()
                .any(|l| l.contains("listening on 127.0.0.1:2222")),
            "{seen:?}"
        );
        (child, fingerprint)
    };
    let (mut first, fingerprint) = start();
    // Our client, as the same user, with the key found in ~/.ssh.
    std::fs::write(cwd.path().join("hello.txt"), "hello\n").unwrap();
    let batch = cwd.path().join("batch");
    std::fs::write(&batch, "put hello.txt\nrename hello.txt moved.txt\n").unwrap();
    let known = home.path().join("known_hosts");
    let ours = Command::new(PROGRAM)
        .args(["sftp", "-P", "2222", "-F", "none", "-o"])
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .args(["-o", "StrictHostKeyChecking=accept-new", "-q", "-b"])
        .arg(&batch)
        .arg("127.0.0.1")
        .current_dir(cwd.path())
        .env("HOME", home.path())
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let root = cwd.path().join("sftp-root");
    assert_eq!(
        std::fs::read_to_string(root.join("moved.txt")).unwrap(),
        "hello\n"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    // A restart keeps the key: the client that recorded it connects without a question.
    let (mut second, again) = start();
    assert_eq!(again, fingerprint);
    if openssh_available("serve_with_no_flags_serves_the_invoking_user_and_keeps_its_host_key") {
        std::fs::write(&batch, "get moved.txt back.txt\n").unwrap();
        let theirs = Command::new("sftp")
            .args(["-P", "2222", "-F", "/dev/null", "-i"])
            .arg(&key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-b"])
            .arg(&batch)
            .arg("127.0.0.1")
            .current_dir(cwd.path())
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert!(
            theirs.status.success(),
            "{}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(cwd.path().join("back.txt")).unwrap(),
            "hello\n"
        );
    }
    second.kill().unwrap();
    second.wait().unwrap();
}
