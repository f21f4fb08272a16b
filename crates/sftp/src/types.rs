//! The numbers of the protocol: packet types, status codes and open flags.
//!
//! Each is a newtype over its wire integer with named constants, so a value this crate does not
//! name (a newer draft's packet type, a vendor's status code) survives a decode and an encode.

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};

/// The protocol version this crate speaks (filexfer-02 §4: "The version number of the protocol
/// specified in this document is 3.").
pub const VERSION: u32 = 3;

/// The `byte type` of a packet (filexfer-02 §3).
///
/// Requests go from client to server, responses from server to client; filexfer-02 numbers
/// requests from 1 and responses from 101, and OpenSSH's extensions travel in `EXTENDED` (200)
/// and `EXTENDED_REPLY` (201).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketType(pub u8);

impl PacketType {
    /// `SSH_FXP_INIT` (filexfer-02 §4): the client's version and extensions.
    pub const INIT: Self = Self(1);
    /// `SSH_FXP_VERSION` (filexfer-02 §4): the server's version and extensions.
    pub const VERSION: Self = Self(2);
    /// `SSH_FXP_OPEN` (filexfer-02 §6.3).
    pub const OPEN: Self = Self(3);
    /// `SSH_FXP_CLOSE` (filexfer-02 §6.3).
    pub const CLOSE: Self = Self(4);
    /// `SSH_FXP_READ` (filexfer-02 §6.4).
    pub const READ: Self = Self(5);
    /// `SSH_FXP_WRITE` (filexfer-02 §6.4).
    pub const WRITE: Self = Self(6);
    /// `SSH_FXP_LSTAT` (filexfer-02 §6.8).
    pub const LSTAT: Self = Self(7);
    /// `SSH_FXP_FSTAT` (filexfer-02 §6.8).
    pub const FSTAT: Self = Self(8);
    /// `SSH_FXP_SETSTAT` (filexfer-02 §6.9).
    pub const SETSTAT: Self = Self(9);
    /// `SSH_FXP_FSETSTAT` (filexfer-02 §6.9).
    pub const FSETSTAT: Self = Self(10);
    /// `SSH_FXP_OPENDIR` (filexfer-02 §6.7).
    pub const OPENDIR: Self = Self(11);
    /// `SSH_FXP_READDIR` (filexfer-02 §6.7).
    pub const READDIR: Self = Self(12);
    /// `SSH_FXP_REMOVE` (filexfer-02 §6.5).
    pub const REMOVE: Self = Self(13);
    /// `SSH_FXP_MKDIR` (filexfer-02 §6.6).
    pub const MKDIR: Self = Self(14);
    /// `SSH_FXP_RMDIR` (filexfer-02 §6.6).
    pub const RMDIR: Self = Self(15);
    /// `SSH_FXP_REALPATH` (filexfer-02 §6.11).
    pub const REALPATH: Self = Self(16);
    /// `SSH_FXP_STAT` (filexfer-02 §6.8).
    pub const STAT: Self = Self(17);
    /// `SSH_FXP_RENAME` (filexfer-02 §6.5).
    pub const RENAME: Self = Self(18);
    /// `SSH_FXP_READLINK` (filexfer-02 §6.10).
    pub const READLINK: Self = Self(19);
    /// `SSH_FXP_SYMLINK` (filexfer-02 §6.10).
    pub const SYMLINK: Self = Self(20);
    /// `SSH_FXP_STATUS` (filexfer-02 §7).
    pub const STATUS: Self = Self(101);
    /// `SSH_FXP_HANDLE` (filexfer-02 §7).
    pub const HANDLE: Self = Self(102);
    /// `SSH_FXP_DATA` (filexfer-02 §7).
    pub const DATA: Self = Self(103);
    /// `SSH_FXP_NAME` (filexfer-02 §7).
    pub const NAME: Self = Self(104);
    /// `SSH_FXP_ATTRS` (filexfer-02 §7).
    pub const ATTRS: Self = Self(105);
    /// `SSH_FXP_EXTENDED` (filexfer-02 §8).
    pub const EXTENDED: Self = Self(200);
    /// `SSH_FXP_EXTENDED_REPLY` (filexfer-02 §8).
    pub const EXTENDED_REPLY: Self = Self(201);

    /// The draft's symbol of a known type.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "SSH_FXP_INIT",
            2 => "SSH_FXP_VERSION",
            3 => "SSH_FXP_OPEN",
            4 => "SSH_FXP_CLOSE",
            5 => "SSH_FXP_READ",
            6 => "SSH_FXP_WRITE",
            7 => "SSH_FXP_LSTAT",
            8 => "SSH_FXP_FSTAT",
            9 => "SSH_FXP_SETSTAT",
            10 => "SSH_FXP_FSETSTAT",
            11 => "SSH_FXP_OPENDIR",
            12 => "SSH_FXP_READDIR",
            13 => "SSH_FXP_REMOVE",
            14 => "SSH_FXP_MKDIR",
            15 => "SSH_FXP_RMDIR",
            16 => "SSH_FXP_REALPATH",
            17 => "SSH_FXP_STAT",
            18 => "SSH_FXP_RENAME",
            19 => "SSH_FXP_READLINK",
            20 => "SSH_FXP_SYMLINK",
            101 => "SSH_FXP_STATUS",
            102 => "SSH_FXP_HANDLE",
            103 => "SSH_FXP_DATA",
            104 => "SSH_FXP_NAME",
            105 => "SSH_FXP_ATTRS",
            200 => "SSH_FXP_EXTENDED",
            201 => "SSH_FXP_EXTENDED_REPLY",
            _ => return None,
        })
    }

    /// Whether this is a type a client sends (`INIT`, `OPEN` to `SYMLINK`, `EXTENDED`).
    pub fn is_request(self) -> bool {
        matches!(self.0, 1 | 3..=20 | 200)
    }

    /// Whether this is a type a server sends (`VERSION`, `STATUS` to `ATTRS`, `EXTENDED_REPLY`).
    pub fn is_response(self) -> bool {
        matches!(self.0, 2 | 101..=105 | 201)
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "SFTP packet type {}", self.0),
        }
    }
}

/// The `error/status code` of an `SSH_FXP_STATUS` response (filexfer-02 §7).
///
/// filexfer-02 defines codes 0 to 8; later drafts define more, and a newtype keeps them intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(pub u32);

impl StatusCode {
    /// `SSH_FX_OK`: the operation succeeded.
    pub const OK: Self = Self(0);
    /// `SSH_FX_EOF`: end of file, or no more directory entries.
    pub const EOF: Self = Self(1);
    /// `SSH_FX_NO_SUCH_FILE`: a reference was made to a file that does not exist.
    pub const NO_SUCH_FILE: Self = Self(2);
    /// `SSH_FX_PERMISSION_DENIED`: the user lacks the permission.
    pub const PERMISSION_DENIED: Self = Self(3);
    /// `SSH_FX_FAILURE`: an error for which no more specific code is defined.
    pub const FAILURE: Self = Self(4);
    /// `SSH_FX_BAD_MESSAGE`: a badly formatted packet or protocol incompatibility.
    pub const BAD_MESSAGE: Self = Self(5);
    /// `SSH_FX_NO_CONNECTION`: a pseudo-error, no connection to the server (never on the wire).
    pub const NO_CONNECTION: Self = Self(6);
    /// `SSH_FX_CONNECTION_LOST`: a pseudo-error, the connection was lost (never on the wire).
    pub const CONNECTION_LOST: Self = Self(7);
    /// `SSH_FX_OP_UNSUPPORTED`: the server does not support the operation.
    pub const OP_UNSUPPORTED: Self = Self(8);

    /// The draft's symbol of a known code.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "SSH_FX_OK",
            1 => "SSH_FX_EOF",
            2 => "SSH_FX_NO_SUCH_FILE",
            3 => "SSH_FX_PERMISSION_DENIED",
            4 => "SSH_FX_FAILURE",
            5 => "SSH_FX_BAD_MESSAGE",
            6 => "SSH_FX_NO_CONNECTION",
            7 => "SSH_FX_CONNECTION_LOST",
            8 => "SSH_FX_OP_UNSUPPORTED",
            _ => return None,
        })
    }

    /// A short English message for a known code, for the `error message` field.
    pub fn message(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "Success",
            1 => "End of file",
            2 => "No such file",
            3 => "Permission denied",
            4 => "Failure",
            5 => "Bad message",
            6 => "No connection",
            7 => "Connection lost",
            8 => "Operation unsupported",
            _ => return None,
        })
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "SFTP status {}", self.0),
        }
    }
}

/// The `pflags` of `SSH_FXP_OPEN` (filexfer-02 §6.3), a bit set.
///
/// Bits this crate does not name are kept, so the server decides what to do with them
/// ([`OpenFlags::unknown`] shows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpenFlags(pub u32);

impl OpenFlags {
    /// `SSH_FXF_READ`: open for reading.
    pub const READ: Self = Self(0x01);
    /// `SSH_FXF_WRITE`: open for writing (with `READ`, for both).
    pub const WRITE: Self = Self(0x02);
    /// `SSH_FXF_APPEND`: every write goes to the end of the file.
    pub const APPEND: Self = Self(0x04);
    /// `SSH_FXF_CREAT`: create the file if it does not exist.
    pub const CREAT: Self = Self(0x08);
    /// `SSH_FXF_TRUNC`: truncate an existing file to zero length (`CREAT` must be set too).
    pub const TRUNC: Self = Self(0x10);
    /// `SSH_FXF_EXCL`: fail if the file exists (`CREAT` must be set too).
    pub const EXCL: Self = Self(0x20);
    /// Every bit filexfer-02 defines.
    pub const ALL: Self = Self(0x3f);

    /// No flags.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// The bits as they go on the wire.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits filexfer-02 does not define.
    pub const fn unknown(self) -> Self {
        Self(self.0 & !Self::ALL.0)
    }
}

impl BitOr for OpenFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for OpenFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for OpenFlags {
    type Output = Self;

    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_unknown_values() {
        assert_eq!(PacketType::OPEN.to_string(), "SSH_FXP_OPEN");
        assert_eq!(PacketType(99).to_string(), "SFTP packet type 99");
        assert_eq!(
            StatusCode::OP_UNSUPPORTED.to_string(),
            "SSH_FX_OP_UNSUPPORTED"
        );
        assert_eq!(StatusCode(42).to_string(), "SFTP status 42");
        assert_eq!(StatusCode::EOF.message(), Some("End of file"));
        assert_eq!(StatusCode(42).message(), None);
    }

    #[test]
    fn directions_partition_the_known_types() {
        for t in 0..=255u8 {
            let t = PacketType(t);
            assert!(!(t.is_request() && t.is_response()), "{t}");
            assert_eq!(t.name().is_some(), t.is_request() || t.is_response(), "{t}");
        }
    }

    #[test]
    fn open_flags_combine() {
        let f = OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC;
        assert_eq!(f.bits(), 0x1a);
        assert!(f.contains(OpenFlags::CREAT | OpenFlags::WRITE));
        assert!(!f.contains(OpenFlags::READ));
        assert_eq!(f.unknown(), OpenFlags::empty());
        assert_eq!(OpenFlags(0x121).unknown(), OpenFlags(0x100));
        let mut g = OpenFlags::READ;
        g |= OpenFlags::EXCL;
        assert_eq!(g & OpenFlags::EXCL, OpenFlags::EXCL);
    }
}
