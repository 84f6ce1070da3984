//! `/api/v1/account`: the caller's own account, with its memberships; its
//! email and password, which the identity provider of an organization that
//! verified the email's domain holds instead (403 `scim_managed`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::body::Body;
use super::error::AdminError;
use super::gate::Caller;
use super::recorded;
use crate::AppState;

/// The caller's account: `{"id","email","first_name","family_name",
/// "memberships":[{"org_id","org_name","role","source","scim_managed","state"}]}`.
pub async fn show(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AdminError> {
    let view = admin::accounts::view(&state.pool, caller.account_id).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEmail {
    email: String,
}

/// Changes the account's email: 200 with the account; 409 when another
/// account has it.
pub async fn change_email(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let new: NewEmail = Body::read(&request, payload).await?.parse()?;
    let changed = admin::accounts::change_email(
        &state.pool,
        &state.appender,
        &caller.meta(&request, 200),
        caller.account_id,
        &new.email,
    )
    .await?;
    let view = admin::accounts::view(&state.pool, caller.account_id).await?;
    let response = HttpResponse::Ok().json(view);
    // The email it has already records nothing: the access log has it.
    Ok(if changed {
        recorded(response)
    } else {
        response
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    current_password: String,
    new_password: String,
}

/// Changes the account's password, given the current one: 204; 400 when
/// the current one is not right or the new one too short.
pub async fn change_password(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let new: NewPassword = Body::read(&request, payload).await?.parse()?;
    // argon2 twice, 19 MiB each: as many at once as logins may run.
    let _checking = state
        .password_checks
        .acquire()
        .await
        .map_err(|_| AdminError::Internal("the password checks were closed".into()))?;
    admin::accounts::change_password(
        &state.pool,
        &state.appender,
        &caller.meta(&request, 204),
        caller.account_id,
        &new.current_password,
        &new.new_password,
    )
    .await?;
    Ok(recorded(HttpResponse::NoContent().finish()))
}
