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

fn user_names(state: &Value) -> Vec<&str> {
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["userName"].as_str().unwrap())
        .collect()
}

fn member_ids(group: &Value) -> Vec<&str> {
    let mut ids: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["value"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn sorted<'a>(ids: &[&'a String]) -> Vec<&'a str> {
    let mut ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    ids.sort_unstable();
    ids
}

/// `(email, state, role)` of each membership.
fn memberships(state: &Value) -> Vec<(String, String, String)> {
    state["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = |key: &str| m[key].as_str().unwrap().to_owned();
            (text("email"), text("state"), text("role"))
        })
        .collect()
}

fn membership(email: &str, state: &str, role: &str) -> (String, String, String) {
    (email.into(), state.into(), role.into())
}

#[tokio::test]
async fn the_organization_reads_back_at_every_instant_and_changes_between_them() {
    let history = scripted_history().await;
    let History {
        ada, bob, cy, ops, ..
    } = &history;

    // Before the organization existed: empty, not an error.
    let before = history.audit("state?at=2000-01-01T00:00:00Z").await;
    assert_eq!(before["position"], 0);
    assert_eq!(
        (
            before["users"].as_array().unwrap().len(),
            before["memberships"].as_array().unwrap().len()
        ),
        (0, 0)
    );

    // January: three active users, Ada and Bob in Ops, four members.
    let january = history.state_at(history.january).await;
    assert_eq!(
        user_names(&january),
        ["ada@contoso.com", "bob@contoso.com", "cy@contoso.com"]
    );
    assert_eq!(january["users"][0]["id"], json!(ada));
    assert_eq!(january["users"][0]["name"]["givenName"], "Ada");
    assert_eq!(january["users"][0]["meta"]["resourceType"], "User");
    assert_eq!(member_ids(&january["groups"][0]), sorted(&[ada, bob]));
    assert_eq!(
        memberships(&january),
        [
            membership("ada@contoso.com", "active", "member"),
            membership("bob@contoso.com", "active", "member"),
            membership("cy@contoso.com", "active", "member"),
            membership("owner@contoso.test", "active", "owner"),
        ]
    );

    // February: Ada renamed, Ops holds Bob and Cy. Just before the rename's
    // position she was Ada still.
    let february = history.state_at(history.february).await;
    assert_eq!(february["users"][0]["name"]["givenName"], "Adaline");
    assert_eq!(member_ids(&february["groups"][0]), sorted(&[bob, cy]));
    let just_before = history
        .audit(&format!("state?position={}", history.rename_position - 1))
        .await;
    assert_eq!(just_before["users"][0]["name"]["givenName"], "Ada");
    let at_rename = history
        .audit(&format!("state?position={}", history.rename_position))
        .await;
    assert_eq!(at_rename["users"][0]["name"]["givenName"], "Adaline");

    // March: Bob inactive, Cy gone; their memberships suspended and removed.
    let march = history.state_at(history.march).await;
    assert_eq!(user_names(&march), ["ada@contoso.com", "bob@contoso.com"]);
    assert_eq!(march["users"][1]["active"], false);
    assert_eq!(member_ids(&march["groups"][0]), sorted(&[bob]));
    assert_eq!(
        memberships(&march)[1..3],
        [
            membership("bob@contoso.com", "suspended", "member"),
            membership("cy@contoso.com", "removed", "member"),
        ]
    );

    // The command line prints what the route answers.
    let printed: Value =
        serde_json::from_str(&history.cli(&["state", "--at", &rfc3339(history.february)])).unwrap();
    assert_eq!(printed, february);

    // Ada's timeline: created, then renamed through the rotated-in token.
    let timeline = history.audit(&format!("users/{ada}/timeline")).await;
    let events = timeline["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["UserProvisioned", "UserPatched"]);
    let rename = &events[1];
    assert_eq!(rename["position"], history.rename_position);
    assert_eq!(
        rename["changes"],
        json!([{"path": "name.givenName", "before": "Ada", "after": "Adaline"}])
    );
    assert_eq!(rename["request"]["method"], "PATCH");
    assert_eq!(rename["request"]["path"], format!("/scim_v2/Users/{ada}"));
    assert_eq!(rename["request"]["token_id"], json!(history.new_token));
    assert_ne!(events[0]["request"]["token_id"], json!(history.new_token));
    let recorded_at =
        OffsetDateTime::parse(rename["recorded_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(history.january < recorded_at && recorded_at <= history.february);
    let printed: Value = serde_json::from_str(&history.cli(&["timeline", "--user", ada])).unwrap();
    assert_eq!(printed, timeline);
    // A deleted user's timeline is still there, ending with its deletion.
    let deleted = history.audit(&format!("users/{cy}/timeline")).await;
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["userName"], "cy@contoso.com");

    // Who was in Ops in January, by id and userName.
    let members = history
        .audit(&format!(
            "groups/{ops}/members?at={}",
            rfc3339(history.january)
        ))
        .await;
    assert_eq!(members["displayName"], "Ops");
    let named: Vec<(&str, &str)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["value"].as_str().unwrap(),
                m["userName"].as_str().unwrap(),
            )
        })
        .collect();
    let mut expected = vec![
        (ada.as_str(), "ada@contoso.com"),
        (bob.as_str(), "bob@contoso.com"),
    ];
    expected.sort_unstable();
    assert_eq!(named, expected);
    let printed: Value = serde_json::from_str(&history.cli(&[
        "group-members",
        "--group",
        ops,
        "--at",
        &rfc3339(history.january),
    ]))
    .unwrap();
    assert_eq!(printed, members);

    // January to February: Ada's rename, the Ops moves.
    let diff = history
        .audit(&format!(
            "diff?from={}&to={}",
            rfc3339(history.january),
            rfc3339(history.february)
        ))
        .await;
    assert_eq!(diff["users_changed"][0]["id"], json!(ada));
    assert_eq!(
        diff["users_changed"][0]["changes"],
        json!([{"path": "name.givenName", "before": "Ada", "after": "Adaline"}])
    );
    let ops_changes = &diff["groups_changed"][0];
    assert_eq!(
        ops_changes["members_added"],
        json!([{"value": cy, "type": "User", "name": "cy@contoso.com"}])
    );
    assert_eq!(
        ops_changes["members_removed"],
        json!([{"value": ada, "type": "User", "name": "ada@contoso.com"}])
    );
    assert_eq!(diff["users_added"], json!([]));
    // February to March: Bob deactivated, Cy removed, their memberships.
    let diff = history
        .audit(&format!(
            "diff?from={}&to={}",
            rfc3339(history.february),
            rfc3339(history.march)
        ))
        .await;
    assert_eq!(
        diff["users_deactivated"],
        json!([{"id": bob, "userName": "bob@contoso.com"}])
    );
    assert_eq!(
        diff["users_removed"],
        json!([{"id": cy, "userName": "cy@contoso.com"}])
    );
    let changed: Vec<(&str, &str, &str)> = diff["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap(),
                m["before"]["state"].as_str().unwrap(),
                m["after"]["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            ("bob@contoso.com", "active", "suspended"),
            ("cy@contoso.com", "active", "removed")
        ]
    );
    let printed: Value = serde_json::from_str(&history.cli(&[
        "diff",
        "--from",
        &rfc3339(history.february),
        "--to",
        &rfc3339(history.march),
    ]))
    .unwrap();
    assert_eq!(printed, diff);
    history.app.stop().await;
}

/// `(userName, request, membership event, sessions)` of each row.
fn row_summary(rows: &Value) -> Vec<(String, String, String, String)> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let text = |key: &str| row[key].as_str().unwrap_or_default().to_owned();
            (
                text("userName"),
                text("request"),
                text("membership_event"),
                text("sessions"),
            )
        })
        .collect()
}

fn row(user: &str, request: &str, event: &str, sessions: &str) -> (String, String, String, String) {
    (user.into(), request.into(), event.into(), sessions.into())
}

/// Each row's positions and times follow one another: the request, then
/// the membership event, then the sessions' end; the delays are theirs.
fn assert_in_order(row: &Value) {
    let at = |key: &str| OffsetDateTime::parse(row[key].as_str().unwrap(), &Rfc3339).unwrap();
    let seconds = |from: OffsetDateTime, to: OffsetDateTime| {
        ((to - from).as_seconds_f64() * 1000.0).round() / 1000.0
    };
    assert!(
        row["request_position"].as_i64() < row["membership_position"].as_i64(),
        "{row}"
    );
    assert_eq!(
        row["membership_delay_seconds"].as_f64().unwrap(),
        seconds(at("requested_at"), at("membership_at")),
        "{row}"
    );
    if row["sessions"] == "revoked" {
        let ends = row["session_positions"].as_array().unwrap();
        assert!(!ends.is_empty());
        assert!(
            ends.iter()
                .all(|end| end.as_i64() > row["membership_position"].as_i64()),
            "{row}"
        );
        assert_eq!(
            row["sessions_delay_seconds"].as_f64().unwrap(),
            seconds(at("requested_at"), at("sessions_revoked_at")),
            "{row}"
        );
    }
}

#[tokio::test]
async fn joiners_and_leavers_give_each_request_what_followed_it_and_when() {
    let history = scripted_history().await;
    let period = |since: OffsetDateTime, until: OffsetDateTime| {
        format!("since={}&until={}", rfc3339(since), rfc3339(until))
    };
    let start = history.january - Duration::days(1);

    // January's joiners: three provisionings, each made a member.
    let joiners = history
        .audit(&format!("joiners?{}", period(start, history.january)))
        .await;
    assert_eq!(
        row_summary(&joiners["rows"]),
        [
            row("ada@contoso.com", "provisioned", "MemberAdded", "n/a"),
            row("bob@contoso.com", "provisioned", "MemberAdded", "n/a"),
            row("cy@contoso.com", "provisioned", "MemberAdded", "n/a"),
        ]
    );
    for joiner in joiners["rows"].as_array().unwrap() {
        assert_eq!(
            (joiner["membership"].as_str(), joiner["role"].as_str()),
            (Some("granted"), Some("member"))
        );
        assert_in_order(joiner);
    }
    // Nobody joined in March, and nobody left in January.
    let none = history
        .audit(&format!(
            "joiners?{}",
            period(history.february, history.march)
        ))
        .await;
    assert_eq!(none["rows"], json!([]));
    let none = history
        .audit(&format!("leavers?{}", period(start, history.january)))
        .await;
    assert_eq!(none["rows"], json!([]));

    // March's leavers: Bob suspended with no session to revoke; Cy removed
    // and her admin API session revoked by the linker.
    let leavers = history
        .audit(&format!(
            "leavers?{}",
            period(history.february, history.march)
        ))
        .await;
    assert_eq!(
        row_summary(&leavers["rows"]),
        [
            row(
                "bob@contoso.com",
                "deactivated",
                "MemberSuspended",
                "none live"
            ),
            row("cy@contoso.com", "deleted", "MemberRemoved", "revoked"),
        ]
    );
    let rows = leavers["rows"].as_array().unwrap();
    for leaver in rows {
        assert_eq!(leaver["membership"], "ended");
        assert_in_order(leaver);
    }
    assert_eq!(rows[0]["user_id"], json!(history.bob));
    assert_eq!(
        rows[0]["request_position"],
        history.app.last_position_of(&history.bob).await
    );
    assert_eq!(
        (
            rows[0]["sessions_revoked"].as_u64(),
            rows[0]["sessions_delay_seconds"].is_null()
        ),
        (Some(0), true)
    );
    assert_eq!(rows[1]["user_id"], json!(history.cy));
    assert_eq!(rows[1]["sessions_revoked"], 1);
    let requested_at =
        OffsetDateTime::parse(rows[1]["requested_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(history.february < requested_at && requested_at <= history.march);
    // The request id is the DELETE's, as the access records and the
    // identity provider's logs know it.
    let sql = history.app.sql().await;
    let request_id: String = sql
        .query_one(
            "select metadata->>'request_id' from events where position = $1",
            &[&rows[1]["request_position"].as_i64().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows[1]["request_id"], json!(request_id));

    // The same rows as CSV (RFC 4180), over HTTP and from the command line.
    let response = history
        .app
        .admin_request(
            Some(&history.owner),
            Method::GET,
            &format!(
                "/orgs/{}/audit/leavers?{}&format=csv",
                history.org_id,
                period(history.february, history.march)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("user_id,userName,request,requested_at,request_id,"),
        "{csv}"
    );
    assert!(
        lines[2].starts_with(&format!("{},cy@contoso.com,deleted,", history.cy)),
        "{csv}"
    );
    assert!(lines[2].contains(",revoked,1,"), "{csv}");
    let printed = history.cli(&[
        "leavers",
        "--since",
        &rfc3339(history.february),
        "--until",
        &rfc3339(history.march),
        "--format",
        "csv",
    ]);
    assert_eq!(printed, csv);
    history.app.stop().await;
}

#[tokio::test]
async fn auditors_read_the_history_members_are_refused_and_outsiders_see_nothing() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    for (email, role) in [
        ("audra@contoso.test", "auditor"),
        ("mo@contoso.test", "member"),
    ] {
        let (status, body) = app
            .admin_with(
                &owner,
                Method::POST,
                &format!("/orgs/{org_id}/members"),
                json!({"email": email, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let auditor = app.session_of("audra@contoso.test").await;
    let member = app.session_of("mo@contoso.test").await;
    let outsider = app.outsider_session("eve@fabrikam.test").await;
    let state = format!("/orgs/{org_id}/audit/state?at=2030-01-01T00:00:00Z");

    let (status, body) = app.admin(&auditor, Method::GET, &state).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["memberships"].as_array().unwrap().len(), 3);

    let head = app.log_head().await;
    let (status, body) = app.admin(&member, Method::GET, &state).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["required_role"], "auditor");
    let refused = app.events_of(org_id, head).await;
    assert_eq!(
        refused,
        [("CommandRefused".to_owned(), json!("audit state"), 403)]
    );

    let (status, _) = app.admin(&outsider, Method::GET, &state).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .admin(
            &auditor,
            Method::GET,
            &format!(
                "/orgs/{}/audit/state?at=2030-01-01T00:00:00Z",
                Uuid::now_v7()
            ),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Wrong or missing parameters say what is wanted.
    for (route, wanted) in [
        ("state", "at="),
        ("state?at=yesterday", "RFC 3339"),
        ("state?at=2026-01-01T00:00:00Z&position=3", "one of the two"),
        ("state?when=now", "at=T or position=N"),
        ("diff?from=2026-02-01T00:00:00Z", "to= are required"),
        (
            "diff?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "earlier instant first",
        ),
        (
            "leavers?since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z&format=xml",
            "format=csv",
        ),
    ] {
        let (status, body) = app
            .admin(
                &auditor,
                Method::GET,
                &format!("/orgs/{org_id}/audit/{route}"),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{route}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(wanted),
            "{route}: {body}"
        );
    }
    let (status, body) = app
        .admin(
            &auditor,
            Method::GET,
            &format!("/orgs/{org_id}/audit/users/{}/timeline", Uuid::now_v7()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    app.stop().await;
}
