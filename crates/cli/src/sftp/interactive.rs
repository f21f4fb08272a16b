//! The `sftp>` prompt on a terminal: line editing, history and completion, and Ctrl-C.
//!
//! - Lines are edited with the usual Emacs keys; Tab completes (see [`super::complete`]).
//! - History is kept in `$XDG_STATE_HOME/sshwire/sftp_history` (by default
//!   `~/.local/state/sshwire/sftp_history`), the last 1000 lines, each appended as it is
//!   entered; lines starting with a space are not recorded.
//! - Ctrl-C at the prompt drops the line; during a command it stops the command and comes
//!   back to the prompt (a stopped download or upload leaves a correct prefix, which
//!   `reget`/`reput` resumes); Ctrl-D on an empty line quits.

use std::path::PathBuf;

use rustyline::Editor;
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;

use super::complete::Completion;
use super::shell::Shell;

/// Lines of history kept.
const HISTORY_LINES: usize = 1000;
/// The prompt.
const PROMPT: &str = "sftp> ";

type LineEditor = Editor<Completion, FileHistory>;

/// The history file: `$XDG_STATE_HOME/sshwire/sftp_history`, or under `~/.local/state`.
pub fn history_file() -> Option<PathBuf> {
    let state = match std::env::var_os("XDG_STATE_HOME").map(PathBuf::from) {
        // The XDG specification ignores a relative path.
        Some(d) if d.is_absolute() => d,
        _ => crate::paths::home().ok()?.join(".local").join("state"),
    };
    Some(state.join("sshwire").join("sftp_history"))
}

fn editor(shell: &Shell) -> Result<LineEditor, ReadlineError> {
    let config = Config::builder()
        .max_history_size(HISTORY_LINES)?
        .history_ignore_dups(true)?
        .history_ignore_space(true)
        .auto_add_history(true)
        .completion_type(CompletionType::List)
        .build();
    let mut ed = LineEditor::with_config(config)?;
    ed.set_helper(Some(Completion::new(
        shell.sftp().clone(),
        tokio::runtime::Handle::current(),
    )));
    Ok(ed)
}

/// Creates the history file's directory (private to the user).
fn prepare(history: &std::path::Path) {
    if let Some(dir) = history.parent()
        && !dir.exists()
    {
        let mut b = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        let _ = b.recursive(true).create(dir);
    }
}

/// What replaces the command word of a stopped transfer's line to resume it (`reget` for
/// `get`, `reput` for `put`); `None` for other commands.
pub fn resume_line(line: &str) -> Option<String> {
    let (_, rest) = super::line::prefixes(line);
    let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (word, args) = rest.split_at(word_end);
    let resume = match word.to_ascii_lowercase().as_str() {
        "get" | "mget" | "reget" => "reget",
        "put" | "mput" | "reput" => "reput",
        _ => return None,
    };
    Some(format!("{resume}{args}"))
}

/// Waits for Ctrl-C (SIGINT); never, if it cannot be caught.
async fn interrupt() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Reads and runs commands until `bye` or Ctrl-D; returns the exit status. `Err` when the
/// terminal cannot be set up for editing (the caller reads plain lines instead).
pub async fn run(shell: &mut Shell) -> Result<u8, String> {
    let mut ed = editor(shell).map_err(|e| e.to_string())?;
    // From now on Ctrl-C never ends the process: it stops the command running (the OS
    // handler, once installed, stays; each command then listens afresh).
    let _ = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    let history = history_file();
    if let Some(h) = &history {
        prepare(h);
        let _ = ed.load_history(h);
    }
    loop {
        if let Some(helper) = ed.helper_mut() {
            helper.new_line(shell.pwd());
        }
        // The editor blocks on the terminal: it runs on a thread of its own, and its
        // completion blocks on the runtime from there.
        let (back, read) = match tokio::task::spawn_blocking(move || {
            let r = ed.readline(PROMPT);
            (ed, r)
        })
        .await
        {
            Ok(pair) => pair,
            Err(e) => return Err(format!("the line editor failed: {e}")),
        };
        ed = back;
        let l = match read {
            Ok(l) => l,
            // Ctrl-C: the line is dropped.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => {
                println!();
                return Ok(0);
            }
            Err(e) => {
                eprintln!("sshwire: cannot read the command line: {e}");
                return Ok(1);
            }
        };
        if let Some(h) = &history {
            let _ = ed.append_history(h);
        }
        // A command that has finished wins over a Ctrl-C that came meanwhile (one meant for
        // a `!command`'s child, say).
        tokio::select! {
            biased;
            code = super::one_line(shell, &l, false, false) => {
                if let Some(code) = code {
                    return Ok(code);
                }
            }
            () = interrupt() => {
                let _ = std::io::Write::flush(&mut std::io::stdout());
                match resume_line(&l) {
                    Some(resume) => eprintln!("Interrupted; \"{}\" resumes the transfer.", resume.trim()),
                    None => eprintln!("Interrupted."),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_transfer_is_resumed_by_its_line_with_reget_or_reput() {
        assert_eq!(
            resume_line("get -p big.bin /tmp/x").as_deref(),
            Some("reget -p big.bin /tmp/x")
        );
        assert_eq!(resume_line("-PUT a").as_deref(), Some("reput a"));
        assert_eq!(resume_line("mget *.bin").as_deref(), Some("reget *.bin"));
        assert_eq!(resume_line("ls -l"), None);
    }
}
