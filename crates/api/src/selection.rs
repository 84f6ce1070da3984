//! `attributes` and `excludedAttributes` (RFC 7644 §3.9), read from the query
//! string of any User or Group request (or from a SearchRequest turned into
//! one), parameter names in any case, checked against that resource type's
//! schema. A parameter given twice counts as one list. The projection itself
//! is [`scim::Selection`].

use scim::{AttributeSchema, GroupSchema, Selection, UserSchema};

use crate::ApiError;

/// The selection a User request's query string asks for; malformed names
/// are 400 `invalidPath`.
pub fn from_query(query_string: &str) -> Result<Selection, ApiError> {
    from_query_for(query_string, &UserSchema)
}

/// The selection a Group request's query string asks for.
pub fn group_from_query(query_string: &str) -> Result<Selection, ApiError> {
    from_query_for(query_string, &GroupSchema)
}

fn from_query_for(
    query_string: &str,
    schema: &impl AttributeSchema,
) -> Result<Selection, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
        .map_err(|error| ApiError::syntax(format!("the query string is malformed: {error}")))?;
    let mut attributes: Vec<String> = Vec::new();
    let mut excluded: Vec<String> = Vec::new();
    for (name, value) in pairs {
        match name.to_ascii_lowercase().as_str() {
            "attributes" => attributes.push(value),
            "excludedattributes" => excluded.push(value),
            _ => {}
        }
    }
    let list = |values: Vec<String>| (!values.is_empty()).then(|| values.join(","));
    Ok(Selection::parse(
        list(attributes).as_deref(),
        list(excluded).as_deref(),
        schema,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameter_names_are_case_insensitive_and_lists_join() {
        let selection =
            from_query("ATTRIBUTES=userName&attributes=name.givenName&aadOptscim062020").unwrap();
        let user = json!({"id": "1", "userName": "a", "name": {"givenName": "b", "familyName": "c"}, "active": true});
        assert_eq!(
            selection.apply(&user, &UserSchema),
            json!({"id": "1", "userName": "a", "name": {"givenName": "b"}})
        );
        let selection = from_query("excludedattributes=active%2Cname").unwrap();
        assert_eq!(
            selection.apply(&user, &UserSchema),
            json!({"id": "1", "userName": "a"})
        );
    }

    #[test]
    fn no_parameters_select_everything_and_bad_names_are_refused() {
        assert!(from_query("filter=x").unwrap().is_all());
        assert!(from_query("attributes=user%20name").is_err());
    }
}
