//! `sshwire serve --config FILE`: many users, each with a root, keys and/or a password hash,
//! read-only and umask; the server's limits; the audit log. The format is TOML:
//!
//! ```toml
//! listen = "0.0.0.0:2222"            # default 127.0.0.1:2222
//! host_keys = ["/etc/sshwire/ssh_host_ed25519_key"]  # default: one generated and kept
//! audit_log = "/var/log/sshwire/audit.jsonl"          # default: none
//! audit_format = "json"              # or "text" (default "json")
//! banner = "Authorized use only.\n"  # default: none
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
//! ```
//!
//! Unknown keys are errors (a misspelt `read_only` must not silently leave a user writable).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sshwire::Authenticator;
use sshwire::auth::{AuthorizedKeys, PasswordFile};
use sshwire::keys::PublicKey;

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
    #[serde(default)]
    limits: Limits,
    #[serde(default, rename = "user")]
    users: Vec<UserEntry>,
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
    /// Keys that log in as this user.
    pub keys: Vec<PublicKey>,
    /// The password hash, if the user may log in with a password.
    pub password: Option<PasswordFile>,
    /// Whether every write is refused.
    pub read_only: bool,
    /// The umask applied to created files and directories.
    pub umask: u32,
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
    /// The users, by name.
    pub users: BTreeMap<String, User>,
}

impl ServeConfig {
    /// Reads and checks a configuration file; errors name the file and what is wrong.
    pub fn load(path: &Path) -> Result<ServeConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks the text of a configuration.
    pub fn parse(text: &str) -> Result<ServeConfig, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let listen = file
            .listen
            .map(|l| {
                l.parse::<SocketAddr>()
                    .map_err(|e| format!("listen = {l:?}: {e} (use ADDRESS:PORT)"))
            })
            .transpose()?;
        let audit = match (file.audit_log, file.audit_format.as_deref()) {
            (None, None) => None,
            (None, Some(_)) => return Err("audit_format without audit_log".into()),
            (Some(p), None | Some("json")) => Some((p, AuditFormat::Json)),
            (Some(p), Some("text")) => Some((p, AuditFormat::Text)),
            (Some(_), Some(other)) => {
                return Err(format!(
                    "audit_format = {other:?}: use \"json\" or \"text\""
                ));
            }
        };
        let mut users = BTreeMap::new();
        for u in file.users {
            let user = User::check(u)?;
            if users.contains_key(&user.name) {
                return Err(format!("user {:?} is listed twice", user.name));
            }
            users.insert(user.name.clone(), user);
        }
        if users.is_empty() {
            return Err("no [[user]] entries: nobody could log in".into());
        }
        Ok(ServeConfig {
            listen,
            host_keys: file.host_keys,
            audit,
            banner: file.banner,
            limits: file.limits,
            users,
        })
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

impl User {
    fn check(u: UserEntry) -> Result<User, String> {
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
        let mut keys = Vec::new();
        if let Some(file) = &u.authorized_keys {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("{who}: cannot read {}: {e}", file.display()))?;
            let parsed = AuthorizedKeys::parse(&text);
            // Options are enforced only for `--authorized-keys` so far: refuse rather than
            // let a restricted key in unrestricted.
            if let Some(k) = parsed.keys.iter().find(|k| !k.options.is_empty()) {
                return Err(format!(
                    "{who}: {}: the options of key {} are not enforced with --config; remove them \
                     or use --authorized-keys",
                    file.display(),
                    k.key.fingerprint_sha256()
                ));
            }
            keys.extend(parsed.keys.into_iter().map(|k| k.key));
        }
        for line in &u.keys {
            let (key, _) = PublicKey::from_openssh(line)
                .map_err(|e| format!("{who}: bad key {line:?}: {e}"))?;
            keys.push(key);
        }
        let password = u
            .password
            .as_ref()
            .map(|hash| {
                PasswordFile::parse(&format!("{}:{hash}", u.name))
                    .map_err(|e| format!("{who}: bad password hash: {e}"))
            })
            .transpose()?;
        if keys.is_empty() && password.is_none() {
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
        Ok(User {
            name: u.name,
            root: u.root,
            keys,
            password,
            read_only: u.read_only,
            umask,
        })
    }
}

/// Each user logs in with their own keys and password only.
impl Authenticator for ServeConfig {
    fn public_key(&self, user: &str, key: &PublicKey) -> bool {
        self.users.get(user).is_some_and(|u| u.keys.contains(key))
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
"#
        ))
        .unwrap();
        assert_eq!(c.listen.unwrap().port(), 2200);
        assert_eq!(c.limits.max_auth_tries, 3);
        assert_eq!(c.limits.login_grace_time, 120);
        let alice = &c.users["alice"];
        assert!(alice.read_only);
        assert_eq!(alice.umask, 0o027);
        assert!(c.public_key("alice", &alice.keys[0]));
        assert!(!c.public_key("bob", &alice.keys[0]));
        assert_eq!(c.audit.unwrap().1, AuditFormat::Text);
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
        ] {
            let e = ServeConfig::parse(&bad).unwrap_err();
            assert!(e.contains(why), "{bad:?} gave {e:?}");
        }
    }
}
