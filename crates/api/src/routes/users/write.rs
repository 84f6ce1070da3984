//! The user side of the write loop ([`crate::write`]): a user write is
//! decided on the user's whole state, kept by this process
//! ([`crate::snapshots`]) and advanced by the events past it, and its answer
//! is the user as the write left it, without reading the read tables back.

use actix_web::HttpRequest;
use domain::resource::UniqueKey;
use domain::user::{self, UserCommand};
use domain::{Event, RequestMeta};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::scim_gate::Tenant;
use crate::snapshots::UserSnapshot;
use crate::write::{StreamWrite, WriteStore, Writes, write};
use crate::{ApiError, AppState};

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

/// Runs a user command of the caller's organization to completion; its
/// events record `request` answered with `success_status`. `command` is
/// called again for every attempt, since each attempt decides on freshly
/// read state.
pub async fn write_user(
    state: &AppState,
    request: &HttpRequest,
    user_id: Uuid,
    success_status: u16,
    command: impl Fn() -> UserCommand,
) -> Result<WriteOutcome, ApiError> {
    let tenant = Tenant::of(request);
    let meta = tenant.request_meta(request, success_status);
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
    write_user_in(&state.writes(), tenant.org_id, user_id, &meta, command).await
}

/// [`write_user_as`] over any [`WriteStore`].
pub(crate) async fn write_user_in<S: WriteStore>(
    writes: &Writes<'_, S>,
    org_id: Uuid,
    user_id: Uuid,
    meta: &RequestMeta,
    command: impl Fn() -> UserCommand,
) -> Result<WriteOutcome, ApiError> {
    // The first attempt decides on the command made here: making one only
    // to see its kind copied the whole resource once more per write.
    let first = command();
    let is_new = matches!(first, UserCommand::Provision { .. });
    let first = std::cell::Cell::new(Some(first));
    let command = || first.take().unwrap_or_else(&command);
    let written = write(
        writes,
        org_id,
        user_id,
        meta,
        &UserWrite {
            user_id,
            is_new,
            command,
            meta,
        },
    )
    .await?;
    let Some(appended) = written.appended else {
        return Ok(outcome(user_id, &written.state));
    };
    let kept = UserSnapshot {
        created: written.state.created.or(Some(appended.recorded_at)),
        last_recorded: Some(appended.recorded_at),
        ..written.state
    };
    let answer = outcome(user_id, &kept);
    writes.user_snapshots.put(org_id, user_id, kept);
    Ok(WriteOutcome {
        appended: true,
        ..answer
    })
}

/// A user command, as the write loop drives it.
struct UserWrite<'a, F> {
    user_id: Uuid,
    is_new: bool,
    command: F,
    /// Who asked, for the record of a refused deprovisioning.
    meta: &'a RequestMeta,
}

impl<F: Fn() -> UserCommand> StreamWrite for UserWrite<'_, F> {
    type State = UserSnapshot;

    fn is_new(&self) -> bool {
        self.is_new
    }

    fn commutes(&self) -> bool {
        false
    }

    async fn read<S: WriteStore>(
        &self,
        writes: &Writes<'_, S>,
        org_id: Uuid,
        user_id: Uuid,
    ) -> Result<UserSnapshot, ApiError> {
        let kept = writes.user_snapshots.get(org_id, user_id);
        let newer = writes
            .store
            .read_stream_after(org_id, user_id, kept.state.version)
            .await?;
        writes.metrics.write_events_read.inc_by(newer.len() as u64);
        Ok(kept.advance(&newer))
    }

    async fn decide<S: WriteStore>(
        &self,
        writes: &Writes<'_, S>,
        org_id: Uuid,
        _: Uuid,
        before: &UserSnapshot,
    ) -> Result<Vec<Event>, ApiError> {
        let events = decide(&before.state, (self.command)(), self.user_id).await?;
        let deprovisions = events
            .iter()
            .any(|event| matches!(event, Event::UserDeactivated {} | Event::UserDeleted {}));
        if deprovisions {
            writes
                .store
                .keep_an_owner(org_id, self.user_id, self.meta)
                .await?;
        }
        Ok(events)
    }

    fn evolve(snapshot: UserSnapshot, event: &Event) -> UserSnapshot {
        UserSnapshot {
            state: user::evolve(snapshot.state, event),
            ..snapshot
        }
    }

    fn version(snapshot: &UserSnapshot) -> i64 {
        snapshot.state.version
    }

    fn unique_keys(snapshot: &UserSnapshot) -> Vec<UniqueKey> {
        user::unique_keys(snapshot.state.resource.as_ref())
    }

    fn resource(snapshot: &UserSnapshot) -> Option<&serde_json::Value> {
        snapshot.state.resource.as_ref()
    }
}

/// Operations in one PATCH past which deciding moves off the async workers.
const HEAVY_OPERATIONS: usize = 64;
/// Body size (bytes of JSON) past which deciding moves off the async workers.
const HEAVY_BYTES: usize = 64 << 10;

/// Decides a command; a large one on the blocking pool, so that one
/// request's PATCH of thousands of operations or of a huge resource never
/// holds an async worker (and every request queued behind it).
async fn decide(
    before: &user::UserState,
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
