#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use sshwire::known_hosts::StrictHostKeyChecking;

use super::*;

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Reads `text` for `host` (and `user`) over `options`.
fn read_for(text: &str, host: &str, user: Option<&str>, options: &mut SshOptions) -> Vec<String> {
    read_text(text, "cfg", &Target { host, user }, options).unwrap()
}

fn options_for(text: &str, host: &str) -> SshOptions {
    let mut o = SshOptions::default();
    read_for(text, host, None, &mut o);
    o
}

#[test]
fn lines_split_like_openssh() {
    assert_eq!(split_line("  # comment").unwrap(), None);
    assert_eq!(split_line("").unwrap(), None);
    for line in [
        "Port 22",
        "Port=22",
        "Port = 22",
        "  port\t=\t22  ",
        "Port 22 # note",
    ] {
        let (k, args) = split_line(line).unwrap().unwrap();
        assert_eq!(
            (k.to_ascii_lowercase(), args),
            ("port".into(), strings(&["22"]))
        );
    }
    let (_, args) = split_line(r#"IdentityFile "/a b/id" 'c d' e\ f x#y"#)
        .unwrap()
        .unwrap();
    assert_eq!(args, strings(&["/a b/id", "c d", "e f", "x#y"]));
    let (_, args) = split_line(r#"SendEnv "say \"hi\"" \\x"#).unwrap().unwrap();
    assert_eq!(args, strings(&[r#"say "hi""#, r"\x"]));
    assert!(split_line(r#"IdentityFile "/open"#).is_err());
    assert!(split_line("Port").unwrap_err().contains("no argument"));
    assert!(split_line("Port # only a comment").is_err());
}

#[test]
fn host_patterns_wildcards_and_negation() {
    let p = |s: &str| strings(&s.split(' ').collect::<Vec<_>>());
    assert!(host_matches(&p("*.example.org"), "www.example.org"));
    assert!(host_matches(&p("*.EXAMPLE.org"), "Www.example.ORG"));
    assert!(!host_matches(&p("*.example.org"), "example.org"));
    assert!(host_matches(&p("db? web"), "db1"));
    assert!(!host_matches(&p("db?"), "db10"));
    assert!(host_matches(&p("* !bastion"), "web"));
    assert!(!host_matches(&p("* !bastion"), "bastion"));
    // A negation alone matches nothing.
    assert!(!host_matches(&p("!bastion"), "web"));
    assert!(list_matches("a*,!ab", "ac"));
    assert!(!list_matches("a*,!ab", "ab"));
}

#[test]
fn first_obtained_value_wins_and_the_command_line_comes_first() {
    let text = "\
Host web
    HostName 10.0.0.5
    Port 2200
    User alice
    IdentityFile ~/.ssh/web
Host *
    Port 22
    User nobody
    IdentityFile ~/.ssh/default
    StrictHostKeyChecking accept-new
";
    let mut o = SshOptions::default();
    o.set("User=bob").unwrap();
    read_for(text, "web", None, &mut o);
    assert_eq!(o.host_name.as_deref(), Some("10.0.0.5"));
    assert_eq!(o.port, Some(2200));
    assert_eq!(o.user.as_deref(), Some("bob"));
    assert_eq!(
        o.strict_host_key_checking,
        Some(StrictHostKeyChecking::AcceptNew)
    );
    // IdentityFile accumulates, in the order read.
    let names: Vec<String> = o
        .identity_files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["web", "default"]);
    let other = options_for(text, "mail");
    assert_eq!((other.host_name, other.port), (None, Some(22)));
}

#[test]
fn lines_before_any_block_apply_to_every_host() {
    let o = options_for("Compression yes\nHost x\n  Port 1\n", "y");
    assert_eq!((o.compression, o.port), (Some(true), None));
}

#[test]
fn match_all_host_and_user() {
    let text = "\
Host alias
    HostName real.example.org
Match host real.example.org user deploy
    Port 2022
Match !host *.example.org
    Port 2023
Match all
    ConnectTimeout 7
";
    let mut o = SshOptions::default();
    read_for(text, "alias", Some("deploy"), &mut o);
    assert_eq!(o.port, Some(2022));
    assert_eq!(o.connect_timeout, Some(Duration::from_secs(7)));
    let mut o = SshOptions::default();
    read_for(text, "alias", Some("someone"), &mut o);
    assert_eq!(o.port, None);
    let mut o = SshOptions::default();
    read_for(text, "elsewhere", Some("deploy"), &mut o);
    assert_eq!(o.port, Some(2023));
    // `Match user` sees the User obtained so far when the command line names none.
    let mut o = SshOptions::default();
    read_for(
        "User deploy\nMatch user dep*\n  Port 9\n",
        "h",
        None,
        &mut o,
    );
    assert_eq!(o.port, Some(9));
}

#[test]
fn unsupported_match_criteria_warn_and_do_not_match() {
    let mut o = SshOptions::default();
    let warnings = read_for(
        "Match exec \"true\"\n  Port 5\nMatch canonical\n  Port 6\n",
        "h",
        None,
        &mut o,
    );
    assert_eq!(o.port, None);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("cfg line 1") && warnings[0].contains("exec"));
    let t = Target {
        host: "h",
        user: None,
    };
    for bad in [
        "Match frobnicate x",
        "Match host",
        "Match all host x",
        "Match",
    ] {
        assert!(
            read_text(bad, "cfg", &t, &mut SshOptions::default()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn errors_name_the_file_and_line_even_in_blocks_that_do_not_apply() {
    let t = Target {
        host: "h",
        user: None,
    };
    let e = read_text(
        "Host other\n  Prot 22\n",
        "cfg",
        &t,
        &mut SshOptions::default(),
    );
    assert_eq!(e.unwrap_err(), "cfg line 2: unsupported option \"Prot\"");
    let e = read_text("\n\nPort 99999\n", "cfg", &t, &mut SshOptions::default());
    assert!(e.unwrap_err().starts_with("cfg line 3: "));
    let e = read_text(
        "Host other\n  Port x\n",
        "cfg",
        &t,
        &mut SshOptions::default(),
    );
    assert!(e.unwrap_err().starts_with("cfg line 2: "));
    // Known OpenSSH keywords are accepted and noted; IgnoreUnknown skips the unknown.
    let o = options_for(
        "ForwardAgent yes\nIgnoreUnknown Foo*,Bar\nFooThing 1 2\nBar x\n",
        "h",
    );
    assert_eq!(o.ignored, ["ForwardAgent"]);
    let e = read_text(
        "IgnoreUnknown Foo\nBaz 1\n",
        "cfg",
        &t,
        &mut SshOptions::default(),
    );
    assert!(e.unwrap_err().contains("Baz"));
}

#[test]
fn keywords_and_values_apply_as_ssh_does() {
    let o = options_for(
        "\
identitiesonly YES
CIPHERS aes128-ctr
KexAlgorithms curve25519-sha256
MACs hmac-sha2-256
HostKeyAlgorithms ssh-ed25519
ServerAliveInterval 1m30s
ServerAliveCountMax 5
BatchMode yes
PreferredAuthentications publickey,password
PasswordAuthentication no
PubkeyAuthentication yes
UserKnownHostsFile ~/kh1 /kh2
ProxyJump a@j1:2222,j2
",
        "h",
    );
    assert_eq!(o.identities_only, Some(true));
    assert_eq!(o.ciphers.as_deref(), Some("aes128-ctr"));
    assert_eq!(o.server_alive_interval, Some(Duration::from_secs(90)));
    assert_eq!(o.server_alive_count_max, Some(5));
    assert_eq!(o.batch_mode, Some(true));
    assert_eq!(
        o.preferred_authentications.unwrap(),
        ["publickey", "password"]
    );
    assert_eq!(o.password_authentication, Some(false));
    let kh = o.user_known_hosts_files.unwrap();
    assert_eq!(kh.len(), 2);
    assert_eq!(kh[1], PathBuf::from("/kh2"));
    assert!(!kh[0].starts_with("~"));
    assert_eq!(o.proxy_jump.as_deref(), Some("a@j1:2222,j2"));
    let t = Target {
        host: "h",
        user: None,
    };
    for bad in [
        "ProxyJump a:b",
        "ProxyJump @x",
        "Port 1 2",
        "ConnectTimeout 5q",
        "ProxyJump a,,b",
    ] {
        assert!(
            read_text(bad, "cfg", &t, &mut SshOptions::default()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn jump_hosts_parse() {
    use crate::ssh_options::JumpHost;
    let hops = JumpHost::parse_list("alice@j1:2222,[::1]:22,ssh://bob@j3,j4").unwrap();
    let shown: Vec<(Option<&str>, &str, Option<u16>)> = hops
        .iter()
        .map(|h| (h.user.as_deref(), h.host.as_str(), h.port))
        .collect();
    assert_eq!(
        shown,
        [
            (Some("alice"), "j1", Some(2222)),
            (None, "::1", Some(22)),
            (Some("bob"), "j3", None),
            (None, "j4", None)
        ]
    );
    assert!(JumpHost::parse_list("none").unwrap().is_empty());
    assert!(JumpHost::parse_list("j:0").is_err());
}

#[test]
fn tokens_expand_and_unknown_ones_are_errors() {
    let t = [
        ('h', "host"),
        ('p', "22"),
        ('r', "root"),
        ('u', "me"),
        ('d', "/home/me"),
    ];
    assert_eq!(
        expand_tokens("%d/.ssh/%r@%h:%p-%u-100%%", &t).unwrap(),
        "/home/me/.ssh/root@host:22-me-100%"
    );
    assert!(expand_tokens("%z", &t).is_err());
    assert!(expand_tokens("50%", &t).is_err());
    assert_eq!(expand_host_name("%h.example.org", "web"), "web.example.org");
}

#[test]
fn include_reads_globbed_files_in_order_and_only_where_active() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("conf.d")).unwrap();
    std::fs::write(d.join("conf.d/20-b.conf"), "Port 20\nUser b\n").unwrap();
    std::fs::write(d.join("conf.d/10-a.conf"), "Host other\nUser a\n").unwrap();
    std::fs::write(d.join("conf.d/.hidden.conf"), "Compression yes\n").unwrap();
    std::fs::write(d.join("only-web"), "Port 80\n").unwrap();
    let text = format!(
        "Host web\n  Include {0}/only-web\n\
         Host *\n  Include {0}/conf.d/*.conf\n  HostName after-include\n",
        d.display()
    );
    let o = options_for(&text, "web");
    // 10-a's `Host other` ends inside its file: the including block applies again after it.
    assert_eq!(
        (
            o.port,
            o.user.as_deref(),
            o.host_name.as_deref(),
            o.compression
        ),
        (Some(80), Some("b"), Some("after-include"), None)
    );
    let o = options_for(&text, "mail");
    assert_eq!(o.port, Some(20));
    // A pattern that matches nothing is no error.
    options_for(&format!("Include {}/none-*.conf\n", d.display()), "h");
}

#[test]
fn includes_that_loop_stop_at_the_depth_limit() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("self");
    std::fs::write(&file, format!("Include {}\n", file.display())).unwrap();
    let t = Target {
        host: "h",
        user: None,
    };
    let text = std::fs::read_to_string(&file).unwrap();
    let e = read_text(&text, "cfg", &t, &mut SshOptions::default()).unwrap_err();
    assert!(e.contains("too deeply"), "{e}");
}

#[test]
fn a_missing_dash_f_file_is_an_error_and_none_reads_nothing() {
    let t = Target {
        host: "h",
        user: None,
    };
    let missing = ConfigFile::from_arg(Some("/nonexistent/sshwire-config"));
    let e = read(&missing, &t, &mut SshOptions::default()).unwrap_err();
    assert!(
        e.contains("/nonexistent/sshwire-config") && e.contains("No such file"),
        "{e}"
    );
    assert_eq!(ConfigFile::from_arg(Some("none")), ConfigFile::None);
    assert!(
        read(&ConfigFile::None, &t, &mut SshOptions::default())
            .unwrap()
            .is_empty()
    );
}

proptest! {
    #[test]
    fn any_text_never_panics(text in "[ -~\t\n]{0,400}", host in "[a-z*?!.]{1,12}") {
        let t = Target { host: &host, user: None };
        let _ = read_text(&text, "cfg", &t, &mut SshOptions::default());
    }

    #[test]
    fn keyword_lines_never_panic(
        keyword in prop::sample::select(vec![
            "Host", "Match", "Port", "User", "HostName", "IdentityFile", "ProxyJump",
            "ConnectTimeout", "Ciphers", "UserKnownHostsFile", "IgnoreUnknown", "SendEnv",
        ]),
        rest in "[ -~]{0,60}",
    ) {
        let t = Target { host: "h", user: Some("u") };
        let text = format!("{keyword} {rest}\n{keyword}={rest}");
        let _ = read_text(&text, "cfg", &t, &mut SshOptions::default());
        let _ = SshOptions::default().set(&format!("{keyword}={rest}"));
    }

    #[test]
    fn token_expansion_never_panics(s in "[%a-z/]{0,30}") {
        let _ = expand_tokens(&s, &[('h', "x")]);
    }
}

#[test]
fn an_oversized_file_is_refused_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    let line = "# padding padding padding padding padding padding padding padding\n";
    let copies = (MAX_CONFIG_BYTES as usize) / line.len() + 1;
    std::fs::write(&big, line.repeat(copies)).unwrap();
    let t = Target {
        host: "h",
        user: None,
    };
    let e = read(
        &ConfigFile::Path(big.clone()),
        &t,
        &mut SshOptions::default(),
    )
    .unwrap_err();
    assert!(e.contains("larger than"), "{e}");
    let include = format!("Include {}\n", big.display());
    let e = read_text(&include, "cfg", &t, &mut SshOptions::default()).unwrap_err();
    assert!(e.contains("larger than"), "{e}");
}
