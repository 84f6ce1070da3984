//! Logging in and out: a session token for the owner's password, the same
//! 401 for every bad login, and every request without a live session
//! refused.

use std::time::{Duration, Instant};

use domain::account::ACCOUNTS;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::admin_api::{OWNER, PASSWORD};
use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with, test_meta};

async fn set_owner_password(app: &TestApp) {
    let stack = app.stack.as_ref().unwrap();
    admin::accounts::set_password(&stack.pool, &stack.appender, &test_meta(), OWNER, PASSWORD)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_owner_logs_in_for_twelve_hours_and_a_logged_out_token_is_refused() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    set_owner_password(&app).await;

    let (status, body) = app.log_in("Owner@Contoso.test", PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["token", "expires_at"]);
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rcsess_"), "{token}");
    let expires_at = OffsetDateTime::parse(body["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let hours = (expires_at - OffsetDateTime::now_utc()).as_seconds_f64() / 3600.0;
    assert!((11.9..=12.0).contains(&hours), "{hours} hours");

    let path = format!("/orgs/{org_id}/provisioning");
    let (status, body) = app.admin(&token, Method::GET, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = app.admin(&token, Method::DELETE, "/sessions/current").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = app.admin(&token, Method::GET, &path).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "unauthorized");
    assert!(
        body["message"].as_str().unwrap().contains("log in again"),
        "{body}"
    );

    // Both are in the account's stream, the logout with who asked and how.
    let owner = app.account_id(OWNER).await;
    let (event, payload, meta) = app.last_event_of(owner).await;
    assert_eq!(event, "SessionEnded");
    assert_eq!(payload["reason"], "logout");
    assert_eq!(meta["method"], "DELETE");
    assert_eq!(meta["path"], "/api/v1/sessions/current");
    assert_eq!(meta["status"], 204);
    assert_eq!(meta["account_id"], owner.to_string());
    assert_eq!(meta["token_id"], payload["session_id"]);
    // The token itself is nowhere: only its digest is kept.
    let sql = app.sql().await;
    let leaked: i64 = sql
        .query_one(
            "select (select count(*) from events where payload::text like '%' || $1 || '%' \
             or metadata::text like '%' || $1 || '%') \
             + (select count(*) from access_log where path like '%' || $1 || '%')",
            &[&token],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);
    let stored: Vec<u8> = sql
        .query_one(
            "select sha256 from sessions where account_id = $1",
            &[&owner],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, domain::session::digest(&token));
    app.stop().await;
}

/// A login with `email`: its status, body, and how long it took.
async fn timed_login(app: &TestApp, email: &str) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let (status, body) = app.log_in(email, "not the password at all").await;
    (status, body, started.elapsed())
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_401_in_similar_time() {
    let app = spawn_app().await;
    set_owner_password(&app).await;
    let stack = app.stack.as_ref().unwrap();
    admin::accounts::ensure(
        &stack.pool,
        &stack.appender,
        "nopassword@contoso.test",
        &test_meta(),
    )
    .await
    .unwrap();
    let events_before: i64 = app
        .sql()
        .await
        .query_one("select count(*) from events", &[])
        .await
        .unwrap()
        .get(0);

    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (status, wrong_body, took) = timed_login(&app, OWNER).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        wrong.push(took);
        let (status, unknown_body, took) = timed_login(&app, "nobody@contoso.test").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(unknown_body, wrong_body, "the same answer");
        assert_eq!(wrong_body["error"], "unauthorized");
        unknown.push(took);
    }
    let (status, no_password, _) = timed_login(&app, "nopassword@contoso.test").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        no_password["message"],
        timed_login(&app, OWNER).await.1["message"]
    );
    // An unknown email checks a password too: it does not answer at once.
    wrong.sort();
    unknown.sort();
    assert!(
        unknown[1] * 3 >= wrong[1],
        "an unknown email took {:?}, a wrong password {:?}",
        unknown[1],
        wrong[1]
    );

    // A known account's failures are in its stream, with their 401.
    let (event, payload, meta) = app.last_event_of(app.account_id(OWNER).await).await;
    assert_eq!(event, "CommandRefused");
    assert_eq!(payload["command"], "session start");
    assert_eq!(payload["error"], "unauthorized");
    assert_eq!(meta["status"], 401);
    assert_eq!(meta["path"], "/api/v1/sessions");
    // An unknown email has no stream: nothing names it, but it is counted
    // with the others.
    let sql = app.sql().await;
    let named: i64 = sql
        .query_one(
            "select count(*) from events where payload::text like '%nobody@%' \
             or metadata::text like '%nobody@%' or metadata::text like '%not the password%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(named, 0);
    let recorded: i64 = sql
        .query_one("select count(*) from events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        recorded - events_before,
        5,
        "the owner's 4 and the one without password"
    );
    let counted = app
        .metric("rollcall_api_auth_failures_total{reason=\"bad_login\"}")
        .await;
    assert_eq!(counted, 8.0);
    app.stop().await;
}

#[tokio::test]
async fn every_request_without_a_live_session_is_refused_with_401_json() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    set_owner_password(&app).await;
    let path = format!("/orgs/{org_id}/provisioning/tokens");
    let stack = app.stack.as_ref().unwrap();
    // A session that started 13 hours ago has expired.
    let expired = admin::sessions::start(
        &stack.pool,
        &stack.appender,
        &test_meta(),
        OWNER,
        PASSWORD,
        OffsetDateTime::now_utc() - time::Duration::hours(13),
    )
    .await
    .unwrap();

    let (status, body) = app.send(app.admin_request(None, Method::GET, &path)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("POST /api/v1/sessions"),
        "{body}"
    );
    for token in ["rcsess_made-up", app.token.as_str(), expired.token.as_str()] {
        let response = app
            .admin_request(Some(token), Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{body}");
    }
    // Unknown routes too, until the caller has a session.
    let (status, _) = app
        .send(app.admin_request(None, Method::GET, "/nothing/here"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let token = app.owner_session().await;
    let (status, body) = app.admin(&token, Method::GET, "/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().unwrap().contains("openapi.json"));
    let (status, body) = app
        .admin(&token, Method::GET, "/orgs/not-a-uuid/provisioning")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");

    let counted = app
        .metric("rollcall_api_auth_failures_total{reason=\"no_session\"}")
        .await;
    assert_eq!(counted, 5.0);
    // The 404s changed nothing and are in the access log, with the session.
    app.wait_for_count(
        "select count(*) from access_log where status = 404 and token_id is not null \
         and path like '/api/v1/%'",
        2,
    )
    .await;
    // Nothing of these was an event of the accounts' keyspace but the
    // sessions started.
    let account_events: Vec<String> = app
        .sql()
        .await
        .query(
            "select event_type from events where org_id = $1 and event_type like 'Session%'",
            &[&ACCOUNTS],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(account_events, ["SessionStarted", "SessionStarted"]);
    app.stop().await;
}

#[tokio::test]
async fn an_address_that_fails_to_log_in_too_often_is_refused_for_a_while() {
    let app = spawn_app_with(Options {
        bad_tokens: api::BadTokenLimits {
            attempts: 3,
            block: Duration::from_secs(60),
        },
        ..Options::default()
    })
    .await;
    set_owner_password(&app).await;
    for _ in 0..4 {
        let (status, _) = app.log_in(OWNER, "a guess, and wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Blocked now: even the right password waits, and is not even checked.
    let response = app
        .admin_request(None, Method::POST, "/sessions")
        .json(&serde_json::json!({"email": OWNER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    let refusals: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from events where stream_id = $1 and event_type = 'CommandRefused'",
            &[&app.account_id(OWNER).await],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refusals, 4);
    assert_eq!(
        app.metric("rollcall_api_auth_failures_total{reason=\"throttled\"}")
            .await,
        1.0
    );
    // SCIM tokens from that address are counted apart: still served.
    let (status, _) = app.get("/Users?count=1").await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
