//! Channel throughput: 1 GiB through an exec channel of a private OpenSSH `sshd`, down
//! (`head -c 1G /dev/zero` read to nowhere) and up (`cat > /dev/null` fed 1 GiB), by
//! OpenSSH's `ssh` and by the sshwire client, per cipher, in one run.
//!
//! `cargo run --release -p sshwire-tests --bin channel-bench [MiB] [repetitions]`
//!
//! Prints the median of the repetitions for each, and sshwire's ratio to ssh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::transport::Config;
use sshwire::transport::cipher::CipherAlg;
use sshwire::{ExitStatus, system_rng};
use sshwire_tests::{Sshd, current_user};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let sshd = Sshd::start("");
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate(KeyType::Ed25519, None, &mut *system_rng()).unwrap();
    let key_file = dir.path().join("id");
    std::fs::write(
        &key_file,
        key.to_openssh("", None, &mut *system_rng())
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    sshd.authorize(&key.public_key().to_openssh("bench"));
    let key = Arc::new(key);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ssh_version = Command::new("ssh").arg("-V").output().unwrap();
    println!(
        "channel throughput, {mib} MiB per run, median of {reps}; sshd and ssh: {}",
        String::from_utf8_lossy(&ssh_version.stderr).trim()
    );
    println!(
        "{:<32} {:>6} {:>12} {:>12} {:>7}",
        "cipher", "dir", "ssh MiB/s", "sshwire MiB/s", "ratio"
    );
    for cipher in [
        CipherAlg::Aes128Gcm,
        CipherAlg::Aes256Gcm,
        CipherAlg::ChaCha20Poly1305,
    ] {
        for down in [true, false] {
            let remote = if down {
                format!("head -c {mib}M /dev/zero")
            } else {
                "cat > /dev/null".to_owned()
            };
            let ssh = median(reps, || {
                let pipe = if down {
                    format!(
                        "ssh {} '{remote}' > /dev/null",
                        ssh_args(&sshd, &key_file, cipher)
                    )
                } else {
                    format!(
                        "head -c {mib}M /dev/zero | ssh {} '{remote}'",
                        ssh_args(&sshd, &key_file, cipher)
                    )
                };
                let start = Instant::now();
                let status = Command::new("sh")
                    .args(["-c", &pipe])
                    .stdin(Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success(), "{pipe}");
                start.elapsed()
            });
            let ours = median(reps, || {
                runtime.block_on(sshwire_run(&sshd, &key, cipher, &remote, down, mib))
            });
            let rate = |d: Duration| mib as f64 / d.as_secs_f64();
            println!(
                "{:<32} {:>6} {:>12.0} {:>12.0} {:>6.2}x",
                cipher.name(),
                if down { "down" } else { "up" },
                rate(ssh),
                rate(ours),
                rate(ours) / rate(ssh)
            );
        }
    }
}

fn ssh_args(sshd: &Sshd, key_file: &std::path::Path, cipher: CipherAlg) -> String {
    format!(
        "-p {} -i {} -c {} -o BatchMode=yes -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR 127.0.0.1",
        sshd.port,
        key_file.display(),
        cipher.name()
    )
}

fn median(reps: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..reps.max(1)).map(|_| run()).collect();
    times.sort();
    times[times.len() / 2]
}

/// One transfer with the sshwire client, connection set-up included (as for ssh).
async fn sshwire_run(
    sshd: &Sshd,
    key: &Arc<PrivateKey>,
    cipher: CipherAlg,
    remote: &str,
    down: bool,
    mib: u64,
) -> Duration {
    let start = Instant::now();
    let config = ClientConfig {
        transport: Arc::new(Config {
            ciphers: vec![cipher],
            ..Config::default()
        }),
        ..ClientConfig::default()
    };
    let mut auth = AuthOptions::new(&current_user());
    auth.use_agent = false;
    auth.identities = vec![Identity::Key(key.clone(), "bench".into())];
    let mut trust = |_: &PublicKey| true;
    let client = Client::connect(
        "127.0.0.1",
        sshd.port,
        &config,
        &mut trust,
        &auth,
        &mut NoPrompts,
    )
    .await
    .unwrap();
    let channel = client.exec(remote).await.unwrap();
    let (mut r, mut w) = channel.split();
    let mut moved: u64 = 0;
    if down {
        w.shutdown().await.unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = r.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            moved += n as u64;
        }
    } else {
        let block = vec![0u8; 256 * 1024];
        while moved < mib << 20 {
            w.write_all(&block).await.unwrap();
            moved += block.len() as u64;
        }
        w.shutdown().await.unwrap();
    }
    assert_eq!(r.exit_status().await, Some(ExitStatus::Code(0)));
    assert_eq!(moved, mib << 20);
    drop((r, w));
    client.disconnect().await;
    start.elapsed()
}
