//! Fuzzes `NameList::parse` with arbitrary bytes and limits.
//!
//! Input: `byte max_names`, `byte max_len / 4`, then the list. With the default limits and
//! with the input's: an accepted list is the input unchanged, its names re-joined with commas
//! are the input, every name obeys RFC 4251 §6 (1 to 64 printable ASCII characters, no comma,
//! at most one `@`), `contains` finds each name, and the limits hold. `Reader::name_list` on
//! the same bytes framed as a `string` agrees with `parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshwire_wire::{MAX_NAME_LEN, NameList, NameListLimits, Reader, Writer};

fn check(bytes: &[u8], limits: NameListLimits) {
    let Ok(list) = NameList::parse(bytes, limits) else {
        return;
    };
    assert_eq!(list.as_str().as_bytes(), bytes);
    assert_eq!(list.is_empty(), bytes.is_empty());
    let names: Vec<&str> = list.iter().collect();
    assert_eq!(names.join(",").as_bytes(), bytes);
    assert!(bytes.len() <= limits.max_len);
    assert!(names.len() <= limits.max_names);
    for name in &names {
        assert!(!name.is_empty() && name.len() <= MAX_NAME_LEN, "{name:?}");
        assert!(
            name.bytes().all(|b| b > b' ' && b < 0x7f && b != b','),
            "{name:?}"
        );
        assert!(name.bytes().filter(|&b| b == b'@').count() <= 1, "{name:?}");
        assert!(list.contains(name));
    }
}

fuzz_target!(|input: &[u8]| {
    let [max_names, max_len, list @ ..] = input else {
        return;
    };
    check(list, NameListLimits::default());
    check(
        list,
        NameListLimits {
            max_len: usize::from(*max_len) * 4,
            max_names: usize::from(*max_names),
        },
    );
    let framed = Writer::new().string(list).as_slice().to_vec();
    let via_reader = Reader::new(&framed).name_list();
    let direct = NameList::parse(list, NameListLimits::default());
    assert_eq!(via_reader, direct);
});
