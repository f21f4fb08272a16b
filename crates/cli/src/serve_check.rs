//! `sshwire serve --check-config`: loads everything a start would (the configuration or the
//! files named by flags, host keys, authorized_keys files, password hashes, roots) and says
//! what is wrong, one line per problem, or that all is well; like `sshd -t`, it never listens.

use std::path::{Path, PathBuf};

use crate::serve::{Args, DEFAULT_LISTEN, load_host_key};
use crate::serve_config::ServeConfig;
use crate::serve_reload::Source;
use crate::{paths, serve};

/// Prints each problem on standard error, or the summary on standard output; fails if there
/// is a problem.
pub(crate) fn run(args: &Args, source: &Source) -> Result<(), String> {
    let (problems, summary) = check(args, source);
    if problems.is_empty() {
        println!("{summary}");
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    Err(format!(
        "configuration check failed: {} problem{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    ))
}

/// The problems found, and the summary line.
fn check(args: &Args, source: &Source) -> (Vec<String>, String) {
    let mut problems = Vec::new();
    let (users, roots, key_files, listen) = match source {
        Source::Config(path) => match ServeConfig::load_all(path) {
            Ok(config) => {
                let roots = config
                    .users
                    .values()
                    .map(|u| (format!("user {:?}: root", u.name), u.root.clone()))
                    .collect();
                if let Some((audit, _)) = &config.audit {
                    check_parent(&mut problems, "audit_log", audit);
                }
                (
                    format!("{} users", config.users.len()),
                    roots,
                    config.host_keys.clone(),
                    config.listen,
                )
            }
            Err(mut found) => {
                problems.append(&mut found);
                (String::new(), Vec::new(), Vec::new(), None)
            }
        },
        Source::Flags {
            root,
            authorized_keys,
            password_file,
            ..
        } => {
            if let Err(e) = serve::Credentials::load(authorized_keys, password_file.as_deref()) {
                problems.push(e);
            }
            (
                format!("keys from {}", authorized_keys.display()),
                vec![("root".to_owned(), root.clone())],
                Vec::new(),
                None,
            )
        }
    };
    let key_files = if args.host_keys.is_empty() {
        key_files
    } else {
        args.host_keys.clone()
    };
    let host_keys = if key_files.is_empty() {
        // The default key: checked if it exists, generated on the first run otherwise.
        match paths::config_dir().map(|d| d.join("ssh_host_ed25519_key")) {
            Ok(path) if path.exists() => {
                if let Err(e) = load_host_key(&path) {
                    problems.push(e);
                }
                "1 host key".to_owned()
            }
            Ok(_) => "1 host key (generated on the first run)".to_owned(),
            Err(e) => {
                problems.push(e);
                String::new()
            }
        }
    } else {
        for file in &key_files {
            if let Err(e) = load_host_key(file) {
                problems.push(e);
            }
        }
        format!(
            "{} host key{}",
            key_files.len(),
            if key_files.len() == 1 { "" } else { "s" }
        )
    };
    for (what, root) in &roots {
        check_root(&mut problems, what, root);
    }
    let listen = args
        .listen
        .or(listen)
        .map_or_else(|| DEFAULT_LISTEN.to_owned(), |a| a.to_string());
    (
        problems,
        format!("config OK: {users}, {host_keys}, listening on {listen}"),
    )
}

/// A root must be a directory, or be creatable: the nearest part of its path that exists
/// must be a directory.
fn check_root(problems: &mut Vec<String>, what: &str, root: &Path) {
    for existing in root.ancestors() {
        match std::fs::metadata(existing) {
            Ok(m) if m.is_dir() => return,
            Ok(_) => {
                problems.push(format!(
                    "{what} {}: {} is not a directory",
                    root.display(),
                    existing.display()
                ));
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                problems.push(format!("{what} {}: {e}", root.display()));
                return;
            }
        }
    }
}

/// A file or directory to be created needs an existing directory above it.
fn check_parent(problems: &mut Vec<String>, what: &str, path: &Path) {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if !parent.is_dir() {
        problems.push(format!(
            "{what} {}: the directory {} does not exist",
            path.display(),
            parent.display()
        ));
    }
}
