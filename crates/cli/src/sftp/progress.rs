//! The progress meter of get and put on a terminal: one line per file, redrawn in place.
//!
//! The line is laid out as OpenSSH's sftp lays out its own: the file's name first, taking
//! whatever width the other fields leave, then the percentage, the bytes so far, the rate and
//! the time left (`ETA`), all within one terminal line so that it never wraps. It is redrawn
//! at most ten times a second and, when the file is complete, drawn once more at 100% with
//! the time it took and left on the screen.
//!
//! A [`Meter`] made disabled does nothing at all, so callers need not branch: the shell makes
//! it enabled only on a terminal, outside batch mode, without `-q`, and while `progress` has
//! it on.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::time::{Duration, Instant};

/// The shortest time between two redraws.
pub const REDRAW: Duration = Duration::from_millis(100);
/// How far back the rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// The width when the terminal does not tell.
const DEFAULT_WIDTH: usize = 80;
/// Units of sizes and rates, each 1024 times the one before.
const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];

/// What the last field of a line shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Time {
    /// Still going: the time left, when the rate gives one.
    Left(Option<Duration>),
    /// Done: how long it took.
    Took(Duration),
}

/// `bytes` in at most four digits and a unit (`1234B`, `  12KB`, ` 300MB`), rounded to
/// the nearest.
pub fn size(bytes: u64) -> String {
    let mut value = bytes;
    let mut unit = 0;
    while value >= 10_000 && unit + 1 < UNITS.len() {
        value = value / 1024 + u64::from(value % 1024 >= 512);
        unit += 1;
    }
    format!("{value:>4}{}", UNITS.get(unit).unwrap_or(&"B"))
}

/// A rate in bytes per second with one decimal and a unit (` 95.3MB/s`); kilobytes at least.
pub fn rate(bytes_per_second: f64) -> String {
    let mut value = bytes_per_second.max(0.0) / 1024.0;
    let mut unit = 1;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:>5.1}{}/s", UNITS.get(unit).unwrap_or(&"KB"))
}

/// `mm:ss`, or `h:mm:ss` from an hour on.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match h {
        0 => format!("  {m:02}:{s:02}"),
        _ => format!("{h}:{m:02}:{s:02}"),
    }
}

/// One meter line, without the carriage return: exactly `width - 1` columns (the name cut
/// from its start, keeping its end, or padded), or only the fields when `width` is too
/// narrow for any of the name.
pub fn line(
    name: &str,
    done: u64,
    total: Option<u64>,
    bytes_per_second: f64,
    time: Time,
    width: usize,
) -> String {
    let percent = match total {
        Some(0) => 100,
        Some(t) => (u128::from(done.min(t)) * 100 / u128::from(t)) as u64,
        None => 0,
    };
    let percent = match total {
        Some(_) => format!("{percent:>3}%"),
        None => "  ?%".to_owned(),
    };
    let time = match time {
        Time::Left(Some(left)) => format!("{} ETA", clock(left)),
        Time::Left(None) => "  --:-- ETA".to_owned(),
        Time::Took(took) => format!("{}    ", clock(took)),
    };
    let fields = format!(
        " {percent} {} {} {time}",
        size(done),
        rate(bytes_per_second)
    );
    let room = width
        .saturating_sub(1)
        .saturating_sub(fields.chars().count());
    if room == 0 {
        return fields;
    }
    let chars: Vec<char> = name.chars().collect();
    let shown: String = match chars.len().checked_sub(room) {
        Some(cut) => chars.get(cut..).unwrap_or_default().iter().collect(),
        None => format!("{name:<room$}"),
    };
    format!("{shown}{fields}")
}

/// The width of the terminal on standard output.
fn terminal_width() -> usize {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_WIDTH)
}

fn write_out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// One file's meter.
pub struct Meter {
    enabled: bool,
    name: String,
    total: Option<u64>,
    done: u64,
    start: Instant,
    /// What the first report said was done (what a resume skipped): not part of the rate.
    first: Option<u64>,
    /// Recent (time, bytes done), oldest first, for the rate.
    samples: VecDeque<(Instant, u64)>,
    last_draw: Option<Instant>,
    /// A line not yet finished is on the screen.
    live: bool,
    finished: bool,
}

impl Meter {
    /// A meter for `name`; one made with `enabled` false never draws.
    pub fn new(name: &str, enabled: bool) -> Meter {
        Meter {
            enabled,
            name: name.to_owned(),
            total: None,
            done: 0,
            start: Instant::now(),
            first: None,
            samples: VecDeque::new(),
            last_draw: None,
            live: false,
            finished: false,
        }
    }

    /// Records progress without drawing.
    pub fn record(&mut self, done: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        self.first.get_or_insert(done);
        self.done = done;
        if total.is_some() {
            self.total = total;
        }
        self.samples.push_back((now, done));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
            && self.samples.len() > 2
        {
            self.samples.pop_front();
        }
    }

    /// Records progress and redraws when the last drawing is old enough.
    pub fn update(&mut self, done: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        self.record(done, total);
        let now = Instant::now();
        if self
            .last_draw
            .is_none_or(|t| now.duration_since(t) >= REDRAW)
        {
            self.last_draw = Some(now);
            self.live = true;
            write_out(&format!("\r{}", self.current_line()));
        }
    }

    /// The rate over the recent samples, in bytes per second.
    fn recent_rate(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, b0)), Some((t1, b1))) if t1 > t0 => {
                b1.saturating_sub(*b0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    fn current_line(&self) -> String {
        let rate = self.recent_rate();
        let left = match self.total {
            Some(t) if rate > 0.0 => Some(Duration::from_secs_f64(
                t.saturating_sub(self.done) as f64 / rate,
            )),
            _ => None,
        };
        line(
            &self.name,
            self.done,
            self.total,
            rate,
            Time::Left(left),
            terminal_width(),
        )
    }

    /// Draws the final line of a complete file of `bytes` bytes, at 100%, with the average
    /// rate and the time it took, and ends it.
    pub fn finish(&mut self, bytes: u64) {
        if !self.enabled || self.finished {
            return;
        }
        self.finished = true;
        let took = self.start.elapsed();
        let moved = bytes.saturating_sub(self.first.unwrap_or(0));
        let secs = took.as_secs_f64();
        let average = if secs > 0.0 { moved as f64 / secs } else { 0.0 };
        let text = line(
            &self.name,
            bytes,
            Some(bytes),
            average,
            Time::Took(took),
            terminal_width(),
        );
        self.live = false;
        write_out(&format!("\r{text}\n"));
    }

    /// Erases an unfinished line, so that other text can be printed; the next update draws
    /// it again.
    pub fn clear(&mut self) {
        if self.live {
            self.live = false;
            self.last_draw = None;
            write_out("\r\x1b[K");
        }
    }
}

impl Drop for Meter {
    /// An interrupted or failed transfer leaves its last line and goes to the next one.
    fn drop(&mut self) {
        if self.live && !self.finished {
            write_out("\n");
        }
    }
}

/// The meters of a tree transfer, whose files go several at once: one line is live at a
/// time, the file that reported first while none was; every file gets its final line when
/// it is done.
pub struct Board {
    enabled: bool,
    meters: HashMap<String, Meter>,
    current: Option<String>,
}

impl Board {
    /// A board; a disabled one draws nothing.
    pub fn new(enabled: bool) -> Board {
        Board {
            enabled,
            meters: HashMap::new(),
            current: None,
        }
    }

    /// A file started.
    pub fn started(&mut self, from: &str, size: Option<u64>) {
        if self.enabled {
            let mut m = Meter::new(from, true);
            m.total = size;
            self.meters.insert(from.to_owned(), m);
        }
    }

    /// A file's progress.
    pub fn progress(&mut self, from: &str, done: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        if self.current.is_none() {
            self.current = Some(from.to_owned());
        }
        let is_current = self.current.as_deref() == Some(from);
        if let Some(m) = self.meters.get_mut(from) {
            match is_current {
                true => m.update(done, total),
                false => m.record(done, total),
            }
        }
    }

    /// A file is complete.
    pub fn done(&mut self, from: &str, bytes: u64) {
        if !self.enabled {
            return;
        }
        if self.current.as_deref() != Some(from) {
            self.clear();
        } else {
            self.current = None;
        }
        if let Some(mut m) = self.meters.remove(from) {
            m.finish(bytes);
        }
    }

    /// A file failed: its meter is dropped.
    pub fn failed(&mut self, from: &str) {
        if self.current.as_deref() == Some(from) {
            self.current = None;
        }
        if let Some(mut m) = self.meters.remove(from) {
            m.clear();
        }
    }

    /// Erases the live line before other text is printed.
    pub fn clear(&mut self) {
        if let Some(m) = self.current.as_ref().and_then(|c| self.meters.get_mut(c)) {
            m.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_four_digits_and_a_unit() {
        assert_eq!(size(0), "   0B");
        assert_eq!(size(9_999), "9999B");
        assert_eq!(size(10_000), "  10KB");
        assert_eq!(size(300 * 1024 * 1024), " 300MB");
        assert_eq!(size(300_000_000), " 286MB");
        assert_eq!(size(10_751), "  10KB");
        assert_eq!(size(10_752), "  11KB");
        assert_eq!(size(u64::MAX).len(), 10);
    }

    #[test]
    fn rates_are_kilobytes_at_least() {
        assert_eq!(rate(0.0), "  0.0KB/s");
        assert_eq!(rate(512.0), "  0.5KB/s");
        assert_eq!(rate(100.0 * 1024.0 * 1024.0), "100.0MB/s");
        assert_eq!(rate(2000.0 * 1024.0), "  2.0MB/s");
    }

    #[test]
    fn a_line_fills_the_width_less_one_column() {
        let l = line(
            "/remote/big.bin",
            150 * 1024 * 1024,
            Some(300 * 1024 * 1024),
            10.0 * 1024.0 * 1024.0,
            Time::Left(Some(Duration::from_secs(15))),
            80,
        );
        assert_eq!(l.chars().count(), 79);
        assert!(l.starts_with("/remote/big.bin "), "{l}");
        assert!(l.ends_with("  50%  150MB  10.0MB/s   00:15 ETA"), "{l}");
    }

    #[test]
    fn a_done_line_shows_the_time_taken_and_a_long_name_keeps_its_end() {
        let name = format!("/{}/file.txt", "d".repeat(100));
        let l = line(
            &name,
            1000,
            Some(1000),
            0.0,
            Time::Took(Duration::from_secs(3725)),
            60,
        );
        assert_eq!(l.chars().count(), 59);
        assert!(
            l.contains("dd/file.txt 100% 1000B   0.0KB/s 1:02:05    "),
            "{l}"
        );
    }

    #[test]
    fn unknown_totals_and_rates_say_so_and_narrow_terminals_drop_the_name() {
        let l = line("x", 5, None, 0.0, Time::Left(None), 10);
        assert_eq!(l, "   ?%    5B   0.0KB/s   --:-- ETA");
        let empty = line("x", 0, Some(0), 0.0, Time::Took(Duration::ZERO), 80);
        assert!(empty.contains(" 100% "), "{empty}");
    }

    #[test]
    fn a_disabled_meter_records_nothing() {
        let mut m = Meter::new("x", false);
        m.update(5, Some(10));
        m.finish(10);
        assert!(!m.live && m.samples.is_empty() && !m.finished);
        let mut b = Board::new(false);
        b.started("x", Some(1));
        b.progress("x", 1, Some(1));
        assert!(b.meters.is_empty() && b.current.is_none());
    }
}
