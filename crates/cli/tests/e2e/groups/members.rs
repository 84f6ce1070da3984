//! A group's members: every PATCH form Entra, Okta and the validators send,
//! no-ops and atomicity, cascades when a member is deleted, tenancy, and
//! member changes under concurrency and behind a lagging projector.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::groups::{ids, member_values};
use crate::helpers::{Options, spawn_app, spawn_app_with};

#[tokio::test]
async fn removing_one_member_of_three_leaves_the_other_two() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let c = app.provision("c@contoso.com").await;
    let group = app.group_of("Three", &[&a, &b, &c]).await;
    // Entra's form: Remove with path "members" and the leaving member as value.
    let (status, body) = app
        .patch_group(
            &group,
            json!([{"op": "Remove", "path": "members", "value": [{"value": a}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.member_ids(&group).await, ids(&[&b, &c]));
    app.stop().await;
}

#[tokio::test]
async fn every_entra_member_form_does_what_it_says() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let c = app.provision("c@contoso.com").await;
    let group = app.group_of("Forms", &[]).await;

    // Add members, several values, "$ref": null.
    let (status, _) = app
        .patch_group(
            &group,
            json!([{"op": "Add", "path": "members", "value": member_values(&[&a, &b, &c])}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.member_ids(&group).await, ids(&[&a, &b, &c]));

    // members[value eq "id"] removal.
    let (status, _) = app
        .patch_group(
            &group,
            json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.member_ids(&group).await, ids(&[&a, &c]));

    // Path-less replace of displayName and externalId.
    let (status, _) = app
        .patch_group(
            &group,
            json!([{"op": "Replace", "value": {"displayName": "Renamed", "externalId": "ext-9"}}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, renamed) = app.get_group(&group).await;
    assert_eq!(
        (
            renamed["displayName"].clone(),
            renamed["externalId"].clone()
        ),
        (json!("Renamed"), json!("ext-9"))
    );
    assert_eq!(
        app.member_ids(&group).await,
        ids(&[&a, &c]),
        "a rename keeps the members"
    );

    // The validator's replace members, then Okta's empty push.
    let (status, _) = app
        .patch_group(
            &group,
            json!([{"op": "replace", "path": "members", "value": member_values(&[&b])}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.member_ids(&group).await, ids(&[&b]));
    let (status, _) = app
        .patch_group(
            &group,
            json!([{"op": "replace", "path": "members", "value": []}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.member_ids(&group).await, BTreeSet::new());
    app.stop().await;
}

#[tokio::test]
async fn adding_a_present_member_or_removing_an_absent_one_records_nothing() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let group = app.group_of("Idempotent", &[&a]).await;
    // The linker has made a and b members: nothing else appends now.
    app.wait_for_projector(Duration::from_secs(10)).await;
    let before = app.log_head().await;
    let (status, _) = app
        .patch_group(
            &group,
            json!([{"op": "add", "path": "members", "value": member_values(&[&a])},
               {"op": "remove", "path": "members", "value": member_values(&[&b])}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.log_head().await, before, "no event for a no-op");
    assert_eq!(app.member_ids(&group).await, ids(&[&a]));
    app.stop().await;
}

#[tokio::test]
async fn a_request_with_one_bad_operation_changes_nothing() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let group = app.group_of("Atomic", &[]).await;
    let stranger = Uuid::new_v4().to_string();
    app.wait_for_projector(Duration::from_secs(10)).await;
    let before = app.log_head().await;
    let (status, body) = app
        .patch_group(
            &group,
            json!([{"op": "replace", "path": "displayName", "value": "Changed"},
               {"op": "add", "path": "members", "value": member_values(&[&a, &stranger])}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidValue");
    assert!(
        body["detail"].as_str().unwrap().contains(&stranger),
        "{body}"
    );
    assert_eq!(app.log_head().await, before);
    let (_, unchanged) = app.get_group(&group).await;
    assert_eq!(unchanged["displayName"], "Atomic");
    assert_eq!(unchanged["members"], json!([]));

    let (status, body) = app
        .create_group(json!({"displayName": "Bad", "members": [{"value": "not-an-id"}]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("not-an-id"));
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_user_or_a_group_removes_its_memberships() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let inner = app.group_of("Inner", &[&a]).await;
    let outer = app.group_of("Outer", &[&b, &inner]).await;

    let (status, _) = app.delete_user(&b).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.member_ids(&outer).await, ids(&[&inner]));

    let (status, _) = app.delete_group(&inner).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.member_ids(&outer).await, BTreeSet::new());
    let (status, body) = app.get_group(&inner).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = app
        .patch_group(
            &inner,
            json!([{"op": "add", "path": "members", "value": member_values(&[&a])}]),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_member_patches_all_land() {
    let app = spawn_app().await;
    let group = app.group_of("Busy", &[]).await;
    let mut users = Vec::new();
    for n in 0..24 {
        users.push(app.provision(&format!("u{n}@contoso.com")).await);
    }
    let patches = users.iter().map(|user| {
        let (app, group) = (&app, &group);
        async move {
            app.patch_group(
                group,
                json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
            )
            .await
        }
    });
    let rename = app.patch_group(
        &group,
        json!([{"op": "replace", "path": "displayName", "value": "Busy Renamed"}]),
    );
    let (answers, (renamed, _)) = futures::join!(futures::future::join_all(patches), rename);
    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == StatusCode::NO_CONTENT),
        "{answers:?}"
    );
    assert_eq!(renamed, StatusCode::NO_CONTENT);
    let expected: BTreeSet<String> = users.iter().cloned().collect();
    assert_eq!(app.member_ids(&group).await, expected);
    let (_, body) = app.get_group(&group).await;
    assert_eq!(body["displayName"], "Busy Renamed");

    // And removals of different members concurrently.
    let removals = users[..12].iter().map(|user| {
        let (app, group) = (&app, &group);
        async move {
            app.patch_group(
                group,
                json!([{"op": "remove", "path": "members", "value": [{"value": user}]}]),
            )
            .await
        }
    });
    futures::future::join_all(removals).await;
    let remaining: BTreeSet<String> = users[12..].iter().cloned().collect();
    assert_eq!(app.member_ids(&group).await, remaining);
    let verdict = rollcall::verify::verify(app.pool()).await.unwrap();
    assert!(
        matches!(verdict, rollcall::verify::Verdict::Sound { .. }),
        "{verdict:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn another_organizations_user_cannot_be_a_member() {
    let app = spawn_app().await;
    let other_token = app
        .other_organization("Fabrikam", "owner@fabrikam.test")
        .await;
    let (status, theirs) = app
        .send(
            app.client
                .post(format!("{}/Users", app.base))
                .bearer_auth(&other_token)
                .header("content-type", "application/scim+json")
                .body(json!({"userName": "eve@fabrikam.test"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    let eve = theirs["id"].as_str().unwrap().to_owned();

    let group = app.group_of("Ours", &[]).await;
    let (status, body) = app
        .patch_group(
            &group,
            json!([{"op": "add", "path": "members", "value": [{"value": eve}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidValue");
    assert!(body["detail"].as_str().unwrap().contains(&eve), "{body}");
    // Nor can the other organization see or change our group.
    let (status, _) = app
        .send(
            app.client
                .get(format!("{}/Groups/{group}", app.base))
                .bearer_auth(&other_token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_member_change_is_never_judged_by_read_tables_that_lag() {
    let app = spawn_app_with(Options {
        read_your_writes_wait: std::time::Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let ada = app.provision("ada@contoso.com").await;
    let group = app.group_of("Lagging", &[]).await;
    app.wait_for_projector(std::time::Duration::from_secs(10))
        .await;

    // Holding the projector's checkpoint row stops every fold: the read
    // tables lag behind the log, as they would behind a slow projector.
    let holding = app.hold_projector().await;
    let add = json!([{"op": "add", "path": "members", "value": [{"value": ada}]}]);
    let (status, body) = app.patch_group(&group, add).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The add is in the log but not in the membership table: deciding the
    // removal on that table would call it a no-op and lose it.
    let remove = json!([{"op": "remove", "path": "members", "value": [{"value": ada}]}]);
    let (status, body) = app.patch_group(&group, remove.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    holding.release().await;
    app.wait_for_projector(std::time::Duration::from_secs(30))
        .await;
    let (status, body) = app.patch_group(&group, remove).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.member_ids(&group).await, BTreeSet::new());
    app.stop().await;
}

#[tokio::test]
async fn a_membership_the_log_does_not_hold_fails_verify() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let group = app.group_of("Audited", &[&a]).await;
    app.wait_for_projector(std::time::Duration::from_secs(10))
        .await;
    let sound = rollcall::verify::verify(app.pool()).await.unwrap();
    assert!(
        matches!(sound, rollcall::verify::Verdict::Sound { .. }),
        "{sound:?}"
    );
    app.sql()
        .await
        .execute(
            "insert into scim_group_members (org_id, group_id, member_id, member_type) \
             select org_id, group_id, $2::text::uuid, 'User' from scim_groups where group_id = $1::text::uuid",
            &[&group, &b],
        )
        .await
        .unwrap();
    match rollcall::verify::verify(app.pool()).await.unwrap() {
        rollcall::verify::Verdict::Broken { reason, .. } => {
            assert!(reason.contains("memberships"), "{reason}")
        }
        sound => panic!("a forged membership passed verify: {sound:?}"),
    }
    app.stop().await;
}
