#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::testing::TestRng;
use crate::{KeyType, PrivateKey};

fn key(seed: u64) -> PublicKey {
    PrivateKey::generate(KeyType::Ed25519, None, &mut TestRng(seed))
        .unwrap()
        .public_key()
}

/// The line `options key` for key 1.
fn line(options: &str) -> AuthorizedKey {
    let text = format!("{options} {}", key(1).to_openssh("c"));
    AuthorizedKey::parse_line(text.trim()).unwrap()
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;

fn check(options: &str, peer: &str) -> Result<(), String> {
    check_sftp_only(&line(options), ip(peer), NOW)
}

#[test]
fn no_options_and_restrictions_already_in_force_are_allowed() {
    assert_eq!(check("", "127.0.0.1"), Ok(()));
    for flag in SATISFIED {
        assert_eq!(check(flag, "127.0.0.1"), Ok(()), "{flag}");
        assert_eq!(check(&flag.to_ascii_uppercase(), "::1"), Ok(()), "{flag}");
    }
    assert_eq!(
        check("restrict,no-pty,no-port-forwarding,pty", "127.0.0.1"),
        Ok(())
    );
}

#[test]
fn options_that_cannot_be_honoured_refuse_the_key() {
    for options in [
        "cert-authority",
        "principals=\"alice\"",
        "cert-authority,principals=\"alice\"",
        "environment=\"PATH=/tmp\"",
        "tunnel=\"0\"",
        "permitopen=\"localhost:80\"",
        "restrict,permitopen=\"localhost:80\"",
        "permitlisten=\"8080\"",
        "restrict,permitlisten=\"8080\"",
        "verify-required",
        "restrict,verify-required",
    ] {
        let why = check(options, "127.0.0.1").unwrap_err();
        assert!(why.contains("cannot be honoured"), "{options}: {why}");
    }
}

#[test]
fn unknown_options_refuse_the_key() {
    // The parser skips such lines; options built by hand are refused here too.
    for option in [
        KeyOption {
            name: "bogus".into(),
            value: None,
        },
        KeyOption {
            name: "bogus".into(),
            value: Some("x".into()),
        },
        // A valued option without its value, and a flag with one.
        KeyOption {
            name: "from".into(),
            value: None,
        },
        KeyOption {
            name: "command".into(),
            value: None,
        },
        KeyOption {
            name: "restrict".into(),
            value: Some("x".into()),
        },
    ] {
        let mut l = line("");
        l.options.push(option.clone());
        assert!(
            check_sftp_only(&l, ip("127.0.0.1"), NOW).is_err(),
            "{option:?}"
        );
    }
}

#[test]
fn from_patterns_against_the_peer_address() {
    let cases: &[(&str, &str, bool)] = &[
        ("127.0.0.1", "127.0.0.1", true),
        ("127.0.0.2", "127.0.0.1", false),
        ("127.0.0.*", "127.0.0.1", true),
        ("127.0.0.?", "127.0.0.1", true),
        ("127.0.0.?", "127.0.0.10", false),
        ("*", "127.0.0.1", true),
        ("10.0.0.0/8", "127.0.0.1", false),
        ("10.0.0.0/8", "10.200.3.4", true),
        ("127.0.0.0/8", "127.0.0.1", true),
        ("127.0.0.1/32", "127.0.0.1", true),
        ("127.0.0.0/31", "127.0.0.1", true),
        ("127.0.0.2/31", "127.0.0.1", false),
        ("0.0.0.0/0", "192.0.2.1", true),
        ("10.0.0.0/8,127.0.0.1", "127.0.0.1", true),
        ("*,!127.0.0.1", "127.0.0.1", false),
        ("!127.0.0.1,*", "127.0.0.1", false),
        ("*,!10.0.0.0/8", "127.0.0.1", true),
        ("*,!127.0.0.0/8", "127.0.0.1", false),
        ("*,!10.*", "127.0.0.1", true),
        // IPv6, and an IPv4 peer seen through an IPv4-mapped IPv6 socket address.
        ("::1", "::1", true),
        ("::1/128", "::1", true),
        ("fe80::/10", "fe80::1", true),
        ("fe80::/10", "::1", false),
        ("127.0.0.1", "::ffff:127.0.0.1", true),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true),
        // An IPv4 range never holds an IPv6 peer, nor the reverse.
        ("0.0.0.0/0", "::1", false),
        ("::/0", "127.0.0.1", false),
        // Host names cannot match: the server does not resolve the peer's address.
        ("localhost", "127.0.0.1", false),
        ("*.example.com", "127.0.0.1", false),
        ("localhost,127.0.0.1", "127.0.0.1", true),
    ];
    for &(patterns, peer, allowed) in cases {
        let got = check(&format!("from=\"{patterns}\""), peer);
        assert_eq!(got.is_ok(), allowed, "from={patterns} peer {peer}: {got:?}");
    }
}

#[test]
fn from_patterns_that_cannot_be_checked_refuse_the_key() {
    for patterns in [
        // A negated host name: the peer might be that host.
        "*,!bad.example.com",
        "127.0.0.1,!localhost",
        // Malformed ranges, and one with host bits set (OpenSSH refuses those too).
        "10.0.0.0/33",
        "10.0.0.0/",
        "10.0.0.0/x",
        "10.0.0.0/-1",
        "10.0.0.1/8",
        "::1/129",
        "bad/8",
        "127.0.0.1,10.0.0.1/8",
    ] {
        assert!(
            check(&format!("from=\"{patterns}\""), "127.0.0.1").is_err(),
            "{patterns}"
        );
    }
    // An unknown peer address cannot match anything.
    assert!(check_sftp_only(&line("from=\"*\""), None, NOW).is_err());
    assert_eq!(check_sftp_only(&line("restrict"), None, NOW), Ok(()));
    // Every from= must allow.
    assert!(check("from=\"*\",from=\"10.0.0.0/8\"", "127.0.0.1").is_err());
}

#[test]
fn expiry_times() {
    // Instants of known dates.
    assert_eq!(expiry_instant("19700101Z"), Some(0));
    assert_eq!(expiry_instant("19700102z"), Some(86_400));
    assert_eq!(expiry_instant("20260101Z"), Some(NOW));
    assert_eq!(expiry_instant("20000301Z"), Some(951_868_800));
    assert_eq!(expiry_instant("20240229120000Z"), Some(1_709_208_000));
    assert_eq!(expiry_instant("202402291200Z"), Some(1_709_208_000));
    assert_eq!(expiry_instant("19691231235959Z"), Some(-1));
    // Without Z: the earliest time zone, 14 hours before the same clock time in UTC.
    assert_eq!(expiry_instant("20260101"), Some(NOW - 14 * 3600));
    for bad in [
        "",
        "2026",
        "2026010",
        "202601011",
        "2026010100",
        "20260101000",
        "202601010000000",
        "20261301",
        "20260001",
        "20260230",
        "20250229",
        "21000229",
        "20260132",
        "202601012400",
        "202601010060",
        "20260101000060",
        "2026-01-01",
        "+2026010",
        "20260101ZZ",
        "Z",
        "２０２６０１０１",
    ] {
        assert_eq!(expiry_instant(bad), None, "{bad:?}");
        assert!(check(&format!("expiry-time=\"{bad}\""), "127.0.0.1").is_err());
    }
    assert_eq!(expiry_instant("20000229Z"), Some(951_782_400));

    // Refused from the instant on, allowed before it.
    let l = line("expiry-time=\"20260101Z\"");
    assert_eq!(check_sftp_only(&l, ip("127.0.0.1"), NOW - 1), Ok(()));
    assert!(check_sftp_only(&l, ip("127.0.0.1"), NOW).is_err());
    assert!(check("expiry-time=\"20251231\"", "127.0.0.1").is_err());
    assert_eq!(check("expiry-time=\"20270101\"", "127.0.0.1"), Ok(()));
    // Local time without Z: a key whose day ends in 10 hours is already refused.
    let l = line("expiry-time=\"202601011000\"");
    assert!(check_sftp_only(&l, ip("127.0.0.1"), NOW).is_err());
    assert_eq!(
        check_sftp_only(&l, ip("127.0.0.1"), NOW - 4 * 3600 - 1),
        Ok(())
    );
}

#[test]
fn forced_commands_only_for_the_sftp_server() {
    for allowed in [
        "internal-sftp",
        "/usr/lib/openssh/sftp-server",
        "/usr/libexec/sftp-server -l INFO -f AUTH",
        "sftp-server -e",
        " internal-sftp ",
    ] {
        assert_eq!(
            check(&format!("command=\"{allowed}\""), "127.0.0.1"),
            Ok(()),
            "{allowed}"
        );
    }
    for refused in [
        "/bin/sh",
        "",
        "internal-sftp -R",
        "internal-sftp -d /srv",
        "/usr/lib/openssh/sftp-server -P write",
        "sftp-server -l",
        "/usr/lib/openssh/sftp-server-evil",
        "/bin/sh -c internal-sftp",
        "internal-sftp; rm -rf /",
        "echo \\\"hi\\\"",
    ] {
        assert!(
            check(&format!("command=\"{refused}\""), "127.0.0.1").is_err(),
            "{refused}"
        );
    }
}

#[test]
fn a_file_allows_a_key_if_any_of_its_lines_does() {
    let k1 = key(1).to_openssh("a");
    let k2 = key(2).to_openssh("b");
    let file = AuthorizedKeys::parse(&format!(
        "from=\"10.0.0.0/8\" {k1}\ncommand=\"/bin/sh\" {k2}\nrestrict {k1}\n"
    ));
    let peer = ip("127.0.0.1");
    assert_eq!(
        decide_sftp_only(&file, &key(1), peer, NOW),
        KeyDecision::Allowed
    );
    assert!(matches!(
        decide_sftp_only(&file, &key(2), peer, NOW),
        KeyDecision::Refused(why) if why.contains("/bin/sh")
    ));
    assert_eq!(
        decide_sftp_only(&file, &key(3), peer, NOW),
        KeyDecision::NotListed
    );
    let only_first = AuthorizedKeys::parse(&format!("from=\"10.0.0.0/8\" {k1}\n"));
    assert!(matches!(
        decide_sftp_only(&only_first, &key(1), peer, NOW),
        KeyDecision::Refused(why) if why.contains("127.0.0.1")
    ));
}
