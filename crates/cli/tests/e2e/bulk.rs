//! `POST /Bulk`: operations in order, `bulkId` references, `failOnErrors`,
//! the size limits, and the record each operation leaves.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{BULK_REQUEST, PATCH_OP, entra_user, spawn_app};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn create(bulk_id: &str, data: Value) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data})
}

fn statuses(response: &Value) -> Vec<&str> {
    response["Operations"]
        .as_array()
        .expect("Operations")
        .iter()
        .map(|operation| operation["status"].as_str().expect("a status string"))
        .collect()
}

/// The id at the end of an operation's `location`.
fn id_of(operation: &Value) -> String {
    let location = operation["location"].as_str().expect("a location");
    location.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_user_created_and_patched_through_its_bulk_id() {
    let app = spawn_app().await;
    let (status, response) = app
        .bulk(
            None,
            json!([
                create("q1", entra_user("bulk@contoso.com")),
                {"method": "patch", "path": "/Users/bulkId:q1", "data": {
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "Patched"}]
                }},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(
        response["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    assert_eq!(statuses(&response), ["201", "200"], "{response}");
    let operations = &response["Operations"];
    assert_eq!(operations[0]["method"], "POST");
    assert_eq!(operations[0]["bulkId"], "q1");
    assert_eq!(operations[0]["version"], "W/\"1\"");
    assert_eq!(operations[1]["method"], "PATCH");
    let id = id_of(&operations[0]);
    assert_eq!(id_of(&operations[1]), id);
    let (status, user) = app.get_user(&id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["displayName"], "Patched");
    assert_eq!(operations[1]["version"], json!(user["meta"]["version"]));
    app.stop().await;
}

#[tokio::test]
async fn a_bulk_id_in_data_becomes_the_created_id() {
    let app = spawn_app().await;
    let mut worker = entra_user("worker@contoso.com");
    worker[ENTERPRISE]["manager"] = json!({"value": "bulkId:boss"});
    let (status, response) = app
        .bulk(
            None,
            json!([
                create("boss", entra_user("boss@contoso.com")),
                create("w", worker)
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&response), ["201", "201"], "{response}");
    let boss = id_of(&response["Operations"][0]);
    let (_, user) = app.get_user(&id_of(&response["Operations"][1])).await;
    assert_eq!(user[ENTERPRISE]["manager"]["value"], json!(boss), "{user}");
    app.stop().await;
}

#[tokio::test]
async fn fail_on_errors_stops_after_that_many_errors() {
    let app = spawn_app().await;
    app.provision("taken@contoso.com").await;
    let (status, response) = app
        .bulk(
            Some(1),
            json!([
                create("a", entra_user("first@contoso.com")),
                create("b", entra_user("taken@contoso.com")),
                create("c", entra_user("never@contoso.com")),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&response), ["201", "409"], "{response}");
    let (_, found) = app.filter_users("userName eq \"never@contoso.com\"").await;
    assert_eq!(
        found["totalResults"], 0,
        "operations after the limit are not performed"
    );
    app.stop().await;
}

#[tokio::test]
async fn each_operation_fails_on_its_own() {
    let app = spawn_app().await;
    app.provision("taken@contoso.com").await;
    let (status, response) = app
        .bulk(
            None,
            json!([
                create("dup", entra_user("taken@contoso.com")),
                {"method": "DELETE", "path": format!("/Users/{}", uuid::Uuid::now_v7())},
                {"method": "POST", "path": "/Widgets", "bulkId": "g", "data": {"displayName": "G"}},
                create("ok", entra_user("fine@contoso.com")),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        statuses(&response),
        ["409", "404", "404", "201"],
        "{response}"
    );
    let duplicate = &response["Operations"][0]["response"];
    assert_eq!(duplicate["scimType"], "uniqueness");
    assert_eq!(duplicate["status"], "409");
    assert_eq!(
        duplicate["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert!(response["Operations"][0].get("location").is_none());
    assert!(response["Operations"][3].get("response").is_none());
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_bulk_id_fails_only_its_operation() {
    let app = spawn_app().await;
    let mut dangling = entra_user("dangling@contoso.com");
    dangling[ENTERPRISE]["manager"] = json!({"value": "bulkId:ghost"});
    let (status, response) = app
        .bulk(
            None,
            json!([
                {"method": "DELETE", "path": "/Users/bulkId:nope"},
                create("d", dangling),
                create("later", json!({"schemas": [crate::helpers::USER_SCHEMA], "userName": "x@contoso.com", "nickName": "bulkId:z"})),
                create("z", entra_user("z@contoso.com")),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        statuses(&response),
        ["400", "400", "409", "201"],
        "{response}"
    );
    for index in 0..3 {
        assert_eq!(
            response["Operations"][index]["response"]["scimType"],
            "invalidValue"
        );
    }
    let (_, found) = app
        .filter_users("userName eq \"dangling@contoso.com\"")
        .await;
    assert_eq!(found["totalResults"], 0);
    app.stop().await;
}

#[tokio::test]
async fn more_operations_than_max_operations_is_413() {
    let app = spawn_app().await;
    let operations: Vec<Value> = (0..1001)
        .map(|index| {
            create(
                &format!("q{index}"),
                json!({"userName": format!("u{index}@contoso.com")}),
            )
        })
        .collect();
    let (status, error) = app.bulk(None, json!(operations)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");
    assert_eq!(error["status"], "413");
    assert!(
        error["detail"].as_str().unwrap().contains("1000"),
        "{error}"
    );
    let (_, found) = app.list_users("count=0").await;
    assert_eq!(found["totalResults"], 0, "nothing is performed");
    app.stop().await;
}

#[tokio::test]
async fn a_body_larger_than_max_payload_size_is_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(1 << 20);
    let body = json!({
        "schemas": [BULK_REQUEST],
        "Operations": [create("q1", json!({"userName": "big@contoso.com", "nickName": padding}))]
    });
    let (status, error) = app.bulk_raw(body.to_string()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");
    assert!(
        error["detail"].as_str().unwrap().contains("maxPayloadSize"),
        "{error}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_limits_are_advertised() {
    let app = spawn_app().await;
    let (status, config) = app.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        config["bulk"],
        json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576})
    );
    app.stop().await;
}

#[tokio::test]
async fn every_operation_is_recorded_with_the_bulk_request_id() {
    let app = spawn_app().await;
    app.provision("taken@contoso.com").await;
    let (status, response) = app
        .bulk(
            None,
            json!([
                create("a", entra_user("a@contoso.com")),
                create("b", entra_user("b@contoso.com")),
                {"method": "PATCH", "path": "/Users/bulkId:a", "data": {
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "add", "path": "nickName", "value": "A"}]
                }},
                create("c", entra_user("taken@contoso.com")),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        statuses(&response),
        ["201", "201", "200", "409"],
        "{response}"
    );
    let a: uuid::Uuid = id_of(&response["Operations"][0]).parse().unwrap();
    let b: uuid::Uuid = id_of(&response["Operations"][1]).parse().unwrap();
    let sql = app.sql().await;
    // Stopping the stack drains the access log.
    let mut app = app;
    app.stack.take().unwrap().stop().await.unwrap();
    let events: Vec<(String, String, String, String)> = sql
        .query(
            "select metadata->>'request_id', metadata->>'method', metadata->>'path', metadata->>'status' \
             from events where stream_id = any($1) order by position",
            &[&vec![a, b]],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    let request_id = events[0].0.clone();
    assert!(
        events.iter().all(|event| event.0 == request_id),
        "{events:?}"
    );
    let described: Vec<_> = events
        .iter()
        .map(|(_, method, path, status)| (method.as_str(), path.as_str(), status.as_str()))
        .collect();
    assert_eq!(
        described,
        [
            ("POST", "/scim_v2/Bulk#0 POST /Users", "201"),
            ("POST", "/scim_v2/Bulk#1 POST /Users", "201"),
            ("POST", "/scim_v2/Bulk#2 PATCH /Users/bulkId:a", "200"),
        ]
    );
    let failed: Vec<(String, i32)> = sql
        .query(
            "select path, status from access_log where request_id = $1::text::uuid",
            &[&request_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        failed,
        [("/scim_v2/Bulk#3 POST /Users".to_owned(), 409)],
        "the failed operation has its own access record, the bulk as a whole none"
    );
    let (bulk_records,): (i64,) = sql
        .query_one(
            "select count(*) from access_log where path = '/scim_v2/Bulk'",
            &[],
        )
        .await
        .map(|row| (row.get(0),))
        .unwrap();
    assert_eq!(bulk_records, 0);
}

#[tokio::test]
async fn a_bulk_that_changed_nothing_is_recorded_as_a_request() {
    let app = spawn_app().await;
    let (status, response) = app
        .bulk(
            None,
            json!([{"method": "DELETE", "path": "/Users/bulkId:none"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&response), ["400"]);
    let sql = app.sql().await;
    let mut app = app;
    app.stack.take().unwrap().stop().await.unwrap();
    let mut records: Vec<(String, i32)> = sql
        .query("select path, status from access_log", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    records.sort();
    assert_eq!(
        records,
        [
            ("/scim_v2/Bulk".to_owned(), 200),
            ("/scim_v2/Bulk#0 DELETE /Users/bulkId:none".to_owned(), 400),
        ]
    );
    // Events of SCIM resources: not an organization's own stream, not an account's.
    let events: i64 = sql
        .query_one(
            "select count(*) from events where org_id <> stream_id and org_id <> $1",
            &[&domain::account::ACCOUNTS],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 0);
}

#[tokio::test]
async fn a_bulk_creates_users_and_a_group_that_lists_them() {
    let app = spawn_app().await;
    let (status, response) = app
        .bulk(
            Some(1),
            json!([
                create("u1", entra_user("one@contoso.com")),
                create("u2", entra_user("two@contoso.com")),
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"displayName": "Bulk Team", "members": [{"value": "bulkId:u1"}]}},
                {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u2"}]}]}},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(
        statuses(&response),
        ["201", "201", "201", "200"],
        "{response}"
    );
    let location = response["Operations"][2]["location"].as_str().unwrap();
    assert!(location.contains("/scim_v2/Groups/"), "{location}");
    let group_id = location.rsplit('/').next().unwrap();
    let (status, group) = app.get(&format!("/Groups/{group_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(group["displayName"], "Bulk Team");
    let members: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    let user = |n: usize| {
        response["Operations"][n]["location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let mut expected = vec![user(0), user(1)];
    expected.sort();
    let mut members: Vec<String> = members.into_iter().map(str::to_owned).collect();
    members.sort();
    assert_eq!(members, expected);
    app.stop().await;
}

/// A user write answers without waiting for the projector, but a group
/// operation after it in the same request is decided on the read tables:
/// it waits for the user first. With the projector held past the bound it
/// answers 503 (retry), not the "no such member" of tables that miss the
/// user; once the projector folds, the same operation succeeds.
#[tokio::test]
async fn a_group_operation_waits_for_the_users_written_before_it_in_the_request() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        read_your_writes_wait: std::time::Duration::from_millis(300),
        ..crate::helpers::Options::default()
    })
    .await;
    let group_of_u1 = json!({"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Waiters",
        "members": [{"value": "bulkId:u1"}]
    }});
    let holding = app.hold_projector().await;
    let (status, response) = app
        .bulk(
            None,
            json!([create("u1", entra_user("waiter@contoso.com")), group_of_u1]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(statuses(&response), ["201", "503"], "{response}");
    let user_id = id_of(&response["Operations"][0]);
    holding.release().await;

    let mut group = group_of_u1["data"].clone();
    group["members"] = json!([{"value": user_id}]);
    let (status, response) = app
        .bulk(
            None,
            json!([{"method": "POST", "path": "/Groups", "bulkId": "g", "data": group}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(statuses(&response), ["201"], "{response}");
    app.stop().await;
}
