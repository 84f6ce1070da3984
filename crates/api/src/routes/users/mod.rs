//! `/scim_v2/Users`: one file per verb, the user side of the write loop
//! ([`write`]) and the user's JSON ([`render`]).

mod create;
mod delete;
mod get;
mod list;
pub(super) mod password;
mod patch;
mod render;
mod replace;
mod search;
pub(crate) mod write;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use self::render::{UserView, groups_of, user_json};
use self::write::WriteOutcome;
use crate::ApiError;
use crate::error::SCIM_JSON;
use crate::render::etag_header;
use crate::scim_gate::{RecordedAsEvent, Tenant};
use scim::Selection;

/// Registers the Users routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/Users")
                .post(create::create_user)
                .get(list::list_users)
                .default_service(web::to(super::method_not_allowed)),
        )
        // Before `/Users/{id}`, which would take `.search` for an id.
        .service(
            web::resource("/Users/.search")
                .post(search::search_users)
                .default_service(web::to(super::method_not_allowed)),
        )
        .service(
            web::resource("/Users/{id}")
                .get(get::get_user)
                .put(replace::replace_user)
                .patch(patch::patch_user)
                .delete(delete::delete_user)
                .default_service(web::to(super::method_not_allowed)),
        );
}

pub(super) use list::user_page;

/// A user id from the path; anything that is not one of ours is 404.
fn user_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found("user"))
}

/// [`written`] for a write whose answer shows the user's groups (PUT, PATCH).
async fn written_with_groups(
    state: &crate::AppState,
    request: &HttpRequest,
    outcome: &WriteOutcome,
    status: StatusCode,
    selection: &Selection,
) -> Result<HttpResponse, ApiError> {
    let org_id = Tenant::of(request).org_id;
    let user_id = outcome.user_id;
    let groups = groups_of(state, org_id, &[user_id], selection).await?;
    let groups = groups.get(&user_id).map_or(&[][..], Vec::as_slice);
    Ok(written(request, outcome, status, selection, groups))
}

/// The response to a write: the user's JSON (as `selection` asks) with its
/// ETag, marked as recorded when it became events.
fn written(
    request: &HttpRequest,
    outcome: &WriteOutcome,
    status: StatusCode,
    selection: &Selection,
    groups: &[store::UserGroup],
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, SCIM_JSON));
    response.insert_header(etag_header(outcome.version));
    let mut response = match &outcome.resource {
        Some(resource) => {
            let view = UserView {
                user_id: outcome.user_id,
                resource,
                version: outcome.version,
                created: outcome.created,
                last_modified: outcome.last_modified,
                groups,
            };
            response.body(user_json(request, &view, selection).to_string())
        }
        None => response.finish(),
    };
    if outcome.appended {
        response.extensions_mut().insert(RecordedAsEvent);
    }
    response
}
