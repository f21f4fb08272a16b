//! Server memory with many idle, authenticated SFTP sessions opened by the sshwire library.

use std::sync::Arc;

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{PrivateKey, PublicKey};
use sshwire::sftp_client::SftpClient;

use super::memory::{pss_kib, rss_kib, tree};

/// Sessions connecting at once: below OpenSSH's `MaxStartups` of 10 unauthenticated
/// connections, so that sshd never drops one.
const AT_ONCE: usize = 8;

/// What the server's processes hold beyond what they held before, MiB.
pub struct Growth {
    /// Sum of VmRSS (shared pages counted in every process).
    pub rss: f64,
    /// Sum of PSS (shared pages divided among the processes sharing them).
    pub pss: f64,
}

/// VmRSS and PSS summed over `pid` and its descendants, KiB.
fn held(pid: u32) -> (u64, u64) {
    tree(pid)
        .into_iter()
        .map(|p| (rss_kib(p), pss_kib(p)))
        .fold((0, 0), |(r, p), (a, b)| (r + a, p + b))
}

/// One authenticated connection with an SFTP session on it.
async fn open(port: u16, user: String, key: Arc<PrivateKey>) -> (Client, SftpClient) {
    let mut auth = AuthOptions::new(&user);
    auth.use_agent = false;
    auth.identities = vec![Identity::Key(key, "bench".into())];
    // A private server on loopback, started by this program: any host key will do.
    let mut trust = |_: &PublicKey| true;
    let client = Client::connect(
        "127.0.0.1",
        port,
        &ClientConfig::default(),
        &mut trust,
        &auth,
        &mut NoPrompts,
    )
    .await
    .unwrap();
    let sftp = client.sftp().await.unwrap();
    (client, sftp)
}

/// Opens `sessions` sessions to the server on `port` whose process is `pid` (its
/// descendants included), a few at a time, measures what the server gained, and closes them.
pub fn measure(
    runtime: &tokio::runtime::Runtime,
    port: u16,
    pid: u32,
    user: &str,
    key: &Arc<PrivateKey>,
    sessions: usize,
) -> Growth {
    let (rss_before, pss_before) = held(pid);
    runtime.block_on(async {
        let mut open_now = Vec::with_capacity(sessions);
        while open_now.len() < sessions {
            let mut batch = tokio::task::JoinSet::new();
            for _ in 0..AT_ONCE.min(sessions - open_now.len()) {
                batch.spawn(open(port, user.to_owned(), key.clone()));
            }
            while let Some(done) = batch.join_next().await {
                open_now.push(done.unwrap());
            }
        }
        // Every session has had its VERSION: the server holds all it will hold for them.
        let (rss, pss) = held(pid);
        let mut closing = tokio::task::JoinSet::new();
        for (client, sftp) in open_now {
            closing.spawn(async move {
                drop(sftp);
                client.disconnect().await;
            });
        }
        while let Some(done) = closing.join_next().await {
            done.unwrap();
        }
        let mib = |after: u64, before: u64| (after as f64 - before as f64) / 1024.0;
        Growth {
            rss: mib(rss, rss_before),
            pss: mib(pss, pss_before),
        }
    })
}
