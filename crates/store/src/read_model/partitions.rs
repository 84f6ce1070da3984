//! The projection's split into partitions (`domain::partition`,
//! docs/scaling.md "Partitions"): the set of its checkpoint rows is the
//! split, and [`split_projection`] replaces one set by another.

use std::sync::LazyLock;

use deadpool_postgres::{GenericClient, Transaction};
use domain::partition::{Partition, PartitionError};

use super::writer::{Fold, apply_fold, fold_locked, no_checkpoint_row};
use crate::log::read::read_partition_after;
use crate::{Pool, StoreError};

/// Which rows of `checkpoints` are the projection's (a condition on `name`;
/// `domain::partition::Partition::checkpoint_name`). V0027's triggers say
/// the same.
pub(crate) const PROJECTION_ROWS: &str = "name ~ '^projector($|\\.)'";

/// The projection's checkpoint rows, by name.
pub(crate) static SPLIT_ROWS: LazyLock<String> = LazyLock::new(|| {
    format!("select name, position from checkpoints where {PROJECTION_ROWS} order by name")
});

/// The partitions of the projection and where each stands, in order.
pub async fn projection_split(pool: &Pool) -> Result<Vec<(Partition, i64)>, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(&SPLIT_ROWS).await?;
    split_of_rows(&client.query(&statement, &[]).await?)
}

/// Partition `index` of the projection as it is split now.
pub async fn partition_of_split(pool: &Pool, index: u32) -> Result<Partition, StoreError> {
    let split = projection_split(pool).await?;
    Partition::new(index, split.len() as u32).map_err(|error| StoreError::Layout(error.to_string()))
}

/// Where partition `partition` stands.
pub async fn read_partition_checkpoint(
    pool: &Pool,
    partition: Partition,
) -> Result<i64, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("select position from checkpoints where name = $1")
        .await?;
    Ok(client
        .query_opt(&statement, &[&partition.checkpoint_name()])
        .await?
        .ok_or_else(|| no_checkpoint_row(partition))?
        .get(0))
}

/// [`split_of`] the rows a query of [`SPLIT_ROWS`] returned.
pub(crate) fn split_of_rows(
    rows: &[tokio_postgres::Row],
) -> Result<Vec<(Partition, i64)>, StoreError> {
    split_of(rows.iter().map(|row| (row.get(0), row.get(1))))
}

/// Reads the split from its rows: one whole projection, or partitions 0 to
/// n − 1 of n, each once.
pub(crate) fn split_of(
    rows: impl Iterator<Item = (String, i64)>,
) -> Result<Vec<(Partition, i64)>, StoreError> {
    let mut split = Vec::new();
    for (name, position) in rows {
        let partition = Partition::from_checkpoint_name(&name).ok_or_else(|| {
            StoreError::Inconsistent(format!("a projection checkpoint row named {name:?}"))
        })?;
        split.push((partition, position));
    }
    split.sort_by_key(|(partition, _)| partition.index());
    let count = split.len() as u32;
    let whole = split.iter().enumerate().all(|(index, (partition, _))| {
        partition.index() == index as u32 && partition.count() == count
    });
    if count == 0 || !whole {
        let names: Vec<String> = split
            .iter()
            .map(|(partition, _)| partition.checkpoint_name())
            .collect();
        return Err(StoreError::Inconsistent(format!(
            "the projection's checkpoint rows make no split: [{}]",
            names.join(", ")
        )));
    }
    Ok(split)
}

/// What [`split_projection`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resplit {
    /// The partition count before and after.
    pub from: u32,
    pub to: u32,
    /// Where every new partition starts: every event up to here is folded.
    pub position: i64,
    /// Events the lagging partitions folded to meet there.
    pub folded: usize,
}

/// The most events read at once while the partitions meet.
const MEET_PAGE: i64 = 1_000;

/// Splits the projection `count` ways (1: not at all), while projectors
/// run. First brings the partitions that lag up to the one furthest ahead,
/// as a projector would, holding nothing. Then, in one transaction: holds
/// every current partition's checkpoint (their projectors wait, briefly:
/// what is left to fold is what came meanwhile), folds the lagging
/// partitions up to the one furthest ahead, so that every event up to there
/// is folded and none after it, and replaces the rows by `count` rows at
/// that position. An event a lagging partition cannot fold aborts it all:
/// that partition's projector must quarantine it first. A split already
/// `count` ways is left as it is.
pub async fn split_projection(pool: &Pool, count: u32) -> Result<Resplit, StoreError> {
    let new_split = Partition::all(count)
        .map_err(|error: PartitionError| StoreError::Layout(error.to_string()))?;
    let current = projection_split(pool).await?;
    if current.len() as u32 == count {
        return Ok(unchanged(&current, 0));
    }
    let mut folded = meet_unlocked(pool, &current).await?;
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let rows = transaction
        .query(&format!("{} for update", *SPLIT_ROWS), &[])
        .await?;
    if rows.is_empty() {
        // Deleted by a concurrent split, whose rows this statement's
        // snapshot cannot see.
        return Err(StoreError::Layout(
            "the split changed while this one waited (another `rollcall partitions`?): \
             run it again"
                .into(),
        ));
    }
    let split = split_of_rows(&rows)?;
    let position = split.iter().map(|(_, at)| *at).max().unwrap_or(0);
    if split.len() as u32 == count {
        return Ok(unchanged(&split, folded));
    }
    for &(partition, at) in &split {
        folded += meet(&transaction, partition, at, position).await?;
    }
    transaction
        .execute(
            &format!("delete from checkpoints where {PROJECTION_ROWS}"),
            &[],
        )
        .await?;
    for partition in &new_split {
        transaction
            .execute(
                "insert into checkpoints (name, position) values ($1, $2)",
                &[&partition.checkpoint_name(), &position],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(Resplit {
        from: split.len() as u32,
        to: count,
        position,
        folded,
    })
}

/// What [`split_projection`] reports for a split that was `count` ways already.
fn unchanged(split: &[(Partition, i64)], folded: usize) -> Resplit {
    let count = split.len() as u32;
    Resplit {
        from: count,
        to: count,
        position: split.iter().map(|(_, at)| *at).min().unwrap_or(0),
        folded,
    }
}

/// Brings every partition of `split` that lags up to the one furthest ahead,
/// by the projectors' own path (each fold takes its checkpoint for a
/// moment); returns how many events it folded.
async fn meet_unlocked(pool: &Pool, split: &[(Partition, i64)]) -> Result<usize, StoreError> {
    let position = split.iter().map(|(_, at)| *at).max().unwrap_or(0);
    let mut folded = 0;
    for &(partition, mut at) in split {
        while at < position {
            let (through, events) = read_page(&pool.get().await?, partition, at, position).await?;
            let fold = Fold {
                partition,
                after: at,
                through,
                events: &events,
            };
            // The checkpoint the fold committed: a projector may have moved
            // it further meanwhile.
            at = apply_fold(pool, fold)
                .await
                .map_err(|error| cannot_meet(partition, error))?;
            folded += events.len();
        }
    }
    Ok(folded)
}

/// Reads a page of `partition`'s events after `at` up to `position`: where
/// it ends (its last row when it is full, else `position`) and its events.
async fn read_page(
    client: &impl GenericClient,
    partition: Partition,
    at: i64,
    position: i64,
) -> Result<(i64, Vec<domain::StoredEvent>), StoreError> {
    let rows = read_partition_after(client, partition, at, position, MEET_PAGE).await?;
    let through = match rows.last() {
        Some(last) if rows.len() as i64 == MEET_PAGE => last.position,
        _ => position,
    };
    let events = rows
        .iter()
        .map(|row| row.to_stored())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| cannot_meet(partition, error))?;
    Ok((through, events))
}

/// Folds `partition`'s events after `at` up to `position`, in the
/// transaction that holds its checkpoint; returns how many it folded.
async fn meet(
    transaction: &Transaction<'_>,
    partition: Partition,
    mut at: i64,
    position: i64,
) -> Result<usize, StoreError> {
    let mut folded = 0;
    while at < position {
        let (through, events) = read_page(transaction, partition, at, position).await?;
        let fold = Fold {
            partition,
            after: at,
            through,
            events: &events,
        };
        at = fold_locked(transaction, fold, at)
            .await
            .map_err(|error| cannot_meet(partition, error))?;
        folded += events.len();
    }
    Ok(folded)
}

fn cannot_meet(partition: Partition, error: StoreError) -> StoreError {
    if error.is_transient() {
        return error;
    }
    StoreError::Layout(format!(
        "{partition} cannot fold what lies before the new split ({error}); nothing changed. \
         Let its projector run (it holds such an event's organization back), then split again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(names: &[&str]) -> impl Iterator<Item = (String, i64)> {
        names
            .iter()
            .map(|name| (name.to_string(), 7))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn rows_that_make_a_split_read_as_its_partitions_in_order() {
        let split = split_of(rows(&["projector.1/2", "projector.0/2"])).unwrap();
        assert_eq!(
            split,
            Partition::all(2)
                .unwrap()
                .into_iter()
                .map(|p| (p, 7))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            split_of(rows(&["projector"])).unwrap(),
            vec![(Partition::WHOLE, 7)]
        );
    }

    #[test]
    fn rows_that_make_no_split_are_refused_with_their_names() {
        for names in [
            &[][..],
            &["projector.0/2"][..],
            &["projector", "projector.1/2"][..],
            &["projector.0/2", "projector.1/3"][..],
        ] {
            let error = split_of(rows(names)).unwrap_err();
            assert!(
                matches!(error, StoreError::Inconsistent(_)),
                "{names:?}: {error}"
            );
        }
        let error = split_of(rows(&["projector.x"])).unwrap_err();
        assert!(error.to_string().contains("projector.x"), "{error}");
    }
}
