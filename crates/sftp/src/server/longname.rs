//! The `longname` of a directory entry: an `ls -l` line, as OpenSSH's server writes it.
//!
//! filexfer-02 §7: "The recommended format for the longname field is as follows:
//! `-rwxr-xr-x   1 mjos     staff      348911 Mar 25 14:29 t-filexfer`", and clients "SHOULD
//! NOT" parse it. OpenSSH's `sftp-server` fills it with its `ls_file`: the mode as `strmode`
//! writes it (ten characters and a space), the link count right-aligned in 3, owner and group
//! left-aligned in at least 8, the size right-aligned in 8, then the time as `%b %e %H:%M`
//! for files modified in the last six months and `%b %e  %Y` otherwise, then the name.
//!
//! Times are shown in UTC: this crate reads no time zone database.

use crate::attrs::Attrs;

/// File type bits of a mode (`S_IFMT`).
const S_IFMT: u32 = 0o170_000;

/// Half a year in seconds: OpenSSH's `(365*24*60*60)/2`.
const HALF_YEAR: i64 = 365 * 24 * 60 * 60 / 2;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The `ls -l` line of an entry named `name`.
///
/// `owner` and `group` are names, or numbers when no name is known; `nlink` is the link count
/// (1 when the backend does not say); `now` is the current time, in seconds since the epoch.
pub fn longname(
    name: &[u8],
    attrs: &Attrs,
    owner: &str,
    group: &str,
    nlink: u64,
    now: i64,
) -> Vec<u8> {
    let mode = mode_string(attrs.permissions.unwrap_or(0));
    let size = attrs.size.unwrap_or(0);
    let date = attrs
        .times
        .map(|t| ls_date(i64::from(t.mtime), now))
        .unwrap_or_default();
    let mut line =
        format!("{mode} {nlink:>3} {owner:<8} {group:<8} {size:>8} {date} ").into_bytes();
    line.extend_from_slice(name);
    line
}

/// The mode as `strmode(3)` writes it: the type, three `rwx` triples with set-id and sticky
/// bits, and a space where an ACL marker would go.
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & S_IFMT {
        0o040_000 => 'd',
        0o020_000 => 'c',
        0o060_000 => 'b',
        0o100_000 => '-',
        0o120_000 => 'l',
        0o140_000 => 's',
        0o010_000 => 'p',
        _ => '?',
    };
    let bit = |mask: u32, c: char| if mode & mask != 0 { c } else { '-' };
    // The execute position shows the set-id or sticky bit too: lower case with x, upper
    // case without.
    let exec = |x: u32, special: u32, with: char, without: char| match (
        mode & x != 0,
        mode & special != 0,
    ) {
        (false, false) => '-',
        (true, false) => 'x',
        (false, true) => without,
        (true, true) => with,
    };
    [
        kind,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        exec(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        exec(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        exec(0o001, 0o1000, 't', 'T'),
        ' ',
    ]
    .iter()
    .collect()
}

/// The time column: `Mar 25 14:29` within the last six months, `Mar 25  2019` otherwise
/// (also for times in the future).
pub fn ls_date(mtime: i64, now: i64) -> String {
    let (year, month, day, hour, minute, _) = civil(mtime);
    let month = MONTHS
        .get(usize::try_from(month.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("???");
    if now.saturating_sub(HALF_YEAR) < mtime && now >= mtime {
        format!("{month} {day:>2} {hour:02}:{minute:02}")
    } else {
        format!("{month} {day:>2}  {year}")
    }
}

/// An RFC 3339 UTC time stamp, `2024-02-29T23:59:59Z`.
pub(crate) fn utc_timestamp(secs: i64) -> String {
    let (year, month, day, hour, minute, second) = civil(secs);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// Year, month (1-12), day (1-31), hour, minute and second of a time in seconds since the
/// epoch, in the proleptic Gregorian calendar, UTC.
pub(crate) fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Count from 0000-03-01, so that the leap day ends each 4-, 100- and 400-year cycle.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March: 0 is March, 11 is February.
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let small = |v: i64| u32::try_from(v).unwrap_or(0);
    (
        year,
        small(month),
        small(day),
        small(hour),
        small(minute),
        small(second),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::{Owner, Times};

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_709_251_199), (2024, 2, 29, 23, 59, 59));
        assert_eq!(civil(4_102_444_800), (2100, 1, 1, 0, 0, 0));
        assert_eq!(civil(-1), (1969, 12, 31, 23, 59, 59));
        assert_eq!(utc_timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
        // Every day of four centuries follows its predecessor.
        let mut prev = civil(-86_400 * 365 * 200);
        for day in 1..(146_097 * 2) {
            let now = civil(-86_400 * 365 * 200 + day * 86_400);
            let next_day = now.2 == prev.2 + 1 && now.1 == prev.1 && now.0 == prev.0;
            let next_month = now.2 == 1 && (now.1 == prev.1 + 1 || (now.1 == 1 && prev.1 == 12));
            assert!(next_day || next_month, "{prev:?} -> {now:?}");
            prev = now;
        }
    }

    #[test]
    fn mode_strings() {
        assert_eq!(mode_string(0o100_644), "-rw-r--r-- ");
        assert_eq!(mode_string(0o040_755), "drwxr-xr-x ");
        assert_eq!(mode_string(0o120_777), "lrwxrwxrwx ");
        assert_eq!(mode_string(0o104_755), "-rwsr-xr-x ");
        assert_eq!(mode_string(0o102_644), "-rw-r-Sr-- ");
        assert_eq!(mode_string(0o041_777), "drwxrwxrwt ");
        assert_eq!(mode_string(0o041_776), "drwxrwxrwT ");
        assert_eq!(mode_string(0), "?--------- ");
        for (t, c) in [
            (0o020_000, 'c'),
            (0o060_000, 'b'),
            (0o140_000, 's'),
            (0o010_000, 'p'),
        ] {
            assert!(mode_string(t).starts_with(c));
        }
    }

    #[test]
    fn lines_like_openssh() {
        let now = 1_700_000_000; // 2023-11-14 22:13:20 UTC
        let attrs = Attrs {
            size: Some(1234),
            owner: Some(Owner {
                uid: 1000,
                gid: 100,
            }),
            permissions: Some(0o100_644),
            times: Some(Times {
                atime: 0,
                mtime: 1_699_999_000,
            }),
            extended: Vec::new(),
        };
        assert_eq!(
            longname(b"notes.txt", &attrs, "user", "group", 1, now),
            b"-rw-r--r--    1 user     group        1234 Nov 14 21:56 notes.txt"
        );
        // Older than half a year, and in the future: the year.
        let old = Attrs {
            times: Some(Times {
                atime: 0,
                mtime: 1_262_304_000,
            }),
            ..attrs.clone()
        };
        assert_eq!(
            longname(b"old", &old, "a-very-long-name", "g", 12, now),
            b"-rw-r--r--   12 a-very-long-name g            1234 Jan  1  2010 old"
        );
        let future = Attrs {
            times: Some(Times {
                atime: 0,
                mtime: 1_800_000_000,
            }),
            ..attrs
        };
        assert!(longname(b"f", &future, "u", "g", 1, now).ends_with(b"Jan 15  2027 f"));
        // Names are bytes.
        assert!(longname(b"\xff", &Attrs::default(), "0", "0", 1, now).ends_with(b" \xff"));
    }
}
