//! `sshwire cp` next to OpenSSH's scp (which speaks SFTP in 9.x): the same operations —
//! files and trees up, down and between two remote paths, with and without `-p`, globs,
//! several sources into a directory — leave the same trees (contents, modes, preserved
//! times), against a private sshd and against `sshwire serve`; the same mistakes give scp's
//! line, one per problem.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sshwire_tests::batch::{Client, sshd_with};
use sshwire_tests::{Serve, ed25519_key_file, openssh_available};

const SSHWIRE: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// Modification times before this (2024-01-01) are the fixtures' own, kept by `-p`; later
/// ones are "now", set by a copy that did not preserve.
const FIXTURE_TIMES_BEFORE: i64 = 1_704_067_200;

/// One copy program against one server.
struct Tool<'a> {
    /// `None` is OpenSSH's scp.
    program: Option<&'a Path>,
    client: &'a Client,
    port: u16,
}

impl Tool<'_> {
    /// Runs the copy with `args` (after the common options) in `cwd`.
    fn run(&self, args: &[String], cwd: &Path) -> Output {
        let mut cmd = match self.program {
            Some(p) => {
                let mut c = Command::new(p);
                c.arg("cp");
                c
            }
            None => Command::new("scp"),
        };
        cmd.args(["-q", "-F", "none", "-P", &self.port.to_string(), "-i"])
            .arg(&self.client.key)
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
            ])
            .args(args)
            .current_dir(cwd)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// A directory's tree: kind, mode, size and a checksum of each entry, and its modification
/// time when it is a fixture's (see [`FIXTURE_TIMES_BEFORE`]).
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let time = match meta.mtime() < FIXTURE_TIMES_BEFORE {
                true => meta.mtime().to_string(),
                false => "new".to_owned(),
            };
            let desc = if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {:o} {time}", meta.mode() & 0o7777)
            } else {
                let data = std::fs::read(&path).unwrap();
                let sum: u64 = data
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (i as u64 + 1) * u64::from(*b))
                    .sum();
                format!(
                    "file {:o} {} {sum} {time}",
                    meta.mode() & 0o7777,
                    data.len()
                )
            };
            out.insert(rel, desc);
        }
    }
    out
}

/// Where one run works: `local/` (the client's files), `remote/` (what the server serves,
/// with `rtree/` and `r.txt`), `down/` (an empty directory for downloads).
struct Area {
    /// The directory on disk.
    dir: PathBuf,
    /// `dir/remote` as the server names it.
    remote: String,
}

impl Area {
    fn new(dir: PathBuf, remote: String, client: &Client) -> Area {
        std::fs::create_dir_all(dir.join("remote")).unwrap();
        std::fs::create_dir_all(dir.join("down")).unwrap();
        let cp = |from: &Path, to: &Path| {
            let ok = Command::new("cp")
                .arg("-a")
                .arg(from)
                .arg(to)
                .status()
                .unwrap()
                .success();
            assert!(ok);
        };
        cp(&client.local(), &dir.join("local"));
        cp(&client.local().join("tree"), &dir.join("remote/rtree"));
        cp(&client.local().join("a.txt"), &dir.join("remote/r.txt"));
        Area { dir, remote }
    }

    /// `127.0.0.1:` and a path in the served directory.
    fn remote(&self, rel: &str) -> String {
        format!("127.0.0.1:{}/{rel}", self.remote)
    }

    /// A local path in the area.
    fn local(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }
}

/// The operations, each an argument list; paths depend on the area.
fn operations(a: &Area) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        // Up: a tree into a new directory with -p, into an existing one without; several
        // files into a directory.
        s(&["-r", "-p", &a.local("local/tree"), &a.remote("up-p")]),
        s(&["-r", &a.local("local/tree"), &a.remote("")]),
        s(&[
            &a.local("local/a.txt"),
            &a.local("local/big.bin"),
            &a.remote(""),
        ]),
        s(&["-p", &a.local("local/big.bin"), &a.remote("big-p.bin")]),
        // Down: a tree with -p to a new directory, without into an existing one; a glob.
        s(&["-r", "-p", &a.remote("rtree"), &a.local("down/tree-p")]),
        s(&["-r", &a.remote("rtree"), &a.local("down")]),
        s(&[&a.remote("*.txt"), &a.local("down")]),
        s(&[
            "-p",
            &a.remote("rtree/sub/two.bin"),
            &a.local("down/two-p.bin"),
        ]),
        // Between two remote paths, through this machine.
        s(&["-p", &a.remote("r.txt"), &a.remote("r2r-p.txt")]),
        s(&["-r", &a.remote("rtree"), &a.remote("r2r-tree")]),
    ]
}

/// Runs every operation in `area`; each must succeed.
fn run_all(tool: &Tool<'_>, area: &Area) {
    for args in operations(area) {
        let out = tool.run(&args, &area.dir);
        assert!(
            out.status.success(),
            "{} {args:?}: {:?}\n{}",
            if tool.program.is_some() {
                "sshwire cp"
            } else {
                "scp"
            },
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn cp_leaves_the_same_trees_as_scp() {
    if !openssh_available("cp_leaves_the_same_trees_as_scp") {
        return;
    }
    let client = Client::new();
    let sshd = sshd_with("/usr/lib/openssh/sftp-server", &client);
    let scp = Tool {
        program: None,
        client: &client,
        port: sshd.port,
    };
    let ours = Tool {
        program: Some(Path::new(SSHWIRE)),
        client: &client,
        port: sshd.port,
    };
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = Area::new(
        reference_dir.path().to_path_buf(),
        reference_dir.path().join("remote").display().to_string(),
        &client,
    );
    run_all(&scp, &reference);
    let expected = snapshot(&reference.dir);
    // The operations did something: preserved copies kept the fixture's times.
    assert!(expected["remote/up-p/sub/two.bin"].ends_with(" 1614834367"));
    assert!(expected["remote/tree/sub/two.bin"].ends_with(" new"));

    let ours_dir = tempfile::tempdir().unwrap();
    let area = Area::new(
        ours_dir.path().to_path_buf(),
        ours_dir.path().join("remote").display().to_string(),
        &client,
    );
    run_all(&ours, &area);
    assert_eq!(snapshot(&area.dir), expected, "sshwire cp against sshd");

    // Against sshwire serve: the served root is a jail, so the server names the area's
    // remote directory from its root.
    let host_key = client.dir.path().join("serve_host_key");
    ed25519_key_file(&host_key);
    let serve = Serve::start_with_users(
        Path::new(SSHWIRE),
        &[host_key],
        &client.public_key(),
        None,
        &[],
    );
    let root = serve.dir.path().join("root");
    let area = Area::new(root.join("area"), "/area/remote".to_owned(), &client);
    let ours = Tool {
        program: Some(Path::new(SSHWIRE)),
        client: &client,
        port: serve.port,
    };
    run_all(&ours, &area);
    assert_eq!(
        snapshot(&area.dir),
        expected,
        "sshwire cp against sshwire serve"
    );
}

#[test]
fn mistakes_get_scps_lines() {
    if !openssh_available("mistakes_get_scps_lines") {
        return;
    }
    let client = Client::new();
    let sshd = sshd_with("/usr/lib/openssh/sftp-server", &client);
    let dir = tempfile::tempdir().unwrap();
    let area = Area::new(
        dir.path().to_path_buf(),
        dir.path().join("remote").display().to_string(),
        &client,
    );
    let mistakes: Vec<Vec<String>> = vec![
        vec![area.remote("nonexistent"), area.local("down")],
        vec![area.local("local/tree"), area.remote("")],
        vec![area.remote("rtree"), area.local("down")],
        vec![area.remote("zz*"), area.local("down")],
        vec![
            area.local("local/a.txt"),
            "127.0.0.1:/nonexistent/dir/x".into(),
        ],
        vec![area.remote("r.txt"), "/nonexistent/x".into()],
        vec![area.local("local/missing"), area.remote("")],
        vec![
            area.remote("r.txt"),
            area.remote("rtree/one.txt"),
            area.local("local/a.txt"),
        ],
    ];
    for args in mistakes {
        let run = |program: Option<&Path>| {
            let tool = Tool {
                program,
                client: &client,
                port: sshd.port,
            };
            let out = tool.run(&args, dir.path());
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (scp_status, scp_err) = run(None);
        // OpenSSH's log lines end in CR LF (made for terminals in raw mode); ours in LF.
        let scp_err = scp_err.replace("\r\n", "\n");
        let (status, err) = run(Some(Path::new(SSHWIRE)));
        // One line per problem: scp's first (it adds "failed to upload file" after some).
        let first = scp_err.lines().next().unwrap_or_default();
        assert_eq!(err, format!("{first}\n"), "{args:?}");
        assert_ne!(scp_status, Some(0), "{args:?}");
        // scp says 255 for a missing local source; sshwire cp's failures are all 1.
        assert_eq!(status, Some(1), "{args:?}");
        assert!(!err.is_empty());
    }
    // A connection that fails is one line and 255, as with scp.
    let port = sshwire_tests::free_port();
    let out = Tool {
        program: Some(Path::new(SSHWIRE)),
        client: &client,
        port,
    }
    .run(
        &[area.local("local/a.txt"), "127.0.0.1:x".into()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "sshwire: connect to host 127.0.0.1 port {port}: Connection refused"
        )),
        "{err}"
    );
}

#[test]
fn the_progress_meter_shows_on_a_terminal_only() {
    if !openssh_available("the_progress_meter_shows_on_a_terminal_only") {
        return;
    }
    let client = Client::new();
    let sshd = sshd_with("/usr/lib/openssh/sftp-server", &client);
    let dir = tempfile::tempdir().unwrap();
    let source = format!("127.0.0.1:{}", client.local().join("big.bin").display());
    let command = |dest: &str| -> Vec<String> {
        let key = client.key.display().to_string();
        [
            SSHWIRE,
            "cp",
            "-F",
            "none",
            "-P",
            &sshd.port.to_string(),
            "-i",
            &key,
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            &source,
            dest,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    // Not a terminal: nothing on standard output.
    let args = command("plain.bin");
    let out = Command::new(&args[0])
        .args(&args[1..])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // A pseudo-terminal (script(1) runs the command on one): the meter ends at 100%.
    let out = Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &command("meter.bin").join(" "),
            "/dev/null",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    let last = shown.trim_end().rsplit('\r').next().unwrap_or_default();
    assert!(
        last.starts_with("big.bin ") && last.contains("100%"),
        "{shown:?}"
    );
    assert!(last.contains("2.9MB"), "{shown:?}");
    assert_eq!(
        std::fs::read(dir.path().join("meter.bin")).unwrap(),
        std::fs::read(client.local().join("big.bin")).unwrap()
    );
}
