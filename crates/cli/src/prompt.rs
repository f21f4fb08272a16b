//! Asking the user for secrets and yes/no answers, the way OpenSSH's `ssh` does.
//!
//! OpenSSH (readpass.c, `read_passphrase`) asks on the terminal, or runs the `SSH_ASKPASS`
//! program when the environment says so:
//!
//! - `SSH_ASKPASS_REQUIRE=force`: always the askpass program;
//! - `SSH_ASKPASS_REQUIRE=prefer`: the askpass program when `DISPLAY` or `WAYLAND_DISPLAY` is
//!   set, otherwise the terminal;
//! - `SSH_ASKPASS_REQUIRE=never`: never the askpass program;
//! - unset (or anything else): the askpass program only when there is no terminal and
//!   `DISPLAY` or `WAYLAND_DISPLAY` is set.
//!
//! The askpass program gets the prompt as its only argument and standard input from
//! `/dev/null`; what it prints up to the first line break is the answer, and a non-zero exit
//! status means the user cancelled. Unlike OpenSSH, which falls back to a compiled-in program
//! (`/usr/X11R6/bin/ssh-askpass`), nothing is run when `SSH_ASKPASS` is unset.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

/// How many times an askpass program is asked a yes/no question before its answer counts as
/// no (the terminal is asked until it answers or closes).
const ASKPASS_CONFIRM_TRIES: usize = 3;

/// Reads a secret (a password, a passphrase) without echoing it.
///
/// From the terminal (`/dev/tty`), or from the `SSH_ASKPASS` program as described in the
/// module documentation. A cancelled askpass program, and having no way to ask at all, are
/// errors.
pub fn secret(prompt: &str) -> Result<Zeroizing<String>, String> {
    secret_in(&Env::from_process(), prompt)
}

/// Asks a yes/no question and says whether the answer was yes.
///
/// On the terminal the answer is echoed; `yes` is yes, `no` or an empty line is no, anything
/// else is asked again ("Please type 'yes' or 'no': "), and the end of input is no, as in
/// OpenSSH's `confirm`. The askpass program runs with `SSH_ASKPASS_PROMPT=confirm` in its
/// environment, so that a graphical one can show buttons; printing nothing or `yes` is yes, and
/// exiting with a non-zero status is no. When the question offers `[fingerprint]` (OpenSSH's
/// host key question), typing the `SHA256:` fingerprint shown in it is yes too.
pub fn confirm(prompt: &str) -> Result<bool, String> {
    confirm_in(&Env::from_process(), prompt)
}

/// What decides how to ask: the environment and whether there is a terminal.
///
/// Tests build one instead of changing the process's environment, which all threads share.
#[derive(Debug, Clone, Default)]
struct Env {
    /// `SSH_ASKPASS`, if set and not empty.
    askpass: Option<OsString>,
    /// `SSH_ASKPASS_REQUIRE`.
    require: Option<String>,
    /// Whether `DISPLAY` or `WAYLAND_DISPLAY` is set and not empty.
    display: bool,
    /// Whether `/dev/tty` can be opened.
    terminal: bool,
}

impl Env {
    fn from_process() -> Env {
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Env {
            askpass: set("SSH_ASKPASS"),
            require: std::env::var("SSH_ASKPASS_REQUIRE").ok(),
            display: set("DISPLAY").is_some() || set("WAYLAND_DISPLAY").is_some(),
            terminal: open_tty().is_ok(),
        }
    }
}

/// Where a question goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    Askpass(OsString),
    Terminal,
    /// Nowhere: why not, to finish "cannot ask for X: ".
    Nowhere(&'static str),
}

/// Chooses as readpass.c does for a prompt without flags.
fn choose(env: &Env) -> Via {
    let mut allow = env.display;
    let mut wanted = false;
    let require = env.require.as_deref().map(str::to_ascii_lowercase);
    match require.as_deref() {
        Some("force") => {
            wanted = true;
            allow = true;
        }
        Some("prefer") => wanted = allow,
        Some("never") => allow = false,
        _ => {}
    }
    // Without a terminal, askpass is the only way left, if it is allowed.
    if !env.terminal {
        wanted = true;
    }
    match (&env.askpass, wanted && allow) {
        (Some(program), true) => Via::Askpass(program.clone()),
        _ if env.terminal => Via::Terminal,
        (None, _) => Via::Nowhere("no terminal and SSH_ASKPASS is not set"),
        (Some(_), _) if require.as_deref() == Some("never") => {
            Via::Nowhere("no terminal, and SSH_ASKPASS_REQUIRE=never")
        }
        (Some(_), _) => Via::Nowhere(
            "no terminal, and SSH_ASKPASS is used only when DISPLAY is set or with \
             SSH_ASKPASS_REQUIRE=force",
        ),
    }
}

/// What a prompt asks for, for error messages: its last line without the trailing `: `.
fn subject(prompt: &str) -> &str {
    prompt
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .trim_end_matches([':', '?', ' '])
}

fn secret_in(env: &Env, prompt: &str) -> Result<Zeroizing<String>, String> {
    let what = subject(prompt);
    match choose(env) {
        Via::Askpass(program) => match askpass(&program, prompt, None)? {
            Some(answer) => Ok(answer),
            None => Err(format!("{what}: cancelled")),
        },
        Via::Terminal => rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| format!("cannot read {what}: {e}")),
        Via::Nowhere(why) => Err(format!("cannot ask for {what}: {why}")),
    }
}

fn confirm_in(env: &Env, prompt: &str) -> Result<bool, String> {
    let again = if prompt.contains("[fingerprint]") {
        "Please type 'yes', 'no' or the fingerprint: "
    } else {
        "Please type 'yes' or 'no': "
    };
    match choose(env) {
        Via::Askpass(program) => {
            let mut question = prompt;
            for _ in 0..ASKPASS_CONFIRM_TRIES {
                let Some(answer) = askpass(&program, question, Some("confirm"))? else {
                    return Ok(false);
                };
                // OpenSSH's ask_permission: an empty answer (the OK button) is yes.
                if answer.trim().is_empty() {
                    return Ok(true);
                }
                if let Some(yes) = interpret(&answer, prompt) {
                    return Ok(yes);
                }
                question = again;
            }
            Ok(false)
        }
        Via::Terminal => {
            let mut tty = open_tty().map_err(|e| format!("cannot open the terminal: {e}"))?;
            let mut reader = BufReader::new(
                tty.try_clone()
                    .map_err(|e| format!("cannot read from the terminal: {e}"))?,
            );
            confirm_on(&mut reader, &mut tty, prompt, again)
        }
        Via::Nowhere(why) => Err(format!("cannot ask \"{}\": {why}", subject(prompt))),
    }
}

/// Asks on a terminal (`output` shows, `input` is typed) until the answer is yes or no.
fn confirm_on(
    input: &mut impl BufRead,
    output: &mut impl Write,
    prompt: &str,
    again: &str,
) -> Result<bool, String> {
    let mut question = prompt;
    loop {
        output
            .write_all(question.as_bytes())
            .and_then(|()| output.flush())
            .map_err(|e| format!("cannot write to the terminal: {e}"))?;
        let mut line = String::new();
        let n = input
            .read_line(&mut line)
            .map_err(|e| format!("cannot read from the terminal: {e}"))?;
        // The end of input is no, and so is an empty line (OpenSSH's confirm).
        if n == 0 || line.trim().is_empty() {
            return Ok(false);
        }
        if let Some(yes) = interpret(&line, prompt) {
            return Ok(yes);
        }
        question = again;
    }
}

/// Reads an answer to `prompt` as OpenSSH's `confirm` does: the first word, `yes` or `no`
/// in any case, or the fingerprint shown in a question that offers one.
fn interpret(answer: &str, prompt: &str) -> Option<bool> {
    let word = answer.split_whitespace().next().unwrap_or("");
    if word.eq_ignore_ascii_case("yes") {
        return Some(true);
    }
    if word.eq_ignore_ascii_case("no") {
        return Some(false);
    }
    let offered = prompt.contains("[fingerprint]")
        && word.starts_with("SHA256:")
        && prompt
            .split_whitespace()
            .any(|shown| shown.trim_end_matches('.') == word);
    offered.then_some(true)
}

/// Runs the askpass program with `prompt`; `None` if it exited with a failure (cancelled).
fn askpass(
    program: &OsStr,
    prompt: &str,
    hint: Option<&str>,
) -> Result<Option<Zeroizing<String>>, String> {
    let mut command = Command::new(program);
    command
        .arg(prompt)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    match hint {
        Some(hint) => command.env("SSH_ASKPASS_PROMPT", hint),
        None => command.env_remove("SSH_ASKPASS_PROMPT"),
    };
    let output = command.output().map_err(|e| {
        format!(
            "cannot run the SSH_ASKPASS program {}: {e}",
            program.to_string_lossy()
        )
    })?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        return Ok(None);
    }
    let line = stdout
        .split(|b| *b == b'\n' || *b == b'\r')
        .next()
        .unwrap_or_default();
    let text = std::str::from_utf8(line)
        .map_err(|_| "the SSH_ASKPASS program's answer is not UTF-8".to_owned())?;
    Ok(Some(Zeroizing::new(text.to_owned())))
}

fn open_tty() -> std::io::Result<File> {
    File::options().read(true).write(true).open("/dev/tty")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use super::*;

    /// The askpass scripts, written once before any test runs one.
    ///
    /// Writing an executable while another thread forks can make its exec fail with "text
    /// file busy"; writing them all before the first exec avoids that.
    fn scripts() -> &'static Path {
        static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
        DIR.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            for (name, body) in [
                ("secret", "printf 'hunter2\\nsecond line\\n'"),
                ("crlf", "printf 'pw\\r\\n'"),
                ("cancel", "printf 'typed\\n'; exit 1"),
                ("echo", "printf '%s\\n' \"$1\""),
                ("stdin", "cat; printf 'stdin was empty\\n'"),
                ("hint", "printf '%s\\n' \"${SSH_ASKPASS_PROMPT-unset}\""),
                (
                    "confirm",
                    "[ \"$SSH_ASKPASS_PROMPT\" = confirm ] && echo yes || echo no",
                ),
                ("ok", "exit 0"),
                ("no", "echo No"),
                ("fingerprint", "echo SHA256:abcDEF"),
                ("maybe", "echo maybe"),
                (
                    "reasked",
                    "case \"$1\" in \"Please type 'yes' or 'no': \") echo yes;; *) echo maybe;; esac",
                ),
            ] {
                let path = dir.path().join(name);
                std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            dir
        })
        .path()
    }

    fn script(name: &str) -> PathBuf {
        scripts().join(name)
    }

    /// An environment that forces `script` as the askpass program, with no terminal.
    fn forced(name: &str) -> Env {
        Env {
            askpass: Some(script(name).into_os_string()),
            require: Some("force".into()),
            display: false,
            terminal: false,
        }
    }

    #[test]
    fn askpass_answer_is_its_first_line() {
        let pw = secret_in(&forced("secret"), "Password: ").unwrap();
        assert_eq!(pw.as_str(), "hunter2");
        let pw = secret_in(&forced("crlf"), "Password: ").unwrap();
        assert_eq!(pw.as_str(), "pw");
    }

    #[test]
    fn askpass_gets_the_prompt_and_no_input() {
        let prompt = "alice@server.example's password: ";
        assert_eq!(secret_in(&forced("echo"), prompt).unwrap().as_str(), prompt);
        assert_eq!(
            secret_in(&forced("stdin"), "x").unwrap().as_str(),
            "stdin was empty"
        );
        // Only a yes/no question carries the confirm hint.
        assert_eq!(secret_in(&forced("hint"), "x").unwrap().as_str(), "unset");
        assert!(confirm_in(&forced("confirm"), "Go on? ").unwrap());
    }

    #[test]
    fn askpass_failure_is_a_cancel() {
        let err = secret_in(&forced("cancel"), "Enter passphrase for key 'id': ").unwrap_err();
        assert_eq!(err, "Enter passphrase for key 'id': cancelled");
        assert!(!confirm_in(&forced("cancel"), "Go on? ").unwrap());
        let mut missing = forced("secret");
        missing.askpass = Some(script("does-not-exist").into_os_string());
        let err = secret_in(&missing, "Password: ").unwrap_err();
        assert!(
            err.starts_with("cannot run the SSH_ASKPASS program "),
            "{err}"
        );
    }

    #[test]
    fn askpass_confirm_answers() {
        assert!(
            confirm_in(&forced("ok"), "Go on? ").unwrap(),
            "empty is yes"
        );
        assert!(!confirm_in(&forced("no"), "Go on? ").unwrap());
        assert!(!confirm_in(&forced("maybe"), "Go on? ").unwrap());
        assert!(confirm_in(&forced("reasked"), "Go on? ").unwrap());
        let question = "ED25519 key fingerprint is: SHA256:abcDEF\n\
                        Are you sure you want to continue connecting (yes/no/[fingerprint])? ";
        assert!(confirm_in(&forced("fingerprint"), question).unwrap());
        let other = question.replace("abcDEF", "abcDEG");
        assert!(!confirm_in(&forced("fingerprint"), &other).unwrap());
        // A fingerprint is no answer to a question that does not offer it.
        assert!(!confirm_in(&forced("fingerprint"), "SHA256:abcDEF? ").unwrap());
    }

    #[test]
    fn answers_as_openssh_reads_them() {
        let q = "Key SHA256:abc.\nContinue (yes/no/[fingerprint])? ";
        for (answer, meaning) in [
            ("yes\n", Some(true)),
            ("  YES please\n", Some(true)),
            ("no\n", Some(false)),
            ("No\n", Some(false)),
            ("SHA256:abc\n", Some(true)),
            ("sha256:abc\n", None),
            ("SHA256:ab\n", None),
            ("y\n", None),
        ] {
            assert_eq!(interpret(answer, q), meaning, "{answer:?}");
        }
    }

    #[test]
    fn terminal_confirm_asks_until_answered() {
        let run = |typed: &str, prompt: &str| {
            let mut shown = Vec::new();
            let yes = confirm_on(
                &mut typed.as_bytes(),
                &mut shown,
                prompt,
                "Please type 'yes' or 'no': ",
            )
            .unwrap();
            (yes, String::from_utf8(shown).unwrap())
        };
        assert_eq!(run("yes\n", "Go on? "), (true, "Go on? ".to_owned()));
        assert_eq!(run("no\n", "Go on? "), (false, "Go on? ".to_owned()));
        assert!(!run("\n", "Go on? ").0);
        assert!(!run("", "Go on? ").0);
        assert_eq!(
            run("maybe\nwhat\nYes\n", "Go on? "),
            (
                true,
                "Go on? Please type 'yes' or 'no': Please type 'yes' or 'no': ".to_owned()
            )
        );
        assert!(!run("maybe\n", "Go on? ").0, "then the end of input");
        let question = "ED25519 key fingerprint is: SHA256:abc\n(yes/no/[fingerprint])? ";
        assert!(run("SHA256:abc\n", question).0);
    }

    #[test]
    fn readpass_rules() {
        let program = OsString::from("/usr/bin/my-askpass");
        let env = |askpass: bool, require: Option<&str>, display: bool, terminal: bool| Env {
            askpass: askpass.then(|| program.clone()),
            require: require.map(str::to_owned),
            display,
            terminal,
        };
        let askpass = Via::Askpass(program.clone());
        let cases = [
            // force: always askpass, with or without a terminal or a display.
            (env(true, Some("force"), false, true), askpass.clone()),
            (env(true, Some("FORCE"), false, false), askpass.clone()),
            // prefer: askpass when there is a display.
            (env(true, Some("prefer"), true, true), askpass.clone()),
            (env(true, Some("prefer"), false, true), Via::Terminal),
            // never: the terminal or nothing.
            (
                env(true, Some("never"), true, false),
                Via::Nowhere("no terminal, and SSH_ASKPASS_REQUIRE=never"),
            ),
            (env(true, Some("never"), true, true), Via::Terminal),
            // unset: askpass only without a terminal and with a display.
            (env(true, None, true, true), Via::Terminal),
            (env(true, None, true, false), askpass.clone()),
            (env(true, Some("bogus"), true, false), askpass.clone()),
            (env(true, None, false, true), Via::Terminal),
            (
                env(true, None, false, false),
                Via::Nowhere(
                    "no terminal, and SSH_ASKPASS is used only when DISPLAY is set or with \
                     SSH_ASKPASS_REQUIRE=force",
                ),
            ),
            // Without SSH_ASKPASS, the terminal whatever is required.
            (env(false, Some("force"), true, true), Via::Terminal),
            (
                env(false, Some("force"), true, false),
                Via::Nowhere("no terminal and SSH_ASKPASS is not set"),
            ),
            (
                env(false, None, false, false),
                Via::Nowhere("no terminal and SSH_ASKPASS is not set"),
            ),
        ];
        for (env, via) in cases {
            assert_eq!(choose(&env), via, "{env:?}");
        }
    }

    #[test]
    fn nowhere_to_ask_is_a_clear_error() {
        let env = Env::default();
        assert_eq!(
            secret_in(&env, "alice@server.example's password: ").unwrap_err(),
            "cannot ask for alice@server.example's password: no terminal and SSH_ASKPASS is \
             not set"
        );
        assert_eq!(
            confirm_in(&env, "The authenticity ...\nAre you sure (yes/no)? ").unwrap_err(),
            "cannot ask \"Are you sure (yes/no)\": no terminal and SSH_ASKPASS is not set"
        );
    }
}
