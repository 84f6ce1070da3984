//! Issue 10: accounts are global, one per email; an organization's owner is
//! one; a password is kept only as an argon2id string.

use admin::accounts;
use admin::organizations::create_organization;
use domain::account::ACCOUNTS;
use rollcall::verify::{self, Verdict};

use crate::helpers::{spawn_app, test_meta};

#[tokio::test]
async fn one_email_is_one_account_whatever_its_case_and_however_many_organizations() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let first = create_organization(
        &stack.pool,
        &stack.appender,
        "Fabrikam",
        "Ana@Fabrikam.test",
    )
    .await
    .unwrap();
    let second = create_organization(
        &stack.pool,
        &stack.appender,
        "Tailspin",
        "ana@FABRIKAM.TEST",
    )
    .await
    .unwrap();
    assert_eq!(first.owner_id, second.owner_id);
    let sql = app.sql().await;
    let created: i64 = sql
        .query_one(
            "select count(*) from events where org_id = $1 and event_type = 'AccountCreated' \
             and payload->>'email' ilike 'ana@fabrikam.test'",
            &[&ACCOUNTS],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(created, 1);
    let owner: String = sql
        .query_one(
            "select payload->>'account_id' from events where org_id = $1 and event_type = 'OwnerAdded'",
            &[&second.org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, first.owner_id.to_string());
    assert_eq!(
        accounts::find_by_email(&stack.pool, "ANA@fabrikam.test")
            .await
            .unwrap(),
        Some(first.owner_id)
    );
    app.wait_for_projector(std::time::Duration::from_secs(10))
        .await;
    assert!(matches!(
        verify::verify(app.pool()).await.unwrap(),
        Verdict::Sound { .. }
    ));
    app.stop().await;
}

#[tokio::test]
async fn a_password_is_recorded_only_as_an_argon2id_string() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let secret = "correct horse battery staple";
    accounts::set_password(
        &stack.pool,
        &stack.appender,
        &test_meta(),
        "OWNER@contoso.test",
        secret,
    )
    .await
    .unwrap();
    let sql = app.sql().await;
    let hash: String = sql
        .query_one(
            "select payload->>'password_hash' from events where org_id = $1 \
             and event_type = 'AccountPasswordSet'",
            &[&ACCOUNTS],
        )
        .await
        .unwrap()
        .get(0);
    assert!(domain::password::matches(secret, &hash));
    let leaked: i64 = sql
        .query_one(
            "select count(*) from events where payload::text like '%' || $1 || '%'",
            &[&secret],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);
    let short = accounts::set_password(
        &stack.pool,
        &stack.appender,
        &test_meta(),
        "owner@contoso.test",
        "short",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(short.contains("at least 12"), "{short}");
    let unknown = accounts::set_password(
        &stack.pool,
        &stack.appender,
        &test_meta(),
        "nobody@contoso.test",
        secret,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(unknown.contains("no account"), "{unknown}");
    app.stop().await;
}
