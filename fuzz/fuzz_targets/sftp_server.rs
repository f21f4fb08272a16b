//! Fuzzes the SFTP server session (`sshwire_sftp::server::Session`) with a client's stream of
//! packets, over a small in-memory filesystem that allows at most 8 handles.
//!
//! Input: `byte flags`, then the stream. Flag bit 0 puts a valid `INIT` in front, bit 1 makes
//! the session read-only, and the high nibble is how many requests are admitted before any is
//! polled (the newest is polled first, so the ordering of filexfer-02 §6.1 is exercised).
//!
//! Asserts: no panic; every reply carries its request's id (`VERSION` answers `INIT`) and fits
//! in a packet; once a request ends the session, every later one gets the same error and no
//! earlier one does; some waiting request can always run; handles stay within the limit, and
//! `close_all` closes them all.
#![no_main]

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use libfuzzer_sys::fuzz_target;
use sshwire_fuzz::sftp::{MAX_HANDLES, fuzz_session, poll_once};
use sshwire_sftp::server::ProtocolError;
use sshwire_sftp::{Frame, MAX_PACKET, Request, Response, decode_frame};

type Reply = Pin<Box<dyn Future<Output = Result<Response, ProtocolError>> + Send>>;

struct Waiting {
    /// Position in arrival order.
    seq: usize,
    id: Option<u32>,
    init: bool,
    reply: Reply,
}

/// Checks a reply as it comes; returns the error of a request that ended the session.
fn check(w: &Waiting, result: Result<Response, ProtocolError>) -> Option<ProtocolError> {
    match result {
        Ok(response) => {
            if w.init {
                assert!(matches!(response, Response::Version { version: 3, .. }));
            } else {
                assert_eq!(response.id(), w.id, "reply to another request");
            }
            let mut out = Vec::new();
            response.encode(&mut out);
            assert!(out.len() <= MAX_PACKET as usize + 4, "reply too long");
            None
        }
        Err(e) => Some(e),
    }
}

/// Runs every waiting request to its end, newest first; each round must finish one. Records
/// each request's outcome by its position: `Some(error)` if it ended the session.
fn drain(waiting: &mut Vec<Waiting>, outcomes: &mut Vec<(usize, Option<ProtocolError>)>) {
    while !waiting.is_empty() {
        let before = waiting.len();
        let mut i = waiting.len();
        while i > 0 {
            i -= 1;
            if let Poll::Ready(result) = poll_once(waiting[i].reply.as_mut()) {
                let w = waiting.remove(i);
                outcomes.push((w.seq, check(&w, result)));
            }
        }
        assert!(waiting.len() < before, "no waiting request could run");
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, stream)) = input.split_first() else {
        return;
    };
    let session = fuzz_session(flags & 2 != 0);
    let batch = usize::from(flags >> 4);
    let mut bytes = Vec::new();
    if flags & 1 != 0 {
        Request::Init {
            version: 3,
            extensions: Vec::new(),
        }
        .encode(&mut bytes);
    }
    bytes.extend_from_slice(stream);
    let mut rest = &bytes[..];
    let mut waiting = Vec::new();
    let mut outcomes = Vec::new();
    let mut seq = 0;
    while let Ok(Frame::Complete { payload, consumed }) = decode_frame(rest, MAX_PACKET) {
        rest = &rest[consumed..];
        // A packet that does not decode ends a real session; stop here too.
        let Ok(request) = session.decode(payload) else {
            break;
        };
        waiting.push(Waiting {
            seq,
            id: request.id(),
            init: matches!(request, Request::Init { .. }),
            reply: Box::pin(session.handle(request)),
        });
        seq += 1;
        if waiting.len() > batch {
            drain(&mut waiting, &mut outcomes);
        }
        assert!(session.open_handles() <= MAX_HANDLES);
    }
    drain(&mut waiting, &mut outcomes);
    // In arrival order: answers, then (from the first error on) the same error for all.
    outcomes.sort_by_key(|(seq, _)| *seq);
    if let Some(first) = outcomes.iter().position(|(_, e)| e.is_some()) {
        let error = &outcomes[first].1;
        assert!(
            outcomes[first..].iter().all(|(_, e)| e == error),
            "the end of the session is not sticky"
        );
    }
    let mut close = Box::pin(session.close_all());
    assert!(poll_once(close.as_mut()).is_ready());
    assert_eq!(session.open_handles(), 0);
});
