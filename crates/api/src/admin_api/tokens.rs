//! `/api/v1/orgs/{org}/provisioning/tokens`: issue (the secret shown this
//! once), list (never a secret), revoke.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::body::Body;
use super::error::AdminError;
use super::gate::Caller;
use super::owners::require_owner;
use super::{NO_STORE, recorded};
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Issue {
    /// 1 to 365; 365 when absent.
    valid_for_days: Option<i64>,
}

/// Issues a token: 201 `{"id","token","expires_at"}`; 409 naming the token
/// to revoke when two are live.
pub async fn issue(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    let body = Body::read(&request, payload).await?;
    require_owner(&state, &request, &caller, org_id, "token issue").await?;
    let wanted: Issue = body.parse()?;
    let issued = admin::tokens::issue(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 201),
        OffsetDateTime::now_utc(),
        wanted.valid_for_days,
    )
    .await?;
    let expires_at = issued
        .expires_at
        .format(&Rfc3339)
        .map_err(|error| AdminError::Internal(error.to_string()))?;
    Ok(recorded(
        HttpResponse::Created()
            .insert_header(NO_STORE)
            .json(json!({"id": issued.token_id, "token": issued.token, "expires_at": expires_at})),
    ))
}

/// Every token of the organization, oldest first:
/// `[{"id","created_at","expires_at","last_used_at","state"}]`.
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_owner(&state, &request, &caller, org_id, "token list").await?;
    let listed = admin::tokens::list(&state.pool, org_id, OffsetDateTime::now_utc()).await?;
    Ok(HttpResponse::Ok().json(listed))
}

/// Revokes a token at once: 204; 404 for a token the organization does not
/// have (another organization's included).
pub async fn revoke(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AdminError> {
    let (org_id, token_id) = path.into_inner();
    require_owner(&state, &request, &caller, org_id, "token revoke").await?;
    admin::tokens::revoke(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 204),
        token_id,
    )
    .await?;
    // This process refuses it at once; the others within their poll.
    state.tokens.forget(token_id);
    Ok(recorded(HttpResponse::NoContent().finish()))
}
