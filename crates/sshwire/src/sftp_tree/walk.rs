//! The walk shared by downloads and uploads: directories depth-first, files handed to a
//! bounded set of tasks, events delivered on the caller's task.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::Arc;

use sshwire_sftp::Attrs;
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};

use super::{
    MAX_TREE_DEPTH, S_IFDIR, S_IFLNK, S_IFREG, SKIP_EXCLUDED, SKIP_LINK_LOOP, SKIP_NOT_REGULAR,
    TreeEvents, TreeSummary, TreeTransfer, file_type,
};
use crate::sftp_client::SftpError;
use crate::sftp_glob::glob_match;
use crate::sftp_transfer::{Transfer, TransferError};

/// Progress messages a file task may have queued before the walk reads them; later ones are
/// dropped (the next one says more), `Started` ones wait for room.
const MESSAGES: usize = 1024;

/// One entry of a source directory.
pub(super) struct Listed {
    /// Its name, as the listing gave it (checked before use).
    pub name: Vec<u8>,
    /// Its attributes, not following links, or why they could not be had.
    pub attrs: Result<Attrs, TransferError>,
}

/// One file to transfer, handed to [`Side::file`].
pub(super) struct FileJob<S, D> {
    pub src: S,
    pub dst: D,
    /// The source's attributes, from its listing (or its link's target).
    pub attrs: Attrs,
    pub file: Transfer,
    pub sync: bool,
    pub report: Report,
}

/// How one file ended.
pub(super) enum Outcome {
    /// Transferred; the file holds this many bytes.
    Done(u64),
    /// Not transferred, for this reason (a `SKIP_*` constant).
    Skipped(&'static str),
    Failed(TransferError),
}

/// What a file task tells the walk while it runs.
enum Message {
    Started {
        from: Arc<str>,
        to: Arc<str>,
        size: Option<u64>,
    },
    Progress {
        from: Arc<str>,
        done: u64,
        total: Option<u64>,
    },
}

/// A file task's way to report to the walk.
pub(super) struct Report {
    tx: mpsc::Sender<Message>,
    from: Arc<str>,
    to: Arc<str>,
}

impl Report {
    /// The file is started (after a synchronisation check decided to transfer it).
    pub async fn started(&self, size: Option<u64>) {
        let message = Message::Started {
            from: self.from.clone(),
            to: self.to.clone(),
            size,
        };
        // Fails only once the walk has stopped listening: nobody to tell.
        let _ = self.tx.send(message).await;
    }

    /// The file has `done` of `total` bytes; dropped when the walk is behind.
    pub fn progress(&self, done: u64, total: Option<u64>) {
        let _ = self.tx.try_send(Message::Progress {
            from: self.from.clone(),
            done,
            total,
        });
    }
}

/// One direction of a tree transfer: where the source is read and the destination written.
pub(super) trait Side: Sync {
    /// A source path; also what identifies a directory for loop detection (canonical).
    type Src: Clone + PartialEq + Send + Sync + 'static;
    /// A destination path.
    type Dst: Clone + Send + Sync + 'static;

    fn join_src(src: &Self::Src, name: &[u8]) -> Self::Src;
    fn join_dst(dst: &Self::Dst, name: &[u8]) -> Self::Dst;
    fn show_src(src: &Self::Src) -> String;
    fn show_dst(dst: &Self::Dst) -> String;

    /// The source's attributes, following links.
    async fn stat(&self, src: &Self::Src) -> Result<Attrs, TransferError>;
    /// The source's canonical path, links resolved.
    async fn canonical(&self, src: &Self::Src) -> Result<Self::Src, TransferError>;
    /// The entries of a source directory.
    async fn list(&self, src: &Self::Src) -> Result<Vec<Listed>, TransferError>;
    /// Makes the destination directory for a source directory with `attrs`; whether it was
    /// created (rather than found).
    async fn make_dir(
        &self,
        dst: &Self::Dst,
        attrs: &Attrs,
        how: &TreeTransfer,
    ) -> Result<bool, TransferError>;
    /// Applies what preserving asks of a directory once its contents are done.
    async fn finish_dir(
        &self,
        dst: &Self::Dst,
        attrs: &Attrs,
        created: bool,
        how: &TreeTransfer,
    ) -> Result<(), TransferError>;
    /// Transfers one file.
    fn file(
        &self,
        job: FileJob<Self::Src, Self::Dst>,
    ) -> impl Future<Output = Outcome> + Send + 'static;
}

/// A directory being walked.
struct Frame<S> {
    key: usize,
    src: S,
    /// Its canonical path, when following links.
    id: Option<S>,
    entries: std::vec::IntoIter<Listed>,
}

/// A destination directory whose contents are not all done.
struct Pending<D> {
    parent: Option<usize>,
    /// Files in flight in it, and subdirectories not finished.
    open: usize,
    /// Whether its listing has been walked to the end.
    walked: bool,
    dst: D,
    attrs: Attrs,
    created: bool,
    shown: String,
}

/// A directory just entered: its destination made, its listing read.
struct Entered<S: Side> {
    parent: Option<usize>,
    src: S::Src,
    dst: S::Dst,
    attrs: Attrs,
    created: bool,
    id: Option<S::Src>,
    entries: Vec<Listed>,
}

/// The state of one tree transfer.
struct Walk<'a, S: Side> {
    side: &'a S,
    how: &'a TreeTransfer,
    events: &'a mut dyn TreeEvents,
    summary: TreeSummary,
    dirs: HashMap<usize, Pending<S::Dst>>,
    next_key: usize,
    jobs: JoinSet<Outcome>,
    /// For each file task: its directory, source and destination.
    running: HashMap<Id, (usize, Arc<str>, Arc<str>)>,
    tx: mpsc::Sender<Message>,
    rx: mpsc::Receiver<Message>,
}

/// Transfers the directory `src` into `dst`.
pub(super) async fn run<S: Side>(
    side: &S,
    src: S::Src,
    dst: S::Dst,
    how: &TreeTransfer,
    events: &mut dyn TreeEvents,
) -> Result<TreeSummary, TransferError> {
    let (tx, rx) = mpsc::channel(MESSAGES);
    let mut walk = Walk {
        side,
        how,
        events,
        summary: TreeSummary::default(),
        dirs: HashMap::new(),
        next_key: 0,
        jobs: JoinSet::new(),
        running: HashMap::new(),
        tx,
        rx,
    };
    let mut result = walk.walk(src, dst).await;
    while result.is_ok() && !walk.jobs.is_empty() {
        result = walk.wait_one().await;
    }
    if result.is_err() {
        // Stopping: the files in flight finish (never leaving a destination half-replaced)
        // and are not reported.
        walk.rx.close();
        while walk.jobs.join_next().await.is_some() {}
    }
    result.map(|()| walk.summary)
}

fn is_dir(attrs: &Attrs) -> bool {
    file_type(attrs.permissions) == Some(S_IFDIR)
}

/// Whether a listed name is one path component, fit to be joined to a path.
///
/// A name that is empty or holds `/` or NUL can only be an attack on recursive transfers
/// (`../../etc/passwd`); it is never joined to a path.
fn valid_name(name: &[u8]) -> bool {
    // filexfer-02 §7, SSH_FXP_NAME: "for SSH_FXP_READDIR, it will be a relative name within
    // the directory, without any path components".
    !name.is_empty() && !name.contains(&b'/') && !name.contains(&0)
}

impl<S: Side> Walk<'_, S> {
    /// Walks the tree from its top, starting files as it goes; returns once every
    /// directory is walked (files may still be in flight).
    async fn walk(&mut self, src: S::Src, dst: S::Dst) -> Result<(), TransferError> {
        let shown = S::show_src(&src);
        let attrs = self.side.stat(&src).await?;
        if !is_dir(&attrs) {
            return Err(TransferError::Local(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{shown} is not a directory"),
            )));
        }
        let id = match self.how.follow_links {
            true => Some(self.side.canonical(&src).await?),
            false => None,
        };
        self.events.entering(&shown, &S::show_dst(&dst));
        let created = self.side.make_dir(&dst, &attrs, self.how).await?;
        let entries = self.side.list(&src).await?;
        let mut stack = Vec::new();
        let top = Entered {
            parent: None,
            src,
            dst,
            attrs,
            created,
            id,
            entries,
        };
        self.push(&mut stack, top);
        loop {
            while self.jobs.len() >= self.how.files_at_once.max(1) {
                self.wait_one().await?;
            }
            let Some(frame) = stack.last_mut() else {
                return Ok(());
            };
            let Some(entry) = frame.entries.next() else {
                if let Some(done) = stack.pop() {
                    if let Some(d) = self.dirs.get_mut(&done.key) {
                        d.walked = true;
                    }
                    self.finish_dirs(done.key).await?;
                }
                continue;
            };
            let (key, parent_src) = (frame.key, frame.src.clone());
            self.entry(&mut stack, key, parent_src, entry).await?;
        }
    }

    /// Registers a directory whose destination exists and starts walking it.
    fn push(&mut self, stack: &mut Vec<Frame<S::Src>>, dir: Entered<S>) {
        let key = self.next_key;
        self.next_key += 1;
        if let Some(p) = dir.parent.and_then(|p| self.dirs.get_mut(&p)) {
            p.open += 1;
        }
        self.summary.dirs += 1;
        self.dirs.insert(
            key,
            Pending {
                parent: dir.parent,
                open: 0,
                walked: false,
                shown: S::show_src(&dir.src),
                dst: dir.dst,
                attrs: dir.attrs,
                created: dir.created,
            },
        );
        stack.push(Frame {
            key,
            src: dir.src,
            id: dir.id,
            entries: dir.entries.into_iter(),
        });
    }

    /// Handles one entry of the directory `key`: skips, fails, enters or starts it.
    async fn entry(
        &mut self,
        stack: &mut Vec<Frame<S::Src>>,
        key: usize,
        parent_src: S::Src,
        entry: Listed,
    ) -> Result<(), TransferError> {
        let name = entry.name;
        if name == b"." || name == b".." {
            return Ok(());
        }
        if !valid_name(&name) {
            let from = format!(
                "{}/{}",
                S::show_src(&parent_src),
                String::from_utf8_lossy(&name).escape_debug()
            );
            let error = TransferError::Remote(SftpError::Protocol(format!(
                "the listing of {} holds the name {:?}, which is not one path component",
                S::show_src(&parent_src),
                String::from_utf8_lossy(&name)
            )));
            return self.fail(&from, error);
        }
        let src = S::join_src(&parent_src, &name);
        let from = S::show_src(&src);
        if self.how.exclude.iter().any(|p| glob_match(p, &name)) {
            return self.skipped(&from, SKIP_EXCLUDED);
        }
        let mut attrs = match entry.attrs {
            Ok(a) => a,
            Err(e) => return self.fail(&from, e),
        };
        let via_link = file_type(attrs.permissions) == Some(S_IFLNK);
        if via_link {
            if !self.how.follow_links {
                return self.skipped(&from, SKIP_NOT_REGULAR);
            }
            attrs = match self.side.stat(&src).await {
                Ok(a) => a,
                Err(e) => return self.fail(&from, e),
            };
        }
        let Some(dst) = self.dirs.get(&key).map(|d| S::join_dst(&d.dst, &name)) else {
            return Ok(());
        };
        match file_type(attrs.permissions) {
            Some(S_IFDIR) => {
                let parent_id = stack.last().and_then(|f| f.id.as_ref());
                let id = match (parent_id, via_link) {
                    (None, _) => None,
                    (Some(p), false) => Some(S::join_src(p, &name)),
                    (Some(_), true) => match self.side.canonical(&src).await {
                        Ok(c) => Some(c),
                        Err(e) => return self.fail(&from, e),
                    },
                };
                if via_link && stack.iter().any(|f| f.id.is_some() && f.id == id) {
                    return self.skipped(&from, SKIP_LINK_LOOP);
                }
                self.subdir(stack, key, src, dst, attrs, id).await
            }
            Some(S_IFREG) => {
                self.start_file(key, src, dst, attrs);
                Ok(())
            }
            _ => self.skipped(&from, SKIP_NOT_REGULAR),
        }
    }

    /// Enters a subdirectory: its destination made, its listing read.
    async fn subdir(
        &mut self,
        stack: &mut Vec<Frame<S::Src>>,
        key: usize,
        src: S::Src,
        dst: S::Dst,
        attrs: Attrs,
        id: Option<S::Src>,
    ) -> Result<(), TransferError> {
        let from = S::show_src(&src);
        if stack.len() >= MAX_TREE_DEPTH {
            let error = TransferError::Local(io::Error::other(format!(
                "{from}: more than {MAX_TREE_DEPTH} directories deep, not descending"
            )));
            return self.fail(&from, error);
        }
        self.events.entering(&from, &S::show_dst(&dst));
        let created = match self.side.make_dir(&dst, &attrs, self.how).await {
            Ok(c) => c,
            Err(e) => return self.fail(&from, e),
        };
        let entries = match self.side.list(&src).await {
            Ok(l) => l,
            Err(e) => return self.fail(&from, e),
        };
        let dir = Entered {
            parent: Some(key),
            src,
            dst,
            attrs,
            created,
            id,
            entries,
        };
        self.push(stack, dir);
        Ok(())
    }

    /// Starts transferring one file in a task of its own.
    fn start_file(&mut self, key: usize, src: S::Src, dst: S::Dst, attrs: Attrs) {
        let from: Arc<str> = S::show_src(&src).into();
        let to: Arc<str> = S::show_dst(&dst).into();
        let job = FileJob {
            src,
            dst,
            attrs,
            file: self.how.file,
            sync: self.how.sync,
            report: Report {
                tx: self.tx.clone(),
                from: from.clone(),
                to: to.clone(),
            },
        };
        let task = self.jobs.spawn(self.side.file(job));
        self.running.insert(task.id(), (key, from, to));
        if let Some(d) = self.dirs.get_mut(&key) {
            d.open += 1;
        }
    }

    /// Waits for one file task to end, delivering its messages meanwhile.
    async fn wait_one(&mut self) -> Result<(), TransferError> {
        loop {
            tokio::select! {
                Some(message) = self.rx.recv() => self.deliver(message),
                joined = self.jobs.join_next_with_id() => {
                    // Whatever the task sent before it ended is queued: deliver it first.
                    while let Ok(message) = self.rx.try_recv() {
                        self.deliver(message);
                    }
                    let Some(joined) = joined else {
                        return Ok(());
                    };
                    let (id, outcome) = match joined {
                        Ok((id, outcome)) => (id, outcome),
                        Err(e) => (e.id(), Outcome::Failed(TransferError::Local(
                            io::Error::other(format!("the transfer task failed: {e}")),
                        ))),
                    };
                    let Some((key, from, to)) = self.running.remove(&id) else {
                        return Ok(());
                    };
                    match outcome {
                        Outcome::Done(bytes) => {
                            self.summary.files += 1;
                            self.summary.bytes = self.summary.bytes.saturating_add(bytes);
                            self.events.file_done(&from, &to, bytes);
                        }
                        Outcome::Skipped(why) => self.skip(&from, why),
                        Outcome::Failed(e) => self.fail(&from, e)?,
                    }
                    if let Some(d) = self.dirs.get_mut(&key) {
                        d.open = d.open.saturating_sub(1);
                    }
                    return self.finish_dirs(key).await;
                }
            }
        }
    }

    fn deliver(&mut self, message: Message) {
        match message {
            Message::Started { from, to, size } => self.events.file_started(&from, &to, size),
            Message::Progress { from, done, total } => self.events.progress(&from, done, total),
        }
    }

    /// Finishes `key` if it is done, then each parent that this leaves done.
    async fn finish_dirs(&mut self, mut key: usize) -> Result<(), TransferError> {
        loop {
            match self.dirs.get(&key) {
                Some(d) if d.walked && d.open == 0 => {}
                _ => return Ok(()),
            }
            let Some(d) = self.dirs.remove(&key) else {
                return Ok(());
            };
            if let Err(e) = self
                .side
                .finish_dir(&d.dst, &d.attrs, d.created, self.how)
                .await
            {
                self.fail(&d.shown, e)?;
            }
            let Some(parent) = d.parent else {
                return Ok(());
            };
            if let Some(p) = self.dirs.get_mut(&parent) {
                p.open = p.open.saturating_sub(1);
            }
            key = parent;
        }
    }

    fn skipped(&mut self, from: &str, why: &str) -> Result<(), TransferError> {
        self.skip(from, why);
        Ok(())
    }

    fn skip(&mut self, from: &str, why: &str) {
        self.summary.skipped += 1;
        self.events.skipped(from, why);
    }

    /// Asks the handler about a failure: `Ok` to go on, or the error that stops the walk.
    fn fail(&mut self, from: &str, error: TransferError) -> Result<(), TransferError> {
        if self.events.failed(from, &error) {
            self.summary.failed += 1;
            Ok(())
        } else {
            Err(error)
        }
    }
}
