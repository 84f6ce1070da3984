//! The write path of group requests: read the group's attribute events and
//! the facts about the members the request names, decide, append, wait for
//! the projector.
//!
//! Unlike a user write it never reads the whole stream: a group's member
//! events can number in the hundred thousands and do not bear on a decision.
//! Its attribute events are read only past the state this process kept
//! ([`crate::snapshots`]), so renames do not make later writes slower.
//! Member-only changes are appended as commuting (at whatever version the
//! group has reached), so concurrent member PATCHes never retry each other.

use std::time::Duration;

use actix_web::HttpRequest;
use domain::group::{self, GroupCommand, GroupPlan, GroupState};
use domain::user::UniqueKey;
use domain::{Event, Rejection, RequestMeta};
use store::{AppendError, AppendRequest};
use uuid::Uuid;

use crate::record::{Tenant, request_meta};
use crate::write::{STREAM_TURN_WAIT, append_and_wait, claims_and_releases, wait_for_projection};
use crate::{ApiError, AppState};

/// How often a write is decided again after losing its group to another.
const MAX_ATTEMPTS: u32 = 32;

/// What a group write did.
#[derive(Debug, Clone, Copy)]
pub struct GroupWritten {
    /// Whether events were appended (false when the request changed nothing).
    pub appended: bool,
    /// The group's version after the write.
    pub version: i64,
}

/// Runs a group command to completion.
pub async fn write_group(
    state: &AppState,
    request: &HttpRequest,
    tenant: Tenant,
    group_id: Uuid,
    success_status: u16,
    command: GroupCommand,
) -> Result<GroupWritten, ApiError> {
    let meta = request_meta(
        request,
        tenant.request_id,
        Some(tenant.token_id),
        success_status,
    );
    write_group_as(state, tenant, group_id, meta, command).await
}

/// [`write_group`] for a write that is one part of a request (a `/Bulk`
/// operation): the events carry `meta` as given.
pub async fn write_group_as(
    state: &AppState,
    tenant: Tenant,
    group_id: Uuid,
    meta: RequestMeta,
    command: GroupCommand,
) -> Result<GroupWritten, ApiError> {
    let plan = GroupPlan::read(command)?;
    let named: Vec<Uuid> = plan.named_members().into_iter().collect();
    let _turn = state
        .stream_locks
        .turn_unless_new(plan.is_create(), tenant.org_id, group_id, STREAM_TURN_WAIT)
        .await?;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            state.metrics.write_retries.inc();
            // The attribute write lost to another write of the same group;
            // give the projector a moment to fold it before reading again.
            tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10)))).await;
        }
        let before = if plan.is_create() {
            GroupState::default()
        } else {
            let kept = state.group_snapshots.get(tenant.org_id, group_id);
            let (newer, version) =
                store::read_group_attributes(&state.pool, tenant.org_id, group_id, kept.version)
                    .await?;
            state.metrics.write_events_read.inc_by(newer.len() as u64);
            let folded = newer
                .iter()
                .map(|stored| &stored.event)
                .fold(kept, group::evolve);
            let current = GroupState {
                resource: folded.resource,
                version,
            };
            state
                .group_snapshots
                .put(tenant.org_id, group_id, current.clone());
            current
        };
        if before.resource.is_none() && !plan.is_create() {
            return Err(Rejection::NotFound("group").into());
        }
        // The member facts come from the read tables: they must have folded
        // every event of this group the decision is made on, or a member
        // added or removed a moment ago would be judged by stale rows.
        let judges_members = plan.changes_members() && !plan.is_create();
        if judges_members && !folded_through(state, tenant, group_id, before.version).await? {
            return Err(ApiError::Unavailable(
                "the projector is behind the log; the group's members cannot be judged yet".into(),
            ));
        }
        let facts = store::member_facts(
            &state.pool,
            tenant.org_id,
            group_id,
            &named,
            plan.needs_every_member(),
        )
        .await?;
        let events = group::decide(&before, &plan, &facts, group_id)?;
        if events.is_empty() {
            return Ok(GroupWritten {
                appended: false,
                version: before.version,
            });
        }
        let after = attributes_after(&before, &events);
        let (claims, releases) = key_changes(before.resource.as_ref(), after.as_ref());
        let appended = append_and_wait(
            state,
            AppendRequest {
                org_id: tenant.org_id,
                stream_id: group_id,
                expected_version: before.version,
                commutes: plan.commutes(),
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
                return Ok(GroupWritten {
                    appended: true,
                    version: appended.stream_version,
                });
            }
            Err(AppendError::VersionConflict) if !plan.is_create() => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(AppendError::VersionConflict.into())
}

/// Whether the read tables hold the group at `version` or later, waiting
/// (bounded, as a write waits) for the projector when they do not yet.
async fn folded_through(
    state: &AppState,
    tenant: Tenant,
    group_id: Uuid,
    version: i64,
) -> Result<bool, ApiError> {
    let projected = || store::projected_group_version(&state.pool, tenant.org_id, group_id);
    if projected().await?.unwrap_or(0) >= version {
        return Ok(true);
    }
    let head = store::log_head(&state.pool).await?;
    wait_for_projection(state, head).await;
    Ok(projected().await?.unwrap_or(0) >= version)
}

fn attributes_after(before: &GroupState, events: &[Event]) -> Option<serde_json::Value> {
    events.iter().fold(before.clone(), group::evolve).resource
}

/// Unique values (the display name) the write takes and gives up.
fn key_changes(
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> (Vec<UniqueKey>, Vec<UniqueKey>) {
    claims_and_releases(group::unique_keys(before), group::unique_keys(after))
}
