//! Issue 11 (history): on a history scripted over three months with a moved
//! clock — joiners in January; in February the SCIM token rotated, a user
//! renamed and moved out of a group while another moved in; in March one
//! user deactivated and one deleted while logged in to the admin API — the
//! auditors read the organization at any instant, a user's timeline, a
//! group's members then, what changed between months, and the joiners and
//! leavers with what followed each request, over HTTP and from the command
//! line alike.

use std::process::Command;
use std::time::Duration as WaitFor;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::helpers::members::entra_user;
use crate::helpers::{PATCH_OP, TestApp, spawn_app};

mod access;
mod instants;
mod movers;

/// The organization after each month, and who is who.
struct History {
    app: TestApp,
    org_id: Uuid,
    owner: String,
    ada: String,
    bob: String,
    cy: String,
    ops: String,
    /// The rotated-in SCIM token's id.
    new_token: String,
    /// Where Ada's rename is in the log.
    rename_position: i64,
    january: OffsetDateTime,
    february: OffsetDateTime,
    march: OffsetDateTime,
}

/// A SCIM request with `token`.
async fn scim(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> Value {
    let (status, answer) = app
        .send(
            app.request_as(token, method, path)
                .header("content-type", "application/scim+json")
                .body(body.to_string()),
        )
        .await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// Waits until the linker and the projector have followed the whole log.
async fn settle(app: &TestApp) {
    app.wait_for_projector(WaitFor::from_secs(20)).await;
}

async fn scripted_history() -> History {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let token = app.token.clone();

    // January: three joiners; Ada and Bob in Ops.
    let mut ids = Vec::new();
    for (email, given) in [
        ("ada@contoso.com", "Ada"),
        ("bob@contoso.com", "Bob"),
        ("cy@contoso.com", "Cy"),
    ] {
        let created = scim(
            &app,
            &token,
            Method::POST,
            "/Users",
            entra_user(email, given, "Test"),
        )
        .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let [ada, bob, cy] = <[String; 3]>::try_from(ids).unwrap();
    let ops = app.group_of("Ops", &[&ada, &bob]).await;
    settle(&app).await;
    let january = app.clock.now();
    app.clock.advance(Duration::days(30));

    // February: the token rotated; Ada renamed, out of Ops; Cy into Ops.
    let tokens = format!("/orgs/{org_id}/provisioning/tokens");
    let (status, issued) = app
        .admin_with(&owner, Method::POST, &tokens, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let (_, listed) = app.admin(&owner, Method::GET, &tokens).await;
    let old = listed[0]["id"].as_str().unwrap();
    let (status, _) = app
        .admin(&owner, Method::DELETE, &format!("{tokens}/{old}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let token = issued["token"].as_str().unwrap().to_owned();
    scim(
        &app,
        &token,
        Method::PATCH,
        &format!("/Users/{ada}"),
        patch(json!([{"op": "replace", "path": "name.givenName", "value": "Adaline"}])),
    )
    .await;
    let rename_position = app.last_position_of(&ada).await;
    scim(
        &app,
        &token,
        Method::PATCH,
        &format!("/Groups/{ops}"),
        patch(json!([
            {"op": "remove", "path": format!("members[value eq \"{ada}\"]")},
            {"op": "add", "path": "members", "value": [{"value": cy}]},
        ])),
    )
    .await;
    settle(&app).await;
    let february = app.clock.now();
    app.clock.advance(Duration::days(30));

    // March: Bob deactivated; Cy, logged in to the admin API, deleted.
    let cy_session = app.session_of("cy@contoso.com").await;
    scim(
        &app,
        &token,
        Method::PATCH,
        &format!("/Users/{bob}"),
        patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    )
    .await;
    let (status, _) = app
        .send(app.request_as(&token, Method::DELETE, &format!("/Users/{cy}")))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&app).await;
    let (status, _) = app.admin(&cy_session, Method::GET, "/account").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the linker ended Cy's session"
    );
    let march = app.clock.now();
    History {
        app,
        org_id,
        owner,
        ada,
        bob,
        cy,
        ops,
        new_token: issued["id"].as_str().unwrap().to_owned(),
        rename_position,
        january,
        february,
        march,
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

impl History {
    async fn audit(&self, route: &str) -> Value {
        let (status, body) = self
            .app
            .admin(
                &self.owner,
                Method::GET,
                &format!("/orgs/{}/audit/{route}", self.org_id),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        body
    }

    async fn state_at(&self, at: OffsetDateTime) -> Value {
        self.audit(&format!("state?at={}", rfc3339(at))).await
    }

    /// `rollcall audit ...` against the test's database: its stdout.
    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .arg("audit")
            .args(args)
            .args(["--org", "Contoso"])
            .env("DATABASE_URL", &self.app.database_url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}
