//! Organizations whose events the projector could not fold, and holds back
//! (V0006): the projector's own state beside its checkpoint.

use std::collections::HashSet;

use deadpool_postgres::Transaction;
use domain::StoredEvent;
use domain::partition::Partition;
use time::OffsetDateTime;
use uuid::Uuid;

use super::partitions::PROJECTION_ROWS;
use super::writer::{LOCK_CHECKPOINT, SAVE_CHECKPOINT, no_checkpoint_row};
use crate::{Pool, StoreError};

/// An organization held back, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub org_id: Uuid,
    /// The position of the event that could not be folded; the
    /// organization's read tables hold the state before it.
    pub position: i64,
    pub event_type: String,
    /// What PostgreSQL or the fold said; names no value.
    pub reason: String,
    pub quarantined_at: OffsetDateTime,
}

/// Every organization held back.
pub async fn find_quarantined(pool: &Pool) -> Result<Vec<Quarantined>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select org_id, position, event_type, reason, quarantined_at \
             from projection_quarantine order by position",
        )
        .await?;
    let rows = client.query(&statement, &[]).await?;
    Ok(rows
        .iter()
        .map(|row| Quarantined {
            org_id: row.get(0),
            position: row.get(1),
            event_type: row.get(2),
            reason: row.get(3),
            quarantined_at: row.get(4),
        })
        .collect())
}

/// How far the read tables are behind the log, as measured now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectorHealth {
    /// Log head − the projector's checkpoint (the lowest partition's).
    pub lag_events: i64,
    /// The projector's checkpoint (the lowest partition's): every event up
    /// to here is folded.
    pub position: i64,
    /// The age of the oldest event not yet folded; 0 when none is waiting.
    pub lag_seconds: f64,
    /// Organizations whose read tables are held back.
    pub quarantined_orgs: i64,
}

/// Measures the projector's lag from the log head and its checkpoint, not
/// from what it last applied: a stuck projector applies nothing. Where the
/// projection is split, its furthest-behind partition's.
pub async fn projector_health(
    pool: &Pool,
    now: OffsetDateTime,
) -> Result<ProjectorHealth, StoreError> {
    let lags = partition_lags(pool, now).await?;
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("select count(*) from projection_quarantine")
        .await?;
    let quarantined_orgs = client.query_one(&statement, &[]).await?.get(0);
    Ok(ProjectorHealth {
        lag_events: lags.iter().map(|lag| lag.lag_events).max().unwrap_or(0),
        position: lags.iter().map(|lag| lag.position).min().unwrap_or(0),
        lag_seconds: lags.iter().map(|lag| lag.lag_seconds).fold(0.0, f64::max),
        quarantined_orgs,
    })
}

/// How far one partition of the projection is behind the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartitionLag {
    pub partition: Partition,
    /// The partition's checkpoint.
    pub position: i64,
    /// Log head − the partition's checkpoint.
    pub lag_events: i64,
    /// The age of the event after the partition's checkpoint (another
    /// partition's, if that one folded it: an upper bound); 0 when none.
    pub lag_seconds: f64,
}

/// [`PartitionLag`] of every partition of the projection (one, unless split).
pub async fn partition_lags(
    pool: &Pool,
    now: OffsetDateTime,
) -> Result<Vec<PartitionLag>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select c.name, c.position, h.last_position - c.position, \
                    coalesce(extract(epoch from ($1 - e.recorded_at))::float8, 0) \
               from log_head h \
               cross join checkpoints c \
               left join events e on e.position = c.position + 1 \
              where h.id = 1 and c.{PROJECTION_ROWS}"
        ))
        .await?;
    client
        .query(&statement, &[&now])
        .await?
        .iter()
        .map(|row| {
            let name: String = row.get(0);
            let partition = Partition::from_checkpoint_name(&name).ok_or_else(|| {
                StoreError::Inconsistent(format!("a projection checkpoint row named {name:?}"))
            })?;
            Ok(PartitionLag {
                partition,
                position: row.get(1),
                lag_events: row.get::<_, i64>(2).max(0),
                lag_seconds: row.get::<_, f64>(3).max(0.0),
            })
        })
        .collect()
}

/// The organizations held back, read in the projector's transaction.
pub(crate) async fn quarantined_orgs(
    transaction: &Transaction<'_>,
) -> Result<HashSet<Uuid>, StoreError> {
    let statement = transaction
        .prepare_cached("select org_id from projection_quarantine")
        .await?;
    let rows = transaction.query(&statement, &[]).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Where an event stands in the log: enough to hold its organization back
/// even when the event itself cannot be read.
#[derive(Debug, Clone, Copy)]
pub struct EventAt<'a> {
    pub org_id: Uuid,
    pub position: i64,
    pub event_type: &'a str,
}

impl<'a> From<&'a StoredEvent> for EventAt<'a> {
    fn from(stored: &'a StoredEvent) -> Self {
        EventAt {
            org_id: stored.org_id,
            position: stored.position,
            event_type: stored.event.type_name(),
        }
    }
}

/// Holds the organization of the event at `at` back from the read tables,
/// and moves the whole projection's checkpoint past the event, in one
/// transaction. The event must be the next after the checkpoint. Returns the
/// new checkpoint.
///
/// Flushed before it returns (unlike the projector's other commits): a lost
/// quarantine would have the projector fold the organization's later events
/// onto tables that miss this one.
pub async fn quarantine(
    pool: &Pool,
    at: EventAt<'_>,
    reason: &str,
    now: OffsetDateTime,
) -> Result<i64, StoreError> {
    let next = QuarantineAt::next_of_whole(at);
    quarantine_recorded(pool, next, reason, now, std::future::ready(Ok(()))).await
}

/// The event to quarantine, and where its partition's events before it end:
/// the caller read the partition's events after `after`, and `at` is the
/// first of them.
#[derive(Debug, Clone, Copy)]
pub struct QuarantineAt<'a> {
    pub partition: Partition,
    pub after: i64,
    pub at: EventAt<'a>,
}

impl<'a> QuarantineAt<'a> {
    /// The event of the whole projection right after the checkpoint.
    pub fn next_of_whole(at: EventAt<'a>) -> QuarantineAt<'a> {
        QuarantineAt {
            partition: Partition::WHOLE,
            after: at.position - 1,
            at,
        }
    }
}

/// [`quarantine`], for the event's partition, awaiting `record` (which
/// records the quarantine in the log) first, under the partition's
/// checkpoint lock and only if the checkpoint has not passed the event: the
/// projector folds from the queue and from the log at once (and replicas
/// may overlap), and whichever meets the event second must record nothing.
/// A failed `record` quarantines nothing; one that succeeded before a failed
/// commit is recorded again by the next attempt, so the log never misses a
/// quarantine the read side acted on.
pub async fn quarantine_recorded<E: From<StoreError>>(
    pool: &Pool,
    next: QuarantineAt<'_>,
    reason: &str,
    now: OffsetDateTime,
    record: impl Future<Output = Result<(), E>>,
) -> Result<i64, E> {
    let QuarantineAt {
        partition,
        after,
        at,
    } = next;
    let name = partition.checkpoint_name();
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let transaction = client.transaction().await.map_err(StoreError::from)?;
    let checkpoint: i64 = transaction
        .query_opt(LOCK_CHECKPOINT, &[&name])
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| no_checkpoint_row(partition))?
        .get(0);
    if at.position <= checkpoint {
        return Ok(checkpoint);
    }
    if checkpoint < after {
        return Err(StoreError::Inconsistent(format!(
            "{partition} is at {checkpoint} and was asked to quarantine position {}, \
             the first after {after}",
            at.position
        ))
        .into());
    }
    record.await?;
    transaction
        .execute(
            "insert into projection_quarantine (org_id, position, event_type, reason, quarantined_at) \
             values ($1, $2, $3, $4, $5) on conflict (org_id) do nothing",
            &[&at.org_id, &at.position, &at.event_type, &reason, &now],
        )
        .await
        .map_err(StoreError::from)?;
    transaction
        .execute(SAVE_CHECKPOINT, &[&name, &at.position])
        .await
        .map_err(StoreError::from)?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(at.position)
}
