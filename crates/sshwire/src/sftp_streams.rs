//! Further SFTP sessions on the same connection, for downloads that read over several.
//!
//! OpenSSH's `sftp-server` answers one request at a time, and `sshd` moves each session's
//! bytes through a pipe of its own, 16 to 32 KiB per turn of its event loop. A large download
//! over one session waits on that one process and that one pipe; reading over two sessions
//! keeps two of each busy. On this project's 2-core machine, three 1 GiB downloads from
//! `sshd` in one `sshwire sftp` batch moved 600–630 MiB/s over two sessions against 445–485
//! over one; against `sshwire serve` two sessions cost nothing (see `docs/performance.md`).
//! Two is the default (`Transfer::streams`, `sshwire sftp -X streams=N`).
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
    /// `in_flight` requests at most and traced to `trace`, like the first.
    pub(crate) fn new(
        session: Session,
        subsystem: &str,
        in_flight: usize,
        trace: Option<TraceSink>,
    ) -> Self {
        Streams {
            session,
            subsystem: subsystem.to_owned(),
            in_flight,
            trace,
            state: Mutex::new(State::default()),
        }
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
        SftpClient::with_trace(channel, self.in_flight, self.trace.clone())
            .await
            .ok()
    }
}
