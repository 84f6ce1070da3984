//! Verified domains over the admin API, the TXT record looked up through a
//! nameserver the test runs on loopback (given to the stack as
//! `ROLLCALL_DNS_SERVER` would be).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::domains::TestNameserver;
use crate::helpers::{Options, spawn_app_with};

#[tokio::test]
async fn an_owner_adds_a_domain_verifies_it_through_dns_and_drops_it() {
    let nameserver = TestNameserver::start();
    let app = spawn_app_with(Options {
        dns_server: Some(nameserver.address),
        ..Options::default()
    })
    .await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let domains = format!("/orgs/{org_id}/domains");

    let (status, added) = app
        .admin_with(
            &owner,
            Method::POST,
            &domains,
            json!({"domain": "Contoso.COM"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let keys: Vec<&str> = added
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["id", "domain", "txt_name", "txt_value", "state"]);
    assert_eq!(added["domain"], "contoso.com");
    assert_eq!(added["state"], "pending");
    assert_eq!(added["txt_name"], "_rollcall-challenge.contoso.com");
    let id = added["id"].as_str().unwrap();
    let verify = format!("{domains}/{id}/verify");

    // Nothing published yet: 409 saying so.
    let (status, refused) = app.admin(&owner, Method::POST, &verify).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("no TXT record at _rollcall-challenge.contoso.com"),
        "{refused}"
    );
    // Another value: 409 naming it.
    nameserver.set_txt("_rollcall-challenge.contoso.com", &["an old challenge"]);
    let (status, refused) = app.admin(&owner, Method::POST, &verify).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("an old challenge"),
        "{refused}"
    );

    nameserver.set_txt(
        "_rollcall-challenge.contoso.com",
        &[added["txt_value"].as_str().unwrap()],
    );
    let (status, verified) = app.admin(&owner, Method::POST, &verify).await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["state"], "verified");
    assert_eq!(verified["id"], added["id"]);
    assert!(
        store::is_domain_verified(app.pool(), org_id, "contoso.com")
            .await
            .unwrap()
    );
    let (status, listed) = app.admin(&owner, Method::GET, &domains).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!([verified]));

    let (status, refused) = app
        .admin_with(
            &owner,
            Method::POST,
            &domains,
            json!({"domain": "gmail.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    let (status, _) = app
        .admin(&owner, Method::DELETE, &format!("{domains}/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        !store::is_domain_verified(app.pool(), org_id, "contoso.com")
            .await
            .unwrap()
    );
    let (status, body) = app.admin(&owner, Method::POST, &verify).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, listed) = app.admin(&owner, Method::GET, &domains).await;
    assert_eq!(listed, json!([]));

    let events = app.organization_events(org_id).await;
    assert!(
        events.ends_with(&[
            "DomainAdded".into(),
            "CommandRefused".into(),
            "CommandRefused".into(),
            "DomainVerified".into(),
            "CommandRefused".into(),
            "DomainDropped".into(),
            "CommandRefused".into(),
        ]),
        "{events:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_nameserver_that_does_not_answer_is_503_and_records_nothing() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let app = spawn_app_with(Options {
        dns_server: Some(silent.local_addr().unwrap()),
        ..Options::default()
    })
    .await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let (_, added) = app
        .admin_with(
            &owner,
            Method::POST,
            &format!("/orgs/{org_id}/domains"),
            json!({"domain": "contoso.com"}),
        )
        .await;
    let before = app.organization_events(org_id).await;
    let (status, body) = app
        .admin(
            &owner,
            Method::POST,
            &format!(
                "/orgs/{org_id}/domains/{}/verify",
                added["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "dns_unavailable");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&silent.local_addr().unwrap().to_string()),
        "{body}"
    );
    assert_eq!(app.organization_events(org_id).await, before);
    app.stop().await;
}
