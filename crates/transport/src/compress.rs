//! Payload compression: `zlib` (RFC 4253 §6.2) and `zlib@openssh.com` (delayed until
//! authentication succeeds, OpenSSH PROTOCOL §2.2).
//!
//! Each direction is one zlib stream for the life of its keys; every payload is flushed with a
//! partial flush so that the peer can decompress it on its own. Inflation is bounded: a payload
//! that would inflate past the limit is an error, so a compressed packet cannot become a
//! decompression bomb.

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

/// A compression algorithm name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// `none`.
    None,
    /// `zlib`: compression from the first packet after NEWKEYS.
    Zlib,
    /// `zlib@openssh.com`: compression starts after user authentication succeeds.
    ZlibOpenSsh,
}

impl Compression {
    /// The name in KEXINIT.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zlib => "zlib",
            Compression::ZlibOpenSsh => "zlib@openssh.com",
        }
    }

    /// The algorithm with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::None, Self::Zlib, Self::ZlibOpenSsh]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// Why a payload could not be compressed or decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompressionError {
    /// The peer's stream is not valid zlib.
    Corrupt,
    /// The payload inflates past the limit.
    TooLarge(usize),
}

impl core::fmt::Display for CompressionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CompressionError::Corrupt => f.write_str("corrupt compressed data"),
            CompressionError::TooLarge(limit) => {
                write!(f, "compressed payload inflates past {limit} bytes")
            }
        }
    }
}

/// Size of the scratch buffer zlib writes into before bytes are appended to the output.
const SCRATCH: usize = 32 * 1024;

/// One direction's compressing zlib stream.
pub(crate) struct Compressor {
    z: Compress,
    scratch: Vec<u8>,
}

impl Compressor {
    pub(crate) fn new() -> Self {
        // Level 6 is zlib's default and OpenSSH's choice.
        Compressor {
            z: Compress::new(flate2::Compression::new(6), true),
            scratch: vec![0; SCRATCH],
        }
    }

    /// Appends the compressed form of `input` to `out`.
    pub(crate) fn compress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CompressionError> {
        let mut consumed = 0usize;
        loop {
            let (before_in, before_out) = (self.z.total_in(), self.z.total_out());
            let rest = input.get(consumed..).unwrap_or_default();
            self.z
                .compress(rest, &mut self.scratch, FlushCompress::Partial)
                .map_err(|_| CompressionError::Corrupt)?;
            let n_in = delta(self.z.total_in(), before_in);
            let n_out = delta(self.z.total_out(), before_out);
            consumed += n_in;
            out.extend_from_slice(self.scratch.get(..n_out).unwrap_or_default());
            // zlib fills the whole scratch buffer when it has more to write.
            if consumed >= input.len() && n_out < self.scratch.len() {
                return Ok(());
            }
            if n_in == 0 && n_out == 0 {
                return Err(CompressionError::Corrupt);
            }
        }
    }
}

/// One direction's decompressing zlib stream.
pub(crate) struct Decompressor {
    z: Decompress,
    scratch: Vec<u8>,
}

impl Decompressor {
    pub(crate) fn new() -> Self {
        Decompressor {
            z: Decompress::new(true),
            scratch: vec![0; SCRATCH],
        }
    }

    /// Appends the inflated form of `input` to `out`, which may grow by at most `limit`.
    pub(crate) fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), CompressionError> {
        let start = out.len();
        let mut consumed = 0usize;
        loop {
            let (before_in, before_out) = (self.z.total_in(), self.z.total_out());
            let rest = input.get(consumed..).unwrap_or_default();
            let status = self
                .z
                .decompress(rest, &mut self.scratch, FlushDecompress::Sync)
                .map_err(|_| CompressionError::Corrupt)?;
            let n_in = delta(self.z.total_in(), before_in);
            let n_out = delta(self.z.total_out(), before_out);
            consumed += n_in;
            if out.len() - start + n_out > limit {
                return Err(CompressionError::TooLarge(limit));
            }
            out.extend_from_slice(self.scratch.get(..n_out).unwrap_or_default());
            if status == Status::StreamEnd {
                // RFC 4253 §6.2 keeps one stream per direction; an ended stream cannot
                // carry the next packet.
                return Err(CompressionError::Corrupt);
            }
            if consumed >= input.len() && n_out < self.scratch.len() {
                return Ok(());
            }
            if n_in == 0 && n_out == 0 {
                return Err(CompressionError::Corrupt);
            }
        }
    }
}

fn delta(after: u64, before: u64) -> usize {
    usize::try_from(after.saturating_sub(before)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in [
            Compression::None,
            Compression::Zlib,
            Compression::ZlibOpenSsh,
        ] {
            assert_eq!(Compression::from_name(c.name()), Some(c));
        }
        assert_eq!(Compression::from_name("zstd"), None);
    }

    #[test]
    fn packets_round_trip_on_one_stream() {
        let mut c = Compressor::new();
        let mut d = Decompressor::new();
        for i in 0..50u32 {
            let payload: Vec<u8> = (0..(i * 997) % 70_000).map(|x| (x % 7) as u8).collect();
            let mut packed = Vec::new();
            c.compress(&payload, &mut packed).unwrap();
            let mut unpacked = Vec::new();
            d.decompress(&packed, &mut unpacked, 256 * 1024).unwrap();
            assert_eq!(unpacked, payload, "packet {i}");
        }
    }

    #[test]
    fn bomb_is_refused() {
        let mut c = Compressor::new();
        let payload = vec![0u8; 1024 * 1024];
        let mut packed = Vec::new();
        c.compress(&payload, &mut packed).unwrap();
        assert!(packed.len() < 8 * 1024);
        let mut d = Decompressor::new();
        let mut out = Vec::new();
        assert_eq!(
            d.decompress(&packed, &mut out, 256 * 1024),
            Err(CompressionError::TooLarge(256 * 1024))
        );
        assert!(out.len() <= 256 * 1024);
    }

    #[test]
    fn exact_limit_is_accepted() {
        let mut c = Compressor::new();
        let payload = vec![3u8; 4096];
        let mut packed = Vec::new();
        c.compress(&payload, &mut packed).unwrap();
        let mut out = Vec::new();
        Decompressor::new()
            .decompress(&packed, &mut out, 4096)
            .unwrap();
        assert_eq!(out, payload);
    }

    #[test]
    fn garbage_is_an_error() {
        let mut out = Vec::new();
        assert!(
            Decompressor::new()
                .decompress(&[0xff; 64], &mut out, 1024)
                .is_err()
        );
    }
}
