//! `GET` and `POST /api/v1/orgs/{org}/roles`: the built-in roles and the
//! organization's own, each with the SCIM groups that give it; and
//! `PUT /api/v1/orgs/{org}/roles/{role}/groups`: which groups those are.

use actix_web::{HttpRequest, HttpResponse, web};
use domain::provisioning::BUILT_IN_ROLES;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::body::Body;
use super::error::AdminError;
use super::gate::Caller;
use super::owners::require_owner;
use super::recorded;
use crate::AppState;

/// `{"role","built_in","group_ids"}`.
fn render(role: &str, group_ids: &[Uuid]) -> Value {
    json!({
        "role": role,
        "built_in": BUILT_IN_ROLES.contains(&role),
        "group_ids": group_ids,
    })
}

/// Every role, built-in first.
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_owner(&state, &request, &caller, org_id, "role list").await?;
    let roles = admin::provisioning::roles(&state.pool, org_id).await?;
    let groups = admin::members::role_groups(&state.pool, org_id).await?;
    let groups_of = |role: &str| {
        groups
            .iter()
            .find(|(mapped, _)| mapped == role)
            .map_or(&[][..], |(_, group_ids)| group_ids.as_slice())
    };
    let rendered: Vec<Value> = roles
        .iter()
        .map(|role| render(role, groups_of(role)))
        .collect();
    Ok(HttpResponse::Ok().json(rendered))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRole {
    role: String,
}

/// Adds a custom role: 201 `{"role","built_in":false}`; 409 when the
/// organization has it already.
pub async fn add(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    let body = Body::read(&request, payload).await?;
    require_owner(&state, &request, &caller, org_id, "role add").await?;
    let new: NewRole = body.parse()?;
    admin::provisioning::add_role(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 201),
        &new.role,
    )
    .await?;
    Ok(recorded(
        HttpResponse::Created().json(render(new.role.trim(), &[])),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Groups {
    group_ids: Vec<Uuid>,
}

/// Makes the members of these SCIM groups (directly or through nested
/// groups) hold the role, replacing the groups mapped before (none: no
/// group gives it): 200 `{"role","group_ids"}`; 400 for `owner`, which no
/// directory group gives; 404 for a role or a group the organization does
/// not have.
pub async fn map_groups(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let (org_id, role) = path.into_inner();
    let body = Body::read(&request, payload).await?;
    require_owner(&state, &request, &caller, org_id, "role groups").await?;
    let groups: Groups = body.parse()?;
    let mapped = admin::members::map_role_groups(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 200),
        &role,
        &groups.group_ids,
    )
    .await?;
    Ok(recorded(
        HttpResponse::Ok().json(json!({"role": role, "group_ids": mapped})),
    ))
}
