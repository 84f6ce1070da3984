//! Which of Entra's and Okta's PATCH forms a request used, beside RFC 7644's
//! own: for operators' dashboards (which form each organization sends), not
//! for applying the request, which [`super::PatchRequest`] reads in every form.

use serde_json::Value;

use crate::json::get_ci;

/// A PATCH form an identity provider sends that RFC 7644 does not spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialectForm {
    /// `"op": "Replace"`: Entra's default dialect.
    CapitalisedOp,
    /// A boolean sent as the string `"True"`/`"False"`.
    StringBoolean,
    /// A `replace` without `path` whose value object's keys are dotted or
    /// URN-qualified paths (`"name.givenName"`): Entra's flag dialect.
    PathlessDottedReplace,
    /// The `?aadOptscim062020` query flag on the Tenant URL.
    AadOptScim062020,
    /// `{"op":"remove","path":"members[value eq \"id\"]"}`.
    MembersRemoveByFilter,
}

impl DialectForm {
    /// Every form, in the order of their labels.
    pub const ALL: [DialectForm; 5] = [
        DialectForm::CapitalisedOp,
        DialectForm::StringBoolean,
        DialectForm::PathlessDottedReplace,
        DialectForm::AadOptScim062020,
        DialectForm::MembersRemoveByFilter,
    ];

    /// The form's name in metrics (`rollcall_scim_dialect_forms_total{form}`).
    pub fn label(self) -> &'static str {
        match self {
            DialectForm::CapitalisedOp => "capitalised_op",
            DialectForm::StringBoolean => "string_boolean",
            DialectForm::PathlessDottedReplace => "pathless_dotted_replace",
            DialectForm::AadOptScim062020 => "aad_opt_scim062020",
            DialectForm::MembersRemoveByFilter => "members_remove_by_filter",
        }
    }
}

/// The forms a PATCH request with query string `query` and body `body`
/// used, each once, in [`DialectForm::ALL`]'s order.
pub fn dialect_forms(query: &str, body: &Value) -> Vec<DialectForm> {
    let operations = body
        .as_object()
        .and_then(|object| get_ci(object, "Operations"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let used = |form: DialectForm| match form {
        DialectForm::AadOptScim062020 => has_aad_flag(query),
        form => operations.iter().any(|operation| uses(operation, form)),
    };
    DialectForm::ALL
        .into_iter()
        .filter(|form| used(*form))
        .collect()
}

/// Whether the query string carries `aadOptscim062020` (with or without a value).
fn has_aad_flag(query: &str) -> bool {
    query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or_default();
        key.eq_ignore_ascii_case("aadOptscim062020")
    })
}

fn uses(operation: &Value, form: DialectForm) -> bool {
    let Some(object) = operation.as_object() else {
        return false;
    };
    let op = get_ci(object, "op")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let path = get_ci(object, "path")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    let value = get_ci(object, "value");
    match form {
        DialectForm::CapitalisedOp => op.chars().any(char::is_uppercase),
        DialectForm::StringBoolean => value.is_some_and(|value| holds_string_boolean(value, 3)),
        DialectForm::PathlessDottedReplace => {
            op.eq_ignore_ascii_case("replace")
                && path.is_empty()
                && value
                    .and_then(Value::as_object)
                    .is_some_and(|value| value.keys().any(|key| key.contains('.')))
        }
        DialectForm::MembersRemoveByFilter => {
            op.eq_ignore_ascii_case("remove")
                && path
                    .get(..8)
                    .is_some_and(|start| start.eq_ignore_ascii_case("members["))
        }
        DialectForm::AadOptScim062020 => false,
    }
}

/// `"True"`/`"False"` in any case, as the value or within `depth` levels of
/// objects and arrays under it (`{"active":"False"}`, `[{"primary":"True"}]`).
fn holds_string_boolean(value: &Value, depth: usize) -> bool {
    match value {
        Value::String(text) => {
            text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false")
        }
        Value::Object(object) if depth > 0 => object
            .values()
            .any(|inner| holds_string_boolean(inner, depth - 1)),
        Value::Array(items) if depth > 0 => items
            .iter()
            .any(|inner| holds_string_boolean(inner, depth - 1)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::DialectForm::*;
    use super::*;

    #[test]
    fn each_form_is_recognised_and_rfc_7644_uses_none() {
        let cases = [
            (
                "",
                json!({"Operations": [{"op": "Replace", "path": "displayName", "value": "x"}]}),
                vec![CapitalisedOp],
            ),
            (
                "",
                json!({"Operations": [{"op": "replace", "path": "active", "value": "False"}]}),
                vec![StringBoolean],
            ),
            (
                "",
                json!({"Operations": [{"op": "Add", "value": {"emails": [{"primary": "True"}]}}]}),
                vec![CapitalisedOp, StringBoolean],
            ),
            (
                "aadOptscim062020",
                json!({"Operations": [{"op": "replace", "value": {"name.givenName": "Ada", "active": false}}]}),
                vec![PathlessDottedReplace, AadOptScim062020],
            ),
            (
                "attributes=id&aadOptscim062020=",
                json!({"Operations": [{"op": "remove", "path": "members[value eq \"1\"]"}]}),
                vec![AadOptScim062020, MembersRemoveByFilter],
            ),
            (
                "",
                json!({"Operations": [
                    {"op": "replace", "path": "active", "value": false},
                    {"op": "replace", "value": {"displayName": "x"}},
                    {"op": "remove", "path": "members", "value": [{"value": "1"}]},
                ]}),
                vec![],
            ),
        ];
        for (query, body, expected) in cases {
            assert_eq!(dialect_forms(query, &body), expected, "{query} {body}");
        }
    }

    #[test]
    fn labels_are_distinct() {
        let labels: std::collections::HashSet<_> =
            DialectForm::ALL.iter().map(|form| form.label()).collect();
        assert_eq!(labels.len(), DialectForm::ALL.len());
    }
}
