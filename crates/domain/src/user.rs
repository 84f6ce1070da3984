//! The SCIM User aggregate: what a user request may do, and what it leaves.
//!
//! What a User body may hold is the `scim` crate's User definition
//! ([`scim::schema::USER`]); this module adds the rules: existence, versions,
//! no event for a change that changes nothing, and membership events when
//! `active` flips. Passwords arrive already hashed (the caller hashes, this
//! crate does no crypto); a clear password in a body is never stored.

use scim::ScimError;
use serde_json::Value;
use uuid::Uuid;

use crate::resource::{UniqueKey, attribute, refuse_another_id, with_id};
use crate::{Event, Rejection};

/// The core SCIM User schema URI.
pub const USER_SCHEMA: &str = scim::schema::CORE_USER_URN;

/// A user stream folded from its events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserState {
    /// The stored resource; `None` before provisioning and after deletion.
    pub resource: Option<Value>,
    /// The PHC string of the user's password hash, if a client set one.
    pub password_hash: Option<String>,
    /// How many events the stream holds: the version an append must name.
    pub version: i64,
    /// Whether the user's personal data was erased (`Erased`): it takes no
    /// more changes but its deletion.
    pub is_erased: bool,
}

/// What a SCIM client asks of one user. `password_hash` is the PHC string
/// of a password the request set (taken out of the body by the caller with
/// [`scim::schema::take_password`] or [`scim::schema::take_patch_password`]).
#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    /// `POST /Users`.
    Provision {
        resource: Value,
        password_hash: Option<String>,
    },
    /// `PUT /Users/{id}`; without a password the user keeps the one it had.
    Replace {
        resource: Value,
        password_hash: Option<String>,
        if_match: Option<i64>,
    },
    /// `PATCH /Users/{id}`; `body` is the whole PatchOp message.
    Patch {
        body: Value,
        password_hash: Option<String>,
        if_match: Option<i64>,
    },
    /// `DELETE /Users/{id}`.
    Delete { if_match: Option<i64> },
}

/// Decides what a command does to user `user_id`, or why it may not.
pub fn decide(
    state: &UserState,
    command: UserCommand,
    user_id: Uuid,
) -> Result<Vec<Event>, Rejection> {
    if state.is_erased && !matches!(command, UserCommand::Delete { .. }) {
        return Err(ScimError::bad_request(
            scim::ScimType::Mutability,
            "this user's personal data was erased: it takes no more changes; \
             delete it, or provision the person as a new user",
        )
        .into());
    }
    match command {
        UserCommand::Provision {
            resource,
            password_hash,
        } => {
            if state.version > 0 {
                return Err(ScimError::conflict_uniqueness("the user already exists").into());
            }
            Ok(vec![Event::UserProvisioned {
                resource: accept_resource(resource)?,
                password_hash,
            }])
        }
        UserCommand::Replace {
            resource,
            password_hash,
            if_match,
        } => {
            let current = existing(state, if_match)?;
            refuse_another_id(&resource, user_id)?;
            let resource = accept_resource(resource)?;
            Ok(changed(
                current,
                resource,
                password_hash,
                |resource, password_hash| Event::UserReplaced {
                    resource,
                    password_hash,
                },
            ))
        }
        UserCommand::Patch {
            mut body,
            password_hash,
            if_match,
        } => {
            let current = existing(state, if_match)?;
            // A clear password the caller left in the body is dropped, never recorded.
            scim::schema::take_patch_password(&mut body)?;
            let request = scim::PatchRequest::parse(&body)?;
            let patched =
                scim::patch::apply(&with_id(current, user_id), &request, &scim::UserSchema)?;
            let resource = accept_resource(patched)?;
            let operations = body
                .as_object()
                .and_then(|message| {
                    message
                        .iter()
                        .find(|(key, _)| key.eq_ignore_ascii_case("Operations"))
                })
                .map_or(Value::Null, |(_, operations)| operations.clone());
            Ok(changed(
                current,
                resource,
                password_hash,
                |resource, password_hash| Event::UserPatched {
                    operations,
                    resource,
                    password_hash,
                },
            ))
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
        Event::UserProvisioned {
            resource,
            password_hash,
        } => {
            state.resource = Some(resource.clone());
            state.password_hash.clone_from(password_hash);
        }
        Event::UserReplaced {
            resource,
            password_hash,
        }
        | Event::UserPatched {
            resource,
            password_hash,
            ..
        } => {
            state.resource = Some(resource.clone());
            if password_hash.is_some() {
                state.password_hash.clone_from(password_hash);
            }
        }
        Event::UserDeleted {} => {
            state.resource = None;
            state.password_hash = None;
        }
        Event::Erased { .. } => {
            state.resource = state
                .resource
                .as_ref()
                .map(crate::erasable::erased_user_resource);
            state.password_hash = None;
            state.is_erased = true;
        }
        _ => {}
    }
    state
}

/// The values of a resource that must be unique in its organization.
pub fn unique_keys(resource: Option<&Value>) -> Vec<UniqueKey> {
    let Some(resource) = resource else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    if let Some(Value::String(user_name)) = attribute(resource, "userName") {
        keys.push(UniqueKey {
            kind: "userName",
            key: scim::fold_case(user_name),
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
/// (Entra re-sends unchanged values every cycle) and no password was set,
/// plus the membership event when `active` flipped.
fn changed(
    current: &Value,
    resource: Value,
    password_hash: Option<String>,
    event: impl FnOnce(Value, Option<String>) -> Event,
) -> Vec<Event> {
    if *current == resource && password_hash.is_none() {
        return Vec::new();
    }
    let flip = match (is_active(current), is_active(&resource)) {
        (true, false) => Some(Event::UserDeactivated {}),
        (false, true) => Some(Event::UserReactivated {}),
        _ => None,
    };
    std::iter::once(event(resource, password_hash))
        .chain(flip)
        .collect()
}

/// Turns a client's User body into the resource rollcall stores, as the
/// User definition says: server-owned attributes (`id`, `meta`, `groups`)
/// dropped, the write-only `password` never stored, `userName` required,
/// every known attribute of its type (booleans coerced from Entra's
/// `"True"`/`"False"`), unknown ones kept as sent.
fn accept_resource(resource: Value) -> Result<Value, ScimError> {
    scim::schema::USER.accept(resource)
}

#[cfg(test)]
mod tests;
