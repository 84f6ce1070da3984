use scim::ScimType;
use serde_json::{Value, json};

use super::{ENT, assert_scim_err, entra_user, minimal_user, ops, patch_user};

#[track_caller]
fn patched(user: &Value, operations: Value) -> Value {
    patch_user(user, ops(operations)).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn default_dialect_filtered_and_dotted_replace() {
    // A.2.6
    let out = patched(
        &entra_user(),
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
        ]),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}])
    );
    assert_eq!(
        out["name"],
        json!({"familyName": "updatedFamilyName", "givenName": "givenName"})
    );
}

#[test]
fn both_dialects_of_a_multi_attribute_replace_agree() {
    // A.2.9, without and with aadOptscim062020
    let default = patched(
        &entra_user(),
        json!([
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
        ]),
    );
    let flag = patched(
        &entra_user(),
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Pvlo",
                "name.givenName": "Gtfd",
                "name.familyName": "Pkqf",
                "externalId": "Eqpj",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Eqpj"
            }}
        ]),
    );
    assert_eq!(default, flag);
    assert_eq!(
        flag["name"],
        json!({"familyName": "Pkqf", "givenName": "Gtfd"})
    );
    assert_eq!(flag[ENT], json!({"employeeNumber": "Eqpj"}));
    assert_eq!(flag["displayName"], "Pvlo");
    let keys: Vec<&String> = flag.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| !k.contains('.') || k.starts_with("urn:")),
        "{keys:?}"
    );
    assert!(flag.get("name.givenName").is_none());
}

#[test]
fn extension_urn_joins_schemas_when_first_used() {
    let out = patched(
        &minimal_user(),
        json!([{"op": "replace", "value": {
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales"
        }}]),
    );
    assert_eq!(
        out["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENT])
    );
    assert_eq!(out[ENT], json!({"department": "Sales"}));
}

#[test]
fn pathless_extension_object() {
    let out = patched(
        &minimal_user(),
        json!([{"op": "add", "value": {ENT: {"department": "Sales", "manager": "11111111-1111-4111-8111-111111111111", "costCenter": null}}}]),
    );
    assert_eq!(
        out[ENT],
        json!({"department": "Sales", "manager": {"value": "11111111-1111-4111-8111-111111111111"}})
    );
    assert_eq!(out["schemas"][1], ENT);
    let out = patched(&out, json!([{"op": "replace", "value": {ENT: null}}]));
    assert!(out.get(ENT).is_none());
}

#[test]
fn disable_in_all_three_shapes() {
    // A.2.10
    for value in [json!(false), json!("False"), json!("false"), json!("FALSE")] {
        for op in ["Replace", "replace", "Add"] {
            let out = patched(
                &entra_user(),
                json!([{"op": op, "path": "active", "value": value}]),
            );
            assert_eq!(out["active"], json!(false), "{op} {value}");
        }
    }
    let disabled = patched(
        &entra_user(),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    let enabled = patched(
        &disabled,
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
    );
    assert_eq!(enabled["active"], json!(true));
    let pathless = patched(
        &enabled,
        json!([{"op": "replace", "value": {"active": "False"}}]),
    );
    assert_eq!(pathless["active"], json!(false));
}

#[test]
fn add_single_valued_in_both_dialects() {
    // A.2.8
    for op in ["Add", "add"] {
        let out = patched(
            &entra_user(),
            json!([{"op": op, "path": "nickName", "value": "Babs"}]),
        );
        assert_eq!(out["nickName"], "Babs");
    }
}

#[test]
fn keys_match_case_insensitively_and_keep_their_spelling() {
    let out = patched(
        &entra_user(),
        json!([
            {"op": "Replace", "path": "USERNAME", "value": "5b50642d@testuser.com"},
            {"op": "Replace", "path": "Name.GivenName", "value": "G"},
            {"op": "Add", "path": "NickName", "value": "N"},
            {"op": "Replace", "path": "EMAILS[TYPE EQ \"WORK\"].VALUE", "value": "w@x.com"}
        ]),
    );
    assert_eq!(out["userName"], "5b50642d@testuser.com");
    assert!(out.get("USERNAME").is_none());
    assert_eq!(out["name"]["givenName"], "G");
    assert_eq!(out["NickName"], "N");
    assert_eq!(out["emails"][0]["value"], "w@x.com");
    assert_eq!(out["emails"].as_array().unwrap().len(), 1);
}

#[test]
fn core_urn_qualified_paths_live_at_top_level() {
    let out = patched(
        &entra_user(),
        json!([
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "D"},
            {"op": "Replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:name.formatted": "F"}}
        ]),
    );
    assert_eq!(out["displayName"], "D");
    assert_eq!(out["name"]["formatted"], "F");
}

#[test]
fn filtered_paths_create_missing_typed_elements() {
    // B.10: add and replace both create
    for op in ["Add", "Replace", "add", "replace"] {
        let out = patched(
            &minimal_user(),
            json!([
                {"op": op, "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
                {"op": op, "path": "phoneNumbers[type eq \"work\"].value", "value": "10-040-1308"},
                {"op": op, "path": "addresses[type eq \"work\"].postalCode", "value": "cx47 4mz"},
                {"op": op, "path": "addresses[type eq \"work\"].locality", "value": "Leeds"},
                {"op": op, "path": "emails[type eq \"work\"].value", "value": "u@c.com"}
            ]),
        );
        assert_eq!(
            out["phoneNumbers"],
            json!([{"type": "mobile", "value": "+1 555 0100"}, {"type": "work", "value": "10-040-1308"}]),
            "{op}"
        );
        assert_eq!(
            out["addresses"],
            json!([{"type": "work", "postalCode": "cx47 4mz", "locality": "Leeds"}])
        );
        assert_eq!(out["emails"], json!([{"type": "work", "value": "u@c.com"}]));
    }
}

#[test]
fn role_filter_with_string_true_creates_a_boolean_primary() {
    // A.2.12 mapping targets, validator test 7
    let out = patched(
        &minimal_user(),
        json!([
            {"op": "add", "path": "roles[primary eq \"True\"].display", "value": "MRONYWGFFHXQ"},
            {"op": "add", "path": "roles[primary eq \"True\"].value", "value": "WDEIISGWWQBE"},
            {"op": "add", "path": "roles[primary eq \"True\"].type", "value": "XVTUOHMYUFRL"}
        ]),
    );
    assert_eq!(
        out["roles"],
        json!([{"primary": true, "display": "MRONYWGFFHXQ", "value": "WDEIISGWWQBE", "type": "XVTUOHMYUFRL"}])
    );
    let out = patched(
        &out,
        json!([{"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "New"}]),
    );
    assert_eq!(out["roles"][0]["value"], "New");
    assert_eq!(out["roles"].as_array().unwrap().len(), 1);
}

#[test]
fn filtered_path_matches_stored_string_booleans() {
    let user = json!({"userName": "u", "roles": [{"primary": "True", "value": "Admin"}]});
    let out = patched(
        &user,
        json!([{"op": "replace", "path": "roles[primary eq true].value", "value": "Root"}]),
    );
    assert_eq!(out["roles"], json!([{"primary": "True", "value": "Root"}]));
}

#[test]
fn filtered_path_without_sub_merges_the_object() {
    let out = patched(
        &entra_user(),
        json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "n@x.com", "display": "N"}}]),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "n@x.com", "type": "work", "primary": true, "display": "N"}])
    );
}

#[test]
fn add_to_multi_valued_appends_without_duplicates() {
    let out = patched(
        &entra_user(),
        json!([{"op": "Add", "path": "emails", "value": [
            {"value": "TEST_USER_11BB11BB@testuser.com", "type": "work"},
            {"value": "home@x.com", "type": "home", "primary": "False"}
        ]}]),
    );
    assert_eq!(
        out["emails"],
        json!([
            {"value": "Test_User_11bb11bb@testuser.com", "type": "work", "primary": true},
            {"value": "home@x.com", "type": "home", "primary": false}
        ])
    );
    let again = patched(
        &out,
        json!([{"op": "Add", "path": "emails", "value": [{"value": "home@x.com", "type": "home"}]}]),
    );
    assert_eq!(again, out);
}

#[test]
fn replace_of_multi_valued_swaps_the_array() {
    // A.2.12 AssertiveAppRoleAssignmentsComplex
    let user = json!({"userName": "u", "roles": [{"value": "Old"}]});
    let roles = json!([
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "User", "value": "User"},
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Test", "value": "Test"}
    ]);
    let out = patched(
        &user,
        json!([{"op": "replace", "path": "roles", "value": roles}]),
    );
    assert_eq!(out["roles"], roles);
    let out = patched(
        &out,
        json!([{"op": "replace", "path": "roles", "value": []}]),
    );
    assert!(out.get("roles").is_none());
}

#[test]
fn json_string_role_values_are_stored_verbatim() {
    let value = "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"25\",\"displayName\":\"Role1234\"}";
    let out = patched(
        &minimal_user(),
        json!([{"op": "Add", "path": "roles", "value": [{"value": value}]}]),
    );
    assert_eq!(out["roles"], json!([{"value": value}]));
}

#[test]
fn only_one_primary_survives() {
    let out = patched(
        &entra_user(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.com", "type": "home", "primary": true}]}]),
    );
    assert_eq!(out["emails"][0]["primary"], json!(false));
    assert_eq!(out["emails"][1]["primary"], json!(true));

    let out = patched(
        &out,
        json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "True"}]),
    );
    assert_eq!(out["emails"][0]["primary"], json!(true));
    assert_eq!(out["emails"][1]["primary"], json!(false));

    let out = patched(
        &minimal_user(),
        json!([{"op": "replace", "path": "emails", "value": [
            {"value": "a", "primary": true}, {"value": "b", "primary": "true"}
        ]}]),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "a", "primary": false}, {"value": "b", "primary": true}])
    );
}

#[test]
fn remove_variants() {
    let user = patched(
        &entra_user(),
        json!([
            {"op": "add", "path": "nickName", "value": "Babs"},
            {"op": "add", "path": "phoneNumbers", "value": [{"type": "work", "value": "1"}, {"value": "2"}]}
        ]),
    );
    type Check = fn(&Value) -> bool;
    let table: [(Value, Check); 8] = [
        (json!({"op": "Remove", "path": "nickName"}), |u| {
            u.get("nickName").is_none()
        }),
        (json!({"op": "Remove", "path": "title"}), |u| {
            *u == patched_base()
        }),
        (json!({"op": "remove", "path": "name.givenName"}), |u| {
            u["name"] == json!({"familyName": "familyName"})
        }),
        (
            json!({"op": "remove", "path": "emails[type eq \"work\"].value"}),
            |u| u["emails"] == json!([{"type": "work", "primary": true}]),
        ),
        (
            json!({"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}),
            |u| u["phoneNumbers"] == json!([{"value": "2"}]),
        ),
        (
            json!({"op": "remove", "path": "phoneNumbers[value eq \"2\"].value"}),
            |u| u["phoneNumbers"] == json!([{"type": "work", "value": "1"}]),
        ),
        (json!({"op": "remove", "path": "phoneNumbers"}), |u| {
            u.get("phoneNumbers").is_none()
        }),
        (
            json!({"op": "remove", "path": "emails[type eq \"home\"]"}),
            |u| *u == patched_base(),
        ),
    ];
    for (op, check) in table {
        let out = patched(&user, json!([op.clone()]));
        assert!(check(&out), "{op}: {out:#}");
    }
}

fn patched_base() -> Value {
    patched(
        &entra_user(),
        json!([
            {"op": "add", "path": "nickName", "value": "Babs"},
            {"op": "add", "path": "phoneNumbers", "value": [{"type": "work", "value": "1"}, {"value": "2"}]}
        ]),
    )
}

#[test]
fn null_values_unset() {
    let out = patched(
        &entra_user(),
        json!([
            {"op": "replace", "path": "name.givenName", "value": null},
            {"op": "replace", "value": {"externalId": null, "name.familyName": null}},
            {"op": "add", "path": "emails", "value": null}
        ]),
    );
    for key in ["name", "externalId", "emails"] {
        assert!(out.get(key).is_none(), "{key}: {out:#}");
    }
}

#[test]
fn complex_replace_merges_sub_attributes() {
    let out = patched(
        &entra_user(),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "G", "formatted": null}}]),
    );
    assert_eq!(
        out["name"],
        json!({"familyName": "familyName", "givenName": "G"})
    );
    let out = patched(
        &entra_user(),
        json!([{"op": "replace", "value": {"name": {"middleName": "M"}}}]),
    );
    assert_eq!(
        out["name"],
        json!({"familyName": "familyName", "givenName": "givenName", "middleName": "M"})
    );
}

#[test]
fn removing_the_last_extension_attribute_drops_the_object() {
    let user = patched(
        &minimal_user(),
        json!([{"op": "add", "path": format!("{ENT}:department"), "value": "D"}]),
    );
    let out = patched(
        &user,
        json!([{"op": "remove", "path": format!("{ENT}:department")}]),
    );
    assert!(out.get(ENT).is_none());
}

#[test]
fn schemas_can_be_added_but_not_dropped() {
    let out = patched(
        &minimal_user(),
        json!([{"op": "add", "value": {"schemas": [ENT, "urn:ietf:params:scim:schemas:core:2.0:User"]}}]),
    );
    assert_eq!(
        out["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENT])
    );
    let out = patched(
        &out,
        json!([{"op": "replace", "path": "schemas", "value": ["urn:x:User"]}]),
    );
    assert_eq!(out["schemas"].as_array().unwrap().len(), 3);
}

#[test]
fn validator_multiple_ops_on_one_attribute_apply_in_order() {
    let out = patched(
        &entra_user(),
        json!([
            {"op": "remove", "path": "externalId"},
            {"op": "add", "value": {"externalId": "A"}},
            {"op": "replace", "value": {"externalId": "B"}}
        ]),
    );
    assert_eq!(out["externalId"], "B");

    let out = patched(
        &patched_base(),
        json!([
            {"op": "remove", "path": "nickName"},
            {"op": "add", "value": {"externalId": "X"}},
            {"op": "replace", "value": {"displayName": "Y"}}
        ]),
    );
    assert!(out.get("nickName").is_none());
    assert_eq!(
        (out["externalId"].as_str(), out["displayName"].as_str()),
        (Some("X"), Some("Y"))
    );
}

#[test]
fn validator_verbose_replace() {
    let out = patched(
        &entra_user(),
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "thaddeus@hammes.info"},
            {"op": "replace", "path": "emails[primary eq true].display", "value": "T"},
            {"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "10-040-1308"},
            {"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "25928 Katlyn Row"},
            {"op": "replace", "value": {
                "name.givenName": "Elfrieda", "name.formatted": "Myah", "displayName": "NDSQ",
                "nickName": "FOG", "title": "CJS", "userType": "GZI", "preferredLanguage": "hi",
                "locale": "RJW", "timezone": "America/Guayaquil", "profileUrl": "BAP",
                "externalId": "e1", "active": false
            }}
        ]),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "thaddeus@hammes.info", "type": "work", "primary": true, "display": "T"}])
    );
    assert_eq!(
        out["addresses"],
        json!([{"type": "work", "streetAddress": "25928 Katlyn Row"}])
    );
    assert_eq!(out["timezone"], "America/Guayaquil");
    assert_eq!(out["active"], false);
}

#[test]
fn primary_filter_value_must_be_boolean_text() {
    assert_scim_err(
        patch_user(
            &minimal_user(),
            ops(json!([{"op": "add", "path": "roles[primary eq \"yes\"].value", "value": "x"}])),
        ),
        ScimType::InvalidValue,
    );
}

#[test]
fn custom_extension_attributes() {
    let custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let out = patched(
        &minimal_user(),
        json!([
            {"op": "Add", "path": format!("{custom}:costCode"), "value": "C1"},
            {"op": "replace", "value": {custom: {"team": "T"}, format!("{custom}:user"): "x"}}
        ]),
    );
    assert_eq!(
        out[custom],
        json!({"costCode": "C1", "team": "T", "user": "x"})
    );
    assert!(out["schemas"].as_array().unwrap().contains(&json!(custom)));
}

#[test]
fn extension_urn_detection() {
    use scim::{AttributeSchema, UserSchema};
    for (key, want) in [
        (ENT, true),
        (
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User",
            true,
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            false,
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:user",
            false,
        ),
        ("urn:ietf:params:scim:schemas:core:2.0:User", false),
        ("name.givenName", false),
        ("urn:ietf:params:scim:schemas:extension:x:2.0:", false),
    ] {
        assert_eq!(UserSchema.is_extension_urn(key), want, "{key}");
    }
}

#[test]
fn removing_a_whole_extension_by_its_urn_drops_the_object_and_its_schema() {
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "x",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "12"}
    });
    let request = scim::PatchRequest::parse(&serde_json::json!({"Operations": [
        {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}
    ]}))
    .unwrap();
    let patched = scim::apply(&user, &request, &scim::UserSchema).unwrap();
    assert_eq!(
        patched,
        serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x"})
    );
}

#[test]
fn adding_to_a_whole_extension_by_its_urn_sets_its_attributes() {
    let user = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x"});
    let request = scim::PatchRequest::parse(&serde_json::json!({"Operations": [
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"department": "R&D"}}
    ]}))
    .unwrap();
    let patched = scim::apply(&user, &request, &scim::UserSchema).unwrap();
    assert_eq!(
        patched["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "R&D"
    );
    assert_eq!(
        patched["schemas"][1],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
}

#[test]
fn urn_qualified_paths_must_name_a_schema_the_resource_has() {
    let group_core = "urn:ietf:params:scim:schemas:core:2.0:Group";
    for op in [
        json!({"op": "add", "path": "urn:x:y", "value": "v"}),
        json!({"op": "replace", "value": {"urn:x:y": "v"}}),
        json!({"op": "remove", "path": "urn:x:y"}),
        json!({"op": "replace", "path": format!("{group_core}:displayName"), "value": "v"}),
    ] {
        let error = assert_scim_err(
            patch_user(&minimal_user(), ops(json!([op]))),
            ScimType::InvalidPath,
        );
        assert!(
            error.detail.contains("not a schema of this resource"),
            "{}",
            error.detail
        );
    }
    // A URN the resource lists (an extension its client sent on create) stays patchable.
    let mut user = minimal_user();
    user["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", "urn:x"]);
    user["urn:x"] = json!({"y": "old"});
    let out = patched(
        &user,
        json!([{"op": "replace", "path": "urn:x:y", "value": "v"}]),
    );
    assert_eq!(out["urn:x"], json!({"y": "v"}));
}

#[test]
fn an_overlong_path_is_invalid_and_not_echoed() {
    let long = format!("a{}", "b".repeat(4_999));
    for op in [
        json!({"op": "add", "path": long, "value": "v"}),
        json!({"op": "replace", "value": {long.clone(): "v"}}),
        json!({"op": "remove", "path": format!("emails[value eq \"{long}\"]")}),
    ] {
        let error = assert_scim_err(
            patch_user(&minimal_user(), ops(json!([op]))),
            ScimType::InvalidPath,
        );
        assert!(error.detail.len() < 200, "{}", error.detail);
    }
    let fits = format!("a{}", "b".repeat(scim::path::MAX_PATH_LENGTH - 1));
    assert!(
        patch_user(
            &minimal_user(),
            ops(json!([{"op": "add", "path": fits, "value": "v"}]))
        )
        .is_ok()
    );
}

#[test]
fn members_is_no_path_of_a_user() {
    for op in [
        json!({"op": "add", "path": "members", "value": [{"value": "x"}]}),
        json!({"op": "add", "path": "Members[value eq \"x\"].display", "value": "d"}),
        json!({"op": "remove", "path": "members[value eq \"x\"]"}),
        json!({"op": "replace", "value": {"members": [{"value": "x"}]}}),
    ] {
        let error = assert_scim_err(
            patch_user(&minimal_user(), ops(json!([op]))),
            ScimType::InvalidPath,
        );
        assert!(error.detail.contains("embers"), "{}", error.detail);
    }
    // Names no resource type defines are still the client's to keep.
    let out = patched(
        &minimal_user(),
        json!([{"op": "add", "path": "memberships", "value": "x"}]),
    );
    assert_eq!(out["memberships"], "x");
}

#[test]
fn a_read_only_attribute_sent_with_the_value_it_has_changes_nothing() {
    let user = entra_user();
    let id = user["id"].clone();
    let out = patched(
        &user,
        json!([
            {"op": "replace", "value": {"id": id, "displayName": "New"}},
            {"op": "Replace", "path": "id", "value": id}
        ]),
    );
    assert_eq!(out["id"], id);
    assert_eq!(out["displayName"], "New");
    for op in [
        json!({"op": "replace", "value": {"id": "another", "displayName": "New"}}),
        json!({"op": "replace", "path": "ID", "value": "another"}),
        json!({"op": "remove", "path": "id"}),
    ] {
        assert_scim_err(patch_user(&user, ops(json!([op]))), ScimType::Mutability);
    }
}
