//! The one schema definition: what `/Schemas` says, what the validator
//! accepts and refuses, what the PATCH engine and selection ask of it, and
//! the write-only password.

use scim::schema::{
    AttrType, Attribute, CORE_USER_URN, ENTERPRISE_USER_URN, GROUP, Mutability, RESOURCE_TYPES,
    Returned, SCHEMAS, USER, take_password, take_patch_password,
};
use scim::{AttributeSchema, GroupSchema, ScimType, Selection, UserSchema};
use serde_json::{Value, json};

use super::{ENT, assert_scim_err, entra_user, ops, patch_user};

/// The definition-derived facts of a resource type's schema for `schema_id`.
fn facts(schema_id: &str) -> &'static dyn AttributeSchema {
    if schema_id.eq_ignore_ascii_case(scim::schema::CORE_GROUP_URN) {
        &GroupSchema
    } else {
        &UserSchema
    }
}

/// A value of an attribute's type, as a client would send it.
fn sample(attribute: &Attribute) -> Value {
    let one = match attribute.ty {
        AttrType::String | AttrType::Reference => json!("x"),
        AttrType::Binary => json!("TUlJ"),
        AttrType::Boolean => json!(true),
        AttrType::Integer => json!(3),
        AttrType::Decimal => json!(1.5),
        AttrType::DateTime => json!("2024-05-01T12:00:00Z"),
        AttrType::Complex => Value::Object(
            attribute
                .sub_attributes
                .iter()
                .map(|sub| (sub.name.to_owned(), sample(sub)))
                .collect(),
        ),
    };
    if attribute.multi_valued {
        json!([one])
    } else {
        one
    }
}

/// A value of the wrong type for an attribute.
fn wrong(attribute: &Attribute) -> Value {
    if attribute.multi_valued {
        return json!("x");
    }
    match attribute.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime => {
            json!(7)
        }
        AttrType::Boolean => json!(3),
        AttrType::Integer | AttrType::Decimal => json!("seven"),
        AttrType::Complex => json!(["x"]),
    }
}

#[test]
fn every_attribute_in_schemas_is_one_the_patch_engine_and_filters_know() {
    for schema in SCHEMAS {
        let known = facts(schema.id);
        let urn = Some(schema.id);
        for attribute in schema.attributes {
            let name = attribute.name;
            assert_eq!(
                known.attribute_type(urn, name, None),
                attribute.ty,
                "{name}"
            );
            assert_eq!(
                known.is_multi_valued(urn, name),
                attribute.multi_valued,
                "{name}"
            );
            assert_eq!(known.returned(urn, name), attribute.returned, "{name}");
            assert_eq!(
                known.is_read_only(urn, name),
                attribute.mutability == Mutability::ReadOnly,
                "{name}"
            );
            for sub in attribute.sub_attributes {
                let s = Some(sub.name);
                assert_eq!(
                    known.attribute_type(urn, name, s),
                    sub.ty,
                    "{name}.{}",
                    sub.name
                );
                assert_eq!(
                    known.is_case_exact(urn, name, s),
                    sub.case_exact,
                    "{name}.{}",
                    sub.name
                );
            }
        }
    }
}

#[test]
fn every_writable_user_attribute_round_trips_through_the_validator_and_a_patch() {
    for (urn, schema) in [
        (None, USER.schema),
        (Some(ENTERPRISE_USER_URN), USER.extensions[0].schema),
    ] {
        for attribute in schema.attributes {
            if matches!(
                attribute.mutability,
                Mutability::ReadOnly | Mutability::WriteOnly
            ) || attribute.name == "userName"
            {
                continue;
            }
            let mut value = sample(attribute);
            if attribute.name == "manager" {
                // The manager's display name is the server's; the rest is kept.
                value = json!({"value": "2819c223-7f76-453a-919d-413861904646", "$ref": "x", "displayName": "x"});
            }
            let mut body = json!({"userName": "a", "schemas": [CORE_USER_URN]});
            match urn {
                None => body[attribute.name] = value.clone(),
                Some(urn) => body[urn] = json!({attribute.name: value.clone()}),
            }
            let accepted = USER.accept(body.clone()).unwrap();
            assert_eq!(accepted, body, "{} is kept as sent", attribute.name);

            let path = match urn {
                None => attribute.name.to_owned(),
                Some(urn) => format!("{urn}:{}", attribute.name),
            };
            let patched = patch_user(
                &json!({"userName": "a", "schemas": [CORE_USER_URN]}),
                ops(json!([{"op": "add", "path": path, "value": value}])),
            )
            .unwrap();
            let accepted = USER.accept(patched).unwrap();
            let stored = match urn {
                None => &accepted[attribute.name],
                Some(urn) => &accepted[urn][attribute.name],
            };
            assert_eq!(stored, &value, "PATCH add {path}");
        }
    }
}

#[test]
fn a_wrong_type_is_400_invalid_value_naming_the_attribute_and_the_type() {
    for attribute in USER.schema.attributes {
        if attribute.mutability == Mutability::ReadOnly {
            continue;
        }
        let mut body = json!({"userName": "a"});
        body[attribute.name] = wrong(attribute);
        let error = assert_scim_err(USER.accept(body), ScimType::InvalidValue);
        assert!(
            error
                .detail
                .starts_with(&format!("{} must be ", attribute.name)),
            "{}",
            error.detail
        );
    }
    let table = [
        (
            json!({"userName": "a", "active": 3}),
            "active must be a boolean, not a number",
        ),
        (
            json!({"userName": "a", "emails": "x"}),
            "emails must be an array (it is multi-valued)",
        ),
        (
            json!({"userName": "a", "name": "x"}),
            "name must be an object",
        ),
        (
            json!({"userName": "a", "emails": [{"value": 1}]}),
            "emails[0].value must be a string",
        ),
        (
            json!({"userName": "a", "emails": [{"primary": "yes"}]}),
            "emails[0].primary must be a boolean",
        ),
        (
            json!({"userName": "a", "name": {"givenName": ["x"]}}),
            "name.givenName must be a string",
        ),
        (
            json!({"userName": "a", ENT: "x"}),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User must be an object",
        ),
        (
            json!({"userName": "a", ENT: {"department": 5}}),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department must be a string",
        ),
        (json!({"userName": ""}), "userName is required"),
        (json!({"displayName": "no name"}), "userName is required"),
    ];
    for (body, detail) in table {
        let error = assert_scim_err(USER.accept(body.clone()), ScimType::InvalidValue);
        assert!(error.detail.starts_with(detail), "{body}: {}", error.detail);
    }
    assert_scim_err(USER.accept(json!(["x"])), ScimType::InvalidSyntax);
}

#[test]
fn a_wrong_value_is_named_by_kind_never_echoed() {
    let error = USER
        .accept(json!({"userName": "a", "password": ["Hunter2"]}))
        .unwrap_err();
    assert!(!error.detail.contains("Hunter2"), "{}", error.detail);
}

#[test]
fn schemas_is_a_non_empty_list_of_urns_that_names_the_core_schema() {
    let core_group = "urn:ietf:params:scim:schemas:core:2.0:Group";
    for (resource_type, body, core) in [
        (&USER, json!({"userName": "a"}), CORE_USER_URN),
        (&GROUP, json!({"displayName": "g"}), core_group),
    ] {
        for schemas in [
            json!("x"),
            json!([5]),
            json!([]),
            json!(["urn:bogus"]),
            json!(core),
            json!([if core == CORE_USER_URN {
                core_group
            } else {
                CORE_USER_URN
            }]),
        ] {
            let mut body = body.clone();
            body["schemas"] = schemas.clone();
            let error = assert_scim_err(resource_type.accept(body), ScimType::InvalidValue);
            assert!(
                error.detail.starts_with("schemas"),
                "{schemas}: {}",
                error.detail
            );
        }
        // Unknown URNs beside the core one are kept (Entra sends Microsoft's);
        // the core one takes its canonical spelling; none at all means the core one.
        let mut with_unknown = body.clone();
        with_unknown["schemas"] = json!([core.to_uppercase(), "urn:bogus"]);
        let accepted = resource_type.accept(with_unknown).unwrap();
        assert_eq!(accepted["schemas"], json!([core, "urn:bogus"]));
        assert_eq!(
            resource_type.accept(body).unwrap()["schemas"],
            json!([core])
        );
    }
}

#[test]
fn read_only_attributes_of_the_wrong_type_are_refused_not_ignored() {
    for (body, named) in [
        (json!({"userName": "a", "groups": "x"}), "groups"),
        (
            json!({"userName": "a", "groups": [{"value": 5}]}),
            "groups[0].value",
        ),
        (json!({"userName": "a", "id": 5}), "id"),
        (json!({"userName": "a", "meta": "x"}), "meta"),
    ] {
        let error = assert_scim_err(USER.accept(body.clone()), ScimType::InvalidValue);
        assert!(error.detail.starts_with(named), "{body}: {}", error.detail);
    }
}

#[test]
fn a_group_only_attribute_is_refused_on_a_user() {
    let error = assert_scim_err(
        USER.accept(json!({"userName": "a", "Members": [{"value": "x"}]})),
        ScimType::InvalidValue,
    );
    assert!(error.detail.contains("Members"), "{}", error.detail);
}

#[test]
fn attribute_names_are_stored_canonically_at_every_depth_values_untouched() {
    let manager = "2819c223-7f76-453a-919d-413861904646";
    let accepted = USER
        .accept(json!({
            "SCHEMAS": ["urn:ietf:params:scim:schemas:core:2.0:user", ENT.to_uppercase(), "urn:Vendor:X"],
            "UserName": "Ada@Example.COM",
            "Active": "True",
            "Name": {"GivenName": "Ada ", "nickish": "K"},
            "Emails": [{"Value": "A@x.com", "Type": "Work", "Primary": true, "Label": "kept"}],
            "EXTERNALID": "Ext",
            ENT.to_uppercase(): {"EmployeeNumber": "007", "Manager": {"Value": manager}, "Badge": 1},
            "urn:Vendor:X": {"Thing": 1},
            "VendorFlag": {"Inner": "as sent"}
        }))
        .unwrap();
    assert_eq!(
        accepted,
        json!({
            "schemas": [CORE_USER_URN, ENT, "urn:Vendor:X"],
            "userName": "Ada@Example.COM",
            "active": true,
            "name": {"givenName": "Ada ", "nickish": "K"},
            "emails": [{"value": "A@x.com", "type": "Work", "primary": true, "Label": "kept"}],
            "externalId": "Ext",
            ENT: {"employeeNumber": "007", "manager": {"value": manager}, "Badge": 1},
            "urn:Vendor:X": {"Thing": 1},
            "VendorFlag": {"Inner": "as sent"}
        })
    );
    let keys: Vec<&String> = accepted.as_object().unwrap().keys().collect();
    assert_eq!(
        keys[..3],
        ["schemas", "userName", "active"],
        "order as sent"
    );

    let group = GROUP
        .accept(json!({"DisplayName": "G", "ExternalID": "e", "Schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}))
        .unwrap();
    assert_eq!(
        group,
        json!({"displayName": "G", "externalId": "e", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]})
    );
}

#[test]
fn one_attribute_twice_in_different_letter_cases_is_ambiguous() {
    for (body, named) in [
        (json!({"userName": "a", "UserName": "b"}), "\"UserName\""),
        (
            json!({"userName": "a", "Title": null, "title": "t"}),
            "\"title\"",
        ),
        (
            json!({"userName": "a", "name": {"givenName": "x", "GivenName": "y"}}),
            " in name",
        ),
        (
            json!({"userName": "a", "emails": [{"value": "x", "VALUE": "y"}]}),
            " in emails[0]",
        ),
        (
            json!({"userName": "a", ENT: {"department": "x", "Department": "y"}}),
            ENT,
        ),
        (
            json!({"userName": "a", ENT: {}, ENT.to_lowercase(): {}}),
            "name the same attribute",
        ),
        (
            json!({"userName": "a", "vendor": 1, "VENDOR": 2}),
            "\"VENDOR\"",
        ),
    ] {
        let error = assert_scim_err(USER.accept(body.clone()), ScimType::InvalidSyntax);
        assert!(error.detail.contains(named), "{body}: {}", error.detail);
    }
}

#[test]
fn overlong_attribute_names_are_refused_without_being_echoed() {
    let long = "x".repeat(5_000);
    for body in [
        json!({"userName": "a", long.clone(): 1}),
        json!({"userName": "a", "name": {long.clone(): 1}}),
        json!({"userName": "a", ENT: {long.clone(): 1}}),
    ] {
        let error = assert_scim_err(USER.accept(body), ScimType::InvalidSyntax);
        assert!(error.detail.contains("512"), "{}", error.detail);
        assert!(error.detail.len() < 200, "{}", error.detail);
    }
    let fits = "x".repeat(scim::path::MAX_PATH_LENGTH);
    assert!(USER.accept(json!({"userName": "a", fits: 1})).is_ok());
}

#[test]
fn read_only_attributes_sent_by_clients_are_ignored() {
    let accepted = USER.accept(entra_user()).unwrap();
    assert!(accepted.get("id").is_none());
    assert!(accepted.get("meta").is_none());
    let accepted = USER
        .accept(json!({"userName": "a", "groups": [{"value": "g"}], "ID": "x"}))
        .unwrap();
    assert_eq!(
        accepted,
        json!({"userName": "a", "schemas": [CORE_USER_URN]})
    );
}

#[test]
fn unknown_attributes_and_schema_urns_are_kept_exactly_as_sent() {
    let microsoft = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let body = json!({
        "schemas": [CORE_USER_URN, ENT, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "userName": "a",
        microsoft: {"CustomAttribute": 3, "Nested": {"deep": [true, null]}},
        "someVendorThing": {"x": 1},
        ENT: {"employeeNumber": "701984", "Unknown": 1},
        "name": {"givenName": "A", "nickish": 5}
    });
    assert_eq!(USER.accept(body.clone()).unwrap(), body);
}

#[test]
fn entra_forgiveness_booleans_as_strings_and_a_bare_manager_id() {
    let accepted = USER
        .accept(json!({
            "userName": "a",
            "active": "False",
            "roles": [{"primary": "True", "value": "Admin"}],
            ENT: {"manager": "2819c223-7f76-453a-919d-413861904646", "department": null},
            "title": null
        }))
        .unwrap();
    assert_eq!(
        accepted,
        json!({
            "userName": "a",
            "active": false,
            "roles": [{"primary": true, "value": "Admin"}],
            ENT: {"manager": {"value": "2819c223-7f76-453a-919d-413861904646"}},
            "schemas": [CORE_USER_URN]
        })
    );
    let legacy = USER
        .accept(json!({"userName": "a", ENT: {"manager": [{"value": "11111111-1111-4111-8111-111111111111", "$ref": "../Users/11111111-1111-4111-8111-111111111111"}]}}))
        .unwrap();
    assert_eq!(
        legacy[ENT]["manager"],
        json!({"$ref": format!("../Users/11111111-1111-4111-8111-111111111111"), "value": "11111111-1111-4111-8111-111111111111"})
    );
}

#[test]
fn the_password_is_never_stored_nor_returned() {
    let accepted = USER
        .accept(json!({"userName": "a", "password": "Hunter2"}))
        .unwrap();
    assert!(accepted.get("password").is_none());

    let user = json!({"id": "1", "userName": "a", "password": "leaked", "title": "t"});
    for (attributes, excluded) in [
        (None, None),
        (Some("password"), None),
        (Some("userName,password"), None),
        (None, Some("title")),
    ] {
        let out = Selection::parse(attributes, excluded, &UserSchema)
            .unwrap()
            .apply(&user, &UserSchema);
        assert!(
            out.get("password").is_none(),
            "{attributes:?} {excluded:?}: {out}"
        );
        assert_eq!(out["id"], "1", "id is returned always");
    }
}

#[test]
fn passwords_are_taken_out_of_bodies_and_patch_operations() {
    let mut body = json!({"userName": "a", "PassWord": "Hunter2"});
    let taken = take_password(&mut body).unwrap().unwrap();
    assert_eq!(taken.expose(), "Hunter2");
    assert!(!format!("{taken:?}").contains("Hunter2"));
    assert_eq!(body, json!({"userName": "a"}));
    assert!(
        take_password(&mut json!({"userName": "a", "password": null}))
            .unwrap()
            .is_none()
    );
    let error = take_password(&mut json!({"password": 1234})).unwrap_err();
    assert_eq!(error.scim_type, Some(ScimType::InvalidValue));

    let table = [
        (
            json!([{"op": "Replace", "path": "password", "value": "p1"}]),
            json!([]),
            Some("p1"),
        ),
        (
            json!([{"op": "add", "path": format!("{CORE_USER_URN}:password"), "value": "p2"}]),
            json!([]),
            Some("p2"),
        ),
        (
            json!([{"op": "replace", "value": {"password": "p3", "displayName": "D"}}]),
            json!([{"op": "replace", "value": {"displayName": "D"}}]),
            Some("p3"),
        ),
        (
            json!([{"op": "replace", "value": {format!("{CORE_USER_URN}:password"): "p4"}}]),
            json!([]),
            Some("p4"),
        ),
        (
            json!([
                {"op": "replace", "path": "password", "value": "first"},
                {"op": "replace", "path": "title", "value": "T"},
                {"op": "replace", "path": "password", "value": "last"}
            ]),
            json!([{"op": "replace", "path": "title", "value": "T"}]),
            Some("last"),
        ),
        (
            json!([{"op": "remove", "path": "password"}]),
            json!([{"op": "remove", "path": "password"}]),
            None,
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq \"password\"].value", "value": "x"}]),
            json!([{"op": "replace", "path": "emails[type eq \"password\"].value", "value": "x"}]),
            None,
        ),
    ];
    for (operations, left, password) in table {
        let mut body = ops(operations.clone());
        let taken = take_patch_password(&mut body).unwrap();
        assert_eq!(taken.as_ref().map(|p| p.expose()), password, "{operations}");
        assert_eq!(body["Operations"], left, "{operations}");
    }
    let error = take_patch_password(&mut ops(
        json!([{"op": "add", "path": "password", "value": 5}]),
    ))
    .unwrap_err();
    assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
}

/// One attribute's rendered definition, by name.
fn rendered<'v>(attributes: &'v Value, name: &str) -> &'v Value {
    attributes
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not described"))
}

#[test]
fn schemas_render_every_rfc_7643_facet() {
    const FACETS: [&str; 9] = [
        "name",
        "type",
        "multiValued",
        "description",
        "required",
        "caseExact",
        "mutability",
        "returned",
        "uniqueness",
    ];
    fn check(attribute: &Value) {
        for facet in FACETS {
            assert!(attribute.get(facet).is_some(), "{facet} of {attribute}");
        }
        if attribute["type"] == "complex" {
            for sub in attribute["subAttributes"].as_array().unwrap() {
                check(sub);
            }
        }
        if attribute["type"] == "reference" {
            assert!(attribute["referenceTypes"].is_array(), "{attribute}");
        }
    }
    for schema in SCHEMAS {
        let json = schema.to_json("/scim_v2");
        assert_eq!(json["id"], schema.id);
        assert_eq!(
            json["meta"]["location"],
            format!("/scim_v2/Schemas/{}", schema.id)
        );
        json["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .for_each(check);
    }

    let user = USER.schema.to_json("/scim_v2");
    let user_name = rendered(&user["attributes"], "userName");
    assert_eq!(
        (
            &user_name["required"],
            &user_name["uniqueness"],
            &user_name["caseExact"]
        ),
        (&json!(true), &json!("server"), &json!(false))
    );
    let password = rendered(&user["attributes"], "password");
    assert_eq!(
        (&password["mutability"], &password["returned"]),
        (&json!("writeOnly"), &json!("never"))
    );
    let groups = rendered(&user["attributes"], "groups");
    assert_eq!(groups["mutability"], "readOnly");
    let emails = rendered(&user["attributes"], "emails");
    assert_eq!(
        rendered(&emails["subAttributes"], "type")["canonicalValues"],
        json!(["work", "home", "other"])
    );
    assert_eq!(
        rendered(&user["attributes"], "profileUrl")["referenceTypes"],
        json!(["external"])
    );

    let enterprise = USER.extensions[0].schema.to_json("/scim_v2");
    let manager = rendered(&enterprise["attributes"], "manager");
    let subs: Vec<&Value> = manager["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(
        subs,
        [&json!("value"), &json!("$ref"), &json!("displayName")]
    );
    assert_eq!(
        rendered(&manager["subAttributes"], "$ref")["referenceTypes"],
        json!(["User"])
    );

    let group = GROUP.schema.to_json("/scim_v2");
    let display_name = rendered(&group["attributes"], "displayName");
    assert_eq!(
        (&display_name["required"], &display_name["uniqueness"]),
        (&json!(true), &json!("server"))
    );
    let members = rendered(&group["attributes"], "members");
    assert_eq!(members["multiValued"], true);
    assert_eq!(
        rendered(&members["subAttributes"], "value")["mutability"],
        "immutable"
    );
    assert_eq!(
        rendered(&members["subAttributes"], "type")["canonicalValues"],
        json!(["User", "Group"])
    );
}

#[test]
fn resource_types_list_users_with_the_enterprise_extension_and_groups() {
    let rendered: Vec<Value> = RESOURCE_TYPES
        .iter()
        .map(|r| r.to_json("/scim_v2"))
        .collect();
    assert_eq!(rendered[0]["endpoint"], "/Users");
    assert_eq!(rendered[0]["schema"], CORE_USER_URN);
    assert_eq!(
        rendered[0]["schemaExtensions"],
        json!([{"schema": ENTERPRISE_USER_URN, "required": false}])
    );
    assert_eq!(rendered[1]["endpoint"], "/Groups");
    assert_eq!(rendered[1]["schema"], scim::schema::CORE_GROUP_URN);
    assert_eq!(
        rendered[1]["meta"]["location"],
        "/scim_v2/ResourceTypes/Group"
    );
}

#[test]
fn the_facts_other_crates_rely_on_still_hold() {
    let user = UserSchema;
    assert!(user.is_case_exact(None, "externalId", None));
    assert!(user.is_case_exact(None, "id", None));
    assert!(!user.is_case_exact(None, "userName", None));
    assert!(user.is_case_exact(None, "groups", Some("value")));
    assert!(!user.is_case_exact(None, "emails", Some("value")));
    assert!(user.is_case_exact(None, "emails", Some("$ref")));
    assert!(user.is_case_exact(None, "unknownThing", Some("$ref")));
    assert!(GroupSchema.is_case_exact(None, "members", Some("value")));
    for read_only in ["id", "meta", "groups", "GROUPS"] {
        assert!(user.is_read_only(None, read_only), "{read_only}");
    }
    assert!(!user.is_read_only(None, "userName"));
    assert!(!user.is_read_only(Some(ENT), "manager"));
    assert_eq!(
        user.extension_of("employeeNumber"),
        Some(ENTERPRISE_USER_URN)
    );
    assert_eq!(user.extension_of("userName"), None);
    assert_eq!(
        user.attribute_type(Some(ENT), "manager", Some("value")),
        AttrType::String
    );
    assert_eq!(
        user.attribute_type(None, "roles", Some("primary")),
        AttrType::Boolean
    );
    assert_eq!(user.attribute_type(None, "unknown", None), AttrType::String);
    assert!(user.is_multi_valued(None, "emails"));
    assert!(!user.is_multi_valued(Some(ENT), "manager"));
    assert_eq!(user.returned(None, "id"), Returned::Always);
    assert_eq!(user.returned(None, "password"), Returned::Never);
    assert_eq!(user.returned(None, "userName"), Returned::Default);
}
