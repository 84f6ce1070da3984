//! `PATCH /Groups/{id}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::group::GroupCommand;

use super::write::write_group;
use super::{group_id, respond};
use crate::render::{etag_header, if_match};
use crate::scim_gate::{RecordedAsEvent, Tenant};
use crate::{ApiError, AppState, body, selection};

/// Applies a PatchOp message. Answers 204 as Entra expects; 200 with the
/// group when the request asks for attributes (`attributes` or
/// `excludedAttributes`).
pub async fn patch_group(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let selection = selection::group_from_query(request.query_string())?;
    let group_id = group_id(&path)?;
    let if_match = if_match(&request)?;
    let body = body::read_json(&request, payload, state.settings.max_body_bytes).await?;
    let org_id = Tenant::of(&request).org_id;
    (state.dialect_forms)
        .count(org_id, request.query_string(), &body)
        .await;
    let command = GroupCommand::Patch { body, if_match };
    let written = write_group(&state, &request, group_id, 204, command).await?;
    if selection.is_all() {
        let mut response = HttpResponse::NoContent()
            .insert_header(etag_header(written.version))
            .finish();
        if written.appended {
            response.extensions_mut().insert(RecordedAsEvent);
        }
        return Ok(response);
    }
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
