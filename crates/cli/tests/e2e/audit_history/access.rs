//! Who may read the history, and what a wrong question is told.

use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::spawn_app;

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
