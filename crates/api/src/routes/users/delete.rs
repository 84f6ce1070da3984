//! `DELETE /Users/{id}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::user::UserCommand;

use super::write::write_user;
use super::{user_id, written};
use crate::render::if_match;
use crate::{ApiError, AppState};
use scim::Selection;

/// Deletes a user: 204; a second delete is 404.
pub async fn delete_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = user_id(&path)?;
    let if_match = if_match(&request)?;
    let outcome = write_user(&state, &request, user_id, 204, || UserCommand::Delete {
        if_match,
    })
    .await?;
    let mut response = written(
        &request,
        &outcome,
        StatusCode::NO_CONTENT,
        &Selection::all(),
        &[],
    );
    response
        .headers_mut()
        .remove(actix_web::http::header::CONTENT_TYPE);
    response.headers_mut().remove(actix_web::http::header::ETAG);
    Ok(response)
}
