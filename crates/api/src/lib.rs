//! rollcall's HTTP service: SCIM 2.0 under `/scim_v2`, the owners' admin
//! API under `/api/v1`, `/healthz` and `/readyz` (its metrics are
//! served on the operators' listener, the `ops` crate).
//!
//! The API decides, appends and answers; it never writes read tables. Each
//! write loads its stream from the log, decides with the domain's rules,
//! appends with the version it decided on (deciding again if another write
//! got there first), then waits, bounded, until the projector has folded its
//! position, so that the client reads its own write. Every request is
//! recorded: changes as events, everything else in the access log.
//!
//! Where things are:
//!
//! - `admin_api/`: the owners' admin API (sessions, provisioning, SCIM
//!   tokens, roles, domains), one file per resource over the `admin` crate's
//!   operations, with its own gate, error shape and OpenAPI description.
//! - `routes/`: the route table; one module per resource (`users/`,
//!   `groups/`) with one file per verb, the resource's side of the write
//!   loop (`write.rs`) and its JSON (`render.rs`); then `bulk/`, the root
//!   `/.search`, discovery and the operations endpoints.
//! - What users and groups share: `scim_gate` (authentication, a request's
//!   `Tenant`, recording), `write` (the one write loop: its stream turn,
//!   retry policy), `render` (`id` and `meta`, locations,
//!   ETags, list responses), `selection` (`attributes`), `query` (list
//!   parameters), `search_request` (SearchRequest bodies), `body` (reading
//!   request bodies) and `error` (the one place failures become statuses).
//! - Process-wide state: `state` (the `AppState` every handler gets, and
//!   its `Settings`, which `configured` makes from the operator's knobs),
//!   `snapshots` (what writes are decided on), `stream_lock` (one writer per
//!   stream), `last_writes` (a token's reads wait for its own writes), `admission`
//!   (requests in flight), `auth` (tokens) and `metrics`; `request_id`
//!   names every request, runs it in its log span and answers its
//!   `X-Request-Id`; `front` is the
//!   server itself, whose head guard answers what the HTTP parser would
//!   refuse; `serving` runs it and stops it gracefully.

mod admin_api;
mod admission;
mod auth;
mod bad_tokens;
mod body;
mod configured;
mod dialect_metrics;
mod error;
mod front;
mod last_writes;
mod metrics;
mod query;
mod render;
mod request_id;
mod routes;
mod scim_gate;
mod search_request;
mod selection;
mod serving;
mod snapshots;
mod state;
mod stream_lock;
mod write;

pub use auth::{TOKEN_CACHE_TTL, Tokens};
pub use bad_tokens::BadTokenLimits;
pub use dialect_metrics::DEFAULT_MAX_ORGS as DEFAULT_METRICS_MAX_ORGS;
pub use error::ApiError;
pub use metrics::ApiMetrics;
pub use serving::{ApiStopped, Serving};
pub use state::{AppState, ProjectionWatch, Settings, StateParts, follow_projection};

use std::net::TcpListener;

use actix_web::dev::Server;

/// Raises this process's limit on open files to the hard limit the system
/// allows: every connection is a file, and the soft default (often 1,024)
/// would let a few hundred slow clients refuse everyone else. Returns the
/// limit now in force.
pub fn raise_file_limit() -> std::io::Result<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    rlimit::increase_nofile_limit(hard)
}

/// What `/readyz` checks for an API process: PostgreSQL answers, the schema
/// is current, the projector is within `max_projector_lag`. (`rollcall serve`
/// adds the broker, for the relay it runs.)
pub fn readiness(pool: &store::Pool, max_projector_lag: std::time::Duration) -> ops::Readiness {
    ops::Readiness::new()
        .with(ops::checks::database(pool))
        .with(ops::checks::migrations(pool))
        .with(ops::checks::projector_lag(pool, max_projector_lag))
}

/// The HTTP server, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    in_flight: prometheus::IntGauge,
    shutdown_timeout: std::time::Duration,
}

impl Application {
    /// Binds the routes to `listener` with `state`. Signals are left to the
    /// caller, which runs it with [`Application::spawn`] and stops it
    /// through the [`Serving`] that returns.
    pub fn build(listener: TcpListener, state: AppState) -> std::io::Result<Application> {
        let port = listener.local_addr()?.port();
        let in_flight = state.metrics.requests_in_flight.clone();
        let shutdown_timeout = state.settings.shutdown_timeout;
        let server = front::serve(listener, state)?;
        Ok(Application {
            port,
            server,
            in_flight,
            shutdown_timeout,
        })
    }

    /// The port the server listens on (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
