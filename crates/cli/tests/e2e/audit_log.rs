//! Issue 11, the auditors' log: `audit/events` (every filter, cursors),
//! `audit/export` (NDJSON and CSV, the count and head hash `rollcall verify
//! --org` gives), `audit/requests/{id}` (what was sent, secrets redacted, and
//! what was answered), who may ask, and the same through `rollcall audit`.
//!
//! Each test scripts the same history with real SCIM requests over two
//! months (the stack's clock moved forward between them): creates, PATCHes
//! in both of Entra's dialects, a rename, a refused create, a filtered read,
//! a token rotation and a deletion. This file has the history and the
//! events filters; [`export`] and [`requests`] the other two routes.

mod export;
mod requests;

use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::helpers::{PATCH_OP, TestApp, entra_user, form_encode, spawn_app, test_meta};

const AUDITOR: &str = "ana@contoso.test";

/// What the scripted history made, for the tests to ask about.
struct History {
    org_id: Uuid,
    /// An auditor's session.
    auditor: String,
    /// Created with a password, renamed, then deleted.
    ada: String,
    /// Deactivated in the flag dialect.
    bob: String,
    /// Created with the second token.
    carol: String,
    first_token: Uuid,
    second_token: Uuid,
    /// The second token itself, for SCIM requests after the rotation.
    second_secret: String,
    /// Between the two months of the history.
    split: OffsetDateTime,
}

async fn script(app: &TestApp) -> History {
    let org_id = app.org_id().await;
    let stack = app.stack.as_ref().unwrap();
    admin::members::add(
        &stack.pool,
        &stack.appender,
        org_id,
        &test_meta(),
        AUDITOR,
        "auditor",
    )
    .await
    .unwrap();
    let first_token: Uuid = app
        .sql()
        .await
        .query_one(
            "select token_id from scim_tokens where org_id = $1",
            &[&org_id],
        )
        .await
        .unwrap()
        .get(0);

    // The first month: two users, one with a password.
    let mut ada_sent = entra_user("ada@contoso.com");
    ada_sent["password"] = json!("Tr0ub4dor&3-never-logged");
    let (status, ada) = app.create_user(ada_sent).await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    let ada = ada["id"].as_str().unwrap().to_owned();
    let bob = app.provision("bob@contoso.com").await;

    app.clock.advance(time::Duration::days(30));
    let split = OffsetDateTime::now_utc() + time::Duration::days(15);
    // Logged in now: a session lasts hours, not months.
    let auditor = app.session_of(AUDITOR).await;

    // The second month: a PATCH in the default dialect (one capitalised
    // Replace per attribute, a rename among them), one in the flag dialect
    // (a path-less replace), a refused create, a filtered read.
    let (status, body) = app
        .patch_user(
            &ada,
            json!([
                {"op": "Replace", "path": "name.familyName", "value": "Lovelace"},
                {"op": "Replace", "path": "userName", "value": "ada.lovelace@contoso.com"},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .send(
            app.request(Method::PATCH, &format!("/Users/{bob}?aadOptscim062020"))
                .header("content-type", "application/scim+json")
                .body(
                    json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "value": {"active": false, "displayName": "Bob B"}},
                    ]})
                    .to_string(),
                ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.create_user(entra_user("BOB@contoso.com")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = app.filter_users("userName eq \"bob@contoso.com\"").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The token rotates: a second one creates carol, the first is revoked.
    let owner = app.owner_session().await;
    let tokens = format!("/orgs/{org_id}/provisioning/tokens");
    let (status, issued) = app
        .admin_with(&owner, Method::POST, &tokens, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let second_token: Uuid = issued["id"].as_str().unwrap().parse().unwrap();
    let (status, carol) = app
        .create_user_as(
            issued["token"].as_str().unwrap(),
            entra_user("carol@contoso.com"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{carol}");
    let carol = carol["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .admin(&owner, Method::DELETE, &format!("{tokens}/{first_token}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Ada leaves: her entry is deleted.
    let (status, body) = app
        .send(app.request_as(
            issued["token"].as_str().unwrap(),
            Method::DELETE,
            &format!("/Users/{ada}"),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    app.wait_for_projector(Duration::from_secs(10)).await;
    History {
        org_id,
        auditor,
        ada,
        bob,
        carol,
        first_token,
        second_token,
        second_secret: issued["token"].as_str().unwrap().to_owned(),
        split,
    }
}

impl History {
    fn audit(&self, route: &str) -> String {
        format!("/orgs/{}/audit/{route}", self.org_id)
    }

    /// `audit/requests/{id}` as the auditor.
    async fn request(&self, app: &TestApp, id: &str) -> (StatusCode, Value) {
        let path = self.audit(&format!("requests/{id}"));
        app.admin(&self.auditor, Method::GET, &path).await
    }

    /// Every event `query` selects, page by page (`limit` per page),
    /// checking that no page repeats or skips one.
    async fn events(&self, app: &TestApp, query: &str, limit: usize) -> Vec<Value> {
        let mut events: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("{}?{query}&limit={limit}", self.audit("events"));
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let (status, page) = app.admin(&self.auditor, Method::GET, &path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {page}");
            let listed = page["events"].as_array().unwrap();
            assert!(listed.len() <= limit);
            events.extend(listed.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let positions: Vec<i64> = events
            .iter()
            .map(|e| e["position"].as_i64().unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        events
    }
}

/// The events `query` selects, checked against those of `all` that
/// `wanted` picks (and that there are some).
async fn expect(
    app: &TestApp,
    history: &History,
    all: &[Value],
    query: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let expected = positions(all.iter().filter(|event| wanted(event)));
    assert!(!expected.is_empty(), "{query} should select something");
    let selected = history.events(app, query, 2).await;
    assert_eq!(positions(&selected), expected, "{query}");
    selected
}

fn positions<'a>(events: impl IntoIterator<Item = &'a Value>) -> Vec<i64> {
    events
        .into_iter()
        .map(|event| event["position"].as_i64().unwrap())
        .collect()
}

fn recorded_at(event: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(event["recorded_at"].as_str().unwrap(), &Rfc3339).unwrap()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

#[tokio::test]
async fn every_events_filter_selects_exactly_its_events_and_cursors_page_through_all() {
    let app = spawn_app().await;
    let history = script(&app).await;
    let all = history.events(&app, "", 1_000).await;
    assert_eq!(
        positions(&history.events(&app, "", 3).await),
        positions(&all),
        "pages of 3 give every event once, in order"
    );
    let split = history.split;
    expect(
        &app,
        &history,
        &all,
        &format!("since={}", rfc3339(split)),
        |e| recorded_at(e) >= split,
    )
    .await;
    expect(
        &app,
        &history,
        &all,
        &format!("until={}", rfc3339(split)),
        |e| recorded_at(e) < split,
    )
    .await;
    let patched = expect(&app, &history, &all, "type=UserPatched", |e| {
        e["type"] == "UserPatched"
    })
    .await;
    assert_eq!(patched.len(), 2, "one PATCH in each dialect");
    assert_eq!(patched[1]["resource_id"], history.bob.as_str());
    let ada = history.ada.as_str();
    let adas = expect(&app, &history, &all, &format!("resource_id={ada}"), |e| {
        e["resource_id"] == ada
    })
    .await;
    assert_eq!(
        adas.iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["UserProvisioned", "UserPatched", "UserDeleted"]
    );
    assert!(adas.iter().all(|e| e["stream"] == ada));
    // Any userName she had, in any case, though she is deleted.
    for name in ["ADA@contoso.com", "Ada.Lovelace@CONTOSO.com"] {
        expect(
            &app,
            &history,
            &all,
            &format!("user_name={}", form_encode(name)),
            |e| e["resource_id"] == ada,
        )
        .await;
    }
    let rename = adas[1]["request"]["id"].as_str().unwrap().to_owned();
    expect(&app, &history, &all, &format!("request_id={rename}"), |e| {
        e["request"]["id"] == rename.as_str()
    })
    .await;
    let second = history.second_token.to_string();
    let carols = expect(&app, &history, &all, &format!("token_id={second}"), |e| {
        e["request"]["token_id"] == second.as_str()
    })
    .await;
    assert!(
        carols
            .iter()
            .any(|e| e["resource_id"] == history.carol.as_str())
    );
    let first = history.first_token.to_string();
    expect(&app, &history, &all, &format!("token_id={first}"), |e| {
        e["request"]["token_id"] == first.as_str()
    })
    .await;

    // A plain member's attempt is refused, and recorded as a refusal.
    let stack = app.stack.as_ref().unwrap();
    admin::members::add(
        &stack.pool,
        &stack.appender,
        history.org_id,
        &test_meta(),
        "mo@contoso.test",
        "member",
    )
    .await
    .unwrap();
    let member = app.session_of("mo@contoso.test").await;
    let (status, body) = app
        .admin(&member, Method::GET, &history.audit("events"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["required_role"], "auditor");
    let all = history.events(&app, "", 1_000).await;
    let refused = expect(&app, &history, &all, "outcome=refused", |e| {
        e["type"] == "CommandRefused"
    })
    .await;
    assert_eq!(refused.last().unwrap()["data"]["command"], "audit events");
    expect(&app, &history, &all, "outcome=accepted", |e| {
        e["type"] != "CommandRefused"
    })
    .await;

    // Bad parameters say what is wanted.
    for (query, wanted) in [
        ("since=last+week", "RFC 3339"),
        ("type=UserCreated", "UserProvisioned"),
        ("outcome=maybe", "accepted or refused"),
        ("limit=5000", "1 to 1000"),
        ("cursor=abc", "next_cursor"),
        ("resource_id=42", "UUID"),
        ("colour=red", "unknown parameter"),
    ] {
        let (status, body) = app
            .admin(
                &history.auditor,
                Method::GET,
                &format!("{}?{query}", history.audit("events")),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(wanted),
            "{query}: {body}"
        );
    }
    app.stop().await;
}

/// Runs `rollcall` against the test's database: its success, stdout and
/// stderr.
fn rollcall(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}
