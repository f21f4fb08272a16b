//! `sshwire serve --config FILE`: many users, each with a root, keys and/or a password hash,
//! read-only and umask; the server's limits; the audit log. The format is TOML:
//!
//! ```toml
//! listen = "0.0.0.0:2222"            # default 127.0.0.1:2222
//! host_keys = ["/etc/sshwire/ssh_host_ed25519_key"]  # default: one generated and kept
//! audit_log = "/var/log/sshwire/audit.jsonl"          # default: none
//! audit_format = "json"              # or "text" (default "json")
//! banner = "Authorized use only.\n"  # default: none
//! log_format = "text"                # or "json" (--log-format)
//! log_level = "info"                 # error, warn, info, debug, trace (--log-level)
//! auth_methods = ["publickey", "password"]   # any one (default: publickey, and password and
//!                                    # keyboard-interactive when some user has a password)
//!
//! [penalties]                        # per-source penalties (see serve_penalties.rs)
//! enabled = true
//! authfail = 5                       # seconds per connection that failed to log in
//! noauth = 1                         # seconds per connection that never tried
//! min = 30                           # refused from this much penalty time on
//! max = 600
//! ipv4_prefix = 32
//! ipv6_prefix = 64
//! exempt = ["10.0.0.0/8"]
//! max_sources = 65536
//!
//! [limits]
//! max_auth_tries = 6                 # OpenSSH's MaxAuthTries
//! login_grace_time = 120             # seconds, OpenSSH's LoginGraceTime
//! max_unauthenticated = 100          # connections before login (see docs/endpoints.md)
//! max_handles = 1024                 # open SFTP handles per session
//!
//! [[user]]
//! name = "alice"
//! root = "/srv/sftp/alice"           # her whole world
//! authorized_keys = "/home/alice/.ssh/authorized_keys"   # a file, and/or
//! keys = ["ssh-ed25519 AAAAC3... alice@laptop"]          # lines given here
//! password = "$argon2id$v=19$m=19456,t=2,p=1$..."        # from `sshwire passwd`
//! read_only = false
//! umask = "022"
//! devices = false                    # true: may open character devices in the root, such
//!                                    # as /dev/null (a root of "/"); false: regular files only
//! auth_methods = ["publickey,password"]  # both, in turn (like AuthenticationMethods)
//! ```
//!
//! Unknown keys are errors (a misspelt `read_only` must not silently leave a user writable).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sshwire::Authenticator;
use sshwire::auth::{AuthMethod, AuthorizedKey, AuthorizedKeys, PasswordFile, ServerPolicy};
use sshwire::keys::PublicKey;

use crate::serve_logs::{LogFormat, LogLevel};
use crate::serve_penalties::{Cidr, PenaltySettings};

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    #[serde(default)]
    host_keys: Vec<PathBuf>,
    audit_log: Option<PathBuf>,
    audit_format: Option<String>,
    banner: Option<String>,
    log_format: Option<LogFormat>,
    log_level: Option<LogLevel>,
    auth_methods: Option<Vec<String>>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    penalties: PenaltiesEntry,
    #[serde(default, rename = "user")]
    users: Vec<UserEntry>,
}

/// `[penalties]` as written; see [`PenaltySettings`] for the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PenaltiesEntry {
    enabled: Option<bool>,
    authfail: Option<u64>,
    noauth: Option<u64>,
    min: Option<u64>,
    max: Option<u64>,
    ipv4_prefix: Option<u8>,
    ipv6_prefix: Option<u8>,
    #[serde(default)]
    exempt: Vec<String>,
    max_sources: Option<usize>,
}

impl PenaltiesEntry {
    fn check(self) -> Result<PenaltySettings, Vec<String>> {
        let d = PenaltySettings::default();
        let secs = |v: Option<u64>, d: Duration| v.map_or(d, Duration::from_secs);
        let mut problems = Vec::new();
        let mut exempt = Vec::new();
        for e in &self.exempt {
            match Cidr::parse(e) {
                Ok(c) => exempt.push(c),
                Err(why) => problems.push(format!("[penalties] exempt: {why}")),
            }
        }
        let p = PenaltySettings {
            enabled: self.enabled.unwrap_or(d.enabled),
            authfail: secs(self.authfail, d.authfail),
            noauth: secs(self.noauth, d.noauth),
            min: secs(self.min, d.min),
            max: secs(self.max, d.max),
            ipv4_prefix: self.ipv4_prefix.unwrap_or(d.ipv4_prefix),
            ipv6_prefix: self.ipv6_prefix.unwrap_or(d.ipv6_prefix),
            exempt,
            max_sources: self.max_sources.unwrap_or(d.max_sources),
        };
        if p.ipv4_prefix > 32 {
            problems.push(format!(
                "[penalties] ipv4_prefix = {}: at most 32",
                p.ipv4_prefix
            ));
        }
        if p.ipv6_prefix > 128 {
            problems.push(format!(
                "[penalties] ipv6_prefix = {}: at most 128",
                p.ipv6_prefix
            ));
        }
        if p.min > p.max {
            problems.push(format!(
                "[penalties] min = {} is above max = {}: nobody would ever be refused",
                p.min.as_secs(),
                p.max.as_secs()
            ));
        }
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(problems)
        }
    }
}

/// The server's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Failed attempts per connection.
    pub max_auth_tries: u32,
    /// Seconds from connect to login.
    pub login_grace_time: u64,
    /// Connections not yet logged in.
    pub max_unauthenticated: usize,
    /// Open SFTP handles per session.
    pub max_handles: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_auth_tries: 6,
            login_grace_time: 120,
            max_unauthenticated: 100,
            max_handles: 1024,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    root: PathBuf,
    authorized_keys: Option<PathBuf>,
    #[serde(default)]
    keys: Vec<String>,
    password: Option<String>,
    #[serde(default)]
    read_only: bool,
    umask: Option<String>,
    #[serde(default)]
    devices: bool,
    auth_methods: Option<Vec<String>>,
}

/// How the audit log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    /// One JSON object per line.
    Json,
    /// One line of text per event.
    Text,
}

/// One user of the server.
#[derive(Debug)]
pub struct User {
    /// The login name.
    pub name: String,
    /// The directory the user sees as `/`.
    pub root: PathBuf,
    /// Keys that log in as this user, with their authorized_keys options (those given
    /// inline in the configuration have none).
    pub keys: AuthorizedKeys,
    /// The password hash, if the user may log in with a password.
    pub password: Option<PasswordFile>,
    /// Whether every write is refused.
    pub read_only: bool,
    /// The umask applied to created files and directories.
    pub umask: u32,
    /// Whether character devices in the root (such as `/dev/null`) may be opened
    /// ([`sshwire::sftp_local::LocalFs::with_devices`]).
    pub devices: bool,
    /// The user's own method sequences, in place of the configuration's.
    pub auth_methods: Option<Vec<Vec<AuthMethod>>>,
}

/// A checked configuration.
#[derive(Debug)]
pub struct ServeConfig {
    /// Where to listen.
    pub listen: Option<SocketAddr>,
    /// Host key files (none: the generated default).
    pub host_keys: Vec<PathBuf>,
    /// Where the audit log goes, and how.
    pub audit: Option<(PathBuf, AuditFormat)>,
    /// The pre-login banner.
    pub banner: Option<String>,
    /// The limits.
    pub limits: Limits,
    /// How the log is written (the command line wins).
    pub log_format: Option<LogFormat>,
    /// The least severe log events written (the command line wins).
    pub log_level: Option<LogLevel>,
    /// The method sequences of users without their own (none: the default).
    pub auth_methods: Option<Vec<Vec<AuthMethod>>>,
    /// The per-source penalties.
    pub penalties: PenaltySettings,
    /// The users, by name.
    pub users: BTreeMap<String, User>,
}

impl ServeConfig {
    /// Reads and checks a configuration file; errors name the file and what is wrong.
    pub fn load(path: &Path) -> Result<ServeConfig, String> {
        Self::load_all(path).map_err(|problems| problems.join("\n"))
    }

    /// [`ServeConfig::load`] with every problem found, one per entry.
    pub fn load_all(path: &Path) -> Result<ServeConfig, Vec<String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
        Self::parse_all(&text).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| format!("{}: {p}", path.display()))
                .collect()
        })
    }

    /// Parses and checks the text of a configuration.
    #[cfg(test)]
    pub fn parse(text: &str) -> Result<ServeConfig, String> {
        Self::parse_all(text).map_err(|problems| problems.join("\n"))
    }

    /// Parses and checks the text of a configuration; every problem found, if any.
    pub fn parse_all(text: &str) -> Result<ServeConfig, Vec<String>> {
        let file: File = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut problems = Vec::new();
        let listen = match file.listen.as_deref().map(str::parse::<SocketAddr>) {
            None => None,
            Some(Ok(a)) => Some(a),
            Some(Err(e)) => {
                problems.push(format!(
                    "listen = {:?}: {e} (use ADDRESS:PORT)",
                    file.listen.unwrap_or_default()
                ));
                None
            }
        };
        let audit = match (file.audit_log, file.audit_format.as_deref()) {
            (None, None) => None,
            (None, Some(_)) => {
                problems.push("audit_format without audit_log".into());
                None
            }
            (Some(p), None | Some("json")) => Some((p, AuditFormat::Json)),
            (Some(p), Some("text")) => Some((p, AuditFormat::Text)),
            (Some(_), Some(other)) => {
                problems.push(format!(
                    "audit_format = {other:?}: use \"json\" or \"text\""
                ));
                None
            }
        };
        let auth_methods = match file.auth_methods.as_deref().map(parse_methods) {
            None => None,
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => {
                problems.push(format!("auth_methods: {e}"));
                None
            }
        };
        let penalties = file.penalties.check().unwrap_or_else(|mut p| {
            problems.append(&mut p);
            PenaltySettings::default()
        });
        let mut users = BTreeMap::new();
        for u in file.users {
            match User::check(u, auth_methods.as_deref()) {
                Ok(user) if users.contains_key(&user.name) => {
                    problems.push(format!("user {:?} is listed twice", user.name));
                }
                Ok(user) => {
                    users.insert(user.name.clone(), user);
                }
                Err(e) => problems.push(e),
            }
        }
        if users.is_empty() && problems.is_empty() {
            problems.push("no [[user]] entries: nobody could log in".into());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ServeConfig {
            listen,
            host_keys: file.host_keys,
            audit,
            banner: file.banner,
            limits: file.limits,
            log_format: file.log_format,
            log_level: file.log_level,
            auth_methods,
            penalties,
            users,
        })
    }

    /// The authentication policy: the methods (each user's own, or the configuration's, or
    /// public keys plus passwords when some user has one), the limits and the banner.
    pub fn policy(&self) -> ServerPolicy {
        let methods = self.auth_methods.clone().unwrap_or_else(|| {
            let mut methods = vec![vec![AuthMethod::PublicKey]];
            if self.has_passwords() {
                methods.push(vec![AuthMethod::Password]);
                methods.push(vec![AuthMethod::KeyboardInteractive]);
            }
            methods
        });
        ServerPolicy {
            methods,
            user_methods: self
                .users
                .values()
                .filter_map(|u| Some((u.name.clone(), u.auth_methods.clone()?)))
                .collect(),
            max_attempts: self.limits.max_auth_tries,
            login_grace_time: self.login_grace_time(),
            banner: self.banner.clone(),
            ..ServerPolicy::default()
        }
    }

    /// Login timeout.
    pub fn login_grace_time(&self) -> Duration {
        Duration::from_secs(self.limits.login_grace_time)
    }

    /// Whether any user has a password.
    pub fn has_passwords(&self) -> bool {
        self.users.values().any(|u| u.password.is_some())
    }
}

/// `auth_methods`: each entry one sequence, its methods separated by commas (`"publickey"`,
/// `"publickey,password"`), like OpenSSH's `AuthenticationMethods`.
fn parse_methods(entries: &[String]) -> Result<Vec<Vec<AuthMethod>>, String> {
    let mut sequences = Vec::new();
    for entry in entries {
        if entry.contains(char::is_whitespace) || entry.is_empty() {
            return Err(format!(
                "{entry:?}: one sequence per entry, its methods separated by commas"
            ));
        }
        let mut seq = ServerPolicy::parse_methods(entry).map_err(|e| e.to_string())?;
        if seq.iter().flatten().any(|m| *m == AuthMethod::None) {
            return Err("\"none\" would let anyone in".into());
        }
        sequences.append(&mut seq);
    }
    if sequences.is_empty() {
        return Err("no method: nobody could log in".into());
    }
    Ok(sequences)
}

impl User {
    fn check(u: UserEntry, default_methods: Option<&[Vec<AuthMethod>]>) -> Result<User, String> {
        let who = format!("user {:?}", u.name);
        if u.name.is_empty() || u.name.contains(['\0', ':', '\n']) {
            return Err(format!("{who}: not a valid user name"));
        }
        if !u.root.is_absolute() {
            return Err(format!(
                "{who}: root {} must be an absolute path",
                u.root.display()
            ));
        }
        let mut keys = AuthorizedKeys::default();
        if let Some(file) = &u.authorized_keys {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("{who}: cannot read {}: {e}", file.display()))?;
            // Options are kept and enforced at login (`serve::key_allowed`); lines sshd would
            // skip are skipped here too, and said so.
            let parsed = AuthorizedKeys::parse(&text);
            for (line, why) in &parsed.skipped {
                eprintln!(
                    "sshwire serve: {who}: {}:{line}: skipped: {why}",
                    file.display()
                );
            }
            keys.keys.extend(parsed.keys);
        }
        for line in &u.keys {
            let key = AuthorizedKey::parse_line(line)
                .map_err(|e| format!("{who}: bad key {line:?}: {e}"))?;
            keys.keys.push(key);
        }
        let password = u
            .password
            .as_ref()
            .map(|hash| {
                PasswordFile::parse(&format!("{}:{hash}", u.name))
                    .map_err(|e| format!("{who}: bad password hash: {e}"))
            })
            .transpose()?;
        if keys.keys.is_empty() && password.is_none() {
            return Err(format!(
                "{who}: give keys, authorized_keys or a password, or the user cannot log in"
            ));
        }
        let umask = match &u.umask {
            None => 0o022,
            Some(m) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| format!("{who}: umask {m:?} is not an octal mode like \"022\""))?,
        };
        let auth_methods = u
            .auth_methods
            .as_deref()
            .map(parse_methods)
            .transpose()
            .map_err(|e| format!("{who}: auth_methods: {e}"))?;
        // Some sequence must be one the user can complete.
        if let Some(sequences) = auth_methods.as_deref().or(default_methods) {
            let usable = |m: &AuthMethod| match m {
                AuthMethod::PublicKey => !keys.keys.is_empty(),
                AuthMethod::Password | AuthMethod::KeyboardInteractive => password.is_some(),
                AuthMethod::None => false,
            };
            if !sequences.iter().any(|seq| seq.iter().all(usable)) {
                return Err(format!(
                    "{who}: cannot log in: every auth_methods sequence needs {} the user does \
                     not have",
                    if keys.keys.is_empty() {
                        "a key"
                    } else {
                        "a password"
                    }
                ));
            }
        }
        Ok(User {
            name: u.name,
            root: u.root,
            keys,
            password,
            read_only: u.read_only,
            umask,
            devices: u.devices,
            auth_methods,
        })
    }
}

/// Each user logs in with their own keys and password only.
impl Authenticator for ServeConfig {
    fn public_key(&self, user: &str, key: &PublicKey) -> bool {
        self.public_key_from(user, key, None)
    }

    /// The key's authorized_keys options are enforced as for `--authorized-keys`.
    fn public_key_from(&self, user: &str, key: &PublicKey, peer: Option<SocketAddr>) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| crate::serve::key_allowed(&u.keys, key, peer))
    }

    fn password(&self, user: &str, password: &[u8]) -> bool {
        self.users
            .get(user)
            .and_then(|u| u.password.as_ref())
            .is_some_and(|p| p.verify(user, password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$rPv3bqhJfAEKf4fI3nMTjFL7FzSnMeXiKcxG2YrOgFc";

    #[test]
    fn methods_per_user_and_by_default_make_the_policy() {
        let c = ServeConfig::parse(&format!(
            r#"
auth_methods = ["publickey", "password"]
banner = "hello"
[limits]
max_auth_tries = 4
[[user]]
name = "alice"
root = "/srv/alice"
keys = ["{KEY}"]
password = "{HASH}"
auth_methods = ["publickey,password"]
[[user]]
name = "bob"
root = "/srv/bob"
keys = ["{KEY}"]
"#
        ))
        .unwrap();
        let p = c.policy();
        assert_eq!(
            p.methods,
            [vec![AuthMethod::PublicKey], vec![AuthMethod::Password]]
        );
        assert_eq!(
            p.methods_for("alice"),
            [vec![AuthMethod::PublicKey, AuthMethod::Password]]
        );
        assert_eq!(p.methods_for("bob"), p.methods.as_slice());
        assert_eq!(p.methods_for("nobody"), p.methods.as_slice());
        assert_eq!(p.max_attempts, 4);
        assert_eq!(p.banner.as_deref(), Some("hello"));
        // Without auth_methods: keys, and passwords when someone has one.
        let c = ServeConfig::parse(&format!(
            "[[user]]\nname = \"a\"\nroot = \"/r\"\npassword = \"{HASH}\"\n"
        ))
        .unwrap();
        assert_eq!(c.policy().methods.len(), 3);
        assert!(c.policy().user_methods.is_empty());
    }

    #[test]
    fn penalties_have_defaults_and_can_be_set() {
        let user = format!("[[user]]\nname = \"a\"\nroot = \"/r\"\nkeys = [\"{KEY}\"]\n");
        let c = ServeConfig::parse(&user).unwrap();
        assert_eq!(c.penalties, PenaltySettings::default());
        assert!(c.penalties.enabled);
        let c = ServeConfig::parse(&format!(
            "log_format = \"json\"\n[penalties]\nenabled = false\nauthfail = 10\nmin = 10\n\
             exempt = [\"127.0.0.0/8\", \"::1\"]\nmax_sources = 5\n{user}"
        ))
        .unwrap();
        assert_eq!(c.log_format, Some(LogFormat::Json));
        assert!(!c.penalties.enabled);
        assert_eq!(c.penalties.authfail, Duration::from_secs(10));
        assert_eq!(c.penalties.exempt.len(), 2);
        assert_eq!(c.penalties.max_sources, 5);
    }

    #[test]
    fn every_problem_is_reported() {
        let problems = ServeConfig::parse_all(
            "listen = \"x\"\n[[user]]\nname = \"a\"\nroot = \"r\"\n[[user]]\nname = \"b\"\nroot = \"/b\"\n",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice";

    #[test]
    fn a_full_configuration_parses() {
        let c = ServeConfig::parse(&format!(
            r#"
listen = "0.0.0.0:2200"
audit_log = "/tmp/audit.log"
audit_format = "text"
[limits]
max_auth_tries = 3
[[user]]
name = "alice"
root = "/srv/alice"
keys = ["{KEY}"]
read_only = true
umask = "027"
devices = true
"#
        ))
        .unwrap();
        assert_eq!(c.listen.unwrap().port(), 2200);
        assert_eq!(c.limits.max_auth_tries, 3);
        assert_eq!(c.limits.login_grace_time, 120);
        let alice = &c.users["alice"];
        assert!(alice.read_only);
        assert_eq!(alice.umask, 0o027);
        assert!(alice.devices);
        let key = &alice.keys.keys[0].key;
        assert!(c.public_key("alice", key));
        assert!(!c.public_key("bob", key));
        assert_eq!(c.audit.unwrap().1, AuditFormat::Text);
    }

    /// A user's authorized_keys options apply under `--config` as with `--authorized-keys`:
    /// in the user's file and in inline `keys`.
    #[test]
    fn a_users_key_options_decide_their_logins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authorized_keys");
        std::fs::write(&file, format!("from=\"10.0.0.0/8\" {KEY}\n")).unwrap();
        let c = ServeConfig::parse(&format!(
            "[[user]]\nname = \"alice\"\nroot = \"/srv/a\"\nauthorized_keys = {:?}\n\
             [[user]]\nname = \"bob\"\nroot = \"/srv/b\"\nkeys = ['command=\"/bin/sh\" {KEY}']\n",
            file.display().to_string()
        ))
        .unwrap();
        let key = c.users["alice"].keys.keys[0].key.clone();
        let inside: SocketAddr = "10.1.2.3:50000".parse().unwrap();
        let outside: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        assert!(c.public_key_from("alice", &key, Some(inside)));
        assert!(!c.public_key_from("alice", &key, Some(outside)));
        assert!(!c.public_key_from("alice", &key, None));
        // A forced command other than the SFTP server is refused: we cannot run it.
        assert!(!c.public_key_from("bob", &key, Some(inside)));
    }

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        let user = format!("[[user]]\nname = \"a\"\nroot = \"/r\"\nkeys = [\"{KEY}\"]\n");
        for (bad, why) in [
            (format!("{user}read_onyl = true\n"), "read_onyl"),
            (format!("{user}umask = \"999\"\n"), "umask"),
            (
                "[[user]]\nname = \"a\"\nroot = \"/r\"\n".to_owned(),
                "cannot log in",
            ),
            (
                "[[user]]\nname = \"a\"\nroot = \"r\"\npassword = \"x\"\n".to_owned(),
                "absolute",
            ),
            (format!("{user}{user}"), "twice"),
            ("listen = \"nowhere\"\n".to_owned() + &user, "listen"),
            (String::new(), "no [[user]]"),
            (
                format!("audit_format = \"xml\"\naudit_log = \"/a\"\n{user}"),
                "audit_format",
            ),
            (format!("auth_methods = [\"none\"]\n{user}"), "anyone"),
            (
                format!("auth_methods = [\"hostbased\"]\n{user}"),
                "hostbased",
            ),
            (
                format!("auth_methods = [\"publickey password\"]\n{user}"),
                "commas",
            ),
            (format!("auth_methods = []\n{user}"), "no method"),
            // alice has a key and no password: a password-only policy locks her out.
            (
                format!("{user}auth_methods = [\"password\"]\n"),
                "cannot log in",
            ),
            (
                format!("auth_methods = [\"publickey,password\"]\n{user}"),
                "cannot log in",
            ),
            (format!("log_format = \"xml\"\n{user}"), "log_format"),
            (format!("[penalties]\nmin = 700\n{user}"), "min = 700"),
            (
                format!("[penalties]\nexempt = [\"10.0.0.0/33\"]\n{user}"),
                "10.0.0.0/33",
            ),
            (format!("[penalties]\nauthfial = 3\n{user}"), "authfial"),
        ] {
            let e = ServeConfig::parse(&bad).unwrap_err();
            assert!(e.contains(why), "{bad:?} gave {e:?}");
        }
    }
}
