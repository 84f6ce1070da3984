//! The projector: folds delivered events into the read tables, exactly once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bus::{Delivery, Topology};
use domain::StoredEvent;
use domain::partition::{Partition, Projection};
use domain::{Event, RequestMeta};
use store::{AppendRequest, Appender, EventAt, Fold, LogRow, Pool, QuarantineAt, StoreError};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
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

/// Consumes its partition's queue and folds it into the read tables.
pub struct Projector {
    parts: ProjectorParts,
    /// Which partition of the split it folds (0, the whole projection, when
    /// it is not split), and that partition as the split stood when the
    /// session began ([`Projector::take_partition`]).
    partition_index: u32,
    partition: Mutex<Option<Partition>>,
    /// Told by the log follower when the split it folds is gone, so that
    /// a session with nothing delivered still takes its partition again.
    split_changed: Notify,
}

/// What a [`Projector`] works with.
pub struct ProjectorParts {
    pub pool: Pool,
    pub amqp_url: String,
    pub topology: Topology,
    /// Receives the position up to which the projector's partition of the
    /// read tables is current; the API waits on it to give clients
    /// read-your-writes. Projectors of several partitions in one process
    /// share it.
    pub applied: watch::Sender<Projection>,
    pub metrics: Metrics,
    /// Records a [`Event::ProjectionQuarantined`] when an event cannot be
    /// folded.
    pub appender: Appender,
}

impl Projector {
    /// A projector for partition `partition_index` of whatever split the
    /// checkpoints hold when it connects (0 for an unsplit projection).
    pub fn new(parts: ProjectorParts, partition_index: u32) -> Projector {
        Projector {
            parts,
            partition_index,
            partition: Mutex::new(None),
            split_changed: Notify::new(),
        }
    }

    /// The partition it folds, as the split stood when the session began;
    /// none before the first session has read the split.
    fn taken_partition(&self) -> Option<Partition> {
        *self.partition.lock().expect("never poisoned")
    }

    fn partition(&self) -> anyhow::Result<Partition> {
        self.taken_partition()
            .ok_or_else(|| anyhow::anyhow!("the projector has not read the split yet"))
    }

    /// Reads the split, and takes this projector's partition of it (each
    /// session does, first).
    pub async fn take_partition(&self) -> anyhow::Result<Partition> {
        let taken = store::partition_of_split(&self.parts.pool, self.partition_index).await;
        let partition = match taken {
            Ok(partition) => partition,
            Err(error) => {
                // Whatever it folded is gone or unknown: the log follower
                // waits too, rather than look for it again and again.
                *self.partition.lock().expect("never poisoned") = None;
                return Err(error.into());
            }
        };
        let previous = self
            .partition
            .lock()
            .expect("never poisoned")
            .replace(partition);
        match previous {
            Some(previous) if previous.count() != partition.count() => tracing::warn!(
                from = previous.count(),
                to = partition.count(),
                "the projection was split anew; this projector folds {partition} now. Every \
                 partition needs a projector: `rollcall serve` folds those it found at start, \
                 so restart it"
            ),
            Some(previous) if previous == partition => {}
            _ => tracing::info!(%partition, "projector folds {partition}"),
        }
        Ok(partition)
    }

    /// Runs until `stop` turns true: first catches up from the log, then
    /// follows the queue, reconnecting after failures; meanwhile folds from
    /// the log whenever the queue stalls (see [`Projector::follow_log`]).
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let caught_up = AtomicBool::new(false);
        let measuring = self.measure_lag(stop.clone());
        let following = self.follow_log(stop.clone());
        let folding = supervise("projector", &self.parts.metrics, stop, |mut stop, batch| {
            let (projector, caught_up) = (&self, &caught_up);
            async move {
                // Once per process: what the log holds past the checkpoint
                // may predate the queue. After that the queue is durable and
                // the relay declares it before publishing, so it misses nothing.
                let partition = projector.take_partition().await?;
                if !caught_up.load(Ordering::Relaxed) {
                    projector.catch_up().await?;
                    caught_up.store(true, Ordering::Relaxed);
                }
                projector.session(&mut stop, &batch, partition).await
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
        let mut last_seen = self.own_position();
        let mut checkpoint_seen = None;
        let mut still_since = Instant::now();
        while !*stop.borrow() {
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
                _ = stop.changed() => return,
            }
            let applied = self.own_position();
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
            let Some(partition) = self.taken_partition() else {
                continue;
            };
            match store::read_partition_checkpoint(&self.parts.pool, partition).await {
                Ok(checkpoint) if checkpoint_seen != Some(checkpoint) => {
                    checkpoint_seen = Some(checkpoint);
                    continue;
                }
                Ok(_) => {}
                // Unless the session took another partition meanwhile. Only
                // a session waiting now is told: a stored wake-up would cut
                // the next session, which has the new partition.
                Err(error @ StoreError::Layout(_)) if self.taken_partition() == Some(partition) => {
                    tracing::info!(%error, "the projection was split anew");
                    self.split_changed.notify_waiters();
                    continue;
                }
                Err(error) => {
                    tracing::debug!(%error, "could not read the projector's checkpoint");
                    continue;
                }
            }
            match store::log_head(&self.parts.pool).await {
                Ok(head) if checkpoint_seen.is_some_and(|checkpoint| head > checkpoint) => {
                    // Counted when it folded something: a partition's
                    // checkpoint also trails the head while only other
                    // partitions' events come, and that is no stall.
                    match self.catch_up().await {
                        Ok(0) => {}
                        Ok(_) => self.parts.metrics.projector_log_follows.inc(),
                        Err(error) => {
                            tracing::warn!(%error, "could not fold from the log; will try again")
                        }
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::debug!(%error, "could not read the log head"),
            }
        }
    }

    /// Measures the lag (log head − checkpoint, in events and in the age of
    /// the oldest event not folded) every [`LAG_EVERY`] until `stop`; of the
    /// whole projection (its furthest-behind partition), whichever partition
    /// this projector folds, so that every process shows the same.
    async fn measure_lag(&self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            match store::projector_health(&self.parts.pool, OffsetDateTime::now_utc()).await {
                Ok(health) => {
                    self.parts.metrics.projector_position.set(health.position);
                    self.parts.metrics.projector_lag.set(health.lag_events);
                    self.parts
                        .metrics
                        .projector_lag_seconds
                        .set(health.lag_seconds);
                    self.parts
                        .metrics
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

    async fn session(
        &self,
        stop: &mut watch::Receiver<bool>,
        batch: &Batch,
        partition: Partition,
    ) -> anyhow::Result<()> {
        let connection = bus::connect(&self.parts.amqp_url).await?;
        bus::declare_topology(&connection, &self.parts.topology, partition).await?;
        let mut consumer =
            bus::consume(&connection, &self.parts.topology, partition, BATCH as u16).await?;
        tracing::info!(queue = %self.parts.topology.queue_of(partition), "projector connected");
        self.parts.metrics.set_connected("projector", true);
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
            () = self.split_changed.notified() => Err(anyhow::anyhow!(
                "{partition} is no longer a partition of the projection; taking this projector's again"
            )),
        }
    }

    /// Folds everything the log holds past the checkpoint (after a restart the
    /// queue may hold less than the log, e.g. if the queue was recreated).
    pub async fn catch_up(&self) -> anyhow::Result<usize> {
        let partition = self.partition()?;
        let head = store::log_head(&self.parts.pool).await?;
        let from = store::read_partition_checkpoint(&self.parts.pool, partition).await?;
        let (applied, read) = self.fold_from_log(partition, from, head).await?;
        self.publish_position(partition, applied).await;
        Ok(read)
    }

    /// Reads the partition's events from the log after `from` (its
    /// checkpoint), up to `through`, and folds them; returns the checkpoint
    /// and how many events it read. One partition throughout, taken by the
    /// caller: the session may take another meanwhile, and these rows are
    /// this one's.
    async fn fold_from_log(
        &self,
        partition: Partition,
        mut from: i64,
        through: i64,
    ) -> anyhow::Result<(i64, usize)> {
        let mut read = 0;
        loop {
            if from >= through {
                return Ok((from, read));
            }
            let client = self.parts.pool.get().await.map_err(StoreError::from)?;
            let rows = store::read_partition_after(&client, partition, from, through, BATCH as i64)
                .await?;
            drop(client);
            // A full page may stop short of `through`: it covers up to its
            // last row only.
            let covered = match rows.last() {
                Some(last) if rows.len() == BATCH => last.position,
                _ => through,
            };
            read += rows.len();
            // The checkpoint the fold committed (another folder may have
            // moved it further; the next read starts there).
            from = self.fold_rows(partition, from, covered, &rows).await?;
            self.publish_position(partition, from).await;
        }
    }

    /// Folds rows read from the log: the partition's every event after
    /// `after` up to `through`. A row this binary cannot read as an event is
    /// quarantined like an event that cannot be folded, after the rows
    /// before it and before the rows after it.
    async fn fold_rows(
        &self,
        partition: Partition,
        mut after: i64,
        through: i64,
        rows: &[LogRow],
    ) -> anyhow::Result<i64> {
        let mut readable = Vec::with_capacity(rows.len());
        for row in rows {
            match row.to_stored() {
                Ok(stored) => readable.push(stored),
                Err(error) => {
                    // What comes before the unreadable row, then the row.
                    self.fold(partition, after, row.position - 1, &readable)
                        .await?;
                    readable.clear();
                    let at = EventAt {
                        org_id: row.org_id,
                        position: row.position,
                        event_type: &row.event_type,
                    };
                    after = self
                        .quarantine(partition, row.position - 1, at, &error.to_string())
                        .await?;
                }
            }
        }
        self.fold(partition, after, through, &readable).await
    }

    async fn handle(&self, deliveries: &[Delivery]) -> anyhow::Result<()> {
        let mut events = Vec::with_capacity(deliveries.len());
        let mut last_read = None;
        for delivery in deliveries {
            if delivery.is_redelivered() {
                self.parts.metrics.projector_redeliveries.inc();
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
        self.parts.metrics.projector_delivered.inc_by(delivered);
        Ok(())
    }

    /// Applies delivered events: skips what the checkpoint has passed, reads
    /// holes from the log, commits rows and checkpoint together. A
    /// partition's positions are not consecutive, so a partition cannot
    /// tell a hole from another partition's events: it reads its events from
    /// the log up to the last one delivered.
    pub async fn apply(&self, mut events: Vec<StoredEvent>) -> anyhow::Result<i64> {
        events.sort_by_key(|event| event.position);
        events.dedup_by_key(|event| event.position);
        let partition = self.partition()?;
        let checkpoint = store::read_partition_checkpoint(&self.parts.pool, partition).await?;
        events.retain(|event| event.position > checkpoint);
        let Some(last) = events.last().map(|event| event.position) else {
            self.publish_position(partition, checkpoint).await;
            return Ok(checkpoint);
        };
        let contiguous = partition.is_whole() && events.len() as i64 == last - checkpoint;
        if !contiguous {
            if partition.is_whole() {
                self.parts.metrics.projector_holes_filled.inc();
            }
            let (applied, _) = self.fold_from_log(partition, checkpoint, last).await?;
            self.publish_position(partition, applied).await;
            return Ok(applied);
        }
        let applied = self.fold(partition, checkpoint, last, &events).await?;
        self.publish_position(partition, applied).await;
        Ok(applied)
    }

    /// Folds the partition's every event after `after` up to `through`. If
    /// PostgreSQL refuses the batch for what an event holds, or the fold
    /// finds the read tables in a state the log does not imply, folds them
    /// one at a time and quarantines the organization of each event that
    /// still fails: its read tables stop at the state before that event,
    /// and every other organization goes on. A database that is away is not
    /// an event's fault: that error goes up, and the supervisor retries.
    async fn fold(
        &self,
        partition: Partition,
        after: i64,
        through: i64,
        events: &[StoredEvent],
    ) -> anyhow::Result<i64> {
        let started = Instant::now();
        let folded = store::apply_fold(
            &self.parts.pool,
            Fold {
                partition,
                after,
                through,
                events,
            },
        )
        .await;
        self.parts
            .metrics
            .projector_apply_seconds
            .observe(started.elapsed().as_secs_f64());
        match folded {
            Err(error) if is_unfoldable(&error) => {
                self.parts.metrics.projector_split_batches.inc();
                tracing::warn!(%error, events = events.len(), "a batch could not be folded; folding its events one by one");
            }
            result => return Ok(result?),
        }
        let mut after = after;
        for stored in events {
            let one = Fold {
                partition,
                after,
                through: stored.position,
                events: std::slice::from_ref(stored),
            };
            after = match store::apply_fold(&self.parts.pool, one).await {
                Err(error) if is_unfoldable(&error) => {
                    self.quarantine(partition, after, stored.into(), &error.to_string())
                        .await?
                }
                result => result?,
            };
        }
        if after >= through {
            return Ok(after);
        }
        let rest = Fold {
            partition,
            after,
            through,
            events: &[],
        };
        Ok(store::apply_fold(&self.parts.pool, rest).await?)
    }

    /// Records that the event `at`, the partition's first after `after`,
    /// cannot be folded, in the log for auditors and in the quarantine table
    /// that holds its organization back; once, whichever of the queue and
    /// the log follower meets the event first.
    async fn quarantine(
        &self,
        partition: Partition,
        after: i64,
        at: EventAt<'_>,
        reason: &str,
    ) -> anyhow::Result<i64> {
        let record = async {
            tracing::error!(
                org_id = %at.org_id,
                position = at.position,
                event_type = at.event_type,
                reason,
                "an event cannot be folded; its organization is quarantined"
            );
            self.parts
                .appender
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
            self.parts.metrics.projector_quarantined.inc();
            anyhow::Ok(())
        };
        let next = QuarantineAt {
            partition,
            after,
            at,
        };
        store::quarantine_recorded(
            &self.parts.pool,
            next,
            reason,
            OffsetDateTime::now_utc(),
            record,
        )
        .await
    }

    async fn publish_position(&self, partition: Partition, position: i64) {
        self.parts
            .applied
            .send_if_modified(|projection| projection.advance(partition, position));
        // Split, the gauge shows the lowest partition ([`Projector::measure_lag`]).
        if partition.is_whole() {
            self.parts.metrics.projector_position.set(position);
        }
    }

    /// Where this projector's partition stands, as it last published.
    fn own_position(&self) -> i64 {
        self.taken_partition()
            .and_then(|partition| self.parts.applied.borrow().position_of(partition))
            .unwrap_or(0)
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
