//! How many requests a whole-file transfer keeps in flight, against a scripted server on a
//! paused clock: the server holds every reply until the client has nothing more to send
//! (the runtime is idle and the clock jumps), so the requests it holds then are exactly the
//! client's depth.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sshwire::sftp::{
    Attrs, Frame, LimitsReply, MAX_PACKET, Request, Response, StatusCode, decode_frame,
};
use sshwire::sftp_client::SftpClient;
use sshwire::sftp_transfer::{Transfer, automatic_in_flight};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// The block the scripted server's limits let through, and the client then uses.
const BLOCK: u32 = 256 * 1024;

/// How long the server waits for more requests before it answers those it holds: long
/// enough that the paused clock only gets there once every task waits.
const QUIET: Duration = Duration::from_secs(1);

/// A server of one file of `len` bytes (byte `i` is `i % 251`) that offers
/// `limits@openssh.com` with [`BLOCK`]-byte reads and writes, answers `OPEN` after
/// `open_delay`, and holds its replies to `READ`s and `WRITE`s until the client goes quiet.
/// Each time it does, the number of replies held is pushed onto the returned list.
fn server(len: u64, open_delay: Duration) -> (DuplexStream, Arc<Mutex<Vec<usize>>>) {
    let (a, mut b) = tokio::io::duplex(4 << 20);
    let depths = Arc::new(Mutex::new(Vec::new()));
    let seen = depths.clone();
    tokio::spawn(async move {
        let mut input = Vec::new();
        let mut buf = vec![0; 1 << 20];
        let mut held = Vec::new();
        loop {
            while let Ok(Frame::Complete { payload, consumed }) = decode_frame(&input, MAX_PACKET) {
                let request = Request::decode(payload).unwrap();
                input.drain(..consumed);
                let mut out = Vec::new();
                match request {
                    Request::Init { .. } => Response::Version {
                        version: 3,
                        extensions: vec![(b"limits@openssh.com".to_vec(), b"1".to_vec())],
                    }
                    .encode(&mut out),
                    Request::Extended { id, .. } => Response::ExtendedReply {
                        id,
                        data: LimitsReply {
                            max_packet_length: u64::from(BLOCK) + 1024,
                            max_read_length: u64::from(BLOCK),
                            max_write_length: u64::from(BLOCK),
                            max_open_handles: 16,
                        }
                        .to_bytes(),
                    }
                    .encode(&mut out),
                    Request::Open { id, .. } => {
                        tokio::time::sleep(open_delay).await;
                        Response::Handle {
                            id,
                            handle: b"h".to_vec(),
                        }
                        .encode(&mut out)
                    }
                    Request::Stat { id, .. }
                    | Request::Lstat { id, .. }
                    | Request::Fstat { id, .. } => Response::Attrs {
                        id,
                        attrs: Attrs {
                            size: Some(len),
                            ..Attrs::default()
                        },
                    }
                    .encode(&mut out),
                    Request::Read {
                        id, offset, len: n, ..
                    } => held.push(if offset >= len {
                        Response::status(id, StatusCode::EOF)
                    } else {
                        let end = len.min(offset + u64::from(n));
                        let data: Vec<u8> = (offset..end).map(|i| (i % 251) as u8).collect();
                        Response::Data {
                            id,
                            data: data.into(),
                        }
                    }),
                    Request::Write { id, .. } => held.push(Response::status(id, StatusCode::OK)),
                    Request::Close { id, .. } => {
                        Response::status(id, StatusCode::OK).encode(&mut out)
                    }
                    other => panic!("unexpected {other:?}"),
                }
                b.write_all(&out).await.unwrap();
            }
            let quiet = tokio::time::sleep(QUIET);
            tokio::select! {
                r = b.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => input.extend_from_slice(&buf[..n]),
                },
                () = quiet, if !held.is_empty() => {
                    seen.lock().unwrap().push(held.len());
                    let mut out = Vec::new();
                    held.drain(..).for_each(|r| r.encode(&mut out));
                    b.write_all(&out).await.unwrap();
                }
            }
        }
    });
    (a, depths)
}

/// The block the client uses against [`server`]: its limit, capped by the largest data
/// the client's SFTP packets carry (255 KiB, as OpenSSH's).
const USED: u32 = 255 * 1024;

/// Uploads `blocks` blocks against [`server`] with `how`; returns the depths it saw.
async fn upload_depths(blocks: u64, open_delay: Duration, how: Transfer) -> Vec<usize> {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("up");
    let len = blocks * u64::from(USED);
    std::fs::write(&local, vec![7u8; len as usize]).unwrap();
    let (stream, depths) = server(0, open_delay);
    let sftp = SftpClient::new(stream).await.unwrap();
    assert_eq!(sftp.transfer_limits().write_len, USED);
    let sent = sftp
        .upload(&local, b"/up", how, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(sent, len);
    depths.lock().unwrap().clone()
}

/// Uploads keep [`automatic_in_flight`]'s depth: 16 blocks of 255 KiB (4 MiB) when the
/// `OPEN` came back at once, as on loopback, and full rounds of it all through the file.
#[tokio::test(start_paused = true)]
async fn an_upload_keeps_four_mebibytes_in_flight_over_a_short_round_trip() {
    assert_eq!(automatic_in_flight(USED, Duration::ZERO), 16);
    let depths = upload_depths(40, Duration::ZERO, Transfer::default()).await;
    assert_eq!(depths, [16, 16, 8]);
}

/// Over a round trip of 10 ms the depth grows by what 1 GiB/s moves in it (10.24 MiB): 57
/// blocks of 255 KiB.
#[tokio::test(start_paused = true)]
async fn an_upload_keeps_more_in_flight_over_a_long_round_trip() {
    let rtt = Duration::from_millis(10);
    assert_eq!(automatic_in_flight(USED, rtt), 57);
    let depths = upload_depths(120, rtt, Transfer::default()).await;
    assert_eq!(depths, [57, 57, 6]);
}

/// A depth given (`-R`) is kept, whatever the round trip.
#[tokio::test(start_paused = true)]
async fn an_upload_keeps_the_depth_it_is_given() {
    let how = Transfer {
        in_flight: 5,
        ..Transfer::default()
    };
    let depths = upload_depths(12, Duration::ZERO, how).await;
    assert_eq!(depths, [5, 5, 2]);
}

/// Downloads start with two READs and grow to the same automatic depth, where they stay, and
/// the file arrives whole.
#[tokio::test(start_paused = true)]
async fn a_download_grows_to_the_automatic_depth() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("down");
    let len = 64 * u64::from(USED) + 1000;
    let (stream, depths) = server(len, Duration::ZERO);
    let sftp = SftpClient::new(stream).await.unwrap();
    let got = sftp
        .download(b"/down", &local, Transfer::default(), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(got, len);
    let data = std::fs::read(&local).unwrap();
    assert!(data.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    let depths = depths.lock().unwrap().clone();
    assert_eq!(depths.first(), Some(&2), "{depths:?}");
    assert_eq!(depths.iter().max(), Some(&16), "{depths:?}");
    assert!(
        depths.iter().filter(|&&d| d == 16).count() >= 3,
        "{depths:?}"
    );
}

/// The automatic depth at its bounds: OpenSSH's 64 requests of 32 KiB, never fewer than 4
/// (huge blocks) nor more than 64 (long round trips), and no overflow anywhere.
#[test]
fn the_automatic_depth_stays_within_its_bounds() {
    let ms = Duration::from_millis;
    assert_eq!(automatic_in_flight(32 * 1024, Duration::ZERO), 64);
    assert_eq!(automatic_in_flight(256 * 1024, ms(1)), 20);
    assert_eq!(automatic_in_flight(256 * 1024, ms(12)), 64);
    assert_eq!(automatic_in_flight(256 * 1024, Duration::MAX), 64);
    assert_eq!(automatic_in_flight(u32::MAX, Duration::ZERO), 4);
    assert_eq!(automatic_in_flight(0, Duration::ZERO), 64);
    assert_eq!(automatic_in_flight(0, Duration::MAX), 64);
}
