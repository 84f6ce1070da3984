//! `GET /Users/{id}`, with `If-None-Match`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::render::{UserView, groups_of, user_json};
use super::user_id;
use crate::error::SCIM_JSON;
use crate::render::{etag_header, if_none_match};
use crate::scim_gate::Tenant;
use crate::{ApiError, AppState, selection};

/// One user of the caller's organization; another organization's id is 404.
/// An `If-None-Match` naming the current version (or `*`) answers 304 with
/// the ETag and no body.
pub async fn get_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = user_id(&path)?;
    let selection = selection::from_query(request.query_string())?;
    let tenant = Tenant::of(&request);
    let record = store::find_user(&state.pool, tenant.org_id, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if if_none_match(&request, record.row.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header(etag_header(record.row.version))
            .finish());
    }
    let groups = groups_of(&state, tenant.org_id, &[user_id], &selection).await?;
    let view = UserView {
        user_id,
        resource: &record.row.resource,
        version: record.row.version,
        created: record.row.created_at,
        last_modified: record.row.updated_at,
        groups: groups.get(&user_id).map_or(&[], Vec::as_slice),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .insert_header(etag_header(record.row.version))
        .body(user_json(&request, &view, &selection).to_string()))
}
