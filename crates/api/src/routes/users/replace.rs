//! `PUT /Users/{id}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::user::UserCommand;

use super::write::write_user;
use super::{password, user_id, written_with_groups};
use crate::render::if_match;
use crate::{ApiError, AppState, body, selection};

/// Replaces a user wholesale: 200 with the stored resource. Without a
/// `password` the user keeps the one it had.
pub async fn replace_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let selection = selection::from_query(request.query_string())?;
    let user_id = user_id(&path)?;
    let if_match = if_match(&request)?;
    let mut resource = body::read_json(&request, payload, state.settings.max_body_bytes).await?;
    let password_hash = password::hash(scim::schema::take_password(&mut resource)?).await?;
    let outcome = write_user(&state, &request, user_id, 200, || UserCommand::Replace {
        resource: resource.clone(),
        password_hash: password_hash.clone(),
        if_match,
    })
    .await?;
    written_with_groups(&state, &request, &outcome, StatusCode::OK, &selection).await
}
