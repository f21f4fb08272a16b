//! The commands of an sftp session, run against one [`SftpClient`].
//!
//! Each command prints what OpenSSH's sftp prints: results on standard output, one line per
//! problem on standard error, and reports whether it succeeded, which decides whether a batch
//! goes on.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use sshwire::sftp::{Attrs, ExtendedRequest, OpenFlags, Owner};
use sshwire::sftp_client::{SftpClient, SftpError};
use sshwire::sftp_glob::local_glob;
use sshwire::sftp_transfer::{Transfer, TransferError};
use sshwire::sftp_tree::{TreeEvents, TreeTransfer};

use super::line::{self, Command, LsFlags, TransferFlags};
use super::ls::{self, Entry};
use super::paths::{absolute, append, base_name, is_absolute, strip_prefix};
use super::progress::{Board, Meter};
use crate::transfer_failure::{self, Resume};

/// `S_IFMT` and the directory type of a mode.
const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;

/// Settings that apply to every command: the command-line flags `-a -f -p -r`, `-B`, `-R`, `-X`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defaults {
    /// The flags every get/put gets.
    pub flags: TransferFlags,
    /// `-B`: block size (0: the server's limits).
    pub block: u32,
    /// `-R`: requests in flight (0: chosen by block size and round trip, see
    /// [`sshwire::sftp_transfer::automatic_in_flight`]).
    pub in_flight: usize,
    /// `-X streams=`: sessions a large download reads over (0: chosen by server).
    pub streams: usize,
    /// `-q` or batch mode: no informational messages.
    pub quiet: bool,
    /// Whether the progress meter starts on (not in batch mode nor with `-q`).
    pub progress: bool,
    /// Whether a progress meter may be drawn at all: standard output is a terminal and
    /// commands come from it, not from a batch.
    pub meter: bool,
}

/// What a command asks of the session after it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It worked.
    Done,
    /// It failed (its error is printed).
    Failed,
    /// `bye`.
    Quit,
}

/// One sftp session's state: the server, the remote working directory, the settings.
pub struct Shell {
    sftp: SftpClient,
    pwd: Vec<u8>,
    start: Vec<u8>,
    defaults: Defaults,
    /// Whether the progress meter is on (`progress` toggles it).
    pub progress: bool,
    /// Whether the session was lost during a transfer: the session ends with status 255,
    /// as OpenSSH's sftp exits when the connection closes.
    pub lost: bool,
}

fn is_dir(a: &Attrs) -> bool {
    a.permissions.is_some_and(|p| p & S_IFMT == S_IFDIR)
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// An I/O error's text without Rust's `(os error N)`.
fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
        None => text,
    }
}

fn error(line: impl AsRef<str>) {
    let _ = std::io::stdout().flush();
    eprintln!("{}", line.as_ref());
}

fn out(text: impl AsRef<str>) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_ref().as_bytes());
}

fn transfer_error(e: &TransferError, remote: &str, local: &str, download: bool) -> String {
    match e {
        TransferError::Remote(e) => match download {
            true => format!("download \"{remote}\": {e}"),
            false => format!("upload \"{local}\" to \"{remote}\": {e}"),
        },
        TransferError::Local(io) => format!("local \"{local}\": {}", io_text(io)),
        TransferError::CannotResume(why) => match download {
            true => format!("Unable to resume download of \"{local}\": {why}"),
            false => format!("resume \"{remote}\": {why}"),
        },
    }
}

/// Reports a tree transfer as OpenSSH's sftp does: a line per directory entered, problems on
/// standard error, and the tree goes on past a file that fails; on a terminal, a progress
/// line per file.
struct TreePrinter {
    download: bool,
    quiet: bool,
    meters: Board,
    /// The session was lost: the tree stopped at the first file that found out.
    lost: bool,
}

impl TreePrinter {
    /// The line for a tree transfer that the session's loss stopped: what is kept, and the
    /// command that finishes it after reconnecting (whole files are skipped, a partial one
    /// resumed).
    ///
    /// The destination exists now, and a directory given as the destination of `-r` receives
    /// the source under its own name (as in OpenSSH's sftp). So the command names the
    /// destination's parent when the names agree, and else the source's entries (`SRC/*`:
    /// entries whose names start with a dot then need their own command).
    fn lost_line(&self, from: &str, to: &str) -> String {
        let (what, resume) = match self.download {
            true => ("download", "reget"),
            false => ("upload", "reput"),
        };
        let base = |p: &str| {
            p.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned()
        };
        let parent = |p: &str| match p.trim_end_matches('/').rsplit_once('/') {
            Some(("", _)) => "/".to_owned(),
            Some((dir, _)) => dir.to_owned(),
            None => ".".to_owned(),
        };
        let command = if base(from) == base(to) {
            format!(
                "{resume} -r {} {}",
                transfer_failure::quoted(from),
                transfer_failure::quoted(&parent(to))
            )
        } else {
            format!(
                "{resume} -r {}/* {}",
                transfer_failure::quoted(from.trim_end_matches('/')),
                transfer_failure::quoted(to)
            )
        };
        format!(
            "Connection closed during the {what} of {from}: the files already transferred are kept; reconnect and run `{command}` to finish it"
        )
    }
}

impl TreeEvents for TreePrinter {
    fn entering(&mut self, from: &str, _to: &str) {
        self.meters.clear();
        out(match self.download {
            true => format!("Retrieving {from}\n"),
            false => format!("Entering {from}\n"),
        });
    }

    fn file_started(&mut self, from: &str, _to: &str, size: Option<u64>) {
        self.meters.started(from, size);
    }

    fn progress(&mut self, from: &str, done: u64, total: Option<u64>) {
        self.meters.progress(from, done, total);
    }

    fn file_done(&mut self, from: &str, _to: &str, bytes: u64) {
        self.meters.done(from, bytes);
    }

    fn skipped(&mut self, from: &str, why: &str) {
        if !self.quiet {
            self.meters.clear();
            error(format!("{from}: {why}"));
        }
    }

    fn failed(&mut self, from: &str, e: &TransferError) -> bool {
        self.meters.failed(from);
        self.meters.clear();
        if let TransferError::Remote(se) = e
            && transfer_failure::session_lost(se)
        {
            // Every file after this one would fail the same way: stop, and say it once.
            self.lost = true;
            return false;
        }
        error(format!("{from}: {e}"));
        true
    }
}

impl Shell {
    /// A session starting in `pwd` (the server's idea of `.`).
    pub fn new(sftp: SftpClient, pwd: Vec<u8>, defaults: Defaults) -> Shell {
        Shell {
            sftp,
            start: pwd.clone(),
            pwd,
            progress: defaults.progress,
            lost: false,
            defaults,
        }
    }

    /// The remote working directory.
    pub fn pwd(&self) -> &[u8] {
        &self.pwd
    }

    /// The session.
    pub fn sftp(&self) -> &SftpClient {
        &self.sftp
    }

    /// Whether transfers draw a progress meter now.
    fn meter_on(&self) -> bool {
        self.progress && self.defaults.meter && !self.defaults.quiet
    }

    fn transfer(&self, f: TransferFlags) -> Transfer {
        Transfer {
            resume: f.resume || self.defaults.flags.resume,
            preserve: f.preserve || self.defaults.flags.preserve,
            block: self.defaults.block,
            in_flight: self.defaults.in_flight,
            streams: self.defaults.streams,
        }
    }

    /// Runs one command.
    pub async fn run(&mut self, command: Command, abort_on_error: bool) -> Outcome {
        let ok = match command {
            Command::Get(f, src, dst) => self.get(f, &src, dst.as_deref()).await,
            Command::Put(f, src, dst) => self.put(f, &src, dst.as_deref()).await,
            Command::Cd(path) => self.cd(path.as_deref()).await,
            Command::Lcd(path) => lcd(path.as_deref()),
            Command::Chmod(h, mode, pattern) => {
                let attrs = Attrs {
                    permissions: Some(mode),
                    ..Attrs::default()
                };
                self.each(&pattern, abort_on_error, "Changing mode on", |s, p| {
                    let attrs = attrs.clone();
                    async move {
                        let r = match h {
                            true => s.lsetstat(&p, attrs).await,
                            false => s.setstat(&p, attrs).await,
                        };
                        r.map_err(|e| format!("remote setstat \"{}\": {e}", show(&p)))
                    }
                })
                .await
            }
            Command::Chown(h, uid, pattern) => {
                self.chown(h, Some(uid), None, &pattern, abort_on_error)
                    .await
            }
            Command::Chgrp(h, gid, pattern) => {
                self.chown(h, None, Some(gid), &pattern, abort_on_error)
                    .await
            }
            Command::Copy(a, b) => self.copy(&a, &b).await,
            Command::Df {
                human,
                inodes,
                path,
            } => self.df(human, inodes, path.as_deref()).await,
            Command::Help => {
                out(line::HELP);
                true
            }
            Command::Lls(args) => local_ls(&args),
            Command::Lmkdir(path) => match std::fs::create_dir(&path) {
                Ok(()) => true,
                Err(e) => {
                    error(format!(
                        "Couldn't create local directory \"{path}\": {}",
                        io_text(&e)
                    ));
                    false
                }
            },
            Command::Link(symbolic, a, b) => self.link(symbolic, &a, &b).await,
            Command::Lpwd => match std::env::current_dir() {
                Ok(d) => {
                    out(format!("Local working directory: {}\n", d.display()));
                    true
                }
                Err(e) => {
                    error(format!("Couldn't get local cwd: {}", io_text(&e)));
                    false
                }
            },
            Command::Ls(flags, path) => self.ls(flags, path.as_deref()).await,
            Command::Lumask(mask) => {
                set_umask(mask);
                out(format!("Local umask: {mask:03o}\n"));
                true
            }
            Command::Mkdir(path) => {
                let p = absolute(path.as_bytes(), &self.pwd);
                let attrs = Attrs {
                    permissions: Some(0o777),
                    ..Attrs::default()
                };
                self.report(self.sftp.mkdir(&p, attrs).await, || {
                    format!("remote mkdir \"{}\"", show(&p))
                })
            }
            Command::Progress => {
                self.progress = !self.progress;
                out(match self.progress {
                    true => "Progress meter enabled\n",
                    false => "Progress meter disabled\n",
                });
                true
            }
            Command::Pwd => {
                out(format!("Remote working directory: {}\n", show(&self.pwd)));
                true
            }
            Command::Quit => return Outcome::Quit,
            Command::Rename(legacy, a, b) => {
                let (a, b) = (
                    absolute(a.as_bytes(), &self.pwd),
                    absolute(b.as_bytes(), &self.pwd),
                );
                let posix = !legacy
                    && self
                        .sftp
                        .server()
                        .supports(ExtendedRequest::POSIX_RENAME, "1");
                let r = match posix {
                    true => self.sftp.posix_rename(&a, &b).await,
                    false => self.sftp.rename(&a, &b).await,
                };
                self.report(r, || {
                    format!("remote rename \"{}\" to \"{}\"", show(&a), show(&b))
                })
            }
            Command::Rm(pattern) => {
                self.each(&pattern, abort_on_error, "Removing", |s, p| async move {
                    s.remove(&p)
                        .await
                        .map_err(|e| format!("remote delete {}: {e}", show(&p)))
                })
                .await
            }
            Command::Rmdir(path) => {
                let p = absolute(path.as_bytes(), &self.pwd);
                self.report(self.sftp.rmdir(&p).await, || {
                    format!("remote rmdir \"{}\"", show(&p))
                })
            }
            Command::Shell(command) => local_shell(&command),
            Command::Version => {
                out(format!(
                    "SFTP protocol version {}\n",
                    self.sftp.server().version
                ));
                true
            }
        };
        match ok {
            true => Outcome::Done,
            false => Outcome::Failed,
        }
    }

    fn report(&self, r: Result<(), SftpError>, what: impl FnOnce() -> String) -> bool {
        match r {
            Ok(()) => true,
            Err(e) => {
                error(format!("{}: {e}", what()));
                false
            }
        }
    }

    /// The paths a remote pattern matches, made absolute against the working directory.
    /// `None` when nothing matches (the error is the caller's to print).
    async fn glob(&self, pattern: &str) -> Result<Vec<(Vec<u8>, Attrs)>, SftpError> {
        let full = match is_absolute(pattern.as_bytes()) {
            true => pattern.as_bytes().to_vec(),
            false => {
                let mut p = line::escape(&show(&self.pwd)).into_bytes();
                p = append(&p, pattern.as_bytes());
                p
            }
        };
        let matches = self.sftp.glob(&full).await?;
        Ok(matches.into_iter().map(|m| (m.path, m.attrs)).collect())
    }

    /// Runs `op` on each path `pattern` matches (the pattern itself when nothing does, as
    /// OpenSSH's sftp does), announcing each with `verb` unless quiet.
    async fn each<F, Fut>(&self, pattern: &str, abort: bool, verb: &str, op: F) -> bool
    where
        F: Fn(SftpClient, Vec<u8>) -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let paths = match self.glob(pattern).await {
            Ok(m) if !m.is_empty() => m.into_iter().map(|(p, _)| p).collect(),
            _ => vec![absolute(line::unescape(pattern).as_bytes(), &self.pwd)],
        };
        let mut ok = true;
        for p in paths {
            if !self.defaults.quiet {
                out(format!("{verb} {}\n", show(&p)));
            }
            if let Err(e) = op(self.sftp.clone(), p).await {
                error(e);
                ok = false;
                if abort {
                    break;
                }
            }
        }
        ok
    }

    async fn chown(
        &self,
        h: bool,
        uid: Option<u32>,
        gid: Option<u32>,
        pattern: &str,
        abort: bool,
    ) -> bool {
        let verb = match uid {
            Some(_) => "Changing owner on",
            None => "Changing group on",
        };
        self.each(pattern, abort, verb, |s, p| async move {
            let current = match h {
                true => s.lstat(&p).await,
                false => s.stat(&p).await,
            }
            .map_err(|e| format!("stat remote \"{}\": {e}", show(&p)))?;
            let Some(owner) = current.owner else {
                return Err(format!(
                    "Can't get current ownership of remote file \"{}\"",
                    show(&p)
                ));
            };
            let attrs = Attrs {
                owner: Some(Owner {
                    uid: uid.unwrap_or(owner.uid),
                    gid: gid.unwrap_or(owner.gid),
                }),
                ..Attrs::default()
            };
            match h {
                true => s.lsetstat(&p, attrs).await,
                false => s.setstat(&p, attrs).await,
            }
            .map_err(|e| format!("remote setstat \"{}\": {e}", show(&p)))
        })
        .await
    }

    async fn cd(&mut self, path: Option<&str>) -> bool {
        let path = match path.filter(|p| !p.is_empty()) {
            Some(p) => absolute(p.as_bytes(), &self.pwd),
            None => self.start.clone(),
        };
        let real = match self.sftp.realpath(&path).await {
            Ok(r) => r,
            Err(e) => {
                error(format!("realpath {}: {e}", show(&path)));
                return false;
            }
        };
        match self.sftp.stat(&real).await {
            Err(e) => {
                error(format!("stat remote: {e}"));
                false
            }
            Ok(a) if a.permissions.is_none() => {
                error("Can't change directory: Can't check target");
                false
            }
            Ok(a) if !is_dir(&a) => {
                error(format!(
                    "Can't change directory: \"{}\" is not a directory",
                    show(&real)
                ));
                false
            }
            Ok(_) => {
                self.pwd = real;
                true
            }
        }
    }

    /// Whether a remote path is a directory (following links).
    pub async fn remote_is_dir(&self, path: &[u8]) -> bool {
        self.sftp.stat(path).await.is_ok_and(|a| is_dir(&a))
    }

    /// `get`: every match of a remote pattern, to a local file or directory.
    pub async fn get(&mut self, f: TransferFlags, src: &str, dst: Option<&str>) -> bool {
        let matches = match self.glob(src).await {
            Ok(m) if !m.is_empty() => m,
            _ => {
                let shown = line::unescape(&show(&absolute(src.as_bytes(), &self.pwd)));
                error(format!("File \"{shown}\" not found."));
                return false;
            }
        };
        let dst_is_dir = dst.is_some_and(|d| Path::new(d).is_dir());
        if matches.len() > 1 && dst.is_some() && !dst_is_dir {
            error(format!(
                "Multiple source paths, but destination \"{}\" is not a directory",
                dst.unwrap_or_default()
            ));
            return false;
        }
        let how = self.transfer(f);
        let recursive = f.recursive || self.defaults.flags.recursive;
        let fsync = f.fsync || self.defaults.flags.fsync;
        let mut ok = true;
        for (path, attrs) in matches {
            let mut name = show(base_name(&path));
            if name == ".." {
                name = ".".into();
            }
            let local: PathBuf = match dst {
                Some(d) if dst_is_dir => Path::new(d).join(&name),
                Some(d) => PathBuf::from(d),
                None => PathBuf::from(&name),
            };
            let from = show(&path);
            let to = local.display().to_string();
            if !self.defaults.quiet {
                out(match how.resume {
                    true => format!("Resuming {from} to {to}\n"),
                    false => format!("Fetching {from} to {to}\n"),
                });
            }
            let result = if is_dir(&attrs) && recursive {
                let tree = TreeTransfer {
                    file: how,
                    ..TreeTransfer::default()
                };
                let mut printer = TreePrinter {
                    download: true,
                    quiet: self.defaults.quiet,
                    meters: Board::new(self.meter_on()),
                    lost: false,
                };
                let real = self.sftp.realpath(&path).await.unwrap_or(path.clone());
                let r = self
                    .sftp
                    .download_tree(&real, &local, &tree, &mut printer)
                    .await;
                self.lost |= printer.lost;
                match r {
                    _ if printer.lost => Err(Some(printer.lost_line(&from, &to))),
                    Ok(summary) if summary.failed == 0 => Ok(()),
                    Ok(_) => Err(None),
                    Err(e) => Err(Some(transfer_error(&e, &from, &to, true))),
                }
            } else if is_dir(&attrs) {
                Err(Some(format!("download {from}: not a regular file")))
            } else {
                let existed = std::fs::metadata(&local).is_ok_and(|m| m.is_file());
                let mut meter = Meter::new(&from, self.meter_on());
                let r = {
                    let mut progress = |done: u64, total: Option<u64>| meter.update(done, total);
                    self.sftp.download(&path, &local, how, &mut progress).await
                };
                if let Ok(bytes) = r {
                    meter.finish(bytes);
                }
                drop(meter);
                match r {
                    Ok(_) if fsync => sync_local(&local).map_err(Some),
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let f = transfer_failure::download(
                            &e,
                            &from,
                            &local,
                            existed,
                            &Resume::Session,
                        );
                        self.lost |= f.session_lost;
                        Err(Some(f.line))
                    }
                }
            };
            if let Err(message) = result {
                if let Some(m) = message {
                    error(m);
                }
                ok = false;
                if self.lost {
                    break;
                }
            }
        }
        ok
    }

    /// `put`: every match of a local pattern, to a remote file or directory.
    pub async fn put(&mut self, f: TransferFlags, src: &str, dst: Option<&str>) -> bool {
        let pattern = PathBuf::from(line::unescape(src));
        let sources: Vec<PathBuf> = match line::has_wildcards(src) {
            true => match local_glob(Path::new(src)) {
                Ok(m) if !m.is_empty() => m,
                _ => vec![pattern],
            },
            false => vec![pattern],
        };
        let target = dst.map(|d| absolute(d.as_bytes(), &self.pwd));
        let target_is_dir = match &target {
            Some(t) => self.remote_is_dir(t).await,
            None => true,
        };
        if sources.len() > 1 && target.is_some() && !target_is_dir {
            error(format!(
                "Multiple paths match, but destination \"{}\" is not a directory",
                show(target.as_deref().unwrap_or_default())
            ));
            return false;
        }
        let how = self.transfer(f);
        let recursive = f.recursive || self.defaults.flags.recursive;
        let fsync = f.fsync || self.defaults.flags.fsync;
        let mut ok = true;
        for source in sources {
            let meta = match std::fs::metadata(&source) {
                Ok(m) => m,
                Err(e) => {
                    error(format!("stat {}: {}", source.display(), io_text(&e)));
                    ok = false;
                    continue;
                }
            };
            let mut name = source
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into());
            if name == ".." {
                name = ".".into();
            }
            let remote = match &target {
                Some(t) if target_is_dir => append(t, name.as_bytes()),
                Some(t) => t.clone(),
                None => absolute(name.as_bytes(), &self.pwd),
            };
            // A directory is named with a slash, as glob(3)'s GLOB_MARK does.
            let mut from = source.display().to_string();
            if meta.is_dir() && !from.ends_with('/') {
                from.push('/');
            }
            let to = show(&remote);
            if !self.defaults.quiet {
                out(match how.resume {
                    true => format!("Resuming upload of {from} to {to}\n"),
                    false => format!("Uploading {from} to {to}\n"),
                });
            }
            let result = if meta.is_dir() && recursive {
                let tree = TreeTransfer {
                    file: how,
                    ..TreeTransfer::default()
                };
                let mut printer = TreePrinter {
                    download: false,
                    quiet: self.defaults.quiet,
                    meters: Board::new(self.meter_on()),
                    lost: false,
                };
                let r = self
                    .sftp
                    .upload_tree(Path::new(&from), &remote, &tree, &mut printer)
                    .await;
                self.lost |= printer.lost;
                match r {
                    _ if printer.lost => Err(Some(printer.lost_line(&from, &to))),
                    Ok(summary) if summary.failed == 0 => Ok(()),
                    Ok(_) => Err(None),
                    Err(e) => Err(Some(transfer_error(&e, &to, &from, false))),
                }
            } else if !meta.is_file() {
                Err(Some(format!("local \"{from}\" is not a regular file")))
            } else {
                let mut meter = Meter::new(&from, self.meter_on());
                let r = {
                    let mut progress = |done: u64, total: Option<u64>| meter.update(done, total);
                    self.sftp.upload(&source, &remote, how, &mut progress).await
                };
                if let Ok(bytes) = r {
                    meter.finish(bytes);
                }
                drop(meter);
                match r {
                    Ok(_) if fsync => self.sync_remote(&remote).await.map_err(Some),
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let f = transfer_failure::upload(&e, &source, &to, &Resume::Session);
                        self.lost |= f.session_lost;
                        Err(Some(f.line))
                    }
                }
            };
            if let Err(message) = result {
                if let Some(m) = message {
                    error(m);
                }
                ok = false;
                if self.lost {
                    break;
                }
            }
        }
        ok
    }

    /// `-f` after an upload: fsync@openssh.com on the remote file.
    async fn sync_remote(&self, path: &[u8]) -> Result<(), String> {
        let handle = self
            .sftp
            .open(path, OpenFlags::WRITE, Attrs::default())
            .await
            .map_err(|e| format!("remote open \"{}\": {e}", show(path)))?;
        let r = self.sftp.fsync(&handle).await;
        let _ = self.sftp.close(&handle).await;
        r.map_err(|e| format!("remote fsync: {e}"))
    }

    async fn copy(&self, a: &str, b: &str) -> bool {
        let (from, to) = (
            absolute(a.as_bytes(), &self.pwd),
            absolute(b.as_bytes(), &self.pwd),
        );
        match self.sftp.copy(&from, &to).await {
            Ok(_) => true,
            Err(e) => {
                error(format!(
                    "Couldn't copy file \"{}\" to \"{}\": {e}",
                    show(&from),
                    show(&to)
                ));
                false
            }
        }
    }

    async fn link(&self, symbolic: bool, a: &str, b: &str) -> bool {
        let new = absolute(b.as_bytes(), &self.pwd);
        if symbolic {
            // The target is stored as given: relative links stay relative.
            let r = self.sftp.symlink(&new, a.as_bytes()).await;
            self.report(r, || {
                format!("remote symlink file \"{a}\" to \"{}\"", show(&new))
            })
        } else {
            let old = absolute(a.as_bytes(), &self.pwd);
            let r = self.sftp.hardlink(&old, &new).await;
            self.report(r, || {
                format!("remote link \"{}\" to \"{}\"", show(&old), show(&new))
            })
        }
    }

    async fn df(&self, human: bool, inodes: bool, path: Option<&str>) -> bool {
        let p = match path {
            Some(p) => absolute(p.as_bytes(), &self.pwd),
            None => self.pwd.clone(),
        };
        match self.sftp.statvfs(&p).await {
            Ok(st) => {
                out(ls::df(&st, human, inodes));
                true
            }
            Err(SftpError::Unsupported(_)) => {
                error("Server does not support statvfs@openssh.com extension");
                false
            }
            Err(e) => {
                error(format!("remote statvfs: {e}"));
                false
            }
        }
    }

    async fn ls(&self, flags: LsFlags, path: Option<&str>) -> bool {
        let Some(pattern) = path else {
            return self.ls_dir(&self.pwd, Some(&self.pwd), flags).await;
        };
        // Relative patterns are shown relative to the working directory.
        let strip = (!is_absolute(pattern.as_bytes())).then_some(self.pwd.as_slice());
        let matches = match self.glob(pattern).await {
            Ok(m) if !m.is_empty() => m,
            _ => {
                error(format!(
                    "Can't ls: \"{}\" not found",
                    line::unescape(pattern)
                ));
                return false;
            }
        };
        if let [(only, _)] = matches.as_slice()
            && self.remote_is_dir(only).await
        {
            return self.ls_dir(only, strip, flags).await;
        }
        let widest = matches.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
        let mut entries = Vec::with_capacity(matches.len());
        for (path, attrs) in matches {
            // Links are listed as what they point to, as glob(3) stats them.
            let attrs = match self.sftp.stat(&path).await {
                Ok(a) => a,
                Err(_) => attrs,
            };
            entries.push(Entry {
                shown: show(&strip_prefix(&path, strip)),
                attrs,
                longname: None,
            });
        }
        self.print_entries(entries, flags, false, widest).await;
        true
    }

    async fn ls_dir(&self, dir: &[u8], strip: Option<&[u8]>, flags: LsFlags) -> bool {
        let listing = match self.sftp.list(dir).await {
            Ok(l) => l,
            Err(e) => {
                error(format!("Couldn't read directory: {e}"));
                return false;
            }
        };
        let visible: Vec<_> = listing
            .into_iter()
            .filter(|e| flags.all || !e.filename.starts_with(b"."))
            .collect();
        let widest = visible.iter().map(|e| e.filename.len()).max().unwrap_or(0)
            + strip_prefix(dir, strip).len();
        let entries = visible
            .into_iter()
            .map(|e| {
                let full = append(dir, &e.filename);
                Entry {
                    shown: show(&strip_prefix(&full, strip)),
                    attrs: e.attrs,
                    longname: Some(show(&e.longname)),
                }
            })
            .collect();
        self.print_entries(entries, flags, true, widest).await;
        true
    }

    async fn print_entries(
        &self,
        mut entries: Vec<Entry>,
        flags: LsFlags,
        from_dir: bool,
        widest: usize,
    ) {
        ls::sort(&mut entries, &flags);
        if !flags.long {
            let names: Vec<&str> = entries.iter().map(|e| e.shown.as_str()).collect();
            out(ls::columns(
                &names,
                widest,
                flags.single_column,
                terminal_width(),
            ));
            return;
        }
        let names_known = self
            .sftp
            .server()
            .supports(ExtendedRequest::USERS_GROUPS_BY_ID, "1");
        // Without names from the server, its own long lines are the best there is (as
        // OpenSSH's sftp does for directory listings).
        if from_dir && !names_known && !flags.numeric && !flags.human {
            let mut text = String::new();
            for e in &entries {
                text.push_str(e.longname.as_deref().unwrap_or(&e.shown));
                text.push('\n');
            }
            out(text);
            return;
        }
        let (users, groups) = match flags.numeric || !names_known {
            true => (HashMap::new(), HashMap::new()),
            false => self.owner_names(&entries).await,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let mut text = String::new();
        for e in &entries {
            let (uid, gid) = e.attrs.owner.map_or((0, 0), |o| (o.uid, o.gid));
            let user = users.get(&uid).cloned().unwrap_or_else(|| uid.to_string());
            let group = groups.get(&gid).cloned().unwrap_or_else(|| gid.to_string());
            text.push_str(&ls::long_line(e, &user, &group, flags.human, now));
            text.push('\n');
        }
        out(text);
    }

    /// User and group names for the owners of `entries`, from users-groups-by-id@openssh.com.
    async fn owner_names(&self, entries: &[Entry]) -> (HashMap<u32, String>, HashMap<u32, String>) {
        let mut uids: Vec<u32> = entries
            .iter()
            .filter_map(|e| e.attrs.owner.map(|o| o.uid))
            .collect();
        let mut gids: Vec<u32> = entries
            .iter()
            .filter_map(|e| e.attrs.owner.map(|o| o.gid))
            .collect();
        uids.sort_unstable();
        uids.dedup();
        gids.sort_unstable();
        gids.dedup();
        let Ok(reply) = self
            .sftp
            .users_groups_by_id(uids.clone(), gids.clone())
            .await
        else {
            return (HashMap::new(), HashMap::new());
        };
        let named = |ids: Vec<u32>, names: Vec<Vec<u8>>| -> HashMap<u32, String> {
            ids.into_iter()
                .zip(names)
                .filter(|(_, n)| !n.is_empty())
                .map(|(id, n)| (id, show(&n)))
                .collect()
        };
        (
            named(uids, reply.user_names),
            named(gids, reply.group_names),
        )
    }
}

/// The terminal width for short listings: `$COLUMNS`, or 80.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w > 0)
        .unwrap_or(80)
}

fn sync_local(path: &Path) -> Result<(), String> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("local sync \"{}\": {}", path.display(), io_text(&e)))
}

fn lcd(path: Option<&str>) -> bool {
    let target = match path.filter(|p| !p.is_empty()) {
        Some(p) => crate::paths::expand_tilde(p),
        None => match crate::paths::home() {
            Ok(h) => h,
            Err(e) => {
                error(e);
                return false;
            }
        },
    };
    match std::env::set_current_dir(&target) {
        Ok(()) => true,
        Err(e) => {
            error(format!(
                "Couldn't change local directory to \"{}\": {}",
                target.display(),
                io_text(&e)
            ));
            false
        }
    }
}

/// `lls`: the local `ls` with the rest of the line.
fn local_ls(args: &str) -> bool {
    let command = match args.is_empty() {
        true => "ls".to_owned(),
        false => format!("ls {args}"),
    };
    local_shell(&command)
}

/// `!command` runs `command` with the shell; `!` alone starts an interactive shell.
fn local_shell(command: &str) -> bool {
    let _ = std::io::stdout().flush();
    let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into());
    let mut c = std::process::Command::new(&shell);
    if !command.trim().is_empty() {
        c.arg("-c").arg(command);
    }
    match c.status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            if let Some(code) = s.code() {
                error(format!("Shell exited with status {code}"));
            }
            false
        }
        Err(e) => {
            error(format!("Couldn't execute \"{shell}\": {}", io_text(&e)));
            false
        }
    }
}

fn set_umask(mask: u32) {
    let mode = rustix::fs::Mode::from_bits_truncate(mask & 0o777);
    let _ = rustix::process::umask(mode);
}
