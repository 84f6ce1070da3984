//! The reads the auditors' history queries make: an organization's events
//! up to a position, in pages; a few streams whole; and the position an
//! instant falls at.

use time::OffsetDateTime;
use uuid::Uuid;

use super::keys::log_rows_with_keys;
use super::read::{COLUMNS, LogRow};
use crate::{Pool, StoreError};

/// Up to `limit` events of `org_id` after position `after` and at most
/// `until`, in position order: an organization's history up to an instant,
/// a page at a time.
pub async fn read_organization_until(
    pool: &Pool,
    org_id: Uuid,
    after: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<LogRow>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from events where org_id = $1 and position > $2 \
             and position <= $3 order by position limit $4"
        ))
        .await?;
    let rows = client
        .query(&statement, &[&org_id, &after, &until, &limit])
        .await?;
    log_rows_with_keys(&client, &rows).await
}

/// Every event of the streams `stream_ids` of keyspace `org_id` (an
/// organization's, or the accounts'), in position order; each stream is
/// found through its `(org_id, stream_id, stream_version)` key.
pub async fn read_streams(
    pool: &Pool,
    org_id: Uuid,
    stream_ids: &[Uuid],
) -> Result<Vec<LogRow>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from events where org_id = $1 and stream_id = any($2) \
             order by position"
        ))
        .await?;
    let rows = client.query(&statement, &[&org_id, &stream_ids]).await?;
    log_rows_with_keys(&client, &rows).await
}

/// The last event of `org_id` recorded at or before `at`: its position and
/// time (`None`: the organization had no event yet).
///
/// Events are stamped in position order (one appender commits batches one
/// after another, with a clock that never moves back), so the instant is
/// found by a binary search over positions: each probe is one lookup in
/// the `(org_id, position)` index, about 2·log2(events) probes in all,
/// instead of a scan of the organization's events.
pub async fn organization_position_at(
    pool: &Pool,
    org_id: Uuid,
    at: OffsetDateTime,
) -> Result<Option<(i64, OffsetDateTime)>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select position, recorded_at from events where org_id = $1 and position <= $2 \
             order by position desc limit 1",
        )
        .await?;
    let last_at_or_before =
        async |position: i64| -> Result<Option<(i64, OffsetDateTime)>, StoreError> {
            let row = client.query_opt(&statement, &[&org_id, &position]).await?;
            Ok(row.map(|row| (row.get(0), row.get(1))))
        };
    let Some(last) = last_at_or_before(i64::MAX).await? else {
        return Ok(None);
    };
    if last.1 <= at {
        return Ok(Some(last));
    }
    // `low`'s last event (`found`; none at 0) is not after `at`, `high`'s
    // is: halve the gap until they meet.
    let (mut low, mut high) = (0_i64, last.0);
    let mut found = None;
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        match last_at_or_before(middle).await? {
            Some(event) if event.1 > at => high = event.0,
            Some(event) => {
                found = Some(event);
                low = middle;
            }
            None => low = middle,
        }
    }
    Ok(found)
}
