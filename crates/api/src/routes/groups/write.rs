//! The group side of the write loop ([`crate::write`]): read the group's
//! attribute events and the facts about the members the request names,
//! decide, append. The write does not wait for the projector: an answer
//! read from the read tables waits for it (`respond`), the token's next
//! request waits at the gate, and the group's next member decision in
//! `group_projected_through`.
//!
//! Unlike a user write it never reads the whole stream: a group's member
//! events can number in the hundred thousands and do not bear on a decision.
//! Its attribute events are read only past the state this process kept
//! ([`crate::snapshots`]), so renames do not make later writes slower.
//! Member-only changes are appended as commuting (at whatever version the
//! group has reached), so concurrent member PATCHes never retry each other.

use actix_web::HttpRequest;
use domain::group::{self, GroupCommand, GroupPlan, GroupState};
use domain::resource::UniqueKey;
use domain::{Event, Rejection, RequestMeta};
use uuid::Uuid;

use crate::scim_gate::Tenant;
use crate::write::{StreamWrite, WriteStore, Writes, write};
use crate::{ApiError, AppState};

/// What a group write did.
#[derive(Debug, Clone, Copy)]
pub struct GroupWritten {
    /// Whether events were appended (false when the request changed nothing).
    pub appended: bool,
    /// The group's version after the write.
    pub version: i64,
    /// The position of the write's last event, when it appended.
    pub position: Option<i64>,
}

/// Runs a group command of the caller's organization to completion; its
/// events record `request` answered with `success_status`.
pub async fn write_group(
    state: &AppState,
    request: &HttpRequest,
    group_id: Uuid,
    success_status: u16,
    command: GroupCommand,
) -> Result<GroupWritten, ApiError> {
    let tenant = Tenant::of(request);
    let meta = tenant.request_meta(request, success_status);
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
    write_group_in(&state.writes(), tenant.org_id, group_id, &meta, command).await
}

/// [`write_group_as`] over any [`WriteStore`].
pub(crate) async fn write_group_in<S: WriteStore>(
    writes: &Writes<'_, S>,
    org_id: Uuid,
    group_id: Uuid,
    meta: &RequestMeta,
    command: GroupCommand,
) -> Result<GroupWritten, ApiError> {
    let plan = GroupPlan::read(command)?;
    let named = plan.named_members().into_iter().collect();
    let written = write(writes, org_id, group_id, meta, &GroupWrite { plan, named }).await?;
    Ok(match written.appended {
        Some(appended) => GroupWritten {
            appended: true,
            version: appended.stream_version,
            position: Some(appended.last_position),
        },
        None => GroupWritten {
            appended: false,
            version: written.state.version,
            position: None,
        },
    })
}

/// A group command read into a plan, as the write loop drives it.
struct GroupWrite {
    plan: GroupPlan,
    /// The members the decision must know about.
    named: Vec<Uuid>,
}

impl StreamWrite for GroupWrite {
    type State = GroupState;

    fn is_new(&self) -> bool {
        self.plan.is_create()
    }

    fn commutes(&self) -> bool {
        self.plan.commutes()
    }

    async fn read<S: WriteStore>(
        &self,
        writes: &Writes<'_, S>,
        org_id: Uuid,
        group_id: Uuid,
    ) -> Result<GroupState, ApiError> {
        let kept = writes.group_snapshots.get(org_id, group_id);
        let (newer, version) = writes
            .store
            .read_group_attributes(org_id, group_id, kept.version)
            .await?;
        writes.metrics.write_events_read.inc_by(newer.len() as u64);
        let folded = newer
            .iter()
            .map(|stored| &stored.event)
            .fold(kept, group::evolve);
        let current = GroupState {
            resource: folded.resource,
            version,
        };
        writes
            .group_snapshots
            .put(org_id, group_id, current.clone());
        Ok(current)
    }

    async fn decide<S: WriteStore>(
        &self,
        writes: &Writes<'_, S>,
        org_id: Uuid,
        group_id: Uuid,
        before: &GroupState,
    ) -> Result<Vec<Event>, ApiError> {
        let plan = &self.plan;
        if before.resource.is_none() && !plan.is_create() {
            return Err(Rejection::NotFound("group").into());
        }
        // The member facts come from the read tables: they must have folded
        // every event of this group the decision is made on, or a member
        // added or removed a moment ago would be judged by stale rows.
        let judges_members = plan.changes_members() && !plan.is_create();
        if judges_members
            && !writes
                .store
                .group_projected_through(org_id, group_id, before.version)
                .await?
        {
            return Err(ApiError::Unavailable(
                "the projector is behind the log; the group's members cannot be judged yet".into(),
            ));
        }
        let facts = writes
            .store
            .member_facts(org_id, group_id, &self.named, plan.needs_every_member())
            .await?;
        Ok(group::decide(before, plan, &facts, group_id)?)
    }

    fn evolve(state: GroupState, event: &Event) -> GroupState {
        group::evolve(state, event)
    }

    fn version(state: &GroupState) -> i64 {
        state.version
    }

    fn unique_keys(state: &GroupState) -> Vec<UniqueKey> {
        group::unique_keys(state.resource.as_ref())
    }

    fn resource(state: &GroupState) -> Option<&serde_json::Value> {
        state.resource.as_ref()
    }
}
