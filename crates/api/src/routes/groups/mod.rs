//! `/scim_v2/Groups`: one file per verb, the group side of the write loop
//! ([`write`]) and the group's JSON ([`render`]).

mod create;
mod delete;
mod get;
mod list;
mod patch;
mod render;
mod replace;
mod search;
pub(crate) mod write;

pub(super) use list::group_page;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use scim::Selection;
use uuid::Uuid;

use self::render::{group_with_members, wants_members};
use self::write::GroupWritten;
use crate::error::SCIM_JSON;
use crate::render::etag_header;
use crate::scim_gate::{RecordedAsEvent, Tenant};
use crate::write::wait_for_projection;
use crate::{ApiError, AppState};

/// Registers the Groups routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/Groups")
                .post(create::create_group)
                .get(list::list_groups)
                .default_service(web::to(super::method_not_allowed)),
        )
        // Before `/Groups/{id}`, which would take `.search` for an id.
        .service(
            web::resource("/Groups/.search")
                .post(search::search_groups)
                .default_service(web::to(super::method_not_allowed)),
        )
        .service(
            web::resource("/Groups/{id}")
                .get(get::get_group)
                .put(replace::replace_group)
                .patch(patch::patch_group)
                .delete(delete::delete_group)
                .default_service(web::to(super::method_not_allowed)),
        );
}

/// A group id from the path; anything that is not one of ours is 404.
fn group_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found("group"))
}

/// The group as it now stands, read back from the read tables once they
/// hold the write (waited for, bounded as a read waits), members included
/// when the selection keeps them.
async fn respond(
    state: &AppState,
    request: &HttpRequest,
    group_id: Uuid,
    written: GroupWritten,
    status: StatusCode,
    selection: &Selection,
) -> Result<HttpResponse, ApiError> {
    let org_id = Tenant::of(request).org_id;
    if let Some(position) = written.position {
        wait_for_projection(state, org_id, position).await;
    }
    let record = store::find_group(&state.pool, org_id, group_id)
        .await?
        .ok_or_else(|| ApiError::not_found("group"))?;
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
