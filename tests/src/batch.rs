//! One SFTP batch with every command, run by OpenSSH's `sftp` or by `sshwire sftp`, and what
//! it leaves behind: the listings printed, the server's tree and the files downloaded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{Sshd, ed25519_key_file};

/// Where the client side keeps its key, its local files and the batch.
pub struct Client {
    /// The client's own directory: key, local files, batch, downloads (`out/`).
    pub dir: tempfile::TempDir,
    /// Its Ed25519 key.
    pub key: PathBuf,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client with its key and files.
    pub fn new() -> Client {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id");
        ed25519_key_file(&key);
        let c = Client { dir, key };
        c.make_local_files();
        c
    }

    /// The public key line.
    pub fn public_key(&self) -> String {
        std::fs::read_to_string(format!("{}.pub", self.key.display())).unwrap()
    }

    /// The files to upload.
    pub fn local(&self) -> PathBuf {
        self.dir.path().join("local")
    }

    /// Files to upload, with fixed contents, modes and times so that `-p` has something to
    /// preserve.
    fn make_local_files(&self) {
        let l = self.local();
        std::fs::create_dir_all(l.join("tree/sub")).unwrap();
        std::fs::write(l.join("a.txt"), "alpha\n").unwrap();
        std::fs::write(l.join("tree/one.txt"), "one\n").unwrap();
        std::fs::write(l.join("tree/sub/two.bin"), pattern(100_000)).unwrap();
        std::fs::write(l.join("big.bin"), pattern(3_000_000)).unwrap();
        // Halves, for reget and reput.
        std::fs::write(l.join("big.half"), &pattern(3_000_000)[..1_234_567]).unwrap();
        for (p, mode) in [
            ("a.txt", 0o640),
            ("tree/one.txt", 0o600),
            ("tree/sub/two.bin", 0o644),
        ] {
            std::fs::set_permissions(l.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let status = Command::new("touch")
            .args(["-h", "-d", "2021-03-04 05:06:07"])
            .arg(l.join("a.txt"))
            .arg(l.join("tree/one.txt"))
            .arg(l.join("tree/sub/two.bin"))
            .arg(l.join("big.bin"))
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::create_dir_all(self.dir.path().join("out")).unwrap();
    }

    /// Runs `sftp -b` with `batch` against `port`, as the current user.
    pub fn sftp(&self, port: u16, batch: &str, extra: &[&str]) -> Output {
        self.batch(Command::new("sftp"), port, batch, extra)
    }

    /// Runs `sshwire sftp -b` (through `program`) with `batch` against `port`, with the same
    /// options as [`Client::sftp`].
    pub fn sshwire_sftp(&self, program: &Path, port: u16, batch: &str, extra: &[&str]) -> Output {
        let mut command = Command::new(program);
        command.arg("sftp");
        self.batch(command, port, batch, extra)
    }

    /// `command -b FILE` with the key, the port and options for a throw-away server.
    fn batch(&self, mut command: Command, port: u16, batch: &str, extra: &[&str]) -> Output {
        let file = self.dir.path().join("batch");
        std::fs::write(&file, batch).unwrap();
        command
            .args(extra)
            .arg("-b")
            .arg(&file)
            .args(["-P", &port.to_string(), "-i"])
            .arg(&self.key)
            .args(QUIET_TRUSTING)
            .arg("127.0.0.1")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// `-o` options for a server made for the test: trust its key without recording it, and say
/// nothing about it.
pub const QUIET_TRUSTING: [&str; 6] = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
];

/// Deterministic contents of `len` bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 255) as u8).collect()
}

/// The batch: every command of OpenSSH's sftp that touches the server, starting in `start`.
pub fn full_batch(start: &str, local: &Path, out: &Path) -> String {
    let l = local.display();
    let o = out.display();
    format!(
        "cd {start}
mkdir work
cd work
pwd
put -p {l}/a.txt
put -r -p {l}/tree
put {l}/big.half big.bin
reput {l}/big.bin big.bin
ls -1
ls -l
ls -la tree
ls -l tree/sub
mkdir empty
rmdir empty
rename a.txt b.txt
ln b.txt hard.txt
ln -s b.txt soft.txt
symlink tree linked-tree
chmod 600 b.txt
chmod 755 tree/sub
chown 0 b.txt
chgrp 0 b.txt
df
copy b.txt copied.txt
cp tree/one.txt one-copy.txt
get -p b.txt {o}/b.txt
get -r -p tree {o}/tree
get soft.txt {o}/through-link.txt
get big.bin {o}/big.bin
reget big.bin {o}/partial.bin
get -a big.bin {o}/partial2.bin
get linked-tree/one.txt {o}/via-dir-link.txt
version
progress
progress
help
lmkdir {o}/made
lcd {o}/made
lpwd
lcd {o}
lls
lumask 022
ls
ls -1r
ls -lS tree
ls -lh tree/sub
ls *.txt
ls -l t*
df -h
df -i
rename -l one-copy.txt one-renamed.txt
get -f b.txt {o}/synced.txt
put -f {l}/a.txt fsynced.txt
lmkdir {o}/m
mget *.txt {o}/m
mput {l}/tree/*.txt tree/sub
!echo the shell ran
rm hard.txt
-rm does-not-exist
ls -l
ls -1 linked-tree
lls {o}
"
    )
}

/// Replaces what legitimately differs between servers: the start directory in the echoed
/// commands, and the times in `ls -l` lines (directories get the time they were made).
pub fn normalize(output: &str, start: &str) -> String {
    output
        .lines()
        .filter(|l| !l.starts_with("Filesystem") && !l.trim_start().starts_with(char::is_numeric))
        .map(|l| l.replace(start, "START"))
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            // ls -l: mode links owner group size month day time|year name...
            if fields.len() >= 9 && fields[0].len() == 10 && fields[0].starts_with(['-', 'd', 'l'])
            {
                let mut f = fields.clone();
                if !f[0].starts_with('d') {
                    // Directory sizes and link counts are the filesystem's business.
                } else {
                    f[1] = "N";
                    f[4] = "SIZE";
                }
                f[5] = "MON";
                f[6] = "DAY";
                f[7] = "TIME";
                f.join(" ")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file and directory below `root`: path -> (kind, mode, size, contents hash).
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let desc = if meta.file_type().is_symlink() {
            format!("link -> {}", std::fs::read_link(&path).unwrap().display())
        } else if meta.is_dir() {
            walk(root, &path, out);
            format!("dir {:o}", meta.mode() & 0o7777)
        } else {
            let data = std::fs::read(&path).unwrap();
            let sum: u64 = data
                .iter()
                .enumerate()
                .map(|(i, b)| (i as u64 + 1) * u64::from(*b))
                .sum();
            format!(
                "file {:o} {} {sum} nlink={} mtime={}",
                meta.mode() & 0o7777,
                data.len(),
                meta.nlink(),
                if meta.mtime() < 1_700_000_000 {
                    meta.mtime().to_string()
                } else {
                    "now".into()
                }
            )
        };
        out.insert(rel, desc);
    }
}

pub struct Run {
    /// What the client printed, normalized.
    pub listing: String,
    /// The server's tree afterwards.
    pub server_tree: BTreeMap<String, String>,
    /// What the client downloaded.
    pub downloaded: BTreeMap<String, String>,
}

/// Runs [`full_batch`] with `program` (OpenSSH's `sftp` when `None`, else `sshwire sftp`
/// through that program) against `port`, starting in `start`.
pub fn run_batch(
    program: Option<&Path>,
    port: u16,
    start: &Path,
    server_root: &Path,
    client: &Client,
) -> Run {
    let out_dir = client.dir.path().join("out");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    // Prefixes of big.bin, as interrupted downloads leave them, for reget and get -a.
    let big = std::fs::read(client.local().join("big.bin")).unwrap();
    std::fs::write(out_dir.join("partial.bin"), &big[..1_000_001]).unwrap();
    std::fs::write(out_dir.join("partial2.bin"), &big[..65_536]).unwrap();
    let start_text = start.display().to_string();
    let batch = full_batch(&start_text, &client.local(), &client.dir.path().join("out"));
    let out = match program {
        None => client.sftp(port, &batch, &[]),
        Some(p) => client.sshwire_sftp(p, port, &batch, &[]),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "batch failed:\n{stdout}\nstderr:\n{stderr}"
    );
    Run {
        listing: normalize(&stdout, &start_text)
            .replace(&client.dir.path().display().to_string(), "CLIENT"),
        server_tree: tree(server_root),
        downloaded: tree(&client.dir.path().join("out")),
    }
}

/// sshd with `subsystem` as its sftp server.
pub fn sshd_with(subsystem: &str, client: &Client) -> Sshd {
    let sshd = Sshd::start(&format!("Subsystem sftp {subsystem}\n"));
    sshd.authorize(&client.public_key());
    sshd
}

/// Panics unless two runs printed, left and downloaded the same.
pub fn assert_same(what: &str, ours: &Run, reference: &Run) {
    assert_eq!(ours.listing, reference.listing, "{what}: listings differ");
    assert_eq!(
        ours.server_tree, reference.server_tree,
        "{what}: server trees differ"
    );
    assert_eq!(
        ours.downloaded, reference.downloaded,
        "{what}: downloads differ"
    );
}

/// A directory in the root of a served tree whose absolute path, as the server shows it, is
/// as long as `like`: `ls` lays out globbed names in columns measured on the full paths, so
/// the batch compares equal across servers only when the start paths have the same length.
/// Returns the path as the server shows it and the directory on disk.
pub fn area_like(served_root: &Path, like: &Path) -> (PathBuf, PathBuf) {
    let len = like.as_os_str().len().max(2);
    let name = "a".repeat(len - 1);
    let on_disk = served_root.join(&name);
    std::fs::create_dir_all(&on_disk).unwrap();
    (PathBuf::from(format!("/{name}")), on_disk)
}
