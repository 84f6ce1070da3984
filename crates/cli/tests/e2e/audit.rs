//! Issue 11 (first part): `rollcall verify --org NAME` walks one
//! organization's hash chain alone and gives its event count and head hash;
//! an edit, removal or reordering of one of its events is found at its
//! position, and another organization's tampering is not its own.

use std::process::Command;

use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

fn verify_org(app: &TestApp, org: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["verify", "--org", org])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Runs `statement` on the log with its append-only trigger off.
async fn behind_the_log(app: &TestApp, statement: &str, position: i64) {
    let sql = app.sql().await;
    sql.batch_execute("alter table events disable trigger events_append_only")
        .await
        .unwrap();
    sql.execute(statement, &[&position]).await.unwrap();
    sql.batch_execute("alter table events enable trigger events_append_only")
        .await
        .unwrap();
}

async fn org_position(app: &TestApp, org_id: Uuid, nth: i64) -> i64 {
    app.sql()
        .await
        .query_one(
            "select position from events where org_id = $1 order by position offset $2 limit 1",
            &[&org_id, &nth],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn an_organizations_chain_is_verified_alone_with_its_count_and_head_hash() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    for n in 0..3 {
        app.provision(&format!("chain.{n}@contoso.com")).await;
    }
    app.other_organization("Fabrikam", "o@fabrikam.test").await;
    let other: Uuid = app
        .sql()
        .await
        .query_one(
            "select org_id from organizations where name = 'Fabrikam'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    app.wait_for_projector(std::time::Duration::from_secs(10))
        .await;
    let sql = app.sql().await;
    let row = sql
        .query_one(
            "select count(*), encode(h.last_hash, 'hex') from events e \
             join chain_heads h on h.org_id = e.org_id where e.org_id = $1 group by h.last_hash",
            &[&org_id],
        )
        .await
        .unwrap();
    let (count, head): (i64, String) = (row.get(0), row.get(1));
    let (sound, said) = verify_org(&app, "Contoso");
    assert!(sound, "{said}");
    assert!(said.contains(&format!("{count} events")), "{said}");
    assert!(said.contains(&head), "{said}");

    // Another organization's altered event is its own problem.
    let altered = org_position(&app, other, 0).await;
    behind_the_log(
        &app,
        "update events set payload = replace(payload::text, 'Fabrikam', 'Mallory')::json \
         where position = $1",
        altered,
    )
    .await;
    assert!(verify_org(&app, "Contoso").0);
    let (sound, said) = verify_org(&app, "Fabrikam");
    assert!(!sound);
    assert!(
        said.contains(&format!("broken at position {altered}")),
        "{said}"
    );

    // An event of its own removed: found at the one after it.
    let removed = org_position(&app, org_id, 2).await;
    let next = org_position(&app, org_id, 3).await;
    behind_the_log(&app, "delete from events where position = $1", removed).await;
    let (sound, said) = verify_org(&app, "Contoso");
    assert!(!sound);
    assert!(
        said.contains(&format!("broken at position {next}")),
        "{said}"
    );
    app.stop().await;
}
