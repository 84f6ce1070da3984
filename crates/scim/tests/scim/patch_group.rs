use serde_json::{Value, json};

use super::{ops, patch_group};

fn group(members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "8c601452cc934a9ebef9",
        "externalId": "0db508eb-91e2-46e4-809c-30dcbda0c685",
        "displayName": "displayName",
        "members": members
    })
}

fn member_ids(g: &Value) -> Vec<&str> {
    g.get("members")
        .and_then(Value::as_array)
        .map(|ms| ms.iter().map(|m| m["value"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

#[test]
fn default_dialect_removal_removes_only_listed_members() {
    // A.3.6: the trap that emptied customers' groups elsewhere
    let g = group(&["u1", "u2", "u3"]);
    let out = patch_group(
        &g,
        ops(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u2"}]}])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["u1", "u3"]);

    let out = patch_group(
        &g,
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u3"}]}])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["u2"]);

    let out = patch_group(
        &g,
        ops(json!([{"op": "Remove", "path": "members", "value": []}])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["u1", "u2", "u3"]);

    let out = patch_group(
        &g,
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "nobody"}]}])),
    )
    .unwrap();
    assert_eq!(out, g);
}

#[test]
fn flag_dialect_removal_by_value_filter() {
    let out = patch_group(
        &group(&["u1", "u2", "u3"]),
        ops(json!([{"op": "remove", "path": "members[value eq \"u2\"]"}])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["u1", "u3"]);
}

#[test]
fn member_ids_compare_exactly() {
    let out = patch_group(
        &group(&["AbC"]),
        ops(json!([{"op": "remove", "path": "members[value eq \"abc\"]"}])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["AbC"]);
}

#[test]
fn add_members_skips_existing_and_drops_null_refs() {
    // A.3.5
    let out = patch_group(
        &group(&["u1"]),
        ops(json!([
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}, {"value": "u1"}]},
            {"op": "Add", "path": "members", "value": [{"value": "u2"}, {"value": "u3"}]},
            {"op": "Add", "path": "members", "value": [{"value": "u2"}]}
        ])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["u1", "f648f8d5ea4e4cd38e9c", "u2", "u3"]);
    assert_eq!(out["members"][1], json!({"value": "f648f8d5ea4e4cd38e9c"}));
}

#[test]
fn add_to_a_group_without_members_key() {
    let mut g = group(&[]);
    g.as_object_mut().unwrap().remove("members");
    let out = patch_group(
        &g,
        ops(json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}]}])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["u1"]);
}

#[test]
fn mixed_request_from_entra() {
    let out = patch_group(
        &group(&["u1091", "u5"]),
        ops(json!([
            {"op": "Replace", "path": "displayName", "value": "New Name"},
            {"op": "Remove", "path": "members", "value": [{"value": "u1091"}]},
            {"op": "Add", "path": "members", "value": [{"value": "u2002"}, {"value": "u2003"}]}
        ])),
    )
    .unwrap();
    assert_eq!(out["displayName"], "New Name");
    assert_eq!(member_ids(&out), ["u5", "u2002", "u2003"]);
}

#[test]
fn validator_group_sequence() {
    let g = group(&[]);
    let out = patch_group(
        &g,
        ops(json!([{"op": "replace", "value": {"externalId": "e2"}}])),
    )
    .unwrap();
    assert_eq!(out["externalId"], "e2");
    let out = patch_group(
        &out,
        ops(json!([{"op": "replace", "value": {"displayName": "d2"}}])),
    )
    .unwrap();
    assert_eq!(out["displayName"], "d2");
    let out = patch_group(
        &out,
        ops(json!([{"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["a", "b"]);
    let out = patch_group(
        &out,
        ops(json!([{"op": "remove", "path": "members[value eq \"a\"]"}])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["b"]);
    let out = patch_group(
        &out,
        ops(json!([
            {"op": "add", "path": "members", "value": [{"value": "u"}]},
            {"op": "remove", "path": "members[value eq \"u\"]"}
        ])),
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["b"]);
}

#[test]
fn remove_all_members_only_without_value() {
    let out = patch_group(
        &group(&["a", "b"]),
        ops(json!([{"op": "remove", "path": "members"}])),
    )
    .unwrap();
    assert!(out.get("members").is_none());
}

#[test]
fn value_list_removal_never_removes_all_even_from_odd_shapes() {
    let mut g = group(&[]);
    g["members"] = json!({"value": "u1"});
    let out = patch_group(
        &g,
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "u2"}]}])),
    )
    .unwrap();
    assert_eq!(out, g);
}

#[test]
fn okta_renames_a_group_sending_its_own_id() {
    let g = group(&["u1"]);
    let rename = |id: &str| {
        patch_group(
            &g,
            ops(json!([{"op": "replace", "value": {"id": id, "displayName": "New name"}}])),
        )
    };
    let out = rename("8c601452cc934a9ebef9").unwrap();
    assert_eq!(out["displayName"], "New name");
    assert_eq!(out["id"], "8c601452cc934a9ebef9");
    let error = rename("8C601452CC934A9EBEF9").unwrap_err();
    assert_eq!(error.scim_type, Some(scim::ScimType::Mutability));
}
