//! Liveness, readiness and metrics for operators.

use actix_web::{HttpResponse, web};
use prometheus::{Encoder, TextEncoder};
use time::OffsetDateTime;

use crate::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Readiness: the database answers, and the projector is within its lag
/// bound (the age of the oldest event it has not folded).
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let unready = |reason: String| {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(reason + "\n")
    };
    match store::projector_health(&state.pool, OffsetDateTime::now_utc()).await {
        Err(_) => unready("PostgreSQL is unreachable".into()),
        Ok(health) if health.lag_seconds > state.settings.max_projector_lag.as_secs_f64() => {
            unready(format!(
                "the projector is behind: {} events, the oldest waiting {:.0} s (bound {} s)",
                health.lag_events,
                health.lag_seconds,
                state.settings.max_projector_lag.as_secs()
            ))
        }
        Ok(_) => HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n"),
    }
}

/// Prometheus text exposition of every registered metric.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut buffer = Vec::new();
    match TextEncoder::new().encode(&state.registry.gather(), &mut buffer) {
        Ok(()) => HttpResponse::Ok()
            .content_type(prometheus::TEXT_FORMAT)
            .body(buffer),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}
