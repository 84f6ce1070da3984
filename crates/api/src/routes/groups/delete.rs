//! `DELETE /Groups/{id}`.

use actix_web::{HttpRequest, HttpResponse, web};
use domain::group::GroupCommand;

use super::group_id;
use super::write::write_group;
use crate::render::if_match;
use crate::scim_gate::RecordedAsEvent;
use crate::{ApiError, AppState};

/// Deletes a group and every membership it held or was: 204.
pub async fn delete_group(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let group_id = group_id(&path)?;
    let if_match = if_match(&request)?;
    let command = GroupCommand::Delete { if_match };
    write_group(&state, &request, group_id, 204, command).await?;
    let mut response = HttpResponse::NoContent().finish();
    response.extensions_mut().insert(RecordedAsEvent);
    Ok(response)
}
