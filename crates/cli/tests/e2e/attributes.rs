//! `attributes` / `excludedAttributes` on every User response, ETags with
//! `If-None-Match`, and `POST .search`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, entra_user, form_encode, spawn_app};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A request with the token, the body (if any) as SCIM JSON, and the raw response.
async fn raw(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(&app.token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    request.send().await.expect("the server answers")
}

/// The response's ETag, its status and its JSON body.
async fn answer(response: reqwest::Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, etag, response.json().await.unwrap_or(Value::Null))
}

/// The sorted top-level keys of a resource.
fn keys(resource: &Value) -> Vec<String> {
    let mut keys: Vec<String> = resource.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn search_body(extra: Value) -> Value {
    let mut body = json!({"schemas": [SEARCH]});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

#[tokio::test]
async fn get_by_id_keeps_only_the_listed_attributes_and_the_always_returned() {
    let app = spawn_app().await;
    let id = app.provision("alice@contoso.com").await;

    let (status, body) = app
        .get(&format!("/Users/{id}?attributes=userName,name.givenName"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(keys(&body), ["id", "meta", "name", "schemas", "userName"]);
    assert_eq!(body["name"], json!({"givenName": "Test"}));
    assert_eq!(body["meta"]["resourceType"], "User");

    // Parameter and attribute names in any case; `emails.value` in each element.
    let (_, body) = app
        .get(&format!("/Users/{id}?ATTRIBUTES=EMAILS.VALUE"))
        .await;
    assert_eq!(keys(&body), ["emails", "id", "meta", "schemas"]);
    assert_eq!(body["emails"], json!([{"value": "alice@contoso.com"}]));

    // An enterprise attribute by its URN, and the whole extension by its URN alone.
    let (_, body) = app
        .get(&format!(
            "/Users/{id}?attributes={}",
            form_encode(&format!("{ENT}:department"))
        ))
        .await;
    assert_eq!(keys(&body), ["id", "meta", "schemas", ENT]);
    assert_eq!(body[ENT], json!({"department": "Finance"}));
    let (_, body) = app
        .get(&format!("/Users/{id}?attributes={}", form_encode(ENT)))
        .await;
    assert_eq!(body[ENT], json!({"department": "Finance"}));

    // Asking for the always-returned attributes alone returns just them.
    let (_, body) = app.get(&format!("/Users/{id}?attributes=id")).await;
    assert_eq!(keys(&body), ["id", "meta", "schemas"]);
    app.stop().await;
}

#[tokio::test]
async fn excluded_attributes_remove_what_they_name_but_not_id_schemas_or_meta() {
    let app = spawn_app().await;
    let id = app.provision("bob@contoso.com").await;

    let (status, body) = app
        .get(&format!(
            "/Users/{id}?excludedAttributes=emails,name.familyName,{},id,meta,schemas",
            form_encode(ENT)
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        keys(&body),
        [
            "active",
            "displayName",
            "externalId",
            "id",
            "meta",
            "name",
            "schemas",
            "userName"
        ]
    );
    assert_eq!(
        body["name"],
        json!({"formatted": "Test User", "givenName": "Test"})
    );

    // `attributes` wins when both are given.
    let (_, body) = app
        .get(&format!(
            "/Users/{id}?excludedAttributes=userName&attributes=userName"
        ))
        .await;
    assert_eq!(keys(&body), ["id", "meta", "schemas", "userName"]);

    // A malformed name is a SCIM 400.
    let (status, body) = app.get(&format!("/Users/{id}?attributes=user+name")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidPath");
    app.stop().await;
}

#[tokio::test]
async fn list_responses_apply_the_selection_to_each_resource() {
    let app = spawn_app().await;
    app.provision("carol@contoso.com").await;
    app.provision("dave@contoso.com").await;

    let (status, body) = app
        .list_users("attributes=userName&excludedAttributes=userName")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 2);
    for resource in body["Resources"].as_array().unwrap() {
        assert_eq!(keys(resource), ["id", "meta", "schemas", "userName"]);
    }

    let (_, body) = app
        .list_users(&format!(
            "filter={}&excludedAttributes=emails,{}",
            form_encode("userName eq \"dave@contoso.com\""),
            form_encode(ENT)
        ))
        .await;
    assert_eq!(body["totalResults"], 1);
    let dave = &body["Resources"][0];
    assert_eq!(dave["userName"], "dave@contoso.com");
    assert!(
        dave.get("emails").is_none() && dave.get(ENT).is_none(),
        "{dave}"
    );
    assert!(dave.get("name").is_some());

    let (status, body) = app.list_users("attributes=emails%5Btype%5D").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn writes_answer_with_the_selection_and_an_etag() {
    let app = spawn_app().await;

    // POST
    let (status, etag, body) = answer(
        raw(
            &app,
            Method::POST,
            "/Users?attributes=userName",
            Some(entra_user("erin@contoso.com")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(keys(&body), ["id", "meta", "schemas", "userName"]);
    assert_eq!(etag, body["meta"]["version"].as_str().unwrap());
    let id = body["id"].as_str().unwrap().to_owned();

    // PATCH
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Erin"}]
    });
    let (status, patched_etag, body) = answer(
        raw(
            &app,
            Method::PATCH,
            &format!("/Users/{id}?attributes=displayName,name.givenName"),
            Some(patch),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        keys(&body),
        ["displayName", "id", "meta", "name", "schemas"]
    );
    assert_eq!(body["displayName"], "Erin");
    assert_eq!(body["name"], json!({"givenName": "Test"}));
    assert_eq!(patched_etag, body["meta"]["version"].as_str().unwrap());
    assert_ne!(patched_etag, etag);

    // PUT
    let mut replacement = entra_user("erin@contoso.com");
    replacement["title"] = json!("Engineer");
    let (status, put_etag, body) = answer(
        raw(
            &app,
            Method::PUT,
            &format!(
                "/Users/{id}?excludedAttributes=emails,name,{}",
                form_encode(ENT)
            ),
            Some(replacement),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["title"], "Engineer");
    assert!(body.get("emails").is_none() && body.get("name").is_none() && body.get(ENT).is_none());
    assert_eq!(put_etag, body["meta"]["version"].as_str().unwrap());
    assert_ne!(put_etag, patched_etag);

    // The stored resource is whole: the selection only shapes the answer.
    let (_, stored) = app.get_user(&id).await;
    assert_eq!(stored["emails"][0]["value"], "erin@contoso.com");
    assert_eq!(stored[ENT]["department"], "Finance");

    // A bad selection is refused before anything is written.
    let (status, _, body) = answer(
        raw(
            &app,
            Method::POST,
            "/Users?attributes=%5B",
            Some(entra_user("frank@contoso.com")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, body) = app.filter_users("userName eq \"frank@contoso.com\"").await;
    assert_eq!(body["totalResults"], 0);
    app.stop().await;
}

#[tokio::test]
async fn if_none_match_answers_304_until_the_user_changes() {
    let app = spawn_app().await;
    let id = app.provision("grace@contoso.com").await;
    let path = format!("/Users/{id}");
    let (_, etag, _) = answer(raw(&app, Method::GET, &path, None).await).await;
    assert!(etag.starts_with("W/\""), "{etag}");

    for tag in [etag.clone(), "*".to_owned(), format!("W/\"0\", {etag}")] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&app.token)
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{tag}");
        assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);
        assert!(response.bytes().await.unwrap().is_empty());
    }

    let (status, _) = app
        .patch_user(
            &id,
            json!([{"op": "replace", "path": "displayName", "value": "Grace"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(&app.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    let (status, new_etag, body) = answer(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(new_etag, etag);
    assert_eq!(body["displayName"], "Grace");
    assert_eq!(body["meta"]["version"], new_etag.as_str());
    app.stop().await;
}

#[tokio::test]
async fn search_on_users_and_at_the_root_answers_like_get() {
    let app = spawn_app().await;
    for name in ["x", "y", "z"] {
        app.provision(name).await;
    }

    for path in ["/Users/.search", "/.search"] {
        let (status, _, body) = answer(
            raw(
                &app,
                Method::POST,
                path,
                Some(search_body(json!({
                    "filter": "userName eq \"x\"",
                    "attributes": ["userName", "emails.value"]
                }))),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(
            body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        assert_eq!(body["totalResults"], 1, "{path}: {body}");
        let x = &body["Resources"][0];
        assert_eq!(keys(x), ["emails", "id", "meta", "schemas", "userName"]);
        assert_eq!(x["userName"], "x");
        assert_eq!(x["emails"], json!([{"value": "x"}]));

        // Paging, exactly as GET /Users?startIndex=2&count=1 answers.
        let (status, _, searched) = answer(
            raw(
                &app,
                Method::POST,
                path,
                Some(search_body(
                    json!({"startIndex": 2, "count": 1, "excludedAttributes": ["emails"]}),
                )),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{searched}");
        let (_, listed) = app
            .list_users("startIndex=2&count=1&excludedAttributes=emails")
            .await;
        assert_eq!(searched, listed);
        assert_eq!(
            (
                &searched["totalResults"],
                &searched["startIndex"],
                &searched["itemsPerPage"]
            ),
            (&json!(3), &json!(2), &json!(1))
        );
        assert!(searched["Resources"][0].get("emails").is_none());

        // Sorting is passed on too.
        let (status, _, sorted) = answer(
            raw(
                &app,
                Method::POST,
                path,
                Some(search_body(
                    json!({"sortBy": "userName", "sortOrder": "descending", "count": 1}),
                )),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{sorted}");
        assert_eq!(sorted["Resources"][0]["userName"], "z", "{sorted}");

        // A bad filter is refused as GET refuses it; so is a body of the wrong shape.
        let (status, _, body) = answer(
            raw(
                &app,
                Method::POST,
                path,
                Some(search_body(json!({"filter": "userName eq"}))),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["scimType"], "invalidFilter");
        let (status, _, body) = answer(
            raw(
                &app,
                Method::POST,
                path,
                Some(json!({"count": "ten!", "attributes": "x"})),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        // `.search` is POST only.
        let (status, _) = app.get(path).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
    app.stop().await;
}
