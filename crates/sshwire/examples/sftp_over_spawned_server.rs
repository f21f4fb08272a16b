//! An SFTP client over a spawned OpenSSH `sftp-server`, without SSH.
//!
//! `cargo run -p sshwire --example sftp_over_spawned_server`
//!
//! SFTP is only a byte stream of packets: over SSH it rides a channel (the `sftp`
//! subsystem), but `SftpClient` takes any `AsyncRead + AsyncWrite`. OpenSSH's `sftp-server`
//! speaks SFTP on its standard input and output, so a pipe to it is a whole SFTP session.
//! This program uploads a file into a temporary directory through it, lists the directory,
//! downloads the file again and checks that it came back byte for byte. `docs/sftp.md`
//! explains the client.

use std::error::Error;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Stdio;

use sshwire::sftp_client::SftpClient;
use sshwire::sftp_transfer::Transfer;

/// Where Debian and Ubuntu install OpenSSH's SFTP server (package openssh-sftp-server).
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    if !Path::new(SFTP_SERVER).exists() {
        return Err(
            format!("{SFTP_SERVER} is not installed (apt install openssh-sftp-server)").into(),
        );
    }

    // A scratch directory: the "remote" side, which the server sees as its file system.
    let dir = tempfile::tempdir()?;
    let local = tempfile::tempdir()?;
    let remote_dir = dir.path().as_os_str().as_bytes().to_vec();

    // Spawn the server with pipes on its stdin and stdout. `kill_on_drop` ends it if this
    // program stops early; the `Child` must live as long as the session.
    let mut child = tokio::process::Command::new(SFTP_SERVER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("the server has no pipes".into());
    };

    // INIT, VERSION, and limits@openssh.com when the server offers it: one call.
    let sftp = SftpClient::new(tokio::io::join(stdout, stdin)).await?;
    println!(
        "server speaks SFTP version {} with {} extensions",
        sftp.server().version,
        sftp.server().extensions.len()
    );

    // Paths on the wire are bytes, never text that could be converted lossily.
    let original: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let source = local.path().join("source.bin");
    std::fs::write(&source, &original)?;
    let remote: Vec<u8> = [&remote_dir[..], b"/copy.bin"].concat();

    // A whole-file upload: many WRITEs in flight, the server applying them in order.
    let mut quiet = |_: u64, _: Option<u64>| {};
    let sent = sftp
        .upload(&source, &remote, Transfer::default(), &mut quiet)
        .await?;
    println!(
        "uploaded {sent} bytes to {}",
        String::from_utf8_lossy(&remote)
    );
    sftp.mkdir(&[&remote_dir[..], b"/subdir"].concat(), Default::default())
        .await?;

    // OPENDIR, READDIR until EOF, CLOSE.
    let mut entries = sftp.list(&remote_dir).await?;
    entries.sort_by(|a, b| a.filename.cmp(&b.filename));
    println!("listing of {}:", String::from_utf8_lossy(&remote_dir));
    for entry in &entries {
        // `longname` is the server's `ls -l` line, for people; programs use `attrs`.
        println!("  {}", String::from_utf8_lossy(&entry.longname));
    }

    // And back: a pipelined download, written strictly in order.
    let target = local.path().join("back.bin");
    let received = sftp
        .download(&remote, &target, Transfer::default(), &mut quiet)
        .await?;
    let back = std::fs::read(&target)?;
    if back != original {
        return Err("the file came back different".into());
    }
    println!("downloaded {received} bytes: identical to the original");

    // Dropping the last client handle ends the session: once what it sent is written, both
    // halves of the stream are dropped, the server's stdin closes, and it exits at the end of
    // its input.
    drop(sftp);
    let status = child.wait().await?;
    println!("sftp-server exited: {status}");
    Ok(())
}
