//! Field decoders that requests, responses and extensions share.

use sshwire_wire::{Error, Reader};

/// A name and its data, both bytes: an extension announced in `INIT` or `VERSION`
/// (filexfer-02 §4), or an extended attribute in `ATTRS` (filexfer-02 §5).
pub type ExtensionPair = (Vec<u8>, Vec<u8>);

/// Longest handle accepted (filexfer-02 §7: "The length of the handle string MUST NOT exceed
/// 256 data bytes.").
pub const MAX_HANDLE_LEN: usize = 256;

/// Reads a handle: a `string` of at most [`MAX_HANDLE_LEN`] bytes.
pub(crate) fn decode_handle(r: &mut Reader<'_>) -> Result<Vec<u8>, Error> {
    // filexfer-02 §7: "The length of the handle string MUST NOT exceed 256 data bytes."
    Ok(r.string_limited("SFTP handle", MAX_HANDLE_LEN)?.to_vec())
}

/// Reads `string extension_name`, `string extension_data` pairs to the end of the packet
/// (the extension data of `INIT` and `VERSION`).
pub(crate) fn extension_pairs(r: &mut Reader<'_>) -> Result<Vec<ExtensionPair>, Error> {
    let mut pairs = Vec::new();
    while !r.is_empty() {
        // filexfer-02 §4: "both strings MUST always be present if one is, but the
        // `extension_data' string may be of zero length".
        let name = r.string()?.to_vec();
        let data = r.string()?.to_vec();
        pairs.push((name, data));
    }
    Ok(pairs)
}
