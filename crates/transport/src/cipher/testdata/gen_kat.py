#!/usr/bin/env python3
"""Independent computation of the fixed-key packet encodings pinned in cipher/tests/kat.rs.

Uses Python's `cryptography` package (OpenSSL) for AES-CTR, AES-GCM, ChaCha20 and Poly1305,
and the standard library's hmac/hashlib, assembling SSH packets from the specifications
(RFC 4253 §6, RFC 4344, RFC 5647 + OpenSSH PROTOCOL, OpenSSH PROTOCOL.chacha20poly1305).
Run: python3 gen_kat.py  (prints Rust constants).
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.poly1305 import Poly1305

SEQS = [0x01020304, 0x01020305]
PAYLOADS = [b"\x05\x00\x00\x00\x0cssh-userauth", b"sshwire" * 6]

CIPHERS = {  # name: (key_len, iv_len, block)
    "chacha20-poly1305@openssh.com": (64, 0, 8),
    "aes256-gcm@openssh.com": (32, 12, 16),
    "aes128-gcm@openssh.com": (16, 12, 16),
    "aes256-ctr": (32, 16, 16),
    "aes192-ctr": (24, 16, 16),
    "aes128-ctr": (16, 16, 16),
}
MACS = {  # name: (hash, len, etm)
    "hmac-sha2-256-etm@openssh.com": (hashlib.sha256, 32, True),
    "hmac-sha2-512-etm@openssh.com": (hashlib.sha512, 64, True),
    "hmac-sha2-256": (hashlib.sha256, 32, False),
    "hmac-sha2-512": (hashlib.sha512, 64, False),
    "hmac-sha1": (hashlib.sha1, 20, False),
    "hmac-sha1-etm@openssh.com": (hashlib.sha1, 20, True),
}
COMBOS = [
    ("chacha20-poly1305@openssh.com", None),
    ("aes256-gcm@openssh.com", None),
    ("aes128-gcm@openssh.com", None),
    ("aes128-ctr", "hmac-sha2-256"),
    ("aes256-ctr", "hmac-sha2-512"),
    ("aes256-ctr", "hmac-sha2-256-etm@openssh.com"),
    ("aes192-ctr", "hmac-sha2-512-etm@openssh.com"),
    ("aes256-ctr", "hmac-sha1"),
    ("aes128-ctr", "hmac-sha1-etm@openssh.com"),
]


def pattern(start, n):
    return bytes((start + i) & 0xFF for i in range(n))


class Rng:
    """Same sequence as the tests' CountingRng: 0x10, 0x11, ... wrapping."""

    def __init__(self):
        self.next = 0x10

    def take(self, n):
        out = pattern(self.next, n)
        self.next = (self.next + n) & 0xFF
        return out


def frame(payload, unit, len_in_unit, rng):
    covered = 1 + len(payload) + (4 if len_in_unit else 0)
    pad = unit - covered % unit
    if pad < 4:
        pad += unit
    plen = 1 + len(payload) + pad
    return struct.pack(">IB", plen, pad) + payload + rng.take(pad)


def chacha_stream(key, seq, counter, data):
    nonce = struct.pack("<Q", counter) + struct.pack(">Q", seq)
    enc = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor()
    return enc.update(data)


def run(cipher, mac):
    key_len, iv_len, block = CIPHERS[cipher]
    key = pattern(0x00, key_len)
    iv = pattern(0x80, iv_len)
    mac_key = pattern(0xC0, MACS[mac][1]) if mac else b""
    rng = Rng()
    unit = max(8, block)
    out = b""
    if cipher.startswith("chacha"):
        k2, k1 = key[:32], key[32:]
        for seq, payload in zip(SEQS, PAYLOADS):
            pkt = frame(payload, unit, False, rng)
            enc_len = chacha_stream(k1, seq, 0, pkt[:4])
            poly_key = chacha_stream(k2, seq, 0, bytes(32))
            enc_rest = chacha_stream(k2, seq, 1, pkt[4:])
            p = Poly1305(poly_key)
            p.update(enc_len + enc_rest)
            out += enc_len + enc_rest + p.finalize()
    elif "gcm" in cipher:
        aes = AESGCM(key)
        fixed, counter = iv[:4], int.from_bytes(iv[4:], "big")
        for seq, payload in zip(SEQS, PAYLOADS):
            pkt = frame(payload, unit, False, rng)
            nonce = fixed + counter.to_bytes(8, "big")
            counter = (counter + 1) % (1 << 64)
            out += pkt[:4] + aes.encrypt(nonce, pkt[4:], pkt[:4])
    else:
        h, _, etm = MACS[mac]
        enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
        for seq, payload in zip(SEQS, PAYLOADS):
            pkt = frame(payload, unit, not etm, rng)
            s = struct.pack(">I", seq)
            if etm:
                ct = pkt[:4] + enc.update(pkt[4:])
                out += ct + hmac.new(mac_key, s + ct, h).digest()
            else:
                tag = hmac.new(mac_key, s + pkt, h).digest()
                out += enc.update(pkt) + tag
    return out


for cipher, mac in COMBOS:
    print(f'    ("{cipher}", {f"Some({mac!r})".replace(chr(39), chr(34)) if mac else "None"}, "{run(cipher, mac).hex()}"),')
