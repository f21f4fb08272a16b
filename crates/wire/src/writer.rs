//! An encoder for RFC 4251 §5 data types.

/// Appends RFC 4251 §5 values to a byte vector.
///
/// The methods return `&mut Self` so that a message can be written as one chain. The vector
/// can be taken back with [`Writer::into_vec`] and handed in again with [`Writer::from_vec`],
/// so a hot path need not allocate per message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    /// A writer that appends to `buf`.
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Writer { buf }
    }

    /// The bytes written so far.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far, borrowed.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// How many bytes have been written.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Raw bytes, without a length.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// RFC 4251 §5 `byte`.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// RFC 4251 §5 `boolean`: "applications MUST NOT store values other than 0 and 1".
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    /// RFC 4251 §5 `uint32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_be_bytes())
    }

    /// RFC 4251 §5 `uint64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.raw(&v.to_be_bytes())
    }

    /// RFC 4251 §5 `string`.
    ///
    /// Strings longer than `u32::MAX` bytes cannot be expressed; SSH messages are bounded far
    /// below that, so the length saturates (and the peer will refuse the message) rather than
    /// wrapping.
    pub fn string(&mut self, bytes: &[u8]) -> &mut Self {
        self.u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        self.raw(bytes)
    }

    /// RFC 4251 §5 `name-list` from names that the caller guarantees are valid.
    pub fn name_list<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) -> &mut Self {
        let len_at = self.buf.len();
        self.u32(0);
        for (i, name) in names.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.buf.extend_from_slice(name.as_bytes());
        }
        let len = self.buf.len() - len_at - 4;
        let len = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
        if let Some(slot) = self.buf.get_mut(len_at..len_at + 4) {
            slot.copy_from_slice(&len);
        }
        self
    }

    /// A non-negative RFC 4251 §5 `mpint` from its big-endian magnitude.
    ///
    /// Leading zero bytes are stripped, and a zero byte is prepended when the top bit is set, as
    /// RFC 4251 §5 requires: "If the most significant bit would be set for a positive number,
    /// the number MUST be preceded by a zero byte."
    pub fn mpint_unsigned(&mut self, magnitude: &[u8]) -> &mut Self {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let digits = magnitude.get(start..).unwrap_or_default();
        let pad = digits.first().is_some_and(|b| b & 0x80 != 0);
        let len = digits.len() + usize::from(pad);
        self.u32(u32::try_from(len).unwrap_or(u32::MAX));
        if pad {
            self.buf.push(0);
        }
        self.raw(digits)
    }
}
