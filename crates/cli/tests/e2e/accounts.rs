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
    // Emails are sealed in the log (docs/audit-privacy.md): read it opened.
    let created = store::read_after(app.pool(), 0, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|row| row.to_stored().unwrap())
        .filter(|stored| {
            stored.org_id == ACCOUNTS
                && matches!(&stored.event, domain::Event::AccountCreated { email, .. }
                            if email.eq_ignore_ascii_case("ana@fabrikam.test"))
        })
        .count();
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

#[tokio::test]
async fn migrating_makes_registry_rows_for_the_accounts_and_owners_already_recorded() {
    let name = format!("rollcall_upgrade_{}", uuid::Uuid::new_v4().simple());
    let (admin, connection) =
        tokio_postgres::connect(crate::helpers::POSTGRES, tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL");
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("create database {name}"))
        .await
        .unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let database = store::Database::parse(&url).unwrap();
    store::migrate_to(&database, 12)
        .await
        .expect("V0001..V0012");
    let (sql, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let (org_id, account_id) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    // What V0012's rollcall recorded when it created an organization.
    sql.execute(
        "insert into events values \
         (1, $1, $2, 1, 'AccountCreated', 1, '{\"type\":\"AccountCreated\",\"email\":\"Ana@Fabrikam.test\"}', '{}', now(), '\\x00', '\\x01'), \
         (2, $3, $3, 1, 'OwnerAdded', 1, json_build_object('type', 'OwnerAdded', 'account_id', $2::uuid, 'email', 'Ana@Fabrikam.test'), '{}', now(), '\\x00', '\\x02')",
        &[&ACCOUNTS, &account_id, &org_id],
    )
    .await
    .unwrap();
    store::migrate(&database)
        .await
        .expect("V0013 on a database with rows");
    let account: String = sql
        .query_one(
            "select email from accounts where account_id = $1",
            &[&account_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(account, "Ana@Fabrikam.test");
    let member = sql
        .query_one(
            "select role, source, state from memberships where org_id = $1 and account_id = $2",
            &[&org_id, &account_id],
        )
        .await
        .unwrap();
    let member: (String, String, String) = (member.get(0), member.get(1), member.get(2));
    assert_eq!(member, ("owner".into(), "manual".into(), "active".into()));
    drop(sql);
    admin
        .batch_execute(&format!("drop database {name} with (force)"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_organization_refused_for_its_name_leaves_its_owner_no_membership() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    create_organization(
        &stack.pool,
        &stack.appender,
        "Northwind",
        "nia@northwind.test",
    )
    .await
    .unwrap();
    let refused = create_organization(&stack.pool, &stack.appender, "Northwind", "olu@other.test")
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("already exists"), "{refused}");
    // The account was made before the name was refused; the membership of
    // an organization the log never recorded must not be in the registry
    // (the account's organizations, its lock convergence read it).
    let olu = accounts::find_by_email(&stack.pool, "olu@other.test")
        .await
        .unwrap()
        .expect("the account was made");
    let memberships: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from memberships where account_id = $1",
            &[&olu],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(memberships, 0);
    app.stop().await;
}
