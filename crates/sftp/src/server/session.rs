//! One SFTP session: the init phase, the handle table, and a method per request.

use core::fmt;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use sshwire_wire::{Error, Writer};

use super::audit::{AuditEvent, AuditOperation, AuditSink};
use super::config::{RequestKind, ServerConfig};
use super::handles::{Handle, Listing, OpenDir, OpenFile, Table};
use super::lock;
use super::longname::longname;
use super::order::{Access, Order, Ticket};
use crate::attrs::Attrs;
use crate::block::{Block, Room};
use crate::extensions::{ExtendedRequest, LimitsReply, OPENSSH_EXTENSIONS, UsersGroupsReply};
use crate::fs::{DirEntry, Filesystem, FsError};
use crate::packet::{MAX_DATA, MAX_PACKET};
use crate::request::Request;
use crate::response::{DATA_HEADER_LEN, NameEntry, Response};
use crate::types::{OpenFlags, PacketType, StatusCode, VERSION};

/// Entries in one `READDIR` reply at most (OpenSSH sends up to 100).
const READDIR_MAX_ENTRIES: usize = 100;

/// Bytes of entries in one `READDIR` reply at most: well inside [`MAX_PACKET`]. An entry that
/// alone is larger (a name of over 200 KiB) can never be sent and is left out.
const READDIR_MAX_BYTES: usize = 200 * 1024;

/// Why a session ended: the client broke the protocol in a way that leaves nothing to answer.
///
/// The runner stops reading, lets the requests under way finish, and closes the stream.
/// Errors are sticky: every later [`Session::handle`] returns the same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// A packet other than `SSH_FXP_INIT` came first.
    BeforeInit {
        /// Its type.
        packet_type: PacketType,
    },
    /// A second `SSH_FXP_INIT`.
    SecondInit,
    /// A packet that could not be decoded, or that has no request id to answer.
    ///
    /// OpenSSH's `sftp-server` ends the session on a request it cannot parse, and so does this
    /// server: a reply needs the request's id, and after a parse error nothing in the packet
    /// can be trusted to be one.
    Malformed {
        /// The packet's type, if it had one.
        packet_type: Option<PacketType>,
        /// What was wrong.
        error: Error,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::BeforeInit { packet_type } => {
                write!(f, "{packet_type} received before SSH_FXP_INIT")
            }
            ProtocolError::SecondInit => f.write_str("a second SSH_FXP_INIT"),
            ProtocolError::Malformed {
                packet_type: Some(t),
                error,
            } => write!(f, "malformed {t} packet: {error}"),
            ProtocolError::Malformed {
                packet_type: None,
                error,
            } => write!(f, "malformed SFTP packet: {error}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// An SFTP session: answers requests from a filesystem under a policy.
///
/// Cloning gives another handle on the same session. [`Session::handle`] takes `&self` and
/// returns a `'static` future, so requests can run on many tasks at once; the session's own
/// state sits behind mutexes held only for moments, never across an await.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.inner.config)
            .field("open_handles", &self.open_handles())
            .finish_non_exhaustive()
    }
}

struct Inner {
    fs: Arc<dyn Filesystem>,
    config: ServerConfig,
    audit: Option<Arc<dyn AuditSink>>,
    phase: Mutex<Phase>,
    table: Mutex<Table>,
    order: Arc<Order>,
    /// Room the writer of the replies wants around a `DATA`'s packet (see
    /// [`Session::set_reply_room`]).
    reply_room: Mutex<Room>,
}

enum Phase {
    AwaitInit,
    Ready,
    Ended(ProtocolError),
}

/// What [`Session::handle`] decided before running anything.
enum Start {
    Done(Result<Response, ProtocolError>),
    Queued(Ticket, Request),
}

impl Session {
    /// A session serving `fs` under `config`, reporting to `audit`.
    pub fn new(
        fs: Arc<dyn Filesystem>,
        config: ServerConfig,
        audit: Option<Arc<dyn AuditSink>>,
    ) -> Session {
        let table = Table::new(config.max_handles);
        Session {
            inner: Arc::new(Inner {
                fs,
                config,
                audit,
                phase: Mutex::new(Phase::AwaitInit),
                table: Mutex::new(table),
                order: Arc::new(Order::default()),
                reply_room: Mutex::new(Room::default()),
            }),
        }
    }

    /// Reads the data of each `READ` with `room` free around its whole `DATA` packet (the
    /// packet's own header comes on top of `room.front`), for a writer that puts its headers
    /// there and sends the buffer as it is (see [`crate::block`]). The default is no room.
    pub fn set_reply_room(&self, room: Room) {
        *lock(&self.inner.reply_room) = room;
    }

    /// The session's policy.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Handles open now.
    pub fn open_handles(&self) -> usize {
        lock(&self.inner.table).used()
    }

    /// Decodes a packet payload (from [`Frame::Complete`](crate::Frame::Complete)) with the
    /// session's `SYMLINK` order.
    ///
    /// A packet that does not decode ends the session: the error is returned, and from then on
    /// by every [`Session::handle`].
    pub fn decode(&self, payload: &[u8]) -> Result<Request, ProtocolError> {
        Request::decode_with(payload, self.inner.config.symlink_order).map_err(|error| {
            let error = ProtocolError::Malformed {
                packet_type: payload.first().map(|t| PacketType(*t)),
                error,
            };
            let mut phase = lock(&self.inner.phase);
            match &*phase {
                Phase::Ended(first) => first.clone(),
                _ => {
                    *phase = Phase::Ended(error.clone());
                    error
                }
            }
        })
    }

    /// Handles one request: its response, or the error that ends the session.
    ///
    /// Call it in the order the requests arrived. The call itself checks the init phase and
    /// takes the request's place in the order (filexfer-02 §6.1); the future it returns waits
    /// for the earlier requests it depends on, then runs. The futures may be run at the same
    /// time, on any tasks, and complete in any order.
    pub fn handle(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, ProtocolError>> + Send + 'static {
        let start = self.start(request);
        let inner = self.inner.clone();
        async move {
            match start {
                Start::Done(result) => result,
                Start::Queued(ticket, request) => {
                    ticket.ready().await;
                    let response = inner.dispatch(request).await;
                    drop(ticket);
                    Ok(response)
                }
            }
        }
    }

    /// Closes every open handle, as at the end of the session; each close is audited as
    /// forced. Requests still running keep the files they use until they finish.
    pub fn close_all(&self) -> impl Future<Output = ()> + Send + 'static {
        let inner = self.inner.clone();
        async move {
            let handles = lock(&inner.table).drain();
            for handle in handles {
                inner.close_handle(handle, true).await.ok();
            }
        }
    }

    /// The synchronous part of [`Session::handle`]: the init phase, then admission.
    fn start(&self, request: Request) -> Start {
        let mut phase = lock(&self.inner.phase);
        let error = match (&*phase, &request) {
            (Phase::Ended(e), _) => return Start::Done(Err(e.clone())),
            // filexfer-02 §4: "When the file transfer protocol starts, it first sends a
            // SSH_FXP_INIT (including its version number) packet to the server. The server
            // responds with a SSH_FXP_VERSION packet".
            (Phase::AwaitInit, Request::Init { .. }) => {
                *phase = Phase::Ready;
                return Start::Done(Ok(self.inner.version()));
            }
            (Phase::AwaitInit, other) => ProtocolError::BeforeInit {
                packet_type: other.packet_type(),
            },
            (Phase::Ready, Request::Init { .. }) => ProtocolError::SecondInit,
            // Only a packet of an unknown type can lack an id: too short to hold one.
            (Phase::Ready, other) if other.id().is_none() => ProtocolError::Malformed {
                packet_type: Some(other.packet_type()),
                error: Error::Truncated {
                    needed: 4,
                    available: match other {
                        Request::Unknown { data, .. } => data.len(),
                        _ => 0,
                    },
                },
            },
            (Phase::Ready, _) => {
                drop(phase);
                let access = self.inner.access(&request);
                return Start::Queued(self.inner.order.admit(access), request);
            }
        };
        *phase = Phase::Ended(error.clone());
        Start::Done(Err(error))
    }
}

/// A handle slot reserved before the backend opens anything; given back unless committed.
struct Reservation<'a> {
    table: &'a Mutex<Table>,
    armed: bool,
}

impl Reservation<'_> {
    fn commit(mut self, handle: Handle) -> Vec<u8> {
        self.armed = false;
        lock(self.table).insert(handle)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(self.table).unreserve();
        }
    }
}

/// A STATUS response for an error, with the code's standard text when it has none.
fn status(id: u32, e: FsError) -> Response {
    let message = if e.message.is_empty() {
        e.code.message().unwrap_or("Failure").to_owned()
    } else {
        e.message
    };
    Response::Status {
        id,
        code: e.code,
        message,
        language: String::new(),
    }
}

fn ok(id: u32) -> Response {
    Response::status(id, StatusCode::OK)
}

/// The code of a result, for the audit log.
fn code<T>(result: &Result<T, FsError>) -> StatusCode {
    match result {
        Ok(_) => StatusCode::OK,
        Err(e) => e.code,
    }
}

/// A `NAME` reply with one path, as `REALPATH`, `READLINK` and friends answer: the path is
/// both the file name and the long name, and there are no attributes (as OpenSSH does).
fn one_name(id: u32, path: Vec<u8>) -> Response {
    Response::Name {
        id,
        entries: vec![NameEntry {
            filename: path.clone(),
            longname: path,
            attrs: Attrs::default(),
        }],
    }
}

fn eof() -> FsError {
    FsError::new(StatusCode::EOF, "")
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Whether a file opened with `flags` may be read: READ, or neither READ nor WRITE (POSIX
/// `O_RDONLY` is no flag at all, and OpenSSH maps `pflags` 0 to it).
fn readable(flags: OpenFlags) -> bool {
    flags.contains(OpenFlags::READ) || !flags.contains(OpenFlags::WRITE)
}

/// Bytes of a reply after its length field (what [`MAX_PACKET`] limits), for the replies whose
/// size the client controls.
fn reply_len(response: &Response) -> usize {
    match response {
        // type, id, count, then each entry.
        Response::Name { entries, .. } => entries.iter().fold(9, |n, e| {
            n.saturating_add(8 + e.filename.len() + e.longname.len() + attrs_len(&e.attrs))
        }),
        // type, id, data.
        Response::ExtendedReply { data, .. } => 5 + data.len(),
        Response::Data { data, .. } => 9 + data.len(),
        _ => 0,
    }
}

/// Bytes of `attrs` on the wire.
fn attrs_len(attrs: &Attrs) -> usize {
    let mut w = Writer::new();
    attrs.encode(&mut w);
    w.len()
}

impl Inner {
    /// The `SSH_FXP_VERSION` reply.
    fn version(&self) -> Response {
        // OpenSSH PROTOCOL §4.2: "OpenSSH's sftp-server lists the extensions it supports using
        // the standard extension announcement mechanism in the SSH_FXP_VERSION server hello
        // packet". Like OpenSSH, leave out those the policy refuses; and those the backend
        // does not implement.
        let extensions = OPENSSH_EXTENSIONS
            .iter()
            .filter(|(name, _)| match RequestKind::from_extension(name) {
                Some(kind) => {
                    self.config.permits(kind)
                        && kind.capability().is_none_or(|c| self.fs.supports(c))
                }
                None => false,
            })
            .map(|(name, version)| (name.as_bytes().to_vec(), version.as_bytes().to_vec()))
            .collect();
        // OpenSSH answers version 3 whatever the client asked for; so do we.
        Response::Version {
            version: VERSION,
            extensions,
        }
    }

    /// What a request touches, for the order of filexfer-02 §6.1.
    fn access(&self, request: &Request) -> Access {
        let span = |offset: u64, len: usize| {
            let len = u64::try_from(len.max(1)).unwrap_or(u64::MAX);
            (offset, offset.saturating_add(len))
        };
        match request {
            Request::Read {
                handle,
                offset,
                len,
                ..
            } => {
                let (start, end) = span(*offset, usize::try_from(*len).unwrap_or(usize::MAX));
                Access::Handle {
                    key: handle.clone(),
                    start,
                    end,
                    write: false,
                }
            }
            Request::Write {
                handle,
                offset,
                data,
                ..
            } => {
                let append = lock(&self.table)
                    .file_flags(handle)
                    .is_some_and(|f| f.contains(OpenFlags::APPEND));
                if append {
                    // Appends go to the end, wherever that is by then: in order, all of them.
                    return Access::whole(handle);
                }
                let (start, end) = span(*offset, data.len());
                Access::Handle {
                    key: handle.clone(),
                    start,
                    end,
                    write: true,
                }
            }
            Request::Close { handle, .. }
            | Request::Fsetstat { handle, .. }
            | Request::Readdir { handle, .. }
            | Request::Extended {
                request: ExtendedRequest::Fsync { handle },
                ..
            } => Access::whole(handle),
            Request::Fstat { .. }
            | Request::Lstat { .. }
            | Request::Stat { .. }
            | Request::Realpath { .. }
            | Request::Readlink { .. }
            | Request::Opendir { .. }
            | Request::Unknown { .. }
            | Request::Extended {
                request:
                    ExtendedRequest::Fstatvfs { .. }
                    | ExtendedRequest::Statvfs { .. }
                    | ExtendedRequest::Limits
                    | ExtendedRequest::ExpandPath { .. }
                    | ExtendedRequest::HomeDirectory { .. }
                    | ExtendedRequest::UsersGroupsById { .. }
                    | ExtendedRequest::Unknown { .. },
                ..
            } => Access::Inspect,
            _ => Access::Exclusive,
        }
    }

    /// Runs a request that passed the init phase and its turn in the order.
    async fn dispatch(&self, request: Request) -> Response {
        let id = request.id().unwrap_or(0);
        if let Some(kind) = RequestKind::of(&request)
            && !self.config.permits(kind)
        {
            // OpenSSH sftp-server: a request refused by -R, -p or -P gets
            // SSH2_FX_PERMISSION_DENIED.
            self.audit_refusal(&request);
            return Response::status(id, StatusCode::PERMISSION_DENIED);
        }
        let result = match request {
            Request::Init { .. } => Ok(self.version()),
            Request::Open {
                path, flags, attrs, ..
            } => self.open(id, path, flags, attrs).await,
            Request::Close { handle, .. } => self.close(id, &handle).await,
            Request::Read {
                handle,
                offset,
                len,
                ..
            } => self.read(id, &handle, offset, len).await,
            Request::Write {
                handle,
                offset,
                data,
                ..
            } => self.write(id, &handle, offset, data).await,
            Request::Lstat { path, .. } => self.stat(id, &path, false).await,
            Request::Stat { path, .. } => self.stat(id, &path, true).await,
            Request::Fstat { handle, .. } => self.fstat(id, &handle).await,
            Request::Setstat { path, attrs, .. } => {
                self.setstat(id, AuditOperation::Setstat, &path, attrs)
                    .await
            }
            Request::Fsetstat { handle, attrs, .. } => self.fsetstat(id, &handle, attrs).await,
            Request::Opendir { path, .. } => self.opendir(id, &path).await,
            Request::Readdir { handle, .. } => self.readdir(id, &handle).await,
            Request::Remove { path, .. } => self.remove(id, &path).await,
            Request::Mkdir { path, attrs, .. } => self.mkdir(id, &path, attrs).await,
            Request::Rmdir { path, .. } => self.rmdir(id, &path).await,
            Request::Realpath { path, .. } => self.realpath(id, &path).await,
            Request::Rename {
                old_path, new_path, ..
            } => {
                self.rename(id, AuditOperation::Rename, &old_path, &new_path)
                    .await
            }
            Request::Readlink { path, .. } => self.readlink(id, &path).await,
            Request::Symlink {
                link_path,
                target_path,
                ..
            } => self.symlink(id, &link_path, &target_path).await,
            Request::Extended { request, .. } => self.extended(id, request).await,
            // filexfer-02 does not say what to do with a packet type it does not define;
            // OpenSSH logs it and answers nothing, which leaves a client waiting for that id
            // forever. Answer as §8 says for an unknown extended request.
            Request::Unknown { .. } => Err(FsError::unsupported()),
        };
        match result {
            // The client takes packets of MAX_PACKET bytes at most (OpenSSH's client drops the
            // connection on a longer one): a NAME or EXTENDED_REPLY that would not fit, such
            // as the REALPATH of a 200 KiB path, is answered with a failure instead.
            Ok(response) if reply_len(&response) > MAX_PACKET as usize => Response::Status {
                id,
                code: StatusCode::FAILURE,
                message: "reply too long".to_owned(),
                language: String::new(),
            },
            Ok(response) => response,
            Err(e) => status(id, e),
        }
    }

    /// The longest `READ` answered: the configured length, and never more than fits in a
    /// packet.
    fn max_read_len(&self) -> u32 {
        self.config.max_read_len.clamp(1, MAX_DATA)
    }

    async fn extended(&self, id: u32, request: ExtendedRequest) -> Result<Response, FsError> {
        match request {
            ExtendedRequest::PosixRename { old_path, new_path } => {
                self.rename(id, AuditOperation::PosixRename, &old_path, &new_path)
                    .await
            }
            ExtendedRequest::Statvfs { path } => {
                let path = self.resolve(&path)?;
                let reply = self.fs.statvfs(&path).await?;
                Ok(Response::ExtendedReply {
                    id,
                    data: reply.to_bytes(),
                })
            }
            ExtendedRequest::Fstatvfs { handle } => {
                let file = self.file(&handle)?;
                let reply = file.file.statvfs().await?;
                Ok(Response::ExtendedReply {
                    id,
                    data: reply.to_bytes(),
                })
            }
            ExtendedRequest::Hardlink { old_path, new_path } => {
                self.hardlink(id, &old_path, &new_path).await
            }
            ExtendedRequest::Fsync { handle } => {
                let file = self.file(&handle)?;
                file.file.sync().await?;
                Ok(ok(id))
            }
            ExtendedRequest::Lsetstat { path, attrs } => {
                self.setstat(id, AuditOperation::Lsetstat, &path, attrs)
                    .await
            }
            ExtendedRequest::Limits => {
                // OpenSSH PROTOCOL §4.8: "Servers SHOULD set this at least to 34000" and
                // "at least to 32768" for the read and write lengths.
                let reply = LimitsReply {
                    max_packet_length: u64::from(MAX_PACKET),
                    max_read_length: u64::from(self.max_read_len()),
                    max_write_length: u64::from(MAX_DATA),
                    max_open_handles: u64::try_from(self.config.max_handles).unwrap_or(u64::MAX),
                };
                Ok(Response::ExtendedReply {
                    id,
                    data: reply.to_bytes(),
                })
            }
            ExtendedRequest::ExpandPath { path } => {
                let path = self.expand(&path)?;
                Ok(one_name(id, self.fs.realpath(&path).await?))
            }
            ExtendedRequest::CopyData {
                read_handle,
                read_offset,
                read_length,
                write_handle,
                write_offset,
            } => {
                self.copy_data(
                    id,
                    &read_handle,
                    read_offset,
                    read_length,
                    &write_handle,
                    write_offset,
                )
                .await
            }
            ExtendedRequest::HomeDirectory { username } => {
                // OpenSSH PROTOCOL §4.11: "An empty username implies the current user." Only
                // the session's own user has a home this server may tell.
                if username.is_empty() || username == self.config.user.as_bytes() {
                    Ok(one_name(id, self.config.home_dir().to_vec()))
                } else {
                    Err(FsError::failure("no such user"))
                }
            }
            ExtendedRequest::UsersGroupsById { uids, gids } => {
                // OpenSSH PROTOCOL §4.12: "If a name cannot be identified for a given user or
                // group ID, an empty string will be returned in its place."
                let names = self.config.id_names.as_deref();
                let reply = UsersGroupsReply {
                    user_names: uids
                        .iter()
                        .map(|u| names.and_then(|n| n.user_name(*u)).unwrap_or_default())
                        .map(String::into_bytes)
                        .collect(),
                    group_names: gids
                        .iter()
                        .map(|g| names.and_then(|n| n.group_name(*g)).unwrap_or_default())
                        .map(String::into_bytes)
                        .collect(),
                };
                Ok(Response::ExtendedReply {
                    id,
                    data: reply.to_bytes(),
                })
            }
            // filexfer-02 §8: "If the server does not recognize the `extended-request' name,
            // then the server MUST respond with SSH_FXP_STATUS with error/status set to
            // SSH_FX_OP_UNSUPPORTED."
            ExtendedRequest::Unknown { .. } => Err(FsError::unsupported()),
        }
    }

    // --- Paths ---

    /// The backend path of a client path: relative paths joined to the start directory.
    fn resolve(&self, path: &[u8]) -> Result<Vec<u8>, FsError> {
        // A C string cannot hold a NUL, so no file name has one: OpenSSH refuses such a
        // string before it gets to the file system. Answer as for any name that is not there.
        if path.contains(&0) {
            return Err(FsError::not_found());
        }
        if path.first() == Some(&b'/') {
            return Ok(path.to_vec());
        }
        let start = &self.config.start_dir;
        if path.is_empty() {
            return Ok(start.clone());
        }
        let mut joined = Vec::with_capacity(start.len() + 1 + path.len());
        joined.extend_from_slice(start);
        if start.last() != Some(&b'/') {
            joined.push(b'/');
        }
        joined.extend_from_slice(path);
        Ok(joined)
    }

    /// `expand-path@openssh.com`: `~`, `~/x` and `~user/x` for the session's own user to the
    /// home directory, anything else as [`Inner::resolve`].
    fn expand(&self, path: &[u8]) -> Result<Vec<u8>, FsError> {
        // OpenSSH PROTOCOL §4.9: "This request supports canonicalisation of relative paths and
        // those that need tilde-expansion, i.e. "~", "~/..." and "~user/..."".
        let Some(rest) = path.strip_prefix(b"~") else {
            return self.resolve(path);
        };
        let slash = rest.iter().position(|b| *b == b'/').unwrap_or(rest.len());
        let (user, tail) = rest.split_at(slash);
        if !user.is_empty() && user != self.config.user.as_bytes() {
            return Err(FsError::new(StatusCode::NO_SUCH_FILE, "no such user"));
        }
        let mut expanded = self.config.home_dir().to_vec();
        expanded.extend_from_slice(tail);
        self.resolve(&expanded)
    }

    // --- Handles ---

    fn file(&self, handle: &[u8]) -> Result<Arc<OpenFile>, FsError> {
        Ok(lock(&self.table).file(handle)?)
    }

    fn reserve(&self) -> Result<Reservation<'_>, FsError> {
        if lock(&self.table).reserve() {
            Ok(Reservation {
                table: &self.table,
                armed: true,
            })
        } else {
            Err(FsError::failure("too many open handles"))
        }
    }

    /// Closes a handle taken out of the table; audits it.
    async fn close_handle(&self, handle: Handle, forced: bool) -> Result<(), FsError> {
        match handle {
            Handle::File(open) => {
                let mut event = self.event(AuditOperation::Close, open.path.clone());
                event.bytes_read = Some(open.read.load(Ordering::Relaxed));
                event.bytes_written = Some(open.written.load(Ordering::Relaxed));
                event.forced = forced;
                // Requests on the handle finish before a CLOSE starts (it waits its turn), so
                // the table held the last reference; if not, the file closes, silently, when
                // the last one goes.
                let result = match Arc::into_inner(open) {
                    Some(open) => open.file.close().await,
                    None => Ok(()),
                };
                event.status = code(&result);
                self.record(event);
                result
            }
            Handle::Dir(dir) => {
                let mut event = self.event(AuditOperation::Closedir, dir.path);
                event.forced = forced;
                self.record(event);
                Ok(())
            }
        }
    }

    // --- Audit ---

    fn event(&self, operation: AuditOperation, path: Vec<u8>) -> AuditEvent {
        AuditEvent {
            time: (self.config.clock)(),
            user: self.config.user.clone(),
            operation,
            path,
            target: None,
            flags: None,
            attrs: None,
            bytes_read: None,
            bytes_written: None,
            forced: false,
            status: StatusCode::OK,
        }
    }

    fn record(&self, event: AuditEvent) {
        if let Some(sink) = &self.audit {
            sink.record(&event);
        }
    }

    /// Records a request that the policy refused, if it would have changed something.
    fn audit_refusal(&self, request: &Request) {
        let handle_path = |h: &[u8]| {
            lock(&self.table)
                .file(h)
                .map(|f| f.path.clone())
                .unwrap_or_default()
        };
        let (operation, path, target) = match request {
            Request::Open { path, .. } => (AuditOperation::Open, path.clone(), None),
            Request::Write { handle, .. } => (AuditOperation::Write, handle_path(handle), None),
            Request::Setstat { path, .. } => (AuditOperation::Setstat, path.clone(), None),
            Request::Fsetstat { handle, .. } => {
                (AuditOperation::Fsetstat, handle_path(handle), None)
            }
            Request::Remove { path, .. } => (AuditOperation::Remove, path.clone(), None),
            Request::Mkdir { path, .. } => (AuditOperation::Mkdir, path.clone(), None),
            Request::Rmdir { path, .. } => (AuditOperation::Rmdir, path.clone(), None),
            Request::Rename {
                old_path, new_path, ..
            } => (
                AuditOperation::Rename,
                old_path.clone(),
                Some(new_path.clone()),
            ),
            Request::Symlink {
                link_path,
                target_path,
                ..
            } => (
                AuditOperation::Symlink,
                link_path.clone(),
                Some(target_path.clone()),
            ),
            Request::Extended { request, .. } => match request {
                ExtendedRequest::PosixRename { old_path, new_path } => (
                    AuditOperation::PosixRename,
                    old_path.clone(),
                    Some(new_path.clone()),
                ),
                ExtendedRequest::Hardlink { old_path, new_path } => (
                    AuditOperation::Hardlink,
                    old_path.clone(),
                    Some(new_path.clone()),
                ),
                ExtendedRequest::Lsetstat { path, .. } => {
                    (AuditOperation::Lsetstat, path.clone(), None)
                }
                ExtendedRequest::Fsync { handle } => {
                    (AuditOperation::Fsync, handle_path(handle), None)
                }
                ExtendedRequest::CopyData {
                    read_handle,
                    write_handle,
                    ..
                } => (
                    AuditOperation::CopyData,
                    handle_path(read_handle),
                    Some(handle_path(write_handle)),
                ),
                _ => return,
            },
            _ => return,
        };
        let mut event = self.event(operation, path);
        event.target = target;
        event.status = StatusCode::PERMISSION_DENIED;
        self.record(event);
    }

    // --- Requests ---

    async fn open(
        &self,
        id: u32,
        path: Vec<u8>,
        flags: OpenFlags,
        attrs: Attrs,
    ) -> Result<Response, FsError> {
        let mut event = self.event(AuditOperation::Open, path);
        event.flags = Some(flags);
        let result = self.open_file(&mut event, flags, attrs).await;
        event.status = code(&result);
        self.record(event);
        result.map(|handle| Response::Handle { id, handle })
    }

    async fn open_file(
        &self,
        event: &mut AuditEvent,
        flags: OpenFlags,
        mut attrs: Attrs,
    ) -> Result<Vec<u8>, FsError> {
        let path = self.resolve(&event.path)?;
        event.path.clone_from(&path);
        // OpenSSH sftp-server: in read-only mode, "Refusing open request in read-only mode"
        // unless the access mode is O_RDONLY and neither O_CREAT nor O_TRUNC is set.
        let writes = OpenFlags::WRITE | OpenFlags::APPEND | OpenFlags::CREAT | OpenFlags::TRUNC;
        if self.config.read_only && flags.bits() & writes.bits() != 0 {
            return Err(FsError::permission_denied());
        }
        if flags.contains(OpenFlags::CREAT) {
            // The mode of a new file: the client's, else 0666, less the umask, as open(2)
            // with the process umask does for OpenSSH.
            let mode = attrs.permissions.unwrap_or(0o666) & !(self.config.umask & 0o777);
            attrs.permissions = Some(mode);
            event.attrs = Some(Attrs {
                permissions: Some(mode),
                ..Attrs::default()
            });
        }
        let reservation = self.reserve()?;
        let file = self.fs.open(&path, flags, &attrs).await?;
        Ok(reservation.commit(Handle::File(Arc::new(OpenFile {
            file,
            flags,
            path,
            read: 0.into(),
            written: 0.into(),
        }))))
    }

    async fn close(&self, id: u32, handle: &[u8]) -> Result<Response, FsError> {
        let handle = lock(&self.table).remove(handle)?;
        self.close_handle(handle, false).await?;
        Ok(ok(id))
    }

    async fn read(
        &self,
        id: u32,
        handle: &[u8],
        offset: u64,
        len: u32,
    ) -> Result<Response, FsError> {
        let open = self.file(handle)?;
        if !readable(open.flags) {
            return Err(FsError::new(
                StatusCode::PERMISSION_DENIED,
                "handle not open for reading",
            ));
        }
        // filexfer-02 §6.4: "the server will read as many bytes as it can from the file (up
        // to `len')": a long READ is answered with less, as OpenSSH does beyond its
        // max-read-length.
        let len = len.min(self.max_read_len());
        if len == 0 {
            return Ok(Response::Data {
                id,
                data: Block::new(),
            });
        }
        let room = *lock(&self.reply_room);
        let room = Room {
            front: room.front.saturating_add(DATA_HEADER_LEN),
            back: room.back,
        };
        let mut data = open.file.read_block(offset, len, room).await?;
        // filexfer-02 §6.4: "If an error occurs or EOF is encountered before reading any
        // data, the server will respond with SSH_FXP_STATUS."
        if data.is_empty() {
            return Err(eof());
        }
        data.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        open.read.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(Response::Data { id, data })
    }

    async fn write(
        &self,
        id: u32,
        handle: &[u8],
        offset: u64,
        data: Block,
    ) -> Result<Response, FsError> {
        let open = self.file(handle)?;
        if !open.flags.contains(OpenFlags::WRITE) {
            return Err(FsError::new(
                StatusCode::PERMISSION_DENIED,
                "handle not open for writing",
            ));
        }
        let n = data.len() as u64;
        open.file.write_block(offset, data).await?;
        open.written.fetch_add(n, Ordering::Relaxed);
        Ok(ok(id))
    }

    async fn stat(&self, id: u32, path: &[u8], follow: bool) -> Result<Response, FsError> {
        let path = self.resolve(path)?;
        let attrs = if follow {
            self.fs.stat(&path).await?
        } else {
            self.fs.lstat(&path).await?
        };
        Ok(Response::Attrs { id, attrs })
    }

    async fn fstat(&self, id: u32, handle: &[u8]) -> Result<Response, FsError> {
        let open = self.file(handle)?;
        let attrs = open.file.stat().await?;
        Ok(Response::Attrs { id, attrs })
    }

    async fn setstat(
        &self,
        id: u32,
        operation: AuditOperation,
        path: &[u8],
        attrs: Attrs,
    ) -> Result<Response, FsError> {
        let mut event = self.event(operation, path.to_vec());
        event.attrs = Some(attrs.clone());
        let result = async {
            let path = self.resolve(path)?;
            event.path.clone_from(&path);
            if operation == AuditOperation::Lsetstat {
                // OpenSSH sftp-server refuses a size for lsetstat@openssh.com with
                // SSH2_FX_BAD_MESSAGE: "nonsensical for links".
                if attrs.size.is_some() {
                    return Err(FsError::new(
                        StatusCode::BAD_MESSAGE,
                        "lsetstat cannot set a size",
                    ));
                }
                self.fs.lsetstat(&path, &attrs).await
            } else {
                self.fs.setstat(&path, &attrs).await
            }
        }
        .await;
        event.status = code(&result);
        self.record(event);
        result.map(|()| ok(id))
    }

    async fn fsetstat(&self, id: u32, handle: &[u8], attrs: Attrs) -> Result<Response, FsError> {
        let open = self.file(handle)?;
        let result = open.file.setstat(&attrs).await;
        let mut event = self.event(AuditOperation::Fsetstat, open.path.clone());
        event.attrs = Some(attrs);
        event.status = code(&result);
        self.record(event);
        result.map(|()| ok(id))
    }

    async fn opendir(&self, id: u32, path: &[u8]) -> Result<Response, FsError> {
        let mut event = self.event(AuditOperation::Opendir, path.to_vec());
        let result = async {
            let path = self.resolve(path)?;
            event.path.clone_from(&path);
            let reservation = self.reserve()?;
            let dir = self.fs.opendir(&path).await?;
            Ok(reservation.commit(Handle::Dir(OpenDir {
                path,
                listing: Some(Listing {
                    dir,
                    pending: Default::default(),
                    done: false,
                    error: None,
                }),
            })))
        }
        .await;
        event.status = code(&result);
        self.record(event);
        result.map(|handle| Response::Handle { id, handle })
    }

    async fn readdir(&self, id: u32, handle: &[u8]) -> Result<Response, FsError> {
        let (mut listing, _path) = lock(&self.table).take_listing(handle)?;
        let result = self.fill(&mut listing).await;
        lock(&self.table).put_listing(handle, listing);
        let entries = result?;
        // filexfer-02 §6.7: "If there are no more names available to be read, the server
        // MUST respond with a SSH_FXP_STATUS message with error code of SSH_FX_EOF."
        if entries.is_empty() {
            return Err(eof());
        }
        Ok(Response::Name { id, entries })
    }

    /// The entries of the next `READDIR` reply: up to [`READDIR_MAX_ENTRIES`] and
    /// [`READDIR_MAX_BYTES`]; none at the end.
    async fn fill(&self, listing: &mut Listing) -> Result<Vec<NameEntry>, FsError> {
        if let Some(e) = listing.error.take() {
            return Err(e);
        }
        let now = unix_seconds((self.config.clock)());
        let mut entries = Vec::new();
        let mut bytes = 0usize;
        while entries.len() < READDIR_MAX_ENTRIES {
            let Some(next) = listing.pending.front() else {
                if listing.done {
                    break;
                }
                match listing
                    .dir
                    .next_entries(READDIR_MAX_ENTRIES - entries.len())
                    .await
                {
                    Ok(more) if more.is_empty() => listing.done = true,
                    Ok(more) => listing.pending.extend(more),
                    Err(e) if entries.is_empty() => return Err(e),
                    Err(e) => {
                        listing.error = Some(e);
                        break;
                    }
                }
                continue;
            };
            let long = self.longname(next, now);
            let size = 4 + next.name.len() + 4 + long.len() + attrs_len(&next.attrs);
            if size > READDIR_MAX_BYTES {
                listing.pending.pop_front();
                continue;
            }
            if bytes + size > READDIR_MAX_BYTES {
                break;
            }
            bytes += size;
            if let Some(e) = listing.pending.pop_front() {
                entries.push(NameEntry {
                    filename: e.name,
                    longname: long,
                    attrs: e.attrs,
                });
            }
        }
        Ok(entries)
    }

    fn longname(&self, entry: &DirEntry, now: i64) -> Vec<u8> {
        let (owner, group) = match (&entry.owner_names, entry.attrs.owner) {
            (Some((u, g)), _) => (u.clone(), g.clone()),
            (None, Some(o)) => {
                let names = self.config.id_names.as_deref();
                (
                    names
                        .and_then(|n| n.user_name(o.uid))
                        .unwrap_or_else(|| o.uid.to_string()),
                    names
                        .and_then(|n| n.group_name(o.gid))
                        .unwrap_or_else(|| o.gid.to_string()),
                )
            }
            (None, None) => ("?".to_owned(), "?".to_owned()),
        };
        longname(&entry.name, &entry.attrs, &owner, &group, 1, now)
    }

    /// Runs a change by path and audits it.
    async fn change<F>(
        &self,
        id: u32,
        mut event: AuditEvent,
        change: F,
    ) -> Result<Response, FsError>
    where
        F: Future<Output = Result<(), FsError>>,
    {
        let result = change.await;
        event.status = code(&result);
        self.record(event);
        result.map(|()| ok(id))
    }

    async fn remove(&self, id: u32, path: &[u8]) -> Result<Response, FsError> {
        let resolved = self.resolve(path);
        let event = self.event(
            AuditOperation::Remove,
            resolved.clone().unwrap_or_else(|_| path.to_vec()),
        );
        self.change(id, event, async {
            let path = resolved?;
            self.fs.remove(&path).await
        })
        .await
    }

    async fn mkdir(&self, id: u32, path: &[u8], mut attrs: Attrs) -> Result<Response, FsError> {
        // The mode of a new directory: the client's, else 0777, less the umask, as mkdir(2)
        // with the process umask does for OpenSSH.
        let mode = attrs.permissions.unwrap_or(0o777) & 0o7777 & !(self.config.umask & 0o777);
        attrs.permissions = Some(mode);
        let resolved = self.resolve(path);
        let mut event = self.event(
            AuditOperation::Mkdir,
            resolved.clone().unwrap_or_else(|_| path.to_vec()),
        );
        event.attrs = Some(Attrs {
            permissions: Some(mode),
            ..Attrs::default()
        });
        self.change(id, event, async {
            let path = resolved?;
            self.fs.mkdir(&path, &attrs).await
        })
        .await
    }

    async fn rmdir(&self, id: u32, path: &[u8]) -> Result<Response, FsError> {
        let resolved = self.resolve(path);
        let event = self.event(
            AuditOperation::Rmdir,
            resolved.clone().unwrap_or_else(|_| path.to_vec()),
        );
        self.change(id, event, async {
            let path = resolved?;
            self.fs.rmdir(&path).await
        })
        .await
    }

    async fn realpath(&self, id: u32, path: &[u8]) -> Result<Response, FsError> {
        // OpenSSH sftp-server: an empty path is ".", the start directory.
        let path = self.resolve(path)?;
        Ok(one_name(id, self.fs.realpath(&path).await?))
    }

    async fn rename(
        &self,
        id: u32,
        operation: AuditOperation,
        from: &[u8],
        to: &[u8],
    ) -> Result<Response, FsError> {
        let (from, to) = (self.resolve(from), self.resolve(to));
        let mut event = self.event(operation, from.clone().unwrap_or_default());
        event.target = to.clone().ok();
        self.change(id, event, async {
            let (from, to) = (from?, to?);
            if operation == AuditOperation::PosixRename {
                self.fs.posix_rename(&from, &to).await
            } else {
                self.fs.rename(&from, &to).await
            }
        })
        .await
    }

    async fn readlink(&self, id: u32, path: &[u8]) -> Result<Response, FsError> {
        let path = self.resolve(path)?;
        Ok(one_name(id, self.fs.readlink(&path).await?))
    }

    async fn symlink(&self, id: u32, link: &[u8], target: &[u8]) -> Result<Response, FsError> {
        // The target is stored as given (relative targets are relative to the link's
        // directory); only the link's own path is resolved.
        let link = self.resolve(link);
        let mut event = self.event(AuditOperation::Symlink, link.clone().unwrap_or_default());
        event.target = Some(target.to_vec());
        self.change(id, event, async {
            let link = link?;
            if target.contains(&0) {
                return Err(FsError::not_found());
            }
            self.fs.symlink(&link, target).await
        })
        .await
    }

    async fn hardlink(&self, id: u32, old: &[u8], new: &[u8]) -> Result<Response, FsError> {
        let (old, new) = (self.resolve(old), self.resolve(new));
        let mut event = self.event(AuditOperation::Hardlink, old.clone().unwrap_or_default());
        event.target = new.clone().ok();
        self.change(id, event, async {
            let (old, new) = (old?, new?);
            self.fs.hardlink(&old, &new).await
        })
        .await
    }

    /// `copy-data` (OpenSSH PROTOCOL §4.10): reads and writes through the two handles, in
    /// chunks of at most [`ServerConfig::max_read_len`].
    async fn copy_data(
        &self,
        id: u32,
        read_handle: &[u8],
        read_offset: u64,
        read_length: u64,
        write_handle: &[u8],
        write_offset: u64,
    ) -> Result<Response, FsError> {
        let (source, dest) = {
            let table = lock(&self.table);
            (table.file(read_handle)?, table.file(write_handle)?)
        };
        let mut event = self.event(AuditOperation::CopyData, source.path.clone());
        event.target = Some(dest.path.clone());
        let mut copied = 0u64;
        let result = async {
            // OpenSSH PROTOCOL §4.10: "If read-from-handle and write-to-handle are the same,
            // the server will fail the request". OpenSSH's server also refuses two handles on
            // the same path.
            if read_handle == write_handle || source.path == dest.path {
                return Err(FsError::failure("cannot copy a file onto itself"));
            }
            if !readable(source.flags) {
                return Err(FsError::new(
                    StatusCode::PERMISSION_DENIED,
                    "read handle not open for reading",
                ));
            }
            if !dest.flags.contains(OpenFlags::WRITE) {
                return Err(FsError::new(
                    StatusCode::PERMISSION_DENIED,
                    "write handle not open for writing",
                ));
            }
            // OpenSSH PROTOCOL §4.10: "If read-data-length is 0, then the server will read
            // data from the read-from-handle until EOF is reached."
            let to_eof = read_length == 0;
            let mut left = if to_eof {
                u64::MAX - read_offset
            } else {
                read_length
            };
            let (mut from, mut to) = (read_offset, write_offset);
            while left > 0 {
                let chunk = u32::try_from(left)
                    .unwrap_or(u32::MAX)
                    .min(self.max_read_len());
                let mut data = source.file.read_at(from, chunk).await?;
                if data.is_empty() {
                    // Short of the length asked for: EOF, as OpenSSH answers.
                    return if to_eof { Ok(()) } else { Err(eof()) };
                }
                data.truncate(usize::try_from(chunk).unwrap_or(usize::MAX));
                let n = data.len() as u64;
                source.read.fetch_add(n, Ordering::Relaxed);
                dest.file.write_at(to, data).await?;
                dest.written.fetch_add(n, Ordering::Relaxed);
                copied += n;
                from = from.saturating_add(n);
                to = to.saturating_add(n);
                left = left.saturating_sub(n);
            }
            Ok(())
        }
        .await;
        event.bytes_read = Some(copied);
        event.bytes_written = Some(copied);
        event.status = code(&result);
        self.record(event);
        result.map(|()| ok(id))
    }
}
