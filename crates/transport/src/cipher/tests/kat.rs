//! Known-answer tests.

use super::super::ctr::AesCtr;
use super::super::mac::PacketMac;
use super::super::{CipherAlg, MacAlg, PacketOpener, PacketSealer};
use super::{CountingRng, MAX, keys};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// NIST SP 800-38A, F.5.1 / F.5.3 / F.5.5 (CTR-AES128/192/256.Encrypt), run through the
/// SSH keystream in uneven pieces to exercise its continuation across calls.
#[test]
fn aes_ctr_sp800_38a() {
    let iv = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    let plain = hex(concat!(
        "6bc1bee22e409f96e93d7e117393172a",
        "ae2d8a571e03ac9c9eb76fac45af8e51",
        "30c81c46a35ce411e5fbc1191a0a52ef",
        "f69f2445df4f9b17ad2b417be66c3710"
    ));
    let cases = [
        (
            CipherAlg::Aes128Ctr,
            "2b7e151628aed2a6abf7158809cf4f3c",
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
             5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
        ),
        (
            CipherAlg::Aes192Ctr,
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94\
             1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050",
        ),
        (
            CipherAlg::Aes256Ctr,
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5\
             2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
        ),
    ];
    for (alg, key, expected) in cases {
        let mut ctr = AesCtr::new(alg, &hex(key), &iv).unwrap();
        let mut buf = plain.clone();
        let (a, rest) = buf.split_at_mut(4);
        let (b, c) = rest.split_at_mut(29);
        ctr.apply(a);
        ctr.apply(b);
        ctr.apply(c);
        assert_eq!(buf, hex(expected), "{alg}");
    }
}

/// RFC 4231 test case 2 (HMAC-SHA-256/512) and RFC 2202 test case 2 (HMAC-SHA-1), with the
/// first four data bytes ("what") standing for the sequence number.
#[test]
fn hmac_rfc4231_rfc2202() {
    let seq = u32::from_be_bytes(*b"what");
    let data = b" do ya want for nothing?";
    let cases = [
        (
            MacAlg::HmacSha256,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            MacAlg::HmacSha512Etm,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
        (MacAlg::HmacSha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    ];
    for (alg, expected) in cases {
        let mac = PacketMac::with_any_key(alg, b"Jefe");
        let expected = hex(expected);
        assert_eq!(mac.sign(seq, data).as_ref(), &expected[..], "{alg}");
        assert!(mac.verify(seq, data, &expected));
        assert!(!mac.verify(seq + 1, data, &expected));
        let mut wrong = expected.clone();
        wrong[expected.len() - 1] ^= 1;
        assert!(!mac.verify(seq, data, &wrong));
        assert!(!mac.verify(seq, data, &expected[..expected.len() - 1]));
    }
}

/// Whole packets with fixed keys, "random" bytes and sequence numbers.
///
/// Computed independently with Python's `cryptography` 48.0.0 (OpenSSL) and the standard
/// library's hmac, by `testdata/gen_kat.py`: keys are the byte patterns of `super::keys`,
/// padding comes from `CountingRng(0x10)`, and each entry is two packets, sequence numbers
/// 0x01020304 and 0x01020305, carrying `PAYLOADS`, so the CTR keystream and the GCM
/// invocation counter are checked across packets too.
const PACKETS: [(&str, Option<&str>, &str); 9] = [
    (
        "chacha20-poly1305@openssh.com",
        None,
        "bc79806390c71cb2db1d55dabc40518fcd323b01754504c621aa79cb13a90541fe6b1ab57558632a05f028d8c647176182bb90b3f43d0c11be55273a95e985611cc6550f361d5c8ff33f49fe7935673f964ae69a62b718dbdbde917c869c6e0969095d7600b103d36ac22f3b868e81f1",
    ),
    (
        "aes256-gcm@openssh.com",
        None,
        "000000206ea06e1b411e92e2f6a660432301cb50d336a5ee18a3191f3bea98d1ace721e95490781e3723064aaaacb631024c16a500000030ab9439d8e1a0b0a9b16207a07b5a30c3b018b1b7aaec41a58eb00caa250d88fb6b81664886ad6de2615d92df3376d0fd9a63a4d7b802581f788587b3630465dd",
    ),
    (
        "aes128-gcm@openssh.com",
        None,
        "00000020d1267bb9a5ce49746e581874fedccce09a8f0ec5090c45900a91eb536c44c19af354326a53f47a930356ec9a4de3c3ce000000306dc6feed9cc2f6eefaa2b8eba3380b70c1fde85ef3de951904180429df06231cf429f50f7636e7611b2b8250f40a5696062d990de6e6766e1e3a63a934c89bb5",
    ),
    (
        "aes128-ctr",
        Some("hmac-sha2-256"),
        "ac265900058ed80ee7cb90d1b9635e519d0fba3c08a1620d745575e81c6af89068248ac505fa0889b71bfdc0483d6f08ef1062970fb61efa6428015bd74d7d32b4cbffe393ce788c315a9534ee5f4bb06305fddb1ba3e5c55a436bdd9f311994e03f8ac0a3fc6e29ada42642d0b72ab594441cefcff1c61127153180195e47eb7471bb187b3da91f5a62febeb55992aeb44d8b6ec24f63265db31736e6397070",
    ),
    (
        "aes256-ctr",
        Some("hmac-sha2-512"),
        "b0b0f567c192b783a15ffc84e6b71db19bf7d2171a046cc577bdb2db28fe23292173e5a2ec5adfcb29ff4396f9da75634777490085b934694ca8e64353c185db39d7a1b01018fbf335f2eca40a175ba9c332c6cebc08d45a8d4a1097647a9b3d46336cc82d78995889e1c94d781fc00240b9ddacde797808c27d1a4165906932ab5dda5dcf3d9ade212162385982f3ca37dfee60539d0d474c3f1b2fabec93cae53fbe1c7fe7542f70e53a7315fca83d0a58602c2620c15df7652655a73bee717ee873a2c4df67db291c3865f31e9378dc2fff1cd10206d1f1a6d3c0a4d8b7b0",
    ),
    (
        "aes256-ctr",
        Some("hmac-sha2-256-etm@openssh.com"),
        "00000020beb5f57bcb9bc4f0c97efa84ebe809b78aeda3737c7f68c173b9bed724f2272dad74638dca4cdd0fea78f4b3fdcd1e2ef9c073723002e07f1b375afdcf44674c0000003043401f9c4b6298558dfbd35f621ecd065aa3cfb6df747c12d86f004068947328b947db50cb2780cc3b206f512fd0b7f27e982ceb401de051c51dbdd0efbf10d1e0d6363b67054aeae64d412c3fd6c066",
    ),
    (
        "aes192-ctr",
        Some("hmac-sha2-512-etm@openssh.com"),
        "000000209866ffed026f07a5d2271397e4a5dd7e759d3609cbe2a29258f79fcfd9c048dd66dd89cad3e8e1c107ac949e98742a8b0ea38c62823124adc96197371a320e22a8cf759ef289109e4f5edcf8cb1f92312de3c9f6f689d3b20bb51926ac0647a80000003013a2b39fe7c691aced5022162c9e16008c4b6d97a36491f2c83d14790c304db56b733f7a8825d111848db693c7e58bd1ac7fb3f377790fa9b3f6904ad0bc7d3f4632df12969143c8d92d585d757b9c30e3ee03aad7e847aedfc2dd3f95860b1be6eec60a9101048b6cfed13e28d86536",
    ),
    (
        "aes256-ctr",
        Some("hmac-sha1"),
        "b0b0f567c192b783a15ffc84e6b71db19bf7d2171a046cc577bdb2db28fe23290c147654dc3eb311d614918fc1c49e80a9efb58946336cc82d78995889e1c94d781fc00240b9ddacde797808c27d1a4165906932ab5dda5dcf3d9ade212162385982f3ca37dfee60539d0d474c3f1b2fabec93ca7952db9e1b1aa1f0eaa11491f4b61e070d1003d5",
    ),
    (
        "aes128-ctr",
        Some("hmac-sha1-etm@openssh.com"),
        "00000020a223591c0f87ab7d8fea96d1b43c4a578c15cb586eda6609705179e41066fc9406beb3c15f9311beb753ce09bfc89de5cb9db84b00000030b1b88cb7f5d4798135408f26f45e46b4791fefc11aaee1df405171dc9235038ef2258bcda7e6743bb7a52b2ba6e56e8d0bede1ad3f0c6dd02cfe88da6035ca6763b9b245",
    ),
];

const SEQS: [u32; 2] = [0x0102_0304, 0x0102_0305];
const PAYLOADS: [&[u8]; 2] = [
    b"\x05\x00\x00\x00\x0cssh-userauth",
    b"sshwiresshwiresshwiresshwiresshwiresshwire",
];

#[test]
fn fixed_packets() {
    for (cipher, mac, expected) in PACKETS {
        let cipher = CipherAlg::from_name(cipher).unwrap();
        let mac = mac.map(|m| MacAlg::from_name(m).unwrap());
        let k = keys(cipher, mac);
        let mut sealer = PacketSealer::new(cipher, mac, &k).unwrap();
        let mut rng = CountingRng(0x10);
        let mut wire = Vec::new();
        for (seq, payload) in SEQS.into_iter().zip(PAYLOADS) {
            sealer.seal(seq, payload, &mut rng, &mut wire).unwrap();
        }
        assert_eq!(wire, hex(expected), "{cipher} {mac:?}");

        let mut opener = PacketOpener::new(cipher, mac, &k).unwrap();
        let mut at = 0;
        for (seq, payload) in SEQS.into_iter().zip(PAYLOADS) {
            let opened = opener.open(seq, &mut wire[at..], MAX).unwrap().unwrap();
            assert_eq!(&wire[at..][opened.payload], payload);
            at += opened.consumed;
        }
        assert_eq!(at, wire.len());
    }
}

/// The unencrypted state's exact bytes: length, padding length, payload, padding to 8.
#[test]
fn fixed_plaintext_packet() {
    let mut sealer = PacketSealer::plaintext();
    let mut wire = Vec::new();
    sealer
        .seal(0, b"\x14abc", &mut CountingRng(0x10), &mut wire)
        .unwrap();
    // 4 + 1 + 4 = 9; pad to 16 => 7 bytes of padding; packet_length = 1 + 4 + 7 = 12.
    assert_eq!(
        wire,
        hex("0000000c0714616263_10111213141516"
            .replace('_', "")
            .as_str())
    );
}

/// The ChaCha20-Poly1305 construction agrees with ring's `chacha20_poly1305_openssh`, at
/// sizes that end inside and past the wide (AVX2: 4 blocks, AVX-512: 16 blocks) steps of
/// the cipher's backends, up to a full 256 KiB packet.
#[test]
fn chacha_matches_ring() {
    use super::super::chacha::ChaChaKeys;
    use ring::aead::chacha20_poly1305_openssh::{OpeningKey, SealingKey};

    let material: [u8; 64] = core::array::from_fn(|i| (i * 7 + 3) as u8);
    let ours = ChaChaKeys::new(&material).unwrap();
    let (ring_seal, ring_open) = (SealingKey::new(&material), OpeningKey::new(&material));
    for seq in [0, 1, 0x0102_0304, 0x8000_0000, u32::MAX] {
        for size in [
            4, 5, 20, 36, 63, 64, 65, 68, 1000, 1023, 1024, 1025, 4100, 32_768, 262_161,
        ] {
            let plain: Vec<u8> = (0..size).map(|i| (i * 13) as u8).collect();
            let (mut a, mut b) = (plain.clone(), plain.clone());
            let (mut ta, mut tb) = ([0u8; 16], [0u8; 16]);
            ours.seal(seq, &mut a, &mut ta).unwrap();
            ring_seal.seal_in_place(seq, &mut b, &mut tb);
            assert_eq!((&a, ta), (&b, tb), "seq {seq} size {size}");
            let mut len = *a.first_chunk::<4>().unwrap();
            ours.crypt_len(seq, &mut len);
            assert_eq!(
                len,
                ring_open.decrypt_packet_length(seq, *b.first_chunk::<4>().unwrap())
            );
            assert!(ours.open(seq, &mut a, &ta));
            assert_eq!(a[4..], plain[4..]);
            let mut c = b.clone();
            c[size - 1] ^= 1;
            assert!(!ours.open(seq, &mut c, &tb));
            assert!(ring_open.open_in_place(seq, &mut b, &tb).is_ok());
        }
    }
}
