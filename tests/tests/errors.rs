//! Every failure a user can run into with `sshwire exec`, `sftp` and `cp` is one line on
//! standard error that says what went wrong and what to do, with OpenSSH's exit status, and
//! loses nothing the user had (docs/errors.md is the catalogue these lines are checked
//! against).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sshwire_keys::PrivateKey;
use sshwire_tests::{Serve, ed25519_key_file, free_port, openssh_available};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// A user: a home with a key, a known_hosts file and a working directory.
struct User {
    dir: tempfile::TempDir,
    key: PathBuf,
}

impl User {
    fn new() -> User {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home/.ssh")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        let key = dir.path().join("id");
        ed25519_key_file(&key);
        User { dir, key }
    }

    fn public_key(&self) -> String {
        std::fs::read_to_string(format!("{}.pub", self.key.display())).unwrap()
    }

    fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    fn work(&self, name: &str) -> PathBuf {
        self.dir.path().join("work").join(name)
    }

    /// The options every command gets: no configuration file, our known_hosts, batch mode,
    /// strict host key checking unless `extra` sets its own.
    fn options(&self, extra: &[&str]) -> Vec<String> {
        let mut o = [
            "-F",
            "none",
            "-o",
            &format!("UserKnownHostsFile={}", self.known_hosts().display()),
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
        ]
        .map(str::to_owned)
        .to_vec();
        if !extra.iter().any(|a| a.starts_with("StrictHostKeyChecking")) {
            o.extend(["-o".to_owned(), "StrictHostKeyChecking=yes".to_owned()]);
        }
        o
    }

    /// Records `serve`'s host key for `port` in the known_hosts file, as a user who has
    /// connected before.
    fn trust(&self, serve: &Serve, port: u16) {
        let file = serve.dir.path().join("config/sshwire/ssh_host_ed25519_key");
        let (key, _) = PrivateKey::from_openssh(&std::fs::read(file).unwrap(), None).unwrap();
        let public = key.public_key().to_openssh("");
        let fields: Vec<&str> = public.split_whitespace().collect();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.known_hosts())
            .unwrap();
        writeln!(f, "[127.0.0.1]:{port} {} {}", fields[0], fields[1]).unwrap();
    }

    /// `program tool [port flag] port options... args...` in the work directory.
    fn command(&self, program: &str, tool: Option<&str>, port: u16, extra: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir.path().join("work"))
            .env("HOME", self.dir.path().join("home"))
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        let port_flag = match tool {
            Some("exec") => "-p",
            _ => "-P",
        };
        if let Some(t) = tool {
            c.arg(t);
        }
        c.args([port_flag, &port.to_string()]);
        c.args(self.options(extra));
        c.args(extra);
        c
    }

    fn sshwire(&self, tool: &str, port: u16, extra: &[&str]) -> Output {
        self.command(PROGRAM, Some(tool), port, extra)
            .output()
            .unwrap()
    }

    /// `sshwire sftp -i KEY -b BATCH 127.0.0.1` with the batch `lines`.
    fn batch(&self, port: u16, lines: &str) -> Output {
        let key = self.key.display().to_string();
        self.batch_with(port, &["-i", &key], lines)
    }

    /// `sshwire sftp ARGS -b BATCH 127.0.0.1` with the batch `lines`.
    fn batch_with(&self, port: u16, args: &[&str], lines: &str) -> Output {
        let batch = self.dir.path().join("batch");
        std::fs::write(&batch, lines).unwrap();
        let batch = batch.display().to_string();
        let mut all = args.to_vec();
        all.extend(["-b", &batch, "127.0.0.1"]);
        self.sshwire("sftp", port, &all)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that standard error is exactly one line, starting `sshwire: ` + `start`, and
/// returns it.
fn one_line(out: &Output, start: &str) -> String {
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line, not more: {err}");
    assert!(err.ends_with('\n'));
    let line = err.trim_end().to_owned();
    assert!(
        line.starts_with(&format!("sshwire: {start}")),
        "expected `sshwire: {start}...`, got: {line}"
    );
    assert!(!line.contains("panicked") && !line.contains("RUST_BACKTRACE"));
    line
}

/// OpenSSH's exit status for the same command line, when OpenSSH is here.
fn openssh_status(user: &User, tool: &str, port: u16, extra: &[&str]) -> Option<i32> {
    if !openssh_available("errors: exit status comparison") {
        return None;
    }
    let program = match tool {
        "exec" => "ssh",
        "sftp" => "sftp",
        _ => "scp",
    };
    let port_flag = if program == "ssh" { "-p" } else { "-P" };
    let out = Command::new(program)
        .current_dir(user.dir.path().join("work"))
        .env("HOME", user.dir.path().join("home"))
        .stdin(Stdio::null())
        .args([port_flag, &port.to_string()])
        .args(user.options(extra))
        .args(extra)
        .output()
        .unwrap();
    out.status.code()
}

/// `sshwire serve` with `user`'s key authorized and `extra` flags, its host key known to
/// `user`.
fn serve(user: &User, extra: &[&str]) -> Serve {
    let serve = Serve::start_with_users(Path::new(PROGRAM), &[], &user.public_key(), None, extra);
    user.trust(&serve, serve.port);
    serve
}

/// The fingerprint of the host key `serve` generated.
fn serve_fingerprint(serve: &Serve) -> String {
    let file = serve.dir.path().join("config/sshwire/ssh_host_ed25519_key");
    let (key, _) = PrivateKey::from_openssh(&std::fs::read(file).unwrap(), None).unwrap();
    key.public_key().fingerprint_sha256()
}

/// A payload that shows any misplaced byte.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect()
}

#[test]
fn a_refused_connection_is_one_line_and_255_from_every_tool() {
    let user = User::new();
    let port = free_port();
    for (tool, args) in [
        ("exec", &["127.0.0.1", "true"][..]),
        ("sftp", &["127.0.0.1"][..]),
        ("cp", &["127.0.0.1:x", "y"][..]),
    ] {
        let out = user.sshwire(tool, port, args);
        assert_eq!(out.status.code(), Some(255), "{tool}");
        let line = one_line(
            &out,
            &format!("connect to host 127.0.0.1 port {port}: Connection refused: "),
        );
        assert!(line.contains("check the port"), "{line}");
        if let Some(theirs) = openssh_status(&user, tool, port, args) {
            assert_eq!(theirs, 255, "OpenSSH's {tool}");
        }
    }
}

#[test]
fn an_unresolvable_host_is_one_line_and_255() {
    let user = User::new();
    // RFC 6761 §6.4: names under .invalid never resolve.
    for (tool, args) in [
        ("exec", &["nowhere.invalid", "true"][..]),
        ("sftp", &["nowhere.invalid"][..]),
        ("cp", &["nowhere.invalid:x", "y"][..]),
    ] {
        let out = user.sshwire(tool, 22, args);
        assert_eq!(out.status.code(), Some(255), "{tool}");
        let line = one_line(&out, "Could not resolve hostname nowhere.invalid: ");
        assert!(line.contains("check its spelling"), "{line}");
        if let Some(theirs) = openssh_status(&user, tool, 22, args) {
            assert_eq!(theirs, 255, "OpenSSH's {tool}");
        }
    }
}

#[test]
fn a_server_that_never_answers_times_out_in_one_line() {
    let user = User::new();
    // A listener that accepts and never sends its banner: the banner exchange times out,
    // which is what ConnectTimeout also bounds in OpenSSH.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let args = ["-o", "ConnectTimeout=1", "127.0.0.1", "true"];
    let out = user.sshwire("exec", port, &args);
    assert_eq!(out.status.code(), Some(255));
    let line = one_line(
        &out,
        &format!("connect to host 127.0.0.1 port {port}: Connection timed out (no SSH server"),
    );
    assert!(line.contains("ConnectTimeout=1s"), "{line}");
    if let Some(theirs) = openssh_status(&user, "exec", port, &args) {
        assert_eq!(theirs, 255);
    }
}

#[test]
fn a_changed_host_key_names_the_key_the_entry_and_the_fix() {
    let user = User::new();
    let serve = serve(&user, &[]);
    let other = user.dir.path().join("other");
    let other_public = ed25519_key_file(&other);
    let fields: Vec<&str> = other_public.split_whitespace().collect();
    std::fs::write(
        user.known_hosts(),
        format!(
            "# kept\n[127.0.0.1]:{} {} {}\n",
            serve.port, fields[0], fields[1]
        ),
    )
    .unwrap();
    let key = user.key.display().to_string();
    let args = ["-i", key.as_str(), "127.0.0.1", "true"];
    let out = user.sshwire("exec", serve.port, &args);
    assert_eq!(out.status.code(), Some(255));
    let kh = user.known_hosts().display().to_string();
    let name = format!("[127.0.0.1]:{}", serve.port);
    let line = one_line(&out, "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! ");
    assert_eq!(
        line,
        format!(
            "sshwire: WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! {name} now sends \
             ED25519 key {}, not the one in {kh}:2: someone may be intercepting this \
             connection, or the server has a new key. Host key verification failed; if the \
             new key is right, remove the old one with: ssh-keygen -f '{kh}' -R '{name}'",
            serve_fingerprint(&serve)
        )
    );
    if let Some(theirs) = openssh_status(&user, "exec", serve.port, &args) {
        assert_eq!(theirs, 255);
        // The advice works: after the command it gives, the new key is accepted.
        let fix = Command::new("ssh-keygen")
            .args(["-f", &kh, "-R", &name])
            .output()
            .unwrap();
        assert!(fix.status.success());
        let out = user.batch_with(
            serve.port,
            &["-o", "StrictHostKeyChecking=accept-new", "-i", &key],
            "pwd\n",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

#[test]
fn an_unknown_host_key_under_strict_checking_shows_its_fingerprint_and_the_way_in() {
    let user = User::new();
    let serve = serve(&user, &[]);
    let key = user.key.display().to_string();
    let args = [
        "-o",
        "StrictHostKeyChecking=yes",
        "-i",
        key.as_str(),
        "127.0.0.1",
        "true",
    ];
    std::fs::remove_file(user.known_hosts()).unwrap();
    let out = user.sshwire("exec", serve.port, &args);
    assert_eq!(out.status.code(), Some(255));
    let line = one_line(
        &out,
        "Host key verification failed. No ED25519 host key is known",
    );
    assert!(line.contains(&serve_fingerprint(&serve)), "{line}");
    assert!(line.contains("StrictHostKeyChecking=accept-new"), "{line}");
    assert!(!user.known_hosts().exists(), "nothing recorded");
    if let Some(theirs) = openssh_status(&user, "exec", serve.port, &args) {
        assert_eq!(theirs, 255);
    }
}

#[test]
fn a_refused_login_lists_what_was_tried_and_what_to_do() {
    let user = User::new();
    let serve = serve(&user, &[]);
    let stranger = user.dir.path().join("stranger");
    ed25519_key_file(&stranger);
    let stranger = stranger.display().to_string();
    for (tool, tail) in [
        ("exec", &["me@127.0.0.1", "true"][..]),
        ("sftp", &["me@127.0.0.1"][..]),
        ("cp", &["me@127.0.0.1:x", "y"][..]),
    ] {
        let mut args = vec!["-i", stranger.as_str()];
        args.extend(tail);
        let out = user.sshwire(tool, serve.port, &args);
        assert_eq!(out.status.code(), Some(255), "{tool}");
        let line = one_line(&out, "me@127.0.0.1: Permission denied (publickey");
        assert!(
            line.contains(&format!("Tried: publickey {stranger}")),
            "{line}"
        );
        assert!(line.contains("authorized_keys"), "{line}");
        if let Some(theirs) = openssh_status(&user, tool, serve.port, &args) {
            assert_eq!(theirs, 255, "OpenSSH's {tool}");
        }
    }
}

#[test]
fn unusable_identity_files_get_one_warning_and_the_login_goes_on() {
    let user = User::new();
    let serve = serve(&user, &[]);
    let key = user.key.display().to_string();
    let missing = user.dir.path().join("missing").display().to_string();
    // A missing file: warned about, then the next key logs in (as OpenSSH does).
    let out = user.batch_with(serve.port, &["-i", &missing, "-i", &key], "pwd\n");
    assert!(out.status.success());
    let line = one_line(&out, "Warning: Identity file ");
    assert_eq!(
        line,
        format!(
            "sshwire: Warning: Identity file {missing} not accessible: No such file or \
             directory; going on without it"
        )
    );
    // A key others can read: left out, with the chmod that fixes it; alone it cannot log in.
    let open = user.dir.path().join("open");
    std::fs::copy(&user.key, &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = open.display().to_string();
    let out = user.sshwire("exec", serve.port, &["-i", &open, "127.0.0.1", "true"]);
    assert_eq!(out.status.code(), Some(255));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert_eq!(
        lines[0],
        format!(
            "sshwire: Warning: Identity file {open} is ignored: its permissions 0644 are too \
             open (others can read it); run chmod 600 {open}"
        )
    );
    assert!(lines[1].contains("Permission denied (publickey"), "{err}");
    // The public half given for the private one.
    let public = format!("{key}.pub");
    let out = user.sshwire("exec", serve.port, &["-i", &public, "127.0.0.1", "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("name the private key, not the .pub file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_read_only_server_refuses_uploads_in_one_line_and_status_1() {
    let user = User::new();
    let serve = serve(&user, &["--read-only"]);
    std::fs::write(user.work("up.txt"), "up\n").unwrap();
    let out = user.batch(serve.port, "put up.txt /up.txt\n");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(
        err,
        "upload \"up.txt\" to \"/up.txt\": Permission denied: the server does not let this \
         user write there (it may serve read-only)\n"
    );
    let key = user.key.display().to_string();
    let out = user.sshwire(
        "cp",
        serve.port,
        &["-i", &key, "up.txt", "127.0.0.1:/up.txt"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "scp: dest open \"/up.txt\": Permission denied\n"
    );
}

#[test]
fn a_missing_remote_file_is_named_in_openssh_words() {
    let user = User::new();
    let serve = serve(&user, &[]);
    std::fs::write(user.work("mine.txt"), "precious\n").unwrap();
    let out = user.batch(serve.port, "get /nothing mine.txt\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "File \"/nothing\" not found.\n");
    let key = user.key.display().to_string();
    let out = user.sshwire(
        "cp",
        serve.port,
        &["-i", &key, "127.0.0.1:/nothing", "mine.txt"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "scp: /nothing: No such file or directory\n"
    );
    assert_eq!(
        std::fs::read_to_string(user.work("mine.txt")).unwrap(),
        "precious\n"
    );
    if let Some(theirs) = openssh_status(
        &user,
        "cp",
        serve.port,
        &["-i", &key, "127.0.0.1:/nothing", "mine.txt"],
    ) {
        assert_eq!(theirs, 1, "OpenSSH's scp");
    }
}

#[test]
fn local_destinations_that_cannot_be_written_say_so_and_keep_what_was_there() {
    let user = User::new();
    let serve = serve(&user, &[]);
    std::fs::write(serve.dir.path().join("root/file.bin"), pattern(100_000)).unwrap();
    // A file where a directory should be: nothing can be written under it.
    std::fs::write(user.work("plain"), "precious\n").unwrap();
    let out = user.batch(serve.port, "get /file.bin plain/file.bin\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "local \"plain/file.bin\": Not a directory: choose a destination you can write to; \
         nothing was kept\n"
    );
    assert_eq!(
        std::fs::read_to_string(user.work("plain")).unwrap(),
        "precious\n"
    );
    // A full disk: /dev/full fails every write with ENOSPC.
    if Path::new("/dev/full").exists() {
        let out = user.batch(serve.port, "get /file.bin /dev/full\n");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            "local \"/dev/full\": No space left on device: free some space there; nothing \
             was kept\n"
        );
        let key = user.key.display().to_string();
        let out = user.sshwire(
            "cp",
            serve.port,
            &["-i", &key, "127.0.0.1:/file.bin", "/dev/full"],
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            "scp: local \"/dev/full\": No space left on device: free some space there; \
             nothing was kept\n"
        );
    }
}

/// A relay to `port` that passes `budget` bytes in `direction` (true: towards the server),
/// then cuts the connection: a server that dies mid-transfer, deterministically.
fn cutting_relay(port: u16, budget: usize, towards_server: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                return;
            };
            let pairs = [
                (
                    server.try_clone().unwrap(),
                    client.try_clone().unwrap(),
                    !towards_server,
                ),
                (client, server, towards_server),
            ];
            for (mut from, mut to, limited) in pairs {
                std::thread::spawn(move || {
                    let mut left = if limited { budget } else { usize::MAX };
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n.min(left),
                        };
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        left -= n;
                        if left == 0 {
                            break;
                        }
                    }
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                });
            }
        }
    });
    relay_port
}

#[test]
fn an_interrupted_download_says_where_its_bytes_are_and_reget_finishes_it_exactly() {
    let user = User::new();
    let serve = serve(&user, &[]);
    let data = pattern(4_000_000);
    std::fs::write(serve.dir.path().join("root/big.bin"), &data).unwrap();
    // The user already has a file of that name: it must survive the failed download.
    std::fs::write(user.work("big.bin"), "old contents\n").unwrap();
    let relay = cutting_relay(serve.port, 1_500_000, false);
    user.trust(&serve, relay);
    let out = user.batch(relay, "get /big.bin big.bin\n");
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("download of \"/big.bin\" interrupted, the connection was lost ("),
        "{err}"
    );
    let part = user.work(".big.bin.sshwire-part");
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept > 0 && kept < data.len() as u64);
    assert!(
        err.ends_with(&format!(
            "{kept} bytes are kept in .big.bin.sshwire-part; big.bin is untouched; reconnect \
             and resume with: reget /big.bin big.bin\n"
        )),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(user.work("big.bin")).unwrap(),
        "old contents\n"
    );
    // Exactly the command the line gives, without the cut.
    let out = user.batch(serve.port, "reget /big.bin big.bin\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(user.work("big.bin")).unwrap() == data);
    assert!(!part.exists());
    if openssh_available("interrupted download: OpenSSH's sftp status") {
        let batch = user.dir.path().join("batch-openssh");
        std::fs::write(&batch, "get /big.bin theirs.bin\n").unwrap();
        let key = user.key.display().to_string();
        let status = user
            .command("sftp", None, relay, &["-i", &key, "-b"])
            .arg(&batch)
            .arg("127.0.0.1")
            .output()
            .unwrap()
            .status;
        // OpenSSH's sftp exits 255 when its ssh loses the connection, unless it is killed
        // by SIGPIPE first, writing to the ssh that died (which way depends on timing).
        assert!(
            status.code() == Some(255) || status.signal() == Some(13),
            "OpenSSH's sftp: {status}"
        );
    }
}

#[test]
fn an_interrupted_cp_gives_the_sftp_command_that_resumes_it() {
    let user = User::new();
    let serve = serve(&user, &[]);
    let data = pattern(4_000_000);
    std::fs::write(serve.dir.path().join("root/big.bin"), &data).unwrap();
    let relay = cutting_relay(serve.port, 1_500_000, false);
    user.trust(&serve, relay);
    let key = user.key.display().to_string();
    let out = user.sshwire("cp", relay, &["-i", &key, "127.0.0.1:/big.bin", "got.bin"]);
    assert_eq!(out.status.code(), Some(255));
    let line = one_line(&out, "download of \"/big.bin\" interrupted");
    let kept = std::fs::metadata(user.work("got.bin")).unwrap().len();
    let resume = format!("sshwire sftp -a -P {relay} 127.0.0.1:/big.bin got.bin");
    assert!(
        line.ends_with(&format!(
            "{kept} bytes are kept in got.bin; resume with: {resume}"
        )),
        "{line}"
    );
    // The command it gives, on the server's own port and with the same options.
    let out = user.sshwire(
        "sftp",
        serve.port,
        &["-i", &key, "-a", "127.0.0.1:/big.bin", "got.bin"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(user.work("got.bin")).unwrap() == data);
}

#[test]
fn an_interrupted_upload_is_finished_by_reput() {
    let user = User::new();
    let serve = serve(&user, &[]);
    let data = pattern(4_000_000);
    std::fs::write(user.work("up.bin"), &data).unwrap();
    let relay = cutting_relay(serve.port, 1_500_000, true);
    user.trust(&serve, relay);
    let out = user.batch(relay, "put up.bin /up.bin\n");
    assert_eq!(out.status.code(), Some(255));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("upload of \"up.bin\" to \"/up.bin\" interrupted")
            && err.ends_with("reconnect and resume with: reput up.bin /up.bin\n"),
        "{err}"
    );
    let out = user.batch(serve.port, "reput up.bin /up.bin\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(serve.dir.path().join("root/up.bin")).unwrap() == data);
}

/// A tree download cut off mid-way stops at the first file that finds out, says so in one
/// line with the `reget -r` that finishes it, and exits 255 as OpenSSH's sftp does; that
/// command then completes the tree exactly. A directory destination of `-r` receives the
/// source under its own name, so the command depends on whether the names agree.
#[test]
fn an_interrupted_tree_download_says_so_once_and_reget_r_finishes_it() {
    let user = User::new();
    let serve = serve(&user, &[]);
    let tree = serve.dir.path().join("root/tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    let files: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| {
            let name = if i % 2 == 0 {
                format!("f{i}.bin")
            } else {
                format!("sub/f{i}.bin")
            };
            (name, pattern(700_000 + i * 1000))
        })
        .collect();
    for (name, data) in &files {
        std::fs::write(tree.join(name), data).unwrap();
    }
    for (dest, resume) in [
        ("got", "reget -r /tree/* got"),
        ("tree", "reget -r /tree ."),
    ] {
        let relay = cutting_relay(serve.port, 1_500_000, false);
        user.trust(&serve, relay);
        let out = user.batch(relay, &format!("get -r /tree {dest}\n"));
        assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("Connection closed during the download of /tree: ")
                && err.ends_with(&format!("reconnect and run `{resume}` to finish it\n")),
            "{err}"
        );
        let out = user.batch(serve.port, &format!("{resume}\n"));
        assert!(out.status.success(), "{}", text(&out.stderr));
        for (name, data) in &files {
            let got = std::fs::read(user.work(dest).join(name)).unwrap();
            assert!(got == *data, "{dest}/{name}");
        }
    }
}
