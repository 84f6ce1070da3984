//! Issue 11: `rollcall rebuild` folds the whole log into fresh copies of the
//! read tables, reports each row that differs from the live ones, and with
//! `--swap` puts the copies in place while the service goes on: verify is
//! sound again, SCIM reads show the log's data, and nothing written during
//! the swap is lost.

use std::process::{Command, Output};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app};

fn rollcall(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The read tables' index names and the application role's privileges on
/// them: what the migrations made, which a swap must keep.
async fn schema_facts(app: &TestApp) -> Vec<String> {
    app.sql()
        .await
        .query(
            "select tablename || ' ' || indexname from pg_indexes where schemaname = 'public' \
               and tablename in ('scim_users', 'scim_groups', 'scim_group_members', \
                                 'projection_quarantine') \
             union all \
             select table_name || ' ' || privilege_type from information_schema.role_table_grants \
              where grantee = 'rollcall_app' and table_schema = 'public' \
                and table_name in ('scim_users', 'scim_groups', 'scim_group_members', \
                                   'projection_quarantine') \
             order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn a_sound_database_rebuilds_with_no_difference() {
    let app = spawn_app().await;
    let ada = app.provision("ada@contoso.com").await;
    app.provision("grace@contoso.com").await;
    app.group_of("Finance", &[&ada]).await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    let output = rollcall(&app, &["rebuild"]);
    let said = stdout(&output);
    assert!(output.status.success(), "{said}");
    assert!(said.contains(" 0 differences"), "{said}");
    let progress = String::from_utf8_lossy(&output.stderr);
    assert!(!progress.contains("rollcall:"), "{progress}");
    app.stop().await;
}

#[tokio::test]
async fn a_corrupted_read_row_is_reported_and_swapping_in_the_rebuild_repairs_it() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let ada = app.provision("ada@contoso.com").await;
    let grace = app.provision("grace@contoso.com").await;
    let finance = app.group_of("Finance", &[&ada, &grace]).await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    let facts = schema_facts(&app).await;
    let sql = app.sql().await;
    sql.execute(
        "update scim_users set resource = replace(resource::text, 'ada@', 'eve@')::json, \
         user_name = 'eve@contoso.com', user_name_folded = 'eve@contoso.com' \
         where user_id = $1::text::uuid",
        &[&ada],
    )
    .await
    .unwrap();
    sql.execute(
        "delete from scim_group_members where member_id = $1::text::uuid",
        &[&grace],
    )
    .await
    .unwrap();

    let output = rollcall(&app, &["rebuild"]);
    let said = stdout(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "scim_users {org_id}/{ada}: differs in user_name, resource, user_name_folded"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "scim_group_members {org_id}/{finance}/{grace}: missing from the live table"
        )),
        "{said}"
    );
    assert!(said.contains(" 2 differences"), "{said}");
    assert!(!rollcall(&app, &["verify"]).status.success());

    // Swapped in while an identity provider keeps writing.
    let writer = {
        let (client, base, token) = (app.client.clone(), app.base.clone(), app.token.clone());
        tokio::spawn(async move {
            for n in 0..30 {
                let user = crate::helpers::entra_user(&format!("during.{n}@contoso.com"));
                let response = client
                    .post(format!("{base}/Users"))
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(user.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        })
    };
    let swap = {
        let url = app.database_url.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_rollcall"))
                .args(["rebuild", "--swap"])
                .env("DATABASE_URL", url)
                .output()
                .unwrap()
        })
    };
    let (written, swapped) = tokio::join!(writer, swap);
    written.unwrap();
    let swapped = swapped.unwrap();
    assert!(swapped.status.success(), "{}", stdout(&swapped));
    assert!(stdout(&swapped).contains("swapped the rebuilt tables in"));
    app.wait_for_projector(Duration::from_secs(10)).await;

    let verified = rollcall(&app, &["verify"]);
    assert!(verified.status.success(), "{}", stdout(&verified));
    let (status, user) = app.get_user(&ada).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["userName"], "ada@contoso.com");
    let (_, found) = app.filter_users("userName eq \"ADA@contoso.com\"").await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let (_, during) = app.filter_users("userName sw \"during.\"").await;
    assert_eq!(during["totalResults"], 30, "{during}");
    assert_eq!(app.member_ids(&finance).await.len(), 2);
    assert_eq!(schema_facts(&app).await, facts);
    let after = stdout(&rollcall(&app, &["rebuild"]));
    assert!(after.contains(" 0 differences"), "{after}");
    app.stop().await;
}

/// Polls the user's SCIM read until it answers `expected`.
async fn wait_for_status(app: &TestApp, id: &str, expected: StatusCode) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = app.get_user(id).await;
        if status == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the user's read stayed {status}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_quarantined_organization_that_this_build_folds_is_released_by_the_swap() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let ada = app.provision("ada@contoso.com").await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    // As an older build would have left it: held back at its last event.
    let head = app.log_head().await;
    app.sql()
        .await
        .execute(
            "insert into projection_quarantine (org_id, position, event_type, reason, \
             quarantined_at) values ($1, $2, 'UserProvisioned', 'an older build failed', now())",
            &[&org_id, &head],
        )
        .await
        .unwrap();
    wait_for_status(&app, &ada, StatusCode::SERVICE_UNAVAILABLE).await;

    let output = rollcall(&app, &["rebuild"]);
    let said = stdout(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "projection_quarantine {org_id}: only in the live table"
        )),
        "{said}"
    );
    let swapped = rollcall(&app, &["rebuild", "--swap"]);
    assert!(swapped.status.success(), "{}", stdout(&swapped));
    wait_for_status(&app, &ada, StatusCode::OK).await;
    assert!(rollcall(&app, &["verify"]).status.success());
    app.stop().await;
}
