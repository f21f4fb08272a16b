//! SFTP against OpenSSH in one run: OpenSSH's `sftp` and `sshwire sftp`, each against
//! OpenSSH's sshd (with its own sftp-server) and against `sshwire serve`.
//!
//! `cargo build --release -p sshwire-tests --bins`, then
//! `target/release/sftp-bench [MiB] [repetitions] [files] [--only SECTIONS]
//! [--connections N] [--entries N] [--sessions N] [--kex NAME]`
//!
//! Sections (`--only` takes a comma list of their names):
//! - `throughput`: get and put of a large file, per cipher, to /dev/null on both servers (a
//!   second `sshwire serve` has `/` for its root and may open devices, as sshd's sftp-server
//!   may), and a put into a new file on both;
//! - `small`: many files of 4 KiB, `put -r` and `get -r`;
//! - `list`: `ls -l` of a directory of many entries;
//! - `setup`: connection set-up to the first SFTP reply (a batch of `pwd`), p50 and p99;
//! - `idle`: the servers' memory with many idle SFTP sessions from the sshwire library;
//! - `limits`: the machine's raw AEAD throughput (ring), loopback TCP bandwidth, and how fast
//!   a new file is written where the puts write.
//!
//! `--kex NAME` pins the key exchange of both sftp clients; by default each client picks its
//! own (with OpenSSH 9.2 on either end that is sntrup761x25519, between sshwire sftp and
//! sshwire serve mlkem768x25519).
//!
//! Both servers serve the same fresh directory on /dev/shm (tmpfs, so that disk and
//! first-touch page-cache costs stay out), or in the normal temporary directory when there is
//! no /dev/shm. Prints one table, aligned and in markdown, with each figure's ratio to
//! OpenSSH's pair.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sftp_bench/mod.rs"]
mod bench;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bench::args::{Options, Section, USAGE};
use bench::sections::Rig;
use bench::table::{self, Better, Row};
use bench::{idle, limits, sections};
use sshwire::keys::{KeyType, PrivateKey};
use sshwire::system_rng;
use sshwire_tests::{Serve, Sshd, current_user, ed25519_key_file};

fn main() {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("sftp-bench: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(if e.is_empty() { 0 } else { 2 });
        }
    };
    let command_line = std::iter::once("sftp-bench".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let ssh_version = Command::new("ssh").arg("-V").output().unwrap();
    let mut header = vec![
        format!("command line: {command_line}"),
        format!(
            "OpenSSH (sftp, ssh, sshd, sftp-server): {}",
            String::from_utf8_lossy(&ssh_version.stderr).trim()
        ),
        format!(
            "sizes: {} MiB per large transfer, {} files of 4 KiB, {} entries listed, {} \
             connections per pairing, {} idle sessions per server; median of {} repetitions; \
             sections: {}",
            options.mib,
            options.files,
            options.entries,
            options.connections,
            options.sessions,
            options.reps,
            options
                .only
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(",")
        ),
    ];
    let mut rows = Vec::new();
    let needs_servers = options.only.iter().any(|s| *s != Section::Limits);
    if needs_servers {
        let (root, local, place) = directories();
        header.push(format!(
            "files: both servers serve {}, the clients' files are in {} ({place})",
            root.path().display(),
            local.path().display()
        ));
        rows.extend(with_servers(&options, root.path(), local.path()));
    }
    if options.runs(Section::Limits) {
        rows.extend(machine_limits(options.reps));
    }
    header.push(
        "columns: client>server, sftp = OpenSSH's sftp, ours = sshwire sftp or sshwire serve; \
         the x columns are ratios to OpenSSH's pair (sftp>sshd), oriented so that higher is \
         better: ours/OpenSSH for rates, OpenSSH/ours for times (ms) and memory (MiB)"
            .to_owned(),
    );
    header.push(match &options.kex {
        Some(kex) => format!("key exchange: {kex} for both sftp clients"),
        None => "key exchange: each client's default (sntrup761x25519 with OpenSSH 9.2 on \
                 either end, mlkem768x25519 between sshwire sftp and sshwire serve); --kex NAME \
                 pins one"
            .to_owned(),
    });
    if options.runs(Section::Throughput) {
        header.push(
            "gets and puts per cipher: to /dev/null on both servers (sshwire serve with a user \
             whose root is / and who may open devices, devices = true); the 'put into a file' \
             row writes a new file on tmpfs on both"
                .to_owned(),
        );
    }
    if options.runs(Section::Idle) {
        header.push(
            "idle sessions are opened by the sshwire library, so their figures sit in the \
             ours>sshd and ours>ours columns and the pair ratio is sshd / serve"
                .to_owned(),
        );
    }
    if options.runs(Section::Limits) {
        header.push("limit rows: the machine's own figure, in the first column".to_owned());
    }
    for line in &header {
        println!("{line}");
    }
    println!();
    print!("{}", table::plain(&rows));
    println!();
    print!("{}", table::markdown(&rows));
}

/// The served directory and the clients' directory: fresh, on /dev/shm when there is one.
fn directories() -> (tempfile::TempDir, tempfile::TempDir, &'static str) {
    let shm = |prefix: &str| {
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/dev/shm")
    };
    match (shm("sftp-bench-root"), shm("sftp-bench-local")) {
        (Ok(root), Ok(local)) => (root, local, "tmpfs, /dev/shm"),
        _ => {
            eprintln!("sftp-bench: no /dev/shm, using the normal temporary directory");
            (
                tempfile::tempdir().unwrap(),
                tempfile::tempdir().unwrap(),
                "the normal temporary directory: no /dev/shm",
            )
        }
    }
}

/// Starts both servers and runs every section that needs them.
fn with_servers(options: &Options, root: &Path, local: &Path) -> Vec<Row> {
    let program = sibling("sshwire-under-test");
    let keys = tempfile::tempdir().unwrap();
    let key = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap());
    let key_file = keys.path().join("id");
    std::fs::write(
        &key_file,
        key.to_openssh("", None, &mut *system_rng())
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let public = key.public_key().to_openssh("bench");
    let host = keys.path().join("host");
    ed25519_key_file(&host);
    let sshd = Sshd::start("");
    sshd.authorize(&public);
    let serve = Serve::start_with_root(&program, root, std::slice::from_ref(&host), &public);
    let rig = Rig {
        program: &program,
        key: &key_file,
        public: &public,
        serve_root: root,
        sshd: &sshd,
        serve: &serve,
        root,
        local,
        reps: options.reps,
        kex: options.kex.as_deref(),
    };
    let mut rows = Vec::new();
    for &section in &options.only {
        if section != Section::Limits {
            eprintln!("sftp-bench: {}", section.name());
        }
        match section {
            Section::Throughput => rows.extend(sections::throughput(&rig, options.mib)),
            Section::Small => rows.extend(sections::small(&rig, options.files)),
            Section::List => rows.extend(sections::list(&rig, options.entries)),
            Section::Setup => rows.extend(sections::setup(&rig, options.connections)),
            Section::Idle => {
                // A fresh `sshwire serve`: one that has served the other sections may hold
                // freed memory its new sessions would reuse unseen.
                let fresh =
                    Serve::start_with_root(&program, root, std::slice::from_ref(&host), &public);
                rows.extend(idle_memory(&sshd, &fresh, &key, options.sessions));
            }
            Section::Limits => {}
        }
    }
    rows
}

/// The servers' memory with `sessions` idle sessions each.
fn idle_memory(sshd: &Sshd, serve: &Serve, key: &Arc<PrivateKey>, sessions: usize) -> Vec<Row> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let user = current_user();
    let on_sshd = idle::measure(&runtime, sshd.port, sshd.pid(), &user, key, sessions);
    let on_serve = idle::measure(&runtime, serve.port, serve.pid(), &user, key, sessions);
    let row = |what: &str, a: f64, b: f64| Row {
        what: format!("{sessions} idle sessions, server {what}"),
        unit: "MiB",
        cells: [None, Some(a), None, Some(b)],
        better: Better::Lower,
        reference: Some(1),
    };
    vec![
        row("VmRSS", on_sshd.rss, on_serve.rss),
        row("PSS", on_sshd.pss, on_serve.pss),
    ]
}

/// Raw AEAD, loopback TCP and writing a file where the puts write: what no SFTP pairing
/// can beat on this machine.
fn machine_limits(reps: usize) -> Vec<Row> {
    eprintln!("sftp-bench: limits");
    let (dir, _, place) = directories();
    let best = |run: &dyn Fn() -> f64| {
        let mut v: Vec<f64> = (0..reps).map(|_| run()).collect();
        v.sort_by(f64::total_cmp);
        v.get((v.len() - 1) / 2).copied().unwrap_or(0.0)
    };
    vec![
        Row::machine(
            "limit: AES-128-GCM seal, 256 KiB (ring)".into(),
            "MiB/s",
            best(&|| limits::aes_gcm(&ring::aead::AES_128_GCM)),
        ),
        Row::machine(
            "limit: AES-256-GCM seal, 256 KiB (ring)".into(),
            "MiB/s",
            best(&|| limits::aes_gcm(&ring::aead::AES_256_GCM)),
        ),
        Row::machine(
            "limit: chacha20-poly1305@openssh.com seal, 256 KiB (ring)".into(),
            "MiB/s",
            best(&limits::chacha20_poly1305_openssh),
        ),
        Row::machine(
            "limit: loopback TCP, 1 GiB in 256 KiB writes".into(),
            "MiB/s",
            best(&limits::loopback),
        ),
        Row::machine(
            format!("limit: a new 1 GiB file in 256 KiB writes ({place})"),
            "MiB/s",
            best(&|| limits::file_write(dir.path())),
        ),
    ]
}

/// A program built next to this one.
fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build --release -p sshwire-tests --bins)",
        path.display()
    );
    path
}
