//! Connecting to a server as `ssh` would: the destination, `-o` options, the ssh_config file,
//! jump hosts, known_hosts, keys, the agent and prompts, and one clear line when something
//! goes wrong.
//!
//! With `ProxyJump` (or `-J`) the last jump host is connected to first (through the hops
//! before it, or as its own configuration says), then a `direct-tcpip` channel through it
//! (RFC 4254 §7.2) carries the next SSH connection, with its own host key check and login.
//! As with OpenSSH, a jump host gets only `-F` and the verbosity from the command line; its
//! other settings come from the configuration file.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts, Prompter};
use sshwire::known_hosts::{KnownHostsVerifier, StrictHostKeyChecking};
use zeroize::Zeroizing;

use crate::connect_failure::{self, Attempt, HostKeyContext, Watched};
use crate::identities;
use crate::paths;
use crate::prompt;
use crate::ssh_config::{self, ConfigFile};
use crate::ssh_options::{JumpHost, SshOptions};

/// `[user@]host`, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The user, if given.
    pub user: Option<String>,
    /// The host name or address (IPv6 addresses may come in brackets).
    pub host: String,
}

impl Destination {
    /// Parses `[user@]host`; the last `@` separates the user, as in OpenSSH.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (user, host) = match s.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()).filter(|u| !u.is_empty()), h),
            None => (None, s),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("no host name in '{s}'"));
        }
        Ok(Destination {
            user,
            host: host.to_owned(),
        })
    }
}

/// How chatty to be (`-v` given n times; `-q` is -1).
pub type Verbosity = i32;

/// Why a connection attempt failed; the message is one line, the exit status 255 like ssh.
pub struct ConnectFailed(pub String);

/// Hosts one connection may go through at most, counting jump hosts of jump hosts (a
/// configuration whose `ProxyJump`s form a loop stops here).
const MAX_HOPS: usize = 8;

/// Everything `sshwire exec`, `sftp` and `cp` need to connect.
pub struct Connect {
    /// Where to.
    pub destination: Destination,
    /// `-p`/`-P`.
    pub port: Option<u16>,
    /// `-l`.
    pub login: Option<String>,
    /// `-i`, in order.
    pub identities: Vec<PathBuf>,
    /// `-o` options.
    pub options: SshOptions,
    /// `-v`/`-q`.
    pub verbosity: Verbosity,
    /// `-F`: the configuration file.
    pub config: ConfigFile,
    /// `-J`: jump hosts, as `ProxyJump` takes them.
    pub jump: Option<String>,
}

/// A logged-in connection, and the jump host connection it runs through, if any.
///
/// Derefs to its [`Client`].
pub struct Connected {
    client: Client,
    via: Option<Box<Connected>>,
}

impl Connected {
    /// Disconnects, then disconnects from the jump hosts, last hop first.
    pub async fn disconnect(self) {
        self.client.disconnect().await;
        if let Some(via) = self.via {
            Box::pin(via.disconnect()).await;
        }
    }
}

impl std::ops::Deref for Connected {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// What one hop connects to, once the command line and the configuration are merged.
struct Resolved {
    /// `HostName`, or the name given: what is connected to and looked up in known_hosts.
    host: String,
    port: u16,
    user: String,
    options: SshOptions,
    verbosity: Verbosity,
}

/// A connection attempt in progress: what a boxed, recursive hop returns.
type HopFuture<'a> = Pin<Box<dyn Future<Output = Result<Connected, ConnectFailed>> + Send + 'a>>;

impl Connect {
    /// Reads the configuration, connects (through the jump hosts, if any) and logs in.
    pub async fn run(&self) -> Result<Connected, ConnectFailed> {
        self.hop(0).await
    }

    /// Merges `-o`, `-J` and the configuration file for this destination.
    fn resolve(&self) -> Result<Resolved, ConnectFailed> {
        let mut options = self.options.clone();
        if let Some(jump) = &self.jump {
            JumpHost::parse_list(jump).map_err(ConnectFailed)?;
            // `-J` comes before any `-o ProxyJump` or configuration file.
            options.proxy_jump = Some(jump.clone());
        }
        let cli_user = self.login.as_deref().or(self.destination.user.as_deref());
        let target = ssh_config::Target {
            host: &self.destination.host,
            user: cli_user,
        };
        let warnings =
            ssh_config::read(&self.config, &target, &mut options).map_err(ConnectFailed)?;
        let verbosity = effective_verbosity(&options, self.verbosity);
        if verbosity >= 0 {
            for w in warnings {
                eprintln!("{w}");
            }
        }
        if verbosity > 0 {
            for ignored in &options.ignored {
                eprintln!("debug1: option {ignored} is not implemented by sshwire; ignored");
            }
        }
        let host = match &options.host_name {
            Some(h) => ssh_config::expand_host_name(h, &self.destination.host),
            None => self.destination.host.clone(),
        };
        let port = self.port.or(options.port).unwrap_or(22);
        let user = cli_user
            .map(str::to_owned)
            .or_else(|| options.user.clone())
            .unwrap_or_else(paths::current_user);
        // ssh_config(5), TOKENS: IdentityFile and UserKnownHostsFile take %d %h %p %r %u.
        let local_user = paths::current_user();
        let home = paths::home()
            .map(|h| h.display().to_string())
            .unwrap_or_default();
        let port_text = port.to_string();
        let tokens = [
            ('d', home.as_str()),
            ('h', host.as_str()),
            ('n', self.destination.host.as_str()),
            ('p', port_text.as_str()),
            ('r', user.as_str()),
            ('u', local_user.as_str()),
        ];
        let expand = |files: &mut Vec<PathBuf>| -> Result<(), ConnectFailed> {
            for f in files {
                if let Some(text) = f.to_str().filter(|t| t.contains('%')) {
                    let expanded =
                        ssh_config::expand_tokens(text, &tokens).map_err(ConnectFailed)?;
                    *f = PathBuf::from(expanded);
                }
            }
            Ok(())
        };
        expand(&mut options.identity_files)?;
        if let Some(files) = &mut options.user_known_hosts_files {
            expand(files)?;
        }
        Ok(Resolved {
            host,
            port,
            user,
            options,
            verbosity,
        })
    }

    /// Connects this hop, `depth` hops from the command line's destination.
    fn hop(&self, depth: usize) -> HopFuture<'_> {
        Box::pin(async move {
            let r = self.resolve()?;
            let o = &r.options;
            let (host, port, user) = (&r.host, r.port, &r.user);
            let batch = o.batch_mode == Some(true);
            let transport = o.transport_config().map_err(ConnectFailed)?;
            let mut config = ClientConfig {
                transport: std::sync::Arc::new(transport),
                connect_timeout: o.connect_timeout,
                trace: crate::trace::sink(r.verbosity),
                ..ClientConfig::default()
            };
            config.session.keepalive_interval = o.server_alive_interval.filter(|d| !d.is_zero());
            if let Some(n) = o.server_alive_count_max {
                config.session.keepalive_count_max = n;
            }
            let mut verifier = Watched {
                inner: verifier(o, host, port, batch),
                key: None,
            };
            let (auth, key_notes) = auth_options(o, &self.identities, user, batch, r.verbosity);
            let mut prompter: Box<dyn Prompter> = if batch {
                Box::new(NoPrompts)
            } else {
                Box::new(Terminal)
            };
            let jumps = match &o.proxy_jump {
                Some(value) => JumpHost::parse_list(value).map_err(ConnectFailed)?,
                None => Vec::new(),
            };
            let (result, via) = match jumps.split_last() {
                None => {
                    if r.verbosity > 0 {
                        eprintln!("debug1: Connecting to {host} port {port}.");
                    }
                    let result = Client::connect(
                        host,
                        port,
                        &config,
                        &mut verifier,
                        &auth,
                        prompter.as_mut(),
                    )
                    .await;
                    (result, None)
                }
                Some((last, rest)) => {
                    if depth + 1 >= MAX_HOPS {
                        return Err(ConnectFailed(format!(
                            "{host}: more than {MAX_HOPS} hosts to go through; \
                             is there a ProxyJump loop?"
                        )));
                    }
                    let via = self.jump_host(last, rest).hop(depth + 1).await?;
                    if r.verbosity > 0 {
                        eprintln!(
                            "debug1: Connecting to {host} port {port} through {}.",
                            last.host
                        );
                    }
                    let login = async {
                        // RFC 4254 §7.2: "the originator IP address" and port of the
                        // connection; here there is none, so loopback as a placeholder.
                        let channel = via
                            .open_direct_tcpip(host, u32::from(port), "127.0.0.1", 65535)
                            .await?;
                        Client::over(
                            channel,
                            host,
                            &config,
                            &mut verifier,
                            &auth,
                            prompter.as_mut(),
                        )
                        .await
                    };
                    let result = match config.connect_timeout {
                        Some(t) => tokio::time::timeout(t, login)
                            .await
                            .unwrap_or(Err(sshwire::Error::Timeout)),
                        None => login.await,
                    };
                    (result, Some(Box::new(via)))
                }
            };
            let context = HostKeyContext {
                host: &host.to_ascii_lowercase(),
                port,
                policy: o
                    .strict_host_key_checking
                    .unwrap_or(StrictHostKeyChecking::Ask),
                batch,
            };
            let refused = connect_failure::host_key_refused(&verifier, &context);
            for line in verifier.inner.take_messages() {
                // A refusal is said in one line below; OpenSSH's full warning with -v.
                let shown = match &refused {
                    Some(_) => r.verbosity > 0,
                    None => r.verbosity >= 0 || line.contains("WARNING") || line.contains("failed"),
                };
                if shown {
                    eprintln!("{line}");
                }
            }
            match result {
                Ok(client) => Ok(Connected { client, via }),
                Err(e) => {
                    let through = jumps.last().map(|j| j.host.as_str());
                    if let Some(via) = via {
                        via.disconnect().await;
                    }
                    if let Some(line) = refused {
                        return Err(ConnectFailed(line));
                    }
                    let attempt = Attempt {
                        host,
                        port,
                        user,
                        through,
                        timeout: config.connect_timeout,
                        key_notes: &key_notes,
                    };
                    Err(ConnectFailed(connect_failure::describe(&e, &attempt)))
                }
            }
        })
    }

    /// How to reach the last jump host `last`: through the hops before it, or else as its
    /// own configuration says; only `-F` and the verbosity carry over, as with OpenSSH.
    fn jump_host(&self, last: &JumpHost, rest: &[JumpHost]) -> Connect {
        let jump = (!rest.is_empty()).then(|| {
            rest.iter()
                .map(|j| {
                    let mut s = String::new();
                    if let Some(u) = &j.user {
                        s.push_str(u);
                        s.push('@');
                    }
                    if j.host.contains(':') {
                        s.push_str(&format!("[{}]", j.host));
                    } else {
                        s.push_str(&j.host);
                    }
                    if let Some(p) = j.port {
                        s.push_str(&format!(":{p}"));
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join(",")
        });
        Connect {
            destination: Destination {
                user: last.user.clone(),
                host: last.host.clone(),
            },
            port: last.port,
            login: None,
            identities: Vec::new(),
            options: SshOptions::default(),
            verbosity: self.verbosity,
            config: self.config.clone(),
            jump,
        }
    }
}

/// `-v`/`-q`, or `LogLevel` when given: QUIET, FATAL and ERROR silence warnings such as
/// "Permanently added", VERBOSE and DEBUG* raise the detail, as in OpenSSH.
fn effective_verbosity(options: &SshOptions, verbosity: Verbosity) -> Verbosity {
    match options
        .log_level
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("QUIET" | "FATAL" | "ERROR") => -1,
        Some("VERBOSE" | "DEBUG" | "DEBUG1") => verbosity.max(1),
        Some("DEBUG2") => verbosity.max(2),
        Some("DEBUG3") => verbosity.max(3),
        _ => verbosity,
    }
}

/// The known_hosts check for `host` (after `HostName`, as OpenSSH records it) and `port`.
fn verifier(o: &SshOptions, host: &str, port: u16, batch: bool) -> KnownHostsVerifier {
    let policy = o
        .strict_host_key_checking
        .unwrap_or(StrictHostKeyChecking::Ask);
    let mut v = KnownHostsVerifier::new(&host.to_ascii_lowercase(), port, policy)
        .hash_known_hosts(o.hash_known_hosts == Some(true));
    if let Some(files) = &o.user_known_hosts_files {
        let files = files
            .iter()
            .filter(|f| f.as_os_str() != "none")
            .cloned()
            .collect();
        v = v.user_known_hosts_files(files);
    }
    if let Some(files) = &o.global_known_hosts_files {
        v = v.global_known_hosts_files(files.clone());
    }
    if !batch {
        v = v.confirm_with(Box::new(|question: &str| {
            prompt::confirm(question).unwrap_or(false)
        }));
    }
    v
}

/// The identities (`-i` first, then `IdentityFile`s) and methods to log in as `user` with,
/// and notes about keys for the line of a failed login. Identity files that cannot be used
/// are left out with a warning (printed unless `-q`), as OpenSSH does.
fn auth_options(
    o: &SshOptions,
    identities: &[PathBuf],
    user: &str,
    batch: bool,
    verbosity: Verbosity,
) -> (AuthOptions, Vec<String>) {
    let mut auth = AuthOptions::new(user);
    let mut files: Vec<PathBuf> = identities.to_vec();
    files.extend(o.identity_files.iter().cloned());
    let mut defaults = Vec::new();
    if files.is_empty() {
        // OpenSSH's default identities, those that exist.
        if let Ok(home) = paths::home() {
            for name in ["id_rsa", "id_ecdsa", "id_ed25519"] {
                defaults.push(home.join(".ssh").join(name));
            }
        }
    }
    let checked = identities::check(&files, &defaults, batch);
    if verbosity >= 0 {
        for w in &checked.warnings {
            eprintln!("sshwire: {w}");
        }
    }
    auth.identities = checked.files.into_iter().map(Identity::File).collect();
    auth.identities_only = o.identities_only == Some(true);
    auth.use_agent = o.identity_agent.as_deref() != Some("none");
    let mut preferred = o.preferred_authentications.clone().unwrap_or_else(|| {
        ["publickey", "keyboard-interactive", "password"]
            .map(str::to_owned)
            .to_vec()
    });
    let off = |m: &str| match m {
        "publickey" => o.pubkey_authentication == Some(false),
        "password" => o.password_authentication == Some(false),
        "keyboard-interactive" => o.kbd_interactive_authentication == Some(false),
        _ => true,
    };
    preferred.retain(|m| !off(m));
    auth.preferred = preferred;
    if let Some(n) = o.number_of_password_prompts {
        auth.password_prompts = n;
    }
    (auth, checked.notes)
}

/// Prompts on the terminal, or through `SSH_ASKPASS`.
struct Terminal;

impl Prompter for Terminal {
    fn password(&mut self, prompt: &str) -> Option<Zeroizing<String>> {
        // Also the prompt of a keyboard-interactive request, which the server words: shown
        // with its control characters escaped.
        prompt::secret(&terminal_text(prompt, false)).ok()
    }

    fn passphrase(&mut self, prompt: &str) -> Option<Zeroizing<String>> {
        prompt::secret(prompt).ok().filter(|p| !p.is_empty())
    }

    fn banner(&mut self, text: &str) {
        eprint!("{}", terminal_text(text, true));
    }
}

/// Text a server chose, safe to show on a terminal: control characters (escape sequences
/// that could move the cursor, rewrite the screen or the title, or answer back) are written
/// as escapes, such as `\u{1b}`; newlines and tabs stay when `lines` is set (a banner). OpenSSH
/// shows banners through `strnvis` for the same reason.
fn terminal_text(text: &str, lines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !(lines && (c == '\n' || c == '\t')) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits no longer than needed for a runtime's blocking reader (stdin) at exit.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    #[test]
    fn server_text_reaches_the_terminal_without_control_sequences() {
        let banner = "Welcome\n\tto host\n\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{9b}31m";
        let shown = super::terminal_text(banner, true);
        assert!(
            !shown
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
        assert!(shown.starts_with("Welcome\n\tto host\n\\u{1b}]0;pwned"));
        // A prompt keeps no line breaks either.
        let prompt = super::terminal_text("Password:\n\u{1b}[8m", false);
        assert!(!prompt.chars().any(char::is_control));
        assert_eq!(super::terminal_text("plain text, é", true), "plain text, é");
    }
    use super::*;

    #[test]
    fn destinations_parse_like_openssh() {
        let d = Destination::parse("alice@example.org").unwrap();
        assert_eq!(d.user.as_deref(), Some("alice"));
        assert_eq!(d.host, "example.org");
        let d = Destination::parse("a@b@[::1]").unwrap();
        assert_eq!(d.user.as_deref(), Some("a@b"));
        assert_eq!(d.host, "::1");
        assert!(Destination::parse("bob@").is_err());
        assert_eq!(Destination::parse("host").unwrap().user, None);
    }
}
