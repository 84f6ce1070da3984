//! `PATCH /Users/{id}`, in both of Entra's dialects (the PATCH engine in the
//! `scim` crate reads them).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::user::UserCommand;

use super::write::write_user;
use super::{password, user_id, written_with_groups};
use crate::render::if_match;
use crate::scim_gate::Tenant;
use crate::{ApiError, AppState, body, selection};

/// Applies a PatchOp message: 200 with the resource as it now stands. The
/// operations that set a `password` are taken out and hashed here.
pub async fn patch_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let selection = selection::from_query(request.query_string())?;
    let user_id = user_id(&path)?;
    let if_match = if_match(&request)?;
    let mut body = body::read_json(&request, payload, state.settings.max_body_bytes).await?;
    let org_id = Tenant::of(&request).org_id;
    (state.dialect_forms)
        .count(org_id, request.query_string(), &body)
        .await;
    let password_hash = password::hash(scim::schema::take_patch_password(&mut body)?).await?;
    let outcome = write_user(&state, &request, user_id, 200, || UserCommand::Patch {
        body: body.clone(),
        password_hash: password_hash.clone(),
        if_match,
    })
    .await?;
    written_with_groups(&state, &request, &outcome, StatusCode::OK, &selection).await
}
