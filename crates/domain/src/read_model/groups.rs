//! How events change the `scim_groups` and `scim_group_members` tables, and
//! who was in a group at any position of the log.

use std::collections::BTreeMap;

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ReadRow, RowChange, Table, UserTable, fold_row, fold_user_event};
use crate::erasable::ERASED;
use crate::group::{Member, MemberKind};
use crate::resource::string_attribute;
use crate::{Event, StoredEvent};

/// One row of the `scim_groups` read table.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub display_name: String,
    pub external_id: Option<String>,
    /// The resource without members.
    pub resource: Value,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl ReadRow for GroupRow {
    fn created_like(self, old: &GroupRow) -> GroupRow {
        GroupRow {
            created_at: old.created_at,
            ..self
        }
    }

    fn touched(self, version: i64, updated_at: OffsetDateTime) -> GroupRow {
        GroupRow {
            version,
            updated_at,
            ..self
        }
    }
}

/// What one event does to a group's row.
pub type GroupRowChange = RowChange<GroupRow>;

/// What one event does to memberships.
#[derive(Debug, Clone, PartialEq)]
pub enum MembershipChange {
    /// These join the event's group; a member that is no longer a user or
    /// group of the organization (deleted meanwhile) does not.
    Add(Vec<Member>),
    /// These leave the event's group.
    Remove(Vec<Uuid>),
    /// The event's stream (a user or a group) is gone: it leaves every
    /// group, and a group's own members leave it.
    Vanish,
    /// The event's stream (a user) was erased: the `display` its groups
    /// keep of it reads [`ERASED`] from now on.
    EraseDisplays,
}

/// The change an event makes to the groups table, if it concerns a group.
pub fn group_row_change(stored: &StoredEvent) -> Option<GroupRowChange> {
    let row = |resource: &Value| GroupRow {
        display_name: string_attribute(resource, "displayName").unwrap_or_default(),
        external_id: string_attribute(resource, "externalId"),
        resource: resource.clone(),
        version: stored.stream_version,
        created_at: stored.recorded_at,
        updated_at: stored.recorded_at,
    };
    match &stored.event {
        Event::GroupCreated { resource } => Some(RowChange::Insert(row(resource))),
        Event::GroupUpdated { resource } => Some(RowChange::Update(row(resource))),
        Event::GroupMembersAdded { .. } | Event::GroupMembersRemoved { .. } => {
            Some(RowChange::Touch {
                version: stored.stream_version,
                updated_at: stored.recorded_at,
            })
        }
        Event::GroupDeleted {} => Some(RowChange::Delete),
        _ => None,
    }
}

/// The change an event makes to memberships, if any.
pub fn membership_change(stored: &StoredEvent) -> Option<MembershipChange> {
    match &stored.event {
        Event::GroupMembersAdded { members } => Some(MembershipChange::Add(members.clone())),
        Event::GroupMembersRemoved { members } => Some(MembershipChange::Remove(members.clone())),
        Event::GroupDeleted {} | Event::UserDeleted {} => Some(MembershipChange::Vanish),
        Event::Erased { .. } => Some(MembershipChange::EraseDisplays),
        _ => None,
    }
}

/// The groups table, keyed by (organization, group).
pub type GroupTable = Table<GroupRow>;

/// The membership table, keyed by (organization, group, member).
pub type MemberTable = BTreeMap<(Uuid, Uuid, Uuid), Member>;

/// Groups and memberships folded in memory, as the projector keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupModel {
    pub groups: GroupTable,
    pub members: MemberTable,
}

/// Folds one event into the model. `is_user` says whether a user exists
/// (the users fold knows); returns the group key the event concerned.
pub fn fold_group_event(
    model: &mut GroupModel,
    stored: &StoredEvent,
    is_user: impl Fn(Uuid, Uuid) -> bool,
) -> Option<(Uuid, Uuid)> {
    let (org, stream) = (stored.org_id, stored.stream_id);
    if let Some(change) = membership_change(stored) {
        match change {
            MembershipChange::Add(members) => {
                if model.groups.contains_key(&(org, stream)) {
                    for member in members {
                        let exists = match member.kind {
                            MemberKind::User => is_user(org, member.value),
                            MemberKind::Group => model.groups.contains_key(&(org, member.value)),
                        };
                        if exists {
                            model.members.insert((org, stream, member.value), member);
                        }
                    }
                }
            }
            MembershipChange::Remove(ids) => {
                for id in ids {
                    model.members.remove(&(org, stream, id));
                }
            }
            MembershipChange::Vanish => model.members.retain(|(o, group, member), _| {
                *o != org || (*group != stream && *member != stream)
            }),
            MembershipChange::EraseDisplays => {
                for ((o, _, id), member) in &mut model.members {
                    if *o == org && *id == stream && member.display.is_some() {
                        member.display = Some(ERASED.into());
                    }
                }
            }
        }
    }
    let change = group_row_change(stored)?;
    let key = (org, stream);
    fold_row(&mut model.groups, key, change);
    Some(key)
}

/// The members of a group at the end of `events` (a log prefix in position
/// order): the answer to "who was in this group at that moment".
pub fn members_at<'a>(
    events: impl IntoIterator<Item = &'a StoredEvent>,
    org_id: Uuid,
    group_id: Uuid,
) -> Vec<Member> {
    let mut users = UserTable::new();
    let mut model = GroupModel::default();
    for stored in events {
        fold_user_event(&mut users, stored);
        fold_group_event(&mut model, stored, |org, user| {
            users.contains_key(&(org, user))
        });
    }
    model
        .members
        .range((org_id, group_id, Uuid::nil())..=(org_id, group_id, Uuid::max()))
        .map(|(_, member)| member.clone())
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORG: Uuid = Uuid::from_u128(1);
    const GROUP: Uuid = Uuid::from_u128(2);
    const ADA: Uuid = Uuid::from_u128(3);
    const BOB: Uuid = Uuid::from_u128(4);

    fn stored(position: i64, stream_id: Uuid, version: i64, event: Event) -> StoredEvent {
        StoredEvent {
            position,
            org_id: ORG,
            stream_id,
            stream_version: version,
            recorded_at: OffsetDateTime::from_unix_timestamp(position).unwrap(),
            event,
        }
    }

    fn user(id: Uuid) -> Member {
        Member {
            value: id,
            kind: MemberKind::User,
            display: None,
        }
    }

    fn history() -> Vec<StoredEvent> {
        vec![
            stored(
                1,
                ADA,
                1,
                Event::UserProvisioned {
                    resource: json!({"userName": "ada"}),
                    password_hash: None,
                },
            ),
            stored(
                2,
                BOB,
                1,
                Event::UserProvisioned {
                    resource: json!({"userName": "bob"}),
                    password_hash: None,
                },
            ),
            stored(
                3,
                GROUP,
                1,
                Event::GroupCreated {
                    resource: json!({"displayName": "Ops"}),
                },
            ),
            stored(
                4,
                GROUP,
                2,
                Event::GroupMembersAdded {
                    members: vec![user(ADA), user(BOB)],
                },
            ),
            stored(
                5,
                GROUP,
                3,
                Event::GroupMembersRemoved { members: vec![ADA] },
            ),
            stored(6, BOB, 2, Event::UserDeleted {}),
        ]
    }

    #[test]
    fn members_at_any_position_follow_the_log() {
        let log = history();
        assert_eq!(members_at(&log[..3], ORG, GROUP), vec![]);
        assert_eq!(
            members_at(&log[..4], ORG, GROUP),
            vec![user(ADA), user(BOB)]
        );
        assert_eq!(members_at(&log[..5], ORG, GROUP), vec![user(BOB)]);
        assert_eq!(members_at(&log, ORG, GROUP), vec![]);
    }

    #[test]
    fn a_member_deleted_before_its_add_is_folded_does_not_join() {
        let log = [
            stored(
                1,
                GROUP,
                1,
                Event::GroupCreated {
                    resource: json!({"displayName": "Ops"}),
                },
            ),
            stored(
                2,
                GROUP,
                2,
                Event::GroupMembersAdded {
                    members: vec![user(ADA)],
                },
            ),
        ];
        assert_eq!(members_at(&log, ORG, GROUP), vec![]);
    }

    #[test]
    fn member_events_move_the_group_version() {
        let log = history();
        let mut model = GroupModel::default();
        for event in &log {
            fold_group_event(&mut model, event, |_, _| true);
        }
        let row = &model.groups[&(ORG, GROUP)];
        assert_eq!((row.display_name.as_str(), row.version), ("Ops", 3));
        assert_eq!(row.created_at, log[2].recorded_at);
        assert_eq!(row.updated_at, log[4].recorded_at);
    }
}
