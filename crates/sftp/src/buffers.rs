//! Spare block buffers: the buffers of file data that `READ` replies and `WRITE` requests
//! carry, kept for the next block instead of going back to the allocator.
//!
//! A transfer moves its file in blocks of one size (255 KiB against OpenSSH and sshwire), each
//! in a buffer of its own that is filled on one thread and freed on another once sent or
//! written. The system allocator returns such memory to the kernel between the two (glibc
//! trims its per-thread arenas), so every fresh block faulted its pages in again: 6.6% of the
//! server's samples in a profile of a 1 GiB download. [`take`] and [`give`] keep a few of
//! them, process-wide, at most [`MAX_SPARE`] buffers of at most [`MAX_KEPT`] bytes (8 MiB in
//! all at 255 KiB).
//!
//! [`take`] hands out only a buffer of exactly the capacity asked for, so that a caller that
//! reads into the spare capacity (as far as it goes) never reads more than it meant to.

use std::sync::Mutex;

/// Buffers kept at most.
pub const MAX_SPARE: usize = 32;
/// Buffers smaller than this are not worth keeping.
pub const MIN_KEPT: usize = 16 * 1024;
/// Buffers larger than this are not kept.
pub const MAX_KEPT: usize = 1024 * 1024;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer with a capacity of exactly `capacity` bytes: a spare one if there is one
/// of that size, else a new one.
pub fn take(capacity: usize) -> Vec<u8> {
    if (MIN_KEPT..=MAX_KEPT).contains(&capacity)
        && let Ok(mut spare) = SPARE.lock()
        && let Some(i) = spare.iter().rposition(|b| b.capacity() == capacity)
    {
        return spare.swap_remove(i);
    }
    Vec::with_capacity(capacity)
}

/// A kept buffer of at least `min_capacity` bytes, if there is one: for a reader that fills
/// buffers of its own sizes (the SSH transport, with packets a server's `WRITE`s took).
pub fn take_at_least(min_capacity: usize) -> Option<Vec<u8>> {
    let mut spare = SPARE.lock().ok()?;
    let i = spare.iter().rposition(|b| b.capacity() >= min_capacity)?;
    Some(spare.swap_remove(i))
}

/// Keeps `buf` for a later [`take`] of its capacity, if it is of a size worth keeping;
/// otherwise frees it. When [`MAX_SPARE`] are kept already, the oldest goes, so that buffers
/// of a size nobody asks for any more do not hold the places.
pub fn give(mut buf: Vec<u8>) {
    if !(MIN_KEPT..=MAX_KEPT).contains(&buf.capacity()) {
        return;
    }
    buf.clear();
    let evicted = match SPARE.lock() {
        Ok(mut spare) => {
            let oldest = (spare.len() >= MAX_SPARE).then(|| spare.remove(0));
            spare.push(buf);
            oldest
        }
        Err(_) => None,
    };
    // Freed outside the lock.
    drop(evicted);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer given back comes out again, empty and of exactly the size asked for; other
    /// sizes get new buffers; tiny and huge buffers are not kept.
    #[test]
    fn buffers_come_back_only_at_their_exact_size() {
        // A size no other test uses, since the pool is process-wide.
        let size = MIN_KEPT + 12_345;
        let mut b = Vec::with_capacity(size);
        b.extend_from_slice(&[7; 100]);
        let ptr = b.as_ptr();
        give(b);
        let other = take(size + 1);
        assert_eq!(other.capacity(), size + 1);
        let again = take(size);
        assert_eq!(
            (again.as_ptr(), again.len(), again.capacity()),
            (ptr, 0, size)
        );
        give(Vec::with_capacity(MIN_KEPT - 1));
        give(Vec::with_capacity(MAX_KEPT + 1));
        let kept = SPARE.lock().unwrap();
        assert!(
            kept.iter()
                .all(|b| (MIN_KEPT..=MAX_KEPT).contains(&b.capacity()))
        );
    }

    /// No more than MAX_SPARE buffers are kept.
    #[test]
    fn the_pool_is_bounded() {
        for _ in 0..MAX_SPARE + 10 {
            give(Vec::with_capacity(MIN_KEPT + 777));
        }
        assert!(SPARE.lock().unwrap().len() <= MAX_SPARE);
    }
}
