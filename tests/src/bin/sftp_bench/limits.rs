//! The machine's limits: how fast ring seals 256 KiB buffers, how fast loopback TCP moves
//! 1 GiB in 256 KiB writes, and how fast a new file takes 1 GiB where the puts write.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use ring::aead::chacha20_poly1305_openssh::{SealingKey, TAG_LEN};
use ring::aead::{Aad, Algorithm, LessSafeKey, Nonce, UnboundKey};

/// The buffer sealed at a time, and written at a time.
const BUFFER: usize = 256 * 1024;
/// How long each AEAD measurement runs at least.
const MEASURE: Duration = Duration::from_secs(1);
/// What loopback TCP carries, and what the file write writes, per measurement.
const MEASURED_BYTES: usize = 1 << 30;

/// MiB/s of `bytes` in `time`.
fn rate(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / time.as_secs_f64()
}

/// Seals buffers with `seal` for at least [`MEASURE`]; MiB/s.
fn seal_rate(mut seal: impl FnMut(u32, &mut [u8])) -> f64 {
    let mut buf = vec![0x5au8; BUFFER];
    let start = Instant::now();
    let mut sealed = 0;
    let mut seq = 0u32;
    while sealed < 4 || start.elapsed() < MEASURE {
        seal(seq, &mut buf);
        seq = seq.wrapping_add(1);
        sealed += 1;
    }
    rate(sealed * BUFFER, start.elapsed())
}

/// AES-GCM as SSH uses it: a 12-byte nonce counting up, the packet length as AAD.
pub fn aes_gcm(alg: &'static Algorithm) -> f64 {
    let key_bytes = vec![7u8; alg.key_len()];
    let key = LessSafeKey::new(UnboundKey::new(alg, &key_bytes).unwrap());
    seal_rate(|seq, buf| {
        let mut nonce = [0u8; 12];
        nonce[8..].copy_from_slice(&seq.to_be_bytes());
        let aad = (buf.len() as u32).to_be_bytes();
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
            .unwrap();
        let _ = std::hint::black_box(tag);
    })
}

/// ChaCha20-Poly1305 the OpenSSH way (PROTOCOL.chacha20poly1305): ring's construction with
/// its two keys, the length sealed with the first.
pub fn chacha20_poly1305_openssh() -> f64 {
    let key = SealingKey::new(&[9u8; 64]);
    seal_rate(|seq, buf| {
        let mut tag = [0u8; TAG_LEN];
        key.seal_in_place(seq, buf, &mut tag);
        let _ = std::hint::black_box(tag);
    })
}

/// One thread writes [`MEASURED_BYTES`] to 127.0.0.1 in 256 KiB writes, this one reads them;
/// MiB/s from connecting to the last byte read.
pub fn loopback() -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let block = vec![0xa5u8; BUFFER];
        for _ in 0..MEASURED_BYTES / BUFFER {
            s.write_all(&block).unwrap();
        }
    });
    let (mut s, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; BUFFER];
    let mut got = 0;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    let time = start.elapsed();
    writer.join().unwrap();
    assert_eq!(got, MEASURED_BYTES);
    rate(got, time)
}

/// Writes [`MEASURED_BYTES`] to a new file in `dir` in 256 KiB writes (what every put's
/// server does, whoever serves) and removes it; MiB/s from creating it to the last write.
///
/// On tmpfs this is the page cache taking new pages, which costs a processor about as much
/// as the copy itself: the ceiling of a put, below the network's.
pub fn file_write(dir: &Path) -> f64 {
    let path = dir.join("limit-write.bin");
    let block = vec![0xa5u8; BUFFER];
    let start = Instant::now();
    let mut file = std::fs::File::create(&path).unwrap();
    for _ in 0..MEASURED_BYTES / BUFFER {
        file.write_all(&block).unwrap();
    }
    drop(file);
    let time = start.elapsed();
    std::fs::remove_file(&path).unwrap();
    rate(MEASURED_BYTES, time)
}
