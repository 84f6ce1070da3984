//! The reaper: sweeps that keep the log true to the clock.
//!
//! Each job is one function over an injected `now` that reads what it needs,
//! decides with the domain's rules and appends events (never edits a table
//! behind the log). [`Reaper::run_once`] runs every job once; the service
//! calls it on an interval. Several replicas may run: a PostgreSQL advisory
//! lock lets one work at a time, the others skip the round. A crash between
//! two rounds loses nothing, because each round starts again from the log.
//!
//! Jobs: [`token_expiry`] (the SCIM token's expiry and the warnings before
//! it). The API refuses an expired token on its own; the reaper records it
//! for auditors and operators. [`checkpoints`]: signed checkpoints of every
//! organization's head, when a signing key is configured. The [`linker`] runs beside the rounds: it
//! follows the log to link SCIM entries to accounts and memberships and to
//! converge the locks.

pub mod checkpoints;
pub mod linker;
pub mod lock;
pub mod metrics;
pub mod token_expiry;

use std::time::{Duration, Instant};

use store::{Appender, Pool, StoreError};
use time::OffsetDateTime;
use tokio::sync::watch;

pub use checkpoints::Checkpoints;
pub use domain::checkpoint::SignedCheckpoint;
pub use metrics::ReaperMetrics;
pub use token_expiry::Planned;

/// What `/readyz` checks for a reaper: PostgreSQL answers and the schema is
/// current (it follows the log itself, without the broker).
pub fn readiness(pool: &Pool) -> ops::Readiness {
    ops::Readiness::new()
        .with(ops::checks::database(pool))
        .with(ops::checks::migrations(pool))
}

/// The default time between rounds.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// What a job could not do.
#[derive(Debug, thiserror::Error)]
pub enum ReaperError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("recording the reaper's events: {0:#}")]
    Record(anyhow::Error),
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    /// Whether another replica held the lock, so this one did nothing.
    pub skipped: bool,
    /// The events recorded, by organization.
    pub recorded: Vec<Planned>,
    /// The checkpoints signed.
    pub signed: Vec<SignedCheckpoint>,
}

/// The reaper's dependencies.
#[derive(Clone)]
pub struct Reaper {
    pub pool: Pool,
    /// The linker's connections: in `serve`, a pool of its own
    /// ([`linker::CONNECTIONS`]), so that its concurrent steps never take
    /// the connections the API's requests share, nor wait for them.
    pub linker_pool: Pool,
    pub appender: Appender,
    /// What `appender` keeps of its commits for the linker
    /// ([`store::RecentAppends`]); `None` where the appends are other
    /// processes' and the linker reads them from the log.
    pub linker_recent: Option<store::RecentAppends>,
    pub metrics: ReaperMetrics,
    /// Signed checkpoints, when the operator configured a key.
    pub checkpoints: Option<Checkpoints>,
}

impl Reaper {
    /// Runs every job once, as of `now`, if no other replica is at work.
    pub async fn run_once(&self, now: OffsetDateTime) -> Result<Outcome, ReaperError> {
        let Some(held) = lock::try_acquire(&self.pool, lock::REAPER_LOCK).await? else {
            self.metrics.skipped_rounds.inc();
            return Ok(Outcome {
                skipped: true,
                ..Outcome::default()
            });
        };
        let started = Instant::now();
        let result = token_expiry::run(self, now).await;
        self.metrics
            .observe_job("token_expiry", started.elapsed(), &result);
        let started = Instant::now();
        let signed = checkpoints::run(self, now).await;
        self.metrics
            .observe_job("checkpoints", started.elapsed(), &signed);
        held.release().await;
        Ok(Outcome {
            skipped: false,
            recorded: result?,
            signed: signed?,
        })
    }

    /// Runs a round every `interval` until `stop` turns true. A failed round
    /// is logged and counted; the next one starts afresh from the log.
    pub async fn run(self, interval: Duration, mut stop: watch::Receiver<bool>) {
        let linker = tokio::spawn(linker::run(
            self.linker_pool.clone(),
            self.appender.clone(),
            self.linker_recent.clone(),
            self.metrics.clone(),
            stop.clone(),
        ));
        self.run_rounds(interval, &mut stop).await;
        if let Err(error) = linker.await {
            tracing::warn!(%error, "the linker ended abnormally");
        }
    }

    async fn run_rounds(&self, interval: Duration, stop: &mut watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            match self.run_once(OffsetDateTime::now_utc()).await {
                Ok(outcome) => {
                    for planned in &outcome.recorded {
                        tracing::info!(org_id = %planned.org_id, event = ?planned.event, "reaper recorded");
                    }
                }
                Err(error) => tracing::warn!(%error, "a reaper round failed; the next one retries"),
            }
        }
    }
}
