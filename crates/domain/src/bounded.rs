//! Free-form request fields, bounded before they are recorded.
//!
//! The log keeps every request forever, so what a client may put in it
//! without limit (the path and query, the `User-Agent`, the client address,
//! the reason a request was refused) is cut at a documented number of bytes.
//! A cut value keeps its head on a UTF-8 boundary and ends in a marker that
//! names the whole value's length and SHA-256 digest, so an auditor can still
//! tell two long values apart and match one against a copy kept elsewhere:
//!
//! ```text
//! Mozilla/5.0 (AAAA…[truncated 61440 bytes, sha256:9f86d081884c7d65…]
//! ```
//!
//! A bounded value is never longer than its limit, marker included.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// Longest recorded path with its query: an Entra filter on a long userName
/// is about 500 bytes.
pub const MAX_PATH_BYTES: usize = 2048;
/// Longest recorded `User-Agent`.
pub const MAX_USER_AGENT_BYTES: usize = 512;
/// Longest recorded client address (an IPv6 address with a zone fits).
pub const MAX_CLIENT_ADDR_BYTES: usize = 128;
/// Longest recorded reason for a refusal.
pub const MAX_DETAIL_BYTES: usize = 1024;
/// Request headers recorded per request, at most (by name order; Entra
/// sends about eight).
pub const MAX_HEADERS: usize = 24;
/// Longest recorded header name.
pub const MAX_HEADER_NAME_BYTES: usize = 64;
/// Longest recorded header value.
pub const MAX_HEADER_VALUE_BYTES: usize = 256;

/// Begins the marker that replaces the end of a cut value.
pub const TRUNCATION_MARKER: &str = "…[truncated ";

/// `value` as recorded: itself when it fits in `limit` bytes, otherwise its
/// head, cut on a character boundary, and a marker with the whole value's
/// length and digest, `limit` bytes at most in all. A limit too small for
/// the marker keeps the marker alone.
pub fn bounded(value: &str, limit: usize) -> Cow<'_, str> {
    if value.len() <= limit {
        return Cow::Borrowed(value);
    }
    let digest = hex::encode(Sha256::digest(value.as_bytes()));
    let marker = format!("{TRUNCATION_MARKER}{} bytes, sha256:{digest}]", value.len());
    let mut head = limit.saturating_sub(marker.len());
    while !value.is_char_boundary(head) {
        head -= 1;
    }
    Cow::Owned(format!("{}{marker}", &value[..head]))
}

/// [`bounded`] for an owned value: no copy when it fits.
pub fn bound_owned(value: String, limit: usize) -> String {
    match bounded(&value, limit) {
        Cow::Borrowed(_) => value,
        Cow::Owned(cut) => cut,
    }
}

/// Whether a recorded value was cut by [`bounded`].
pub fn is_truncated(value: &str) -> bool {
    value.contains(TRUNCATION_MARKER) && value.ends_with(']')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_that_fit_are_kept_as_they_are() {
        let path = format!("/scim_v2/Users?filter={}", "a".repeat(500));
        assert_eq!(bounded(&path, MAX_PATH_BYTES), path.as_str());
        assert!(matches!(bounded(&path, MAX_PATH_BYTES), Cow::Borrowed(_)));
        assert_eq!(bounded("", 0), "");
    }

    #[test]
    fn a_long_user_agent_keeps_its_head_its_length_and_its_digest() {
        let agent = "A".repeat(61_440);
        let recorded = bounded(&agent, MAX_USER_AGENT_BYTES);
        assert!(recorded.len() <= MAX_USER_AGENT_BYTES);
        assert!(recorded.starts_with("AAAA"));
        let digest = hex::encode(Sha256::digest(agent.as_bytes()));
        assert!(
            recorded.ends_with(&format!("…[truncated 61440 bytes, sha256:{digest}]")),
            "{recorded}"
        );
        assert!(is_truncated(&recorded));
    }

    #[test]
    fn the_cut_never_splits_a_character() {
        // 3-byte characters: the limit falls inside one of them.
        let value = "€".repeat(1000);
        let recorded = bounded(&value, 200);
        assert!(recorded.len() <= 200);
        assert!(recorded.starts_with('€'));
    }

    #[test]
    fn a_limit_below_the_marker_keeps_the_marker_alone() {
        let recorded = bounded("abcdef", 3);
        assert!(recorded.starts_with(TRUNCATION_MARKER));
    }

    proptest! {
        #[test]
        fn bounded_values_fit_and_are_prefixes(value in ".{0,400}", limit in 100usize..300) {
            let recorded = bounded(&value, limit);
            prop_assert!(recorded.len() <= limit);
            if value.len() <= limit {
                prop_assert_eq!(recorded.as_ref(), value.as_str());
            } else {
                let head = recorded.split(TRUNCATION_MARKER).next().unwrap();
                prop_assert!(value.starts_with(head));
            }
        }
    }
}
