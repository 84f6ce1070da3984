//! The SCIM Group aggregate: a group's attributes, and its member list as a
//! set that requests change by adding and removing ids.
//!
//! A decision needs the group's attributes and version, and of its members
//! only those the request names ([`GroupPlan::named_members`]), or all of
//! them when it replaces the list: the caller looks those up and passes them
//! as [`MemberFacts`]. Member events carry only the members that changed, so
//! two requests that change different members commute ([`commutes`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use scim::{PatchRequest, ScimError, ScimType};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::resource::{UniqueKey, attribute, refuse_another_id, with_id};
use crate::{Event, Rejection};

mod members;

pub use members::{Member, MemberKind, MemberOp, member_displays, member_ids};

/// The core SCIM Group schema URI.
pub const GROUP_SCHEMA: &str = scim::schema::CORE_GROUP_URN;

/// A group's attributes folded from its events, and its stream version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupState {
    /// The stored resource (without members); `None` before creation and after deletion.
    pub resource: Option<Value>,
    /// How many events the stream holds, member events included.
    pub version: i64,
}

/// What a SCIM client asks of one group.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupCommand {
    /// `POST /Groups`.
    Create { resource: Value },
    /// `PUT /Groups/{id}`. A body without `members` leaves them as they are
    /// (a client that did not send the list did not mean to empty it); an
    /// explicit `"members": []` empties the group.
    Replace {
        resource: Value,
        if_match: Option<i64>,
    },
    /// `PATCH /Groups/{id}`; `body` is the whole PatchOp message.
    Patch { body: Value, if_match: Option<i64> },
    /// `DELETE /Groups/{id}`.
    Delete { if_match: Option<i64> },
}

/// A command read and checked, before anything about the group is known.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    action: Action,
    member_ops: Vec<MemberOp>,
    /// The `display` sent with members, kept with those that join.
    displays: HashMap<Uuid, String>,
    if_match: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Create(Value),
    Replace(Value),
    Patch(PatchRequest),
    Delete,
}

/// What the decision must know about members: of the ids the plan names,
/// which are members now and what each is in the organization.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberFacts {
    /// The current members among the named ids; every current member when
    /// [`GroupPlan::needs_every_member`].
    pub current: HashSet<Uuid>,
    /// The named ids that are users or groups of the organization.
    pub existing: HashMap<Uuid, MemberKind>,
}

impl GroupPlan {
    /// Reads a command: the member values and member operations parsed, the
    /// rest left for [`decide`].
    pub fn read(command: GroupCommand) -> Result<GroupPlan, Rejection> {
        let displays = match &command {
            GroupCommand::Create { resource } | GroupCommand::Replace { resource, .. } => {
                displays_in(resource)
            }
            GroupCommand::Patch { body, .. } => displays_in(body),
            GroupCommand::Delete { .. } => HashMap::new(),
        };
        let (action, member_ops, if_match) = match command {
            GroupCommand::Create { resource } => {
                let (resource, members) = take_members(resource)?;
                let ops = members.map(MemberOp::Add).into_iter().collect();
                (Action::Create(resource), ops, None)
            }
            GroupCommand::Replace { resource, if_match } => {
                let (resource, members) = take_members(resource)?;
                let ops = members.map(MemberOp::Set).into_iter().collect();
                (Action::Replace(resource), ops, if_match)
            }
            GroupCommand::Patch { body, if_match } => {
                let request = PatchRequest::parse(&body)?;
                let mut attribute_ops = Vec::new();
                let mut member_ops = Vec::new();
                for (index, operation) in request.operations.iter().enumerate() {
                    let (attribute_op, member_op) =
                        members::split_operation(operation).map_err(|mut error| {
                            error.detail = format!("Operations[{index}]: {}", error.detail);
                            error
                        })?;
                    attribute_ops.extend(attribute_op);
                    member_ops.extend(member_op);
                }
                let request = PatchRequest {
                    operations: attribute_ops,
                };
                (Action::Patch(request), member_ops, if_match)
            }
            GroupCommand::Delete { if_match } => (Action::Delete, Vec::new(), if_match),
        };
        Ok(GroupPlan {
            action,
            member_ops,
            displays,
            if_match,
        })
    }

    /// The member ids the decision must know about.
    pub fn named_members(&self) -> BTreeSet<Uuid> {
        self.member_ops
            .iter()
            .flat_map(|op| op.named().iter().copied())
            .collect()
    }

    /// Whether the request changes members at all (else no member facts are needed).
    pub fn changes_members(&self) -> bool {
        !self.member_ops.is_empty()
    }

    /// Whether the decision needs every current member (it replaces the list).
    pub fn needs_every_member(&self) -> bool {
        self.member_ops.iter().any(MemberOp::needs_every_member)
    }

    /// Whether this starts a new group.
    pub fn is_create(&self) -> bool {
        matches!(self.action, Action::Create(_))
    }

    /// Whether the events may be appended at whatever version the group has
    /// reached: they only add and remove members, and the client named no
    /// version. Attribute changes are decided on the attributes they replace,
    /// so they need the version they were decided on.
    pub fn commutes(&self) -> bool {
        self.if_match.is_none()
            && match &self.action {
                Action::Patch(request) => request.operations.is_empty(),
                _ => false,
            }
    }
}

/// Decides what a plan does to a group, or why it may not.
pub fn decide(
    state: &GroupState,
    plan: &GroupPlan,
    facts: &MemberFacts,
    group_id: Uuid,
) -> Result<Vec<Event>, Rejection> {
    let mut events = Vec::new();
    match &plan.action {
        Action::Create(resource) => {
            if state.version > 0 {
                return Err(ScimError::conflict_uniqueness("the group already exists").into());
            }
            events.push(Event::GroupCreated {
                resource: accept_resource(resource.clone())?,
            });
        }
        Action::Replace(resource) => {
            let current = existing(state, plan.if_match)?;
            refuse_another_id(resource, group_id)?;
            let resource = accept_resource(resource.clone())?;
            if *current != resource {
                events.push(Event::GroupUpdated { resource });
            }
        }
        Action::Patch(request) => {
            let current = existing(state, plan.if_match)?;
            if !request.operations.is_empty() {
                let patched =
                    scim::patch::apply(&with_id(current, group_id), request, &scim::GroupSchema)?;
                let resource = accept_resource(patched)?;
                if *current != resource {
                    events.push(Event::GroupUpdated { resource });
                }
            }
        }
        Action::Delete => {
            existing(state, plan.if_match)?;
            return Ok(vec![Event::GroupDeleted {}]);
        }
    }
    events.extend(member_events(plan, facts, group_id)?);
    Ok(events)
}

/// The net member changes of the operations, applied in order to what the
/// facts say; only members whose state differs at the end are in the events.
fn member_events(
    plan: &GroupPlan,
    facts: &MemberFacts,
    group_id: Uuid,
) -> Result<Vec<Event>, ScimError> {
    let ops = &plan.member_ops;
    // true: a member at the end; ids not in the map are as they were.
    let mut after: BTreeMap<Uuid, bool> = BTreeMap::new();
    for op in ops {
        match op {
            MemberOp::Add(ids) => {
                for id in ids {
                    check_member(*id, facts, group_id)?;
                    after.insert(*id, true);
                }
            }
            MemberOp::Remove(ids) => after.extend(ids.iter().map(|id| (*id, false))),
            MemberOp::RemoveAll | MemberOp::Set(_) => {
                let everyone: Vec<Uuid> =
                    facts.current.iter().chain(after.keys()).copied().collect();
                for id in everyone {
                    after.insert(id, false);
                }
                if let MemberOp::Set(ids) = op {
                    for id in ids {
                        check_member(*id, facts, group_id)?;
                        after.insert(*id, true);
                    }
                }
            }
        }
    }
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for (id, member) in &after {
        match (facts.current.contains(id), *member) {
            (false, true) => added.push(Member {
                value: *id,
                kind: facts.existing[id],
                display: plan.displays.get(id).cloned(),
            }),
            (true, false) => removed.push(*id),
            _ => {}
        }
    }
    let mut events = Vec::new();
    if !removed.is_empty() {
        events.push(Event::GroupMembersRemoved { members: removed });
    }
    if !added.is_empty() {
        events.push(Event::GroupMembersAdded { members: added });
    }
    Ok(events)
}

fn check_member(id: Uuid, facts: &MemberFacts, group_id: Uuid) -> Result<(), ScimError> {
    if id == group_id {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("group {id} cannot be a member of itself"),
        ));
    }
    if !facts.existing.contains_key(&id) {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("member {id} is not a user or group of this organization"),
        ));
    }
    Ok(())
}

/// Advances a group's state by one of its events.
pub fn evolve(mut state: GroupState, event: &Event) -> GroupState {
    state.version += 1;
    match event {
        Event::GroupCreated { resource } | Event::GroupUpdated { resource } => {
            state.resource = Some(resource.clone());
        }
        Event::GroupDeleted {} => state.resource = None,
        _ => {}
    }
    state
}

/// The stored type names of the events that change a group's attributes:
/// the events the write path reads back to decide (member events are left in
/// the log). Migration V0005's partial index `events_group_attributes` lists
/// the same names.
pub const ATTRIBUTE_EVENTS: [&str; 3] = ["GroupCreated", "GroupUpdated", "GroupDeleted"];

/// The values of a group that must be unique in its organization: the
/// display name, case-insensitively ([`scim::fold_case`]).
pub fn unique_keys(resource: Option<&Value>) -> Vec<UniqueKey> {
    match resource.and_then(|resource| attribute(resource, "displayName")) {
        Some(Value::String(name)) => vec![UniqueKey {
            kind: "groupDisplayName",
            key: scim::fold_case(name),
        }],
        _ => Vec::new(),
    }
}

fn existing(state: &GroupState, if_match: Option<i64>) -> Result<&Value, Rejection> {
    let current = state
        .resource
        .as_ref()
        .ok_or(Rejection::NotFound("group"))?;
    match if_match {
        Some(expected) if expected != state.version => Err(Rejection::StaleVersion {
            expected,
            actual: state.version,
        }),
        _ => Ok(current),
    }
}

/// Every member `display` anywhere in a body (a `members` value, or a
/// PATCH operation's value for `members` or with `members` in it).
fn displays_in(body: &Value) -> HashMap<Uuid, String> {
    let mut found = HashMap::new();
    match body {
        Value::Object(fields) => {
            for (key, value) in fields {
                let lists_members = key.eq_ignore_ascii_case("members")
                    || (key.eq_ignore_ascii_case("value") && is_members_operation(fields));
                if lists_members {
                    found.extend(member_displays(value));
                } else {
                    found.extend(displays_in(value));
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| found.extend(displays_in(item))),
        _ => {}
    }
    found
}

fn is_members_operation(operation: &Map<String, Value>) -> bool {
    operation.iter().any(|(key, value)| {
        key.eq_ignore_ascii_case("path")
            && value
                .as_str()
                .is_some_and(|path| path.trim().eq_ignore_ascii_case("members"))
    })
}

/// Separates `members` from the rest of a Group body.
fn take_members(resource: Value) -> Result<(Value, Option<Vec<Uuid>>), Rejection> {
    let Value::Object(fields) = resource else {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "a Group must be a JSON object",
        )
        .into());
    };
    let mut members = None;
    let mut rest = Map::with_capacity(fields.len());
    for (key, value) in fields {
        if key.eq_ignore_ascii_case("members") {
            members = Some(member_ids(&value)?);
        } else {
            rest.insert(key, value);
        }
    }
    Ok((Value::Object(rest), members))
}

/// Turns a client's Group body (without members) into the resource rollcall
/// stores: validated against the Group schema (`id` and `meta` dropped,
/// nulls unassigned, types checked), `displayName` a non-blank string.
fn accept_resource(resource: Value) -> Result<Value, ScimError> {
    let resource = match resource {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .filter(|(key, _)| !key.eq_ignore_ascii_case("members"))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    };
    let resource = scim::schema::GROUP.accept(resource)?;
    match attribute(&resource, "displayName") {
        Some(Value::String(name)) if !name.trim().is_empty() => Ok(resource),
        _ => Err(ScimError::bad_request(
            ScimType::InvalidValue,
            "displayName is required and must be a non-empty string",
        )),
    }
}

#[cfg(test)]
mod tests;
