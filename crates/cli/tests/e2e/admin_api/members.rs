//! An organization's members over the admin API: SCIM members listed with
//! their locks, manual members added and given roles by owners, members
//! leaving on their own (unless the identity provider manages them), the
//! last active owner kept, and SCIM groups that give roles.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::admin_api::OWNER;
use crate::helpers::{entra_user, spawn_app};

#[tokio::test]
async fn a_scim_user_is_a_member_with_the_default_role_and_may_not_leave() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let (status, user) = app.create_user(entra_user("di@fabrikam.test")).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");

    let member = app
        .listed_member_until(&owner, org_id, "di@fabrikam.test", |member| {
            member["locks"] != json!([])
        })
        .await;
    let di = app.account_id("di@fabrikam.test").await;
    assert_eq!(
        member,
        json!({
            "account_id": di,
            "email": "di@fabrikam.test",
            "first_name": "Test",
            "family_name": "User",
            "role": "member",
            "roles": ["member"],
            "source": "scim",
            "scim_managed": true,
            "locks": ["leave"],
            "state": "active",
        })
    );

    let session = app.session_of("di@fabrikam.test").await;
    let head = app.log_head().await;
    let (status, refused) = app
        .admin(
            &session,
            Method::DELETE,
            &format!("/orgs/{org_id}/membership"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"], "scim_managed");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("Contoso"), "{message}");
    assert!(message.contains("identity administrator"), "{message}");
    // Still a member; the attempt is on the membership's stream, for the
    // organization's auditors.
    app.listed_member_until(&owner, org_id, "di@fabrikam.test", |member| {
        member["state"] == "active"
    })
    .await;
    assert_eq!(
        app.events_of(di, head).await,
        [("CommandRefused".into(), json!("leave"), 403)]
    );

    // A member of another role may not see or change the members.
    let (status, forbidden) = app
        .admin(&session, Method::GET, &format!("/orgs/{org_id}/members"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{forbidden}");
    assert_eq!(forbidden["error"], "forbidden");
    assert_eq!(forbidden["required_role"], "owner");
    app.stop().await;
}

#[tokio::test]
async fn an_owner_adds_a_manual_member_changes_its_role_and_the_member_may_leave() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let members = format!("/orgs/{org_id}/members");

    // An unknown role is refused before any account is made.
    let (status, refused) = app
        .admin_with(
            &owner,
            Method::POST,
            &members,
            json!({"email": "ana@contoso.test", "role": "boss"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        admin::accounts::find_by_email(app.pool(), "ana@contoso.test")
            .await
            .unwrap()
            .is_none()
    );

    let (status, added) = app
        .admin_with(
            &owner,
            Method::POST,
            &members,
            json!({"email": "ana@contoso.test", "role": "auditor"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let ana = app.account_id("ana@contoso.test").await;
    assert_eq!(
        added,
        json!({
            "account_id": ana,
            "email": "ana@contoso.test",
            "first_name": null,
            "family_name": null,
            "role": "auditor",
            "roles": ["auditor"],
            "source": "manual",
            "scim_managed": false,
            "locks": [],
            "state": "active",
        })
    );
    // Made without a password: no login until one is set.
    let (status, _) = app
        .log_in("ana@contoso.test", crate::helpers::admin_api::PASSWORD)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, again) = app
        .admin_with(
            &owner,
            Method::POST,
            &members,
            json!({"email": "ANA@contoso.test", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    let (status, changed) = app
        .admin_with(
            &owner,
            Method::PUT,
            &format!("{members}/{ana}"),
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["role"], "member");
    assert_eq!(changed["roles"], json!(["member"]));

    // The manual member leaves on their own; then they are no member.
    let session = app.session_of("ana@contoso.test").await;
    let leave = format!("/orgs/{org_id}/membership");
    let (status, left) = app.admin(&session, Method::DELETE, &leave).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{left}");
    let (_, account) = app.admin(&session, Method::GET, "/account").await;
    assert_eq!(account["memberships"][0]["state"], "removed");
    let (status, gone) = app.admin(&session, Method::DELETE, &leave).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    assert_eq!(gone["error"], "not_found");
    // An organization that does not exist answers the same, and its id
    // names no keyspace in the log.
    let nowhere = Uuid::now_v7();
    let (status, _) = app
        .admin(
            &session,
            Method::DELETE,
            &format!("/orgs/{nowhere}/membership"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let written: i64 = app
        .sql()
        .await
        .query_one("select count(*) from events where org_id = $1", &[&nowhere])
        .await
        .unwrap()
        .get(0);
    assert_eq!(written, 0);

    // On the membership's stream: each change and refusal with its status;
    // the last attempt, by no member, on the account's own stream.
    let membership: Vec<(String, Value, i64)> = app
        .sql()
        .await
        .query(
            "select event_type, payload::text, (metadata->>'status')::bigint from events \
             where org_id = $1 and stream_id = $2 order by position",
            &[&org_id, &ana],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let payload: Value = serde_json::from_str(row.get(1)).unwrap();
            (row.get(0), payload["by"].clone(), row.get(2))
        })
        .collect();
    assert_eq!(
        membership,
        [
            ("MemberAdded".into(), Value::Null, 201),
            ("CommandRefused".into(), Value::Null, 409),
            ("MemberRoleChanged".into(), Value::Null, 200),
            ("MemberRemoved".into(), json!("self"), 204),
        ]
    );
    let (event, payload, meta) = app.last_event_of(ana).await;
    assert_eq!(
        (event.as_str(), &payload["command"], &meta["status"]),
        ("CommandRefused", &json!("leave"), &json!(404))
    );
    let in_own_stream: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from events where org_id = $1 and stream_id = $2 \
             and event_type = 'CommandRefused' and payload->>'command' = 'leave'",
            &[&domain::account::ACCOUNTS, &ana],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_own_stream, 2, "both attempts by no member");
    app.stop().await;
}

#[tokio::test]
async fn the_last_active_owner_stays_and_another_organizations_account_is_404() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let owner_id = app.account_id(OWNER).await;
    let member = format!("/orgs/{org_id}/members/{owner_id}");
    let leave = format!("/orgs/{org_id}/membership");

    for (method, path, body) in [
        (Method::DELETE, &member, Value::Null),
        (Method::PUT, &member, json!({"role": "member"})),
        (Method::DELETE, &leave, Value::Null),
    ] {
        let (status, refused) = app.admin_with(&owner, method.clone(), path, body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {path}: {refused}"
        );
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("assign another owner first"),
            "{refused}"
        );
    }
    let refused: Vec<(String, Value, i64)> = app
        .sql()
        .await
        .query(
            "select event_type, payload::text, (metadata->>'status')::bigint from events \
             where org_id = $1 and stream_id = $2 order by position",
            &[&org_id, &owner_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let payload: Value = serde_json::from_str(row.get(1)).unwrap();
            (row.get(0), payload["command"].clone(), row.get(2))
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("CommandRefused".into(), json!("member remove"), 400),
            ("CommandRefused".into(), json!("member role"), 400),
            ("CommandRefused".into(), json!("leave"), 400),
        ]
    );

    // Another organization's owner is no member of this one.
    app.other_organization("Fabrikam", "o@fabrikam.test").await;
    let theirs = app.account_id("o@fabrikam.test").await;
    let path = format!("/orgs/{org_id}/members/{theirs}");
    let (status, body) = app
        .admin_with(&owner, Method::PUT, &path, json!({"role": "member"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.admin(&owner, Method::DELETE, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_found");

    // With a second owner, the first may leave.
    let (status, added) = app
        .admin_with(
            &owner,
            Method::POST,
            &format!("/orgs/{org_id}/members"),
            json!({"email": "bo@contoso.test", "role": "owner"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let (status, left) = app.admin(&owner, Method::DELETE, &leave).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{left}");
    app.stop().await;
}

#[tokio::test]
async fn a_group_mapped_to_a_role_gives_it_to_its_members() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let owner = app.owner_session().await;
    let (_, user) = app.create_user(entra_user("gil@fabrikam.test")).await;
    let user_id = user["id"].as_str().unwrap();
    let group = app.group_of("Auditors", &[user_id]).await;
    app.listed_member_until(&owner, org_id, "gil@fabrikam.test", |_| true)
        .await;

    let groups_of = |role: &str| format!("/orgs/{org_id}/roles/{role}/groups");
    let (status, mapped) = app
        .admin_with(
            &owner,
            Method::PUT,
            &groups_of("auditor"),
            json!({"group_ids": [group, group]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mapped}");
    assert_eq!(mapped, json!({"role": "auditor", "group_ids": [group]}));
    app.listed_member_until(&owner, org_id, "gil@fabrikam.test", |member| {
        member["roles"] == json!(["member", "auditor"])
    })
    .await;
    let (_, roles) = app
        .admin(&owner, Method::GET, &format!("/orgs/{org_id}/roles"))
        .await;
    assert_eq!(
        roles[2],
        json!({"role": "auditor", "built_in": true, "group_ids": [group]})
    );
    assert_eq!(roles[1]["group_ids"], json!([]));

    for (role, groups, expected) in [
        ("owner", json!([group]), StatusCode::BAD_REQUEST),
        ("boss", json!([group]), StatusCode::NOT_FOUND),
        ("member", json!([Uuid::now_v7()]), StatusCode::NOT_FOUND),
    ] {
        let (status, refused) = app
            .admin_with(
                &owner,
                Method::PUT,
                &groups_of(role),
                json!({"group_ids": groups}),
            )
            .await;
        assert_eq!(status, expected, "{role}: {refused}");
    }
    let (event, payload, meta) = app.last_event_of(org_id).await;
    assert_eq!(
        (event.as_str(), &payload["command"], &meta["status"]),
        ("CommandRefused", &json!("role groups"), &json!(404))
    );

    // No group: the role is the member's own again.
    let (status, _) = app
        .admin_with(
            &owner,
            Method::PUT,
            &groups_of("auditor"),
            json!({"group_ids": []}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.listed_member_until(&owner, org_id, "gil@fabrikam.test", |member| {
        member["roles"] == json!(["member"])
    })
    .await;
    app.stop().await;
}
