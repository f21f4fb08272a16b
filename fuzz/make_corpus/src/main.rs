//! Writes the seed corpora of the sshwire fuzz targets, made with sshwire's own encoders.
//!
//! Usage: `cargo run --manifest-path fuzz/Cargo.toml -p sshwire-fuzz-make-corpus [DIR]`;
//! the seeds go to `DIR/<target>/` (default: `fuzz/corpus/`). Every seed is deterministic, so
//! running it again rewrites the same files.
#![forbid(unsafe_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sshwire_fuzz::{
    EngineInput, FuzzRng, VERIFY_MESSAGE, client_engine, drive, engine_config, host_keys, react,
    sealer, server_engine, signing_keys, suites,
};
use sshwire_keys::{PrivateKey, SignatureAlgorithm};
use sshwire_sftp::{
    Attrs, ExtendedRequest, LimitsReply, NameEntry, OPENSSH_EXTENSIONS, OpenFlags, Owner, Request,
    Response, StatusCode, StatvfsReply, SymlinkOrder, Times, UsersGroupsReply,
};
use sshwire_transport::Config;
use sshwire_transport::cipher::{CipherAlg, MacAlg, PacketOpener};
use sshwire_transport::compress::Compression;
use sshwire_transport::kex::{KexAlg, KexClient, server_reply};
use sshwire_transport::kexinit::KexInit;
use sshwire_wire::{Reader, Writer};

/// RFC 3526 §3, the 2048-bit MODP prime, as a seed for group exchange groups.
const MODP_2048: &str = "\
    FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
    020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
    4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
    EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05\
    98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB\
    9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B\
    E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718\
    3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

struct Corpus {
    root: PathBuf,
    count: usize,
}

impl Corpus {
    fn put(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("creating the corpus directory");
        fs::write(dir.join(name), data).expect("writing a seed");
        self.count += 1;
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The payload of the first packet after the identification line of an engine's first flight.
fn first_payload(flight: &[u8]) -> Vec<u8> {
    let at = flight
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("an identification line")
        + 2;
    let mut packet = flight[at..].to_vec();
    let opened = PacketOpener::plaintext()
        .open(0, &mut packet, 1 << 20)
        .expect("a plaintext packet")
        .expect("a whole packet");
    packet[opened.payload].to_vec()
}

fn wire_reader(c: &mut Corpus) {
    let mut w = Writer::new();
    w.u8(20)
        .bool(true)
        .u32(0xdead_beef)
        .u64(1 << 40)
        .string(b"hello")
        .mpint_unsigned(&[0x80, 1])
        .name_list(["curve25519-sha256", "ext-info-c"])
        .string("caf\u{e9}".as_bytes())
        .string(b"0123456789")
        .raw(b"tail");
    // byte, bool, u32, u64, string, mpint, name-list, utf8, string_limited(12), bytes(4).
    let ops = [0, 1, 2, 3, 4, 7, 8, 6, (3 << 4) | 5, (4 << 4) | 10, 12];
    c.put(
        "wire_reader",
        "all_types",
        &cat(&[&[ops.len() as u8], &ops, w.as_slice()]),
    );
    let ops = [9 | (15 << 4), 13];
    let mut w = Writer::new();
    w.name_list(["a", "b@c", "d"]).u32(7);
    c.put(
        "wire_reader",
        "name_list_limited",
        &cat(&[&[ops.len() as u8], &ops, w.as_slice()]),
    );
}

fn name_list(c: &mut Corpus) {
    let config = engine_config();
    let kex: Vec<&str> = config.kex.iter().map(|k| k.name()).collect();
    let ciphers: Vec<&str> = config.ciphers.iter().map(|k| k.name()).collect();
    let macs: Vec<&str> = MacAlg::ALL.iter().map(|k| k.name()).collect();
    for (name, list) in [("kex", kex), ("ciphers", ciphers), ("macs", macs)] {
        c.put(
            "name_list",
            name,
            &cat(&[&[255, 255], list.join(",").as_bytes()]),
        );
    }
    c.put("name_list", "limited", &cat(&[&[2, 4], b"zlib,none"]));
}

fn kexinit(c: &mut Corpus) {
    let client = client_engine(engine_config());
    let server = server_engine(engine_config());
    for (name, mut engine) in [("client", client), ("server", server)] {
        let mut flight = Vec::new();
        engine.poll_transmit(&mut flight);
        c.put("kexinit", name, &first_payload(&flight));
    }
    let mut w = Writer::new();
    KexInit::default().encode(&mut w);
    c.put("kexinit", "empty", w.as_slice());
}

fn packet_open(c: &mut Corpus) {
    for (i, suite) in suites().into_iter().enumerate() {
        let mut s = sealer(suite);
        let mut rng = FuzzRng::new(i as u64);
        let mut wire = Vec::new();
        s.seal(3, &[5, 0, 0, 0, 12], &mut rng, &mut wire)
            .expect("seal");
        s.seal(
            4,
            b"\x5ea second packet, a little longer",
            &mut rng,
            &mut wire,
        )
        .expect("seal");
        let header = [i as u8, 7, 0, 0, 0, 3, 1];
        c.put(
            "packet_open",
            &format!("suite{i:02}"),
            &cat(&[&header, &wire]),
        );
    }
}

fn packet_seal_open(c: &mut Corpus) {
    // Whatever bytes `arbitrary` turns into a `Case`: suite, seq, padding seed, payload, flips.
    for (i, _) in suites().into_iter().enumerate() {
        let mut seed = vec![i as u8, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8];
        seed.extend_from_slice(&[16, 94, 0, 0, 0, 4, b't', b'e', b's', b't', 1, 2, 3, 4]);
        c.put("packet_seal_open", &format!("suite{i:02}"), &seed);
    }
}

fn public_key(c: &mut Corpus) {
    let mut keys: Vec<PrivateKey> = signing_keys().to_vec();
    keys.extend(host_keys().iter().map(|k| PrivateKey::clone(k)));
    for (i, key) in keys.iter().enumerate() {
        let public = key.public_key();
        let blob = public.to_blob();
        c.put("public_key", &format!("blob{i}"), &cat(&[&[0], &blob]));
        let line = public.to_openssh("fuzz@sshwire");
        c.put(
            "public_key",
            &format!("line{i}"),
            &cat(&[&[1], line.as_bytes()]),
        );
    }
    let mut rng = FuzzRng::new(5);
    for (k, key) in signing_keys().iter().enumerate() {
        // No local key signs SHA-1 `ssh-rsa` any more (see the public_key target).
        for (a, alg) in SignatureAlgorithm::ALL
            .into_iter()
            .filter(|a| a.key_type() == key.key_type() && *a != SignatureAlgorithm::RsaSha1)
            .enumerate()
        {
            let signature = key.sign(alg, VERIFY_MESSAGE, &mut rng).expect("sign");
            let name = format!("{}", alg.name());
            c.put(
                "public_key",
                &format!("sigblob_{name}"),
                &cat(&[&[2], &signature]),
            );
            c.put(
                "public_key",
                &format!("verify_{name}"),
                &cat(&[&[3], &signature]),
            );
            let pick = (k + 4 * a) as u8;
            c.put(
                "public_key",
                &format!("flip_{name}"),
                &cat(&[&[4, pick, 1, 0], b"data to sign"]),
            );
        }
    }
}

fn private_key(c: &mut Corpus) {
    let mut rng = FuzzRng::new(6);
    for key in signing_keys() {
        let name = key.key_type().name();
        let text = key
            .to_openssh("fuzz@sshwire", None, &mut rng)
            .expect("encode");
        c.put(
            "private_key",
            &format!("text_{name}"),
            &cat(&[&[0], text.as_bytes()]),
        );
        let binary = dearmor(text.as_bytes());
        c.put(
            "private_key",
            &format!("binary_{name}"),
            &cat(&[&[1], &binary]),
        );
    }
    // An encrypted file as written (16 bcrypt rounds: only its header is parsed with a
    // passphrase refused for cost), and its body asking for 1 round, which the target
    // decrypts (with the wrong key, so it ends at the check integers).
    let key = &signing_keys()[0];
    let text = key
        .to_openssh("enc", Some(b"fuzz"), &mut rng)
        .expect("encode");
    c.put(
        "private_key",
        "text_encrypted",
        &cat(&[&[0], text.as_bytes()]),
    );
    let mut binary = dearmor(text.as_bytes());
    c.put(
        "private_key",
        "binary_encrypted_16_rounds",
        &cat(&[&[1], &binary]),
    );
    let at = rounds_offset(&binary);
    binary[at..at + 4].copy_from_slice(&1u32.to_be_bytes());
    c.put(
        "private_key",
        "binary_encrypted_1_round",
        &cat(&[&[1], &binary]),
    );
}

/// The binary body of an armored key file (the inverse of the target's armoring).
fn dearmor(text: &[u8]) -> Vec<u8> {
    let body: String = std::str::from_utf8(text)
        .expect("UTF-8")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    decode_base64(&body)
}

fn decode_base64(s: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let mut out = Vec::new();
    for chunk in s.trim_end_matches('=').as_bytes().chunks(4) {
        let mut acc = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            acc |= value(b) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// Where the bcrypt rounds field lies in a binary key file.
fn rounds_offset(binary: &[u8]) -> usize {
    let mut r = Reader::new(binary);
    r.bytes(15).expect("magic");
    r.string().expect("cipher");
    r.string().expect("kdf");
    r.u32().expect("kdfoptions length");
    let salt = r.string().expect("salt");
    15 + (4 + "aes256-ctr".len()) + (4 + "bcrypt".len()) + 4 + 4 + salt.len()
}

fn kex_peer_values(c: &mut Corpus) {
    for (i, &alg) in KexAlg::all().iter().enumerate() {
        if alg.is_gex() {
            continue;
        }
        let mut rng = FuzzRng::new(i as u64);
        let (_client, value) = KexClient::start(alg, &mut rng).expect("start");
        let (reply, _) = server_reply(alg, &value, &mut rng).expect("reply");
        c.put(
            "kex_peer_values",
            &format!("client_{}", alg.name()),
            &cat(&[&[i as u8, 0], &value]),
        );
        c.put(
            "kex_peer_values",
            &format!("server_{}", alg.name()),
            &cat(&[&[i as u8, 1], &reply]),
        );
    }
    let gex = KexAlg::all().iter().position(|a| a.is_gex()).expect("gex") as u8;
    // mpint contents: p has its top bit set, so a zero byte goes first; g = 2.
    let p = cat(&[&[0], &hex(MODP_2048)]);
    let split = (p.len() as u16).to_be_bytes();
    let data = cat(&[
        &[gex, 2],
        &split,
        &2048u16.to_be_bytes(),
        &8192u16.to_be_bytes(),
        &p,
        &[2],
    ]);
    c.put("kex_peer_values", "gex_group", &data);
}

/// One packet of every request and response type, as payloads (type byte first), and a stream
/// of several whole frames.
fn sftp_packet(c: &mut Corpus) {
    let full = Attrs {
        size: Some(1 << 33),
        owner: Some(Owner {
            uid: 1000,
            gid: 100,
        }),
        permissions: Some(0o100644),
        times: Some(Times {
            atime: 1_700_000_000,
            mtime: 1_700_000_001,
        }),
        extended: vec![(b"acl@example.com".to_vec(), b"rw".to_vec())],
    };
    let mode = Attrs {
        permissions: Some(0o755),
        ..Attrs::default()
    };
    let path = |p: &str| p.as_bytes().to_vec();
    let handle = b"\x00\x00\x00\x01".to_vec();
    let ext = |id: u32, request: ExtendedRequest| Request::Extended { id, request };
    let requests = [
        Request::Init {
            version: 3,
            extensions: vec![],
        },
        Request::Open {
            id: 1,
            path: path("/tmp/file"),
            flags: OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC,
            attrs: mode.clone(),
        },
        Request::Close {
            id: 2,
            handle: handle.clone(),
        },
        Request::Read {
            id: 3,
            handle: handle.clone(),
            offset: 0,
            len: 32768,
        },
        Request::Write {
            id: 4,
            handle: handle.clone(),
            offset: 4096,
            data: b"some file data".to_vec().into(),
        },
        Request::Lstat {
            id: 5,
            path: path("link"),
        },
        Request::Fstat {
            id: 6,
            handle: handle.clone(),
        },
        Request::Setstat {
            id: 7,
            path: path("file"),
            attrs: full.clone(),
        },
        Request::Fsetstat {
            id: 8,
            handle: handle.clone(),
            attrs: full.clone(),
        },
        Request::Opendir {
            id: 9,
            path: path("."),
        },
        Request::Readdir {
            id: 10,
            handle: handle.clone(),
        },
        Request::Remove {
            id: 11,
            path: path("old"),
        },
        Request::Mkdir {
            id: 12,
            path: path("dir"),
            attrs: mode.clone(),
        },
        Request::Rmdir {
            id: 13,
            path: path("dir"),
        },
        Request::Realpath {
            id: 14,
            path: path("."),
        },
        Request::Stat {
            id: 15,
            path: path("/etc/passwd"),
        },
        Request::Rename {
            id: 16,
            old_path: path("a"),
            new_path: path("b"),
        },
        Request::Readlink {
            id: 17,
            path: path("link"),
        },
        Request::Symlink {
            id: 18,
            link_path: path("link"),
            target_path: path("target"),
        },
        ext(
            19,
            ExtendedRequest::PosixRename {
                old_path: path("a"),
                new_path: path("b"),
            },
        ),
        ext(20, ExtendedRequest::Statvfs { path: path("/") }),
        ext(
            21,
            ExtendedRequest::Fstatvfs {
                handle: handle.clone(),
            },
        ),
        ext(
            22,
            ExtendedRequest::Hardlink {
                old_path: path("a"),
                new_path: path("b"),
            },
        ),
        ext(
            23,
            ExtendedRequest::Fsync {
                handle: handle.clone(),
            },
        ),
        ext(
            24,
            ExtendedRequest::Lsetstat {
                path: path("link"),
                attrs: full.clone(),
            },
        ),
        ext(25, ExtendedRequest::Limits),
        ext(26, ExtendedRequest::ExpandPath { path: path("~/x") }),
        ext(
            27,
            ExtendedRequest::CopyData {
                read_handle: handle.clone(),
                read_offset: 0,
                read_length: 0,
                write_handle: b"\x00\x00\x00\x02".to_vec(),
                write_offset: 0,
            },
        ),
        ext(
            28,
            ExtendedRequest::HomeDirectory {
                username: path("root"),
            },
        ),
        ext(
            29,
            ExtendedRequest::UsersGroupsById {
                uids: vec![0, 1000],
                gids: vec![0],
            },
        ),
        ext(
            30,
            ExtendedRequest::Unknown {
                name: path("foo@example.com"),
                data: b"\x00\x00\x00\x01x".to_vec(),
            },
        ),
    ];
    let mut stream = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let mut out = Vec::new();
        r.encode(&mut out);
        c.put("sftp_packet", &format!("request_{i:02}"), &out[4..]);
        stream.extend_from_slice(&out);
    }
    let mut draft = Vec::new();
    requests[18].encode_with(SymlinkOrder::Draft, &mut draft);
    c.put("sftp_packet", "request_symlink_draft", &draft[4..]);

    let users = UsersGroupsReply {
        user_names: vec![path("root"), Vec::new()],
        group_names: vec![path("wheel")],
    };
    let responses = [
        Response::Version {
            version: 3,
            extensions: OPENSSH_EXTENSIONS
                .iter()
                .map(|(n, v)| (path(n), path(v)))
                .collect(),
        },
        Response::status(1, StatusCode::NO_SUCH_FILE),
        Response::Handle {
            id: 2,
            handle: handle.clone(),
        },
        Response::Data {
            id: 3,
            data: b"file contents".to_vec().into(),
        },
        Response::Name {
            id: 4,
            entries: vec![
                NameEntry {
                    filename: path("."),
                    longname: path("drwxr-xr-x    2 u g 4096 Jan  1 00:00 ."),
                    attrs: full.clone(),
                },
                NameEntry {
                    filename: path("a.txt"),
                    longname: path("-rw-r--r--    1 u g    5 Jan  1 00:00 a.txt"),
                    attrs: mode.clone(),
                },
            ],
        },
        Response::Attrs {
            id: 5,
            attrs: full.clone(),
        },
        Response::ExtendedReply {
            id: 6,
            data: StatvfsReply {
                bsize: 4096,
                frsize: 4096,
                blocks: 1 << 20,
                bfree: 1 << 19,
                bavail: 1 << 19,
                files: 1 << 16,
                ffree: 1 << 15,
                favail: 1 << 15,
                fsid: 42,
                flag: StatvfsReply::NOSUID,
                namemax: 255,
            }
            .to_bytes(),
        },
        Response::ExtendedReply {
            id: 7,
            data: LimitsReply {
                max_packet_length: 262_144,
                max_read_length: 261_120,
                max_write_length: 261_120,
                max_open_handles: 1024,
            }
            .to_bytes(),
        },
        Response::ExtendedReply {
            id: 8,
            data: users.to_bytes(),
        },
    ];
    for (i, r) in responses.iter().enumerate() {
        let mut out = Vec::new();
        r.encode(&mut out);
        c.put("sftp_packet", &format!("response_{i:02}"), &out[4..]);
        stream.extend_from_slice(&out);
    }
    c.put("sftp_packet", "reply_users_groups", &users.to_bytes());
    c.put("sftp_packet", "stream", &stream);
}

/// A session of the `sftp_server` target recorded against its own filesystem, so the handles
/// in later requests are the ones the session hands out: every request type and extension.
/// Seeds with the flags 0 (as recorded), 0xf0 (15 requests admitted before any runs), 0x02
/// (read-only) and 0x01 (the target adds INIT; the recorded one is a second INIT then).
fn sftp_server(c: &mut Corpus) {
    use sshwire_fuzz::sftp::{fuzz_session, poll_once};
    use std::task::Poll;

    let session = fuzz_session(false);
    let mut stream = Vec::new();
    let mut next_id = 0u32;
    let mut send = |build: &dyn Fn(u32) -> Request| -> Response {
        next_id += 1;
        let request = build(next_id);
        request.encode(&mut stream);
        let mut reply = Box::pin(session.handle(request));
        match poll_once(reply.as_mut()) {
            Poll::Ready(Ok(r)) => r,
            other => panic!("recording the sftp_server seed: {other:?}"),
        }
    };
    let handle = |r: Response| match r {
        Response::Handle { handle, .. } => handle,
        other => panic!("recording the sftp_server seed: expected a handle, got {other:?}"),
    };
    let p = |s: &str| s.as_bytes().to_vec();
    let ext = |id, request| Request::Extended { id, request };
    let none = Attrs::default;
    send(&|_| Request::Init {
        version: 3,
        extensions: Vec::new(),
    });
    let w = handle(send(&|id| Request::Open {
        id,
        path: p("a"),
        flags: OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC,
        attrs: Attrs {
            permissions: Some(0o600),
            ..none()
        },
    }));
    send(&|id| Request::Write {
        id,
        handle: w.clone(),
        offset: 0,
        data: p("hello, fuzz").into(),
    });
    send(&|id| Request::Fstat {
        id,
        handle: w.clone(),
    });
    send(&|id| Request::Fsetstat {
        id,
        handle: w.clone(),
        attrs: Attrs {
            size: Some(5),
            ..none()
        },
    });
    send(&|id| ext(id, ExtendedRequest::Fsync { handle: w.clone() }));
    send(&|id| ext(id, ExtendedRequest::Fstatvfs { handle: w.clone() }));
    let r = handle(send(&|id| Request::Open {
        id,
        path: p("/srv/a"),
        flags: OpenFlags::READ,
        attrs: none(),
    }));
    send(&|id| Request::Read {
        id,
        handle: r.clone(),
        offset: 0,
        len: 4096,
    });
    let b = handle(send(&|id| Request::Open {
        id,
        path: p("b"),
        flags: OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREAT,
        attrs: none(),
    }));
    send(&|id| {
        ext(
            id,
            ExtendedRequest::CopyData {
                read_handle: r.clone(),
                read_offset: 0,
                read_length: 0,
                write_handle: b.clone(),
                write_offset: 2,
            },
        )
    });
    for h in [&w, &r, &b] {
        send(&|id| Request::Close {
            id,
            handle: h.clone(),
        });
    }
    let d = handle(send(&|id| Request::Opendir { id, path: p(".") }));
    for _ in 0..2 {
        send(&|id| Request::Readdir {
            id,
            handle: d.clone(),
        });
    }
    send(&|id| Request::Close {
        id,
        handle: d.clone(),
    });
    send(&|id| Request::Stat { id, path: p("a") });
    send(&|id| Request::Lstat {
        id,
        path: p("/srv/b"),
    });
    send(&|id| Request::Setstat {
        id,
        path: p("a"),
        attrs: Attrs {
            size: Some(1),
            ..none()
        },
    });
    send(&|id| Request::Realpath { id, path: p(".") });
    send(&|id| Request::Rename {
        id,
        old_path: p("a"),
        new_path: p("c"),
    });
    send(&|id| {
        ext(
            id,
            ExtendedRequest::PosixRename {
                old_path: p("c"),
                new_path: p("d"),
            },
        )
    });
    send(&|id| {
        ext(
            id,
            ExtendedRequest::Hardlink {
                old_path: p("d"),
                new_path: p("e"),
            },
        )
    });
    send(&|id| {
        ext(
            id,
            ExtendedRequest::Lsetstat {
                path: p("e"),
                attrs: Attrs {
                    permissions: Some(0o644),
                    ..none()
                },
            },
        )
    });
    send(&|id| Request::Remove { id, path: p("e") });
    send(&|id| Request::Mkdir {
        id,
        path: p("dir"),
        attrs: none(),
    });
    send(&|id| Request::Rmdir { id, path: p("dir") });
    send(&|id| Request::Readlink { id, path: p("d") });
    send(&|id| Request::Symlink {
        id,
        link_path: p("l"),
        target_path: p("d"),
    });
    send(&|id| ext(id, ExtendedRequest::Statvfs { path: p("/") }));
    send(&|id| ext(id, ExtendedRequest::Limits));
    send(&|id| ext(id, ExtendedRequest::ExpandPath { path: p("~/x") }));
    send(&|id| ext(id, ExtendedRequest::HomeDirectory { username: p("") }));
    send(&|id| {
        ext(
            id,
            ExtendedRequest::UsersGroupsById {
                uids: vec![0, 1000],
                gids: vec![0],
            },
        )
    });
    send(&|id| {
        ext(
            id,
            ExtendedRequest::Unknown {
                name: p("foo@example.com"),
                data: p("x"),
            },
        )
    });
    send(&|id| Request::Unknown {
        packet_type: sshwire_sftp::PacketType(77),
        data: id.to_be_bytes().to_vec(),
    });
    for flags in [0u8, 0xf0, 0x02, 0x01] {
        c.put(
            "sftp_server",
            &format!("session_{flags:02x}"),
            &cat(&[&[flags], &stream]),
        );
    }
}

/// Runs a client and a server against each other, each reacting to events as the fuzz
/// targets do, and returns every byte each sent (client to server, server to client).
fn converse(client_config: Arc<Config>, server_config: Arc<Config>) -> (Vec<u8>, Vec<u8>) {
    let now = Instant::now();
    let mut client = client_engine(client_config);
    let mut server = server_engine(server_config);
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    for _ in 0..64 {
        let mut out = Vec::new();
        client.poll_transmit(&mut out);
        c2s.extend_from_slice(&out);
        to_server.extend_from_slice(&out);
        out.clear();
        server.poll_transmit(&mut out);
        s2c.extend_from_slice(&out);
        to_client.extend_from_slice(&out);
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
        let n = server.handle_input(now, &to_server).expect("server input");
        to_server.drain(..n);
        let n = client.handle_input(now, &to_client).expect("client input");
        to_client.drain(..n);
        while let Some(e) = client.poll_event() {
            react(&mut client, now, true, e).expect("client reaction");
        }
        while let Some(e) = server.poll_event() {
            react(&mut server, now, false, e).expect("server reaction");
        }
    }
    assert!(client.is_established() && server.is_established());
    (c2s, s2c)
}

/// Cut points inside a stream: after the identification line and at a few packet-ish places.
fn cuts(stream: &[u8]) -> Vec<u16> {
    let ident = stream
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(0, |p| p + 2);
    [ident, ident + 3, ident + 700, stream.len() / 2]
        .into_iter()
        .filter(|&c| c < stream.len())
        .map(|c| c as u16)
        .collect()
}

fn transport(c: &mut Corpus) {
    let base = engine_config();
    let mut variants: Vec<(String, Config)> = Vec::new();
    for &kex in base.kex.iter().filter(|k| !k.is_gex()) {
        let mut v = Config::clone(&base);
        v.kex = vec![kex];
        variants.push((format!("kex_{}", kex.name()), v));
    }
    for cipher in CipherAlg::ALL {
        let mut v = Config::clone(&base);
        v.kex = vec![KexAlg::Curve25519Sha256];
        v.ciphers = vec![cipher];
        variants.push((format!("cipher_{}", cipher.name()), v));
    }
    for mac in MacAlg::ALL {
        let mut v = Config::clone(&base);
        v.kex = vec![KexAlg::Curve25519Sha256];
        v.ciphers = vec![CipherAlg::Aes128Ctr];
        v.macs = vec![mac];
        variants.push((format!("mac_{}", mac.name()), v));
    }
    for comp in [Compression::Zlib, Compression::ZlibOpenSsh] {
        let mut v = Config::clone(&base);
        v.kex = vec![KexAlg::Curve25519Sha256];
        v.compression = vec![comp];
        variants.push((format!("compression_{}", comp.name()), v));
    }
    for alg in [SignatureAlgorithm::EcdsaP256] {
        let mut v = Config::clone(&base);
        v.kex = vec![KexAlg::Curve25519Sha256];
        v.host_key_algorithms = vec![alg];
        variants.push((format!("hostkey_{}", alg.name()), v));
    }
    variants.push(("default".to_owned(), Config::clone(&base)));

    let mut replayed = (0, 0);
    for (name, peer) in variants {
        let name = name.replace('@', "_at_");
        let peer = Arc::new(peer);
        // The peer varies; the engine under test keeps the targets' configuration.
        let (c2s, _) = converse(Arc::clone(&peer), engine_config());
        let (_, s2c) = converse(engine_config(), Arc::clone(&peer));

        // Replay each recording against a fresh engine, as the targets will.
        let input = EngineInput::encode(false, &[], &c2s);
        let mut server = server_engine(engine_config());
        let failed = drive(
            &mut server,
            false,
            &EngineInput::parse(&input).expect("input"),
        );
        assert!(failed.is_none(), "{name}: server replay failed: {failed:?}");
        replayed.0 += usize::from(server.is_established());
        let input = EngineInput::encode(false, &[], &s2c);
        let mut client = client_engine(engine_config());
        let failed = drive(
            &mut client,
            true,
            &EngineInput::parse(&input).expect("input"),
        );
        assert!(failed.is_none(), "{name}: client replay failed: {failed:?}");
        replayed.1 += usize::from(client.is_established());
        // With `--cfg fuzzing` (as `fuzz/smoke.sh` runs this) the default conversation
        // negotiates the fuzzing-only `none` cipher: the client's service request after
        // NEWKEYS is readable in its stream, so mutations there reach the message handlers.
        #[cfg(fuzzing)]
        if name == "default" {
            let clear = c2s.windows(12).any(|w| w == b"ssh-userauth");
            assert!(
                clear,
                "default: the packets after NEWKEYS are not in the clear"
            );
        }

        // The same, read into the engine's own buffers (flag bit 1), must replay as well.
        for (is_client, stream) in [(false, &c2s), (true, &s2c)] {
            let mut lent = EngineInput::encode(false, &cuts(stream), stream);
            lent[0] |= 2;
            let mut engine = if is_client {
                client_engine(engine_config())
            } else {
                server_engine(engine_config())
            };
            let failed = drive(
                &mut engine,
                is_client,
                &EngineInput::parse(&lent).expect("input"),
            );
            assert!(failed.is_none(), "{name}: lent replay failed: {failed:?}");
        }

        for (target, stream) in [("transport_server", &c2s), ("transport_client", &s2c)] {
            c.put(target, &name, &EngineInput::encode(false, &[], stream));
            c.put(
                target,
                &format!("{name}_split"),
                &EngineInput::encode(false, &cuts(stream), stream),
            );
            let mut lent = EngineInput::encode(false, &cuts(stream), stream);
            lent[0] |= 2;
            c.put(target, &format!("{name}_lent"), &lent);
        }
    }
    // The same streams behind the targets' own identification line (the exchange hash then
    // differs from the recording's, so these go as far as the first encrypted packet).
    let (c2s, s2c) = converse(engine_config(), engine_config());
    for (target, stream) in [("transport_server", &c2s), ("transport_client", &s2c)] {
        let ident = stream.windows(2).position(|w| w == b"\r\n").expect("ident") + 2;
        c.put(
            target,
            "prefixed",
            &EngineInput::encode(true, &[], &stream[ident..]),
        );
    }
    c.put(
        "transport_client",
        "banner",
        &EngineInput::encode(false, &[], b"hello\r\nSSH-2.0-x\r\n"),
    );
    println!(
        "recorded conversations replay to an established engine: {} server, {} client",
        replayed.0, replayed.1
    );
}

fn main() {
    let root = std::env::args_os().nth(1).map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("corpus")
        },
        PathBuf::from,
    );
    let mut c = Corpus { root, count: 0 };
    wire_reader(&mut c);
    name_list(&mut c);
    kexinit(&mut c);
    packet_open(&mut c);
    packet_seal_open(&mut c);
    public_key(&mut c);
    private_key(&mut c);
    kex_peer_values(&mut c);
    transport(&mut c);
    sftp_packet(&mut c);
    sftp_server(&mut c);
    println!("wrote {} seeds under {}", c.count, c.root.display());
}
