//! Packet-trace describers of the connection protocol messages (numbers 80 to 127).
//!
//! [`describe`] turns a payload into one line of text with the message's name and fields,
//! decoding with [`crate::messages::Message`]. Channel data is shown by channel and length
//! only, never its content (an SFTP session's packets are traced where they are framed, by
//! the SFTP layer). Peer text is escaped ([`sshwire_wire::trace::text`]); an `exec` command is
//! shown escaped and cut like any other text.

use core::fmt::Write;

use sshwire_transport::trace::undecoded;
use sshwire_wire::trace::{hex_prefix, name_text, text};

use crate::messages::{ChannelRequestType, ChannelType, GlobalRequestType, Message};

/// A connection protocol message (80 to 127) as one line; a payload that does not decode is
/// shown as its name and length.
pub fn describe(payload: &[u8]) -> String {
    match Message::decode(payload) {
        Ok(m) => message(&m),
        // RFC 4254 defines 80 to 100; the rest of the range is shown by number and length.
        Err(_) if payload.first().is_some_and(|&n| (80..=100).contains(&n)) => {
            format!("{} (malformed)", undecoded(payload))
        }
        Err(_) => undecoded(payload),
    }
}

fn message(m: &Message<'_>) -> String {
    match m {
        Message::GlobalRequest(g) => {
            let mut out = format!(
                "SSH_MSG_GLOBAL_REQUEST name={} want_reply={}",
                name_text(&g.name),
                g.want_reply
            );
            match g.typed() {
                Ok(
                    GlobalRequestType::TcpipForward { address, port }
                    | GlobalRequestType::CancelTcpipForward { address, port },
                ) => {
                    let _ = write!(out, " address={} port={port}", text(address.as_bytes()));
                }
                Ok(GlobalRequestType::HostKeys(keys)) => {
                    let _ = write!(out, " keys={}", keys.len());
                }
                Ok(_) | Err(_) if !g.data.is_empty() => {
                    let _ = write!(out, " ({} bytes of request data)", g.data.len());
                }
                _ => {}
            }
            out
        }
        Message::RequestSuccess(s) => {
            if s.data.is_empty() {
                "SSH_MSG_REQUEST_SUCCESS".to_owned()
            } else {
                format!("SSH_MSG_REQUEST_SUCCESS data={}", hex_prefix(s.data))
            }
        }
        Message::RequestFailure => "SSH_MSG_REQUEST_FAILURE".to_owned(),
        Message::ChannelOpen(o) => {
            let mut out = format!(
                "SSH_MSG_CHANNEL_OPEN type={} sender={} window={} max_packet={}",
                name_text(o.channel_type.name()),
                o.sender,
                o.initial_window,
                o.max_packet
            );
            match &o.channel_type {
                ChannelType::DirectTcpip {
                    host,
                    port,
                    originator,
                    originator_port,
                } => {
                    let _ = write!(
                        out,
                        " host={} port={port} originator={} originator_port={originator_port}",
                        text(host.as_bytes()),
                        text(originator.as_bytes())
                    );
                }
                ChannelType::ForwardedTcpip {
                    address,
                    port,
                    originator,
                    originator_port,
                } => {
                    let _ = write!(
                        out,
                        " address={} port={port} originator={} originator_port={originator_port}",
                        text(address.as_bytes()),
                        text(originator.as_bytes())
                    );
                }
                ChannelType::X11 {
                    originator,
                    originator_port,
                } => {
                    let _ = write!(
                        out,
                        " originator={} originator_port={originator_port}",
                        text(originator.as_bytes())
                    );
                }
                ChannelType::Session | ChannelType::Other { .. } => {}
            }
            out
        }
        Message::OpenConfirmation(c) => format!(
            "SSH_MSG_CHANNEL_OPEN_CONFIRMATION recipient={} sender={} window={} max_packet={}",
            c.recipient, c.sender, c.initial_window, c.max_packet
        ),
        Message::OpenFailure(f) => format!(
            "SSH_MSG_CHANNEL_OPEN_FAILURE recipient={} reason={} description={}",
            f.recipient,
            match f.reason.name() {
                Some(n) => n.to_owned(),
                None => f.reason.0.to_string(),
            },
            text(f.description.as_bytes())
        ),
        Message::WindowAdjust(w) => format!(
            "SSH_MSG_CHANNEL_WINDOW_ADJUST recipient={} bytes_to_add={}",
            w.recipient, w.bytes_to_add
        ),
        Message::Data(d) => format!(
            "SSH_MSG_CHANNEL_DATA recipient={} ({} bytes)",
            d.recipient,
            d.data.len()
        ),
        Message::ExtendedData(d) => format!(
            "SSH_MSG_CHANNEL_EXTENDED_DATA recipient={} type={} ({} bytes)",
            d.recipient,
            if d.data_type == crate::messages::EXTENDED_DATA_STDERR {
                "stderr".to_owned()
            } else {
                d.data_type.to_string()
            },
            d.data.len()
        ),
        Message::Signal(s) => format!(
            "{} recipient={}",
            sshwire_transport::trace::message_name(s.number.0),
            s.recipient
        ),
        Message::ChannelRequest(r) => {
            let mut out = format!(
                "SSH_MSG_CHANNEL_REQUEST recipient={} type={} want_reply={}",
                r.recipient,
                name_text(r.request.name()),
                r.want_reply
            );
            channel_request(&mut out, &r.request);
            out
        }
    }
}

fn channel_request(out: &mut String, r: &ChannelRequestType<'_>) {
    let _ = match r {
        ChannelRequestType::PtyReq {
            term,
            columns,
            rows,
            width_px,
            height_px,
            modes,
        } => write!(
            out,
            " term={} size={columns}x{rows} pixels={width_px}x{height_px} modes=({} bytes)",
            text(term.as_bytes()),
            modes.len()
        ),
        ChannelRequestType::Env { name, value } => {
            write!(out, " name={} value={}", text(name), text(value))
        }
        ChannelRequestType::Exec { command } => write!(out, " command={}", text(command)),
        ChannelRequestType::Subsystem { name } => write!(out, " name={}", text(name.as_bytes())),
        ChannelRequestType::WindowChange {
            columns,
            rows,
            width_px,
            height_px,
        } => write!(out, " size={columns}x{rows} pixels={width_px}x{height_px}"),
        ChannelRequestType::Signal { name } => write!(out, " signal={}", text(name.as_bytes())),
        ChannelRequestType::ExitStatus { status } => write!(out, " status={status}"),
        ChannelRequestType::ExitSignal {
            signal,
            core_dumped,
            message,
            ..
        } => write!(
            out,
            " signal={} core_dumped={core_dumped} message={}",
            text(signal.as_bytes()),
            text(message.as_bytes())
        ),
        ChannelRequestType::Other { data, .. } if !data.is_empty() => {
            write!(out, " ({} bytes of request data)", data.len())
        }
        ChannelRequestType::Shell
        | ChannelRequestType::Keepalive
        | ChannelRequestType::Eow
        | ChannelRequestType::Other { .. } => Ok(()),
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::messages::{
        CHANNEL_EOF, ChannelData, ChannelOpen, ChannelRequest, ChannelSignal, ExtendedData,
        GlobalRequest, OpenConfirmation, OpenFailure, OpenFailureReason, WindowAdjust,
    };
    use proptest::prelude::*;

    fn enc(m: Message<'_>) -> Vec<u8> {
        let mut w = sshwire_wire::Writer::new();
        m.encode(&mut w);
        w.into_vec()
    }

    #[test]
    fn channel_opens_and_replies_show_their_numbers() {
        let open = enc(Message::ChannelOpen(ChannelOpen {
            channel_type: ChannelType::Session,
            sender: 0,
            initial_window: 2097152,
            max_packet: 32768,
        }));
        assert_eq!(
            describe(&open),
            "SSH_MSG_CHANNEL_OPEN type=session sender=0 window=2097152 max_packet=32768"
        );
        let tcp = enc(Message::ChannelOpen(ChannelOpen {
            channel_type: ChannelType::DirectTcpip {
                host: Cow::Borrowed("db.internal"),
                port: 5432,
                originator: Cow::Borrowed("127.0.0.1"),
                originator_port: 40000,
            },
            sender: 3,
            initial_window: 1,
            max_packet: 2,
        }));
        assert!(describe(&tcp).ends_with(
            r#"host="db.internal" port=5432 originator="127.0.0.1" originator_port=40000"#
        ));
        let confirm = enc(Message::OpenConfirmation(OpenConfirmation {
            recipient: 0,
            sender: 7,
            initial_window: 100,
            max_packet: 50,
            data: b"",
        }));
        assert_eq!(
            describe(&confirm),
            "SSH_MSG_CHANNEL_OPEN_CONFIRMATION recipient=0 sender=7 window=100 max_packet=50"
        );
        let fail = enc(Message::OpenFailure(OpenFailure {
            recipient: 0,
            reason: OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
            description: Cow::Borrowed("no\n"),
            language: Cow::Borrowed(""),
        }));
        assert_eq!(
            describe(&fail),
            r#"SSH_MSG_CHANNEL_OPEN_FAILURE recipient=0 reason=SSH_OPEN_ADMINISTRATIVELY_PROHIBITED description="no\n""#
        );
    }

    #[test]
    fn channel_data_shows_its_length_and_never_its_content() {
        let data = enc(Message::Data(ChannelData {
            recipient: 2,
            data: b"top secret file contents",
        }));
        assert_eq!(
            describe(&data),
            "SSH_MSG_CHANNEL_DATA recipient=2 (24 bytes)"
        );
        let err = enc(Message::ExtendedData(ExtendedData {
            recipient: 2,
            data_type: 1,
            data: b"oops",
        }));
        assert_eq!(
            describe(&err),
            "SSH_MSG_CHANNEL_EXTENDED_DATA recipient=2 type=stderr (4 bytes)"
        );
        let adjust = enc(Message::WindowAdjust(WindowAdjust {
            recipient: 2,
            bytes_to_add: 4096,
        }));
        assert_eq!(
            describe(&adjust),
            "SSH_MSG_CHANNEL_WINDOW_ADJUST recipient=2 bytes_to_add=4096"
        );
        let eof = enc(Message::Signal(ChannelSignal {
            number: CHANNEL_EOF,
            recipient: 2,
        }));
        assert_eq!(describe(&eof), "SSH_MSG_CHANNEL_EOF recipient=2");
    }

    #[test]
    fn channel_requests_show_their_fields() {
        let req = |request: ChannelRequestType<'static>| {
            describe(&enc(Message::ChannelRequest(ChannelRequest {
                recipient: 0,
                want_reply: true,
                request,
            })))
        };
        assert_eq!(
            req(ChannelRequestType::Subsystem {
                name: Cow::Borrowed("sftp")
            }),
            r#"SSH_MSG_CHANNEL_REQUEST recipient=0 type=subsystem want_reply=true name="sftp""#
        );
        assert!(
            req(ChannelRequestType::Exec {
                command: Cow::Borrowed(b"ls\x1b")
            })
            .ends_with(r#"command="ls\u{1b}""#)
        );
        assert!(
            req(ChannelRequestType::Env {
                name: Cow::Borrowed(b"LANG"),
                value: Cow::Borrowed(b"C")
            })
            .ends_with(r#"name="LANG" value="C""#)
        );
        assert!(req(ChannelRequestType::ExitStatus { status: 3 }).ends_with("status=3"));
        assert!(
            req(ChannelRequestType::ExitSignal {
                signal: Cow::Borrowed("KILL"),
                core_dumped: false,
                message: Cow::Borrowed(""),
                language: Cow::Borrowed(""),
            })
            .ends_with(r#"signal="KILL" core_dumped=false message="""#)
        );
        assert!(
            req(ChannelRequestType::PtyReq {
                term: Cow::Borrowed("xterm"),
                columns: 80,
                rows: 24,
                width_px: 0,
                height_px: 0,
                modes: Cow::Borrowed(b"\0"),
            })
            .ends_with(r#"term="xterm" size=80x24 pixels=0x0 modes=(1 bytes)"#)
        );
    }

    #[test]
    fn global_requests_show_name_and_reply_flag() {
        let keepalive = enc(Message::GlobalRequest(GlobalRequest::from_typed(
            &GlobalRequestType::Keepalive,
            true,
        )));
        assert_eq!(
            describe(&keepalive),
            "SSH_MSG_GLOBAL_REQUEST name=keepalive@openssh.com want_reply=true"
        );
        let fwd = enc(Message::GlobalRequest(GlobalRequest::from_typed(
            &GlobalRequestType::TcpipForward {
                address: Cow::Borrowed("0.0.0.0"),
                port: 8080,
            },
            true,
        )));
        assert!(describe(&fwd).ends_with(r#"address="0.0.0.0" port=8080"#));
        assert_eq!(describe(&[82]), "SSH_MSG_REQUEST_FAILURE");
        assert_eq!(describe(&[81]), "SSH_MSG_REQUEST_SUCCESS");
        assert_eq!(
            describe(&[94, 0]),
            "SSH_MSG_CHANNEL_DATA (2 bytes) (malformed)"
        );
        assert_eq!(describe(&[120, 0]), "msg 120 (2 bytes)");
    }

    proptest! {
        #[test]
        fn any_bytes_describe_without_panicking(
            number in 80u8..=127,
            body in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut payload = vec![number];
            payload.extend_from_slice(&body);
            let line = describe(&payload);
            prop_assert!(!line.chars().any(char::is_control));
            prop_assert!(line.len() < 8 * 1024);
        }
    }
}
