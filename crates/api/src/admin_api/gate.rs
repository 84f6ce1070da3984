//! The admin API's two middlewares and who is calling.
//!
//! [`record`] wraps all of `/api/v1`: it names each request and puts on the
//! record every answer that is not an event already (reads, malformed
//! requests; refused logins and requests without a session are counted, by
//! minute and client address, like bad SCIM tokens). [`require_session`]
//! wraps every route but the public ones: 401 without a live session token,
//! the [`Caller`] in the request otherwise.

use std::future::{Ready, ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};
use domain::RequestMeta;
use domain::bounded::{MAX_CLIENT_ADDR_BYTES, bound_owned};
use store::AccessRecord;
use time::OffsetDateTime;
use uuid::Uuid;

use super::error::{AdminError, Counted};
use crate::AppState;
use crate::scim_gate::{RecordedAsEvent, request_meta};

pub use crate::request_id::RequestId;

/// The organization a request was about, once its caller was found to be
/// its owner: its access record is the organization's.
#[derive(Debug, Clone, Copy)]
pub struct OrganizationOf(pub Uuid);

/// The account behind a request, by its live session.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub account_id: Uuid,
    pub session_id: Uuid,
    pub request_id: Uuid,
}

impl Caller {
    /// The record of `request`, made by this caller, answered with `status`:
    /// the session names the token, and the account who asked.
    pub fn meta(&self, request: &HttpRequest, status: u16) -> RequestMeta {
        RequestMeta {
            account_id: Some(self.account_id),
            ..request_meta(request, self.request_id, Some(self.session_id), status)
        }
    }
}

impl FromRequest for Caller {
    type Error = AdminError;
    type Future = Ready<Result<Caller, AdminError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            request
                .extensions()
                .get::<Caller>()
                .copied()
                .ok_or_else(|| AdminError::Internal("a session route ran without its gate".into())),
        )
    }
}

fn state_of(request: &ServiceRequest) -> web::Data<AppState> {
    request
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .clone()
}

/// Middleware for `/api/v1`: names the request, then records its answer
/// unless it is an event already or counted.
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = state_of(&request);
    let request_id = RequestId::of(request.request());
    let response = next.call(request).await?.map_into_boxed_body();
    let now = OffsetDateTime::now_utc();
    let status = response.status().as_u16();
    let detail = response.response().error().map(|error| error.to_string());
    let caller = response.request().extensions().get::<Caller>().copied();
    let meta = match caller {
        Some(caller) => caller.meta(response.request(), status),
        None => request_meta(response.request(), request_id, None, status),
    };
    let (as_event, counted) = {
        let extensions = response.response().extensions();
        (
            extensions.get::<RecordedAsEvent>().is_some(),
            extensions.get::<Counted>().copied(),
        )
    };
    if as_event {
        return Ok(response);
    }
    if let Some(Counted(reason)) = counted {
        let client_addr = response
            .request()
            .peer_addr()
            .map(|addr| bound_owned(addr.ip().to_string(), MAX_CLIENT_ADDR_BYTES));
        state
            .access_log
            .refuse(now, reason, client_addr.as_deref(), || AccessRecord {
                org_id: None,
                recorded_at: now,
                meta,
                detail,
            });
        return Ok(response);
    }
    let org_id = response
        .request()
        .extensions()
        .get::<OrganizationOf>()
        .map(|of| of.0);
    let recorded = state
        .access_log
        .record(AccessRecord {
            org_id,
            recorded_at: now,
            meta,
            detail,
        })
        .await;
    if recorded.is_err() {
        // Never answer a request that is not recorded: the client retries.
        let (request, _) = response.into_parts();
        let refusal = AdminError::Request {
            status: 503,
            error: "unavailable",
            message: "rollcall cannot record requests as fast as they arrive right now; \
                      nothing was changed: retry later"
                .into(),
        };
        return Ok(ServiceResponse::new(request, refusal.error_response()));
    }
    Ok(response)
}

/// Middleware for the routes that need a session: 401 without a live
/// session token, the [`Caller`] in the request otherwise.
pub async fn require_session(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = state_of(&request);
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(crate::auth::bearer)
        .map(str::to_owned);
    let Some(token) = token else {
        let refused = AdminError::NoSession(
            "log in with POST /api/v1/sessions and send its token as 'Authorization: Bearer <token>'"
                .into(),
        );
        return Ok(request.error_response(refused));
    };
    let now = OffsetDateTime::now_utc();
    match admin::sessions::authenticate(&state.pool, &token, now).await {
        Ok(Some(principal)) => {
            let request_id = RequestId::of(request.request());
            crate::request_id::note_caller(None, Some(principal.session_id));
            request.extensions_mut().insert(Caller {
                account_id: principal.account_id,
                session_id: principal.session_id,
                request_id,
            });
            Ok(next.call(request).await?.map_into_boxed_body())
        }
        Ok(None) => {
            let refused = AdminError::NoSession(
                "the session token is not valid (logged out, expired after 12 hours, or never \
                 issued); log in again with POST /api/v1/sessions"
                    .into(),
            );
            Ok(request.error_response(refused))
        }
        Err(error) => Ok(request.error_response(AdminError::from(error))),
    }
}
