//! The sections that time `sftp -b` batches in the four pairings: large files, many small
//! files, a large listing, connection set-up.

use std::path::Path;
use std::time::Duration;

use sshwire_tests::{Serve, Sshd, current_user};

use super::client::{Client, Connect, median, percentile, sftp};
use super::table::{Better, Row};

/// The ciphers of the large-file rows.
const CIPHERS: [&str; 3] = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
];
/// The cipher of every other row.
const CIPHER: &str = "aes128-gcm@openssh.com";

/// The servers, the clients and the directories every section shares.
#[derive(Clone, Copy)]
pub struct Rig<'a> {
    /// `sshwire` under test.
    pub program: &'a Path,
    /// The client's private key file.
    pub key: &'a Path,
    /// Its public key line.
    pub public: &'a str,
    /// OpenSSH's daemon.
    pub sshd: &'a Sshd,
    /// `sshwire serve`, serving `serve_root`.
    pub serve: &'a Serve,
    /// The directory `sshwire serve` shows as `/`: `root`, or `/` itself.
    pub serve_root: &'a Path,
    /// The directory both servers serve files from, named to sshd's sftp-server by absolute
    /// path.
    pub root: &'a Path,
    /// The client's own files.
    pub local: &'a Path,
    /// Repetitions of each timed batch.
    pub reps: usize,
    /// The key exchange, if pinned.
    pub kex: Option<&'a str>,
}

impl Rig<'_> {
    /// How the clients connect with `cipher`.
    fn connect<'c>(&'c self, cipher: &'c str) -> Connect<'c> {
        Connect {
            key: self.key,
            cipher,
            kex: self.kex,
        }
    }

    /// The remote path of `name` in the served directory, as the server sees it.
    fn remote(&self, on_serve: bool, name: &str) -> String {
        let path = self.root.join(name);
        match path.strip_prefix(self.serve_root) {
            Ok(inside) if on_serve => Path::new("/").join(inside).display().to_string(),
            _ => path.display().to_string(),
        }
    }

    /// Runs `time(client, port, on_serve)` for the four pairings, in table order.
    fn pairings<T>(&self, mut time: impl FnMut(Client<'_>, u16, bool) -> T) -> [T; 4] {
        let ours = Client::Sshwire(self.program);
        [
            time(Client::OpenSsh, self.sshd.port, false),
            time(ours, self.sshd.port, false),
            time(Client::OpenSsh, self.serve.port, true),
            time(ours, self.serve.port, true),
        ]
    }

    /// The median time of `batch` (given the remote side) in each pairing; `before` runs
    /// outside the timed part of every repetition.
    ///
    /// The repetitions go round the pairings (one of each, then the next round), so that a
    /// machine that slows down or speeds up for a minute weighs on all four alike instead of
    /// on the one that happened to run then: the ratios are what the table is for.
    fn timed(
        &self,
        cipher: &str,
        batch: impl Fn(bool) -> String,
        before: impl Fn(),
    ) -> [Duration; 4] {
        let mut times: [Vec<Duration>; 4] = Default::default();
        for _ in 0..self.reps.max(1) {
            let round = self.pairings(|client, port, on_serve| {
                before();
                sftp(client, port, self.connect(cipher), &batch(on_serve))
            });
            for (all, t) in times.iter_mut().zip(round) {
                all.push(t);
            }
        }
        times.map(median)
    }
}

/// Large-file get (to /dev/null) and put (to /dev/null), per cipher, then one put into a
/// file on both servers.
///
/// `rig` is the one of every section, but with an `sshwire serve` made for this section:
/// its user's root is `/`, as sshd's sftp-server's is, and it may open character devices
/// (`devices = true`), so that the puts write to `/dev/null` on both servers.
///
/// The last row puts into a new file on tmpfs on both servers. Each such put starts right
/// after the file of the one before was removed, so it takes pages the kernel has just
/// freed: on a virtual machine that hands free memory back to its host (virtio-balloon free
/// page reporting, about two seconds after a page is freed), a page freed longer ago costs a
/// fault in the host too, which made writing a new 1 GiB file 1 to 4 s slower here, more so
/// the slower the put.
pub fn throughput(rig: &Rig<'_>, mib: usize) -> Vec<Row> {
    let whole = Serve::start_config(
        rig.program,
        &format!(
            "[[user]]\nname = \"{}\"\nroot = \"/\"\nkeys = [\"{}\"]\ndevices = true\n",
            current_user(),
            rig.public.trim()
        ),
        &[],
    );
    let rig = &Rig {
        serve: &whole,
        serve_root: Path::new("/"),
        ..*rig
    };
    let local = rig.local.join("local.bin");
    write_file(&local, mib);
    // The file to get is the one to put, linked: one copy in memory for both.
    let big = rig.root.join("big.bin");
    if std::fs::hard_link(&local, &big).is_err() {
        std::fs::copy(&local, &big).unwrap();
    }
    let up = rig.root.join("up.bin");
    let mut rows = Vec::new();
    for cipher in CIPHERS {
        for get in [true, false] {
            let times = rig.timed(
                cipher,
                |on_serve| {
                    if get {
                        format!("get {} /dev/null\n", rig.remote(on_serve, "big.bin"))
                    } else {
                        format!("put {} /dev/null\n", local.display())
                    }
                },
                || {},
            );
            let short = cipher.trim_end_matches("@openssh.com");
            let op = if get { "get" } else { "put" };
            rows.push(Row::pairs(
                format!("{mib} MiB {op}, {short}"),
                "MiB/s",
                times.map(|t| mib as f64 / t.as_secs_f64()),
                Better::Higher,
            ));
        }
    }
    let times = rig.timed(
        CIPHER,
        |on_serve| {
            format!(
                "put {} {}\n",
                local.display(),
                rig.remote(on_serve, "up.bin")
            )
        },
        || {
            let _ = std::fs::remove_file(&up);
        },
    );
    rows.push(Row::pairs(
        format!(
            "{mib} MiB put into a file, {}",
            CIPHER.trim_end_matches("@openssh.com")
        ),
        "MiB/s",
        times.map(|t| mib as f64 / t.as_secs_f64()),
        Better::Higher,
    ));
    let _ = std::fs::remove_file(&up);
    let _ = std::fs::remove_file(&big);
    let _ = std::fs::remove_file(&local);
    rows
}

/// `files` files of 4 KiB: `put -r` into the served directory, then `get -r` back.
pub fn small(rig: &Rig<'_>, files: usize) -> Vec<Row> {
    let tree = rig.local.join("small");
    std::fs::create_dir_all(&tree).unwrap();
    for i in 0..files {
        std::fs::write(tree.join(format!("f{i:05}")), vec![(i % 251) as u8; 4096]).unwrap();
    }
    let remote_tree = rig.root.join("small");
    let fetched = rig.local.join("fetched");
    let mut rows = Vec::new();
    for get in [false, true] {
        let times = rig.timed(
            CIPHER,
            |on_serve| {
                let remote = rig.remote(on_serve, "small");
                if get {
                    format!("get -r {remote} {}\n", fetched.display())
                } else {
                    format!("put -r {} {remote}\n", tree.display())
                }
            },
            // Each put starts from nothing on the server, each get from nothing here; the
            // last put leaves the tree for the gets.
            || {
                let _ = std::fs::remove_dir_all(if get { &fetched } else { &remote_tree });
            },
        );
        rows.push(Row::pairs(
            format!("{files} x 4 KiB {}", if get { "get -r" } else { "put -r" }),
            "files/s",
            times.map(|t| files as f64 / t.as_secs_f64()),
            Better::Higher,
        ));
    }
    for dir in [&tree, &remote_tree, &fetched] {
        let _ = std::fs::remove_dir_all(dir);
    }
    rows
}

/// `ls -l` of a directory of `entries` empty files, output to /dev/null.
pub fn list(rig: &Rig<'_>, entries: usize) -> Vec<Row> {
    let dir = rig.root.join("list");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..entries {
        std::fs::File::create(dir.join(format!("entry-{i:06}"))).unwrap();
    }
    let times = rig.timed(
        CIPHER,
        |on_serve| format!("ls -l {}\n", rig.remote(on_serve, "list")),
        || {},
    );
    let _ = std::fs::remove_dir_all(&dir);
    vec![Row::pairs(
        format!("ls -l of {entries} entries"),
        "entries/s",
        times.map(|t| entries as f64 / t.as_secs_f64()),
        Better::Higher,
    )]
}

/// `connections` sessions of one `pwd` each, from spawning the client to its exit: key
/// exchange, authentication, channel, INIT/VERSION and one REALPATH.
pub fn setup(rig: &Rig<'_>, connections: usize) -> Vec<Row> {
    let times = rig.pairings(|client, port, _| {
        let mut times: Vec<Duration> = (0..connections)
            .map(|_| sftp(client, port, rig.connect(CIPHER), "pwd\n"))
            .collect();
        times.sort();
        times
    });
    [50, 99]
        .into_iter()
        .map(|p| {
            Row::pairs(
                format!("set-up to first reply, p{p} of {connections}"),
                "ms",
                times
                    .each_ref()
                    .map(|t| percentile(t, p).as_secs_f64() * 1000.0),
                Better::Lower,
            )
        })
        .collect()
}

/// Writes `mib` MiB of a pattern to `path`, where it stays in the page cache (or on tmpfs).
fn write_file(path: &Path, mib: usize) {
    let block: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i * 31 + i / 4096) as u8)
        .collect();
    let mut f = std::fs::File::create(path).unwrap();
    for _ in 0..mib {
        std::io::Write::write_all(&mut f, &block).unwrap();
    }
}
