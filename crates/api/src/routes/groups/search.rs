//! `POST /Groups/.search` (RFC 7644 §3.4.3): a SearchRequest body answered
//! exactly like `GET /Groups` with the same parameters
//! ([`crate::search_request`]).

use actix_web::{HttpRequest, HttpResponse, web};

use super::list::list_page;
use crate::{ApiError, AppState, search_request};

/// Answers a SearchRequest with a ListResponse of groups.
pub async fn search_groups(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let query_string = search_request::read(&state, &request, payload).await?;
    list_page(&state, &request, &query_string).await
}
