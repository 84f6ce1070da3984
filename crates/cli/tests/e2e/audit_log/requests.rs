//! `audit/requests/{id}` and `rollcall audit request`: what was sent, with
//! its secrets redacted, and what was answered; who may ask.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{rollcall, script};
use crate::helpers::{BULK_REQUEST, TestApp, entra_user, spawn_app};

/// The id of the last access record that `condition` (SQL) picks, once
/// the access log has written it.
async fn access_request(app: &TestApp, condition: &str) -> Uuid {
    let started = std::time::Instant::now();
    loop {
        let found = app
            .sql()
            .await
            .query_opt(
                &format!(
                    "select request_id from access_log where {condition} order by id desc limit 1"
                ),
                &[],
            )
            .await
            .unwrap();
        if let Some(row) = found {
            return row.get(0);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no access record where {condition}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_request_shows_what_was_sent_with_secrets_redacted_and_what_was_answered() {
    let app = spawn_app().await;
    let history = script(&app).await;
    let adas = history
        .events(&app, &format!("resource_id={}", history.ada), 100)
        .await;

    // A create: the resource as sent, less the password; the token redacted.
    let created = adas[0]["request"]["id"].as_str().unwrap();
    let (status, shown) = history.request(&app, created).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["method"], "POST");
    assert_eq!(shown["path"], "/scim_v2/Users");
    assert_eq!(shown["headers"]["authorization"], "Bearer [redacted]");
    assert_eq!(
        shown["headers"]["content-type"],
        "application/scim+json; charset=utf-8"
    );
    assert_eq!(shown["body_kept"], "resource");
    assert_eq!(shown["body"]["userName"], "ada@contoso.com");
    assert!(shown["body"].get("password").is_none(), "{shown}");
    assert_eq!(shown["answer"]["status"], 201);
    assert_eq!(shown["answer"]["events"][0]["type"], "UserProvisioned");
    // The hash of the password she was created with is the log's, not
    // an auditor's.
    assert_eq!(
        shown["answer"]["events"][0]["data"]["password_hash"],
        "[redacted]"
    );
    assert_eq!(adas[0]["data"]["password_hash"], "[redacted]");
    let text = shown.to_string();
    assert!(!text.contains(&app.token), "the token is never shown");
    assert!(!text.contains("Tr0ub4dor"), "nor the password");

    // A PATCH: the operations as sent.
    let patched = adas[1]["request"]["id"].as_str().unwrap();
    let (_, shown) = history.request(&app, patched).await;
    assert_eq!(shown["body_kept"], "operations");
    assert_eq!(shown["body"]["Operations"][1]["path"], "userName");
    assert_eq!(shown["answer"]["status"], 200);

    // A read: the query parsed, nothing produced.
    let read = access_request(&app, "position('filter=' in path) > 0").await;
    let (status, shown) = history.request(&app, &read.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["method"], "GET");
    assert_eq!(shown["path"], "/scim_v2/Users");
    assert_eq!(shown["query"]["filter"], "userName eq \"bob@contoso.com\"");
    assert_eq!(shown["headers"]["authorization"], "Bearer [redacted]");
    assert_eq!(shown["body_kept"], "digest");
    assert_eq!(
        shown["answer"],
        json!({"status": 200, "scimType": null, "detail": null, "events": []})
    );
    assert!(!shown.to_string().contains(&app.token));

    // The refused create: its scimType and why.
    let conflict = access_request(&app, "status = 409").await;
    let (_, shown) = history.request(&app, &conflict.to_string()).await;
    assert_eq!(shown["answer"]["status"], 409, "{shown}");
    assert_eq!(shown["answer"]["scimType"], "uniqueness");
    assert!(
        shown["answer"]["detail"]
            .as_str()
            .unwrap()
            .contains("userName")
    );

    // A bulk request: each operation as sent and as answered.
    let (status, body) = app
        .send(
            app.request_as(&history.second_secret, Method::POST, "/Bulk")
                .header("content-type", "application/scim+json")
                .body(
                    json!({"schemas": [BULK_REQUEST], "Operations": [
                        {"method": "POST", "path": "/Users", "bulkId": "d", "data": entra_user("dan@contoso.com")},
                        {"method": "POST", "path": "/Users", "bulkId": "b", "data": entra_user("bob@contoso.com")},
                    ]})
                    .to_string(),
                ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let provisioned = history.events(&app, "type=UserProvisioned", 100).await;
    let bulk = provisioned.last().unwrap()["request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = std::time::Instant::now();
    let shown = loop {
        // The failed operation is an access record, written a moment later.
        let (_, shown) = history.request(&app, &bulk).await;
        if shown["operations"].as_array().is_some_and(|o| o.len() == 2) {
            break shown;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{shown}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (shown["method"].as_str(), shown["path"].as_str()),
        (Some("POST"), Some("/scim_v2/Bulk"))
    );
    assert_eq!(shown["answer"]["status"], 200);
    let (dan, bob) = (&shown["operations"][0], &shown["operations"][1]);
    assert_eq!(
        (
            dan["index"].as_u64(),
            dan["method"].as_str(),
            dan["path"].as_str()
        ),
        (Some(0), Some("POST"), Some("/Users"))
    );
    assert_eq!(dan["body"]["userName"], "dan@contoso.com");
    assert_eq!(dan["answer"]["status"], 201);
    assert_eq!(dan["answer"]["events"][0]["type"], "UserProvisioned");
    assert_eq!(shown["answer"]["events"], dan["answer"]["events"]);
    assert_eq!(bob["index"], 1);
    assert_eq!(bob["answer"]["status"], 409);
    assert_eq!(bob["answer"]["scimType"], "uniqueness");

    // The command line prints the same.
    let (ok, out, err) = rollcall(
        &app,
        &["audit", "request", "--org", "Contoso", "--id", patched],
    );
    assert!(ok, "{err}");
    let (_, shown) = history.request(&app, patched).await;
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), shown);

    // No such request: 404 saying so; not an id: 400.
    let (status, body) = history.request(&app, &Uuid::now_v7().to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("recorded no request")
    );
    let (status, _) = history.request(&app, "not-an-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Nobody's credentials in the log: no token, no password, anywhere.
    let sql = app.sql().await;
    let leaked: i64 = sql
        .query_one(
            "select (select count(*) from events where metadata::text like '%' || $1 || '%' \
                     or payload::text like '%Tr0ub4dor%') \
                  + (select count(*) from access_log where headers::text like '%' || $1 || '%')",
            &[&app.token],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);

    // Someone of no role in the organization: 404, as for any of its routes.
    let outsider = app.outsider_session("eve@fabrikam.test").await;
    let (status, body) = app
        .admin(
            &outsider,
            Method::GET,
            &history.audit(&format!("requests/{patched}")),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let kinds: BTreeSet<&str> = ["events", "export"].into();
    for route in kinds {
        let (status, _) = app
            .admin(&outsider, Method::GET, &history.audit(route))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{route}");
    }
    app.stop().await;
}
