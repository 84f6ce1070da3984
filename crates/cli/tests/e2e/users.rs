//! `/scim_v2/Users` as Entra ID and other SCIM clients use it.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{USER_SCHEMA, entra_user, spawn_app};

#[tokio::test]
async fn entra_test_connection_gets_an_empty_resources_array() {
    let app = spawn_app().await;
    let guid = Uuid::new_v4();
    let (status, body) = app
        .list_users(&format!("aadOptscim062020&filter=userName+eq+%22{guid}%22"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn create_answers_201_with_location_and_echoes_what_was_sent() {
    let app = spawn_app().await;
    let sent = entra_user("Ada.Lovelace@contoso.com");
    let response = app
        .client
        .post(format!("{}/Users", app.base))
        .bearer_auth(&app.token)
        .header("content-type", "application/scim+json; charset=utf-8")
        .body(sent.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().expect("an id");
    assert!(location.ends_with(&format!("/scim_v2/Users/{id}")));
    assert_eq!(body["meta"]["location"], location);
    assert_eq!(body["meta"]["resourceType"], "User");
    assert_eq!(body["meta"]["version"], etag);
    for (key, value) in sent.as_object().unwrap() {
        assert_eq!(&body[key], value, "attribute {key} must come back as sent");
    }

    let (status, fetched) = app.get_user(id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, body, "GET returns what POST returned");
    app.stop().await;
}

#[tokio::test]
async fn unknown_ids_are_404_scim_errors() {
    let app = spawn_app().await;
    for id in [Uuid::new_v4().to_string(), "not-a-uuid".into()] {
        let (status, body) = app.get_user(&id).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["status"], "404");
        assert_eq!(
            body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn filters_match_user_name_case_insensitively_and_external_id_exactly() {
    let app = spawn_app().await;
    let id = app.provision("Grace.Hopper@Contoso.com").await;
    app.provision("someone.else@contoso.com").await;

    let (_, body) = app
        .filter_users("userName eq \"grace.hopper@CONTOSO.com\"")
        .await;
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["id"], id.as_str());

    let (_, body) = app
        .filter_users("externalId eq \"ext-Grace.Hopper@Contoso.com\"")
        .await;
    assert_eq!(body["Resources"][0]["id"], id.as_str());
    let (_, body) = app
        .filter_users("externalId eq \"EXT-grace.hopper@contoso.com\"")
        .await;
    assert_eq!(body["totalResults"], 0, "externalId is caseExact");

    // Old Entra tenants send values unquoted.
    let (status, body) = app
        .list_users("filter=externalId+eq+ext-Grace.Hopper@Contoso.com")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["Resources"][0]["id"], id.as_str());

    let (status, body) = app.filter_users("userName eq").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidFilter");
    app.stop().await;
}

#[tokio::test]
async fn paging_walks_every_user_once_in_a_stable_order() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(app.provision(&format!("page{n}@contoso.com")).await);
    }
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let (status, body) = app.list_users(&format!("startIndex={start}&count=2")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["totalResults"], 5);
        assert_eq!(body["startIndex"], start);
        for user in body["Resources"].as_array().unwrap() {
            seen.push(user["id"].as_str().unwrap().to_owned());
        }
    }
    let mut expected = created.clone();
    expected.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(seen.len(), 5, "no user twice");
    let (_, body) = app.list_users("count=0").await;
    assert_eq!(
        (body["totalResults"].clone(), body["Resources"].clone()),
        (json!(5), json!([]))
    );
    app.stop().await;
}

#[tokio::test]
async fn patch_in_entras_default_dialect() {
    let app = spawn_app().await;
    let id = app.provision("dialect.one@contoso.com").await;
    let (status, body) = app
        .patch_user(
            &id,
            json!([
                {"op": "Replace", "path": "userName", "value": "Dialect.One.Renamed@contoso.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Given"},
                {"op": "Replace", "path": "name.familyName", "value": "Family"},
                {"op": "Replace", "path": "name.formatted", "value": "Given Family"},
                {"op": "Replace", "path": "displayName", "value": "Display"},
                {"op": "Replace", "path": "externalId", "value": "ext-42"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "work@contoso.com"},
                {"op": "Replace", "path": "active", "value": "False"}
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["userName"], "Dialect.One.Renamed@contoso.com");
    assert_eq!(
        body["name"],
        json!({"formatted": "Given Family", "familyName": "Family", "givenName": "Given"})
    );
    assert_eq!(body["displayName"], "Display");
    assert_eq!(body["externalId"], "ext-42");
    assert_eq!(
        body["emails"],
        json!([{"primary": true, "type": "work", "value": "work@contoso.com"}])
    );
    assert_eq!(body["active"], false);
    let (_, fetched) = app.get_user(&id).await;
    assert_eq!(fetched, body);

    let (_, found) = app
        .filter_users("userName eq \"dialect.one.renamed@contoso.com\"")
        .await;
    assert_eq!(found["totalResults"], 1, "inactive users are still found");
    app.stop().await;
}

#[tokio::test]
async fn patch_in_the_aad_opt_scim062020_dialect_with_dotted_keys() {
    let app = spawn_app().await;
    let id = app.provision("dialect.two@contoso.com").await;
    let (status, body) = app
        .patch_user(
            &id,
            json!([{"op": "replace", "value": {
                "name.givenName": "Dotted",
                "name.familyName": "Keys",
                "displayName": "Dotted Keys",
                "active": false,
                "emails[type eq \"work\"].value": "dotted@contoso.com",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701"
            }}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"]["givenName"], "Dotted");
    assert_eq!(body["name"]["familyName"], "Keys");
    assert_eq!(body["active"], false);
    assert_eq!(body["emails"][0]["value"], "dotted@contoso.com");
    assert_eq!(
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        json!({"department": "Finance", "employeeNumber": "701"})
    );
    assert!(
        body.get("name.givenName").is_none(),
        "a dotted key is a path, never an attribute"
    );

    let (status, body) = app
        .patch_user(
            &id,
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], true);
    app.stop().await;
}

#[tokio::test]
async fn a_failing_patch_operation_changes_nothing() {
    let app = spawn_app().await;
    let id = app.provision("atomic@contoso.com").await;
    let (_, before) = app.get_user(&id).await;
    let (status, body) = app
        .patch_user(
            &id,
            json!([
                {"op": "Replace", "path": "displayName", "value": "Changed"},
                {"op": "Replace", "path": "active", "value": "maybe"}
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidValue");
    let (_, after) = app.get_user(&id).await;
    assert_eq!(after, before);

    let (status, body) = app
        .patch_user(&id, json!([{"op": "Frobnicate", "path": "displayName"}]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn put_replaces_the_whole_user() {
    let app = spawn_app().await;
    let id = app.provision("put.me@contoso.com").await;
    let replacement = json!({"schemas": [USER_SCHEMA], "userName": "put.me@contoso.com", "displayName": "Only This"});
    let (status, body) = app.replace_user(&id, replacement).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Only This");
    assert!(
        body.get("emails").is_none(),
        "attributes left out of a PUT are gone"
    );
    assert_eq!(body["id"], id.as_str());
    let (_, fetched) = app.get_user(&id).await;
    assert_eq!(fetched, body);
    app.stop().await;
}

#[tokio::test]
async fn delete_answers_204_then_404() {
    let app = spawn_app().await;
    let id = app.provision("gone@contoso.com").await;
    let (status, body) = app.delete_user(&id).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(app.get_user(&id).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.delete_user(&id).await.0, StatusCode::NOT_FOUND);
    let (_, listed) = app.filter_users("userName eq \"gone@contoso.com\"").await;
    assert_eq!(listed["totalResults"], 0);
    // The name is free again.
    app.provision("gone@contoso.com").await;
    app.stop().await;
}

#[tokio::test]
async fn duplicate_user_names_in_any_case_are_409_uniqueness() {
    let app = spawn_app().await;
    app.provision("Unique@Contoso.com").await;
    let (status, body) = app.create_user(entra_user("uNIQUE@contoso.COM")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["scimType"], "uniqueness");
    assert_eq!(body["status"], "409");
    app.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_scim_errors() {
    let app = spawn_app().await;
    let (status, body) = app
        .send(
            app.client
                .post(format!("{}/Users", app.base))
                .bearer_auth(&app.token)
                .body("{\"userName\": "),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidSyntax");

    let (status, body) = app
        .create_user(json!({"schemas": [USER_SCHEMA], "displayName": "no name"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidValue");
    app.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_tokens_get_401_scim_json() {
    let app = spawn_app().await;
    for token in [None, Some("rcs_not-a-real-token")] {
        let mut request = app.client.get(format!("{}/Users", app.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["content-type"], "application/scim+json");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "401");
    }
    app.stop().await;
}

#[tokio::test]
async fn attribute_names_in_any_case_are_read_back_canonically() {
    let app = spawn_app().await;
    let (status, created) = app
        .create_user(json!({
            "UserName": "case@contoso.com",
            "Active": true,
            "Name": {"GivenName": "Case"},
            "Emails": [{"Value": "case@contoso.com", "Type": "work"}]
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, read) = app.get_user(&id).await;
    assert_eq!(read["userName"], "case@contoso.com", "{read}");
    assert_eq!(read["name"]["givenName"], "Case", "{read}");
    assert_eq!(read["emails"][0]["value"], "case@contoso.com", "{read}");
    assert!(read.get("UserName").is_none(), "{read}");

    let (status, body) = app
        .create_user(json!({"userName": "twice@contoso.com", "USERNAME": "other@contoso.com"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidSyntax");
    app.stop().await;
}

#[tokio::test]
async fn discovery_documents_describe_what_is_implemented() {
    let app = spawn_app().await;
    let (status, config) = app.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(
        config["patch"],
        json!({"supported": true}),
        "RFC 7643 §5 patch, nothing strict clients refuse"
    );
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 1000);

    let (_, types) = app.get("/ResourceTypes").await;
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    let (_, schemas) = app.get("/Schemas").await;
    let user = &schemas["Resources"][0];
    assert_eq!(user["id"], USER_SCHEMA);
    assert!(
        user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "userName" && a["uniqueness"] == "server")
    );

    let (status, body) = app
        .send(
            app.client
                .post(format!("{}/Users/{}", app.base, Uuid::new_v4()))
                .bearer_auth(&app.token),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["status"], "405");
    for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        let (status, body) = app
            .send(
                app.client
                    .delete(format!("{}{path}", app.base))
                    .bearer_auth(&app.token),
            )
            .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(body["status"], "405");
    }
    let (status, body) = app.get("/Widgets").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["status"], "404");

    let (status, body) = app.get("/Me").await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(body["status"], "501");
    app.stop().await;
}

/// Every `meta.location` of the discovery documents is an absolute URL
/// that answers, and `documentationUri` is a page this server serves, without
/// a token, stating the limits it enforces.
#[tokio::test]
async fn discovery_locations_are_absolute_and_the_documentation_is_served() {
    let app = spawn_app().await;
    let (_, config) = app.get("/ServiceProviderConfig").await;
    let (_, types) = app.get("/ResourceTypes").await;
    let (_, schemas) = app.get("/Schemas").await;
    let mut locations = vec![config["meta"]["location"].clone()];
    for list in [&types, &schemas] {
        locations.extend(
            list["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|resource| resource["meta"]["location"].clone()),
        );
    }
    assert!(locations.len() > 3, "{locations:?}");
    for location in &locations {
        let location = location.as_str().unwrap_or_default();
        assert!(
            location.starts_with(&app.base),
            "{location:?} is not an absolute URL under {}",
            app.base
        );
        let response = app
            .client
            .get(location)
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{location}");
    }

    let documentation = config["documentationUri"].as_str().unwrap().to_owned();
    assert!(
        documentation.starts_with("http://127.0.0.1:"),
        "{documentation}"
    );
    let response = app.client.get(&documentation).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{documentation}");
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&app.base),
        "the page names the base URL: {page}"
    );
    assert!(
        page.contains("| operations in one PATCH | 1000 | 400 `tooMany` |"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "| results in one list page | {} |",
            config["filter"]["maxResults"]
        )),
        "{page}"
    );
    app.stop().await;
}

/// A resource the organization does not have is one 404, worded the same
/// whichever method asked, and whether the id is not ours or not an id.
#[tokio::test]
async fn an_unknown_resource_is_the_same_404_for_every_method() {
    let app = spawn_app().await;
    for (endpoint, kind, body) in [
        (
            "Users",
            "user",
            json!({"schemas": [USER_SCHEMA], "userName": "nobody@example.test"}),
        ),
        (
            "Groups",
            "group",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Nobody"}),
        ),
    ] {
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]
        });
        let mut details = Vec::new();
        for id in [Uuid::new_v4().to_string(), "not-an-id".to_owned()] {
            let url = format!("{}/{endpoint}/{id}", app.base);
            for request in [
                app.client.get(&url),
                app.client.put(&url).json(&body),
                app.client.patch(&url).json(&patch),
                app.client.delete(&url),
            ] {
                let (status, answer) = app.send(request.bearer_auth(&app.token)).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{url}: {answer}");
                details.push(answer["detail"].as_str().unwrap_or_default().to_owned());
            }
        }
        let expected = format!("no such {kind} in this organization");
        assert!(
            details.iter().all(|detail| *detail == expected),
            "{endpoint}: {details:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn another_organizations_users_are_invisible() {
    let app = spawn_app().await;
    let id = app.provision("tenant.a@contoso.com").await;
    let other_token = app
        .other_organization("Fabrikam", "owner@fabrikam.test")
        .await;
    let as_other = |path: String| {
        app.client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&other_token)
    };
    let (status, _) = app.send(as_other(format!("/Users/{id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.send(as_other("/Users".into())).await;
    assert_eq!(list["totalResults"], 0);
    let (status, _) = app
        .send(
            app.client
                .delete(format!("{}/Users/{id}", app.base))
                .bearer_auth(&other_token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.get_user(&id).await.0, StatusCode::OK);
    // The same userName is free in the other organization.
    let (status, _) = app
        .send(
            app.client
                .post(format!("{}/Users", app.base))
                .bearer_auth(&other_token)
                .body(entra_user("tenant.a@contoso.com").to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.stop().await;
}
