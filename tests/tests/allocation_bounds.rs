//! No length or count from a peer (or from a file) makes a decoder allocate before it is
//! checked (issue 6, item 5): each decoder is fed a field claiming 2^32 - 1, 2^31 or its
//! limit + 1 bytes or entries with little behind it, and a counting global allocator
//! measures every byte allocated while it runs.
//!
//! The bound asserted is the input's size times a small factor plus a few KiB of fixed
//! structures: far below any limit in docs/security.md ("Limits"), which is what a decoder
//! that reserved by the claimed length would allocate. Everything runs in one test function,
//! so no other test of this binary allocates at the same time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Big-endian u32.
fn be(n: u32) -> [u8; 4] {
    n.to_be_bytes()
}

/// The bytes allocated while `decode` runs (reallocations count their growth).
fn allocated_by<T>(decode: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let out = decode();
    let change = region.change();
    let grown = usize::try_from(change.bytes_reallocated).unwrap_or(0);
    (out, change.bytes_allocated + grown)
}

/// The claimed sizes every case is run with.
const CLAIMS: [u32; 3] = [u32::MAX, 1 << 31, 256 * 1024 + 1];

/// Runs `decode` on `input` and checks that it fails and allocates at most 8 bytes per input
/// byte plus 8 KiB.
fn check(what: &str, input: &[u8], decode: impl FnOnce(&[u8]) -> bool) {
    let (failed, bytes) = allocated_by(|| decode(input));
    assert!(failed, "{what}: a hostile input decoded");
    let bound = 8 * input.len() + 8 * 1024;
    assert!(
        bytes <= bound,
        "{what}: {bytes} bytes allocated for a {}-byte input (bound {bound})",
        input.len()
    );
}

/// `prefix`, then `claim` as a u32, then 16 bytes of data.
fn claiming(prefix: &[u8], claim: u32) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(&be(claim));
    v.extend_from_slice(&[b'a'; 16]);
    v
}

fn wire_types(claim: u32) {
    use sshwire_wire::{NameList, NameListLimits, Reader};
    let input = claiming(&[], claim);
    check("wire string", &input, |i| Reader::new(i).string().is_err());
    check("wire mpint", &input, |i| {
        Reader::new(i).mpint_unsigned().is_err()
    });
    check("wire name-list", &input, |i| {
        Reader::new(i).name_list().is_err()
    });
    check("name-list over its limit", &[b'a'; 64], |i| {
        let limits = NameListLimits {
            max_len: 16,
            ..NameListLimits::default()
        };
        NameList::parse(i, limits).is_err()
    });
}

fn transport(claim: u32) {
    use sshwire_transport::cipher::PacketOpener;
    use sshwire_transport::kexinit::KexInit;
    // packet_length from the first four bytes, with one block behind it.
    let mut packet = be(claim).to_vec();
    packet.extend_from_slice(&[4; 12]);
    check("packet_length", &packet, |i| {
        let mut buf = i.to_vec();
        PacketOpener::plaintext()
            .open(3, &mut buf, 256 * 1024 + 324)
            .is_err()
    });
    // Each of the ten KEXINIT name-lists claiming `claim` bytes in turn.
    for list in 0..10 {
        let mut payload = vec![20];
        payload.extend_from_slice(&[7; 16]);
        for _ in 0..list {
            payload.extend_from_slice(&be(4));
            payload.extend_from_slice(b"none");
        }
        let payload = claiming(&payload, claim);
        check(&format!("KEXINIT name-list {list}"), &payload, |i| {
            KexInit::decode(i).is_err()
        });
    }
}

/// An SSH string.
fn string(s: &[u8]) -> Vec<u8> {
    let mut v = be(s.len() as u32).to_vec();
    v.extend_from_slice(s);
    v
}

fn auth(claim: u32) {
    use sshwire_auth::messages::{InfoRequest, InfoResponse, UserauthRequest};
    let head = |method: &[u8]| {
        [
            vec![50],
            string(b"alice"),
            string(b"ssh-connection"),
            string(method),
        ]
        .concat()
    };
    check("user name", &claiming(&[50], claim), |i| {
        UserauthRequest::decode(i).is_err()
    });
    let password = claiming(&[head(b"password"), vec![0]].concat(), claim);
    check("password", &password, |i| {
        UserauthRequest::decode(i).is_err()
    });
    let algorithm = claiming(&[head(b"publickey"), vec![1]].concat(), claim);
    check("publickey algorithm", &algorithm, |i| {
        UserauthRequest::decode(i).is_err()
    });
    let blob = claiming(
        &[head(b"publickey"), vec![1], string(b"ssh-ed25519")].concat(),
        claim,
    );
    check("publickey blob", &blob, |i| {
        UserauthRequest::decode(i).is_err()
    });
    let signature = [
        head(b"publickey"),
        vec![1],
        string(b"ssh-ed25519"),
        string(&[0; 51]),
    ]
    .concat();
    check("signature", &claiming(&signature, claim), |i| {
        UserauthRequest::decode(i).is_err()
    });
    check("INFO_RESPONSE count", &claiming(&[61], claim), |i| {
        InfoResponse::decode(i).is_err()
    });
    let prompts = [vec![60], string(b""), string(b""), string(b"")].concat();
    check("INFO_REQUEST count", &claiming(&prompts, claim), |i| {
        InfoRequest::decode(i).is_err()
    });
}

fn connection(claim: u32) {
    use sshwire_connection::messages::{ChannelData, ChannelOpen, ChannelRequest};
    check("CHANNEL_OPEN type", &claiming(&[90], claim), |i| {
        ChannelOpen::decode(i).is_err()
    });
    // A session open with a huge window and maximum packet, and a trailing claim.
    let open = [
        vec![90],
        string(b"session"),
        be(1).to_vec(),
        be(u32::MAX).to_vec(),
        be(u32::MAX).to_vec(),
    ]
    .concat();
    check("CHANNEL_OPEN trailing", &claiming(&open, claim), |i| {
        ChannelOpen::decode(i).is_err()
    });
    check("CHANNEL_DATA", &claiming(&[94, 0, 0, 0, 1], claim), |i| {
        ChannelData::decode(i).is_err()
    });
    let exec = [vec![98], be(1).to_vec(), string(b"exec"), vec![1]].concat();
    check("exec command", &claiming(&exec, claim), |i| {
        ChannelRequest::decode(i).is_err()
    });
    let env = [vec![98], be(1).to_vec(), string(b"env"), vec![0]].concat();
    check("env name", &claiming(&env, claim), |i| {
        ChannelRequest::decode(i).is_err()
    });
}

fn sftp(claim: u32) {
    use sshwire_sftp::{MAX_PACKET, Request, Response, decode_frame};
    check("SFTP packet length", &claiming(&[], claim), |i| {
        decode_frame(i, MAX_PACKET).is_err()
    });
    let id = be(7);
    check(
        "NAME count",
        &claiming(&[&[104][..], &id].concat(), claim),
        |i| Response::decode(i).is_err(),
    );
    // ATTRS with only the extended flag, claiming `claim` extended pairs.
    let extended = [&[105][..], &id, &be(0x8000_0000)].concat();
    check("ATTRS extended count", &claiming(&extended, claim), |i| {
        Response::decode(i).is_err()
    });
    check(
        "HANDLE",
        &claiming(&[&[102][..], &id].concat(), claim),
        |i| Response::decode(i).is_err(),
    );
    check(
        "OPEN file name",
        &claiming(&[&[3][..], &id].concat(), claim),
        |i| Request::decode(i).is_err(),
    );
    let write = [&[6][..], &id, &string(b"h"), &[0; 8]].concat();
    check("WRITE data", &claiming(&write, claim), |i| {
        Request::decode(i).is_err()
    });
    check(
        "READ handle",
        &claiming(&[&[5][..], &id].concat(), claim),
        |i| Request::decode(i).is_err(),
    );
    let version = [&[2][..], &be(3), &string(b"ext@example.com")].concat();
    check("VERSION extension data", &claiming(&version, claim), |i| {
        Response::decode(i).is_err()
    });
}

/// Base64 (standard alphabet, padded), for the key file cases.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn keys(claim: u32) {
    use sshwire_keys::authorized_keys::AuthorizedKeys;
    use sshwire_keys::known_hosts::KnownHosts;
    use sshwire_keys::{PrivateKey, PublicKey};
    // A key blob whose name, or whose first field, claims `claim` bytes.
    let blobs = [
        claiming(&[], claim),
        claiming(&string(b"ssh-ed25519"), claim),
        claiming(&string(b"ssh-rsa"), claim),
        claiming(&[string(b"ssh-rsa"), string(&[1, 0, 1])].concat(), claim),
        claiming(
            &[string(b"ecdsa-sha2-nistp256"), string(b"nistp256")].concat(),
            claim,
        ),
    ];
    for blob in &blobs {
        check("public key blob", blob, |i| {
            PublicKey::from_blob(i).is_err()
        });
        let line = format!("ssh-ed25519 {} c", base64(blob));
        check("public key line", line.as_bytes(), |i| {
            PublicKey::from_openssh(std::str::from_utf8(i).unwrap()).is_err()
        });
        let authorized = format!("restrict,from=\"*\" {line}\n{line}\n");
        check("authorized_keys", authorized.as_bytes(), |i| {
            AuthorizedKeys::parse(std::str::from_utf8(i).unwrap())
                .keys
                .is_empty()
        });
        let known = format!(
            "host.example,10.0.0.1 {line}\n|1|{}|{} {line}\n",
            base64(b"salt"),
            base64(&[0; 20])
        );
        check("known_hosts", known.as_bytes(), |i| {
            KnownHosts::parse(std::str::from_utf8(i).unwrap())
                .0
                .is_empty()
        });
    }
    // openssh-key-v1 (PROTOCOL.key) with a huge count of keys, or a huge field.
    let magic = b"openssh-key-v1\0".to_vec();
    let none = [string(b"none"), string(b"none"), string(b"")].concat();
    let files = [
        claiming(&magic, claim),
        claiming(&[magic.clone(), none.clone()].concat(), claim),
        claiming(
            &[magic.clone(), none.clone(), be(1).to_vec()].concat(),
            claim,
        ),
        claiming(
            &[
                magic.clone(),
                none.clone(),
                be(1).to_vec(),
                string(&blobs[1]),
            ]
            .concat(),
            claim,
        ),
        claiming(
            &[magic, string(b"aes256-ctr"), string(b"bcrypt")].concat(),
            claim,
        ),
    ];
    for file in &files {
        let text = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            base64(file)
        );
        check("openssh-key-v1", text.as_bytes(), |i| {
            PrivateKey::from_openssh(i, Some(b"pw")).is_err()
        });
    }
}

#[test]
fn no_claimed_length_is_allocated_before_it_is_checked() {
    // The counter works: a 1 MiB vector is seen.
    let (_, bytes) = allocated_by(|| vec![0u8; 1 << 20]);
    assert!(bytes >= 1 << 20, "{bytes}");
    for claim in CLAIMS {
        wire_types(claim);
        transport(claim);
        auth(claim);
        connection(claim);
        sftp(claim);
        keys(claim);
    }
}
