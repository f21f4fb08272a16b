//! A progress meter for one file on a terminal: name, percent, bytes, rate and time left,
//! redrawn in place, at most a few times a second.

use std::io::Write;
use std::time::{Duration, Instant};

/// Time between redraws.
const REDRAW: Duration = Duration::from_millis(250);

/// The meter of one file; draws nothing when off.
pub struct Meter {
    name: String,
    on: bool,
    start: Instant,
    last_draw: Option<Instant>,
}

impl Meter {
    /// A meter for `name`, drawn only when `on`.
    pub fn new(name: &str, on: bool) -> Meter {
        Meter {
            name: name.to_owned(),
            on,
            start: Instant::now(),
            last_draw: None,
        }
    }

    /// `done` of `total` bytes are there (a resumed part included).
    pub fn update(&mut self, done: u64, total: Option<u64>) {
        if !self.on {
            return;
        }
        let now = Instant::now();
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < REDRAW)
        {
            return;
        }
        self.last_draw = Some(now);
        let text = line(
            &self.name,
            done,
            total,
            now.duration_since(self.start),
            false,
            width(),
        );
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r{text}");
        let _ = out.flush();
    }

    /// The file is complete with `bytes` bytes: the last drawing, and a new line.
    pub fn finish(&mut self, bytes: u64) {
        if !self.on {
            return;
        }
        let text = line(
            &self.name,
            bytes,
            Some(bytes),
            self.start.elapsed(),
            true,
            width(),
        );
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\r{text}");
        let _ = out.flush();
    }
}

/// The terminal's width from `COLUMNS`, or 80.
fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(80)
}

/// Bytes as a short figure: `512B`, `1.5KB`, `20MB` (powers of 1024).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 || value >= 100.0 {
        format!("{value:.0}{name}")
    } else {
        format!("{value:.1}{name}")
    }
}

/// `mm:ss`, or `h:mm:ss` past an hour.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s / 3600 {
        0 => format!("{:02}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

/// One drawing of the meter, `width` columns wide: the name, then percent, bytes, rate and
/// the time left (or, when `finished`, the time taken).
pub fn line(
    name: &str,
    done: u64,
    total: Option<u64>,
    elapsed: Duration,
    finished: bool,
    width: usize,
) -> String {
    let percent = match total {
        Some(0) => 100,
        Some(t) => (u128::from(done.min(t)) * 100 / u128::from(t)) as u64,
        None => 0,
    };
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let time = if finished {
        clock(elapsed)
    } else {
        match total {
            Some(t) if rate >= 1.0 => {
                let left = t.saturating_sub(done) as f64 / rate;
                format!("{} ETA", clock(Duration::from_secs_f64(left.min(1e7))))
            }
            _ => "--:-- ETA".to_owned(),
        }
    };
    let figures = format!(
        "{percent:>3}% {:>7} {:>9} {time:>9}",
        bytes(done),
        format!("{}/s", bytes(rate as u64))
    );
    let room = width.saturating_sub(figures.len() + 2).max(1);
    let shown: String = if name.chars().count() > room {
        name.chars().take(room).collect()
    } else {
        name.to_owned()
    };
    format!("{shown:<room$}  {figures}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_fits_the_width_and_says_how_far() {
        let l = line(
            "big.bin",
            50 << 20,
            Some(100 << 20),
            Duration::from_secs(5),
            false,
            80,
        );
        assert_eq!(l.chars().count(), 80);
        assert!(l.starts_with("big.bin "), "{l}");
        assert!(
            l.contains(" 50% ") && l.contains("50.0MB") && l.contains("10.0MB/s"),
            "{l}"
        );
        assert!(l.ends_with("00:05 ETA"), "{l}");
        let done = line(
            "big.bin",
            100 << 20,
            Some(100 << 20),
            Duration::from_secs(65),
            true,
            80,
        );
        assert!(done.contains("100%") && done.ends_with("01:05"), "{done}");
        let long = line(&"n".repeat(200), 0, None, Duration::ZERO, false, 60);
        assert_eq!(long.chars().count(), 60);
        assert!(long.ends_with("--:-- ETA"));
        assert_eq!(
            line("e", 0, Some(0), Duration::ZERO, true, 80)
                .matches("100%")
                .count(),
            1
        );
    }

    #[test]
    fn byte_figures_are_short() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5KB");
        assert_eq!(bytes(300 << 20), "300MB");
        assert_eq!(bytes(u64::MAX), "16384PB");
    }
}
