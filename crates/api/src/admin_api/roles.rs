//! `GET` and `POST /api/v1/orgs/{org}/roles`: the built-in roles and the
//! organization's own.

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

/// `{"role","built_in"}`.
fn render(role: &str) -> Value {
    json!({"role": role, "built_in": BUILT_IN_ROLES.contains(&role)})
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
    let rendered: Vec<Value> = roles.iter().map(|role| render(role)).collect();
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
        HttpResponse::Created().json(render(new.role.trim())),
    ))
}
