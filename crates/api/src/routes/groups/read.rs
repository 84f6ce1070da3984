//! `GET /Groups/{id}` and `GET /Groups`.
//!
//! A single group's members are streamed from a cursor, so a group of any
//! size is answered in bounded memory; `excludedAttributes=members` (or an
//! `attributes` list without it) does not read them at all.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{group_id, not_found};
use crate::error::SCIM_JSON;
use crate::group_render::{group_json, group_with_members, streamed_group, wants_members};
use crate::query::{Paging, unevaluable};
use crate::render::{etag_header, if_none_match, list_json};
use crate::routes::users::query_string;
use crate::routes::users::tenant;
use crate::{ApiError, AppState, body, selection};
use serde_json::Value;
use store::{GroupQuery, GroupSort};

/// One group of the caller's organisation, with `If-None-Match`.
pub async fn get_group(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let group_id = group_id(&path)?;
    let selection = selection::group_from_query(request.query_string())?;
    let tenant = tenant(&request);
    let record = store::find_group(&state.pool, tenant.org_id, group_id)
        .await?
        .ok_or_else(|| not_found(group_id))?;
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

/// A page of groups, filtered and sorted as asked.
pub async fn list_groups(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    list_page(&state, &request, request.query_string()).await
}

/// `POST /Groups/.search`: a SearchRequest answered as `GET /Groups`.
pub async fn search_groups(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = body::read_json(&request, payload, state.settings.max_body_bytes).await?;
    let query_string = query_string(&body)?;
    list_page(&state, &request, &query_string).await
}

async fn list_page(
    state: &AppState,
    request: &HttpRequest,
    query_string: &str,
) -> Result<HttpResponse, ApiError> {
    let paging = Paging::parse(query_string, state.settings.max_results)?;
    let (total, resources) = group_page(
        state,
        request,
        query_string,
        paging.start_index - 1,
        paging.count,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .body(list_json(total, paging.start_index, resources).to_string()))
}

/// How many groups the list parameters match, and the JSON of those from
/// `offset`, at most `limit`.
pub(crate) async fn group_page(
    state: &AppState,
    request: &HttpRequest,
    query_string: &str,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Value>), ApiError> {
    let paging = Paging::parse(query_string, state.settings.max_results)?;
    let selection = selection::group_from_query(query_string)?;
    let query = match &paging.filter {
        Some((text, filter)) => {
            GroupQuery::filter(filter).map_err(|error| unevaluable(text, error))?
        }
        None => GroupQuery::All,
    };
    let sort = paging
        .sort_by
        .as_ref()
        .map(|by| GroupSort::new(by, paging.descending))
        .transpose()
        .map_err(|error| unevaluable("sortBy", error))?;
    let tenant = tenant(request);
    let (total, groups) = store::list_groups(
        &state.pool,
        tenant.org_id,
        &query,
        sort.as_ref(),
        offset,
        limit,
    )
    .await?;
    let mut members = if wants_members(&selection) {
        let ids: Vec<_> = groups.iter().map(|group| group.group_id).collect();
        Some(store::members_of(&state.pool, tenant.org_id, &ids).await?)
    } else {
        None
    };
    let resources = groups
        .iter()
        .map(|group| {
            let listed = members
                .as_mut()
                .map(|all| all.remove(&group.group_id).unwrap_or_default());
            group_with_members(
                request,
                group.group_id,
                &group.row,
                listed.as_deref(),
                &selection,
            )
        })
        .collect();
    Ok((total, resources))
}
