//! The one place where the admin API's failures become statuses and its one
//! error shape, `{"error", "message"}` (plus `required_role` on the owners'
//! 403), and where each says how it was recorded.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::{Refusal, RefusalCode};
use serde_json::json;
use store::{AppendError, ErrorClass, RefusalReason, StoreError};

use crate::error::AnsweredDatabaseFailure;

use crate::scim_gate::RecordedAsEvent;

/// The role every route but sessions, the account and the audit requires.
pub const REQUIRED_ROLE: &str = "owner";

/// The roles the audit routes admit (`required_role` names the first).
pub const AUDIT_ROLES: [&str; 2] = ["auditor", "owner"];

/// Marks a response whose request is counted with the refused requests (by
/// minute, reason and client address) rather than recorded one by one.
#[derive(Debug, Clone, Copy)]
pub struct Counted(pub RefusalReason);

/// A failed admin API request: what the caller is told, and how it is on
/// the record.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Refused by the product's rules and recorded as a `CommandRefused`
    /// event; the status is its code's.
    #[error("{0}")]
    Refused(Refusal),
    /// Refused, and recorded, because the caller's role is not one the
    /// route admits: 403 with `required_role` (the role to ask for).
    #[error("{0}")]
    RoleRequired(Refusal, &'static str),
    /// A login with wrong credentials: 401, counted (and recorded in the
    /// account's stream when the email has one).
    #[error("{0}")]
    BadLogin(Refusal),
    /// No live session token: 401, counted.
    #[error("{0}")]
    NoSession(String),
    /// Logins from an address that failed too often: 429 with
    /// `Retry-After` for the rest of its block, counted.
    #[error("too many failed logins; retry in {} s", .0.as_secs().max(1))]
    Throttled(std::time::Duration),
    /// The request itself is wrong (a body that is no JSON of the expected
    /// shape, an unknown route): recorded in the access log.
    #[error("{message}")]
    Request {
        status: u16,
        error: &'static str,
        message: String,
    },
    /// A bug or an impossible state: a 500 naming the request id, the
    /// cause logged.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database failed; its class decides the status (503 for those
    /// that pass, 409, 400, or 500 for a bug), the cause and SQLSTATE go to
    /// the log.
    #[error("database error ({}): {cause}", .class.as_str())]
    Database {
        class: ErrorClass,
        sqlstate: Option<String>,
        cause: String,
    },
}

impl AdminError {
    /// A 400 for a request the API cannot read.
    pub fn invalid(message: impl Into<String>) -> AdminError {
        AdminError::Request {
            status: 400,
            error: RefusalCode::Invalid.as_str(),
            message: message.into(),
        }
    }

    /// A 404 for something that is not there.
    pub fn not_found(message: impl Into<String>) -> AdminError {
        AdminError::Request {
            status: 404,
            error: RefusalCode::NotFound.as_str(),
            message: message.into(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            AdminError::Refused(refusal) => refusal.code.http_status(),
            AdminError::RoleRequired(..) => 403,
            AdminError::BadLogin(_) | AdminError::NoSession(_) => 401,
            AdminError::Throttled(_) => 429,
            AdminError::Request { status, .. } => *status,
            AdminError::Internal(_) => 500,
            AdminError::Database { class, .. } => crate::error::answer_to(*class).status,
        }
    }

    fn body(&self) -> serde_json::Value {
        match self {
            AdminError::Refused(refusal) | AdminError::BadLogin(refusal) => {
                json!({"error": refusal.code.as_str(), "message": refusal.message})
            }
            AdminError::RoleRequired(refusal, role) => json!({
                "error": RefusalCode::Forbidden.as_str(),
                "message": refusal.message,
                "required_role": role,
            }),
            AdminError::NoSession(message) => {
                json!({"error": RefusalCode::Unauthorized.as_str(), "message": message})
            }
            AdminError::Throttled(wait) => json!({
                "error": "too_many_attempts",
                "message": format!(
                    "this address failed to log in too often; retry in {} s with the right \
                     email and password",
                    wait.as_secs().max(1)
                ),
            }),
            AdminError::Request { error, message, .. } => {
                json!({"error": error, "message": message})
            }
            AdminError::Internal(_)
            | AdminError::Database {
                class: ErrorClass::Bug,
                ..
            } => json!({
                "error": "internal",
                "message": "rollcall failed to answer this request; its operators can find the \
                            cause in its log under this request id",
                "request_id": crate::request_id::current(),
            }),
            AdminError::Database {
                class: ErrorClass::Constraint,
                ..
            } => json!({
                "error": RefusalCode::Conflict.as_str(),
                "message": "a value of this request was taken by another request at the same \
                            moment; nothing was changed: read again and retry if it still applies",
            }),
            AdminError::Database {
                class: ErrorClass::Data,
                ..
            } => json!({
                "error": RefusalCode::Invalid.as_str(),
                "message": "a value of this request cannot be stored (too long, or characters the \
                            database cannot hold); nothing was changed: correct it and send it again",
            }),
            AdminError::Database { class, .. } => json!({
                "error": "unavailable",
                "message": crate::error::answer_to(*class).detail,
            }),
        }
    }
}

impl From<anyhow::Error> for AdminError {
    /// A failure of an `admin` operation: its refusal (recorded by the
    /// operation), a nameserver that did not answer, the database away, or
    /// a bug.
    fn from(error: anyhow::Error) -> Self {
        if let Some(refusal) = error.downcast_ref::<Refusal>() {
            return AdminError::Refused(refusal.clone());
        }
        if let Some(dns) = error.downcast_ref::<dns::DnsError>() {
            return AdminError::Request {
                status: 503,
                error: "dns_unavailable",
                message: format!("{dns}; nothing was recorded: try again in a moment"),
            };
        }
        let failure = error.chain().find_map(|cause| {
            if let Some(store) = cause.downcast_ref::<StoreError>() {
                Some((store.class(), store.sqlstate().map(str::to_owned)))
            } else {
                let append = cause.downcast_ref::<AppendError>()?;
                Some((append.class()?, append.sqlstate().map(str::to_owned)))
            }
        });
        match failure {
            Some((class, sqlstate)) => AdminError::Database {
                class,
                sqlstate,
                cause: format!("{error:#}"),
            },
            None => AdminError::Internal(format!("{error:#}")),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        AdminError::from(anyhow::Error::from(error))
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AdminError::Internal(cause) => tracing::error!(%cause, "admin API answering 500"),
            AdminError::Database {
                class,
                sqlstate,
                cause,
            } => crate::error::log_database_failure(*class, sqlstate.as_deref(), cause),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        match self.status() {
            401 => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"rollcall admin\""));
            }
            429 => {
                let wait = match self {
                    AdminError::Throttled(wait) => {
                        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
                    }
                    _ => 5,
                };
                response.insert_header((header::RETRY_AFTER, wait.max(1)));
            }
            503 => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        let mut response = response.body(self.body().to_string());
        match self {
            AdminError::Refused(_) | AdminError::RoleRequired(..) => {
                response.extensions_mut().insert(RecordedAsEvent);
            }
            AdminError::BadLogin(_) => {
                response
                    .extensions_mut()
                    .insert(Counted(RefusalReason::BadLogin));
            }
            AdminError::NoSession(_) => {
                response
                    .extensions_mut()
                    .insert(Counted(RefusalReason::NoSession));
            }
            AdminError::Throttled(_) => {
                response
                    .extensions_mut()
                    .insert(Counted(RefusalReason::Throttled));
            }
            AdminError::Database { class, .. } => {
                response
                    .extensions_mut()
                    .insert(AnsweredDatabaseFailure(*class));
            }
            _ => {}
        }
        response
    }
}
