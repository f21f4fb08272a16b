//! Fuzzes the user authentication engines (`sshwire_auth`) with sequences of peer payloads.
//!
//! Input: `byte mode`, then payloads, each a `u16` big-endian length and bytes, and between
//! them `byte verdicts` choosing how the application answers questions. Mode bit 0 picks the
//! server engine (fed as if from a client) or the client engine (fed as if from a server,
//! after it has sent `none`). The fake clock advances one second per payload, so the failure
//! delay and the grace time are reached too. Nothing may panic; once an engine fails, it keeps
//! failing with the same error.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sshwire_auth::{ClientAuth, ServerAuth, ServerEvent, ServerPolicy, Verdict};

fn next_payload<'a>(rest: &mut &'a [u8]) -> Option<(&'a [u8], u8)> {
    let (&verdicts, tail) = rest.split_first()?;
    let (len, tail) = tail.split_first_chunk::<2>()?;
    let len = (u16::from_be_bytes(*len) as usize).min(tail.len());
    let (payload, tail) = tail.split_at(len);
    *rest = tail;
    Some((payload, verdicts))
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, mut rest)) = input.split_first() else {
        return;
    };
    let session_id = [7u8; 32];
    let mut now = Instant::now();
    if mode & 1 == 1 {
        let policy = Arc::new(ServerPolicy::default());
        let mut server = ServerAuth::new(policy, &session_id, now);
        let mut sticky = None;
        while let Some((payload, verdicts)) = next_payload(&mut rest) {
            now += Duration::from_secs(1);
            let r = server
                .handle_timeout(now)
                .and_then(|()| server.handle_message(now, payload));
            if let Some(e) = &sticky {
                assert_eq!(r.as_ref().err(), Some(e), "server error not sticky");
                continue;
            }
            if r.is_err() && server.error().is_some() {
                sticky = r.err();
                continue;
            }
            let mut i = 0u32;
            while let Some(ev) = server.poll_event() {
                let accept = verdicts >> (i % 8) & 1 == 1;
                i += 1;
                let verdict = if accept {
                    Verdict::Accept
                } else {
                    Verdict::Reject
                };
                let id = match ev {
                    ServerEvent::CheckPassword { id, .. }
                    | ServerEvent::CheckPublicKey { id, .. }
                    | ServerEvent::KeyboardInteractive { id, .. }
                    | ServerEvent::KeyboardInteractiveResponses { id, .. } => id,
                    _ => continue,
                };
                let _ = server.decide(now, id, verdict);
            }
            while server.poll_transmit().is_some() {}
        }
    } else {
        let mut client = ClientAuth::new("fuzz", "ssh-connection", &session_id);
        if client.none().is_err() {
            return;
        }
        while client.poll_transmit().is_some() {}
        let mut sticky = None;
        while let Some((payload, verdicts)) = next_payload(&mut rest) {
            now += Duration::from_secs(1);
            let r = client.handle_message(now, payload);
            if let Some(e) = &sticky {
                assert_eq!(r.as_ref().err(), Some(e), "client error not sticky");
                continue;
            }
            if r.is_err() && client.error().is_some() {
                sticky = r.err();
                continue;
            }
            while client.poll_event().is_some() {}
            // Keep a request in flight so that every reply has something to answer.
            if client.is_idle() {
                let _ = if verdicts & 1 == 1 {
                    client.password("hunter2")
                } else {
                    client.keyboard_interactive("")
                };
            }
            while client.poll_transmit().is_some() {}
        }
    }
});
