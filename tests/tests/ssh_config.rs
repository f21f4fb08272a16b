//! ssh_config as people use it: a `Host` alias in `~/.ssh/config` (in a file it includes, or
//! in `-F file`) takes `sshwire exec`, `sshwire sftp` and `sshwire cp` to a private sshd, with
//! the known_hosts entry OpenSSH's ssh then accepts; `ProxyJump` chains reach `sshwire serve`
//! and an sshd through OpenSSH jump hosts, each hop checked and logged in on its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sshwire_tests::{Serve, Sshd, current_user, ed25519_key_file, openssh_available};

const SSHWIRE: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// A client home with `.ssh/`, a key the servers accept, and a configuration.
struct Home {
    dir: tempfile::TempDir,
    key: PathBuf,
    public: String,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".ssh")).unwrap();
        let key = dir.path().join(".ssh").join("id_test");
        let public = ed25519_key_file(&key);
        Home { dir, key, public }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `sshwire args...` with this home, no agent and no prompts; `input` on stdin.
    fn sshwire(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new(SSHWIRE)
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("SSH_ASKPASS")
            .env_remove("DISPLAY")
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_ok(out: &Output, what: &str, logs: &[&dyn Fn() -> String]) {
    if !out.status.success() {
        let logs: Vec<String> = logs.iter().map(|l| l()).collect();
        panic!(
            "{what}: {:?}\nstdout: {}\nstderr: {}\nserver logs:\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr),
            logs.join("\n----\n")
        );
    }
}

/// The first field of each line of a known_hosts file.
fn known_host_names(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn a_host_alias_works_for_exec_sftp_and_cp() {
    if !openssh_available("a_host_alias_works_for_exec_sftp_and_cp") {
        return;
    }
    let sshd = Sshd::start("");
    let home = Home::new();
    sshd.authorize(&home.public);
    std::fs::create_dir(home.path("known hosts")).unwrap();
    // Keywords in several spellings, quoting, tokens, and a catch-all after the alias whose
    // values come too late to win.
    let config = format!(
        "# a comment\n\
         Host box other-alias\n\
         \tHostName 127.0.0.1\n\
         \tport={port}\n\
         \tUser {user}\n\
         \tIdentityFile ~/.ssh/id_test\n\
         \tIdentitiesOnly yes\n\
         \tUserKnownHostsFile \"%d/known hosts/%h-%p\"\n\
         \tSTRICTHOSTKEYCHECKING accept-new\n\
         \tGlobalKnownHostsFile /dev/null\n\
         \tForwardAgent no\n\
         Host *\n\
         \tPort 1\n\
         \tUser nobody-at-all\n",
        port = sshd.port,
        user = current_user(),
    );
    // The alias lives in a file included relative to ~/.ssh, by a pattern.
    std::fs::create_dir(home.path(".ssh/conf.d")).unwrap();
    std::fs::write(home.path(".ssh/conf.d/10-box.conf"), &config).unwrap();
    std::fs::write(home.path(".ssh/config"), "Include conf.d/*.conf\n").unwrap();
    let sshd_log = || sshd.log();

    // exec, from ~/.ssh/config.
    let out = home.sshwire(&["exec", "box", "echo", "hello", "from", "box"], "");
    assert_ok(&out, "sshwire exec box", &[&sshd_log]);
    assert_eq!(text(&out.stdout), "hello from box\n");
    // The host key went where the tokens say, under HostName and the port, as OpenSSH
    // records it: OpenSSH's ssh accepts that entry with strict checking.
    let known = home.path(&format!("known hosts/127.0.0.1-{}", sshd.port));
    assert_eq!(
        known_host_names(&known),
        [format!("[127.0.0.1]:{}", sshd.port)]
    );
    let ssh = Command::new("ssh")
        .arg("-F")
        .arg(home.path(".ssh/conf.d/10-box.conf"))
        .arg("-i")
        .arg(&home.key)
        .arg("-o")
        // Quoted: the path has a space.
        .arg(format!("UserKnownHostsFile=\"{}\"", known.display()))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "box",
            "true",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ok(
        &ssh,
        "OpenSSH ssh with sshwire's known_hosts entry",
        &[&sshd_log],
    );

    // sftp, from -F: an alias only that file has.
    let alt = home.path("alt_config");
    std::fs::write(&alt, config.replace("Host box other-alias", "Host altbox")).unwrap();
    let alt_arg = alt.display().to_string();
    let out = home.sshwire(&["sftp", "-F", &alt_arg, "-b", "-", "altbox"], "pwd\n");
    assert_ok(&out, "sshwire sftp -F alt altbox", &[&sshd_log]);
    assert!(
        text(&out.stdout).contains("Remote working directory: /"),
        "{}",
        text(&out.stdout)
    );
    // ~/.ssh/config is not read when -F names another file.
    let out = home.sshwire(&["sftp", "-F", &alt_arg, "-b", "-", "box"], "pwd\n");
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("Could not resolve hostname box"),
        "{}",
        text(&out.stderr)
    );

    // cp, both ways, by the alias.
    let remote_dir = tempfile::tempdir().unwrap();
    let remote_file = remote_dir.path().join("remote.txt");
    std::fs::write(&remote_file, "remote contents\n").unwrap();
    let source = format!("box:{}", remote_file.display());
    let out = home.sshwire(&["cp", "-q", &source, "."], "");
    assert_ok(&out, "sshwire cp box:file .", &[&sshd_log]);
    assert_eq!(
        std::fs::read_to_string(home.path("remote.txt")).unwrap(),
        "remote contents\n"
    );
    std::fs::write(home.path("up.txt"), "uploaded\n").unwrap();
    let dest = format!("other-alias:{}/", remote_dir.path().display());
    let out = home.sshwire(&["cp", "up.txt", &dest], "");
    assert_ok(&out, "sshwire cp file alias:dir/", &[&sshd_log]);
    assert_eq!(
        std::fs::read_to_string(remote_dir.path().join("up.txt")).unwrap(),
        "uploaded\n"
    );
    // -F none: no aliases at all.
    let out = home.sshwire(&["cp", "-F", "none", &source, "."], "");
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Could not resolve hostname box"));
}

#[test]
fn configuration_mistakes_name_the_file_and_line() {
    let home = Home::new();
    std::fs::write(
        home.path(".ssh/config"),
        "Host elsewhere\n  Port 22\n  Prot 22\n",
    )
    .unwrap();
    let out = home.sshwire(&["exec", "box", "true"], "");
    assert_eq!(out.status.code(), Some(255));
    let config = home.path(".ssh/config");
    assert_eq!(
        text(&out.stderr),
        format!(
            "sshwire: {} line 3: unsupported option \"Prot\"\n",
            config.display()
        )
    );
    // A loop of jump hosts is refused before going round it for ever.
    std::fs::write(&config, "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n").unwrap();
    let out = home.sshwire(&["exec", "a", "true"], "");
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("ProxyJump loop"),
        "{}",
        text(&out.stderr)
    );
}

/// How many times an sshd was asked for a direct-tcpip channel to 127.0.0.1:`port`.
fn forwards_to(sshd: &Sshd, port: u16) -> usize {
    sshd.log()
        .matches(&format!("target 127.0.0.1 port {port}"))
        .count()
}

#[test]
fn proxyjump_chains_reach_the_target_through_each_hop() {
    if !openssh_available("proxyjump_chains_reach_the_target_through_each_hop") {
        return;
    }
    let home = Home::new();
    // Two OpenSSH jump hosts (TCP forwarding is on by default) logging the channels they
    // open, and sshwire serve as the last stop.
    let j1 = Sshd::start("LogLevel DEBUG1\n");
    let j2 = Sshd::start("LogLevel DEBUG1\n");
    j1.authorize(&home.public);
    j2.authorize(&home.public);
    let host_key = home.path("serve_host_key");
    ed25519_key_file(&host_key);
    let serve = Serve::start_with_users(Path::new(SSHWIRE), &[host_key], &home.public, None, &[]);
    let config = format!(
        "Host j1\n  HostName 127.0.0.1\n  Port {j1}\n\
         Host j2\n  HostName 127.0.0.1\n  Port {j2}\n  ProxyJump j1\n\
         Host target\n  HostName 127.0.0.1\n  Port {serve}\n  ProxyJump j2\n\
         Host *\n  User {user}\n  IdentityFile {key}\n  UserKnownHostsFile {home}/known_hosts\n\
         \x20 StrictHostKeyChecking accept-new\n  GlobalKnownHostsFile /dev/null\n",
        j1 = j1.port,
        j2 = j2.port,
        serve = serve.port,
        user = current_user(),
        key = home.key.display(),
        home = home.dir.path().display(),
    );
    let cfg = home.path("config");
    std::fs::write(&cfg, config).unwrap();
    let cfg = cfg.display().to_string();
    let logs: [&dyn Fn() -> String; 3] = [&|| j1.log(), &|| j2.log(), &|| serve.log()];

    // ProxyJump from the configuration, hop after hop: target via j2, j2 via j1.
    let out = home.sshwire(
        &["sftp", "-F", &cfg, "-b", "-", "target"],
        "pwd\nmkdir made-through-jumps\n",
    );
    assert_ok(&out, "sshwire sftp through two jump hosts", &logs);
    assert!(serve.dir.path().join("root/made-through-jumps").is_dir());
    assert_eq!(forwards_to(&j1, j2.port), 1, "j1 log:\n{}", j1.log());
    assert_eq!(forwards_to(&j2, serve.port), 1, "j2 log:\n{}", j2.log());
    // Every hop's host key was checked and recorded on its own.
    let mut names = known_host_names(&home.path("known_hosts"));
    names.sort();
    let mut expected: Vec<String> = [j1.port, j2.port, serve.port]
        .iter()
        .map(|p| format!("[127.0.0.1]:{p}"))
        .collect();
    expected.sort();
    assert_eq!(names, expected);

    // -J on the command line, a chain of two, to an address the configuration only gives
    // defaults for; and exec to an sshd behind one jump host.
    let serve_port = serve.port.to_string();
    let out = home.sshwire(
        &[
            "sftp",
            "-F",
            &cfg,
            "-J",
            "j1,j2",
            "-P",
            &serve_port,
            "-b",
            "-",
            "127.0.0.1",
        ],
        "ls\n",
    );
    assert_ok(&out, "sshwire sftp -J j1,j2", &logs);
    assert!(
        text(&out.stdout).contains("made-through-jumps"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(forwards_to(&j1, j2.port), 2);
    assert_eq!(forwards_to(&j2, serve.port), 2);
    let out = home.sshwire(&["exec", "-F", &cfg, "j2", "echo", "$SSH_CONNECTION"], "");
    assert_ok(&out, "sshwire exec j2 (via j1)", &logs);
    assert!(
        text(&out.stdout).ends_with(&format!(" {}\n", j2.port)),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(forwards_to(&j1, j2.port), 3);

    // cp through the chain, and -J none overriding the configuration's ProxyJump.
    std::fs::write(serve.dir.path().join("root/far.txt"), "far away\n").unwrap();
    let out = home.sshwire(&["cp", "-F", &cfg, "target:far.txt", "far.txt"], "");
    assert_ok(&out, "sshwire cp through two jump hosts", &logs);
    assert_eq!(
        std::fs::read_to_string(home.path("far.txt")).unwrap(),
        "far away\n"
    );
    assert_eq!(forwards_to(&j1, j2.port), 4);
    let out = home.sshwire(
        &[
            "cp",
            "-F",
            &cfg,
            "-J",
            "none",
            "target:far.txt",
            "direct.txt",
        ],
        "",
    );
    assert_ok(&out, "sshwire cp -J none", &logs);
    assert_eq!(forwards_to(&j2, serve.port), 3, "no new channel through j2");
}
