//! Connecting to a server as `ssh` would: the destination, `-o` options, known_hosts, keys,
//! the agent and prompts, and one clear line when something goes wrong.

use std::path::PathBuf;
use std::time::Duration;

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts, Prompter};
use sshwire::known_hosts::{KnownHostsVerifier, StrictHostKeyChecking};
use zeroize::Zeroizing;

use crate::paths;
use crate::prompt;
use crate::ssh_options::SshOptions;

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
}

impl Connect {
    /// Connects and logs in.
    pub async fn run(&self) -> Result<Client, ConnectFailed> {
        let o = &self.options;
        let verbosity = self.effective_verbosity();
        if verbosity > 0 {
            for ignored in &o.ignored {
                eprintln!("debug1: option {ignored} is not implemented by sshwire; ignored");
            }
        }
        let host = o
            .host_name
            .clone()
            .unwrap_or_else(|| self.destination.host.clone());
        let port = self.port.or(o.port).unwrap_or(22);
        let user = self
            .login
            .clone()
            .or_else(|| self.destination.user.clone())
            .or_else(|| o.user.clone())
            .unwrap_or_else(paths::current_user);
        let batch = o.batch_mode == Some(true);
        let transport = o.transport_config().map_err(ConnectFailed)?;
        let mut config = ClientConfig {
            transport: std::sync::Arc::new(transport),
            connect_timeout: o.connect_timeout,
            ..ClientConfig::default()
        };
        config.session.keepalive_interval = o.server_alive_interval.filter(|d| !d.is_zero());
        if let Some(n) = o.server_alive_count_max {
            config.session.keepalive_count_max = n;
        }
        let mut verifier = self.verifier(port, batch);
        let auth = self.auth_options(&user);
        let mut prompter: Box<dyn Prompter> = if batch {
            Box::new(NoPrompts)
        } else {
            Box::new(Terminal)
        };
        if verbosity > 0 {
            eprintln!("debug1: Connecting to {host} port {port}.");
        }
        let result = Client::connect(
            &host,
            port,
            &config,
            &mut verifier,
            &auth,
            prompter.as_mut(),
        )
        .await;
        for line in verifier.take_messages() {
            if verbosity >= 0 || line.contains("WARNING") || line.contains("failed") {
                eprintln!("{line}");
            }
        }
        result.map_err(|e| ConnectFailed(describe(&e, &host, port, &user, verbosity)))
    }

    /// `-v`/`-q`, or `LogLevel` when given: QUIET, FATAL and ERROR silence warnings such as
    /// "Permanently added", VERBOSE and DEBUG* raise the detail, as in OpenSSH.
    fn effective_verbosity(&self) -> Verbosity {
        match self
            .options
            .log_level
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("QUIET" | "FATAL" | "ERROR") => -1,
            Some("VERBOSE" | "DEBUG" | "DEBUG1") => self.verbosity.max(1),
            Some("DEBUG2") => self.verbosity.max(2),
            Some("DEBUG3") => self.verbosity.max(3),
            _ => self.verbosity,
        }
    }

    fn verifier(&self, port: u16, batch: bool) -> KnownHostsVerifier {
        let o = &self.options;
        let policy = o
            .strict_host_key_checking
            .unwrap_or(StrictHostKeyChecking::Ask);
        // Known hosts are recorded under the name the user typed, not `HostName`'s.
        let mut v = KnownHostsVerifier::new(&self.destination.host, port, policy)
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

    fn auth_options(&self, user: &str) -> AuthOptions {
        let o = &self.options;
        let mut auth = AuthOptions::new(user);
        let mut files: Vec<PathBuf> = self.identities.clone();
        files.extend(o.identity_files.iter().cloned());
        if files.is_empty() {
            // OpenSSH's default identities, those that exist.
            if let Ok(home) = paths::home() {
                for name in ["id_rsa", "id_ecdsa", "id_ed25519"] {
                    files.push(home.join(".ssh").join(name));
                }
            }
        }
        auth.identities = files.into_iter().map(Identity::File).collect();
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
        auth
    }
}

/// Prompts on the terminal, or through `SSH_ASKPASS`.
struct Terminal;

impl Prompter for Terminal {
    fn password(&mut self, prompt: &str) -> Option<Zeroizing<String>> {
        prompt::secret(prompt).ok()
    }

    fn passphrase(&mut self, prompt: &str) -> Option<Zeroizing<String>> {
        prompt::secret(prompt).ok().filter(|p| !p.is_empty())
    }

    fn banner(&mut self, text: &str) {
        eprint!("{text}");
    }
}

/// One line for a failed connection, in OpenSSH's words where it has them.
fn describe(e: &sshwire::Error, host: &str, port: u16, user: &str, verbosity: Verbosity) -> String {
    use std::io::ErrorKind;
    match e {
        sshwire::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => {
                format!("connect to host {host} port {port}: Connection refused")
            }
            ErrorKind::TimedOut => {
                format!("connect to host {host} port {port}: Connection timed out")
            }
            _ if io.to_string().contains("failed to lookup address")
                || io.to_string().contains("Name or service not known") =>
            {
                format!("Could not resolve hostname {host}: Name or service not known")
            }
            ErrorKind::UnexpectedEof => {
                format!("Connection closed by {host} port {port}")
            }
            _ => format!("connect to host {host} port {port}: {io}"),
        },
        sshwire::Error::Timeout => {
            format!("connect to host {host} port {port}: Connection timed out")
        }
        sshwire::Error::PermissionDenied { methods, tried } => {
            let mut line = format!("{user}@{host}: Permission denied ({}).", methods.join(","));
            if verbosity > 0 && !tried.is_empty() {
                line.push_str(&format!(" Tried: {}.", tried.join("; ")));
            }
            line
        }
        sshwire::Error::Transport(sshwire::transport::Error::HostKeyRejected) => {
            "Host key verification failed.".to_owned()
        }
        other => format!("{host} port {port}: {other}"),
    }
}

/// Waits no longer than needed for a runtime's blocking reader (stdin) at exit.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
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
