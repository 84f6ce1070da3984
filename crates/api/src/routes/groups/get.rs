//! `GET /Groups/{id}`, with `If-None-Match`. The members are streamed from
//! a cursor, so a group of any size is answered in bounded memory;
//! `excludedAttributes=members` (or an `attributes` list without it) does
//! not read them at all.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::group_id;
use super::render::{group_json, streamed_group, wants_members};
use crate::error::SCIM_JSON;
use crate::render::{etag_header, if_none_match};
use crate::scim_gate::Tenant;
use crate::{ApiError, AppState, selection};

/// One group of the caller's organization, with `If-None-Match`.
pub async fn get_group(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let group_id = group_id(&path)?;
    let selection = selection::group_from_query(request.query_string())?;
    let tenant = Tenant::of(&request);
    let record = store::find_group(&state.pool, tenant.org_id, group_id)
        .await?
        .ok_or_else(|| ApiError::not_found("group"))?;
    if if_none_match(&request, record.row.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header(etag_header(record.row.version))
            .finish());
    }
    let head = group_json(&request, group_id, &record.row, &selection);
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .insert_header(etag_header(record.row.version));
    if !wants_members(&selection) {
        return Ok(response.body(head.to_string()));
    }
    let chunks = store::stream_members(state.pool.clone(), tenant.org_id, group_id);
    Ok(response.streaming(streamed_group(&request, head, chunks)))
}
