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

#[test]
fn an_erased_user_takes_no_change_but_its_deletion() {
    let state = given(&[provisioned(), Event::Erased { erased_by: None }]);
    assert!(state.is_erased);
    assert_eq!(
        state.resource.as_ref().unwrap()["userName"],
        json!(crate::erasable::ERASED)
    );
    let refused = decide(
        &state,
        UserCommand::Patch {
            body: json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                         "Operations": [{"op": "replace", "path": "active", "value": true}]}),
            password_hash: None,
            if_match: None,
        },
    )
    .unwrap_err();
    assert!(matches!(refused, Rejection::Invalid(error) if error.detail.contains("erased")));
    assert_eq!(
        decide(&state, UserCommand::Delete { if_match: None }).unwrap(),
        vec![Event::UserDeleted {}]
    );
}
