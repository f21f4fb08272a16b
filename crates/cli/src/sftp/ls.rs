//! What `ls` and `df` print, in the formats of OpenSSH's sftp.

use sshwire::sftp::server::{ls_date, mode_string};
use sshwire::sftp::{Attrs, StatvfsReply};

use super::line::{LsFlags, Sort};

/// One entry to list: the name to show and its attributes.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name as shown (a path relative to the working directory, or absolute).
    pub shown: String,
    /// What the server said.
    pub attrs: Attrs,
    /// The server's own `ls -l` line, when it sent one.
    pub longname: Option<String>,
}

/// Orders entries as `ls` flags ask: by name (bytes), newest first, largest first, or not at
/// all; `-r` reverses.
pub fn sort(entries: &mut [Entry], flags: &LsFlags) {
    let mtime = |e: &Entry| e.attrs.times.map_or(0, |t| t.mtime);
    let size = |e: &Entry| e.attrs.size.unwrap_or(0);
    match flags.sort {
        Sort::Name => entries.sort_by(|a, b| a.shown.as_bytes().cmp(b.shown.as_bytes())),
        Sort::Time => entries.sort_by_key(|e| std::cmp::Reverse(mtime(e))),
        Sort::Size => entries.sort_by_key(|e| std::cmp::Reverse(size(e))),
        Sort::None => {}
    }
    if flags.reverse && flags.sort != Sort::None {
        entries.reverse();
    }
}

/// A size with a unit, as OpenBSD's `fmt_scaled` writes it: `512B`, `1.5K`, `100M`.
pub fn scaled(bytes: u64) -> String {
    const UNITS: [char; 7] = ['B', 'K', 'M', 'G', 'T', 'P', 'E'];
    let mut unit = 0;
    let mut scale: u64 = 1;
    while unit + 1 < UNITS.len() && bytes / scale >= 1024 {
        scale = scale.saturating_mul(1024);
        unit += 1;
    }
    let letter = UNITS.get(unit).copied().unwrap_or('E');
    if unit == 0 {
        return format!("{bytes}{letter}");
    }
    // Tenths, rounded half up.
    let tenths = (u128::from(bytes) * 10 + u128::from(scale) / 2) / u128::from(scale);
    if tenths >= 1000 {
        format!("{}{letter}", (tenths + 5) / 10)
    } else {
        format!("{}.{}{letter}", tenths / 10, tenths % 10)
    }
}

/// The long line of an entry, as OpenSSH's sftp formats remote entries itself: the mode, `?`
/// for the link count (the protocol does not carry it), owner and group (names, or numbers),
/// the size, the time and the name.
pub fn long_line(entry: &Entry, owner: &str, group: &str, human: bool, now: i64) -> String {
    let a = &entry.attrs;
    let mode = mode_string(a.permissions.unwrap_or(0));
    let size = a.size.unwrap_or(0);
    let size = if human {
        scaled(size)
    } else {
        size.to_string()
    };
    let date = a
        .times
        .map(|t| ls_date(i64::from(t.mtime), now))
        .unwrap_or_default();
    format!(
        "{mode} {:>3} {owner:<8} {group:<8} {size:>8} {date} {}",
        "?", entry.shown
    )
}

/// Names in columns across a line `width` wide, as OpenSSH's sftp lays out a short listing:
/// as many columns as fit `widest + 2` characters, the line shared out evenly between them;
/// one name per line with `-1`.
///
/// `widest` is OpenSSH's measure, not always the widest name shown: for a directory, the
/// longest entry name plus the length of the directory's shown prefix; for a glob, the longest
/// full path matched.
pub fn columns(names: &[&str], widest: usize, single: bool, width: usize) -> String {
    let mut out = String::new();
    if single {
        for n in names {
            out.push_str(n);
            out.push('\n');
        }
        return out;
    }
    let per_line = (width / (widest + 2)).max(1);
    let column = (width / per_line).min(width);
    for (i, n) in names.iter().enumerate() {
        out.push_str(&format!("{n:<column$}"));
        if (i + 1).is_multiple_of(per_line) {
            out.push('\n');
        }
    }
    if !names.len().is_multiple_of(per_line) {
        out.push('\n');
    }
    out
}

/// What `df` prints for a filesystem: kilobytes, sizes with units (`-h`) or inodes (`-i`).
pub fn df(st: &StatvfsReply, human: bool, inodes: bool) -> String {
    let percent = |total: u64, free: u64| -> String {
        match (total.saturating_sub(free))
            .saturating_mul(100)
            .checked_div(total)
        {
            Some(p) => format!("{p:>3}%"),
            None => "ERR".to_owned(),
        }
    };
    let bytes = |blocks: u64| blocks.saturating_mul(st.frsize);
    if inodes {
        format!(
            "     Inodes        Used       Avail      (root)    %Capacity\n\
             {:>11} {:>11} {:>11} {:>11}         {}\n",
            st.files,
            st.files.saturating_sub(st.ffree),
            st.favail,
            st.ffree,
            percent(st.files, st.ffree)
        )
    } else if human {
        format!(
            "    Size     Used    Avail   (root)    %Capacity\n\
             {:>7}B {:>7}B {:>7}B {:>7}B         {}\n",
            scaled(bytes(st.blocks)),
            scaled(bytes(st.blocks.saturating_sub(st.bfree))),
            scaled(bytes(st.bavail)),
            scaled(bytes(st.bfree)),
            percent(st.blocks, st.bfree)
        )
    } else {
        format!(
            "        Size         Used        Avail       (root)    %Capacity\n\
             {:>12} {:>12} {:>12} {:>12}         {}\n",
            bytes(st.blocks) / 1024,
            bytes(st.blocks.saturating_sub(st.bfree)) / 1024,
            bytes(st.bavail) / 1024,
            bytes(st.bfree) / 1024,
            percent(st.blocks, st.bfree)
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use sshwire::sftp::Times;

    fn entry(name: &str, mode: u32, size: u64, mtime: u32) -> Entry {
        Entry {
            shown: name.to_owned(),
            attrs: Attrs {
                size: Some(size),
                permissions: Some(mode),
                times: Some(Times {
                    atime: mtime,
                    mtime,
                }),
                ..Attrs::default()
            },
            longname: None,
        }
    }

    #[test]
    fn long_lines_look_like_openssh_sftp() {
        let e = entry("big.bin", 0o100_644, 3_000_000, 1_614_834_367);
        assert_eq!(
            long_line(&e, "root", "root", false, 1_700_000_000),
            "-rw-r--r--    ? root     root      3000000 Mar  4  2021 big.bin"
        );
        let e = entry("tree", 0o040_755, 4096, 1_699_990_000);
        assert_eq!(
            long_line(&e, "a-long-username", "g", true, 1_700_000_000),
            "drwxr-xr-x    ? a-long-username g            4.0K Nov 14 19:26 tree"
        );
    }

    #[test]
    fn scaled_sizes_follow_fmt_scaled() {
        assert_eq!(scaled(0), "0B");
        assert_eq!(scaled(1023), "1023B");
        assert_eq!(scaled(1024), "1.0K");
        assert_eq!(scaled(1536), "1.5K");
        assert_eq!(scaled(100 * 1024), "100K");
        assert_eq!(scaled(3_000_000), "2.9M");
        assert_eq!(scaled(u64::MAX), "16.0E");
    }

    #[test]
    fn sorting_by_name_time_and_size_and_reversed() {
        let mut v = vec![
            entry("b", 0o100_644, 1, 30),
            entry("a", 0o100_644, 3, 10),
            entry("c", 0o100_644, 2, 20),
        ];
        let names = |v: &[Entry]| v.iter().map(|e| e.shown.clone()).collect::<Vec<_>>();
        let mut f = LsFlags::default();
        sort(&mut v, &f);
        assert_eq!(names(&v), ["a", "b", "c"]);
        f.sort = Sort::Time;
        sort(&mut v, &f);
        assert_eq!(names(&v), ["b", "c", "a"]);
        f.sort = Sort::Size;
        f.reverse = true;
        sort(&mut v, &f);
        assert_eq!(names(&v), ["b", "c", "a"]);
    }

    #[test]
    fn columns_fill_the_width() {
        let out = columns(&["a", "bb", "ccc"], 3, false, 80);
        // 80 / (3 + 2) = 16 columns of 5 characters.
        assert_eq!(out, "a    bb   ccc  \n");
        assert_eq!(columns(&["a", "bb"], 2, true, 80), "a\nbb\n");
        let wide = "x".repeat(100);
        assert_eq!(columns(&[&wide, "y"], 100, false, 80).lines().count(), 2);
        assert_eq!(columns(&[], 0, false, 80), "");
        // Glob listings measure the full paths: two columns of 40 for 30-byte paths.
        assert_eq!(
            columns(&["a", "b", "c"], 30, false, 80),
            format!("{:<40}{:<40}\n{:<40}\n", "a", "b", "c")
        );
    }

    #[test]
    fn df_prints_kilobytes_and_capacity() {
        let st = StatvfsReply {
            bsize: 4096,
            frsize: 4096,
            blocks: 1000,
            bfree: 250,
            bavail: 200,
            files: 100,
            ffree: 40,
            favail: 40,
            fsid: 0,
            flag: 0,
            namemax: 255,
        };
        let out = df(&st, false, false);
        assert_eq!(
            out.lines().nth(1).unwrap(),
            "        4000         3000          800         1000          75%"
        );
        assert!(df(&st, false, true).contains(" 60%"));
        assert!(df(&st, true, false).contains("3.9MB"));
        let empty = StatvfsReply { blocks: 0, ..st };
        assert!(df(&empty, false, false).ends_with("ERR\n"));
    }
}
