//! Names, sizes and argument checks.

use super::super::{
    CipherAlg, CryptoError, DISCONNECT_MAC_ERROR, DISCONNECT_PROTOCOL_ERROR, DirectionKeys, MacAlg,
    PacketError, PacketOpener, PacketSealer,
};
use super::keys;

#[test]
fn cipher_names_round_trip_in_preference_order() {
    let names: Vec<&str> = CipherAlg::all().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "chacha20-poly1305@openssh.com",
            "aes256-gcm@openssh.com",
            "aes128-gcm@openssh.com",
            "aes256-ctr",
            "aes192-ctr",
            "aes128-ctr"
        ]
    );
    for c in CipherAlg::ALL {
        assert_eq!(CipherAlg::from_name(c.name()), Some(c));
        assert_eq!(c.to_string(), c.name());
    }
    for bad in [
        "none",
        "NONE",
        "",
        "aes256-CTR",
        "aes256-cbc",
        "3des-cbc",
        "arcfour",
    ] {
        assert_eq!(CipherAlg::from_name(bad), None, "{bad}");
    }
}

#[test]
fn mac_names_and_defaults() {
    for m in MacAlg::ALL {
        assert_eq!(MacAlg::from_name(m.name()), Some(m));
    }
    assert_eq!(MacAlg::from_name("none"), None);
    let defaults: Vec<&str> = MacAlg::defaults().iter().map(|m| m.name()).collect();
    assert_eq!(
        defaults,
        [
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
            "hmac-sha2-256",
            "hmac-sha2-512"
        ]
    );
    assert!(MacAlg::HmacSha1Etm.is_etm() && !MacAlg::HmacSha1.is_etm());
    assert_eq!(MacAlg::HmacSha1.mac_len(), 20);
    assert_eq!(MacAlg::HmacSha512.key_len(), 64);
}

#[test]
fn cipher_sizes() {
    let table = [
        (CipherAlg::ChaCha20Poly1305, 64, 0, 8, true),
        (CipherAlg::Aes256Gcm, 32, 12, 16, true),
        (CipherAlg::Aes128Gcm, 16, 12, 16, true),
        (CipherAlg::Aes256Ctr, 32, 16, 16, false),
        (CipherAlg::Aes192Ctr, 24, 16, 16, false),
        (CipherAlg::Aes128Ctr, 16, 16, 16, false),
    ];
    for (c, key, iv, block, aead) in table {
        assert_eq!(
            (c.key_len(), c.iv_len(), c.block_size(), c.is_aead()),
            (key, iv, block, aead)
        );
    }
    assert_eq!(CipherAlg::Aes128Ctr.rekey_bytes_limit(), 1 << 36);
    assert_eq!(CipherAlg::ChaCha20Poly1305.rekey_bytes_limit(), 1 << 30);
}

#[test]
fn mac_given_iff_not_aead() {
    for c in CipherAlg::ALL {
        let wrong = if c.is_aead() {
            Some(MacAlg::HmacSha256)
        } else {
            None
        };
        let k = keys(c, Some(MacAlg::HmacSha512));
        assert_eq!(
            PacketSealer::new(c, wrong, &k).err(),
            Some(CryptoError::BadCombination)
        );
        assert_eq!(
            PacketOpener::new(c, wrong, &k).err(),
            Some(CryptoError::BadCombination)
        );
    }
}

#[test]
fn short_keys_are_refused_and_long_ones_truncated() {
    for c in CipherAlg::ALL {
        let mac = (!c.is_aead()).then_some(MacAlg::HmacSha256);
        let good = keys(c, mac);
        let mut short_key = good.clone();
        short_key.key.pop();
        assert!(matches!(
            PacketSealer::new(c, mac, &short_key),
            Err(CryptoError::KeyTooShort { what: "key", .. })
        ));
        if c.iv_len() > 0 {
            let mut short_iv = good.clone();
            short_iv.iv.pop();
            assert!(matches!(
                PacketOpener::new(c, mac, &short_iv),
                Err(CryptoError::KeyTooShort { what: "iv", .. })
            ));
        }
        if mac.is_some() {
            let mut short_mac = good.clone();
            short_mac.mac_key.pop();
            assert!(matches!(
                PacketOpener::new(c, mac, &short_mac),
                Err(CryptoError::KeyTooShort {
                    what: "mac_key",
                    ..
                })
            ));
        }
        // RFC 4253 §7.2: key data is taken from the beginning; extra bytes are ignored.
        let mut long = good.clone();
        long.key.extend_from_slice(&[0xEE; 40]);
        long.iv.extend_from_slice(&[0xEE; 40]);
        long.mac_key.extend_from_slice(&[0xEE; 40]);
        let mut sealer = PacketSealer::new(c, mac, &long).unwrap();
        let mut opener = PacketOpener::new(c, mac, &good).unwrap();
        let mut wire = super::seal_one(&mut sealer, 9, b"truncated keys");
        let opened = opener.open(9, &mut wire, super::MAX).unwrap().unwrap();
        assert_eq!(&wire[opened.payload], b"truncated keys");
    }
}

#[test]
fn disconnect_reasons() {
    assert_eq!(
        PacketError::BadLength(3).disconnect_reason(),
        DISCONNECT_PROTOCOL_ERROR
    );
    assert_eq!(PacketError::BadPadding(3).disconnect_reason(), 2);
    assert_eq!(PacketError::MacMismatch.disconnect_reason(), 5);
    assert_eq!(
        PacketError::MacMismatch.disconnect_reason(),
        DISCONNECT_MAC_ERROR
    );
    assert_eq!(PacketError::Poisoned.disconnect_reason(), 2);
    assert_eq!(PacketError::BadLength(7).to_string(), "bad packet length 7");
}

#[test]
fn keys_debug_hides_secrets() {
    let k = DirectionKeys::new(vec![1; 12], vec![0xAB; 32], vec![]);
    let s = format!("{k:?}");
    assert!(s.contains("<32 bytes>") && !s.contains("171"), "{s}");
}
