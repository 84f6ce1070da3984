use serde_json::json;

use super::*;

const KEY: Key = [7; 32];

fn user() -> Uuid {
    Uuid::from_u128(1)
}

fn provisioned() -> Event {
    Event::UserProvisioned {
        resource: json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "active": true
        }),
        password_hash: None,
    }
}

fn counter() -> impl FnMut() -> NonceBytes {
    let mut next = 0u8;
    move || {
        next += 1;
        [next; 12]
    }
}

/// The subjects whose keys sealing `event` needs.
fn subjects(event: &Event, stream_id: Uuid) -> Vec<Subject> {
    subjects_in(&mut unsealed(event), stream_id)
}

/// `event`'s payload as the appender stores it.
fn seal(
    event: &Event,
    stream_id: Uuid,
    key_of: &dyn Fn(Subject) -> Option<Key>,
    nonce: &mut dyn FnMut() -> NonceBytes,
) -> String {
    seal_unsealed(unsealed(event), stream_id, key_of, nonce)
}

/// A stored payload opened, as text.
fn open(
    payload: &str,
    stream_id: Uuid,
    key_of: &dyn Fn(Subject) -> Option<Key>,
) -> Result<String, Unsealable> {
    Ok(match open_payload(payload, stream_id, key_of)? {
        Opened::AsStored(text) => text.to_owned(),
        Opened::Opened(value) => value.to_string(),
    })
}

fn sealed_provisioned() -> String {
    seal(&provisioned(), user(), &|_| Some(KEY), &mut counter())
}

#[test]
fn personal_values_are_ciphertext_and_clear_ones_stay() {
    let payload = sealed_provisioned();
    assert!(!payload.contains("ada@example.com"), "{payload}");
    assert!(!payload.contains("Lovelace"), "{payload}");
    let stored: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(stored["resource"]["active"], json!(true));
    assert_eq!(
        stored["resource"]["schemas"][0],
        json!("urn:ietf:params:scim:schemas:core:2.0:User")
    );
    assert_eq!(
        stored["resource"]["userName"]["$erasable"]["key"],
        json!(format!("user:{}", user()))
    );
}

#[test]
fn a_sealed_payload_opens_to_the_event_with_its_key() {
    let payload = sealed_provisioned();
    let opened = open(&payload, user(), &|_| Some(KEY)).unwrap();
    let event: Event = serde_json::from_str(&opened).unwrap();
    assert_eq!(event, provisioned());
}

#[test]
fn an_opened_payload_is_the_event_as_json_and_a_clear_one_stays_its_text() {
    let payload = sealed_provisioned();
    let Opened::Opened(value) = open_payload(&payload, user(), &|_| Some(KEY)).unwrap() else {
        panic!("a sealed payload opens");
    };
    assert_eq!(value, unsealed(&provisioned()));
    let event = Event::from_stored_value("UserProvisioned", 1, value).unwrap();
    assert_eq!(event, provisioned());

    let clear = Event::UserDeactivated {}.to_payload();
    let Opened::AsStored(text) = open_payload(&clear, user(), &|_| Some(KEY)).unwrap() else {
        panic!("a payload without sealed values stays as stored");
    };
    assert_eq!(text, clear);
}

#[test]
fn a_parsed_payload_is_refused_as_a_stored_text_is() {
    let value = unsealed(&provisioned());
    let wrong_type = Event::from_stored_value("UserDeleted", 1, value.clone()).unwrap_err();
    assert!(
        wrong_type.reason.contains("payload says UserProvisioned"),
        "{wrong_type}"
    );
    let newer = Event::from_stored_value("UserProvisioned", 99, value).unwrap_err();
    assert!(newer.reason.contains("newer rollcall"), "{newer}");
}

#[test]
fn without_its_key_every_personal_value_reads_erased() {
    let payload = sealed_provisioned();
    let opened = open(&payload, user(), &|_| None).unwrap();
    let Event::UserProvisioned { resource, .. } = serde_json::from_str(&opened).unwrap() else {
        panic!("{opened}");
    };
    let Event::UserProvisioned {
        resource: clear, ..
    } = provisioned()
    else {
        unreachable!()
    };
    assert_eq!(resource, erased_user_resource(&clear));
    assert_eq!(resource["userName"], json!(ERASED));
    assert_eq!(resource["active"], json!(true));
}

#[test]
fn another_key_or_an_altered_ciphertext_does_not_open() {
    let payload = sealed_provisioned();
    assert!(open(&payload, user(), &|_| Some([8; 32])).is_err());
    let stored: Value = serde_json::from_str(&payload).unwrap();
    let text = stored["resource"]["userName"]["$erasable"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut altered = text.clone().into_bytes();
    altered[20] = if altered[20] == b'A' { b'B' } else { b'A' };
    let altered = payload.replace(&text, std::str::from_utf8(&altered).unwrap());
    assert!(open(&altered, user(), &|_| Some(KEY)).is_err());
}

#[test]
fn a_value_sealed_for_one_subject_does_not_open_as_anothers() {
    let payload = sealed_provisioned();
    let moved = payload.replace(&user().to_string(), &Uuid::from_u128(2).to_string());
    assert!(open(&moved, user(), &|_| Some(KEY)).is_err());
}

#[test]
fn each_value_gets_its_own_nonce() {
    let payload = sealed_provisioned();
    let stored: Value = serde_json::from_str(&payload).unwrap();
    let nonce_of = |attribute: &str| {
        let text = stored["resource"][attribute]["$erasable"]["ciphertext"]
            .as_str()
            .unwrap();
        STANDARD.decode(text).unwrap()[..12].to_vec()
    };
    assert_ne!(nonce_of("userName"), nonce_of("emails"));
}

#[test]
fn patch_values_and_filtered_paths_are_sealed_and_plain_paths_are_not() {
    let event = Event::UserPatched {
        operations: json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "grace@example.com"},
            {"op": "replace", "value": {"displayName": "Grace H"}},
            {"op": "Add", "path": "active", "value": "False"}
        ]),
        resource: json!({"userName": "grace@example.com", "active": false}),
        password_hash: None,
    };
    let payload = seal(&event, user(), &|_| Some(KEY), &mut counter());
    assert!(!payload.contains("grace@example.com"), "{payload}");
    assert!(!payload.contains("Grace H"), "{payload}");
    let stored: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(stored["operations"][2]["path"], json!("active"));
    assert_eq!(stored["operations"][0]["op"], json!("Replace"));
    let opened = open(&payload, user(), &|_| Some(KEY)).unwrap();
    assert_eq!(serde_json::from_str::<Event>(&opened).unwrap(), event);
}

#[test]
fn account_data_is_sealed_under_the_accounts_key() {
    let account = Uuid::from_u128(9);
    let event = Event::OwnerAdded {
        account_id: account,
        email: "owner@example.com".into(),
    };
    let org_stream = Uuid::from_u128(3);
    assert_eq!(
        subjects(&event, org_stream),
        vec![Subject::Account(account)]
    );
    assert_eq!(
        Subject::Account(account).key_id(org_stream),
        (ACCOUNTS, account)
    );
    let payload = seal(&event, org_stream, &|_| Some(KEY), &mut counter());
    assert_eq!(sealed_subjects(&payload), vec![Subject::Account(account)]);
    let created = Event::AccountCreated {
        email: "owner@example.com".into(),
        first_name: Some("Olive".into()),
        family_name: None,
        locked_by: None,
    };
    let payload = seal(&created, account, &|_| Some(KEY), &mut counter());
    assert!(
        !payload.contains("Olive") && !payload.contains("owner@"),
        "{payload}"
    );
    assert!(
        !payload.contains("family_name"),
        "absent fields stay absent: {payload}"
    );
}

#[test]
fn events_without_personal_values_are_stored_as_before() {
    let event = Event::UserDeactivated {};
    assert!(subjects(&event, user()).is_empty());
    assert_eq!(
        seal(&event, user(), &|_| Some(KEY), &mut counter()),
        event.to_payload()
    );
}

#[test]
fn an_unsealed_payload_writes_as_the_event_does() {
    let patched = Event::UserPatched {
        resource: json!({"userName": "ada@example.com", "title": "Countess", "active": false}),
        password_hash: Some("$argon2id$hash".into()),
        operations: json!([{"op": "replace", "path": "title", "value": "Countess"}]),
    };
    for event in [provisioned(), patched, Event::UserDeactivated {}] {
        assert_eq!(unsealed(&event).to_string(), event.to_payload());
    }
}

#[test]
fn an_erased_subject_gets_no_new_ciphertext() {
    let payload = seal(&provisioned(), user(), &|_| None, &mut counter());
    assert!(!is_sealed(&payload));
    assert!(!payload.contains("ada@example.com"));
    assert!(payload.contains(ERASED));
}

#[test]
fn group_member_displays_are_sealed_for_their_user() {
    let member = Uuid::from_u128(5);
    let event = Event::GroupMembersAdded {
        members: vec![crate::group::Member {
            value: member,
            kind: crate::group::MemberKind::User,
            display: Some("Ada Lovelace".into()),
        }],
    };
    let group = Uuid::from_u128(6);
    assert_eq!(subjects(&event, group), vec![Subject::User(member)]);
    let payload = seal(&event, group, &|_| Some(KEY), &mut counter());
    assert!(!payload.contains("Lovelace"));
    assert!(
        payload.contains(&member.to_string()),
        "the member's id stays clear"
    );
}

#[test]
fn a_client_value_shaped_like_a_sealed_one_is_left_as_sent() {
    let lookalike = json!({"$erasable": {"key": format!("user:{}", user()), "ciphertext": "AAAA"}});
    let event = Event::GroupCreated {
        resource: json!({"displayName": "Ops", "x": lookalike}),
    };
    let payload = seal(&event, Uuid::from_u128(4), &|_| Some(KEY), &mut counter());
    let opened = open(&payload, Uuid::from_u128(4), &|_| Some(KEY)).unwrap();
    assert_eq!(serde_json::from_str::<Event>(&opened).unwrap(), event);
    assert!(!has_sealed_values(&payload, Uuid::from_u128(4)));
    assert!(has_sealed_values(&sealed_provisioned(), user()));
}

#[test]
fn only_a_user_who_left_is_erased_and_only_once() {
    use crate::user::{UserState, evolve};
    let given = |events: &[Event]| events.iter().fold(UserState::default(), evolve);
    assert!(erase_user(&UserState::default(), None).is_err());
    let active = given(&[provisioned()]);
    let refused = erase_user(&active, None).unwrap_err();
    assert!(refused.message.contains("active"), "{refused}");
    let left = given(&[provisioned(), Event::UserDeactivated {}]);
    let Event::UserProvisioned { resource, .. } = provisioned() else {
        unreachable!()
    };
    let mut left_resource = left.clone();
    let mut inactive = resource.clone();
    inactive["active"] = json!(false);
    left_resource.resource = Some(inactive);
    assert_eq!(
        erase_user(&left_resource, None).unwrap(),
        Event::Erased { erased_by: None }
    );
    let deleted = given(&[provisioned(), Event::UserDeleted {}]);
    assert!(erase_user(&deleted, None).is_ok());
    let erased = given(&[
        provisioned(),
        Event::UserDeleted {},
        Event::Erased { erased_by: None },
    ]);
    assert!(erase_user(&erased, None).is_err());
}

#[test]
fn personal_texts_leave_categories_and_short_values_out() {
    let mut payload = serde_json::to_value(provisioned()).unwrap();
    let texts = personal_texts(&mut payload, user(), Subject::User(user()));
    assert_eq!(texts, vec!["Ada", "Lovelace", "ada@example.com"]);
}

/// Which key each subject has.
type KeyOf = dyn Fn(Subject) -> Option<Key>;

#[test]
fn what_the_appender_hands_the_relay_is_what_opening_the_stored_text_gives() {
    let member_added = Event::MemberAdded {
        account_id: Uuid::from_u128(9),
        email: "ada@example.com".into(),
        role: "member".into(),
        source: "scim".into(),
        entry_id: Some(user()),
    };
    let users_only = |subject: Subject| matches!(subject, Subject::User(_)).then_some(KEY);
    let cases: [(Event, &KeyOf); 5] = [
        (provisioned(), &|_| Some(KEY)),
        (provisioned(), &|_| None),
        (member_added.clone(), &|_| Some(KEY)),
        (member_added, &users_only),
        (Event::UserDeactivated {}, &|_| Some(KEY)),
    ];
    for (event, key_of) in cases {
        let (stored, opened, in_clear) =
            seal_and_open(unsealed(&event), user(), key_of, &mut counter());
        assert_eq!(stored, seal(&event, user(), key_of, &mut counter()));
        assert_eq!(opened.get(), open(&stored, user(), key_of).unwrap());
        let sealed_for = sealed_subjects(&stored);
        assert_eq!(in_clear, sealed_for, "{stored}");
    }
}
