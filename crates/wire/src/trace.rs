//! Helpers shared by the packet-trace describers of every layer.
//!
//! A trace shows what a peer sent, so every piece of peer text goes through [`text`], which
//! escapes control characters (a hostile server must not be able to drive the reader's
//! terminal through a trace) and bounds the length. Bytes that are not text are shown by
//! length and a short hexadecimal prefix ([`hex_prefix`]), never whole.

use core::fmt::Write;

/// Most characters of one peer string a trace shows.
pub const MAX_TEXT_CHARS: usize = 120;

/// Most names of one name-list a trace shows.
pub const MAX_NAMES: usize = 40;

/// Bytes shown by [`hex_prefix`].
pub const HEX_PREFIX_LEN: usize = 8;

/// Peer bytes as a quoted string: control characters, quotes and backslashes escaped, bytes
/// that are not UTF-8 as `\xNN`, cut after [`MAX_TEXT_CHARS`] characters (saying how many
/// bytes were left out).
pub fn text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().min(MAX_TEXT_CHARS) + 2);
    out.push('"');
    let mut shown = 0usize;
    let mut consumed = 0usize;
    'chunks: for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if shown >= MAX_TEXT_CHARS {
                break 'chunks;
            }
            out.extend(c.escape_debug());
            shown += 1;
            consumed += c.len_utf8();
        }
        for b in chunk.invalid() {
            if shown >= MAX_TEXT_CHARS {
                break 'chunks;
            }
            let _ = write!(out, "\\x{b:02x}");
            shown += 1;
            consumed += 1;
        }
    }
    out.push('"');
    let left = bytes.len().saturating_sub(consumed);
    if left > 0 {
        let _ = write!(out, "...(+{left} bytes)");
    }
    out
}

/// Bytes as their length and the hexadecimal of their first [`HEX_PREFIX_LEN`] bytes, as in
/// `32 bytes 1f2e3d4c5b6a7988..`.
pub fn hex_prefix(bytes: &[u8]) -> String {
    let mut out = format!("{} bytes", bytes.len());
    if !bytes.is_empty() {
        out.push(' ');
        out.push_str(&hex(bytes.get(..HEX_PREFIX_LEN).unwrap_or(bytes)));
        if bytes.len() > HEX_PREFIX_LEN {
            out.push_str("..");
        }
    }
    out
}

/// Bytes in lowercase hexadecimal, whole (for short identifiers such as SFTP handles; callers
/// bound the length).
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Names as `[a,b,c]`, each escaped as by [`text`] when it holds anything but printable
/// ASCII, at most [`MAX_NAMES`] of them (then `+N more`).
pub fn names<'a>(list: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    let mut count = 0usize;
    let mut more = 0usize;
    for name in list {
        if count >= MAX_NAMES {
            more += 1;
            continue;
        }
        if count > 0 {
            out.push(',');
        }
        out.push_str(&name_text(name));
        count += 1;
    }
    if more > 0 {
        let _ = write!(out, ",+{more} more");
    }
    out.push(']');
    out
}

/// A name shown bare when it is short printable ASCII without separators, quoted otherwise.
pub fn name_text(name: &str) -> String {
    let plain = name.len() <= MAX_TEXT_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b',');
    if plain && !name.is_empty() {
        name.to_owned()
    } else {
        text(name.as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_characters_are_escaped_and_invalid_bytes_shown_as_hex() {
        assert_eq!(text(b"ok\x1b[2J\r\n\"q\""), r#""ok\u{1b}[2J\r\n\"q\"""#);
        assert_eq!(text(b"a\xffb"), r#""a\xffb""#);
        assert_eq!(text("é".as_bytes()), "\"é\"");
    }

    #[test]
    fn long_text_is_cut_and_says_how_much_is_left() {
        let long = vec![b'x'; MAX_TEXT_CHARS + 30];
        let shown = text(&long);
        assert!(shown.ends_with("\"...(+30 bytes)"), "{shown}");
    }

    #[test]
    fn hex_prefix_shows_length_and_start_only() {
        assert_eq!(hex_prefix(&[]), "0 bytes");
        assert_eq!(hex_prefix(&[1, 2]), "2 bytes 0102");
        assert_eq!(hex_prefix(&[0xab; 20]), "20 bytes abababababababab..");
    }

    #[test]
    fn name_lists_are_bounded_and_odd_names_quoted() {
        assert_eq!(names(["a", "b@x.org"]), "[a,b@x.org]");
        assert_eq!(names(["bad\nname"]), r#"["bad\nname"]"#);
        let many: Vec<String> = (0..MAX_NAMES + 3).map(|i| i.to_string()).collect();
        assert!(names(many.iter().map(String::as_str)).ends_with(",+3 more]"));
    }

    proptest! {
        #[test]
        fn text_never_holds_a_control_character(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let shown = text(&bytes);
            prop_assert!(!shown.chars().any(char::is_control));
            prop_assert!(shown.chars().count() <= 4 * 10 * MAX_TEXT_CHARS);
        }
    }
}
