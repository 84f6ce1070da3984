//! The access log is no disk or memory bomb: bounded fields, refused
//! requests counted rather than stored one by one, and a retention by month.

use futures::StreamExt;
use reqwest::StatusCode;
use rollcall::retention::drop_before;
use rollcall::verify::{Verdict, verify};
use std::time::Duration;
use time::OffsetDateTime;

use crate::helpers::{Options, POSTGRES, TestApp, entra_user, spawn_app, spawn_app_with};

/// A `User-Agent` as the probe sent it: 60 KiB.
fn huge_user_agent() -> String {
    "A".repeat(61_440)
}

/// Stops the stack and waits for the access log to drain; the database stays.
async fn drain(app: &mut TestApp) {
    app.stack
        .take()
        .expect("a running stack")
        .stop()
        .await
        .expect("the stack stops cleanly");
}

#[tokio::test]
async fn long_paths_and_user_agents_are_recorded_bounded_in_events_and_access_records() {
    let mut app = spawn_app().await;
    let agent = huge_user_agent();
    // An event (POST), an access record (a read with a 5 KiB filter), a
    // refused request: each with the 60 KiB User-Agent.
    let created = app
        .send(
            app.request_as(&app.token.clone(), reqwest::Method::POST, "/Users")
                .header("user-agent", &agent)
                .header("content-type", "application/scim+json")
                .body(entra_user("bounded@contoso.com").to_string()),
        )
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
    let long_filter = format!("userName eq \"{}\"", "x".repeat(5_000));
    let (status, _) = app
        .send(
            app.request_as(
                &app.token.clone(),
                reqwest::Method::GET,
                &format!(
                    "/Users?filter={}",
                    crate::helpers::form_encode(&long_filter)
                ),
            )
            .header("user-agent", &agent),
        )
        .await;
    assert!(status.is_success() || status.is_client_error());
    // An Entra filter of ordinary length is kept whole.
    let entra_filter = format!("userName eq \"{}@contoso.com\"", "y".repeat(400));
    app.filter_users(&entra_filter).await;
    app.send(
        app.client
            .get(format!("{}/Users", app.base))
            .header("user-agent", &agent),
    )
    .await;
    drain(&mut app).await;
    let sql = app.sql().await;

    let event = sql
        .query_one(
            "select metadata->>'user_agent' from events where event_type = 'UserProvisioned'",
            &[],
        )
        .await
        .unwrap();
    let event_agent: String = event.get(0);
    assert!(event_agent.len() <= domain::bounded::MAX_USER_AGENT_BYTES);
    assert!(event_agent.starts_with("AAAA"));
    let whole = domain::bounded::bounded(&agent, domain::bounded::MAX_USER_AGENT_BYTES);
    assert_eq!(event_agent, whole, "the marker names the length and digest");
    assert!(event_agent.contains("…[truncated 61440 bytes, sha256:"));

    let records = sql
        .query(
            "select path, user_agent, status, org_id is null from access_log order by id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(records.len(), 3, "two reads and one refusal");
    for row in &records {
        let path: String = row.get(0);
        let user_agent: Option<String> = row.get(1);
        assert!(path.len() <= domain::bounded::MAX_PATH_BYTES, "{path}");
        if let Some(user_agent) = user_agent {
            assert!(user_agent.len() <= domain::bounded::MAX_USER_AGENT_BYTES);
        }
    }
    let long: String = records[0].get(0);
    assert!(domain::bounded::is_truncated(&long), "{long}");
    assert!(long.starts_with("/scim_v2/Users?filter=userName+eq"));
    let ordinary: String = records[1].get(0);
    assert!(!domain::bounded::is_truncated(&ordinary));
    assert!(ordinary.contains(&"y".repeat(400)));
    let refused_agent: String = records[2].get(1);
    assert_eq!(refused_agent, whole);
    assert!(records[2].get::<_, bool>(3));
    app.stop().await;
}

#[tokio::test]
async fn a_flood_of_bad_tokens_is_counted_not_stored_row_by_row() {
    // Every bad token must reach the count here, so the address is never
    // throttled (tokens.rs tests the throttle).
    let mut app = spawn_app_with(Options {
        bad_tokens: api::BadTokenLimits {
            attempts: u32::MAX,
            ..api::BadTokenLimits::default()
        },
        ..Options::default()
    })
    .await;
    let flood = 10_000;
    let base = app.base.clone();
    let client = app.client.clone();
    let agent = huge_user_agent();
    let statuses: Vec<StatusCode> = futures::stream::iter(0..flood)
        .map(|i| {
            let request = client
                .get(format!("{base}/Users"))
                .header("user-agent", &agent);
            // One in ten without a token, the others with a wrong one.
            let request = if i % 10 == 0 {
                request
            } else {
                request.bearer_auth(format!("rcs_not-a-token-{i}"))
            };
            async move { request.send().await.expect("an answer").status() }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        statuses
            .iter()
            .all(|status| *status == StatusCode::UNAUTHORIZED)
    );
    // Requests of the organization keep one record each.
    for _ in 0..50 {
        let (status, _) = app.list_users("count=1").await;
        assert_eq!(status, StatusCode::OK);
    }
    let unknown = app
        .metric("rollcall_api_auth_failures_total{reason=\"unknown\"}")
        .await;
    let missing = app
        .metric("rollcall_api_auth_failures_total{reason=\"missing\"}")
        .await;
    assert_eq!((unknown, missing), (9_000.0, 1_000.0));
    drain(&mut app).await;
    let sql = app.sql().await;
    let count = |query: &'static str| {
        let sql = &sql;
        async move { sql.query_one(query, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let samples = count("select count(*) from access_log where org_id is null").await;
    let count_rows = count("select count(*) from access_refusals").await;
    assert!(
        samples + count_rows < 100,
        "{flood} refused requests made {samples} samples and {count_rows} counts"
    );
    assert!(samples > 0, "a few refused requests are kept whole");
    let counted = count("select sum(requests)::bigint from access_refusals").await;
    assert_eq!(counted, flood);
    let sampled = count("select sum(sampled)::bigint from access_refusals").await;
    assert_eq!(sampled, samples, "every sample is counted as one");
    let by_reason = sql
        .query(
            "select reason, sum(requests)::bigint from access_refusals group by reason order by reason",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, i64>(1)))
        .collect::<Vec<_>>();
    assert_eq!(
        by_reason,
        vec![("missing".into(), 1_000), ("unknown".into(), 9_000)]
    );
    let reads = sql
        .query(
            "select method, path, status from access_log where org_id is not null",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            format!(
                "{} {} {}",
                row.get::<_, String>(0),
                row.get::<_, String>(1),
                row.get::<_, i32>(2)
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(reads.len(), 50, "{reads:?}");
    app.stop().await;
}

#[tokio::test]
async fn drop_before_drops_whole_old_months_records_it_and_spares_the_current_one() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    app.get("/Users?count=1").await;
    let sql = app.sql().await;
    // A month four months ago, with records of the organization and of none.
    let old: String = sql
        .query_one(
            "select to_char(date_trunc('month', now() at time zone 'UTC') - interval '4 months', 'YYYY_MM')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    sql.batch_execute(&format!(
        "select access_log_ensure_partitions(to_timestamp('{old}', 'YYYY_MM') + interval '1 day', 0);
         insert into access_log (org_id, recorded_at, request_id, method, path, status)
             select '{org_id}', to_timestamp('{old}', 'YYYY_MM') + interval '2 days', gen_random_uuid(), 'GET', '/scim_v2/Users', 200
             from generate_series(1, 3);
         insert into access_log (org_id, recorded_at, request_id, method, path, status)
             select null, to_timestamp('{old}', 'YYYY_MM') + interval '2 days', gen_random_uuid(), 'GET', '/scim_v2/Users', 401
             from generate_series(1, 2);
         insert into access_refusals (interval_start, reason, client_addr, requests, sampled)
             values (to_timestamp('{old}', 'YYYY_MM') + interval '2 days', 'unknown', '203.0.113.9', 500, 2);"
    ))
    .await
    .unwrap();
    // The application's role can neither change rows nor take a month out.
    for statement in [
        format!("delete from access_log_{old}"),
        format!("truncate access_log_{old}"),
        format!("update access_refusals_{old} set requests = 0"),
        format!("alter table access_log detach partition access_log_{old}"),
        format!("drop table access_log_{old}"),
    ] {
        sql.batch_execute("set role rollcall_app").await.unwrap();
        let refused = sql.batch_execute(&statement).await;
        sql.batch_execute("reset role").await.unwrap();
        assert!(
            refused.is_err(),
            "{statement} must be refused to rollcall_app"
        );
    }
    // Nor can the owner change a row of a month.
    assert!(
        sql.batch_execute(&format!("delete from access_log_{old}"))
            .await
            .is_err()
    );

    let stack = app.stack.as_ref().unwrap();
    let now = OffsetDateTime::now_utc();
    let first_of_month = now.date().replace_day(1).unwrap();
    let next_month = (first_of_month + time::Duration::days(32))
        .replace_day(1)
        .unwrap();
    let refused = drop_before(&stack.pool, &stack.appender, next_month, now).await;
    assert!(refused.is_err(), "the current month is never dropped");

    // Up to the end of the month the test filled: the template database
    // may hold an empty month of its own from when it was migrated (last
    // month, say, as made here), which is not this test's to count.
    sql.batch_execute("select access_log_ensure_partitions(now() - interval '1 month', 0)")
        .await
        .unwrap();
    let after_old: time::Date = sql
        .query_one(
            &format!("select (to_timestamp('{old}', 'YYYY_MM') + interval '1 month')::date"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(after_old < first_of_month);
    let dropped = drop_before(&stack.pool, &stack.appender, after_old, now)
        .await
        .expect("old months drop");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].rows.by_org, vec![(org_id, 3)]);
    assert_eq!(dropped[0].rows.unattributed, 2);
    assert_eq!(dropped[0].rows.refused_requests, 500);
    for table in ["access_log", "access_refusals"] {
        let gone: bool = sql
            .query_one(&format!("select to_regclass('{table}_{old}') is null"), &[])
            .await
            .unwrap()
            .get(0);
        assert!(gone, "{table}_{old} is dropped");
    }
    let event = sql
        .query_one(
            "select payload::text, metadata->>'method', metadata->>'path' from events \
             where event_type = 'AccessLogPartitionDropped' and org_id = $1",
            &[&org_id],
        )
        .await
        .expect("one event for the organization");
    let payload: serde_json::Value = serde_json::from_str(&event.get::<_, String>(0)).unwrap();
    assert_eq!(payload["rows"], 3);
    assert_eq!(payload["unattributed_rows"], 2);
    assert_eq!(payload["refused_requests"], 500);
    assert_eq!(event.get::<_, String>(1), "CLI");
    assert_eq!(event.get::<_, String>(2), "access-log drop-before");
    // This month's record is still there, and a second run drops nothing.
    let kept: i64 = sql
        .query_one("select count(*) from access_log", &[])
        .await
        .unwrap()
        .get(0);
    assert!(kept >= 1);
    let again = drop_before(&stack.pool, &stack.appender, after_old, now)
        .await
        .unwrap();
    assert!(again.is_empty());
    // The projector folds the new event, and the log is still sound.
    app.wait_for_projector(Duration::from_secs(10)).await;
    assert!(matches!(
        verify(app.pool()).await.unwrap(),
        Verdict::Sound { .. }
    ));
    app.stop().await;
}

#[tokio::test]
async fn migrating_moves_existing_access_records_into_their_months() {
    let name = format!("rollcall_upgrade_{}", uuid::Uuid::new_v4().simple());
    let (admin, connection) = tokio_postgres::connect(POSTGRES, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL");
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("create database {name}"))
        .await
        .unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let database = store::Database::parse(&url).unwrap();
    store::migrate_to(&database, 6).await.expect("V0001..V0006");
    let (sql, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    sql.batch_execute(
        "insert into access_log (org_id, recorded_at, request_id, method, path, status)
         values (null, '2025-03-04T10:00:00Z', gen_random_uuid(), 'GET', '/scim_v2/Users', 401),
                (gen_random_uuid(), now(), gen_random_uuid(), 'GET', '/scim_v2/Users/1', 200)",
    )
    .await
    .unwrap();
    let before: Vec<(i64, String)> = sql
        .query("select id, path from access_log order by id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    store::migrate(&database)
        .await
        .expect("V0007 on a database with rows");
    let after: Vec<(i64, String, String)> = sql
        .query(
            "select id, path, tableoid::regclass::text from access_log order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(
        after
            .iter()
            .map(|(id, path, _)| (*id, path.clone()))
            .collect::<Vec<_>>(),
        before
    );
    assert_eq!(after[0].2, "access_log_2025_03");
    // New rows continue the ids, and rows stay unchangeable.
    let next: i64 = sql
        .query_one(
            "insert into access_log (recorded_at, request_id, method, path, status)
             values (now(), gen_random_uuid(), 'GET', '/x', 200) returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(next > before.last().unwrap().0);
    assert!(sql.batch_execute("delete from access_log").await.is_err());
    assert!(
        sql.batch_execute("truncate access_log_2025_03")
            .await
            .is_err()
    );
    drop(sql);
    admin
        .batch_execute(&format!("drop database {name} with (force)"))
        .await
        .unwrap();
}
