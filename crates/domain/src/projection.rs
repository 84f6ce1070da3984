//! The read model: how events change the `scim_users` table.
//!
//! The projector turns each event into a [`UserRowChange`] and runs it as SQL;
//! `rollcall verify` folds the whole log with [`fold_users`] through the very
//! same function and compares the result with the table.

use std::collections::BTreeMap;

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::user::{attribute, is_active};
use crate::{Event, StoredEvent};

/// One row of the `scim_users` read table.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub resource: Value,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What one event does to a user's row.
#[derive(Debug, Clone, PartialEq)]
pub enum UserRowChange {
    /// Insert the row (first event of the stream).
    Insert(UserRow),
    /// Replace everything but `created_at`.
    Update(UserRow),
    /// Only the version and modification time move.
    Touch {
        version: i64,
        updated_at: OffsetDateTime,
    },
    /// Remove the row.
    Delete,
}

/// The change an event makes to the read table, if it concerns a user.
pub fn user_row_change(stored: &StoredEvent) -> Option<UserRowChange> {
    let row = |resource: &Value| UserRow {
        user_name: string_attribute(resource, "userName").unwrap_or_default(),
        external_id: string_attribute(resource, "externalId"),
        active: is_active(resource),
        resource: resource.clone(),
        version: stored.stream_version,
        created_at: stored.recorded_at,
        updated_at: stored.recorded_at,
    };
    match &stored.event {
        Event::UserProvisioned { resource, .. } => Some(UserRowChange::Insert(row(resource))),
        Event::UserReplaced { resource, .. } | Event::UserPatched { resource, .. } => {
            Some(UserRowChange::Update(row(resource)))
        }
        Event::UserDeactivated {} | Event::UserReactivated {} => Some(UserRowChange::Touch {
            version: stored.stream_version,
            updated_at: stored.recorded_at,
        }),
        Event::UserDeleted {} => Some(UserRowChange::Delete),
        _ => None,
    }
}

/// Applies a change to an in-memory row, exactly as the projector's SQL does.
pub fn apply_change(row: Option<UserRow>, change: UserRowChange) -> Option<UserRow> {
    match (row, change) {
        (_, UserRowChange::Insert(new)) => Some(new),
        (Some(old), UserRowChange::Update(new)) => Some(UserRow {
            created_at: old.created_at,
            ..new
        }),
        (
            Some(old),
            UserRowChange::Touch {
                version,
                updated_at,
            },
        ) => Some(UserRow {
            version,
            updated_at,
            ..old
        }),
        (_, UserRowChange::Delete) | (None, _) => None,
    }
}

/// The users table, keyed by (organisation, user).
pub type UserTable = BTreeMap<(Uuid, Uuid), UserRow>;

/// Folds one event into an in-memory users table; returns the key of the
/// row it concerned, if any.
pub fn fold_event(rows: &mut UserTable, stored: &StoredEvent) -> Option<(Uuid, Uuid)> {
    let change = user_row_change(stored)?;
    let key = (stored.org_id, stored.stream_id);
    if let Some(row) = apply_change(rows.remove(&key), change) {
        rows.insert(key, row);
    }
    Some(key)
}

/// Folds a log (in position order) into the users table it implies.
pub fn fold_users<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> UserTable {
    let mut rows = UserTable::new();
    for stored in events {
        fold_event(&mut rows, stored);
    }
    rows
}

fn string_attribute(resource: &Value, name: &str) -> Option<String> {
    attribute(resource, name)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(position: i64, version: i64, event: Event) -> StoredEvent {
        StoredEvent {
            position,
            org_id: Uuid::nil(),
            stream_id: Uuid::nil(),
            stream_version: version,
            recorded_at: OffsetDateTime::from_unix_timestamp(position).unwrap(),
            event,
        }
    }

    #[test]
    fn a_patched_user_keeps_its_creation_time_and_takes_the_new_version() {
        let log = [
            stored(
                1,
                1,
                Event::UserProvisioned {
                    resource: json!({"userName": "a"}),
                    password_hash: None,
                },
            ),
            stored(
                2,
                2,
                Event::UserPatched {
                    operations: json!([]),
                    resource: json!({"userName": "b", "active": false}),
                    password_hash: None,
                },
            ),
            stored(3, 3, Event::UserDeactivated {}),
        ];
        let rows = fold_users(&log);
        let row = &rows[&(Uuid::nil(), Uuid::nil())];
        assert_eq!(
            (row.user_name.as_str(), row.active, row.version),
            ("b", false, 3)
        );
        assert_eq!(row.created_at, log[0].recorded_at);
        assert_eq!(row.updated_at, log[2].recorded_at);
    }

    #[test]
    fn a_deleted_user_has_no_row() {
        let log = [
            stored(
                1,
                1,
                Event::UserProvisioned {
                    resource: json!({"userName": "a"}),
                    password_hash: None,
                },
            ),
            stored(2, 2, Event::UserDeleted {}),
        ];
        assert!(fold_users(&log).is_empty());
    }
}
