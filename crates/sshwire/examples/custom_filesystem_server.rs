//! A minimal SSH server serving a file system of our own over SFTP, and a client reading it.
//!
//! `cargo run -p sshwire --example custom_filesystem_server`
//!
//! The SFTP server session (`sshwire_sftp::server`) answers every request from a
//! `Filesystem`: a trait of paths in and boxed futures out. sshwire ships two (an in-memory
//! tree and a jailed local directory); this program writes a third, a read-only directory of
//! files generated in memory, serves it on 127.0.0.1 (a port the system picks), logs in with
//! a `Client` using a key made for the occasion, lists and reads it, sees a write refused, and
//! shuts the server down. `docs/sftp-server.md` and `docs/endpoints.md` explain the pieces.

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::server::Server;
use sshwire::sftp::fs::{self, Capability, DirEntry, FsError, FsFuture, ready};
use sshwire::sftp::server::ServerConfig;
use sshwire::sftp::{Attrs, OpenFlags, Owner, StatusCode, Times};
use sshwire::sftp_client::SftpError;
use sshwire::sftp_server::SftpSubsystem;
use sshwire::{Authenticated, Authenticator, system_rng};
use tokio::io::AsyncReadExt;

// ----- the file system ---------------------------------------------------------------------

/// One directory, `/`, of read-only files held in memory.
struct Shelf {
    files: BTreeMap<Vec<u8>, Arc<Vec<u8>>>,
    /// The modification time of everything, in seconds since 1970 (SFTP v3 times are u32).
    mtime: u32,
}

/// `S_IFREG | 0444` and `S_IFDIR | 0555`: the file type is part of SFTP's permissions.
const FILE_MODE: u32 = 0o100_444;
const DIR_MODE: u32 = 0o040_555;

impl Shelf {
    /// The file a path names: `/name` (the server hands backends absolute paths).
    fn file(&self, path: &[u8]) -> Option<&Arc<Vec<u8>>> {
        self.files.get(normalize(path).strip_prefix(b"/")?)
    }

    fn is_root(path: &[u8]) -> bool {
        normalize(path) == b"/"
    }

    fn attrs(&self, path: &[u8]) -> Result<Attrs, FsError> {
        if Self::is_root(path) {
            return Ok(self.make_attrs(DIR_MODE, 0));
        }
        let data = self.file(path).ok_or_else(FsError::not_found)?;
        Ok(self.make_attrs(FILE_MODE, data.len()))
    }

    /// Attributes with a mode and a size. Fields left `None` are simply not sent.
    fn make_attrs(&self, mode: u32, size: usize) -> Attrs {
        Attrs {
            size: Some(size as u64),
            owner: Some(Owner { uid: 0, gid: 0 }),
            permissions: Some(mode),
            times: Some(Times {
                atime: self.mtime,
                mtime: self.mtime,
            }),
            extended: Vec::new(),
        }
    }

    /// A directory entry; the owner's names go into the `ls -l` line the server writes.
    fn entry(&self, name: &[u8], attrs: Attrs) -> DirEntry {
        DirEntry {
            name: name.to_vec(),
            attrs,
            owner_names: Some(("shelf".into(), "shelf".into())),
        }
    }
}

/// Resolves `.`, `..` and repeated slashes of an absolute path (`..` of `/` is `/`).
fn normalize(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    let mut out = Vec::new();
    for part in &parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Every request that would change something gets the same answer.
fn denied<'a, T: Send + 'a>() -> FsFuture<'a, T> {
    ready(Err(FsError::permission_denied()))
}

impl fs::Filesystem for Shelf {
    fn open<'a>(
        &'a self,
        path: &'a [u8],
        flags: OpenFlags,
        _attrs: &'a Attrs,
    ) -> FsFuture<'a, Box<dyn fs::File>> {
        let writes = OpenFlags::WRITE | OpenFlags::APPEND | OpenFlags::CREAT | OpenFlags::TRUNC;
        if flags.0 & writes.0 != 0 {
            return denied();
        }
        ready(match self.file(path) {
            Some(data) => {
                let attrs = self.make_attrs(FILE_MODE, data.len());
                Ok(Box::new(ShelfFile(data.clone(), attrs)) as Box<dyn fs::File>)
            }
            None => Err(FsError::not_found()),
        })
    }

    fn opendir<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Box<dyn fs::Dir>> {
        if !Self::is_root(path) {
            return ready(Err(FsError::not_found()));
        }
        // A listing is a snapshot; OpenSSH's server lists `.` and `..` too.
        let dir = self.make_attrs(DIR_MODE, 0);
        let mut entries = vec![self.entry(b".", dir.clone()), self.entry(b"..", dir)];
        for (name, data) in &self.files {
            entries.push(self.entry(name, self.make_attrs(FILE_MODE, data.len())));
        }
        ready(Ok(Box::new(ShelfDir(entries)) as Box<dyn fs::Dir>))
    }

    fn stat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        ready(self.attrs(path))
    }

    fn lstat<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Attrs> {
        // No symbolic links here: lstat is stat.
        ready(self.attrs(path))
    }

    fn realpath<'a>(&'a self, path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(Ok(normalize(path)))
    }

    fn readlink<'a>(&'a self, _path: &'a [u8]) -> FsFuture<'a, Vec<u8>> {
        ready(Err(FsError::new(
            StatusCode::FAILURE,
            "not a symbolic link",
        )))
    }

    fn setstat<'a>(&'a self, _path: &'a [u8], _attrs: &'a Attrs) -> FsFuture<'a, ()> {
        denied()
    }

    fn remove<'a>(&'a self, _path: &'a [u8]) -> FsFuture<'a, ()> {
        denied()
    }

    fn mkdir<'a>(&'a self, _path: &'a [u8], _attrs: &'a Attrs) -> FsFuture<'a, ()> {
        denied()
    }

    fn rmdir<'a>(&'a self, _path: &'a [u8]) -> FsFuture<'a, ()> {
        denied()
    }

    fn rename<'a>(&'a self, _from: &'a [u8], _to: &'a [u8]) -> FsFuture<'a, ()> {
        denied()
    }

    fn symlink<'a>(&'a self, _link: &'a [u8], _target: &'a [u8]) -> FsFuture<'a, ()> {
        denied()
    }

    /// The optional requests (posix-rename, statvfs, hardlink, fsync, lsetstat) keep their
    /// default bodies, so the server must not advertise their extensions.
    fn supports(&self, _capability: Capability) -> bool {
        false
    }
}

/// An open file: positional reads of shared bytes, and the file's attributes.
struct ShelfFile(Arc<Vec<u8>>, Attrs);

impl fs::File for ShelfFile {
    fn read_at(&self, offset: u64, len: u32) -> FsFuture<'_, Vec<u8>> {
        // Offsets come from the client: never index with them unchecked.
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start.saturating_add(len as usize).min(self.0.len());
        ready(Ok(self.0.get(start..end).unwrap_or_default().to_vec()))
    }

    fn write_at(&self, _offset: u64, _data: Vec<u8>) -> FsFuture<'_, ()> {
        denied()
    }

    fn stat(&self) -> FsFuture<'_, Attrs> {
        ready(Ok(self.1.clone()))
    }

    fn setstat<'a>(&'a self, _attrs: &'a Attrs) -> FsFuture<'a, ()> {
        denied()
    }
}

/// An open listing: hands out its entries, then nothing (the server answers EOF).
struct ShelfDir(Vec<DirEntry>);

impl fs::Dir for ShelfDir {
    fn next_entries(&mut self, max: usize) -> FsFuture<'_, Vec<DirEntry>> {
        let n = max.min(self.0.len());
        ready(Ok(self.0.drain(..n).collect()))
    }
}

// ----- who may log in ----------------------------------------------------------------------

/// One public key, under any user name; no passwords.
struct OneKey(PublicKey);

impl Authenticator for OneKey {
    fn public_key(&self, _user: &str, key: &PublicKey) -> bool {
        *key == self.0
    }

    fn password(&self, _user: &str, _password: &[u8]) -> bool {
        false
    }
}

// ----- the program -------------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut rng = system_rng();
    let host_key = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *rng)?);
    let user_key = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut *rng)?);

    let shelf = Arc::new(Shelf {
        files: BTreeMap::from([
            (
                b"hello.txt".to_vec(),
                Arc::new(b"Hello over SFTP!\n".to_vec()),
            ),
            (
                b"numbers.bin".to_vec(),
                Arc::new((0..100_000u32).map(|i| (i % 256) as u8).collect()),
            ),
        ]),
        mtime: 1_700_000_000,
    });

    // The server: default algorithms, one host key, our authenticator, and a handler that
    // serves the `sftp` subsystem from the shelf (every user sees the same one here).
    let server = Server::new(Default::default(), vec![host_key.clone()]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let served: Arc<dyn fs::Filesystem> = shelf;
    let handler = SftpSubsystem::new(move |user: &Authenticated| {
        println!("server: {} logged in with {:?}", user.user, user.methods);
        Some((served.clone(), ServerConfig::default()))
    });
    let authenticator = Arc::new(OneKey(user_key.public_key()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(async move {
        server
            .serve(
                listener,
                authenticator,
                Arc::new(handler),
                // Runs until this future completes: when `stop` is sent (or dropped).
                async {
                    let _ = stopped.await;
                },
                // Sessions still open at shutdown get this long to finish.
                Duration::from_secs(1),
                Arc::new(|line: &str| println!("server log: {line}")),
            )
            .await
    });
    println!("server: listening on 127.0.0.1:{port}");

    // The client: trust exactly the host key we made (a real client checks known_hosts with
    // sshwire::known_hosts::KnownHostsVerifier), and log in with the user key only.
    let expected = host_key.public_key();
    let mut verifier = move |key: &PublicKey| *key == expected;
    let mut auth = AuthOptions::new("reader");
    auth.use_agent = false;
    auth.preferred = vec!["publickey".into()];
    auth.identities
        .push(Identity::Key(user_key, "example key".into()));
    let client = Client::connect(
        "127.0.0.1",
        port,
        &ClientConfig::default(),
        &mut verifier,
        &auth,
        &mut NoPrompts,
    )
    .await?;
    println!("client: logged in");

    // An SFTP session on a channel of that connection.
    let sftp = client.sftp().await?;
    println!(
        "client: REALPATH of . is {}",
        String::from_utf8_lossy(&sftp.realpath(b".").await?)
    );
    for entry in sftp.list(b"/").await? {
        println!("client:   {}", String::from_utf8_lossy(&entry.longname));
    }

    // Read a file through `File`, an AsyncRead over READ requests.
    let mut text = String::new();
    sftp.open_read(b"/hello.txt")
        .await?
        .read_to_string(&mut text)
        .await?;
    println!("client: /hello.txt says {text:?}");
    let mut numbers = Vec::new();
    sftp.open_read(b"/sub/../numbers.bin")
        .await?
        .read_to_end(&mut numbers)
        .await?;
    let intact = numbers
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 256) as u8);
    println!(
        "client: /numbers.bin: {} bytes, intact: {intact}",
        numbers.len()
    );
    if !intact || numbers.len() != 100_000 {
        return Err("numbers.bin came back wrong".into());
    }

    // The file system refuses changes; the client sees the status code it chose.
    match sftp.create(b"/new.txt").await {
        Err(SftpError::Status { code, message }) if code == StatusCode::PERMISSION_DENIED => {
            println!("client: creating /new.txt: refused ({message})");
        }
        Ok(_) => return Err("a read-only file system accepted a new file".into()),
        Err(other) => return Err(other.into()),
    }

    // Close the session and the connection, then stop the server.
    drop(sftp);
    client.disconnect().await;
    let _ = stop.send(());
    server_task.await??;
    println!("server: stopped");
    Ok(())
}
