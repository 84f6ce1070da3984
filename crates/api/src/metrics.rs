//! The API's Prometheus metrics and the middleware that observes requests.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

use crate::AppState;
pub use scim_operations::ScimOperations;

mod scim_operations;

/// Metrics of the HTTP service, registered in the caller's registry.
#[derive(Clone)]
pub struct ApiMetrics {
    pub requests: IntCounterVec,
    pub durations: HistogramVec,
    pub read_your_writes_wait: Histogram,
    pub read_your_writes_timeouts: IntCounter,
    pub write_retries: IntCounter,
    pub write_events_read: IntCounter,
    pub requests_in_flight: IntGauge,
    /// SCIM operations by resource and op, resolved once.
    pub scim_operations: ScimOperations,
    /// Requests refused before they named an organization, by reason (SCIM
    /// tokens, admin API sessions and logins).
    pub auth_failures: IntCounterVec,
    /// Access records not written, by kind (see `store::AccessLogMetrics`).
    pub access_unrecorded: IntCounterVec,
    /// Database failures answered to clients, by `store::ErrorClass`.
    pub store_errors: IntCounterVec,
}

impl ApiMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<ApiMetrics> {
        let metrics = ApiMetrics {
            requests: IntCounterVec::new(
                Opts::new("rollcall_http_requests_total", "HTTP requests answered"),
                &["method", "route", "status"],
            )?,
            durations: HistogramVec::new(
                HistogramOpts::new(
                    "rollcall_http_request_duration_seconds",
                    "Time to answer HTTP requests",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
                &["method", "route", "status"],
            )?,
            read_your_writes_wait: Histogram::with_opts(
                HistogramOpts::new(
                    "rollcall_api_read_your_writes_wait_seconds",
                    "Time a request waited for the projector to fold its token's earlier writes (reads) or its own (group writes)",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0,
                ]),
            )?,
            read_your_writes_timeouts: IntCounter::new(
                "rollcall_api_read_your_writes_timeouts_total",
                "Requests that waited out the bound for the projector: a read answers 503, a group write answers anyway",
            )?,
            write_retries: IntCounter::new(
                "rollcall_api_write_retries_total",
                "Writes decided again after losing a race for their stream",
            )?,
            write_events_read: IntCounter::new(
                "rollcall_api_write_events_read_total",
                "Log events user and group writes read to decide (only those past the state this process keeps)",
            )?,
            requests_in_flight: IntGauge::new(
                "rollcall_api_scim_requests_in_flight",
                "Authenticated SCIM requests admitted and not yet answered",
            )?,
            scim_operations: ScimOperations::register(registry)?,
            auth_failures: IntCounterVec::new(
                Opts::new(
                    "rollcall_api_auth_failures_total",
                    "Requests refused before they named an organization: SCIM tokens \
                     missing, unknown, expired or revoked (unavailable: not checked); \
                     admin API requests without a live session (no_session) and failed \
                     logins (bad_login)",
                ),
                &["reason"],
            )?,
            access_unrecorded: IntCounterVec::new(
                Opts::new(
                    "rollcall_api_access_records_unrecorded_total",
                    "Access records not written: request (answered 503 instead) or \
                     sample (of a refused request, still counted)",
                ),
                &["kind"],
            )?,
            store_errors: store_errors()?,
        };
        registry.register(Box::new(metrics.store_errors.clone()))?;
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.auth_failures.clone()))?;
        registry.register(Box::new(metrics.access_unrecorded.clone()))?;
        registry.register(Box::new(metrics.durations.clone()))?;
        registry.register(Box::new(metrics.read_your_writes_wait.clone()))?;
        registry.register(Box::new(metrics.read_your_writes_timeouts.clone()))?;
        registry.register(Box::new(metrics.write_retries.clone()))?;
        registry.register(Box::new(metrics.write_events_read.clone()))?;
        registry.register(Box::new(metrics.requests_in_flight.clone()))?;
        // Present from the start, so that dashboards and alerts see a zero.
        for reason in store::RefusalReason::ALL {
            metrics.auth_failures.with_label_values(&[reason.as_str()]);
        }
        for kind in ["request", "sample"] {
            metrics.access_unrecorded.with_label_values(&[kind]);
        }
        Ok(metrics)
    }
}

/// `rollcall_store_errors_total`, every class at zero from the start so that
/// alerts on a rate see the first failure.
fn store_errors() -> prometheus::Result<IntCounterVec> {
    let counter = IntCounterVec::new(
        Opts::new(
            "rollcall_store_errors_total",
            "Database failures answered to clients, by class: connection, shutdown, \
             serialization, deadlock, pool_timeout (503, retried by clients), constraint \
             (409), data (400), bug (500: a human must look)",
        ),
        &["class"],
    )?;
    for class in store::ErrorClass::ALL {
        counter.with_label_values(&[class.as_str()]);
    }
    Ok(counter)
}

impl ApiMetrics {
    /// Counts one database failure answered to a client.
    pub fn count_store_error(&self, class: store::ErrorClass) {
        self.store_errors.with_label_values(&[class.as_str()]).inc();
    }
}

/// Middleware counting and timing every request by its route pattern.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let method = request.method().clone();
    let response = next.call(request).await?;
    if let Some(state) = state {
        // The route's template (`/scim_v2/Users/{id}`), never the path: the
        // series stay as many as the routes.
        let route = response.request().match_pattern();
        let route = route.as_deref().unwrap_or("unmatched");
        let status = response.status();
        let labels = [method.as_str(), route, status.as_str()];
        state.metrics.requests.with_label_values(&labels).inc();
        state
            .metrics
            .durations
            .with_label_values(&labels)
            .observe(started.elapsed().as_secs_f64());
        state.metrics.scim_operations.count_route(&method, route);
    }
    Ok(response)
}
