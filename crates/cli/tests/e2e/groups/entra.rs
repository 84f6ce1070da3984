//! Entra ID's group cycle, request by request as its documentation shows it
//! (the group requests of docs/entra.md).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::groups::{GROUP_SCHEMA, ids};
use crate::helpers::{form_encode, spawn_app};

/// Entra's group cycle as its documentation shows it (docs/entra.md, A.3).
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
    let (status, created) = app.create_group(json!({
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
    let (status, _) = app
        .create_group(json!({"schemas": [GROUP_SCHEMA], "displayName": "DISPLAYNAME"}))
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
    let (status, _) = app.patch_group(&id,
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u1}, {"$ref": null, "value": u2}]},
               {"op": "Add", "path": "members", "value": [{"$ref": null, "value": u3}]}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A.3.4 + A.3.6 + A.3.5 in one request (A.3.10), in order.
    let (status, _) = app
        .patch_group(
            &id,
            json!([{"op": "Replace", "path": "displayName", "value": "New Name"},
               {"op": "Remove", "path": "members", "value": [{"value": u1}]},
               {"op": "Add", "path": "members", "value": [{"value": u1}, {"value": u2}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.member_ids(&id).await, ids(&[&u1, &u2, &u3]));
    // A.3.7.
    let (status, _) = app
        .patch_group(
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
    let (status, _) = app.delete_group(&id).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, gone) = list(matching("New Name")).await;
    assert_eq!(gone["totalResults"], 0);
    app.stop().await;
}
