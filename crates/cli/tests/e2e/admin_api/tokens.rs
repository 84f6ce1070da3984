//! SCIM tokens over the admin API: the secret shown once, lists without it,
//! at most two live, revoked at once.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::spawn_app;

fn days_until(value: &Value) -> f64 {
    let at = OffsetDateTime::parse(value.as_str().expect("a time"), &Rfc3339).unwrap();
    (at - OffsetDateTime::now_utc()).as_seconds_f64() / 86_400.0
}

#[tokio::test]
async fn a_token_is_shown_once_listed_without_its_secret_and_revoked_at_once() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let tokens = format!("/orgs/{org_id}/provisioning/tokens");

    let response = app
        .admin_request(Some(&owner), Method::POST, &tokens)
        .json(&json!({"valid_for_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let issued: Value = response.json().await.unwrap();
    let keys: Vec<&str> = issued
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["id", "token", "expires_at"]);
    let secret = issued["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("rcs_"), "{secret}");
    assert!((29.9..=30.0).contains(&days_until(&issued["expires_at"])));
    // The identity provider can use it at once.
    let (status, _) = app
        .send(app.request_as(&secret, Method::GET, "/Users?count=1"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Listed without a secret; its use shows within a poll.
    let listed = loop {
        let (status, listed) = app.admin(&owner, Method::GET, &tokens).await;
        assert_eq!(status, StatusCode::OK);
        if listed[1]["last_used_at"].is_string() {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!listed.to_string().contains(&secret));
    assert!(!listed.to_string().contains(&app.token));
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let keys: Vec<&str> = rows[1]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["id", "created_at", "expires_at", "last_used_at", "state"]
    );
    assert_eq!(rows[1]["id"], issued["id"]);
    assert_eq!(rows[1]["state"], "live");
    assert!(
        rows[0]["last_used_at"].is_null(),
        "the first was never used"
    );

    // A third live one is refused, naming the one to revoke (the soonest
    // to expire: the 30-day one).
    let (status, refused) = app
        .admin_with(&owner, Method::POST, &tokens, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"], "conflict");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains(issued["id"].as_str().unwrap()),
        "{refused}"
    );

    let revoke = format!("{tokens}/{}", issued["id"].as_str().unwrap());
    let (status, _) = app.admin(&owner, Method::DELETE, &revoke).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .send(app.request_as(&secret, Method::GET, "/Users?count=1"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = app.admin(&owner, Method::DELETE, &revoke).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // With one live token left, the default is a year.
    let (status, again) = app.admin(&owner, Method::POST, &tokens).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert!((364.9..=365.0).contains(&days_until(&again["expires_at"])));
    let (_, listed) = app.admin(&owner, Method::GET, &tokens).await;
    let states: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["live", "revoked", "live"]);

    // Each action and refusal is an event with the request behind it.
    let recorded: Vec<(String, String, String, i32)> = app
        .sql()
        .await
        .query(
            "select event_type, metadata->>'method', metadata->>'account_id', \
             (metadata->>'status')::int from events \
             where stream_id = $1 and metadata->>'path' like '/api/v1/%' order by position",
            &[&org_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    let owner_id = app
        .account_id(crate::helpers::admin_api::OWNER)
        .await
        .to_string();
    let expected = [
        ("ScimTokenIssued", "POST", 201),
        ("CommandRefused", "POST", 409),
        ("ScimTokenRevoked", "DELETE", 204),
        ("CommandRefused", "DELETE", 409),
        ("ScimTokenIssued", "POST", 201),
    ]
    .map(|(event, method, status)| {
        (
            event.to_owned(),
            method.to_owned(),
            owner_id.clone(),
            status,
        )
    });
    assert_eq!(recorded, expected);
    app.stop().await;
}

#[tokio::test]
async fn a_validity_out_of_range_or_a_body_of_another_shape_is_400() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let tokens = format!("/orgs/{org_id}/provisioning/tokens");
    for days in [0, 366] {
        let (status, body) = app
            .admin_with(
                &owner,
                Method::POST,
                &tokens,
                json!({"valid_for_days": days}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("between 1 and 365"),
            "{body}"
        );
    }
    let (status, body) = app
        .admin_with(&owner, Method::POST, &tokens, json!({"validForDays": 30}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("validForDays"),
        "{body}"
    );
    let (status, body) = app
        .send(
            app.admin_request(Some(&owner), Method::POST, &tokens)
                .body("{not json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid");
    // Only the rules' refusals are events; the unreadable bodies are in
    // the access log, as the organization's.
    let events = app.organization_events(org_id).await;
    assert_eq!(
        events
            .iter()
            .filter(|event| *event == "CommandRefused")
            .count(),
        2
    );
    app.wait_for_count(
        &format!(
            "select count(*) from access_log where org_id = '{org_id}' and status = 400 \
             and path like '/api/v1/%'"
        ),
        2,
    )
    .await;
    app.stop().await;
}
