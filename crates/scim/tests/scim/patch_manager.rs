use serde_json::{Value, json};

use super::{ENT, entra_user, minimal_user, ops, patch_user};

const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";

fn with_manager(id: &str) -> Value {
    let mut u = entra_user();
    u[ENT] = json!({"employeeNumber": "1", "manager": {"value": id}});
    u
}

#[test]
fn every_set_shape_stores_value_object() {
    let table = [
        json!({"op": "Add", "path": MANAGER, "value": "2819c223-7f76-453a-919d-413861904646"}),
        json!({"op": "add", "path": MANAGER, "value": {"value": "2819c223-7f76-453a-919d-413861904646"}}),
        json!({"op": "Replace", "path": MANAGER, "value": {"value": "2819c223-7f76-453a-919d-413861904646", "displayName": "Boss"}}),
        json!({"op": "Add", "path": "manager", "value": [{"$ref": "http://x/scim/Users/271", "value": "2819c223-7f76-453a-919d-413861904646"}]}),
        json!({"op": "replace", "path": format!("{MANAGER}.value"), "value": "2819c223-7f76-453a-919d-413861904646"}),
        json!({"op": "replace", "value": {MANAGER: "2819c223-7f76-453a-919d-413861904646"}}),
        json!({"op": "replace", "value": {ENT: {"manager": "2819c223-7f76-453a-919d-413861904646"}}}),
    ];
    for base in [
        minimal_user(),
        with_manager("33333333-3333-4333-8333-333333333333"),
    ] {
        for op in &table {
            let out = patch_user(&base, ops(json!([op]))).unwrap_or_else(|e| panic!("{op}: {e:?}"));
            assert_eq!(
                out[ENT]["manager"]["value"],
                json!("2819c223-7f76-453a-919d-413861904646"),
                "{op}"
            );
            assert!(out.get("manager").is_none(), "{op}");
            assert!(
                out["schemas"].as_array().unwrap().contains(&json!(ENT)),
                "{op}"
            );
        }
    }
}

#[test]
fn every_removal_shape_removes_it() {
    let table = [
        json!({"op": "remove", "path": MANAGER}),
        json!({"op": "Remove", "path": "manager"}),
        json!({"op": "replace", "path": MANAGER, "value": ""}),
        json!({"op": "replace", "path": MANAGER, "value": {"value": ""}}),
        json!({"op": "replace", "path": MANAGER, "value": null}),
        json!({"op": "replace", "path": MANAGER, "value": []}),
        json!({"op": "remove", "path": "manager[value eq \"11111111-1111-4111-8111-111111111111\"]"}),
        json!({"op": "remove", "path": format!("{MANAGER}[value eq \"11111111-1111-4111-8111-111111111111\"]")}),
        json!({"op": "replace", "value": {MANAGER: ""}}),
    ];
    for op in table {
        let out = patch_user(
            &with_manager("11111111-1111-4111-8111-111111111111"),
            ops(json!([op.clone()])),
        )
        .unwrap();
        assert_eq!(out[ENT], json!({"employeeNumber": "1"}), "{op}");
    }
}

#[test]
fn filtered_removal_of_another_manager_is_a_no_op() {
    let user = with_manager("11111111-1111-4111-8111-111111111111");
    let out = patch_user(
        &user,
        ops(json!([{"op": "remove", "path": "manager[value eq \"22222222-2222-4222-8222-222222222222\"]"}])),
    )
    .unwrap();
    assert_eq!(out, user);
}

#[test]
fn removing_an_absent_manager_is_a_no_op() {
    let user = minimal_user();
    let out = patch_user(&user, ops(json!([{"op": "remove", "path": MANAGER}]))).unwrap();
    assert_eq!(out, user);
}

#[test]
fn bad_manager_values() {
    for value in [json!(7), json!({"displayName": "x"}), json!({"value": 3})] {
        let r = patch_user(
            &minimal_user(),
            ops(json!([{"op": "add", "path": MANAGER, "value": value}])),
        );
        super::assert_scim_err(r, scim::ScimType::InvalidValue);
    }
}

#[test]
fn remove_with_a_value_removes_only_that_manager() {
    let user = with_manager("11111111-1111-4111-8111-111111111111");
    let body = |id: &str| ops(json!([{"op": "Remove", "path": "manager", "value": {"value": id}}]));
    assert_eq!(
        patch_user(&user, body("22222222-2222-4222-8222-222222222222")).unwrap(),
        user
    );
    assert_eq!(
        patch_user(&user, body("11111111-1111-4111-8111-111111111111")).unwrap()[ENT],
        json!({"employeeNumber": "1"})
    );
}

#[test]
fn a_managers_ref_and_display_name_are_kept_as_sent() {
    let out = patch_user(
        &minimal_user(),
        ops(json!([
            {"op": "Replace", "path": MANAGER, "value": {"value": "2819c223-7f76-453a-919d-413861904646", "displayName": "Boss"}},
            {"op": "Add", "path": "manager", "value": [{"$ref": "http://x/scim/Users/271", "value": "2819c223-7f76-453a-919d-413861904646"}]}
        ])),
    )
    .unwrap();
    assert_eq!(
        out[ENT]["manager"],
        json!({"$ref": "http://x/scim/Users/271", "value": "2819c223-7f76-453a-919d-413861904646"})
    );
    let bare = patch_user(
        &minimal_user(),
        ops(json!([{"op": "Add", "path": MANAGER, "value": "2819c223-7f76-453a-919d-413861904646"}])),
    )
    .unwrap();
    assert_eq!(
        bare[ENT]["manager"],
        json!({"value": "2819c223-7f76-453a-919d-413861904646"})
    );
}

#[test]
fn a_manager_that_is_no_user_id_is_refused_in_every_shape() {
    for manager in [
        json!("bob"),
        json!({"value": "bob"}),
        json!([{"value": "bob"}]),
        json!("2819c223-7f76-453a-919d"),
    ] {
        let r = patch_user(
            &minimal_user(),
            ops(json!([{"op": "replace", "path": MANAGER, "value": manager}])),
        );
        let error = super::assert_scim_err(r, scim::ScimType::InvalidValue);
        assert!(error.detail.contains("manager"), "{}", error.detail);
        let body = json!({"userName": "a", ENT: {"manager": manager}});
        let error = super::assert_scim_err(
            scim::schema::USER.accept(body),
            scim::ScimType::InvalidValue,
        );
        assert!(error.detail.contains("manager"), "{}", error.detail);
    }
}
