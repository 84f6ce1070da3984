//! `PUT /Groups/{id}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::group::GroupCommand;

use super::write::write_group;
use super::{group_id, respond};
use crate::render::if_match;
use crate::{ApiError, AppState, body, selection};

/// Replaces a group's attributes, and its members when the body has them.
pub async fn replace_group(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let selection = selection::group_from_query(request.query_string())?;
    let group_id = group_id(&path)?;
    let if_match = if_match(&request)?;
    let resource = body::read_json(&request, payload, state.settings.max_body_bytes).await?;
    let command = GroupCommand::Replace { resource, if_match };
    let written = write_group(&state, &request, group_id, 200, command).await?;
    respond(
        &state,
        &request,
        group_id,
        written,
        StatusCode::OK,
        &selection,
    )
    .await
}
