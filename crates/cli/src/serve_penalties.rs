//! Penalties per source address, a brute-force defender like OpenSSH's `PerSourcePenalties`.
//!
//! Each connection that ends after failed authentication attempts adds `authfail` seconds of
//! penalty to its source (the address cut to a prefix: a /32 for IPv4 and a /64 for IPv6 by
//! default), each one that ends without even trying adds `noauth`. Penalty time runs out
//! like a clock: what a source owns is the time from now to its expiry, at most `max`. Once
//! that reaches `min`, the source is penalized: until the expiry, its new connections are
//! closed at once, before any key exchange work. A login from the source changes nothing
//! (an attacker could log in to an account of their own to clear it).
//!
//! Memory stays bounded: at most `max_sources` sources are tracked, the one penalized
//! longest ago dropped first, and expired ones whenever they are looked at.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sshwire::server::{Gatekeeper, Outcome};

/// The settings of the penalties (`[penalties]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PenaltySettings {
    /// Whether penalties apply at all.
    pub enabled: bool,
    /// Added for a connection that ended after failed authentication attempts.
    pub authfail: Duration,
    /// Added for a connection that ended without any attempt (a scanner, a timeout).
    pub noauth: Duration,
    /// Penalty time a source must have before its connections are refused.
    pub min: Duration,
    /// Most penalty time a source can have.
    pub max: Duration,
    /// Leading bits of an IPv4 address that name a source.
    pub ipv4_prefix: u8,
    /// Leading bits of an IPv6 address that name a source.
    pub ipv6_prefix: u8,
    /// Addresses never penalized.
    pub exempt: Vec<Cidr>,
    /// Most sources tracked at once.
    pub max_sources: usize,
}

impl Default for PenaltySettings {
    /// On, with OpenSSH's amounts except `min`: 5 s per failed connection, 1 s per
    /// connection that never tried, refused from 30 s on (about six failed connections in a
    /// short while; OpenSSH's 15 s is three), at most 600 s; /32 and /64; 65536 sources.
    fn default() -> Self {
        PenaltySettings {
            enabled: true,
            authfail: Duration::from_secs(5),
            noauth: Duration::from_secs(1),
            min: Duration::from_secs(30),
            max: Duration::from_secs(600),
            ipv4_prefix: 32,
            ipv6_prefix: 64,
            exempt: Vec::new(),
            max_sources: 65536,
        }
    }
}

/// An address block: an address and the number of leading bits that count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `192.0.2.0/24`, `2001:db8::/32`, or a single address.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("{text:?} is not an address or ADDRESS/BITS block");
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr {
            network: masked(network, bits),
            bits,
        })
    }

    /// Whether `addr` lies in the block.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = unmapped(addr);
        addr.is_ipv4() == self.network.is_ipv4() && masked(addr, self.bits) == self.network
    }
}

/// `addr` with only its first `bits` bits kept.
fn masked(addr: IpAddr, bits: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(bits.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(bits.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is that IPv4 address.
fn unmapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// One source's penalty.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// When the penalty time runs out.
    expiry: Instant,
    /// Whether it reached `min`: connections are refused until `expiry`.
    active: bool,
    /// When it was last penalized, as an order (for eviction).
    order: u64,
    /// Connections refused since the penalty became active (only the first is logged at
    /// info: a flood of refusals must not flood the log).
    refused: u64,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<IpAddr, Entry>,
    /// The sources by `order`, the least recently penalized first.
    by_order: BTreeMap<u64, IpAddr>,
    next: u64,
}

impl Table {
    fn remove(&mut self, source: IpAddr) {
        if let Some(e) = self.entries.remove(&source) {
            self.by_order.remove(&e.order);
        }
    }
}

/// The penalty table, shared by the accept loop and the connections.
#[derive(Debug)]
pub struct Penalties {
    settings: Mutex<PenaltySettings>,
    table: Mutex<Table>,
}

impl Penalties {
    /// A table with `settings` and no penalty yet.
    pub fn new(settings: PenaltySettings) -> Self {
        Penalties {
            settings: Mutex::new(settings),
            table: Mutex::new(Table::default()),
        }
    }

    /// New settings (a reload); penalties already given stay, within the new `max_sources`.
    pub fn set(&self, settings: PenaltySettings) {
        let max_sources = settings.max_sources;
        *lock(&self.settings) = settings;
        let mut t = lock(&self.table);
        while t.entries.len() > max_sources {
            let Some((_, oldest)) = t.by_order.pop_first() else {
                break;
            };
            t.entries.remove(&oldest);
        }
    }

    fn settings(&self) -> PenaltySettings {
        lock(&self.settings).clone()
    }

    /// The source `addr` belongs to, or `None` if it is exempt or penalties are off.
    fn source(&self, s: &PenaltySettings, addr: IpAddr) -> Option<IpAddr> {
        let addr = unmapped(addr);
        if !s.enabled || s.exempt.iter().any(|c| c.contains(addr)) {
            return None;
        }
        let bits = if addr.is_ipv4() {
            s.ipv4_prefix
        } else {
            s.ipv6_prefix
        };
        Some(masked(addr, bits))
    }

    /// How long connections from `addr` are still refused at `now` (`None`: admitted).
    #[cfg(test)]
    fn refused_for(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        self.refuse(addr, now).map(|(left, _)| left)
    }

    /// How long connections from `addr` are still refused at `now` (`None`: admitted), and
    /// how many were refused before this one; counts this refusal.
    fn refuse(&self, addr: IpAddr, now: Instant) -> Option<(Duration, u64)> {
        let s = self.settings();
        let source = self.source(&s, addr)?;
        let mut t = lock(&self.table);
        let entry = t.entries.get_mut(&source)?;
        if now >= entry.expiry {
            t.remove(source);
            return None;
        }
        if !entry.active {
            return None;
        }
        let before = entry.refused;
        entry.refused = entry.refused.saturating_add(1);
        Some((entry.expiry.saturating_duration_since(now), before))
    }

    /// Records how a connection from `addr` ended, at `now`.
    pub fn record(&self, addr: IpAddr, outcome: Outcome, now: Instant) {
        let s = self.settings();
        let amount = match outcome {
            Outcome::AuthFailed { .. } => s.authfail,
            Outcome::NoAuth => s.noauth,
            _ => return,
        };
        let Some(source) = self.source(&s, addr) else {
            return;
        };
        if amount.is_zero() || s.max_sources == 0 {
            return;
        }
        let mut t = lock(&self.table);
        let old = t.entries.get(&source).copied();
        if let Some(e) = old {
            t.by_order.remove(&e.order);
        }
        let base = old.map_or(now, |e| e.expiry.max(now));
        let expiry = (base + amount).min(now + s.max);
        let newly_active = old.is_none_or(|e| !e.active || e.expiry <= now)
            && expiry.saturating_duration_since(now) >= s.min;
        let active = old.is_some_and(|e| e.active && e.expiry > now) || newly_active;
        let order = t.next;
        t.next += 1;
        if old.is_none()
            && t.entries.len() >= s.max_sources
            && let Some((_, oldest)) = t.by_order.pop_first()
        {
            t.entries.remove(&oldest);
        }
        let refused = old.filter(|_| !newly_active).map_or(0, |e| e.refused);
        t.entries.insert(
            source,
            Entry {
                expiry,
                active,
                order,
                refused,
            },
        );
        t.by_order.insert(order, source);
        let seconds = expiry.saturating_duration_since(now).as_secs();
        if newly_active {
            tracing::warn!(
                event = "penalty_active",
                source = %source,
                seconds,
                "source penalized: its connections are refused"
            );
        } else {
            tracing::info!(
                event = "penalty",
                source = %source,
                seconds,
                active,
                reason = if matches!(outcome, Outcome::NoAuth) { "noauth" } else { "authfail" },
                "penalty time added"
            );
        }
    }

    /// How many sources are tracked.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        lock(&self.table).entries.len()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Gatekeeper for Penalties {
    fn admit(&self, peer: SocketAddr) -> bool {
        match self.refuse(peer.ip(), Instant::now()) {
            None => true,
            Some((left, 0)) => {
                tracing::info!(
                    event = "penalty_refused",
                    peer = %peer,
                    seconds_left = left.as_secs(),
                    "connection refused: the source is penalized (further refusals at debug level)"
                );
                false
            }
            Some((left, before)) => {
                tracing::debug!(
                    event = "penalty_refused",
                    peer = %peer,
                    seconds_left = left.as_secs(),
                    refused_before = before,
                    "connection refused: the source is penalized"
                );
                false
            }
        }
    }

    fn ended(&self, peer: SocketAddr, outcome: Outcome) {
        self.record(peer.ip(), outcome, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FAIL: Outcome = Outcome::AuthFailed { failures: 1 };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// authfail 5 s, min 15 s: the third failed connection in a row penalizes.
    fn small() -> PenaltySettings {
        PenaltySettings {
            min: secs(15),
            max: secs(60),
            ..PenaltySettings::default()
        }
    }

    #[test]
    fn a_source_is_refused_after_repeated_failures_and_admitted_after_the_penalty() {
        let p = Penalties::new(small());
        let t0 = Instant::now();
        let a = ip("192.0.2.7");
        p.record(a, FAIL, t0);
        p.record(a, FAIL, t0);
        assert_eq!(p.refused_for(a, t0), None, "10 s is below min");
        p.record(a, FAIL, t0);
        assert_eq!(p.refuse(a, t0), Some((secs(15), 0)));
        assert_eq!(p.refuse(a, t0 + secs(14)), Some((secs(1), 1)));
        // Another source is not affected.
        assert_eq!(p.refused_for(ip("192.0.2.8"), t0), None);
        // Served again once the time ran out, and forgotten.
        assert_eq!(p.refused_for(a, t0 + secs(15)), None);
        assert_eq!(p.tracked(), 0);
    }

    #[test]
    fn penalty_time_runs_out_between_failures_and_is_capped() {
        let p = Penalties::new(small());
        let t0 = Instant::now();
        let a = ip("198.51.100.1");
        // One failure every 5 s never accumulates: each one has run out before the next.
        for i in 0..10 {
            p.record(a, FAIL, t0 + secs(5 * i));
            assert_eq!(p.refused_for(a, t0 + secs(5 * i)), None, "{i}");
        }
        // A burst goes up to max and no further.
        let t1 = t0 + secs(100);
        for _ in 0..100 {
            p.record(a, FAIL, t1);
        }
        assert_eq!(p.refused_for(a, t1), Some(secs(60)));
        // Connections that never try cost 1 s each.
        let b = ip("198.51.100.2");
        for _ in 0..14 {
            p.record(b, Outcome::NoAuth, t0);
        }
        assert_eq!(p.refused_for(b, t0), None);
        p.record(b, Outcome::NoAuth, t0);
        assert!(p.refused_for(b, t0).is_some());
        // Logins and dropped connections neither add nor clear.
        p.record(b, Outcome::LoggedIn, t0);
        p.record(b, Outcome::Dropped, t0);
        assert_eq!(p.refused_for(b, t0), Some(secs(15)));
    }

    #[test]
    fn sources_are_grouped_by_prefix_and_exempt_blocks_are_never_penalized() {
        let p = Penalties::new(PenaltySettings {
            ipv4_prefix: 24,
            exempt: vec![
                Cidr::parse("10.0.0.0/8").unwrap(),
                Cidr::parse("::1").unwrap(),
            ],
            ..small()
        });
        let t0 = Instant::now();
        for last in 1..=3 {
            p.record(ip(&format!("203.0.113.{last}")), FAIL, t0);
        }
        assert!(p.refused_for(ip("203.0.113.200"), t0).is_some());
        assert!(p.refused_for(ip("203.0.114.1"), t0).is_none());
        // Through an IPv6 socket, the same IPv4 source.
        assert!(p.refused_for(ip("::ffff:203.0.113.9"), t0).is_some());
        // IPv6 sources are /64s.
        for n in 1..=3 {
            p.record(ip(&format!("2001:db8:1:2::{n}")), FAIL, t0);
        }
        assert!(p.refused_for(ip("2001:db8:1:2:ffff::1"), t0).is_some());
        assert!(p.refused_for(ip("2001:db8:1:3::1"), t0).is_none());
        for _ in 0..10 {
            p.record(ip("10.1.2.3"), FAIL, t0);
            p.record(ip("::1"), FAIL, t0);
        }
        assert!(p.refused_for(ip("10.1.2.3"), t0).is_none());
        assert!(p.refused_for(ip("::1"), t0).is_none());
        // Off: nothing is refused.
        p.set(PenaltySettings {
            enabled: false,
            ..small()
        });
        assert!(p.refused_for(ip("203.0.113.200"), t0).is_none());
    }

    #[test]
    fn at_most_max_sources_are_tracked_the_oldest_dropped_first() {
        let p = Penalties::new(PenaltySettings {
            max_sources: 3,
            ..small()
        });
        let t0 = Instant::now();
        let sources: Vec<IpAddr> = (1..=4).map(|n| ip(&format!("192.0.2.{n}"))).collect();
        for s in &sources[..3] {
            for _ in 0..3 {
                p.record(*s, FAIL, t0);
            }
        }
        // The first one is penalized again, so the second is now the oldest.
        p.record(sources[0], FAIL, t0);
        p.record(sources[3], FAIL, t0);
        assert_eq!(p.tracked(), 3);
        assert!(p.refused_for(sources[0], t0).is_some());
        assert!(p.refused_for(sources[1], t0).is_none(), "evicted");
        assert!(p.refused_for(sources[2], t0).is_some());
        // Fewer sources on reload: the oldest go.
        p.set(PenaltySettings {
            max_sources: 1,
            ..small()
        });
        assert_eq!(p.tracked(), 1);
        assert!(p.refused_for(sources[0], t0).is_none());
    }

    #[test]
    fn blocks_parse_and_match() {
        let c = Cidr::parse("192.0.2.77/24").unwrap();
        assert!(c.contains(ip("192.0.2.1")));
        assert!(!c.contains(ip("192.0.3.1")));
        assert!(!c.contains(ip("::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        for bad in ["192.0.2.0/33", "::/129", "nowhere", "1.2.3.4/x", ""] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
