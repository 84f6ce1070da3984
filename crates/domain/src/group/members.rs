//! Reading what a request asks of a group's member list: the `members`
//! values of a body and the member operations of a PATCH, as set operations
//! on member ids. The group's current members are not needed to read them;
//! [`MemberOp::named`] says which of them the decision must know.

use std::collections::BTreeSet;

use scim::{CompValue, CompareOp, Filter, PatchOpKind, PatchOperation, ScimError, ScimType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// What a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    /// The SCIM `type` of a member, also stored in `scim_group_members`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "User",
            MemberKind::Group => "Group",
        }
    }

    /// Reads a stored `member_type`.
    pub fn parse(text: &str) -> Option<MemberKind> {
        match text {
            "User" => Some(MemberKind::User),
            "Group" => Some(MemberKind::Group),
            _ => None,
        }
    }
}

/// One member as events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    pub value: Uuid,
    #[serde(rename = "type")]
    pub kind: MemberKind,
    /// The `display` the client sent with the member, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// One change to the member list, in the order the request gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// Make these members (adding a member twice is a no-op).
    Add(Vec<Uuid>),
    /// Remove these members (removing an absent one is a no-op).
    Remove(Vec<Uuid>),
    /// Remove every member: `remove` on `members` with no value at all.
    RemoveAll,
    /// The members are exactly these: `replace members`, or a PUT with `members`.
    Set(Vec<Uuid>),
}

impl MemberOp {
    /// The ids this operation names.
    pub fn named(&self) -> &[Uuid] {
        match self {
            MemberOp::Add(ids) | MemberOp::Remove(ids) | MemberOp::Set(ids) => ids,
            MemberOp::RemoveAll => &[],
        }
    }

    /// Whether deciding it needs the whole current member list.
    pub fn needs_every_member(&self) -> bool {
        matches!(self, MemberOp::RemoveAll | MemberOp::Set(_))
    }
}

/// The ids of a `members` value: an array of `{"value": id, ...}` objects
/// (`$ref` and `type` are the server's to fill; `display` is read by
/// [`member_displays`]), or one such object. Ids that are no UUID cannot be
/// members here: 400 `invalidValue` naming them.
pub fn member_ids(value: &Value) -> Result<Vec<Uuid>, ScimError> {
    let one = |item: &Value| -> Result<Uuid, ScimError> {
        let id = match item {
            Value::Object(fields) => fields
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case("value"))
                .map(|(_, value)| value),
            _ => None,
        };
        match id {
            Some(Value::String(text)) => parse_id(text),
            _ => Err(invalid(format!(
                "a member must be an object with a \"value\" id, not {item}"
            ))),
        }
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Null => Ok(Vec::new()),
        item => Ok(vec![one(item)?]),
    }
}

/// The `display` strings a `members` value gives its members, by id.
pub fn member_displays(value: &Value) -> Vec<(Uuid, String)> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        item => std::slice::from_ref(item),
    };
    items
        .iter()
        .filter_map(|item| {
            let fields = item.as_object()?;
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .and_then(|(_, value)| value.as_str())
            };
            let id = Uuid::parse_str(field("value")?.trim()).ok()?;
            Some((id, field("display")?.to_owned()))
        })
        .collect()
}

/// Splits a PATCH operation into what it does to the group's attributes and
/// what it does to its members. Path-less `add`/`replace` values may carry
/// both (`{"displayName": ..., "members": [...]}`).
pub fn split_operation(
    operation: &PatchOperation,
) -> Result<(Option<PatchOperation>, Option<MemberOp>), ScimError> {
    let Some(path) = &operation.path else {
        let Some(Value::Object(fields)) = &operation.value else {
            return Ok((Some(operation.clone()), None));
        };
        let (members, rest): (Map<String, Value>, Map<String, Value>) = fields
            .clone()
            .into_iter()
            .partition(|(key, _)| key.eq_ignore_ascii_case("members"));
        let member_op = match members.into_iter().next() {
            None => None,
            Some((_, value)) => Some(list_op(operation.op, Some(&value))?),
        };
        let attribute_op = (!rest.is_empty()).then(|| PatchOperation {
            value: Some(Value::Object(rest)),
            ..operation.clone()
        });
        return Ok((attribute_op, member_op));
    };
    let is_members = scim::schema::is_core_urn(path.attr.urn.as_deref())
        && path.attr.name.eq_ignore_ascii_case("members");
    if !is_members {
        return Ok((Some(operation.clone()), None));
    }
    let member_op = match (&path.filter, &path.sub, operation.op) {
        (None, None, op) => list_op(op, operation.value.as_ref())?,
        (Some(filter), None, PatchOpKind::Remove) => MemberOp::Remove(selected_ids(filter)?),
        _ => {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!(
                    "{path} cannot be {}: members are added or replaced through \"members\" \
                     and removed through \"members\" or members[value eq \"id\"]",
                    verb(operation.op)
                ),
            ));
        }
    };
    Ok((None, Some(member_op)))
}

/// An operation on the whole `members` attribute.
fn list_op(op: PatchOpKind, value: Option<&Value>) -> Result<MemberOp, ScimError> {
    Ok(match (op, value) {
        (PatchOpKind::Add, Some(value)) => MemberOp::Add(member_ids(value)?),
        (PatchOpKind::Add, None) => {
            return Err(invalid("an \"add\" of members needs a value"));
        }
        // RFC 7644 §3.5.2.2: without a value, remove takes them all; with
        // one (Entra's form), only the listed members go.
        (PatchOpKind::Remove, None | Some(Value::Null)) => MemberOp::RemoveAll,
        (PatchOpKind::Remove, Some(value)) => MemberOp::Remove(member_ids(value)?),
        (PatchOpKind::Replace, value) => {
            MemberOp::Set(value.map(member_ids).transpose()?.unwrap_or_default())
        }
    })
}

/// The ids a `members[...]` filter selects: `value eq "id"`, or several
/// joined with `or`. Selecting members by anything else would need the whole
/// list read to evaluate, and no client sends it.
fn selected_ids(filter: &Filter) -> Result<Vec<Uuid>, ScimError> {
    let mut ids = BTreeSet::new();
    collect_ids(filter, &mut ids)?;
    Ok(ids.into_iter().collect())
}

fn collect_ids(filter: &Filter, ids: &mut BTreeSet<Uuid>) -> Result<(), ScimError> {
    match filter {
        Filter::Or(a, b) => {
            collect_ids(a, ids)?;
            collect_ids(b, ids)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            ids.insert(parse_id(id)?);
            Ok(())
        }
        other => Err(ScimError::bad_request(
            ScimType::InvalidFilter,
            format!("members[{other}] cannot select members: use members[value eq \"id\"]"),
        )),
    }
}

fn parse_id(text: &str) -> Result<Uuid, ScimError> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        invalid(format!(
            "member {text:?} is not a user or group of this organization"
        ))
    })
}

fn verb(op: PatchOpKind) -> &'static str {
    match op {
        PatchOpKind::Add => "added to",
        PatchOpKind::Remove => "removed",
        PatchOpKind::Replace => "replaced",
    }
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim::PatchRequest;
    use serde_json::json;

    fn split(op: Value) -> Result<(Option<PatchOperation>, Option<MemberOp>), ScimError> {
        let request = PatchRequest::parse(&json!({ "Operations": [op] })).unwrap();
        split_operation(&request.operations[0])
    }

    const A: &str = "7f0e5c4e-0000-4000-8000-00000000000a";
    const B: &str = "7f0e5c4e-0000-4000-8000-00000000000b";

    fn id(text: &str) -> Uuid {
        Uuid::parse_str(text).unwrap()
    }

    #[test]
    fn entra_remove_with_a_value_list_removes_only_those() {
        let (attrs, members) = split(json!({"op": "Remove", "path": "members",
            "value": [{"value": A}, {"value": B}]}))
        .unwrap();
        assert_eq!(attrs, None);
        assert_eq!(members, Some(MemberOp::Remove(vec![id(A), id(B)])));
    }

    #[test]
    fn remove_without_a_value_removes_every_member_but_an_empty_list_none() {
        let (_, all) = split(json!({"op": "remove", "path": "members"})).unwrap();
        assert_eq!(all, Some(MemberOp::RemoveAll));
        let (_, none) = split(json!({"op": "remove", "path": "members", "value": []})).unwrap();
        assert_eq!(none, Some(MemberOp::Remove(vec![])));
    }

    #[test]
    fn a_value_filter_on_members_removes_the_named_ones() {
        let (_, members) = split(json!({"op": "remove",
            "path": format!("members[value eq \"{A}\" or value eq \"{B}\"]")}))
        .unwrap();
        assert_eq!(members, Some(MemberOp::Remove(vec![id(A), id(B)])));
    }

    #[test]
    fn add_with_null_refs_reads_the_values() {
        let (_, members) = split(json!({"op": "Add", "path": "members",
            "value": [{"$ref": null, "value": A}, {"$ref": null, "value": B}]}))
        .unwrap();
        assert_eq!(members, Some(MemberOp::Add(vec![id(A), id(B)])));
    }

    #[test]
    fn path_less_values_split_into_attributes_and_members() {
        let (attrs, members) = split(json!({"op": "replace",
            "value": {"displayName": "Ops", "members": [{"value": A}]}}))
        .unwrap();
        assert_eq!(attrs.unwrap().value, Some(json!({"displayName": "Ops"})));
        assert_eq!(members, Some(MemberOp::Set(vec![id(A)])));
    }

    #[test]
    fn a_member_that_is_no_id_is_named_in_the_error() {
        let error = split(json!({"op": "add", "path": "members", "value": [{"value": "bob"}]}))
            .unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
        assert!(error.detail.contains("\"bob\""), "{}", error.detail);
    }

    #[test]
    fn other_member_filters_are_refused() {
        let error =
            split(json!({"op": "remove", "path": "members[type eq \"User\"]"})).unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidFilter));
        let error =
            split(json!({"op": "add", "path": format!("members[value eq \"{A}\"]"), "value": {}}))
                .unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidPath));
    }
}
