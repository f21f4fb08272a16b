//! The client engine: request ids, many requests in flight, replies matched out of order.
//!
//! Sans-I/O like the SSH engines: hand it the bytes that arrive ([`ClientEngine::handle_input`]),
//! send what [`ClientEngine::poll_transmit`] yields, and take replies from
//! [`ClientEngine::poll_reply`]. The engine opens the session with `SSH_FXP_INIT` and reports
//! the server's version and extensions when they come. Requests made before `VERSION` are
//! held until it arrives, as OpenSSH's client waits for it: the version and the extensions
//! decide what may be sent.

use std::collections::{HashMap, VecDeque};

use crate::block::Block;
use crate::extensions::{ExtendedRequest, LimitsReply};
use crate::fields::ExtensionPair;
use crate::packet::{Frame, MAX_PACKET, decode_frame};
use crate::request::{Request, SymlinkOrder};
use crate::response::{DATA_HEADER_LEN, DataHeader, Response};
use crate::types::VERSION;

/// Why the engine stopped. Every error is final: the session is over.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The server sent something that does not decode, or a packet longer than allowed.
    Malformed(String),
    /// The server sent something that decodes but makes no sense now (a reply to no request,
    /// a second VERSION, a version below 3).
    Protocol(String),
    /// The caller asked for something impossible (all request ids in use).
    ApiMisuse(&'static str),
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Malformed(w) => write!(f, "malformed SFTP reply: {w}"),
            ClientError::Protocol(w) => write!(f, "SFTP protocol error: {w}"),
            ClientError::ApiMisuse(w) => write!(f, "SFTP client misuse: {w}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// What the server said about itself in `SSH_FXP_VERSION`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerInfo {
    /// The protocol version (3).
    pub version: u32,
    /// Extension names and their data (OpenSSH puts a version number there).
    pub extensions: Vec<ExtensionPair>,
}

impl ServerInfo {
    /// Whether the server announced extension `name` with data `version`.
    pub fn supports(&self, name: &str, version: &str) -> bool {
        self.extensions
            .iter()
            .any(|(n, v)| n == name.as_bytes() && v == version.as_bytes())
    }
}

/// Block sizes and limits the client works with: the server's `limits@openssh.com` answer, or
/// conservative defaults for servers that do not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferLimits {
    /// Largest READ length to ask for.
    pub read_len: u32,
    /// Largest WRITE data to send.
    pub write_len: u32,
    /// Most handles to hold open at once (0: unknown).
    pub open_handles: u64,
}

impl TransferLimits {
    /// 32 KiB blocks: what every server accepts (filexfer-02 §3 says 34000 bytes per packet
    /// must be accepted; OpenSSH's client uses 32 KiB without `limits@openssh.com`).
    pub const CONSERVATIVE: TransferLimits = TransferLimits {
        read_len: 32 * 1024,
        write_len: 32 * 1024,
        open_handles: 0,
    };

    /// The limits from a `limits@openssh.com` reply, capped by what we accept ourselves.
    pub fn from_reply(reply: &LimitsReply) -> TransferLimits {
        let ours = u64::from(crate::packet::MAX_DATA);
        let pick = |server: u64| -> u32 {
            let v = if server == 0 { ours } else { server.min(ours) };
            u32::try_from(v).unwrap_or(crate::packet::MAX_DATA)
        };
        TransferLimits {
            read_len: pick(reply.max_read_length),
            write_len: pick(reply.max_write_length),
            open_handles: reply.max_open_handles,
        }
    }
}

/// Settings of a client engine.
#[derive(Debug, Clone, Copy)]
pub struct ClientConfig {
    /// Largest reply accepted (the `length` field), default [`MAX_PACKET`].
    pub max_packet: u32,
    /// The SYMLINK argument order to send (OpenSSH's, by default).
    pub symlink_order: SymlinkOrder,
    /// Most requests in flight; further [`ClientEngine::send`] calls fail with `ApiMisuse`
    /// (callers pace themselves with [`ClientEngine::in_flight`]).
    pub max_in_flight: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_packet: MAX_PACKET,
            symlink_order: SymlinkOrder::OpenSsh,
            max_in_flight: 1024,
        }
    }
}

/// The SFTP client engine; see the [module documentation](self).
#[derive(Debug)]
pub struct ClientEngine {
    config: ClientConfig,
    server: Option<ServerInfo>,
    /// INIT, then (once VERSION has come) the requests.
    transmit: Vec<u8>,
    /// Requests waiting for VERSION.
    held: Vec<u8>,
    /// Bytes from the server not decoded yet (the start of a reply still incomplete).
    input: Vec<u8>,
    /// A large `DATA` reply whose header has been decoded, its data read straight into its
    /// own buffer (see [`ClientEngine::take_read_buffer`]).
    body: Option<Body>,
    /// Whether the last reply was a large `DATA`: the next read is kept short, so that the
    /// next `DATA` header is found before much of its data lands in `input`.
    streaming: bool,
    next_id: u32,
    /// Requests in flight, by id, with what may answer them.
    in_flight: HashMap<u32, Expect>,
    replies: VecDeque<Response>,
    version_reported: bool,
    error: Option<ClientError>,
}

impl ClientEngine {
    /// A new session: `SSH_FXP_INIT` (version 3) is the first thing to send.
    pub fn new(config: ClientConfig) -> Self {
        let mut transmit = Vec::new();
        Request::Init {
            version: VERSION,
            extensions: Vec::new(),
        }
        .encode(&mut transmit);
        ClientEngine {
            config,
            server: None,
            transmit,
            held: Vec::new(),
            input: Vec::new(),
            body: None,
            streaming: false,
            next_id: 0,
            in_flight: HashMap::new(),
            replies: VecDeque::new(),
            version_reported: false,
            error: None,
        }
    }

    /// The server's version and extensions, once `VERSION` has arrived.
    pub fn server(&self) -> Option<&ServerInfo> {
        self.server.as_ref()
    }

    /// The fatal error, if any.
    pub fn error(&self) -> Option<&ClientError> {
        self.error.as_ref()
    }

    /// Requests sent (or queued) and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Queues a request built by `make` with a fresh id; returns the id.
    ///
    /// Ids are unique among the requests in flight (filexfer-02 §3: "the client MUST NOT send
    /// multiple requests with the same ID" while they are outstanding).
    pub fn send(&mut self, make: impl FnOnce(u32) -> Request) -> Result<u32, ClientError> {
        let (id, request) = self.make_request(make)?;
        let out = if self.server.is_some() {
            &mut self.transmit
        } else {
            &mut self.held
        };
        request.encode_with(self.config.symlink_order, out);
        self.in_flight.insert(id, Expect::of(&request));
        Ok(id)
    }

    /// As [`ClientEngine::send`], except that a WRITE's data is not copied into the engine:
    /// its header goes out through [`ClientEngine::poll_transmit`] and its data comes back,
    /// for the caller to send right after what `poll_transmit` yields (and before anything
    /// queued later). Before the server's VERSION, while requests are held, it is encoded
    /// whole, as by `send`, and nothing comes back.
    pub fn send_taking_data(
        &mut self,
        make: impl FnOnce(u32) -> Request,
    ) -> Result<(u32, Option<Block>), ClientError> {
        if self.server.is_none() {
            return self.send(make).map(|id| (id, None));
        }
        let (id, request) = self.make_request(make)?;
        match request {
            Request::Write {
                handle,
                offset,
                data,
                ..
            } => {
                Request::encode_write_header(id, &handle, offset, data.len(), &mut self.transmit);
                self.in_flight.insert(id, Expect::Status);
                Ok((id, Some(data)))
            }
            other => {
                other.encode_with(self.config.symlink_order, &mut self.transmit);
                self.in_flight.insert(id, Expect::of(&other));
                Ok((id, None))
            }
        }
    }

    /// Picks the next free id and makes the request with it.
    fn make_request(
        &mut self,
        make: impl FnOnce(u32) -> Request,
    ) -> Result<(u32, Request), ClientError> {
        self.check()?;
        if self.in_flight.len() >= self.config.max_in_flight {
            return Err(ClientError::ApiMisuse("too many requests in flight"));
        }
        let mut id = self.next_id;
        while self.in_flight.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        let request = make(id);
        if request.id() != Some(id) {
            return Err(ClientError::ApiMisuse(
                "the request must carry the id it was given",
            ));
        }
        Ok((id, request))
    }

    /// Appends the bytes to send to `out`.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        // Into an empty buffer, hand over ours instead of copying (WRITEs carry 255 KiB).
        if out.is_empty() {
            core::mem::swap(out, &mut self.transmit);
        } else {
            out.append(&mut self.transmit);
        }
    }

    /// Whether there is something to send.
    pub fn wants_transmit(&self) -> bool {
        !self.transmit.is_empty()
    }

    /// Takes the bytes that arrived from the server: every whole reply is decoded and
    /// queued; a partial one waits for the rest (buffered up to the packet limit).
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), ClientError> {
        self.check()?;
        self.input.extend_from_slice(data);
        self.process_input()
    }

    /// Takes bytes that arrived from the server in a buffer of their own, at `buf[start..]`
    /// (an SSH channel packet's data, in the buffer the packet was opened in).
    ///
    /// A large `DATA` reply that lies whole at their front, arriving while no partial reply
    /// waits, keeps its data in `buf`: the reply's [`Block`] is that buffer, so the data is
    /// never copied between the packet and the file. `Ok(None)` then; otherwise the bytes
    /// are taken as by [`ClientEngine::handle_input`] and `buf` comes back for reuse.
    pub fn handle_chunk(
        &mut self,
        mut buf: Vec<u8>,
        start: usize,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        self.check()?;
        let bytes = buf.get(start..).unwrap_or_default();
        if self.body.is_none()
            && self.input.is_empty()
            && let Some((id, len)) = self.body_header(bytes)
            && let Some(end) = DATA_HEADER_LEN
                .checked_add(len)
                .filter(|&end| end <= bytes.len())
        {
            // What follows the reply in the same chunk is the next replies.
            self.input
                .extend_from_slice(bytes.get(end..).unwrap_or_default());
            buf.truncate(start + end);
            let data = Block::from_parts(buf, start + DATA_HEADER_LEN);
            self.streaming = true;
            let r = self
                .accept(Response::Data { id, data })
                .and_then(|()| self.drain_input());
            if let Err(e) = &r {
                self.error = Some(e.clone());
            }
            return r.map(|()| None);
        }
        self.input.extend_from_slice(bytes);
        self.process_input().map(|()| Some(buf))
    }

    /// Lends the buffer the next bytes from the server go into, and how many to read at most.
    ///
    /// Append at most that many bytes to it, give it back with
    /// [`ClientEngine::restore_read_buffer`], then call [`ClientEngine::process_input`].
    /// While a large `DATA` reply is arriving this is the reply's own data buffer, with room
    /// for exactly the data still missing, so a block of file data is read once, into the
    /// buffer that the reply then hands over, and never copied inside the engine.
    pub fn take_read_buffer(&mut self) -> (Vec<u8>, usize) {
        if let Some(body) = &mut self.body {
            let missing = body.len.saturating_sub(body.data.len());
            return (core::mem::take(&mut body.data), missing);
        }
        let want = if self.streaming {
            STREAMING_READ
        } else {
            READ_CHUNK
        };
        if self.input.capacity() - self.input.len() < want {
            self.input.reserve(want);
        }
        (core::mem::take(&mut self.input), want)
    }

    /// Gives back the buffer lent by [`ClientEngine::take_read_buffer`].
    pub fn restore_read_buffer(&mut self, buf: Vec<u8>) {
        match &mut self.body {
            Some(body) => body.data = buf,
            None => self.input = buf,
        }
    }

    /// Decodes and queues every whole reply appended to the buffer of
    /// [`ClientEngine::take_read_buffer`].
    pub fn process_input(&mut self) -> Result<(), ClientError> {
        self.check()?;
        let r = self.finish_body().and_then(|()| self.drain_input());
        if let Err(e) = &r {
            self.error = Some(e.clone());
        }
        r
    }

    /// The next reply, in the order the server sent them (not the order of the requests).
    ///
    /// The first is the server's `VERSION`, once; after it, replies carry the id of their
    /// request.
    pub fn poll_reply(&mut self) -> Option<Response> {
        self.replies.pop_front()
    }

    fn check(&self) -> Result<(), ClientError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Completes the `DATA` reply being read into its own buffer, once its data is all there.
    ///
    /// Bytes appended to `input` meanwhile (by [`ClientEngine::handle_input`]) belong to it
    /// first; bytes beyond its end (more than [`ClientEngine::take_read_buffer`] allowed) go
    /// back to the front of `input`.
    fn finish_body(&mut self) -> Result<(), ClientError> {
        let Some(body) = &mut self.body else {
            return Ok(());
        };
        let missing = body.len.saturating_sub(body.data.len());
        if missing > 0 && !self.input.is_empty() {
            let take = missing.min(self.input.len());
            body.data.extend(self.input.drain(..take));
        }
        if body.data.len() < body.len {
            return Ok(());
        }
        if body.data.len() > body.len {
            let extra = body.data.split_off(body.len);
            self.input.splice(0..0, extra);
        }
        let Some(Body { id, data, .. }) = self.body.take() else {
            return Ok(());
        };
        self.streaming = true;
        self.accept(Response::Data {
            id,
            data: data.into(),
        })
    }

    fn drain_input(&mut self) -> Result<(), ClientError> {
        let mut start = 0;
        loop {
            let rest = self.input.get(start..).unwrap_or_default();
            let (payload, consumed) = match decode_frame(rest, self.config.max_packet) {
                Ok(Frame::Complete { payload, consumed }) => (payload, consumed),
                Ok(Frame::Incomplete { .. }) => {
                    if let Some(body) = self.start_body(rest) {
                        self.body = Some(body);
                        start = self.input.len();
                    }
                    break;
                }
                Err(e) => return Err(ClientError::Malformed(e.to_string())),
            };
            let reply =
                Response::decode(payload).map_err(|e| ClientError::Malformed(e.to_string()))?;
            start += consumed;
            self.streaming = false;
            self.accept(reply)?;
        }
        self.input.drain(..start);
        Ok(())
    }

    /// The start of a large `DATA` reply whose data is to be read into a buffer of its own,
    /// when `rest` (an incomplete frame) begins with the header of one.
    ///
    /// Only a reply the normal path would accept qualifies: a `DATA` frame exactly as long as
    /// its data says, within the packet limit, answering a READ in flight that asked for at
    /// least that much. So the buffer allocated is never larger than what we asked for;
    /// anything else is left to [`decode_frame`] and [`Response::decode`], which report it.
    fn start_body(&self, rest: &[u8]) -> Option<Body> {
        let (id, len) = self.body_header(rest)?;
        let present = rest.get(DATA_HEADER_LEN..)?;
        let mut data = crate::buffers::take(len);
        data.extend_from_slice(present.get(..len.min(present.len()))?);
        Some(Body { id, data, len })
    }

    /// The id and data length of the large `DATA` reply whose header `rest` begins with, if
    /// it may have a buffer of its own (see [`ClientEngine::start_body`]).
    fn body_header(&self, rest: &[u8]) -> Option<(u32, usize)> {
        let DataHeader { id, data_len: len } = DataHeader::decode(rest, self.config.max_packet)?;
        let asked = match self.in_flight.get(&id) {
            Some(Expect::Data { max }) => usize::try_from(*max).ok()?,
            _ => return None,
        };
        (BODY_MIN..=asked).contains(&len).then_some((id, len))
    }

    fn accept(&mut self, reply: Response) -> Result<(), ClientError> {
        match (&reply, reply.id()) {
            (
                Response::Version {
                    version,
                    extensions,
                },
                _,
            ) => {
                if self.version_reported {
                    return Err(ClientError::Protocol("a second VERSION".into()));
                }
                // filexfer-02 §4: the server replies with "the lowest of its own and the
                // client's version"; below 3 we cannot talk.
                if *version < VERSION {
                    return Err(ClientError::Protocol(format!(
                        "server speaks SFTP version {version}; version 3 is needed"
                    )));
                }
                self.version_reported = true;
                self.server = Some(ServerInfo {
                    version: VERSION,
                    extensions: extensions.clone(),
                });
                self.transmit.append(&mut self.held);
            }
            (_, Some(id)) => {
                if !self.version_reported {
                    return Err(ClientError::Protocol("a reply before VERSION".into()));
                }
                let Some(expect) = self.in_flight.remove(&id) else {
                    return Err(ClientError::Protocol(format!(
                        "a reply to request {id}, which is not outstanding"
                    )));
                };
                expect.check(&reply)?;
            }
            (_, None) => {
                return Err(ClientError::Protocol(format!(
                    "an unexpected packet of type {}",
                    reply.packet_type()
                )));
            }
        }
        self.replies.push_back(reply);
        Ok(())
    }
}

/// Bytes read at a time, at most, while no `DATA` is streaming.
const READ_CHUNK: usize = 64 * 1024;

/// Bytes read at a time right after a large `DATA`: enough for the next reply's header and
/// little of its data, which then goes straight into its own buffer.
const STREAMING_READ: usize = 4 * 1024;

/// `DATA` replies with at least this much data are read into a buffer of their own.
const BODY_MIN: usize = 16 * 1024;

/// A `DATA` reply arriving into a buffer of its own.
#[derive(Debug)]
struct Body {
    id: u32,
    /// The data so far.
    data: Vec<u8>,
    /// The data's length, from the reply's header.
    len: usize,
}

/// What may answer a request, besides `SSH_FXP_STATUS`.
///
/// A STATUS may answer any request (every request can fail); each other response answers only
/// the requests that return it. A server that answers with anything else is broken or hostile,
/// and the engine stops rather than hand the caller a reply it cannot have asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Only a STATUS (CLOSE, WRITE, SETSTAT, REMOVE, RENAME, ...).
    Status,
    /// `SSH_FXP_HANDLE` (OPEN, OPENDIR).
    Handle,
    /// `SSH_FXP_DATA` of at most `max` bytes (READ).
    Data {
        /// The READ's `len`.
        max: u32,
    },
    /// `SSH_FXP_NAME` (READDIR, REALPATH, READLINK, expand-path, home-directory).
    Name,
    /// `SSH_FXP_ATTRS` (STAT, LSTAT, FSTAT).
    Attrs,
    /// `SSH_FXP_EXTENDED_REPLY` (statvfs, fstatvfs, limits, users-groups-by-id).
    ExtendedReply,
    /// Any response: an extension or request this crate does not know.
    Any,
}

impl Expect {
    fn of(request: &Request) -> Expect {
        match request {
            // filexfer-02 §6.3: "The response to this message will be either SSH_FXP_HANDLE
            // (if the operation is successful) or SSH_FXP_STATUS (if the operation fails)";
            // §6.7 likewise for OPENDIR.
            Request::Open { .. } | Request::Opendir { .. } => Expect::Handle,
            // filexfer-02 §6.4: "the server will read as many bytes as it can from the file
            // (up to `len')": never more.
            Request::Read { len, .. } => Expect::Data { max: *len },
            Request::Readdir { .. } | Request::Realpath { .. } | Request::Readlink { .. } => {
                Expect::Name
            }
            Request::Stat { .. } | Request::Lstat { .. } | Request::Fstat { .. } => Expect::Attrs,
            Request::Extended { request, .. } => match request {
                // OpenSSH PROTOCOL: statvfs and fstatvfs "return a SSH_FXP_STATUS reply on
                // failure. On success they return the following SSH_FXP_EXTENDED_REPLY".
                ExtendedRequest::Statvfs { .. }
                | ExtendedRequest::Fstatvfs { .. }
                | ExtendedRequest::Limits
                | ExtendedRequest::UsersGroupsById { .. } => Expect::ExtendedReply,
                ExtendedRequest::ExpandPath { .. } | ExtendedRequest::HomeDirectory { .. } => {
                    Expect::Name
                }
                // OpenSSH PROTOCOL: the server "will respond with a SSH_FXP_STATUS message".
                ExtendedRequest::PosixRename { .. }
                | ExtendedRequest::Hardlink { .. }
                | ExtendedRequest::Fsync { .. }
                | ExtendedRequest::Lsetstat { .. }
                | ExtendedRequest::CopyData { .. } => Expect::Status,
                ExtendedRequest::Unknown { .. } => Expect::Any,
            },
            Request::Unknown { .. } => Expect::Any,
            Request::Init { .. }
            | Request::Close { .. }
            | Request::Write { .. }
            | Request::Setstat { .. }
            | Request::Fsetstat { .. }
            | Request::Remove { .. }
            | Request::Mkdir { .. }
            | Request::Rmdir { .. }
            | Request::Rename { .. }
            | Request::Symlink { .. } => Expect::Status,
        }
    }

    /// Whether `reply` may answer the request.
    fn check(self, reply: &Response) -> Result<(), ClientError> {
        let fits = match (self, reply) {
            (_, Response::Status { .. }) | (Expect::Any, _) => true,
            (Expect::Handle, Response::Handle { .. })
            | (Expect::Name, Response::Name { .. })
            | (Expect::Attrs, Response::Attrs { .. })
            | (Expect::ExtendedReply, Response::ExtendedReply { .. }) => true,
            (Expect::Data { max }, Response::Data { data, .. }) => {
                if u32::try_from(data.len()).map_or(true, |n| n > max) {
                    return Err(ClientError::Protocol(format!(
                        "{} bytes of DATA for a READ of {max}",
                        data.len()
                    )));
                }
                true
            }
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(ClientError::Protocol(format!(
                "a reply of type {} does not answer a request that expects {self:?}",
                reply.packet_type()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::StatusCode;

    fn frames(responses: &[Response]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in responses {
            r.encode(&mut out);
        }
        out
    }

    fn version() -> Response {
        Response::Version {
            version: 3,
            extensions: vec![(b"limits@openssh.com".to_vec(), b"1".to_vec())],
        }
    }

    fn ready() -> ClientEngine {
        let mut c = ClientEngine::new(ClientConfig::default());
        let mut init = Vec::new();
        c.poll_transmit(&mut init);
        assert_eq!(init, [0, 0, 0, 5, 1, 0, 0, 0, 3]);
        c.handle_input(&frames(&[version()])).unwrap();
        assert_eq!(c.poll_reply(), Some(version()));
        assert!(c.server().unwrap().supports("limits@openssh.com", "1"));
        c
    }

    #[test]
    fn a_write_sent_taking_its_data_is_the_same_bytes_on_the_wire() {
        let write = |id| Request::Write {
            id,
            handle: b"h1".to_vec(),
            offset: 1 << 40,
            data: vec![7; 1000].into(),
        };
        let mut whole = Vec::new();
        let mut a = ready();
        let id_a = a.send(write).unwrap();
        a.poll_transmit(&mut whole);
        let mut b = ready();
        let (id_b, data) = b.send_taking_data(write).unwrap();
        let mut split = Vec::new();
        b.poll_transmit(&mut split);
        split.extend_from_slice(&data.unwrap());
        assert_eq!((id_a, &split), (id_b, &whole));
        // Its OK is matched like any WRITE's.
        b.handle_input(&frames(&[Response::Status {
            id: id_b,
            code: StatusCode::OK,
            message: String::new(),
            language: String::new(),
        }]))
        .unwrap();
        assert!(matches!(b.poll_reply(), Some(Response::Status { id, .. }) if id == id_b));
        // Anything else goes out whole.
        let (_, none) = b
            .send_taking_data(|id| Request::Stat {
                id,
                path: b"/x".to_vec(),
            })
            .unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn requests_wait_for_version_then_replies_match_out_of_order() {
        let mut c = ClientEngine::new(ClientConfig::default());
        let a = c
            .send(|id| Request::Stat {
                id,
                path: b"/a".to_vec(),
            })
            .unwrap();
        let mut out = Vec::new();
        c.poll_transmit(&mut out);
        // Only INIT goes out before VERSION.
        assert_eq!(out.len(), 9);
        c.handle_input(&frames(&[version()])).unwrap();
        let b = c
            .send(|id| Request::Stat {
                id,
                path: b"/b".to_vec(),
            })
            .unwrap();
        assert_ne!(a, b);
        out.clear();
        c.poll_transmit(&mut out);
        assert!(!out.is_empty());
        assert_eq!(c.in_flight(), 2);
        let replies = frames(&[
            Response::status(b, StatusCode::OK),
            Response::status(a, StatusCode::NO_SUCH_FILE),
        ]);
        // Byte by byte: partial frames wait.
        for byte in &replies {
            c.handle_input(std::slice::from_ref(byte)).unwrap();
        }
        assert_eq!(c.poll_reply(), Some(version()));
        assert_eq!(c.poll_reply().unwrap().id(), Some(b));
        assert_eq!(c.poll_reply().unwrap().id(), Some(a));
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn replies_to_nothing_and_second_versions_are_fatal_and_sticky() {
        let mut c = ready();
        let e = c
            .handle_input(&frames(&[Response::status(7, StatusCode::OK)]))
            .unwrap_err();
        assert!(matches!(e, ClientError::Protocol(_)));
        assert_eq!(
            c.send(|id| Request::Stat { id, path: vec![] }).unwrap_err(),
            e
        );
        let mut c = ready();
        assert!(c.handle_input(&frames(&[version()])).is_err());
        let mut c = ClientEngine::new(ClientConfig::default());
        let old = Response::Version {
            version: 2,
            extensions: vec![],
        };
        assert!(c.handle_input(&frames(&[old])).is_err());
    }

    #[test]
    fn oversized_and_garbage_replies_are_errors_not_panics() {
        let mut c = ready();
        assert!(c.handle_input(&[0xff, 0xff, 0xff, 0xff]).is_err());
        let mut c = ready();
        assert!(c.handle_input(&[0, 0, 0, 1, 250]).is_err());
        let mut c = ready();
        assert!(c.handle_input(&[0, 0, 0, 0]).is_err());
    }

    #[test]
    fn ids_in_flight_are_never_reused() {
        let mut c = ClientEngine::new(ClientConfig {
            max_in_flight: 3,
            ..ClientConfig::default()
        });
        c.handle_input(&frames(&[version()])).unwrap();
        let ids: Vec<u32> = (0..3)
            .map(|_| c.send(|id| Request::Stat { id, path: vec![] }).unwrap())
            .collect();
        assert!(c.send(|id| Request::Stat { id, path: vec![] }).is_err());
        c.handle_input(&frames(&[Response::status(ids[1], StatusCode::OK)]))
            .unwrap();
        let next = c.send(|id| Request::Stat { id, path: vec![] }).unwrap();
        assert!(next != ids[0] && next != ids[2]);
    }

    #[test]
    fn limits_pick_the_smaller_and_default_when_unknown() {
        let l = TransferLimits::from_reply(&LimitsReply {
            max_packet_length: 1 << 20,
            max_read_length: 1 << 20,
            max_write_length: 64 * 1024,
            max_open_handles: 100,
        });
        assert_eq!(l.read_len, crate::packet::MAX_DATA);
        assert_eq!(l.write_len, 64 * 1024);
        let zero = TransferLimits::from_reply(&LimitsReply {
            max_packet_length: 0,
            max_read_length: 0,
            max_write_length: 0,
            max_open_handles: 0,
        });
        assert_eq!(zero.read_len, crate::packet::MAX_DATA);
    }

    /// A whole packet around `payload`: the length, then the bytes.
    fn raw(payload: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(payload);
        out
    }

    fn stat(c: &mut ClientEngine) -> u32 {
        c.send(|id| Request::Stat {
            id,
            path: b"/a".to_vec(),
        })
        .unwrap()
    }

    /// A NAME whose count says 2^32-1 entries is refused from the bytes present, before
    /// anything is reserved, and ends the session.
    #[test]
    fn a_name_count_of_four_billion_is_malformed() {
        let mut c = ready();
        let id = c
            .send(|id| Request::Realpath {
                id,
                path: b".".to_vec(),
            })
            .unwrap();
        let mut p = vec![104];
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&u32::MAX.to_be_bytes());
        let e = c.handle_input(&raw(&p)).unwrap_err();
        assert!(matches!(e, ClientError::Malformed(_)), "{e}");
        assert_eq!(c.poll_reply(), None);
        assert!(c.error().is_some());
    }

    /// ATTRS announcing 2^32-1 extended pairs is refused the same way.
    #[test]
    fn an_attrs_extended_count_of_four_billion_is_malformed() {
        let mut c = ready();
        let id = stat(&mut c);
        let mut p = vec![105];
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&0x8000_0000u32.to_be_bytes());
        p.extend_from_slice(&u32::MAX.to_be_bytes());
        let e = c.handle_input(&raw(&p)).unwrap_err();
        assert!(matches!(e, ClientError::Malformed(_)), "{e}");
    }

    /// A HANDLE longer than filexfer-02's 256 bytes is refused; 256 bytes are fine.
    #[test]
    fn a_handle_over_256_bytes_is_malformed() {
        for (len, ok) in [(256usize, true), (257, false)] {
            let mut c = ready();
            let id = c
                .send(|id| Request::Opendir {
                    id,
                    path: b"/".to_vec(),
                })
                .unwrap();
            let mut p = vec![102];
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
            p.extend(std::iter::repeat_n(b'h', len));
            assert_eq!(c.handle_input(&raw(&p)).is_ok(), ok, "{len}");
        }
    }

    /// DATA longer than the READ asked for is the server's error; as long is fine.
    #[test]
    fn data_longer_than_the_read_is_refused() {
        for (len, ok) in [(10usize, true), (11, false)] {
            let mut c = ready();
            let id = c
                .send(|id| Request::Read {
                    id,
                    handle: b"h".to_vec(),
                    offset: 0,
                    len: 10,
                })
                .unwrap();
            let data = Response::Data {
                id,
                data: vec![7; len].into(),
            };
            let r = c.handle_input(&frames(&[data]));
            assert_eq!(r.is_ok(), ok, "{len}");
            if !ok {
                assert!(matches!(r, Err(ClientError::Protocol(_))));
            }
        }
    }

    /// Each response type answers only the requests that return it; a STATUS answers any.
    #[test]
    fn replies_of_the_wrong_type_are_refused() {
        let handle = |id| Response::Handle {
            id,
            handle: b"h".to_vec(),
        };
        let attrs = |id| Response::Attrs {
            id,
            attrs: crate::Attrs::default(),
        };
        let data = |id| Response::Data {
            id,
            data: b"x".to_vec().into(),
        };
        let name = |id| Response::Name {
            id,
            entries: Vec::new(),
        };
        let ext = |id| Response::ExtendedReply { id, data: vec![] };
        type Make = fn(u32) -> Request;
        type Reply = fn(u32) -> Response;
        let stat: Make = |id| Request::Stat { id, path: vec![] };
        let open: Make = |id| Request::Open {
            id,
            path: vec![],
            flags: crate::OpenFlags::READ,
            attrs: crate::Attrs::default(),
        };
        let write: Make = |id| Request::Write {
            id,
            handle: vec![],
            offset: 0,
            data: vec![1].into(),
        };
        let fsync: Make = |id| Request::Extended {
            id,
            request: ExtendedRequest::Fsync { handle: vec![] },
        };
        let expand: Make = |id| Request::Extended {
            id,
            request: ExtendedRequest::ExpandPath { path: vec![] },
        };
        let other: Make = |id| Request::Extended {
            id,
            request: ExtendedRequest::Unknown {
                name: b"x@example.com".to_vec(),
                data: vec![],
            },
        };
        let cases: [(Make, Reply, bool); 12] = [
            (stat, handle, false),
            (stat, attrs, true),
            (open, attrs, false),
            (open, handle, true),
            (write, data, false),
            (write, name, false),
            (fsync, ext, false),
            (expand, name, true),
            (expand, ext, false),
            (other, ext, true),
            (other, handle, true),
            (stat, |id| Response::status(id, StatusCode::FAILURE), true),
        ];
        for (i, (make, reply, ok)) in cases.into_iter().enumerate() {
            let mut c = ready();
            let id = c.send(make).unwrap();
            let r = c.handle_input(&frames(&[reply(id)]));
            assert_eq!(r.is_ok(), ok, "case {i}: {r:?}");
            if ok {
                assert_eq!(c.poll_reply(), Some(reply(id)));
            } else {
                assert!(matches!(r, Err(ClientError::Protocol(_))));
                // Sticky: nothing more is sent.
                assert!(c.send(stat).is_err());
            }
        }
    }

    /// Sends READs of `len` bytes, one per entry of `lens`; returns their ids.
    fn reads(c: &mut ClientEngine, lens: &[u32]) -> Vec<u32> {
        lens.iter()
            .map(|&len| {
                c.send(|id| Request::Read {
                    id,
                    handle: b"h".to_vec(),
                    offset: 0,
                    len,
                })
                .unwrap()
            })
            .collect()
    }

    /// Feeds `input` through the lent read buffer, reading at most `step` bytes at a time and
    /// never more than the engine allows; returns the replies.
    fn feed_lent(c: &mut ClientEngine, mut input: &[u8], step: usize) -> Vec<Response> {
        let mut replies = Vec::new();
        while !input.is_empty() {
            let (mut buf, max) = c.take_read_buffer();
            assert!(max > 0);
            let n = max.min(step).min(input.len());
            buf.extend_from_slice(&input[..n]);
            input = &input[n..];
            c.restore_read_buffer(buf);
            c.process_input().unwrap();
            replies.extend(std::iter::from_fn(|| c.poll_reply()));
        }
        replies
    }

    /// The READs [`mixed_replies`] answers.
    const MIXED_READS: [u32; 4] = [200_000, 100_000, 40_000, 200_000];

    /// Replies to [`MIXED_READS`] with ids `ids`: large DATA, a short one, an EOF and another
    /// large one, out of order.
    fn mixed_replies(ids: &[u32]) -> Vec<Response> {
        let block = |seed: u8, len: usize| (0..len).map(|i| (i as u8) ^ seed).collect::<Vec<_>>();
        vec![
            Response::Data {
                id: ids[0],
                data: block(1, 200_000).into(),
            },
            // Shorter than asked (the end of the file), and below the size for a buffer of
            // its own.
            Response::Data {
                id: ids[2],
                data: block(2, 1000).into(),
            },
            Response::Status {
                id: ids[3],
                code: StatusCode::EOF,
                message: String::new(),
                language: String::new(),
            },
            Response::Data {
                id: ids[1],
                data: block(3, 100_000).into(),
            },
        ]
    }

    /// Large DATA replies read into their own buffers come out exactly as the ordinary path
    /// decodes them, whatever the pieces the stream delivers, with small replies between.
    #[test]
    fn large_data_read_into_its_own_buffer_is_the_same_reply() {
        let mut c = ready();
        let ids = reads(&mut c, &MIXED_READS);
        let replies = mixed_replies(&ids);
        let wire = frames(&replies);
        for step in [1, 13, 4096, 65_536, usize::MAX] {
            let mut c2 = ready();
            assert_eq!(reads(&mut c2, &MIXED_READS), ids);
            assert_eq!(feed_lent(&mut c2, &wire, step), replies, "step {step}");
            assert_eq!(c2.in_flight(), 0);
        }
        // handle_input in pieces, while a large reply is part-way into its own buffer.
        for cut in [20, 70_000, 199_999, 200_013, 200_020] {
            let mut c3 = ready();
            reads(&mut c3, &MIXED_READS);
            let (head, tail) = wire.split_at(cut);
            let mut got = feed_lent(&mut c3, head, 4096);
            c3.handle_input(tail).unwrap();
            got.extend(std::iter::from_fn(|| c3.poll_reply()));
            assert_eq!(got, replies, "cut {cut}");
        }
    }

    /// Replies handed over in chunks are the same replies whatever the cuts; a large DATA
    /// whole at the front of a chunk, after a reply boundary, keeps the chunk's buffer as
    /// its data (no copy), and the chunk comes back whenever it was copied instead.
    #[test]
    fn large_data_whole_in_a_chunk_keeps_the_chunks_buffer() {
        let mut c = ready();
        let ids = reads(&mut c, &MIXED_READS);
        let replies = mixed_replies(&ids);
        let wire = frames(&replies);
        let first = frames(&replies[..1]).len();
        // One chunk holding everything after 9 bytes of room: the first DATA is taken in
        // place, the rest is copied as input.
        let mut chunk = vec![0xAB; 9];
        chunk.extend_from_slice(&wire);
        let at = chunk.as_ptr() as usize;
        assert_eq!(c.handle_chunk(chunk, 9).unwrap(), None);
        let got: Vec<Response> = std::iter::from_fn(|| c.poll_reply()).collect();
        assert_eq!(got, replies);
        let Some(Response::Data { data, .. }) = got.into_iter().next() else {
            panic!("not data")
        };
        let (buf, start) = data.into_parts();
        assert_eq!((buf.as_ptr() as usize, start), (at, 9 + DATA_HEADER_LEN));
        // Cut anywhere into two chunks: the same replies; a chunk that was copied comes back.
        for cut in [1, 13, 100, first - 1, first, first + 5, wire.len() - 1] {
            let mut c2 = ready();
            reads(&mut c2, &MIXED_READS);
            let mut got = Vec::new();
            for piece in [&wire[..cut], &wire[cut..]] {
                if let Some(back) = c2.handle_chunk(piece.to_vec(), 0).unwrap() {
                    assert_eq!(back, piece, "cut {cut}");
                }
                got.extend(std::iter::from_fn(|| c2.poll_reply()));
            }
            assert_eq!(got, replies, "cut {cut}");
            assert_eq!(c2.in_flight(), 0);
        }
        // Longer than its READ, or answering none: refused, as by the ordinary path.
        for (sent, other_id) in [(100_001, false), (50_000, true)] {
            let mut c3 = ready();
            let id = reads(&mut c3, &[100_000])[0];
            let wire = frames(&[Response::Data {
                id: if other_id { id + 7 } else { id },
                data: vec![9; sent].into(),
            }]);
            assert!(c3.handle_chunk(wire, 0).is_err(), "{sent} {other_id}");
        }
    }

    /// A large DATA that answers no READ, or is longer than its READ, is refused as before:
    /// no buffer of the peer's size is set aside for it.
    #[test]
    fn large_data_not_asked_for_is_still_refused() {
        for (asked, sent, to_other_id) in [(100_000, 100_001, false), (100_000, 50_000, true)] {
            let mut c = ready();
            let id = reads(&mut c, &[asked])[0];
            let reply = Response::Data {
                id: if to_other_id { id + 7 } else { id },
                data: vec![9; sent].into(),
            };
            let wire = frames(&[reply]);
            let (head, tail) = wire.split_at(4096);
            let (mut buf, max) = c.take_read_buffer();
            buf.extend_from_slice(&head[..max.min(head.len())]);
            c.restore_read_buffer(buf);
            c.process_input().unwrap();
            let (buf, _) = c.take_read_buffer();
            // Still the ordinary input buffer, holding the start of the reply.
            assert_eq!(buf.len(), 4096);
            c.restore_read_buffer(buf);
            assert!(matches!(
                c.handle_input(tail),
                Err(ClientError::Protocol(_))
            ));
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(chunks in proptest::collection::vec(
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 0..8)) {
            let mut c = ClientEngine::new(ClientConfig::default());
            for chunk in chunks {
                let _ = c.handle_input(&chunk);
                while c.poll_reply().is_some() {}
            }
        }

        /// Bytes handed over as a chunk (after room) give what they give as input: the same
        /// replies, or an error for both; here a large DATA to a READ in flight, cut at any
        /// point (a third of the time before it or right after it, where a chunk holds it
        /// whole), with arbitrary bytes after it.
        #[test]
        fn a_chunk_is_taken_as_input_would_be(
            cut in proptest::prop_oneof![
                proptest::strategy::Just(0usize),
                proptest::strategy::Just(DATA_HEADER_LEN + 20_000),
                0usize..20_100,
            ],
            room in 0usize..16,
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let mut wire = Vec::new();
            let (mut a, mut b) = (ready(), ready());
            let id = reads(&mut a, &[20_000])[0];
            reads(&mut b, &[20_000]);
            Response::Data { id, data: vec![7; 20_000].into() }.encode(&mut wire);
            wire.extend_from_slice(&tail);
            let cut = cut.min(wire.len());
            let mut got = (Vec::new(), Vec::new());
            let (mut failed_a, mut failed_b) = (false, false);
            for piece in [&wire[..cut], &wire[cut..]] {
                failed_a |= a.handle_input(piece).is_err();
                got.0.extend(std::iter::from_fn(|| a.poll_reply()));
                let mut buf = vec![0; room];
                buf.extend_from_slice(piece);
                failed_b |= b.handle_chunk(buf, room).is_err();
                got.1.extend(std::iter::from_fn(|| b.poll_reply()));
            }
            proptest::prop_assert_eq!(failed_a, failed_b);
            proptest::prop_assert_eq!(got.0, got.1);
        }
    }
}
