//! `GET /Users` with `filter`, `startIndex`, `count`, `attributes` and
//! `excludedAttributes`; `POST .search` comes here too (see `search.rs`).

use actix_web::{HttpRequest, HttpResponse, web};

use super::render::{UserView, groups_of, user_json};
use crate::query::ListParams;
use crate::render;
use crate::scim_gate::Tenant;
use crate::{ApiError, AppState, selection};
use serde_json::Value;

/// A page of users; an empty result is `200` with `"Resources": []`.
pub async fn list_users(
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
        user_page(state, request, query_string, offset, limit)
    })
    .await
}

/// How many users the list parameters match, and the JSON of those from
/// `offset`, at most `limit`.
pub(in crate::routes) async fn user_page(
    state: &AppState,
    request: &HttpRequest,
    query_string: &str,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Value>), ApiError> {
    let params = ListParams::parse(query_string, state.settings.max_results)?;
    let selection = selection::from_query(query_string)?;
    let tenant = Tenant::of(request);
    let (total, users) = store::list_users(
        &state.pool,
        tenant.org_id,
        &params.query,
        params.sort.as_ref(),
        offset,
        limit,
    )
    .await?;
    let ids: Vec<_> = users.iter().map(|user| user.user_id).collect();
    let groups = groups_of(state, tenant.org_id, &ids, &selection).await?;
    let resources = users
        .iter()
        .map(|user| {
            user_json(
                request,
                &UserView {
                    user_id: user.user_id,
                    resource: &user.row.resource,
                    version: user.row.version,
                    created: user.row.created_at,
                    last_modified: user.row.updated_at,
                    groups: groups.get(&user.user_id).map_or(&[], Vec::as_slice),
                },
                &selection,
            )
        })
        .collect();
    Ok((total, resources))
}
