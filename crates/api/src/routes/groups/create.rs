//! `POST /Groups`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use domain::group::GroupCommand;
use uuid::Uuid;

use super::respond;
use super::write::write_group;
use crate::render::{ResourceType, location};
use crate::{ApiError, AppState, body, selection};

/// Creates a group, empty or with members: 201 with `Location`.
pub async fn create_group(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let selection = selection::group_from_query(request.query_string())?;
    let resource = body::read_json(&request, payload, state.settings.max_body_bytes).await?;
    let group_id = Uuid::now_v7();
    let command = GroupCommand::Create { resource };
    let written = write_group(&state, &request, group_id, 201, command).await?;
    let mut response = respond(
        &state,
        &request,
        group_id,
        written,
        StatusCode::CREATED,
        &selection,
    )
    .await?;
    response.headers_mut().insert(
        header::LOCATION,
        header::HeaderValue::from_str(&location(&request, ResourceType::Group, group_id))
            .expect("a URL is a header value"),
    );
    Ok(response)
}
