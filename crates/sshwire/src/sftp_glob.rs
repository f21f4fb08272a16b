//! Wildcards in paths, as OpenSSH's sftp expands them: one component at a time, remote or
//! local.
//!
//! [`glob_match`] matches one path component against one pattern component the way
//! `fnmatch(3)` does without flags, except that a leading `.` in a name is matched only by an
//! explicit `.` in the pattern (as `glob(3)` does for sftp): `*`, `?`, `[abc]`, `[a-z]`,
//! `[!x]` and backslash escapes. It works on bytes, never panics, and its work is bounded by
//! the product of the two lengths (a `*` is retried from one position at a time, never
//! recursively).
//!
//! [`SftpClient::glob`] and [`local_glob`] expand a whole path: a component without wildcards
//! is kept as it is, one with wildcards is matched against the listing of each directory
//! reached so far. `.` and `..` never match a wildcard (a pattern that names them plainly
//! keeps them), and neither does a name a server should never send (empty, or holding `/`
//! or NUL).

use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use sshwire_sftp::{Attrs, StatusCode};

use crate::sftp_client::{SftpClient, SftpError};
use crate::sftp_tree::list_bounded;

/// Paths one expansion may produce at most, so that a pattern cannot make a client hold an
/// unbounded list.
pub const MAX_GLOB_MATCHES: usize = 100_000;

/// One path a pattern matched, with its attributes (those of the path itself: a link is a
/// link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobMatch {
    /// The path, spelled as the pattern was: a relative pattern gives relative paths.
    pub path: Vec<u8>,
    /// Its attributes, from the directory listing or an `lstat`.
    pub attrs: Attrs,
}

/// One element of a parsed pattern component.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A byte that matches itself.
    Literal(u8),
    /// `?`: any one byte.
    Any,
    /// `*`: any run of bytes.
    Star,
    /// `[...]`: one byte in (or, negated, not in) the inclusive ranges.
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

impl Token {
    fn matches(&self, b: u8) -> bool {
        match self {
            Token::Literal(l) => *l == b,
            Token::Any => true,
            Token::Star => false,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&b)) != *negated
            }
        }
    }
}

/// Parses one pattern component; an unterminated `[` and a trailing `\` stand for themselves.
fn tokens(pattern: &[u8]) -> Vec<Token> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut i = 0;
    while let Some(&b) = pattern.get(i) {
        i += 1;
        match b {
            b'*' => out.push(Token::Star),
            b'?' => out.push(Token::Any),
            b'\\' => match pattern.get(i) {
                Some(&next) => {
                    out.push(Token::Literal(next));
                    i += 1;
                }
                None => out.push(Token::Literal(b'\\')),
            },
            b'[' => match class(pattern.get(i..).unwrap_or_default()) {
                Some((token, used)) => {
                    out.push(token);
                    i += used;
                }
                None => out.push(Token::Literal(b'[')),
            },
            other => out.push(Token::Literal(other)),
        }
    }
    out
}

/// Parses a bracket expression after its `[`: the token and the bytes it used, `]` included;
/// `None` when no `]` closes it.
fn class(rest: &[u8]) -> Option<(Token, usize)> {
    let mut i = 0;
    let negated = rest.first() == Some(&b'!');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let b = *rest.get(i)?;
        // A `]` right after `[` or `[!` is a member, not the end.
        if b == b']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        let (lo, used) = class_byte(rest, i)?;
        i += used;
        // `a-z` is a range; a `-` before the closing `]` is a member.
        if rest.get(i) == Some(&b'-') && rest.get(i + 1).is_some_and(|&n| n != b']') {
            let (hi, used) = class_byte(rest, i + 1)?;
            i += 1 + used;
            if lo <= hi {
                ranges.push((lo, hi));
            }
        } else {
            ranges.push((lo, lo));
        }
    }
}

/// The byte at `i` of a bracket expression, a backslash escaping the next one.
fn class_byte(rest: &[u8], i: usize) -> Option<(u8, usize)> {
    match *rest.get(i)? {
        b'\\' => rest.get(i + 1).map(|&b| (b, 2)),
        b => Some((b, 1)),
    }
}

/// Whether `name` (one path component) matches `pattern` (one pattern component).
///
/// A name starting with `.` needs a pattern starting with a literal `.` (plain or escaped).
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let tokens = tokens(pattern);
    if name.first() == Some(&b'.') && tokens.first() != Some(&Token::Literal(b'.')) {
        return false;
    }
    // The two-pointer algorithm: on a mismatch, go back to just after the last `*` and let
    // it swallow one more byte of the name. Every step advances the name position or the
    // restart point, so the work is at most pattern length times name length.
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&b) = name.get(n) {
        match tokens.get(p) {
            Some(Token::Star) => {
                star = Some((p + 1, n));
                p += 1;
                continue;
            }
            Some(t) if t.matches(b) => {
                p += 1;
                n += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((after, from)) => {
                p = after;
                n = from + 1;
                star = Some((after, from + 1));
            }
            None => return false,
        }
    }
    while tokens.get(p) == Some(&Token::Star) {
        p += 1;
    }
    p == tokens.len()
}

/// Whether a pattern component holds an unescaped wildcard (`*`, `?` or a complete `[...]`).
pub fn has_wildcards(pattern: &[u8]) -> bool {
    tokens(pattern)
        .iter()
        .any(|t| !matches!(t, Token::Literal(_)))
}

/// `name` with every byte that a pattern treats specially escaped by a backslash, so that
/// `glob_match(&escape(name), name)` holds for any name.
pub fn escape(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for &b in name {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// A pattern component without wildcards, its escapes removed.
fn unescape(component: &[u8]) -> Vec<u8> {
    tokens(component)
        .into_iter()
        .filter_map(|t| match t {
            Token::Literal(b) => Some(b),
            _ => None,
        })
        .collect()
}

/// Whether a listed name may match a wildcard component: never `.`, `..`, or a name no
/// directory can hold.
fn listable(name: &[u8]) -> bool {
    // filexfer-02 §7, SSH_FXP_NAME: "for SSH_FXP_READDIR, it will be a relative name within
    // the directory, without any path components".
    !(name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0))
}

/// `base/name`; an empty base is the current directory.
fn join(base: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    if !out.is_empty() && !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// Splits a pattern into its start (`/` or nothing) and its non-empty components.
fn components(pattern: &[u8]) -> (Vec<u8>, Vec<&[u8]>) {
    let start = if pattern.starts_with(b"/") {
        b"/".to_vec()
    } else {
        Vec::new()
    };
    let parts = pattern
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    (start, parts)
}

fn too_many() -> SftpError {
    SftpError::Status {
        code: StatusCode::FAILURE,
        message: format!("the pattern matches more than {MAX_GLOB_MATCHES} paths"),
    }
}

fn no_match(pattern: &[u8]) -> SftpError {
    SftpError::Status {
        code: StatusCode::NO_SUCH_FILE,
        message: format!("{}: no such file", String::from_utf8_lossy(pattern)),
    }
}

impl SftpClient {
    /// The remote paths `pattern` matches, sorted, each with its attributes.
    ///
    /// Only directories reached by a component with wildcards are listed; the paths are
    /// checked with `lstat` when the pattern ends in plain components. A listing the server
    /// refuses (not a directory, no permission) contributes nothing, as with `glob(3)`; a
    /// session failure is an error. No match at all is `SSH_FX_NO_SUCH_FILE`.
    pub async fn glob(&self, pattern: &[u8]) -> Result<Vec<GlobMatch>, SftpError> {
        let (start, parts) = components(pattern);
        // Paths reached so far, with their attributes when a listing gave them.
        let mut reached: Vec<(Vec<u8>, Option<Attrs>)> = vec![(start, None)];
        for part in parts {
            if !has_wildcards(part) {
                let literal = unescape(part);
                for (path, attrs) in &mut reached {
                    *path = join(path, &literal);
                    *attrs = None;
                }
                continue;
            }
            let mut next = Vec::new();
            for (dir, _) in &reached {
                let listed = if dir.is_empty() { b"." as &[u8] } else { dir };
                let entries = match list_bounded(self, listed).await {
                    Ok(entries) => entries,
                    Err(SftpError::Status { .. }) => continue,
                    Err(e) => return Err(e),
                };
                for (name, attrs) in entries {
                    if listable(&name) && glob_match(part, &name) {
                        if next.len() >= MAX_GLOB_MATCHES {
                            return Err(too_many());
                        }
                        next.push((join(dir, &name), Some(attrs)));
                    }
                }
            }
            reached = next;
        }
        let mut found = Vec::with_capacity(reached.len());
        for (path, attrs) in reached {
            let attrs = match attrs {
                Some(a) => a,
                None => match self.lstat(&path).await {
                    Ok(a) => a,
                    Err(SftpError::Status { .. }) => continue,
                    Err(e) => return Err(e),
                },
            };
            found.push(GlobMatch { path, attrs });
        }
        if found.is_empty() {
            return Err(no_match(pattern));
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }
}

/// The local paths `pattern` matches, sorted, as [`SftpClient::glob`] finds remote ones.
///
/// No match at all is an error of kind [`io::ErrorKind::NotFound`]. This reads directories
/// synchronously; call it from a blocking context (`spawn_blocking`) in async code.
pub fn local_glob(pattern: &Path) -> io::Result<Vec<PathBuf>> {
    let bytes = pattern.as_os_str().as_bytes();
    let (start, parts) = components(bytes);
    let mut reached: Vec<Vec<u8>> = vec![start];
    let mut listed_last = false;
    for part in parts {
        if !has_wildcards(part) {
            let literal = unescape(part);
            for path in &mut reached {
                *path = join(path, &literal);
            }
            listed_last = false;
            continue;
        }
        let mut next = Vec::new();
        for dir in &reached {
            let listed = if dir.is_empty() { b"." as &[u8] } else { dir };
            let Ok(entries) = std::fs::read_dir(Path::new(std::ffi::OsStr::from_bytes(listed)))
            else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().into_vec();
                if listable(&name) && glob_match(part, &name) {
                    if next.len() >= MAX_GLOB_MATCHES {
                        return Err(io::Error::other(format!(
                            "the pattern matches more than {MAX_GLOB_MATCHES} paths"
                        )));
                    }
                    next.push(join(dir, &name));
                }
            }
        }
        reached = next;
        listed_last = true;
    }
    let mut found: Vec<PathBuf> = reached
        .into_iter()
        .map(|p| PathBuf::from(std::ffi::OsString::from_vec(p)))
        .filter(|p| listed_last || std::fs::symlink_metadata(p).is_ok())
        .collect();
    if found.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: no such file", pattern.display()),
        ));
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(pattern: &str, name: &str) -> bool {
        glob_match(pattern.as_bytes(), name.as_bytes())
    }

    #[test]
    fn wildcards_match_as_fnmatch_does() {
        assert!(m("*", "abc"));
        assert!(m("*", ""));
        assert!(m("a*c", "abbbc"));
        assert!(m("a*c", "ac"));
        assert!(!m("a*c", "acb"));
        assert!(m("*.txt", "notes.txt"));
        assert!(!m("*.txt", "notes.txt.bak"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn brackets_hold_sets_ranges_and_negations() {
        assert!(m("[abc]", "b"));
        assert!(!m("[abc]", "d"));
        assert!(m("[a-z]x", "qx"));
        assert!(!m("[a-z]", "Q"));
        assert!(m("[!x]", "y"));
        assert!(!m("[!x]", "x"));
        // `]` first is a member; `-` last is a member.
        assert!(m("[]a]", "]"));
        assert!(m("[!]]", "a"));
        assert!(!m("[!]]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("[\\]]", "]"));
        // An unterminated bracket is a literal `[`.
        assert!(m("[ab", "[ab"));
        assert!(!m("[ab", "a"));
        // A reversed range matches nothing.
        assert!(!m("[z-a]", "m"));
    }

    #[test]
    fn backslash_escapes_and_wildcard_detection() {
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(m("\\?", "?"));
        assert!(m("a\\", "a\\"));
        assert!(has_wildcards(b"a*"));
        assert!(has_wildcards(b"[ab]"));
        assert!(!has_wildcards(b"a\\*"));
        assert!(!has_wildcards(b"[ab"));
        assert_eq!(unescape(b"a\\*b"), b"a*b");
    }

    #[test]
    fn a_leading_dot_needs_an_explicit_dot() {
        assert!(!m("*", ".profile"));
        assert!(!m("?profile", ".profile"));
        assert!(!m("[.]profile", ".profile"));
        assert!(m(".*", ".profile"));
        assert!(m("\\.*", ".profile"));
        assert!(m("*.*", "a.b"));
    }

    #[test]
    fn long_stars_do_not_backtrack_exponentially() {
        // Exponential backtracking would not finish this in any reasonable time.
        let pattern = "*a".repeat(200) + "b";
        let name = "a".repeat(5000);
        assert!(!glob_match(pattern.as_bytes(), name.as_bytes()));
    }

    #[test]
    fn paths_split_into_components() {
        let (start, parts) = components(b"/a//b*/c/");
        assert_eq!(start, b"/");
        assert_eq!(parts, vec![&b"a"[..], b"b*", b"c"]);
        assert_eq!(join(b"", b"x"), b"x");
        assert_eq!(join(b"/", b"x"), b"/x");
        assert_eq!(join(b"d", b"x"), b"d/x");
        assert!(!listable(b".."));
        assert!(!listable(b"a/b"));
        assert!(!listable(b""));
    }

    proptest! {
        #[test]
        fn the_matcher_never_panics(pattern in proptest::collection::vec(any::<u8>(), 0..40),
                                    name in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = glob_match(&pattern, &name);
            let _ = has_wildcards(&pattern);
        }

        #[test]
        fn an_escaped_name_matches_itself(name in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert!(glob_match(&escape(&name), &name));
            prop_assert!(!has_wildcards(&escape(&name)));
            prop_assert_eq!(unescape(&escape(&name)), name);
        }

        #[test]
        fn special_bytes_are_likely_in_patterns(
            pattern in proptest::collection::vec(prop::sample::select(b"*?[]!-\\a.".to_vec()), 0..20),
            name in proptest::collection::vec(prop::sample::select(b"*?[]!-\\a.".to_vec()), 0..20),
        ) {
            let _ = glob_match(&pattern, &name);
        }
    }
}
