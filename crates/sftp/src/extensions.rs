//! OpenSSH's extended requests and the bodies of their replies (OpenSSH `PROTOCOL` §4).
//!
//! filexfer-02 §8 carries vendor requests in `SSH_FXP_EXTENDED` (`uint32 id`, `string
//! extended-request`, request-specific data) and their answers in `SSH_FXP_EXTENDED_REPLY`
//! (`uint32 id`, reply-specific data) or `SSH_FXP_STATUS`. The reply's layout depends on the
//! request, which only the client's request table knows, so [`Response::ExtendedReply`] keeps
//! its data as bytes and the types here decode it: [`StatvfsReply`], [`LimitsReply`] and
//! [`UsersGroupsReply`]. `expand-path@openssh.com` and `home-directory` are answered with an
//! ordinary `SSH_FXP_NAME`.
//!
//! [`Response::ExtendedReply`]: crate::Response::ExtendedReply

use sshwire_wire::{Error, Reader, Writer};

use crate::Attrs;
use crate::fields::decode_handle;
use crate::packet::len32;

/// The extensions OpenSSH's `sftp-server` announces in `SSH_FXP_VERSION`, with the version
/// string of each (OpenSSH `PROTOCOL` §4.2: "Each extension reports its integer version number
/// as an ASCII encoded string").
pub const OPENSSH_EXTENSIONS: [(&str, &str); 11] = [
    (ExtendedRequest::POSIX_RENAME, "1"),
    (ExtendedRequest::STATVFS, "2"),
    (ExtendedRequest::FSTATVFS, "2"),
    (ExtendedRequest::HARDLINK, "1"),
    (ExtendedRequest::FSYNC, "1"),
    (ExtendedRequest::LSETSTAT, "1"),
    (ExtendedRequest::LIMITS, "1"),
    (ExtendedRequest::EXPAND_PATH, "1"),
    (ExtendedRequest::COPY_DATA, "1"),
    (ExtendedRequest::HOME_DIRECTORY, "1"),
    (ExtendedRequest::USERS_GROUPS_BY_ID, "1"),
];

/// The request of an `SSH_FXP_EXTENDED` packet: its name and request-specific data.
///
/// The extensions of OpenSSH `PROTOCOL` §4 are typed; any other name is kept with its data as
/// bytes ([`ExtendedRequest::Unknown`]), which a server answers with `SSH_FX_OP_UNSUPPORTED`
/// (filexfer-02 §8: "If the server does not recognize the `extended-request' name, then the
/// server MUST respond with SSH_FXP_STATUS with error/status set to SSH_FX_OP_UNSUPPORTED.").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtendedRequest {
    /// `posix-rename@openssh.com` (§4.3): `rename(2)` semantics, replacing `new_path`.
    PosixRename {
        /// `string oldpath`.
        old_path: Vec<u8>,
        /// `string newpath`.
        new_path: Vec<u8>,
    },
    /// `statvfs@openssh.com` (§4.4): file system statistics of a path ([`StatvfsReply`]).
    Statvfs {
        /// `string path`.
        path: Vec<u8>,
    },
    /// `fstatvfs@openssh.com` (§4.4): file system statistics of an open handle
    /// ([`StatvfsReply`]).
    Fstatvfs {
        /// `string handle`.
        handle: Vec<u8>,
    },
    /// `hardlink@openssh.com` (§4.5): `link(2)`.
    Hardlink {
        /// `string oldpath`: the existing file.
        old_path: Vec<u8>,
        /// `string newpath`: the new name.
        new_path: Vec<u8>,
    },
    /// `fsync@openssh.com` (§4.6): `fsync(2)` on an open handle.
    Fsync {
        /// `string handle`.
        handle: Vec<u8>,
    },
    /// `lsetstat@openssh.com` (§4.7): `SETSTAT` that does not follow symbolic links.
    Lsetstat {
        /// `string path`.
        path: Vec<u8>,
        /// `ATTRS attrs`.
        attrs: Attrs,
    },
    /// `limits@openssh.com` (§4.8): the server's limits ([`LimitsReply`]).
    Limits,
    /// `expand-path@openssh.com` (§4.9): `REALPATH` with `~` and `~user` expansion.
    ExpandPath {
        /// `string path`.
        path: Vec<u8>,
    },
    /// `copy-data` (§4.10): server-side copy between two open handles.
    CopyData {
        /// `string read-from-handle`.
        read_handle: Vec<u8>,
        /// `uint64 read-from-offset`.
        read_offset: u64,
        /// `uint64 read-data-length`; 0 copies to the end of the file.
        read_length: u64,
        /// `string write-to-handle`.
        write_handle: Vec<u8>,
        /// `uint64 write-to-offset`.
        write_offset: u64,
    },
    /// `home-directory` (§4.11): a user's home directory; an empty name means the user's own.
    HomeDirectory {
        /// `string username`.
        username: Vec<u8>,
    },
    /// `users-groups-by-id@openssh.com` (§4.12): names of user and group ids
    /// ([`UsersGroupsReply`]).
    UsersGroupsById {
        /// `string uids`: a `string` holding `uint32` user ids back to back.
        uids: Vec<u32>,
        /// `string gids`: a `string` holding `uint32` group ids back to back.
        gids: Vec<u32>,
    },
    /// Any other request, its data uninterpreted.
    ///
    /// Decoding never produces this with one of the names above; one built with such a name
    /// encodes that name with these bytes as its data.
    Unknown {
        /// `string extended-request`.
        name: Vec<u8>,
        /// The request-specific data.
        data: Vec<u8>,
    },
}

impl ExtendedRequest {
    /// `posix-rename@openssh.com`.
    pub const POSIX_RENAME: &'static str = "posix-rename@openssh.com";
    /// `statvfs@openssh.com`.
    pub const STATVFS: &'static str = "statvfs@openssh.com";
    /// `fstatvfs@openssh.com`.
    pub const FSTATVFS: &'static str = "fstatvfs@openssh.com";
    /// `hardlink@openssh.com`.
    pub const HARDLINK: &'static str = "hardlink@openssh.com";
    /// `fsync@openssh.com`.
    pub const FSYNC: &'static str = "fsync@openssh.com";
    /// `lsetstat@openssh.com`.
    pub const LSETSTAT: &'static str = "lsetstat@openssh.com";
    /// `limits@openssh.com`.
    pub const LIMITS: &'static str = "limits@openssh.com";
    /// `expand-path@openssh.com`.
    pub const EXPAND_PATH: &'static str = "expand-path@openssh.com";
    /// `copy-data` (no domain: it comes from draft-ietf-secsh-filexfer-extensions-00).
    pub const COPY_DATA: &'static str = "copy-data";
    /// `home-directory` (no domain: it comes from draft-ietf-secsh-filexfer-extensions-00).
    pub const HOME_DIRECTORY: &'static str = "home-directory";
    /// `users-groups-by-id@openssh.com`.
    pub const USERS_GROUPS_BY_ID: &'static str = "users-groups-by-id@openssh.com";

    /// The `extended-request` name as it goes on the wire.
    pub fn name(&self) -> &[u8] {
        match self {
            Self::PosixRename { .. } => Self::POSIX_RENAME.as_bytes(),
            Self::Statvfs { .. } => Self::STATVFS.as_bytes(),
            Self::Fstatvfs { .. } => Self::FSTATVFS.as_bytes(),
            Self::Hardlink { .. } => Self::HARDLINK.as_bytes(),
            Self::Fsync { .. } => Self::FSYNC.as_bytes(),
            Self::Lsetstat { .. } => Self::LSETSTAT.as_bytes(),
            Self::Limits => Self::LIMITS.as_bytes(),
            Self::ExpandPath { .. } => Self::EXPAND_PATH.as_bytes(),
            Self::CopyData { .. } => Self::COPY_DATA.as_bytes(),
            Self::HomeDirectory { .. } => Self::HOME_DIRECTORY.as_bytes(),
            Self::UsersGroupsById { .. } => Self::USERS_GROUPS_BY_ID.as_bytes(),
            Self::Unknown { name, .. } => name,
        }
    }

    /// Appends the name and the request-specific data (what follows `uint32 id`).
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.string(self.name());
        match self {
            Self::PosixRename { old_path, new_path } | Self::Hardlink { old_path, new_path } => {
                w.string(old_path).string(new_path);
            }
            Self::Statvfs { path } | Self::ExpandPath { path } => {
                w.string(path);
            }
            Self::Fstatvfs { handle } | Self::Fsync { handle } => {
                w.string(handle);
            }
            Self::Lsetstat { path, attrs } => {
                w.string(path);
                attrs.encode(w);
            }
            Self::Limits => {}
            Self::CopyData {
                read_handle,
                read_offset,
                read_length,
                write_handle,
                write_offset,
            } => {
                w.string(read_handle)
                    .u64(*read_offset)
                    .u64(*read_length)
                    .string(write_handle)
                    .u64(*write_offset);
            }
            Self::HomeDirectory { username } => {
                w.string(username);
            }
            Self::UsersGroupsById { uids, gids } => {
                id_list(w, uids);
                id_list(w, gids);
            }
            Self::Unknown { data, .. } => {
                w.raw(data);
            }
        }
    }

    /// Decodes the name and the request-specific data, leaving nothing of a known request.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<ExtendedRequest, Error> {
        let name = r.string()?;
        let owned = |s: &[u8]| s.to_vec();
        Ok(match name {
            n if n == Self::POSIX_RENAME.as_bytes() => Self::PosixRename {
                old_path: owned(r.string()?),
                new_path: owned(r.string()?),
            },
            n if n == Self::STATVFS.as_bytes() => Self::Statvfs {
                path: owned(r.string()?),
            },
            n if n == Self::FSTATVFS.as_bytes() => Self::Fstatvfs {
                handle: decode_handle(r)?,
            },
            n if n == Self::HARDLINK.as_bytes() => Self::Hardlink {
                old_path: owned(r.string()?),
                new_path: owned(r.string()?),
            },
            n if n == Self::FSYNC.as_bytes() => Self::Fsync {
                handle: decode_handle(r)?,
            },
            n if n == Self::LSETSTAT.as_bytes() => Self::Lsetstat {
                path: owned(r.string()?),
                attrs: Attrs::decode(r)?,
            },
            n if n == Self::LIMITS.as_bytes() => Self::Limits,
            n if n == Self::EXPAND_PATH.as_bytes() => Self::ExpandPath {
                path: owned(r.string()?),
            },
            n if n == Self::COPY_DATA.as_bytes() => Self::CopyData {
                read_handle: decode_handle(r)?,
                read_offset: r.u64()?,
                read_length: r.u64()?,
                write_handle: decode_handle(r)?,
                write_offset: r.u64()?,
            },
            n if n == Self::HOME_DIRECTORY.as_bytes() => Self::HomeDirectory {
                username: owned(r.string()?),
            },
            n if n == Self::USERS_GROUPS_BY_ID.as_bytes() => Self::UsersGroupsById {
                uids: read_id_list(r)?,
                gids: read_id_list(r)?,
            },
            _ => Self::Unknown {
                name: owned(name),
                data: owned(r.rest()),
            },
        })
    }
}

/// Appends a `string` holding `uint32`s back to back (OpenSSH `PROTOCOL` §4.12).
fn id_list(w: &mut Writer, ids: &[u32]) {
    w.u32(len32(ids.len().saturating_mul(4)));
    for id in ids {
        w.u32(*id);
    }
}

/// Reads a `string` holding `uint32`s back to back (OpenSSH `PROTOCOL` §4.12).
fn read_id_list(r: &mut Reader<'_>) -> Result<Vec<u32>, Error> {
    let mut inner = Reader::new(r.string()?);
    // PROTOCOL §4.12: the string "consists of one or more integer user or group identifiers",
    // each a `uint32`, so its length is a multiple of four.
    if !inner.remaining().is_multiple_of(4) {
        return Err(Error::Invalid("id list length is not a multiple of 4"));
    }
    let mut ids = Vec::with_capacity(inner.remaining() / 4);
    while !inner.is_empty() {
        ids.push(inner.u32()?);
    }
    Ok(ids)
}

/// The `SSH_FXP_EXTENDED_REPLY` data of `statvfs@openssh.com` and `fstatvfs@openssh.com`
/// (OpenSSH `PROTOCOL` §4.4): eleven `uint64`s, the fields of POSIX `struct statvfs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StatvfsReply {
    /// `f_bsize`: file system block size.
    pub bsize: u64,
    /// `f_frsize`: fundamental file system block size.
    pub frsize: u64,
    /// `f_blocks`: number of blocks, in units of `frsize`.
    pub blocks: u64,
    /// `f_bfree`: free blocks.
    pub bfree: u64,
    /// `f_bavail`: free blocks for unprivileged users.
    pub bavail: u64,
    /// `f_files`: total inodes.
    pub files: u64,
    /// `f_ffree`: free inodes.
    pub ffree: u64,
    /// `f_favail`: free inodes for unprivileged users.
    pub favail: u64,
    /// `f_fsid`: file system id.
    pub fsid: u64,
    /// `f_flag`: a bit mask of [`StatvfsReply::RDONLY`] and [`StatvfsReply::NOSUID`].
    pub flag: u64,
    /// `f_namemax`: longest file name.
    pub namemax: u64,
}

impl StatvfsReply {
    /// `SSH_FXE_STATVFS_ST_RDONLY`: mounted read-only.
    pub const RDONLY: u64 = 0x1;
    /// `SSH_FXE_STATVFS_ST_NOSUID`: set-uid bits are ignored.
    pub const NOSUID: u64 = 0x2;

    /// The reply data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        for v in self.fields() {
            w.u64(v);
        }
        w.into_vec()
    }

    /// Decodes reply data, which must be exactly the eleven fields.
    pub fn decode(data: &[u8]) -> Result<StatvfsReply, Error> {
        let mut r = Reader::new(data);
        let reply = StatvfsReply {
            bsize: r.u64()?,
            frsize: r.u64()?,
            blocks: r.u64()?,
            bfree: r.u64()?,
            bavail: r.u64()?,
            files: r.u64()?,
            ffree: r.u64()?,
            favail: r.u64()?,
            fsid: r.u64()?,
            flag: r.u64()?,
            namemax: r.u64()?,
        };
        r.finish()?;
        Ok(reply)
    }

    /// The fields in wire order.
    fn fields(&self) -> [u64; 11] {
        [
            self.bsize,
            self.frsize,
            self.blocks,
            self.bfree,
            self.bavail,
            self.files,
            self.ffree,
            self.favail,
            self.fsid,
            self.flag,
            self.namemax,
        ]
    }
}

/// The `SSH_FXP_EXTENDED_REPLY` data of `limits@openssh.com` (OpenSSH `PROTOCOL` §4.8).
///
/// A field of 0 means the server sets no limit of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LimitsReply {
    /// `uint64 max-packet-length`: the largest whole packet the server accepts.
    pub max_packet_length: u64,
    /// `uint64 max-read-length`: the largest `READ` length the server will answer in full.
    pub max_read_length: u64,
    /// `uint64 max-write-length`: the largest `WRITE` data the server accepts.
    pub max_write_length: u64,
    /// `uint64 max-open-handles`: the most handles open at once.
    pub max_open_handles: u64,
}

impl LimitsReply {
    /// The reply data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.max_packet_length)
            .u64(self.max_read_length)
            .u64(self.max_write_length)
            .u64(self.max_open_handles);
        w.into_vec()
    }

    /// Decodes reply data, which must be exactly the four fields.
    pub fn decode(data: &[u8]) -> Result<LimitsReply, Error> {
        let mut r = Reader::new(data);
        let reply = LimitsReply {
            max_packet_length: r.u64()?,
            max_read_length: r.u64()?,
            max_write_length: r.u64()?,
            max_open_handles: r.u64()?,
        };
        r.finish()?;
        Ok(reply)
    }
}

/// The `SSH_FXP_EXTENDED_REPLY` data of `users-groups-by-id@openssh.com` (OpenSSH `PROTOCOL`
/// §4.12): the names of the requested ids, in request order.
///
/// Each list is a `string` holding `string`s back to back; an id without a name gets an empty
/// one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UsersGroupsReply {
    /// `string usernames`: one name per requested uid.
    pub user_names: Vec<Vec<u8>>,
    /// `string groupnames`: one name per requested gid.
    pub group_names: Vec<Vec<u8>>,
}

impl UsersGroupsReply {
    /// The reply data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        for names in [&self.user_names, &self.group_names] {
            let mut inner = Writer::new();
            for n in names {
                inner.string(n);
            }
            w.string(inner.as_slice());
        }
        w.into_vec()
    }

    /// Decodes reply data, which must be exactly the two lists.
    pub fn decode(data: &[u8]) -> Result<UsersGroupsReply, Error> {
        let mut r = Reader::new(data);
        let user_names = name_list(r.string()?)?;
        let group_names = name_list(r.string()?)?;
        r.finish()?;
        Ok(UsersGroupsReply {
            user_names,
            group_names,
        })
    }
}

/// The `string`s held back to back in `list`.
fn name_list(list: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut r = Reader::new(list);
    let mut names = Vec::new();
    while !r.is_empty() {
        names.push(r.string()?.to_vec());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn blob() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..12)
    }

    #[test]
    fn limits_by_hand() {
        let reply = LimitsReply {
            max_packet_length: 256 * 1024,
            max_read_length: 255 * 1024,
            max_write_length: 255 * 1024,
            max_open_handles: 0,
        };
        #[rustfmt::skip]
        let wire = [
            0, 0, 0, 0, 0, 0x04, 0, 0,
            0, 0, 0, 0, 0, 0x03, 0xfc, 0,
            0, 0, 0, 0, 0, 0x03, 0xfc, 0,
            0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(reply.to_bytes(), wire);
        assert_eq!(LimitsReply::decode(&wire), Ok(reply));
    }

    #[test]
    fn users_groups_by_hand() {
        let reply = UsersGroupsReply {
            user_names: vec![b"root".to_vec(), Vec::new()],
            group_names: vec![],
        };
        #[rustfmt::skip]
        let wire = [
            0, 0, 0, 12,                            // usernames: 12 bytes
            0, 0, 0, 4, b'r', b'o', b'o', b't',     //   "root"
            0, 0, 0, 0,                             //   "" (an id without a name)
            0, 0, 0, 0,                             // groupnames: empty
        ];
        assert_eq!(reply.to_bytes(), wire);
        assert_eq!(UsersGroupsReply::decode(&wire), Ok(reply));
    }

    #[test]
    fn statvfs_field_order() {
        let reply = StatvfsReply {
            bsize: 1,
            frsize: 2,
            blocks: 3,
            bfree: 4,
            bavail: 5,
            files: 6,
            ffree: 7,
            favail: 8,
            fsid: 9,
            flag: StatvfsReply::RDONLY | StatvfsReply::NOSUID,
            namemax: 255,
        };
        let wire = reply.to_bytes();
        assert_eq!(wire.len(), 88);
        for (i, chunk) in wire.chunks(8).enumerate() {
            let want = [1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 255][i];
            assert_eq!(chunk, &u64::to_be_bytes(want), "field {i}");
        }
        assert_eq!(StatvfsReply::decode(&wire), Ok(reply));
    }

    proptest! {
        #[test]
        fn statvfs_round_trip(f in proptest::array::uniform11(any::<u64>())) {
            let reply = StatvfsReply {
                bsize: f[0], frsize: f[1], blocks: f[2], bfree: f[3], bavail: f[4],
                files: f[5], ffree: f[6], favail: f[7], fsid: f[8], flag: f[9], namemax: f[10],
            };
            let v = reply.to_bytes();
            prop_assert_eq!(StatvfsReply::decode(&v), Ok(reply));
            for cut in 0..v.len() {
                prop_assert!(StatvfsReply::decode(&v[..cut]).is_err());
            }
            let mut longer = v.clone();
            longer.push(0);
            prop_assert!(StatvfsReply::decode(&longer).is_err());
        }

        #[test]
        fn limits_round_trip(a: u64, b: u64, c: u64, d: u64) {
            let reply = LimitsReply {
                max_packet_length: a, max_read_length: b, max_write_length: c, max_open_handles: d,
            };
            let v = reply.to_bytes();
            prop_assert_eq!(LimitsReply::decode(&v), Ok(reply));
            for cut in 0..v.len() {
                prop_assert!(LimitsReply::decode(&v[..cut]).is_err());
            }
            let mut longer = v.clone();
            longer.push(0);
            prop_assert!(LimitsReply::decode(&longer).is_err());
        }

        #[test]
        fn users_groups_round_trip(
            users in proptest::collection::vec(blob(), 0..5),
            groups in proptest::collection::vec(blob(), 0..5),
        ) {
            let reply = UsersGroupsReply { user_names: users, group_names: groups };
            let v = reply.to_bytes();
            prop_assert_eq!(UsersGroupsReply::decode(&v), Ok(reply));
            for cut in 0..v.len() {
                prop_assert!(UsersGroupsReply::decode(&v[..cut]).is_err());
            }
            let mut longer = v.clone();
            longer.push(0);
            prop_assert!(UsersGroupsReply::decode(&longer).is_err());
        }

        #[test]
        fn arbitrary_reply_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = StatvfsReply::decode(&v);
            let _ = LimitsReply::decode(&v);
            let _ = UsersGroupsReply::decode(&v);
        }
    }
}
