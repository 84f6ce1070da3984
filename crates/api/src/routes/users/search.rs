//! `POST /Users/.search` (RFC 7644 §3.4.3): a SearchRequest body answered
//! exactly like `GET /Users` with the same parameters, through the same
//! parser and code path ([`crate::search_request`]).

use actix_web::{HttpRequest, HttpResponse, web};

use super::list::list_page;
use crate::{ApiError, AppState, search_request};

/// Answers a SearchRequest with a ListResponse of users.
pub async fn search_users(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let query_string = search_request::read(&state, &request, payload).await?;
    list_page(&state, &request, &query_string).await
}
