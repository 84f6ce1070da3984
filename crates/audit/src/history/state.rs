//! The organization at an instant, and who was in one group then.

use domain::history::state::{OrganizationState, StateView};
use serde::Serialize;
use serde_json::{Value, json};
use store::Pool;
use uuid::Uuid;

use super::instant::{At, Resolved, resolve};
use super::read::each_event;

/// The organization at an instant: its users (SCIM resources as the read
/// tables held them), groups with their members, memberships with their
/// roles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateAnswer {
    pub org_id: Uuid,
    /// What was asked, and the position it falls at.
    pub asked: Resolved,
    #[serde(flatten)]
    pub state: StateView,
}

/// `org_id` as it stood at `at` (an instant before its first event: empty).
pub async fn state_at(pool: &Pool, org_id: Uuid, at: At) -> anyhow::Result<StateAnswer> {
    let asked = resolve(pool, org_id, at).await?;
    let state = fold_to(pool, OrganizationState::new(org_id), asked.position).await?;
    Ok(StateAnswer {
        org_id,
        asked,
        state: state.view(),
    })
}

/// `state` with every event of its organization after its position and at
/// most `until` folded in.
pub(crate) async fn fold_to(
    pool: &Pool,
    mut state: OrganizationState,
    until: i64,
) -> anyhow::Result<OrganizationState> {
    let org_id = state.org_id;
    let after = state.position;
    each_event(pool, org_id, after, until, |row| {
        state.apply(&row.to_stored()?);
        Ok(())
    })
    .await?;
    Ok(state)
}

/// Who was in a group at an instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupMembersAnswer {
    pub org_id: Uuid,
    pub group_id: Uuid,
    pub asked: Resolved,
    /// Whether the group existed then (created, not deleted yet).
    pub exists: bool,
    #[serde(rename = "displayName")]
    pub display_name: Option<String>,
    /// Its direct members: users with their `userName`, nested groups
    /// with their `displayName`, as they were named then.
    pub members: Vec<Value>,
}

/// The members of `group_id` at `at`.
pub async fn group_members_at(
    pool: &Pool,
    org_id: Uuid,
    group_id: Uuid,
    at: At,
) -> anyhow::Result<GroupMembersAnswer> {
    let asked = resolve(pool, org_id, at).await?;
    let state = fold_to(pool, OrganizationState::new(org_id), asked.position).await?;
    let group = state.group(group_id);
    let members = state
        .members_of(group_id)
        .into_iter()
        .map(|member| {
            let name_key = match member.kind {
                domain::group::MemberKind::User => "userName",
                domain::group::MemberKind::Group => "displayName",
            };
            json!({
                "value": member.value,
                "type": member.kind.as_str(),
                name_key: state.name_of(member),
            })
        })
        .collect();
    Ok(GroupMembersAnswer {
        org_id,
        group_id,
        asked,
        exists: group.is_some(),
        display_name: group.map(|row| row.display_name.clone()),
        members,
    })
}
