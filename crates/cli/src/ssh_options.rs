//! OpenSSH's `-o Option=value` settings, as `ssh`, `sftp` and `scp` take them.
//!
//! The options sshwire implements change what it does; the other keywords of ssh_config(5)
//! are accepted and reported at `-v` as ignored (so that scripts written for OpenSSH keep
//! working); a keyword OpenSSH does not know either is an error, as it is for OpenSSH, unless
//! `IgnoreUnknown` names it. A `-o` argument is split and unquoted as a line of ssh_config
//! is ([`crate::ssh_config::split_line`]).

use std::path::PathBuf;
use std::time::Duration;

use sshwire::keys::SignatureAlgorithm;
use sshwire::known_hosts::StrictHostKeyChecking;
use sshwire::transport::Config;
use sshwire::transport::cipher::{CipherAlg, MacAlg};
use sshwire::transport::compress::Compression;
use sshwire::transport::kex::KexAlg;

use crate::paths;
use crate::ssh_config::split_line;

/// The settings from `-o` options and the ssh_config file, before defaults.
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
    /// `ProxyJump`, checked by [`JumpHost::parse_list`] (`none` connects directly).
    pub proxy_jump: Option<String>,
    /// `IgnoreUnknown`: patterns of keywords whose lines are skipped when not known.
    pub ignore_unknown: Option<Vec<String>>,
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

/// The single-valued keywords sshwire acts on (lower case).
const KNOWN_KEYWORDS: &[&str] = &[
    "port",
    "user",
    "hostname",
    "identityfile",
    "identitiesonly",
    "stricthostkeychecking",
    "hashknownhosts",
    "batchmode",
    "passwordauthentication",
    "pubkeyauthentication",
    "kbdinteractiveauthentication",
    "challengeresponseauthentication",
    "preferredauthentications",
    "numberofpasswordprompts",
    "connecttimeout",
    "serveraliveinterval",
    "serveralivecountmax",
    "ciphers",
    "kexalgorithms",
    "macs",
    "hostkeyalgorithms",
    "compression",
    "identityagent",
    "loglevel",
    "proxyjump",
];

impl SshOptions {
    /// Whether `IgnoreUnknown` covers the (unknown) keyword `key`.
    fn ignores(&self, key: &str) -> bool {
        self.ignore_unknown
            .as_ref()
            .is_some_and(|patterns| crate::ssh_config::list_matches(&patterns.join(","), key))
    }

    /// Applies one `-o` argument: `Keyword=value` or `Keyword value`, split and unquoted as
    /// a configuration file line is.
    pub fn set(&mut self, option: &str) -> Result<(), String> {
        let (keyword, args) = split_line(option)
            .map_err(|e| format!("option '{option}': {e}"))?
            .ok_or_else(|| format!("option '{option}' has no value (use Keyword=value)"))?;
        self.apply(&keyword, &args)
    }

    /// Applies one keyword with its arguments (at least one), from `-o` or a configuration
    /// file; the first value obtained for each keyword wins.
    pub fn apply(&mut self, keyword: &str, args: &[String]) -> Result<(), String> {
        let key = keyword.to_ascii_lowercase();
        if let "userknownhostsfile" | "globalknownhostsfile" = key.as_str() {
            let files = args.iter().map(|a| paths::expand_tilde(a)).collect();
            let slot = if key == "userknownhostsfile" {
                &mut self.user_known_hosts_files
            } else {
                &mut self.global_known_hosts_files
            };
            return first(slot, || Ok(files));
        }
        if IGNORED_KEYWORDS.contains(&key.as_str()) {
            self.ignored.push(keyword.to_owned());
            return Ok(());
        }
        if key == "ignoreunknown" {
            let patterns = args.iter().flat_map(|a| a.split(',')).map(str::to_owned);
            return first(&mut self.ignore_unknown, || Ok(patterns.collect()));
        }
        if !KNOWN_KEYWORDS.contains(&key.as_str()) {
            return match self.ignores(&key) {
                true => Ok(()),
                false => Err(format!("unsupported option \"{keyword}\"")),
            };
        }
        let value = match args {
            [one] => one.as_str(),
            [] => return Err(format!("option {keyword} has no value")),
            [_, extra, ..] => return Err(format!("{keyword}: unexpected argument '{extra}'")),
        };
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
                self.identity_files.push(paths::expand_tilde(value));
                Ok(())
            }
            "identitiesonly" => first(&mut self.identities_only, || yes_no(keyword, value)),
            "stricthostkeychecking" => first(&mut self.strict_host_key_checking, || {
                value
                    .parse::<StrictHostKeyChecking>()
                    .map_err(|e| format!("StrictHostKeyChecking: {e}"))
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
            "proxyjump" => first(&mut self.proxy_jump, || {
                JumpHost::parse_list(value)?;
                Ok(value.to_owned())
            }),
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

/// A time as OpenSSH writes it: seconds, or numbers with units (`90`, `1m30s`, `2h`; `s`
/// `m` `h` `d` `w`, either case).
fn seconds(keyword: &str, value: &str) -> Result<Duration, String> {
    let bad = || format!("{keyword}: bad time '{value}'");
    if value.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in value.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = number.unwrap_or(0);
            number = Some(
                n.checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d)))
                    .ok_or_else(bad)?,
            );
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n = number.take().ok_or_else(bad)?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if let Some(n) = number {
        total = total.checked_add(n).ok_or_else(bad)?;
    }
    Ok(Duration::from_secs(total))
}

/// One hop of `ProxyJump`: `[user@]host[:port]` or `ssh://[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    /// The user, if given.
    pub user: Option<String>,
    /// The host (a name the configuration may know, or an address).
    pub host: String,
    /// The port, if given.
    pub port: Option<u16>,
}

impl JumpHost {
    /// Parses a `ProxyJump` value: hops separated by commas, or `none` (no hops).
    pub fn parse_list(value: &str) -> Result<Vec<JumpHost>, String> {
        if value.eq_ignore_ascii_case("none") {
            return Ok(Vec::new());
        }
        value.split(',').map(JumpHost::parse).collect()
    }

    fn parse(hop: &str) -> Result<JumpHost, String> {
        let bad = || format!("ProxyJump: bad jump host '{hop}'");
        let spec = hop.strip_prefix("ssh://").unwrap_or(hop);
        let spec = spec.strip_suffix('/').unwrap_or(spec);
        let (user, rest) = match spec.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u.to_owned()), r),
            Some(_) => return Err(bad()),
            None => (None, spec),
        };
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (h, after) = inner.split_once(']').ok_or_else(bad)?;
            (h, after.strip_prefix(':'))
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?),
            None => None,
        };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/' || c == ',') {
            return Err(bad());
        }
        Ok(JumpHost {
            user,
            host: host.to_owned(),
            port,
        })
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
    fn values_are_unquoted_counted_and_timed_as_openssh_does() {
        let mut o = SshOptions::default();
        o.set("IdentityFile=\"/keys/my key\"").unwrap();
        o.set("UserKnownHostsFile /a '/b c'").unwrap();
        o.set("ConnectTimeout=1m5s").unwrap();
        o.set("ServerAliveInterval 0").unwrap();
        assert_eq!(o.identity_files, [PathBuf::from("/keys/my key")]);
        assert_eq!(
            o.user_known_hosts_files.clone().unwrap(),
            [PathBuf::from("/a"), PathBuf::from("/b c")]
        );
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(65)));
        assert_eq!(o.server_alive_interval, Some(Duration::ZERO));
        // One value for a single-valued keyword; a time needs a number before each unit.
        assert!(o.set("Port 22 23").unwrap_err().contains("'23'"));
        assert!(o.set("ConnectTimeout=m").is_err());
        assert!(o.set("ConnectTimeout=99999999999999999999").is_err());
        assert!(o.set("User \"unterminated").is_err());
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
