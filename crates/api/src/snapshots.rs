//! What user and group writes are decided on, without reading a stream's
//! whole history each time: a user's whole state, a group's attributes.
//!
//! A write folds the user's events into its current state. Folding them all
//! made every write cost more as the history grew (2,500 PATCHes on one user
//! doubled the p50; 500 PATCHes of a 100 KB user made each write 4× slower).
//! So this process keeps the state each stream had at some version, and a
//! write reads only the events after that version from the log (usually
//! none; by the unique `(org_id, stream_id, stream_version)` index). The log
//! stays the source of truth: a snapshot is a prefix of the fold that the
//! same `evolve` produced, so a stale or missing one only costs a longer read,
//! never a different state. Nothing is persisted, so there is nothing for
//! `rollcall verify` to check beyond the log itself.

use std::collections::HashMap;
use std::sync::Mutex;

use domain::StoredEvent;
use domain::event::Event;
use domain::group::GroupState;
use domain::user::{self, UserState};
use time::OffsetDateTime;
use uuid::Uuid;

/// The most bytes of resources kept (estimated from their JSON text): a
/// bound on memory whatever the users' sizes.
const BUDGET_BYTES: usize = 64 << 20;
/// A user larger than this is not kept: it would crowd out many others.
const LARGEST_BYTES: usize = 4 << 20;

/// A user's state at a version, with the times its response reports.
#[derive(Debug, Clone, Default)]
pub struct UserSnapshot {
    pub state: UserState,
    /// When the user was provisioned.
    pub created: Option<OffsetDateTime>,
    /// When its last event was recorded.
    pub last_recorded: Option<OffsetDateTime>,
}

impl UserSnapshot {
    /// This snapshot with `events` (the stream's next events) folded in.
    pub fn advance(mut self, events: &[StoredEvent]) -> UserSnapshot {
        for stored in events {
            if matches!(stored.event, Event::UserProvisioned { .. }) {
                self.created = Some(stored.recorded_at);
            }
            self.last_recorded = Some(stored.recorded_at);
            self.state = user::evolve(self.state, &stored.event);
        }
        self
    }
}

/// A state a stream had at a version, as kept here.
pub trait Snapshot: Clone + Default {
    /// The stream version the state is the fold of.
    fn version(&self) -> i64;
    /// The resource it holds, to estimate its size.
    fn resource(&self) -> Option<&serde_json::Value>;
}

impl Snapshot for UserSnapshot {
    fn version(&self) -> i64 {
        self.state.version
    }
    fn resource(&self) -> Option<&serde_json::Value> {
        self.state.resource.as_ref()
    }
}

/// A group's attributes (its member events are never folded here).
impl Snapshot for GroupState {
    fn version(&self) -> i64 {
        self.version
    }
    fn resource(&self) -> Option<&serde_json::Value> {
        self.resource.as_ref()
    }
}

/// The snapshots of one kind this process keeps, within [`BUDGET_BYTES`].
pub struct Snapshots<S> {
    table: Mutex<Table<S>>,
}

impl<S> Default for Snapshots<S> {
    fn default() -> Self {
        Snapshots {
            table: Mutex::new(Table {
                snapshots: HashMap::new(),
                bytes: 0,
            }),
        }
    }
}

struct Table<S> {
    snapshots: HashMap<(Uuid, Uuid), (S, usize)>,
    bytes: usize,
}

impl<S: Snapshot> Snapshots<S> {
    /// The latest snapshot of a stream, or an empty one at version 0.
    pub fn get(&self, org_id: Uuid, stream_id: Uuid) -> S {
        let table = self.table.lock().expect("never poisoned");
        table
            .snapshots
            .get(&(org_id, stream_id))
            .map(|(snapshot, _)| snapshot.clone())
            .unwrap_or_default()
    }

    /// Keeps `snapshot` unless a newer one is kept already.
    pub fn put(&self, org_id: Uuid, stream_id: Uuid, snapshot: S) {
        let bytes = snapshot.resource().map_or(0, json_bytes_estimate);
        let mut table = self.table.lock().expect("never poisoned");
        let key = (org_id, stream_id);
        let newer_kept = table
            .snapshots
            .get(&key)
            .is_some_and(|(kept, _)| kept.version() >= snapshot.version());
        if newer_kept {
            return;
        }
        if let Some((_, old)) = table.snapshots.remove(&key) {
            table.bytes -= old;
        }
        if bytes > LARGEST_BYTES {
            return;
        }
        while table.bytes + bytes > BUDGET_BYTES {
            let Some(&evicted) = table.snapshots.keys().next() else {
                break;
            };
            if let Some((_, freed)) = table.snapshots.remove(&evicted) {
                table.bytes -= freed;
            }
        }
        table.bytes += bytes;
        table.snapshots.insert(key, (snapshot, bytes));
    }
}

/// About how many bytes `value` takes as JSON text: its strings and keys
/// with their quotes (escapes uncounted), its punctuation, numbers at
/// their longest. Counted rather than written out: every user write keeps a
/// snapshot, and serialising each resource only to measure it cost the
/// write path more than the measure is worth (it bounds memory, it need
/// not be exact).
fn json_bytes_estimate(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 20,
        Value::String(text) => text.len() + 2,
        Value::Array(items) => {
            2 + items
                .iter()
                .map(|item| json_bytes_estimate(item) + 1)
                .sum::<usize>()
        }
        Value::Object(fields) => {
            2 + fields
                .iter()
                .map(|(key, field)| key.len() + 4 + json_bytes_estimate(field))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provisioned(version: i64) -> StoredEvent {
        StoredEvent {
            position: version,
            org_id: Uuid::nil(),
            stream_id: Uuid::nil(),
            stream_version: version,
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            event: Event::UserProvisioned {
                resource: json!({"userName": "a", "pad": "x".repeat(1 << 20)}),
                password_hash: None,
            },
        }
    }

    #[test]
    fn a_snapshot_is_the_fold_of_the_events_before_it() {
        let events = [provisioned(1)];
        let folded = UserSnapshot::default().advance(&events);
        assert_eq!(folded.state.version, 1);
        assert_eq!(folded.created, Some(OffsetDateTime::UNIX_EPOCH));
        assert_eq!(
            folded.state,
            events
                .iter()
                .map(|stored| &stored.event)
                .fold(UserState::default(), user::evolve)
        );
    }

    #[test]
    fn a_resource_is_estimated_at_no_less_than_its_json_text() {
        let resource = json!({
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "primary": true, "type": "work"}],
            "active": false,
            "x-count": 12345678901234_i64,
            "nothing": null,
        });
        let text = resource.to_string().len();
        let estimate = json_bytes_estimate(&resource);
        assert!(estimate >= text, "{estimate} < {text}");
        assert!(estimate <= text * 2, "{estimate} > 2 × {text}");
    }

    #[test]
    fn older_snapshots_never_replace_newer_ones_and_memory_stays_in_budget() {
        let snapshots = Snapshots::<UserSnapshot>::default();
        let org = Uuid::new_v4();
        let user = Uuid::new_v4();
        let newer = UserSnapshot::default().advance(&[provisioned(1), provisioned(2)]);
        snapshots.put(org, user, newer);
        snapshots.put(
            org,
            user,
            UserSnapshot::default().advance(&[provisioned(1)]),
        );
        assert_eq!(snapshots.get(org, user).state.version, 2);

        for _ in 0..200 {
            let big = UserSnapshot::default().advance(&[provisioned(1)]);
            snapshots.put(org, Uuid::new_v4(), big);
        }
        let table = snapshots.table.lock().unwrap();
        assert!(table.bytes <= BUDGET_BYTES, "{}", table.bytes);
        assert!(table.snapshots.len() < 200);
    }
}
