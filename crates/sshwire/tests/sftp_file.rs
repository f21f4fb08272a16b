//! The remote `File` and the client's conveniences, our client against our server over an
//! in-memory stream serving a `MemoryFs`; and the client against a scripted hostile server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::io::SeekFrom;
use std::sync::Arc;

use sshwire::sftp::fs::Filesystem;
use sshwire::sftp::memory::MemoryFs;
use sshwire::sftp::server::{RequestKind, ServerConfig, Session};
use sshwire::sftp::{Attrs, StatusCode};
use sshwire::sftp_client::{SftpClient, SftpError};
use sshwire::sftp_file::OpenOptions;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A client talking to a server that serves `fs` with `config`, and the server's session (to
/// count its open handles).
async fn pair_with(fs: MemoryFs, config: ServerConfig) -> (SftpClient, Session) {
    let (a, b) = tokio::io::duplex(512 * 1024);
    let fs: Arc<dyn Filesystem> = Arc::new(fs);
    let session = Session::new(fs, config, None);
    let serving = session.clone();
    tokio::spawn(async move {
        let _ = sshwire::sftp_server::serve_session(b, serving).await;
    });
    (SftpClient::new(a).await.unwrap(), session)
}

async fn pair(fs: MemoryFs) -> SftpClient {
    pair_with(fs, ServerConfig::default()).await.0
}

/// 3 MB that do not repeat on any block boundary.
fn content() -> Vec<u8> {
    (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn status(e: &SftpError) -> StatusCode {
    match e {
        SftpError::Status { code, .. } => *code,
        other => panic!("not a status: {other}"),
    }
}

#[tokio::test]
async fn reading_3_mb_gives_the_exact_content() {
    let fs = MemoryFs::new();
    let data = content();
    fs.write_file(b"/big", &data).unwrap();
    let sftp = pair(fs).await;

    let mut f = sftp.open_read(b"/big").await.unwrap();
    let mut all = Vec::new();
    f.read_to_end(&mut all).await.unwrap();
    assert!(all == data, "read_to_end differs");
    // At the end, reads give nothing, again and again.
    assert_eq!(f.read(&mut [0; 10]).await.unwrap(), 0);
    assert_eq!(f.read(&mut [0; 10]).await.unwrap(), 0);
    f.close().await.unwrap();

    // Odd small reads, across every block boundary.
    let mut f = sftp.open_read(b"/big").await.unwrap();
    let mut all = Vec::new();
    let sizes = [1usize, 7, 4096, 333, 65_537];
    let mut i = 0;
    loop {
        let mut buf = vec![0; sizes[i % sizes.len()]];
        i += 1;
        let n = f.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    assert!(all == data, "small reads differ");
    assert_eq!(f.position(), data.len() as u64);
    f.close().await.unwrap();

    // An empty file is at its end at once.
    sftp.create(b"/empty").await.unwrap().close().await.unwrap();
    let mut f = sftp.open_read(b"/empty").await.unwrap();
    let mut none = Vec::new();
    assert_eq!(f.read_to_end(&mut none).await.unwrap(), 0);
}

#[tokio::test]
async fn seeks_from_start_current_and_end() {
    let fs = MemoryFs::new();
    let data = content();
    fs.write_file(b"/big", &data).unwrap();
    let sftp = pair(fs).await;
    let mut f = sftp.open_read(b"/big").await.unwrap();
    let mut buf = [0u8; 100];

    // Read a little (read-ahead starts), then jump far away: the bytes are the new place's.
    f.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf[..], &data[..100]);
    assert_eq!(f.seek(SeekFrom::Start(2_000_000)).await.unwrap(), 2_000_000);
    f.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf[..], &data[2_000_000..2_000_100]);
    // Backwards, relative.
    assert_eq!(
        f.seek(SeekFrom::Current(-1_000_100)).await.unwrap(),
        1_000_000
    );
    f.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf[..], &data[1_000_000..1_000_100]);
    // stream_position is a seek by 0 and keeps the read-ahead.
    assert_eq!(f.stream_position().await.unwrap(), 1_000_100);
    f.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf[..], &data[1_000_100..1_000_200]);
    // From the end (FSTAT).
    assert_eq!(f.seek(SeekFrom::End(-10)).await.unwrap(), 2_999_990);
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).await.unwrap();
    assert_eq!(tail, &data[2_999_990..]);
    // Past the end reads nothing; before the start is refused and the position stays.
    assert_eq!(f.seek(SeekFrom::End(5)).await.unwrap(), 3_000_005);
    assert_eq!(f.read(&mut buf).await.unwrap(), 0);
    let e = f.seek(SeekFrom::Current(-4_000_000)).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(f.position(), 3_000_005);
}

#[tokio::test]
async fn pipelined_writes_of_3_mb_read_back() {
    let fs = MemoryFs::new();
    let sftp = pair(fs.clone()).await;
    let data = content();
    let mut f = sftp.create(b"/out").await.unwrap();
    // Uneven pieces, so blocks are gathered across calls.
    for piece in data.chunks(100_003) {
        f.write_all(piece).await.unwrap();
    }
    assert_eq!(f.position(), data.len() as u64);
    f.flush().await.unwrap();
    // After flush the server has every byte.
    assert!(fs.read_file(b"/out").unwrap() == data);
    f.close().await.unwrap();

    // Written and read back through the same kind of File, seeking in between.
    let mut f = sftp
        .open_file(
            b"/rw",
            OpenOptions::new().read(true).write(true).create(true),
        )
        .await
        .unwrap();
    f.write_all(&data).await.unwrap();
    f.seek(SeekFrom::Start(0)).await.unwrap();
    let mut back = Vec::new();
    f.read_to_end(&mut back).await.unwrap();
    assert!(back == data);
    // shutdown() is close.
    f.shutdown().await.unwrap();
    assert!(fs.read_file(b"/rw").unwrap() == data);
}

#[tokio::test]
async fn a_failed_write_surfaces_at_flush_and_stays() {
    // A file system that holds 1 MB: the WRITEs past it fail.
    let fs = MemoryFs::new().with_size_limit(1_000_000);
    let sftp = pair(fs.clone()).await;
    let mut f = sftp.create(b"/full").await.unwrap();
    let data = content();
    // Writes may succeed at first (they are only queued); by the flush the failure is known.
    let mut failed_at_write = None;
    for (i, piece) in data.chunks(64 * 1024).enumerate() {
        if let Err(e) = f.write_all(piece).await {
            failed_at_write = Some((i, e));
            break;
        }
    }
    let e = f.flush().await.unwrap_err();
    assert!(e.to_string().contains("No space"), "{e}");
    if let Some((i, _)) = failed_at_write {
        // A write reported it first: only after 1 MB had been queued.
        assert!(i * 64 * 1024 >= 1_000_000, "failed at block {i}");
    }
    // Sticky: the next write and flush say so again, and so does close.
    assert!(f.write_all(b"more").await.is_err());
    assert!(f.flush().await.is_err());
    let e = f.close().await.unwrap_err();
    assert_eq!(status(&e), StatusCode::FAILURE);

    // A file opened for reading only: the write is queued, its refusal comes at flush.
    fs.set_size_limit(None);
    fs.write_file(b"/ro", b"data").unwrap();
    let mut f = sftp.open_read(b"/ro").await.unwrap();
    f.write_all(b"nope").await.unwrap();
    let e = f.flush().await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
    assert!(f.close().await.is_err());
    assert_eq!(fs.read_file(b"/ro").unwrap(), b"data");
}

#[tokio::test]
async fn append_writes_at_the_end_and_keeps_its_offset() {
    let fs = MemoryFs::new();
    fs.write_file(b"/log", b"one\n").unwrap();
    let sftp = pair(fs.clone()).await;
    let mut f = sftp
        .open_file(b"/log", OpenOptions::new().append(true))
        .await
        .unwrap();
    assert_eq!(f.position(), 4);
    f.write_all(b"two\n").await.unwrap();
    f.write_all(b"three\n").await.unwrap();
    assert_eq!(f.position(), 14);
    f.close().await.unwrap();
    assert_eq!(fs.read_file(b"/log").unwrap(), b"one\ntwo\nthree\n");
    // Append creates with create(true).
    let mut f = sftp
        .open_file(b"/new", OpenOptions::new().append(true).create(true))
        .await
        .unwrap();
    f.write_all(b"x").await.unwrap();
    f.close().await.unwrap();
    assert_eq!(fs.read_file(b"/new").unwrap(), b"x");
}

#[tokio::test]
async fn positional_reads_and_writes_leave_the_position() {
    let fs = MemoryFs::new();
    let data = content();
    fs.write_file(b"/f", &data).unwrap();
    let sftp = pair(fs.clone()).await;
    let mut f = sftp
        .open_file(b"/f", OpenOptions::new().read(true).write(true))
        .await
        .unwrap();
    // 1 MB from the middle: several blocks, pipelined, exact.
    let got = f.read_at(1_500_000, 1_000_000).await.unwrap();
    assert!(got == data[1_500_000..2_500_000]);
    // Past the end: short, then empty.
    assert_eq!(
        f.read_at(2_999_000, 5000).await.unwrap(),
        &data[2_999_000..]
    );
    assert!(f.read_at(3_000_000, 10).await.unwrap().is_empty());
    assert_eq!(f.position(), 0);

    let patch = vec![0xAB; 600_000];
    f.write_at(100_000, &patch).await.unwrap();
    assert_eq!(f.position(), 0);
    let mut expect = data.clone();
    expect[100_000..700_000].copy_from_slice(&patch);
    assert!(fs.read_file(b"/f").unwrap() == expect);
    // The sequential read sees the patch.
    let mut head = vec![0; 100_010];
    f.read_exact(&mut head).await.unwrap();
    assert_eq!(&head[..], &expect[..100_010]);
    f.close().await.unwrap();
}

#[tokio::test]
async fn set_len_stat_setstat_and_fsync() {
    let fs = MemoryFs::new();
    let sftp = pair(fs.clone()).await;
    let mut f = sftp.create(b"/f").await.unwrap();
    f.write_all(b"0123456789").await.unwrap();
    // stat sees the buffered writes.
    assert_eq!(f.stat().await.unwrap().size, Some(10));
    f.set_len(4).await.unwrap();
    assert_eq!(fs.read_file(b"/f").unwrap(), b"0123");
    f.set_len(6).await.unwrap();
    assert_eq!(fs.read_file(b"/f").unwrap(), b"0123\0\0");
    f.setstat(Attrs {
        permissions: Some(0o600),
        ..Attrs::default()
    })
    .await
    .unwrap();
    assert_eq!(f.stat().await.unwrap().permissions.unwrap() & 0o777, 0o600);
    f.fsync().await.unwrap();
    f.close().await.unwrap();

    // A server that does not offer fsync@openssh.com.
    let config = ServerConfig {
        denied: vec![RequestKind::Fsync],
        ..ServerConfig::default()
    };
    let (sftp, _) = pair_with(fs, config).await;
    let mut f = sftp.create(b"/g").await.unwrap();
    assert_eq!(
        f.fsync().await.unwrap_err(),
        SftpError::Unsupported("fsync@openssh.com")
    );
    f.close().await.unwrap();
}

#[tokio::test]
async fn dropping_files_and_listings_closes_their_handles() {
    let fs = MemoryFs::new();
    fs.write_file(b"/f", b"data").unwrap();
    let config = ServerConfig {
        max_handles: 4,
        ..ServerConfig::default()
    };
    let (sftp, session) = pair_with(fs.clone(), config).await;
    // Three times the server's handle limit, one after another, each dropped unclosed (one
    // with a buffered write, one in the middle of a read-ahead).
    for i in 0..12 {
        let mut f = sftp
            .open_file(b"/f", OpenOptions::new().read(true).write(true))
            .await
            .unwrap_or_else(|e| panic!("open {i}: {e}"));
        if i == 3 {
            f.write_all(b"DATA").await.unwrap();
        }
        if i == 5 {
            let mut b = [0; 2];
            f.read_exact(&mut b).await.unwrap();
        }
        drop(f);
        let mut d = sftp.read_dir(b"/").await.unwrap();
        assert!(d.next().await.is_some());
        drop(d);
    }
    // A STAT runs after the CLOSEs before it: then nothing is open.
    sftp.stat(b"/f").await.unwrap();
    assert_eq!(session.open_handles(), 0);
    // The buffered write went out before its CLOSE.
    assert_eq!(fs.read_file(b"/f").unwrap(), b"DATA");
}

#[tokio::test]
async fn working_directory_resolves_relative_paths() {
    let fs = MemoryFs::new();
    let sftp0 = pair(fs.clone()).await;
    let mut sftp = sftp0.clone();
    assert_eq!(sftp.getcwd(), None);
    sftp.makedirs(b"/a/b", 0o755).await.unwrap();
    fs.write_file(b"/a/b/f", b"in b").unwrap();
    fs.write_file(b"/top", b"at the top").unwrap();

    sftp.chdir(b"/a").await.unwrap();
    assert_eq!(sftp.getcwd(), Some(&b"/a"[..]));
    // Relative to the working directory, for every kind of call.
    sftp.chdir(b"b").await.unwrap();
    assert_eq!(sftp.getcwd(), Some(&b"/a/b"[..]));
    assert_eq!(sftp.stat(b"f").await.unwrap().size, Some(4));
    let mut f = sftp.create(b"g").await.unwrap();
    f.write_all(b"new").await.unwrap();
    f.close().await.unwrap();
    assert_eq!(fs.read_file(b"/a/b/g").unwrap(), b"new");
    sftp.rename(b"g", b"h").await.unwrap();
    sftp.mkdir(b"sub", Attrs::default()).await.unwrap();
    assert!(sftp.is_dir(b"/a/b/sub").await.unwrap());
    let mut names: Vec<_> = sftp
        .list(b"")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.filename)
        .filter(|n| n != b"." && n != b"..")
        .collect();
    names.sort();
    assert_eq!(names, [&b"f"[..], b"h", b"sub"]);
    assert_eq!(sftp.realpath(b"..").await.unwrap(), b"/a");
    // Absolute paths are unchanged.
    assert_eq!(sftp.stat(b"/top").await.unwrap().size, Some(10));
    // A clone starts here and goes its own way; the parent is unaffected.
    let mut other = sftp.clone();
    other.chdir(b"..").await.unwrap();
    assert_eq!(other.getcwd(), Some(&b"/a"[..]));
    assert_eq!(sftp.getcwd(), Some(&b"/a/b"[..]));
    assert_eq!(sftp0.getcwd(), None);
    // Not a directory, and missing: refused, the directory stays.
    assert!(matches!(
        sftp.chdir(b"f").await.unwrap_err(),
        SftpError::NotADirectory(p) if p == b"/a/b/f"
    ));
    assert!(sftp.chdir(b"nope").await.unwrap_err().is_not_found());
    assert_eq!(sftp.getcwd(), Some(&b"/a/b"[..]));
    sftp.clear_cwd();
    assert!(sftp.stat(b"f").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn makedirs_rmtree_and_the_predicates() {
    let fs = MemoryFs::new();
    let sftp = pair(fs.clone()).await;
    sftp.makedirs(b"/x/y/z", 0o750).await.unwrap();
    // Again: already there is fine.
    sftp.makedirs(b"/x/y/z", 0o750).await.unwrap();
    sftp.makedirs(b"/x/y", 0o750).await.unwrap();
    assert!(sftp.is_dir(b"/x/y/z").await.unwrap());
    assert_eq!(
        sftp.stat(b"/x/y").await.unwrap().permissions.unwrap() & 0o777,
        0o750
    );
    fs.write_file(b"/x/y/file", b"f").unwrap();
    // A file in the way.
    assert!(matches!(
        sftp.makedirs(b"/x/y/file/deeper", 0o755).await.unwrap_err(),
        SftpError::NotADirectory(p) if p == b"/x/y/file"
    ));
    assert!(sftp.exists(b"/x/y/file").await.unwrap());
    assert!(sftp.is_file(b"/x/y/file").await.unwrap());
    assert!(!sftp.is_dir(b"/x/y/file").await.unwrap());
    assert!(!sftp.exists(b"/nothing").await.unwrap());
    assert!(!sftp.is_dir(b"/nothing").await.unwrap());
    assert!(!sftp.is_file(b"/nothing").await.unwrap());

    // A directory outside the tree, linked from inside it: rmtree removes the link only.
    sftp.makedirs(b"/keep/inner", 0o755).await.unwrap();
    fs.write_file(b"/keep/inner/precious", b"p").unwrap();
    sftp.symlink(b"/x/y/z/link", b"/keep").await.unwrap();
    for i in 0..50 {
        fs.write_file(format!("/x/y/z/f{i}").as_bytes(), b"n")
            .unwrap();
    }
    sftp.rmtree(b"/x").await.unwrap();
    assert!(!sftp.exists(b"/x").await.unwrap());
    assert_eq!(fs.read_file(b"/keep/inner/precious").unwrap(), b"p");
    // A link given directly is removed as a link too.
    sftp.symlink(b"/l", b"/keep").await.unwrap();
    sftp.rmtree(b"/l").await.unwrap();
    assert!(sftp.lstat(b"/l").await.unwrap_err().is_not_found());
    assert!(sftp.is_dir(b"/keep/inner").await.unwrap());
    assert!(sftp.rmtree(b"/gone").await.unwrap_err().is_not_found());

    // The SETSTAT shorthands.
    // (A size change sets the mtime, so the times come last.)
    sftp.truncate(b"/keep/inner/precious", 3).await.unwrap();
    sftp.chmod(b"/keep/inner/precious", 0o604).await.unwrap();
    sftp.utime(b"/keep/inner/precious", 1000, 2000)
        .await
        .unwrap();
    let a = sftp.stat(b"/keep/inner/precious").await.unwrap();
    assert_eq!(a.permissions.unwrap() & 0o777, 0o604);
    assert_eq!(a.times.unwrap().atime, 1000);
    assert_eq!(a.times.unwrap().mtime, 2000);
    assert_eq!(a.size, Some(3));
    let owner = a.owner.unwrap();
    sftp.chown(b"/keep/inner/precious", owner.uid, owner.gid)
        .await
        .unwrap();
}

#[tokio::test]
async fn read_dir_streams_every_entry() {
    let fs = MemoryFs::new();
    let sftp = pair(fs.clone()).await;
    sftp.mkdir(b"/d", Attrs::default()).await.unwrap();
    // Enough names for several READDIR batches.
    for i in 0..3000 {
        fs.write_file(format!("/d/name-{i:05}").as_bytes(), b"")
            .unwrap();
    }
    let mut d = sftp.read_dir(b"/d").await.unwrap();
    let mut n = 0;
    while let Some(entry) = d.next().await {
        let entry = entry.unwrap();
        if entry.filename.starts_with(b"name-") {
            n += 1;
        }
    }
    assert_eq!(n, 3000);
    assert!(d.next().await.is_none());
    assert!(sftp.read_dir(b"/missing").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn copy_with_and_without_copy_data() {
    let data = content();
    for denied in [vec![], vec![RequestKind::CopyData]] {
        let fs = MemoryFs::new();
        fs.write_file(b"/src", &data).unwrap();
        let config = ServerConfig {
            denied: denied.clone(),
            ..ServerConfig::default()
        };
        let (sftp, session) = pair_with(fs.clone(), config).await;
        assert_eq!(sftp.server().supports("copy-data", "1"), denied.is_empty());
        sftp.chmod(b"/src", 0o640).await.unwrap();
        assert_eq!(sftp.copy(b"/src", b"/dst").await.unwrap(), 3_000_000);
        assert!(fs.read_file(b"/dst").unwrap() == data, "{denied:?}");
        assert_eq!(
            sftp.stat(b"/dst").await.unwrap().permissions.unwrap() & 0o777,
            0o640
        );
        // Over an existing, longer file: replaced.
        fs.write_file(b"/small", b"tiny").unwrap();
        sftp.copy(b"/small", b"/dst").await.unwrap();
        assert_eq!(fs.read_file(b"/dst").unwrap(), b"tiny");
        assert!(
            sftp.copy(b"/none", b"/dst2")
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert_eq!(session.open_handles(), 0);
    }
}

/// A whole SFTP packet around `payload`.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// A client talking to a scripted server: it answers INIT with a bare VERSION, answers the
/// first request with the bytes `reply` makes from it, and then only listens.
async fn hostile(reply: fn(&sshwire::sftp::Request) -> Vec<u8>) -> SftpClient {
    use sshwire::sftp::{Frame, MAX_PACKET, Request, decode_frame};
    let (a, mut b) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let mut input = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        let mut answered = 0;
        loop {
            while let Ok(Frame::Complete { payload, consumed }) = decode_frame(&input, MAX_PACKET) {
                let request = Request::decode(payload).unwrap();
                let out = match request {
                    Request::Init { .. } => frame(&[2, 0, 0, 0, 3]),
                    _ if answered == 0 => {
                        answered += 1;
                        reply(&request)
                    }
                    // Anything later (a CLOSE from a drop) goes unanswered.
                    _ => Vec::new(),
                };
                input.drain(..consumed);
                b.write_all(&out).await.unwrap();
            }
            match b.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => input.extend_from_slice(&buf[..n]),
            }
        }
    });
    SftpClient::new(a).await.unwrap()
}

fn id_of(r: &sshwire::sftp::Request) -> [u8; 4] {
    r.id().unwrap().to_be_bytes()
}

/// Each hostile answer is an error of the call that asked, ends the session for every later
/// call, and leaves the process well (a sound session afterwards works).
#[tokio::test]
async fn a_hostile_server_gets_errors_not_allocations_or_panics() {
    fn is_protocol(e: &SftpError) -> bool {
        matches!(e, SftpError::Protocol(_))
    }
    // A HANDLE to a STAT.
    let sftp = hostile(|r| {
        let mut p = vec![102];
        p.extend_from_slice(&id_of(r));
        p.extend_from_slice(&[0, 0, 0, 1, b'h']);
        frame(&p)
    })
    .await;
    let e = sftp.stat(b"/x").await.unwrap_err();
    assert!(
        is_protocol(&e) && e.to_string().contains("does not answer"),
        "{e}"
    );
    // The session is over: later calls fail at once, they do not hang.
    assert!(is_protocol(&sftp.stat(b"/y").await.unwrap_err()));

    // A NAME claiming 2^32-1 entries, to a REALPATH.
    let sftp = hostile(|r| {
        let mut p = vec![104];
        p.extend_from_slice(&id_of(r));
        p.extend_from_slice(&u32::MAX.to_be_bytes());
        frame(&p)
    })
    .await;
    let e = sftp.realpath(b".").await.unwrap_err();
    assert!(
        is_protocol(&e) && e.to_string().contains("malformed"),
        "{e}"
    );

    // ATTRS with 2^32-1 extended pairs, to a STAT.
    let sftp = hostile(|r| {
        let mut p = vec![105];
        p.extend_from_slice(&id_of(r));
        p.extend_from_slice(&0x8000_0000u32.to_be_bytes());
        p.extend_from_slice(&u32::MAX.to_be_bytes());
        frame(&p)
    })
    .await;
    let e = sftp.stat(b"/x").await.unwrap_err();
    assert!(
        is_protocol(&e) && e.to_string().contains("malformed"),
        "{e}"
    );

    // A 300-byte handle, to an OPEN.
    let sftp = hostile(|r| {
        let mut p = vec![102];
        p.extend_from_slice(&id_of(r));
        p.extend_from_slice(&300u32.to_be_bytes());
        p.extend_from_slice(&[b'h'; 300]);
        frame(&p)
    })
    .await;
    let e = sftp.open_read(b"/x").await.unwrap_err();
    assert!(is_protocol(&e), "{e}");

    // A reply to an id never sent.
    let sftp = hostile(|r| {
        let id = r.id().unwrap().wrapping_add(1000);
        let mut p = vec![101];
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        frame(&p)
    })
    .await;
    let e = sftp.stat(b"/x").await.unwrap_err();
    assert!(
        is_protocol(&e) && e.to_string().contains("not outstanding"),
        "{e}"
    );

    // DATA longer than the READ asked for.
    let sftp = hostile(|r| {
        let mut p = vec![103];
        p.extend_from_slice(&id_of(r));
        match r {
            sshwire::sftp::Request::Read { len, .. } => {
                p.extend_from_slice(&(len + 1).to_be_bytes());
                p.extend(std::iter::repeat_n(b'd', *len as usize + 1));
            }
            other => panic!("expected a READ, got {other:?}"),
        }
        frame(&p)
    })
    .await;
    let h = b"h".to_vec();
    let e = sftp.read(&h, 0, 10).await.unwrap_err();
    assert!(
        is_protocol(&e) && e.to_string().contains("bytes of DATA"),
        "{e}"
    );

    // And the process is fine: a sound session works.
    let fs = MemoryFs::new();
    fs.write_file(b"/ok", b"fine").unwrap();
    let sftp = pair(fs).await;
    let mut f = sftp.open_read(b"/ok").await.unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).await.unwrap();
    assert_eq!(s, "fine");
}

/// A scripted server on the other end of the returned stream: INIT gets a bare VERSION (no
/// extensions, so 32 KiB blocks), every other request goes to `answer`, which returns the
/// replies to send now (holding some back if it likes).
fn scripted<F>(mut answer: F) -> tokio::io::DuplexStream
where
    F: FnMut(sshwire::sftp::Request) -> Vec<sshwire::sftp::Response> + Send + 'static,
{
    use sshwire::sftp::{Frame, MAX_PACKET, Request, decode_frame};
    let (a, mut b) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let mut input = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        loop {
            while let Ok(Frame::Complete { payload, consumed }) = decode_frame(&input, MAX_PACKET) {
                let request = Request::decode(payload).unwrap();
                input.drain(..consumed);
                let mut out = Vec::new();
                match request {
                    Request::Init { .. } => out = frame(&[2, 0, 0, 0, 3]),
                    request => answer(request).iter().for_each(|r| r.encode(&mut out)),
                }
                b.write_all(&out).await.unwrap();
            }
            match b.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => input.extend_from_slice(&buf[..n]),
            }
        }
    });
    a
}

/// Runs `f` to its end, or fails after a minute: for a client that would wait forever for
/// an answer the server holds back (a bound, not a timing assertion).
async fn or_hang<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what}"))
}

/// Against a scripted server that answers every READ short (at most 5000 bytes of the 32 KiB
/// asked) and holds its first answer until a second READ has come: a `File` has several READs
/// in flight, asks again for the rest of each short one, and reads exactly the content.
#[tokio::test]
async fn a_file_reads_ahead_and_asks_again_after_short_reads() {
    use sshwire::sftp::{Request, Response};
    let data = content()[..200_000].to_vec();
    let served = data.clone();
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = reads.clone();
    let mut held = Vec::new();
    let stream = scripted(move |request| {
        let reply = match request {
            Request::Open { id, .. } => Response::Handle {
                id,
                handle: b"h".to_vec(),
            },
            Request::Read {
                id, offset, len, ..
            } => {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let start = (offset as usize).min(served.len());
                let n = (len as usize).min(5000).min(served.len() - start);
                if n == 0 {
                    Response::status(id, StatusCode::EOF)
                } else {
                    Response::Data {
                        id,
                        data: served[start..start + n].to_vec().into(),
                    }
                }
            }
            Request::Close { id, .. } => Response::status(id, StatusCode::OK),
            other => panic!("unexpected {other:?}"),
        };
        held.push(reply);
        // The first READ waits for a second one.
        if counted.load(std::sync::atomic::Ordering::Relaxed) == 1 {
            return Vec::new();
        }
        std::mem::take(&mut held)
    });
    let sftp = SftpClient::new(stream).await.unwrap();
    assert_eq!(sftp.transfer_limits().read_len, 32 * 1024);
    let all = or_hang("the File never had two READs in flight", async {
        let mut f = sftp.open_read(b"/f").await.unwrap();
        let mut all = Vec::new();
        f.read_to_end(&mut all).await.unwrap();
        f.close().await.unwrap();
        all
    })
    .await;
    assert!(all == data);
    // Every answer was short: at least one READ per 5000 bytes.
    assert!(reads.load(std::sync::atomic::Ordering::Relaxed) >= 200_000 / 5000);
}

/// Against a scripted server that answers no WRITE until four have come, and fails the
/// second: `write_all` of four blocks returns without a single answer, the flush reports the
/// failure, and it stays reported.
#[tokio::test]
async fn writes_are_queued_without_waiting_and_a_failure_is_sticky() {
    use sshwire::sftp::{Request, Response};
    let mut held = Vec::new();
    let mut writes = 0;
    let stream = scripted(move |request| {
        let reply = match request {
            Request::Open { id, .. } => Response::Handle {
                id,
                handle: b"h".to_vec(),
            },
            Request::Write { id, .. } => {
                writes += 1;
                let code = if writes == 2 {
                    StatusCode::FAILURE
                } else {
                    StatusCode::OK
                };
                Response::status(id, code)
            }
            Request::Close { id, .. } => Response::status(id, StatusCode::OK),
            other => panic!("unexpected {other:?}"),
        };
        held.push(reply);
        if (1..4).contains(&writes) {
            return Vec::new();
        }
        std::mem::take(&mut held)
    });
    let sftp = SftpClient::new(stream).await.unwrap();
    let mut f = sftp.create(b"/f").await.unwrap();
    or_hang("a WRITE waited for its answer", async {
        f.write_all(&[7; 4 * 32 * 1024]).await.unwrap();
        // All four went out unanswered; the server answers once it has them.
        let e = f.flush().await.unwrap_err();
        assert!(e.to_string().contains("Failure"), "{e}");
    })
    .await;
    assert!(f.write_all(b"x").await.is_err());
    assert!(f.flush().await.is_err());
    let e = f.close().await.unwrap_err();
    assert!(matches!(e, SftpError::Status { code, .. } if code == StatusCode::FAILURE));
}

/// A listing with a name that is not one path component (`a/../../x`) stops `rmtree` before
/// it removes anything.
#[tokio::test]
async fn rmtree_refuses_entry_names_with_a_slash() {
    use sshwire::sftp::{NameEntry, Request, Response};
    let stream = scripted(|request| {
        vec![match request {
            Request::Lstat { id, .. } => Response::Attrs {
                id,
                attrs: Attrs {
                    permissions: Some(0o040_755),
                    ..Attrs::default()
                },
            },
            Request::Opendir { id, .. } => Response::Handle {
                id,
                handle: b"d".to_vec(),
            },
            Request::Readdir { id, .. } => Response::Name {
                id,
                entries: vec![NameEntry {
                    filename: b"a/../../x".to_vec(),
                    longname: Vec::new(),
                    attrs: Attrs {
                        permissions: Some(0o100_644),
                        ..Attrs::default()
                    },
                }],
            },
            Request::Close { id, .. } => Response::status(id, StatusCode::OK),
            other => panic!("rmtree sent {other:?}"),
        }]
    });
    let sftp = SftpClient::new(stream).await.unwrap();
    let e = sftp.rmtree(b"/t").await.unwrap_err();
    assert!(e.to_string().contains("a/../../x"), "{e}");
}
