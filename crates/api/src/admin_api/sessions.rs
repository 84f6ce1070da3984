//! `POST /api/v1/sessions` (log in) and `DELETE /api/v1/sessions/current`
//! (log out).

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use domain::RefusalCode;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::body::Body;
use super::error::AdminError;
use super::gate::{Caller, RequestId};
use super::{NO_STORE, recorded};
use crate::AppState;
use crate::scim_gate::request_meta;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

/// Logs in: 201 `{"token","expires_at"}`, the token shown this once; 401
/// alike for an unknown email and a wrong password; 429 for a while from an
/// address past the failed logins it may make in a minute.
pub async fn start(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let address = request.peer_addr().map(|peer| peer.ip());
    if let Some(wait) = address.and_then(|ip| state.bad_logins.blocked(ip, Instant::now())) {
        return Err(AdminError::Throttled(wait));
    }
    let body = Body::read(&request, payload).await?;
    let credentials: Credentials = body.parse()?;
    let meta = request_meta(&request, RequestId::of(&request), None, 201);
    let _checking = state
        .password_checks
        .acquire()
        .await
        .map_err(|_| AdminError::Internal("the password checks were closed".into()))?;
    let started = admin::sessions::start(
        &state.pool,
        &state.appender,
        &meta,
        &credentials.email,
        &credentials.password,
        OffsetDateTime::now_utc(),
    )
    .await
    .map_err(|error| match AdminError::from(error) {
        AdminError::Refused(refusal) if refusal.code == RefusalCode::Unauthorized => {
            // Counted towards a block of the address's next logins; this
            // one gets its 401.
            if let Some(ip) = address {
                state.bad_logins.note(ip, Instant::now());
            }
            AdminError::BadLogin(refusal)
        }
        other => other,
    })?;
    let expires_at = started
        .expires_at
        .format(&Rfc3339)
        .map_err(|error| AdminError::Internal(error.to_string()))?;
    Ok(recorded(
        HttpResponse::Created().insert_header(NO_STORE).json(json!({
            "token": started.token,
            "expires_at": expires_at,
        })),
    ))
}

/// Logs out: the session's token is refused from now on. 204.
pub async fn end(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, AdminError> {
    admin::sessions::end(
        &state.pool,
        &state.appender,
        &caller.meta(&request, 204),
        caller.account_id,
        caller.session_id,
        "logout",
    )
    .await?;
    Ok(recorded(HttpResponse::NoContent().finish()))
}
