//! Request ordering: many requests run at once, yet each sees the effects of those before it
//! that it depends on.
//!
//! filexfer-02 §6.1: "The protocol and implementations MUST process requests relating to the
//! same file in the order in which they are received. In other words, if an application
//! submits multiple requests to the server, the results in the responses will be the same as
//! if it had sent the requests one at a time and waited for the response in each case. For
//! example, the server may process non-overlapping read/write requests to the same file in
//! parallel, but overlapping reads and writes cannot be reordered or parallelized."
//!
//! Each request is admitted, in arrival order, with the [`Access`] it needs; it then waits
//! until no request admitted before it and still running conflicts with it. A request only
//! ever waits for earlier ones, so nothing waits forever: the same section's "processing of no
//! request will be indefinitely delayed".

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use super::lock;

/// What a request touches, for ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anything at all: a request that changes the tree by path or creates a handle (OPEN,
    /// SETSTAT, REMOVE, RENAME, copy-data, ...). Runs alone.
    Exclusive,
    /// Reads metadata by path or handle (STAT, REALPATH, FSTAT, OPENDIR, ...): runs beside
    /// other inspections and beside reads, after earlier writes.
    Inspect,
    /// Bytes `start..end` of the file or directory behind handle `key`: reads run beside
    /// other reads, and beside writes of other ranges or handles; writes to one handle run
    /// one at a time.
    Handle {
        /// The handle, as the client sent it.
        key: Vec<u8>,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
        /// Whether the request changes the file (or the handle's state).
        write: bool,
    },
}

impl Access {
    /// The whole of a handle, for a request that changes it (CLOSE, FSETSTAT, READDIR, ...).
    pub(crate) fn whole(key: &[u8]) -> Access {
        Access::Handle {
            key: key.to_vec(),
            start: 0,
            end: u64::MAX,
            write: true,
        }
    }

    /// Whether two requests may not run at the same time.
    fn conflicts(&self, other: &Access) -> bool {
        match (self, other) {
            (Access::Exclusive, _) | (_, Access::Exclusive) => true,
            (Access::Inspect, Access::Inspect) => false,
            (Access::Inspect, Access::Handle { write, .. })
            | (Access::Handle { write, .. }, Access::Inspect) => *write,
            (
                Access::Handle {
                    key: k1,
                    start: s1,
                    end: e1,
                    write: w1,
                },
                Access::Handle {
                    key: k2,
                    start: s2,
                    end: e2,
                    write: w2,
                },
            ) => {
                // Writes to one handle run one at a time, in arrival order, even where their
                // ranges do not overlap (which §6.1 would allow in parallel): an upload cut
                // off anywhere then leaves a file that is a correct prefix of the source,
                // which is what `reput` (OpenSSH's, and ours) resumes from.
                k1 == k2 && ((*w1 && *w2) || ((*w1 || *w2) && s1 < e2 && s2 < e1))
            }
        }
    }
}

/// The requests admitted and not yet finished.
#[derive(Debug, Default)]
pub(crate) struct Order {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    running: BTreeMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    access: Access,
    waker: Option<Waker>,
}

impl Order {
    /// Admits a request: the next in arrival order.
    pub(crate) fn admit(self: &Arc<Self>, access: Access) -> Ticket {
        let mut state = lock(&self.state);
        let seq = state.next;
        state.next = seq.wrapping_add(1);
        state.running.insert(
            seq,
            Entry {
                access,
                waker: None,
            },
        );
        Ticket {
            order: self.clone(),
            seq,
        }
    }

    /// How many requests are admitted and not finished.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        lock(&self.state).running.len()
    }
}

/// A request's place in the order; dropping it (the request finished, or was abandoned) lets
/// the requests that wait for it go on.
#[derive(Debug)]
pub(crate) struct Ticket {
    order: Arc<Order>,
    seq: u64,
}

impl Ticket {
    /// Waits until no earlier request that conflicts with this one is still running.
    pub(crate) async fn ready(&self) {
        poll_fn(|cx| {
            let mut state = lock(&self.order.state);
            let Some(me) = state.running.get(&self.seq) else {
                return Poll::Ready(());
            };
            let blocked = state
                .running
                .range(..self.seq)
                .any(|(_, earlier)| earlier.access.conflicts(&me.access));
            if !blocked {
                return Poll::Ready(());
            }
            if let Some(me) = state.running.get_mut(&self.seq) {
                me.waker = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let wakers: Vec<Waker> = {
            let mut state = lock(&self.order.state);
            state.running.remove(&self.seq);
            state
                .running
                .range_mut(self.seq..)
                .filter_map(|(_, later)| later.waker.take())
                .collect()
        };
        // Woken outside the lock: a waker may run the task it wakes right here.
        for w in wakers {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::Context;

    fn handle(key: &[u8], start: u64, end: u64, write: bool) -> Access {
        Access::Handle {
            key: key.to_vec(),
            start,
            end,
            write,
        }
    }

    fn is_ready(ticket: &Ticket) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        pin!(ticket.ready()).as_mut().poll(&mut cx).is_ready()
    }

    #[test]
    fn conflicts() {
        let read = |s, e| handle(b"h", s, e, false);
        let write = |s, e| handle(b"h", s, e, true);
        assert!(!read(0, 10).conflicts(&read(0, 10)));
        assert!(read(0, 10).conflicts(&write(5, 6)));
        assert!(!read(0, 10).conflicts(&write(10, 20)));
        assert!(write(0, 10).conflicts(&write(9, 20)));
        assert!(
            write(0, 10).conflicts(&write(10, 20)),
            "writes keep their order"
        );
        assert!(!write(0, 10).conflicts(&handle(b"g", 0, 10, true)));
        assert!(!Access::Inspect.conflicts(&read(0, 1)));
        assert!(Access::Inspect.conflicts(&write(0, 1)));
        assert!(!Access::Inspect.conflicts(&Access::Inspect));
        assert!(Access::Exclusive.conflicts(&Access::Inspect));
        assert!(read(0, 1).conflicts(&Access::Exclusive));
    }

    /// A later request waits for an earlier conflicting one, and goes on once it is dropped;
    /// a request never waits for a later one.
    #[test]
    fn later_requests_wait_for_earlier_conflicting_ones() {
        let order = Arc::new(Order::default());
        let first_write = order.admit(handle(b"h", 0, 10, true));
        let other_handle = order.admit(handle(b"g", 0, 10, true));
        let overlapping_read = order.admit(handle(b"h", 5, 6, false));
        let stat = order.admit(Access::Inspect);
        assert!(is_ready(&first_write));
        assert!(is_ready(&other_handle));
        assert!(!is_ready(&overlapping_read));
        assert!(!is_ready(&stat));
        drop(first_write);
        assert!(is_ready(&overlapping_read));
        assert!(
            !is_ready(&stat),
            "still behind the write on the other handle"
        );
        drop(other_handle);
        assert!(is_ready(&stat));
        let close = order.admit(Access::Exclusive);
        assert!(!is_ready(&close));
        drop(overlapping_read);
        drop(stat);
        assert!(is_ready(&close));
        drop(close);
        assert_eq!(order.running(), 0);
    }

    /// Dropping a ticket wakes the tasks that wait behind it.
    #[test]
    fn finishing_wakes_waiters() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let order = Arc::new(Order::default());
        let first = order.admit(Access::Exclusive);
        let second = order.admit(Access::Inspect);
        let mut wait = pin!(second.ready());
        assert!(
            wait.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        drop(first);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(
            wait.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
        );
    }
}
