//! The one place where failures become HTTP statuses and SCIM error bodies.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::Rejection;
use scim::{ScimError, ScimType};
use store::{AppendError, StoreError};

/// The SCIM media type of every response.
pub const SCIM_JSON: &str = "application/scim+json";

/// A failed request: what the client is told, and for server faults, the
/// cause that goes to the log only.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The client's fault or a rule's refusal; rendered as is.
    #[error("{0}")]
    Scim(ScimError),
    /// A dependency is down: 503 with `Retry-After`, the cause logged.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an impossible state: a plain 500, the cause logged.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The SCIM error the client sees.
    pub fn to_scim(&self) -> ScimError {
        match self {
            ApiError::Scim(error) => error.clone(),
            ApiError::Unavailable(_) => ScimError {
                status: 503,
                scim_type: None,
                detail: "rollcall cannot reach its database right now; retry later".into(),
            },
            ApiError::Internal(_) => ScimError::internal(),
        }
    }

    /// A 400 `invalidSyntax`.
    pub fn syntax(detail: impl Into<String>) -> ApiError {
        ApiError::Scim(ScimError::bad_request(ScimType::InvalidSyntax, detail))
    }
}

impl From<ScimError> for ApiError {
    fn from(error: ScimError) -> Self {
        ApiError::Scim(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => ApiError::Unavailable(cause),
            refused if refused.is_refused_data() => {
                tracing::error!(%refused, "PostgreSQL refused a value that validation let through");
                ApiError::Scim(unstorable())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::NotFound(what) => ApiError::Scim(ScimError::not_found(format!(
                "no such {what} in this organization"
            ))),
            Rejection::Invalid(error) => ApiError::Scim(error),
            Rejection::StaleVersion { expected, actual } => {
                ApiError::Scim(ScimError::precondition_failed(format!(
                    "If-Match names version W/\"{expected}\" but the resource is at W/\"{actual}\"; read it again"
                )))
            }
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Taken(key) => ApiError::Scim(ScimError::conflict_uniqueness(format!(
                "{} {:?} is already taken in this organization",
                key.kind, key.key
            ))),
            // Writes to one resource queue in this process; losing every
            // attempt means other processes keep writing it: busy, not broken.
            AppendError::VersionConflict => crate::stream_lock::busy(),
            AppendError::Unavailable(cause) => ApiError::Unavailable(cause),
            AppendError::LastOwner => ApiError::Scim(ScimError::bad_request(
                ScimType::InvalidValue,
                domain::membership::LAST_OWNER,
            )),
            refused if refused.is_refused_data() => ApiError::Scim(unstorable()),
            refused @ AppendError::Refused { .. } => ApiError::Internal(refused.to_string()),
        }
    }
}

/// The answer when PostgreSQL itself refuses a value of the request: the
/// request cannot succeed as sent, and nothing of it was recorded.
fn unstorable() -> ScimError {
    ScimError::bad_request(
        ScimType::InvalidValue,
        "a value of this request cannot be stored (too long for an index, or characters the \
         database cannot hold); nothing was recorded: shorten or correct the values and send it again",
    )
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.to_scim().status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Scim(_) => {}
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "answering 503"),
            ApiError::Internal(cause) => tracing::error!(%cause, "answering 500"),
        }
        let scim = self.to_scim();
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)));
        match scim.status {
            401 => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"rollcall\""));
            }
            429 | 503 => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        response.body(scim.to_json().to_string())
    }
}
