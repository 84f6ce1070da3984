//! The organization at each instant of the scripted history, a user's
//! timeline, a group's members then, and the diffs between months.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{History, rfc3339, scripted_history};

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
