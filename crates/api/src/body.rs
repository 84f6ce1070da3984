//! Reading request bodies: size-limited, parsed as JSON whatever the
//! content type claims (Entra sends `application/scim+json`, others
//! `application/json` or nothing).

use actix_web::{HttpMessage, HttpRequest, web};
use futures::StreamExt;
use scim::ScimError;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ApiError;

/// The SHA-256 of a request body, kept in the request for the record.
#[derive(Debug, Clone)]
pub struct BodyDigest(pub String);

/// Reads the body (at most `limit` bytes), records its digest in the
/// request, and parses it as JSON.
pub async fn read_json(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Value, ApiError> {
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
    let digest = hex::encode(Sha256::digest(&bytes));
    request.extensions_mut().insert(BodyDigest(digest));
    serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::syntax(format!("the body is not valid JSON: {error}")))
}
