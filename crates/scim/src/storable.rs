//! What rollcall can store at all: a request body whose strings or member
//! names PostgreSQL cannot hold is refused before it is recorded.
//!
//! PostgreSQL `text` and `jsonb` cannot hold the character U+0000. The event
//! log keeps bodies as `json` text, where the escape `\u0000` is legal, so
//! such a body would be appended and acknowledged, and then fail every
//! attempt to fold it into the read tables. The check walks the whole body,
//! attributes the server does not know included, since those are kept too.

use serde_json::Value;

use crate::error::{ScimError, ScimType};

/// The longest piece of a client's member name quoted in an error detail.
const QUOTED_NAME_CHARS: usize = 64;

/// Refuses a body that holds U+0000 anywhere, in a value or in a member
/// name, with a 400 `invalidValue` whose detail gives the JSON path to it
/// (never the value).
pub fn check_storable(body: &Value) -> Result<(), ScimError> {
    let mut path = Vec::new();
    if find_nul(body, &mut path) {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!(
                "{} contains the character U+0000 (NUL), which rollcall cannot store; remove it",
                render(&path)
            ),
        ));
    }
    Ok(())
}

enum Step<'a> {
    Member(&'a str),
    Index(usize),
}

/// Whether `value` holds a NUL; `path` then leads to it.
fn find_nul<'a>(value: &'a Value, path: &mut Vec<Step<'a>>) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Object(members) => members.iter().any(|(name, member)| {
            path.push(Step::Member(name));
            let found = name.contains('\0') || find_nul(member, path);
            if !found {
                path.pop();
            }
            found
        }),
        Value::Array(items) => items.iter().enumerate().any(|(index, item)| {
            path.push(Step::Index(index));
            let found = find_nul(item, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Member(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let shown: String = name
                    .chars()
                    .take(QUOTED_NAME_CHARS)
                    .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
                    .collect();
                out.push_str(&shown);
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    if out.is_empty() {
        "the body".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail(body: Value) -> Option<String> {
        check_storable(&body).err().map(|error| {
            assert_eq!(error.status, 400);
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
            error.detail
        })
    }

    #[test]
    fn a_nul_anywhere_is_refused_with_its_path() {
        let cases = [
            (json!({"displayName": "a\u{0}b"}), "displayName contains"),
            (
                json!({"Operations": [{"op": "add"}, {"op": "replace", "value": {"x": ["ok", "\u{0}"]}}]}),
                "Operations[1].value.x[1] contains",
            ),
            (json!({"a\u{0}b": 1}), "a\u{FFFD}b contains"),
            (json!("\u{0}"), "the body contains"),
        ];
        for (body, expected) in cases {
            let detail = detail(body).expect("refused");
            assert!(detail.starts_with(expected), "{detail}");
        }
    }

    #[test]
    fn everything_else_is_storable() {
        assert_eq!(
            detail(json!({"userName": "ünï\u{1}cødé ✓", "n": [1, null, true, {"k": "\\u0000"}]})),
            None
        );
    }
}
