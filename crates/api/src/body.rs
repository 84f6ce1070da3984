//! Reading request bodies: size-limited, parsed as JSON whatever the
//! content type claims (Entra sends `application/scim+json`, others
//! `application/json` or nothing).

use actix_web::{HttpMessage, HttpRequest, web};
use futures::StreamExt;
use scim::ScimError;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// The SHA-256 of a request body, kept in the request for the record.
#[derive(Debug, Clone)]
pub struct BodyDigest(pub String);

/// Reads the body (at most `limit` bytes), records its digest in the
/// request, and parses it as JSON.
///
/// A body that carries a password is digested with the password's value
/// removed (see [`redact_passwords`]): the rest of such a body is in the
/// event, so a digest of it whole would let anyone who reads the log test
/// password guesses at SHA-256 speed.
pub async fn read_json(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Value, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered");
    let within = state.settings.body_read_timeout;
    let bytes = tokio::time::timeout(within, read_bytes(&mut payload, limit))
        .await
        .map_err(|_| {
            ApiError::Scim(ScimError {
                status: 408,
                scim_type: None,
                detail: format!(
                    "the body did not arrive within {} s; send it whole and promptly",
                    within.as_secs()
                ),
            })
        })??;
    let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
    let digest = match &parsed {
        Ok(body) if carries_password(body) => {
            let mut redacted = body.clone();
            redact_passwords(&mut redacted);
            hex::encode(Sha256::digest(redacted.to_string()))
        }
        Ok(_) => hex::encode(Sha256::digest(&bytes)),
        Err(_) => hex::encode(Sha256::digest(&bytes)),
    };
    request.extensions_mut().insert(BodyDigest(digest));
    let body =
        parsed.map_err(|error| ApiError::syntax(format!("the body is not valid JSON: {error}")))?;
    scim::check_storable(&body)?;
    Ok(body)
}

/// The body's bytes, at most `limit` of them (413 past it).
async fn read_bytes(payload: &mut web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::syntax(format!("could not read the body: {error}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::Scim(ScimError {
                status: 413,
                scim_type: None,
                detail: format!("the body is larger than {limit} bytes"),
            }));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Nulls every password in a request body, at any depth: `password` members
/// (also URN-qualified, `...:User:password`) and the `value` of PATCH
/// operations whose `path` names the password. Returns whether it found one.
pub fn redact_passwords(body: &mut Value) -> bool {
    match body {
        Value::Object(fields) => {
            let mut found = false;
            let path_is_password = path_names_password(fields);
            for (key, value) in fields.iter_mut() {
                if is_secret(key, path_is_password) && !value.is_null() {
                    *value = Value::Null;
                    found = true;
                } else {
                    found |= redact_passwords(value);
                }
            }
            found
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |found, item| redact_passwords(item) | found),
        _ => false,
    }
}

/// Whether [`redact_passwords`] would find a password in `body`. Most
/// bodies carry none, and they are digested as sent without being copied.
pub fn carries_password(body: &Value) -> bool {
    match body {
        Value::Object(fields) => {
            let path_is_password = path_names_password(fields);
            fields.iter().any(|(key, value)| {
                (is_secret(key, path_is_password) && !value.is_null()) || carries_password(value)
            })
        }
        Value::Array(items) => items.iter().any(carries_password),
        _ => false,
    }
}

/// Whether the member `key` holds a password: it names one, or it is the
/// `value` of a PATCH operation whose `path` does.
fn is_secret(key: &str, path_is_password: bool) -> bool {
    names_password(key) || (path_is_password && key.eq_ignore_ascii_case("value"))
}

fn path_names_password(fields: &serde_json::Map<String, Value>) -> bool {
    fields.iter().any(|(key, value)| {
        key.eq_ignore_ascii_case("path") && value.as_str().is_some_and(names_password)
    })
}

/// `password`, or a URN-qualified `...:password`, in any case.
fn names_password(key: &str) -> bool {
    const SUFFIX: &[u8] = b":password";
    let key = key.as_bytes();
    key.eq_ignore_ascii_case(&SUFFIX[1..])
        || key.len() >= SUFFIX.len() && key[key.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_are_nulled_wherever_a_body_carries_them() {
        let mut body = json!({
            "userName": "a", "Password": "one",
            "urn:ietf:params:scim:schemas:core:2.0:User:password": "two",
            "Operations": [
                {"op": "replace", "path": "password", "value": "three"},
                {"op": "replace", "value": {"password": "four", "title": "t"}},
                {"op": "replace", "path": "title", "value": "kept"}
            ]
        });
        assert!(redact_passwords(&mut body));
        let text = body.to_string();
        for secret in ["one", "two", "three", "four"] {
            assert!(!text.contains(secret), "{secret} survived in {text}");
        }
        assert!(text.contains("kept"));
        assert!(!redact_passwords(&mut json!({"userName": "a"})));
    }

    #[test]
    fn a_body_carries_a_password_where_redacting_finds_one() {
        let bodies = [
            json!({"userName": "a", "PASSWORD": "s"}),
            json!({"urn:ietf:params:scim:schemas:core:2.0:User:Password": "s"}),
            json!({":password": "s"}),
            json!({"Operations": [{"op": "add", "Path": "password", "Value": "s"}]}),
            json!({"Operations": [{"op": "add", "value": {"name": {"password": "s"}}}]}),
            json!([{"password": "s"}]),
            json!({"userName": "a", "password": null}),
            json!({"userName": "a", "passwords": "s", "mypassword": "s"}),
            json!({"Operations": [{"op": "add", "path": "title", "value": "s"}]}),
            json!({"Operations": [{"op": "add", "path": "password"}]}),
            json!("password"),
        ];
        for body in bodies {
            let redacted = redact_passwords(&mut body.clone());
            assert_eq!(carries_password(&body), redacted, "{body}");
        }
        assert!(redact_passwords(&mut json!({":password": "s"})));
        assert!(carries_password(&json!({"a": [{"b": {"password": "s"}}]})));
        assert!(!carries_password(
            &json!({"a": [{"b": {"title": "password"}}]})
        ));
    }
}
