//! OpenSSH's `-o Option=value` settings, as `ssh`, `sftp` and `scp` take them.
//!
//! The options sshwire implements change what it does; the other keywords of ssh_config(5)
//! are accepted and reported at `-v` as ignored (so that scripts written for OpenSSH keep
//! working); a keyword OpenSSH does not know either is an error, as it is for OpenSSH.

use std::path::PathBuf;
use std::time::Duration;

use sshwire::keys::SignatureAlgorithm;
use sshwire::known_hosts::StrictHostKeyChecking;
use sshwire::transport::Config;
use sshwire::transport::cipher::{CipherAlg, MacAlg};
use sshwire::transport::compress::Compression;
use sshwire::transport::kex::KexAlg;

/// The settings from `-o` options (and, later, ssh_config), before defaults.
///
/// As with OpenSSH, the first value given for an option wins; `IdentityFile` and
/// `UserKnownHostsFile` accumulate.
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    /// `Port`.
    pub port: Option<u16>,
    /// `User`.
    pub user: Option<String>,
    /// `HostName`: the real host to connect to.
    pub host_name: Option<String>,
    /// `IdentityFile`, in order.
    pub identity_files: Vec<PathBuf>,
    /// `IdentitiesOnly`.
    pub identities_only: Option<bool>,
    /// `StrictHostKeyChecking`.
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    /// `UserKnownHostsFile`.
    pub user_known_hosts_files: Option<Vec<PathBuf>>,
    /// `GlobalKnownHostsFile`.
    pub global_known_hosts_files: Option<Vec<PathBuf>>,
    /// `HashKnownHosts`.
    pub hash_known_hosts: Option<bool>,
    /// `BatchMode`: never ask anything.
    pub batch_mode: Option<bool>,
    /// `PasswordAuthentication`.
    pub password_authentication: Option<bool>,
    /// `PubkeyAuthentication`.
    pub pubkey_authentication: Option<bool>,
    /// `KbdInteractiveAuthentication` (and its old name `ChallengeResponseAuthentication`).
    pub kbd_interactive_authentication: Option<bool>,
    /// `PreferredAuthentications`.
    pub preferred_authentications: Option<Vec<String>>,
    /// `NumberOfPasswordPrompts`.
    pub number_of_password_prompts: Option<u32>,
    /// `ConnectTimeout`.
    pub connect_timeout: Option<Duration>,
    /// `ServerAliveInterval` (0 turns keepalives off).
    pub server_alive_interval: Option<Duration>,
    /// `ServerAliveCountMax`.
    pub server_alive_count_max: Option<u32>,
    /// `Ciphers`, as given (applied to the defaults by [`SshOptions::transport_config`]).
    pub ciphers: Option<String>,
    /// `KexAlgorithms`, as given.
    pub kex_algorithms: Option<String>,
    /// `MACs`, as given.
    pub macs: Option<String>,
    /// `HostKeyAlgorithms`, as given.
    pub host_key_algorithms: Option<String>,
    /// `Compression`.
    pub compression: Option<bool>,
    /// `IdentityAgent` (`none` turns the agent off).
    pub identity_agent: Option<String>,
    /// `LogLevel`.
    pub log_level: Option<String>,
    /// OpenSSH options given but not implemented, for a warning at `-v`.
    pub ignored: Vec<String>,
}

/// ssh_config(5) keywords sshwire accepts without acting on them (lower case).
const IGNORED_KEYWORDS: &[&str] = &[
    "addkeystoagent",
    "addressfamily",
    "bindaddress",
    "bindinterface",
    "canonicaldomains",
    "canonicalizefallbacklocal",
    "canonicalizehostname",
    "canonicalizemaxdots",
    "canonicalizepermittedcnames",
    "casignaturealgorithms",
    "certificatefile",
    "checkhostip",
    "clearallforwardings",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "dynamicforward",
    "enableescapecommandline",
    "enablesshkeysign",
    "escapechar",
    "exitonforwardfailure",
    "fingerprinthash",
    "forkafterauthentication",
    "forwardagent",
    "forwardx11",
    "forwardx11timeout",
    "forwardx11trusted",
    "gatewayports",
    "gssapiauthentication",
    "gssapidelegatecredentials",
    "hostbasedacceptedalgorithms",
    "hostbasedauthentication",
    "hostkeyalias",
    "ignoreunknown",
    "ipqos",
    "kbdinteractivedevices",
    "knownhostscommand",
    "localcommand",
    "localforward",
    "nohostauthenticationforlocalhost",
    "permitlocalcommand",
    "permitremoteopen",
    "pkcs11provider",
    "proxycommand",
    "proxyjump",
    "proxyusefdpass",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "rekeylimit",
    "remotecommand",
    "remoteforward",
    "requesttty",
    "requiredrsasize",
    "revokedhostkeys",
    "securitykeyprovider",
    "sendenv",
    "sessiontype",
    "setenv",
    "stdinnull",
    "streamlocalbindmask",
    "streamlocalbindunlink",
    "syslogfacility",
    "tag",
    "tcpkeepalive",
    "tunnel",
    "tunneldevice",
    "updatehostkeys",
    "usekeychain",
    "userknownhostscommand",
    "verifyhostkeydns",
    "visualhostkey",
    "xauthlocation",
    "obscurekeystroketiming",
    "channeltimeout",
];

impl SshOptions {
    /// Applies one `-o` argument: `Keyword=value` or `Keyword value`.
    pub fn set(&mut self, option: &str) -> Result<(), String> {
        let option = option.trim();
        let split = option
            .find(|c: char| c == '=' || c.is_whitespace())
            .ok_or_else(|| format!("option '{option}' has no value (use Keyword=value)"))?;
        let (keyword, rest) = option.split_at(split);
        let value = rest
            .trim_start_matches(|c: char| c.is_whitespace())
            .trim_start_matches('=')
            .trim();
        let value = value.trim_matches('"');
        if value.is_empty() {
            return Err(format!("option {keyword} has no value"));
        }
        let key = keyword.to_ascii_lowercase();
        match key.as_str() {
            "port" => first(&mut self.port, || {
                value
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("Port: bad number '{value}'"))
            }),
            "user" => first(&mut self.user, || Ok(value.to_owned())),
            "hostname" => first(&mut self.host_name, || Ok(value.to_owned())),
            "identityfile" => {
                self.identity_files.push(expand_tilde(value));
                Ok(())
            }
            "identitiesonly" => first(&mut self.identities_only, || yes_no(keyword, value)),
            "stricthostkeychecking" => first(&mut self.strict_host_key_checking, || {
                value
                    .parse::<StrictHostKeyChecking>()
                    .map_err(|e| format!("StrictHostKeyChecking: {e}"))
            }),
            "userknownhostsfile" => first(&mut self.user_known_hosts_files, || {
                Ok(value.split_whitespace().map(expand_tilde).collect())
            }),
            "globalknownhostsfile" => first(&mut self.global_known_hosts_files, || {
                Ok(value.split_whitespace().map(expand_tilde).collect())
            }),
            "hashknownhosts" => first(&mut self.hash_known_hosts, || yes_no(keyword, value)),
            "batchmode" => first(&mut self.batch_mode, || yes_no(keyword, value)),
            "passwordauthentication" => {
                first(&mut self.password_authentication, || yes_no(keyword, value))
            }
            "pubkeyauthentication" => {
                first(&mut self.pubkey_authentication, || yes_no(keyword, value))
            }
            "kbdinteractiveauthentication" | "challengeresponseauthentication" => {
                first(&mut self.kbd_interactive_authentication, || {
                    yes_no(keyword, value)
                })
            }
            "preferredauthentications" => first(&mut self.preferred_authentications, || {
                Ok(value.split(',').map(|m| m.trim().to_owned()).collect())
            }),
            "numberofpasswordprompts" => first(&mut self.number_of_password_prompts, || {
                value
                    .parse()
                    .map_err(|_| format!("NumberOfPasswordPrompts: bad number '{value}'"))
            }),
            "connecttimeout" => first(&mut self.connect_timeout, || seconds(keyword, value)),
            "serveraliveinterval" => {
                first(&mut self.server_alive_interval, || seconds(keyword, value))
            }
            "serveralivecountmax" => first(&mut self.server_alive_count_max, || {
                value
                    .parse()
                    .map_err(|_| format!("ServerAliveCountMax: bad number '{value}'"))
            }),
            "ciphers" => first(&mut self.ciphers, || Ok(value.to_owned())),
            "kexalgorithms" => first(&mut self.kex_algorithms, || Ok(value.to_owned())),
            "macs" => first(&mut self.macs, || Ok(value.to_owned())),
            "hostkeyalgorithms" => first(&mut self.host_key_algorithms, || Ok(value.to_owned())),
            "compression" => first(&mut self.compression, || yes_no(keyword, value)),
            "identityagent" => first(&mut self.identity_agent, || Ok(value.to_owned())),
            "loglevel" => first(&mut self.log_level, || Ok(value.to_owned())),
            k if IGNORED_KEYWORDS.contains(&k) => {
                self.ignored.push(keyword.to_owned());
                Ok(())
            }
            _ => Err(format!("unsupported option \"{keyword}\"")),
        }
    }

    /// The transport settings: defaults changed by `Ciphers`, `KexAlgorithms`, `MACs`,
    /// `HostKeyAlgorithms` and `Compression`.
    pub fn transport_config(&self) -> Result<Config, String> {
        let mut config = Config::default();
        if let Some(spec) = &self.ciphers {
            config.ciphers = apply_list("Ciphers", spec, &config.ciphers, CipherAlg::all(), |a| {
                a.name()
            })?;
        }
        if let Some(spec) = &self.kex_algorithms {
            config.kex = apply_list("KexAlgorithms", spec, &config.kex, KexAlg::all(), |a| {
                a.name()
            })?;
        }
        if let Some(spec) = &self.macs {
            config.macs = apply_list("MACs", spec, &config.macs, &MacAlg::ALL, |a| a.name())?;
        }
        if let Some(spec) = &self.host_key_algorithms {
            let all: Vec<SignatureAlgorithm> = [
                "ssh-ed25519",
                "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384",
                "rsa-sha2-512",
                "rsa-sha2-256",
                "ssh-rsa",
            ]
            .iter()
            .filter_map(|n| SignatureAlgorithm::from_name(n))
            .collect();
            config.host_key_algorithms = apply_list(
                "HostKeyAlgorithms",
                spec,
                &config.host_key_algorithms,
                &all,
                |a| a.name(),
            )?;
        }
        // OpenSSH's client asks for no compression unless told to.
        config.compression = if self.compression == Some(true) {
            vec![
                Compression::ZlibOpenSsh,
                Compression::Zlib,
                Compression::None,
            ]
        } else {
            vec![Compression::None]
        };
        Ok(config)
    }
}

/// Sets `slot` unless it already has a value (the first value wins, as in OpenSSH).
fn first<T>(slot: &mut Option<T>, value: impl FnOnce() -> Result<T, String>) -> Result<(), String> {
    let v = value()?;
    if slot.is_none() {
        *slot = Some(v);
    }
    Ok(())
}

fn yes_no(keyword: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("{keyword}: expected yes or no, not '{value}'")),
    }
}

fn seconds(keyword: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{keyword}: bad number of seconds '{value}'"))
}

/// `~/x` to `$HOME/x`.
pub fn expand_tilde(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Applies an OpenSSH algorithm list: `a,b` replaces the defaults, `+a,b` appends, `-a,b`
/// removes, `^a,b` puts first. Every name must be one we implement.
fn apply_list<T: Copy + PartialEq>(
    keyword: &str,
    spec: &str,
    defaults: &[T],
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<Vec<T>, String> {
    let (mode, names) = match spec.chars().next() {
        Some(c @ ('+' | '-' | '^')) => (c, spec.get(1..).unwrap_or_default()),
        _ => ('=', spec),
    };
    let mut listed = Vec::new();
    for n in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let alg = all
            .iter()
            .copied()
            .find(|a| name(*a) == n)
            .ok_or_else(|| format!("{keyword}: unknown or unsupported algorithm '{n}'"))?;
        listed.push(alg);
    }
    let mut out: Vec<T> = match mode {
        '+' => defaults.iter().copied().chain(listed).collect(),
        '-' => defaults
            .iter()
            .copied()
            .filter(|a| !listed.contains(a))
            .collect(),
        '^' => listed
            .iter()
            .copied()
            .chain(defaults.iter().copied().filter(|a| !listed.contains(a)))
            .collect(),
        _ => listed,
    };
    let mut seen = Vec::new();
    out.retain(|a| {
        let new = !seen.contains(a);
        seen.push(*a);
        new
    });
    if out.is_empty() {
        return Err(format!("{keyword}: no algorithms left"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive_and_first_value_wins() {
        let mut o = SshOptions::default();
        o.set("port=2200").unwrap();
        o.set("Port 2300").unwrap();
        o.set("StrictHostKeyChecking=accept-new").unwrap();
        o.set("IdentityFile=/a").unwrap();
        o.set("identityfile /b").unwrap();
        assert_eq!(o.port, Some(2200));
        assert_eq!(
            o.strict_host_key_checking,
            Some(StrictHostKeyChecking::AcceptNew)
        );
        assert_eq!(o.identity_files, [PathBuf::from("/a"), PathBuf::from("/b")]);
    }

    #[test]
    fn unknown_options_are_errors_and_unimplemented_ones_are_noted() {
        let mut o = SshOptions::default();
        assert!(o.set("Prot=22").unwrap_err().contains("Prot"));
        o.set("ForwardAgent=yes").unwrap();
        assert_eq!(o.ignored, ["ForwardAgent"]);
        assert!(o.set("BatchMode=maybe").is_err());
        assert!(o.set("Port").is_err());
        assert!(o.set("Port=0").is_err());
    }

    #[test]
    fn algorithm_lists_follow_openssh_syntax() {
        let mut o = SshOptions::default();
        o.set("Ciphers=aes128-ctr,aes256-gcm@openssh.com").unwrap();
        o.set("MACs=+hmac-sha1").unwrap();
        o.set("KexAlgorithms=^curve25519-sha256").unwrap();
        o.set("HostKeyAlgorithms=-ssh-ed25519").unwrap();
        let c = o.transport_config().unwrap();
        assert_eq!(c.ciphers, [CipherAlg::Aes128Ctr, CipherAlg::Aes256Gcm]);
        assert_eq!(c.macs.last(), Some(&MacAlg::HmacSha1));
        assert_eq!(c.kex.first(), Some(&KexAlg::Curve25519Sha256));
        assert!(!c.host_key_algorithms.contains(&SignatureAlgorithm::Ed25519));
        let mut bad = SshOptions::default();
        bad.set("Ciphers=3des-cbc").unwrap();
        assert!(bad.transport_config().unwrap_err().contains("3des-cbc"));
        let mut none = SshOptions::default();
        none.set("Ciphers=-aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com").unwrap();
        assert!(none.transport_config().is_err());
    }
}
