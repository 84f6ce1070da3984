//! The SearchRequest message (RFC 7644 §3.4.3), turned into the query
//! string a `GET` would carry, so that `POST .search` on Users, on Groups and
//! at the root goes through the same list parameter parsers as `GET`.

use actix_web::{HttpRequest, web};
use serde_json::Value;

use crate::{ApiError, AppState, body};

/// The SearchRequest message schema.
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// SearchRequest members that carry over to list parameters, in the
/// spelling of the query string; member names match in any case.
const PARAMETERS: [&str; 7] = [
    "filter",
    "startIndex",
    "count",
    "sortBy",
    "sortOrder",
    "attributes",
    "excludedAttributes",
];

/// Reads a SearchRequest body: the `GET` query string that asks what it asks.
pub async fn read(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<String, ApiError> {
    let body = body::read_json(request, payload, state.settings.max_body_bytes).await?;
    query_string(&body)
}

/// The `GET` query string that asks what `body` asks. Unknown members
/// are ignored; a `schemas` that is present must name the SearchRequest.
fn query_string(body: &Value) -> Result<String, ApiError> {
    let Some(members) = body.as_object() else {
        return Err(ApiError::syntax("a SearchRequest is a JSON object"));
    };
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (key, value) in members {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(value)?;
            continue;
        }
        let Some(name) = PARAMETERS.iter().find(|p| p.eq_ignore_ascii_case(key)) else {
            continue;
        };
        if let Some(text) = parameter(name, value)? {
            pairs.push((name, text));
        }
    }
    serde_urlencoded::to_string(pairs)
        .map_err(|error| ApiError::Internal(format!("cannot encode list parameters: {error}")))
}

fn check_schemas(value: &Value) -> Result<(), ApiError> {
    let names_search = value.as_array().is_some_and(|schemas| {
        schemas
            .iter()
            .filter_map(Value::as_str)
            .any(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST))
    });
    if names_search {
        Ok(())
    } else {
        Err(ApiError::syntax(format!(
            "a SearchRequest's schemas must include {SEARCH_REQUEST}"
        )))
    }
}

/// One member as a query-string value; `null` counts as absent.
fn parameter(name: &str, value: &Value) -> Result<Option<String>, ApiError> {
    let wrong = || {
        ApiError::syntax(format!(
            "SearchRequest {name} must be {}",
            match name {
                "startIndex" | "count" => "an integer",
                "attributes" | "excludedAttributes" => "an array of attribute names",
                _ => "a string",
            }
        ))
    };
    match (name, value) {
        (_, Value::Null) => Ok(None),
        ("startIndex" | "count", Value::Number(number)) => Ok(Some(number.to_string())),
        // The parameters' own parser judges the text, as for a query string.
        (_, Value::String(text)) => Ok(Some(text.clone())),
        ("attributes" | "excludedAttributes", Value::Array(names)) => {
            let names: Option<Vec<&str>> = names.iter().map(Value::as_str).collect();
            Ok(Some(names.ok_or_else(wrong)?.join(",")))
        }
        _ => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_search_request_becomes_the_get_query_string() {
        let body = json!({
            "schemas": [SEARCH_REQUEST],
            "FILTER": "userName eq \"a b\"",
            "startIndex": 2,
            "count": 5,
            "attributes": ["userName", "name.givenName"],
            "excludedAttributes": null,
            "sortBy": "userName",
            "sortOrder": "descending",
            "unknown": 1
        });
        assert_eq!(
            query_string(&body).unwrap(),
            "filter=userName+eq+%22a+b%22&startIndex=2&count=5\
             &attributes=userName%2Cname.givenName&sortBy=userName&sortOrder=descending"
        );
        assert_eq!(query_string(&json!({})).unwrap(), "");
    }

    #[test]
    fn malformed_search_requests_are_invalid_syntax() {
        for body in [
            json!([]),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
            json!({"count": "x", "startIndex": true}),
            json!({"attributes": [1]}),
            json!({"filter": 3}),
        ] {
            assert!(query_string(&body).is_err(), "{body}");
        }
    }
}
