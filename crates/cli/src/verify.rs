//! `rollcall verify`: proves the log's hash chain and that the read tables
//! are exactly what a fresh fold of the log gives.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use domain::chain;
use domain::read_model::{GroupModel, UserTable, fold_group_event, fold_user_event};
use store::Pool;
use uuid::Uuid;

/// Log rows read per round trip.
const PAGE: i64 = 5_000;

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Chain intact, positions gap-free, read tables equal the fold.
    Sound { events: i64, projected_to: i64 },
    /// Sound as far as the projector has come, but it has not folded the
    /// whole log: the read tables are stale.
    Behind { checkpoint: i64, head: i64 },
    /// Sound, but the projector holds these organizations back (with the
    /// position each stopped at): their read tables equal the fold of their
    /// events before that position, and their later events are not folded.
    Quarantined {
        events: i64,
        organizations: Vec<(Uuid, i64)>,
    },
    /// The first position at which something is wrong, and what.
    Broken { position: i64, reason: String },
}

/// How long [`verify`] gives the projector to fold what the log held when
/// it started.
pub const CATCH_UP: Duration = Duration::from_secs(10);

/// Verifies the whole log and the read tables against it, after giving the
/// projector [`CATCH_UP`] to reach the log's head.
pub async fn verify(pool: &Pool) -> anyhow::Result<Verdict> {
    verify_waiting(pool, CATCH_UP).await
}

/// [`verify`], giving the projector `catch_up` to fold what the log holds
/// now: on a live system it trails the head by the writes in flight, which
/// is not a fault; still trailing after that is ([`Verdict::Behind`]).
pub async fn verify_waiting(pool: &Pool, catch_up: Duration) -> anyhow::Result<Verdict> {
    let head = store::log_head(pool).await?;
    let deadline = Instant::now() + catch_up;
    while store::read_checkpoint(pool, store::Checkpoint::Projector).await? < head
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let snapshot = store::read_snapshot(pool).await?;
    // Each event is judged against its own partition's checkpoint, where
    // the projection is split: the read tables hold it once that one passed it.
    let projection = &snapshot.projection;
    let projected_to = projection.lowest();
    let mut heads: HashMap<Uuid, Vec<u8>> = HashMap::new();
    let mut folded = UserTable::new();
    let mut folded_groups = GroupModel::default();
    let mut last_touch: HashMap<(Uuid, Uuid), i64> = HashMap::new();
    let mut last_group_touch: HashMap<(Uuid, Uuid), i64> = HashMap::new();
    let mut position = 0;
    loop {
        let rows = store::read_after(pool, position, PAGE).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            if row.position != position + 1 {
                return Ok(broken(
                    position + 1,
                    "missing from the log (a hole in the positions)",
                ));
            }
            position = row.position;
            let expected_prev = heads
                .get(&row.org_id)
                .map_or(chain::GENESIS.as_slice(), Vec::as_slice);
            if row.prev_hash != expected_prev {
                return Ok(broken(
                    position,
                    "its prev_hash does not name the previous event of its organization",
                ));
            }
            let hash = chain::link(&row.prev_hash, &row.chained_fields());
            if row.hash != hash {
                return Ok(broken(
                    position,
                    "its content does not match its hash (altered after it was written)",
                ));
            }
            heads.insert(row.org_id, row.hash.clone());
            let held_back = snapshot
                .quarantined
                .get(&row.org_id)
                .is_some_and(|&stopped_at| position >= stopped_at);
            if projection.holds(row.org_id, position) && !held_back {
                let stored = match row.to_stored() {
                    Ok(stored) => stored,
                    Err(error) => return Ok(broken(position, &error.to_string())),
                };
                if let Some(key) = fold_user_event(&mut folded, &stored) {
                    last_touch.insert(key, position);
                }
                let is_user = |org, user| folded.contains_key(&(org, user));
                if let Some(key) = fold_group_event(&mut folded_groups, &stored, is_user) {
                    last_group_touch.insert(key, position);
                }
            }
        }
    }
    if projection.highest() > position {
        return Ok(broken(
            position + 1,
            "the projector claims events the log does not have",
        ));
    }
    if let Some(position) = first_difference(&folded, &snapshot.users, &last_touch) {
        return Ok(broken(
            position,
            "the users read table differs from the fold of the log up to here",
        ));
    }
    let groups = &snapshot.groups;
    if let Some(position) =
        first_difference(&folded_groups.groups, &groups.groups, &last_group_touch)
    {
        return Ok(broken(
            position,
            "the groups read table differs from the fold of the log up to here",
        ));
    }
    let touched = |key: &(Uuid, Uuid)| {
        last_touch
            .get(key)
            .or_else(|| last_group_touch.get(key))
            .copied()
            .unwrap_or(0)
    };
    if let Some(position) = snapshot.misfolded.iter().map(touched).min() {
        return Ok(broken(
            position,
            "a read-table row's case-folded keys are not the fold of its values",
        ));
    }
    let members = |model: &GroupModel| {
        let mut by_group: BTreeMap<(Uuid, Uuid), Vec<_>> = BTreeMap::new();
        for (&(org, group, member), kind) in &model.members {
            by_group
                .entry((org, group))
                .or_default()
                .push((member, kind.clone()));
        }
        by_group
    };
    if let Some(position) = first_difference(
        &members(&folded_groups),
        &members(groups),
        &last_group_touch,
    ) {
        return Ok(broken(
            position,
            "the memberships differ from the fold of the log up to here",
        ));
    }
    if projected_to < position {
        return Ok(Verdict::Behind {
            checkpoint: projected_to,
            head: position,
        });
    }
    if !snapshot.quarantined.is_empty() {
        return Ok(Verdict::Quarantined {
            events: position,
            organizations: snapshot.quarantined.into_iter().collect(),
        });
    }
    Ok(Verdict::Sound {
        events: position,
        projected_to,
    })
}

fn broken(position: i64, reason: &str) -> Verdict {
    Verdict::Broken {
        position,
        reason: reason.into(),
    }
}

/// The lowest position whose row the table does not match.
fn first_difference<Row: PartialEq>(
    folded: &BTreeMap<(Uuid, Uuid), Row>,
    table: &BTreeMap<(Uuid, Uuid), Row>,
    last_touch: &HashMap<(Uuid, Uuid), i64>,
) -> Option<i64> {
    folded
        .keys()
        .chain(table.keys())
        .filter(|key| folded.get(key) != table.get(key))
        .map(|key| last_touch.get(key).copied().unwrap_or(0))
        .min()
}
