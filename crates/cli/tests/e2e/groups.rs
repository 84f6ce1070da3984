//! `/scim_v2/Groups` as Entra ID, Okta and the SCIM validators use it:
//! every member PATCH form, uniqueness, filters, cascades on delete, and
//! member changes that commute under concurrency.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Options, TestApp, form_encode, spawn_app, spawn_app_with};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn call(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(&app.token)
        .header("content-type", "application/scim+json")
}

async fn create_group(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.send(call(app, Method::POST, "/Groups").body(body.to_string()))
        .await
}

/// Creates a group with these member ids; fails the test unless 201.
async fn group_of(app: &TestApp, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    let (status, body) = create_group(
        app,
        json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("an id").to_owned()
}

async fn patch_group(app: &TestApp, id: &str, operations: Value) -> (StatusCode, Value) {
    patch_group_query(app, id, "", operations).await
}

async fn patch_group_query(
    app: &TestApp,
    id: &str,
    query: &str,
    operations: Value,
) -> (StatusCode, Value) {
    let body = json!({"schemas": [PATCH_OP], "Operations": operations});
    app.send(call(app, Method::PATCH, &format!("/Groups/{id}{query}")).body(body.to_string()))
        .await
}

async fn get_group(app: &TestApp, id: &str) -> (StatusCode, Value) {
    app.get(&format!("/Groups/{id}")).await
}

/// The member ids a full GET returns.
async fn member_ids(app: &TestApp, id: &str) -> BTreeSet<String> {
    let (status, body) = get_group(app, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["members"]
        .as_array()
        .expect("a members array")
        .iter()
        .map(|member| member["value"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(values: &[&String]) -> BTreeSet<String> {
    values.iter().map(|id| (*id).clone()).collect()
}

async fn event_count(app: &TestApp) -> i64 {
    store::log_head(app.pool()).await.unwrap()
}

fn values(ids: &[&String]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| json!({"$ref": null, "value": id}))
            .collect(),
    )
}

#[tokio::test]
async fn a_group_is_created_with_members_and_read_back_with_their_types() {
    let app = spawn_app().await;
    let ada = app.provision("ada@contoso.com").await;
    let inner = group_of(&app, "Inner", &[]).await;
    let response = call(&app, Method::POST, "/Groups")
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

    let (status, group) = get_group(&app, id).await;
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
    group_of(&app, "Sales", &[]).await;
    let (status, body) = create_group(&app, json!({"displayName": "SALES"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    let (status, body) = create_group(&app, json!({"externalId": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn okta_renames_a_group_sending_its_own_id() {
    let app = spawn_app().await;
    let group = group_of(&app, "Old name", &[]).await;
    let rename =
        |id: String| json!([{"op": "replace", "value": {"id": id, "displayName": "New name"}}]);
    let (status, body) = patch_group(&app, &group, rename(group.clone())).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, read) = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(read["displayName"], "New name", "{read}");
    let (status, body) = patch_group(&app, &group, rename(Uuid::new_v4().to_string())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "mutability");
    app.stop().await;
}

#[tokio::test]
async fn removing_one_member_of_three_leaves_the_other_two() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let c = app.provision("c@contoso.com").await;
    let group = group_of(&app, "Three", &[&a, &b, &c]).await;
    // Entra's form: Remove with path "members" and the leaving member as value.
    let (status, body) = patch_group(
        &app,
        &group,
        json!([{"op": "Remove", "path": "members", "value": [{"value": a}]}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(member_ids(&app, &group).await, ids(&[&b, &c]));
    app.stop().await;
}

#[tokio::test]
async fn every_entra_member_form_does_what_it_says() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let c = app.provision("c@contoso.com").await;
    let group = group_of(&app, "Forms", &[]).await;

    // Add members, several values, "$ref": null.
    let (status, _) = patch_group(
        &app,
        &group,
        json!([{"op": "Add", "path": "members", "value": values(&[&a, &b, &c])}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(member_ids(&app, &group).await, ids(&[&a, &b, &c]));

    // members[value eq "id"] removal.
    let (status, _) = patch_group(
        &app,
        &group,
        json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(member_ids(&app, &group).await, ids(&[&a, &c]));

    // Path-less replace of displayName and externalId.
    let (status, _) = patch_group(
        &app,
        &group,
        json!([{"op": "Replace", "value": {"displayName": "Renamed", "externalId": "ext-9"}}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, renamed) = get_group(&app, &group).await;
    assert_eq!(
        (
            renamed["displayName"].clone(),
            renamed["externalId"].clone()
        ),
        (json!("Renamed"), json!("ext-9"))
    );
    assert_eq!(
        member_ids(&app, &group).await,
        ids(&[&a, &c]),
        "a rename keeps the members"
    );

    // The validator's replace members, then Okta's empty push.
    let (status, _) = patch_group(
        &app,
        &group,
        json!([{"op": "replace", "path": "members", "value": values(&[&b])}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(member_ids(&app, &group).await, ids(&[&b]));
    let (status, _) = patch_group(
        &app,
        &group,
        json!([{"op": "replace", "path": "members", "value": []}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(member_ids(&app, &group).await, BTreeSet::new());
    app.stop().await;
}

#[tokio::test]
async fn adding_a_present_member_or_removing_an_absent_one_records_nothing() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let group = group_of(&app, "Idempotent", &[&a]).await;
    let before = event_count(&app).await;
    let (status, _) = patch_group(
        &app,
        &group,
        json!([{"op": "add", "path": "members", "value": values(&[&a])},
               {"op": "remove", "path": "members", "value": values(&[&b])}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(event_count(&app).await, before, "no event for a no-op");
    assert_eq!(member_ids(&app, &group).await, ids(&[&a]));
    app.stop().await;
}

#[tokio::test]
async fn a_request_with_one_bad_operation_changes_nothing() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let group = group_of(&app, "Atomic", &[]).await;
    let stranger = Uuid::new_v4().to_string();
    let before = event_count(&app).await;
    let (status, body) = patch_group(
        &app,
        &group,
        json!([{"op": "replace", "path": "displayName", "value": "Changed"},
               {"op": "add", "path": "members", "value": values(&[&a, &stranger])}]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidValue");
    assert!(
        body["detail"].as_str().unwrap().contains(&stranger),
        "{body}"
    );
    assert_eq!(event_count(&app).await, before);
    let (_, unchanged) = get_group(&app, &group).await;
    assert_eq!(unchanged["displayName"], "Atomic");
    assert_eq!(unchanged["members"], json!([]));

    let (status, body) = create_group(
        &app,
        json!({"displayName": "Bad", "members": [{"value": "not-an-id"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("not-an-id"));
    app.stop().await;
}

#[tokio::test]
async fn patch_answers_200_with_the_group_when_attributes_are_asked() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let group = group_of(&app, "Asked", &[]).await;
    let (status, body) = patch_group_query(
        &app,
        &group,
        "?attributes=members",
        json!([{"op": "add", "path": "members", "value": values(&[&a])}]),
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
    let group = group_of(&app, "Quiet", &[&a]).await;
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
async fn groups_filter_by_name_external_id_and_membership() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let with_a = group_of(&app, "Team Alpha", &[&a]).await;
    let (_, body) = create_group(
        &app,
        json!({"displayName": "Team Beta", "externalId": "BETA"}),
    )
    .await;
    let beta = body["id"].as_str().unwrap().to_owned();

    let find = |filter: String, extra: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .get(&format!("/Groups?filter={}{extra}", form_encode(&filter)))
                .await;
            assert_eq!(status, StatusCode::OK, "{filter}: {body}");
            body
        }
    };
    let ids_of = |body: &Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids_of(&find("displayName eq \"team alpha\"".into(), "").await),
        vec![with_a.clone()]
    );
    assert_eq!(
        ids_of(&find("externalId eq \"BETA\"".into(), "").await),
        vec![beta.clone()]
    );
    assert_eq!(
        ids_of(&find("externalId eq \"beta\"".into(), "").await),
        Vec::<String>::new()
    );
    assert_eq!(
        ids_of(&find(format!("members[value eq \"{a}\"]"), "").await),
        vec![with_a.clone()]
    );
    // Entra's legacy membership check, asking only for ids.
    let hit = find(
        format!("id eq \"{with_a}\" and members eq \"{a}\""),
        "&attributes=id",
    )
    .await;
    assert_eq!(hit["totalResults"], 1);
    assert_eq!(hit["Resources"][0]["id"], with_a);
    assert!(hit["Resources"][0].get("members").is_none(), "{hit}");
    assert!(hit["Resources"][0].get("displayName").is_none(), "{hit}");
    let miss = find(
        format!("id eq \"{with_a}\" and members eq \"{b}\""),
        "&attributes=id",
    )
    .await;
    assert_eq!(miss["totalResults"], 0);
    assert_eq!(miss["Resources"], json!([]));

    let (status, body) = app
        .get(&format!(
            "/Groups?filter={}",
            form_encode("emails[type eq \"work\"]")
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidFilter");
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_user_or_a_group_removes_its_memberships() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let inner = group_of(&app, "Inner", &[&a]).await;
    let outer = group_of(&app, "Outer", &[&b, &inner]).await;

    let (status, _) = app.delete_user(&b).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(member_ids(&app, &outer).await, ids(&[&inner]));

    let response = call(&app, Method::DELETE, &format!("/Groups/{inner}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(member_ids(&app, &outer).await, BTreeSet::new());
    let (status, body) = get_group(&app, &inner).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = patch_group(
        &app,
        &inner,
        json!([{"op": "add", "path": "members", "value": values(&[&a])}]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_member_patches_all_land() {
    let app = spawn_app().await;
    let group = group_of(&app, "Busy", &[]).await;
    let mut users = Vec::new();
    for n in 0..24 {
        users.push(app.provision(&format!("u{n}@contoso.com")).await);
    }
    let patches = users.iter().map(|user| {
        let (app, group) = (&app, &group);
        async move {
            patch_group(
                app,
                group,
                json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
            )
            .await
        }
    });
    let rename = patch_group(
        &app,
        &group,
        json!([{"op": "replace", "path": "displayName", "value": "Busy Renamed"}]),
    );
    let (answers, (renamed, _)) = futures::join!(futures::future::join_all(patches), rename);
    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == StatusCode::NO_CONTENT),
        "{answers:?}"
    );
    assert_eq!(renamed, StatusCode::NO_CONTENT);
    let expected: BTreeSet<String> = users.iter().cloned().collect();
    assert_eq!(member_ids(&app, &group).await, expected);
    let (_, body) = get_group(&app, &group).await;
    assert_eq!(body["displayName"], "Busy Renamed");

    // And removals of different members concurrently.
    let removals = users[..12].iter().map(|user| {
        let (app, group) = (&app, &group);
        async move {
            patch_group(
                app,
                group,
                json!([{"op": "remove", "path": "members", "value": [{"value": user}]}]),
            )
            .await
        }
    });
    futures::future::join_all(removals).await;
    let remaining: BTreeSet<String> = users[12..].iter().cloned().collect();
    assert_eq!(member_ids(&app, &group).await, remaining);
    let verdict = rollcall::verify::verify(app.pool()).await.unwrap();
    assert!(
        matches!(verdict, rollcall::verify::Verdict::Sound { .. }),
        "{verdict:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_stale_if_match_on_a_group_is_refused() {
    let app = spawn_app().await;
    let group = group_of(&app, "Versioned", &[]).await;
    let response = call(&app, Method::PATCH, &format!("/Groups/{group}"))
        .header("if-match", "W/\"99\"")
        .body(json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "X"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    app.stop().await;
}

#[tokio::test]
async fn a_membership_the_log_does_not_hold_fails_verify() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let group = group_of(&app, "Audited", &[&a]).await;
    app.wait_for_projector(std::time::Duration::from_secs(10))
        .await;
    let sound = rollcall::verify::verify(app.pool()).await.unwrap();
    assert!(
        matches!(sound, rollcall::verify::Verdict::Sound { .. }),
        "{sound:?}"
    );
    app.sql()
        .await
        .execute(
            "insert into scim_group_members (org_id, group_id, member_id, member_type) \
             select org_id, group_id, $2::text::uuid, 'User' from scim_groups where group_id = $1::text::uuid",
            &[&group, &b],
        )
        .await
        .unwrap();
    match rollcall::verify::verify(app.pool()).await.unwrap() {
        rollcall::verify::Verdict::Broken { reason, .. } => {
            assert!(reason.contains("memberships"), "{reason}")
        }
        sound => panic!("a forged membership passed verify: {sound:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn a_user_lists_its_direct_and_indirect_groups() {
    let app = spawn_app().await;
    let ada = app.provision("ada@contoso.com").await;
    let team = group_of(&app, "Team", &[&ada]).await;
    let department = group_of(&app, "Department", &[&team]).await;
    // A cycle must not loop: the department back into the team.
    let (status, _) = patch_group(
        &app,
        &team,
        json!([{"op": "add", "path": "members", "value": [{"value": department}]}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, user) = app.get_user(&ada).await;
    assert_eq!(status, StatusCode::OK);
    let mut groups: Vec<(String, String, String)> = user["groups"]
        .as_array()
        .expect("a groups array")
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap().to_owned(),
                g["display"].as_str().unwrap().to_owned(),
                g["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    groups.sort();
    let mut expected = vec![
        (team.clone(), "Team".to_owned(), "direct".to_owned()),
        (
            department.clone(),
            "Department".to_owned(),
            "indirect".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(groups, expected);

    let (_, listed) = app.filter_users("userName eq \"ada@contoso.com\"").await;
    assert_eq!(listed["Resources"][0]["groups"], user["groups"]);
    let (_, lean) = app
        .get(&format!("/Users/{ada}?excludedAttributes=groups"))
        .await;
    assert!(lean.get("groups").is_none(), "{lean}");

    // groups is read-only: a client cannot set it.
    let (status, patched) = app
        .patch_user(
            &ada,
            json!([{"op": "replace", "path": "displayName", "value": "Ada"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["groups"], user["groups"]);
    app.stop().await;
}

#[tokio::test]
async fn searches_find_groups_and_the_root_search_finds_both_types() {
    let app = spawn_app().await;
    let ada = app.provision("ada@contoso.com").await;
    let (status, created) = create_group(
        &app,
        json!({"displayName": "ada@contoso.com", "members": [{"value": ada, "display": "Ada L."}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["members"][0]["display"], "Ada L.",
        "display comes back as sent"
    );
    let group = created["id"].as_str().unwrap().to_owned();
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "displayName eq \"ada@contoso.com\" or userName eq \"ada@contoso.com\"",
        "attributes": ["id"],
    });
    let (status, found) = app
        .send(call(&app, Method::POST, "/.search").body(search.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 2, "{found}");
    let ids: BTreeSet<String> = found["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ids_of_pair(&ada, &group));

    // Paging runs across both types: users first, then groups.
    let second = json!({"filter": search["filter"], "startIndex": 2, "count": 1});
    let (_, page) = app
        .send(call(&app, Method::POST, "/.search").body(second.to_string()))
        .await;
    assert_eq!(page["totalResults"], 2);
    assert_eq!(page["Resources"][0]["id"], group);

    let groups_only = json!({"filter": "displayName sw \"ada\""});
    let (status, found) = app
        .send(call(&app, Method::POST, "/Groups/.search").body(groups_only.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], group);
    app.stop().await;
}

fn ids_of_pair(a: &str, b: &str) -> BTreeSet<String> {
    [a.to_owned(), b.to_owned()].into()
}

#[tokio::test]
async fn put_replaces_attributes_and_members_only_when_sent() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let group = group_of(&app, "Put", &[&a]).await;
    group_of(&app, "Taken", &[]).await;
    let put = |body: Value| {
        let (app, group) = (&app, &group);
        async move {
            app.send(call(app, Method::PUT, &format!("/Groups/{group}")).body(body.to_string()))
                .await
        }
    };

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
    assert_eq!(member_ids(&app, &group).await, ids(&[&b]));

    // Renaming onto another group's name is a conflict, in any case.
    let (status, body) = put(json!({"displayName": "TAKEN"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = patch_group(
        &app,
        &group,
        json!([{"op": "replace", "path": "displayName", "value": "taken"}]),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // And the old name is free again once the group is renamed.
    let (status, _) = create_group(&app, json!({"displayName": "Put"})).await;
    assert_eq!(status, StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn another_organizations_user_cannot_be_a_member() {
    let app = spawn_app().await;
    let other_token = app
        .other_organization("Fabrikam", "owner@fabrikam.test")
        .await;
    let (status, theirs) = app
        .send(
            app.client
                .post(format!("{}/Users", app.base))
                .bearer_auth(&other_token)
                .header("content-type", "application/scim+json")
                .body(json!({"userName": "eve@fabrikam.test"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    let eve = theirs["id"].as_str().unwrap().to_owned();

    let group = group_of(&app, "Ours", &[]).await;
    let (status, body) = patch_group(
        &app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": eve}]}]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidValue");
    assert!(body["detail"].as_str().unwrap().contains(&eve), "{body}");
    // Nor can the other organization see or change our group.
    let (status, _) = app
        .send(
            app.client
                .get(format!("{}/Groups/{group}", app.base))
                .bearer_auth(&other_token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_member_change_is_never_judged_by_read_tables_that_lag() {
    let app = spawn_app_with(Options {
        read_your_writes_wait: std::time::Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let ada = app.provision("ada@contoso.com").await;
    let group = group_of(&app, "Lagging", &[]).await;
    app.wait_for_projector(std::time::Duration::from_secs(10))
        .await;

    // Holding the projector's checkpoint row stops every fold: the read
    // tables lag behind the log, as they would behind a slow projector.
    let holding = app.hold_projector().await;
    let add = json!([{"op": "add", "path": "members", "value": [{"value": ada}]}]);
    let (status, body) = patch_group(&app, &group, add).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The add is in the log but not in the membership table: deciding the
    // removal on that table would call it a no-op and lose it.
    let remove = json!([{"op": "remove", "path": "members", "value": [{"value": ada}]}]);
    let (status, body) = patch_group(&app, &group, remove.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    holding.release().await;
    app.wait_for_projector(std::time::Duration::from_secs(30))
        .await;
    let (status, body) = patch_group(&app, &group, remove).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(member_ids(&app, &group).await, BTreeSet::new());
    app.stop().await;
}

/// Entra's group cycle as its documentation shows it (ref/entra-scim.md A.3).
#[tokio::test]
async fn entra_group_lifecycle_as_documented() {
    let app = spawn_app().await;
    let u1 = app.provision("u1@contoso.com").await;
    let u2 = app.provision("u2@contoso.com").await;
    let u3 = app.provision("u3@contoso.com").await;
    let list = |query: String| {
        let app = &app;
        async move { app.get(&format!("/Groups?{query}")).await }
    };
    let matching = |name: &str| {
        format!(
            "excludedAttributes=members&filter={}",
            form_encode(&format!("displayName eq \"{name}\""))
        )
    };
    // A.3.1: no match yet, an empty list (never 404).
    let (status, none) = list(matching("displayName")).await;
    assert_eq!(
        (status, none["totalResults"].clone()),
        (StatusCode::OK, json!(0))
    );

    // A.3.2: created empty, with Microsoft's schema URI and a meta to ignore.
    let (status, created) = create_group(
        &app,
        json!({
            "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["members"], json!([]));
    assert_eq!(
        created["externalId"],
        "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = create_group(
        &app,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "DISPLAYNAME"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A.3.1 again, any case: found, members absent.
    let (_, found) = list(matching("DisplayName")).await;
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none(), "{found}");
    // A.3.3.
    let (status, one) = app
        .get(&format!("/Groups/{id}?excludedAttributes=members"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(one.get("members").is_none());

    // A.3.5: several ops, several members each.
    let (status, _) = patch_group(
        &app,
        &id,
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u1}, {"$ref": null, "value": u2}]},
               {"op": "Add", "path": "members", "value": [{"$ref": null, "value": u3}]}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A.3.4 + A.3.6 + A.3.5 in one request (A.3.10), in order.
    let (status, _) = patch_group(
        &app,
        &id,
        json!([{"op": "Replace", "path": "displayName", "value": "New Name"},
               {"op": "Remove", "path": "members", "value": [{"value": u1}]},
               {"op": "Add", "path": "members", "value": [{"value": u1}, {"value": u2}]}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(member_ids(&app, &id).await, ids(&[&u1, &u2, &u3]));
    // A.3.7.
    let (status, _) = patch_group(
        &app,
        &id,
        json!([{"op": "remove", "path": format!("members[value eq \"{u3}\"]")}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A.3.8.
    let check = |user: String| {
        format!(
            "filter={}&attributes=id",
            form_encode(&format!("id eq \"{id}\" and members eq \"{user}\""))
        )
    };
    assert_eq!(list(check(u1.clone())).await.1["totalResults"], 1);
    assert_eq!(list(check(u3.clone())).await.1["totalResults"], 0);
    // A.4: paging echoes startIndex.
    let (_, page) = list("startIndex=1&count=5".into()).await;
    assert_eq!(page["startIndex"], 1);
    // A.3.9.
    let response = call(&app, Method::DELETE, &format!("/Groups/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, gone) = list(matching("New Name")).await;
    assert_eq!(gone["totalResults"], 0);
    app.stop().await;
}

#[tokio::test]
async fn a_group_write_reads_what_is_new_not_every_rename() {
    let app = spawn_app().await;
    let member = app.provision("member@contoso.test").await;
    let id = group_of(&app, "Renamed 0", &[]).await;
    let rename = |round: usize| {
        let (app, id) = (&app, id.clone());
        async move {
            let (status, body) = patch_group(
                app,
                &id,
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
            let (status, body) = patch_group(
                &app,
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
    let (_, group) = get_group(&app, &id).await;
    assert_eq!(group["displayName"], "Renamed 150");
    assert_eq!(group["members"][0]["value"], member.as_str());
    assert_eq!(group["meta"]["version"], "W/\"152\"");
    // The first name is free again, the last is taken.
    let (status, _) = create_group(
        &app,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Renamed 0"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = create_group(
        &app,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Renamed 150"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.stop().await;
}
