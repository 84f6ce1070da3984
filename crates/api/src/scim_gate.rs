//! The gate in front of every SCIM route: authenticates the token, names the
//! request and its tenant (which routes read back with [`Tenant::of`]), and
//! records every request that did not become an event.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, ResponseError, web};
use domain::RequestMeta;
use domain::bounded::{
    MAX_CLIENT_ADDR_BYTES, MAX_PATH_BYTES, MAX_USER_AGENT_BYTES, bound_owned, bounded,
};
use store::{AccessRecord, RefusalReason};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Refused;
use crate::body::BodyDigest;
use crate::last_writes::reads_no_read_tables;
use crate::{ApiError, AppState};
use scim::ScimError;

/// Who is calling: set by the gate for every authenticated SCIM request.
#[derive(Debug, Clone, Copy)]
pub struct Tenant {
    pub org_id: Uuid,
    pub token_id: Uuid,
    pub request_id: Uuid,
}

impl Tenant {
    /// The tenant the gate put in the request.
    pub fn of(request: &HttpRequest) -> Tenant {
        *request
            .extensions()
            .get::<Tenant>()
            .expect("the SCIM gate runs before every SCIM route")
    }

    /// The record of `request`, made by this tenant, answered with `status`.
    pub fn request_meta(&self, request: &HttpRequest, status: u16) -> RequestMeta {
        request_meta(request, self.request_id, Some(self.token_id), status)
    }
}

/// Longest recorded HTTP method (actix accepts extension methods of any
/// length).
const MAX_METHOD_BYTES: usize = 32;

/// Marks a response whose request was recorded as an event, so that it is
/// not recorded a second time in the access log.
#[derive(Debug, Clone, Copy)]
pub struct RecordedAsEvent;

/// The record of a request, for an event or an access record. Its free-form
/// fields are bounded (`domain::bounded`) and its headers' secrets redacted
/// (`domain::redaction`), so events and access records agree and neither
/// grows with what a client sends nor holds a credential.
pub fn request_meta(
    request: &HttpRequest,
    request_id: Uuid,
    token_id: Option<Uuid>,
    status: u16,
) -> RequestMeta {
    let header = |name: &str, limit: usize| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(|value| bounded(value, limit).into_owned())
    };
    RequestMeta {
        request_id,
        method: bounded(request.method().as_str(), MAX_METHOD_BYTES).into_owned(),
        path: bound_owned(request.uri().to_string(), MAX_PATH_BYTES),
        token_id,
        account_id: None,
        client_addr: request
            .peer_addr()
            .map(|addr| bound_owned(addr.ip().to_string(), MAX_CLIENT_ADDR_BYTES)),
        user_agent: header("user-agent", MAX_USER_AGENT_BYTES),
        status,
        body_sha256: request
            .extensions()
            .get::<BodyDigest>()
            .map(|digest| digest.0.clone()),
        headers: domain::redaction::recorded_headers(
            request
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        ),
    }
}

/// Middleware for `/scim_v2`: 401 without a valid token, the tenant in the
/// request's extensions otherwise, and an access record for every response
/// that is not already an event.
pub async fn scim_gate(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .clone();
    let request_id = crate::request_id::RequestId::of(request.request());
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    let now = OffsetDateTime::now_utc();
    let token = match state.tokens.verify(authorization, now).await {
        Ok(token) => token,
        Err(refused) => {
            let blocked = match (refused.reason, request.peer_addr()) {
                (
                    RefusalReason::Missing
                    | RefusalReason::Unknown
                    | RefusalReason::Expired
                    | RefusalReason::Revoked,
                    Some(peer),
                ) => state.bad_tokens.note(peer.ip(), std::time::Instant::now()),
                _ => None,
            };
            let refused = blocked.map_or(refused, Refused::throttled);
            let mut response = refused.error.error_response();
            if let Some(wait) = blocked {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                response.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(seconds),
                );
            }
            let status = response.status().as_u16();
            let client_addr = request
                .peer_addr()
                .map(|addr| bound_owned(addr.ip().to_string(), MAX_CLIENT_ADDR_BYTES));
            // Counted per minute; only a few are kept whole (store::refusals).
            state
                .access_log
                .refuse(now, refused.reason, client_addr.as_deref(), || {
                    AccessRecord {
                        org_id: None,
                        recorded_at: now,
                        meta: request_meta(request.request(), request_id, None, status),
                        detail: Some(refused.error.to_scim().detail),
                    }
                });
            return Ok(request.into_response(response));
        }
    };
    crate::request_id::note_caller(Some(token.org_id), Some(token.token_id));
    request.extensions_mut().insert(Tenant {
        org_id: token.org_id,
        token_id: token.token_id,
        request_id,
    });
    // An organization whose read tables are held back answers 503, reads and
    // writes alike: its reads would be stale, and its group writes decide on
    // the read tables.
    let held_back = state.quarantine.borrow().get(&token.org_id).cloned();
    // Held until the response is made, the body read included.
    let slots = state.admission.admit(request.peer_addr(), token.token_id);
    let response = match (slots, held_back) {
        (Err(error), _) => request.error_response(error).map_into_boxed_body(),
        // Recorded like any other answer, so auditors see the identity
        // provider still trying.
        (Ok(_slots), _) if !token.scim_enabled => request
            .error_response(ApiError::Scim(ScimError::forbidden(
                "SCIM provisioning is disabled for this organization; an owner can enable it again",
            )))
            .map_into_boxed_body(),
        (Ok(_slots), Some(quarantined)) => request
            .error_response(ApiError::Scim(held_back_error(&quarantined)))
            .map_into_boxed_body(),
        (Ok(_slots), None) if reads_no_read_tables(request.method(), request.path()) => {
            next.call(request).await?.map_into_boxed_body()
        }
        (Ok(_slots), None) => {
            match crate::last_writes::await_own_writes(&state, token.token_id).await {
                Ok(()) => next.call(request).await?.map_into_boxed_body(),
                Err(error) => request.error_response(error).map_into_boxed_body(),
            }
        }
    };
    if response
        .response()
        .extensions()
        .get::<RecordedAsEvent>()
        .is_none()
    {
        let detail = response.response().error().map(|error| error.to_string());
        let meta = request_meta(
            response.request(),
            request_id,
            Some(token.token_id),
            response.status().as_u16(),
        );
        let recorded = state
            .access_log
            .record(AccessRecord {
                org_id: Some(token.org_id),
                recorded_at: OffsetDateTime::now_utc(),
                meta,
                detail,
            })
            .await;
        if recorded.is_err() {
            // Never answer a request that is not recorded: the client retries.
            let (request, _) = response.into_parts();
            let refusal = ApiError::Scim(unrecorded_error()).error_response();
            return Ok(ServiceResponse::new(request, refusal));
        }
    }
    Ok(response)
}

/// The answer for a request the access log had no room to record.
fn unrecorded_error() -> ScimError {
    ScimError {
        status: 503,
        scim_type: None,
        detail: "rollcall cannot record requests as fast as they arrive right now; \
                 nothing was changed. Retry later"
            .into(),
    }
}

/// The answer for an organization held back by the projector.
fn held_back_error(quarantined: &store::Quarantined) -> ScimError {
    ScimError {
        status: 503,
        scim_type: None,
        detail: format!(
            "this organization's data cannot be served: rollcall could not apply the change \
             recorded at position {} and has alerted its operators; nothing you sent was lost. \
             Retry later",
            quarantined.position
        ),
    }
}
