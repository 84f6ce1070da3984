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
//! behind, or runs in another process, reads the log as before. The linker
//! takes the same events from a store of its own.
//!
//! An event kept here holds the personal values its person had when it was
//! appended. A batch that erases someone therefore keeps nothing and makes
//! every store forget what it held: what was not taken yet is read from the
//! log, erased, as it would have been without this store. Another process's
//! erasures are not heard of here: a reader looks them up before it uses a
//! run it took ([`crate::still_in_clear`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::erasable::Opened;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use domain::{Event, StoredEvent};

use crate::log::keys::KeyId;
use crate::{LogRow, StoreError};

/// Events a store keeps at most, unless made with another bound: a few of
/// the relay's rounds.
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
    /// The keys of the people whose values the payload holds in clear: a
    /// reader that takes it later than it was opened must find them still
    /// live ([`crate::keys_live`]), or read it again. Named for what the
    /// appender keeps; empty for a row opened from the log
    /// ([`OpenedEvent::from_row`]), which its reader uses at once.
    pub in_clear: Vec<KeyId>,
}

impl OpenedEvent {
    /// A log row, opened now, for a reader that uses it at once (the relay
    /// publishing it): its `in_clear` stays empty. A payload that does not
    /// open stays as stored (sealed): its reader refuses it as it would
    /// refuse the row.
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
            in_clear: Vec::new(),
        }
    }

    /// The domain event it carries.
    pub fn to_stored(&self) -> Result<StoredEvent, StoreError> {
        Ok(StoredEvent {
            position: self.position,
            org_id: self.org_id,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            recorded_at: self.recorded_at,
            event: Event::from_stored(&self.event_type, self.schema_version, self.payload.get())?,
        })
    }
}

fn stored_json(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).expect("the log holds valid JSON")
}

/// The handle the appender keeps events in and a reader (the relay, the
/// linker) takes them from; clones share one store.
///
/// A batch's events are kept just before its commit, as pending, and
/// settled by its outcome: a reader that finds the next position pending
/// waits for the commit rather than read the log (the commit's notification
/// reaches the relay, and the log head the linker, before the appender
/// hears back); a commit that fails takes them away.
#[derive(Debug, Clone)]
pub struct RecentAppends {
    kept: Arc<Mutex<Kept>>,
    /// Woken when a pending batch settles.
    settled: Arc<Notify>,
    /// The most events it keeps; the oldest go past it.
    bound: usize,
}

#[derive(Debug, Default)]
struct Kept {
    events: VecDeque<Arc<OpenedEvent>>,
    /// The first position of the batch whose commit is under way: it and
    /// every later event are not committed yet.
    pending_from: Option<i64>,
}

/// What a reader finds after a position.
enum Found {
    /// The committed run that follows it (at most the limit asked).
    Run(Vec<Arc<OpenedEvent>>),
    /// The next position is in a batch whose commit is under way.
    Pending,
    /// The next position is not here: read the log.
    Missing,
}

/// How long a reader waits for a pending commit before it reads the log.
const PENDING_WAIT: Duration = Duration::from_secs(1);

impl Default for RecentAppends {
    fn default() -> Self {
        RecentAppends::keeping(KEPT)
    }
}

impl RecentAppends {
    pub fn new() -> RecentAppends {
        RecentAppends::default()
    }

    /// A store that keeps at most `bound` events.
    pub fn keeping(bound: usize) -> RecentAppends {
        RecentAppends {
            kept: Arc::default(),
            settled: Arc::default(),
            bound,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().expect("the recent appends lock")
    }

    /// Keeps a batch's events, in position order, as pending until
    /// [`RecentAppends::settle`]; the oldest go past its bound.
    pub(crate) fn hold(&self, batch: &[Arc<OpenedEvent>]) {
        let Some(first) = batch.first() else {
            return;
        };
        let mut kept = self.lock();
        kept.pending_from.get_or_insert(first.position);
        kept.events.extend(batch.iter().cloned());
        let excess = kept.events.len().saturating_sub(self.bound);
        kept.events.drain(..excess);
    }

    /// The pending batch committed, or (`committed` false) did not, or may
    /// not have: its events are then taken away, and read from the log if
    /// they are there.
    pub(crate) fn settle(&self, committed: bool) {
        {
            let mut kept = self.lock();
            if let Some(first) = kept.pending_from.take()
                && !committed
            {
                let keep = kept.events.partition_point(|event| event.position < first);
                kept.events.truncate(keep);
            }
        }
        self.settled.notify_waiters();
    }

    /// Forgets every event kept: someone was erased, and what these hold of
    /// them must now be read from the log.
    pub(crate) fn forget_all(&self) {
        let mut kept = self.lock();
        kept.events.clear();
        kept.pending_from = None;
        drop(kept);
        self.settled.notify_waiters();
    }

    /// Takes the run of committed events that follows `position` without a
    /// gap, at most `limit`, and forgets every event up to `position`.
    /// Waits (a moment at most) while the next position's commit is under
    /// way. Empty when the next position is not here: read the log.
    pub async fn take_after(&self, position: i64, limit: usize) -> Vec<Arc<OpenedEvent>> {
        self.take_counting_after(position, limit, &|_| true).await
    }

    /// [`RecentAppends::take_after`], counting towards `limit` only the
    /// events `counts` names: a reader that passes over most events (the
    /// linker, over a group's members) takes a long run at once.
    pub async fn take_counting_after(
        &self,
        position: i64,
        limit: usize,
        counts: &(dyn Fn(&OpenedEvent) -> bool + Sync),
    ) -> Vec<Arc<OpenedEvent>> {
        let deadline = tokio::time::Instant::now() + PENDING_WAIT;
        loop {
            // Registered before looking, so that a settle in between wakes it.
            let settled = self.settled.notified();
            match self.find_after(position, limit, counts) {
                Found::Run(run) => return run,
                Found::Missing => return Vec::new(),
                Found::Pending => {
                    if tokio::time::timeout_at(deadline, settled).await.is_err() {
                        return Vec::new();
                    }
                }
            }
        }
    }

    fn find_after(
        &self,
        position: i64,
        limit: usize,
        counts: &dyn Fn(&OpenedEvent) -> bool,
    ) -> Found {
        let mut kept = self.lock();
        let published = kept
            .events
            .partition_point(|event| event.position <= position);
        kept.events.drain(..published);
        let committed_below = kept.pending_from.unwrap_or(i64::MAX);
        match kept.events.front() {
            Some(next) if next.position == position + 1 && next.position >= committed_below => {
                return Found::Pending;
            }
            Some(next) if next.position == position + 1 => {}
            _ => return Found::Missing,
        }
        let (mut next, mut counted) = (position + 1, 0);
        let run = (kept.events.iter())
            .take_while(|event| {
                let follows = event.position == next && event.position < committed_below;
                next += 1;
                if follows && counts(event) {
                    counted += 1;
                }
                follows && counted <= limit
            })
            .count();
        Found::Run(kept.events.drain(..run).collect())
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
            in_clear: Vec::new(),
        }
    }

    fn events(positions: std::ops::RangeInclusive<i64>) -> Vec<Arc<OpenedEvent>> {
        positions
            .map(|position| Arc::new(event(position)))
            .collect()
    }

    fn positions(events: &[Arc<OpenedEvent>]) -> Vec<i64> {
        events.iter().map(|event| event.position).collect()
    }

    /// Keeps a batch that commits.
    fn commit(recent: &RecentAppends, batch: std::ops::RangeInclusive<i64>) {
        recent.hold(&events(batch));
        recent.settle(true);
    }

    #[tokio::test]
    async fn only_a_run_right_after_what_was_published_is_taken() {
        let recent = RecentAppends::new();
        commit(&recent, 3..=5);
        commit(&recent, 8..=9);
        // 1 and 2 are another process's: the log has them, not this store.
        assert!(recent.take_after(0, 100).await.is_empty());
        assert_eq!(positions(&recent.take_after(2, 2).await), [3, 4]);
        assert_eq!(positions(&recent.take_after(4, 100).await), [5]);
        // 6 and 7 are not here; read from the log, they move the relay on.
        assert!(recent.take_after(5, 100).await.is_empty());
        assert_eq!(positions(&recent.take_after(7, 100).await), [8, 9]);
        assert!(recent.take_after(9, 100).await.is_empty());
    }

    #[tokio::test]
    async fn what_is_kept_is_bounded_and_the_oldest_go() {
        let recent = RecentAppends::new();
        commit(&recent, 1..=(KEPT as i64 + 10));
        assert!(recent.take_after(0, 100).await.is_empty());
        assert_eq!(positions(&recent.take_after(10, 2).await), [11, 12]);
    }

    #[tokio::test]
    async fn only_the_events_a_reader_counts_count_towards_its_limit() {
        let recent = RecentAppends::new();
        commit(&recent, 1..=10);
        let even = |event: &OpenedEvent| event.position % 2 == 0;
        // Two even positions, and the odd ones up to the third even one.
        assert_eq!(
            positions(&recent.take_counting_after(0, 2, &even).await),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(
            positions(&recent.take_counting_after(5, 100, &even).await),
            [6, 7, 8, 9, 10]
        );
    }

    #[tokio::test]
    async fn after_an_erasure_nothing_kept_is_taken() {
        let recent = RecentAppends::new();
        commit(&recent, 1..=3);
        recent.forget_all();
        assert!(recent.take_after(0, 100).await.is_empty());
    }

    #[tokio::test]
    async fn a_reader_waits_for_a_pending_commit_and_takes_it_once_committed() {
        let recent = RecentAppends::new();
        commit(&recent, 1..=2);
        recent.hold(&events(3..=4));
        // The committed run stops where the pending batch starts.
        assert_eq!(positions(&recent.take_after(0, 100).await), [1, 2]);
        let reader = tokio::spawn({
            let recent = recent.clone();
            async move { recent.take_after(2, 100).await }
        });
        tokio::task::yield_now().await;
        recent.settle(true);
        assert_eq!(positions(&reader.await.unwrap()), [3, 4]);
    }

    #[tokio::test]
    async fn a_failed_commit_takes_its_events_away() {
        let recent = RecentAppends::new();
        commit(&recent, 1..=2);
        recent.hold(&events(3..=4));
        let reader = tokio::spawn({
            let recent = recent.clone();
            async move { recent.take_after(2, 100).await }
        });
        tokio::task::yield_now().await;
        recent.settle(false);
        assert!(reader.await.unwrap().is_empty());
        // The next batch takes the same positions; the reader finds it.
        commit(&recent, 3..=3);
        assert_eq!(positions(&recent.take_after(2, 100).await), [3]);
    }

    #[tokio::test]
    async fn a_reader_waits_a_moment_at_most_for_a_commit() {
        let recent = RecentAppends::new();
        recent.hold(&events(1..=1));
        let waited = tokio::time::Instant::now();
        // A commit that never settles (an appender stuck) leaves the reader
        // to the log after the wait.
        assert!(recent.take_after(0, 100).await.is_empty());
        assert!(waited.elapsed() >= PENDING_WAIT);
    }
}
