//! Helpers for the integration tests: real OpenSSH daemons and `sshwire serve` processes on
//! loopback, each in its own temporary directory, each stopped when dropped.
#![forbid(unsafe_code)]

pub mod batch;
pub mod hostile;
pub mod proxy;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// Where OpenSSH's programs are.
pub const SSHD: &str = "/usr/sbin/sshd";
/// OpenSSH's client.
pub const SSH: &str = "ssh";

/// Whether OpenSSH is installed; without it interop tests skip loudly, or fail when
/// `SSHWIRE_REQUIRE_INTEROP=1`.
pub fn openssh_available(test: &str) -> bool {
    let have = Path::new(SSHD).exists()
        && Command::new(SSH)
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
        && Command::new("ssh-keygen").arg("-?").output().is_ok();
    if have {
        return true;
    }
    if std::env::var("SSHWIRE_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!(
            "{test}: OpenSSH (sshd, ssh, ssh-keygen) is required (SSHWIRE_REQUIRE_INTEROP=1) but missing"
        );
    }
    eprintln!(
        "SKIPPED {test}: OpenSSH is not installed (install openssh-server and openssh-client)"
    );
    false
}

/// The names `ssh -Q what` lists: what this OpenSSH supports.
pub fn openssh_query(what: &str) -> Vec<String> {
    let out = Command::new(SSH)
        .args(["-Q", what])
        .output()
        .expect("ssh -Q");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A port that was free a moment ago (for programs that cannot report the one they bound).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// Runs `ssh-keygen` with `args`, panicking with its output on failure.
pub fn ssh_keygen(args: &[&str]) -> String {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a new unencrypted Ed25519 key pair with `ssh-keygen` at `path` (and `path.pub`);
/// returns the public key line.
pub fn ed25519_key_file(path: &Path) -> String {
    ssh_keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-f",
        path.to_str().unwrap(),
    ]);
    std::fs::read_to_string(format!("{}.pub", path.display())).unwrap()
}

/// A child process killed and reaped on drop, with its stderr collected in the background.
struct Guard {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads lines from `r` until `ready` matches one; the rest go to `log` in the background.
fn wait_for_line(
    r: impl std::io::Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
    ready: impl Fn(&str) -> Option<u16>,
) -> Option<u16> {
    let mut lines = BufReader::new(r).lines();
    let mut found = None;
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        log.lock().unwrap().push(line.clone());
        if let Some(p) = ready(&line) {
            found = Some(p);
            break;
        }
    }
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            log.lock().unwrap().push(line);
        }
    });
    found
}

/// A private OpenSSH `sshd` on 127.0.0.1, with its own host keys and configuration.
pub struct Sshd {
    guard: Guard,
    /// Its temporary directory (config, keys, logs).
    pub dir: tempfile::TempDir,
    /// The port it listens on.
    pub port: u16,
}

impl Sshd {
    /// Host key files generated for every daemon: (key type for ssh-keygen -t, bits, file).
    const HOST_KEYS: [(&'static str, &'static str, &'static str); 4] = [
        ("ed25519", "256", "ssh_host_ed25519_key"),
        ("ecdsa", "256", "ssh_host_ecdsa256_key"),
        ("ecdsa", "384", "ssh_host_ecdsa384_key"),
        ("rsa", "2048", "ssh_host_rsa_key"),
    ];

    /// Starts a daemon with `extra` appended to its configuration.
    pub fn start(extra: &str) -> Sshd {
        let dir = tempfile::tempdir().expect("tempdir");
        for (t, bits, file) in Self::HOST_KEYS {
            let path = dir.path().join(file);
            ssh_keygen(&[
                "-q",
                "-t",
                t,
                "-b",
                bits,
                "-N",
                "",
                "-f",
                path.to_str().unwrap(),
            ]);
        }
        // sshd insists on its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        for attempt in 0..5 {
            let port = free_port();
            let config = dir.path().join("sshd_config");
            // sshd takes the first value of an option: `extra` may set its own LogLevel.
            let mut text = format!(
                "Port {port}\nListenAddress 127.0.0.1\nPidFile none\nUsePAM no\nStrictModes no\n\
                 AuthorizedKeysFile {}/authorized_keys\n",
                dir.path().display()
            );
            // sshd refuses a second Subsystem line: `extra` may name its own sftp server.
            if !extra.contains("Subsystem sftp") {
                text.push_str("Subsystem sftp /usr/lib/openssh/sftp-server\n");
            }
            if !extra.contains("LogLevel") {
                text.push_str("LogLevel VERBOSE\n");
            }
            for (_, _, file) in Self::HOST_KEYS {
                text.push_str(&format!("HostKey {}\n", dir.path().join(file).display()));
            }
            text.push_str(extra);
            std::fs::write(&config, text).unwrap();
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("cannot start sshd");
            let log = Arc::new(Mutex::new(Vec::new()));
            let stderr = child.stderr.take().unwrap();
            let ready = wait_for_line(stderr, log.clone(), |l| {
                l.contains("Server listening on").then_some(port)
            });
            let guard = Guard { child, log };
            if ready.is_some() {
                return Sshd { guard, dir, port };
            }
            eprintln!(
                "sshd attempt {attempt} on port {port} failed:\n{}",
                guard.log.lock().unwrap().join("\n")
            );
        }
        panic!("sshd did not start");
    }

    /// The public key of the daemon's host key of type `t` ("ed25519", "ecdsa256", ...).
    pub fn host_public_key(&self, name: &str) -> String {
        let file = format!("ssh_host_{name}_key.pub");
        std::fs::read_to_string(self.dir.path().join(file)).unwrap()
    }

    /// What sshd has logged so far.
    pub fn log(&self) -> String {
        self.guard.log.lock().unwrap().join("\n")
    }

    /// The listening daemon's process id (each connection's processes descend from it).
    pub fn pid(&self) -> u32 {
        self.guard.child.id()
    }
}

/// `sshwire serve` as a process, listening on a port of its own choosing on 127.0.0.1.
pub struct Serve {
    guard: Guard,
    /// Its temporary directory (root, host keys).
    pub dir: tempfile::TempDir,
    /// The port it listens on.
    pub port: u16,
}

impl Serve {
    /// Starts `sshwire serve` with `host_keys` (files) and extra arguments.
    pub fn start(program: &Path, host_keys: &[PathBuf], extra: &[&str]) -> Serve {
        Self::start_with_users(program, host_keys, "", None, extra)
    }

    /// Starts `sshwire serve` with an authorized_keys file of `authorized_keys` and, if given,
    /// a password file of `password_file`.
    pub fn start_with_users(
        program: &Path,
        host_keys: &[PathBuf],
        authorized_keys: &str,
        password_file: Option<&str>,
        extra: &[&str],
    ) -> Serve {
        Self::start_users_in(
            program,
            None,
            host_keys,
            authorized_keys,
            password_file,
            extra,
        )
    }

    /// Starts `sshwire serve --root root` (any directory, e.g. one on tmpfs, instead of
    /// `root` in the server's temporary directory) with an authorized_keys file of
    /// `authorized_keys`.
    pub fn start_with_root(
        program: &Path,
        root: &Path,
        host_keys: &[PathBuf],
        authorized_keys: &str,
    ) -> Serve {
        Self::start_users_in(program, Some(root), host_keys, authorized_keys, None, &[])
    }

    fn start_users_in(
        program: &Path,
        root: Option<&Path>,
        host_keys: &[PathBuf],
        authorized_keys: &str,
        password_file: Option<&str>,
        extra: &[&str],
    ) -> Serve {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("authorized_keys"), authorized_keys).unwrap();
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        if let Some(text) = password_file {
            let path = dir.path().join("passwords");
            std::fs::write(&path, text).unwrap();
            extra.push("--password-file".into());
            extra.push(path.display().to_string());
        }
        let mut cmd = Command::new(program);
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--root"])
            .arg(root.map_or_else(|| dir.path().join("root"), Path::to_path_buf))
            .args(["--authorized-keys"])
            .arg(dir.path().join("authorized_keys"));
        for k in host_keys {
            cmd.arg("--host-key").arg(k);
        }
        cmd.args(extra);
        Self::spawn(cmd, dir)
    }

    /// Starts `sshwire serve --config` with a configuration of `config` (written into the
    /// server's temporary directory, whose path replaces `{dir}` in it).
    pub fn start_config(program: &Path, config: &str, extra: &[&str]) -> Serve {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sshwire.toml");
        let text = config.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(&path, text).unwrap();
        let mut cmd = Command::new(program);
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(&path)
            .args(extra);
        Self::spawn(cmd, dir)
    }

    fn spawn(mut cmd: Command, dir: tempfile::TempDir) -> Serve {
        let mut child = cmd
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start sshwire serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let err_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                err_log.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let port = wait_for_line(stdout, log.clone(), |l| {
            let rest = l.split("listening on 127.0.0.1:").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        });
        let guard = Guard { child, log };
        let Some(port) = port else {
            panic!(
                "sshwire serve did not start:\n{}",
                guard.log.lock().unwrap().join("\n")
            );
        };
        Serve { guard, dir, port }
    }

    /// What the server has printed so far.
    pub fn log(&self) -> String {
        self.guard.log.lock().unwrap().join("\n")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.guard.child.id()
    }
}

impl Sshd {
    /// Adds a public key line to the daemon's authorized_keys file.
    pub fn authorize(&self, public_line: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .unwrap();
        writeln!(f, "{public_line}").unwrap();
    }
}

/// An OpenSSH `ssh-agent -D`, killed on drop.
pub struct AgentProcess(Child);

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ssh-agent -D` on a socket in `dir`; returns once it has said it listens.
pub fn start_agent(dir: &Path) -> (AgentProcess, PathBuf) {
    let sock = dir.join("agent.sock");
    let mut child = Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&sock)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("SSH_AUTH_SOCK="), "{first}");
    (AgentProcess(child), sock)
}

/// Loads a key file into the agent at `sock` with `ssh-add`.
pub fn ssh_add(sock: &Path, key_file: &Path) {
    let out = Command::new("ssh-add")
        .arg(key_file)
        .env("SSH_AUTH_SOCK", sock)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ssh-add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The user the tests run as, whom a private sshd lets in with an authorized key.
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Authenticates with a public key, by hand (RFC 4252 §7), so that transport tests can reach
/// the state in which OpenSSH allows rekeying. The auth crate replaces this for real clients.
pub async fn userauth_publickey<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(
    driver: &mut sshwire::Driver<S>,
    user: &str,
    key: &sshwire_keys::PrivateKey,
) -> Result<(), String> {
    use sshwire_transport::Event;
    use sshwire_wire::Writer;
    driver
        .engine()
        .request_service("ssh-userauth")
        .map_err(|e| e.to_string())?;
    loop {
        match driver.next_event().await.map_err(|e| e.to_string())? {
            Event::ServiceAccept(_) => break,
            _ => continue,
        }
    }
    let alg = key.public_key().signature_algorithms()[0];
    let blob = key.public_key().to_blob();
    let session_id = driver
        .engine()
        .session_id()
        .ok_or("no session id")?
        .to_vec();
    let mut signed = Writer::new();
    signed
        .string(&session_id)
        .u8(50)
        .string(user.as_bytes())
        .string(b"ssh-connection")
        .string(b"publickey")
        .bool(true)
        .string(alg.name().as_bytes())
        .string(&blob);
    let mut rng = *sshwire::system_rng();
    let sig = key
        .sign(alg, signed.as_slice(), &mut rng)
        .map_err(|e| e.to_string())?;
    let mut request = Writer::new();
    request
        .raw(&signed.as_slice()[4 + session_id.len()..])
        .string(&sig);
    driver
        .engine()
        .send(request.as_slice())
        .map_err(|e| e.to_string())?;
    loop {
        match driver.next_event().await.map_err(|e| e.to_string())? {
            Event::Message(m) if m.first() == Some(&52) => {
                driver.engine().auth_succeeded();
                return Ok(());
            }
            Event::Message(m) if m.first() == Some(&51) => {
                return Err("publickey authentication refused".into());
            }
            _ => continue,
        }
    }
}
