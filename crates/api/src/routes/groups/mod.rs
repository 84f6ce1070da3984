//! `/scim_v2/Groups`: reads in `read.rs`, writes in `write.rs`.

mod read;
mod write;

pub(super) use read::group_page;

use actix_web::web;
use uuid::Uuid;

use crate::ApiError;
use scim::ScimError;

/// Registers the Groups routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/Groups")
                .post(write::create_group)
                .get(read::list_groups)
                .default_service(web::to(super::method_not_allowed)),
        )
        // Before `/Groups/{id}`, which would take `.search` for an id.
        .service(
            web::resource("/Groups/.search")
                .post(read::search_groups)
                .default_service(web::to(super::method_not_allowed)),
        )
        .service(
            web::resource("/Groups/{id}")
                .get(read::get_group)
                .put(write::replace_group)
                .patch(write::patch_group)
                .delete(write::delete_group)
                .default_service(web::to(super::method_not_allowed)),
        );
}

/// A group id from the path; anything that is not one of ours is 404.
fn group_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found(raw))
}

fn not_found(id: impl std::fmt::Display) -> ApiError {
    ApiError::Scim(ScimError::not_found(format!(
        "no group {id} in this organization"
    )))
}
