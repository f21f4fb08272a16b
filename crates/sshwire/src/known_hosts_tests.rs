use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use sshwire_keys::PrivateKey;

use super::*;

fn key(seed: u8) -> PublicKey {
    PrivateKey::from_ed25519_seed(&[seed; 32]).public_key()
}

fn ecdsa_key() -> PublicKey {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    PrivateKey::generate(KeyType::EcdsaP256, None, &mut rng)
        .unwrap()
        .public_key()
}

/// A home directory in a tempdir; `.ssh` does not exist until something is written.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn known_hosts(&self) -> PathBuf {
        self.dir.path().join(".ssh").join("known_hosts")
    }

    fn global(&self) -> PathBuf {
        self.dir.path().join("etc_ssh_known_hosts")
    }

    fn write(&self, path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn read(&self) -> String {
        fs::read_to_string(self.known_hosts()).unwrap_or_default()
    }

    fn verifier(&self, host: &str, port: u16, policy: StrictHostKeyChecking) -> KnownHostsVerifier {
        KnownHostsVerifier::new(host, port, policy)
            .user_known_hosts_files(default_user_files(self.dir.path()))
            .global_known_hosts_files(vec![self.global()])
    }
}

fn entry(hosts: &str, k: &PublicKey) -> String {
    format!("{hosts} {}\n", k.to_openssh("comment").trim_end())
}

/// A confirmation callback that records the questions and gives a fixed answer.
fn answering(answer: bool) -> (ConfirmFn, Arc<Mutex<Vec<String>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&asked);
    let confirm: ConfirmFn = Box::new(move |q: &str| {
        log.lock().unwrap().push(q.to_owned());
        answer
    });
    (confirm, asked)
}

const POLICIES: [StrictHostKeyChecking; 4] = [
    StrictHostKeyChecking::Yes,
    StrictHostKeyChecking::AcceptNew,
    StrictHostKeyChecking::No,
    StrictHostKeyChecking::Ask,
];

#[test]
fn policy_values_as_openssh_spells_them() {
    for (text, policy) in [
        ("yes", StrictHostKeyChecking::Yes),
        ("YES", StrictHostKeyChecking::Yes),
        ("true", StrictHostKeyChecking::Yes),
        ("accept-new", StrictHostKeyChecking::AcceptNew),
        ("Accept-New", StrictHostKeyChecking::AcceptNew),
        ("no", StrictHostKeyChecking::No),
        ("off", StrictHostKeyChecking::No),
        ("false", StrictHostKeyChecking::No),
        ("ask", StrictHostKeyChecking::Ask),
        ("ASK", StrictHostKeyChecking::Ask),
    ] {
        assert_eq!(text.parse::<StrictHostKeyChecking>(), Ok(policy), "{text}");
    }
    for bad in ["", "maybe", "accept_new", "yes ", "new"] {
        let err = bad.parse::<StrictHostKeyChecking>().unwrap_err();
        assert!(err.to_string().contains("StrictHostKeyChecking"), "{err}");
    }
    for policy in POLICIES {
        assert_eq!(policy.to_string().parse(), Ok(policy));
    }
    assert_eq!(StrictHostKeyChecking::default(), StrictHostKeyChecking::Ask);
}

#[test]
fn trusted_under_every_policy() {
    for policy in POLICIES {
        let home = Home::new();
        let k = key(1);
        let text = format!("# mine\n{}", entry("server.example", &k));
        home.write(&home.known_hosts(), &text);
        let mut v = home.verifier("server.example", 22, policy);
        assert!(v.verify(&k), "{policy}");
        assert_eq!(
            v.outcome(),
            Some(Outcome::Known {
                file: home.known_hosts(),
                line: 2
            })
        );
        assert!(v.take_messages().is_empty());
        assert_eq!(home.read(), text, "nothing is written for a known key");
    }
}

#[test]
fn changed_is_refused_under_every_policy() {
    for policy in POLICIES {
        let home = Home::new();
        let (old, new) = (key(1), key(2));
        let text = format!(
            "{}{}",
            entry("other.example", &new),
            entry("server.example", &old)
        );
        home.write(&home.known_hosts(), &text);
        let (confirm, asked) = answering(true);
        let mut v = home
            .verifier("server.example", 22, policy)
            .confirm_with(confirm);
        assert!(!v.verify(&new), "{policy}");
        assert_eq!(
            v.outcome(),
            Some(Outcome::Refused(Refusal::Changed {
                file: home.known_hosts(),
                line: 2
            }))
        );
        assert!(
            asked.lock().unwrap().is_empty(),
            "a changed key is never asked about"
        );
        let messages = v.take_messages();
        let path = home.known_hosts().display().to_string();
        for expected in [
            "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @".to_owned(),
            "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!".to_owned(),
            "The fingerprint for the ED25519 key sent by the remote host is".to_owned(),
            format!("{}.", new.fingerprint_sha256()),
            format!("Add correct host key in {path} to get rid of this message."),
            format!("Offending ED25519 key in {path}:2"),
        ] {
            assert!(
                messages.contains(&expected),
                "{expected:?} in {messages:#?}"
            );
        }
        assert!(
            messages
                .iter()
                .any(|m| m.contains(&format!("remove line 2 of {path}"))
                    && m.contains("-R 'server.example'")),
            "{messages:#?}"
        );
        let verdict = messages.iter().rev().nth(1).unwrap();
        if policy == StrictHostKeyChecking::No {
            assert!(verdict.contains("refused even with StrictHostKeyChecking=no"));
        } else {
            assert_eq!(
                verdict,
                "Host key for server.example has changed and you have requested strict checking."
            );
        }
        assert_eq!(messages.last().unwrap(), VERIFICATION_FAILED);
        assert_eq!(home.read(), text, "the file is left alone");
    }
}

#[test]
fn revoked_is_refused_under_every_policy() {
    for policy in POLICIES {
        let home = Home::new();
        let k = key(1);
        // Listed as trusted for the host, but revoked in the global file: revocation wins.
        home.write(&home.known_hosts(), &entry("server.example", &k));
        home.write(
            &home.global(),
            &format!("@revoked * {}\n", k.to_openssh("")),
        );
        let (confirm, asked) = answering(true);
        let mut v = home
            .verifier("server.example", 2222, policy)
            .confirm_with(confirm);
        assert!(!v.verify(&k), "{policy}");
        assert_eq!(
            v.outcome(),
            Some(Outcome::Refused(Refusal::Revoked {
                file: home.global(),
                line: 1
            }))
        );
        assert!(asked.lock().unwrap().is_empty());
        let messages = v.take_messages();
        assert!(
            messages.contains(
                &"@       WARNING: REVOKED HOST KEY DETECTED!               @".to_owned()
            )
        );
        assert!(messages.contains(
            &"The ED25519 host key for [server.example]:2222 is marked as revoked.".to_owned()
        ));
        assert_eq!(messages.last().unwrap(), VERIFICATION_FAILED);
    }
}

#[test]
fn unknown_under_each_policy() {
    let k = key(1);
    let cases: [(StrictHostKeyChecking, Option<bool>, bool); 6] = [
        (StrictHostKeyChecking::Yes, None, false),
        (StrictHostKeyChecking::AcceptNew, None, true),
        (StrictHostKeyChecking::No, None, true),
        (StrictHostKeyChecking::Ask, Some(true), true),
        (StrictHostKeyChecking::Ask, Some(false), false),
        // Batch mode: nobody to ask, so ask is yes.
        (StrictHostKeyChecking::Ask, None, false),
    ];
    for (policy, answer, accepted) in cases {
        let home = Home::new();
        let mut v = home.verifier("server.example", 22, policy);
        let mut asked = None;
        if let Some(answer) = answer {
            let (confirm, log) = answering(answer);
            v = v.confirm_with(confirm);
            asked = Some(log);
        }
        assert_eq!(v.verify(&k), accepted, "{policy} {answer:?}");
        let messages = v.take_messages();
        if accepted {
            assert_eq!(
                v.outcome(),
                Some(Outcome::Added {
                    file: home.known_hosts(),
                    confirmed: answer.is_some()
                })
            );
            assert_eq!(
                messages,
                [
                    "Warning: Permanently added 'server.example' (ED25519) to the list of known hosts."
                ]
            );
            // Written without the comment, as OpenSSH writes it.
            assert_eq!(
                home.read(),
                format!("server.example {}\n", k.to_openssh("").trim_end())
            );
        } else {
            assert!(
                home.read().is_empty(),
                "{policy} {answer:?}: nothing written"
            );
            assert!(!home.known_hosts().exists());
            assert_eq!(messages.last().unwrap(), VERIFICATION_FAILED);
            match answer {
                Some(false) => {
                    assert_eq!(v.outcome(), Some(Outcome::Refused(Refusal::Declined)));
                    assert_eq!(messages, [VERIFICATION_FAILED]);
                }
                _ => {
                    assert_eq!(v.outcome(), Some(Outcome::Refused(Refusal::Unknown)));
                    assert_eq!(
                        messages,
                        [
                            "No ED25519 host key is known for server.example and you have \
                             requested strict checking.",
                            VERIFICATION_FAILED
                        ]
                    );
                }
            }
        }
        if let Some(asked) = asked {
            assert_eq!(asked.lock().unwrap().len(), 1);
        }
    }
}

#[test]
fn accepted_key_is_written_with_permissions_and_trusted_next_time() {
    let home = Home::new();
    let k = key(1);
    let mut first = home.verifier("server.example", 22, StrictHostKeyChecking::AcceptNew);
    assert!(first.verify(&k));
    let dir = home.known_hosts().parent().unwrap().to_path_buf();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        fs::metadata(home.known_hosts())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    // The second connection, even under the strictest policy, finds it.
    let mut second = home.verifier("server.example", 22, StrictHostKeyChecking::Yes);
    assert!(second.verify(&k));
    assert_eq!(
        second.outcome(),
        Some(Outcome::Known {
            file: home.known_hosts(),
            line: 1
        })
    );
    assert!(second.take_messages().is_empty());
    // And a different key for it is now a change.
    assert!(!second.verify(&key(2)));
    assert!(matches!(
        second.outcome(),
        Some(Outcome::Refused(Refusal::Changed { line: 1, .. }))
    ));
}

#[test]
fn appends_after_existing_lines_missing_a_newline() {
    let home = Home::new();
    let (a, b) = (key(1), key(2));
    let existing = entry("a.example", &a);
    home.write(&home.known_hosts(), existing.trim_end());
    let mut v = home.verifier("b.example", 22, StrictHostKeyChecking::No);
    assert!(v.verify(&b));
    assert_eq!(
        home.read(),
        format!("{existing}b.example {}\n", b.to_openssh("").trim_end())
    );
    // The existing file keeps its permissions.
    assert!(
        home.verifier("a.example", 22, StrictHostKeyChecking::Yes)
            .verify(&a)
    );
    assert!(
        home.verifier("b.example", 22, StrictHostKeyChecking::Yes)
            .verify(&b)
    );
}

#[test]
fn non_standard_port_uses_the_bracketed_form() {
    let home = Home::new();
    let k = key(1);
    let mut v = home.verifier("127.0.0.1", 2222, StrictHostKeyChecking::AcceptNew);
    assert!(v.verify(&k));
    assert_eq!(
        v.take_messages(),
        ["Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts."]
    );
    assert_eq!(
        home.read(),
        format!("[127.0.0.1]:2222 {}\n", k.to_openssh("").trim_end())
    );
    assert!(
        home.verifier("127.0.0.1", 2222, StrictHostKeyChecking::Yes)
            .verify(&k)
    );
    // The entry is for that port only.
    let mut on_22 = home.verifier("127.0.0.1", 22, StrictHostKeyChecking::Yes);
    assert!(!on_22.verify(&k));
    assert!(
        on_22.take_messages().contains(
            &"No ED25519 host key is known for 127.0.0.1 and you have requested strict checking."
                .to_owned()
        )
    );
}

#[test]
fn key_known_on_port_22_is_accepted_on_another_port() {
    let home = Home::new();
    let k = key(1);
    let text = entry("server.example", &k);
    home.write(&home.known_hosts(), &text);
    let mut v = home.verifier("server.example", 2222, StrictHostKeyChecking::Yes);
    assert!(v.verify(&k));
    assert_eq!(
        v.outcome(),
        Some(Outcome::Known {
            file: home.known_hosts(),
            line: 1
        })
    );
    assert_eq!(home.read(), text);
    // Only the very key: another one is unknown (not changed) on that port.
    let mut other = home.verifier("server.example", 2222, StrictHostKeyChecking::Yes);
    assert!(!other.verify(&key(2)));
    assert_eq!(other.outcome(), Some(Outcome::Refused(Refusal::Unknown)));
}

#[test]
fn hashed_entries_are_written_and_read() {
    let home = Home::new();
    let k = key(1);
    let mut v = home
        .verifier("Server.Example", 2222, StrictHostKeyChecking::AcceptNew)
        .hash_known_hosts(true);
    assert!(v.verify(&k));
    let text = home.read();
    assert!(text.starts_with("|1|"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("server"), "{text}");
    assert_eq!(text.lines().count(), 1);
    // Found again, whatever the case the name is typed in (ssh lowercases it first).
    for host in ["server.example", "SERVER.example"] {
        let mut again = home.verifier(host, 2222, StrictHostKeyChecking::Yes);
        assert!(again.verify(&k), "{host}");
    }
    assert!(
        !home
            .verifier("server.example", 2200, StrictHostKeyChecking::Yes)
            .verify(&k)
    );
    // Two hashed entries for the same host use different salts.
    let mut twice = home
        .verifier("other.example", 22, StrictHostKeyChecking::No)
        .hash_known_hosts(true);
    assert!(twice.verify(&k));
    let text = home.read();
    let lines: Vec<&str> = text.lines().map(|l| l.split('|').nth(2).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_ne!(lines.first(), lines.last());
}

#[test]
fn openssh_hashed_entry_is_trusted() {
    // Hashed by `ssh-keygen -H` (OpenSSH 9.2) for `localhost`.
    let home = Home::new();
    home.write(
        &home.known_hosts(),
        "|1|pFpoVQwgrZPmU2glXPyBX0fJc/8=|OF8Qbh/awRqMIE5k52n847N4RCY= ssh-ed25519 \
         AAAAC3NzaC1lZDI1NTE5AAAAIHo48cOtiKse6/em+xtD3ZlG4Nixc96SbAdh5lJga/jH\n",
    );
    let (k, _) = PublicKey::from_openssh(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHo48cOtiKse6/em+xtD3ZlG4Nixc96SbAdh5lJga/jH",
    )
    .unwrap();
    assert!(
        home.verifier("localhost", 22, StrictHostKeyChecking::Yes)
            .verify(&k)
    );
    let mut changed = home.verifier("localhost", 22, StrictHostKeyChecking::Yes);
    assert!(!changed.verify(&key(5)));
    assert!(matches!(
        changed.outcome(),
        Some(Outcome::Refused(Refusal::Changed { line: 1, .. }))
    ));
}

#[test]
fn global_file_is_read_but_never_written() {
    let home = Home::new();
    let (a, b) = (key(1), key(2));
    let global = entry("a.example", &a);
    home.write(&home.global(), &global);
    let mut v = home.verifier("a.example", 22, StrictHostKeyChecking::Yes);
    assert!(v.verify(&a));
    assert_eq!(
        v.outcome(),
        Some(Outcome::Known {
            file: home.global(),
            line: 1
        })
    );
    let mut new = home.verifier("b.example", 22, StrictHostKeyChecking::AcceptNew);
    assert!(new.verify(&b));
    assert_eq!(fs::read_to_string(home.global()).unwrap(), global);
    assert!(home.read().starts_with("b.example "));
    // The second user file (known_hosts2) is read too.
    let second = home.dir.path().join(".ssh").join("known_hosts2");
    home.write(&second, &entry("c.example", &a));
    assert!(
        home.verifier("c.example", 22, StrictHostKeyChecking::Yes)
            .verify(&a)
    );
}

#[test]
fn ask_shows_openssh_question() {
    let home = Home::new();
    let ed = key(1);
    // Known under another name, and the host is known with a key of another type.
    home.write(
        &home.known_hosts(),
        &format!(
            "{}{}",
            entry("alias.example", &ed),
            entry("[server.example]:2222", &ecdsa_key())
        ),
    );
    let (confirm, asked) = answering(true);
    let mut v = home
        .verifier("server.example", 2222, StrictHostKeyChecking::Ask)
        .address("192.0.2.7".parse().unwrap())
        .confirm_with(confirm);
    assert!(v.verify(&ed));
    let asked = asked.lock().unwrap();
    let question = asked.first().unwrap();
    let expected = format!(
        "The authenticity of host '[server.example]:2222 ([192.0.2.7]:2222)' can't be \
         established\nbut keys of different type are already known for this host.\n\
         ED25519 key fingerprint is: {}\n\
         This host key is known by the following other names/addresses:\n    {}:1: alias.example\n\
         Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
        ed.fingerprint_sha256(),
        home.known_hosts().display()
    );
    assert_eq!(question, &expected);
    assert_eq!(
        v.outcome(),
        Some(Outcome::Added {
            file: home.known_hosts(),
            confirmed: true
        })
    );
}

#[test]
fn ask_about_a_stranger() {
    let home = Home::new();
    let k = key(1);
    let (confirm, asked) = answering(false);
    let mut v = home
        .verifier("server.example", 22, StrictHostKeyChecking::Ask)
        .confirm_with(confirm);
    assert!(!v.verify(&k));
    let asked = asked.lock().unwrap();
    assert_eq!(
        asked.first().unwrap(),
        &format!(
            "The authenticity of host 'server.example' can't be established.\n\
             ED25519 key fingerprint is: {}\n\
             This key is not known by any other names.\n\
             Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
            k.fingerprint_sha256()
        )
    );
}

#[test]
fn no_user_file_or_unrecordable_name_refuses_the_unknown() {
    let home = Home::new();
    let k = key(1);
    let mut v = home
        .verifier("server.example", 22, StrictHostKeyChecking::No)
        .user_known_hosts_files(Vec::new());
    assert!(!v.verify(&k));
    assert_eq!(v.outcome(), Some(Outcome::Refused(Refusal::Unrecordable)));
    for host in ["a*b", "x|y", "evil'name", "[x]"] {
        let mut v = home.verifier(host, 22, StrictHostKeyChecking::No);
        assert!(!v.verify(&k), "{host}");
        assert_eq!(v.outcome(), Some(Outcome::Refused(Refusal::Unrecordable)));
    }
    assert!(!home.known_hosts().exists());
}

#[test]
fn unreadable_file_is_reported() {
    let home = Home::new();
    let k = key(1);
    // A directory where a file should be cannot be read, even by root.
    fs::create_dir_all(home.global()).unwrap();
    let mut v = home.verifier("server.example", 22, StrictHostKeyChecking::AcceptNew);
    assert!(!v.verify(&k));
    assert_eq!(
        v.outcome(),
        Some(Outcome::Refused(Refusal::Unreadable {
            file: home.global()
        }))
    );
    let messages = v.take_messages();
    assert!(
        messages.first().unwrap().starts_with(&format!(
            "Cannot read known hosts file {}: ",
            home.global().display()
        )),
        "{messages:#?}"
    );
    assert!(!home.known_hosts().exists());
    // A key the readable files list is still trusted.
    home.write(&home.known_hosts(), &entry("server.example", &k));
    let mut v = home.verifier("server.example", 22, StrictHostKeyChecking::Yes);
    assert!(v.verify(&k));
    assert_eq!(
        v.take_messages().len(),
        1,
        "the unreadable file is still reported"
    );
}

#[test]
fn bad_lines_are_skipped() {
    let home = Home::new();
    let k = key(1);
    home.write(
        &home.known_hosts(),
        &format!(
            "garbage\nserver.example ssh-ed25519 !!!\n{}",
            entry("server.example", &k)
        ),
    );
    let mut v = home.verifier("server.example", 22, StrictHostKeyChecking::Yes);
    assert!(v.verify(&k));
    assert_eq!(
        v.outcome(),
        Some(Outcome::Known {
            file: home.known_hosts(),
            line: 3
        })
    );
    assert!(v.take_messages().is_empty());
}

#[test]
fn nothing_decided_before_verify() {
    let home = Home::new();
    let mut v = home.verifier("h", 22, StrictHostKeyChecking::Ask);
    assert_eq!(v.outcome(), None);
    assert!(v.take_messages().is_empty());
    assert!(format!("{v:?}").contains("KnownHostsVerifier"));
}

#[test]
fn recording_into_dev_null_succeeds_quietly() {
    // `-o UserKnownHostsFile=/dev/null` is how scripts skip recording: a device cannot be
    // synced, and that must not turn into a warning on every connection.
    super::append_line(std::path::Path::new("/dev/null"), "host ssh-ed25519 AAAA").unwrap();
}
