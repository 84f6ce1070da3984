//! The outbox relay: publishes the log past its checkpoint, with confirms.

use std::sync::Arc;
use std::time::Duration;

use bus::{Message, Publisher, Topology};
use store::{Checkpoint, LogRow, Pool};
use tokio::sync::{Notify, watch};

use crate::envelope::encode;
use crate::{Batch, Metrics, supervise};

/// How many events one publish round carries at most.
const BATCH: i64 = 1_000;
/// How often the relay looks at the log without being woken (appends made by
/// other processes, such as the CLI, wake nobody here).
const POLL: Duration = Duration::from_millis(200);
/// How often the outbox backlog is measured.
const BACKLOG_EVERY: Duration = Duration::from_secs(1);

/// Publishes every event after its checkpoint to the events exchange.
pub struct Relay {
    pub pool: Pool,
    pub amqp_url: String,
    pub topology: Topology,
    /// Notified after each local append, so that publishing starts at once.
    pub wake: Arc<Notify>,
    pub metrics: Metrics,
}

/// What one relay step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayOutcome {
    /// Published and checkpointed this many events.
    Published(usize),
    /// Nothing past the checkpoint.
    Idle,
}

impl Relay {
    /// Runs until `stop` turns true, reconnecting after failures.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let relay = &self;
        let measuring = self.measure_backlog(stop.clone());
        let publishing = supervise("relay", &self.metrics, stop, |mut stop, batch| async move {
            relay.session(&mut stop, &batch).await
        });
        tokio::join!(measuring, publishing);
    }

    /// Measures the outbox backlog (log head − the relay's checkpoint)
    /// every [`BACKLOG_EVERY`] until `stop`, connected or not: a relay that
    /// cannot reach the broker must still show what waits for it.
    async fn measure_backlog(&self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            match store::relay_backlog(&self.pool).await {
                Ok(backlog) => self.metrics.relay_backlog.set(backlog),
                Err(error) => tracing::debug!(%error, "could not measure the outbox backlog"),
            }
            tokio::select! {
                _ = tokio::time::sleep(BACKLOG_EVERY) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn session(&self, stop: &mut watch::Receiver<bool>, batch: &Batch) -> anyhow::Result<()> {
        let connection = bus::connect(&self.amqp_url).await?;
        bus::declare_topology(&connection, &self.topology).await?;
        let publisher = Publisher::open(&connection, &self.topology).await?;
        tracing::info!(exchange = %self.topology.events_exchange, "relay connected");
        self.metrics.set_connected("relay", true);
        let mut published = store::read_checkpoint(&self.pool, Checkpoint::Relay).await?;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let outcome = {
                let _batch = batch.begin().await;
                self.run_once(&publisher, &mut published).await?
            };
            if outcome == RelayOutcome::Idle {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Publishes one batch past `published` and moves the checkpoint (kept in
    /// memory while connected, read from the database on each connect).
    pub async fn run_once(
        &self,
        publisher: &Publisher,
        published: &mut i64,
    ) -> anyhow::Result<RelayOutcome> {
        let rows = store::read_after(&self.pool, *published, BATCH).await?;
        let Some(last) = rows.last().map(|row| row.position) else {
            return Ok(RelayOutcome::Idle);
        };
        let messages = messages(&rows);
        let publishing = std::time::Instant::now();
        publisher.publish_confirmed(&messages).await?;
        self.metrics
            .relay_confirm_seconds
            .observe(publishing.elapsed().as_secs_f64());
        store::set_checkpoint(&self.pool, Checkpoint::Relay, last).await?;
        *published = last;
        self.metrics.relay_position.set(last);
        self.metrics.relay_published.inc_by(rows.len() as u64);
        Ok(RelayOutcome::Published(rows.len()))
    }
}

/// One message per run of consecutive events of one organization, routed by
/// organization and named by the positions it carries.
pub fn messages(rows: &[LogRow]) -> Vec<Message> {
    rows.chunk_by(|a, b| a.org_id == b.org_id)
        .map(|run| {
            let (first, last) = (&run[0], &run[run.len() - 1]);
            let refs: Vec<&LogRow> = run.iter().collect();
            Message {
                routing_key: format!("org.{}", first.org_id),
                message_id: format!("{}-{}", first.position, last.position),
                body: encode(&refs),
            }
        })
        .collect()
}
