//! Payloads an attacker sends, built by hand (so that any of them can be sent in any state),
//! and the steps that take the attacker to a logged-in session with a channel.

use sshwire::keys::PrivateKey;
use sshwire_wire::{Reader, Writer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Hostile, msg};

/// `number` followed by the fields `f` writes.
pub fn payload(number: u8, f: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(number);
    f(&mut w);
    w.into_vec()
}

/// `SSH_MSG_SERVICE_REQUEST` (RFC 4253 §10).
pub fn service_request(name: &str) -> Vec<u8> {
    payload(msg::SERVICE_REQUEST, |w| {
        w.string(name.as_bytes());
    })
}

/// `SSH_MSG_USERAUTH_REQUEST` for `method` with `rest` after the method name (RFC 4252 §5).
pub fn userauth_request(user: &str, service: &str, method: &str, rest: &[u8]) -> Vec<u8> {
    payload(msg::USERAUTH_REQUEST, |w| {
        w.string(user.as_bytes())
            .string(service.as_bytes())
            .string(method.as_bytes())
            .raw(rest);
    })
}

/// A `password` request (RFC 4252 §8).
pub fn userauth_password(user: &str, password: &str) -> Vec<u8> {
    let mut rest = Writer::new();
    rest.bool(false).string(password.as_bytes());
    userauth_request(user, "ssh-connection", "password", rest.as_slice())
}

/// A signed `publickey` request for `session_id` (RFC 4252 §7).
pub fn userauth_publickey(user: &str, key: &PrivateKey, session_id: &[u8]) -> Vec<u8> {
    let alg = key.public_key().signature_algorithms()[0];
    let blob = key.public_key().to_blob();
    let request = {
        let mut rest = Writer::new();
        rest.bool(true).string(alg.name().as_bytes()).string(&blob);
        userauth_request(user, "ssh-connection", "publickey", rest.as_slice())
    };
    // RFC 4252 §7: the signature covers `string session identifier` and the request.
    let mut signed = Writer::new();
    signed.string(session_id).raw(&request);
    let sig = key
        .sign(alg, signed.as_slice(), &mut *sshwire::system_rng())
        .expect("sign");
    let mut w = Writer::from_vec(request);
    w.string(&sig);
    w.into_vec()
}

/// `SSH_MSG_CHANNEL_OPEN` of a `session` channel (RFC 4254 §6.1).
pub fn channel_open(kind: &str, sender: u32, window: u32, max_packet: u32) -> Vec<u8> {
    payload(msg::CHANNEL_OPEN, |w| {
        w.string(kind.as_bytes())
            .u32(sender)
            .u32(window)
            .u32(max_packet);
    })
}

/// `SSH_MSG_CHANNEL_DATA` (RFC 4254 §5.2).
pub fn channel_data(recipient: u32, data: &[u8]) -> Vec<u8> {
    payload(msg::CHANNEL_DATA, |w| {
        w.u32(recipient).string(data);
    })
}

/// A message carrying only the recipient channel (EOF, CLOSE, SUCCESS, FAILURE).
pub fn channel_signal(number: u8, recipient: u32) -> Vec<u8> {
    payload(number, |w| {
        w.u32(recipient);
    })
}

/// `SSH_MSG_CHANNEL_WINDOW_ADJUST`.
pub fn window_adjust(recipient: u32, bytes: u32) -> Vec<u8> {
    payload(msg::CHANNEL_WINDOW_ADJUST, |w| {
        w.u32(recipient).u32(bytes);
    })
}

/// An `exec` channel request (RFC 4254 §6.5).
pub fn exec(recipient: u32, command: &str, want_reply: bool) -> Vec<u8> {
    payload(msg::CHANNEL_REQUEST, |w| {
        w.u32(recipient)
            .string(b"exec")
            .bool(want_reply)
            .string(command.as_bytes());
    })
}

/// `SSH_MSG_GLOBAL_REQUEST` with no data (RFC 4254 §4).
pub fn global_request(name: &str, want_reply: bool) -> Vec<u8> {
    payload(msg::GLOBAL_REQUEST, |w| {
        w.string(name.as_bytes()).bool(want_reply);
    })
}

/// What the server said when it confirmed a channel the attacker opened.
#[derive(Debug, Clone, Copy)]
pub struct OpenedChannel {
    /// The server's number for it: the recipient of everything the attacker sends.
    pub server_id: u32,
    /// The window the server granted.
    pub window: u32,
    /// The largest data packet the server accepts.
    pub max_packet: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Hostile<S> {
    /// Asks for `ssh-userauth` and waits for SERVICE_ACCEPT.
    pub async fn start_userauth(&mut self) {
        self.send(&service_request("ssh-userauth"))
            .await
            .expect("send");
        self.expect(msg::SERVICE_ACCEPT, "ssh-userauth accepted")
            .await;
    }

    /// Logs in as `user` with `key` (the service requested first) and waits for SUCCESS.
    pub async fn login(&mut self, user: &str, key: &PrivateKey, session_id: &[u8]) {
        self.start_userauth().await;
        self.send(&userauth_publickey(user, key, session_id))
            .await
            .expect("send");
        self.expect(msg::USERAUTH_SUCCESS, "publickey login").await;
    }

    /// Opens a session channel numbered `sender` and waits for its confirmation.
    pub async fn open_session(&mut self, sender: u32) -> OpenedChannel {
        self.send(&channel_open("session", sender, 1 << 20, 32 * 1024))
            .await
            .expect("send");
        let p = self
            .expect(msg::CHANNEL_OPEN_CONFIRMATION, "session channel confirmed")
            .await;
        let mut r = Reader::new(&p);
        let parsed = (|| {
            r.u8()?;
            let recipient = r.u32()?;
            let server_id = r.u32()?;
            let window = r.u32()?;
            let max_packet = r.u32()?;
            Ok::<_, sshwire_wire::Error>((recipient, server_id, window, max_packet))
        })();
        let (recipient, server_id, window, max_packet) =
            parsed.expect("a well-formed CHANNEL_OPEN_CONFIRMATION");
        assert_eq!(recipient, sender, "the confirmation names our channel");
        OpenedChannel {
            server_id,
            window,
            max_packet,
        }
    }
}
