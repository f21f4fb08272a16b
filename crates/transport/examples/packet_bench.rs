//! Throughput of the packet layer against the raw primitives it is built on.
//!
//! `cargo run --release -p sshwire-transport --example packet_bench`
//!
//! For every cipher (CTR with each MAC) and payloads of 32 KiB and 256 KiB, measures one
//! `PacketSealer::seal` plus one `PacketOpener::open` of the same packet, and the same bytes
//! pushed through the bare primitive without framing (ring AES-GCM seal+open; AES-CTR + ring
//! HMAC; the OpenSSH ChaCha20-Poly1305 construction on RustCrypto `chacha20` + `poly1305`).
//! Then compares ring's `chacha20_poly1305_openssh` with that RustCrypto construction, which
//! sshwire uses because it measured faster. Throughput is payload bytes
//! per second, in MB/s (10^6 bytes).

use std::convert::Infallible;
use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use aes::{Aes128, Aes192, Aes256};
use chacha20::ChaCha20Legacy;
use ctr::cipher::{KeyInit, KeyIvInit, StreamCipher, StreamCipherSeek};
use poly1305::Poly1305;
use poly1305::universal_hash::UniversalHash;
use rand_core::{TryCryptoRng, TryRng};
use ring::aead::chacha20_poly1305_openssh as openssh;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;
use sshwire_transport::cipher::{CipherAlg, DirectionKeys, MacAlg, PacketOpener, PacketSealer};
use subtle::ConstantTimeEq;

/// Length of one timing slice; figures are the best of [`ROUNDS`] slices.
const SLICE: Duration = Duration::from_millis(15);
/// Slices per figure. The machine is shared, so the two sides of each comparison are timed
/// in alternating slices and the fastest slice of each counts.
const ROUNDS: usize = 8;
/// Payload sizes measured.
const SIZES: [usize; 2] = [32 * 1024, 256 * 1024];
/// `max_packet_len` given to the opener.
const MAX: usize = 256 * 1024 + 1024;

type Res<T> = Result<T, Box<dyn Error>>;

/// xorshift64* padding source. NOT cryptographically secure: for this benchmark only.
struct BenchRng(u64);

impl TryRng for BenchRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        Ok(self.0.wrapping_mul(0x2545_F491_4F6C_DD1D))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(v) {
                *d = s;
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for BenchRng {}

/// Seconds per call of `f` over one [`SLICE`]; counts calls for which `f` returns false.
fn slice(f: &mut dyn FnMut() -> bool, failures: &mut u64) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < SLICE {
        *failures += u64::from(!f());
        n += 1;
    }
    start.elapsed().as_secs_f64() / n as f64
}

/// Best seconds per call of `a` and of `b`, timed in alternating slices.
fn race(a: &mut dyn FnMut() -> bool, b: &mut dyn FnMut() -> bool) -> Res<(f64, f64)> {
    let mut failures = 0;
    for _ in 0..3 {
        failures += u64::from(!a()) + u64::from(!b());
    }
    let (mut ta, mut tb) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..ROUNDS {
        ta = ta.min(slice(a, &mut failures));
        tb = tb.min(slice(b, &mut failures));
    }
    if failures > 0 {
        return Err(format!("{failures} operations failed").into());
    }
    Ok((ta, tb))
}

fn mbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn keys(cipher: CipherAlg, mac: Option<MacAlg>) -> DirectionKeys {
    DirectionKeys::new(
        vec![7; cipher.iv_len()],
        vec![9; cipher.key_len()],
        vec![11; mac.map_or(0, MacAlg::key_len)],
    )
}

/// Seal+open of one packet through sshwire's packet layer.
type Op = Box<dyn FnMut() -> bool>;

fn packet(cipher: CipherAlg, mac: Option<MacAlg>, size: usize) -> Res<Op> {
    let k = keys(cipher, mac);
    let mut sealer = PacketSealer::new(cipher, mac, &k)?;
    let mut opener = PacketOpener::new(cipher, mac, &k)?;
    let payload = vec![0x5a; size];
    let mut out = Vec::with_capacity(size + sealer.overhead(size));
    let mut rng = BenchRng(0x9E37_79B9_7F4A_7C15);
    let mut seq = 0u32;
    Ok(Box::new(move || {
        out.clear();
        let ok = sealer.seal(seq, &payload, &mut rng, &mut out).is_ok()
            && matches!(opener.open(seq, &mut out, MAX), Ok(Some(o)) if o.payload.len() == size);
        seq = seq.wrapping_add(1);
        black_box(&out);
        ok
    }))
}

/// The running AES-CTR keystream for a CTR cipher.
enum Ctr {
    A128(Box<ctr::Ctr128BE<Aes128>>),
    A192(Box<ctr::Ctr128BE<Aes192>>),
    A256(Box<ctr::Ctr128BE<Aes256>>),
}

impl Ctr {
    fn new(cipher: CipherAlg) -> Res<Self> {
        let (key, iv) = (vec![9; cipher.key_len()], [7u8; 16]);
        Ok(match cipher {
            CipherAlg::Aes128Ctr => Ctr::A128(Box::new(ctr::Ctr128BE::new_from_slices(&key, &iv)?)),
            CipherAlg::Aes192Ctr => Ctr::A192(Box::new(ctr::Ctr128BE::new_from_slices(&key, &iv)?)),
            _ => Ctr::A256(Box::new(ctr::Ctr128BE::new_from_slices(&key, &iv)?)),
        })
    }
    fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Ctr::A128(c) => c.apply_keystream(buf),
            Ctr::A192(c) => c.apply_keystream(buf),
            Ctr::A256(c) => c.apply_keystream(buf),
        }
    }
}

/// The same bytes (length field through padding) through the bare primitive, no framing.
fn primitive(cipher: CipherAlg, mac: Option<MacAlg>, body_len: usize) -> Res<Op> {
    let mut buf = vec![0x5a; body_len];
    Ok(match (cipher, mac) {
        (CipherAlg::ChaCha20Poly1305, _) => {
            // sshwire uses the RustCrypto construction (see `compare_chacha`).
            let km: [u8; 64] = [9; 64];
            let mut tag = [0u8; 16];
            Box::new(move || {
                rc_chacha_seal(&km, 1, &mut buf, &mut tag).is_ok()
                    && rc_chacha_open(&km, 1, &mut buf, &tag).is_ok()
            })
        }
        (CipherAlg::Aes256Gcm | CipherAlg::Aes128Gcm, _) => {
            let alg = if cipher == CipherAlg::Aes256Gcm {
                &aead::AES_256_GCM
            } else {
                &aead::AES_128_GCM
            };
            let key = LessSafeKey::new(
                UnboundKey::new(alg, &vec![9; cipher.key_len()]).map_err(|_| "gcm key")?,
            );
            let nonce = || Nonce::assume_unique_for_key([7; 12]);
            let aad: [u8; 4] = buf.get(..4).ok_or("short")?.try_into()?;
            Box::new(move || {
                let Some(rest) = buf.get_mut(4..) else {
                    return false;
                };
                match key.seal_in_place_separate_tag(nonce(), Aad::from(aad), rest) {
                    Ok(tag) => key
                        .open_in_place_separate_tag(nonce(), Aad::from(aad), tag, rest, 0..)
                        .is_ok(),
                    Err(_) => false,
                }
            })
        }
        (_, Some(mac)) => {
            let ring_alg = match mac.mac_len() {
                32 => hmac::HMAC_SHA256,
                64 => hmac::HMAC_SHA512,
                _ => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            };
            let key = hmac::Key::new(ring_alg, &vec![11; mac.key_len()]);
            let (mut enc, mut dec) = (Ctr::new(cipher)?, Ctr::new(cipher)?);
            let seq = 5u32.to_be_bytes();
            let sign = move |data: &[u8]| {
                let mut ctx = hmac::Context::with_key(&key);
                ctx.update(&seq);
                ctx.update(data);
                ctx.sign()
            };
            Box::new(move || {
                let tag = sign(&buf);
                enc.apply(&mut buf);
                dec.apply(&mut buf);
                bool::from(sign(&buf).as_ref().ct_eq(tag.as_ref()))
            })
        }
        (_, None) => return Err("CTR needs a MAC".into()),
    })
}

/// `chacha20-poly1305@openssh.com` from the RustCrypto crates: one packet sealed in place.
fn rc_chacha_seal(km: &[u8; 64], seq: u32, packet: &mut [u8], tag: &mut [u8; 16]) -> Res<()> {
    let (k2, k1) = km.split_at(32);
    let nonce = u64::from(seq).to_be_bytes();
    let (len, rest) = packet.split_at_mut_checked(4).ok_or("short packet")?;
    ChaCha20Legacy::new_from_slices(k1, &nonce)?.apply_keystream(len);
    let mut c2 = ChaCha20Legacy::new_from_slices(k2, &nonce)?;
    let mut poly_key = [0u8; 32];
    c2.apply_keystream(&mut poly_key);
    c2.seek(64u64);
    c2.apply_keystream(rest);
    let t = poly_tag(&poly_key, packet)?;
    tag.copy_from_slice(&t);
    Ok(())
}

/// The RustCrypto construction's open: verify the tag, then decrypt in place.
fn rc_chacha_open(km: &[u8; 64], seq: u32, packet: &mut [u8], tag: &[u8; 16]) -> Res<()> {
    let (k2, k1) = km.split_at(32);
    let nonce = u64::from(seq).to_be_bytes();
    let mut c2 = ChaCha20Legacy::new_from_slices(k2, &nonce)?;
    let mut poly_key = [0u8; 32];
    c2.apply_keystream(&mut poly_key);
    let t = poly_tag(&poly_key, packet)?;
    if !bool::from(t.as_slice().ct_eq(tag)) {
        return Err("tag mismatch".into());
    }
    let (len, rest) = packet.split_at_mut_checked(4).ok_or("short packet")?;
    ChaCha20Legacy::new_from_slices(k1, &nonce)?.apply_keystream(len);
    c2.seek(64u64);
    c2.apply_keystream(rest);
    Ok(())
}

/// Poly1305 of `data`, unpadded, its whole blocks through `update` (four at a time).
fn poly_tag(key: &[u8; 32], data: &[u8]) -> Res<poly1305::Tag> {
    let mut mac = Poly1305::new_from_slice(key)?;
    let (blocks, tail) = poly1305::Block::slice_as_chunks(data);
    mac.update(blocks);
    Ok(mac.compute_unpadded(tail))
}

/// Poly1305 over a packet two ways: `compute_unpadded` alone (the blocks one at a time
/// through the backend's cache) and [`poly_tag`].
fn compare_poly1305() -> Res<()> {
    let key = [0x17u8; 32];
    println!();
    println!("Poly1305 of one packet, MB/s: compute_unpadded alone vs whole blocks through update");
    for size in SIZES {
        let data = vec![0x5a; size + 4];
        let slow = Poly1305::new_from_slice(&key)?.compute_unpadded(&data);
        if slow != poly_tag(&key, &data)? {
            return Err("the two Poly1305 paths disagree".into());
        }
        let (one, four) = race(
            &mut || {
                let t =
                    Poly1305::new_from_slice(&key).map(|m| m.compute_unpadded(black_box(&data)));
                t.map(black_box).is_ok()
            },
            &mut || poly_tag(&key, black_box(&data)).map(black_box).is_ok(),
        )?;
        println!(
            "  {:>4} KiB   compute_unpadded {:>8.0}   update + tail {:>8.0}   {:.2}x",
            size / 1024,
            mbps(size, one),
            mbps(size, four),
            one / four
        );
    }
    Ok(())
}

fn compare_chacha() -> Res<()> {
    let km = [0x42u8; 64];
    // Both constructions must agree before their speeds mean anything.
    let mut a: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let mut b = a.clone();
    let (mut ta, mut tb) = ([0u8; 16], [0u8; 16]);
    openssh::SealingKey::new(&km).seal_in_place(77, &mut a, &mut ta);
    rc_chacha_seal(&km, 77, &mut b, &mut tb)?;
    if a != b || ta != tb {
        return Err("ring and RustCrypto ChaCha20-Poly1305 disagree".into());
    }
    println!();
    println!("chacha20-poly1305@openssh.com seal+open, MB/s: ring vs RustCrypto chacha20+poly1305");
    for size in SIZES {
        let (s, o) = (openssh::SealingKey::new(&km), openssh::OpeningKey::new(&km));
        let (mut buf_a, mut tag_a) = (vec![0x5a; size + 4], [0u8; 16]);
        let (mut buf_b, mut tag_b) = (buf_a.clone(), [0u8; 16]);
        let (ring_secs, rc_secs) = race(
            &mut || {
                s.seal_in_place(3, &mut buf_a, &mut tag_a);
                o.open_in_place(3, &mut buf_a, &tag_a).is_ok()
            },
            &mut || {
                rc_chacha_seal(&km, 3, &mut buf_b, &mut tag_b).is_ok()
                    && rc_chacha_open(&km, 3, &mut buf_b, &tag_b).is_ok()
            },
        )?;
        println!(
            "  {:>4} KiB   ring {:>8.0}   RustCrypto {:>8.0}   ring is {:.2}x as fast",
            size / 1024,
            mbps(size, ring_secs),
            mbps(size, rc_secs),
            rc_secs / ring_secs
        );
    }
    Ok(())
}

fn main() -> Res<()> {
    println!(
        "seal+open round trip, payload MB/s (10^6 B/s); best of {ROUNDS} alternating {} ms slices",
        SLICE.as_millis()
    );
    println!(
        "{:<30} {:<30} {:>8} {:>10} {:>10} {:>9}",
        "cipher", "mac", "payload", "packet", "primitive", "overhead"
    );
    let mut worst: f64 = 0.0;
    for cipher in CipherAlg::ALL {
        let macs: Vec<Option<MacAlg>> = if cipher.is_aead() {
            vec![None]
        } else {
            MacAlg::ALL.into_iter().map(Some).collect()
        };
        for mac in macs {
            for size in SIZES {
                let sealer = PacketSealer::new(cipher, mac, &keys(cipher, mac))?;
                let tag_len = if cipher.is_aead() {
                    16
                } else {
                    mac.map_or(0, MacAlg::mac_len)
                };
                let body_len = size + sealer.overhead(size) - tag_len;
                let (p, r) = race(
                    &mut *packet(cipher, mac, size)?,
                    &mut *primitive(cipher, mac, body_len)?,
                )
                .map_err(|e| format!("{cipher} {mac:?}: {e}"))?;
                let overhead = (p / r - 1.0) * 100.0;
                worst = worst.max(overhead);
                println!(
                    "{:<30} {:<30} {:>5} KiB {:>10.0} {:>10.0} {:>8.1}%",
                    cipher.name(),
                    mac.map_or("(aead)", MacAlg::name),
                    size / 1024,
                    mbps(size, p),
                    mbps(size, r),
                    overhead
                );
            }
        }
    }
    println!("worst packet-layer overhead over the primitive: {worst:.1}%");
    compare_chacha()?;
    compare_poly1305()
}
