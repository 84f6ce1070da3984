//! `/api/v1/orgs/{org}/domains`: add (with the TXT challenge to publish),
//! list, verify through DNS, drop.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::body::Body;
use super::error::AdminError;
use super::gate::Caller;
use super::owners::require_owner;
use super::recorded;
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDomain {
    domain: String,
}

/// Adds a domain, pending: 201 `{"id","domain","txt_name","txt_value","state"}`.
pub async fn add(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    let body = Body::read(&request, payload).await?;
    require_owner(&state, &request, &caller, org_id, "domain add").await?;
    let new: NewDomain = body.parse()?;
    let added = admin::domains::add(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 201),
        &new.domain,
    )
    .await?;
    Ok(recorded(HttpResponse::Created().json(added)))
}

/// Every domain of the organization, in the order they were added.
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_owner(&state, &request, &caller, org_id, "domain list").await?;
    Ok(HttpResponse::Ok().json(admin::domains::list(&state.pool, org_id).await?))
}

/// Looks the domain's TXT record up (through `ROLLCALL_DNS_SERVER`, else
/// the system's nameservers): 200 with `"state":"verified"`, or 409 saying
/// what DNS holds instead.
pub async fn verify(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AdminError> {
    let (org_id, domain_id) = path.into_inner();
    require_owner(&state, &request, &caller, org_id, "domain verify").await?;
    // Made per verification: rare, and a resolver read afresh sees a fixed
    // /etc/resolv.conf.
    let resolver = dns::TxtResolver::new(state.settings.dns_server)
        .map_err(|error| AdminError::from(anyhow::Error::from(error)))?;
    let verified = admin::domains::verify(
        &state.pool,
        &state.appender,
        &resolver,
        org_id,
        &caller.meta(&request, 200),
        domain_id,
    )
    .await?;
    Ok(recorded(HttpResponse::Ok().json(verified)))
}

/// Drops a domain, pending or verified: 204.
pub async fn drop(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AdminError> {
    let (org_id, domain_id) = path.into_inner();
    require_owner(&state, &request, &caller, org_id, "domain drop").await?;
    admin::domains::drop(
        &state.pool,
        &state.appender,
        org_id,
        &caller.meta(&request, 204),
        domain_id,
    )
    .await?;
    Ok(recorded(HttpResponse::NoContent().finish()))
}
