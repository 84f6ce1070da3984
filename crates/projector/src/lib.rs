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
pub use projector::Projector;
pub use relay::Relay;

use std::time::Duration;

/// Back-off between reconnection attempts: doubles up to a ceiling.
pub(crate) fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(Duration::from_secs(5))
}

/// The first back-off after a failure.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(100);
