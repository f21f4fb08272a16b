//! Our SFTP client and our SFTP server over an in-memory stream, the server serving a
//! `MemoryFs`: every request of SFTP v3 and every extension, the policy, and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::sync::Arc;

use sshwire::sftp::fs::Filesystem;
use sshwire::sftp::memory::MemoryFs;
use sshwire::sftp::server::ServerConfig;
use sshwire::sftp::{Attrs, OpenFlags, StatusCode, Times};
use sshwire::sftp_client::{SftpClient, SftpError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A client talking to a server that serves `fs` with `config`.
async fn pair(fs: MemoryFs, config: ServerConfig) -> SftpClient {
    let (a, b) = tokio::io::duplex(512 * 1024);
    let fs: Arc<dyn Filesystem> = Arc::new(fs);
    tokio::spawn(async move {
        let _ = sshwire::sftp_server::serve(b, fs, config, None).await;
    });
    SftpClient::new(a).await.unwrap()
}

fn status(e: &SftpError) -> StatusCode {
    match e {
        SftpError::Status { code, .. } => *code,
        other => panic!("not a status: {other}"),
    }
}

#[tokio::test]
async fn every_request_and_extension_over_memory_fs() {
    let fs = MemoryFs::new();
    let sftp = pair(fs.clone(), ServerConfig::default()).await;
    for (name, version) in sshwire::sftp::OPENSSH_EXTENSIONS {
        assert!(sftp.server().supports(name, version), "{name} {version}");
    }
    // limits@openssh.com: 255 KiB blocks.
    assert_eq!(sftp.transfer_limits().read_len, 255 * 1024);
    let limits = sftp.limits().await.unwrap();
    assert_eq!(limits.max_packet_length, 256 * 1024);
    assert_eq!(limits.max_open_handles, 1024);

    sftp.mkdir(b"/d", Attrs::default()).await.unwrap();
    let h = sftp
        .open(
            b"/d/f",
            OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::EXCL,
            Attrs {
                permissions: Some(0o644),
                ..Attrs::default()
            },
        )
        .await
        .unwrap();
    // Concurrent writes of different blocks, then concurrent reads back.
    let block = 255 * 1024;
    let data: Vec<u8> = (0..block * 4 + 17).map(|i| (i % 253) as u8).collect();
    let writes: Vec<_> = data
        .chunks(block)
        .enumerate()
        .map(|(i, c)| {
            let (sftp, h, c) = (sftp.clone(), h.clone(), c.to_vec());
            tokio::spawn(async move { sftp.write(&h, (i * block) as u64, c).await })
        })
        .collect();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    let mut back = Vec::new();
    let mut offset = 0u64;
    while let Some(chunk) = sftp.read(&h, offset, u32::MAX).await.unwrap() {
        // A READ of 2^32-1 bytes is clamped, not refused.
        assert!(chunk.len() <= block);
        offset += chunk.len() as u64;
        back.extend(chunk);
    }
    assert!(back == data);
    assert_eq!(sftp.fstat(&h).await.unwrap().size, Some(data.len() as u64));
    sftp.fsetstat(
        &h,
        Attrs {
            size: Some(10),
            ..Attrs::default()
        },
    )
    .await
    .unwrap();
    sftp.fsync(&h).await.unwrap();
    assert!(sftp.fstatvfs(&h).await.unwrap().bsize > 0);
    sftp.close(&h).await.unwrap();
    assert_eq!(fs.read_file(b"/d/f").unwrap(), &data[..10]);
    // A closed handle is stale.
    let e = sftp.read(&h, 0, 10).await.unwrap_err();
    assert_eq!(status(&e), StatusCode::FAILURE);

    // Paths.
    assert_eq!(sftp.stat(b"/d/f").await.unwrap().size, Some(10));
    sftp.setstat(
        b"/d/f",
        Attrs {
            permissions: Some(0o600),
            times: Some(Times { atime: 7, mtime: 8 }),
            ..Attrs::default()
        },
    )
    .await
    .unwrap();
    let a = sftp.stat(b"/d/f").await.unwrap();
    assert_eq!(a.permissions.unwrap() & 0o777, 0o600);
    assert_eq!(a.times.unwrap().mtime, 8);
    assert_eq!(sftp.realpath(b"/d/./../d//f").await.unwrap(), b"/d/f");
    assert_eq!(sftp.realpath(b".").await.unwrap(), b"/");
    sftp.symlink(b"/d/l", b"f").await.unwrap();
    assert_eq!(sftp.readlink(b"/d/l").await.unwrap(), b"f");
    assert_eq!(
        sftp.lstat(b"/d/l").await.unwrap().permissions.unwrap() & 0o170000,
        0o120000
    );
    assert_eq!(sftp.stat(b"/d/l").await.unwrap().size, Some(10));
    sftp.lsetstat(
        b"/d/l",
        Attrs {
            times: Some(Times { atime: 1, mtime: 1 }),
            ..Attrs::default()
        },
    )
    .await
    .unwrap();
    sftp.hardlink(b"/d/f", b"/d/h").await.unwrap();
    fs.write_file(b"/d/g", b"gg").unwrap();
    assert_eq!(
        status(&sftp.rename(b"/d/g", b"/d/h").await.unwrap_err()),
        StatusCode::FAILURE
    );
    sftp.posix_rename(b"/d/g", b"/d/h").await.unwrap();
    assert_eq!(fs.read_file(b"/d/h").unwrap(), b"gg");
    sftp.rename(b"/d/h", b"/d/i").await.unwrap();
    sftp.remove(b"/d/i").await.unwrap();
    let mut names: Vec<Vec<u8>> = sftp
        .list(b"/d")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.filename)
        .collect();
    names.sort();
    let expected: Vec<&[u8]> = vec![b".", b"..", b"f", b"l"];
    assert_eq!(names, expected);
    // ls -l lines: a mode string, then the name last.
    let listing = sftp.list(b"/d").await.unwrap();
    let f = listing.iter().find(|e| e.filename == b"f").unwrap();
    let long = String::from_utf8(f.longname.clone()).unwrap();
    assert!(long.starts_with("-rw-------"), "{long}");
    assert!(long.ends_with(" f"), "{long}");
    assert_eq!(
        status(&sftp.rmdir(b"/d").await.unwrap_err()),
        StatusCode::FAILURE
    );
    sftp.mkdir(b"/e", Attrs::default()).await.unwrap();
    sftp.rmdir(b"/e").await.unwrap();
    assert!(sftp.stat(b"/e").await.unwrap_err().is_not_found());

    // Extensions.
    assert!(sftp.statvfs(b"/").await.unwrap().bsize > 0);
    assert_eq!(sftp.expand_path(b"~/d").await.unwrap(), b"/d");
    let from = sftp
        .open(b"/d/f", OpenFlags::READ, Attrs::default())
        .await
        .unwrap();
    let to = sftp
        .open(
            b"/d/copy",
            OpenFlags::WRITE | OpenFlags::CREAT,
            Attrs::default(),
        )
        .await
        .unwrap();
    sftp.copy_data(&from, 2, 0, &to, 0).await.unwrap();
    sftp.close(&from).await.unwrap();
    sftp.close(&to).await.unwrap();
    assert_eq!(fs.read_file(b"/d/copy").unwrap(), &data[2..10]);
    let names = sftp.users_groups_by_id(vec![0], vec![0]).await.unwrap();
    assert_eq!(names.user_names.len(), 1);
    assert_eq!(names.group_names.len(), 1);
}

#[tokio::test]
async fn read_only_and_deny_lists_refuse_every_write() {
    let fs = MemoryFs::new();
    fs.write_file(b"/keep", b"keep").unwrap();
    let sftp = pair(
        fs.clone(),
        ServerConfig {
            read_only: true,
            ..ServerConfig::default()
        },
    )
    .await;
    let denied = StatusCode::PERMISSION_DENIED;
    let e = sftp
        .open(
            b"/new",
            OpenFlags::WRITE | OpenFlags::CREAT,
            Attrs::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status(&e), denied);
    for e in [
        sftp.mkdir(b"/x", Attrs::default()).await.unwrap_err(),
        sftp.remove(b"/keep").await.unwrap_err(),
        sftp.rename(b"/keep", b"/y").await.unwrap_err(),
        sftp.symlink(b"/y", b"/keep").await.unwrap_err(),
        sftp.setstat(b"/keep", Attrs::default()).await.unwrap_err(),
    ] {
        assert_eq!(status(&e), denied, "{e}");
    }
    // Writing extensions are not even announced, as OpenSSH's `sftp-server -R` does; asked
    // anyway, they are refused.
    use sshwire::sftp::{ExtendedRequest, Request, Response};
    assert!(!sftp.server().supports(ExtendedRequest::POSIX_RENAME, "1"));
    for request in [
        ExtendedRequest::PosixRename {
            old_path: b"/keep".to_vec(),
            new_path: b"/y".to_vec(),
        },
        ExtendedRequest::Hardlink {
            old_path: b"/keep".to_vec(),
            new_path: b"/y".to_vec(),
        },
        ExtendedRequest::Lsetstat {
            path: b"/keep".to_vec(),
            attrs: Attrs::default(),
        },
    ] {
        let reply = sftp
            .call(|id| Request::Extended { id, request })
            .await
            .unwrap();
        assert!(
            matches!(reply, Response::Status { code, .. } if code == denied),
            "{reply:?}"
        );
    }
    // Reads still work, and nothing changed.
    let h = sftp
        .open(b"/keep", OpenFlags::READ, Attrs::default())
        .await
        .unwrap();
    assert_eq!(sftp.read(&h, 0, 10).await.unwrap().unwrap(), b"keep");
    assert_eq!(fs.read_file(b"/keep").unwrap(), b"keep");
    assert!(fs.read_file(b"/new").is_err());

    use sshwire::sftp::server::RequestKind;
    let sftp = pair(
        fs.clone(),
        ServerConfig {
            denied: vec![RequestKind::from_name("remove").unwrap()],
            ..ServerConfig::default()
        },
    )
    .await;
    assert_eq!(status(&sftp.remove(b"/keep").await.unwrap_err()), denied);
    sftp.mkdir(b"/allowed", Attrs::default()).await.unwrap();
}

#[tokio::test]
async fn handles_are_capped_and_freed() {
    let fs = MemoryFs::new();
    fs.write_file(b"/f", b"x").unwrap();
    let sftp = pair(fs, ServerConfig::default()).await;
    let mut handles = Vec::new();
    let mut refused = 0;
    for _ in 0..2000 {
        match sftp.open(b"/f", OpenFlags::READ, Attrs::default()).await {
            Ok(h) => handles.push(h),
            Err(e) => {
                assert_eq!(status(&e), StatusCode::FAILURE);
                refused += 1;
            }
        }
    }
    assert_eq!((handles.len(), refused), (1024, 976));
    sftp.close(&handles.pop().unwrap()).await.unwrap();
    sftp.open(b"/f", OpenFlags::READ, Attrs::default())
        .await
        .unwrap();
    // Forged handles fail like stale ones.
    let e = sftp.read(b"\0\0\0\0forged!!", 0, 1).await.unwrap_err();
    assert_eq!(status(&e), StatusCode::FAILURE);
}

#[tokio::test]
async fn bad_input_ends_the_session_without_harm() {
    // Lengths 0, 0xFFFFFFFF and the limit plus one; a request before INIT.
    let max = 256 * 1024u32;
    for bytes in [
        vec![0, 0, 0, 0],
        vec![0xff, 0xff, 0xff, 0xff],
        (max + 1).to_be_bytes().to_vec(),
        vec![0, 0, 0, 9, 17, 0, 0, 0, 1, 0, 0, 0, 0],
    ] {
        let (mut a, b) = tokio::io::duplex(64 * 1024);
        let fs: Arc<dyn Filesystem> = Arc::new(MemoryFs::new());
        let server = tokio::spawn(async move {
            sshwire::sftp_server::serve(b, fs, ServerConfig::default(), None).await
        });
        a.write_all(&bytes).await.unwrap();
        // The server hangs up: our read ends.
        let mut rest = Vec::new();
        let _ = a.read_to_end(&mut rest).await;
        assert!(server.await.unwrap().is_err(), "{bytes:?} was accepted");
    }
    // Unknown request types and extensions get OP_UNSUPPORTED and the session goes on.
    let sftp = pair(MemoryFs::new(), ServerConfig::default()).await;
    let reply = sftp
        .call(|id| sshwire::sftp::Request::Extended {
            id,
            request: sshwire::sftp::ExtendedRequest::Unknown {
                name: b"nonsense@example.com".to_vec(),
                data: vec![1, 2, 3],
            },
        })
        .await
        .unwrap();
    assert!(
        matches!(reply, sshwire::sftp::Response::Status { code, .. } if code == StatusCode::OP_UNSUPPORTED)
    );
    // Names with NUL never reach the backend.
    let e = sftp.stat(b"/a\0b").await.unwrap_err();
    assert_eq!(status(&e), StatusCode::NO_SUCH_FILE);
    sftp.mkdir(b"/still-fine", Attrs::default()).await.unwrap();
}

mod transfers {
    use super::*;
    use sshwire::sftp_transfer::{Transfer, TransferError};

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 13 + i / 1000) as u8).collect()
    }

    #[tokio::test]
    async fn downloads_are_exact_resumable_and_never_clobber() {
        let fs = MemoryFs::new();
        let data = content(3_000_017);
        fs.write_file(b"/big", &data).unwrap();
        let sftp = pair(fs.clone(), ServerConfig::default()).await;
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("big");
        // Into a new file, with progress that only grows and ends at the size.
        let mut seen = Vec::new();
        let n = sftp
            .download(b"/big", &local, Transfer::default(), &mut |done, total| {
                seen.push((done, total))
            })
            .await
            .unwrap();
        assert_eq!(n, data.len() as u64);
        assert!(std::fs::read(&local).unwrap() == data);
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(seen.last(), Some(&(n, Some(n))));
        // Resume from a prefix (as a kill -9 leaves it): the same file.
        std::fs::write(&local, &data[..1_234_567]).unwrap();
        let resume = Transfer {
            resume: true,
            ..Transfer::default()
        };
        sftp.download(b"/big", &local, resume, &mut |_, _| {})
            .await
            .unwrap();
        assert!(std::fs::read(&local).unwrap() == data);
        // A local file longer than the remote one cannot be resumed, and is left alone.
        let mut longer = data.clone();
        longer.push(1);
        std::fs::write(&local, &longer).unwrap();
        let e = sftp
            .download(b"/big", &local, resume, &mut |_, _| {})
            .await
            .unwrap_err();
        assert!(matches!(e, TransferError::CannotResume(_)), "{e}");
        assert_eq!(std::fs::read(&local).unwrap(), longer);
        // A failed download over an existing file leaves it as it was, and no debris.
        std::fs::write(&local, b"precious").unwrap();
        let e = sftp
            .download(b"/missing", &local, Transfer::default(), &mut |_, _| {})
            .await
            .unwrap_err();
        assert!(matches!(e, TransferError::Remote(_)), "{e}");
        assert_eq!(std::fs::read(&local).unwrap(), b"precious");
        // A good one replaces it, through a temporary file that does not stay behind.
        sftp.download(b"/big", &local, Transfer::default(), &mut |_, _| {})
            .await
            .unwrap();
        assert!(std::fs::read(&local).unwrap() == data);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[tokio::test]
    async fn uploads_are_exact_resumable_and_preserve_on_request() {
        use std::os::unix::fs::PermissionsExt;
        let fs = MemoryFs::new();
        let sftp = pair(fs.clone(), ServerConfig::default()).await;
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("up");
        let data = content(2_500_001);
        std::fs::write(&local, &data).unwrap();
        std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o640)).unwrap();
        let modified = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        std::fs::File::options()
            .write(true)
            .open(&local)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        let how = Transfer {
            preserve: true,
            block: 100_000,
            ..Transfer::default()
        };
        let n = sftp
            .upload(&local, b"/up", how, &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(n, data.len() as u64);
        assert!(fs.read_file(b"/up").unwrap() == data);
        let attrs = sftp.stat(b"/up").await.unwrap();
        assert_eq!(attrs.permissions.unwrap() & 0o777, 0o640);
        assert_eq!(attrs.times.unwrap().mtime, 1_600_000_000);
        // reput: the remote has a prefix; the rest follows.
        fs.write_file(b"/half", &data[..777_777]).unwrap();
        let resume = Transfer {
            resume: true,
            ..Transfer::default()
        };
        sftp.upload(&local, b"/half", resume, &mut |_, _| {})
            .await
            .unwrap();
        assert!(fs.read_file(b"/half").unwrap() == data);
    }
}

#[tokio::test]
async fn a_resume_over_an_existing_file_continues_its_temporary_prefix() {
    use sshwire::sftp_transfer::Transfer;
    let fs = MemoryFs::new();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
    fs.write_file(b"/f", &data).unwrap();
    let sftp = pair(fs, ServerConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    // An old version of the file, and the prefix an interrupted download left beside it.
    std::fs::write(&local, b"old version").unwrap();
    std::fs::write(dir.path().join(".f.sshwire-part"), &data[..300_000]).unwrap();
    let resume = Transfer {
        resume: true,
        ..Transfer::default()
    };
    sftp.download(b"/f", &local, resume, &mut |_, _| {})
        .await
        .unwrap();
    assert!(std::fs::read(&local).unwrap() == data);
    assert!(!dir.path().join(".f.sshwire-part").exists());
}

#[tokio::test]
async fn a_download_to_a_device_writes_through_it_and_leaves_it_alone() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let fs = MemoryFs::new();
    fs.write_file(b"/big", &vec![7u8; 600_000]).unwrap();
    let sftp = pair(fs, ServerConfig::default()).await;
    let null = std::path::Path::new("/dev/null");
    let before = std::fs::metadata(null).unwrap();
    // `-p` too: a device must not get the remote file's mode.
    let how = sshwire::sftp_transfer::Transfer {
        preserve: true,
        ..Default::default()
    };
    let n = sftp
        .download(b"/big", null, how, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(n, 600_000);
    let after = std::fs::metadata(null).unwrap();
    assert!(after.file_type().is_char_device());
    assert_eq!(after.mode(), before.mode());
    assert!(!std::path::Path::new("/dev/.null.sshwire-part").exists());
}
