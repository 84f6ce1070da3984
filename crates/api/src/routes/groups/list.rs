//! `GET /Groups` with `filter`, `startIndex`, `count`, `sortBy`,
//! `sortOrder`, `attributes` and `excludedAttributes`; `POST
//! /Groups/.search` comes here too (see `search.rs`).

use actix_web::{HttpRequest, HttpResponse, web};

use super::render::{group_with_members, wants_members};
use crate::query::{Paging, unevaluable};
use crate::render;
use crate::scim_gate::Tenant;
use crate::{ApiError, AppState, selection};
use serde_json::Value;
use store::{GroupQuery, GroupSort};

/// A page of groups, filtered and sorted as asked.
pub async fn list_groups(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    list_page(&state, &request, request.query_string()).await
}

/// The ListResponse for list parameters given as a query string, whether
/// the client sent them so or in a SearchRequest body.
pub(super) async fn list_page(
    state: &AppState,
    request: &HttpRequest,
    query_string: &str,
) -> Result<HttpResponse, ApiError> {
    render::list_page(query_string, state.settings.max_results, |offset, limit| {
        group_page(state, request, query_string, offset, limit)
    })
    .await
}

/// How many groups the list parameters match, and the JSON of those from
/// `offset`, at most `limit`.
pub(in crate::routes) async fn group_page(
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
    let tenant = Tenant::of(request);
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
