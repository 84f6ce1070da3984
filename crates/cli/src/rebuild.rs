//! `rollcall rebuild`: folds the whole log into fresh copies of the read
//! tables, with the projector's own writer (so the rows, case-folded keys
//! included, are what the projector writes), reports each row that differs
//! from the live tables, and with `--swap` puts the copies in their place.
//!
//! The copies catch up with the live projector's checkpoint, then the
//! projector is paused on its checkpoint row, the copies fold the few
//! events it reached meanwhile, and the comparison and the swap happen
//! within the pause: no event is folded twice or lost, and the projector
//! goes on from the same checkpoint on the new tables.

use std::time::{Duration, Instant};

use domain::StoredEvent;
use projector::projector::is_unfoldable;
use store::{Checkpoint, EventAt, LogRow, Pool, ProjectorPause, Quarantined, RowDifference};
use time::OffsetDateTime;

/// Log rows read and folded per transaction.
const PAGE: i64 = 5_000;
/// Differences reported one by one at most (all are counted).
const SHOWN: usize = 1_000;
/// How long the swap may try to take the read tables from their readers.
const SWAP_PATIENCE: Duration = Duration::from_secs(10);

/// What a rebuild found and did.
pub struct Rebuilt {
    /// Events folded into the copies, and how long it took.
    pub folded: i64,
    pub took: Duration,
    /// The projector's checkpoint the copies were compared at.
    pub position: i64,
    /// Rows that differ (up to [`SHOWN`]), and how many in all.
    pub differences: Vec<RowDifference>,
    pub different: u64,
    /// Organizations whose events this build cannot fold.
    pub held_back: Vec<Quarantined>,
    pub swapped: bool,
}

impl Rebuilt {
    pub fn events_per_second(&self) -> f64 {
        self.folded as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// Rebuilds beside the live tables; swaps them in if `swap` and this build
/// holds back no organization that the live tables fold. `progress` hears
/// the events folded so far and the time taken.
pub async fn rebuild(
    database: &store::Database,
    swap: bool,
    mut progress: impl FnMut(i64, Duration),
) -> anyhow::Result<Rebuilt> {
    let pool = store::connect(database, 2)?;
    let split = store::projection_split(&pool).await?;
    anyhow::ensure!(
        split.len() == 1,
        "the projection is split into {} partitions, and a rebuild compares and swaps one \
         whole projection: join it with `rollcall partitions 1` (safe while projectors run), \
         rebuild, then split it again",
        split.len()
    );
    let copies = store::connect(&database.in_schema(store::REBUILD_SCHEMA), 2)?;
    store::create_rebuild_tables(&pool).await?;
    let started = Instant::now();
    let mut report = |folded| progress(folded, started.elapsed());
    let live = store::read_checkpoint(&pool, Checkpoint::Projector).await?;
    fold_until(&copies, live, &mut report).await?;
    let (pause, position) = ProjectorPause::begin(&pool).await?;
    let folded = fold_until(&copies, position, &mut report).await?;
    let took = started.elapsed();
    let (differences, different) = pause.differences(SHOWN).await?;
    let held_back = store::find_quarantined(&copies).await?;
    let live_held = store::find_quarantined(&pool).await?;
    let newly_held: Vec<_> = held_back
        .iter()
        .filter(|held| !live_held.iter().any(|live| live.org_id == held.org_id))
        .collect();
    let swapped = swap && different > 0 && newly_held.is_empty();
    if swapped {
        pause.swap(SWAP_PATIENCE).await?;
    } else {
        pause.resume().await?;
    }
    if swap && !newly_held.is_empty() {
        let names: Vec<String> = newly_held
            .iter()
            .map(|held| format!("{} (position {})", held.org_id, held.position))
            .collect();
        anyhow::bail!(
            "not swapped: this build cannot fold events that the live tables hold, so the \
             rebuilt tables would hold back {}; deploy a build that folds them and rebuild again",
            names.join(", ")
        );
    }
    Ok(Rebuilt {
        folded,
        took,
        position,
        differences,
        different,
        held_back,
        swapped,
    })
}

/// Folds the log into the copies up to `upto`; returns their checkpoint.
async fn fold_until(
    copies: &Pool,
    upto: i64,
    progress: &mut impl FnMut(i64),
) -> anyhow::Result<i64> {
    loop {
        let from = store::read_checkpoint(copies, Checkpoint::Projector).await?;
        if from >= upto {
            return Ok(from);
        }
        let rows = store::read_after(copies, from, PAGE.min(upto - from)).await?;
        anyhow::ensure!(
            !rows.is_empty(),
            "the log ends at {from}, before the projector's checkpoint {upto}: \
             run `rollcall verify`"
        );
        fold_rows(copies, &rows).await?;
        progress(rows.last().map_or(from, |row| row.position));
    }
}

/// Folds rows as the projector does: a row this build cannot read, or an
/// event it cannot fold, holds its organization back in the copies.
async fn fold_rows(copies: &Pool, rows: &[LogRow]) -> anyhow::Result<()> {
    let mut readable = Vec::with_capacity(rows.len());
    for row in rows {
        match row.to_stored() {
            Ok(stored) => readable.push(stored),
            Err(error) => {
                fold(copies, &readable).await?;
                readable.clear();
                let at = EventAt {
                    org_id: row.org_id,
                    position: row.position,
                    event_type: &row.event_type,
                };
                store::quarantine(copies, at, &error.to_string(), OffsetDateTime::now_utc())
                    .await?;
            }
        }
    }
    fold(copies, &readable).await
}

async fn fold(copies: &Pool, events: &[StoredEvent]) -> anyhow::Result<()> {
    match store::apply_changes(copies, events).await {
        Err(error) if is_unfoldable(&error) => {}
        result => return Ok(result.map(drop)?),
    }
    for stored in events {
        match store::apply_changes(copies, std::slice::from_ref(stored)).await {
            Err(error) if is_unfoldable(&error) => {
                let now = OffsetDateTime::now_utc();
                store::quarantine(copies, stored.into(), &error.to_string(), now).await?;
            }
            result => {
                result?;
            }
        }
    }
    Ok(())
}
