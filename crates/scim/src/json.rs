//! Case-insensitive access to JSON object members (RFC 7643 §2.1: attribute
//! names are case-insensitive, but a stored key keeps its spelling).

use serde_json::{Map, Value};

/// The member named `key` in any case.
pub(crate) fn get_ci<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The stored spelling of the member named `key` in any case.
pub(crate) fn find_key(obj: &Map<String, Value>, key: &str) -> Option<String> {
    if obj.contains_key(key) {
        return Some(key.to_owned());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Sets `key` (any case) to `value`, keeping an existing key's spelling and position.
pub(crate) fn set_ci(obj: &mut Map<String, Value>, key: &str, value: Value) {
    let key = find_key(obj, key).unwrap_or_else(|| key.to_owned());
    obj.insert(key, value);
}

/// Removes `key` (any case), keeping the other members' order.
pub(crate) fn remove_ci(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let key = find_key(obj, key)?;
    obj.shift_remove(&key)
}

/// The member named `key` in any case, for changing in place.
pub(crate) fn get_mut_ci<'v>(obj: &'v mut Map<String, Value>, key: &str) -> Option<&'v mut Value> {
    let key = find_key(obj, key)?;
    obj.get_mut(&key)
}

/// Whether two strings are equal ignoring case, without allocating when both are ASCII.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// The kind of a JSON value, never the value itself: a detail can reach
/// logs, and the value might be a secret sent in the wrong place.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
