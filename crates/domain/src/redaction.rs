//! Keeping secrets out of the record: what of a request's headers, query and
//! body may be kept, and how a secret reads once redacted.
//!
//! A secret is recognised by its name (a header's, a query parameter's, a
//! JSON key's), never by its value: `Authorization`, `Cookie`, and any name
//! that mentions a token, a key, a password, a secret, a session, a
//! credential, a signature or auth. Redacting a value that was no secret
//! costs an auditor a little; keeping a secret cannot be undone, since the
//! log is never rewritten. An `Authorization`-like value keeps its scheme
//! (`Bearer [redacted]`), which says how the caller authenticated.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::bounded::{
    MAX_HEADER_NAME_BYTES, MAX_HEADER_VALUE_BYTES, MAX_HEADERS, bound_owned, bounded,
};

/// What a secret reads as once redacted.
pub const REDACTED: &str = "[redacted]";

/// Parts of a name that mark its value as a secret.
const SECRET_NAME_PARTS: [&str; 10] = [
    "auth",
    "cookie",
    "token",
    "key",
    "password",
    "passwd",
    "secret",
    "session",
    "credential",
    "signature",
];

/// Whether a header, query parameter or JSON key named `name` holds a
/// secret (ASCII case-insensitive).
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| name.contains(part))
}

/// A secret's value as recorded: its scheme kept when it starts with one
/// (`Bearer abc` → `Bearer [redacted]`), otherwise [`REDACTED`] alone.
pub fn redact_value(value: &str) -> String {
    match value.trim_start().split_once(' ') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme.len() <= 32
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            format!("{scheme} {REDACTED}")
        }
        _ => REDACTED.to_owned(),
    }
}

/// The headers of a request as recorded: by lowercase name, repeated
/// headers joined with `, `, secrets redacted, each name and value bounded,
/// at most [`MAX_HEADERS`] of them (the first in name order). `User-Agent`
/// is left out: the request's record holds it on its own.
pub fn recorded_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> BTreeMap<String, String> {
    let mut recorded: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let name = bounded(&name.to_ascii_lowercase(), MAX_HEADER_NAME_BYTES).into_owned();
        if name == "user-agent" {
            continue;
        }
        let value = String::from_utf8_lossy(value);
        let value = if is_secret_name(&name) {
            redact_value(&value)
        } else {
            bounded(&value, MAX_HEADER_VALUE_BYTES).into_owned()
        };
        recorded
            .entry(name)
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    recorded
        .into_iter()
        .take(MAX_HEADERS)
        .map(|(name, value)| (name, bound_owned(value, MAX_HEADER_VALUE_BYTES)))
        .collect()
}

/// `body` with the value of every key that names a secret redacted, at any
/// depth, and the `value` of a PATCH operation whose `path` names one.
pub fn redact_body(body: &mut Value) {
    match body {
        Value::Object(object) => {
            let operation_on_secret = object
                .get("path")
                .and_then(Value::as_str)
                .is_some_and(is_secret_name);
            for (key, value) in object.iter_mut() {
                if is_secret_name(key) || (operation_on_secret && key == "value") {
                    *value = Value::String(REDACTED.to_owned());
                } else {
                    redact_body(value);
                }
            }
        }
        Value::Array(values) => values.iter_mut().for_each(redact_body),
        _ => {}
    }
}

/// `data` (an event's payload) with every value whose key names a
/// password redacted, at any depth: the argon2id hashes the log keeps
/// (`password_hash`) are no business of an auditor's, and nothing else in
/// an event is a secret (ids of tokens and sessions name them, never hold
/// them).
pub fn redact_password_hashes(data: &mut Value) {
    match data {
        Value::Object(object) => {
            for (key, value) in object.iter_mut() {
                let key = key.to_ascii_lowercase();
                if (key.contains("password") || key.contains("passwd")) && !value.is_null() {
                    *value = Value::String(REDACTED.to_owned());
                } else {
                    redact_password_hashes(value);
                }
            }
        }
        Value::Array(values) => values.iter_mut().for_each(redact_password_hashes),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> BTreeMap<String, String> {
        recorded_headers(pairs.iter().map(|(name, value)| (*name, value.as_bytes())))
    }

    #[test]
    fn credentials_keep_their_scheme_and_lose_their_value() {
        let recorded = headers(&[
            ("Authorization", "Bearer scim_s3cr3t"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
            ("Cookie", "rcsess=abc; theme=dark"),
            ("X-Api-Key", "k-123"),
            ("Content-Type", "application/scim+json"),
            ("User-Agent", "Azure Active Directory SCIM Client"),
        ]);
        assert_eq!(recorded["authorization"], "Bearer [redacted]");
        assert_eq!(recorded["proxy-authorization"], "Basic [redacted]");
        assert_eq!(recorded["cookie"], "[redacted]");
        assert_eq!(recorded["x-api-key"], "[redacted]");
        assert_eq!(recorded["content-type"], "application/scim+json");
        assert!(!recorded.contains_key("user-agent"));
        let text = serde_json::to_string(&recorded).unwrap();
        for secret in ["s3cr3t", "dXNlcjpwYXNz", "abc", "k-123"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn headers_are_bounded_in_count_and_size() {
        let names: Vec<String> = (0..100).map(|n| format!("x-custom-{n:03}")).collect();
        let long = "v".repeat(10_000);
        let recorded = recorded_headers(
            names
                .iter()
                .map(|name| (name.as_str(), long.as_bytes()))
                .chain([("accept", long.as_bytes()), ("accept", long.as_bytes())]),
        );
        assert_eq!(recorded.len(), MAX_HEADERS);
        assert!(recorded.contains_key("accept"), "the first in name order");
        assert!(
            recorded
                .values()
                .all(|value| value.len() <= MAX_HEADER_VALUE_BYTES)
        );
    }

    #[test]
    fn repeated_headers_are_joined() {
        let recorded = headers(&[("Accept", "a/b"), ("accept", "c/d")]);
        assert_eq!(recorded["accept"], "a/b, c/d");
    }

    #[test]
    fn events_lose_their_password_hashes_and_keep_their_token_ids() {
        let mut data = json!({
            "resource": {"userName": "ada@contoso.com"},
            "password_hash": "$argon2id$v=19$...",
            "token_id": "0191",
            "session_id": "0192",
        });
        redact_password_hashes(&mut data);
        assert_eq!(
            data,
            json!({
                "resource": {"userName": "ada@contoso.com"},
                "password_hash": "[redacted]",
                "token_id": "0191",
                "session_id": "0192",
            })
        );
    }

    #[test]
    fn passwords_in_bodies_are_redacted_at_any_depth() {
        let mut body = json!({
            "userName": "ada@contoso.com",
            "password": "hunter2",
            "Operations": [
                {"op": "replace", "path": "password", "value": "hunter3"},
                {"op": "replace", "value": {"Password": "hunter4", "active": true}},
                {"op": "replace", "path": "active", "value": false},
            ],
        });
        redact_body(&mut body);
        assert_eq!(
            body,
            json!({
                "userName": "ada@contoso.com",
                "password": "[redacted]",
                "Operations": [
                    {"op": "replace", "path": "password", "value": "[redacted]"},
                    {"op": "replace", "value": {"Password": "[redacted]", "active": true}},
                    {"op": "replace", "path": "active", "value": false},
                ],
            })
        );
    }
}
