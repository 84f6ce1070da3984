//! Issue 10: an owner turns SCIM provisioning off and on and picks the
//! default role; the identity provider's token follows at once.

use std::time::{Duration, Instant};

use admin::provisioning;
use domain::provisioning::SettingsChange;
use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, spawn_app, test_meta};

async fn list_users(app: &TestApp) -> (StatusCode, serde_json::Value) {
    app.send(app.request_as(&app.token, Method::GET, "/Users?count=1"))
        .await
}

/// Polls until the SCIM answer has `status`, failing after 5 s (the API
/// learns of a switch within a second; its token cache keeps 30 s).
async fn until_status(app: &TestApp, status: StatusCode) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (answered, body) = list_users(app).await;
        if answered == status {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still {answered}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn turning_scim_off_refuses_the_organizations_tokens_until_it_is_on_again() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let (status, _) = list_users(&app).await;
    assert_eq!(status, StatusCode::OK, "the token is in use and cached");
    let other = app.other_organization("Fabrikam", "o@fabrikam.test").await;

    let off = SettingsChange {
        scim_enabled: Some(false),
        ..SettingsChange::default()
    };
    let view = provisioning::set(&stack.pool, &stack.appender, org_id, &test_meta(), off)
        .await
        .unwrap()
        .settings;
    assert!(!view.scim_enabled);
    let refused = until_status(&app, StatusCode::FORBIDDEN).await;
    assert_eq!(
        refused["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert!(
        refused["detail"].as_str().unwrap().contains("disabled"),
        "{refused}"
    );
    // Another organization's provisioning goes on.
    let (status, _) = app
        .send(app.request_as(&other, Method::GET, "/Users?count=1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The refused request is on the record, with its organization (the
    // access log's writer records it a moment after the answer).
    let started = Instant::now();
    loop {
        let recorded: i64 = app
            .sql()
            .await
            .query_one(
                "select count(*) from access_log where org_id = $1 and status = 403",
                &[&org_id],
            )
            .await
            .unwrap()
            .get(0);
        if recorded >= 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the refused request was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let on = SettingsChange {
        scim_enabled: Some(true),
        ..SettingsChange::default()
    };
    let view = provisioning::set(&stack.pool, &stack.appender, org_id, &test_meta(), on)
        .await
        .unwrap()
        .settings;
    assert!(view.scim_enabled);
    assert_eq!(view.default_role, "member", "the default role survives");
    until_status(&app, StatusCode::OK).await;
    app.stop().await;
}

#[tokio::test]
async fn the_default_role_is_never_owner_and_a_custom_role_may_be_it() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let owner = SettingsChange {
        default_role: Some("owner".into()),
        ..SettingsChange::default()
    };
    let refused = provisioning::set(&stack.pool, &stack.appender, org_id, &test_meta(), owner)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("cannot be owner"), "{refused}");
    let last: (String, String) = app
        .sql()
        .await
        .query_one(
            "select event_type, payload->>'command' from events where stream_id = $1 \
             order by position desc limit 1",
            &[&org_id],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!(
        last,
        ("CommandRefused".to_owned(), "provisioning set".to_owned())
    );

    provisioning::add_role(
        &stack.pool,
        &stack.appender,
        org_id,
        &test_meta(),
        "engineer",
    )
    .await
    .unwrap();
    let engineer = SettingsChange {
        default_role: Some("engineer".into()),
        ..SettingsChange::default()
    };
    let view = provisioning::set(&stack.pool, &stack.appender, org_id, &test_meta(), engineer)
        .await
        .unwrap()
        .settings;
    assert_eq!(view.default_role, "engineer");
    assert!(view.scim_enabled);
    assert_eq!(
        provisioning::roles(&stack.pool, org_id).await.unwrap(),
        ["owner", "member", "auditor", "engineer"]
    );
    app.stop().await;
}
