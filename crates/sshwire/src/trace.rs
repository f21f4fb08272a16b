//! Packet traces: every SSH message and SFTP packet a connection sends and receives, one line
//! each, decoded with field names.
//!
//! A [`TraceSink`] set in [`ClientConfig::trace`](crate::client::ClientConfig::trace) or
//! [`ServerSettings::trace`](crate::server::ServerSettings::trace) receives lines such as
//!
//! ```text
//! client > #3 SSH_MSG_USERAUTH_REQUEST user="alice" service=ssh-connection method=password password=<redacted>
//! server < sftp SSH_FXP_OPENDIR id=4 path="/srv"
//! ```
//!
//! that is: our side, `>` for sent or `<` for received, the packet's sequence number (or `sftp`
//! for an SFTP packet), and the message. Each layer describes its own messages
//! ([`sshwire_transport::trace`], [`sshwire_auth::trace`], [`sshwire_connection::trace`],
//! [`sshwire_sftp::trace`]); passwords, keyboard-interactive answers, key material and file
//! data never appear. With no sink set nothing is formatted.

use std::sync::Arc;

use sshwire_auth::messages::Pending;
use sshwire_sftp::trace::SftpTrace;
use sshwire_sftp::{Request, Response};
use sshwire_transport::trace::{Direction, Traced, Tracer};

/// Where trace lines go: called once per message, with the line (no newline).
pub type TraceSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The transport tracer of one connection: names every message by its layer's describer.
pub(crate) struct SshTracer {
    side: &'static str,
    sink: TraceSink,
    /// The user authentication request in flight, which names message 60.
    pending: Option<Pending>,
}

impl SshTracer {
    /// A tracer for our `side` (`"client"` or `"server"`) writing to `sink`.
    pub(crate) fn new(side: &'static str, sink: TraceSink) -> Self {
        SshTracer {
            side,
            sink,
            pending: None,
        }
    }

    /// One message as a line (without side, direction and sequence number).
    fn describe(&mut self, packet: &Traced<'_>) -> String {
        let payload = packet.payload;
        match payload.first() {
            Some(50..=79) => {
                let line = sshwire_auth::trace::describe(payload, self.pending);
                if let Some(p) = sshwire_auth::trace::pending_after(payload) {
                    self.pending = Some(p);
                }
                line
            }
            Some(80..=127) => sshwire_connection::trace::describe(payload),
            _ => sshwire_transport::trace::describe(payload, packet.kex),
        }
    }
}

impl Tracer for SshTracer {
    fn packet(&mut self, packet: &Traced<'_>) {
        let line = self.describe(packet);
        (self.sink)(&format!(
            "{} {} #{} {line}",
            self.side,
            packet.direction.arrow(),
            packet.seq
        ));
    }
}

/// The tracer of one SFTP session.
pub(crate) struct SftpTracer {
    side: &'static str,
    sink: TraceSink,
    describer: SftpTrace,
}

impl SftpTracer {
    /// A tracer for our `side` of an SFTP session.
    pub(crate) fn new(side: &'static str, sink: TraceSink) -> Self {
        SftpTracer {
            side,
            sink,
            describer: SftpTrace::new(),
        }
    }

    fn emit(&self, direction: Direction, line: &str) {
        (self.sink)(&format!("{} {} sftp {line}", self.side, direction.arrow()));
    }

    /// A request, sent (client) or received (server).
    pub(crate) fn request(&mut self, direction: Direction, r: &Request) {
        let line = self.describer.request(r);
        self.emit(direction, &line);
    }

    /// A response, sent (server) or received (client).
    pub(crate) fn response(&mut self, direction: Direction, r: &Response) {
        let line = self.describer.response(r);
        self.emit(direction, &line);
    }

    /// A whole packet that is only available as bytes: the client's INIT, or a request that
    /// does not decode (shown by its type and length).
    pub(crate) fn payload(&mut self, direction: Direction, payload: &[u8]) {
        let line = self.describer.payload(payload);
        self.emit(direction, &line);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use sshwire_auth::messages::{ClientMessage, MethodRequest, UserauthRequest};
    use sshwire_wire::Writer;

    #[test]
    fn message_60_is_named_by_the_request_before_it() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink: TraceSink = {
            let lines = lines.clone();
            Arc::new(move |l: &str| lines.lock().unwrap().push(l.to_owned()))
        };
        let mut t = SshTracer::new("client", sink);
        let mut w = Writer::new();
        ClientMessage::Request(UserauthRequest {
            user: "u",
            service: "ssh-connection",
            method: MethodRequest::Password {
                password: "pw-1234567",
                new_password: None,
            },
        })
        .encode(&mut w);
        let request = w.into_vec();
        let mut change = vec![60];
        change.extend_from_slice(&[0, 0, 0, 2, b'n', b'o', 0, 0, 0, 0]);
        for (direction, seq, payload) in [
            (Direction::Sent, 5, &request[..]),
            (Direction::Received, 7, &change[..]),
        ] {
            t.packet(&Traced {
                direction,
                seq,
                payload,
                kex: None,
            });
        }
        let lines = lines.lock().unwrap();
        assert!(
            lines[0].starts_with("client > #5 SSH_MSG_USERAUTH_REQUEST"),
            "{lines:?}"
        );
        assert!(!lines[0].contains("pw-1234567"));
        assert_eq!(
            lines[1],
            r#"client < #7 SSH_MSG_USERAUTH_PASSWD_CHANGEREQ prompt="no""#
        );
    }
}
