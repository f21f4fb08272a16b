//! The engine's settings: windows, packet sizes and limits.

/// Settings of a [`crate::Connection`].
///
/// Two presets: [`Config::openssh`] (the default) advertises what OpenSSH advertises for its
/// session channels, 2 MiB of window and 32 KiB packets, so that an OpenSSH peer sees nothing
/// unusual; [`Config::sshwire`] advertises 16 MiB and 256 KiB less 16 bytes, for a peer known to be sshwire
/// (the endpoint can tell from the peer's identification string). A bigger window lets one
/// channel keep more bytes in flight: throughput is at most window / round-trip time, so 2 MiB
/// over a 50 ms path caps a channel at 40 MiB/s, and 16 MiB at 320 MiB/s. Bigger packets
/// halve the per-packet costs (MAC, header, syscall share) several times over.
///
/// What we *send* is always limited by what the peer advertised, whatever the preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Receive window we advertise for each channel, in bytes: the most data the peer may
    /// send that the application has not yet consumed. Also the most data the engine buffers
    /// per channel.
    pub initial_window: u32,
    /// Largest data packet we accept (and advertise), in bytes of data.
    pub max_packet: u32,
    /// Largest data packet we send, whatever the peer advertises: the transport refuses
    /// payloads above 256 KiB, and a data payload carries 9 to 13 bytes of header.
    pub max_send_packet: u32,
    /// Most channels open at once, in any state, both directions together. Opens beyond are
    /// refused with `SSH_OPEN_RESOURCE_SHORTAGE`.
    pub max_channels: usize,
    /// Most requests from the peer (global and channel) that the application has not yet
    /// taken as events or answered. A peer that piles up more is disconnected: replies must go
    /// in order, so we cannot skip ahead, and we will not queue without bound.
    pub max_pending_requests: usize,
    /// Most payloads waiting in [`crate::Connection::poll_transmit`] before
    /// [`crate::Connection::handle_message`] refuses more input with
    /// [`crate::Error::OutputFull`].
    pub max_queued_transmits: usize,
}

/// 2 MiB: OpenSSH's `CHAN_SES_WINDOW_DEFAULT`.
pub const OPENSSH_WINDOW: u32 = 2 * 1024 * 1024;
/// 32 KiB: OpenSSH's `CHAN_SES_PACKET_DEFAULT`.
pub const OPENSSH_MAX_PACKET: u32 = 32 * 1024;
/// 16 MiB: the window sshwire advertises to sshwire.
pub const SSHWIRE_WINDOW: u32 = 16 * 1024 * 1024;
/// 256 KiB less 16 bytes: the packet size sshwire advertises to sshwire.
///
/// Not a full 256 KiB, because the transport's payload limit (256 KiB) must also hold the
/// data message's header (13 bytes at most). Large enough for a whole SFTP block (255 KiB of
/// data and its `DATA` or `WRITE` header) to travel as one packet: at 255 KiB, every block
/// took two, the second carrying a few bytes, which doubled the per-packet costs on both
/// ends.
pub const SSHWIRE_MAX_PACKET: u32 = 256 * 1024 - 16;

impl Config {
    /// OpenSSH's session defaults: 2 MiB window, 32 KiB packets.
    pub fn openssh() -> Self {
        Config {
            initial_window: OPENSSH_WINDOW,
            max_packet: OPENSSH_MAX_PACKET,
            max_send_packet: SSHWIRE_MAX_PACKET,
            max_channels: 1024,
            max_pending_requests: 64,
            max_queued_transmits: 4096,
        }
    }

    /// Between sshwire peers: 16 MiB window, 256 KiB packets (less 16 bytes).
    pub fn sshwire() -> Self {
        Config {
            initial_window: SSHWIRE_WINDOW,
            max_packet: SSHWIRE_MAX_PACKET,
            ..Self::openssh()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::openssh()
    }
}
