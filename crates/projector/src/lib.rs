//! The two halves of rollcall's asynchronous path: the outbox [`relay`], which
//! publishes the log to RabbitMQ with confirms, and the [`projector`], which
//! folds what RabbitMQ delivers into the read tables.
//!
//! The log in PostgreSQL is the source of truth throughout. The relay keeps
//! its place in a checkpoint and publishes everything after it, so a crash
//! between commit and publish loses nothing (it publishes again; consumers
//! deduplicate). The projector commits its checkpoint with the rows it changes,
//! skips deliveries it has seen, and fills any hole from the log before it
//! goes on, so repeated or reordered deliveries have exactly one effect.

pub mod envelope;
pub mod metrics;
pub mod projector;
pub mod relay;

pub use metrics::Metrics;
pub use projector::{Projector, ProjectorParts};
pub use relay::Relay;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// What `/readyz` checks where the relay and the projector run: PostgreSQL
/// answers, the schema is current, the relay is connected to RabbitMQ (or
/// nothing waits for it), the projector is within `max_lag`.
pub fn readiness(pool: &store::Pool, metrics: &Metrics, max_lag: Duration) -> ops::Readiness {
    ops::Readiness::new()
        .with(ops::checks::database(pool))
        .with(ops::checks::migrations(pool))
        .with(ops::checks::broker(
            metrics.relay_connected(),
            metrics.relay_backlog.clone(),
        ))
        .with(ops::checks::projector_lag(pool, max_lag))
}

/// The first back-off after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A session that ran this long was healthy: its failure starts a new back-off.
const HEALTHY_SESSION: Duration = Duration::from_secs(30);

/// The stretch of a session that a stop waits for: one batch read,
/// published or folded, up to its checkpoint. A session holds
/// [`Batch::begin`]'s guard while it works on one.
#[derive(Clone, Default)]
pub(crate) struct Batch(Arc<tokio::sync::Mutex<()>>);

impl Batch {
    /// Waits while a stop is cutting the session, then marks a batch begun
    /// until the guard drops.
    pub(crate) async fn begin(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.lock().await
    }
}

/// Runs `session` until `stop` turns true, starting it again with back-off
/// after each failure (the broker or the database went away); the component
/// resumes from its checkpoint every time. Once `stop` turns true, lets the
/// batch in progress end with its checkpoint and cuts the session before
/// the next one, whatever else it waits for (a broker that hangs, say);
/// the caller bounds a batch that never ends.
pub(crate) async fn supervise<Session, Running>(
    component: &str,
    metrics: &Metrics,
    stop: watch::Receiver<bool>,
    mut session: Session,
) where
    Session: FnMut(watch::Receiver<bool>, Batch) -> Running,
    Running: Future<Output = anyhow::Result<()>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut stopped = stop.clone();
    let batch = Batch::default();
    while !*stop.borrow() {
        let started = Instant::now();
        // Sessions are cancel-safe between batches (everything resumes from
        // a checkpoint); the lock keeps the cut out of a batch, so a batch
        // that began is published or folded, not begun again next start.
        let mut running = std::pin::pin!(session(stop.clone(), batch.clone()));
        let outcome = tokio::select! {
            outcome = &mut running => outcome,
            // (Its guard on the value is dropped before the handler awaits.)
            () = async { drop(stopped.wait_for(|stop| *stop).await) } => {
                // Driven on until it ends by itself or stands between two
                // batches, where it is dropped.
                tokio::select! {
                    _ = &mut running => {}
                    _between_batches = batch.begin() => {}
                }
                return;
            }
        };
        metrics.set_connected(component, false);
        let Err(error) = outcome else {
            return;
        };
        if started.elapsed() > HEALTHY_SESSION {
            backoff = FIRST_BACKOFF;
        }
        tracing::warn!(%error, retry_in = ?backoff, "{component} interrupted; will resume from its checkpoint");
        metrics.reconnects.with_label_values(&[component]).inc();
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped.changed() => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
