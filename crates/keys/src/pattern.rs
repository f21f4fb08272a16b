//! The `*` and `?` wildcards of OpenSSH's host patterns (ssh_config(5), PATTERNS), shared by
//! known_hosts and the `from=` option of authorized_keys.

/// Whether `text` matches `pattern`: `*` matches any run of characters, `?` exactly one.
///
/// Iterative with a single backtrack point, so no pattern can make it recurse or take more
/// than `pattern.len() * text.len()` steps.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match (p.get(pi), t.get(ti)) {
            (Some('*'), _) => {
                star = Some((pi, ti));
                pi += 1;
            }
            (Some(&pc), Some(&tc)) if pc == '?' || pc == tc => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.example.com", "a.example.com"));
        assert!(!wildcard_match("*.example.com", "example.com"));
        assert!(wildcard_match("h?st", "host"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(wildcard_match("10.0.0.?", "10.0.0.7"));
        assert!(wildcard_match("h\u{e9}?", "h\u{e9}t"));
    }

    proptest! {
        #[test]
        fn arbitrary_patterns_never_panic(p in "[*?a-c!]{0,20}", n in "[a-c]{0,20}") {
            let _ = wildcard_match(&p, &n);
        }

        #[test]
        fn a_literal_matches_itself(s in "[a-z.]{0,20}") {
            prop_assert!(wildcard_match(&s, &s));
        }
    }
}
