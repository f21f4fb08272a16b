//! Further SFTP sessions on the same connection, for downloads that read over several.
//!
//! OpenSSH's `sftp-server` answers one request at a time, and `sshd` moves each session's
//! bytes through a pipe of its own, 16 to 32 KiB per turn of its event loop. A large download
//! over one session waits on that one process and that one pipe; reading over two sessions
//! keeps two of each busy. On this project's 2-core machine, three 1 GiB downloads from
//! `sshd` in one `sshwire sftp` batch moved 600–630 MiB/s over two sessions against 445–485
//! over one (1 GiB alone, alternating: 660–741 against 580–658).
//!
//! `sshwire serve` answers up to 64 requests of one session at once, so a second session
//! gives it nothing to do in parallel that it did not have; it only adds a second request
//! pump, its wake-ups and its share of the window. Alternating 1 GiB downloads measured
//! 1384–1825 MiB/s over one session against 1301–1491 over two (aes128-gcm), 794–893 against
//! 743–847 (chacha20-poly1305). So the default (`Transfer::streams` 0, `sshwire sftp`
//! without `-X streams=N`) reads over two sessions, except from a server that identified
//! itself as sshwire's (`SSH-2.0-sshwire_…`, the same test that picks the large windows),
//! which gets one.
//!
//! Several channels of one connection writing at once are what once made such downloads
//! stall (1 in 35 with three clients at once): the connection task held their replies back
//! while the socket was full and was not woken when it drained. The task now comes back for
//! them (`Driver::next_event_or_room`), and the session test
//! `channels_sending_at_once_to_a_silent_peer_all_finish` keeps it so.
//!
//! Only downloads do this. The local file is still written strictly in order, so an
//! interrupted download leaves a correct prefix whichever session each block came from.
//! Uploads do not: two server processes would write the remote file out of order, and an
//! upload interrupted then could leave a hole below its end, which no resume (ours or
//! OpenSSH's `reput`) would notice.
//!
//! The sessions are opened on the first download that wants them and kept for later ones; a
//! server that refuses one (`MaxSessions`, a closed subsystem) is not asked again. A further
//! session reads a file only if its handle shows the same size and modification time as the
//! first session's, so that a file replaced between the opens is never mixed with the old.

use tokio::sync::Mutex;

use crate::Session;
use crate::sftp_client::SftpClient;
use crate::trace::TraceSink;

/// The connection an [`SftpClient`] came from, and the further sessions opened on it.
pub(crate) struct Streams {
    session: Session,
    /// The subsystem the first session runs.
    subsystem: String,
    in_flight: usize,
    trace: Option<TraceSink>,
    /// The server answers one session's requests concurrently (it identified itself as
    /// sshwire's): further sessions only add work.
    concurrent_server: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    open: Vec<SftpClient>,
    /// The server refused a session: do not ask again.
    refused: bool,
}

impl Streams {
    /// Further sessions can be opened on `session`, each starting `subsystem` with
    /// `in_flight` requests at most and traced to `trace`, like the first;
    /// `concurrent_server` says the server answers one session's requests concurrently.
    pub(crate) fn new(
        session: Session,
        subsystem: &str,
        in_flight: usize,
        trace: Option<TraceSink>,
        concurrent_server: bool,
    ) -> Self {
        Streams {
            session,
            subsystem: subsystem.to_owned(),
            in_flight,
            trace,
            concurrent_server,
            state: Mutex::new(State::default()),
        }
    }

    /// Sessions a large download reads over unless told otherwise: one against a server
    /// that answers a session's requests concurrently, two against others.
    pub(crate) fn automatic(&self) -> usize {
        if self.concurrent_server { 1 } else { 2 }
    }

    /// Up to `n` further sessions, opening those not yet open; fewer when the server refuses
    /// more. Sessions that have ended since are dropped and replaced.
    pub(crate) async fn take(&self, n: usize) -> Vec<SftpClient> {
        let mut state = self.state.lock().await;
        state.open.retain(|c| !c.is_closed());
        while state.open.len() < n && !state.refused {
            match self.open_one().await {
                Some(client) => state.open.push(client),
                None => state.refused = true,
            }
        }
        state.open.iter().take(n).cloned().collect()
    }

    async fn open_one(&self) -> Option<SftpClient> {
        let channel = self.session.open_session().await.ok()?;
        channel.subsystem(&self.subsystem).await.ok()?;
        SftpClient::over_channel(channel, self.in_flight, self.trace.clone())
            .await
            .ok()
    }
}
