//! The SCIM User aggregate: what a user request may do, and what it leaves.

use scim::{ScimError, ScimType};
use serde_json::{Map, Value};

use crate::{Event, Rejection};

/// The core SCIM User schema URI.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A user stream folded from its events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserState {
    /// The stored resource; `None` before provisioning and after deletion.
    pub resource: Option<Value>,
    /// How many events the stream holds: the version an append must name.
    pub version: i64,
}

/// What a SCIM client asks of one user.
#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    /// `POST /Users`.
    Provision { resource: Value },
    /// `PUT /Users/{id}`.
    Replace {
        resource: Value,
        if_match: Option<i64>,
    },
    /// `PATCH /Users/{id}`; `body` is the whole PatchOp message.
    Patch { body: Value, if_match: Option<i64> },
    /// `DELETE /Users/{id}`.
    Delete { if_match: Option<i64> },
}

/// A value that must be unique within an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueKey {
    /// What kind of value (`userName`, `externalId`).
    pub kind: &'static str,
    /// The value as compared: case-folded where the schema says caseExact false.
    pub key: String,
}

/// Decides what a command does to a user, or why it may not.
pub fn decide(state: &UserState, command: UserCommand) -> Result<Vec<Event>, Rejection> {
    match command {
        UserCommand::Provision { resource } => {
            if state.version > 0 {
                return Err(ScimError::conflict_uniqueness("the user already exists").into());
            }
            Ok(vec![Event::UserProvisioned {
                resource: accept_resource(resource)?,
            }])
        }
        UserCommand::Replace { resource, if_match } => {
            let current = existing(state, if_match)?;
            let resource = accept_resource(resource)?;
            Ok(changed(current, resource, |resource| Event::UserReplaced {
                resource,
            }))
        }
        UserCommand::Patch { body, if_match } => {
            let current = existing(state, if_match)?;
            let request = scim::PatchRequest::parse(&body)?;
            let patched = scim::patch::apply(current, &request, &scim::UserSchema)?;
            let resource = accept_resource(patched)?;
            let operations = body
                .get("Operations")
                .or_else(|| body.get("operations"))
                .cloned()
                .unwrap_or(Value::Null);
            Ok(changed(current, resource, |resource| Event::UserPatched {
                operations,
                resource,
            }))
        }
        UserCommand::Delete { if_match } => {
            existing(state, if_match)?;
            Ok(vec![Event::UserDeleted {}])
        }
    }
}

/// Advances a user's state by one of its events.
pub fn evolve(mut state: UserState, event: &Event) -> UserState {
    state.version += 1;
    match event {
        Event::UserProvisioned { resource }
        | Event::UserReplaced { resource }
        | Event::UserPatched { resource, .. } => state.resource = Some(resource.clone()),
        Event::UserDeleted {} => state.resource = None,
        _ => {}
    }
    state
}

/// The values of a resource that must be unique in its organisation.
pub fn unique_keys(resource: Option<&Value>) -> Vec<UniqueKey> {
    let Some(resource) = resource else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    if let Some(Value::String(user_name)) = attribute(resource, "userName") {
        keys.push(UniqueKey {
            kind: "userName",
            key: user_name.to_lowercase(),
        });
    }
    if let Some(Value::String(external_id)) = attribute(resource, "externalId")
        && !external_id.is_empty()
    {
        keys.push(UniqueKey {
            kind: "externalId",
            key: external_id.clone(),
        });
    }
    keys
}

/// Whether a stored resource counts as active (SCIM's default is true).
pub fn is_active(resource: &Value) -> bool {
    !matches!(attribute(resource, "active"), Some(Value::Bool(false)))
}

/// A top-level attribute, found case-insensitively as RFC 7643 asks.
pub fn attribute<'a>(resource: &'a Value, name: &str) -> Option<&'a Value> {
    resource
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn existing(state: &UserState, if_match: Option<i64>) -> Result<&Value, Rejection> {
    let current = state.resource.as_ref().ok_or(Rejection::NotFound("user"))?;
    match if_match {
        Some(expected) if expected != state.version => Err(Rejection::StaleVersion {
            expected,
            actual: state.version,
        }),
        _ => Ok(current),
    }
}

/// The events for a resource that may have changed: none when nothing did
/// (Entra re-sends unchanged values every cycle), plus the membership event
/// when `active` flipped.
fn changed(current: &Value, resource: Value, event: impl FnOnce(Value) -> Event) -> Vec<Event> {
    if *current == resource {
        return Vec::new();
    }
    let flip = match (is_active(current), is_active(&resource)) {
        (true, false) => Some(Event::UserDeactivated {}),
        (false, true) => Some(Event::UserReactivated {}),
        _ => None,
    };
    std::iter::once(event(resource)).chain(flip).collect()
}

/// Turns a client's User body into the resource rollcall stores: server-owned
/// attributes (`id`, `meta`, `groups`) dropped, the write-only `password`
/// never stored, `userName` required, `active` a real boolean.
fn accept_resource(resource: Value) -> Result<Value, ScimError> {
    let Value::Object(fields) = resource else {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "a User must be a JSON object",
        ));
    };
    let mut kept = Map::with_capacity(fields.len() + 1);
    for (key, value) in fields {
        let lower = key.to_ascii_lowercase();
        match lower.as_str() {
            "id" | "meta" | "groups" | "password" => continue,
            // RFC 7643 §2.5: null is the same as unassigned.
            _ if value.is_null() => continue,
            "active" => {
                kept.insert(key, Value::Bool(parse_active(&value)?));
            }
            _ => {
                kept.insert(key, value);
            }
        }
    }
    let resource = Value::Object(kept);
    match attribute(&resource, "userName") {
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        _ => {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "userName is required and must be a non-empty string",
            ));
        }
    }
    Ok(with_core_schema(resource))
}

fn parse_active(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(active) => Ok(*active),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("active must be true or false, not {other}"),
        )),
    }
}

fn with_core_schema(mut resource: Value) -> Value {
    let fields = resource.as_object_mut().expect("checked to be an object");
    let has_schemas = fields.keys().any(|key| key.eq_ignore_ascii_case("schemas"));
    if !has_schemas {
        fields.insert("schemas".into(), Value::Array(vec![USER_SCHEMA.into()]));
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn given(events: &[Event]) -> UserState {
        events.iter().fold(UserState::default(), evolve)
    }

    fn provisioned() -> Event {
        Event::UserProvisioned {
            resource: json!({"schemas": [USER_SCHEMA], "userName": "Ada@Example.com", "active": true}),
        }
    }

    #[test]
    fn provisioning_drops_server_owned_attributes_and_the_password() {
        let events = decide(
            &UserState::default(),
            UserCommand::Provision {
                resource: json!({"userName": "a", "id": "x", "meta": {}, "password": "hunter2", "active": "True"}),
            },
        )
        .unwrap();
        assert_eq!(
            events,
            vec![Event::UserProvisioned {
                resource: json!({"userName": "a", "active": true, "schemas": [USER_SCHEMA]})
            }]
        );
    }

    #[test]
    fn explicit_nulls_are_unassigned_attributes() {
        let events = decide(
            &UserState::default(),
            UserCommand::Provision {
                resource: json!({"userName": "a", "title": null, "nickName": "n"}),
            },
        )
        .unwrap();
        assert_eq!(
            events,
            vec![Event::UserProvisioned {
                resource: json!({"userName": "a", "nickName": "n", "schemas": [USER_SCHEMA]})
            }]
        );
    }

    #[test]
    fn provisioning_without_user_name_is_refused() {
        let refused = decide(
            &UserState::default(),
            UserCommand::Provision {
                resource: json!({"displayName": "x"}),
            },
        );
        assert!(
            matches!(refused, Err(Rejection::Invalid(e)) if e.scim_type == Some(ScimType::InvalidValue))
        );
    }

    #[test]
    fn a_patch_that_deactivates_also_ends_the_membership() {
        let state = given(&[provisioned()]);
        let body = json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
        let events = decide(
            &state,
            UserCommand::Patch {
                body,
                if_match: None,
            },
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1], Event::UserDeactivated {});
    }

    #[test]
    fn a_patch_that_changes_nothing_records_nothing() {
        let state = given(&[provisioned()]);
        let body = json!({"Operations": [{"op": "replace", "path": "active", "value": true}]});
        assert_eq!(
            decide(
                &state,
                UserCommand::Patch {
                    body,
                    if_match: None
                }
            )
            .unwrap(),
            vec![]
        );
    }

    #[test]
    fn a_stale_if_match_is_refused() {
        let state = given(&[provisioned()]);
        assert_eq!(
            decide(&state, UserCommand::Delete { if_match: Some(7) }),
            Err(Rejection::StaleVersion {
                expected: 7,
                actual: 1
            })
        );
    }

    #[test]
    fn a_deleted_user_is_not_found() {
        let state = given(&[provisioned(), Event::UserDeleted {}]);
        assert_eq!(
            decide(&state, UserCommand::Delete { if_match: None }),
            Err(Rejection::NotFound("user"))
        );
        assert_eq!(state.version, 2);
    }

    #[test]
    fn user_names_are_unique_case_insensitively_and_external_ids_exactly() {
        let keys = unique_keys(Some(&json!({"UserName": "Ada@X.com", "externalId": "AbC"})));
        assert_eq!(keys[0].key, "ada@x.com");
        assert_eq!(keys[1].key, "AbC");
    }
}
