//! Where each consumer of the log stands (`checkpoints`). The projector's
//! position moves in the transaction that changes the read tables
//! ([`crate::apply_changes`], [`crate::quarantine`]); the relay's moves by
//! [`set_checkpoint`] once the broker has confirmed what it published.

use super::partitions::PROJECTION_ROWS;
use crate::{Pool, StoreError};

/// A named consumer's position in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// The outbox relay: events up to here are confirmed by the broker.
    Relay,
    /// The projector: events up to here are folded into the read tables.
    /// Where the projection is split (`crate::projection_split`), the
    /// lowest of its partitions' checkpoints: reading it is always safe,
    /// and moving it is each partition's own (`crate::apply_fold`).
    Projector,
    /// The linker: SCIM entries up to here are linked to accounts and
    /// memberships (V0013).
    Linker,
}

impl Checkpoint {
    fn name(self) -> &'static str {
        match self {
            Checkpoint::Relay => "relay",
            Checkpoint::Projector => "projector",
            Checkpoint::Linker => "linker",
        }
    }
}

/// Where a consumer stands.
pub async fn read_checkpoint(pool: &Pool, checkpoint: Checkpoint) -> Result<i64, StoreError> {
    let client = pool.get().await?;
    if checkpoint == Checkpoint::Projector {
        let statement = client
            .prepare_cached(&format!(
                "select min(position) from checkpoints where {PROJECTION_ROWS}"
            ))
            .await?;
        let lowest: Option<i64> = client.query_one(&statement, &[]).await?.get(0);
        return lowest.ok_or_else(|| {
            StoreError::Layout(
                "the projection has no checkpoint at all: run `rollcall partitions 1`".into(),
            )
        });
    }
    let statement = client
        .prepare_cached("select position from checkpoints where name = $1")
        .await?;
    Ok(client
        .query_one(&statement, &[&checkpoint.name()])
        .await?
        .get(0))
}

/// Moves a consumer forward (never back).
///
/// Not flushed before it returns: a checkpoint lost in a crash only makes the
/// consumer repeat work it has done, and every consumer tolerates repeats.
pub async fn set_checkpoint(
    pool: &Pool,
    checkpoint: Checkpoint,
    position: i64,
) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let statement = transaction
        .prepare_cached("update checkpoints set position = greatest(position, $2) where name = $1")
        .await?;
    let name = checkpoint.name();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&name, &position];
    // Sent together: one round trip.
    futures::try_join!(
        transaction.batch_execute("set local synchronous_commit = off"),
        transaction.execute(&statement, &params),
    )?;
    transaction.commit().await?;
    Ok(())
}
