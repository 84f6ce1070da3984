//! The projector: folds delivered events into the read tables, exactly once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bus::{Delivery, Topology};
use domain::StoredEvent;
use domain::{Event, RequestMeta};
use store::{AppendRequest, Appender, Checkpoint, EventAt, LogRow, Pool, StoreError};
use time::OffsetDateTime;
use tokio::sync::watch;
use uuid::Uuid;

use crate::envelope::decode;
use crate::{Batch, Metrics, supervise};

/// Deliveries taken into one transaction at most (also the prefetch).
const BATCH: usize = 512;
/// How often the lag is measured, whether or not anything is folded: a
/// projector that is stuck applies nothing, and must still show its lag.
const LAG_EVERY: Duration = Duration::from_secs(1);
/// How often the log follower looks at the log head.
const FOLLOW_EVERY: Duration = Duration::from_millis(50);
/// How long the read tables may stand still behind the log head before the
/// log follower folds from the log itself.
const FOLLOW_GRACE: Duration = Duration::from_millis(100);

/// Consumes the projector queue and folds it into the read tables.
pub struct Projector {
    pub pool: Pool,
    pub amqp_url: String,
    pub topology: Topology,
    /// Receives the position up to which the read tables are current; the API
    /// waits on it to give clients read-your-writes.
    pub applied: watch::Sender<i64>,
    pub metrics: Metrics,
    /// Records a [`Event::ProjectionQuarantined`] when an event cannot be
    /// folded.
    pub appender: Appender,
}

impl Projector {
    /// Runs until `stop` turns true: first catches up from the log, then
    /// follows the queue, reconnecting after failures; meanwhile folds from
    /// the log whenever the queue stalls (see [`Projector::follow_log`]).
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let caught_up = AtomicBool::new(false);
        let measuring = self.measure_lag(stop.clone());
        let following = self.follow_log(stop.clone());
        let folding = supervise("projector", &self.metrics, stop, |mut stop, batch| {
            let (projector, caught_up) = (&self, &caught_up);
            async move {
                // Once per process: what the log holds past the checkpoint
                // may predate the queue. After that the queue is durable and
                // the relay declares it before publishing, so it misses nothing.
                if !caught_up.load(Ordering::Relaxed) {
                    projector.catch_up().await?;
                    caught_up.store(true, Ordering::Relaxed);
                }
                projector.session(&mut stop, &batch).await
            }
        });
        tokio::join!(measuring, following, folding);
    }

    /// The broker distributes the log, but clients must read their writes
    /// without it (DESIGN.md, guarantees 8 and 10). When the read tables have
    /// stood still for [`FOLLOW_GRACE`] while the log head is past them (the
    /// broker is away, the consumer is reconnecting, or a delivery is lost),
    /// folds from the log directly. Both paths lock the checkpoint and skip
    /// what it has passed, so whichever comes second changes nothing. With
    /// two projector processes this is also how the standby takes over the
    /// folding at once when the active one dies, before RabbitMQ hands it
    /// the queue.
    async fn follow_log(&self, mut stop: watch::Receiver<bool>) {
        let mut last_seen = *self.applied.borrow();
        let mut checkpoint_seen = None;
        let mut still_since = Instant::now();
        while !*stop.borrow() {
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
                _ = stop.changed() => return,
            }
            let applied = *self.applied.borrow();
            if applied != last_seen {
                (last_seen, still_since) = (applied, Instant::now());
                continue;
            }
            if still_since.elapsed() < FOLLOW_GRACE {
                continue;
            }
            still_since = Instant::now();
            // A standby projector (another process consumes the queue) must
            // not fold what the active one is folding: it does only when
            // the checkpoint in the database stood still too.
            match store::read_checkpoint(&self.pool, Checkpoint::Projector).await {
                Ok(checkpoint) if checkpoint_seen != Some(checkpoint) => {
                    checkpoint_seen = Some(checkpoint);
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(%error, "could not read the projector's checkpoint");
                    continue;
                }
            }
            match store::log_head(&self.pool).await {
                Ok(head) if checkpoint_seen.is_some_and(|checkpoint| head > checkpoint) => {
                    if let Err(error) = self.catch_up().await {
                        tracing::warn!(%error, "could not fold from the log; will try again");
                    }
                    self.metrics.projector_log_follows.inc();
                }
                Ok(_) => {}
                Err(error) => tracing::debug!(%error, "could not read the log head"),
            }
        }
    }

    /// Measures the lag (log head − checkpoint, in events and in the age of
    /// the oldest event not folded) every [`LAG_EVERY`] until `stop`.
    async fn measure_lag(&self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            match store::projector_health(&self.pool, OffsetDateTime::now_utc()).await {
                Ok(health) => {
                    self.metrics.projector_lag.set(health.lag_events);
                    self.metrics.projector_lag_seconds.set(health.lag_seconds);
                    self.metrics
                        .projector_quarantined_orgs
                        .set(health.quarantined_orgs);
                }
                Err(error) => tracing::debug!(%error, "could not measure the projector's lag"),
            }
            tokio::select! {
                _ = tokio::time::sleep(LAG_EVERY) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn session(&self, stop: &mut watch::Receiver<bool>, batch: &Batch) -> anyhow::Result<()> {
        let connection = bus::connect(&self.amqp_url).await?;
        bus::declare_topology(&connection, &self.topology).await?;
        let mut consumer = bus::consume(&connection, &self.topology, BATCH as u16).await?;
        tracing::info!(queue = %self.topology.projector_queue, "projector connected");
        self.metrics.set_connected("projector", true);
        let consuming = async {
            loop {
                let deliveries = tokio::select! {
                    batch = consumer.next_batch(BATCH) => batch?,
                    _ = stop.changed() => return Ok(()),
                };
                let _batch = batch.begin().await;
                self.handle(&deliveries).await?;
            }
        };
        // Cancel-safe: a delivery folded but not acknowledged comes again,
        // and the fold skips what the checkpoint holds.
        tokio::select! {
            outcome = consuming => outcome,
            lost = bus::lost(&connection) => Err(lost.into()),
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
            let applied = self.fold_rows(&rows).await?;
            self.publish_position(applied).await;
        }
    }

    /// Folds rows read from the log; a row this binary cannot read as an
    /// event is quarantined like an event that cannot be folded, after the
    /// rows before it and before the rows after it.
    async fn fold_rows(&self, rows: &[LogRow]) -> anyhow::Result<i64> {
        let mut applied = store::read_checkpoint(&self.pool, Checkpoint::Projector).await?;
        let mut readable = Vec::with_capacity(rows.len());
        for row in rows {
            match row.to_stored() {
                Ok(stored) => readable.push(stored),
                Err(error) => {
                    if !readable.is_empty() {
                        self.fold(&readable).await?;
                        readable.clear();
                    }
                    let at = EventAt {
                        org_id: row.org_id,
                        position: row.position,
                        event_type: &row.event_type,
                    };
                    applied = self.quarantine(at, &error.to_string()).await?;
                }
            }
        }
        if !readable.is_empty() {
            applied = self.fold(&readable).await?;
        }
        Ok(applied)
    }

    async fn handle(&self, deliveries: &[Delivery]) -> anyhow::Result<()> {
        let mut events = Vec::with_capacity(deliveries.len());
        let mut last_read = None;
        for delivery in deliveries {
            if delivery.is_redelivered() {
                self.metrics.projector_redeliveries.inc();
            }
            match decode(delivery.body()) {
                Ok(decoded) => {
                    events.extend(decoded);
                    last_read = Some(delivery);
                }
                Err(error) => {
                    // Unreadable bodies are not ours to fold; the log still
                    // has the event, and a hole makes us read it from there.
                    tracing::error!(%error, "dropping an unreadable message");
                    delivery.reject().await?;
                }
            }
        }
        let delivered = events.len() as u64;
        self.apply(events).await?;
        // A rejected delivery is settled already, and acknowledging it would
        // settle nothing: the acknowledgement names the last one still open.
        if let Some(last) = last_read {
            last.ack_up_to().await?;
        }
        self.metrics.projector_delivered.inc_by(delivered);
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
            let applied = self.fold_rows(&rows).await?;
            self.publish_position(applied).await;
            return Ok(applied);
        }
        let applied = self.fold(&events).await?;
        self.publish_position(applied).await;
        Ok(applied)
    }

    /// Folds contiguous events. If PostgreSQL refuses the batch for what an
    /// event holds, or the fold finds the read tables in a state the log does
    /// not imply, folds them one at a time and quarantines the organization
    /// of each event that still fails: its read tables stop at the state
    /// before that event, and every other organization goes on. A database
    /// that is away is not an event's fault: that error goes up, and the
    /// supervisor retries.
    async fn fold(&self, events: &[StoredEvent]) -> anyhow::Result<i64> {
        let started = Instant::now();
        let folded = store::apply_changes(&self.pool, events).await;
        self.metrics
            .projector_apply_seconds
            .observe(started.elapsed().as_secs_f64());
        match folded {
            Err(error) if is_unfoldable(&error) => {
                tracing::warn!(%error, events = events.len(), "a batch could not be folded; folding its events one by one");
            }
            result => return Ok(result?),
        }
        let mut applied = store::read_checkpoint(&self.pool, Checkpoint::Projector).await?;
        for stored in events {
            applied = match store::apply_changes(&self.pool, std::slice::from_ref(stored)).await {
                Err(error) if is_unfoldable(&error) => {
                    self.quarantine(stored.into(), &error.to_string()).await?
                }
                result => result?,
            };
        }
        Ok(applied)
    }

    /// Records that the event `at` cannot be folded, in the log for auditors
    /// and in the quarantine table that holds its organization back; once,
    /// whichever of the queue and the log follower meets the event first.
    async fn quarantine(&self, at: EventAt<'_>, reason: &str) -> anyhow::Result<i64> {
        let record = async {
            tracing::error!(
                org_id = %at.org_id,
                position = at.position,
                event_type = at.event_type,
                reason,
                "an event cannot be folded; its organization is quarantined"
            );
            self.appender
                .append(AppendRequest {
                    org_id: at.org_id,
                    stream_id: at.org_id,
                    expected_version: 0,
                    commutes: true,
                    events: vec![Event::ProjectionQuarantined {
                        position: at.position,
                        event_type: at.event_type.into(),
                        reason: reason.into(),
                    }],
                    claims: Vec::new(),
                    releases: Vec::new(),
                    registrations: Vec::new(),
                    meta: RequestMeta::system("projector", Uuid::new_v4()),
                })
                .await?;
            self.metrics.projector_quarantined.inc();
            anyhow::Ok(())
        };
        store::quarantine_recorded(&self.pool, at, reason, OffsetDateTime::now_utc(), record).await
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
    }
}

/// Whether folding failed for what the events hold, rather than because the
/// database is away: PostgreSQL refused a row, or the fold disagrees with the
/// read tables (`rollcall rebuild` folds its copies the same way).
pub fn is_unfoldable(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Refused { .. } | StoreError::Inconsistent(_)
    )
}
