//! `sshwire sftp` as people use OpenSSH's sftp: the same batch as OpenSSH's `sftp` against a
//! private sshd and against `sshwire serve` gives the same listings, trees and files; every
//! cipher moves a file intact; `reget` after a `kill -9` gives an identical file; batch
//! semantics, destinations and `-D`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sshwire_tests::batch::{
    Client, QUIET_TRUSTING, area_like, assert_same, pattern, run_batch, sshd_with,
};
use sshwire_tests::{Serve, Sshd, ed25519_key_file, openssh_available, openssh_query};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

fn program() -> &'static Path {
    Path::new(PROGRAM)
}

/// `sshwire serve` for `client`, its root at `<serve dir>/root`.
fn serve_for(client: &Client) -> Serve {
    let host = client.dir.path().join("host_key");
    if !host.exists() {
        ed25519_key_file(&host);
    }
    Serve::start_with_users(program(), &[host], &client.public_key(), None, &[])
}

#[test]
fn the_same_batch_as_openssh_sftp_gives_the_same_results() {
    if !openssh_available("the_same_batch_as_openssh_sftp_gives_the_same_results") {
        return;
    }
    let client = Client::new();
    let sshd = sshd_with("/usr/lib/openssh/sftp-server", &client);
    // The reference: OpenSSH's sftp against OpenSSH's sshd and sftp-server.
    let reference = {
        let area = tempfile::tempdir().unwrap();
        run_batch(None, sshd.port, area.path(), area.path(), &client)
    };
    // sshwire sftp against the same kind of server.
    let against_sshd = {
        let area = tempfile::tempdir().unwrap();
        run_batch(
            Some(program()),
            sshd.port,
            area.path(),
            area.path(),
            &client,
        )
    };
    assert_same("sshwire sftp against sshd", &against_sshd, &reference);
    // sshwire sftp against sshwire serve.
    let serve = serve_for(&client);
    let like = tempfile::tempdir().unwrap();
    let (start, area) = area_like(&serve.dir.path().join("root"), like.path());
    let pair = run_batch(Some(program()), serve.port, &start, &area, &client);
    assert_same("sshwire sftp against sshwire serve", &pair, &reference);
}

#[test]
fn every_cipher_moves_a_file_intact() {
    if !openssh_available("every_cipher_moves_a_file_intact") {
        return;
    }
    let client = Client::new();
    let sshd = sshd_with("/usr/lib/openssh/sftp-server", &client);
    let area = tempfile::tempdir().unwrap();
    let data = pattern(2_500_000);
    let src = client.dir.path().join("cipher-src.bin");
    std::fs::write(&src, &data).unwrap();
    let offered = openssh_query("cipher");
    let mut tried = 0;
    for cipher in [
        "aes128-ctr",
        "aes192-ctr",
        "aes256-ctr",
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
    ] {
        if !offered.iter().any(|c| c == cipher) {
            continue;
        }
        tried += 1;
        let back = client.dir.path().join(format!("back-{cipher}.bin"));
        let batch = format!(
            "cd {area}\nput {src} {cipher}.bin\nget {cipher}.bin {back}\n",
            area = area.path().display(),
            src = src.display(),
            back = back.display()
        );
        let out = client.sshwire_sftp(program(), sshd.port, &batch, &["-c", cipher]);
        assert!(
            out.status.success(),
            "{cipher}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(area.path().join(format!("{cipher}.bin"))).unwrap(),
            data,
            "{cipher}: upload"
        );
        assert_eq!(std::fs::read(&back).unwrap(), data, "{cipher}: download");
    }
    assert!(tried >= 5, "only {tried} ciphers in common with OpenSSH");
}

#[test]
fn reget_after_kill_9_gives_an_identical_file() {
    if !openssh_available("reget_after_kill_9_gives_an_identical_file") {
        return;
    }
    let client = Client::new();
    let serve = serve_for(&client);
    let data = pattern(64 * 1024 * 1024);
    std::fs::write(serve.dir.path().join("root/big.bin"), &data).unwrap();
    let local = client.dir.path().join("big.bin");
    let batch = client.dir.path().join("kill-batch");
    std::fs::write(&batch, format!("get big.bin {}\n", local.display())).unwrap();
    // Small blocks, few in flight: slow enough to be caught in the middle.
    let mut child = Command::new(PROGRAM)
        .args(["sftp", "-B", "4096", "-R", "2", "-b"])
        .arg(&batch)
        .args(["-P", &serve.port.to_string(), "-i"])
        .arg(&client.key)
        .args(QUIET_TRUSTING)
        .arg("127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a part has arrived: a condition polled, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let have = std::fs::metadata(&local).map_or(0, |m| m.len());
        if have >= 1024 * 1024 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the download ended before it could be interrupted"
        );
        assert!(Instant::now() < deadline, "the download did not start");
        std::thread::yield_now();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = std::fs::read(&local).unwrap();
    assert!(
        partial.len() < data.len(),
        "the download finished before the kill"
    );
    assert_eq!(
        partial,
        data[..partial.len()],
        "an interrupted download must leave a prefix"
    );
    let out = client.sshwire_sftp(
        program(),
        serve.port,
        &format!("reget big.bin {}\n", local.display()),
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&local).unwrap() == data, "reget differs");
}

#[test]
fn a_failing_batch_line_stops_the_batch_with_status_1_unless_prefixed() {
    if !openssh_available("a_failing_batch_line_stops_the_batch_with_status_1_unless_prefixed") {
        return;
    }
    let client = Client::new();
    let serve = serve_for(&client);
    let root = serve.dir.path().join("root");
    let out = client.sshwire_sftp(
        program(),
        serve.port,
        "-rm missing\n@mkdir quiet\nmkdir one\nrmdir missing\nmkdir two\n",
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(root.join("quiet").is_dir() && root.join("one").is_dir());
    assert!(
        !root.join("two").exists(),
        "the batch went on after a failure"
    );
    assert_eq!(
        stdout,
        "sftp> -rm missing\nsftp> mkdir one\nsftp> rmdir missing\n"
    );
    assert!(stderr.contains("remote delete /missing"), "{stderr}");
    assert!(stderr.contains("remote rmdir \"/missing\""), "{stderr}");
}

#[test]
fn destinations_with_paths_start_there_or_fetch_the_file() {
    if !openssh_available("destinations_with_paths_start_there_or_fetch_the_file") {
        return;
    }
    let client = Client::new();
    let serve = serve_for(&client);
    let root = serve.dir.path().join("root");
    std::fs::create_dir_all(root.join("dir")).unwrap();
    std::fs::write(root.join("dir/file.txt"), "fetched\n").unwrap();
    let common = |cmd: &mut Command| {
        cmd.args(["-i"])
            .arg(&client.key)
            .args(QUIET_TRUSTING)
            .current_dir(client.dir.path())
            .stdin(Stdio::null());
    };
    // A directory: the session starts in it.
    let batch = client.dir.path().join("pwd-batch");
    std::fs::write(&batch, "pwd\n").unwrap();
    let mut cmd = Command::new(PROGRAM);
    cmd.args(["sftp", "-b"]).arg(&batch);
    common(&mut cmd);
    let out = cmd
        .arg(format!("sftp://127.0.0.1:{}//dir", serve.port))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Remote working directory: /dir"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A file: fetched, then the command ends.
    let mut cmd = Command::new(PROGRAM);
    cmd.args(["sftp", "-P", &serve.port.to_string()]);
    common(&mut cmd);
    let out = cmd
        .arg(format!(
            "{}@127.0.0.1:/dir/file.txt",
            sshwire_tests::current_user()
        ))
        .arg("got.txt")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(client.dir.path().join("got.txt")).unwrap(),
        "fetched\n"
    );
    // A file that is not there: one line, status 1.
    let mut cmd = Command::new(PROGRAM);
    cmd.args(["sftp", "-P", &serve.port.to_string()]);
    common(&mut cmd);
    let out = cmd.arg("127.0.0.1:/dir/nothing").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "File \"/dir/nothing\" not found."
    );
}

#[test]
fn direct_mode_talks_to_openssh_sftp_server_over_stdio() {
    if !openssh_available("direct_mode_talks_to_openssh_sftp_server_over_stdio") {
        return;
    }
    let area = tempfile::tempdir().unwrap();
    std::fs::write(area.path().join("b.txt"), "bee\n").unwrap();
    std::fs::write(area.path().join("a.txt"), "ay\n").unwrap();
    std::fs::write(area.path().join(".hidden"), "").unwrap();
    let batch = area.path().join("batch");
    std::fs::write(
        &batch,
        format!(
            "cd {}\nls -1 *.txt\nls -1a\nversion\nget a.txt copy.txt\n",
            area.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(PROGRAM)
        .args(["sftp", "-D", "/usr/lib/openssh/sftp-server", "-b"])
        .arg(&batch)
        .current_dir(area.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = format!(
        "sftp> cd {d}\nsftp> ls -1 *.txt\na.txt\nb.txt\nsftp> ls -1a\n.\n..\n.hidden\na.txt\nb.txt\nbatch\nsftp> version\nSFTP protocol version 3\nsftp> get a.txt copy.txt\n",
        d = area.path().display()
    );
    assert_eq!(stdout, expected);
    assert_eq!(
        std::fs::read_to_string(area.path().join("copy.txt")).unwrap(),
        "ay\n"
    );
}

/// A server that allows one session per connection (sshd's `MaxSessions 1`) refuses the
/// second session a large download asks for: that download goes on over the first, and so
/// does the next one in the batch.
#[test]
fn a_server_allowing_one_session_still_serves_large_downloads() {
    if !openssh_available("a_server_allowing_one_session_still_serves_large_downloads") {
        return;
    }
    let client = Client::new();
    let data = pattern(9 * 1024 * 1024 + 777);
    let sshd = Sshd::start("MaxSessions 1\n");
    sshd.authorize(&client.public_key());
    let area = tempfile::tempdir().unwrap();
    let remote = area.path().join("big.bin");
    std::fs::write(&remote, &data).unwrap();
    let (first, second) = (
        client.dir.path().join("first.bin"),
        client.dir.path().join("second.bin"),
    );
    let batch = format!(
        "get {r} {}\nget {r} {}\n",
        first.display(),
        second.display(),
        r = remote.display()
    );
    let out = client.sshwire_sftp(program(), sshd.port, &batch, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read(&first).unwrap() == data,
        "the first download differs"
    );
    assert!(
        std::fs::read(&second).unwrap() == data,
        "the second download differs"
    );
}

#[test]
fn a_large_download_reads_over_two_sessions_from_sshd_and_one_from_serve() {
    if !openssh_available("a_large_download_reads_over_two_sessions_from_sshd_and_one_from_serve") {
        return;
    }
    let client = Client::new();
    let data = pattern(9 * 1024 * 1024 + 12_345);

    // Against sshd: the file arrives intact, read by two sftp-server processes, each started
    // by a wrapper that notes it in `started`.
    let area = tempfile::tempdir().unwrap();
    let started = area.path().join("started");
    let wrapper = area.path().join("sftp-server.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho session >> '{}'\nexec /usr/lib/openssh/sftp-server\n",
            started.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let sshd = sshd_with(&wrapper.display().to_string(), &client);
    std::fs::write(area.path().join("big.bin"), &data).unwrap();
    let local = client.dir.path().join("from-sshd.bin");
    let remote = area.path().join("big.bin");
    let get = format!("get {} {}\n", remote.display(), local.display());
    let out = client.sshwire_sftp(program(), sshd.port, &get, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&local).unwrap() == data, "from sshd: differs");
    // Each server process wrote its line before it answered INIT.
    let sessions = std::fs::read_to_string(&started).unwrap();
    assert_eq!(
        sessions.lines().count(),
        2,
        "sftp-server started: {sessions:?}"
    );

    // Against sshwire serve, whose audit log shows which sessions read how much: by default
    // one handle carries the whole file (the server answers one session's requests
    // concurrently); with `-X streams=2` two handles each carry part of it.
    let serve = serve_for(&client);
    std::fs::write(serve.dir.path().join("root/big.bin"), &data).unwrap();
    for (extra, handles) in [(&[][..], 1), (&["-X", "streams=2"][..], 2)] {
        let before = serve.log().lines().count();
        let local = client.dir.path().join(format!("from-serve-{handles}.bin"));
        let get = format!("get big.bin {}\n", local.display());
        let out = client.sshwire_sftp(program(), serve.port, &get, extra);
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(std::fs::read(&local).unwrap() == data, "{extra:?}: differs");
        // The audit lines of the closes come before the end of the connection.
        let deadline = Instant::now() + Duration::from_secs(30);
        let log = loop {
            let log: Vec<String> = serve.log().lines().skip(before).map(String::from).collect();
            if log.iter().any(|l| l.contains("session_end")) {
                break log;
            }
            assert!(Instant::now() < deadline, "no session_end in {log:#?}");
            std::thread::sleep(Duration::from_millis(20));
        };
        let reads: Vec<u64> = log
            .iter()
            .filter(|l| l.contains("op=close") && l.contains("big.bin"))
            .filter_map(|l| l.split(" read=").nth(1)?.split(' ').next()?.parse().ok())
            .collect();
        assert_eq!(reads.len(), handles, "{extra:?}: closes in {log:#?}");
        assert!(reads.iter().all(|&n| n > 0), "{extra:?}: {reads:?}");
        assert!(
            reads.iter().sum::<u64>() >= data.len() as u64,
            "{extra:?}: {reads:?}"
        );
    }
}
