//! `/api/v1/account`: a person's own account and memberships, its email and
//! password; held by the identity provider of an organization that verified
//! the email's domain.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::admin_api::{OWNER, PASSWORD};
use crate::helpers::members::verify_domain;
use crate::helpers::{entra_user, spawn_app};

/// The keys of a JSON object, in order.
fn keys(object: &Value) -> Vec<&str> {
    object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn the_owner_sees_its_membership_and_changes_its_own_email_and_password() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let owner_id = app.account_id(OWNER).await;

    let (status, account) = app.admin(&owner, Method::GET, "/account").await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(
        keys(&account),
        ["id", "email", "first_name", "family_name", "memberships"]
    );
    assert_eq!(account["id"], owner_id.to_string());
    assert_eq!(account["email"], OWNER);
    assert_eq!(
        account["memberships"],
        json!([{
            "org_id": org_id,
            "org_name": "Contoso",
            "role": "owner",
            "source": "manual",
            "scim_managed": false,
            "state": "active",
        }])
    );
    let head = app.log_head().await;

    // Another account's email: 409, and nothing changed.
    app.outsider_session("eve@elsewhere.test").await;
    let (status, taken) = app
        .admin_with(
            &owner,
            Method::PUT,
            "/account/email",
            json!({"email": "EVE@elsewhere.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{taken}");
    assert_eq!(taken["error"], "conflict");
    let (status, bad) = app
        .admin_with(
            &owner,
            Method::PUT,
            "/account/email",
            json!({"email": "not an email"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    let (status, changed) = app
        .admin_with(
            &owner,
            Method::PUT,
            "/account/email",
            json!({"email": "boss@contoso.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["email"], "boss@contoso.test");
    assert_eq!(changed["memberships"], account["memberships"]);
    assert_eq!(app.account_id("boss@contoso.test").await, owner_id);

    // A wrong current password: 400; then the change, which the next login
    // needs.
    let (status, wrong) = app
        .admin_with(
            &owner,
            Method::PUT,
            "/account/password",
            json!({"current_password": "not it", "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}");
    assert!(
        wrong["message"]
            .as_str()
            .unwrap()
            .contains("current password"),
        "{wrong}"
    );
    let (status, none) = app
        .admin_with(
            &owner,
            Method::PUT,
            "/account/password",
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{none}");
    let (status, _) = app.log_in("boss@contoso.test", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .log_in("boss@contoso.test", "a brand new passphrase")
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Each change and refusal is on the account's stream, with the status
    // it was answered with.
    let events: Vec<(String, Value, i64)> = app
        .events_of(owner_id, head)
        .await
        .into_iter()
        .filter(|(event, ..)| event != "SessionStarted")
        .collect();
    assert_eq!(
        events,
        [
            ("CommandRefused".into(), json!("account email"), 409),
            ("CommandRefused".into(), json!("account email"), 400),
            ("AccountEmailChanged".into(), Value::Null, 200),
            ("CommandRefused".into(), json!("account password"), 400),
            ("AccountPasswordSet".into(), Value::Null, 204),
            ("CommandRefused".into(), json!("session start"), 401),
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn in_a_verified_domain_a_scim_members_email_and_password_are_its_identity_providers() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    verify_domain(&app, "fabrikam.test").await;
    let (status, user) = app.create_user(entra_user("eve@fabrikam.test")).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    app.listed_member_until(&owner, org_id, "eve@fabrikam.test", |member| {
        member["locks"] == json!(["leave", "email", "password"])
    })
    .await;
    let eve = app.session_of("eve@fabrikam.test").await;
    let eve_id = app.account_id("eve@fabrikam.test").await;
    let head = app.log_head().await;

    let (status, account) = app.admin(&eve, Method::GET, "/account").await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["first_name"], "Test");
    assert_eq!(account["family_name"], "User");
    let membership = &account["memberships"][0];
    assert_eq!(membership["org_name"], "Contoso");
    assert_eq!(membership["source"], "scim");
    assert_eq!(membership["role"], "member");
    assert_eq!(membership["scim_managed"], true);

    for (path, body) in [
        ("/account/email", json!({"email": "eve@home.test"})),
        (
            "/account/password",
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        ),
    ] {
        let (status, refused) = app.admin_with(&eve, Method::PUT, path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {refused}");
        assert_eq!(refused["error"], "scim_managed", "{path}");
        let message = refused["message"].as_str().unwrap();
        assert!(message.contains("Contoso"), "{message}");
        assert!(message.contains("identity administrator"), "{message}");
    }
    let (status, _) = app.log_in("eve@fabrikam.test", PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED, "the password stayed");
    assert_eq!(app.account_id("eve@fabrikam.test").await, eve_id);
    let refused: Vec<(String, Value, i64)> = app
        .events_of(eve_id, head)
        .await
        .into_iter()
        .filter(|(event, ..)| event == "CommandRefused")
        .collect();
    assert_eq!(
        refused,
        [
            ("CommandRefused".into(), json!("account email"), 403),
            ("CommandRefused".into(), json!("account password"), 403),
        ]
    );
    app.stop().await;
}
