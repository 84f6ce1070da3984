//! The write path shared by every state-changing SCIM request: load the
//! stream, decide, append with the version decided on, decide again when
//! another write won the race, then wait for the projector.

use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use domain::user::{self, UniqueKey, UserCommand, UserState};
use domain::{Event, RequestMeta};
use serde_json::Value;
use store::{AppendError, AppendRequest, Appended};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::record::{Tenant, request_meta};
use crate::snapshots::UserSnapshot;
use crate::{ApiError, AppState};

/// How often a write is decided again after losing its stream to another.
const MAX_ATTEMPTS: usize = 32;
/// How long a write waits for its turn behind other writes of its resource.
pub(crate) const STREAM_TURN_WAIT: Duration = Duration::from_secs(5);

/// The user after a write.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub user_id: Uuid,
    /// The resource now; `None` after a delete.
    pub resource: Option<Value>,
    pub version: i64,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    /// Whether events were appended (false when the request changed nothing).
    pub appended: bool,
}

/// Runs a user command to completion. `command` is called again for every
/// attempt, since each attempt decides on freshly read state.
pub async fn write_user(
    state: &AppState,
    request: &HttpRequest,
    tenant: Tenant,
    user_id: Uuid,
    success_status: u16,
    command: impl Fn() -> UserCommand,
) -> Result<WriteOutcome, ApiError> {
    let meta = request_meta(
        request,
        tenant.request_id,
        Some(tenant.token_id),
        success_status,
    );
    write_user_as(state, tenant, user_id, meta, command).await
}

/// [`write_user`] for a write that is one part of a request (a `/Bulk`
/// operation): the events carry `meta` as given.
pub async fn write_user_as(
    state: &AppState,
    tenant: Tenant,
    user_id: Uuid,
    meta: RequestMeta,
    command: impl Fn() -> UserCommand,
) -> Result<WriteOutcome, ApiError> {
    let is_new = matches!(command(), UserCommand::Provision { .. });
    let _turn = state
        .stream_locks
        .turn_unless_new(is_new, tenant.org_id, user_id, STREAM_TURN_WAIT)
        .await?;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            state.metrics.write_retries.inc();
        }
        let snapshot = if is_new {
            UserSnapshot::default()
        } else {
            let kept = state.user_snapshots.get(tenant.org_id, user_id);
            let newer =
                store::read_stream_after(&state.pool, tenant.org_id, user_id, kept.state.version)
                    .await?;
            state.metrics.write_events_read.inc_by(newer.len() as u64);
            kept.advance(&newer)
        };
        let before = &snapshot.state;
        let events = decide(before, command(), user_id).await?;
        if events.is_empty() {
            return Ok(outcome(user_id, &snapshot));
        }
        let after = events.iter().fold(before.clone(), user::evolve);
        let (claims, releases) = key_changes(before, &after);
        let appended = append_and_wait(
            state,
            AppendRequest {
                org_id: tenant.org_id,
                stream_id: user_id,
                expected_version: before.version,
                commutes: false,
                events,
                claims,
                releases,
                registrations: Vec::new(),
                meta: meta.clone(),
            },
        )
        .await;
        match appended {
            Ok(appended) => {
                let written = UserSnapshot {
                    state: after,
                    created: snapshot.created.or(Some(appended.recorded_at)),
                    last_recorded: Some(appended.recorded_at),
                };
                let answer = outcome(user_id, &written);
                state.user_snapshots.put(tenant.org_id, user_id, written);
                return Ok(WriteOutcome {
                    appended: true,
                    ..answer
                });
            }
            Err(AppendError::VersionConflict) if !is_new => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(AppendError::VersionConflict.into())
}

/// Operations in one PATCH past which deciding moves off the async workers.
const HEAVY_OPERATIONS: usize = 64;
/// Body size (bytes of JSON) past which deciding moves off the async workers.
const HEAVY_BYTES: usize = 64 << 10;

/// Decides a command; a large one on the blocking pool, so that one
/// request's PATCH of thousands of operations or of a huge resource never
/// holds an async worker (and every request queued behind it).
async fn decide(
    before: &UserState,
    command: UserCommand,
    user_id: Uuid,
) -> Result<Vec<Event>, ApiError> {
    if !is_heavy(&command) {
        return Ok(user::decide(before, command, user_id)?);
    }
    let before = before.clone();
    let decided = tokio::task::spawn_blocking(move || user::decide(&before, command, user_id))
        .await
        .map_err(|error| ApiError::Internal(format!("deciding a write failed: {error}")))?;
    Ok(decided?)
}

fn is_heavy(command: &UserCommand) -> bool {
    let body = match command {
        UserCommand::Patch { body, .. } => body,
        UserCommand::Provision { resource, .. } | UserCommand::Replace { resource, .. } => resource,
        UserCommand::Delete { .. } => return false,
    };
    let operations = body
        .as_object()
        .and_then(|fields| {
            fields
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case("Operations"))
        })
        .and_then(|(_, operations)| operations.as_array())
        .map_or(0, Vec::len);
    operations > HEAVY_OPERATIONS || json_size_exceeds(body, HEAVY_BYTES)
}

/// Whether `value` as JSON text is longer than `limit` bytes, counting only
/// as far as the limit.
fn json_size_exceeds(value: &serde_json::Value, limit: usize) -> bool {
    struct Budget(usize);
    impl std::io::Write for Budget {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 = self
                .0
                .checked_sub(bytes.len())
                .ok_or_else(|| std::io::Error::other("over budget"))?;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(Budget(limit), value).is_err()
}

/// Unique values the write takes and gives up.
fn key_changes(before: &UserState, after: &UserState) -> (Vec<UniqueKey>, Vec<UniqueKey>) {
    claims_and_releases(
        user::unique_keys(before.resource.as_ref()),
        user::unique_keys(after.resource.as_ref()),
    )
}

/// The unique values in `new` but not `old` (to claim) and in `old` but
/// not `new` (to release).
pub(crate) fn claims_and_releases(
    old: Vec<UniqueKey>,
    new: Vec<UniqueKey>,
) -> (Vec<UniqueKey>, Vec<UniqueKey>) {
    let claims = new
        .iter()
        .filter(|key| !old.contains(key))
        .cloned()
        .collect();
    let releases = old
        .iter()
        .filter(|key| !new.contains(key))
        .cloned()
        .collect();
    (claims, releases)
}

fn outcome(user_id: Uuid, snapshot: &UserSnapshot) -> WriteOutcome {
    let now = snapshot.last_recorded.unwrap_or(OffsetDateTime::UNIX_EPOCH);
    WriteOutcome {
        user_id,
        resource: snapshot.state.resource.clone(),
        version: snapshot.state.version,
        created: snapshot.created.unwrap_or(now),
        last_modified: now,
        appended: false,
    }
}

/// Appends, wakes the relay, and waits (bounded) for the projector to fold
/// the events: every write's last step.
pub(crate) async fn append_and_wait(
    state: &AppState,
    request: AppendRequest,
) -> Result<Appended, AppendError> {
    let token_id = request.meta.token_id;
    let appended = state.appender.append(request).await?;
    state.relay_wake.notify_one();
    let folded = wait_for_projection(state, appended.last_position).await;
    // Answered before the read tables hold it: the token's next requests
    // wait for it. A write they already hold needs no such wait.
    if let (false, Some(token_id)) = (folded, token_id) {
        state.last_writes.record(token_id, appended.last_position);
    }
    Ok(appended)
}

/// Waits until the read tables include `position`, at most the configured
/// time, and says whether they do. The write is durable either way; a token's
/// next request waits again for it (`last_writes::await_own_writes`).
pub(crate) async fn wait_for_projection(state: &AppState, position: i64) -> bool {
    let started = Instant::now();
    let mut projection = state.projection.clone();
    let reached = tokio::time::timeout(
        state.settings.read_your_writes_wait,
        projection.wait_for(|applied| *applied >= position),
    )
    .await;
    state
        .metrics
        .read_your_writes_wait
        .observe(started.elapsed().as_secs_f64());
    let reached = matches!(reached, Ok(Ok(_)));
    if !reached {
        state.metrics.read_your_writes_timeouts.inc();
        tracing::warn!(position, "the projector has not folded a write in time");
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn large_decisions_leave_the_async_workers() {
        let patch = |operations: usize| UserCommand::Patch {
            body: json!({"Operations": vec![json!({"op": "add", "path": "title", "value": "t"}); operations]}),
            password_hash: None,
            if_match: None,
        };
        assert!(!is_heavy(&patch(HEAVY_OPERATIONS)));
        assert!(is_heavy(&patch(HEAVY_OPERATIONS + 1)));
        let replace = |bytes: usize| UserCommand::Replace {
            resource: json!({"userName": "a", "title": "x".repeat(bytes)}),
            password_hash: None,
            if_match: None,
        };
        assert!(!is_heavy(&replace(1_000)));
        assert!(is_heavy(&replace(HEAVY_BYTES)));
        assert!(!is_heavy(&UserCommand::Delete { if_match: None }));
    }
}
