//! `GET` and `PUT /api/v1/orgs/{org}/provisioning`: SCIM on or off, the
//! default role, and the Tenant URL to give the identity provider.

use actix_web::{HttpRequest, HttpResponse, web};
use admin::provisioning::ProvisioningView;
use domain::provisioning::SettingsChange;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::body::Body;
use super::error::AdminError;
use super::gate::Caller;
use super::owners::require_owner;
use super::recorded;
use crate::AppState;

/// `{"scim_enabled","default_role","tenant_url"}`.
fn render(request: &HttpRequest, view: &ProvisioningView) -> Value {
    json!({
        "scim_enabled": view.scim_enabled,
        "default_role": view.default_role,
        "tenant_url": tenant_url(request),
    })
}

/// Where the identity provider sends SCIM requests: this server's
/// `/scim_v2`, as the request reached it (its scheme and `Host`, or what a
/// proxy says in `Forwarded` / `X-Forwarded-*`), the same base the SCIM
/// responses' `meta.location` use.
pub fn tenant_url(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}/scim_v2", info.scheme(), info.host())
}

/// The organization's provisioning settings.
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_owner(&state, &request, &caller, org_id, "provisioning show").await?;
    let view = admin::provisioning::show(&state.pool, org_id).await?;
    Ok(HttpResponse::Ok().json(render(&request, &view)))
}

/// What `PUT` takes: the fields to change (an absent one stays);
/// `tenant_url` may be sent back as read, and is not changed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    scim_enabled: Option<bool>,
    default_role: Option<String>,
    #[serde(default, rename = "tenant_url")]
    _tenant_url: Option<Value>,
}

/// Changes the settings; answers them as they are after.
pub async fn set(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    let body = Body::read(&request, payload).await?;
    require_owner(&state, &request, &caller, org_id, "provisioning set").await?;
    let change: Change = body.parse()?;
    let set = admin::provisioning::set(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 200),
        SettingsChange {
            scim_enabled: change.scim_enabled,
            default_role: change.default_role,
        },
    )
    .await?;
    let response = HttpResponse::Ok().json(render(&request, &set.settings));
    // A change to what already held records nothing: the access log has it.
    Ok(if set.changed {
        // This process applies a switch at once; the others within their poll.
        state.tokens.forget_organization(org_id);
        recorded(response)
    } else {
        response
    })
}
