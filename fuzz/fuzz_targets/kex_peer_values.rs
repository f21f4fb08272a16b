//! Fuzzes the validation of the peer's key exchange values, for every key exchange method.
//!
//! Input: `byte alg` (index into `KexAlg::all()`), `byte op`, then the data.
//! - op 0: `server_reply(alg, data)`, the server's handling of the client's value;
//! - op 1: `KexClient::start(alg)` then `finish(data)`, the client's handling of the server's
//!   value;
//! - op 2: `DhGroup::from_wire(p, g, min, max)` on the data split at a position it chooses
//!   (`uint16 split, uint16 min, uint16 max`, then `p || g`), then, for groups of at most
//!   3072 bits, a group-exchange client in that group finishing with `g` as the server's value.
//!
//! Nothing may panic and no call may report `KexError::Internal` (which the crate documents as
//! a bug in sshwire, never the peer's fault). An accepted value yields a non-empty shared
//! secret, a server reply is non-empty, and group exchange is refused where it does not apply.
//! An accepted group's size lies within both the request and the crate's bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_fuzz::FuzzRng;
use sshwire_transport::kex::{
    DhGroup, GEX_MAX_BITS, GEX_MIN_BITS, KexAlg, KexClient, KexError, SharedSecret, server_reply,
};

fn no_internal<T>(r: &Result<T, KexError>) {
    if let Err(KexError::Internal(why)) = r {
        panic!("internal error: {why}");
    }
}

fn secret_ok(s: &SharedSecret) {
    assert!(!s.encoded().is_empty());
}

fuzz_target!(|input: &[u8]| {
    let [alg, op, data @ ..] = input else {
        return;
    };
    let all = KexAlg::all();
    let alg = all[usize::from(*alg) % all.len()];
    let mut rng = FuzzRng::new(u64::from(*op));
    match op % 3 {
        0 => {
            let r = server_reply(alg, data, &mut rng);
            no_internal(&r);
            if alg.is_gex() {
                assert!(matches!(r, Err(KexError::Unsupported)));
            }
            if let Ok((reply, secret)) = r {
                assert!(!reply.is_empty());
                secret_ok(&secret);
            }
        }
        1 => {
            let started = KexClient::start(alg, &mut rng);
            no_internal(&started);
            if alg.is_gex() {
                assert!(matches!(started, Err(KexError::Unsupported)));
                return;
            }
            let (client, value) = started.expect("a fixed-group client starts");
            assert!(!value.is_empty());
            assert_eq!(client.alg(), alg);
            let r = client.finish(data);
            no_internal(&r);
            if let Ok(secret) = r {
                secret_ok(&secret);
            }
        }
        _ => {
            let [s0, s1, n0, n1, x0, x1, rest @ ..] = data else {
                return;
            };
            let split = usize::from(u16::from_be_bytes([*s0, *s1])).min(rest.len());
            let (p, g) = rest.split_at(split);
            let min = u32::from(u16::from_be_bytes([*n0, *n1]));
            let max = u32::from(u16::from_be_bytes([*x0, *x1]));
            let r = DhGroup::from_wire(p, g, min, max);
            no_internal(&r);
            let Ok(group) = r else {
                return;
            };
            let bits = group.bits();
            assert!(
                bits >= min.max(GEX_MIN_BITS) && bits <= max.min(GEX_MAX_BITS),
                "{bits}"
            );
            if bits <= 3072 {
                let started = KexClient::start_gex(&group, &mut rng);
                no_internal(&started);
                if let Ok((client, value)) = started {
                    assert!(!value.is_empty());
                    assert_eq!(client.alg(), KexAlg::DhGexSha256);
                    let r = client.finish(g);
                    no_internal(&r);
                    if let Ok(secret) = r {
                        secret_ok(&secret);
                    }
                }
            }
        }
    }
});
