//! Process memory from /proc: VmRSS and PSS of a process, and the processes descending from
//! one.

use std::collections::HashMap;

/// A field of /proc/PID/status or /proc/PID/smaps_rollup, in KiB ("VmRSS", "Pss").
fn field_kib(file: &str, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The resident set of `pid`, KiB (zero once it has gone).
pub fn rss_kib(pid: u32) -> u64 {
    field_kib(&format!("/proc/{pid}/status"), "VmRSS").unwrap_or(0)
}

/// The proportional set of `pid` (shared pages divided among their users), KiB.
pub fn pss_kib(pid: u32) -> u64 {
    field_kib(&format!("/proc/{pid}/smaps_rollup"), "Pss").unwrap_or(0)
}

/// The children of each process now running.
fn children() -> HashMap<u32, Vec<u32>> {
    let mut map = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return map;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // The command name may hold spaces and parentheses: the fields follow the last ')'.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            map.entry(ppid).or_insert_with(Vec::new).push(pid);
        }
    }
    map
}

/// `root` and every process whose parent chain leads to it.
pub fn tree(root: u32) -> Vec<u32> {
    let children = children();
    let mut found = vec![root];
    let mut i = 0;
    while let Some(&p) = found.get(i) {
        found.extend(children.get(&p).into_iter().flatten());
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_and_its_child() {
        let me = std::process::id();
        assert!(rss_kib(me) > 0);
        assert!(pss_kib(me) > 0);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert!(tree(me).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
