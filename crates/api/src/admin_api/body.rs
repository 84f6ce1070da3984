//! Request bodies of the admin API: JSON objects of a known shape, size-
//! and time-limited, digested for the record with every password nulled.

use actix_web::{HttpMessage, HttpRequest, web};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::AdminError;
use crate::AppState;
use crate::body::BodyDigest;

/// The largest admin API body: every one is a small object.
pub const MAX_BODY_BYTES: usize = 64 << 10;

/// A body read whole, its digest in the request; parse it with
/// [`Body::parse`] once the caller may send it.
pub struct Body(Vec<u8>);

impl Body {
    /// Reads the body (at most [`MAX_BODY_BYTES`], within the settings'
    /// body timeout) and records its digest in the request. A body that
    /// carries a password (a member named `password` or ending in
    /// `_password`) is digested with its value nulled: the digest must not
    /// let anyone who reads the log test guesses.
    pub async fn read(
        request: &HttpRequest,
        mut payload: web::Payload,
    ) -> Result<Body, AdminError> {
        let within = request
            .app_data::<web::Data<AppState>>()
            .expect("AppState is registered")
            .settings
            .body_read_timeout;
        let reading = async {
            let mut bytes = Vec::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|error| {
                    AdminError::invalid(format!("could not read the body: {error}"))
                })?;
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(AdminError::Request {
                        status: 413,
                        error: "too_large",
                        message: format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(bytes)
        };
        let bytes =
            tokio::time::timeout(within, reading)
                .await
                .map_err(|_| AdminError::Request {
                    status: 408,
                    error: "timeout",
                    message: format!(
                        "the body did not arrive within {} s; send it whole and promptly",
                        within.as_secs()
                    ),
                })??;
        let redacted = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|mut body| null_passwords(&mut body).then(|| body.to_string()));
        let digest = match redacted {
            Some(redacted) => Sha256::digest(redacted),
            None => Sha256::digest(&bytes),
        };
        request
            .extensions_mut()
            .insert(BodyDigest(hex::encode(digest)));
        Ok(Body(bytes))
    }

    /// The body as `T`; an empty body reads as `{}`, so that a route whose
    /// fields all have defaults takes none.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, AdminError> {
        let bytes: &[u8] = if self.0.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.0
        };
        serde_json::from_slice(bytes).map_err(|error| {
            AdminError::invalid(format!(
                "the body is not the JSON object this route takes ({error}); see /api/v1/openapi.json"
            ))
        })
    }
}

/// Nulls the passwords of a body's top-level object; whether it had any.
fn null_passwords(body: &mut Value) -> bool {
    let Value::Object(fields) = body else {
        return false;
    };
    let mut found = false;
    for (key, value) in fields.iter_mut() {
        let key = key.to_ascii_lowercase();
        if (key == "password" || key.ends_with("_password")) && !value.is_null() {
            *value = Value::Null;
            found = true;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_are_nulled_before_the_digest() {
        let mut body = json!({"email": "a@b.test", "password": "one", "new_password": "two"});
        assert!(null_passwords(&mut body));
        assert_eq!(
            body,
            json!({"email": "a@b.test", "password": null, "new_password": null})
        );
        assert!(!null_passwords(&mut json!({"role": "engineer"})));
    }
}
