//! Flow control: the window we advertised to the peer and the window the peer granted us.
//!
//! RFC 4254 §5.2: "The maximum amount of data allowed is determined by the maximum packet size
//! for the channel and the current window size, whichever is smaller. The window size is
//! decremented by the amount of data sent."

/// The receive side: what the peer may still send us on one channel.
///
/// Invariant: `available + buffered + unadvertised == size`, where `buffered` is what the
/// application has not consumed yet. So the bytes held for the application never exceed
/// `size`, and a reader that stops consuming stops the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvWindow {
    /// The window we advertised when the channel opened, and keep re-opening to.
    size: u32,
    /// Bytes the peer may send before the next WINDOW_ADJUST.
    available: u32,
    /// Bytes the application consumed that we have not yet given back.
    unadvertised: u32,
    /// Largest data packet we accept.
    max_packet: u32,
}

/// Why received data is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecvError {
    /// More data than the window allows.
    BeyondWindow,
    /// A packet larger than the maximum packet size.
    TooLarge,
}

impl RecvWindow {
    /// A window of `size` bytes accepting packets of at most `max_packet` bytes.
    pub(crate) fn new(size: u32, max_packet: u32) -> Self {
        RecvWindow {
            size,
            available: size,
            unadvertised: 0,
            max_packet,
        }
    }

    /// The window size we advertise.
    pub(crate) fn size(&self) -> u32 {
        self.size
    }

    /// The maximum packet size we advertise.
    pub(crate) fn max_packet(&self) -> u32 {
        self.max_packet
    }

    /// Bytes the peer may still send.
    #[cfg(test)]
    pub(crate) fn available(&self) -> u32 {
        self.available
    }

    /// Accounts for `len` bytes of data received.
    pub(crate) fn receive(&mut self, len: usize) -> Result<(), RecvError> {
        // RFC 4254 §5.1: "The 'maximum packet size' specifies the maximum size of an
        // individual data packet that can be sent to the sender."
        let len = u32::try_from(len).map_err(|_| RecvError::TooLarge)?;
        if len > self.max_packet {
            return Err(RecvError::TooLarge);
        }
        // RFC 4254 §5.2: "Both parties MAY ignore all extra data sent after the allowed window
        // is empty." We refuse it instead: a peer that ignores our window is broken or hostile,
        // and dropping bytes silently would corrupt the stream.
        self.available = self
            .available
            .checked_sub(len)
            .ok_or(RecvError::BeyondWindow)?;
        Ok(())
    }

    /// Accounts for `n` bytes the application consumed (or that were discarded).
    pub(crate) fn consume(&mut self, n: u32) {
        self.unadvertised = self.unadvertised.saturating_add(n);
    }

    /// The WINDOW_ADJUST to send now, if any.
    ///
    /// We give bytes back once half the window has been consumed: often enough that a sender
    /// never waits while the receiver has room, rarely enough that adjusts are a small share
    /// of the traffic (one per `size / 2` bytes).
    pub(crate) fn take_adjust(&mut self) -> Option<u32> {
        let threshold = (self.size / 2).max(1);
        if self.unadvertised < threshold {
            return None;
        }
        let n = self.unadvertised;
        self.unadvertised = 0;
        self.available = self.available.saturating_add(n);
        Some(n)
    }
}

/// The send side: what the peer lets us send on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendWindow {
    /// Bytes we may send before the peer's next WINDOW_ADJUST.
    available: u32,
    /// Largest data packet we send: the peer's maximum, capped by our own.
    max_packet: u32,
}

/// A WINDOW_ADJUST would take the window above 2^32 - 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowOverflow;

impl SendWindow {
    /// The window the peer granted, with packets capped at `min(peer_max, our_cap)`.
    pub(crate) fn new(window: u32, peer_max_packet: u32, our_cap: u32) -> Self {
        SendWindow {
            available: window,
            max_packet: peer_max_packet.min(our_cap),
        }
    }

    /// A window of nothing: before the peer has confirmed the channel.
    pub(crate) fn closed() -> Self {
        SendWindow {
            available: 0,
            max_packet: 0,
        }
    }

    /// Bytes we may send now, in any number of packets.
    pub(crate) fn available(&self) -> u32 {
        self.available
    }

    /// Largest data packet we send.
    pub(crate) fn max_packet(&self) -> u32 {
        self.max_packet
    }

    /// How many of `want` bytes fit in one packet now.
    pub(crate) fn packet_len(&self, want: usize) -> usize {
        let cap = self.available.min(self.max_packet);
        usize::try_from(cap).map_or(want, |cap| cap.min(want))
    }

    /// Accounts for `n` bytes sent (`n` no more than [`SendWindow::packet_len`] allowed).
    pub(crate) fn spend(&mut self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.available = self.available.saturating_sub(n);
    }

    /// Applies the peer's WINDOW_ADJUST.
    pub(crate) fn adjust(&mut self, n: u32) -> Result<(), WindowOverflow> {
        // RFC 4254 §5.2: "Implementations MUST correctly handle window sizes of up to 2^32 - 1
        // bytes. The window MUST NOT be increased above 2^32 - 1 bytes."
        self.available = self.available.checked_add(n).ok_or(WindowOverflow)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn receive_checks_packet_then_window() {
        let mut w = RecvWindow::new(100, 40);
        assert_eq!(w.receive(41), Err(RecvError::TooLarge));
        w.receive(40).unwrap();
        w.receive(40).unwrap();
        assert_eq!(w.receive(21), Err(RecvError::BeyondWindow));
        w.receive(20).unwrap();
        assert_eq!(w.available(), 0);
        assert_eq!(w.receive(1), Err(RecvError::BeyondWindow));
    }

    #[test]
    fn adjust_after_half_is_consumed() {
        let mut w = RecvWindow::new(100, 100);
        w.receive(100).unwrap();
        w.consume(49);
        assert_eq!(w.take_adjust(), None);
        w.consume(1);
        assert_eq!(w.take_adjust(), Some(50));
        assert_eq!(w.available(), 50);
        assert_eq!(w.take_adjust(), None);
    }

    #[test]
    fn tiny_window_still_reopens() {
        let mut w = RecvWindow::new(1, 1);
        w.receive(1).unwrap();
        w.consume(1);
        assert_eq!(w.take_adjust(), Some(1));
    }

    #[test]
    fn send_window_overflow_is_refused() {
        let mut s = SendWindow::new(u32::MAX - 5, 10, 100);
        s.adjust(5).unwrap();
        assert_eq!(s.adjust(1), Err(WindowOverflow));
        assert_eq!(s.available(), u32::MAX);
    }

    #[test]
    fn packet_len_is_min_of_window_packet_and_want() {
        let mut s = SendWindow::new(25, 10, 8);
        assert_eq!(s.packet_len(100), 8);
        assert_eq!(s.packet_len(3), 3);
        s.spend(20);
        assert_eq!(s.packet_len(100), 5);
        assert_eq!(SendWindow::closed().packet_len(1), 0);
    }

    proptest! {
        /// Whatever the peer sends and the application consumes, the invariant holds and the
        /// bytes held never exceed the window.
        #[test]
        fn receive_invariant(size in 1u32..10_000, steps in proptest::collection::vec((any::<bool>(), 0u32..3000), 0..200)) {
            let mut w = RecvWindow::new(size, size);
            let mut buffered: u64 = 0;
            for (recv, n) in steps {
                if recv {
                    if w.receive(n as usize).is_ok() {
                        buffered += u64::from(n);
                    }
                } else {
                    let n = u64::from(n).min(buffered);
                    buffered -= n;
                    w.consume(n as u32);
                    let _ = w.take_adjust();
                }
                prop_assert!(buffered <= u64::from(size));
                prop_assert_eq!(u64::from(w.available) + buffered + u64::from(w.unadvertised), u64::from(size));
            }
        }
    }
}
