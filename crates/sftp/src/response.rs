//! Responses, server to client (filexfer-02 §4 and §7, and §8 for `SSH_FXP_EXTENDED_REPLY`).
//!
//! Every response but `SSH_FXP_VERSION` starts with the `uint32 id` of the request it answers.

use sshwire_wire::{Error, Reader, Writer};

use crate::fields::{decode_handle, extension_pairs};
use crate::packet::{framed, id_field, len32};
use crate::{Attrs, Block, ExtensionPair, PacketType, StatusCode};

/// One entry of an `SSH_FXP_NAME` response (filexfer-02 §7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NameEntry {
    /// `string filename`: a name in a directory listing, or the whole path for `REALPATH` and
    /// `READLINK`.
    pub filename: Vec<u8>,
    /// `string longname`: an `ls -l` style line for display; clients must not parse it.
    pub longname: Vec<u8>,
    /// `ATTRS attrs`.
    pub attrs: Attrs,
}

/// A response from server to client: a whole packet, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Response {
    /// `SSH_FXP_VERSION` (filexfer-02 §4): the version the session speaks and the server's
    /// extensions.
    Version {
        /// `uint32 version`.
        version: u32,
        /// `string extension_name`, `string extension_data` pairs; OpenSSH puts each
        /// extension's version, as ASCII digits, in the data.
        extensions: Vec<ExtensionPair>,
    },
    /// `SSH_FXP_STATUS` (filexfer-02 §7): the outcome of a request that returns no data.
    Status {
        /// `uint32 id`.
        id: u32,
        /// `uint32 error/status code`.
        code: StatusCode,
        /// `string error message`, UTF-8.
        message: String,
        /// `string language tag` (RFC 1766), usually empty.
        language: String,
    },
    /// `SSH_FXP_HANDLE` (filexfer-02 §7): a handle for an open file or directory.
    Handle {
        /// `uint32 id`.
        id: u32,
        /// `string handle`, at most [`MAX_HANDLE_LEN`](crate::MAX_HANDLE_LEN) bytes.
        handle: Vec<u8>,
    },
    /// `SSH_FXP_DATA` (filexfer-02 §7): the bytes a `READ` returned.
    Data {
        /// `uint32 id`.
        id: u32,
        /// `string data`, perhaps with room in front (see [`Block`]).
        data: Block,
    },
    /// `SSH_FXP_NAME` (filexfer-02 §7): directory entries, or the one name of `REALPATH`
    /// and `READLINK`.
    Name {
        /// `uint32 id`.
        id: u32,
        /// `uint32 count` entries.
        entries: Vec<NameEntry>,
    },
    /// `SSH_FXP_ATTRS` (filexfer-02 §7): the attributes `STAT`, `LSTAT` or `FSTAT` returned.
    Attrs {
        /// `uint32 id`.
        id: u32,
        /// `ATTRS attrs`.
        attrs: Attrs,
    },
    /// `SSH_FXP_EXTENDED_REPLY` (filexfer-02 §8): the answer to an extended request.
    ///
    /// Its layout depends on the request, so it is kept as bytes; [`StatvfsReply`],
    /// [`LimitsReply`] and [`UsersGroupsReply`] decode the known ones.
    ///
    /// [`StatvfsReply`]: crate::StatvfsReply
    /// [`LimitsReply`]: crate::LimitsReply
    /// [`UsersGroupsReply`]: crate::UsersGroupsReply
    ExtendedReply {
        /// `uint32 id`.
        id: u32,
        /// The reply-specific data.
        data: Vec<u8>,
    },
    /// A packet whose type is not a response of protocol version 3, kept as bytes.
    ///
    /// Decoding produces this only for types that are not responses
    /// ([`PacketType::is_response`]).
    Unknown {
        /// `byte type`.
        packet_type: PacketType,
        /// Everything after the type byte.
        data: Vec<u8>,
    },
}

/// Bytes of a `DATA` packet before its data: length, type, id and the data's length.
pub const DATA_HEADER_LEN: usize = 4 + 1 + 4 + 4;

/// The fields of a `DATA` reply that come before its data, decoded from the start of a frame
/// whose data has not all arrived: for a client that reads the data straight into a buffer of
/// its own instead of copying it out of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    /// The id of the READ it answers.
    pub id: u32,
    /// How many bytes of data follow ([`DATA_HEADER_LEN`] bytes into the frame).
    pub data_len: usize,
}

impl DataHeader {
    /// Decodes the header of the frame at the start of `frame` (length field included).
    ///
    /// `None` unless it is a `DATA` whose header is all there and whose `length` is at most
    /// `max_packet` and counts exactly the header and the data (filexfer-02 §7: "uint32 id,
    /// string data", nothing after): anything else is left to [`crate::decode_frame`] and
    /// [`Response::decode`], which accept or refuse it whole.
    pub fn decode(frame: &[u8], max_packet: u32) -> Option<DataHeader> {
        let mut r = Reader::new(frame);
        let length = r.u32().ok()?;
        if length > max_packet || PacketType(r.u8().ok()?) != PacketType::DATA {
            return None;
        }
        let id = r.u32().ok()?;
        let data_len = usize::try_from(r.u32().ok()?).ok()?;
        let counted = (DATA_HEADER_LEN - 4).checked_add(data_len)?;
        (counted == usize::try_from(length).ok()?).then_some(DataHeader { id, data_len })
    }
}

/// Bytes of the smallest `NAME` entry: two empty strings and an empty `ATTRS`.
const MIN_NAME_ENTRY: usize = 4 + 4 + 4;

impl Response {
    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Response::Version { .. } => PacketType::VERSION,
            Response::Status { .. } => PacketType::STATUS,
            Response::Handle { .. } => PacketType::HANDLE,
            Response::Data { .. } => PacketType::DATA,
            Response::Name { .. } => PacketType::NAME,
            Response::Attrs { .. } => PacketType::ATTRS,
            Response::ExtendedReply { .. } => PacketType::EXTENDED_REPLY,
            Response::Unknown { packet_type, .. } => *packet_type,
        }
    }

    /// The id of the request this answers, if the packet has one.
    ///
    /// `VERSION` has none; an unknown packet has the four bytes after its type, if there are four
    /// and the type is not `INIT` or `VERSION`, as [`peek_id`](crate::peek_id) reads them.
    pub fn id(&self) -> Option<u32> {
        match self {
            Response::Version { .. } => None,
            Response::Status { id, .. }
            | Response::Handle { id, .. }
            | Response::Data { id, .. }
            | Response::Name { id, .. }
            | Response::Attrs { id, .. }
            | Response::ExtendedReply { id, .. } => Some(*id),
            Response::Unknown { packet_type, data } => id_field(*packet_type, data),
        }
    }

    /// A `STATUS` with the code's standard English message and no language tag.
    pub fn status(id: u32, code: StatusCode) -> Response {
        Response::Status {
            id,
            code,
            message: code.message().unwrap_or("").to_owned(),
            language: String::new(),
        }
    }

    /// Appends the whole packet, length first.
    ///
    /// Nothing is checked against a packet limit: the caller sizes `DATA` and `NAME` (see
    /// [`MAX_DATA`](crate::MAX_DATA)).
    pub fn encode(&self, out: &mut Vec<u8>) {
        framed(out, |w| self.encode_payload(w));
    }

    /// Appends the header of a `DATA` packet whose `data_len` bytes of data the caller appends
    /// next ([`DATA_HEADER_LEN`] bytes), so that file data is copied once, straight into the
    /// output.
    ///
    /// The result is the same as [`Response::encode`] of a `Data` with that data.
    pub fn encode_data_header(id: u32, data_len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&Response::data_header(id, data_len));
    }

    /// The header of a `DATA` packet with `data_len` bytes of data, as
    /// [`Response::encode_data_header`] appends it: for a sender that writes it into the room
    /// in front of a [`Block`].
    pub fn data_header(id: u32, data_len: usize) -> [u8; DATA_HEADER_LEN] {
        // uint32 length, byte type, uint32 id, uint32 data length.
        let [l0, l1, l2, l3] = len32((DATA_HEADER_LEN - 4).saturating_add(data_len)).to_be_bytes();
        let [i0, i1, i2, i3] = id.to_be_bytes();
        let [d0, d1, d2, d3] = len32(data_len).to_be_bytes();
        [
            l0,
            l1,
            l2,
            l3,
            PacketType::DATA.0,
            i0,
            i1,
            i2,
            i3,
            d0,
            d1,
            d2,
            d3,
        ]
    }

    /// Appends the payload: the type byte and the fields.
    fn encode_payload(&self, w: &mut Writer) {
        w.u8(self.packet_type().0);
        match self {
            Response::Version {
                version,
                extensions,
            } => {
                w.u32(*version);
                for (name, data) in extensions {
                    w.string(name).string(data);
                }
            }
            Response::Status {
                id,
                code,
                message,
                language,
            } => {
                w.u32(*id)
                    .u32(code.0)
                    .string(message.as_bytes())
                    .string(language.as_bytes());
            }
            Response::Handle { id, handle } => {
                w.u32(*id).string(handle);
            }
            Response::Data { id, data } => {
                w.u32(*id).string(data);
            }
            Response::Name { id, entries } => {
                w.u32(*id).u32(len32(entries.len()));
                for e in entries {
                    w.string(&e.filename).string(&e.longname);
                    e.attrs.encode(w);
                }
            }
            Response::Attrs { id, attrs } => {
                w.u32(*id);
                attrs.encode(w);
            }
            Response::ExtendedReply { id, data } => {
                w.u32(*id).raw(data);
            }
            Response::Unknown { data, .. } => {
                w.raw(data);
            }
        }
    }

    /// Decodes a packet payload (type byte first, no length: [`Frame::Complete`]'s `payload`).
    ///
    /// Fails on truncation, on a handle longer than [`MAX_HANDLE_LEN`](crate::MAX_HANDLE_LEN),
    /// on a status message or language tag that is not UTF-8, on malformed attributes, on a
    /// `NAME` count the packet cannot hold, and on bytes left after the last field.
    ///
    /// [`Frame::Complete`]: crate::Frame::Complete
    pub fn decode(payload: &[u8]) -> Result<Response, Error> {
        let mut r = Reader::new(payload);
        let packet_type = PacketType(r.u8()?);
        let response = match packet_type {
            PacketType::VERSION => Response::Version {
                version: r.u32()?,
                extensions: extension_pairs(&mut r)?,
            },
            // filexfer-02 §7: uint32 id, uint32 error/status code, string error message
            // "in ISO-10646 UTF-8 [RFC-2279]", string language tag.
            PacketType::STATUS => Response::Status {
                id: r.u32()?,
                code: StatusCode(r.u32()?),
                message: r.utf8()?.to_owned(),
                language: r.utf8()?.to_owned(),
            },
            // filexfer-02 §7: uint32 id, string handle.
            PacketType::HANDLE => Response::Handle {
                id: r.u32()?,
                handle: decode_handle(&mut r)?,
            },
            // filexfer-02 §7: uint32 id, string data.
            PacketType::DATA => Response::Data {
                id: r.u32()?,
                data: r.string()?.into(),
            },
            // filexfer-02 §7: uint32 id, uint32 count, then count times string filename,
            // string longname, ATTRS attrs.
            PacketType::NAME => Response::Name {
                id: r.u32()?,
                entries: name_entries(&mut r)?,
            },
            // filexfer-02 §7: uint32 id, ATTRS attrs.
            PacketType::ATTRS => Response::Attrs {
                id: r.u32()?,
                attrs: Attrs::decode(&mut r)?,
            },
            // filexfer-02 §8: uint32 id, any request-specific data.
            PacketType::EXTENDED_REPLY => Response::ExtendedReply {
                id: r.u32()?,
                data: r.rest().to_vec(),
            },
            _ => Response::Unknown {
                packet_type,
                data: r.rest().to_vec(),
            },
        };
        r.finish()?;
        Ok(response)
    }
}

/// Reads `uint32 count` and that many `NAME` entries.
fn name_entries(r: &mut Reader<'_>) -> Result<Vec<NameEntry>, Error> {
    let count = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
    // The count is the peer's: before reserving anything, check that the bytes left could
    // hold that many entries at all.
    if count > r.remaining() / MIN_NAME_ENTRY {
        return Err(Error::Truncated {
            needed: count.saturating_mul(MIN_NAME_ENTRY),
            available: r.remaining(),
        });
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        entries.push(NameEntry {
            filename: r.string()?.to_vec(),
            longname: r.string()?.to_vec(),
            attrs: Attrs::decode(r)?,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests;
