//! The projector: folds delivered events into the read tables, exactly once.

use std::sync::atomic::{AtomicBool, Ordering};

use bus::{Delivery, Topology};
use domain::StoredEvent;
use futures::{FutureExt, StreamExt};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use store::{Checkpoint, Pool};
use tokio::sync::watch;

use crate::envelope::decode;
use crate::{Metrics, supervise};

/// Deliveries taken into one transaction at most (also the prefetch).
const BATCH: usize = 512;

/// Consumes the projector queue and folds it into the read tables.
pub struct Projector {
    pub pool: Pool,
    pub amqp_url: String,
    pub topology: Topology,
    /// Receives the position up to which the read tables are current; the API
    /// waits on it to give clients read-your-writes.
    pub applied: watch::Sender<i64>,
    pub metrics: Metrics,
}

impl Projector {
    /// Runs until `stop` turns true: first catches up from the log, then
    /// follows the queue, reconnecting after failures.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let caught_up = AtomicBool::new(false);
        supervise("projector", &self.metrics, stop, |mut stop| {
            let (projector, caught_up) = (&self, &caught_up);
            async move {
                // Once per process: what the log holds past the checkpoint
                // may predate the queue. After that the queue is durable and
                // the relay declares it before publishing, so it misses nothing.
                if !caught_up.load(Ordering::Relaxed) {
                    projector.catch_up().await?;
                    caught_up.store(true, Ordering::Relaxed);
                }
                projector.session(&mut stop).await
            }
        })
        .await;
    }

    async fn session(&self, stop: &mut watch::Receiver<bool>) -> anyhow::Result<()> {
        let connection = bus::connect(&self.amqp_url).await?;
        bus::declare_topology(&connection, &self.topology).await?;
        let mut consumer = bus::consume(&connection, &self.topology, BATCH as u16).await?;
        tracing::info!(queue = %self.topology.projector_queue, "projector connected");
        loop {
            let first = tokio::select! {
                next = consumer.next() => next,
                _ = stop.changed() => return Ok(()),
            };
            let Some(first) = first else {
                anyhow::bail!("the broker cancelled the projector's consumer");
            };
            let mut deliveries = vec![first?];
            while deliveries.len() < BATCH {
                match consumer.next().now_or_never() {
                    Some(Some(delivery)) => deliveries.push(delivery?),
                    _ => break,
                }
            }
            self.handle(&deliveries).await?;
        }
    }

    /// Folds everything the log holds past the checkpoint (after a restart the
    /// queue may hold less than the log, e.g. if the queue was recreated).
    pub async fn catch_up(&self) -> anyhow::Result<()> {
        loop {
            let from = store::read_checkpoint(&self.pool, Checkpoint::Projector).await?;
            let rows = store::read_after(&self.pool, from, BATCH as i64).await?;
            if rows.is_empty() {
                self.publish_position(from).await;
                return Ok(());
            }
            let events = rows
                .iter()
                .map(|row| row.to_stored())
                .collect::<Result<Vec<_>, _>>()?;
            let applied = store::apply_changes(&self.pool, &events).await?;
            self.publish_position(applied).await;
        }
    }

    async fn handle(&self, deliveries: &[Delivery]) -> anyhow::Result<()> {
        let mut events = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match decode(&delivery.data) {
                Ok(decoded) => events.extend(decoded),
                Err(error) => {
                    // Unreadable bodies are not ours to fold; the log still
                    // has the event, and a hole makes us read it from there.
                    tracing::error!(%error, "dropping an unreadable message");
                    delivery.nack(BasicNackOptions::default()).await?;
                }
            }
        }
        self.apply(events).await?;
        if let Some(last) = deliveries.last() {
            last.ack(BasicAckOptions { multiple: true }).await?;
        }
        Ok(())
    }

    /// Applies delivered events: skips what the checkpoint has passed, reads
    /// holes from the log, commits rows and checkpoint together.
    pub async fn apply(&self, mut events: Vec<StoredEvent>) -> anyhow::Result<i64> {
        events.sort_by_key(|event| event.position);
        events.dedup_by_key(|event| event.position);
        let checkpoint = store::read_checkpoint(&self.pool, Checkpoint::Projector).await?;
        events.retain(|event| event.position > checkpoint);
        let Some(last) = events.last().map(|event| event.position) else {
            self.publish_position(checkpoint).await;
            return Ok(checkpoint);
        };
        let contiguous = events.len() as i64 == last - checkpoint;
        if !contiguous {
            self.metrics.projector_holes_filled.inc();
            let rows = store::read_after(&self.pool, checkpoint, last - checkpoint).await?;
            events = rows
                .iter()
                .map(|row| row.to_stored())
                .collect::<Result<_, _>>()?;
        }
        let applied = store::apply_changes(&self.pool, &events).await?;
        self.publish_position(applied).await;
        Ok(applied)
    }

    async fn publish_position(&self, position: i64) {
        self.applied.send_if_modified(|current| {
            let moved = position > *current;
            if moved {
                *current = position;
            }
            moved
        });
        self.metrics.projector_position.set(position);
        if let Ok(head) = store::log_head(&self.pool).await {
            self.metrics.projector_lag.set((head - position).max(0));
        }
    }
}
