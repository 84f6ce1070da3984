//! `/api/v1/orgs/{org}/members`: owners list the members, add one by hand,
//! change a role, remove one (SCIM-managed or not); and
//! `/api/v1/orgs/{org}/membership`: a member leaves, unless the identity
//! provider manages the membership (403 `scim_managed`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::body::Body;
use super::error::AdminError;
use super::gate::Caller;
use super::owners::{require_member, require_owner};
use super::recorded;
use crate::AppState;

/// Every member, removed ones too, by email: `[{"account_id","email",
/// "first_name","family_name","role","roles","source","scim_managed",
/// "locks","state"}]`.
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_owner(&state, &request, &caller, org_id, "member list").await?;
    Ok(HttpResponse::Ok().json(admin::members::list(&state.pool, org_id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    email: String,
    role: String,
}

/// Adds a manual member, making the account (without a password) when the
/// email has none: 201 with the member; 409 when it is a member already.
pub async fn add(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    let body = Body::read(&request, payload).await?;
    require_owner(&state, &request, &caller, org_id, "member add").await?;
    let new: NewMember = body.parse()?;
    let account_id = admin::members::add(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 201),
        &new.email,
        &new.role,
    )
    .await?;
    let member = admin::members::show(&state.pool, org_id, account_id).await?;
    Ok(recorded(HttpResponse::Created().json(member)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRole {
    role: String,
}

/// Gives a member another role: 200 with the member; 400 for a role the
/// organization does not have, or the last active owner's demotion.
pub async fn change_role(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let (org_id, account_id) = path.into_inner();
    let body = Body::read(&request, payload).await?;
    require_owner(&state, &request, &caller, org_id, "member role").await?;
    let new: NewRole = body.parse()?;
    let changed = admin::members::change_role(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 200),
        account_id,
        &new.role,
    )
    .await?;
    let member = admin::members::show(&state.pool, org_id, account_id).await?;
    let response = HttpResponse::Ok().json(member);
    // The role it has already records nothing: the access log has it.
    Ok(if changed {
        recorded(response)
    } else {
        response
    })
}

/// Removes a member: 204; 400 for the last active owner; 404 for an
/// account that is not a member (another organization's included).
pub async fn remove(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AdminError> {
    let (org_id, account_id) = path.into_inner();
    require_owner(&state, &request, &caller, org_id, "member remove").await?;
    admin::members::remove(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 204),
        account_id,
    )
    .await?;
    Ok(recorded(HttpResponse::NoContent().finish()))
}

/// The caller leaves the organization: 204; 403 `scim_managed` while its
/// identity provider manages the membership; 400 for its last active owner.
pub async fn leave(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_member(&state, &request, &caller, org_id, "leave").await?;
    admin::members::leave(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 204),
        caller.account_id,
    )
    .await?;
    Ok(recorded(HttpResponse::NoContent().finish()))
}
