//! The one write loop of every state-changing SCIM request, users and groups
//! alike: take the stream's turn, read the state to decide on, decide,
//! append with the version decided on and the unique values the decision
//! claims and releases, and decide again when another write won the race.
//! The answer does not wait for the projector: the token's later reads wait
//! for its writes (`last_writes`); a group write, which answers from the
//! read tables, waits for its own.
//!
//! What differs between resources (how the state is read, how a command is
//! decided, whether its events commute) is a [`StreamWrite`]:
//! `routes/users/write.rs` and `routes/groups/write.rs`. What the loop reads
//! and appends goes through a [`WriteStore`]: PostgreSQL in service
//! ([`postgres`]), memory in this module's unit tests, so the loop's rules are
//! tested without HTTP or a database.

mod postgres;
#[cfg(test)]
mod tests;

use std::time::Duration;

use domain::group::{GroupState, MemberFacts};
use domain::resource::UniqueKey;
use domain::{Event, RequestMeta, StoredEvent};
use store::{AppendError, AppendRequest, Appended};
use uuid::Uuid;

use crate::snapshots::{Snapshots, UserSnapshot};
use crate::stream_lock::StreamLocks;
use crate::{ApiError, ApiMetrics, AppState};

pub(crate) use postgres::wait_for_projection;

/// How often a write is decided again after losing its stream to another.
const MAX_ATTEMPTS: u32 = 32;
/// How long a write waits for its turn behind other writes of its resource.
const STREAM_TURN_WAIT: Duration = Duration::from_secs(5);

/// What the write loop reads and appends.
pub(crate) trait WriteStore {
    /// A stream's events after `version`, oldest first.
    async fn read_stream_after(
        &self,
        org_id: Uuid,
        stream_id: Uuid,
        version: i64,
    ) -> Result<Vec<StoredEvent>, ApiError>;

    /// A group's attribute events after `version`, and the group's version
    /// (member events included), read together.
    async fn read_group_attributes(
        &self,
        org_id: Uuid,
        group_id: Uuid,
        version: i64,
    ) -> Result<(Vec<StoredEvent>, i64), ApiError>;

    /// Whether the read tables hold the group at `version` or later, waiting
    /// (bounded, as a read waits) for the projector when they do not yet.
    async fn group_projected_through(
        &self,
        org_id: Uuid,
        group_id: Uuid,
        version: i64,
    ) -> Result<bool, ApiError>;

    /// What the read tables say of the members a group decision names
    /// (of every current member when `every`).
    async fn member_facts(
        &self,
        org_id: Uuid,
        group_id: Uuid,
        named: &[Uuid],
        every: bool,
    ) -> Result<MemberFacts, ApiError>;

    /// Appends; the answer does not wait for the projector.
    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError>;

    /// Refuses (and records the refusal of) deactivating or deleting the
    /// SCIM user `user_id` when it is the organization's last active owner.
    async fn keep_an_owner(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), ApiError>;
}

/// What a write works with besides its command.
pub(crate) struct Writes<'a, S> {
    pub store: &'a S,
    /// Writes to one stream take turns here.
    pub turns: &'a StreamLocks,
    pub user_snapshots: &'a Snapshots<UserSnapshot>,
    pub group_snapshots: &'a Snapshots<GroupState>,
    pub metrics: &'a ApiMetrics,
}

impl AppState {
    /// The write path over this process's database, turns and snapshots.
    pub(crate) fn writes(&self) -> Writes<'_, AppState> {
        Writes {
            store: self,
            turns: &self.stream_locks,
            user_snapshots: &self.user_snapshots,
            group_snapshots: &self.group_snapshots,
            metrics: &self.metrics,
        }
    }
}

/// One write of one kind of resource, as the loop drives it.
pub(crate) trait StreamWrite {
    /// What the write is decided on.
    type State: Clone + Default;

    /// Whether the write starts a new stream. A fresh id nobody else can
    /// know yet needs no turn and no read; a lost race is not retried, since
    /// another write holds the id.
    fn is_new(&self) -> bool;

    /// Whether the events hold at whatever version the stream has reached,
    /// so that they are appended without the version check.
    fn commutes(&self) -> bool;

    /// The state to decide on, read afresh on every attempt.
    async fn read<S: WriteStore>(
        &self,
        writes: &Writes<'_, S>,
        org_id: Uuid,
        stream_id: Uuid,
    ) -> Result<Self::State, ApiError>;

    /// The events of the command on `state`, or why it may not happen.
    async fn decide<S: WriteStore>(
        &self,
        writes: &Writes<'_, S>,
        org_id: Uuid,
        stream_id: Uuid,
        state: &Self::State,
    ) -> Result<Vec<Event>, ApiError>;

    /// The state advanced by one of its events.
    fn evolve(state: Self::State, event: &Event) -> Self::State;

    /// The stream version `state` is the fold of.
    fn version(state: &Self::State) -> i64;

    /// The values of `state` that must be unique in its organization.
    fn unique_keys(state: &Self::State) -> Vec<UniqueKey>;

    /// The resource `state` holds, as its client sent it.
    fn resource(state: &Self::State) -> Option<&serde_json::Value>;
}

/// What a write left.
#[derive(Debug, Clone)]
pub(crate) struct Written<T> {
    /// The state after the write: the state it was decided on when it
    /// appended nothing.
    pub state: T,
    /// The append; `None` when the request changed nothing.
    pub appended: Option<Appended>,
}

/// Runs a write to completion on stream `stream_id` of `org_id`; its events
/// carry `meta`.
pub(crate) async fn write<W: StreamWrite, S: WriteStore>(
    writes: &Writes<'_, S>,
    org_id: Uuid,
    stream_id: Uuid,
    meta: &RequestMeta,
    write: &W,
) -> Result<Written<W::State>, ApiError> {
    let is_new = write.is_new();
    let _turn = writes
        .turns
        .turn_unless_new(is_new, org_id, stream_id, STREAM_TURN_WAIT)
        .await?;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            writes.metrics.write_retries.inc();
            tokio::time::sleep(backoff(attempt)).await;
        }
        let before = if is_new {
            W::State::default()
        } else {
            write.read(writes, org_id, stream_id).await?
        };
        let events = write.decide(writes, org_id, stream_id, &before).await?;
        if events.is_empty() {
            return Ok(Written {
                state: before,
                appended: None,
            });
        }
        let after = events.iter().fold(before.clone(), W::evolve);
        let keys = domain::unique::key_changes(&W::unique_keys(&before), &W::unique_keys(&after));
        let appended = writes
            .store
            .append(AppendRequest {
                org_id,
                stream_id,
                expected_version: W::version(&before),
                commutes: write.commutes(),
                events,
                claims: keys.claims,
                releases: keys.releases,
                registrations: Vec::new(),
                meta: meta.clone(),
            })
            .await;
        match appended {
            Ok(appended) => {
                crate::request_id::note_appended(appended.last_position);
                return Ok(Written {
                    state: after,
                    appended: Some(appended),
                });
            }
            Err(AppendError::VersionConflict) if !is_new => continue,
            Err(AppendError::Taken(key)) => {
                let sent = W::resource(&after).and_then(|resource| key.value_in(resource));
                return Err(ApiError::Scim(crate::error::taken(&key, sent)));
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(AppendError::VersionConflict.into())
}

/// The pause before deciding again. Writes of one stream take turns in this
/// process, so a lost race means another process wrote it: pausing a little
/// longer each time (1 ms, 2 ms, ... at most 10 ms) spreads the rivals out
/// and gives the projector a moment to fold what won, which group writes
/// judge members by.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(u64::from(attempt.min(10)))
}
