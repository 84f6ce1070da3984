//! What changed in an organization between two instants: the two states
//! compared, so that a change made and undone between them is no change.

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use super::attributes::{AttributeChange, changes};
use super::state::OrganizationState;
use crate::group::Member as GroupMember;

/// A user named by id and `userName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserRef {
    pub id: Uuid,
    #[serde(rename = "userName")]
    pub user_name: String,
}

/// A user whose attributes changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserChanges {
    pub id: Uuid,
    /// The `userName` at the end.
    #[serde(rename = "userName")]
    pub user_name: String,
    pub changes: Vec<AttributeChange>,
}

/// A group named by id and `displayName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRef {
    pub id: Uuid,
    #[serde(rename = "displayName")]
    pub display_name: String,
}

/// A group whose attributes or members changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupChanges {
    pub id: Uuid,
    #[serde(rename = "displayName")]
    pub display_name: String,
    /// Its attributes (not members) that changed.
    pub changes: Vec<AttributeChange>,
    pub members_added: Vec<MemberRef>,
    pub members_removed: Vec<MemberRef>,
}

/// A group member: a user (named by `userName`) or a nested group (by
/// `displayName`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberRef {
    pub value: Uuid,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its name then (for a removed member, before it left).
    pub name: Option<String>,
}

/// A membership as the diff compares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipFacts {
    pub role: String,
    pub roles: Vec<String>,
    pub state: &'static str,
    pub source: &'static str,
}

/// A membership that changed: what it was and what it became (`null`: none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembershipChange {
    pub account_id: Uuid,
    pub email: String,
    pub before: Option<MembershipFacts>,
    pub after: Option<MembershipFacts>,
}

/// The difference between two states of one organization.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Diff {
    pub users_added: Vec<UserRef>,
    /// Deleted.
    pub users_removed: Vec<UserRef>,
    /// Active at the start, inactive at the end.
    pub users_deactivated: Vec<UserRef>,
    /// Inactive at the start, active at the end.
    pub users_reactivated: Vec<UserRef>,
    /// Users there at both ends whose attributes differ.
    pub users_changed: Vec<UserChanges>,
    pub groups_added: Vec<GroupRef>,
    pub groups_removed: Vec<GroupRef>,
    /// Groups there at both ends whose attributes or members differ; the
    /// members of an added group are in here too (all added).
    pub groups_changed: Vec<GroupChanges>,
    /// Memberships whose role, roles (from groups), state or source differ.
    pub memberships: Vec<MembershipChange>,
}

/// What changed from `from` to `to` (two states of the same organization).
pub fn diff(from: &OrganizationState, to: &OrganizationState) -> Diff {
    let mut diff = Diff::default();
    diff_users(from, to, &mut diff);
    diff_groups(from, to, &mut diff);
    diff.memberships = diff_memberships(from, to);
    diff
}

fn diff_users(from: &OrganizationState, to: &OrganizationState, diff: &mut Diff) {
    let org = from.org_id;
    let named = |id: Uuid, user_name: &str| UserRef {
        id,
        user_name: user_name.to_owned(),
    };
    for ((_, id), before) in from.users.iter().filter(|((o, _), _)| *o == org) {
        match to.user(*id) {
            None => diff.users_removed.push(named(*id, &before.user_name)),
            Some(after) => {
                match (before.active, after.active) {
                    (true, false) => diff.users_deactivated.push(named(*id, &after.user_name)),
                    (false, true) => diff.users_reactivated.push(named(*id, &after.user_name)),
                    _ => {}
                }
                let changed = changes(Some(&before.resource), Some(&after.resource));
                if !changed.is_empty() {
                    diff.users_changed.push(UserChanges {
                        id: *id,
                        user_name: after.user_name.clone(),
                        changes: changed,
                    });
                }
            }
        }
    }
    for ((_, id), after) in to.users.iter().filter(|((o, _), _)| *o == org) {
        if from.user(*id).is_none() {
            diff.users_added.push(named(*id, &after.user_name));
        }
    }
}

fn diff_groups(from: &OrganizationState, to: &OrganizationState, diff: &mut Diff) {
    let org = from.org_id;
    for ((_, id), before) in from.groups.groups.iter().filter(|((o, _), _)| *o == org) {
        if to.group(*id).is_none() {
            diff.groups_removed.push(GroupRef {
                id: *id,
                display_name: before.display_name.clone(),
            });
        }
    }
    for ((_, id), after) in to.groups.groups.iter().filter(|((o, _), _)| *o == org) {
        let before = from.group(*id);
        if before.is_none() {
            diff.groups_added.push(GroupRef {
                id: *id,
                display_name: after.display_name.clone(),
            });
        }
        let members_before = members(from, *id);
        let members_after = members(to, *id);
        let member_ref = |state: &OrganizationState, member: &GroupMember| MemberRef {
            value: member.value,
            kind: member.kind.as_str(),
            name: state.name_of(member),
        };
        let members_added: Vec<MemberRef> = members_after
            .iter()
            .filter(|(value, _)| !members_before.contains_key(value))
            .map(|(_, member)| member_ref(to, member))
            .collect();
        let members_removed: Vec<MemberRef> = members_before
            .iter()
            .filter(|(value, _)| !members_after.contains_key(value))
            .map(|(_, member)| member_ref(from, member))
            .collect();
        let changed = changes(before.map(|row| &row.resource), Some(&after.resource));
        let attributes = if before.is_some() {
            changed
        } else {
            Vec::new()
        };
        if !attributes.is_empty() || !members_added.is_empty() || !members_removed.is_empty() {
            diff.groups_changed.push(GroupChanges {
                id: *id,
                display_name: after.display_name.clone(),
                changes: attributes,
                members_added,
                members_removed,
            });
        }
    }
}

fn members(state: &OrganizationState, group_id: Uuid) -> BTreeMap<Uuid, &GroupMember> {
    state
        .members_of(group_id)
        .into_iter()
        .map(|member| (member.value, member))
        .collect()
}

fn diff_memberships(from: &OrganizationState, to: &OrganizationState) -> Vec<MembershipChange> {
    let facts = |state: &OrganizationState| -> BTreeMap<Uuid, (String, MembershipFacts)> {
        let mut roles = state.roles();
        state
            .memberships
            .iter()
            .map(|(account_id, membership)| {
                let facts = MembershipFacts {
                    role: membership.member.role.clone(),
                    roles: roles.remove(account_id).unwrap_or_default(),
                    state: membership.member.state.as_str(),
                    source: membership.member.source.as_str(),
                };
                (*account_id, (membership.email.clone(), facts))
            })
            .collect()
    };
    let mut before = facts(from);
    let after = facts(to);
    let mut changed = Vec::new();
    for (account_id, (email, facts)) in after {
        let old = before.remove(&account_id).map(|(_, facts)| facts);
        if old.as_ref() != Some(&facts) {
            changed.push(MembershipChange {
                account_id,
                email,
                before: old,
                after: Some(facts),
            });
        }
    }
    // A membership is never forgotten (removed ones stay, as removed), so
    // anything left was there before and not after: only a different
    // organization's state could leave one.
    changed.extend(
        before
            .into_iter()
            .map(|(account_id, (email, facts))| MembershipChange {
                account_id,
                email,
                before: Some(facts),
                after: None,
            }),
    );
    changed.sort_by_cached_key(|change| change.email.to_lowercase());
    changed
}
