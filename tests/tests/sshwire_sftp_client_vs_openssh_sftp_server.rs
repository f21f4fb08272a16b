//! Our SFTP client against OpenSSH's own `sftp-server`, spawned as a process and spoken to
//! over its stdin and stdout: every request of SFTP v3 and every OpenSSH extension.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;

use sshwire::sftp::{Attrs, OpenFlags, StatusCode, Times};
use sshwire::sftp_client::{SftpClient, SftpError};
use sshwire_tests::openssh_available;

const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

async fn spawn_server() -> (SftpClient, tokio::process::Child) {
    let mut child = tokio::process::Command::new(SFTP_SERVER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stream = tokio::io::join(child.stdout.take().unwrap(), child.stdin.take().unwrap());
    (SftpClient::new(stream).await.unwrap(), child)
}

fn p(path: &Path) -> Vec<u8> {
    path.to_str().unwrap().as_bytes().to_vec()
}

#[tokio::test]
async fn every_request_and_extension_against_openssh_sftp_server() {
    if !openssh_available("every_request_and_extension_against_openssh_sftp_server")
        || !Path::new(SFTP_SERVER).exists()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sftp, _child) = spawn_server().await;
    // OpenSSH announces every extension, and limits@openssh.com raised the block sizes.
    for ext in [
        "posix-rename@openssh.com",
        "hardlink@openssh.com",
        "copy-data",
    ] {
        assert!(
            sftp.server()
                .extensions
                .iter()
                .any(|(n, _)| n == ext.as_bytes()),
            "{ext}"
        );
    }
    assert!(sftp.transfer_limits().read_len > 32 * 1024);

    // Files: create, write at offsets, read back, EOF, fstat, fsetstat.
    let file = d.join("f.bin");
    let h = sftp
        .open(
            &p(&file),
            OpenFlags::WRITE | OpenFlags::READ | OpenFlags::CREAT | OpenFlags::EXCL,
            Attrs {
                permissions: Some(0o600),
                ..Attrs::default()
            },
        )
        .await
        .unwrap();
    sftp.write(&h, 0, b"hello ".to_vec()).await.unwrap();
    sftp.write(&h, 6, b"world".to_vec()).await.unwrap();
    assert_eq!(
        sftp.read(&h, 0, 100).await.unwrap().unwrap(),
        b"hello world"
    );
    assert_eq!(sftp.read(&h, 11, 100).await.unwrap(), None);
    assert_eq!(sftp.fstat(&h).await.unwrap().size, Some(11));
    sftp.fsetstat(
        &h,
        Attrs {
            times: Some(Times {
                atime: 1_000_000_000,
                mtime: 1_000_000_000,
            }),
            ..Attrs::default()
        },
    )
    .await
    .unwrap();
    sftp.fsync(&h).await.unwrap();
    let vfs = sftp.fstatvfs(&h).await.unwrap();
    assert!(vfs.bsize > 0);
    sftp.close(&h).await.unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().mtime(), 1_000_000_000);
    // EXCL on an existing file fails.
    let e = sftp
        .open(
            &p(&file),
            OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::EXCL,
            Attrs::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, SftpError::Status { .. }), "{e}");

    // Many reads in flight at once, answered by id.
    let h = sftp
        .open(&p(&file), OpenFlags::READ, Attrs::default())
        .await
        .unwrap();
    let reads = (0..11u64).map(|i| {
        let (sftp, h) = (sftp.clone(), h.clone());
        tokio::spawn(async move { sftp.read(&h, i, 1).await.unwrap().unwrap() })
    });
    let mut bytes = Vec::new();
    for r in reads {
        bytes.extend(r.await.unwrap());
    }
    assert_eq!(bytes, b"hello world");
    sftp.close(&h).await.unwrap();

    // Paths: stat, lstat, setstat, realpath, symlink, readlink, rename, posix-rename,
    // hardlink, lsetstat, remove; directories: mkdir, opendir/readdir, rmdir.
    assert_eq!(sftp.stat(&p(&file)).await.unwrap().size, Some(11));
    sftp.setstat(
        &p(&file),
        Attrs {
            permissions: Some(0o640),
            ..Attrs::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o640);
    let dotted = format!("{}/./sub/../f.bin", d.display());
    std::fs::create_dir(d.join("sub")).unwrap();
    assert_eq!(
        sftp.realpath(dotted.as_bytes()).await.unwrap(),
        p(&file.canonicalize().unwrap())
    );
    let link = d.join("link");
    sftp.symlink(&p(&link), b"f.bin").await.unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("f.bin"));
    assert_eq!(sftp.readlink(&p(&link)).await.unwrap(), b"f.bin");
    let link_attrs = sftp.lstat(&p(&link)).await.unwrap();
    assert_eq!(link_attrs.permissions.unwrap() & 0o170000, 0o120000);
    sftp.lsetstat(
        &p(&link),
        Attrs {
            times: Some(Times { atime: 5, mtime: 5 }),
            ..Attrs::default()
        },
    )
    .await
    .unwrap();
    let renamed = d.join("g.bin");
    sftp.rename(&p(&file), &p(&renamed)).await.unwrap();
    let other = d.join("other");
    std::fs::write(&other, "x").unwrap();
    // SFTP v3 rename refuses to replace; posix-rename replaces.
    assert!(sftp.rename(&p(&other), &p(&renamed)).await.is_err());
    sftp.posix_rename(&p(&other), &p(&renamed)).await.unwrap();
    assert_eq!(std::fs::read(&renamed).unwrap(), b"x");
    let hard = d.join("hard");
    sftp.hardlink(&p(&renamed), &p(&hard)).await.unwrap();
    assert_eq!(std::fs::metadata(&hard).unwrap().nlink(), 2);
    sftp.remove(&p(&hard)).await.unwrap();
    sftp.mkdir(
        &p(&d.join("newdir")),
        Attrs {
            permissions: Some(0o700),
            ..Attrs::default()
        },
    )
    .await
    .unwrap();
    let mut names: Vec<Vec<u8>> = sftp
        .list(&p(d))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.filename)
        .collect();
    names.sort();
    let expected: Vec<&[u8]> = vec![b".", b"..", b"g.bin", b"link", b"newdir", b"sub"];
    assert_eq!(names, expected);
    sftp.rmdir(&p(&d.join("newdir"))).await.unwrap();
    let e = sftp.stat(&p(&d.join("newdir"))).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");

    // Extensions: statvfs, limits, expand-path, home-directory, copy-data, users-groups.
    assert!(sftp.statvfs(&p(d)).await.unwrap().blocks > 0);
    let limits = sftp.limits().await.unwrap();
    assert!(limits.max_read_length >= 32 * 1024);
    // Relative paths expand against the server's working directory, which is ours.
    let expanded = sftp.expand_path(b"./.").await.unwrap();
    assert_eq!(
        Path::new(std::str::from_utf8(&expanded).unwrap()),
        std::env::current_dir().unwrap().canonicalize().unwrap()
    );
    let user = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(!sftp.home_directory(user.trim()).await.unwrap().is_empty());
    std::fs::write(d.join("src"), b"0123456789").unwrap();
    let from = sftp
        .open(&p(&d.join("src")), OpenFlags::READ, Attrs::default())
        .await
        .unwrap();
    let to = sftp
        .open(
            &p(&d.join("dst")),
            OpenFlags::WRITE | OpenFlags::CREAT,
            Attrs::default(),
        )
        .await
        .unwrap();
    sftp.copy_data(&from, 2, 5, &to, 0).await.unwrap();
    sftp.close(&from).await.unwrap();
    sftp.close(&to).await.unwrap();
    assert_eq!(std::fs::read(d.join("dst")).unwrap(), b"23456");
    let names = sftp.users_groups_by_id(vec![0], vec![0]).await.unwrap();
    assert_eq!(names.user_names, vec![b"root".to_vec()]);

    // Errors carry the server's status.
    let e = sftp.stat(b"/no/such/path").await.unwrap_err();
    assert!(matches!(&e, SftpError::Status { code, .. } if *code == StatusCode::NO_SUCH_FILE));
    let e = sftp.read(b"bogus-handle", 0, 10).await.unwrap_err();
    assert!(matches!(e, SftpError::Status { .. }), "{e}");
}

/// The remote `File` and the conveniences against OpenSSH's server: a pipelined round trip
/// of several blocks with seeks, append, fsync, copy (OpenSSH offers copy-data), the working
/// directory, makedirs and an rmtree that does not follow a link out of the tree.
#[tokio::test]
async fn file_api_against_openssh_sftp_server() {
    use std::io::SeekFrom;
    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

    if !openssh_available("file_api_against_openssh_sftp_server")
        || !Path::new(SFTP_SERVER).exists()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (mut sftp, _child) = spawn_server().await;
    assert!(sftp.server().supports("copy-data", "1"));
    assert!(sftp.server().supports("fsync@openssh.com", "1"));
    sftp.chdir(&p(d)).await.unwrap();
    assert_eq!(sftp.getcwd().unwrap(), p(&d.canonicalize().unwrap()));

    // 2 MB: eight blocks of OpenSSH's 255 KiB and a bit, written through relative paths.
    let data: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let mut f = sftp.create(b"big.bin").await.unwrap();
    for piece in data.chunks(70_001) {
        f.write_all(piece).await.unwrap();
    }
    f.fsync().await.unwrap();
    f.close().await.unwrap();
    assert!(std::fs::read(d.join("big.bin")).unwrap() == data);

    let mut f = sftp.open_read(b"big.bin").await.unwrap();
    let mut all = Vec::new();
    f.read_to_end(&mut all).await.unwrap();
    assert!(all == data);
    assert_eq!(f.seek(SeekFrom::Start(1_234_567)).await.unwrap(), 1_234_567);
    let mut buf = [0u8; 1000];
    f.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf[..], &data[1_234_567..1_235_567]);
    assert_eq!(f.seek(SeekFrom::End(-3)).await.unwrap(), 1_999_997);
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).await.unwrap();
    assert_eq!(tail, &data[1_999_997..]);
    assert_eq!(f.read_at(100, 5).await.unwrap(), &data[100..105]);
    f.close().await.unwrap();

    // Append: after what is there.
    std::fs::write(d.join("log"), b"one\n").unwrap();
    let mut f = sftp
        .open_file(b"log", sshwire::sftp_file::OpenOptions::new().append(true))
        .await
        .unwrap();
    f.write_all(b"two\n").await.unwrap();
    f.close().await.unwrap();
    assert_eq!(std::fs::read(d.join("log")).unwrap(), b"one\ntwo\n");

    // A failed write (to a file opened read-only) surfaces at flush.
    let mut f = sftp.open_read(b"log").await.unwrap();
    f.write_all(b"x").await.unwrap();
    assert!(f.flush().await.is_err());
    assert!(f.close().await.is_err());

    // copy: by copy-data on the server.
    assert_eq!(sftp.copy(b"big.bin", b"copy.bin").await.unwrap(), 2_000_000);
    assert!(std::fs::read(d.join("copy.bin")).unwrap() == data);

    // makedirs, the predicates, and rmtree not following a link out of the tree.
    sftp.makedirs(b"t/u/v", 0o755).await.unwrap();
    assert!(d.join("t/u/v").is_dir());
    assert!(sftp.is_dir(b"t/u").await.unwrap());
    assert!(sftp.is_file(b"log").await.unwrap());
    assert!(!sftp.exists(b"t/none").await.unwrap());
    std::fs::create_dir(d.join("outside")).unwrap();
    std::fs::write(d.join("outside/keep"), b"k").unwrap();
    std::os::unix::fs::symlink(d.join("outside"), d.join("t/u/link")).unwrap();
    std::fs::write(d.join("t/u/v/f"), b"f").unwrap();
    sftp.rmtree(b"t").await.unwrap();
    assert!(!d.join("t").exists());
    assert_eq!(std::fs::read(d.join("outside/keep")).unwrap(), b"k");
}

/// Regular files (mode, mtime, content) and directories (mode) under `top`, by relative path.
fn tree_of(top: &Path) -> std::collections::BTreeMap<String, (u32, i64, Vec<u8>)> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![std::path::PathBuf::new()];
    while let Some(rel) = todo.pop() {
        for entry in std::fs::read_dir(top.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let rel = rel.join(entry.file_name());
            let key = rel.to_str().unwrap().to_owned();
            if meta.is_dir() {
                out.insert(key, (meta.mode() & 0o7777, 0, Vec::new()));
                todo.push(rel);
            } else if meta.is_file() {
                let data = std::fs::read(entry.path()).unwrap();
                out.insert(key, (meta.mode() & 0o7777, meta.mtime(), data));
            }
        }
    }
    out
}

#[tokio::test]
async fn tree_upload_and_download_against_openssh_sftp_server() {
    use sshwire::sftp_transfer::Transfer;
    use sshwire::sftp_tree::TreeTransfer;

    if !openssh_available("tree_upload_and_download_against_openssh_sftp_server")
        || !Path::new(SFTP_SERVER).exists()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::create_dir(src.join("empty")).unwrap();
    std::fs::write(src.join("a.txt"), b"hello").unwrap();
    std::fs::write(src.join("zero"), b"").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(src.join("sub/big"), &big).unwrap();
    std::fs::write(src.join("sub/deeper/ro"), b"read only").unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    for (path, mode) in [("empty", 0o700), ("sub/deeper/ro", 0o444), ("a.txt", 0o640)] {
        std::fs::set_permissions(
            src.join(path),
            std::os::unix::fs::PermissionsExt::from_mode(mode),
        )
        .unwrap();
    }
    let original = tree_of(&src);
    let (sftp, _child) = spawn_server().await;
    let how = TreeTransfer {
        file: Transfer {
            preserve: true,
            ..Transfer::default()
        },
        ..TreeTransfer::default()
    };

    // put -r -p: the link is skipped, everything else arrives as it was.
    let up = d.join("up");
    let summary = sftp
        .upload_tree(&src, &p(&up), &how, &mut ())
        .await
        .unwrap();
    assert_eq!((summary.files, summary.dirs, summary.skipped), (4, 4, 1));
    assert_eq!(tree_of(&up), original);

    // get -r -p back.
    let down = d.join("down");
    let summary = sftp
        .download_tree(&p(&up), &down, &how, &mut ())
        .await
        .unwrap();
    assert_eq!(summary.files, 4);
    assert_eq!(tree_of(&down), original);

    // A sync against the same server finds nothing to do.
    let sync = TreeTransfer {
        sync: true,
        ..TreeTransfer::default()
    };
    let summary = sftp
        .download_tree(&p(&up), &down, &sync, &mut ())
        .await
        .unwrap();
    assert_eq!((summary.files, summary.skipped), (0, 4));
}

/// Dropping the last handle ends the session: the server's stdin is closed, so a spawned
/// `sftp-server` exits by itself (shutting a tokio `ChildStdin` down would not close it).
#[tokio::test]
async fn dropping_the_client_ends_a_spawned_server() {
    if !openssh_available("dropping_the_client_ends_a_spawned_server")
        || !Path::new(SFTP_SERVER).exists()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (sftp, mut child) = spawn_server().await;
    let handle = sftp
        .open(
            &p(&dir.path().join("f")),
            OpenFlags::WRITE | OpenFlags::CREAT,
            Attrs::default(),
        )
        .await
        .unwrap();
    assert!(!handle.is_empty());
    drop(sftp);
    // A bound on the wait so that a regression fails instead of hanging the suite; the
    // server exits as soon as it reads EOF.
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait())
        .await
        .expect("sftp-server still running a minute after the client was dropped")
        .unwrap();
    assert!(status.success(), "{status}");
}
