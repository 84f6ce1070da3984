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

use crate::resource::{refuse_another_id, with_id};
use crate::{Event, Rejection};

/// Old paths of the resource helpers, kept while other branches still name them.
pub use crate::resource::{UniqueKey, attribute};

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
mod tests {
    use super::*;
    use scim::ScimType;
    use serde_json::json;

    const USER_ID: Uuid = Uuid::from_u128(0x2819c223_7f76_453a_919d_413861904646);

    fn decide(state: &UserState, command: UserCommand) -> Result<Vec<Event>, Rejection> {
        super::decide(state, command, USER_ID)
    }

    fn given(events: &[Event]) -> UserState {
        events.iter().fold(UserState::default(), evolve)
    }

    fn provisioned() -> Event {
        Event::UserProvisioned {
            resource: json!({"schemas": [USER_SCHEMA], "userName": "Ada@Example.com", "active": true}),
            password_hash: None,
        }
    }

    #[test]
    fn provisioning_drops_server_owned_attributes_and_the_password() {
        let events = decide(
            &UserState::default(),
            UserCommand::Provision {
                resource: json!({"userName": "a", "id": "x", "meta": {}, "password": "hunter2", "active": "True"}),
                password_hash: None,
            },
        )
        .unwrap();
        assert_eq!(
            events,
            vec![Event::UserProvisioned {
                resource: json!({"userName": "a", "active": true, "schemas": [USER_SCHEMA]}),
                password_hash: None,
            }]
        );
    }

    #[test]
    fn explicit_nulls_are_unassigned_attributes() {
        let events = decide(
            &UserState::default(),
            UserCommand::Provision {
                resource: json!({"userName": "a", "title": null, "nickName": "n"}),
                password_hash: None,
            },
        )
        .unwrap();
        assert_eq!(
            events,
            vec![Event::UserProvisioned {
                resource: json!({"userName": "a", "nickName": "n", "schemas": [USER_SCHEMA]}),
                password_hash: None,
            }]
        );
    }

    #[test]
    fn provisioning_without_user_name_is_refused() {
        let refused = decide(
            &UserState::default(),
            UserCommand::Provision {
                resource: json!({"displayName": "x"}),
                password_hash: None,
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
                password_hash: None,
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
                    password_hash: None,
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

    #[test]
    fn user_name_keys_are_unicode_case_folds() {
        let key = |name: &str| {
            unique_keys(Some(&json!({ "userName": name })))[0]
                .key
                .clone()
        };
        assert_eq!(key("ΣΑΣ@x"), key("σας@x"));
        assert_eq!(key("σας@x"), key("σασ@x"));
        assert_eq!(key("İnfo@x"), key("i\u{307}nfo@x"));
        assert_ne!(key("İnfo@x"), key("info@x"));
        assert_eq!(key("Cafe\u{301}@x"), key("CAFÉ@x"));
    }

    fn patch(state: &UserState, operations: Value, password_hash: Option<&str>) -> Vec<Event> {
        decide(
            state,
            UserCommand::Patch {
                body: json!({"Operations": operations}),
                password_hash: password_hash.map(str::to_owned),
                if_match: None,
            },
        )
        .unwrap()
    }

    fn refusal(resource: Value) -> ScimError {
        match decide(
            &UserState::default(),
            UserCommand::Provision {
                resource,
                password_hash: None,
            },
        ) {
            Err(Rejection::Invalid(error)) => error,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_provisioned_password_hash_is_kept_by_a_put_without_one_and_replaced_by_one_with() {
        let provision = decide(
            &UserState::default(),
            UserCommand::Provision {
                resource: json!({"userName": "a"}),
                password_hash: Some("$argon2id$one".into()),
            },
        )
        .unwrap();
        let state = given(&provision);
        assert_eq!(state.password_hash.as_deref(), Some("$argon2id$one"));
        assert!(state.resource.as_ref().unwrap().get("password").is_none());

        let replace = |state: &UserState, hash: Option<&str>| {
            decide(
                state,
                UserCommand::Replace {
                    resource: json!({"userName": "a", "title": "new"}),
                    password_hash: hash.map(str::to_owned),
                    if_match: None,
                },
            )
            .unwrap()
        };
        let kept = given(&[provision.clone(), replace(&state, None)].concat());
        assert_eq!(kept.password_hash.as_deref(), Some("$argon2id$one"));
        let replaced = given(&[provision, replace(&state, Some("$argon2id$two"))].concat());
        assert_eq!(replaced.password_hash.as_deref(), Some("$argon2id$two"));
    }

    #[test]
    fn a_patch_that_only_sets_a_password_records_an_event() {
        let state = given(&[provisioned()]);
        let events = patch(&state, json!([]), Some("$argon2id$x"));
        assert_eq!(
            events,
            vec![Event::UserPatched {
                operations: json!([]),
                resource: state.resource.clone().unwrap(),
                password_hash: Some("$argon2id$x".into()),
            }]
        );
        assert_eq!(
            given(&[provisioned(), events[0].clone()]).password_hash,
            Some("$argon2id$x".into())
        );
    }

    #[test]
    fn a_clear_password_left_in_a_patch_is_never_recorded() {
        let state = given(&[provisioned()]);
        let events = patch(
            &state,
            json!([
                {"op": "replace", "path": "password", "value": "Hunter2"},
                {"op": "replace", "value": {"password": "Hunter3", "title": "T"}}
            ]),
            None,
        );
        let payload = events[0].to_payload();
        assert!(!payload.contains("Hunter"), "{payload}");
        assert!(payload.contains("\"title\":\"T\""), "{payload}");
    }

    #[test]
    fn wrong_types_are_refused_naming_the_attribute() {
        for (body, named) in [
            (json!({"userName": "a", "active": 3}), "active"),
            (json!({"userName": "a", "emails": "x"}), "emails"),
            (json!({"userName": "a", "name": "x"}), "name"),
            (json!({"userName": 7}), "userName"),
        ] {
            let error = refusal(body.clone());
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{body}");
            assert!(error.detail.starts_with(named), "{body}: {}", error.detail);
        }
    }

    #[test]
    fn a_patch_leaving_a_wrong_type_is_refused() {
        let state = given(&[provisioned()]);
        let refused = decide(
            &state,
            UserCommand::Patch {
                body: json!({"Operations": [{"op": "add", "path": "name", "value": "x"}]}),
                password_hash: None,
                if_match: None,
            },
        );
        assert!(
            matches!(refused, Err(Rejection::Invalid(e)) if e.scim_type == Some(ScimType::InvalidValue)),
        );
    }

    #[test]
    fn a_patch_may_send_the_users_own_id_but_not_another() {
        let state = given(&[provisioned()]);
        let with_id = |id: Uuid| {
            decide(
                &state,
                UserCommand::Patch {
                    body: json!({"Operations": [{"op": "replace", "value": {"id": id.to_string(), "title": "T"}}]}),
                    password_hash: None,
                    if_match: None,
                },
            )
        };
        let events = with_id(USER_ID).unwrap();
        assert_eq!(
            events,
            vec![Event::UserPatched {
                operations: json!([{"op": "replace", "value": {"id": USER_ID.to_string(), "title": "T"}}]),
                resource: json!({"schemas": [USER_SCHEMA], "userName": "Ada@Example.com", "active": true, "title": "T"}),
                password_hash: None,
            }]
        );
        assert!(
            matches!(with_id(Uuid::nil()), Err(Rejection::Invalid(e)) if e.scim_type == Some(ScimType::Mutability))
        );
    }

    #[test]
    fn a_put_may_send_the_users_own_id_but_not_another() {
        let state = given(&[provisioned()]);
        let replace = |id: Uuid| {
            decide(
                &state,
                UserCommand::Replace {
                    resource: json!({"id": id.to_string(), "userName": "Ada@Example.com", "title": "T"}),
                    password_hash: None,
                    if_match: None,
                },
            )
        };
        assert!(replace(USER_ID).is_ok());
        assert!(
            matches!(replace(Uuid::nil()), Err(Rejection::Invalid(e)) if e.scim_type == Some(ScimType::Mutability))
        );
    }

    #[test]
    fn attribute_names_in_any_case_are_stored_canonically() {
        let events = decide(
            &UserState::default(),
            UserCommand::Provision {
                resource: json!({"UserName": "a", "Active": "False", "Name": {"GivenName": "G"}}),
                password_hash: None,
            },
        )
        .unwrap();
        let resource = json!({"userName": "a", "active": false, "name": {"givenName": "G"}, "schemas": [USER_SCHEMA]});
        assert_eq!(
            events[0],
            Event::UserProvisioned {
                resource: resource.clone(),
                password_hash: None
            }
        );
        let state = given(&events);
        let patched = patch(
            &state,
            json!([{"op": "replace", "value": {"DisplayName": "D", "NAME.FAMILYNAME": "F"}}]),
            None,
        );
        let Event::UserPatched { resource, .. } = &patched[0] else {
            panic!("{patched:?}")
        };
        assert_eq!(resource["displayName"], "D");
        assert_eq!(
            resource["name"],
            json!({"givenName": "G", "familyName": "F"})
        );
    }

    #[test]
    fn events_without_a_password_hash_keep_their_stored_shape() {
        let payload = r#"{"type":"UserProvisioned","resource":{"userName":"a"}}"#;
        let event = Event::from_stored("UserProvisioned", 1, payload).unwrap();
        assert_eq!(
            event,
            Event::UserProvisioned {
                resource: json!({"userName": "a"}),
                password_hash: None
            }
        );
        assert_eq!(event.to_payload(), payload);
    }
}
