//! The one place where failures become HTTP statuses and SCIM error bodies.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::Rejection;
use scim::{ScimError, ScimType};
use store::{AppendError, ErrorClass, StoreError};

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
    /// A bug or an impossible state: a 500 naming the request id, the
    /// cause logged.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database failed; its class decides the answer ([`answer_to`]),
    /// the cause and SQLSTATE go to the log.
    #[error("database error ({}): {cause}", .class.as_str())]
    Database {
        class: ErrorClass,
        sqlstate: Option<String>,
        cause: String,
    },
}

/// Marks a response that answered a database failure of this class, for
/// `rollcall_store_errors_total` (counted where the response leaves).
#[derive(Debug, Clone, Copy)]
pub struct AnsweredDatabaseFailure(pub ErrorClass);

/// How a client is answered for a database failure of `class`.
pub fn answer_to(class: ErrorClass) -> ScimError {
    match class {
        ErrorClass::Connection => unavailable("rollcall cannot reach its database right now"),
        ErrorClass::Shutdown => unavailable("rollcall's database is restarting"),
        ErrorClass::Serialization | ErrorClass::Deadlock => {
            unavailable("this request collided with another write in the database")
        }
        ErrorClass::PoolTimeout => unavailable("rollcall's database connections are all busy"),
        ErrorClass::Constraint => ScimError::conflict_uniqueness(
            "a value of this request was taken by another request at the same moment; \
             nothing was recorded: read the resource again and retry if it still applies",
        ),
        ErrorClass::Data => unstorable(),
        ErrorClass::Bug => internal(),
    }
}

fn unavailable(what: &str) -> ScimError {
    ScimError {
        status: 503,
        scim_type: None,
        detail: format!("{what}; nothing was recorded: retry later"),
    }
}

/// The 500 every bug answers: names the request id the log lines carry.
fn internal() -> ScimError {
    let mut error = ScimError::internal();
    if let Some(id) = crate::request_id::current() {
        error.detail = format!(
            "rollcall failed to answer this request; its operators can find the cause in its \
             log under request id {id}"
        );
    }
    error
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
            ApiError::Internal(_) => internal(),
            ApiError::Database { class, .. } => answer_to(*class),
        }
    }

    /// A 400 `invalidSyntax`.
    pub fn syntax(detail: impl Into<String>) -> ApiError {
        ApiError::Scim(ScimError::bad_request(ScimType::InvalidSyntax, detail))
    }

    /// A 404 for a resource of `kind` (`user`, `group`) that the
    /// organization does not have: one wording whichever method asked.
    pub fn not_found(kind: &str) -> ApiError {
        ApiError::Scim(ScimError::not_found(format!(
            "no such {kind} in this organization"
        )))
    }
}

impl From<ScimError> for ApiError {
    fn from(error: ScimError) -> Self {
        ApiError::Scim(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Database {
            class: error.class(),
            sqlstate: error.sqlstate().map(str::to_owned),
            cause: error.to_string(),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::NotFound(what) => ApiError::not_found(what),
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
            AppendError::Taken(key) => ApiError::Scim(taken(&key, None)),
            // Writes to one resource queue in this process; losing every
            // attempt means other processes keep writing it: busy, not broken.
            AppendError::VersionConflict => crate::stream_lock::busy(),
            AppendError::LastOwner => ApiError::Scim(ScimError::bad_request(
                ScimType::InvalidValue,
                domain::membership::LAST_OWNER,
            )),
            failed @ (AppendError::Unavailable(_)
            | AppendError::Failed { .. }
            | AppendError::Refused { .. }) => ApiError::Database {
                class: failed.class().unwrap_or(ErrorClass::Bug),
                sqlstate: failed.sqlstate().map(str::to_owned),
                cause: failed.to_string(),
            },
        }
    }
}

/// The 409 for a unique value another resource holds, naming the
/// attribute as SCIM names it and, when known, the value as the client
/// sent it (`key` holds the value as compared, case-folded where the
/// schema says caseExact false).
pub fn taken(key: &domain::resource::UniqueKey, as_sent: Option<&str>) -> ScimError {
    let attribute = key.attribute();
    let detail = match as_sent {
        Some(value) => format!("{attribute} {value:?} is already taken in this organization"),
        None => format!("this {attribute} is already taken in this organization"),
    };
    ScimError::conflict_uniqueness(detail)
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
        self.log();
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
        let mut response = response.body(scim.to_json().to_string());
        if let ApiError::Database { class, .. } = self {
            response
                .extensions_mut()
                .insert(AnsweredDatabaseFailure(*class));
        }
        response
    }
}

impl ApiError {
    /// Logs a failure that is not the client's: a database failure that
    /// passes at warn, a bug at error, each with its SQLSTATE.
    pub fn log(&self) {
        match self {
            ApiError::Scim(_) => {}
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "answering 503"),
            ApiError::Internal(cause) => tracing::error!(%cause, "answering 500"),
            ApiError::Database {
                class,
                sqlstate,
                cause,
            } => log_database_failure(*class, sqlstate.as_deref(), cause),
        }
    }
}

/// Logs a database failure answered to a client: a bug at error, the rest
/// at warn, each with its class and SQLSTATE.
pub fn log_database_failure(class: ErrorClass, sqlstate: Option<&str>, cause: &str) {
    let sqlstate = sqlstate.unwrap_or("none");
    let label = class.as_str();
    match class {
        ErrorClass::Bug => {
            tracing::error!(class = label, sqlstate, %cause, "answering 500 for a database error");
        }
        passing if passing.passes() => {
            tracing::warn!(class = label, sqlstate, %cause, "answering 503 for a database error");
        }
        _ => {
            tracing::warn!(class = label, sqlstate, %cause, "PostgreSQL refused what the request carried");
        }
    }
}
