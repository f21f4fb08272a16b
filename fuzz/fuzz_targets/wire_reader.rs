//! Fuzzes `sshwire_wire::Reader` with a sequence of reads chosen by the input.
//!
//! Input: `byte n`, `n` operation bytes, then the data read. The low four bits of each
//! operation byte pick a `Reader` method, the high four a length or limit for it. Checked for every call:
//! - a failed read leaves the reader where it was;
//! - a successful read consumes exactly the bytes of its value, and re-encoding the value
//!   with `Writer` gives back those bytes for every canonical type (`byte`, `uint32`,
//!   `uint64`, `string`, UTF-8 `string`, `mpint`, `name-list`); a `boolean` is non-zero exactly
//!   when it reads as true;
//! - limits are honoured (`string_limited`), `finish` agrees with `is_empty`, and the bytes
//!   consumed over the whole run plus what is left are the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_wire::{Error, NameListLimits, Reader, Writer};

fuzz_target!(|input: &[u8]| {
    let Some((&n, rest)) = input.split_first() else {
        return;
    };
    let (ops, data) = rest.split_at(usize::from(n).min(rest.len()));
    let mut r = Reader::new(data);
    let mut consumed_total = 0usize;

    for &op in ops {
        let before = r.peek_rest();
        let arg = usize::from(op >> 4);
        // What a successful read must have consumed, re-encoded; None where not canonical.
        let result: Result<Option<Vec<u8>>, Error> = match op & 0x0f {
            0 => r.u8().map(|v| Some(vec![v])),
            1 => r.bool().map(|v| {
                assert_eq!(before[0] != 0, v);
                None
            }),
            2 => r
                .u32()
                .map(|v| Some(Writer::new().u32(v).as_slice().to_vec())),
            3 => r
                .u64()
                .map(|v| Some(Writer::new().u64(v).as_slice().to_vec())),
            4 => r
                .string()
                .map(|s| Some(Writer::new().string(s).as_slice().to_vec())),
            5 => {
                let limit = arg * 4;
                let res = r.string_limited("fuzz", limit);
                match &res {
                    Ok(s) => assert!(s.len() <= limit),
                    Err(Error::TooLong {
                        limit: l, found, ..
                    }) => {
                        assert_eq!(*l, limit);
                        assert!(*found > limit);
                    }
                    Err(_) => {}
                }
                res.map(|s| Some(Writer::new().string(s).as_slice().to_vec()))
            }
            6 => r
                .utf8()
                .map(|s| Some(Writer::new().string(s.as_bytes()).as_slice().to_vec())),
            7 => r.mpint_unsigned().map(|m| {
                assert!(m.first() != Some(&0), "magnitude with a leading zero");
                Some(Writer::new().mpint_unsigned(m).as_slice().to_vec())
            }),
            8 => r
                .name_list()
                .map(|l| Some(Writer::new().name_list(l.iter()).as_slice().to_vec())),
            9 => {
                let limits = NameListLimits {
                    max_len: arg * 8,
                    max_names: arg / 2,
                };
                r.name_list_limited(limits).map(|l| {
                    assert!(l.as_str().len() <= limits.max_len);
                    assert!(l.iter().count() <= limits.max_names);
                    Some(Writer::new().name_list(l.iter()).as_slice().to_vec())
                })
            }
            10 => r.bytes(arg).map(|b| {
                assert_eq!(b.len(), arg);
                Some(b.to_vec())
            }),
            11 => r.array::<4>().map(|a| Some(a.to_vec())),
            12 => {
                assert_eq!(r.finish().is_ok(), r.is_empty());
                Ok(Some(Vec::new()))
            }
            _ => Ok(Some(r.rest().to_vec())),
        };
        let after = r.peek_rest();
        assert_eq!(after.len(), r.remaining());
        match result {
            Err(_) => assert_eq!(after.len(), before.len(), "a failed read consumed bytes"),
            Ok(encoded) => {
                let taken = before.len() - after.len();
                assert_eq!(&before[taken..], after);
                if let Some(encoded) = encoded {
                    assert_eq!(encoded, &before[..taken], "op {op}: not canonical");
                }
                consumed_total += taken;
            }
        }
    }
    assert_eq!(consumed_total + r.remaining(), data.len());
});
