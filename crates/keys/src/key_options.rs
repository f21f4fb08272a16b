//! Whether the options of an `authorized_keys` line let a key log in to an SFTP-only server.
//!
//! sshd(8), AUTHORIZED_KEYS FILE FORMAT, defines the options; [`check_sftp_only`] decides them
//! for a server that serves only the `sftp` subsystem, runs no commands, allocates no
//! terminals and forwards nothing (as `sshwire serve`). Options that take something away the
//! server never offers are satisfied already; options it must check (`from=`,
//! `expiry-time=`, `command=`) are checked; options that would grant something it cannot
//! honour, or that it cannot check, refuse the key (fail closed), as do unknown options.

use std::net::IpAddr;

use crate::PublicKey;
use crate::authorized_keys::{AuthorizedKey, AuthorizedKeys, KeyOption};
use crate::pattern::wildcard_match;

/// Options that only take away what an SFTP-only server never offers, or grant it back: a
/// pty, forwarding, an agent, X11, `~/.ssh/rc` (sshd(8): `restrict` "Enable all
/// restrictions, i.e. disable port, agent and X11 forwarding, as well as disabling PTY
/// allocation and execution of ~/.ssh/rc"). Satisfied as they are.
const SATISFIED: &[&str] = &[
    "restrict",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-user-rc",
    "no-X11-forwarding",
    "agent-forwarding",
    "port-forwarding",
    "pty",
    "user-rc",
    "X11-forwarding",
    // Relaxes a FIDO key's touch check; sshwire has no FIDO keys.
    "no-touch-required",
];

/// Earliest offset from UTC of any time zone (UTC+14, Line Islands), in seconds: a local
/// time without `Z` is taken in that zone, so the key expires no later than sshd's would.
const EARLIEST_ZONE_OFFSET: i64 = 14 * 3600;

/// Whether `line`'s options let its key log in from `peer` at `now` (seconds since the Unix
/// epoch) to a server that serves only SFTP; `Err` says why not.
///
/// - `from="pattern-list"`: the peer's address must match a pattern and no negated one.
///   Patterns are addresses with `*` and `?` wildcards, or CIDR ranges (`10.0.0.0/8`,
///   `fe80::/10`). Host names never match, because the server does not resolve the peer's
///   address; a negated host name cannot be ruled out, so it refuses the key. An unknown
///   peer address (`None`) refuses every key with `from=`.
/// - `expiry-time="YYYYMMDD[HHMM[SS]][Z]"`: refused from that time on. With `Z` the time is
///   UTC; without it sshd uses the system time zone, which this function does not know, so
///   it takes the earliest zone (UTC+14): the key stops up to 14 hours early, never late.
/// - `command="..."`: allowed only if it is `internal-sftp` or runs a program called
///   `sftp-server` (the server serves that subsystem and nothing else), with no arguments
///   but logging ones; any other command, or an argument such as `-R`, refuses the key.
/// - `restrict`, `no-*` and the options that re-enable a pty, forwarding, the agent, X11 or
///   `~/.ssh/rc`: satisfied (none of those is offered).
/// - `cert-authority`, `principals=` (the key would be a certificate authority, and sshwire
///   does not implement certificates), `environment=`, `tunnel=`, `permitopen=`,
///   `permitlisten=`, `verify-required` (FIDO user verification), and any option not named
///   in sshd(8): refused.
///
/// Every occurrence of an option is checked, so a second `from=` cannot widen the first.
pub fn check_sftp_only(line: &AuthorizedKey, peer: Option<IpAddr>, now: i64) -> Result<(), String> {
    for option in &line.options {
        check_option(option, peer, now)?;
    }
    Ok(())
}

/// What an `authorized_keys` file says about one key on an SFTP-only server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDecision {
    /// A line holds the key and its options allow this login.
    Allowed,
    /// No line holds the key.
    NotListed,
    /// Every line that holds the key refuses this login; the reason is the first line's.
    Refused(String),
}

/// Whether `key` may log in from `peer` at `now` under `file`'s lines that hold it, by
/// [`check_sftp_only`]: allowed if any of them allows it.
pub fn decide_sftp_only(
    file: &AuthorizedKeys,
    key: &PublicKey,
    peer: Option<IpAddr>,
    now: i64,
) -> KeyDecision {
    let mut first_refusal = None;
    for line in file.keys.iter().filter(|l| &l.key == key) {
        match check_sftp_only(line, peer, now) {
            Ok(()) => return KeyDecision::Allowed,
            Err(why) => {
                first_refusal.get_or_insert(why);
            }
        }
    }
    first_refusal.map_or(KeyDecision::NotListed, KeyDecision::Refused)
}

/// One option of [`check_sftp_only`].
fn check_option(option: &KeyOption, peer: Option<IpAddr>, now: i64) -> Result<(), String> {
    let name = option.name.as_str();
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    match option.value.as_deref() {
        None if SATISFIED.iter().any(|n| is(n)) => Ok(()),
        Some(list) if is("from") => {
            let peer = peer.ok_or("from= given and the peer's address is unknown")?;
            from_allows(list, peer)
        }
        Some(spec) if is("expiry-time") => {
            let expiry = expiry_instant(spec)
                .ok_or_else(|| format!("expiry-time=\"{spec}\" is not a valid time"))?;
            if now >= expiry {
                Err(format!("the key expired at expiry-time=\"{spec}\""))
            } else {
                Ok(())
            }
        }
        Some(command) if is("command") => {
            if is_sftp_command(command) {
                Ok(())
            } else {
                Err(format!(
                    "command=\"{command}\": only internal-sftp or an sftp-server is served"
                ))
            }
        }
        _ => Err(format!(
            "option {name} cannot be honoured by an SFTP-only server"
        )),
    }
}

/// Whether a forced command is the SFTP server: `internal-sftp`, or a program whose file
/// name is `sftp-server`, with no arguments but the logging ones (`-e`, `-f facility`,
/// `-l level`). Others (`-R` read-only, `-d` start directory, `-P`/`-p` request lists, `-u`
/// umask) would restrict the session in ways this check does not apply, so they refuse it.
fn is_sftp_command(command: &str) -> bool {
    let mut words = command.split_ascii_whitespace();
    let Some(program) = words.next() else {
        return false;
    };
    if program != "internal-sftp" && program.rsplit('/').next() != Some("sftp-server") {
        return false;
    }
    while let Some(arg) = words.next() {
        match arg {
            "-e" => {}
            "-f" | "-l" => {
                if words.next().is_none() {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// sshd(8) `from=`: "the canonical name of the remote host or its IP address must be present
/// in the comma-separated list of patterns"; ssh_config(5) PATTERNS: a pattern "may
/// optionally be preceded by an exclamation mark (`!')" and "If a negated entry is matched,
/// then the [...] entry is ignored, regardless of whether any other patterns on the line
/// match"; addresses may be "in CIDR address/masklen format".
fn from_allows(list: &str, peer: IpAddr) -> Result<(), String> {
    let peer = peer.to_canonical();
    let text = peer.to_string();
    let mut allowed = false;
    for entry in list.split(',') {
        let (negated, pattern) = match entry.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, entry),
        };
        let hit = if pattern.contains('/') {
            cidr_contains(pattern, peer)
                .ok_or_else(|| format!("from=: {pattern:?} is not a valid CIDR range"))?
        } else if is_address_pattern(pattern) {
            wildcard_match(pattern, &text)
        } else if negated {
            return Err(format!(
                "from=: the negated host name {pattern:?} cannot be checked (peer names are \
                 not resolved)"
            ));
        } else {
            false
        };
        if hit && negated {
            return Err(format!("from=: the peer {text} is excluded by !{pattern}"));
        }
        allowed |= hit;
    }
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "from=: the peer {text} matches no pattern of {list:?}"
        ))
    }
}

/// Whether `pattern` is an address pattern rather than a host name: IPv4-like (digits,
/// `.` and wildcards only) or IPv6-like (holds `:`; hexadecimal digits, `:`, `.` and
/// wildcards).
fn is_address_pattern(pattern: &str) -> bool {
    let wild = |c: char| matches!(c, '*' | '?');
    let v4 = pattern
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || wild(c));
    let v6 = pattern.contains(':')
        && pattern
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.') || wild(c));
    !pattern.is_empty() && (v4 || v6)
}

/// Whether `addr/len` holds `peer`; `None` if the range is malformed or has bits set past
/// its length (OpenSSH refuses those too). An IPv4 range never holds an IPv6 peer.
fn cidr_contains(range: &str, peer: IpAddr) -> Option<bool> {
    let (addr, len) = range.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    if !len.bytes().all(|b| b.is_ascii_digit()) || len.is_empty() || len.len() > 3 {
        return None;
    }
    let len: u32 = len.parse().ok()?;
    let (net, bits, peer_bits): (u128, u32, Option<u128>) = match (addr, peer) {
        (IpAddr::V4(a), IpAddr::V4(p)) => (u32::from(a).into(), 32, Some(u32::from(p).into())),
        (IpAddr::V4(a), IpAddr::V6(_)) => (u32::from(a).into(), 32, None),
        (IpAddr::V6(a), IpAddr::V6(p)) => (u128::from(a), 128, Some(u128::from(p))),
        (IpAddr::V6(a), IpAddr::V4(_)) => (u128::from(a), 128, None),
    };
    if len > bits {
        return None;
    }
    // The host bits: the low `bits - len` bits of a `bits`-wide address.
    let host_mask = match bits - len {
        0 => 0,
        128 => u128::MAX,
        n => (1u128 << n) - 1,
    };
    if net & host_mask != 0 {
        return None;
    }
    Some(peer_bits.is_some_and(|p| p & !host_mask == net))
}

/// The instant of an `expiry-time` value, in seconds since the Unix epoch: sshd(8) "a
/// YYYYMMDD[Z] date or a YYYYMMDDHHMM[SS][Z] time".
fn expiry_instant(spec: &str) -> Option<i64> {
    let (digits, utc) = match spec.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (spec, false),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| -> Option<i64> {
        digits.get(range).and_then(|s| s.parse().ok())
    };
    let (year, month, day) = (field(0..4)?, field(4..6)?, field(6..8)?);
    let (hour, minute) = if digits.len() >= 12 {
        (field(8..10)?, field(10..12)?)
    } else {
        (0, 0)
    };
    let second = if digits.len() == 14 {
        field(12..14)?
    } else {
        0
    };
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let local = days_from_epoch(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(if utc {
        local
    } else {
        local - EARLIEST_ZONE_OFFSET
    })
}

/// Days in `month` of `year` (proleptic Gregorian calendar).
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to `year-month-day` (a valid date, year 0 to 9999).
fn days_from_epoch(year: i64, month: i64, day: i64) -> i64 {
    // Count in a year that starts in March, so that the leap day is the year's last.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
#[path = "key_options_tests.rs"]
mod tests;
