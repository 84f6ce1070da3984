//! `GET /api/v1/openapi.json`: every route described, none described that
//! is not served.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::admin_api::{OWNER, PASSWORD};
use crate::helpers::spawn_app;

/// The routes issue 10 asks of the admin API, and the auditors' (issue 11).
const ROUTES: [(&str, &str); 35] = [
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/sessions"),
    ("delete", "/api/v1/sessions/current"),
    ("get", "/api/v1/account"),
    ("put", "/api/v1/account/email"),
    ("put", "/api/v1/account/password"),
    ("delete", "/api/v1/orgs/{org}/membership"),
    ("get", "/api/v1/orgs/{org}/provisioning"),
    ("put", "/api/v1/orgs/{org}/provisioning"),
    ("post", "/api/v1/orgs/{org}/provisioning/tokens"),
    ("get", "/api/v1/orgs/{org}/provisioning/tokens"),
    ("delete", "/api/v1/orgs/{org}/provisioning/tokens/{id}"),
    ("get", "/api/v1/orgs/{org}/roles"),
    ("post", "/api/v1/orgs/{org}/roles"),
    ("put", "/api/v1/orgs/{org}/roles/{role}/groups"),
    ("get", "/api/v1/orgs/{org}/members"),
    ("post", "/api/v1/orgs/{org}/members"),
    ("put", "/api/v1/orgs/{org}/members/{account_id}"),
    ("delete", "/api/v1/orgs/{org}/members/{account_id}"),
    ("post", "/api/v1/orgs/{org}/domains"),
    ("get", "/api/v1/orgs/{org}/domains"),
    ("post", "/api/v1/orgs/{org}/domains/{id}/verify"),
    ("delete", "/api/v1/orgs/{org}/domains/{id}"),
    ("get", "/api/v1/orgs/{org}/audit/state"),
    ("get", "/api/v1/orgs/{org}/audit/users/{id}/timeline"),
    ("get", "/api/v1/orgs/{org}/audit/groups/{id}/members"),
    ("get", "/api/v1/orgs/{org}/audit/diff"),
    ("get", "/api/v1/orgs/{org}/audit/joiners"),
    ("get", "/api/v1/orgs/{org}/audit/leavers"),
    ("get", "/api/v1/orgs/{org}/audit/events"),
    ("get", "/api/v1/orgs/{org}/audit/export"),
    ("get", "/api/v1/orgs/{org}/audit/requests/{request}"),
    ("post", "/api/v1/orgs/{org}/users/{id}/erasure"),
    ("get", "/api/v1/orgs/{org}/audit/checkpoints"),
    ("get", "/api/v1/orgs/{org}/audit/signing-key"),
];

#[tokio::test]
async fn the_description_lists_every_route_and_every_route_it_lists_is_served() {
    let app = spawn_app().await;
    let root = format!("http://{}", app.address());
    let response = app
        .client
        .get(format!("{root}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    let described: usize = paths
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(described, ROUTES.len(), "{:?}", paths.keys());
    assert_eq!(
        document["components"]["schemas"]["Forbidden"]["properties"]["required_role"]["const"],
        "owner"
    );
    let owners_only = &paths["/api/v1/orgs/{org}/roles"]["post"];
    assert!(owners_only["responses"]["403"].is_object());
    assert!(owners_only["requestBody"].is_object());
    let role = &paths["/api/v1/orgs/{org}/roles/{role}/groups"]["put"]["parameters"][1];
    assert_eq!(role["name"], "role");
    assert_eq!(
        role["schema"],
        serde_json::json!({"type": "string", "description": "A role's name"})
    );

    // Each described route is served: without a session, those that need
    // one answer 401 (an unknown route would too, so each is also asked
    // with a session, where an unknown route is 404 naming the description).
    app.owner_session().await;
    let id = uuid::Uuid::now_v7().to_string();
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{org}", &id)
            .replace("{id}", &id)
            .replace("{account_id}", &id)
            .replace("{request}", &id)
            .replace("{role}", "auditor");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let secured = !paths[path][method.as_str().to_lowercase()]["security"].is_null();
        let url = format!("{root}{concrete}");
        let anonymous = app
            .client
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap();
        if secured {
            assert_eq!(
                anonymous.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
        }
        // A session each: one of the routes logs out.
        let (_, session) = app.log_in(OWNER, PASSWORD).await;
        let response = app
            .client
            .request(method.clone(), &url)
            .bearer_auth(session["token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            !text.contains("no admin API route"),
            "{method} {path} is described but not served: {status} {text}"
        );
    }
    app.stop().await;
}
