//! `POST /.search` at the root (RFC 7644 §3.4.3): a SearchRequest over every
//! resource type, Users first, then Groups, as one paged list.
//!
//! A filter that only one type can evaluate (`members[value eq "x"]`, say)
//! searches that type alone; one that neither can is 400 `invalidFilter`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::groups::group_page;
use super::users::{query_string, user_page};
use crate::error::SCIM_JSON;
use crate::query::Paging;
use crate::render::list_json;
use crate::{ApiError, AppState, body};
use scim::ScimError;

/// Answers a root SearchRequest with one ListResponse of users and groups.
pub async fn search_everything(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = body::read_json(&request, payload, state.settings.max_body_bytes).await?;
    let query = query_string(&body)?;
    let paging = Paging::parse(&query, state.settings.max_results)?;
    let offset = paging.start_index - 1;
    let users = refusal(user_page(&state, &request, &query, offset, paging.count).await)?;
    let (user_total, mut resources) = users.clone().unwrap_or_default();
    let group_offset = (offset - user_total).max(0);
    let group_limit = paging.count - resources.len() as i64;
    let groups = refusal(group_page(&state, &request, &query, group_offset, group_limit).await)?;
    let group_total = match (groups, users) {
        (Ok((total, page)), _) => {
            resources.extend(page);
            total
        }
        (Err(_), Ok(_)) => 0,
        // Neither type can evaluate the request: the user type's reason.
        (Err(_), Err(refused)) => return Err(ApiError::Scim(refused)),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .body(list_json(user_total + group_total, paging.start_index, resources).to_string()))
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
