//! The request id: one per request, on every response as `X-Request-Id`,
//! on every log line of the request (through the request's span), and in
//! what rollcall records of it.
//!
//! rollcall names each request with a UUIDv7 of its own. That is the id its
//! events and access records carry and the auditors' `audit/requests/{id}`
//! looks up: unique (a client's need not be) and time-ordered (the lookup's
//! index grows at its right edge). A client that sends its own sane
//! `X-Request-Id` (1–128 of `[A-Za-z0-9._:-]`) gets it back unchanged, so
//! that its logs and rollcall's meet: the record keeps it among the
//! request's headers, and every log line of the request carries both
//! (`request_id` and `client_request_id`). An insane one is ignored and the
//! response carries rollcall's id, as it does when the client sends none.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use tracing::Instrument;
use tracing::field::Empty;
use uuid::Uuid;

use crate::AppState;
use crate::error::AnsweredDatabaseFailure;

/// The header that carries the request id both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client request id kept.
const MAX_CLIENT_ID: usize = 128;

/// The ids of one request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId {
    /// rollcall's own id: the one it records.
    pub id: Uuid,
    /// The client's own `X-Request-Id`, when it sent a sane one.
    pub client: Option<String>,
}

impl RequestId {
    /// rollcall's id of `request` ([`tag`] runs before every route).
    pub fn of(request: &HttpRequest) -> Uuid {
        request
            .extensions()
            .get::<RequestId>()
            .map_or_else(Uuid::now_v7, |ids| ids.id)
    }

    /// What the response's `X-Request-Id` says: the client's own id if it
    /// sent a sane one, else rollcall's.
    fn answered(&self) -> String {
        self.client.clone().unwrap_or_else(|| self.id.to_string())
    }
}

/// Whether a client's request id is kept: 1 to 128 characters of
/// `[A-Za-z0-9._:-]`, which no log line or header can be confused by.
pub fn is_sane(id: &str) -> bool {
    (1..=MAX_CLIENT_ID).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._:-".contains(&byte))
}

/// What the code of a request can add to its span while it runs.
struct Current {
    id: Uuid,
    span: tracing::Span,
    positions: Mutex<Vec<i64>>,
}

tokio::task_local! {
    static CURRENT: Arc<Current>;
}

/// rollcall's id of the request being answered, if any.
pub fn current() -> Option<Uuid> {
    CURRENT.try_with(|current| current.id).ok()
}

/// Puts who is calling on the request's log lines: the organization (when
/// known) and the id of the token or session (never the token itself).
pub fn note_caller(org_id: Option<Uuid>, token_id: Option<Uuid>) {
    let _ = CURRENT.try_with(|current| {
        if let Some(org_id) = org_id {
            current
                .span
                .record("org_id", tracing::field::display(org_id));
        }
        if let Some(token_id) = token_id {
            current
                .span
                .record("token_id", tracing::field::display(token_id));
        }
    });
}

/// Puts a log position the request appended on its later log lines.
pub fn note_appended(position: i64) {
    let _ = CURRENT.try_with(|current| {
        let mut positions = current
            .positions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        positions.push(position);
        let listed = positions
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        current.span.record("positions", listed.as_str());
    });
}

/// Middleware around every route: names the request, runs it in its span,
/// answers with `X-Request-Id`, counts the database failures it answered
/// (`rollcall_store_errors_total`) and logs one line when it is answered.
pub async fn tag(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let ids = RequestId {
        id: Uuid::now_v7(),
        client: request
            .headers()
            .get(HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|value| is_sane(value))
            .map(str::to_owned),
    };
    request.extensions_mut().insert(ids.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %ids.id,
        client_request_id = ids.client.as_deref(),
        method = %request.method(),
        path = request.path(),
        org_id = Empty,
        token_id = Empty,
        positions = Empty,
        status = Empty,
    );
    let current = Arc::new(Current {
        id: ids.id,
        span: span.clone(),
        positions: Mutex::default(),
    });
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let is_probe = matches!(request.path(), "/healthz" | "/readyz" | "/metrics");
    let mut response = CURRENT
        .scope(
            current,
            async move {
                // Handlers render their errors themselves (inside this
                // scope, so that a 500 names the request id); an error a
                // middleware passes up is rendered by the server, without
                // the header, and none of rollcall's does.
                next.call(request)
                    .await
                    .map(ServiceResponse::map_into_boxed_body)
            }
            .instrument(span.clone()),
        )
        .await?;
    let answered = HeaderValue::from_str(&ids.answered())
        .expect("a UUID or a sane client id is a valid header value");
    response.headers_mut().insert(HEADER, answered);
    let failure = response
        .response()
        .extensions()
        .get::<AnsweredDatabaseFailure>()
        .copied();
    if let (Some(AnsweredDatabaseFailure(class)), Some(state)) = (failure, state) {
        state.metrics.count_store_error(class);
    }
    let status = response.status().as_u16();
    span.record("status", status);
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    span.in_scope(|| {
        if is_probe {
            tracing::debug!(target: "rollcall::requests", status, elapsed_ms, "answered");
        } else {
            tracing::info!(target: "rollcall::requests", status, elapsed_ms, "answered");
        }
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn client_ids_are_kept_only_when_short_and_plain() {
        for sane in [
            "a",
            "req-42",
            "0190b3c4-7d2e-7f00-8000-000000000000",
            "trace:1.2_3",
        ] {
            assert!(is_sane(sane), "{sane}");
        }
        let long = "x".repeat(129);
        for insane in ["", "two words", "quote\"", "new\nline", "é", long.as_str()] {
            assert!(!is_sane(insane), "{insane:?}");
        }
        assert!(is_sane(&"x".repeat(128)));
    }
}
