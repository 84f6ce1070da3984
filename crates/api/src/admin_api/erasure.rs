//! `/api/v1/orgs/{org}/users/{id}/erasure`: erase a person who has left.

use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::error::AdminError;
use super::gate::Caller;
use super::owners::require_owner;
use super::recorded;
use crate::AppState;

/// Erases SCIM user `id`'s personal data: 200 `{"user_id","account_id",
/// "access_records_redacted"}`; 409 while the user is active.
pub async fn erase(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AdminError> {
    let (org_id, user_id) = path.into_inner();
    require_owner(&state, &request, &caller, org_id, "erase").await?;
    let erased = admin::erasure::erase(
        &state.pool,
        &state.appender,
        org_id,
        user_id,
        &caller.meta(&request, 200),
    )
    .await?;
    Ok(recorded(HttpResponse::Ok().json(erased)))
}
