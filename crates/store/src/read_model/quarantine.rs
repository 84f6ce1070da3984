//! Organizations whose events the projector could not fold, and holds back
//! (V0006): the projector's own state beside its checkpoint.

use std::collections::HashSet;

use deadpool_postgres::Transaction;
use domain::StoredEvent;
use time::OffsetDateTime;
use uuid::Uuid;

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
    /// Log head − the projector's checkpoint.
    pub lag_events: i64,
    /// The age of the oldest event not yet folded; 0 when none is waiting.
    pub lag_seconds: f64,
    /// Organizations whose read tables are held back.
    pub quarantined_orgs: i64,
}

/// Measures the projector's lag from the log head and its checkpoint, not
/// from what it last applied: a stuck projector applies nothing.
pub async fn projector_health(
    pool: &Pool,
    now: OffsetDateTime,
) -> Result<ProjectorHealth, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select h.last_position - c.position, \
                    coalesce(extract(epoch from ($1 - e.recorded_at))::float8, 0), \
                    (select count(*) from projection_quarantine) \
               from log_head h \
               cross join checkpoints c \
               left join events e on e.position = c.position + 1 \
              where h.id = 1 and c.name = 'projector'",
        )
        .await?;
    let row = client.query_one(&statement, &[&now]).await?;
    Ok(ProjectorHealth {
        lag_events: row.get::<_, i64>(0).max(0),
        lag_seconds: row.get::<_, f64>(1).max(0.0),
        quarantined_orgs: row.get(2),
    })
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
/// and moves the projector's checkpoint past the event, in one transaction.
/// The event must be the next after the checkpoint. Returns the new
/// checkpoint.
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
    quarantine_recorded(pool, at, reason, now, std::future::ready(Ok(()))).await
}

/// [`quarantine`], awaiting `record` (which records the quarantine in the
/// log) first, under the projector's checkpoint lock and only if the
/// checkpoint has not passed the event: the projector folds from the queue
/// and from the log at once (and replicas may overlap), and whichever meets
/// the event second must record nothing. A failed `record` quarantines
/// nothing; one that succeeded before a failed commit is recorded again by
/// the next attempt, so the log never misses a quarantine the read side
/// acted on.
pub async fn quarantine_recorded<E: From<StoreError>>(
    pool: &Pool,
    at: EventAt<'_>,
    reason: &str,
    now: OffsetDateTime,
    record: impl Future<Output = Result<(), E>>,
) -> Result<i64, E> {
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let transaction = client.transaction().await.map_err(StoreError::from)?;
    let checkpoint: i64 = transaction
        .query_one(
            "select position from checkpoints where name = 'projector' for update",
            &[],
        )
        .await
        .map_err(StoreError::from)?
        .get(0);
    if at.position <= checkpoint {
        return Ok(checkpoint);
    }
    if at.position != checkpoint + 1 {
        return Err(StoreError::Inconsistent(format!(
            "the projector is at {checkpoint} and was asked to quarantine position {}",
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
        .execute(
            "update checkpoints set position = $1 where name = 'projector'",
            &[&at.position],
        )
        .await
        .map_err(StoreError::from)?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(at.position)
}
