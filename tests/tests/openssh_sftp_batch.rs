//! OpenSSH's `sftp -b` runs one batch with every command of its own against three servers:
//! (a) `sshwire serve`, (b) OpenSSH's sshd with `sshwire sftp-server` as its subsystem, and
//! (c) OpenSSH's sshd with its own sftp-server. The listings, the server trees and the
//! downloaded files must be the same. Escapes through `sftp` reveal and change nothing
//! outside the root, and a read-only server keeps its tree byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sshwire_tests::batch::{Client, area_like, assert_same, run_batch, sshd_with, tree};
use sshwire_tests::{Serve, ed25519_key_file, openssh_available};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

#[test]
fn one_batch_same_results_on_three_servers() {
    if !openssh_available("one_batch_same_results_on_three_servers") {
        return;
    }
    let client = Client::new();
    // (c) the reference: OpenSSH's own sftp-server.
    let reference = {
        let sshd = sshd_with("/usr/lib/openssh/sftp-server", &client);
        let area = tempfile::tempdir().unwrap();
        run_batch(None, sshd.port, area.path(), area.path(), &client)
    };
    // reget and get -a completed the prefixes into the whole file.
    for resumed in ["partial.bin", "partial2.bin"] {
        assert_eq!(
            reference.downloaded[resumed],
            reference.downloaded["big.bin"]
        );
    }
    if std::env::var_os("SFTP_BATCH_DEBUG").is_some() {
        eprintln!(
            "{}\n{:#?}\n{:#?}",
            reference.listing, reference.server_tree, reference.downloaded
        );
    }
    // (b) sshd with `sshwire sftp-server`.
    let via_sshd = {
        let sshd = sshd_with(&format!("{PROGRAM} sftp-server"), &client);
        let area = tempfile::tempdir().unwrap();
        run_batch(None, sshd.port, area.path(), area.path(), &client)
    };
    assert_same("sshd + sshwire sftp-server", &via_sshd, &reference);
    // (a) `sshwire serve`, whose root is the top of the tree.
    let host = client.dir.path().join("host_key");
    ed25519_key_file(&host);
    let serve =
        Serve::start_with_users(Path::new(PROGRAM), &[host], &client.public_key(), None, &[]);
    // The batch starts in a directory of the served tree, as it does in a temporary
    // directory of the machine's for sshd.
    let like = tempfile::tempdir().unwrap();
    let (start, area) = area_like(&serve.dir.path().join("root"), like.path());
    let ours = run_batch(None, serve.port, &start, &area, &client);
    assert_same("sshwire serve", &ours, &reference);
}

/// `sshwire serve` for `client`, with a secret file next to (outside) its root.
fn serve_with_secret(client: &Client, extra: &[&str]) -> (Serve, PathBuf) {
    let host = client.dir.path().join("host_key");
    if !host.exists() {
        ed25519_key_file(&host);
    }
    let serve = Serve::start_with_users(
        Path::new(PROGRAM),
        &[host],
        &client.public_key(),
        None,
        extra,
    );
    let secret = serve.dir.path().join("secret.txt");
    std::fs::write(&secret, "the secret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    (serve, secret)
}

#[test]
fn escapes_through_sftp_reveal_and_change_nothing_outside_the_root() {
    if !openssh_available("escapes_through_sftp_reveal_and_change_nothing_outside_the_root") {
        return;
    }
    let client = Client::new();
    let (serve, secret) = serve_with_secret(&client, &[]);
    let root = serve.dir.path().join("root");
    std::fs::write(root.join("inside.txt"), "inside\n").unwrap();
    let outside_before = tree(serve.dir.path());
    let o = client.dir.path().join("out");
    let l = client.local();
    let batch = format!(
        "-get ../secret.txt {o}/1
-get /../secret.txt {o}/2
-get ../../../../etc/passwd {o}/3
-get /etc/passwd {o}/3b
-cd ..
-get secret.txt {o}/4
-symlink ../secret.txt s1
-get s1 {o}/5
-symlink /etc/passwd s2
-get s2 {o}/6
-symlink .. up
-get up/secret.txt {o}/7
-ln ../secret.txt h1
-put {l}/a.txt ../planted.txt
-put {l}/a.txt up/planted.txt
-mkdir ../planted-dir
-rename inside.txt ../moved.txt
-chmod 777 ../secret.txt
-chmod 777 s1
-rm ../secret.txt
-rm up/secret.txt
-ls -l ..
-ls -l /..
-ls -l up/
-df ..
get moved.txt {o}/inside.txt
",
        o = o.display(),
        l = l.display()
    );
    let out = client.sftp(serve.port, &batch, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing outside was read: only the inside file came down.
    let downloaded = tree(&o);
    assert_eq!(
        downloaded.keys().collect::<Vec<_>>(),
        ["inside.txt"],
        "{downloaded:?}"
    );
    // (`..` of the root is the root: the rename moved inside.txt to /moved.txt, inside.)
    let answers: String = stdout.lines().filter(|l| !l.starts_with("sftp>")).collect();
    assert!(
        !answers.contains("secret"),
        "a listing revealed the outside:\n{stdout}"
    );
    // Nothing outside changed (the root itself may have new links).
    let mut outside_after = tree(serve.dir.path());
    outside_after.retain(|k, _| !k.starts_with("root"));
    let mut before = outside_before;
    before.retain(|k, _| !k.starts_with("root"));
    assert_eq!(outside_after, before);
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "the secret\n");
}

#[test]
fn a_read_only_server_keeps_its_tree_byte_identical() {
    if !openssh_available("a_read_only_server_keeps_its_tree_byte_identical") {
        return;
    }
    let client = Client::new();
    let (serve, _) = serve_with_secret(&client, &["--read-only"]);
    let root = serve.dir.path().join("root");
    std::fs::create_dir_all(root.join("dir")).unwrap();
    std::fs::write(root.join("dir/file.txt"), "keep me\n").unwrap();
    let before = tree(&root);
    let o = client.dir.path().join("out");
    let l = client.local();
    let batch = format!(
        "-put {l}/a.txt new.txt
-put {l}/a.txt dir/file.txt
-reput {l}/big.bin dir/file.txt
-mkdir newdir
-rmdir dir
-rm dir/file.txt
-rename dir/file.txt moved.txt
-chmod 777 dir/file.txt
-ln dir/file.txt hard.txt
-ln -s dir/file.txt soft.txt
-copy dir/file.txt copy.txt
-put -r {l}/tree
get dir/file.txt {o}/file.txt
ls -l dir
",
        o = o.display(),
        l = l.display()
    );
    let out = client.sftp(serve.port, &batch, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tree(&root), before);
    assert_eq!(
        std::fs::read_to_string(o.join("file.txt")).unwrap(),
        "keep me\n"
    );
    // The refusals say why.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Permission denied"), "{stderr}");
}

#[test]
fn a_configured_server_gives_each_user_their_root_keys_password_and_audit_log() {
    if !openssh_available(
        "a_configured_server_gives_each_user_their_root_keys_password_and_audit_log",
    ) {
        return;
    }
    let alice = Client::new();
    // Bob logs in with a password; its hash comes from `sshwire passwd`.
    let mut passwd = Command::new(PROGRAM)
        .args(["passwd", "bob"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut passwd.stdin.take().unwrap(), b"bobs secret\n").unwrap();
    let line = String::from_utf8(passwd.wait_with_output().unwrap().stdout).unwrap();
    let hash = line.trim().strip_prefix("bob:").unwrap().to_owned();
    let host = alice.dir.path().join("host_key");
    ed25519_key_file(&host);
    let config = format!(
        r#"host_keys = ["{host}"]
audit_log = "{{dir}}/audit.jsonl"

[[user]]
name = "alice"
root = "{{dir}}/alice"
keys = ["{key}"]

[[user]]
name = "bob"
root = "{{dir}}/bob"
password = "{hash}"
read_only = true
"#,
        host = host.display(),
        key = alice.public_key().trim(),
    );
    let serve = Serve::start_config(Path::new(PROGRAM), &config, &[]);
    let dir = serve.dir.path();
    std::fs::write(dir.join("bob/for-bob.txt"), "hello bob\n").unwrap();
    // Alice writes into her own root, and sees only it.
    let batch = format!("put {}/a.txt\nls -1 /\n", alice.local().display());
    let sftp = |user: &str, batch: &str, askpass: Option<&Path>| {
        let file = alice.dir.path().join("batch");
        std::fs::write(&file, batch).unwrap();
        let mut cmd = Command::new("sftp");
        match askpass {
            // `sftp -b` puts `-oBatchMode=yes` where -b stands; an earlier -o wins, as
            // always in ssh, so these come first.
            Some(a) => {
                cmd.args(["-o", "PubkeyAuthentication=no", "-o", "BatchMode=no"])
                    .env("SSH_ASKPASS", a)
                    .env("SSH_ASKPASS_REQUIRE", "force");
            }
            None => {
                cmd.arg("-i").arg(&alice.key);
            }
        }
        cmd.arg("-b")
            .arg(&file)
            .args(["-P", &serve.port.to_string()]);
        cmd.args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg(format!("{user}@127.0.0.1"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
    };
    let out = sftp("alice", &batch, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("/a.txt"), "{stdout}");
    assert!(!stdout.contains("for-bob"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(dir.join("alice/a.txt")).unwrap(),
        "alpha\n"
    );
    // Alice's key does not open Bob's account.
    let out = sftp("bob", "ls\n", None);
    assert!(!out.status.success());
    // Bob's password does; his root is read-only.
    let askpass = alice.dir.path().join("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho 'bobs secret'\n").unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = alice.dir.path().join("out");
    let batch = format!(
        "get for-bob.txt {}/for-bob.txt\n-put {}/a.txt\n",
        o.display(),
        alice.local().display()
    );
    let out = sftp("bob", &batch, Some(&askpass));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(o.join("for-bob.txt")).unwrap(),
        "hello bob\n"
    );
    assert!(!dir.join("bob/a.txt").exists());
    // The audit log has Alice's upload and Bob's refused one, as JSON lines.
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    let lines: Vec<&str> = audit.lines().collect();
    assert!(
        lines.iter().all(|l| l.starts_with('{') && l.ends_with('}')),
        "{audit}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"alice\"") && l.contains("a.txt")),
        "{audit}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"bob\"") && l.contains("for-bob.txt")),
        "{audit}"
    );
}

/// `put big /dev/null`, the usual way to time an upload without a disk: `sshwire serve` opens
/// the device only for a user whose configuration says `devices = true`, and `sshwire
/// sftp-server` always, as OpenSSH's sftp-server does.
#[test]
fn put_to_dev_null_where_devices_are_allowed() {
    if !openssh_available("put_to_dev_null_where_devices_are_allowed") {
        return;
    }
    let client = Client::new();
    let host = client.dir.path().join("host_key");
    ed25519_key_file(&host);
    let batch = format!("put {}/big.bin /dev/null\n", client.local().display());
    for devices in [false, true] {
        let config = format!(
            "host_keys = [\"{host}\"]\n[[user]]\nname = \"{user}\"\nroot = \"/\"\n\
             keys = [\"{key}\"]\ndevices = {devices}\n",
            host = host.display(),
            user = sshwire_tests::current_user(),
            key = client.public_key().trim(),
        );
        let serve = Serve::start_config(Path::new(PROGRAM), &config, &[]);
        let openssh = client.sftp(serve.port, &batch, &[]);
        let ours = client.sshwire_sftp(Path::new(PROGRAM), serve.port, &batch, &[]);
        for (who, out) in [("sftp", openssh), ("sshwire sftp", ours)] {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.success(),
                devices,
                "{who}, devices = {devices}: {stderr}"
            );
            // OpenSSH's sftp shows only the status code ("Failure"); ours shows the
            // server's message too.
            if !devices && who == "sshwire sftp" {
                assert!(stderr.contains("regular file"), "{who}: {stderr}");
            }
        }
    }
    let sshd = sshd_with(&format!("{PROGRAM} sftp-server"), &client);
    let out = client.sftp(sshd.port, &batch, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn openssh_sftp_talks_to_sshwire_sftp_server_over_stdio() {
    if !openssh_available("openssh_sftp_talks_to_sshwire_sftp_server_over_stdio") {
        return;
    }
    // `sftp -D program` runs the server itself, no SSH at all: the drop-in test for a
    // `Subsystem sftp` line, with OpenSSH's flags: -d start directory, -u umask.
    let client = Client::new();
    let area = tempfile::tempdir().unwrap();
    let server = format!("{PROGRAM} sftp-server -d {} -u 027", area.path().display());
    let l = client.local();
    let o = client.dir.path().join("out");
    let batch = format!(
        "pwd\nput {l}/big.bin\nmkdir made\nls -l\nget big.bin {o}/big.bin\nrm big.bin\n",
        l = l.display(),
        o = o.display()
    );
    let file = client.dir.path().join("stdio-batch");
    std::fs::write(&file, batch).unwrap();
    let out = Command::new("sftp")
        .args(["-b"])
        .arg(&file)
        .arg("-D")
        .arg(&server)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "Remote working directory: {}",
            area.path().display()
        )),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(o.join("big.bin")).unwrap(),
        std::fs::read(l.join("big.bin")).unwrap()
    );
    // The umask applied to the directory it made; the file it removed is gone.
    let made = std::fs::metadata(area.path().join("made")).unwrap();
    assert_eq!(made.mode() & 0o777, 0o750);
    assert!(!area.path().join("big.bin").exists());
}
