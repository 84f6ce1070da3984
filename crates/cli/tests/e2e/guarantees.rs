//! DESIGN.md's guarantees, each shown on real PostgreSQL and RabbitMQ.

use std::time::Duration;

use futures::future::join_all;
use rand::seq::SliceRandom;
use reqwest::StatusCode;
use rollcall::verify::{Verdict, verify};
use serde_json::{Value, json};

use crate::helpers::groups::member_values;
use crate::helpers::{
    DELIVERED, Options, RABBITMQ, TcpProxy, entra_user, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn the_log_refuses_update_delete_and_truncate() {
    let app = spawn_app().await;
    app.provision("immutable@contoso.com").await;
    let written = app.log_head().await;
    let sql = app.sql().await;
    for statement in [
        "update events set payload = '{}' where position = 1",
        "delete from events where position = 1",
        "truncate events",
        "update access_log set status = 200",
        "delete from access_log",
    ] {
        let refused = sql.batch_execute(statement).await;
        assert!(refused.is_err(), "{statement} must be refused");
    }
    // Counted up to what was written: the linker may append meanwhile.
    let count: i64 = sql
        .query_one(
            "select count(*) from events where position <= $1",
            &[&written],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        count, written,
        "the organization's events and the user's are all still there"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_request_is_recorded_as_an_event_or_an_access_record() {
    let app = spawn_app().await;
    let id = app.provision("recorded@contoso.com").await; // event
    app.get_user(&id).await; // access
    app.filter_users("userName eq \"x\"").await; // access
    app.create_user(entra_user("recorded@contoso.com")).await; // 409: access
    app.patch_user(
        &id,
        json!([{"op": "Replace", "path": "displayName", "value": "R"}]),
    )
    .await; // event
    app.send(app.client.get(format!("{}/Users", app.base)))
        .await; // 401: access
    let sql = app.sql().await;
    // Stopping the stack drains the access log: nothing is lost on shutdown.
    // (The linker's own events, made by no request, are left out.)
    let mut app = app;
    app.stack.take().unwrap().stop().await.unwrap();
    let events = sql
        .query(
            "select metadata->>'method', metadata->>'status', metadata->>'body_sha256' is not null, \
                    metadata->>'token_id' is not null, metadata->>'request_id' is not null, \
                    metadata->>'client_addr' is not null from events \
             where stream_id <> org_id and org_id <> $1 \
             and metadata->>'method' <> 'SYSTEM' order by position",
            &[&domain::account::ACCOUNTS],
        )
        .await
        .unwrap();
    let methods: Vec<(String, String, bool, bool, bool, bool)> = events
        .iter()
        .map(|row| {
            (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
            )
        })
        .collect();
    assert_eq!(
        methods,
        vec![
            ("POST".into(), "201".into(), true, true, true, true),
            ("PATCH".into(), "200".into(), true, true, true, true)
        ]
    );
    let access: Vec<(String, i32, bool)> = sql
        .query(
            "select method, status, org_id is null from access_log order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let mut access_sorted = access.clone();
    access_sorted.sort();
    assert_eq!(
        access_sorted,
        vec![
            ("GET".into(), 200, false),
            ("GET".into(), 200, false),
            ("GET".into(), 401, true),
            ("POST".into(), 409, false)
        ]
    );
    let leaked: i64 = sql
        .query_one(
            "select (select count(*) from events where payload::text like '%' || $1 || '%' or metadata::text like '%' || $1 || '%') \
                  + (select count(*) from access_log where path like '%' || $1 || '%' or coalesce(detail, '') like '%' || $1 || '%')",
            &[&app.token],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0, "the token never enters the log");
    app.stop().await;
}

#[tokio::test]
async fn passwords_never_enter_the_log() {
    let app = spawn_app().await;
    let mut body = entra_user("secret@contoso.com");
    body["password"] = json!("Hunter2-very-secret");
    let (status, created) = app.create_user(body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(created.get("password").is_none());
    let sql = app.sql().await;
    let leaked: i64 = sql
        .query_one(
            "select count(*) from events where payload::text like '%Hunter2%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);
    app.stop().await;
}

#[tokio::test]
async fn sixteen_concurrent_writers_leave_no_hole_and_the_projector_applies_all() {
    let app = spawn_app().await;
    // The log and the read tables alone: the linker (which would make 8,000
    // members meanwhile) waits until the end.
    let linker = app.hold_linker().await;
    let setup = app.log_head().await;
    let writers = (0..16).map(|writer| {
        let app = &app;
        async move {
            for n in 0..500 {
                let (status, body) = app
                    .create_user(entra_user(&format!("w{writer}-{n}@contoso.com")))
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
            }
        }
    });
    join_all(writers).await;
    app.wait_for_checkpoints(&[store::Checkpoint::Projector], Duration::from_secs(60))
        .await;
    let sql = app.sql().await;
    let row = sql
        .query_one(
            "select count(*), min(position), max(position) from events",
            &[],
        )
        .await
        .unwrap();
    let (count, min, max): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((min, max), (1, count), "positions are 1..N without a gap");
    let provisioned: i64 = sql
        .query_one(
            "select count(*) from events where position > $1 and event_type = 'UserProvisioned'",
            &[&setup],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(provisioned, 16 * 500);
    let users: i64 = sql
        .query_one("select count(*) from scim_users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 16 * 500);
    // Folded in batches, each whole (new users' rows in runs), never
    // retried event by event.
    assert_eq!(
        app.metric("rollcall_projector_split_batches_total").await,
        0.0
    );
    let verdict = verify(app.pool()).await.unwrap();
    assert_eq!(
        verdict,
        Verdict::Sound {
            events: count,
            projected_to: count
        }
    );
    linker.release().await;
    app.stop().await;
}

#[tokio::test]
async fn users_created_while_the_projector_waits_are_folded_unsplit_and_found_by_email() {
    let app = spawn_app_with(Options {
        read_your_writes_wait: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    app.provision("first@contoso.test").await;
    let holding = app.hold_projector().await;
    // Answered once their wait for the held projector runs out: in the log,
    // not yet folded.
    let names: Vec<String> = (0..24).map(|n| format!("held-{n}@contoso.test")).collect();
    let created = join_all(names.iter().map(|name| app.create_user(entra_user(name)))).await;
    for (status, body) in &created {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    holding.release().await;
    app.wait_for_checkpoints(&[store::Checkpoint::Projector], Duration::from_secs(30))
        .await;
    assert_eq!(
        app.metric("rollcall_projector_split_batches_total").await,
        0.0
    );
    for name in &names {
        let filter = format!(
            "emails[type eq \"work\"].value eq \"{}\"",
            name.to_uppercase()
        );
        let (status, found) = app.filter_users(&filter).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(found["totalResults"], 1, "{name}: {found}");
        assert_eq!(found["Resources"][0]["userName"], name.as_str());
        assert_eq!(found["Resources"][0]["externalId"], format!("ext-{name}"));
    }
    app.stop().await;
}

/// Read-your-writes timeouts: requests that waited out the bound.
const WAITS_RUN_OUT: &str = "rollcall_api_read_your_writes_timeouts_total";

#[tokio::test]
async fn a_write_is_answered_at_once_and_its_tokens_next_read_waits_for_it() {
    let app = spawn_app_with(Options {
        read_your_writes_wait: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let other = app
        .other_organization("Fabrikam", "owner@fabrikam.test")
        .await;
    let holding = app.hold_projector().await;
    // The projector cannot fold: a write that waited for it would run out
    // the bound before answering.
    let (status, created) = app.create_user(entra_user("unfolded@contoso.test")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.metric(WAITS_RUN_OUT).await,
        0.0,
        "the create waited for the projector"
    );
    // Its token's read may not miss it: 503 rather than 404.
    let (status, body) = app.get_user(id).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(app.metric(WAITS_RUN_OUT).await, 1.0);
    // Another organization's token wrote nothing: its reads do not wait.
    let (status, listed) = app
        .send(app.request_as(&other, reqwest::Method::GET, "/Users"))
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["totalResults"], 0);
    assert_eq!(app.metric(WAITS_RUN_OUT).await, 1.0);

    holding.release().await;
    let (status, found) = app.get_user(id).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["userName"], "unfolded@contoso.test");
    app.stop().await;
}

/// Entra's group PATCH answers 204, with nothing read from the read
/// tables: it is answered without waiting for the projector, and its
/// token's next read waits for it.
#[tokio::test]
async fn an_entra_group_patch_is_answered_at_once_and_its_tokens_next_read_waits_for_it() {
    let app = spawn_app_with(Options {
        read_your_writes_wait: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let member = app.provision("member@contoso.test").await;
    let group = app.group_of("Unfolded", &[]).await;
    app.wait_for_projector(Duration::from_secs(30)).await;
    let holding = app.hold_projector().await;
    let (status, body) = app
        .patch_group(
            &group,
            json!([{"op": "add", "path": "members", "value": [{"value": member}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        app.metric(WAITS_RUN_OUT).await,
        0.0,
        "the PATCH waited for the projector"
    );
    let (status, body) = app.get_group(&group).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    holding.release().await;
    assert_eq!(app.member_ids(&group).await, [member].into());
    app.stop().await;
}

#[tokio::test]
async fn writes_wait_for_the_projector_once_they_outrun_it_by_the_bound() {
    let app = spawn_app_with(Options {
        read_your_writes_wait: Duration::from_millis(300),
        max_unfolded_events: 5,
        ..Options::default()
    })
    .await;
    app.provision("first@contoso.test").await;
    app.wait_for_projector(Duration::from_secs(30)).await;
    // The linker held too, so that only these writes move the log.
    let linker = app.hold_linker().await;
    let holding = app.hold_projector().await;
    // Up to the bound the writes do not wait for the held projector...
    for n in 0..6 {
        let (status, body) = app
            .create_user(entra_user(&format!("ahead{n}@contoso.test")))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(app.metric(WAITS_RUN_OUT).await, 0.0);
    // ...past it each waits for the projector, here out to the bound, and
    // is answered: the write is durable, the writer is slowed.
    for n in 0..3 {
        let (status, body) = app
            .create_user(entra_user(&format!("behind{n}@contoso.test")))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(app.metric(WAITS_RUN_OUT).await, 3.0);
    holding.release().await;
    linker.release().await;
    let (_, listed) = app.list_users("count=0").await;
    assert_eq!(listed["totalResults"], 10);
    app.stop().await;
}

/// One PATCH per attribute, each in its own request, all at once.
fn round_operations(round: usize) -> Vec<Value> {
    let active = round.is_multiple_of(2);
    vec![
        json!([{"op": "Replace", "path": "userName", "value": format!("race-{round}@contoso.com")}]),
        json!([{"op": "replace", "value": {"name.givenName": format!("Given {round}")}}]),
        json!([{"op": "Replace", "path": "name.familyName", "value": format!("Family {round}")}]),
        json!([{"op": "replace", "value": {"name.formatted": format!("Formatted {round}")}}]),
        json!([{"op": "Replace", "path": "displayName", "value": format!("Display {round}")}]),
        json!([{"op": "replace", "path": "externalId", "value": format!("ext-{round}")}]),
        json!([{"op": "Replace", "path": "active", "value": if active { "True" } else { "False" }}]),
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": format!("mail-{round}@contoso.com")}]),
    ]
}

#[tokio::test]
async fn concurrent_patches_to_one_user_never_lose_an_update() {
    let app = spawn_app().await;
    let id = app.provision("race@contoso.com").await;
    for round in 1..=20 {
        let patches = round_operations(round).into_iter().map(|operations| {
            let app = &app;
            let id = id.clone();
            async move { app.patch_user(&id, operations).await }
        });
        for (status, body) in join_all(patches).await {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let (_, user) = app.get_user(&id).await;
        assert_eq!(
            user["userName"],
            format!("race-{round}@contoso.com"),
            "round {round}"
        );
        assert_eq!(
            user["name"]["givenName"],
            format!("Given {round}"),
            "round {round}"
        );
        assert_eq!(
            user["name"]["familyName"],
            format!("Family {round}"),
            "round {round}"
        );
        assert_eq!(
            user["name"]["formatted"],
            format!("Formatted {round}"),
            "round {round}"
        );
        assert_eq!(
            user["displayName"],
            format!("Display {round}"),
            "round {round}"
        );
        assert_eq!(user["externalId"], format!("ext-{round}"), "round {round}");
        assert_eq!(user["active"], round.is_multiple_of(2), "round {round}");
        assert_eq!(
            user["emails"][0]["value"],
            format!("mail-{round}@contoso.com"),
            "round {round}"
        );
    }
    let (_, user) = app.get_user(&id).await;
    let current = user["meta"]["version"].as_str().unwrap().to_owned();
    let (status, body) = app
        .patch_user_if_match(
            &id,
            "W/\"1\"",
            json!([{"op": "Replace", "path": "displayName", "value": "stale"}]),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (status, _) = app
        .patch_user_if_match(
            &id,
            &current,
            json!([{"op": "Replace", "path": "displayName", "value": "fresh"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_creates_of_one_user_name_give_one_201_and_nineteen_409() {
    let app = spawn_app().await;
    let names: Vec<String> = (0..20)
        .map(|n| {
            "same.person@contoso.com"
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if (i + n) % 3 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect();
    let creates = names.iter().map(|name| app.create_user(entra_user(name)));
    let statuses: Vec<StatusCode> = join_all(creates)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        19,
        "{statuses:?}"
    );
    let (_, found) = app
        .filter_users("userName eq \"SAME.PERSON@contoso.com\"")
        .await;
    assert_eq!(found["totalResults"], 1);
    app.stop().await;
}

/// Writes answered before the projector had folded them.
const WRITES_ANSWERED_UNFOLDED: &str = "rollcall_api_read_your_writes_timeouts_total";

#[tokio::test]
async fn writes_survive_a_broker_outage_and_the_backlog_is_published_after() {
    let proxy = TcpProxy::start("127.0.0.1:5672").await;
    let app = spawn_app_with(Options {
        amqp_url: proxy.amqp_url(),
        ..Options::default()
    })
    .await;
    app.provision("before.outage@contoso.com").await;
    app.wait_for_projector(Duration::from_secs(60)).await;
    let unfolded = app.metric(WRITES_ANSWERED_UNFOLDED).await;

    proxy.cut();
    // The broker only distributes the log: without it the projector folds
    // from the log, and every write is readable as soon as it is answered.
    // A write the projector had not folded within the bound (5 s) would be
    // answered anyway and counted, which is what a client would notice;
    // the time a write takes on a loaded machine is not.
    for n in 0..10 {
        let id = app
            .provision(&format!("during.outage.{n}@contoso.com"))
            .await;
        assert_eq!(app.get_user(&id).await.0, StatusCode::OK);
    }
    assert_eq!(
        app.metric(WRITES_ANSWERED_UNFOLDED).await,
        unfolded,
        "a write waited out the bound for the projector"
    );
    let (_, listed) = app.list_users("count=0").await;
    assert_eq!(listed["totalResults"], 11);

    proxy.restore();
    // The relay publishes the backlog once it reconnects. The bound is for a
    // loaded CI machine: reconnecting waits out a back-off of up to 5 s, and
    // a connection that died silently takes two heartbeats (20 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let relayed = store::read_checkpoint(app.pool(), store::Checkpoint::Relay)
            .await
            .unwrap();
        let head = store::log_head(app.pool()).await.unwrap();
        if relayed == head {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relay stayed at {relayed} of {head}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(
        verify(app.pool()).await.unwrap(),
        Verdict::Sound { .. }
    ));
    app.stop().await;
}

#[tokio::test]
async fn repeated_and_reordered_deliveries_have_exactly_one_effect() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(app.provision(&format!("once.{n}@contoso.com")).await);
    }
    for id in &ids[..6] {
        app.patch_user(
            id,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    }
    // Groups too: members added and removed, a nested group, and deletions
    // that take memberships with them.
    let inner = app
        .group_of("Inner", &[&ids[0], &ids[1], &ids[2], &ids[3]])
        .await;
    let outer = app.group_of("Outer", &[&inner, &ids[7], &ids[8]]).await;
    let (status, body) = app
        .patch_group(
            &outer,
            json!([{"op": "remove", "path": "members", "value": member_values(&[&ids[8]])},
                   {"op": "add", "path": "members", "value": member_values(&[&ids[9]])}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for id in &ids[6..9] {
        app.delete_user(id).await;
    }
    app.wait_for_projector(Duration::from_secs(10)).await;
    let in_order = store::read_snapshot(app.pool()).await.unwrap();
    assert_eq!(in_order.groups.groups.len(), 2);
    assert_eq!(
        in_order.groups.members.len(),
        4 + 2,
        "inner's four, outer's inner and ids[9]"
    );
    let log = store::read_after(app.pool(), 0, 10_000).await.unwrap();

    // Through RabbitMQ: every event published again, twice, shuffled. The
    // relay's own messages are settled first, so that the count of delivered
    // events below is the test's messages and nothing else.
    let settled = app.wait_for_deliveries(Duration::from_secs(10)).await;
    let connection = bus::connect(RABBITMQ).await.unwrap();
    let publisher = bus::Publisher::open(&connection, &bus::Topology::new(&app.bus_prefix))
        .await
        .unwrap();
    // Single events and whole runs, each twice.
    let opened: Vec<_> = (log.iter())
        .map(|row| std::sync::Arc::new(store::OpenedEvent::from_row(row)))
        .collect();
    let mut messages = projector::relay::messages(&opened);
    messages.extend(projector::relay::messages(&opened));
    for event in &opened {
        messages.push(bus::Message {
            org_id: event.org_id,
            message_id: event.position.to_string(),
            body: projector::envelope::encode(&[event]),
            round: None,
        });
    }
    messages.shuffle(&mut rand::rng());
    let carried: usize = messages
        .iter()
        .map(|message| projector::envelope::decode(&message.body).unwrap().len())
        .sum();
    publisher.publish_confirmed(&messages).await.unwrap();
    // Every redelivered event was taken, skipped as folded already, and
    // acknowledged before the tables are compared.
    app.wait_for_metric(DELIVERED, settled + carried as f64, Duration::from_secs(10))
        .await;
    assert_eq!(app.log_head().await, log.last().unwrap().position);
    assert_eq!(store::read_snapshot(app.pool()).await.unwrap(), in_order);

    // Straight into a second database's projector: shuffled, duplicated,
    // in random chunks, starting with holes.
    let copy = spawn_app().await;
    // Its own first events must be folded and their deliveries settled before
    // its log is replaced: one arriving late would meet the new log.
    copy.wait_for_projector(Duration::from_secs(10)).await;
    copy.wait_for_deliveries(Duration::from_secs(10)).await;
    let sql = copy.sql().await;
    sql.batch_execute(
        "truncate scim_users, scim_groups, scim_group_members; \
         update checkpoints set position = 0 where name = 'projector'; \
         update checkpoints set position = 1000000000 where name = 'linker'",
    )
    .await
    .unwrap();
    let source = app.sql().await;
    let rows = source.query("select position, org_id, stream_id, stream_version, event_type, schema_version, payload::text, metadata::text, recorded_at, prev_hash, hash from events order by position", &[]).await.unwrap();
    // The keys that open the log's sealed values go with it, before it: the
    // copy's relay must never read a sealed event without its key.
    for key in source
        .query("select org_id, subject_id, key from personal_keys", &[])
        .await
        .unwrap()
    {
        sql.execute(
            "insert into personal_keys (org_id, subject_id, key) values ($1, $2, $3) \
             on conflict do nothing",
            &[
                &key.get::<_, uuid::Uuid>(0),
                &key.get::<_, uuid::Uuid>(1),
                &key.get::<_, Vec<u8>>(2),
            ],
        )
        .await
        .unwrap();
    }
    // The copy has its own organization's events; a fresh copy of the log replaces them.
    sql.batch_execute("alter table events disable trigger events_append_only; delete from events; alter table events enable trigger events_append_only").await.unwrap();
    for row in &rows {
        sql.execute(
            "insert into events values ($1, $2, $3, $4, $5, $6, $7::text::json, $8::text::json, $9, $10, $11)",
            &[&row.get::<_, i64>(0), &row.get::<_, uuid::Uuid>(1), &row.get::<_, uuid::Uuid>(2), &row.get::<_, i64>(3),
              &row.get::<_, String>(4), &row.get::<_, i32>(5), &row.get::<_, String>(6), &row.get::<_, String>(7),
              &row.get::<_, time::OffsetDateTime>(8), &row.get::<_, Vec<u8>>(9), &row.get::<_, Vec<u8>>(10)],
        )
        .await
        .unwrap();
    }
    let last = log.last().unwrap().position;
    sql.execute("update log_head set last_position = $1", &[&last])
        .await
        .unwrap();
    let registry = prometheus::Registry::new();
    let (applied, _) = tokio::sync::watch::channel(Default::default());
    let parts = projector::ProjectorParts {
        pool: copy.pool().clone(),
        amqp_url: RABBITMQ.into(),
        topology: bus::Topology::new("unused"),
        applied,
        metrics: projector::Metrics::register(&registry).unwrap(),
        appender: copy.stack.as_ref().unwrap().appender.clone(),
    };
    let direct = projector::Projector::new(parts, 0);
    direct.take_partition().await.unwrap();
    let mut deliveries: Vec<domain::StoredEvent> = log
        .iter()
        .chain(log.iter())
        .map(|row| row.to_stored().unwrap())
        .collect();
    deliveries.shuffle(&mut rand::rng());
    for chunk in deliveries.chunks(7) {
        direct.apply(chunk.to_vec()).await.unwrap();
    }
    let copied = store::read_snapshot(copy.pool()).await.unwrap();
    assert_eq!(
        (copied.users, copied.groups),
        (in_order.users, in_order.groups),
        "the copy folds to byte-identical rows"
    );
    assert!(matches!(
        verify(copy.pool()).await.unwrap(),
        Verdict::Sound { .. }
    ));
    copy.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn two_hundred_create_filter_and_patch_get_pairs_each_see_the_write() {
    let app = spawn_app().await;
    for n in 0..200 {
        let user_name = format!("ryw.{n}@contoso.com");
        let id = app.provision(&user_name).await;
        let (_, found) = app
            .filter_users(&format!("userName eq \"{user_name}\""))
            .await;
        assert_eq!(
            found["Resources"][0]["id"],
            id.as_str(),
            "create {n} is visible to the next filter"
        );

        let name = format!("Patched {n}");
        app.patch_user(
            &id,
            json!([{"op": "Replace", "path": "displayName", "value": name}]),
        )
        .await;
        let (_, user) = app.get_user(&id).await;
        assert_eq!(
            user["displayName"],
            name.as_str(),
            "patch {n} is visible to the next get"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_event_altered_behind_the_applications_back_fails_verify_at_its_position() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.provision(&format!("tamper.{n}@contoso.com")).await);
    }
    let tampered = app.last_position_of(&ids[2]).await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    let verdict = verify(app.pool()).await.unwrap();
    assert!(matches!(verdict, Verdict::Sound { .. }), "{verdict:?}");
    let binary = env!("CARGO_BIN_EXE_rollcall");
    let sound = std::process::Command::new(binary)
        .arg("verify")
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(
        sound.status.success(),
        "{}",
        String::from_utf8_lossy(&sound.stdout)
    );

    let sql = app.sql().await;
    sql.batch_execute("alter table events disable trigger events_append_only")
        .await
        .unwrap();
    sql.execute(
        "update events set payload = replace(payload::text, '\"active\":true', '\"active\":false')::json \
         where position = $1",
        &[&tampered],
    )
    .await
    .unwrap();
    sql.batch_execute("alter table events enable trigger events_append_only")
        .await
        .unwrap();
    assert_eq!(
        verify(app.pool()).await.unwrap(),
        Verdict::Broken {
            position: tampered,
            reason: "its content does not match its hash (altered after it was written)".into()
        }
    );
    let broken = std::process::Command::new(binary)
        .arg("verify")
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stdout).contains(&format!("position {tampered}")));
    app.stop().await;
}

#[tokio::test]
async fn a_read_table_that_drifts_from_the_log_fails_verify() {
    let app = spawn_app().await;
    let id = app.provision("drift@contoso.com").await;
    let provisioned = app.last_position_of(&id).await;
    // A later event, so that the drifted row's position is not the log's last.
    app.provision("bystander@contoso.com").await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    app.sql()
        .await
        .execute(
            "update scim_users set active = false where user_id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    let verdict = verify(app.pool()).await.unwrap();
    assert!(
        matches!(verdict, Verdict::Broken { position, .. } if position == provisioned),
        "{verdict:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_database_outage_answers_503_loses_nothing_acknowledged_and_heals() {
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let app = spawn_app_with(Options {
        postgres_port: proxy.port,
        ..Options::default()
    })
    .await;
    let before = app.provision("before.db.outage@contoso.com").await;

    proxy.cut();
    let (status, body) = app
        .create_user(entra_user("during.db.outage@contoso.com"))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "503");
    let (status, _) = app.get_user(&before).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    let mut healed = false;
    for _ in 0..100 {
        if app.get_user(&before).await.0 == StatusCode::OK {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        healed,
        "the service recovers by itself when PostgreSQL returns"
    );
    let after = app.provision("after.db.outage@contoso.com").await;
    assert_eq!(app.get_user(&after).await.0, StatusCode::OK);
    let (_, found) = app
        .filter_users("userName eq \"during.db.outage@contoso.com\"")
        .await;
    assert_eq!(
        found["totalResults"], 0,
        "what was refused left nothing behind"
    );
    app.wait_for_projector(Duration::from_secs(10)).await;
    assert!(matches!(
        verify(app.pool()).await.unwrap(),
        Verdict::Sound { .. }
    ));
    app.stop().await;
}

/// The relay publishes this process's appends as its appender kept them,
/// without reading them back, and reads from the log what another process
/// appended in between: every event reaches the read tables once, opened,
/// and the log stays sound.
#[tokio::test]
async fn the_relay_publishes_kept_appends_and_reads_another_processs_from_the_log() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let other_process = store::Appender::start(
        app.pool().clone(),
        store::AppendMetrics::unregistered().unwrap(),
    );
    let relayed = [store::Checkpoint::Relay];
    for index in 0..5 {
        let (status, _) = app
            .create_user(entra_user(&format!("kept{index}@contoso.com")))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        app.wait_for_checkpoints(&relayed, Duration::from_secs(10))
            .await;
        let user_name = format!("elsewhere{index}@contoso.com");
        other_process
            .append(store::AppendRequest {
                org_id,
                stream_id: uuid::Uuid::now_v7(),
                expected_version: 0,
                commutes: false,
                events: vec![domain::Event::UserProvisioned {
                    resource: entra_user(&user_name),
                    password_hash: None,
                }],
                claims: vec![domain::resource::UniqueKey {
                    kind: "userName",
                    key: user_name.clone(),
                }],
                releases: Vec::new(),
                registrations: Vec::new(),
                meta: domain::RequestMeta::command_line("another process", uuid::Uuid::new_v4()),
            })
            .await
            .unwrap();
        app.wait_for_checkpoints(&relayed, Duration::from_secs(10))
            .await;
    }
    app.wait_for_projector(Duration::from_secs(20)).await;

    let read = "rollcall_relay_read_events_total";
    let kept = app.metric(&format!("{read}{{from=\"appender\"}}")).await;
    let from_log = app.metric(&format!("{read}{{from=\"log\"}}")).await;
    assert!(kept >= 5.0, "the relay took {kept} events as kept");
    assert!(
        from_log >= 5.0,
        "the relay read {from_log} events from the log"
    );
    // A payload that reached the projector sealed would have been read
    // again from the log, as a hole.
    assert_eq!(
        app.metric("rollcall_projector_holes_filled_total").await,
        0.0
    );
    for index in 0..5 {
        for user_name in [
            format!("kept{index}@contoso.com"),
            format!("elsewhere{index}@contoso.com"),
        ] {
            let (_, found) = app
                .filter_users(&format!("userName eq \"{user_name}\""))
                .await;
            assert_eq!(found["totalResults"], 1, "{user_name}");
            assert_eq!(found["Resources"][0]["userName"], user_name.as_str());
        }
    }
    // The linker, too, took the kept ones as kept and the others from the
    // log: every user is a member.
    let linked: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from memberships where org_id = $1 and entry_id is not null",
            &[&org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(linked, 10);
    assert!(matches!(
        verify(app.pool()).await.unwrap(),
        Verdict::Sound { .. }
    ));
    app.stop().await;
}
