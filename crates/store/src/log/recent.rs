//! The events this process's appender has just committed, opened, for the
//! relay to publish without reading them back from the log.
//!
//! Reading a round back cost the relay a query, a query for the keys that
//! open its personal values, parsing each payload and opening every value;
//! the appender held each payload in clear a moment before. The log stays
//! the source of truth: the relay takes from here only a run that starts
//! right after what it has published (a committed position means every
//! earlier one is committed too: positions are taken under the `log_head`
//! lock), and reads the log whenever the next position is not here — an
//! append of another process, a restart, a round it published and must
//! publish again. What is kept is bounded ([`KEPT`]): a relay that falls
//! behind, or runs in another process, reads the log as before.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use domain::erasable::Opened;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::LogRow;

/// Events kept at most: a few of the relay's rounds.
const KEPT: usize = 8_192;

/// An event as the bus carries it: its coordinates and its payload opened
/// (personal values in clear, or erased where the person's key is gone).
#[derive(Debug, Clone)]
pub struct OpenedEvent {
    pub position: i64,
    pub org_id: Uuid,
    pub stream_id: Uuid,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub recorded_at: OffsetDateTime,
    pub payload: Box<RawValue>,
}

impl OpenedEvent {
    /// A log row, opened. A payload that does not open stays as stored
    /// (sealed): its reader refuses it as it would refuse the row.
    pub fn from_row(row: &LogRow) -> OpenedEvent {
        let payload = match row.opened() {
            Ok(Opened::Opened(value)) => {
                serde_json::value::to_raw_value(&value).expect("JSON serializes")
            }
            Ok(Opened::AsStored(text)) => stored_json(text),
            Err(_) => stored_json(&row.payload),
        };
        OpenedEvent {
            position: row.position,
            org_id: row.org_id,
            stream_id: row.stream_id,
            stream_version: row.stream_version,
            event_type: row.event_type.clone(),
            schema_version: row.schema_version,
            recorded_at: row.recorded_at,
            payload,
        }
    }
}

fn stored_json(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).expect("the log holds valid JSON")
}

/// The handle the appender keeps committed events in and the relay takes
/// them from; clones share one store.
#[derive(Debug, Clone, Default)]
pub struct RecentAppends {
    events: Arc<Mutex<VecDeque<OpenedEvent>>>,
}

impl RecentAppends {
    pub fn new() -> RecentAppends {
        RecentAppends::default()
    }

    /// Keeps a committed batch's events, in position order; the oldest go
    /// past [`KEPT`].
    pub(crate) fn keep(&self, committed: Vec<OpenedEvent>) {
        let mut events = self.events.lock().expect("the recent appends lock");
        events.extend(committed);
        let excess = events.len().saturating_sub(KEPT);
        events.drain(..excess);
    }

    /// Takes the run of events that follows `position` without a gap, at
    /// most `limit`, and forgets every event up to `position`. Empty when
    /// the next position is not here: read the log.
    pub fn take_after(&self, position: i64, limit: usize) -> Vec<OpenedEvent> {
        let mut events = self.events.lock().expect("the recent appends lock");
        let published = events.partition_point(|event| event.position <= position);
        events.drain(..published);
        let mut next = position + 1;
        let run = events
            .iter()
            .take(limit)
            .take_while(|event| {
                let follows = event.position == next;
                next += 1;
                follows
            })
            .count();
        events.drain(..run).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: i64) -> OpenedEvent {
        OpenedEvent {
            position,
            org_id: Uuid::nil(),
            stream_id: Uuid::nil(),
            stream_version: 1,
            event_type: "UserDeleted".into(),
            schema_version: 1,
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            payload: stored_json(r#"{"type":"UserDeleted"}"#),
        }
    }

    fn positions(events: &[OpenedEvent]) -> Vec<i64> {
        events.iter().map(|event| event.position).collect()
    }

    #[test]
    fn only_a_run_right_after_what_was_published_is_taken() {
        let recent = RecentAppends::new();
        recent.keep((3..=5).map(event).collect());
        recent.keep((8..=9).map(event).collect());
        // 1 and 2 are another process's: the log has them, not this store.
        assert!(recent.take_after(0, 100).is_empty());
        assert_eq!(positions(&recent.take_after(2, 2)), [3, 4]);
        assert_eq!(positions(&recent.take_after(4, 100)), [5]);
        // 6 and 7 are not here; read from the log, they move the relay on.
        assert!(recent.take_after(5, 100).is_empty());
        assert_eq!(positions(&recent.take_after(7, 100)), [8, 9]);
        assert!(recent.take_after(9, 100).is_empty());
    }

    #[test]
    fn what_is_kept_is_bounded_and_the_oldest_go() {
        let recent = RecentAppends::new();
        let total = KEPT as i64 + 10;
        recent.keep((1..=total).map(event).collect());
        assert!(recent.take_after(0, 100).is_empty());
        assert_eq!(positions(&recent.take_after(10, 2)), [11, 12]);
    }
}
