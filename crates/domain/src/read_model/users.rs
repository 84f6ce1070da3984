//! How events change the `scim_users` table.

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ReadRow, RowChange, Table, fold_row};
use crate::erasable::{ERASED, erased_user_resource};
use crate::resource::string_attribute;
use crate::user::is_active;
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

impl ReadRow for UserRow {
    fn created_like(self, old: &UserRow) -> UserRow {
        UserRow {
            created_at: old.created_at,
            ..self
        }
    }

    fn touched(self, version: i64, updated_at: OffsetDateTime) -> UserRow {
        UserRow {
            version,
            updated_at,
            ..self
        }
    }
}

/// What one event does to a user's row.
pub type UserRowChange = RowChange<UserRow>;

/// The users table, keyed by (organization, user).
pub type UserTable = Table<UserRow>;

/// The change an event makes to the users table, if it concerns a user.
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
        Event::UserProvisioned { resource, .. } => Some(RowChange::Insert(row(resource))),
        Event::UserReplaced { resource, .. } | Event::UserPatched { resource, .. } => {
            Some(RowChange::Update(row(resource)))
        }
        Event::UserDeactivated {} | Event::UserReactivated {} => Some(RowChange::Touch {
            version: stored.stream_version,
            updated_at: stored.recorded_at,
        }),
        Event::UserDeleted {} => Some(RowChange::Delete),
        _ => None,
    }
}

/// Whether the event erases its stream's person: the user's row, if the
/// stream is a user's, becomes [`erased_row`].
pub fn is_erasure(stored: &StoredEvent) -> bool {
    matches!(stored.event, Event::Erased { .. })
}

/// A user's row once the user is erased by the event at `version`: every
/// personal value [`ERASED`] (the userName, an externalId, each personal
/// attribute of the resource), `active` and the times as they were.
pub fn erased_row(row: UserRow, version: i64, updated_at: OffsetDateTime) -> UserRow {
    UserRow {
        user_name: ERASED.into(),
        external_id: row.external_id.map(|_| ERASED.into()),
        resource: erased_user_resource(&row.resource),
        version,
        updated_at,
        ..row
    }
}

/// Folds one event into an in-memory users table; returns the key of the
/// row it concerned, if any.
pub fn fold_user_event(rows: &mut UserTable, stored: &StoredEvent) -> Option<(Uuid, Uuid)> {
    let key = (stored.org_id, stored.stream_id);
    if is_erasure(stored) {
        let row = rows.remove(&key)?;
        rows.insert(
            key,
            erased_row(row, stored.stream_version, stored.recorded_at),
        );
        return Some(key);
    }
    let change = user_row_change(stored)?;
    fold_row(rows, key, change);
    Some(key)
}

/// Folds a log (in position order) into the users table it implies.
pub fn fold_users<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> UserTable {
    let mut rows = UserTable::new();
    for stored in events {
        fold_user_event(&mut rows, stored);
    }
    rows
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
    fn an_erased_user_keeps_its_row_with_its_personal_values_erased() {
        let log = [
            stored(
                1,
                1,
                Event::UserProvisioned {
                    resource: json!({"userName": "a@b.c", "externalId": "x", "active": false,
                                     "emails": [{"value": "a@b.c"}]}),
                    password_hash: None,
                },
            ),
            stored(2, 2, Event::Erased { erased_by: None }),
        ];
        let rows = fold_users(&log);
        let row = &rows[&(Uuid::nil(), Uuid::nil())];
        assert_eq!(row.user_name, ERASED);
        assert_eq!(row.external_id.as_deref(), Some(ERASED));
        assert_eq!(
            row.resource,
            json!({"userName": ERASED, "externalId": ERASED, "active": false, "emails": ERASED})
        );
        assert_eq!((row.version, row.active), (2, false));
        assert_eq!(row.created_at, log[0].recorded_at);
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
