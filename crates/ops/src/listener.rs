//! The operators' listener: `/metrics`, `/healthz`, `/readyz`, nothing else.

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::task::JoinHandle;

use crate::Readiness;

/// Where a binary serves its metrics unless `ROLLCALL_METRICS_BIND` says
/// otherwise: loopback, so that nothing is exposed by default.
pub const DEFAULT_METRICS_BIND: &str = "127.0.0.1:9464";

/// A running operators' listener.
pub struct MetricsServer {
    address: SocketAddr,
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl MetricsServer {
    /// Binds `bind` and serves `registry` and `readiness` there.
    pub fn start(
        bind: &str,
        registry: Registry,
        readiness: Readiness,
    ) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(bind).map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!(
                    "cannot listen for /metrics on {bind} ({error}); \
                     set ROLLCALL_METRICS_BIND (--metrics-bind) to a free address"
                ),
            )
        })?;
        MetricsServer::serve(listener, registry, readiness)
    }

    /// Serves on an already bound `listener` (tests bind port 0).
    pub fn serve(
        listener: TcpListener,
        registry: Registry,
        readiness: Readiness,
    ) -> std::io::Result<MetricsServer> {
        let address = listener.local_addr()?;
        let (registry, readiness) = (web::Data::new(registry), web::Data::new(readiness));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(registry.clone())
                .app_data(readiness.clone())
                .route("/metrics", web::get().to(metrics))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        Ok(MetricsServer {
            address,
            handle,
            task: tokio::spawn(server),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops listening; answers in flight finish first.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

async fn metrics(registry: web::Data<Registry>) -> HttpResponse {
    metrics_response(&registry)
}

async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    readyz_response(&readiness).await
}

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Readiness: 200 when every check passes, 503 naming those that fail
/// (see [`crate::Report::to_json`]).
pub async fn readyz_response(readiness: &Readiness) -> HttpResponse {
    let report = readiness.report().await;
    let mut response = if report.is_ready() {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response.json(report.to_json())
}

/// Prometheus text exposition of every metric in `registry`.
pub fn metrics_response(registry: &Registry) -> HttpResponse {
    let mut buffer = Vec::new();
    match TextEncoder::new().encode(&registry.gather(), &mut buffer) {
        Ok(()) => HttpResponse::Ok()
            .content_type(prometheus::TEXT_FORMAT)
            .body(buffer),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}
