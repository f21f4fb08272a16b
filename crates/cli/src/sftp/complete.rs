//! Tab completion at the `sftp>` prompt: command names, remote paths and local paths.
//!
//! The word under the cursor is completed according to the command and its position, as
//! OpenSSH's sftp chooses: the first operand of `get` is remote and the second local, the
//! other way round for `put`, both operands of `rename`/`ln`/`symlink`/`cp` are remote, the
//! path of `chmod`/`chown`/`chgrp` (their second operand) is remote, and `lcd`/`lls`/`lmkdir`
//! take local paths. Flags (words starting with `-`) are not operands.
//!
//! A remote directory is listed once per line, however many times Tab is pressed. Names are
//! inserted with a backslash before every character the line splitter or a glob would take
//! specially (white space, quotes, `#`, `\`, `*`, `?`, `[`, `]`); a directory gets a `/`
//! after it and anything else a space.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use sshwire::sftp_client::SftpClient;

use super::paths::absolute;

/// How long a remote listing may take before Tab gives up on it.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// `S_IFMT` and the directory type of a mode.
const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;

/// The commands, as typed (aliases included).
const COMMANDS: &[&str] = &[
    "bye", "cd", "chdir", "chgrp", "chmod", "chown", "copy", "cp", "df", "dir", "exit", "get",
    "help", "lcd", "lchdir", "lls", "lmkdir", "ln", "lpwd", "ls", "lumask", "mget", "mkdir",
    "mput", "progress", "put", "pwd", "quit", "reget", "rename", "reput", "rm", "rmdir", "symlink",
    "version",
];

/// A directory's entries: name, and whether it is a directory.
type Entries = Vec<(String, bool)>;

/// Where an operand's paths are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// On the server.
    Remote,
    /// On this machine.
    Local,
}

/// The side of operand `n` (from 1) of `command`, when it is a path that is completed.
pub fn side(command: &str, n: usize) -> Option<Side> {
    use Side::{Local, Remote};
    match (command, n) {
        ("get" | "reget" | "mget", 1) | ("put" | "reput" | "mput", 2) => Some(Remote),
        ("get" | "reget" | "mget", 2) | ("put" | "reput" | "mput", 1) => Some(Local),
        ("ls" | "dir" | "cd" | "chdir" | "rm" | "rmdir" | "mkdir" | "df", 1) => Some(Remote),
        ("chmod" | "chown" | "chgrp", 2) => Some(Remote),
        ("rename" | "ln" | "symlink" | "copy" | "cp", 1 | 2) => Some(Remote),
        ("lcd" | "lchdir" | "lls" | "lmkdir", 1) => Some(Local),
        _ => None,
    }
}

/// What is to be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A command name starting with the text.
    Command(String),
    /// A path on `Side` starting with the text (quotes and escapes removed).
    Path(Side, String),
}

/// The word under the cursor: where it starts in the line, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    /// Byte offset of the word's first character (its opening quote, if any).
    pub start: usize,
    /// What to complete.
    pub target: Target,
}

/// Finds the word that ends at the end of `before` (the line up to the cursor) and what it
/// stands for; `None` when nothing is completed there.
pub fn partial(before: &str) -> Option<Partial> {
    let mut offset = 0;
    for (i, c) in before.char_indices() {
        if c.is_whitespace() || c == '-' || c == '@' {
            offset = i + c.len_utf8();
        } else {
            break;
        }
    }
    let body = before.get(offset..)?;
    if body.starts_with('!') {
        return None;
    }
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut start = before.len();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !in_word {
            if c.is_whitespace() {
                continue;
            }
            if c == '#' {
                return None;
            }
            in_word = true;
            start = offset + i;
        }
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                words.push(std::mem::take(&mut word));
                in_word = false;
                start = before.len();
            }
            (None, '#') => return None,
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '\\') => match chars.next() {
                Some((_, next)) => word.push(next),
                None => return None,
            },
            (Some(q), '\\') if chars.peek().is_some_and(|(_, n)| *n == q) => {
                word.push(q);
                chars.next();
            }
            (_, c) => word.push(c),
        }
    }
    let Some(command) = words.first() else {
        return Some(Partial {
            start,
            target: Target::Command(word),
        });
    };
    if word.starts_with('-') {
        return None;
    }
    let command = command.to_ascii_lowercase();
    let operand = words.iter().skip(1).filter(|w| !w.starts_with('-')).count() + 1;
    let side = side(&command, operand)?;
    Some(Partial {
        start,
        target: Target::Path(side, word),
    })
}

/// `name` with a backslash before each character the line would otherwise take specially.
pub fn quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_whitespace() || matches!(c, '\'' | '"' | '\\' | '#' | '*' | '?' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `typed` split into its directory part (up to and including the last `/`) and the start
/// of the name.
pub fn split(typed: &str) -> (&str, &str) {
    match typed.rfind('/') {
        Some(i) => (
            typed.get(..=i).unwrap_or_default(),
            typed.get(i + 1..).unwrap_or_default(),
        ),
        None => ("", typed),
    }
}

/// The candidates for `typed` among the entries `(name, is_directory)` of its directory:
/// names starting with what was typed (dot files only when a dot was typed; never `.` or
/// `..`), sorted.
pub fn candidates(typed: &str, entries: &[(String, bool)]) -> Vec<Pair> {
    let (dir, start) = split(typed);
    let mut out: Vec<Pair> = entries
        .iter()
        .filter(|(name, _)| {
            name.starts_with(start)
                && name != "."
                && name != ".."
                && (!name.starts_with('.') || start.starts_with('.'))
        })
        .map(|(name, is_dir)| {
            let (mark, after) = if *is_dir { ("/", "/") } else { ("", " ") };
            Pair {
                display: format!("{name}{mark}"),
                replacement: format!("{}{after}", quote(&format!("{dir}{name}"))),
            }
        })
        .collect();
    out.sort_by(|a, b| a.display.cmp(&b.display));
    out
}

/// The command names starting with `typed`.
fn commands(typed: &str) -> Vec<Pair> {
    COMMANDS
        .iter()
        .filter(|c| c.starts_with(&typed.to_ascii_lowercase()))
        .map(|c| Pair {
            display: (*c).to_owned(),
            replacement: format!("{c} "),
        })
        .collect()
}

/// The names in a local directory (`""` for the current one), `~` expanded.
fn local_entries(dir: &str) -> Entries {
    let path = match dir {
        "" => std::path::PathBuf::from("."),
        d => crate::paths::expand_tilde(d),
    };
    let Ok(read) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    read.filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            // Links to directories count as directories, as the shell's completion has them.
            let is_dir = std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir());
            Some((name, is_dir))
        })
        .collect()
}

/// The line editor's helper: completion against one session.
pub struct Completion {
    sftp: SftpClient,
    runtime: tokio::runtime::Handle,
    pwd: Vec<u8>,
    /// Remote listings made for the current line, by directory.
    cache: Mutex<HashMap<Vec<u8>, Entries>>,
}

impl Completion {
    /// A helper listing remote directories through `sftp` on `runtime`. It is called from
    /// the line editor's thread, which must not be one of the runtime's workers.
    pub fn new(sftp: SftpClient, runtime: tokio::runtime::Handle) -> Completion {
        Completion {
            sftp,
            runtime,
            pwd: b"/".to_vec(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a new line in the remote working directory `pwd`: listings are made afresh.
    pub fn new_line(&mut self, pwd: &[u8]) {
        pwd.clone_into(&mut self.pwd);
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// The names in a remote directory (`""` for the working directory).
    fn remote_entries(&self, dir: &str) -> Entries {
        let path = match dir {
            "" => self.pwd.clone(),
            d => absolute(d.as_bytes(), &self.pwd),
        };
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&path).cloned()) {
            return hit;
        }
        let listing = self
            .runtime
            .block_on(tokio::time::timeout(LIST_TIMEOUT, self.sftp.list(&path)));
        let entries: Entries = match listing {
            Ok(Ok(list)) => list
                .into_iter()
                .filter_map(|e| {
                    let name = String::from_utf8(e.filename).ok()?;
                    let is_dir = e.attrs.permissions.is_some_and(|p| p & S_IFMT == S_IFDIR);
                    Some((name, is_dir))
                })
                .collect(),
            _ => Vec::new(),
        };
        if let Ok(mut c) = self.cache.lock() {
            c.insert(path, entries.clone());
        }
        entries
    }
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let Some(p) = line.get(..pos).and_then(partial) else {
            return Ok((pos, Vec::new()));
        };
        let found = match &p.target {
            Target::Command(typed) => commands(typed),
            Target::Path(side, typed) => {
                let (dir, _) = split(typed);
                let entries = match side {
                    Side::Remote => self.remote_entries(dir),
                    Side::Local => local_entries(dir),
                };
                candidates(typed, &entries)
            }
        };
        Ok((p.start, found))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {}

impl Helper for Completion {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn path(side: Side, start: usize, typed: &str) -> Option<Partial> {
        Some(Partial {
            start,
            target: Target::Path(side, typed.into()),
        })
    }

    #[test]
    fn the_first_word_is_a_command() {
        let command = |start, typed: &str| {
            Some(Partial {
                start,
                target: Target::Command(typed.into()),
            })
        };
        assert_eq!(partial(""), command(0, ""));
        assert_eq!(partial("  re"), command(2, "re"));
        assert_eq!(partial("-@pu"), command(2, "pu"));
        assert_eq!(partial("!ls "), None);
        let names: Vec<String> = commands("re").into_iter().map(|p| p.display).collect();
        assert_eq!(names, ["reget", "rename", "reput"]);
    }

    #[test]
    fn operands_are_remote_or_local_as_in_openssh() {
        assert_eq!(partial("get bi"), path(Side::Remote, 4, "bi"));
        assert_eq!(partial("get -r bi x"), path(Side::Local, 10, "x"));
        assert_eq!(partial("put "), path(Side::Local, 4, ""));
        assert_eq!(partial("put a /tm"), path(Side::Remote, 6, "/tm"));
        assert_eq!(partial("chmod 644 f"), path(Side::Remote, 10, "f"));
        assert_eq!(partial("rename a b"), path(Side::Remote, 9, "b"));
        assert_eq!(partial("LCD ~/"), path(Side::Local, 4, "~/"));
        assert_eq!(partial("chmod 64"), None);
        assert_eq!(partial("pwd x"), None);
        assert_eq!(partial("ls -l"), None);
        assert_eq!(partial("get a # b"), None);
        assert_eq!(partial("get a b c"), None);
    }

    #[test]
    fn quotes_and_escapes_are_read_through() {
        assert_eq!(partial(r"get my\ fi"), path(Side::Remote, 4, "my fi"));
        assert_eq!(partial("get 'my fi"), path(Side::Remote, 4, "my fi"));
        assert_eq!(partial("get \"a b\" 'c d"), path(Side::Local, 10, "c d"));
        assert_eq!(partial(r"get a\"), None);
    }

    #[test]
    fn candidates_are_quoted_and_marked() {
        let entries = vec![
            ("big.bin".to_owned(), false),
            ("big dir".to_owned(), true),
            (".hidden".to_owned(), false),
            ("other".to_owned(), false),
            (".".to_owned(), true),
            ("..".to_owned(), true),
        ];
        let got: Vec<(String, String)> = candidates("sub/bi", &entries)
            .into_iter()
            .map(|p| (p.display, p.replacement))
            .collect();
        assert_eq!(
            got,
            [
                ("big dir/".to_owned(), r"sub/big\ dir/".to_owned()),
                ("big.bin".to_owned(), "sub/big.bin ".to_owned()),
            ]
        );
        assert_eq!(candidates("", &entries).len(), 3);
        assert_eq!(candidates(".", &entries)[0].display, ".hidden");
        assert_eq!(quote("a*b [c]#'d\"\\"), r#"a\*b\ \[c\]\#\'d\"\\"#);
    }

    #[test]
    fn a_quoted_candidate_splits_back_to_its_name() {
        let name = "it's a \"name\" #1 [x]*?\\";
        let words = super::super::line::words(&format!("get {}", quote(name))).unwrap();
        assert_eq!(super::super::line::unescape(&words[1]), name);
        assert!(!super::super::line::has_wildcards(&words[1]));
    }

    proptest::proptest! {
        #[test]
        fn any_line_is_read_without_panicking(line in ".{0,100}") {
            let _ = partial(&line);
        }
    }
}
