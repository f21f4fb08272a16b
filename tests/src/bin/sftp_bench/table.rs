//! The results table: one row per figure, four pairings and the ratios to OpenSSH's pair,
//! printed aligned as plain text and again as markdown.

/// The pairings, client > server, in column order.
pub const PAIRINGS: [&str; 4] = ["sftp>sshd", "ours>sshd", "sftp>ours", "ours>ours"];

/// Which way a figure is better.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Rates: the ratio is ours / reference.
    Higher,
    /// Times and memory: the ratio is reference / ours.
    Lower,
}

/// One measured figure for the pairings that have it.
pub struct Row {
    /// What was measured.
    pub what: String,
    /// Its unit.
    pub unit: &'static str,
    /// One figure per pairing of [`PAIRINGS`].
    pub cells: [Option<f64>; 4],
    /// Which way is better.
    pub better: Better,
    /// The cell the ratios are to (OpenSSH's pair, or the nearest there is); none for
    /// figures of the machine.
    pub reference: Option<usize>,
}

impl Row {
    /// A figure of all four pairings, compared with OpenSSH's pair.
    pub fn pairs(what: String, unit: &'static str, cells: [f64; 4], better: Better) -> Row {
        Row {
            what,
            unit,
            cells: cells.map(Some),
            better,
            reference: Some(0),
        }
    }

    /// A figure of the machine alone (in the first column, no ratio).
    pub fn machine(what: String, unit: &'static str, value: f64) -> Row {
        Row {
            what,
            unit,
            cells: [Some(value), None, None, None],
            better: Better::Higher,
            reference: None,
        }
    }

    /// The ratio of cell `i` to the reference, oriented so that higher is better.
    fn ratio(&self, i: usize) -> Option<f64> {
        let r = self.reference?;
        if r == i {
            return None;
        }
        let (ours, reference) = (self.cells.get(i).copied()??, self.cells.get(r).copied()??);
        Some(match self.better {
            Better::Higher => ours / reference,
            Better::Lower => reference / ours,
        })
    }

    fn texts(&self) -> Vec<String> {
        let mut t = vec![self.what.clone(), self.unit.to_owned()];
        t.extend(self.cells.iter().map(|c| c.map(figure).unwrap_or_default()));
        t.extend((1..4).map(|i| {
            self.ratio(i)
                .map(|r| format!("{r:.2}x"))
                .unwrap_or_default()
        }));
        t
    }
}

/// A figure with as many decimals as its size deserves.
fn figure(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn headers() -> Vec<String> {
    let mut h = vec!["what".to_owned(), "unit".to_owned()];
    h.extend(PAIRINGS.iter().map(|p| p.to_string()));
    h.extend(PAIRINGS.iter().skip(1).map(|p| format!("{p} x")));
    h
}

/// The table as aligned plain text: text columns to the left, figures to the right.
pub fn plain(rows: &[Row]) -> String {
    let mut lines = vec![headers()];
    lines.extend(rows.iter().map(Row::texts));
    let columns = headers().len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (text, w))| {
                if c < 2 {
                    format!("{text:<w$}")
                } else {
                    format!("{text:>w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The table in markdown.
pub fn markdown(rows: &[Row]) -> String {
    let row = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = row(headers()
        .into_iter()
        .map(|h| h.replace('>', " → "))
        .collect());
    let rule: Vec<String> = (0..headers().len())
        .map(|c| if c < 2 { "---" } else { "---:" }.to_owned())
        .collect();
    out.push_str(&row(rule));
    for r in rows {
        out.push_str(&row(r.texts()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_oriented_so_higher_is_better() {
        let rate = Row::pairs(
            "get".into(),
            "MiB/s",
            [100.0, 150.0, 50.0, 200.0],
            Better::Higher,
        );
        assert_eq!(rate.ratio(1), Some(1.5));
        assert_eq!(rate.ratio(3), Some(2.0));
        let time = Row::pairs(
            "p50".into(),
            "ms",
            [100.0, 50.0, 200.0, 25.0],
            Better::Lower,
        );
        assert_eq!(time.ratio(1), Some(2.0));
        assert_eq!(time.ratio(2), Some(0.5));
        assert_eq!(time.ratio(3), Some(4.0));
        let machine = Row::machine("loopback".into(), "MiB/s", 3000.0);
        assert_eq!(machine.ratio(1), None);
    }

    #[test]
    fn plain_columns_line_up() {
        let rows = [
            Row::pairs(
                "aes128-gcm get".into(),
                "MiB/s",
                [215.0, 181.0, 323.0, 536.0],
                Better::Higher,
            ),
            Row::machine("limit: loopback TCP".into(), "MiB/s", 4321.0),
        ];
        let text = plain(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        // Every figure column ends at the same place in the header and the full row.
        assert_eq!(lines[0].len(), lines[1].len());
        assert!(lines[1].ends_with("2.49x"), "{text}");
        assert!(markdown(&rows).starts_with("| what | unit | sftp → sshd |"));
    }
}
