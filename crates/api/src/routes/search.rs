//! `POST /.search` at the root (RFC 7644 §3.4.3): a SearchRequest over every
//! resource type, Users first, then Groups, as one paged list.
//!
//! A filter that only one type can evaluate (`members[value eq "x"]`, say)
//! searches that type alone; one that neither can is 400 `invalidFilter`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::groups::group_page;
use super::users::user_page;
use crate::{ApiError, AppState, render, search_request};
use scim::ScimError;

/// Answers a root SearchRequest with one ListResponse of users and groups.
pub async fn search_everything(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let query = search_request::read(&state, &request, payload).await?;
    render::list_page(&query, state.settings.max_results, |offset, limit| {
        users_then_groups(&state, &request, &query, offset, limit)
    })
    .await
}

/// The users and then the groups the query matches, from `offset`, at most
/// `limit` of them, and how many match in all.
async fn users_then_groups(
    state: &AppState,
    request: &HttpRequest,
    query: &str,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Value>), ApiError> {
    let users = refusal(user_page(state, request, query, offset, limit).await)?;
    let (user_total, mut resources) = users.clone().unwrap_or_default();
    let group_offset = (offset - user_total).max(0);
    let group_limit = limit - resources.len() as i64;
    let groups = refusal(group_page(state, request, query, group_offset, group_limit).await)?;
    let group_total = match (groups, users) {
        (Ok((total, page)), _) => {
            resources.extend(page);
            total
        }
        (Err(_), Ok(_)) => 0,
        // Neither type can evaluate the request: the user type's reason.
        (Err(_), Err(refused)) => return Err(ApiError::Scim(refused)),
    };
    Ok((user_total + group_total, resources))
}

/// A type's page, or the 400 with which that type refuses the request; any
/// other failure (the database down) is the whole search's.
fn refusal<T>(page: Result<T, ApiError>) -> Result<Result<T, ScimError>, ApiError> {
    match page {
        Ok(page) => Ok(Ok(page)),
        Err(ApiError::Scim(error)) if error.status == 400 => Ok(Err(error)),
        Err(other) => Err(other),
    }
}
