//! Owners only: a member with another role gets 403 with the role it
//! needs, an account that is not a member of the organization (or no
//! longer is) 404 on every route under `/orgs/{org}`, and another
//! organization's ids are 404 to an owner.

use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{spawn_app, test_meta};

/// Every owners-only route of `org_id`, with ids of its own where a route
/// takes one (`id`).
fn owners_routes(org_id: Uuid, id: Uuid) -> Vec<(Method, String)> {
    let org = format!("/orgs/{org_id}");
    vec![
        (Method::GET, format!("{org}/provisioning")),
        (Method::PUT, format!("{org}/provisioning")),
        (Method::POST, format!("{org}/provisioning/tokens")),
        (Method::GET, format!("{org}/provisioning/tokens")),
        (Method::DELETE, format!("{org}/provisioning/tokens/{id}")),
        (Method::GET, format!("{org}/roles")),
        (Method::POST, format!("{org}/roles")),
        (Method::POST, format!("{org}/domains")),
        (Method::GET, format!("{org}/domains")),
        (Method::POST, format!("{org}/domains/{id}/verify")),
        (Method::DELETE, format!("{org}/domains/{id}")),
        (Method::PUT, format!("{org}/roles/auditor/groups")),
        (Method::GET, format!("{org}/members")),
        (Method::POST, format!("{org}/members")),
        (Method::PUT, format!("{org}/members/{id}")),
        (Method::DELETE, format!("{org}/members/{id}")),
        (Method::POST, format!("{org}/users/{id}/erasure")),
    ]
}

#[tokio::test]
async fn an_account_that_is_not_a_member_gets_404_everywhere_and_it_is_recorded_as_its_own() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let token_id = admin::tokens::list(app.pool(), org_id, time::OffsetDateTime::now_utc())
        .await
        .unwrap()[0]
        .id;
    let outsider = app.outsider_session("eve@elsewhere.test").await;
    let eve = app.account_id("eve@elsewhere.test").await;
    let before = app.organization_events(org_id).await;

    let routes = owners_routes(org_id, token_id);
    for (method, path) in &routes {
        let (status, body) = app
            .admin_with(&outsider, method.clone(), path, json!({"role": "x"}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["error"], "not_found", "{method} {path}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(&org_id.to_string()),
            "{body}"
        );
    }
    // An organization that does not exist answers the same.
    let (status, _) = app
        .admin(
            &outsider,
            Method::GET,
            &format!("/orgs/{}/provisioning", Uuid::now_v7()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nothing reached the organization's stream; each attempt is a refusal
    // in the outsider's own.
    assert_eq!(app.organization_events(org_id).await, before);
    let refused: Vec<(String, String, i32)> = app
        .sql()
        .await
        .query(
            "select payload->>'command', metadata->>'method', (metadata->>'status')::int \
             from events where stream_id = $1 and event_type = 'CommandRefused' order by position",
            &[&eve],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(refused.len(), routes.len() + 1);
    assert_eq!(
        refused[0],
        ("provisioning show".to_owned(), "GET".to_owned(), 404)
    );
    assert_eq!(
        refused[4],
        ("token revoke".to_owned(), "DELETE".to_owned(), 404)
    );
    let (_, _, meta) = app.last_event_of(eve).await;
    assert_eq!(meta["account_id"], eve.to_string());
    app.stop().await;
}

#[tokio::test]
async fn a_member_of_another_role_gets_403_naming_the_owner_role_on_every_route() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let stack = app.stack.as_ref().unwrap();
    let (meta, email) = (test_meta(), "ana@contoso.test");
    admin::members::add(
        &stack.pool,
        &stack.appender,
        org_id,
        &meta,
        email,
        "auditor",
    )
    .await
    .unwrap();
    let auditor = app.session_of(email).await;
    let ana = app.account_id(email).await;
    let before = app.organization_events(org_id).await.len();

    let routes = owners_routes(org_id, Uuid::now_v7());
    for (method, path) in &routes {
        let (status, body) = app
            .admin_with(&auditor, method.clone(), path, json!({"role": "x"}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(body["error"], "forbidden");
        assert_eq!(body["required_role"], "owner");
        assert!(
            body["message"].as_str().unwrap().contains("auditor"),
            "{body}"
        );
    }
    // Each attempt is a refusal in the organization's stream, for its
    // auditors: who tried what.
    let refused: Vec<(String, String, String, i32)> = app
        .sql()
        .await
        .query(
            "select payload->>'command', payload->>'error', metadata->>'account_id', \
             (metadata->>'status')::int from events where stream_id = $1 \
             and event_type = 'CommandRefused' order by position",
            &[&org_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    assert_eq!(
        app.organization_events(org_id).await.len(),
        before + routes.len()
    );
    assert_eq!(refused.len(), routes.len());
    assert_eq!(
        refused[2],
        (
            "token issue".to_owned(),
            "forbidden".to_owned(),
            ana.to_string(),
            403
        )
    );

    // Removed, the account is no member any more: 404.
    let owner_meta = test_meta();
    admin::members::remove(&stack.pool, &stack.appender, org_id, &owner_meta, ana)
        .await
        .unwrap();
    let (status, body) = app
        .admin(
            &auditor,
            Method::GET,
            &format!("/orgs/{org_id}/provisioning"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn another_organizations_token_and_domain_ids_are_404_to_an_owner() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let stack = app.stack.as_ref().unwrap();
    let fabrikam_token = app.other_organization("Fabrikam", "o@fabrikam.test").await;
    let fabrikam = store::find_organization(app.pool(), "Fabrikam")
        .await
        .unwrap()
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let their_token = admin::tokens::list(app.pool(), fabrikam, now)
        .await
        .unwrap()[0]
        .id;
    let their_domain = admin::domains::add(
        &stack.pool,
        &stack.appender,
        fabrikam,
        &test_meta(),
        "fabrikam.com",
    )
    .await
    .unwrap()
    .id;
    let owner = app.owner_session().await;

    let org = format!("/orgs/{org_id}");
    for (method, path) in [
        (
            Method::DELETE,
            format!("{org}/provisioning/tokens/{their_token}"),
        ),
        (Method::POST, format!("{org}/domains/{their_domain}/verify")),
        (Method::DELETE, format!("{org}/domains/{their_domain}")),
    ] {
        let (status, body) = app.admin(&owner, method.clone(), &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["error"], "not_found");
    }
    // Their organization itself is not Contoso's owner's either.
    let (status, _) = app
        .admin(
            &owner,
            Method::GET,
            &format!("/orgs/{fabrikam}/provisioning/tokens"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Fabrikam's token still works, and its domain is still there.
    let (status, _) = app
        .send(app.request_as(&fabrikam_token, Method::GET, "/Users?count=1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        admin::domains::list(app.pool(), fabrikam)
            .await
            .unwrap()
            .len(),
        1
    );
    // Contoso's owner's attempts are refusals in Contoso's stream.
    let (event, payload, meta) = app.last_event_of(org_id).await;
    assert_eq!(event, "CommandRefused");
    assert_eq!(payload["command"], "domain drop");
    assert_eq!(meta["status"], 404);
    app.stop().await;
}
