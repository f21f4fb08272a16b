//! Requests, client to server (filexfer-02 §4 and §6, and §8 for `SSH_FXP_EXTENDED`).
//!
//! Every request but `SSH_FXP_INIT` starts with `uint32 id`, which the server echoes in its
//! response. Paths, handles and data are bytes as they are on the wire: filexfer-02 §6.2 gives
//! file names no encoding that a server could rely on, and decoding them lossily would change
//! the file a request names.

use sshwire_wire::{Error, Reader, Writer};

use crate::extensions::ExtendedRequest;
use crate::fields::{decode_handle, extension_pairs};
use crate::packet::{framed, id_field, len32};
use crate::{Attrs, Block, ExtensionPair, OpenFlags, PacketType};

/// The order of the two paths of `SSH_FXP_SYMLINK` on the wire.
///
/// filexfer-02 §6.10 sends `string linkpath` then `string targetpath`. OpenSSH's
/// `sftp-server` was written with the two swapped, and kept them so once deployed (OpenSSH
/// `PROTOCOL` §4.1): its clients send `targetpath` first. Every server in practice follows
/// OpenSSH, so that is the default; [`SymlinkOrder::Draft`] is for a peer known to follow the
/// draft.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SymlinkOrder {
    /// `string targetpath`, `string linkpath`: what OpenSSH sends and expects.
    #[default]
    OpenSsh,
    /// `string linkpath`, `string targetpath`: the order of filexfer-02 §6.10.
    Draft,
}

/// A request from client to server: a whole packet, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Request {
    /// `SSH_FXP_INIT` (filexfer-02 §4): the client's version and extensions.
    Init {
        /// `uint32 version`: the highest version the client speaks.
        version: u32,
        /// `string extension_name`, `string extension_data` pairs.
        extensions: Vec<ExtensionPair>,
    },
    /// `SSH_FXP_OPEN` (filexfer-02 §6.3): open or create a file, answered with a handle.
    Open {
        /// `uint32 id`.
        id: u32,
        /// `string filename`.
        path: Vec<u8>,
        /// `uint32 pflags`.
        flags: OpenFlags,
        /// `ATTRS attrs`: initial attributes of a file that is created.
        attrs: Attrs,
    },
    /// `SSH_FXP_CLOSE` (filexfer-02 §6.3): close a file or directory handle.
    Close {
        /// `uint32 id`.
        id: u32,
        /// `string handle`.
        handle: Vec<u8>,
    },
    /// `SSH_FXP_READ` (filexfer-02 §6.4): read up to `len` bytes at `offset`.
    Read {
        /// `uint32 id`.
        id: u32,
        /// `string handle`.
        handle: Vec<u8>,
        /// `uint64 offset`.
        offset: u64,
        /// `uint32 len`.
        len: u32,
    },
    /// `SSH_FXP_WRITE` (filexfer-02 §6.4): write `data` at `offset`.
    Write {
        /// `uint32 id`.
        id: u32,
        /// `string handle`.
        handle: Vec<u8>,
        /// `uint64 offset`.
        offset: u64,
        /// `string data`, perhaps with room in front (see [`Block`]).
        data: Block,
    },
    /// `SSH_FXP_LSTAT` (filexfer-02 §6.8): attributes, not following a final symbolic link.
    Lstat {
        /// `uint32 id`.
        id: u32,
        /// `string path`.
        path: Vec<u8>,
    },
    /// `SSH_FXP_FSTAT` (filexfer-02 §6.8): attributes of an open file.
    Fstat {
        /// `uint32 id`.
        id: u32,
        /// `string handle`.
        handle: Vec<u8>,
    },
    /// `SSH_FXP_SETSTAT` (filexfer-02 §6.9): change the attributes of a path.
    Setstat {
        /// `uint32 id`.
        id: u32,
        /// `string path`.
        path: Vec<u8>,
        /// `ATTRS attrs`: only the fields present are changed.
        attrs: Attrs,
    },
    /// `SSH_FXP_FSETSTAT` (filexfer-02 §6.9): change the attributes of an open file.
    Fsetstat {
        /// `uint32 id`.
        id: u32,
        /// `string handle`.
        handle: Vec<u8>,
        /// `ATTRS attrs`: only the fields present are changed.
        attrs: Attrs,
    },
    /// `SSH_FXP_OPENDIR` (filexfer-02 §6.7): open a directory for reading.
    Opendir {
        /// `uint32 id`.
        id: u32,
        /// `string path`.
        path: Vec<u8>,
    },
    /// `SSH_FXP_READDIR` (filexfer-02 §6.7): the next entries of an open directory.
    Readdir {
        /// `uint32 id`.
        id: u32,
        /// `string handle`.
        handle: Vec<u8>,
    },
    /// `SSH_FXP_REMOVE` (filexfer-02 §6.5): remove a file.
    Remove {
        /// `uint32 id`.
        id: u32,
        /// `string filename`.
        path: Vec<u8>,
    },
    /// `SSH_FXP_MKDIR` (filexfer-02 §6.6): create a directory.
    Mkdir {
        /// `uint32 id`.
        id: u32,
        /// `string path`.
        path: Vec<u8>,
        /// `ATTRS attrs`: attributes of the new directory.
        attrs: Attrs,
    },
    /// `SSH_FXP_RMDIR` (filexfer-02 §6.6): remove a directory.
    Rmdir {
        /// `uint32 id`.
        id: u32,
        /// `string path`.
        path: Vec<u8>,
    },
    /// `SSH_FXP_REALPATH` (filexfer-02 §6.11): canonicalise a path, answered with one name.
    Realpath {
        /// `uint32 id`.
        id: u32,
        /// `string path`.
        path: Vec<u8>,
    },
    /// `SSH_FXP_STAT` (filexfer-02 §6.8): attributes, following symbolic links.
    Stat {
        /// `uint32 id`.
        id: u32,
        /// `string path`.
        path: Vec<u8>,
    },
    /// `SSH_FXP_RENAME` (filexfer-02 §6.5): rename a file; fails if `new_path` exists.
    Rename {
        /// `uint32 id`.
        id: u32,
        /// `string oldpath`.
        old_path: Vec<u8>,
        /// `string newpath`.
        new_path: Vec<u8>,
    },
    /// `SSH_FXP_READLINK` (filexfer-02 §6.10): the target of a symbolic link.
    Readlink {
        /// `uint32 id`.
        id: u32,
        /// `string path`.
        path: Vec<u8>,
    },
    /// `SSH_FXP_SYMLINK` (filexfer-02 §6.10): create a symbolic link at `link_path` that
    /// points to `target_path`. The two go on the wire in the order of a [`SymlinkOrder`].
    Symlink {
        /// `uint32 id`.
        id: u32,
        /// `string linkpath`: the symbolic link to create.
        link_path: Vec<u8>,
        /// `string targetpath`: what it points to.
        target_path: Vec<u8>,
    },
    /// `SSH_FXP_EXTENDED` (filexfer-02 §8): a vendor request.
    Extended {
        /// `uint32 id`.
        id: u32,
        /// `string extended-request` and its data.
        request: ExtendedRequest,
    },
    /// A packet whose type is not a request of protocol version 3, kept as bytes.
    ///
    /// A server answers it with `SSH_FX_OP_UNSUPPORTED` if it carries an id ([`Request::id`]).
    /// Decoding produces this only for types that are not requests
    /// ([`PacketType::is_request`]).
    Unknown {
        /// `byte type`.
        packet_type: PacketType,
        /// Everything after the type byte.
        data: Vec<u8>,
    },
}

impl Request {
    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Request::Init { .. } => PacketType::INIT,
            Request::Open { .. } => PacketType::OPEN,
            Request::Close { .. } => PacketType::CLOSE,
            Request::Read { .. } => PacketType::READ,
            Request::Write { .. } => PacketType::WRITE,
            Request::Lstat { .. } => PacketType::LSTAT,
            Request::Fstat { .. } => PacketType::FSTAT,
            Request::Setstat { .. } => PacketType::SETSTAT,
            Request::Fsetstat { .. } => PacketType::FSETSTAT,
            Request::Opendir { .. } => PacketType::OPENDIR,
            Request::Readdir { .. } => PacketType::READDIR,
            Request::Remove { .. } => PacketType::REMOVE,
            Request::Mkdir { .. } => PacketType::MKDIR,
            Request::Rmdir { .. } => PacketType::RMDIR,
            Request::Realpath { .. } => PacketType::REALPATH,
            Request::Stat { .. } => PacketType::STAT,
            Request::Rename { .. } => PacketType::RENAME,
            Request::Readlink { .. } => PacketType::READLINK,
            Request::Symlink { .. } => PacketType::SYMLINK,
            Request::Extended { .. } => PacketType::EXTENDED,
            Request::Unknown { packet_type, .. } => *packet_type,
        }
    }

    /// The request id, if the packet has one.
    ///
    /// `INIT` has none; an unknown packet has the four bytes after its type, if there are four
    /// and the type is not `INIT` or `VERSION`, as [`peek_id`](crate::peek_id) reads them.
    pub fn id(&self) -> Option<u32> {
        match self {
            Request::Init { .. } => None,
            Request::Open { id, .. }
            | Request::Close { id, .. }
            | Request::Read { id, .. }
            | Request::Write { id, .. }
            | Request::Lstat { id, .. }
            | Request::Fstat { id, .. }
            | Request::Setstat { id, .. }
            | Request::Fsetstat { id, .. }
            | Request::Opendir { id, .. }
            | Request::Readdir { id, .. }
            | Request::Remove { id, .. }
            | Request::Mkdir { id, .. }
            | Request::Rmdir { id, .. }
            | Request::Realpath { id, .. }
            | Request::Stat { id, .. }
            | Request::Rename { id, .. }
            | Request::Readlink { id, .. }
            | Request::Symlink { id, .. }
            | Request::Extended { id, .. } => Some(*id),
            Request::Unknown { packet_type, data } => id_field(*packet_type, data),
        }
    }

    /// Appends the whole packet, length first, with `SYMLINK` in OpenSSH's order.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with(SymlinkOrder::default(), out);
    }

    /// Appends the whole packet, length first, with `SYMLINK` in the given order.
    ///
    /// Nothing is checked against a packet limit: the caller sizes `WRITE` data (see
    /// [`MAX_DATA`](crate::MAX_DATA)).
    pub fn encode_with(&self, order: SymlinkOrder, out: &mut Vec<u8>) {
        framed(out, |w| self.encode_payload(order, w));
    }

    /// Bytes [`Request::encode_write_header`] appends for a handle of `handle_len` bytes:
    /// `uint32` length, type, `uint32 id`, `string handle`, `uint64 offset`, `uint32` data
    /// length.
    pub const fn write_header_len(handle_len: usize) -> usize {
        (4 + 1 + 4 + 4 + 8 + 4usize).saturating_add(handle_len)
    }

    /// Appends the header of a `WRITE` packet whose `data_len` bytes of data the caller
    /// appends next, so that file data is copied once, straight into the output.
    ///
    /// The result is the same as [`Request::encode`] of a `Write` with that data.
    pub fn encode_write_header(
        id: u32,
        handle: &[u8],
        offset: u64,
        data_len: usize,
        out: &mut Vec<u8>,
    ) {
        // length, type, id, handle, offset, data length.
        let fields = Self::write_header_len(handle.len()) - 4;
        let mut w = Writer::from_vec(core::mem::take(out));
        w.u32(len32(fields.saturating_add(data_len)))
            .u8(PacketType::WRITE.0)
            .u32(id)
            .string(handle)
            .u64(offset)
            .u32(len32(data_len));
        *out = w.into_vec();
    }

    /// Appends the payload: the type byte and the fields.
    fn encode_payload(&self, order: SymlinkOrder, w: &mut Writer) {
        w.u8(self.packet_type().0);
        match self {
            Request::Init {
                version,
                extensions,
            } => {
                w.u32(*version);
                for (name, data) in extensions {
                    w.string(name).string(data);
                }
            }
            Request::Open {
                id,
                path,
                flags,
                attrs,
            } => {
                w.u32(*id).string(path).u32(flags.bits());
                attrs.encode(w);
            }
            Request::Close { id, handle }
            | Request::Fstat { id, handle }
            | Request::Readdir { id, handle } => {
                w.u32(*id).string(handle);
            }
            Request::Read {
                id,
                handle,
                offset,
                len,
            } => {
                w.u32(*id).string(handle).u64(*offset).u32(*len);
            }
            Request::Write {
                id,
                handle,
                offset,
                data,
            } => {
                w.u32(*id).string(handle).u64(*offset).string(data);
            }
            Request::Lstat { id, path }
            | Request::Opendir { id, path }
            | Request::Remove { id, path }
            | Request::Rmdir { id, path }
            | Request::Realpath { id, path }
            | Request::Stat { id, path }
            | Request::Readlink { id, path } => {
                w.u32(*id).string(path);
            }
            Request::Setstat { id, path, attrs } | Request::Mkdir { id, path, attrs } => {
                w.u32(*id).string(path);
                attrs.encode(w);
            }
            Request::Fsetstat { id, handle, attrs } => {
                w.u32(*id).string(handle);
                attrs.encode(w);
            }
            Request::Rename {
                id,
                old_path,
                new_path,
            } => {
                w.u32(*id).string(old_path).string(new_path);
            }
            Request::Symlink {
                id,
                link_path,
                target_path,
            } => {
                w.u32(*id);
                match order {
                    SymlinkOrder::OpenSsh => w.string(target_path).string(link_path),
                    SymlinkOrder::Draft => w.string(link_path).string(target_path),
                };
            }
            Request::Extended { id, request } => {
                w.u32(*id);
                request.encode(w);
            }
            Request::Unknown { data, .. } => {
                w.raw(data);
            }
        }
    }

    /// Decodes a packet payload (type byte first, no length: [`Frame::Complete`]'s `payload`),
    /// reading `SYMLINK` in OpenSSH's order.
    ///
    /// [`Frame::Complete`]: crate::Frame::Complete
    pub fn decode(payload: &[u8]) -> Result<Request, Error> {
        Self::decode_with(payload, SymlinkOrder::default())
    }

    /// Decodes a packet payload, reading `SYMLINK` in the given order.
    ///
    /// Fails on truncation, on a handle longer than [`MAX_HANDLE_LEN`](crate::MAX_HANDLE_LEN),
    /// on malformed attributes or extension data, and on bytes left after the last field.
    pub fn decode_with(payload: &[u8], order: SymlinkOrder) -> Result<Request, Error> {
        let mut r = Reader::new(payload);
        let packet_type = PacketType(r.u8()?);
        let bytes = |s: &[u8]| s.to_vec();
        let request = match packet_type {
            PacketType::INIT => Request::Init {
                version: r.u32()?,
                extensions: extension_pairs(&mut r)?,
            },
            // filexfer-02 §6.3: uint32 id, string filename, uint32 pflags, ATTRS attrs.
            PacketType::OPEN => Request::Open {
                id: r.u32()?,
                path: bytes(r.string()?),
                flags: OpenFlags(r.u32()?),
                attrs: Attrs::decode(&mut r)?,
            },
            // filexfer-02 §6.3: uint32 id, string handle.
            PacketType::CLOSE => Request::Close {
                id: r.u32()?,
                handle: decode_handle(&mut r)?,
            },
            // filexfer-02 §6.4: uint32 id, string handle, uint64 offset, uint32 len.
            PacketType::READ => Request::Read {
                id: r.u32()?,
                handle: decode_handle(&mut r)?,
                offset: r.u64()?,
                len: r.u32()?,
            },
            // filexfer-02 §6.4: uint32 id, string handle, uint64 offset, string data.
            PacketType::WRITE => Request::Write {
                id: r.u32()?,
                handle: decode_handle(&mut r)?,
                offset: r.u64()?,
                data: bytes(r.string()?).into(),
            },
            // filexfer-02 §6.8: uint32 id, string path.
            PacketType::LSTAT => Request::Lstat {
                id: r.u32()?,
                path: bytes(r.string()?),
            },
            // filexfer-02 §6.8: uint32 id, string handle.
            PacketType::FSTAT => Request::Fstat {
                id: r.u32()?,
                handle: decode_handle(&mut r)?,
            },
            // filexfer-02 §6.9: uint32 id, string path, ATTRS attrs.
            PacketType::SETSTAT => Request::Setstat {
                id: r.u32()?,
                path: bytes(r.string()?),
                attrs: Attrs::decode(&mut r)?,
            },
            // filexfer-02 §6.9: uint32 id, string handle, ATTRS attrs.
            PacketType::FSETSTAT => Request::Fsetstat {
                id: r.u32()?,
                handle: decode_handle(&mut r)?,
                attrs: Attrs::decode(&mut r)?,
            },
            // filexfer-02 §6.7: uint32 id, string path.
            PacketType::OPENDIR => Request::Opendir {
                id: r.u32()?,
                path: bytes(r.string()?),
            },
            // filexfer-02 §6.7: uint32 id, string handle.
            PacketType::READDIR => Request::Readdir {
                id: r.u32()?,
                handle: decode_handle(&mut r)?,
            },
            // filexfer-02 §6.5: uint32 id, string filename.
            PacketType::REMOVE => Request::Remove {
                id: r.u32()?,
                path: bytes(r.string()?),
            },
            // filexfer-02 §6.6: uint32 id, string path, ATTRS attrs.
            PacketType::MKDIR => Request::Mkdir {
                id: r.u32()?,
                path: bytes(r.string()?),
                attrs: Attrs::decode(&mut r)?,
            },
            // filexfer-02 §6.6: uint32 id, string path.
            PacketType::RMDIR => Request::Rmdir {
                id: r.u32()?,
                path: bytes(r.string()?),
            },
            // filexfer-02 §6.11: uint32 id, string path.
            PacketType::REALPATH => Request::Realpath {
                id: r.u32()?,
                path: bytes(r.string()?),
            },
            // filexfer-02 §6.8: uint32 id, string path.
            PacketType::STAT => Request::Stat {
                id: r.u32()?,
                path: bytes(r.string()?),
            },
            // filexfer-02 §6.5: uint32 id, string oldpath, string newpath.
            PacketType::RENAME => Request::Rename {
                id: r.u32()?,
                old_path: bytes(r.string()?),
                new_path: bytes(r.string()?),
            },
            // filexfer-02 §6.10: uint32 id, string path.
            PacketType::READLINK => Request::Readlink {
                id: r.u32()?,
                path: bytes(r.string()?),
            },
            // filexfer-02 §6.10: uint32 id, string linkpath, string targetpath; OpenSSH
            // PROTOCOL §4.1: "clients should send SSH_FXP_SYMLINK as follows: uint32 id,
            // string targetpath, string linkpath".
            PacketType::SYMLINK => {
                let id = r.u32()?;
                let first = bytes(r.string()?);
                let second = bytes(r.string()?);
                let (link_path, target_path) = match order {
                    SymlinkOrder::OpenSsh => (second, first),
                    SymlinkOrder::Draft => (first, second),
                };
                Request::Symlink {
                    id,
                    link_path,
                    target_path,
                }
            }
            // filexfer-02 §8: uint32 id, string extended-request, any request-specific data.
            PacketType::EXTENDED => Request::Extended {
                id: r.u32()?,
                request: ExtendedRequest::decode(&mut r)?,
            },
            _ => Request::Unknown {
                packet_type,
                data: bytes(r.rest()),
            },
        };
        r.finish()?;
        Ok(request)
    }
}

/// The fields of a `WRITE` that come before its data, decoded from the start of a frame whose
/// data has not all arrived: for a server that reads the data straight into a buffer of its
/// own instead of copying it out of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteHeader {
    /// The request id.
    pub id: u32,
    /// The file handle.
    pub handle: Vec<u8>,
    /// Where the data goes in the file.
    pub offset: u64,
    /// How many bytes of data follow.
    pub data_len: usize,
    /// Bytes of the frame before the data, its length field included.
    pub header_len: usize,
}

impl WriteHeader {
    /// Decodes the header of the frame at the start of `frame` (length field included).
    ///
    /// `None` unless it is a `WRITE` whose fields are all there, whose `length` is at most
    /// `max_packet` and counts exactly those fields and the data: anything else is left to
    /// [`crate::decode_frame`] and [`Request::decode`], which accept or refuse it whole.
    pub fn decode(frame: &[u8], max_packet: u32) -> Option<WriteHeader> {
        let mut r = Reader::new(frame);
        let length = r.u32().ok()?;
        if length > max_packet || PacketType(r.u8().ok()?) != PacketType::WRITE {
            return None;
        }
        // filexfer-02 §6.4: uint32 id, string handle, uint64 offset, string data.
        let id = r.u32().ok()?;
        let handle = decode_handle(&mut r).ok()?;
        let offset = r.u64().ok()?;
        let data_len = usize::try_from(r.u32().ok()?).ok()?;
        let header_len = frame.len() - r.remaining();
        let counted = (header_len - 4).checked_add(data_len)?;
        (counted == usize::try_from(length).ok()?).then_some(WriteHeader {
            id,
            handle,
            offset,
            data_len,
            header_len,
        })
    }

    /// The request, with its data.
    pub fn into_request(self, data: impl Into<Block>) -> Request {
        Request::Write {
            id: self.id,
            handle: self.handle,
            offset: self.offset,
            data: data.into(),
        }
    }
}

#[cfg(test)]
mod tests;
