//! One writer at a time per stream, within this process.
//!
//! A write reads its stream, decides, and appends at the version it read. Two
//! writes to one resource at once are decided on the same version and one of
//! them must decide again; with dozens at once some lose every race. So
//! writes to one stream queue here (first come, first served) and each one
//! decides on the state its predecessor left. Several API processes can still
//! race each other; the appender's version check keeps that correct and the
//! write loop decides again, now against a handful of rivals at most.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use scim::ScimError;
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use crate::ApiError;

/// How many entries the table holds before it sweeps out unused ones.
const FIRST_SWEEP: usize = 1_024;

type StreamMutex = tokio::sync::Mutex<()>;

/// The per-stream queues of this process.
#[derive(Default)]
pub struct StreamLocks {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    locks: HashMap<(Uuid, Uuid), Weak<StreamMutex>>,
    sweep_at: usize,
}

/// The right to write one stream; the next writer goes when it drops.
pub struct StreamTurn {
    _guard: OwnedMutexGuard<()>,
}

impl StreamLocks {
    /// Waits for this stream's turn, at most `within`; past that the
    /// resource is too busy: 503 with `Retry-After`, never a lost race.
    pub async fn turn(
        &self,
        org_id: Uuid,
        stream_id: Uuid,
        within: Duration,
    ) -> Result<StreamTurn, ApiError> {
        let mutex = self.mutex((org_id, stream_id));
        match tokio::time::timeout(within, mutex.lock_owned()).await {
            Ok(guard) => Ok(StreamTurn { _guard: guard }),
            Err(_) => Err(busy()),
        }
    }

    /// [`StreamLocks::turn`] for a write to an existing resource; a new one
    /// (a fresh id nobody else can know yet) needs none.
    pub async fn turn_unless_new(
        &self,
        is_new: bool,
        org_id: Uuid,
        stream_id: Uuid,
        within: Duration,
    ) -> Result<Option<StreamTurn>, ApiError> {
        if is_new {
            return Ok(None);
        }
        self.turn(org_id, stream_id, within).await.map(Some)
    }

    fn mutex(&self, key: (Uuid, Uuid)) -> Arc<StreamMutex> {
        let mut table = self
            .table
            .lock()
            .expect("the stream table is never poisoned");
        if let Some(mutex) = table.locks.get(&key).and_then(Weak::upgrade) {
            return mutex;
        }
        let mutex = Arc::new(StreamMutex::new(()));
        table.locks.insert(key, Arc::downgrade(&mutex));
        if table.locks.len() > table.sweep_at.max(FIRST_SWEEP) {
            // Amortised: each sweep at least halves what the next one visits.
            table.locks.retain(|_, lock| lock.strong_count() > 0);
            table.sweep_at = 2 * table.locks.len();
        }
        mutex
    }

    /// Streams with a table entry (held, awaited, or not yet swept).
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.table.lock().unwrap().locks.len()
    }
}

/// The answer when a resource has more concurrent writers than it can serve
/// in time, or when its writes keep losing to another process's.
pub fn busy() -> ApiError {
    ApiError::Scim(ScimError {
        status: 503,
        scim_type: None,
        detail: "this resource has more concurrent writes than rollcall can apply in time; \
                 nothing of this request was recorded: retry it"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writers_of_one_stream_take_turns_and_others_do_not_wait() {
        let locks = StreamLocks::default();
        let (org, user, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let first = locks.turn(org, user, Duration::from_secs(1)).await.unwrap();
        let waiting = locks.turn(org, user, Duration::from_millis(50)).await;
        assert!(
            waiting.is_err(),
            "a second writer of the stream waits its turn"
        );
        locks
            .turn(org, other, Duration::from_millis(50))
            .await
            .expect("another stream is free");
        drop(first);
        locks
            .turn(org, user, Duration::from_millis(50))
            .await
            .expect("the stream is free again");
    }

    #[tokio::test]
    async fn the_table_forgets_streams_nobody_writes() {
        let locks = StreamLocks::default();
        let org = Uuid::new_v4();
        for _ in 0..10 * FIRST_SWEEP {
            let _turn = locks
                .turn(org, Uuid::new_v4(), Duration::from_secs(1))
                .await
                .unwrap();
        }
        assert!(locks.entries() <= FIRST_SWEEP + 1, "{}", locks.entries());
    }
}
