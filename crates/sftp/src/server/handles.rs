//! The handle table: open files and directories behind opaque handle strings.
//!
//! filexfer-02 §7: "The handle is an arbitrary string that identifies an open file or
//! directory on the server. The handle is opaque to the client; the client MUST NOT attempt
//! to interpret or modify it in any way."
//!
//! A handle is 12 bytes: a 4-byte slot index, then the slot's 8-byte generation. Slots are
//! reused, generations never within a session, so a handle that was closed (stale), made up
//! (forged) or closed and its slot since reused all fail to match. Handles are not secrets:
//! a session only ever sees its own.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::fs::{Dir, DirEntry, File, FsError};
use crate::types::{OpenFlags, StatusCode};

/// Bytes of a handle.
pub(crate) const HANDLE_LEN: usize = 12;

/// An open file, shared by the requests that use it at the same time.
pub(crate) struct OpenFile {
    /// The backend's file.
    pub(crate) file: Box<dyn File>,
    /// The flags it was opened with.
    pub(crate) flags: OpenFlags,
    /// The path it was opened by (absolute, as given to the backend).
    pub(crate) path: Vec<u8>,
    /// Bytes read through the handle, for the audit log.
    pub(crate) read: AtomicU64,
    /// Bytes written through the handle, for the audit log.
    pub(crate) written: AtomicU64,
}

/// An open directory listing.
pub(crate) struct OpenDir {
    /// The path it was opened by.
    pub(crate) path: Vec<u8>,
    /// The listing and what it has given but no reply has yet carried.
    pub(crate) listing: Option<Listing>,
}

/// A directory listing in progress. It leaves the table while a `READDIR` reads it.
pub(crate) struct Listing {
    /// The backend's listing.
    pub(crate) dir: Box<dyn Dir>,
    /// Entries read from the backend that did not fit in the last reply.
    pub(crate) pending: VecDeque<DirEntry>,
    /// The backend has said it has no more.
    pub(crate) done: bool,
    /// An error the backend gave after entries that a reply carried: the next `READDIR`
    /// answers it.
    pub(crate) error: Option<FsError>,
}

/// What a handle stands for.
pub(crate) enum Handle {
    /// An open file.
    File(Arc<OpenFile>),
    /// An open directory.
    Dir(OpenDir),
}

struct Slot {
    generation: u64,
    handle: Handle,
}

/// Why a handle string does not name what a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandleError {
    /// Not a handle of this session (never was, or closed).
    Invalid,
    /// A directory handle where a file handle is needed.
    NotFile,
    /// A file handle where a directory handle is needed.
    NotDir,
    /// A directory whose listing another request is reading.
    Busy,
}

impl From<HandleError> for FsError {
    /// filexfer-02 v3 has no code for a bad handle; OpenSSH answers `SSH_FX_FAILURE`.
    fn from(e: HandleError) -> FsError {
        let message = match e {
            HandleError::Invalid => "invalid handle",
            HandleError::NotFile => "not a file handle",
            HandleError::NotDir => "not a directory handle",
            HandleError::Busy => "directory handle busy",
        };
        FsError::new(StatusCode::FAILURE, message)
    }
}

/// The open handles of a session, at most `max` of them.
pub(crate) struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Open handles plus reservations for opens under way.
    used: usize,
    max: usize,
    counter: u64,
}

impl Table {
    pub(crate) fn new(max: usize) -> Table {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            used: 0,
            max,
            counter: 0,
        }
    }

    /// Open handles and reservations.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// Reserves room for one handle before the backend opens anything; false when full.
    pub(crate) fn reserve(&mut self) -> bool {
        if self.used >= self.max {
            return false;
        }
        self.used += 1;
        true
    }

    /// Gives back a reservation that did not become a handle.
    pub(crate) fn unreserve(&mut self) {
        self.used = self.used.saturating_sub(1);
    }

    /// Turns a reservation into a handle for `handle`; returns the handle string.
    pub(crate) fn insert(&mut self, handle: Handle) -> Vec<u8> {
        self.counter = self.counter.wrapping_add(1);
        // An odd multiplier is a bijection of u64: generations stay unique, and do not look
        // like a counter (they mean nothing to the client).
        let generation = self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = Some(Slot { generation, handle });
        let index = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    *s = slot;
                }
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                self.slots.push(slot);
                i
            }
        };
        let mut bytes = Vec::with_capacity(HANDLE_LEN);
        bytes.extend_from_slice(&index.to_be_bytes());
        bytes.extend_from_slice(&generation.to_be_bytes());
        bytes
    }

    /// The slot index of a handle string whose slot holds that generation.
    fn index(&self, handle: &[u8]) -> Result<usize, HandleError> {
        let (index, generation) = handle
            .split_first_chunk::<4>()
            .and_then(|(i, g)| Some((*i, *<&[u8; 8]>::try_from(g).ok()?)))
            .ok_or(HandleError::Invalid)?;
        let index = u32::from_be_bytes(index) as usize;
        let generation = u64::from_be_bytes(generation);
        match self.slots.get(index) {
            Some(Some(slot)) if slot.generation == generation => Ok(index),
            _ => Err(HandleError::Invalid),
        }
    }

    fn slot(&self, handle: &[u8]) -> Result<&Slot, HandleError> {
        let i = self.index(handle)?;
        self.slots
            .get(i)
            .and_then(Option::as_ref)
            .ok_or(HandleError::Invalid)
    }

    fn slot_mut(&mut self, handle: &[u8]) -> Result<&mut Slot, HandleError> {
        let i = self.index(handle)?;
        self.slots
            .get_mut(i)
            .and_then(Option::as_mut)
            .ok_or(HandleError::Invalid)
    }

    /// The open file behind a handle.
    pub(crate) fn file(&self, handle: &[u8]) -> Result<Arc<OpenFile>, HandleError> {
        match &self.slot(handle)?.handle {
            Handle::File(f) => Ok(f.clone()),
            Handle::Dir(_) => Err(HandleError::NotFile),
        }
    }

    /// The flags of the file behind a handle, if it is one.
    pub(crate) fn file_flags(&self, handle: &[u8]) -> Option<OpenFlags> {
        self.file(handle).ok().map(|f| f.flags)
    }

    /// Takes a directory's listing out of the table for a `READDIR`, with its path.
    pub(crate) fn take_listing(
        &mut self,
        handle: &[u8],
    ) -> Result<(Listing, Vec<u8>), HandleError> {
        match &mut self.slot_mut(handle)?.handle {
            Handle::Dir(d) => {
                let listing = d.listing.take().ok_or(HandleError::Busy)?;
                Ok((listing, d.path.clone()))
            }
            Handle::File(_) => Err(HandleError::NotDir),
        }
    }

    /// Puts a listing back after a `READDIR` (dropped if the handle has gone meanwhile).
    pub(crate) fn put_listing(&mut self, handle: &[u8], listing: Listing) {
        if let Ok(Slot {
            handle: Handle::Dir(d),
            ..
        }) = self.slot_mut(handle)
        {
            d.listing = Some(listing);
        }
    }

    /// Removes a handle (`CLOSE`); its slot can be reused, the handle string never again.
    pub(crate) fn remove(&mut self, handle: &[u8]) -> Result<Handle, HandleError> {
        let i = self.index(handle)?;
        let slot = self
            .slots
            .get_mut(i)
            .and_then(Option::take)
            .ok_or(HandleError::Invalid)?;
        self.free.push(u32::try_from(i).unwrap_or(u32::MAX));
        self.used = self.used.saturating_sub(1);
        Ok(slot.handle)
    }

    /// Removes every handle (the end of the session).
    pub(crate) fn drain(&mut self) -> Vec<Handle> {
        let handles: Vec<Handle> = self
            .slots
            .drain(..)
            .flatten()
            .map(|slot| slot.handle)
            .collect();
        self.free.clear();
        self.used = self.used.saturating_sub(handles.len());
        handles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;

    impl Dir for Nothing {
        fn next_entries(&mut self, _max: usize) -> crate::fs::FsFuture<'_, Vec<DirEntry>> {
            crate::fs::ready(Ok(Vec::new()))
        }
    }

    fn dir() -> Handle {
        Handle::Dir(OpenDir {
            path: b"/".to_vec(),
            listing: Some(Listing {
                dir: Box::new(Nothing),
                pending: VecDeque::new(),
                done: false,
                error: None,
            }),
        })
    }

    #[test]
    fn stale_forged_and_reused_handles_fail() {
        let mut t = Table::new(4);
        assert!(t.reserve());
        let a = t.insert(dir());
        assert_eq!(a.len(), HANDLE_LEN);
        assert!(t.take_listing(&a).is_ok());
        assert!(t.remove(&a).is_ok());
        // Stale.
        assert_eq!(t.remove(&a).err(), Some(HandleError::Invalid));
        // The slot is reused with a new generation: the old handle still fails.
        assert!(t.reserve());
        let b = t.insert(dir());
        assert_eq!(a[..4], b[..4]);
        assert_ne!(a, b);
        assert_eq!(t.take_listing(&a).err(), Some(HandleError::Invalid));
        // Forged: wrong lengths, unknown slots.
        for forged in [
            &b[..11],
            &[b.as_slice(), &[0]].concat()[..],
            &[0xff; 12][..],
            &[],
        ] {
            assert_eq!(t.remove(forged).err(), Some(HandleError::Invalid));
        }
        assert_eq!(t.file(&b).err(), Some(HandleError::NotFile));
        // Busy while a READDIR holds the listing.
        let (listing, path) = t.take_listing(&b).unwrap();
        assert_eq!(path, b"/");
        assert_eq!(t.take_listing(&b).err(), Some(HandleError::Busy));
        t.put_listing(&b, listing);
        assert!(t.take_listing(&b).is_ok());
    }

    #[test]
    fn reservations_count_against_the_limit() {
        let mut t = Table::new(2);
        assert!(t.reserve());
        assert!(t.reserve());
        assert!(!t.reserve());
        t.unreserve();
        let h = t.insert(dir());
        assert_eq!(t.used(), 1);
        assert!(t.reserve());
        assert!(!t.reserve());
        t.remove(&h).unwrap();
        assert!(t.reserve());
        assert_eq!(t.used(), 2);
        t.unreserve();
        let g = t.insert(dir());
        assert_eq!(t.drain().len(), 1);
        assert_eq!(t.used(), 0);
        assert!(t.file(&g).is_err());
    }
}
