//! The projector's writes: read-table changes and the projector's
//! checkpoint, committed together so that a change is applied exactly once.

use deadpool_postgres::Transaction;
use domain::StoredEvent;
use domain::partition::Partition;
use domain::read_model::{UserRow, UserRowChange, erased_row, is_erasure, user_row_change};
use domain::read_model::{group_row_change, membership_change};
use futures::TryFutureExt;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::folding::UserKeys;
use crate::{Pool, StoreError};

mod groups;
mod new_users;

use groups::{GroupParams, GroupStatements, MembershipParams};
use new_users::{INSERT_USERS, insert_users};

/// The copy of a resource that filters read: every object key lower-cased, at
/// every depth, values untouched; of two keys that fold alike the later wins.
/// The projector stores it as `doc` beside each user and group resource
/// (for users it was V0003's generated column, `scim_fold_keys`, until V0004
/// moved the work here).
pub(crate) fn fold_keys(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| (key.to_lowercase(), fold_keys(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(fold_keys).collect()),
        other => other.clone(),
    }
}

/// What a projector hands the writer: every event of `partition` that the
/// log holds after `after` and up to `through`, in position order. The
/// checkpoint moves to `through` even where the last events are other
/// partitions'.
#[derive(Debug, Clone, Copy)]
pub struct Fold<'e> {
    pub partition: Partition,
    pub after: i64,
    pub through: i64,
    pub events: &'e [StoredEvent],
}

impl<'e> Fold<'e> {
    /// Consecutive events of the whole projection (as the queue delivers
    /// them): they cover the log from the first to the last.
    pub fn whole(events: &'e [StoredEvent]) -> Fold<'e> {
        let (after, through) = match (events.first(), events.last()) {
            (Some(first), Some(last)) => (first.position - 1, last.position),
            _ => (0, 0),
        };
        Fold {
            partition: Partition::WHOLE,
            after,
            through,
            events,
        }
    }
}

/// Folds consecutive events of the whole projection: [`apply_fold`] of
/// [`Fold::whole`].
pub async fn apply_changes(pool: &Pool, events: &[StoredEvent]) -> Result<i64, StoreError> {
    apply_fold(pool, Fold::whole(events)).await
}

/// Folds events into the read tables and moves the partition's checkpoint,
/// in one transaction. Events at or below the checkpoint are skipped
/// (repeated deliveries); if the checkpoint is short of `fold.after`, the
/// events would leave a hole and nothing is applied. Events of quarantined
/// organizations move the checkpoint and change nothing. Returns the new
/// checkpoint.
///
/// The row changes are pipelined: sent in order without waiting for each
/// answer, so a batch costs a few round trips whatever its size.
pub async fn apply_fold(pool: &Pool, fold: Fold<'_>) -> Result<i64, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    // The read tables are derived: if a crash loses this commit, rows and
    // checkpoint roll back together and the projector folds the same events
    // again from the log when it starts. So it need not wait for the flush,
    // and the write path's read-your-writes wait does not pay a second fsync.
    // The checkpoint row first, alone: while `rollcall rebuild` holds it
    // to swap the read tables, a projector waiting here must hold no lock
    // on them (preparing a statement locks the tables it names), or the two
    // would wait for each other. Prepared once per connection, as every
    // statement of the batch: an unnamed statement is parsed and planned
    // again each time, and costs a round trip more.
    let lock = transaction.prepare_cached(LOCK_CHECKPOINT).await?;
    let name = fold.partition.checkpoint_name();
    let params: [&(dyn ToSql + Sync); 1] = [&name];
    let (_, checkpoint) = futures::try_join!(
        transaction
            .batch_execute("set local synchronous_commit = off")
            .map_err(StoreError::from),
        transaction
            .query_opt(&lock, &params)
            .map_err(StoreError::from),
    )?;
    let checkpoint = checkpoint
        .ok_or_else(|| no_checkpoint_row(fold.partition))?
        .get(0);
    let checkpoint = fold_locked(&transaction, fold, checkpoint).await?;
    let save = transaction.prepare_cached(SAVE_CHECKPOINT).await?;
    transaction.execute(&save, &[&name, &checkpoint]).await?;
    transaction.commit().await?;
    Ok(checkpoint)
}

/// Locks a partition's checkpoint row (`$1`: its name).
pub(crate) const LOCK_CHECKPOINT: &str =
    "select position from checkpoints where name = $1 for update";
/// Moves a partition's checkpoint row (`$1`: its name, `$2`: the position).
pub(crate) const SAVE_CHECKPOINT: &str = "update checkpoints set position = $2 where name = $1";

/// What a projector started for a partition that the split no longer has
/// is told.
pub(crate) fn no_checkpoint_row(partition: Partition) -> StoreError {
    StoreError::Layout(format!(
        "the projection has no checkpoint for {partition} ({}): it was split anew \
         (`rollcall partitions` shows the split); start projectors for the partitions it has",
        partition.checkpoint_name()
    ))
}

/// [`apply_fold`]'s work, in a transaction that holds the partition's
/// checkpoint row at `checkpoint`; returns where the checkpoint moves to.
pub(crate) async fn fold_locked(
    transaction: &Transaction<'_>,
    fold: Fold<'_>,
    mut checkpoint: i64,
) -> Result<i64, StoreError> {
    let partition = fold.partition;
    if checkpoint < fold.after {
        return Err(StoreError::Inconsistent(format!(
            "{partition} is at {checkpoint} and was handed the events after {}",
            fold.after
        )));
    }
    if fold
        .events
        .iter()
        .all(|stored| stored.position <= checkpoint)
    {
        // Nothing to fold (an idle partition following the head, a
        // repeated delivery): only the checkpoint moves.
        return Ok(checkpoint.max(fold.through));
    }
    let (statements, group_statements, quarantined) = futures::try_join!(
        RowStatements::prepare(transaction),
        GroupStatements::prepare(transaction),
        super::quarantine::quarantined_orgs(transaction),
    )?;
    let mut changes = Vec::new();
    for stored in fold.events {
        if stored.position <= checkpoint {
            continue;
        }
        // The whole projection's positions run without a gap; a partition's
        // are its organizations' only, and its reads vouch for the rest.
        if partition.is_whole() && stored.position != checkpoint + 1 {
            return Err(StoreError::Inconsistent(format!(
                "the projector is at {checkpoint} and was handed position {}",
                stored.position
            )));
        }
        if !partition.holds(stored.org_id) {
            return Err(StoreError::Inconsistent(format!(
                "{partition} was handed position {}, of another partition's organization",
                stored.position
            )));
        }
        if quarantined.contains(&stored.org_id) {
            checkpoint = stored.position;
            continue;
        }
        // Memberships first: a deleted user or group leaves its groups
        // before its row goes; an added member joins a group whose row exists.
        if let Some(change) = membership_change(stored) {
            changes.push((
                stored,
                Change::Members(MembershipParams::new(stored, change)),
            ));
        }
        if let Some(change) = user_row_change(stored) {
            let params = RowParams::new(stored, change);
            let is_insert = matches!(params.change, UserRowChange::Insert(_));
            match changes.last_mut() {
                Some((_, Change::NewUsers(run))) if is_insert => run.push(params),
                _ if is_insert => changes.push((stored, Change::NewUsers(vec![params]))),
                _ => changes.push((stored, Change::User(params))),
            }
        }
        if is_erasure(stored) {
            changes.push((stored, Change::UserErasure(stored)));
        }
        if let Some(change) = group_row_change(stored) {
            changes.push((stored, Change::Group(GroupParams::new(stored, change))));
        }
        checkpoint = stored.position;
    }
    let pending = changes
        .iter()
        .map(|(_, change)| change.execute(transaction, &statements, &group_statements));
    let counts = futures::future::try_join_all(pending).await?;
    for ((stored, change), changed) in changes.iter().zip(counts) {
        let Some(expected) = change
            .expected_rows()
            .filter(|expected| changed != *expected)
        else {
            continue;
        };
        let what = match change {
            Change::NewUsers(run) if run.len() > 1 => format!(
                "and the {} new users after it wrote {changed} rows, not {expected}",
                run.len() - 1
            ),
            _ => "found no row to change".to_owned(),
        };
        return Err(StoreError::Inconsistent(format!(
            "event {} ({}) {what}",
            stored.position,
            stored.event.type_name()
        )));
    }
    Ok(checkpoint.max(fold.through))
}

/// One read-table change of an event, or a run of new users' rows (the
/// event is the run's first).
enum Change<'e> {
    User(RowParams),
    NewUsers(Vec<RowParams>),
    /// The user of this `Erased` event (if its stream is a user's) keeps its
    /// row with its personal values erased ([`erase_user`]).
    UserErasure(&'e StoredEvent),
    Group(GroupParams),
    Members(MembershipParams),
}

impl Change<'_> {
    /// How many rows the change must change, where it must.
    fn expected_rows(&self) -> Option<u64> {
        match self {
            Change::User(_) => Some(1),
            Change::NewUsers(run) => Some(run.len() as u64),
            Change::Group(params) if params.must_change_one() => Some(1),
            Change::Group(_) | Change::UserErasure(_) | Change::Members(_) => None,
        }
    }

    async fn execute(
        &self,
        transaction: &Transaction<'_>,
        users: &RowStatements,
        groups: &GroupStatements,
    ) -> Result<u64, StoreError> {
        match self {
            Change::User(params) => params.execute(transaction, users).await,
            Change::NewUsers(run) => insert_users(transaction, &users.insert_many, run).await,
            Change::UserErasure(stored) => erase_user(transaction, users, stored).await,
            Change::Group(params) => params.execute(transaction, groups).await,
            Change::Members(params) => params.execute(transaction, groups).await,
        }
    }
}

/// The statements that change user rows.
struct RowStatements {
    /// [`INSERT_USERS`]: every new row goes through it, in runs.
    insert_many: Statement,
    update: Statement,
    touch: Statement,
    delete: Statement,
    read_for_erasure: Statement,
}

impl RowStatements {
    async fn prepare(transaction: &Transaction<'_>) -> Result<RowStatements, StoreError> {
        let (insert_many, update, touch, delete, read_for_erasure) = futures::try_join!(
            transaction.prepare_cached(INSERT_USERS),
            transaction.prepare_cached(
                "update scim_users set user_name = $3, external_id = $4, active = $5, \
                 resource = $6::text::json, version = $7, updated_at = $8, doc = $9::text::jsonb, \
                 user_name_folded = $10, work_emails_folded = $11 \
                 where org_id = $1 and user_id = $2",
            ),
            transaction.prepare_cached(
                "update scim_users set version = $3, updated_at = $4 where org_id = $1 and user_id = $2",
            ),
            transaction.prepare_cached("delete from scim_users where org_id = $1 and user_id = $2"),
            transaction.prepare_cached(
                "select user_name, external_id, active, resource::text, version, created_at, \
                 updated_at from scim_users where org_id = $1 and user_id = $2 for update",
            ),
        )?;
        Ok(RowStatements {
            insert_many,
            update,
            touch,
            delete,
            read_for_erasure,
        })
    }
}

/// One row change with its parameters owned, ready to be pipelined.
struct RowParams {
    org_id: Uuid,
    user_id: Uuid,
    change: UserRowChange,
    resource: String,
    /// The resource with its keys folded, which filters read (V0004).
    doc: String,
    /// The folded userName and work emails filters and sorting compare (V0008).
    keys: UserKeys,
}

impl RowParams {
    fn new(stored: &StoredEvent, change: UserRowChange) -> RowParams {
        let (resource, doc, keys) = match &change {
            UserRowChange::Insert(row) | UserRowChange::Update(row) => {
                let doc = fold_keys(&row.resource);
                (
                    resource_text(row),
                    serde_json::to_string(&doc).expect("a resource serializes"),
                    UserKeys::of_doc(&row.user_name, &doc),
                )
            }
            _ => (String::new(), String::new(), UserKeys::default()),
        };
        RowParams {
            org_id: stored.org_id,
            user_id: stored.stream_id,
            change,
            resource,
            doc,
            keys,
        }
    }

    async fn execute(
        &self,
        transaction: &Transaction<'_>,
        statements: &RowStatements,
    ) -> Result<u64, StoreError> {
        let key: [&(dyn ToSql + Sync); 2] = [&self.org_id, &self.user_id];
        let changed = match &self.change {
            UserRowChange::Insert(_) => {
                insert_users(
                    transaction,
                    &statements.insert_many,
                    std::slice::from_ref(self),
                )
                .await?
            }
            UserRowChange::Update(row) => {
                transaction
                    .execute(
                        &statements.update,
                        &[
                            key[0],
                            key[1],
                            &row.user_name,
                            &row.external_id,
                            &row.active,
                            &self.resource,
                            &row.version,
                            &row.updated_at,
                            &self.doc,
                            &self.keys.user_name,
                            &self.keys.work_emails,
                        ],
                    )
                    .await?
            }
            UserRowChange::Touch {
                version,
                updated_at,
            } => {
                transaction
                    .execute(&statements.touch, &[key[0], key[1], version, updated_at])
                    .await?
            }
            UserRowChange::Delete => transaction.execute(&statements.delete, &key).await?,
        };
        Ok(changed)
    }
}

/// Erases the personal values of the `Erased` event's user from its row:
/// reads the row (the statements before it in the batch were sent first),
/// and writes it as `domain::read_model::erased_row` leaves it, the very
/// fold `rollcall verify` runs. An account's stream has no row: 0 changed.
async fn erase_user(
    transaction: &Transaction<'_>,
    statements: &RowStatements,
    stored: &StoredEvent,
) -> Result<u64, StoreError> {
    let row = transaction
        .query_opt(
            &statements.read_for_erasure,
            &[&stored.org_id, &stored.stream_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(0);
    };
    let resource: String = row.get(3);
    let current = UserRow {
        user_name: row.get(0),
        external_id: row.get(1),
        active: row.get(2),
        resource: serde_json::from_str(&resource)
            .map_err(|error| StoreError::Inconsistent(error.to_string()))?,
        version: row.get(4),
        created_at: row.get(5),
        updated_at: row.get(6),
    };
    let erased = erased_row(current, stored.stream_version, stored.recorded_at);
    RowParams::new(stored, UserRowChange::Update(erased))
        .execute(transaction, statements)
        .await
}

fn resource_text(row: &UserRow) -> String {
    serde_json::to_string(&row.resource).expect("a resource serializes")
}

#[cfg(test)]
mod tests {
    #[test]
    fn fold_keys_lower_cases_every_key_and_no_value() {
        let folded = super::fold_keys(&serde_json::json!({
            "userName": "Ada", "Emails": [{"Type": "Work", "VALUE": "A@B.C"}],
            "urn:X:User": {"employeeNumber": "E1"}
        }));
        assert_eq!(
            folded,
            serde_json::json!({
                "username": "Ada", "emails": [{"type": "Work", "value": "A@B.C"}],
                "urn:x:user": {"employeenumber": "E1"}
            })
        );
    }
}
