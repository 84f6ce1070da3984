//! The one schema definition as a client sees it: `/Schemas` and
//! `/ResourceTypes` describe what the server does, the write-only password
//! is hashed and never returned, and wrong-typed attributes are refused.

use std::time::Duration;

use reqwest::StatusCode;
use rollcall::verify::{Verdict, verify};
use serde_json::{Value, json};

use crate::helpers::{USER_SCHEMA, entra_user, spawn_app};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The definition of attribute `name` in a list of attribute definitions.
fn attribute<'v>(attributes: &'v Value, name: &str) -> &'v Value {
    attributes
        .as_array()
        .expect("an attribute list")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not described in {attributes}"))
}

fn facets(attribute: &Value) -> Value {
    json!({
        "type": attribute["type"],
        "multiValued": attribute["multiValued"],
        "required": attribute["required"],
        "caseExact": attribute["caseExact"],
        "mutability": attribute["mutability"],
        "returned": attribute["returned"],
        "uniqueness": attribute["uniqueness"],
    })
}

#[tokio::test]
async fn schemas_describe_user_enterprise_user_and_group_with_the_rfc_facets() {
    let app = spawn_app().await;
    let (status, list) = app.get("/Schemas").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<&str> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [USER_SCHEMA, ENTERPRISE, GROUP_SCHEMA]);
    assert_eq!(list["totalResults"], 3);

    let (status, user) = app.get(&format!("/Schemas/{USER_SCHEMA}")).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let attributes = &user["attributes"];
    assert_eq!(
        facets(attribute(attributes, "userName")),
        json!({"type": "string", "multiValued": false, "required": true, "caseExact": false,
               "mutability": "readWrite", "returned": "default", "uniqueness": "server"})
    );
    assert_eq!(
        facets(attribute(attributes, "password")),
        json!({"type": "string", "multiValued": false, "required": false, "caseExact": false,
               "mutability": "writeOnly", "returned": "never", "uniqueness": "none"})
    );
    assert_eq!(attribute(attributes, "active")["type"], "boolean");
    assert_eq!(attribute(attributes, "groups")["mutability"], "readOnly");
    let emails = attribute(attributes, "emails");
    assert_eq!(
        (&emails["type"], &emails["multiValued"]),
        (&json!("complex"), &json!(true))
    );
    assert_eq!(
        attribute(&emails["subAttributes"], "type")["canonicalValues"],
        json!(["work", "home", "other"])
    );
    assert_eq!(
        attribute(&emails["subAttributes"], "primary")["type"],
        "boolean"
    );
    let name = attribute(attributes, "name");
    attribute(&name["subAttributes"], "givenName");
    assert_eq!(
        attribute(attributes, "x509Certificates")["subAttributes"][0]["type"],
        "binary"
    );

    let (_, enterprise) = app.get(&format!("/Schemas/{ENTERPRISE}")).await;
    let manager = attribute(&enterprise["attributes"], "manager");
    assert_eq!(manager["type"], "complex");
    let reference = attribute(&manager["subAttributes"], "$ref");
    assert_eq!(
        (&reference["type"], &reference["referenceTypes"]),
        (&json!("reference"), &json!(["User"]))
    );
    attribute(&manager["subAttributes"], "value");
    assert_eq!(
        attribute(&manager["subAttributes"], "displayName")["mutability"],
        "readOnly"
    );

    let (_, group) = app.get(&format!("/Schemas/{GROUP_SCHEMA}")).await;
    let display_name = attribute(&group["attributes"], "displayName");
    assert_eq!(
        (&display_name["required"], &display_name["uniqueness"]),
        (&json!(true), &json!("server"))
    );
    let members = attribute(&group["attributes"], "members");
    assert_eq!(members["multiValued"], true);
    assert_eq!(
        attribute(&members["subAttributes"], "value")["mutability"],
        "immutable"
    );
    assert_eq!(
        attribute(&members["subAttributes"], "type")["canonicalValues"],
        json!(["User", "Group"])
    );
    attribute(&members["subAttributes"], "$ref");
    attribute(&members["subAttributes"], "display");

    let (status, _) = app.get("/Schemas/urn:example:nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn resource_types_list_users_and_groups() {
    let app = spawn_app().await;
    let (status, list) = app.get("/ResourceTypes").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let endpoints: Vec<(&str, &str)> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["endpoint"].as_str().unwrap(),
                r["schema"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        endpoints,
        [("/Users", USER_SCHEMA), ("/Groups", GROUP_SCHEMA)]
    );
    let (status, group) = app.get("/ResourceTypes/Group").await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["name"], "Group");
    let (_, user) = app.get("/ResourceTypes/User").await;
    assert_eq!(
        user["schemaExtensions"],
        json!([{"schema": ENTERPRISE, "required": false}])
    );
    app.stop().await;
}

#[tokio::test]
async fn a_password_is_hashed_with_argon2id_and_never_returned() {
    let app = spawn_app().await;
    let clear = "Correct-Horse-Battery-Staple-42";
    let mut body = entra_user("pw@contoso.com");
    body["password"] = json!(clear);
    let (status, created) = app.create_user(body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let version = created["meta"]["version"].clone();

    let (_, fetched) = app.get_user(&id).await;
    let (_, selected) = app
        .get(&format!("/Users/{id}?attributes=password,userName"))
        .await;
    let (_, listed) = app
        .list_users("filter=userName+eq+%22pw%40contoso.com%22")
        .await;
    assert_eq!(listed["totalResults"], 1, "{listed}");

    // A PATCH whose only effect is a new password is still a change.
    let (status, patched) = app
        .patch_user(
            &id,
            json!([{"op": "replace", "path": "password", "value": format!("{clear}-2")}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_ne!(
        patched["meta"]["version"], version,
        "the password change is an event"
    );
    // Entra's path-less dialect too, next to another attribute.
    let (status, patched_again) = app
        .patch_user(
            &id,
            json!([{"op": "replace", "value": {"password": format!("{clear}-3"), "title": "Boss"}}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched_again}");
    assert_eq!(patched_again["title"], "Boss");
    let mut replacement = entra_user("pw@contoso.com");
    replacement["password"] = json!(format!("{clear}-4"));
    let (status, replaced) = app.replace_user(&id, replacement).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");

    let (status, bulk) = app
        .bulk(
            None,
            json!([{"method": "POST", "path": "/Users", "bulkId": "b1",
                    "data": {"schemas": [USER_SCHEMA], "userName": "bulk.pw@contoso.com", "password": format!("{clear}-5")}}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{bulk}");
    assert_eq!(bulk["Operations"][0]["status"], "201", "{bulk}");

    for response in [
        &created,
        &fetched,
        &selected,
        &listed,
        &patched,
        &patched_again,
        &replaced,
        &bulk,
    ] {
        let text = response.to_string();
        assert!(!text.contains(clear), "{text}");
        assert!(!text.to_lowercase().contains("password"), "{text}");
        assert!(!text.contains("$argon2"), "{text}");
    }

    app.wait_for_projector(Duration::from_secs(10)).await;
    let sql = app.sql().await;
    let payloads: Vec<String> = sql
        .query(
            "select payload::text from events where event_type like 'User%' order by position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(payloads.iter().all(|p| !p.contains(clear)), "{payloads:?}");
    let hashed = payloads.iter().filter(|p| p.contains("$argon2id$")).count();
    assert_eq!(
        hashed, 5,
        "provision, two patches, put and bulk create: {payloads:?}"
    );
    let leaked: i64 = sql
        .query_one(
            "select (select count(*) from events where metadata::text like '%' || $1 || '%') \
                  + (select count(*) from access_log where detail like '%' || $1 || '%') \
                  + (select count(*) from scim_users where resource::text like '%' || $1 || '%' \
                       or resource::text like '%argon2%')",
            &[&clear],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        leaked, 0,
        "no clear password in metadata or access records, no hash in the read table"
    );

    assert!(matches!(
        verify(app.pool()).await.unwrap(),
        Verdict::Sound { .. }
    ));
    app.stop().await;
}

#[tokio::test]
async fn wrong_typed_attributes_are_400_invalid_value_naming_them() {
    let app = spawn_app().await;
    for (attribute, value) in [
        ("active", json!(3)),
        ("emails", json!("x")),
        ("name", json!("x")),
        ("userName", json!(["a"])),
        ("password", json!(42)),
    ] {
        let mut body = entra_user("typed@contoso.com");
        body[attribute] = value;
        let (status, error) = app.create_user(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{attribute}: {error}");
        assert_eq!(error["scimType"], "invalidValue", "{error}");
        assert!(
            error["detail"].as_str().unwrap().contains(attribute),
            "{attribute}: {error}"
        );
    }

    // Entra's forgiveness stays: booleans as strings, readOnly attributes
    // ignored, unknown extensions kept as sent.
    let microsoft = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let mut body = entra_user("typed@contoso.com");
    body["active"] = json!("False");
    body["groups"] = json!([{"value": "g"}]);
    body[microsoft] = json!({"CustomAttribute": "kept"});
    let (status, created) = app.create_user(body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["active"], false);
    assert!(created.get("groups").is_none());
    assert_eq!(created[microsoft], json!({"CustomAttribute": "kept"}));

    let id = created["id"].as_str().unwrap();
    let (status, error) = app
        .patch_user(id, json!([{"op": "replace", "path": "name", "value": "x"}]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["scimType"], "invalidValue");
    let (status, error) = app
        .replace_user(id, json!({"userName": "typed@contoso.com", "emails": "x"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["scimType"], "invalidValue");
    app.stop().await;
}
