//! OpenSSH's `ssh` and `ssh-keyscan` against `sshwire serve`: every key exchange, host key,
//! cipher, MAC and compression setting this OpenSSH supports gets through key exchange,
//! authentication (so delayed compression starts) and a channel request.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sshwire_tests::{Serve, ed25519_key_file, openssh_available, openssh_query, ssh_keygen};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sshwire-under-test");

/// Host keys of every type, made by ssh-keygen, with their public lines.
fn host_keys(dir: &Path) -> Vec<(PathBuf, String)> {
    [
        ("ed25519", "256"),
        ("ecdsa", "256"),
        ("ecdsa", "384"),
        ("rsa", "2048"),
    ]
    .iter()
    .map(|(t, bits)| {
        let path = dir.join(format!("host_{t}{bits}"));
        ssh_keygen(&[
            "-q",
            "-t",
            t,
            "-b",
            bits,
            "-N",
            "",
            "-f",
            path.to_str().unwrap(),
        ]);
        let public = std::fs::read_to_string(path.with_extension("pub")).unwrap_or_else(|_| {
            std::fs::read_to_string(format!("{}.pub", path.display())).unwrap()
        });
        (path, public)
    })
    .collect()
}

fn key_body(line: &str) -> String {
    let mut parts = line.split_whitespace();
    format!(
        "{} {}",
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("")
    )
}

#[test]
fn ssh_keyscan_returns_our_host_keys() {
    if !openssh_available("ssh_keyscan_returns_our_host_keys") {
        return;
    }
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = host_keys(keys_dir.path());
    let files: Vec<PathBuf> = keys.iter().map(|(p, _)| p.clone()).collect();
    let serve = Serve::start(Path::new(PROGRAM), &files, &[]);
    let out = Command::new("ssh-keyscan")
        .args([
            "-T",
            "10",
            "-p",
            &serve.port.to_string(),
            "-t",
            "ed25519,ecdsa,rsa",
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let scanned: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| key_body(l.split_once(' ').map_or("", |(_, k)| k)))
        .collect();
    // ssh-keyscan asks for one key per type; ecdsa means whichever ecdsa key we prefer.
    for (_, public) in [&keys[0], &keys[3]] {
        assert!(
            scanned.contains(&key_body(public)),
            "{} missing from ssh-keyscan output:\n{text}\n{}",
            key_body(public),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        scanned.iter().any(|k| k.starts_with("ecdsa-sha2-nistp")),
        "no ecdsa key in:\n{text}"
    );
    assert_eq!(scanned.len(), 3, "{text}");
}

/// One `ssh -vv` run; returns its stderr.
fn ssh_reaches_userauth(
    port: u16,
    identity: &Path,
    kex: &str,
    host_key: &str,
    cipher: &str,
    mac: &str,
    compression: bool,
) -> Result<(), String> {
    let out = Command::new("ssh")
        .args(["-vv", "-F", "/dev/null", "-p", &port.to_string()])
        .args([
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "PreferredAuthentications=publickey",
            "-i",
        ])
        .arg(identity)
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args([
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=20",
        ])
        .args(["-o", &format!("KexAlgorithms={kex}")])
        .args(["-o", &format!("HostKeyAlgorithms={host_key}")])
        .args(["-o", &format!("Ciphers={cipher}")])
        .args(["-o", &format!("MACs={mac}")])
        .args([
            "-o",
            if compression {
                "Compression=yes"
            } else {
                "Compression=no"
            },
        ])
        .args(["nobody@127.0.0.1", "true"])
        .output()
        .map_err(|e| e.to_string())?;
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let want = [
        format!("kex: algorithm: {kex}"),
        format!("kex: host key algorithm: {host_key}"),
        "SSH2_MSG_SERVICE_ACCEPT received".to_owned(),
        "Authenticated to 127.0.0.1".to_owned(),
        // The server's answer to the exec request on the session channel, after
        // authentication (and, with Compression=yes, after zlib@openssh.com has started):
        // sshwire serve runs no commands.
        "exec request failed on channel 0".to_owned(),
    ];
    for w in &want {
        if !log.contains(w.as_str()) {
            return Err(format!(
                "{kex} {host_key} {cipher} {mac} zlib={compression}: missing {w:?}\n{log}"
            ));
        }
    }
    let comp = if compression {
        "compression: zlib@openssh.com"
    } else {
        "compression: none"
    };
    let mac_shown = if cipher.contains("gcm") || cipher.contains("chacha") {
        "<implicit>"
    } else {
        mac
    };
    let line = format!("kex: server->client cipher: {cipher} MAC: {mac_shown} {comp}");
    if !log.contains(&line) {
        return Err(format!("missing {line:?}\n{log}"));
    }
    Ok(())
}

fn ours_and_theirs(ours: &[&str], what: &str) -> Vec<String> {
    let theirs = openssh_query(what);
    ours.iter()
        .filter(|n| theirs.iter().any(|t| t == *n))
        .map(|n| n.to_string())
        .collect()
}

#[test]
fn ssh_logs_in_for_every_algorithm_combination() {
    if !openssh_available("ssh_logs_in_for_every_algorithm_combination") {
        return;
    }
    let keys_dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = host_keys(keys_dir.path())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let identity = keys_dir.path().join("id_user");
    let authorized = ed25519_key_file(&identity);
    let serve = Serve::start_with_users(Path::new(PROGRAM), &files, &authorized, None, &[]);
    let kexes = ours_and_theirs(
        &[
            "mlkem768x25519-sha256",
            "sntrup761x25519-sha512",
            "sntrup761x25519-sha512@openssh.com",
            "curve25519-sha256",
            "curve25519-sha256@libssh.org",
            "ecdh-sha2-nistp256",
            "ecdh-sha2-nistp384",
            "diffie-hellman-group16-sha512",
            "diffie-hellman-group18-sha512",
            "diffie-hellman-group14-sha256",
        ],
        "kex",
    );
    let host_keys = ours_and_theirs(
        &[
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "rsa-sha2-512",
            "rsa-sha2-256",
        ],
        "key-sig",
    );
    let ciphers = ours_and_theirs(
        &[
            "chacha20-poly1305@openssh.com",
            "aes256-gcm@openssh.com",
            "aes128-gcm@openssh.com",
            "aes256-ctr",
            "aes192-ctr",
            "aes128-ctr",
        ],
        "cipher",
    );
    let macs = ours_and_theirs(
        &[
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
            "hmac-sha2-256",
            "hmac-sha2-512",
        ],
        "mac",
    );
    // hmac-sha1 is offered only when configured; `sshwire_serve_refuses_sha1_macs_by_default`
    // checks that it is refused by default.
    assert!(kexes.len() >= 8 && host_keys.len() == 5 && ciphers.len() == 6 && macs.len() == 4);
    let mut cases = Vec::new();
    for kex in &kexes {
        for hk in &host_keys {
            for cipher in &ciphers {
                let aead = cipher.contains("gcm") || cipher.contains("chacha");
                let mac_choices: Vec<&String> = if aead {
                    vec![&macs[0]]
                } else {
                    macs.iter().collect()
                };
                for mac in mac_choices {
                    for compression in [false, true] {
                        cases.push((
                            kex.clone(),
                            hk.clone(),
                            cipher.clone(),
                            mac.clone(),
                            compression,
                        ));
                    }
                }
            }
        }
    }
    let total = cases.len();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((kex, hk, cipher, mac, comp)) = cases.get(i) else {
                        break;
                    };
                    if let Err(e) =
                        ssh_reaches_userauth(serve.port, &identity, kex, hk, cipher, mac, *comp)
                    {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "{} of {total} combinations reached ssh-userauth",
        total - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} combinations failed; first:\n{}\nserver log:\n{}",
        failures.len(),
        failures[0],
        serve.log()
    );
}

/// Group exchange (RFC 4419), which the big matrix leaves out for time: OpenSSH asks for a
/// group size by the cipher's key length (3072 bits for AES-128, 7680 for AES-192, 8192 for
/// the 256-bit ciphers), so each cipher makes the server choose among its groups.
#[test]
fn ssh_logs_in_with_group_exchange_for_every_cipher() {
    if !openssh_available("ssh_logs_in_with_group_exchange_for_every_cipher") {
        return;
    }
    let keys_dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = host_keys(keys_dir.path())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let identity = keys_dir.path().join("id_user");
    let authorized = ed25519_key_file(&identity);
    let serve = Serve::start_with_users(Path::new(PROGRAM), &files, &authorized, None, &[]);
    let kex = "diffie-hellman-group-exchange-sha256";
    assert_eq!(ours_and_theirs(&[kex], "kex"), [kex]);
    let mut failures = Vec::new();
    for cipher in [
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
        "aes192-ctr",
    ] {
        let mac = "hmac-sha2-256-etm@openssh.com";
        if let Err(e) = ssh_reaches_userauth(
            serve.port,
            &identity,
            kex,
            "ssh-ed25519",
            cipher,
            mac,
            false,
        ) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} ciphers failed; first:\n{}\nserver log:\n{}",
        failures.len(),
        failures[0],
        serve.log()
    );
}

#[test]
fn sshwire_serve_refuses_sha1_macs_by_default() {
    if !openssh_available("sshwire_serve_refuses_sha1_macs_by_default") {
        return;
    }
    let keys_dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = host_keys(keys_dir.path())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let serve = Serve::start(Path::new(PROGRAM), &files, &[]);
    let out = Command::new("ssh")
        .args(["-F", "/dev/null", "-p", &serve.port.to_string()])
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args([
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "Ciphers=aes128-ctr",
        ])
        .args(["-o", "MACs=hmac-sha1"])
        .args(["nobody@127.0.0.1", "true"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(log.contains("no matching MAC found"), "{log}");
}
