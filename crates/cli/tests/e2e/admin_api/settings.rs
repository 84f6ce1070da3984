//! Provisioning settings and roles over the admin API: what an owner sets
//! before pointing the identity provider at the Tenant URL.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_owner_reads_the_tenant_url_turns_scim_off_and_on_and_picks_a_custom_default_role() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let settings = format!("/orgs/{org_id}/provisioning");

    let (status, shown) = app.admin(&owner, Method::GET, &settings).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(
        shown,
        json!({
            "scim_enabled": true,
            "default_role": "member",
            "tenant_url": app.base,
        })
    );
    // Behind a proxy, the URL the identity provider reaches.
    let (_, proxied) = app
        .send(
            app.admin_request(Some(&owner), Method::GET, &settings)
                .header("x-forwarded-host", "rollcall.contoso.com")
                .header("x-forwarded-proto", "https"),
        )
        .await;
    assert_eq!(
        proxied["tenant_url"],
        "https://rollcall.contoso.com/scim_v2"
    );

    let (status, off) = app
        .admin_with(
            &owner,
            Method::PUT,
            &settings,
            json!({"scim_enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{off}");
    assert_eq!(off["scim_enabled"], false);
    assert_eq!(off["default_role"], "member");
    let (status, body) = app.get("/Users?count=1").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, refused) = app
        .admin_with(
            &owner,
            Method::PUT,
            &settings,
            json!({"default_role": "owner"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("cannot be owner"),
        "{refused}"
    );

    let roles = format!("/orgs/{org_id}/roles");
    let (status, added) = app
        .admin_with(&owner, Method::POST, &roles, json!({"role": "engineer"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(
        added,
        json!({"role": "engineer", "built_in": false, "group_ids": []})
    );
    let (status, again) = app
        .admin_with(&owner, Method::POST, &roles, json!({"role": "engineer"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, bad) = app
        .admin_with(&owner, Method::POST, &roles, json!({"role": "Not A Role"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (status, listed) = app.admin(&owner, Method::GET, &roles).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed,
        json!([
            {"role": "owner", "built_in": true, "group_ids": []},
            {"role": "member", "built_in": true, "group_ids": []},
            {"role": "auditor", "built_in": true, "group_ids": []},
            {"role": "engineer", "built_in": false, "group_ids": []},
        ])
    );

    // The settings as read may be sent back whole, with the change.
    let mut on = shown.clone();
    on["default_role"] = json!("engineer");
    let (status, now) = app.admin_with(&owner, Method::PUT, &settings, on).await;
    assert_eq!(status, StatusCode::OK, "{now}");
    assert_eq!(now["scim_enabled"], true);
    assert_eq!(now["default_role"], "engineer");
    let (status, _) = app.get("/Users?count=1").await;
    assert_eq!(status, StatusCode::OK);
    let (status, typo) = app
        .admin_with(
            &owner,
            Method::PUT,
            &settings,
            json!({"scimEnabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{typo}");

    let events = app.organization_events(org_id).await;
    assert!(
        events.ends_with(&[
            "ScimDisabled".into(),
            "CommandRefused".into(),
            "RoleAdded".into(),
            "CommandRefused".into(),
            "CommandRefused".into(),
            "ScimEnabled".into(),
        ]),
        "{events:?}"
    );
    app.stop().await;
}
