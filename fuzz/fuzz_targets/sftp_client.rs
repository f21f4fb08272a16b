//! Fuzzes the SFTP client side: the `ClientEngine` fed arbitrary server bytes (in arbitrary
//! pieces, alternately as read from a stream and as channel packets' buffers with room in
//! front) after a few requests, READs among them, and a `Download` fed arbitrary replies to
//! its READs.
//!
//! Nothing may panic; whatever the server says, a download hands out data strictly in order
//! (each piece at the offset `written` said) and never more than it asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_sftp::Request;
use sshwire_sftp::client::{ClientConfig, ClientEngine};
use sshwire_sftp::transfer::Download;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let mut engine = ClientEngine::new(ClientConfig::default());
        for i in 0..4u8 {
            let _ = engine.send(|id| Request::Stat {
                id,
                path: vec![b'/', i],
            });
            let _ = engine.send(|id| Request::Read {
                id,
                handle: vec![i],
                offset: 0,
                len: 20_000 * u32::from(i + 1),
            });
        }
        let mut out = Vec::new();
        engine.poll_transmit(&mut out);
        // Pieces of 1 to 64 bytes, or one piece holding everything (mode's top bit); the
        // first as a chunk or not (the next bit), then alternately.
        let size = if mode & 0x80 != 0 {
            rest.len().max(1)
        } else {
            usize::from(mode % 64) + 1
        };
        let chunk_first = mode & 0x40 != 0;
        for (n, piece) in rest.chunks(size).enumerate() {
            let taken = if (n % 2 == 0) != chunk_first {
                engine.handle_input(piece)
            } else {
                let room = n % 7;
                let mut buf = vec![0; room];
                buf.extend_from_slice(piece);
                engine.handle_chunk(buf, room).map(|_| ())
            };
            if taken.is_err() {
                break;
            }
            while let Some(reply) = engine.poll_reply() {
                let _ = reply.id();
            }
        }
    } else {
        // Each step: pick a READ in flight by index, answer DATA of some length or EOF.
        let mut download = Download::new(0, u32::from(mode) + 1, 8);
        let mut pending: Vec<(u64, u32)> = Vec::new();
        let mut written = 0u64;
        for step in rest.chunks(2) {
            while let Some(r) = download.next_read() {
                pending.push(r);
            }
            if pending.is_empty() {
                break;
            }
            let pick = usize::from(step.first().copied().unwrap_or(0)) % pending.len();
            let (offset, len) = pending.swap_remove(pick);
            let answer = step.get(1).copied().unwrap_or(0);
            let result = if answer == 255 {
                download.on_eof(offset)
            } else {
                let n = (u32::from(answer) * 7).min(len + 1) as usize;
                download.on_data(offset, vec![answer; n])
            };
            if result.is_err() {
                break;
            }
            while let Some((at, data)) = download.poll_write() {
                assert_eq!(at, written, "data handed out of order");
                written += data.len() as u64;
            }
            assert_eq!(download.written(), written);
        }
    }
});
