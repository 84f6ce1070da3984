//! What every request handler is given: no globals.

use std::sync::Arc;
use std::time::Duration;

use store::{AccessLog, Appender, Pool};
use tokio::sync::{Notify, watch};

use crate::{ApiMetrics, Tokens};

/// Tunables of the HTTP service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a write waits for the projector before it answers anyway.
    pub read_your_writes_wait: Duration,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// The largest page a list returns (advertised as `filter.maxResults`).
    pub max_results: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            read_your_writes_wait: Duration::from_secs(2),
            max_body_bytes: 1 << 20,
            max_results: 1_000,
        }
    }
}

/// The position up to which the read tables are current.
pub type ProjectionWatch = watch::Receiver<i64>;

/// Shared state of the HTTP service.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub appender: Appender,
    pub access_log: AccessLog,
    pub tokens: Tokens,
    pub projection: ProjectionWatch,
    /// Woken after each append so that the relay publishes at once.
    pub relay_wake: Arc<Notify>,
    pub metrics: ApiMetrics,
    pub registry: prometheus::Registry,
    pub settings: Settings,
}
