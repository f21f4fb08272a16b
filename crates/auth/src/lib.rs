//! SSH user authentication (RFC 4252, RFC 4256, RFC 8332) as sans-I/O client and server
//! engines.
//!
//! - [`messages`]: one codec for every `SSH_MSG_USERAUTH_*` message, shared by both sides,
//!   and [`messages::publickey_signed_data`], the bytes a `publickey` signature covers.
//! - [`ClientAuth`]: sends the attempts its caller chooses (`none`, `password`, `publickey`
//!   query and signed, `keyboard-interactive`) and reports the server's answers as
//!   [`ClientEvent`]s. Signing is split in two steps so that an agent can sign elsewhere.
//! - [`ServerAuth`]: applies a [`ServerPolicy`] (method sequences with partial success,
//!   attempts, login grace time, a delay before each FAILURE, a banner) and asks the
//!   application about credentials through [`ServerEvent`]s answered with
//!   [`ServerAuth::decide`], so a backend may be asynchronous.
//! - Helpers for servers: [`PasswordFile`] (argon2id `user:hash` lines) and
//!   [`AuthorizedKeys`] (`authorized_keys` with options).
//!
//! The engines do no I/O and read no clock: payloads go in and out as byte vectors, time is
//! an argument. `docs/auth.md` explains the layer; this example runs a whole exchange in
//! memory:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use sshwire_auth::{ClientAuth, ClientEvent, ServerAuth, ServerEvent, ServerPolicy, Verdict};
//!
//! let now = Instant::now();
//! let session_id = b"exchange hash of the first key exchange";
//! let mut client = ClientAuth::new("alice", "ssh-connection", session_id);
//! let mut server = ServerAuth::new(Arc::new(ServerPolicy::default()), session_id, now);
//!
//! client.password("hunter2")?;
//! while let Some(payload) = client.poll_transmit() {
//!     server.handle_message(now, &payload)?;
//! }
//! // The application checks the password (here: synchronously).
//! let Some(ServerEvent::CheckPassword { id, user, password, .. }) = server.poll_event() else {
//!     unreachable!()
//! };
//! let good = user == "alice" && password.expose() == "hunter2";
//! server.decide(now, id, if good { Verdict::Accept } else { Verdict::Reject })?;
//! while let Some(payload) = server.poll_transmit() {
//!     client.handle_message(now, &payload)?;
//! }
//! assert_eq!(client.poll_event(), Some(ClientEvent::Success));
//! assert!(matches!(server.poll_event(), Some(ServerEvent::Success { .. })));
//! # Ok::<(), sshwire_auth::AuthError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod error;
pub mod messages;
pub mod password_file;
mod policy;
mod server;
pub mod trace;

pub use client::{ClientAuth, ClientEvent};
pub use error::{AuthError, Blame};
pub use password_file::{PasswordFile, PasswordFileError, hash_password};
pub use policy::{AuthMethod, PolicyError, ServerPolicy};
pub use server::{MAX_QUEUED_MESSAGES, QuestionId, Secret, ServerAuth, ServerEvent, Verdict};
pub use sshwire_keys::authorized_keys::{AuthorizedKey, AuthorizedKeys, KeyOption};

#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod test_rng;
