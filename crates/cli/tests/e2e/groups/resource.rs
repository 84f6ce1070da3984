//! A group as a resource: create, read, replace, rename, uniqueness of its
//! display name, ETags, attribute selection, and what a write costs.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::groups::{GROUP_SCHEMA, ids, member_values};
use crate::helpers::{PATCH_OP, spawn_app};

#[tokio::test]
async fn a_group_is_created_with_members_and_read_back_with_their_types() {
    let app = spawn_app().await;
    let ada = app.provision("ada@contoso.com").await;
    let inner = app.group_of("Inner", &[]).await;
    let response = app
        .scim(Method::POST, "/Groups")
        .body(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "externalId": "eng-1",
                   "members": [{"value": ada}, {"value": inner}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(location.ends_with(&format!("/scim_v2/Groups/{id}")));
    assert_eq!(created["meta"]["resourceType"], "Group");
    assert_eq!(created["displayName"], "Engineering");

    let (status, group) = app.get_group(id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(group["externalId"], "eng-1");
    let mut members: Vec<(String, String)> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["value"].as_str().unwrap().to_owned(),
                m["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    members.sort();
    let mut expected = vec![
        (ada.clone(), "User".to_owned()),
        (inner, "Group".to_owned()),
    ];
    expected.sort();
    assert_eq!(members, expected);
    assert!(
        group["members"][0]["$ref"]
            .as_str()
            .unwrap()
            .contains("/scim_v2/")
    );
    app.stop().await;
}

#[tokio::test]
async fn display_names_are_unique_case_insensitively() {
    let app = spawn_app().await;
    app.group_of("Sales", &[]).await;
    let (status, body) = app.create_group(json!({"displayName": "SALES"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    let (status, body) = app.create_group(json!({"externalId": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn okta_renames_a_group_sending_its_own_id() {
    let app = spawn_app().await;
    let group = app.group_of("Old name", &[]).await;
    let rename =
        |id: String| json!([{"op": "replace", "value": {"id": id, "displayName": "New name"}}]);
    let (status, body) = app.patch_group(&group, rename(group.clone())).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, read) = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(read["displayName"], "New name", "{read}");
    let (status, body) = app
        .patch_group(&group, rename(Uuid::new_v4().to_string()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "mutability");
    app.stop().await;
}

#[tokio::test]
async fn patch_answers_200_with_the_group_when_attributes_are_asked() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let group = app.group_of("Asked", &[]).await;
    let (status, body) = app
        .patch_group_query(
            &group,
            "?attributes=members",
            json!([{"op": "add", "path": "members", "value": member_values(&[&a])}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], group);
    assert_eq!(body["members"][0]["value"], a);
    assert!(body.get("displayName").is_none(), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn excluded_members_are_left_out_entirely() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let group = app.group_of("Quiet", &[&a]).await;
    let (status, body) = app
        .get(&format!("/Groups/{group}?excludedAttributes=members"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("members").is_none(), "{body}");
    assert_eq!(body["displayName"], "Quiet");
    let (_, list) = app.get("/Groups?excludedAttributes=members").await;
    assert!(list["Resources"][0].get("members").is_none(), "{list}");
    app.stop().await;
}

#[tokio::test]
async fn a_stale_if_match_on_a_group_is_refused() {
    let app = spawn_app().await;
    let group = app.group_of("Versioned", &[]).await;
    let response = app.scim(Method::PATCH, &format!("/Groups/{group}"))
        .header("if-match", "W/\"99\"")
        .body(json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "X"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    app.stop().await;
}

#[tokio::test]
async fn put_replaces_attributes_and_members_only_when_sent() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let group = app.group_of("Put", &[&a]).await;
    app.group_of("Taken", &[]).await;
    let put = |body: Value| app.replace_group(&group, body);

    // Without members: the attributes change, the members stay.
    let (status, body) =
        put(json!({"schemas": [GROUP_SCHEMA], "displayName": "Put Renamed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Put Renamed");
    assert_eq!(body["members"][0]["value"], a, "{body}");

    // With members: they become exactly those.
    let (status, body) =
        put(json!({"displayName": "Put Renamed", "members": [{"value": b}]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.member_ids(&group).await, ids(&[&b]));

    // Renaming onto another group's name is a conflict, in any case.
    let (status, body) = put(json!({"displayName": "TAKEN"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = app
        .patch_group(
            &group,
            json!([{"op": "replace", "path": "displayName", "value": "taken"}]),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // And the old name is free again once the group is renamed.
    let (status, _) = app.create_group(json!({"displayName": "Put"})).await;
    assert_eq!(status, StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn a_group_write_reads_what_is_new_not_every_rename() {
    let app = spawn_app().await;
    let member = app.provision("member@contoso.test").await;
    let id = app.group_of("Renamed 0", &[]).await;
    let rename = |round: usize| {
        let (app, id) = (&app, id.clone());
        async move {
            let (status, body) = app.patch_group(&id,
                json!([{"op": "replace", "path": "displayName", "value": format!("Renamed {round}")}]),
            )
            .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
    };
    for round in 1..=100 {
        rename(round).await;
    }
    let before = app.metric("rollcall_api_write_events_read_total").await;
    for round in 101..=150 {
        rename(round).await;
        if round == 120 {
            let (status, body) = app
                .patch_group(
                    &id,
                    json!([{"op": "add", "path": "members", "value": [{"value": member}]}]),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
    }
    let read = app.metric("rollcall_api_write_events_read_total").await - before;
    assert!(
        read <= 50.0,
        "51 writes after 100 renames read {read} events from the log"
    );
    let (_, group) = app.get_group(&id).await;
    assert_eq!(group["displayName"], "Renamed 150");
    assert_eq!(group["members"][0]["value"], member.as_str());
    // Its create, 150 renames and one member add.
    assert_eq!(group["meta"]["version"], format!("W/\"{}\"", 1 + 150 + 1));
    // The first name is free again, the last is taken.
    let (status, _) = app
        .create_group(json!({"schemas": [GROUP_SCHEMA], "displayName": "Renamed 0"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .create_group(json!({"schemas": [GROUP_SCHEMA], "displayName": "Renamed 150"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.stop().await;
}
