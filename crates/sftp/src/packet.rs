//! Packet framing (filexfer-02 §3): `uint32 length`, then `length` bytes, type first.
//!
//! ```text
//! uint32             length
//! byte               type
//! byte[length - 1]   data payload
//! ```
//!
//! An SFTP stream is just these packets back to back. [`decode_frame`] finds the next one in a
//! buffer and refuses a length above the caller's limit before anything is allocated for it;
//! the encoders of [`Request`](crate::Request) and [`Response`](crate::Response) append whole
//! length-prefixed packets to a `Vec<u8>`.

use sshwire_wire::{Error, Writer};

use crate::PacketType;

/// Largest `length` accepted by default: 256 KiB for the type byte and everything after it.
///
/// This is OpenSSH's `SFTP_MAX_MSG_LENGTH`, checked against the same field, so a stream
/// OpenSSH accepts is accepted here and the other way round. A whole frame is at most
/// `MAX_PACKET` plus the 4 bytes of the length itself ([`LENGTH_LEN`]).
pub const MAX_PACKET: u32 = 256 * 1024;

/// Largest `READ` length and `WRITE` data we ask for or send by default: [`MAX_PACKET`] less
/// 1 KiB for the fields around the data (255 KiB, OpenSSH's `max-read-length`).
pub const MAX_DATA: u32 = MAX_PACKET - 1024;

/// Bytes of the `uint32 length` in front of every packet.
pub const LENGTH_LEN: usize = 4;

/// What [`decode_frame`] found at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The buffer does not yet hold a whole packet: it must hold at least `needed` bytes.
    ///
    /// Once the length field has arrived, `needed` is exact (`4 + length`, never more than the
    /// limit plus 4); before that it is the size of the smallest packet.
    Incomplete {
        /// Bytes the buffer must hold, counted from its start.
        needed: usize,
    },
    /// A whole packet.
    Complete {
        /// The packet without its length: the type byte and the fields. This is what
        /// [`Request::decode`](crate::Request::decode) and
        /// [`Response::decode`](crate::Response::decode) take.
        payload: &'a [u8],
        /// Bytes of the buffer the packet occupies, length field included; the next packet
        /// starts there.
        consumed: usize,
    },
}

/// Finds the next packet at the front of `buf`, whose `length` may be at most `max_length`.
///
/// Fails when the length is zero (no type byte) or above `max_length` ([`Error::TooLong`]);
/// both are known from the first four bytes, so a reader can drop the stream before it
/// buffers, let alone allocates, a byte of an oversized packet.
pub fn decode_frame(buf: &[u8], max_length: u32) -> Result<Frame<'_>, Error> {
    let Some((len, rest)) = buf.split_first_chunk::<LENGTH_LEN>() else {
        return Ok(Frame::Incomplete {
            needed: LENGTH_LEN + 1,
        });
    };
    let len = u32::from_be_bytes(*len);
    // filexfer-02 §3: "The `length' is the length of the data area, and does not include the
    // `length' field itself." The data area starts with the `byte type`, so it is never empty.
    if len == 0 {
        return Err(Error::Invalid("SFTP packet without a type byte"));
    }
    if len > max_length {
        return Err(Error::TooLong {
            what: "SFTP packet",
            limit: usize::try_from(max_length).unwrap_or(usize::MAX),
            found: usize::try_from(len).unwrap_or(usize::MAX),
        });
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    match rest.get(..len) {
        Some(payload) => Ok(Frame::Complete {
            payload,
            consumed: LENGTH_LEN + len,
        }),
        None => Ok(Frame::Incomplete {
            needed: LENGTH_LEN.saturating_add(len),
        }),
    }
}

/// The request id of a packet payload, if it has one where every packet but `INIT` and
/// `VERSION` has it: right after the type byte.
///
/// A server uses it to answer a request it could not decode with `SSH_FX_BAD_MESSAGE`, or one
/// of a type it does not know with `SSH_FX_OP_UNSUPPORTED`.
pub fn peek_id(payload: &[u8]) -> Option<u32> {
    let (packet_type, fields) = payload.split_first()?;
    id_field(PacketType(*packet_type), fields)
}

/// The `uint32 id` at the front of the fields of a packet of type `packet_type`, if that type
/// has one (all but `INIT` and `VERSION`) and the fields are long enough.
pub(crate) fn id_field(packet_type: PacketType, fields: &[u8]) -> Option<u32> {
    if matches!(packet_type, PacketType::INIT | PacketType::VERSION) {
        return None;
    }
    fields.first_chunk::<4>().map(|id| u32::from_be_bytes(*id))
}

/// Appends one length-prefixed packet whose payload `body` writes.
///
/// The length field is written as a placeholder and patched afterwards, so the payload is
/// written once, straight into `out`.
pub(crate) fn framed(out: &mut Vec<u8>, body: impl FnOnce(&mut Writer)) {
    let start = out.len();
    let mut w = Writer::from_vec(core::mem::take(out));
    w.u32(0);
    body(&mut w);
    *out = w.into_vec();
    let len = out.len().saturating_sub(start + LENGTH_LEN);
    let len = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    if let Some(slot) = out.get_mut(start..start + LENGTH_LEN) {
        slot.copy_from_slice(&len);
    }
}

/// The `u32` that a length-prefixed field of `n` bytes carries (saturating; packets are far
/// smaller).
pub(crate) fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn incomplete_until_the_whole_packet_is_there() {
        let packet = [0, 0, 0, 5, 1, 0, 0, 0, 3];
        for cut in 0..LENGTH_LEN {
            assert_eq!(
                decode_frame(&packet[..cut], MAX_PACKET),
                Ok(Frame::Incomplete { needed: 5 })
            );
        }
        for cut in LENGTH_LEN..packet.len() {
            assert_eq!(
                decode_frame(&packet[..cut], MAX_PACKET),
                Ok(Frame::Incomplete { needed: 9 })
            );
        }
        assert_eq!(
            decode_frame(&packet, MAX_PACKET),
            Ok(Frame::Complete {
                payload: &packet[4..],
                consumed: 9
            })
        );
    }

    #[test]
    fn the_next_packet_is_left_alone() {
        let two = [0, 0, 0, 1, 7, 0, 0, 0, 1, 8];
        let Ok(Frame::Complete { payload, consumed }) = decode_frame(&two, MAX_PACKET) else {
            panic!("first packet");
        };
        assert_eq!((payload, consumed), (&[7u8][..], 5));
        assert_eq!(
            decode_frame(&two[consumed..], MAX_PACKET),
            Ok(Frame::Complete {
                payload: &[8],
                consumed: 5
            })
        );
    }

    #[test]
    fn zero_length_is_refused() {
        assert!(decode_frame(&[0, 0, 0, 0], MAX_PACKET).is_err());
    }

    /// The limit is checked on the four length bytes alone: a reader never learns to wait for
    /// (and buffer) more than the limit.
    #[test]
    fn oversized_length_is_refused_from_the_header_alone() {
        let at_limit = MAX_PACKET.to_be_bytes();
        assert_eq!(
            decode_frame(&at_limit, MAX_PACKET),
            Ok(Frame::Incomplete {
                needed: MAX_PACKET as usize + 4
            })
        );
        for len in [MAX_PACKET + 1, u32::MAX] {
            assert_eq!(
                decode_frame(&len.to_be_bytes(), MAX_PACKET),
                Err(Error::TooLong {
                    what: "SFTP packet",
                    limit: MAX_PACKET as usize,
                    found: len as usize
                })
            );
        }
        // A smaller, configured limit.
        assert!(decode_frame(&[0, 0, 0x10, 1], 4096).is_err());
        assert!(decode_frame(&[0, 0, 0x10, 0], 4096).is_ok());
    }

    #[test]
    fn framed_writes_the_length() {
        let mut out = vec![0xaa];
        framed(&mut out, |w| {
            w.u8(1).u32(3);
        });
        assert_eq!(out, [0xaa, 0, 0, 0, 5, 1, 0, 0, 0, 3]);
    }

    #[test]
    fn peek_id_skips_init_and_version() {
        assert_eq!(peek_id(&[3, 0, 0, 1, 2, 9]), Some(0x102));
        assert_eq!(peek_id(&[250, 0, 0, 0, 9]), Some(9));
        assert_eq!(peek_id(&[1, 0, 0, 0, 3]), None);
        assert_eq!(peek_id(&[2, 0, 0, 0, 3]), None);
        assert_eq!(peek_id(&[3, 0, 0, 1]), None);
        assert_eq!(peek_id(&[]), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_frame_consistently(
            buf in proptest::collection::vec(any::<u8>(), 0..64),
            max in 0u32..80,
        ) {
            match decode_frame(&buf, max) {
                Ok(Frame::Complete { payload, consumed }) => {
                    prop_assert!(consumed <= buf.len());
                    prop_assert_eq!(payload.len() + LENGTH_LEN, consumed);
                    prop_assert!(!payload.is_empty() && payload.len() <= max as usize);
                    prop_assert_eq!(&buf[LENGTH_LEN..consumed], payload);
                }
                Ok(Frame::Incomplete { needed }) => {
                    prop_assert!(needed > buf.len());
                    prop_assert!(needed <= max as usize + LENGTH_LEN || buf.len() < LENGTH_LEN);
                }
                Err(_) => {}
            }
        }
    }
}
