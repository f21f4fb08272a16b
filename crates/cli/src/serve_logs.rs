//! The log of `sshwire serve`: the `tracing` events of the server (from the sshwire library and
//! from this command) printed on standard error as text lines or JSON objects.
//!
//! Text: `2026-11-24T09:30:00.123456Z  INFO sshwire::server_auth: authentication failed
//! event="auth_failure" peer=127.0.0.1:50522 user="alice" method="password" failures=1`.
//! JSON: one object per line, every field at the top level: `timestamp`, `level`, `target`,
//! `message`, `event` and the event's own fields.
//!
//! Text a peer chooses (a DISCONNECT's description, an SFTP error) is escaped by whoever logs
//! it, so a text line cannot be split or recoloured; user names never hold control characters
//! (the authentication engine refuses them).

use std::str::FromStr;

use serde::Deserialize;
use tracing_subscriber::filter::LevelFilter;

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The least severe events written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Operational events: connections, logins, failures, sessions, reloads, penalties.
    #[default]
    Info,
    /// Also public key queries and other details.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        <LogFormat as clap::ValueEnum>::from_str(s, false)
            .map_err(|_| format!("log format {s:?}: use \"text\" or \"json\""))
    }
}

/// Installs the process-wide subscriber: events at `level` and above go to standard error in
/// `format`. Called once, before the server starts; a second call changes nothing.
pub fn init(format: LogFormat, level: LogLevel) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(level.filter());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formats_and_levels_parse_by_name() {
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert!("xml".parse::<LogFormat>().unwrap_err().contains("xml"));
        let level: LogLevel = toml::from_str::<toml::Table>("l = \"debug\"")
            .unwrap()
            .get("l")
            .cloned()
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(level, LogLevel::Debug);
    }
}
