//! The read model: how events change the read tables (`scim_users`,
//! `scim_groups`, `scim_group_members`).
//!
//! Each event maps to at most one [`RowChange`] of its stream's row and, for
//! groups, one [`MembershipChange`]. The projector (the `store` crate) runs
//! these changes as SQL; [`fold_user_event`] and [`fold_group_event`] apply
//! the very same changes to in-memory tables, for `rollcall verify` (which
//! compares them with the tables) and for [`members_at`]. The read model is
//! not the aggregates' `evolve`: an aggregate keeps what a decision needs,
//! a row keeps what a read answers with.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use uuid::Uuid;

mod groups;
mod users;

pub use groups::{
    GroupModel, GroupRow, GroupRowChange, GroupTable, MemberTable, MembershipChange,
    fold_group_event, group_row_change, members_at, membership_change,
};
pub use users::{
    UserRow, UserRowChange, UserTable, erased_row, fold_user_event, fold_users, is_erasure,
    user_row_change,
};

/// What one event does to the row of its stream (a user or a group).
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange<Row> {
    /// Insert the row (the stream's first event).
    Insert(Row),
    /// Replace everything but `created_at`.
    Update(Row),
    /// Only the version and modification time move (a user's `active`
    /// flipped, a group's members changed).
    Touch {
        version: i64,
        updated_at: OffsetDateTime,
    },
    /// Remove the row.
    Delete,
}

/// The bookkeeping a read row shares with every other: what an update keeps
/// and what a touch moves.
pub trait ReadRow {
    /// This row, with the creation time of the row it replaces.
    fn created_like(self, old: &Self) -> Self;
    /// This row, with only its version and modification time moved.
    fn touched(self, version: i64, updated_at: OffsetDateTime) -> Self;
}

impl<Row: ReadRow> RowChange<Row> {
    /// The row after this change, exactly as the projector's SQL leaves it.
    pub fn apply(self, row: Option<Row>) -> Option<Row> {
        match (row, self) {
            (_, RowChange::Insert(new)) => Some(new),
            (Some(old), RowChange::Update(new)) => Some(new.created_like(&old)),
            (
                Some(old),
                RowChange::Touch {
                    version,
                    updated_at,
                },
            ) => Some(old.touched(version, updated_at)),
            (_, RowChange::Delete) | (None, _) => None,
        }
    }
}

/// A read table in memory, keyed by (organization, stream).
pub type Table<Row> = BTreeMap<(Uuid, Uuid), Row>;

/// Applies `change` to the row at `key`.
fn fold_row<Row: ReadRow>(table: &mut Table<Row>, key: (Uuid, Uuid), change: RowChange<Row>) {
    if let Some(row) = change.apply(table.remove(&key)) {
        table.insert(key, row);
    }
}
