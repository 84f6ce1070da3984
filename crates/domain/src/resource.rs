//! What users and groups have in common as stored SCIM resources: finding a
//! top-level attribute (case-insensitively, as RFC 7643 asks), the values
//! that must be unique in an organization, and the read-only `id`.
//!
//! A stored resource never holds its `id` (the stream id is the id); the
//! helpers here add it where a client's view needs it and refuse a body that
//! names another resource.

use scim::{ScimError, ScimType};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A value that must be unique within an organization.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueKey {
    /// What kind of value (`userName`, `externalId`, `groupDisplayName`).
    pub kind: &'static str,
    /// The value as compared: [`scim::fold_case`] where the schema says
    /// caseExact false (the key filters and sorting compare too).
    pub key: String,
}

impl UniqueKey {
    /// The SCIM attribute that holds the value (a group's `displayName` for
    /// `groupDisplayName`).
    pub fn attribute(&self) -> &'static str {
        match self.kind {
            "groupDisplayName" => "displayName",
            other => other,
        }
    }

    /// The value as `resource` holds it: as the client sent it, where
    /// [`UniqueKey::key`] may be case-folded.
    pub fn value_in<'a>(&self, resource: &'a Value) -> Option<&'a str> {
        attribute(resource, self.attribute())?.as_str()
    }
}

/// A top-level attribute, found case-insensitively as RFC 7643 asks.
pub fn attribute<'a>(resource: &'a Value, name: &str) -> Option<&'a Value> {
    resource
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// A top-level attribute that holds a string, as an owned string.
pub(crate) fn string_attribute(resource: &Value, name: &str) -> Option<String> {
    attribute(resource, name)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The stored resource (which never holds `id`) with its `id`, as the
/// client sees it: a PATCH that sends the `id` the resource has changes
/// nothing, one that sends another is refused. Validation drops it again.
pub(crate) fn with_id(resource: &Value, id: Uuid) -> Value {
    let mut resource = resource.clone();
    if let Some(fields) = resource.as_object_mut() {
        fields.insert("id".to_owned(), Value::String(id.to_string()));
    }
    resource
}

/// Refuses a replacement whose `id` names another resource: `id` is
/// read-only, so sending the resource's own id is no change (RFC 7644
/// §3.5.1 ignores it), but another id is a client mixing up resources.
pub(crate) fn refuse_another_id(resource: &Value, id: Uuid) -> Result<(), ScimError> {
    match attribute(resource, "id") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(sent)) if sent.eq_ignore_ascii_case(&id.to_string()) => Ok(()),
        Some(_) => Err(ScimError::bad_request(
            ScimType::Mutability,
            format!("id is read-only: this resource is {id}; send that id or none"),
        )),
    }
}

/// A stored resource's members in SCIM order: `schemas` first, then `id`,
/// the members as stored, and `extra` (attributes kept apart, like a user's
/// `groups`); the caller adds `meta`. What the SCIM API serves and what the
/// auditors' state at an instant shows are built alike.
pub fn members_in_order(
    resource: &Value,
    id: Uuid,
    extra: Option<(&str, Value)>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let fields = resource.as_object().cloned().unwrap_or_default();
    if let Some((key, schemas)) = fields
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("schemas"))
    {
        out.insert(key.clone(), schemas.clone());
    }
    out.insert("id".into(), Value::String(id.to_string()));
    for (key, value) in fields {
        if !key.eq_ignore_ascii_case("schemas") {
            out.insert(key, value);
        }
    }
    if let Some((key, value)) = extra {
        out.insert(key.into(), value);
    }
    out
}
