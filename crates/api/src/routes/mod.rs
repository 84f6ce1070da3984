//! Route table: SCIM resources under `/scim_v2`, the admin API under
//! `/api/v1` (`admin_api`), liveness and readiness at the root
//! (`/metrics` is on the operators' listener, never here).

mod bulk;
mod discovery;
mod docs;
pub(crate) mod groups;
mod ops;
mod search;
pub(crate) mod users;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::ApiError;
use crate::scim_gate::scim_gate;
use scim::ScimError;

/// Registers every route.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route(
            crate::front::REFUSED_PATH,
            web::get().to(crate::front::refused),
        )
        .route(discovery::DOCUMENTATION_PATH, web::get().to(docs::scim))
        .default_service(web::to(unknown))
        .configure(crate::admin_api::configure)
        .service(
            web::scope("/scim_v2")
                .wrap(actix_web::middleware::from_fn(scim_gate))
                .configure(users::configure)
                .configure(groups::configure)
                .configure(bulk::configure)
                .configure(discovery::configure)
                .service(
                    web::resource("/.search")
                        .post(search::search_everything)
                        .default_service(web::to(method_not_allowed)),
                )
                .route("/Me", web::route().to(me))
                .default_service(web::to(unknown)),
        );
}

/// Tokens belong to organizations, not people, so `/Me` has no subject.
async fn me() -> Result<HttpResponse, ApiError> {
    Err(ApiError::Scim(ScimError {
        status: 501,
        scim_type: None,
        detail: "/Me is not supported: SCIM tokens belong to organizations, not users".into(),
    }))
}

/// A known resource asked with a verb it does not take: 405 as SCIM JSON.
async fn method_not_allowed(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::Scim(ScimError {
        status: 405,
        scim_type: None,
        detail: format!("{} is not allowed on {}", request.method(), request.path()),
    }))
}

async fn unknown(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::Scim(ScimError::not_found(format!(
        "no SCIM endpoint at {} {}",
        request.method(),
        request.path()
    ))))
}
