//! Copies between two remote hosts through this machine: each file streamed from one SFTP
//! session to the other a block at a time, trees walked with bounded depth and listings.

use std::future::Future;
use std::pin::Pin;

use sshwire::sftp::{Attrs, Times};
use sshwire::sftp_client::SftpClient;
use sshwire::sftp_file::OpenOptions;
use sshwire::sftp_tree::{MAX_LISTING_ENTRIES, MAX_TREE_DEPTH};

use super::meter::Meter;
use super::operand::Remote;
use super::transfer::{base_name, is_dir, is_link, join, remote_path, shown, sources};
use super::{Settings, problem, remote_text};

/// Bytes read from one host before they are written to the other.
const BLOCK: usize = 1 << 20;

/// Regular file mode bits.
const S_IFREG: u32 = 0o100_000;
/// `S_IFMT`: the file type bits of a mode.
const S_IFMT: u32 = 0o170_000;

/// Copies what `from` names on `src` to `to` on `dest` (into it when `to_is_dir`).
pub async fn copy(
    src: &SftpClient,
    from: &Remote,
    dest: &SftpClient,
    to: &Remote,
    to_is_dir: bool,
    settings: Settings,
) -> bool {
    let matches = match sources(src, from).await {
        Ok(m) => m,
        Err(line) => {
            problem(line);
            return false;
        }
    };
    let target_dir = remote_path(to);
    let mut ok = true;
    for (path, attrs) in matches {
        let target = match to_is_dir {
            true => join(&target_dir, base_name(&path)),
            false => target_dir.clone(),
        };
        let pair = Pair {
            src,
            dest,
            settings,
        };
        ok &= if is_dir(&attrs) {
            if settings.recursive {
                let mut walking = Vec::new();
                pair.tree(path, attrs, target, &mut walking).await
            } else {
                problem(format!("download {}/: not a regular file", shown(&path)));
                false
            }
        } else {
            pair.file(&path, &attrs, &target).await
        };
    }
    ok
}

/// A tree copy in progress: what a boxed, recursive step returns.
type Step<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// The two sessions and how to copy.
#[derive(Clone, Copy)]
struct Pair<'a> {
    src: &'a SftpClient,
    dest: &'a SftpClient,
    settings: Settings,
}

impl Pair<'_> {
    /// Streams one regular file; the new file gets the source's mode (and, with `-p`, its
    /// times).
    async fn file(&self, path: &[u8], attrs: &Attrs, target: &[u8]) -> bool {
        let mode = attrs.permissions.unwrap_or(0o644) & 0o7777;
        let mut input = match self.src.open_read(path).await {
            Ok(f) => f,
            Err(e) => {
                problem(format!("{}: {}", shown(path), remote_text(&e)));
                return false;
            }
        };
        let options = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode & 0o777)
            .clone();
        let mut output = match self.dest.open_file(target, &options).await {
            Ok(f) => f,
            Err(e) => {
                problem(format!(
                    "dest open \"{}\": {}",
                    shown(target),
                    remote_text(&e)
                ));
                return false;
            }
        };
        let mut meter = Meter::new(&shown(base_name(path)), self.settings.meter);
        let mut offset: u64 = 0;
        let copied = loop {
            let block = match input.read_at(offset, BLOCK).await {
                Ok(b) => b,
                Err(e) => {
                    break Err(format!(
                        "read remote \"{}\": {}",
                        shown(path),
                        remote_text(&e)
                    ));
                }
            };
            if block.is_empty() {
                break Ok(());
            }
            if let Err(e) = output.write_at(offset, &block).await {
                break Err(format!(
                    "write remote \"{}\": {}",
                    shown(target),
                    remote_text(&e)
                ));
            }
            offset += block.len() as u64;
            meter.update(offset, attrs.size);
        };
        let _ = input.close().await;
        let closed = output.close().await;
        let result = copied.and_then(|()| {
            closed.map_err(|e| format!("write remote \"{}\": {}", shown(target), remote_text(&e)))
        });
        if let Err(line) = result {
            problem(line);
            return false;
        }
        meter.finish(offset);
        if self.settings.transfer.preserve {
            return self.preserve(target, attrs).await;
        }
        true
    }

    /// `-p`: the source's mode and times on the copy.
    async fn preserve(&self, target: &[u8], attrs: &Attrs) -> bool {
        let keep = Attrs {
            permissions: attrs.permissions.map(|p| p & 0o7777),
            times: attrs.times.map(|t| Times {
                atime: t.atime,
                mtime: t.mtime,
            }),
            ..Attrs::default()
        };
        match self.dest.setstat(target, keep).await {
            Ok(()) => true,
            Err(e) => {
                problem(format!("{}: set times: {}", shown(target), remote_text(&e)));
                false
            }
        }
    }

    /// Copies the directory `dir` to `target`, following links; `walking` holds the real
    /// paths of the directories being copied, so that a link back to one is skipped.
    fn tree<'s>(
        &'s self,
        dir: Vec<u8>,
        attrs: Attrs,
        target: Vec<u8>,
        walking: &'s mut Vec<Vec<u8>>,
    ) -> Step<'s> {
        Box::pin(async move {
            if walking.len() >= MAX_TREE_DEPTH {
                problem(format!(
                    "{}: more than {MAX_TREE_DEPTH} directories deep",
                    shown(&dir)
                ));
                return false;
            }
            let real = match self.src.realpath(&dir).await {
                Ok(r) => r,
                Err(e) => {
                    problem(format!("{}: {}", shown(&dir), remote_text(&e)));
                    return false;
                }
            };
            if walking.contains(&real) {
                return true;
            }
            let mode = attrs.permissions.unwrap_or(0o755) & 0o777;
            let mkdir = Attrs {
                permissions: Some(mode | 0o700),
                ..Attrs::default()
            };
            if let Err(e) = self.dest.mkdir(&target, mkdir).await
                && !self.dest.stat(&target).await.is_ok_and(|a| is_dir(&a))
            {
                problem(format!(
                    "remote mkdir \"{}\": {}",
                    shown(&target),
                    remote_text(&e)
                ));
                return false;
            }
            let mut listing = match self.src.read_dir(&dir).await {
                Ok(l) => l,
                Err(e) => {
                    problem(format!("{}: {}", shown(&dir), remote_text(&e)));
                    return false;
                }
            };
            let mut entries = Vec::new();
            while let Some(entry) = listing.next().await {
                match entry {
                    Ok(e) if entries.len() < MAX_LISTING_ENTRIES => entries.push(e),
                    Ok(_) => {
                        problem(format!(
                            "{}: more than {MAX_LISTING_ENTRIES} entries",
                            shown(&dir)
                        ));
                        return false;
                    }
                    Err(e) => {
                        problem(format!("{}: {}", shown(&dir), remote_text(&e)));
                        return false;
                    }
                }
            }
            drop(listing);
            walking.push(real);
            let mut ok = true;
            for entry in entries {
                let name = entry.filename;
                if name == b"." || name == b".." {
                    continue;
                }
                // A name is one path component: anything else would write elsewhere.
                if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
                    problem(format!("{}: bad name in listing", shown(&dir)));
                    ok = false;
                    continue;
                }
                let from = join(&dir, &name);
                let to = join(&target, &name);
                let attrs = match is_link(&entry.attrs) {
                    true => match self.src.stat(&from).await {
                        Ok(a) => a,
                        // A dangling link: nothing to copy.
                        Err(_) => continue,
                    },
                    false => entry.attrs,
                };
                ok &= if is_dir(&attrs) {
                    self.tree(from, attrs, to, walking).await
                } else if attrs.permissions.is_some_and(|p| p & S_IFMT == S_IFREG) {
                    self.file(&from, &attrs, &to).await
                } else {
                    true
                };
            }
            walking.pop();
            if self.settings.transfer.preserve {
                ok &= self.preserve(&target, &attrs).await;
            } else if mode & 0o700 != 0o700 {
                let _ = self
                    .dest
                    .setstat(
                        &target,
                        Attrs {
                            permissions: Some(mode),
                            ..Attrs::default()
                        },
                    )
                    .await;
            }
            ok
        })
    }
}
