//! An organization as it stood after any position of its log: its SCIM
//! users and groups (folded by the read model's own fold, so they are what
//! the read tables showed then), its memberships and the roles its groups
//! gave.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::group::Member as GroupMember;
use crate::membership::Member;
use crate::read_model::{
    GroupModel, GroupRow, UserRow, UserTable, fold_group_event, fold_user_event,
};
use crate::{Event, StoredEvent};

/// One account's membership, with the email it was added with.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub email: String,
    pub member: Member,
}

/// An organization folded from its log, up to [`OrganizationState::position`].
#[derive(Debug, Clone)]
pub struct OrganizationState {
    pub org_id: Uuid,
    /// The last event folded (0: none yet).
    pub position: i64,
    /// When that event was recorded.
    pub recorded_at: Option<OffsetDateTime>,
    pub users: UserTable,
    pub groups: GroupModel,
    /// By account.
    pub memberships: BTreeMap<Uuid, Membership>,
    /// The groups whose members hold each role besides their own.
    pub role_groups: BTreeMap<String, Vec<Uuid>>,
}

impl OrganizationState {
    /// The organization before its first event.
    pub fn new(org_id: Uuid) -> OrganizationState {
        OrganizationState {
            org_id,
            position: 0,
            recorded_at: None,
            users: UserTable::new(),
            groups: GroupModel::default(),
            memberships: BTreeMap::new(),
            role_groups: BTreeMap::new(),
        }
    }

    /// Folds the next event of the organization's log (another
    /// organization's changes nothing).
    pub fn apply(&mut self, stored: &StoredEvent) {
        if stored.org_id != self.org_id {
            return;
        }
        self.position = stored.position;
        self.recorded_at = Some(stored.recorded_at);
        fold_user_event(&mut self.users, stored);
        let users = &self.users;
        fold_group_event(&mut self.groups, stored, |org, user| {
            users.contains_key(&(org, user))
        });
        if let Some(account_id) = membership_account(&stored.event) {
            let before = self.memberships.remove(&account_id);
            let email = match &stored.event {
                Event::OwnerAdded { email, .. } | Event::MemberAdded { email, .. } => email.clone(),
                _ => before
                    .as_ref()
                    .map(|membership| membership.email.clone())
                    .unwrap_or_default(),
            };
            let member = Member::evolve(before.map(|membership| membership.member), &stored.event);
            if let Some(member) = member {
                self.memberships
                    .insert(account_id, Membership { email, member });
            }
        }
        if let Event::RoleGroupsMapped { role, group_ids } = &stored.event {
            if group_ids.is_empty() {
                self.role_groups.remove(role);
            } else {
                self.role_groups.insert(role.clone(), group_ids.clone());
            }
        }
    }

    /// User `user_id`'s row, if it existed.
    pub fn user(&self, user_id: Uuid) -> Option<&UserRow> {
        self.users.get(&(self.org_id, user_id))
    }

    /// Group `group_id`'s row, if it existed.
    pub fn group(&self, group_id: Uuid) -> Option<&GroupRow> {
        self.groups.groups.get(&(self.org_id, group_id))
    }

    /// The direct members of group `group_id`, by id.
    pub fn members_of(&self, group_id: Uuid) -> Vec<&GroupMember> {
        self.groups
            .members
            .range((self.org_id, group_id, Uuid::nil())..=(self.org_id, group_id, Uuid::max()))
            .map(|(_, member)| member)
            .collect()
    }

    /// The name a member of a group goes by: a user's `userName`, a
    /// group's `displayName`.
    pub fn name_of(&self, member: &GroupMember) -> Option<String> {
        match member.kind {
            crate::group::MemberKind::User => {
                self.user(member.value).map(|row| row.user_name.clone())
            }
            crate::group::MemberKind::Group => {
                self.group(member.value).map(|row| row.display_name.clone())
            }
        }
    }

    /// Every role each membership held: its own, then (in name order)
    /// those the groups containing its SCIM entry, directly or through
    /// nested groups, gave.
    pub fn roles(&self) -> BTreeMap<Uuid, Vec<String>> {
        let mut containing: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for (_, group, member) in self.groups.members.keys() {
            containing.entry(*member).or_default().push(*group);
        }
        let mut roles_of_group: BTreeMap<Uuid, Vec<&str>> = BTreeMap::new();
        for (role, groups) in &self.role_groups {
            for group in groups {
                roles_of_group.entry(*group).or_default().push(role);
            }
        }
        self.memberships
            .iter()
            .map(|(account_id, membership)| {
                let mut roles = vec![membership.member.role.clone()];
                let mut given: BTreeSet<&str> = BTreeSet::new();
                if let Some(entry) = membership.member.entry_id {
                    for group in groups_containing(&containing, entry) {
                        given.extend(roles_of_group.get(&group).into_iter().flatten().copied());
                    }
                }
                for role in given {
                    if !roles.iter().any(|held| held == role) {
                        roles.push(role.to_owned());
                    }
                }
                (*account_id, roles)
            })
            .collect()
    }

    /// The organization as auditors read it.
    pub fn view(&self) -> StateView {
        let mut users: Vec<(&Uuid, &UserRow)> = self
            .users
            .iter()
            .filter(|((org, _), _)| *org == self.org_id)
            .map(|((_, id), row)| (id, row))
            .collect();
        users.sort_by_cached_key(|(id, row)| (row.user_name.to_lowercase(), **id));
        let groups = self
            .groups
            .groups
            .iter()
            .filter(|((org, _), _)| *org == self.org_id)
            .map(|((_, id), row)| self.group_json(*id, row))
            .collect();
        let mut roles = self.roles();
        let mut memberships: Vec<MembershipView> = self
            .memberships
            .iter()
            .map(|(account_id, membership)| MembershipView {
                account_id: *account_id,
                email: membership.email.clone(),
                role: membership.member.role.clone(),
                roles: roles.remove(account_id).unwrap_or_default(),
                state: membership.member.state.as_str(),
                source: membership.member.source.as_str(),
                entry_id: membership.member.entry_id,
            })
            .collect();
        memberships.sort_by_cached_key(|view| (view.email.to_lowercase(), view.account_id));
        StateView {
            position: self.position,
            recorded_at: self.recorded_at,
            users: users
                .into_iter()
                .map(|(id, row)| user_json(*id, row))
                .collect(),
            groups,
            memberships,
            role_groups: self.role_groups.clone(),
        }
    }

    /// A group as SCIM JSON, with its members (each with the name it went
    /// by then).
    pub fn group_json(&self, group_id: Uuid, row: &GroupRow) -> Value {
        let members: Vec<Value> = self
            .members_of(group_id)
            .into_iter()
            .map(|member| {
                let mut value = json!({"value": member.value, "type": member.kind.as_str()});
                if let Some(display) = &member.display {
                    value["display"] = json!(display);
                }
                value
            })
            .collect();
        scim_json(
            "Group",
            group_id,
            &row.resource,
            Some(("members", Value::Array(members))),
            (row.created_at, row.updated_at, row.version),
        )
    }
}

/// A user as SCIM JSON, as `GET /scim_v2/Users/{id}` answered then (less
/// `meta.location` and the read-only `groups`: the groups are listed apart).
pub fn user_json(user_id: Uuid, row: &UserRow) -> Value {
    scim_json(
        "User",
        user_id,
        &row.resource,
        None,
        (row.created_at, row.updated_at, row.version),
    )
}

/// A stored resource with `schemas` first, then `id`, its attributes as
/// stored, `extra`, and `meta`.
fn scim_json(
    resource_type: &str,
    id: Uuid,
    resource: &Value,
    extra: Option<(&str, Value)>,
    (created, last_modified, version): (OffsetDateTime, OffsetDateTime, i64),
) -> Value {
    let mut out = crate::resource::members_in_order(resource, id, extra);
    out.insert(
        "meta".into(),
        json!({
            "resourceType": resource_type,
            "created": rfc3339(created),
            "lastModified": rfc3339(last_modified),
            "version": format!("W/\"{version}\""),
        }),
    );
    Value::Object(out)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("timestamps format as RFC 3339")
}

/// The account a membership event concerns.
pub(crate) fn membership_account(event: &Event) -> Option<Uuid> {
    match event {
        Event::OwnerAdded { account_id, .. }
        | Event::MemberAdded { account_id, .. }
        | Event::MemberLinked { account_id, .. }
        | Event::MemberRoleChanged { account_id, .. }
        | Event::MemberSuspended { account_id }
        | Event::MemberRestored { account_id }
        | Event::MemberRemoved { account_id, .. } => Some(*account_id),
        _ => None,
    }
}

/// Every group that contains `member`, directly or through nested groups.
fn groups_containing(containing: &BTreeMap<Uuid, Vec<Uuid>>, member: Uuid) -> BTreeSet<Uuid> {
    let mut found = BTreeSet::new();
    let mut next = vec![member];
    while let Some(inner) = next.pop() {
        for group in containing.get(&inner).into_iter().flatten() {
            if found.insert(*group) {
                next.push(*group);
            }
        }
    }
    found
}

/// An organization at an instant, as the audit answers with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateView {
    /// The last event of the organization folded (0: it did not exist yet).
    pub position: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub recorded_at: Option<OffsetDateTime>,
    /// SCIM users, by `userName`.
    pub users: Vec<Value>,
    /// SCIM groups with their members, by id.
    pub groups: Vec<Value>,
    /// Memberships (removed ones too), by email.
    pub memberships: Vec<MembershipView>,
    /// Role → the groups whose members held it besides their own.
    pub role_groups: BTreeMap<String, Vec<Uuid>>,
}

/// One membership at an instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembershipView {
    pub account_id: Uuid,
    pub email: String,
    /// The member's own role.
    pub role: String,
    /// Every role held: its own, then those its SCIM groups gave.
    pub roles: Vec<String>,
    /// `active`, `suspended` or `removed`.
    pub state: &'static str,
    /// `scim` or `manual`.
    pub source: &'static str,
    /// The SCIM user it followed, if the identity provider managed it.
    pub entry_id: Option<Uuid>,
}
