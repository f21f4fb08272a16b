//! One line of an sftp session: its prefixes, its words, and the command they make.
//!
//! Words are split as OpenSSH's sftp splits them: white space separates, single and double
//! quotes group, a backslash escapes the next character, and `#` outside quotes starts a
//! comment. Each word is kept as a glob pattern in which every character that was quoted or
//! escaped is escaped again with a backslash, so that a quoted `*` stays a literal `*` when
//! the word is globbed; [`unescape`] gives the literal text for commands that do not glob.

use std::fmt;

/// Most words on one line (OpenSSH's limit too).
const MAX_WORDS: usize = 128;
/// Longest line accepted.
pub const MAX_LINE: usize = 8192;

/// The characters a glob treats specially, escaped when they stand for themselves.
const GLOB_SPECIAL: &[char] = &['*', '?', '[', ']', '\\'];

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError(pub String);

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, LineError> {
    Err(LineError(message.into()))
}

/// A line's prefixes: `-` lets the command fail without ending a batch, `@` keeps it from
/// being echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prefixes {
    /// `-`: a failure does not abort a batch.
    pub ignore_errors: bool,
    /// `@`: the line is not echoed.
    pub no_echo: bool,
}

/// Splits the prefixes off a line; returns them and the rest, without leading white space.
pub fn prefixes(line: &str) -> (Prefixes, &str) {
    let mut p = Prefixes::default();
    let mut rest = line.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix('-') {
            p.ignore_errors = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('@') {
            p.no_echo = true;
            rest = r;
        } else {
            break;
        }
    }
    (p, rest.trim_start())
}

fn escape_into(out: &mut String, c: char) {
    if GLOB_SPECIAL.contains(&c) {
        out.push('\\');
    }
    out.push(c);
}

/// Escapes the glob characters of a literal path, so that globbing it matches only itself.
pub fn escape(literal: &str) -> String {
    String::from_utf8_lossy(&sshwire::sftp_glob::escape(literal.as_bytes())).into_owned()
}

/// The literal text of a word: its escapes removed.
pub fn unescape(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().unwrap_or('\\')),
            c => out.push(c),
        }
    }
    out
}

/// Whether a word has an unescaped wildcard.
pub fn has_wildcards(pattern: &str) -> bool {
    sshwire::sftp_glob::has_wildcards(pattern.as_bytes())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    Bare,
    Quoted(char),
}

/// Splits a line into words (as glob patterns; see the module documentation).
pub fn words(line: &str) -> Result<Vec<String>, LineError> {
    if line.len() > MAX_LINE {
        return fail("string too long");
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = State::Between;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (state, c) {
            (State::Between | State::Bare, '#') => break,
            (State::Between, c) if c.is_whitespace() => {}
            (State::Bare, c) if c.is_whitespace() => {
                words.push(std::mem::take(&mut word));
                state = State::Between;
            }
            (State::Between | State::Bare, '"' | '\'') => state = State::Quoted(c),
            (State::Quoted(q), c) if c == q => state = State::Bare,
            (State::Between | State::Bare, '\\') => {
                state = State::Bare;
                match chars.next() {
                    Some(next) => escape_into(&mut word, next),
                    None => return fail("Unterminated escape at the end of the line"),
                }
            }
            (State::Quoted(q), '\\') => match chars.peek() {
                // Inside quotes a backslash escapes only the quote itself.
                Some(&next) if next == q => {
                    chars.next();
                    escape_into(&mut word, next);
                }
                _ => escape_into(&mut word, '\\'),
            },
            (State::Quoted(_), c) => escape_into(&mut word, c),
            (State::Between | State::Bare, c) => {
                state = State::Bare;
                word.push(c);
            }
        }
        if words.len() >= MAX_WORDS {
            return fail("Too many arguments.");
        }
    }
    match state {
        State::Quoted(_) => fail("Unterminated quoted argument"),
        State::Bare => {
            words.push(word);
            Ok(words)
        }
        State::Between => Ok(words),
    }
}

/// Flags of `get`, `put`, `reget` and `reput`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransferFlags {
    /// `-a`: resume.
    pub resume: bool,
    /// `-f`: flush to disk when done.
    pub fsync: bool,
    /// `-p`/`-P`: preserve permissions and times.
    pub preserve: bool,
    /// `-r`/`-R`: recurse into directories.
    pub recursive: bool,
}

/// Flags of `ls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LsFlags {
    /// `-l` (or `-n`): one long line per entry.
    pub long: bool,
    /// `-1`: one name per line.
    pub single_column: bool,
    /// `-n`: numeric owners.
    pub numeric: bool,
    /// `-h`: sizes with units.
    pub human: bool,
    /// `-a`: names starting with `.` too.
    pub all: bool,
    /// `-r`: reverse the order.
    pub reverse: bool,
    /// The order.
    pub sort: Sort,
}

/// How `ls` orders its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// By name (the default).
    Name,
    /// By modification time, newest first (`-t`).
    Time,
    /// By size, largest first (`-S`).
    Size,
    /// As the server sent them (`-f`).
    None,
}

impl Default for LsFlags {
    fn default() -> Self {
        LsFlags {
            long: false,
            single_column: false,
            numeric: false,
            human: false,
            all: false,
            reverse: false,
            sort: Sort::Name,
        }
    }
}

/// A parsed command. Paths that the command globs are patterns; the others are literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `get`/`reget`/`mget`: remote pattern, optional local destination.
    Get(TransferFlags, String, Option<String>),
    /// `put`/`reput`/`mput`: local pattern, optional remote destination.
    Put(TransferFlags, String, Option<String>),
    /// `cd [path]`.
    Cd(Option<String>),
    /// `lcd [path]`.
    Lcd(Option<String>),
    /// `chmod [-h] mode pattern`.
    Chmod(bool, u32, String),
    /// `chown [-h] uid pattern`.
    Chown(bool, u32, String),
    /// `chgrp [-h] gid pattern`.
    Chgrp(bool, u32, String),
    /// `copy`/`cp old new`.
    Copy(String, String),
    /// `df [-h] [-i] [path]`.
    Df {
        /// `-h`.
        human: bool,
        /// `-i`.
        inodes: bool,
        /// The path, or the working directory.
        path: Option<String>,
    },
    /// `help`/`?`.
    Help,
    /// `lls [ls options]`: the rest of the line, for the local `ls`.
    Lls(String),
    /// `lmkdir path`.
    Lmkdir(String),
    /// `ln [-s] old new`; `symlink old new` is `ln -s`.
    Link(bool, String, String),
    /// `lpwd`.
    Lpwd,
    /// `ls [flags] [pattern]`.
    Ls(LsFlags, Option<String>),
    /// `lumask umask`.
    Lumask(u32),
    /// `mkdir path`.
    Mkdir(String),
    /// `progress`.
    Progress,
    /// `pwd`.
    Pwd,
    /// `bye`/`exit`/`quit`.
    Quit,
    /// `rename [-l] old new`: `-l` forces the legacy rename.
    Rename(bool, String, String),
    /// `rm pattern`.
    Rm(String),
    /// `rmdir path`.
    Rmdir(String),
    /// `!command`, or `!` alone for a shell.
    Shell(String),
    /// `version`.
    Version,
}

/// Parses one getopt-style run of flags for `cmd` from `args`; returns the flags seen and the
/// index of the first operand. `--` ends the flags; a flag not in `allowed` is an error in
/// OpenSSH's words.
fn flags(cmd: &str, args: &[String], allowed: &str) -> Result<(Vec<char>, usize), LineError> {
    let mut seen = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if arg == "--" {
            return Ok((seen, i + 1));
        }
        let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty()) else {
            break;
        };
        for c in letters.chars() {
            if !allowed.contains(c) {
                return fail(format!("{cmd}: Invalid flag -{c}"));
            }
            seen.push(c);
        }
        i += 1;
    }
    Ok((seen, i))
}

fn operands(args: &[String], from: usize) -> &[String] {
    args.get(from..).unwrap_or_default()
}

/// Parses a line (without its prefixes); `None` for a blank line or a comment.
pub fn parse(line: &str) -> Result<Option<Command>, LineError> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if let Some(rest) = line.strip_prefix('!') {
        return Ok(Some(Command::Shell(rest.to_owned())));
    }
    let words = words(line)?;
    let Some((name, args)) = words.split_first() else {
        return Ok(None);
    };
    let name = name.to_ascii_lowercase();
    let cmd = name.as_str();
    let two_paths = |allowed: &str| -> Result<(Vec<char>, String, String), LineError> {
        let (f, i) = flags(cmd, args, allowed)?;
        match operands(args, i) {
            [a, b, ..] => Ok((f, unescape(a), unescape(b))),
            _ => fail(format!("You must specify two paths after a {cmd} command.")),
        }
    };
    let one_path = |mandatory: bool| -> Result<Option<String>, LineError> {
        let (_, i) = flags(cmd, args, "")?;
        match operands(args, i).first() {
            Some(p) => Ok(Some(p.clone())),
            None if mandatory => fail(format!("You must specify a path after a {cmd} command.")),
            None => Ok(None),
        }
    };
    let no_operands = || -> Result<(), LineError> { flags(cmd, args, "").map(|_| ()) };
    let command = match cmd {
        "get" | "mget" | "reget" | "put" | "mput" | "reput" => {
            let (f, i) = flags(cmd, args, "afPpRr")?;
            let t = TransferFlags {
                resume: f.contains(&'a') || cmd.starts_with("re"),
                fsync: f.contains(&'f'),
                preserve: f.contains(&'p') || f.contains(&'P'),
                recursive: f.contains(&'r') || f.contains(&'R'),
            };
            let ops = operands(args, i);
            let Some(source) = ops.first().cloned() else {
                return fail(format!(
                    "You must specify at least one path after a {cmd} command."
                ));
            };
            // The destination is never globbed.
            let dest = ops.get(1).map(|d| unescape(d));
            if cmd.contains("get") {
                Command::Get(t, source, dest)
            } else {
                Command::Put(t, source, dest)
            }
        }
        "ln" => {
            let (f, a, b) = two_paths("s")?;
            Command::Link(f.contains(&'s'), a, b)
        }
        "symlink" => {
            let (_, a, b) = two_paths("")?;
            Command::Link(true, a, b)
        }
        "copy" | "cp" => {
            let (_, a, b) = two_paths("")?;
            Command::Copy(a, b)
        }
        "rename" => {
            let (f, a, b) = two_paths("l")?;
            Command::Rename(f.contains(&'l'), a, b)
        }
        "rm" => Command::Rm(one_path(true)?.unwrap_or_default()),
        "mkdir" => Command::Mkdir(unescape(&one_path(true)?.unwrap_or_default())),
        "rmdir" => Command::Rmdir(unescape(&one_path(true)?.unwrap_or_default())),
        "lmkdir" => Command::Lmkdir(unescape(&one_path(true)?.unwrap_or_default())),
        "cd" | "chdir" => Command::Cd(one_path(false)?.map(|p| unescape(&p))),
        "lcd" | "lchdir" => Command::Lcd(one_path(false)?.map(|p| unescape(&p))),
        "df" => {
            let (f, i) = flags(cmd, args, "hi")?;
            Command::Df {
                human: f.contains(&'h'),
                inodes: f.contains(&'i'),
                path: operands(args, i).first().map(|p| unescape(p)),
            }
        }
        "ls" | "dir" => {
            let (f, i) = flags(cmd, args, "1Safhlnrt")?;
            let mut ls = LsFlags::default();
            for c in f {
                match c {
                    '1' => {
                        ls.single_column = true;
                        ls.long = false;
                    }
                    'l' => {
                        ls.long = true;
                        ls.single_column = false;
                    }
                    'n' => {
                        ls.long = true;
                        ls.numeric = true;
                        ls.single_column = false;
                    }
                    'S' => ls.sort = Sort::Size,
                    't' => ls.sort = Sort::Time,
                    'f' => ls.sort = Sort::None,
                    'a' => ls.all = true,
                    'h' => ls.human = true,
                    'r' => ls.reverse = true,
                    _ => {}
                }
            }
            Command::Ls(ls, operands(args, i).first().cloned())
        }
        "lls" => {
            let rest = line.get(name.len()..).unwrap_or_default().trim();
            Command::Lls(rest.to_owned())
        }
        "chmod" | "chown" | "chgrp" | "lumask" => {
            let (f, i) = flags(cmd, args, if cmd == "lumask" { "" } else { "h" })?;
            let ops = operands(args, i);
            let radix = if matches!(cmd, "chmod" | "lumask") {
                8
            } else {
                10
            };
            let number = ops
                .first()
                .and_then(|n| u32::from_str_radix(&unescape(n), radix).ok());
            let Some(number) = number else {
                return fail(format!(
                    "You must supply a numeric argument to the {cmd} command."
                ));
            };
            if cmd == "lumask" {
                Command::Lumask(number)
            } else {
                let Some(path) = ops.get(1).cloned() else {
                    return fail(format!("You must specify a path after a {cmd} command."));
                };
                let h = f.contains(&'h');
                match cmd {
                    "chmod" => Command::Chmod(h, number, path),
                    "chown" => Command::Chown(h, number, path),
                    _ => Command::Chgrp(h, number, path),
                }
            }
        }
        "pwd" => no_operands().map(|_| Command::Pwd)?,
        "lpwd" => no_operands().map(|_| Command::Lpwd)?,
        "bye" | "exit" | "quit" => no_operands().map(|_| Command::Quit)?,
        "help" | "?" => no_operands().map(|_| Command::Help)?,
        "version" => no_operands().map(|_| Command::Version)?,
        "progress" => no_operands().map(|_| Command::Progress)?,
        _ => return fail("Invalid command."),
    };
    Ok(Some(command))
}

/// The `help` text, word for word as OpenSSH's sftp lists its commands (`mget`, `mput`,
/// `dir`, `chdir`, `lchdir` and `rename -l` work too, unlisted as there).
pub const HELP: &str = "Available commands:
bye                                Quit sftp
cd path                            Change remote directory to 'path'
chgrp [-h] grp path                Change group of file 'path' to 'grp'
chmod [-h] mode path               Change permissions of file 'path' to 'mode'
chown [-h] own path                Change owner of file 'path' to 'own'
copy oldpath newpath               Copy remote file
cp oldpath newpath                 Copy remote file
df [-hi] [path]                    Display statistics for current directory or
                                   filesystem containing 'path'
exit                               Quit sftp
get [-afpR] remote [local]         Download file
help                               Display this help text
lcd path                           Change local directory to 'path'
lls [ls-options [path]]            Display local directory listing
lmkdir path                        Create local directory
ln [-s] oldpath newpath            Link remote file (-s for symlink)
lpwd                               Print local working directory
ls [-1afhlnrSt] [path]             Display remote directory listing
lumask umask                       Set local umask to 'umask'
mkdir path                         Create remote directory
progress                           Toggle display of progress meter
put [-afpR] local [remote]         Upload file
pwd                                Display remote working directory
quit                               Quit sftp
reget [-fpR] remote [local]        Resume download file
rename oldpath newpath             Rename remote file
reput [-fpR] local [remote]        Resume upload file
rm path                            Delete remote file
rmdir path                         Remove remote directory
symlink oldpath newpath            Symlink remote file
version                            Show SFTP version
!command                           Execute 'command' in local shell
!                                  Escape to local shell
?                                  Synonym for help
";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn w(line: &str) -> Vec<String> {
        words(line).unwrap()
    }

    #[test]
    fn words_split_quote_and_escape_like_sftp() {
        assert_eq!(w("get  a   b"), ["get", "a", "b"]);
        assert_eq!(
            w("put 'my file' \"other file\""),
            ["put", "my file", "other file"]
        );
        assert_eq!(w(r"put my\ file"), ["put", "my file"]);
        assert_eq!(w("ls # a comment"), ["ls"]);
        assert_eq!(w("ls '#not'"), ["ls", "#not"]);
        assert_eq!(w(r#"get "it's""#), ["get", "it's"]);
        assert_eq!(w(r#"get 'say "hi"'"#), ["get", "say \"hi\""]);
        assert_eq!(w(r"get 'a\'b'"), ["get", "a'b"]);
        assert_eq!(w("get a'b c'd"), ["get", "ab cd"]);
        assert!(words("get 'open").is_err());
        assert!(words("get \\").is_err());
    }

    #[test]
    fn quoted_and_escaped_wildcards_stay_literal() {
        assert_eq!(w("get *.txt"), ["get", "*.txt"]);
        assert_eq!(w("get '*.txt'"), ["get", r"\*.txt"]);
        assert_eq!(w(r"get \*.txt"), ["get", r"\*.txt"]);
        assert!(has_wildcards("a*"));
        assert!(!has_wildcards(r"a\*"));
        assert_eq!(unescape(r"\*.txt"), "*.txt");
        assert_eq!(unescape(&escape(r"a[1]\b*?")), r"a[1]\b*?");
        assert!(!has_wildcards(&escape("x[*]?")));
    }

    #[test]
    fn prefixes_are_stripped_in_any_order() {
        let (p, rest) = prefixes("  -@ rm x");
        assert!(p.ignore_errors && p.no_echo);
        assert_eq!(rest, "rm x");
        let (p, rest) = prefixes("ls");
        assert_eq!(p, Prefixes::default());
        assert_eq!(rest, "ls");
    }

    #[test]
    fn commands_parse_with_their_flags() {
        let get = parse("get -rp dir /tmp/x").unwrap().unwrap();
        let flags = TransferFlags {
            recursive: true,
            preserve: true,
            ..TransferFlags::default()
        };
        assert_eq!(
            get,
            Command::Get(flags, "dir".into(), Some("/tmp/x".into()))
        );
        match parse("reput a").unwrap().unwrap() {
            Command::Put(f, _, None) => assert!(f.resume),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse("chmod 644 *.txt").unwrap().unwrap(),
            Command::Chmod(false, 0o644, "*.txt".into())
        );
        assert_eq!(
            parse("ln -s target link").unwrap().unwrap(),
            Command::Link(true, "target".into(), "link".into())
        );
        match parse("ls -laS dir").unwrap().unwrap() {
            Command::Ls(f, Some(p)) => {
                assert!(f.long && f.all);
                assert_eq!(f.sort, Sort::Size);
                assert_eq!(p, "dir");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse("lls -l /tmp").unwrap().unwrap(),
            Command::Lls("-l /tmp".into())
        );
        assert_eq!(
            parse("!echo hi").unwrap().unwrap(),
            Command::Shell("echo hi".into())
        );
        assert_eq!(parse("# comment").unwrap(), None);
        assert_eq!(parse("   ").unwrap(), None);
    }

    #[test]
    fn mistakes_get_openssh_messages() {
        let e = |l: &str| parse(l).unwrap_err().0;
        assert_eq!(e("frobnicate"), "Invalid command.");
        assert_eq!(e("get -x a"), "get: Invalid flag -x");
        assert_eq!(
            e("get"),
            "You must specify at least one path after a get command."
        );
        assert_eq!(
            e("rename a"),
            "You must specify two paths after a rename command."
        );
        assert_eq!(
            e("chmod abc f"),
            "You must supply a numeric argument to the chmod command."
        );
        assert_eq!(
            e("chmod 644"),
            "You must specify a path after a chmod command."
        );
        assert_eq!(e("rm"), "You must specify a path after a rm command.");
    }

    proptest::proptest! {
        #[test]
        fn any_line_parses_or_fails_without_panicking(line in ".{0,200}") {
            let (_, rest) = prefixes(&line);
            let _ = parse(rest);
        }

        #[test]
        fn escaped_text_unescapes_to_itself(s in ".{0,64}") {
            proptest::prop_assert_eq!(unescape(&escape(&s)), s.clone());
            proptest::prop_assert!(!has_wildcards(&escape(&s)));
        }
    }
}
