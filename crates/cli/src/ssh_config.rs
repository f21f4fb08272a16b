//! ssh_config(5) files as OpenSSH's client reads them: `Host` and `Match` blocks, `Include`,
//! quoting and comments, merged into [`SshOptions`] where the first value obtained wins.
//!
//! - A line is `Keyword value...` or `Keyword=value...`; keywords are case-insensitive;
//!   arguments are split at whitespace, `"..."` and `'...'` group, a backslash escapes a
//!   quote, a backslash or (outside quotes) a space, and an argument starting with `#` ends
//!   the line.
//! - `Host pattern...` starts a block that applies when the host named on the command line
//!   matches a pattern (`*`, `?`) and no `!pattern`. `Match` supports `all`, `host` (matched
//!   against `HostName` when one was obtained already) and `user` (the remote user), each
//!   possibly negated with `!`; the other criteria of OpenSSH are reported and never match.
//! - `Include` reads files (relative ones in `~/.ssh`, with `*` and `?` wildcards, in lexical
//!   order) at most [`MAX_INCLUDE_DEPTH`] deep; inside a block that does not apply their
//!   lines are checked but not applied.
//! - Every line is checked even where it does not apply: a misspelt keyword or a bad value is
//!   an error naming the file and line.

use std::path::{Path, PathBuf};

use sshwire::keys::wildcard_match;

use crate::paths;
use crate::ssh_options::SshOptions;

/// Files included within files at most (OpenSSH's limit too).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Bytes one configuration file may hold at most.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Files one `Include` pattern may name at most.
const MAX_INCLUDE_MATCHES: usize = 256;

/// Which configuration file to read (`-F`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConfigFile {
    /// `~/.ssh/config`, if it exists.
    #[default]
    User,
    /// `-F none`: no file at all.
    None,
    /// `-F file`: this file, which must exist.
    Path(PathBuf),
}

impl ConfigFile {
    /// The file of a `-F` argument, or the default without one.
    pub fn from_arg(arg: Option<&str>) -> ConfigFile {
        match arg {
            None => ConfigFile::User,
            Some("none") => ConfigFile::None,
            Some(path) => ConfigFile::Path(paths::expand_tilde(path)),
        }
    }
}

/// Who is being connected to: what a `Host` or `Match` line is matched against.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The host as named on the command line (an alias, possibly).
    pub host: &'a str,
    /// The remote user given on the command line (`-l`, `user@`), if any.
    pub user: Option<&'a str>,
}

/// Reads the configuration `file` for `target` into `options` (which hold the command line's
/// options already, so those win). Returns warnings to show the user.
pub fn read(
    file: &ConfigFile,
    target: &Target<'_>,
    options: &mut SshOptions,
) -> Result<Vec<String>, String> {
    let path = match file {
        ConfigFile::None => return Ok(Vec::new()),
        ConfigFile::User => match paths::home() {
            Ok(home) => home.join(".ssh").join("config"),
            Err(_) => return Ok(Vec::new()),
        },
        ConfigFile::Path(path) => path.clone(),
    };
    let text = match read_file(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && *file == ConfigFile::User => {
            return Ok(Vec::new());
        }
        Err(e) => {
            let shown = path.display();
            return Err(format!(
                "Can't open user config file {shown}: {}",
                io_text(&e)
            ));
        }
    };
    read_text(&text, &path.display().to_string(), target, options)
}

/// Reads configuration `text` (named `name` in messages) for `target` into `options`, as
/// [`read`] does with a file; `Include` lines read files.
pub fn read_text(
    text: &str,
    name: &str,
    target: &Target<'_>,
    options: &mut SshOptions,
) -> Result<Vec<String>, String> {
    let mut reader = Reader {
        target,
        warnings: Vec::new(),
    };
    reader.text(text, name, options, 0, true)?;
    Ok(reader.warnings)
}

/// A configuration file's text, refused past [`MAX_CONFIG_BYTES`].
fn read_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {MAX_CONFIG_BYTES} bytes"),
        ));
    }
    Ok(text)
}

/// An I/O error's text without Rust's `(os error N)`.
fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// The state of one reading: the target and the warnings so far.
struct Reader<'t> {
    target: &'t Target<'t>,
    warnings: Vec<String>,
}

impl Reader<'_> {
    /// Reads the lines of one file; `enabled` is false inside a block that does not apply
    /// (lines are then checked, never applied).
    fn text(
        &mut self,
        text: &str,
        name: &str,
        options: &mut SshOptions,
        depth: usize,
        enabled: bool,
    ) -> Result<(), String> {
        // Lines before the first Host or Match apply to every host.
        let mut active = enabled;
        for (n, line) in text.lines().enumerate() {
            let at = format!("{name} line {}", n + 1);
            let Some((keyword, args)) = split_line(line).map_err(|e| format!("{at}: {e}"))? else {
                continue;
            };
            match keyword.to_ascii_lowercase().as_str() {
                "host" => active = enabled && host_matches(&args, self.target.host),
                "match" => {
                    let m = self.match_line(&args, options, &at)?;
                    active = enabled && m;
                }
                "include" => {
                    if depth + 1 > MAX_INCLUDE_DEPTH {
                        return Err(format!("{at}: Include nested too deeply"));
                    }
                    for pattern in &args {
                        for file in include_files(pattern) {
                            let shown = file.display().to_string();
                            // A pattern that names a directory or an unreadable file is
                            // skipped, as a pattern that matches nothing is.
                            match read_file(&file) {
                                Ok(text) => self.text(&text, &shown, options, depth + 1, active)?,
                                Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                                    return Err(format!("{shown}: {e}"));
                                }
                                Err(_) => {}
                            }
                        }
                    }
                }
                _ if active => options
                    .apply(&keyword, &args)
                    .map_err(|e| format!("{at}: {e}"))?,
                _ => {
                    // Checked, not applied: a misspelt keyword is an error in any block.
                    let mut scratch = SshOptions {
                        ignore_unknown: options.ignore_unknown.clone(),
                        ..SshOptions::default()
                    };
                    scratch
                        .apply(&keyword, &args)
                        .map_err(|e| format!("{at}: {e}"))?;
                }
            }
        }
        Ok(())
    }

    /// Whether a `Match` line applies: every criterion must hold.
    fn match_line(
        &mut self,
        args: &[String],
        options: &SshOptions,
        at: &str,
    ) -> Result<bool, String> {
        let mut result = true;
        let mut words = args.iter();
        let mut first = true;
        while let Some(word) = words.next() {
            let (negated, criterion) = match word.strip_prefix('!') {
                Some(c) => (true, c),
                None => (false, word.as_str()),
            };
            let criterion = criterion.to_ascii_lowercase();
            let holds = match criterion.as_str() {
                "all" => {
                    if !first || args.len() > 1 {
                        return Err(format!("{at}: Match all must be alone"));
                    }
                    true
                }
                "host" | "user" => {
                    let patterns = words
                        .next()
                        .ok_or_else(|| format!("{at}: Match {criterion} needs patterns"))?;
                    let subject = if criterion == "host" {
                        self.host_name(options)
                    } else {
                        self.user(options)
                    };
                    list_matches(patterns, &subject)
                }
                "canonical" | "final" => {
                    self.warnings.push(format!(
                        "{at}: Match {criterion} is not supported; the block does not apply"
                    ));
                    false
                }
                "exec" | "originalhost" | "localuser" | "localnetwork" | "tagged" => {
                    words
                        .next()
                        .ok_or_else(|| format!("{at}: Match {criterion} needs an argument"))?;
                    self.warnings.push(format!(
                        "{at}: Match {criterion} is not supported; the block does not apply"
                    ));
                    false
                }
                _ => return Err(format!("{at}: unsupported Match attribute {word}")),
            };
            result &= holds != negated;
            first = false;
        }
        if first {
            return Err(format!("{at}: Match needs a criterion"));
        }
        Ok(result)
    }

    /// The host `Match host` looks at: `HostName`'s value when obtained, else the name given.
    fn host_name(&self, options: &SshOptions) -> String {
        match &options.host_name {
            Some(h) => expand_host_name(h, self.target.host),
            None => self.target.host.to_owned(),
        }
    }

    /// The remote user `Match user` looks at.
    fn user(&self, options: &SshOptions) -> String {
        self.target
            .user
            .map(str::to_owned)
            .or_else(|| options.user.clone())
            .unwrap_or_else(paths::current_user)
    }
}

/// `HostName`'s value with `%h` (the name given) and `%%` replaced.
pub fn expand_host_name(value: &str, host: &str) -> String {
    expand_tokens(value, &[('h', host)]).unwrap_or_else(|_| value.to_owned())
}

/// Whether a `Host` line's patterns accept `host`: one pattern matches and no negated one.
pub fn host_matches(patterns: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let mut hit = false;
    for p in patterns {
        let p = p.to_ascii_lowercase();
        match p.strip_prefix('!') {
            // ssh_config(5), Host: a negated match makes the whole entry not apply.
            Some(negated) if wildcard_match(negated, &host) => return false,
            Some(_) => {}
            None => hit |= wildcard_match(&p, &host),
        }
    }
    hit
}

/// Whether a comma-separated pattern list accepts `subject` (a negated match rejects it).
pub fn list_matches(list: &str, subject: &str) -> bool {
    let patterns: Vec<String> = list.split(',').map(str::to_owned).collect();
    host_matches(&patterns, subject)
}

/// Splits a configuration line into its keyword and arguments; `None` for a blank line or a
/// comment.
pub fn split_line(line: &str) -> Result<Option<(String, Vec<String>)>, String> {
    let line = line.trim_start();
    let end = line
        .find(|c: char| c == '=' || c.is_whitespace())
        .unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    if keyword.is_empty() || keyword.starts_with('#') {
        return Ok(None);
    }
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    let args = split_args(rest)?;
    if args.is_empty() {
        return Err(format!("no argument after keyword \"{keyword}\""));
    }
    Ok(Some((keyword.to_owned(), args)))
}

/// Splits arguments at whitespace, with quotes and backslash escapes; `#` at the start of an
/// argument ends the line.
pub fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(args),
            Some(_) => {}
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', q) => match chars.peek().copied() {
                    Some(n) if n == '"' || n == '\'' || n == '\\' || (q.is_none() && n == ' ') => {
                        arg.push(n);
                        chars.next();
                    }
                    _ => arg.push('\\'),
                },
                (c, None) if c.is_whitespace() => break,
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                (c, _) => arg.push(c),
            }
        }
        if quote.is_some() {
            return Err("invalid quotes".to_owned());
        }
        args.push(arg);
    }
}

/// Replaces `%x` tokens from `tokens` and `%%`; any other token is an error.
pub fn expand_tokens(s: &str, tokens: &[(char, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(t) => match tokens.iter().find(|(k, _)| *k == t) {
                Some((_, v)) => out.push_str(v),
                None => return Err(format!("unknown token %{t} in '{s}'")),
            },
            None => return Err(format!("'%' at the end of '{s}'")),
        }
    }
    Ok(out)
}

/// The files an `Include` argument names: `~` expanded, relative to `~/.ssh`, wildcards in
/// any component expanded, in lexical order.
fn include_files(pattern: &str) -> Vec<PathBuf> {
    let path = paths::expand_tilde(pattern);
    let path = if path.is_absolute() {
        path
    } else {
        match paths::home() {
            Ok(home) => home.join(".ssh").join(path),
            Err(_) => return Vec::new(),
        }
    };
    let mut found = vec![PathBuf::from("/")];
    for component in path.components().skip(1) {
        let part = component.as_os_str().to_string_lossy().into_owned();
        if !part.contains(['*', '?']) {
            for f in &mut found {
                f.push(&part);
            }
            continue;
        }
        let mut next = Vec::new();
        for dir in &found {
            next.extend(matching_entries(dir, &part));
            if next.len() > MAX_INCLUDE_MATCHES {
                break;
            }
        }
        next.truncate(MAX_INCLUDE_MATCHES);
        found = next;
    }
    found.retain(|f| f.is_file());
    found
}

/// The entries of `dir` whose names match `pattern`, sorted; a leading `.` must be matched
/// by a `.` in the pattern, as glob(7) has it.
fn matching_entries(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.') || pattern.starts_with('.'))
        .filter(|n| wildcard_match(pattern, n))
        .take(MAX_INCLUDE_MATCHES + 1)
        .collect();
    names.sort();
    names.into_iter().map(|n| dir.join(n)).collect()
}

#[cfg(test)]
#[path = "ssh_config_tests.rs"]
mod tests;
