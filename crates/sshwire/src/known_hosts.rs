//! Host key checking against OpenSSH `known_hosts` files, the way `ssh` does it.
//!
//! [`KnownHostsVerifier`] is a [`HostKeyVerifier`] for [`crate::client::connect`]. It reads
//! the user's files (`UserKnownHostsFile`, by default `~/.ssh/known_hosts` and
//! `~/.ssh/known_hosts2`) and the system's (`GlobalKnownHostsFile`, by default
//! `/etc/ssh/ssh_known_hosts` and `/etc/ssh/ssh_known_hosts2`, never written), looks the
//! server's key up with [`sshwire_keys::known_hosts`], and applies a
//! [`StrictHostKeyChecking`] policy to a host it does not know: refuse, ask, or record the key
//! in the first user file.
//!
//! The verifier is a library type and prints nothing: what `ssh` would print on standard error
//! (the big warnings, "Permanently added ...", "Host key verification failed.") is collected,
//! one line per string, for the caller to [take](KnownHostsVerifier::take_messages) and print.
//! After the key exchange, [`KnownHostsVerifier::outcome`] says what was decided; `ssh` exits
//! with status 255 when the key was refused.
//!
//! ```no_run
//! # async fn demo(config: std::sync::Arc<sshwire::transport::Config>) -> Result<(), sshwire::Error> {
//! use sshwire::known_hosts::{KnownHostsVerifier, StrictHostKeyChecking};
//!
//! let policy: StrictHostKeyChecking = "accept-new".parse().unwrap_or_default();
//! let mut verifier = KnownHostsVerifier::new("server.example", 22, policy);
//! let result = sshwire::client::connect("server.example:22", config, &mut verifier, None).await;
//! for line in verifier.take_messages() {
//!     eprintln!("{line}");
//! }
//! let driver = result?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sshwire_keys::known_hosts::{HostKeyStatus, KnownHosts, host_name_for, known_hosts_line};
use sshwire_keys::{KeyType, PublicKey};

use crate::client::HostKeyVerifier;

/// The last line `ssh` prints when it refuses a host key.
pub const VERIFICATION_FAILED: &str = "Host key verification failed.";

/// OpenSSH's default `GlobalKnownHostsFile`.
pub const GLOBAL_KNOWN_HOSTS_FILES: [&str; 2] =
    ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"];

/// At most this many other names are listed when asking about an unknown key, as OpenSSH does.
const MAX_OTHER_NAMES: usize = 8;

/// OpenSSH's default `UserKnownHostsFile` under `home`: `.ssh/known_hosts` (the one written to)
/// and `.ssh/known_hosts2`.
pub fn default_user_files(home: &Path) -> Vec<PathBuf> {
    let ssh = home.join(".ssh");
    vec![ssh.join("known_hosts"), ssh.join("known_hosts2")]
}

/// What to do with a host key that no known_hosts file lists (ssh_config(5)
/// `StrictHostKeyChecking`).
///
/// Whatever the policy, a key that differs from the one on file, or that is marked
/// `@revoked`, is refused; see [`KnownHostsVerifier`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StrictHostKeyChecking {
    /// Never add a key: an unknown host is refused (`yes`).
    Yes,
    /// Add an unknown host's key without asking (`accept-new`).
    AcceptNew,
    /// Add an unknown host's key without asking (`no`, `off`). Unlike OpenSSH, a changed or
    /// revoked key is still refused.
    No,
    /// Ask the user whether to trust an unknown host's key, and add it if they agree (`ask`,
    /// OpenSSH's default). Without a way to ask, this is [`Yes`](Self::Yes).
    #[default]
    Ask,
}

impl StrictHostKeyChecking {
    /// The option value in OpenSSH's spelling.
    pub fn name(self) -> &'static str {
        match self {
            StrictHostKeyChecking::Yes => "yes",
            StrictHostKeyChecking::AcceptNew => "accept-new",
            StrictHostKeyChecking::No => "no",
            StrictHostKeyChecking::Ask => "ask",
        }
    }
}

impl fmt::Display for StrictHostKeyChecking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `StrictHostKeyChecking` value that OpenSSH would not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPolicy(pub String);

impl fmt::Display for InvalidPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported StrictHostKeyChecking value {:?} (expected yes, accept-new, no, off or ask)",
            self.0
        )
    }
}

impl std::error::Error for InvalidPolicy {}

impl FromStr for StrictHostKeyChecking {
    type Err = InvalidPolicy;

    /// Parses an option value as ssh_config(5) spells it, ignoring case.
    ///
    /// `yes` and `true` are [`Yes`](Self::Yes); `no`, `off` and `false` are [`No`](Self::No);
    /// `accept-new` and `ask` are themselves (OpenSSH's readconf.c accepts the same words).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok(StrictHostKeyChecking::Yes),
            "no" | "off" | "false" => Ok(StrictHostKeyChecking::No),
            "accept-new" => Ok(StrictHostKeyChecking::AcceptNew),
            "ask" => Ok(StrictHostKeyChecking::Ask),
            _ => Err(InvalidPolicy(s.to_owned())),
        }
    }
}

/// Asks the user a yes/no question and says whether they agreed.
///
/// The question is OpenSSH's, ending in "Are you sure you want to continue connecting
/// (yes/no/\[fingerprint\])? ": an answer of `yes`, or the fingerprint shown in the question,
/// is agreement.
pub type ConfirmFn = Box<dyn FnMut(&str) -> bool + Send>;

/// What the verifier decided about a host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A known_hosts file lists this key for the host.
    Known {
        /// The file with the entry.
        file: PathBuf,
        /// Its 1-based line number.
        line: usize,
    },
    /// The host was unknown; the key was accepted (by the policy or the user) and appended
    /// to `file`.
    Added {
        /// The user known_hosts file the key was written to.
        file: PathBuf,
        /// Whether the user was asked and agreed.
        confirmed: bool,
    },
    /// The host was unknown and the key was accepted, but it could not be written down (the
    /// reason is in the messages); as with OpenSSH, the connection goes on.
    AddFailed {
        /// The file that could not be written.
        file: PathBuf,
    },
    /// The key was refused: the connection must not go on.
    Refused(Refusal),
}

impl Outcome {
    /// Whether the key may be trusted.
    pub fn is_accepted(&self) -> bool {
        !matches!(self, Outcome::Refused(_))
    }
}

/// Why a host key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The key is marked `@revoked`.
    Revoked {
        /// The file with the `@revoked` line.
        file: PathBuf,
        /// Its 1-based line number.
        line: usize,
    },
    /// The host is known with another key of the same type.
    Changed {
        /// The file with the other key.
        file: PathBuf,
        /// Its 1-based line number.
        line: usize,
    },
    /// The host is unknown and the policy (or batch mode) does not allow adding it.
    Unknown,
    /// The host is unknown and the key could not be recorded: there is no user known_hosts
    /// file, or the host name cannot be written into one.
    Unrecordable,
    /// The host is unknown and a known_hosts file could not be read, so it may list another
    /// key for it.
    Unreadable {
        /// The first file that could not be read.
        file: PathBuf,
    },
    /// The user was asked and did not agree.
    Declined,
}

/// A [`HostKeyVerifier`] that checks host keys against OpenSSH known_hosts files.
///
/// A key listed for the host is trusted; a key marked `@revoked` and a key that differs from
/// the one on file for the host are refused with OpenSSH's warnings; an unknown key is handled
/// by the [`StrictHostKeyChecking`] policy.
///
/// Deliberate differences from OpenSSH: with `StrictHostKeyChecking no`, `ssh` goes on after a
/// changed or revoked key (with password and keyboard-interactive authentication disabled);
/// this verifier always refuses both. And an unknown key is refused when a known_hosts file
/// exists but cannot be read (OpenSSH ignores such a file), since it might list another key.
///
/// Messages are collected, one line per string, and never printed: see
/// [`take_messages`](Self::take_messages). A refusal's last message is
/// [`VERIFICATION_FAILED`], so printing the messages is all a caller has to do before exiting
/// with status 255 as `ssh` does.
pub struct KnownHostsVerifier {
    host: String,
    port: u16,
    address: Option<IpAddr>,
    policy: StrictHostKeyChecking,
    user_files: Vec<PathBuf>,
    global_files: Vec<PathBuf>,
    hash: bool,
    confirm: Option<ConfirmFn>,
    messages: Vec<String>,
    outcome: Option<Outcome>,
}

impl fmt::Debug for KnownHostsVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnownHostsVerifier")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("address", &self.address)
            .field("policy", &self.policy)
            .field("user_files", &self.user_files)
            .field("global_files", &self.global_files)
            .field("hash", &self.hash)
            .field("confirm", &self.confirm.is_some())
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl KnownHostsVerifier {
    /// A verifier for `host` (as the user typed it) on `port`, with OpenSSH's default files.
    ///
    /// The user files are [`default_user_files`] under `$HOME` (none when `HOME` is unset), the
    /// global files [`GLOBAL_KNOWN_HOSTS_FILES`]; new entries are written unhashed and there
    /// is no way to ask the user until [`confirm_with`](Self::confirm_with) gives one. The host
    /// name is lowercased, as `ssh` does before it looks anything up.
    pub fn new(host: &str, port: u16, policy: StrictHostKeyChecking) -> Self {
        let user_files = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| default_user_files(Path::new(&h)))
            .unwrap_or_default();
        KnownHostsVerifier {
            host: host.to_ascii_lowercase(),
            port,
            address: None,
            policy,
            user_files,
            global_files: GLOBAL_KNOWN_HOSTS_FILES.iter().map(PathBuf::from).collect(),
            hash: false,
            confirm: None,
            messages: Vec::new(),
            outcome: None,
        }
    }

    /// Sets `UserKnownHostsFile`: the files read, the first also the one new keys go to.
    ///
    /// An empty list means no user file (`UserKnownHostsFile none`): unknown hosts cannot be
    /// recorded and are refused.
    pub fn user_known_hosts_files(mut self, files: Vec<PathBuf>) -> Self {
        self.user_files = files;
        self
    }

    /// Sets `GlobalKnownHostsFile`: files that are read but never written.
    pub fn global_known_hosts_files(mut self, files: Vec<PathBuf>) -> Self {
        self.global_files = files;
        self
    }

    /// Sets `HashKnownHosts`: whether new entries hide the host name behind a salted hash.
    pub fn hash_known_hosts(mut self, hash: bool) -> Self {
        self.hash = hash;
        self
    }

    /// Gives the verifier a way to ask the user about an unknown key, for
    /// [`StrictHostKeyChecking::Ask`].
    pub fn confirm_with(mut self, confirm: ConfirmFn) -> Self {
        self.confirm = Some(confirm);
        self
    }

    /// Sets the server's address, shown next to the host name when the user is asked.
    pub fn address(mut self, address: IpAddr) -> Self {
        self.address = Some(address);
        self
    }

    /// The messages collected so far, one line each, leaving none behind.
    ///
    /// These are the lines `ssh` would print on standard error, in order.
    pub fn take_messages(&mut self) -> Vec<String> {
        std::mem::take(&mut self.messages)
    }

    /// What was decided about the last key verified, if any was.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome.clone()
    }

    /// The name the host is recorded under: `host`, or `[host]:port` off port 22.
    fn name(&self) -> String {
        host_name_for(&self.host, self.port)
    }

    fn say(&mut self, line: impl Into<String>) {
        self.messages.push(line.into());
    }

    /// Reads every file; a missing one is empty, an unreadable one is reported.
    fn load(&mut self) -> (Vec<(PathBuf, KnownHosts)>, Vec<PathBuf>) {
        let mut loaded = Vec::new();
        let mut unreadable = Vec::new();
        let paths: Vec<PathBuf> = self
            .user_files
            .iter()
            .chain(&self.global_files)
            .cloned()
            .collect();
        for path in paths {
            match fs::read(&path) {
                // sshd(8): lines that cannot be parsed are ignored, as OpenSSH does.
                Ok(bytes) => {
                    let (hosts, _skipped) = KnownHosts::parse(&String::from_utf8_lossy(&bytes));
                    loaded.push((path, hosts));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    self.say(format!(
                        "Cannot read known hosts file {}: {e}",
                        path.display()
                    ));
                    unreadable.push(path);
                }
            }
        }
        (loaded, unreadable)
    }

    /// Decides about `key`, collecting messages.
    fn decide(&mut self, key: &PublicKey) -> Outcome {
        let name = self.name();
        let kind = openssh_type(key.key_type());
        let (files, unreadable) = self.load();
        let statuses: Vec<(&Path, HostKeyStatus)> = files
            .iter()
            .map(|(path, hosts)| (path.as_path(), hosts.check(&self.host, self.port, key)))
            .collect();

        // A revocation in any file wins, then a match in any file, then a changed key.
        if let Some((file, line)) = statuses.iter().find_map(|(f, s)| match s {
            HostKeyStatus::Revoked { line } => Some((f.to_path_buf(), *line)),
            _ => None,
        }) {
            self.warn_revoked(kind, &name);
            return Outcome::Refused(Refusal::Revoked { file, line });
        }
        if let Some((file, line)) = statuses.iter().find_map(|(f, s)| match s {
            HostKeyStatus::Trusted { line } => Some((f.to_path_buf(), *line)),
            _ => None,
        }) {
            return Outcome::Known { file, line };
        }
        if let Some((file, line, known)) = statuses.iter().find_map(|(f, s)| match s {
            HostKeyStatus::Changed { line, known } => Some((f.to_path_buf(), *line, known)),
            _ => None,
        }) {
            self.warn_changed(key, known, &file, line);
            return Outcome::Refused(Refusal::Changed { file, line });
        }
        let other_types_known = statuses.iter().any(|(_, s)| {
            matches!(
                s,
                HostKeyStatus::Unknown {
                    other_types_known: true
                }
            )
        });

        // OpenSSH (sshconnect.c, check_host_key): a host on a port other than 22 whose key is
        // known for the bare host name is accepted, without writing anything.
        if self.port != 22
            && let Some((file, line)) =
                files
                    .iter()
                    .find_map(|(f, hosts)| match hosts.check(&self.host, 22, key) {
                        HostKeyStatus::Trusted { line } => Some((f.clone(), line)),
                        _ => None,
                    })
        {
            return Outcome::Known { file, line };
        }

        if let Some(file) = unreadable.into_iter().next() {
            self.say(format!(
                "The {kind} host key for {name} is not known, and {} could not be read: it \
                 may list another key for this host.",
                file.display()
            ));
            return Outcome::Refused(Refusal::Unreadable { file });
        }
        let Some(target) = self.user_files.first().cloned() else {
            self.say(format!(
                "No {kind} host key is known for {name}, and there is no user known hosts \
                 file to record it in."
            ));
            return Outcome::Refused(Refusal::Unrecordable);
        };
        // OpenSSH never writes a host name with these characters into a known_hosts file
        // (they would read back as patterns, markers or hashes), and so refuses it unknown.
        if self.host.contains(|c| "@?*#[]|'\"\\".contains(c)) || self.host.is_empty() {
            self.say(format!(
                "No {kind} host key is known for {name}, and the host name cannot be recorded \
                 in a known hosts file."
            ));
            return Outcome::Refused(Refusal::Unrecordable);
        }

        let confirmed = match (self.policy, self.confirm.is_some()) {
            (StrictHostKeyChecking::Yes, _) | (StrictHostKeyChecking::Ask, false) => {
                self.say(format!(
                    "No {kind} host key is known for {name} and you have requested strict \
                     checking."
                ));
                return Outcome::Refused(Refusal::Unknown);
            }
            (StrictHostKeyChecking::Ask, true) => {
                let question = self.question(key, kind, other_types_known, &files);
                let agreed = self.confirm.as_mut().is_some_and(|ask| ask(&question));
                if !agreed {
                    return Outcome::Refused(Refusal::Declined);
                }
                true
            }
            (StrictHostKeyChecking::AcceptNew | StrictHostKeyChecking::No, _) => false,
        };

        match self.record(&target, key) {
            Ok(()) => {
                self.say(format!(
                    "Warning: Permanently added '{name}' ({kind}) to the list of known hosts."
                ));
                Outcome::Added {
                    file: target,
                    confirmed,
                }
            }
            Err(e) => {
                self.say(format!(
                    "Failed to add the host to the list of known hosts ({}): {e}",
                    target.display()
                ));
                Outcome::AddFailed { file: target }
            }
        }
    }

    /// OpenSSH's question about an unknown host key.
    fn question(
        &self,
        key: &PublicKey,
        kind: &str,
        other_types_known: bool,
        files: &[(PathBuf, KnownHosts)],
    ) -> String {
        let name = self.name();
        let mut q = match self.address {
            Some(ip) => format!(
                "The authenticity of host '{name} ({})' can't be established",
                host_name_for(&ip.to_string(), self.port)
            ),
            None => format!("The authenticity of host '{name}' can't be established"),
        };
        if other_types_known {
            q.push_str("\nbut keys of different type are already known for this host.");
        } else {
            q.push('.');
        }
        q.push_str(&format!(
            "\n{kind} key fingerprint is: {}",
            key.fingerprint_sha256()
        ));
        let others: Vec<String> = files
            .iter()
            .flat_map(|(path, hosts)| {
                hosts
                    .other_names(&self.host, self.port, key)
                    .into_iter()
                    .map(move |(line, names)| format!("{}:{line}: {names}", path.display()))
            })
            .collect();
        if others.is_empty() {
            q.push_str("\nThis key is not known by any other names.");
        } else {
            q.push_str("\nThis host key is known by the following other names/addresses:");
            for other in others.iter().take(MAX_OTHER_NAMES) {
                q.push_str(&format!("\n    {other}"));
            }
            if others.len() > MAX_OTHER_NAMES {
                q.push_str(&format!(
                    "\n    ({} additional names omitted)",
                    others.len() - MAX_OTHER_NAMES
                ));
            }
        }
        q.push_str("\nAre you sure you want to continue connecting (yes/no/[fingerprint])? ");
        q
    }

    fn warn_revoked(&mut self, kind: &str, name: &str) {
        self.say("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@");
        self.say("@       WARNING: REVOKED HOST KEY DETECTED!               @");
        self.say("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@");
        self.say(format!(
            "The {kind} host key for {name} is marked as revoked."
        ));
        self.say("This could mean that a stolen key is being used to");
        self.say("impersonate this host.");
        if self.policy == StrictHostKeyChecking::No {
            self.say(format!(
                "{kind} host key for {name} was revoked; it is refused even with \
                 StrictHostKeyChecking=no."
            ));
        } else {
            self.say(format!(
                "{kind} host key for {name} was revoked and you have requested strict checking."
            ));
        }
    }

    fn warn_changed(&mut self, key: &PublicKey, known: &PublicKey, file: &Path, line: usize) {
        let name = self.name();
        let kind = openssh_type(key.key_type());
        self.say("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@");
        self.say("@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @");
        self.say("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@");
        self.say("IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!");
        self.say("Someone could be eavesdropping on you right now (man-in-the-middle attack)!");
        self.say("It is also possible that a host key has just been changed.");
        self.say(format!(
            "The fingerprint for the {kind} key sent by the remote host is"
        ));
        self.say(format!("{}.", key.fingerprint_sha256()));
        self.say("Please contact your system administrator.");
        if let Some(first) = self.user_files.first().or(self.global_files.first()) {
            let first = first.display().to_string();
            self.say(format!(
                "Add correct host key in {first} to get rid of this message."
            ));
        }
        self.say(format!(
            "Offending {} key in {}:{line}",
            openssh_type(known.key_type()),
            file.display()
        ));
        self.say(format!(
            "  If the host key really has changed, remove line {line} of {} \
             (`ssh-keygen -f {} -R {}` does that) and connect again.",
            file.display(),
            shell_quote(&file.display().to_string()),
            shell_quote(&name)
        ));
        if self.policy == StrictHostKeyChecking::No {
            self.say(format!(
                "Host key for {name} has changed; a changed host key is refused even with \
                 StrictHostKeyChecking=no."
            ));
        } else {
            self.say(format!(
                "Host key for {name} has changed and you have requested strict checking."
            ));
        }
    }

    /// Appends the host's entry to `file`, creating it (0600) and its directory (0700).
    fn record(&self, file: &Path, key: &PublicKey) -> io::Result<()> {
        let salt = if self.hash {
            let mut salt = [0u8; 20];
            getrandom::fill(&mut salt).map_err(|e| io::Error::other(e.to_string()))?;
            Some(salt)
        } else {
            None
        };
        let entry = known_hosts_line(&self.host, self.port, key, salt.as_ref());
        append_line(file, &entry)
    }
}

impl HostKeyVerifier for KnownHostsVerifier {
    fn verify(&mut self, key: &PublicKey) -> bool {
        let outcome = self.decide(key);
        let accepted = outcome.is_accepted();
        if !accepted {
            self.say(VERIFICATION_FAILED);
        }
        self.outcome = Some(outcome);
        accepted
    }
}

/// The short key type name OpenSSH puts in its messages (`sshkey_type`).
fn openssh_type(kind: KeyType) -> &'static str {
    match kind {
        KeyType::Ed25519 => "ED25519",
        KeyType::EcdsaP256 | KeyType::EcdsaP384 => "ECDSA",
        KeyType::Rsa => "RSA",
    }
}

/// `s` in single quotes for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Appends `line` to `path`, after a newline if the file does not end with one.
///
/// A missing file is created with mode 0600 and missing directories with 0700 (before the
/// umask), as OpenSSH creates `~/.ssh`.
fn append_line(path: &Path, line: &str) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    let mut text = String::with_capacity(line.len() + 2);
    if file.metadata()?.len() > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        if last != *b"\n" {
            text.push('\n');
        }
    }
    text.push_str(line);
    text.push('\n');
    // One write on an O_APPEND file, so concurrent writers do not interleave within a line.
    file.write_all(text.as_bytes())?;
    // `UserKnownHostsFile=/dev/null` is common: a device cannot be synced (EINVAL).
    if file.metadata()?.is_file() {
        file.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "known_hosts_tests.rs"]
mod tests;
