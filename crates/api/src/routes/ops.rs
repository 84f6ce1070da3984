//! Liveness and readiness on the public port, for load balancers; the
//! same checks the operators' listener answers (the `ops` crate). Metrics
//! are served on that listener only.

use actix_web::{HttpResponse, web};

use crate::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    ops::healthz().await
}

/// Readiness: every check of the process (`AppState::readiness`); 503 with
/// a JSON body naming those that fail.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    ops::readyz_response(&state.readiness).await
}
