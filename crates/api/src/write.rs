//! The write path shared by every state-changing SCIM request: load the
//! stream, decide, append with the version decided on, decide again when
//! another write won the race, then wait for the projector.

use std::time::Instant;

use actix_web::HttpRequest;
use domain::user::{self, UniqueKey, UserCommand, UserState};
use domain::{Event, RequestMeta, StoredEvent};
use serde_json::Value;
use store::{AppendError, AppendRequest, Appended};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::record::{Tenant, request_meta};
use crate::{ApiError, AppState};

/// How often a write is decided again after losing its stream to another.
const MAX_ATTEMPTS: usize = 32;

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
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            state.metrics.write_retries.inc();
        }
        let history = if is_new {
            Vec::new()
        } else {
            store::read_stream(&state.pool, tenant.org_id, user_id).await?
        };
        let before = history
            .iter()
            .map(|stored| &stored.event)
            .fold(UserState::default(), user::evolve);
        let events = user::decide(&before, command(), user_id)?;
        if events.is_empty() {
            return Ok(outcome(user_id, &before, &history, None));
        }
        let after = events.iter().fold(before.clone(), user::evolve);
        let (claims, releases) = key_changes(&before, &after);
        let appended = append_and_wait(
            state,
            AppendRequest {
                org_id: tenant.org_id,
                stream_id: user_id,
                expected_version: before.version,
                commutes: false,
                events: events.clone(),
                claims,
                releases,
                registrations: Vec::new(),
                meta: meta.clone(),
            },
        )
        .await;
        match appended {
            Ok(appended) => {
                return Ok(outcome(
                    user_id,
                    &after,
                    &history,
                    Some(appended.recorded_at),
                ));
            }
            Err(AppendError::VersionConflict) if !is_new => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(AppendError::VersionConflict.into())
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

fn outcome(
    user_id: Uuid,
    state: &UserState,
    history: &[StoredEvent],
    appended_at: Option<OffsetDateTime>,
) -> WriteOutcome {
    let created = history
        .iter()
        .find(|stored| matches!(stored.event, Event::UserProvisioned { .. }))
        .map(|stored| stored.recorded_at);
    let last = history.last().map(|stored| stored.recorded_at);
    let now = appended_at.or(last).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    WriteOutcome {
        user_id,
        resource: state.resource.clone(),
        version: state.version,
        created: created.unwrap_or(now),
        last_modified: now,
        appended: appended_at.is_some(),
    }
}

/// Appends, wakes the relay, and waits (bounded) for the projector to fold
/// the events: every write's last step.
pub(crate) async fn append_and_wait(
    state: &AppState,
    request: AppendRequest,
) -> Result<Appended, AppendError> {
    let appended = state.appender.append(request).await?;
    state.relay_wake.notify_one();
    wait_for_projection(state, appended.last_position).await;
    Ok(appended)
}

/// Waits until the read tables include `position`, at most the configured
/// time; the write is durable either way, so a timeout only costs freshness.
pub(crate) async fn wait_for_projection(state: &AppState, position: i64) {
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
    if !matches!(reached, Ok(Ok(_))) {
        state.metrics.read_your_writes_timeouts.inc();
        tracing::warn!(position, "answered a write before the projector folded it");
    }
}
