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
    /// The most operations one `/Bulk` request may hold (`bulk.maxOperations`).
    pub bulk_max_operations: usize,
    /// The largest `/Bulk` request body accepted (`bulk.maxPayloadSize`).
    pub bulk_max_payload_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            read_your_writes_wait: Duration::from_secs(2),
            max_body_bytes: 1 << 20,
            max_results: 1_000,
            bulk_max_operations: 1_000,
            bulk_max_payload_bytes: 1 << 20,
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

/// What [`AppState::start`] needs from its caller.
pub struct StateParts {
    pub pool: Pool,
    pub registry: prometheus::Registry,
    pub projection: ProjectionWatch,
    pub relay_wake: Arc<Notify>,
    pub settings: Settings,
}

impl AppState {
    /// Starts the appender and the access-log writer and assembles the state.
    /// Await the returned task after the server has stopped: it ends once the
    /// last access record is written.
    pub fn start(parts: StateParts) -> prometheus::Result<(AppState, tokio::task::JoinHandle<()>)> {
        let metrics = ApiMetrics::register(&parts.registry)?;
        let appender = Appender::start(parts.pool.clone(), metrics.append_batch_size.clone());
        let (access_log, access_log_task) = AccessLog::start(parts.pool.clone());
        let state = AppState {
            tokens: Tokens::new(parts.pool.clone()),
            pool: parts.pool,
            appender,
            access_log,
            projection: parts.projection,
            relay_wake: parts.relay_wake,
            metrics,
            registry: parts.registry,
            settings: parts.settings,
        };
        Ok((state, access_log_task))
    }
}

/// Follows the projector's checkpoint in the database, for an API process
/// that runs without an in-process projector.
pub fn poll_projection(pool: Pool, every: Duration) -> ProjectionWatch {
    let (applied, projection) = watch::channel(0);
    tokio::spawn(async move {
        while !applied.is_closed() {
            if let Ok(position) = store::read_checkpoint(&pool, store::Checkpoint::Projector).await
            {
                applied.send_if_modified(|current| {
                    let moved = position > *current;
                    *current = position.max(*current);
                    moved
                });
            }
            tokio::time::sleep(every).await;
        }
    });
    projection
}
