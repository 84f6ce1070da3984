//! The one SCIM error type, rendered as the RFC 7644 §3.12 error body.

use serde_json::{Value, json};

use crate::schema::ERROR_URN;

/// The most characters of client text an error detail quotes.
const EXCERPT_CHARS: usize = 64;

/// `text` quoted for an error detail, cut after 64 characters: a detail
/// names what was wrong, it never echoes a huge value back.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => format!("{text:?}"),
        Some((end, _)) => format!("{:?}…", &text[..end]),
    }
}

/// The `scimType` detail codes of RFC 7644 §3.12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax was invalid or the filter is not supported.
    InvalidFilter,
    /// The query would return more results than the server allows.
    TooMany,
    /// A value is not unique (`userName`, group `displayName`).
    Uniqueness,
    /// The request tried to change a read-only or immutable attribute.
    Mutability,
    /// The request body was not a valid SCIM message.
    InvalidSyntax,
    /// A PATCH `path` was malformed.
    InvalidPath,
    /// A PATCH `path` selected nothing where something was required.
    NoTarget,
    /// A value had the wrong type or was otherwise unacceptable.
    InvalidValue,
    /// The requested protocol version is not supported.
    InvalidVers,
    /// The request put sensitive information in a URL.
    Sensitive,
}

impl ScimType {
    /// The camelCase wire name, e.g. `invalidFilter`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a SCIM client is told about: HTTP status, optional `scimType`, detail.
///
/// Callers map it to an HTTP response with [`ScimError::to_json`] as the body;
/// `detail` is meant for the client, so it never carries internal causes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {detail}", scim_type.map_or("error", ScimType::as_str))]
pub struct ScimError {
    /// HTTP status code (400, 401, 404, 409, 412, 500, ...).
    pub status: u16,
    /// The RFC 7644 `scimType`, when one applies.
    pub scim_type: Option<ScimType>,
    /// Human-readable, client-safe explanation.
    pub detail: String,
}

impl ScimError {
    /// 400 with a `scimType`: the request is wrong; the client must change it.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    /// 404: the addressed resource does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// 409 `uniqueness`: a unique attribute already has this value.
    pub fn conflict_uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    /// 401: missing or invalid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }

    /// 403: the credentials are valid but may not do this now.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }

    /// 412: an `If-Match` precondition did not hold.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }

    /// 500 with a fixed, cause-free detail; the caller logs the real cause.
    pub fn internal() -> Self {
        Self::new(500, None, "internal server error")
    }

    fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// The RFC 7644 error body; `status` is a string and `scimType` is omitted when absent.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.to_string(),
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = Value::from(t.as_str());
        }
        body["detail"] = Value::from(self.detail.as_str());
        body
    }
}
