//! Remote paths as OpenSSH's sftp builds them: bytes, `/`-separated, relative ones resolved
//! against the remote working directory by the client.

/// Whether a path starts at the root.
pub fn is_absolute(path: &[u8]) -> bool {
    path.first() == Some(&b'/')
}

/// `dir/name`, with exactly one slash between them.
pub fn append(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = dir.to_vec();
    if !out.is_empty() && !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// `path` itself when absolute, else `pwd/path`.
pub fn absolute(path: &[u8], pwd: &[u8]) -> Vec<u8> {
    match is_absolute(path) {
        true => path.to_vec(),
        false => append(pwd, path),
    }
}

/// The last component (trailing slashes ignored); `/` for the root.
pub fn base_name(path: &[u8]) -> &[u8] {
    let mut end = path.len();
    while end > 1 && path.get(end - 1) == Some(&b'/') {
        end -= 1;
    }
    let trimmed = path.get(..end).unwrap_or(path);
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) if trimmed.len() > 1 => trimmed.get(i + 1..).unwrap_or(trimmed),
        _ => trimmed,
    }
}

/// `path` shown relative to `prefix` when it lies below it (OpenSSH's `path_strip`).
pub fn strip_prefix(path: &[u8], prefix: Option<&[u8]>) -> Vec<u8> {
    let Some(prefix) = prefix.filter(|p| !p.is_empty()) else {
        return path.to_vec();
    };
    match path.strip_prefix(prefix) {
        Some(rest) if !prefix.ends_with(b"/") && rest.first() == Some(&b'/') => {
            rest.get(1..).unwrap_or_default().to_vec()
        }
        Some(rest) => rest.to_vec(),
        None => path.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_and_split_like_sftp() {
        assert_eq!(append(b"/a", b"b"), b"/a/b");
        assert_eq!(append(b"/a/", b"b"), b"/a/b");
        assert_eq!(append(b"", b"b"), b"b");
        assert_eq!(absolute(b"x", b"/home/u"), b"/home/u/x");
        assert_eq!(absolute(b"/x", b"/home/u"), b"/x");
        assert_eq!(base_name(b"/a/b/"), b"b");
        assert_eq!(base_name(b"/"), b"/");
        assert_eq!(base_name(b"name"), b"name");
        assert_eq!(base_name(b"/a/.."), b"..");
        assert_eq!(strip_prefix(b"/w/tree/x", Some(b"/w")), b"tree/x");
        assert_eq!(strip_prefix(b"/w/tree", Some(b"/w/")), b"tree");
        assert_eq!(strip_prefix(b"/other", Some(b"/w")), b"/other");
        assert_eq!(strip_prefix(b"/w/x", None), b"/w/x");
    }
}
