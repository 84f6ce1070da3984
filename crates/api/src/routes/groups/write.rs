//! `POST`, `PUT`, `PATCH` and `DELETE` on Groups.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use domain::group::GroupCommand;
use scim::Selection;
use uuid::Uuid;

use super::{group_id, not_found};
use crate::error::SCIM_JSON;
use crate::group_render::{group_location, group_with_members, wants_members};
use crate::group_write::{GroupWritten, write_group};
use crate::record::RecordedAsEvent;
use crate::render::{etag_header, if_match};
use crate::routes::users::tenant;
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
    let written = write_group(&state, &request, tenant(&request), group_id, 201, command).await?;
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
        header::HeaderValue::from_str(&group_location(&request, group_id))
            .expect("a URL is a header value"),
    );
    Ok(response)
}

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
    let written = write_group(&state, &request, tenant(&request), group_id, 200, command).await?;
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
    let command = GroupCommand::Patch { body, if_match };
    let written = write_group(&state, &request, tenant(&request), group_id, 204, command).await?;
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

/// Deletes a group and every membership it held or was: 204.
pub async fn delete_group(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let group_id = group_id(&path)?;
    let if_match = if_match(&request)?;
    let command = GroupCommand::Delete { if_match };
    write_group(&state, &request, tenant(&request), group_id, 204, command).await?;
    let mut response = HttpResponse::NoContent().finish();
    response.extensions_mut().insert(RecordedAsEvent);
    Ok(response)
}

/// The group as it now stands, read back from the read tables (the write
/// waited for the projector), members included when the selection keeps them.
async fn respond(
    state: &AppState,
    request: &HttpRequest,
    group_id: Uuid,
    written: GroupWritten,
    status: StatusCode,
    selection: &Selection,
) -> Result<HttpResponse, ApiError> {
    let org_id = tenant(request).org_id;
    let record = store::find_group(&state.pool, org_id, group_id)
        .await?
        .ok_or_else(|| not_found(group_id))?;
    let members = if wants_members(selection) {
        let mut all = store::members_of(&state.pool, org_id, &[group_id]).await?;
        Some(all.remove(&group_id).unwrap_or_default())
    } else {
        None
    };
    let body = group_with_members(
        request,
        group_id,
        &record.row,
        members.as_deref(),
        selection,
    );
    let mut response = HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .insert_header(etag_header(record.row.version.max(written.version)))
        .body(body.to_string());
    if written.appended {
        response.extensions_mut().insert(RecordedAsEvent);
    }
    Ok(response)
}
