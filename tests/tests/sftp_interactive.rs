//! `sshwire sftp` as a person uses it: on a real pseudo-terminal (tmux), against
//! `sshwire serve`. Tab completes remote names (quoting spaces), a 300 MiB get draws a
//! progress meter and arrives intact, `ls -l` prints what batch mode prints, history comes
//! back after a restart, and Ctrl-C stops a transfer, leaving a prefix that `reget` resumes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sshwire_tests::{Serve, ed25519_key_file, openssh_available};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");
/// The size of the big file.
const BIG: u64 = 300 * 1024 * 1024;
/// How long any one thing may take to appear on the screen (a generous bound for a loaded
/// machine: the test polls, it never waits this long when things work).
const PATIENCE: Duration = Duration::from_secs(120);

/// Whether tmux is installed; without it the test skips loudly, or fails when
/// `SSHWIRE_REQUIRE_INTEROP=1`.
fn tmux_available(test: &str) -> bool {
    if Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    if std::env::var("SSHWIRE_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("{test}: tmux is required (SSHWIRE_REQUIRE_INTEROP=1) but missing");
    }
    eprintln!("SKIPPED {test}: tmux is not installed (install tmux)");
    false
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        static N: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "sshwire-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `command` (a shell command line) in a 200x50 window, in `dir`. When it ends,
    /// the window says `[exited N]` and stays.
    fn start(&self, dir: &Path, command: &str) {
        let line = format!("{command}; echo \"[exited $?]\"; sleep 600");
        self.tmux(&[
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "50",
            "-c",
            dir.to_str().unwrap(),
            &line,
        ]);
        self.tmux(&["set-option", "-g", "history-limit", "5000"]);
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// The window and its scrollback.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0", "-S", "-1000"])
    }

    /// Polls the screen until `ready` holds for it; returns that screen.
    fn wait(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited in vain for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `line` and Enter, and polls until it has run: it is on the screen after a
    /// prompt, and a new prompt follows. Returns that screen.
    fn command(&self, line: &str) -> String {
        let echoed = format!("sftp> {line}");
        let count = |s: &str| s.lines().filter(|l| l.trim_end() == echoed).count();
        let before = count(&self.screen());
        self.keys(&[line, "Enter"]);
        self.wait(line, |s| {
            count(s) > before && s.lines().rev().find(|l| !l.trim().is_empty()) == Some("sftp>")
        })
    }

    /// Polls until the last non-empty line of the screen is the bare prompt.
    fn wait_prompt(&self, what: &str) -> String {
        self.wait(what, |s| {
            s.lines().rev().find(|l| !l.trim().is_empty()) == Some("sftp>")
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The i-th MiB of the big file: distinct blocks, so that a misplaced block is seen.
fn block(i: u64) -> Vec<u8> {
    (0..1024 * 1024u64)
        .map(|j| (j.wrapping_mul(31) ^ i.wrapping_mul(7919) ^ (j >> 9)) as u8)
        .collect()
}

fn write_big(path: &Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..BIG / (1024 * 1024) {
        f.write_all(&block(i)).unwrap();
    }
    f.flush().unwrap();
}

/// How many leading bytes of `a` and `b` agree, and their lengths.
fn common_prefix(a: &Path, b: &Path) -> (u64, u64, u64) {
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (la, lb) = (fa.metadata().unwrap().len(), fb.metadata().unwrap().len());
    let mut same = 0u64;
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = la.min(lb).saturating_sub(same).min(1 << 20) as usize;
        if n == 0 {
            return (same, la, lb);
        }
        fa.read_exact(&mut ba[..n]).unwrap();
        fb.read_exact(&mut bb[..n]).unwrap();
        match ba[..n].iter().zip(&bb[..n]).position(|(x, y)| x != y) {
            Some(k) => return (same + k as u64, la, lb),
            None => same += n as u64,
        }
    }
}

/// The shell-quoted form of a path.
fn sh(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

struct Setup {
    _serve: Serve,
    _keys: tempfile::TempDir,
    port: u16,
    key: PathBuf,
    home: tempfile::TempDir,
    local: tempfile::TempDir,
    root: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let keys = tempfile::tempdir().unwrap();
        let host = keys.path().join("host");
        ed25519_key_file(&host);
        let key = keys.path().join("id");
        let public = ed25519_key_file(&key);
        let serve = Serve::start_with_users(Path::new(PROGRAM), &[host], &public, None, &[]);
        let root = serve.dir.path().join("root");
        std::fs::create_dir_all(root.join("docs")).unwrap();
        write_big(&root.join("big.bin"));
        std::fs::write(root.join("a file.txt"), "spaced\n").unwrap();
        std::fs::write(root.join("notes.txt"), "notes\n").unwrap();
        Setup {
            port: serve.port,
            _serve: serve,
            _keys: keys,
            key,
            home: tempfile::tempdir().unwrap(),
            local: tempfile::tempdir().unwrap(),
            root,
        }
    }

    fn options(&self) -> String {
        format!(
            "-P {} -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            self.port,
            sh(&self.key)
        )
    }

    /// The shell command that runs the interactive shell with HOME in the test's directory.
    fn interactive(&self, extra: &str) -> String {
        format!(
            "env -u XDG_STATE_HOME HOME={} {} sftp {extra} {} 127.0.0.1",
            sh(self.home.path()),
            sh(Path::new(PROGRAM)),
            self.options()
        )
    }

    /// What `sshwire sftp -b` prints for `command`, without its echo.
    fn batch(&self, command: &str) -> Vec<String> {
        let file = self.local.path().join("batch");
        std::fs::write(&file, format!("{command}\n")).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{} sftp -b {} {} 127.0.0.1",
                sh(Path::new(PROGRAM)),
                sh(&file),
                self.options()
            ))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with("sftp> "))
            .map(str::to_owned)
            .collect()
    }
}

/// A progress meter line for `name`: its name, a percentage, a byte count and a rate.
fn meter_line<'a>(screen: &'a str, name: &str, percent: &str) -> Option<&'a str> {
    screen.lines().find(|l| {
        l.starts_with(name)
            && l.contains(percent)
            && l.contains("B/s")
            && l.split_whitespace()
                .any(|w| w.ends_with("MB") || w.ends_with("KB"))
    })
}

#[test]
fn the_interactive_shell_completes_shows_progress_lists_and_remembers() {
    let test = "the_interactive_shell_completes_shows_progress_lists_and_remembers";
    if !openssh_available(test) || !tmux_available(test) {
        return;
    }
    let s = Setup::new();
    let listing = s.batch("ls -l");
    assert_eq!(listing.len(), 4, "{listing:?}");

    let tmux = Tmux::new();
    tmux.start(s.local.path(), &s.interactive(""));
    tmux.wait_prompt("the first prompt");
    assert!(
        tmux.screen().contains("Connected to 127.0.0.1."),
        "{}",
        tmux.screen()
    );

    // Tab completes a remote name among others, then the 300 MiB download draws its meter
    // and ends at 100%.
    tmux.keys(&["get bi", "Tab"]);
    tmux.wait("get bi<TAB> completed", |s| s.contains("sftp> get big.bin"));
    tmux.keys(&["Enter"]);
    let done = tmux.wait("the download's last meter line", |s| {
        meter_line(s, "/big.bin", " 100% ").is_some()
    });
    assert!(done.contains("Fetching /big.bin to big.bin"), "{done}");
    tmux.wait_prompt("the prompt after get");
    let (same, ours, theirs) =
        common_prefix(&s.local.path().join("big.bin"), &s.root.join("big.bin"));
    assert_eq!((same, ours), (theirs, BIG), "the download differs");

    // A name with a space is completed escaped, and the command then finds the file.
    tmux.keys(&["get a", "Tab"]);
    tmux.wait("a quoted completion", |s| {
        s.contains(r"sftp> get a\ file.txt")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_prompt("the prompt after the second get");
    assert_eq!(
        std::fs::read_to_string(s.local.path().join("a file.txt")).unwrap(),
        "spaced\n"
    );

    // ls -l prints exactly what batch mode prints.
    let screen = tmux.command("ls -l");
    let after: Vec<&str> = screen
        .lines()
        .skip_while(|l| *l != "sftp> ls -l")
        .skip(1)
        .take(listing.len())
        .map(str::trim_end)
        .collect();
    assert_eq!(after, listing, "{screen}");

    // Ctrl-D quits; the history file holds what was typed.
    tmux.keys(&["C-d"]);
    tmux.wait("the end of the first session", |s| s.contains("[exited 0]"));
    let history = s.home.path().join(".local/state/sshwire/sftp_history");
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("ls -l"), "{saved}");
    drop(tmux);

    // A new session recalls the last command with Up. Its transfers use 1 KiB requests one
    // at a time, so that the 300 MiB get is still running when Ctrl-C comes.
    let tmux = Tmux::new();
    tmux.start(s.local.path(), &s.interactive("-B 1024 -R 1"));
    tmux.wait_prompt("the second session's prompt");
    tmux.keys(&["Up"]);
    tmux.wait("the recalled command", |s| {
        s.lines().any(|l| l.trim_end() == "sftp> ls -l")
    });
    tmux.keys(&["C-u", "get big.bin partial.bin", "Enter"]);
    let running = tmux.wait("a meter line while the get runs", |s| {
        meter_line(s, "/big.bin", "%").is_some_and(|l| l.contains(" ETA"))
    });
    let live = meter_line(&running, "/big.bin", "%").unwrap();
    assert!(!live.contains(" 100% "), "{live}");
    tmux.keys(&["C-c"]);
    tmux.wait("the interruption", |s| {
        s.contains("Interrupted; \"reget big.bin partial.bin\" resumes the transfer.")
    });
    tmux.wait_prompt("the prompt after Ctrl-C");
    let (same, ours, _) =
        common_prefix(&s.local.path().join("partial.bin"), &s.root.join("big.bin"));
    assert_eq!(same, ours, "the interrupted download is not a prefix");
    assert!(ours < BIG, "the download was not interrupted");
    tmux.keys(&["bye", "Enter"]);
    tmux.wait("the end of the second session", |s| {
        s.contains("[exited 0]")
    });
}
