//! The command line: `[MiB] [repetitions] [files]` and the flags, parsed by hand.

/// A part of the benchmark that `--only` can pick.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Section {
    /// Large-file get and put per cipher.
    Throughput,
    /// Many files of 4 KiB, `put -r` and `get -r`.
    Small,
    /// `ls -l` of a large directory.
    List,
    /// Connection set-up to the first SFTP reply.
    Setup,
    /// Server memory with many idle sessions.
    Idle,
    /// The machine's limits: raw AEAD and loopback TCP.
    Limits,
}

impl Section {
    /// Every section, in the order they run.
    pub const ALL: [Section; 6] = [
        Section::Throughput,
        Section::Small,
        Section::List,
        Section::Setup,
        Section::Idle,
        Section::Limits,
    ];

    /// The name `--only` takes.
    pub fn name(self) -> &'static str {
        match self {
            Section::Throughput => "throughput",
            Section::Small => "small",
            Section::List => "list",
            Section::Setup => "setup",
            Section::Idle => "idle",
            Section::Limits => "limits",
        }
    }

    fn parse(name: &str) -> Result<Section, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| format!("unknown section {name:?}"))
    }
}

/// What to measure and how much.
#[derive(Debug)]
pub struct Options {
    /// Size of the large file, MiB.
    pub mib: usize,
    /// Repetitions of each timed transfer (the median is reported).
    pub reps: usize,
    /// Number of 4 KiB files.
    pub files: usize,
    /// Connections per pairing for the set-up times.
    pub connections: usize,
    /// Entries of the listed directory.
    pub entries: usize,
    /// Idle sessions per server.
    pub sessions: usize,
    /// The sections to run, in order.
    pub only: Vec<Section>,
    /// The key exchange both clients must use (`-o KexAlgorithms=`), if pinned.
    pub kex: Option<String>,
}

/// How to call the program.
pub const USAGE: &str = concat!(
    "usage: sftp-bench [MiB] [repetitions] [files] [--only SECTIONS] [--connections N] ",
    "[--entries N] [--sessions N] [--kex NAME]\n",
    "  defaults: 1024 MiB, 5 repetitions, 2000 files, --connections 200, --entries 100000, ",
    "--sessions 500\n",
    "  SECTIONS: a comma list of throughput, small, list, setup, idle, limits (default: all)\n",
    "  --kex: the key exchange of both sftp clients (default: each client's own choice)",
);

impl Options {
    /// Parses the arguments after the program's name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut o = Options {
            mib: 1024,
            // Five: with three, OpenSSH's own figures moved the ratios by up to 15% from run
            // to run (docs/performance.md, session 13).
            reps: 5,
            files: 2000,
            connections: 200,
            entries: 100_000,
            sessions: 500,
            only: Section::ALL.to_vec(),
            kex: None,
        };
        let mut positional = 0;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            if flag == "-h" || flag == "--help" {
                return Err(String::new());
            }
            if !flag.starts_with("--") {
                let n = number("positional argument", &arg)?;
                match positional {
                    0 => o.mib = n,
                    1 => o.reps = n,
                    2 => o.files = n,
                    _ => return Err(format!("unexpected argument {arg:?}")),
                }
                positional += 1;
                continue;
            }
            let value = match inline {
                Some(v) => v,
                None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
            };
            match flag.as_str() {
                "--only" => {
                    let picked = value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(Section::parse)
                        .collect::<Result<Vec<_>, _>>()?;
                    if picked.is_empty() {
                        return Err("--only needs at least one section".into());
                    }
                    o.only = Section::ALL
                        .into_iter()
                        .filter(|s| picked.contains(s))
                        .collect();
                }
                "--connections" => o.connections = number(&flag, &value)?,
                "--entries" => o.entries = number(&flag, &value)?,
                "--sessions" => o.sessions = number(&flag, &value)?,
                "--kex" => o.kex = Some(value),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        if o.mib == 0 || o.reps == 0 || o.connections == 0 {
            return Err("MiB, repetitions and --connections must be at least 1".into());
        }
        Ok(o)
    }

    /// Whether `section` is to run.
    pub fn runs(&self, section: Section) -> bool {
        self.only.contains(&section)
    }
}

fn number(what: &str, text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("{what}: {text:?} is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn positional_and_flags() {
        let o = parse(&["64", "1", "200", "--connections", "20", "--entries=5000"]).unwrap();
        assert_eq!((o.mib, o.reps, o.files), (64, 1, 200));
        assert_eq!((o.connections, o.entries, o.sessions), (20, 5000, 500));
        assert_eq!(o.only, Section::ALL.to_vec());
        assert_eq!(o.kex, None);
        let o = parse(&["--kex", "curve25519-sha256"]).unwrap();
        assert_eq!(o.kex.as_deref(), Some("curve25519-sha256"));
    }

    #[test]
    fn only_keeps_the_running_order() {
        let o = parse(&["--only", "limits,small"]).unwrap();
        assert_eq!(o.only, vec![Section::Small, Section::Limits]);
        assert!(parse(&["--only", "disk"]).is_err());
        assert!(parse(&["1", "2", "3", "4"]).is_err());
        assert!(parse(&["--sessions"]).is_err());
    }
}
