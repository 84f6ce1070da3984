//! A resource's attributes as flat paths, so that a change reads as one
//! line per attribute: `name.givenName`, `emails[type eq "work"].value`,
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`.
//!
//! Paths follow SCIM's attribute path notation (RFC 7644 §3.10): sub-
//! attributes after a dot, an extension's attributes after its schema URN
//! and a colon, and the element of a multi-valued attribute named by a
//! filter on its `type` when every element has a distinct one (as Entra
//! sends emails, phone numbers and addresses), else by its index (`[0]`). A
//! list of plain values (`schemas`) is one value.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One attribute that changed: its value before and after (`None`: absent,
/// shown as `null`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeChange {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Every leaf of `resource`, by path.
pub fn flatten(resource: &Value) -> BTreeMap<String, Value> {
    let mut leaves = BTreeMap::new();
    if let Value::Object(fields) = resource {
        for (key, value) in fields {
            walk(key.clone(), value, &mut leaves);
        }
    }
    leaves
}

/// The attributes that differ between two versions of a resource (`None`:
/// it did not exist), in path order.
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<AttributeChange> {
    let before = before.map(flatten).unwrap_or_default();
    let mut after = after.map(flatten).unwrap_or_default();
    let mut changed = Vec::new();
    for (path, old) in before {
        let new = after.remove(&path);
        if new.as_ref() != Some(&old) {
            changed.push(AttributeChange {
                path,
                before: Some(old),
                after: new,
            });
        }
    }
    changed.extend(after.into_iter().map(|(path, new)| AttributeChange {
        path,
        before: None,
        after: Some(new),
    }));
    changed.sort_by(|a, b| a.path.cmp(&b.path));
    changed
}

fn walk(path: String, value: &Value, leaves: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            // An extension's attributes hang off its URN with a colon.
            let separator = if path.starts_with("urn:") { ':' } else { '.' };
            for (key, value) in fields {
                walk(format!("{path}{separator}{key}"), value, leaves);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            let types = distinct_types(items);
            for (index, item) in items.iter().enumerate() {
                let element = match &types {
                    Some(types) => format!("{path}[type eq {:?}]", types[index]),
                    None => format!("{path}[{index}]"),
                };
                walk(element, item, leaves);
            }
        }
        _ => {
            leaves.insert(path, value.clone());
        }
    }
}

/// Each element's `type`, when every element is an object with a distinct
/// string `type`.
fn distinct_types(items: &[Value]) -> Option<Vec<&str>> {
    let types: Vec<&str> = items
        .iter()
        .map(|item| item.get("type").and_then(Value::as_str))
        .collect::<Option<_>>()?;
    let mut seen = types.clone();
    seen.sort_unstable();
    seen.dedup();
    (seen.len() == types.len()).then_some(types)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn paths_name_sub_attributes_typed_elements_and_extensions() {
        let leaves = flatten(&json!({
            "schemas": ["a", "b"],
            "userName": "ada@contoso.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [
                {"type": "work", "value": "ada@contoso.com", "primary": true},
                {"type": "home", "value": "ada@home.test"},
            ],
            "phoneNumbers": [{"value": "1"}, {"value": "2"}],
            ENTERPRISE: {"department": "Finance"},
        }));
        let paths: Vec<&str> = leaves.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                r#"emails[type eq "home"].type"#,
                r#"emails[type eq "home"].value"#,
                r#"emails[type eq "work"].primary"#,
                r#"emails[type eq "work"].type"#,
                r#"emails[type eq "work"].value"#,
                "name.familyName",
                "name.givenName",
                "phoneNumbers[0].value",
                "phoneNumbers[1].value",
                "schemas",
                &format!("{ENTERPRISE}:department"),
                "userName",
            ]
        );
        assert_eq!(leaves["schemas"], json!(["a", "b"]));
    }

    #[test]
    fn changes_list_what_was_changed_added_and_removed() {
        let before = json!({"userName": "ada", "name": {"givenName": "Ada"}, "title": "Eng"});
        let after = json!({"userName": "ada", "name": {"givenName": "Adaline"}, "nickName": "A"});
        assert_eq!(
            changes(Some(&before), Some(&after)),
            [
                AttributeChange {
                    path: "name.givenName".into(),
                    before: Some(json!("Ada")),
                    after: Some(json!("Adaline")),
                },
                AttributeChange {
                    path: "nickName".into(),
                    before: None,
                    after: Some(json!("A")),
                },
                AttributeChange {
                    path: "title".into(),
                    before: Some(json!("Eng")),
                    after: None,
                },
            ]
        );
        assert!(changes(Some(&before), Some(&before)).is_empty());
        assert_eq!(changes(None, Some(&before)).len(), 3);
    }
}
