//! `attributes` / `excludedAttributes` (RFC 7644 §3.9) as table tests.

use scim::{ScimType, Selection, UserSchema};
use serde_json::{Value, json};

use super::ENT;

/// A user as rollcall returns it, with `id`, `meta` and the enterprise extension.
fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "id": "u1",
        "externalId": "ext-1",
        "userName": "alice@contoso.com",
        "displayName": "Alice",
        "name": {"givenName": "Alice", "familyName": "Jones"},
        "active": true,
        "emails": [
            {"value": "alice@contoso.com", "type": "work", "primary": true},
            {"value": "alice@home.example", "type": "home"}
        ],
        ENT: {"employeeNumber": "701984", "department": "Finance", "manager": {"value": "m1"}},
        "meta": {"resourceType": "User", "version": "W/\"3\""}
    })
}

fn select(attributes: Option<&str>, excluded: Option<&str>) -> Value {
    Selection::parse(attributes, excluded, &UserSchema)
        .expect("a valid selection")
        .apply(&user(), &UserSchema)
}

/// The always-returned members of `user()`, plus `extra`.
fn always_plus(extra: Value) -> Value {
    let mut out = json!({
        "schemas": user()["schemas"],
        "id": "u1",
        "meta": user()["meta"],
    });
    for (key, value) in extra.as_object().unwrap() {
        out[key] = value.clone();
    }
    out
}

#[test]
fn attributes_keep_only_what_they_name_and_the_always_returned() {
    let table: Vec<(&str, Value)> = vec![
        ("userName", json!({"userName": "alice@contoso.com"})),
        ("USERNAME", json!({"userName": "alice@contoso.com"})),
        (
            "userName, displayName",
            json!({"userName": "alice@contoso.com", "displayName": "Alice"}),
        ),
        ("name.givenName", json!({"name": {"givenName": "Alice"}})),
        ("Name.GIVENNAME", json!({"name": {"givenName": "Alice"}})),
        ("name", json!({"name": user()["name"]})),
        ("emails", json!({"emails": user()["emails"]})),
        (
            "emails.value",
            json!({"emails": [{"value": "alice@contoso.com"}, {"value": "alice@home.example"}]}),
        ),
        (
            "emails.type,emails.primary",
            json!({"emails": [{"type": "work", "primary": true}, {"type": "home"}]}),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            json!({"userName": "alice@contoso.com"}),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            json!({ENT: {"employeeNumber": "701984"}}),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:EMPLOYEENUMBER",
            json!({ENT: {"employeeNumber": "701984"}}),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            json!({ENT: {"manager": {"value": "m1"}}}),
        ),
        ("department", json!({ENT: {"department": "Finance"}})),
        (ENT, json!({ENT: user()[ENT]})),
        ("id", json!({})),
        ("meta.created", json!({})),
        ("nickName", json!({})),
        ("userName.whatever", json!({})),
        ("userName,,", json!({"userName": "alice@contoso.com"})),
    ];
    for (attributes, extra) in table {
        assert_eq!(
            select(Some(attributes), None),
            always_plus(extra),
            "attributes={attributes}"
        );
    }
}

#[test]
fn excluded_attributes_remove_what_they_name_but_never_the_always_returned() {
    let without = |keys: &[&str]| {
        let mut out = user();
        for key in keys {
            out.as_object_mut().unwrap().shift_remove(*key);
        }
        out
    };
    let table: Vec<(&str, Value)> = vec![
        ("emails", without(&["emails"])),
        ("EMAILS,displayName", without(&["emails", "displayName"])),
        ("id,schemas,meta", user()),
        ("meta.version", user()),
        (ENT, without(&[ENT])),
        ("members", user()),
        ("name.givenName", {
            let mut out = user();
            out["name"] = json!({"familyName": "Jones"});
            out
        }),
        ("emails.primary", {
            let mut out = user();
            out["emails"] = json!([
                {"value": "alice@contoso.com", "type": "work"},
                {"value": "alice@home.example", "type": "home"}
            ]);
            out
        }),
        ("employeeNumber", {
            let mut out = user();
            out[ENT] = json!({"department": "Finance", "manager": {"value": "m1"}});
            out
        }),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            {
                let mut out = user();
                out[ENT] = json!({"employeeNumber": "701984", "department": "Finance"});
                out
            },
        ),
        ("employeeNumber,department,manager", without(&[ENT])),
    ];
    for (excluded, expected) in table {
        assert_eq!(
            select(None, Some(excluded)),
            expected,
            "excludedAttributes={excluded}"
        );
    }
}

#[test]
fn attributes_win_over_excluded_attributes() {
    assert_eq!(
        select(Some("userName"), Some("userName")),
        always_plus(json!({"userName": "alice@contoso.com"}))
    );
}

#[test]
fn no_selection_returns_the_resource_unchanged() {
    for (attributes, excluded) in [(None, None), (Some(""), None), (None, Some(" , "))] {
        let selection = Selection::parse(attributes, excluded, &UserSchema).unwrap();
        assert!(selection.is_all());
        assert_eq!(selection.apply(&user(), &UserSchema), user());
    }
    assert_eq!(Selection::all().apply(&user(), &UserSchema), user());
}

#[test]
fn selection_keeps_the_resource_key_order_and_spelling() {
    let resource = json!({"schemas": [], "id": "u1", "UserName": "a", "displayName": "b"});
    let out = Selection::parse(Some("displayname,username"), None, &UserSchema)
        .unwrap()
        .apply(&resource, &UserSchema);
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["schemas", "id", "UserName", "displayName"]);
}

#[test]
fn malformed_names_are_invalid_path() {
    for bad in [
        "user name",
        "emails[type eq \"work\"]",
        "1abc",
        "name.",
        "urn:",
    ] {
        for (attributes, excluded) in [(Some(bad), None), (None, Some(bad))] {
            let error = Selection::parse(attributes, excluded, &UserSchema).unwrap_err();
            assert_eq!(
                (error.status, error.scim_type),
                (400, Some(ScimType::InvalidPath)),
                "{bad:?}: {error:?}"
            );
        }
    }
}

#[test]
fn returns_says_whether_an_attribute_kept_apart_is_shown() {
    let parse = |attributes, excluded| Selection::parse(attributes, excluded, &UserSchema).unwrap();
    assert!(parse(None, None).returns("groups", &UserSchema));
    assert!(!parse(None, Some("groups")).returns("groups", &UserSchema));
    assert!(parse(None, Some("groups.display")).returns("groups", &UserSchema));
    assert!(!parse(Some("userName"), None).returns("groups", &UserSchema));
    assert!(parse(Some("groups.value"), None).returns("groups", &UserSchema));
    assert!(
        parse(Some("userName"), None).returns("id", &UserSchema),
        "always returned"
    );
    assert!(
        !parse(None, None).returns("password", &UserSchema),
        "never returned"
    );
}
