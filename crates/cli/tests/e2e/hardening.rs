//! Issue 8: no tenant's input can wedge the pipeline or fail another tenant's
//! writes; a stuck or poisoned projector is visible and contained.

use std::time::{Duration, Instant};

use domain::resource::UniqueKey;
use domain::{Event, RequestMeta};
use reqwest::{Method, StatusCode};
use rollcall::verify::{self, Verdict};
use serde_json::{Value, json};
use store::{AppendError, AppendRequest, Registration};
use uuid::Uuid;

use crate::helpers::{Options, TestApp, entra_user, form_encode, spawn_app, spawn_app_with};

/// Polls `probe` until it returns `Some`, failing the test after `within`.
async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_nul_character_anywhere_is_refused_before_it_is_recorded() {
    let app = spawn_app().await;
    let mut with_nul_display = entra_user("nul@contoso.test");
    with_nul_display["displayName"] = json!("a\u{0}b");
    let mut with_nul_key = entra_user("nulkey@contoso.test");
    with_nul_key["x\u{0}y"] = json!("fine");
    let mut with_nul_user_name = entra_user("plain@contoso.test");
    with_nul_user_name["userName"] = json!("a\u{0}@contoso.test");
    for (body, names) in [
        (with_nul_display, "displayName"),
        (with_nul_key, "x\u{FFFD}y"),
        (with_nul_user_name, "userName"),
    ] {
        let (status, answer) = app.create_user(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["scimType"], "invalidValue");
        assert!(
            detail(&answer).starts_with(names) && detail(&answer).contains("U+0000"),
            "{answer}"
        );
    }
    let id = app.provision("kept@contoso.test").await;
    let (status, answer) = app
        .patch_user(
            &id,
            json!([{"op": "replace", "path": "title", "value": "x\u{0}"}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = app.filter_users("userName eq \"a\u{0}b\"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["scimType"], "invalidFilter");

    let recorded: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from events where event_type like 'User%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 1, "only the valid user reached the log");
    let (status, _) = app.get_user(&id).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn indexed_values_past_their_limits_are_refused_naming_the_attribute() {
    let app = spawn_app().await;
    let long_email = format!("{}@contoso.test", "a".repeat(2_900));
    let mut body = entra_user("long-email@contoso.test");
    body["emails"] = json!([{"type": "work", "value": long_email, "primary": true}]);
    let (status, answer) = app.create_user(body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        detail(&answer).starts_with("emails[0].value is longer than 254"),
        "{answer}"
    );
    assert!(
        !detail(&answer).contains("aaaaaaaa"),
        "the detail never echoes the value"
    );

    let user_name = format!("{}@c.test", "u".repeat(2_700));
    let mut body = entra_user(&user_name);
    body["externalId"] = json!("short");
    body["emails"] = json!([]);
    let (status, answer) = app.create_user(body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        detail(&answer).starts_with("userName is longer than 256"),
        "{answer}"
    );

    let mut body = entra_user("long-external@contoso.test");
    body["externalId"] = json!("e".repeat(257));
    let (status, answer) = app.create_user(body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        detail(&answer).starts_with("externalId is longer than 256"),
        "{answer}"
    );

    let (status, answer) = app
        .send(
            app.request_as(&app.token, Method::POST, "/Groups")
                .header("content-type", "application/scim+json")
                .body(json!({"displayName": "g".repeat(257)}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        detail(&answer).starts_with("displayName is longer than 256"),
        "{answer}"
    );

    // At the limits, in four-byte characters: accepted, folded, readable.
    let at_limit = format!("{}@c.test", "𝔘".repeat(256 - 7));
    assert_eq!(at_limit.chars().count(), 256);
    let mut body = entra_user(&at_limit);
    body["emails"] = json!([{"type": "work", "value": format!("{}@c.test", "𝔢".repeat(254 - 7))}]);
    body["externalId"] = json!("𝔵".repeat(256));
    let (status, answer) = app.create_user(body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, _) = app.get_user(answer["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    let (_, schema) = app
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let attributes = schema["attributes"].as_array().unwrap();
    let user_name = attributes.iter().find(|a| a["name"] == "userName").unwrap();
    assert!(
        user_name["description"]
            .as_str()
            .unwrap()
            .ends_with("At most 256 characters."),
        "{user_name}"
    );
    app.stop().await;
}

/// A `UserProvisioned` event that the read tables cannot hold, appended
/// behind the API's back (as an older build without today's checks could
/// have): the projector must contain it.
fn poison(org_id: Uuid) -> AppendRequest {
    AppendRequest {
        org_id,
        stream_id: Uuid::now_v7(),
        expected_version: 0,
        commutes: false,
        events: vec![Event::UserProvisioned {
            resource: json!({"userName": "poison@contoso.test", "displayName": "a\u{0}b"}),
            password_hash: None,
        }],
        claims: Vec::new(),
        releases: Vec::new(),
        registrations: Vec::new(),
        meta: RequestMeta::command_line("test poison", Uuid::new_v4()),
    }
}

#[tokio::test]
async fn an_event_that_cannot_be_folded_quarantines_only_its_organization() {
    let app = spawn_app().await;
    let other = app
        .other_organization("Fabrikam", "owner@fabrikam.test")
        .await;
    let ours = app.provision("before@contoso.test").await;
    let org_id = app.org_id().await;
    let stack = app.stack.as_ref().unwrap();
    let poisoned = stack.appender.append(poison(org_id)).await.unwrap();

    // Our organization answers 503, reads and writes alike, once the
    // projector has met the event; never stale data.
    let (_, answer) = eventually(Duration::from_secs(10), "a 503", || async {
        let (status, answer) = app.get_user(&ours).await;
        (status == StatusCode::SERVICE_UNAVAILABLE).then_some((status, answer))
    })
    .await;
    assert!(
        detail(&answer).contains(&format!("position {}", poisoned.last_position)),
        "{answer}"
    );
    let (status, _) = app.create_user(entra_user("after@contoso.test")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // Every other organization goes on, reading its writes at once.
    for index in 0..5 {
        let (status, created) = app
            .create_user_as(&other, entra_user(&format!("u{index}@fabrikam.test")))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let started = Instant::now();
        let (status, _) = app
            .get_user_as(&other, created["id"].as_str().unwrap())
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    // Recorded for auditors and operators.
    let recorded: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from events where event_type = 'ProjectionQuarantined' \
             and org_id = $1 and (payload->>'position')::bigint = $2",
            &[&org_id, &poisoned.last_position],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 1);
    assert_eq!(
        app.metric("rollcall_projector_quarantined_events_total")
            .await,
        1.0
    );
    eventually(Duration::from_secs(5), "the quarantine gauge", || async {
        (app.metric("rollcall_projector_quarantined_organizations")
            .await
            == 1.0)
            .then_some(())
    })
    .await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    match verify::verify(app.pool()).await.unwrap() {
        Verdict::Quarantined { organizations, .. } => {
            assert_eq!(organizations, vec![(org_id, poisoned.last_position)]);
        }
        other => panic!("expected a quarantine, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn a_stuck_projector_shows_in_its_lag_readiness_and_verify() {
    let app = spawn_app_with(Options {
        read_your_writes_wait: Duration::from_millis(200),
        max_projector_lag: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    app.provision("first@contoso.test").await;
    let (status, _) = app.ops("/readyz").await;
    assert_eq!(status, StatusCode::OK);

    // Hold the projector's checkpoint row: every fold now waits.
    let holding = app.hold_projector().await;
    // Appended behind the API: a client of this token would wait for its
    // own writes (and get 503 past the bound), which is not under test here.
    let org_id = app.org_id().await;
    for index in 0..3 {
        let appender = &app.stack.as_ref().unwrap().appender;
        appender.append(valid_create(org_id, index)).await.unwrap();
    }
    // A write through the API is answered (it is in the log) once its wait
    // for the projector runs out; the same token's next read must not then
    // miss it: it waits for it, and says 503 rather than 404.
    let (status, created) = app.create_user(entra_user("mine@contoso.test")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, answer) = app.get_user(created["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    eventually(Duration::from_secs(5), "the lag metric", || async {
        (app.metric("rollcall_projector_lag_events").await >= 4.0).then_some(())
    })
    .await;
    let (status, reason) = eventually(Duration::from_secs(5), "readyz to fail", || async {
        let (status, text) = app.ops("/readyz").await;
        (status == StatusCode::SERVICE_UNAVAILABLE).then_some((status, text))
    })
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reason.contains("the projector is behind"), "{reason}");
    match verify::verify_waiting(app.pool(), Duration::from_millis(300))
        .await
        .unwrap()
    {
        Verdict::Behind { checkpoint, head } => assert!(checkpoint < head),
        other => panic!("expected behind, got {other:?}"),
    }

    holding.release().await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    eventually(Duration::from_secs(5), "readyz to pass", || async {
        (app.ops("/readyz").await.0 == StatusCode::OK).then_some(())
    })
    .await;
    assert!(matches!(
        verify::verify(app.pool()).await.unwrap(),
        Verdict::Sound { .. }
    ));
    app.stop().await;
}

fn valid_create(org_id: Uuid, index: usize) -> AppendRequest {
    AppendRequest {
        org_id,
        stream_id: Uuid::now_v7(),
        expected_version: 0,
        commutes: false,
        events: vec![Event::UserProvisioned {
            resource: json!({"userName": format!("batch{index}@fabrikam.test")}),
            password_hash: None,
        }],
        claims: vec![UniqueKey {
            kind: "userName",
            key: format!("batch{index}@fabrikam.test"),
        }],
        releases: Vec::new(),
        registrations: Vec::new(),
        meta: RequestMeta::command_line("test batch", Uuid::new_v4()),
    }
}

/// A connection holding the log head in an open transaction (end it with
/// `commit` or `rollback`), and an append waiting for it.
struct HeldLogHead {
    holder: tokio_postgres::Client,
    lead: tokio::task::JoinHandle<Result<store::Appended, AppendError>>,
}

/// Holds the log head, then starts `lead` and waits until it waits for it.
async fn hold_log_head_behind(app: &TestApp, lead: AppendRequest) -> HeldLogHead {
    let holder = app.sql().await;
    holder
        .batch_execute("begin; select 1 from log_head where id = 1 for update")
        .await
        .unwrap();
    let lead = tokio::spawn({
        let appender = app.stack.as_ref().unwrap().appender.clone();
        async move { appender.append(lead).await }
    });
    wait_for_a_lock_wait(app).await;
    HeldLogHead { holder, lead }
}

/// Waits until a session of the test's database waits for a lock.
async fn wait_for_a_lock_wait(app: &TestApp) {
    let lock_waits = app.sql().await;
    eventually(
        Duration::from_secs(5),
        "an append to wait for the log head",
        || async {
            let waiting: i64 = lock_waits
                .query_one(
                    "select count(*) from pg_stat_activity where wait_event_type = 'Lock' \
                     and datname = current_database()",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            (waiting > 0).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn an_append_reads_the_chain_head_only_once_it_holds_the_log_head() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let held = hold_log_head_behind(&app, valid_create(org_id, 1)).await;
    // What another process's appender does while this one waits: it moves
    // the organization's chain head, then lets go of the log head.
    let moved_to = vec![7u8; 32];
    held.holder
        .execute(
            "update chain_heads set last_hash = $2 where org_id = $1",
            &[&org_id, &moved_to],
        )
        .await
        .unwrap();
    held.holder.batch_execute("commit").await.unwrap();

    let appended = held.lead.await.unwrap().expect("the append lands");
    let prev_hash: Vec<u8> = app
        .sql()
        .await
        .query_one(
            "select prev_hash from events where position = $1",
            &[&appended.last_position],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        prev_hash, moved_to,
        "the append chained onto a head it read before it held the log head"
    );
}

/// Appends `requests` in one batch, and the outcome of each in their order:
/// holds the log head until a first append waits for it, queues them all
/// behind that one, then lets go. The first append (`lead`) must land.
async fn append_in_one_batch(
    app: &TestApp,
    lead: AppendRequest,
    requests: Vec<AppendRequest>,
) -> Vec<Result<store::Appended, AppendError>> {
    let stack = app.stack.as_ref().unwrap();
    let held = hold_log_head_behind(app, lead).await;
    let queued = requests.len();
    let pending: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let appender = stack.appender.clone();
            tokio::spawn(async move { appender.append(request).await })
        })
        .collect();
    eventually(Duration::from_secs(5), "the queue to fill", || async {
        (stack.appender.queued() == queued).then_some(())
    })
    .await;
    held.holder.batch_execute("rollback").await.unwrap();

    held.lead.await.unwrap().expect("the first append lands");
    let mut outcomes = Vec::new();
    for task in pending {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

#[tokio::test]
async fn a_batch_refused_for_one_request_fails_that_request_only() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;

    let mut bad = valid_create(org_id, 9_999);
    bad.claims[0].key = "bad\u{0}@fabrikam.test".into();
    let mut requests: Vec<AppendRequest> = (0..40).map(|i| valid_create(org_id, i)).collect();
    requests.insert(20, bad);
    let mut outcomes = append_in_one_batch(&app, valid_create(org_id, 1_000), requests).await;
    let refused = outcomes
        .remove(20)
        .expect_err("the request with a NUL fails");
    assert!(
        matches!(refused, AppendError::Refused { .. }) && refused.is_refused_data(),
        "{refused:?}"
    );
    for (index, outcome) in outcomes.iter().enumerate() {
        assert!(outcome.is_ok(), "request {index}: {outcome:?}");
    }
    app.stop().await;
}

/// A statement of the last phase that PostgreSQL refuses fails the batch at
/// its commit, which goes out in the same round trip: nothing of that
/// batch is written, its halves are committed apart until the refused
/// request stands alone, and the connection, rolled back, serves the next
/// batch. (A trigger refuses the event, as a check the database gained
/// would.)
#[tokio::test]
async fn a_batch_refused_as_it_commits_writes_nothing_of_it_and_lands_the_rest() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    app.sql()
        .await
        .batch_execute(
            "create function refuse_marked_events() returns trigger language plpgsql as $$ \
             begin raise exception 'refused by the test' using errcode = '22023'; end $$; \
             create trigger refuse_marked_events before insert on events for each row \
             when (new.metadata ->> 'path' = 'refused at commit') \
             execute function refuse_marked_events();",
        )
        .await
        .unwrap();
    let positions_before: i64 = app
        .sql()
        .await
        .query_one("select count(*) from events", &[])
        .await
        .unwrap()
        .get(0);

    let mut marked = valid_create(org_id, 9_999);
    marked.meta = RequestMeta::command_line("refused at commit", Uuid::new_v4());
    let marked_stream = marked.stream_id;
    let mut requests: Vec<AppendRequest> = (0..30).map(|i| valid_create(org_id, i)).collect();
    requests.insert(11, marked);
    let mut outcomes = append_in_one_batch(&app, valid_create(org_id, 1_000), requests).await;
    let refused = outcomes
        .remove(11)
        .expect_err("the marked event is refused");
    assert!(refused.is_refused_data(), "{refused:?}");
    for (index, outcome) in outcomes.iter().enumerate() {
        assert!(outcome.is_ok(), "request {index}: {outcome:?}");
    }
    let after = app
        .stack
        .as_ref()
        .unwrap()
        .appender
        .append(valid_create(org_id, 2_000))
        .await
        .expect("the next batch lands on the connection the refused one used");

    let sql = app.sql().await;
    let marked_rows: i64 = sql
        .query_one(
            "select (select count(*) from events where stream_id = $1) \
                  + (select count(*) from streams where stream_id = $1) \
                  + (select count(*) from unique_claims where owner = $1)",
            &[&marked_stream],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        marked_rows, 0,
        "the refused request left an event, stream or claim"
    );
    let (count, last): (i64, i64) = sql
        .query_one("select count(*), max(position) from events", &[])
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!(
        count,
        positions_before + 30 + 2,
        "the lead, the thirty and the next batch, each once"
    );
    assert_eq!(
        (count, last),
        (after.last_position, after.last_position),
        "gap-free"
    );
    match verify::verify(app.pool()).await.unwrap() {
        Verdict::Sound { .. } => {}
        other => panic!("expected a sound log, got {other:?}"),
    }
    app.stop().await;
}

/// Streams are created with a plain insert under a savepoint; a request
/// that starts a stream which exists already rolls the batch back to it,
/// and is refused for its version alone.
#[tokio::test]
async fn a_batch_starting_a_stream_that_exists_refuses_only_that_request() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let existing = valid_create(org_id, 700);
    let existing_stream = existing.stream_id;
    app.stack
        .as_ref()
        .unwrap()
        .appender
        .append(existing)
        .await
        .expect("the stream's first append lands");

    let mut again = valid_create(org_id, 701);
    again.stream_id = existing_stream;
    let mut requests: Vec<AppendRequest> = (0..20).map(|i| valid_create(org_id, i)).collect();
    requests.insert(5, again);
    let mut outcomes = append_in_one_batch(&app, valid_create(org_id, 1_000), requests).await;
    let refused = outcomes.remove(5);
    assert!(
        matches!(refused, Err(AppendError::VersionConflict)),
        "{refused:?}"
    );
    for (index, outcome) in outcomes.iter().enumerate() {
        assert!(outcome.is_ok(), "fresh request {index}: {outcome:?}");
    }
    let sql = app.sql().await;
    let (version, events): (i64, i64) = sql
        .query_one(
            "select (select version from streams where stream_id = $1), \
                    (select count(*) from events where stream_id = $1)",
            &[&existing_stream],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!(
        (version, events),
        (1, 1),
        "the existing stream kept its one event"
    );
    let claimed: i64 = sql
        .query_one(
            "select count(*) from unique_claims where key = 'batch701@fabrikam.test'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(claimed, 0, "the refused request took no claim");
    app.stop().await;
}

/// A request that starts its stream writes its registry rows with plain
/// inserts, under a savepoint; one whose row exists all the same (here the
/// owner's membership, written when the organization was made) rolls them
/// back to it, and they are upserted, the batch's new rows with them.
#[tokio::test]
async fn a_new_streams_registry_row_that_exists_is_upserted_with_its_batch() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let sql = app.sql().await;
    let owner: Uuid = sql
        .query_one(
            "select account_id from memberships where org_id = $1",
            &[&org_id],
        )
        .await
        .unwrap()
        .get(0);
    let membership = |account_id, entry_version| Registration::Membership {
        account_id,
        role: "owner".into(),
        source: "manual",
        state: "active",
        entry_id: None,
        entry_version,
    };
    let mut meets_owner = valid_create(org_id, 800);
    meets_owner.registrations = vec![membership(owner, 42)];
    let mut makes_account = valid_create(org_id, 801);
    let new_account = makes_account.stream_id;
    makes_account.registrations = vec![
        Registration::Account {
            email: "new-account@fabrikam.test".into(),
            first_name: None,
            family_name: None,
        },
        membership(new_account, 7),
    ];
    let mut requests: Vec<AppendRequest> = (0..10).map(|i| valid_create(org_id, i)).collect();
    requests.push(meets_owner);
    requests.push(makes_account);
    let outcomes = append_in_one_batch(&app, valid_create(org_id, 1_000), requests).await;
    for (index, outcome) in outcomes.iter().enumerate() {
        assert!(outcome.is_ok(), "request {index}: {outcome:?}");
    }

    let versions: Vec<(Uuid, i64)> = sql
        .query(
            "select account_id, entry_version from memberships where org_id = $1 \
             order by entry_version",
            &[&org_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(versions, [(new_account, 7), (owner, 42)]);
    let email: String = sql
        .query_one(
            "select email from accounts where account_id = $1",
            &[&new_account],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(email, "new-account@fabrikam.test");
    app.stop().await;
}

#[tokio::test]
async fn a_taken_value_in_a_batch_refuses_only_the_requests_that_claim_it() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    app.stack
        .as_ref()
        .unwrap()
        .appender
        .append(valid_create(org_id, 500))
        .await
        .expect("the first holder of batch500 lands");

    // Twenty fresh values; one already taken; one claimed twice in the batch.
    let mut requests: Vec<AppendRequest> = (0..20).map(|i| valid_create(org_id, i)).collect();
    requests.insert(7, valid_create(org_id, 500));
    requests.push(valid_create(org_id, 600));
    requests.push(valid_create(org_id, 600));
    let mut outcomes = append_in_one_batch(&app, valid_create(org_id, 1_000), requests).await;
    let twice = [outcomes.pop().unwrap(), outcomes.pop().unwrap()];
    let taken = outcomes.remove(7);
    assert!(
        matches!(&taken, Err(AppendError::Taken(key)) if key.key == "batch500@fabrikam.test"),
        "{taken:?}"
    );
    assert_eq!(
        twice.iter().filter(|outcome| outcome.is_ok()).count(),
        1,
        "one of the two claims of batch600 lands: {twice:?}"
    );
    assert!(
        twice
            .iter()
            .any(|outcome| matches!(outcome, Err(AppendError::Taken(_)))),
        "{twice:?}"
    );
    for (index, outcome) in outcomes.iter().enumerate() {
        assert!(outcome.is_ok(), "fresh request {index}: {outcome:?}");
    }
    let claims: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from unique_claims where kind = 'userName' and key like 'batch%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(claims, 20 + 3, "20 fresh, batch500, batch600 and batch1000");
    app.stop().await;
}

#[tokio::test]
async fn many_concurrent_writes_to_one_resource_all_land() {
    let app = spawn_app().await;
    let id = app.provision("busy@contoso.test").await;
    // 32 clients, 4 PATCHes each, on one user: every one lands, in some order.
    let clients = (0..32).map(|client| {
        let (app, id) = (&app, id.clone());
        async move {
            let mut statuses = Vec::new();
            for round in 0..4 {
                let (status, body) = app
                    .patch_user(
                        &id,
                        json!([{"op": "add", "path": format!("counter{client}"),
                                "value": round}]),
                    )
                    .await;
                statuses.push((status, body));
            }
            statuses
        }
    });
    for (status, body) in futures::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
    {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, user) = app.get_user(&id).await;
    assert_eq!(user["meta"]["version"], "W/\"129\"", "{user}");

    // 24 concurrent renames of one group, then 64 concurrent member adds.
    let members: Vec<String> = futures::future::join_all((0..64).map(|index| {
        let app = &app;
        async move { app.provision(&format!("m{index}@contoso.test")).await }
    }))
    .await;
    let (status, group) = app
        .send(
            app.request_as(&app.token, Method::POST, "/Groups")
                .header("content-type", "application/scim+json")
                .body(json!({"displayName": "Busy"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group = group["id"].as_str().unwrap().to_owned();
    let patch_group = |operations: Value| {
        let (app, group) = (&app, group.clone());
        async move {
            app.send(
                app.request_as(&app.token, Method::PATCH, &format!("/Groups/{group}"))
                    .header("content-type", "application/scim+json")
                    .body(
                        json!({"schemas": [crate::helpers::PATCH_OP], "Operations": operations})
                            .to_string(),
                    ),
            )
            .await
        }
    };
    let renames = (0..24).map(|index| {
        patch_group(
            json!([{"op": "replace", "path": "displayName", "value": format!("Busy {index}")}]),
        )
    });
    for (status, body) in futures::future::join_all(renames).await {
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let adds = members.iter().map(|member| {
        patch_group(json!([{"op": "add", "path": "members", "value": [{"value": member}]}]))
    });
    for (status, body) in futures::future::join_all(adds).await {
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (_, read) = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(read["members"].as_array().unwrap().len(), 64, "{read}");
    app.stop().await;
}

/// How many consumers the test's projector queue has, as RabbitMQ sees it.
async fn projector_consumers(prefix: &str) -> u32 {
    let connection = bus::connect(crate::helpers::RABBITMQ).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let queue = channel
        .queue_declare(
            bus::Topology::new(prefix).projector_queue.as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let consumers = queue.consumer_count();
    let _ = connection.close(0, "done".into()).await;
    consumers
}

#[tokio::test]
async fn twenty_broker_cuts_under_load_leave_no_stale_read_and_everything_reconnects() {
    let proxy = crate::helpers::TcpProxy::start("127.0.0.1:5672").await;
    let app = spawn_app_with(Options {
        amqp_url: proxy.amqp_url(),
        ..Options::default()
    })
    .await;
    let running = std::sync::atomic::AtomicBool::new(true);
    let writer = |client: usize| {
        let (app, running) = (&app, &running);
        async move {
            let (mut acknowledged, mut stale, mut slowest) = (0, Vec::new(), Duration::ZERO);
            let mut index = 0;
            while running.load(std::sync::atomic::Ordering::Relaxed) && index < 400 {
                let started = Instant::now();
                let (status, created) = app
                    .create_user(entra_user(&format!("w{client}-{index}@contoso.test")))
                    .await;
                slowest = slowest.max(started.elapsed());
                assert_eq!(status, StatusCode::CREATED, "{created}");
                acknowledged += 1;
                let id = created["id"].as_str().unwrap().to_owned();
                if app.get_user(&id).await.0 != StatusCode::OK {
                    stale.push(format!("create {id}"));
                }
                let started = Instant::now();
                let (status, patched) = app
                    .patch_user(
                        &id,
                        json!([{"op": "replace", "path": "displayName", "value": format!("v{index}")}]),
                    )
                    .await;
                slowest = slowest.max(started.elapsed());
                assert_eq!(status, StatusCode::OK, "{patched}");
                acknowledged += 1;
                let (_, read) = app.get_user(&id).await;
                if read["displayName"] != format!("v{index}") {
                    stale.push(format!("patch {id}"));
                }
                index += 1;
            }
            (acknowledged, stale, slowest)
        }
    };
    let cutter = async {
        // A fixed schedule of cuts at varied moments and of varied length.
        for cut in 0..20u64 {
            tokio::time::sleep(Duration::from_millis(40 + (cut * 97) % 300)).await;
            proxy.cut();
            tokio::time::sleep(Duration::from_millis(60 + (cut * 53) % 450)).await;
            proxy.restore();
        }
        running.store(false, std::sync::atomic::Ordering::Relaxed);
    };
    let (outcomes, ()) = tokio::join!(futures::future::join_all((0..4).map(writer)), cutter);
    let acknowledged: usize = outcomes.iter().map(|(count, _, _)| count).sum();
    let stale: Vec<&String> = outcomes.iter().flat_map(|(_, stale, _)| stale).collect();
    let slowest = outcomes
        .iter()
        .map(|(_, _, slowest)| *slowest)
        .max()
        .unwrap();
    println!("{acknowledged} acknowledged writes across 20 cuts; slowest {slowest:?}");
    assert!(
        acknowledged > 40,
        "the writers made progress: {acknowledged}"
    );
    assert!(
        stale.is_empty(),
        "stale reads after acknowledged writes: {stale:?}"
    );
    assert_eq!(
        app.metric("rollcall_api_read_your_writes_timeouts_total")
            .await,
        0.0,
        "no write waited out the read-your-writes bound for the projector"
    );

    // Both the relay and the projector's consumer come back by themselves.
    // Everything written so far is published (the linker may go on
    // appending meanwhile).
    let written = store::log_head(app.pool()).await.unwrap();
    eventually(
        Duration::from_secs(60),
        "the relay to publish everything",
        || async {
            let relayed = store::read_checkpoint(app.pool(), store::Checkpoint::Relay)
                .await
                .unwrap();
            (relayed >= written).then_some(())
        },
    )
    .await;
    let consumers = std::sync::atomic::AtomicU32::new(0);
    let consuming = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let now = projector_consumers(&app.bus_prefix).await;
            consumers.store(now, std::sync::atomic::Ordering::Relaxed);
            if now == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    if consuming.is_err() {
        let (_, metrics) = app.metrics_ops("/metrics").await;
        let reconnects: Vec<&str> = metrics
            .lines()
            .filter(|line| line.starts_with("rollcall_bus_reconnects_total"))
            .collect();
        panic!(
            "waited 60 s for the projector to consume again: the queue has {} consumers; {reconnects:?}",
            consumers.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    assert!(matches!(
        verify::verify(app.pool()).await.unwrap(),
        Verdict::Sound { .. }
    ));
    tokio::time::timeout(Duration::from_secs(30), app.stop())
        .await
        .expect("the stack stops within 30 s");
}

#[tokio::test]
async fn a_write_reads_what_is_new_not_the_whole_history() {
    let app = spawn_app().await;
    let id = app.provision("long.history@contoso.test").await;
    let patch = |round: usize| {
        let (app, id) = (&app, id.clone());
        async move {
            let (status, body) = app
                .patch_user(
                    &id,
                    json!([{"op": "replace", "path": "title", "value": format!("t{round}")}]),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    for round in 0..100 {
        patch(round).await;
    }
    let before = app.metric("rollcall_api_write_events_read_total").await;
    for round in 100..150 {
        patch(round).await;
    }
    let read = app.metric("rollcall_api_write_events_read_total").await - before;
    assert!(
        read <= 50.0,
        "50 PATCHes after 100 read {read} events from the log"
    );
    let (_, user) = app.get_user(&id).await;
    assert_eq!(user["title"], "t149");
    assert_eq!(user["meta"]["version"], "W/\"151\"");
    app.stop().await;
}

/// Starts a `POST /Users` whose body never finishes: headers and a first
/// piece of a body announced longer.
async fn slow_body(app: &crate::helpers::TestApp, token: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(app.address()).await.unwrap();
    let head = format!(
        "POST /scim_v2/Users HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{{\"userName\":",
        app.address()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// What the server answered on a raw connection: the status line and body.
async fn answer(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(read)) => {
                bytes.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&bytes);
                if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
                    break;
                }
            }
            Err(_) => panic!("no answer within 20 s: {}", String::from_utf8_lossy(&bytes)),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn slow_bodies_are_cut_off_and_one_token_cannot_hold_every_slot() {
    let app = spawn_app_with(Options {
        body_read_timeout: Duration::from_secs(2),
        max_in_flight_per_token: 4,
        ..Options::default()
    })
    .await;
    let other = app
        .other_organization("Fabrikam", "owner@fabrikam.test")
        .await;
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(slow_body(&app, &app.token).await);
    }
    eventually(
        Duration::from_secs(5),
        "four slow requests admitted",
        || async {
            (app.metric("rollcall_api_scim_requests_in_flight").await >= 4.0).then_some(())
        },
    )
    .await;

    // The token's fifth request is refused at once, with a time to come back;
    // another organization is served as usual.
    let (status, refused) = app.create_user(entra_user("fifth@contoso.test")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    assert_eq!(refused["status"], "429");
    let (status, created) = app
        .create_user_as(&other, entra_user("free@fabrikam.test"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    // The slow ones are cut off with a SCIM 408, and the token is free again.
    for stream in &mut slow {
        let text = answer(stream).await;
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("application/scim+json"), "{text}");
        assert!(text.contains("did not arrive within 2 s"), "{text}");
    }
    let (status, body) = app.create_user(entra_user("later@contoso.test")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.stop().await;
}

/// Sends `raw` on a fresh connection and returns the whole answer.
async fn raw_exchange(app: &crate::helpers::TestApp, raw: &[u8]) -> String {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(app.address()).await.unwrap();
    stream.write_all(raw).await.unwrap();
    answer(&mut stream).await
}

#[tokio::test]
async fn errors_made_below_the_handlers_are_scim_json_and_raw_quotes_work() {
    let app = spawn_app().await;
    app.provision("quoted@contoso.test").await;
    let host = app.address();
    let token = app.token.clone();

    // Raw quotes in a filter, as Entra's validator and Okta's suite send them,
    // answer exactly as the %22 form does.
    let raw = raw_exchange(
        &app,
        format!(
            "GET /scim_v2/Users?filter=userName+eq+\"quoted@contoso.test\" HTTP/1.1\r\n\
             Host: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    let (_, encoded) = app
        .list_users("filter=userName+eq+%22quoted@contoso.test%22")
        .await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let body: Value = serde_json::from_str(&raw[raw.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["id"], encoded["Resources"][0]["id"]);

    let long_url = format!(
        "GET /scim_v2/Users?filter={} HTTP/1.1\r\nHost: {host}\r\n\r\n",
        "a".repeat(100 << 10)
    );
    let many_headers = format!(
        "GET /scim_v2/Users HTTP/1.1\r\nHost: {host}\r\n{}\r\n",
        (0..200)
            .map(|n| format!("X-{n}: y\r\n"))
            .collect::<String>()
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"THIS IS NOT HTTP\r\n\r\n".to_vec(), "400"),
        (long_url.into_bytes(), "414"),
        (many_headers.into_bytes(), "431"),
        (
            format!(
                "POST /scim_v2/Users HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\
                 Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            )
            .into_bytes(),
            "400",
        ),
        (
            format!("GET /scim_v2/Users HTTP/1.1\r\nHost: {host}\r\nX-Slow: ").into_bytes(),
            "408",
        ),
        (
            format!("GET /nowhere HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .into_bytes(),
            "404",
        ),
    ];
    for (request, status) in cases {
        let text = raw_exchange(&app, &request).await;
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status}")),
            "expected {status}: {}",
            &text[..text.len().min(300)]
        );
        assert!(
            text.to_ascii_lowercase()
                .contains("content-type: application/scim+json"),
            "{text}"
        );
        let body: Value = serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..])
            .unwrap_or_else(|_| panic!("SCIM JSON: {text}"));
        assert_eq!(body["status"], status);
        assert_eq!(
            body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn one_tenants_poison_values_fail_none_of_another_tenants_writes() {
    let app = spawn_app().await;
    let other = app
        .other_organization("Fabrikam", "owner@fabrikam.test")
        .await;
    let poisoner = async {
        let mut refused = 0;
        for round in 0..60 {
            let mut body = entra_user(&format!("p{round}@contoso.test"));
            match round % 3 {
                0 => body["userName"] = json!(format!("nul{round}\u{0}@contoso.test")),
                1 => body["userName"] = json!("u".repeat(2_700)),
                _ => body["externalId"] = json!(format!("x\u{0}{round}")),
            }
            let (status, answer) = app.create_user(body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            refused += 1;
        }
        refused
    };
    let writer = |client: usize| {
        let (app, other) = (&app, &other);
        async move {
            for index in 0..15 {
                let (status, created) = app
                    .create_user_as(
                        other,
                        entra_user(&format!("ok{client}-{index}@fabrikam.test")),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{created}");
            }
        }
    };
    let (refused, _) = tokio::join!(poisoner, futures::future::join_all((0..4).map(writer)));
    assert_eq!(refused, 60);
    let poisoned: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from events e join organizations o using (org_id) \
             where o.name = 'Contoso' and e.event_type = 'UserProvisioned'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        poisoned, 0,
        "nothing of the refused requests reached the log"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_event_this_binary_cannot_read_quarantines_only_its_organization() {
    let app = spawn_app().await;
    let other = app
        .other_organization("Fabrikam", "owner@fabrikam.test")
        .await;
    let ours = app.provision("before@contoso.test").await;
    let org_id = app.org_id().await;
    // As a newer rollcall would write it (schema 99), behind this one's back.
    app.sql()
        .await
        .batch_execute(&format!(
            "begin;
             insert into events (position, org_id, stream_id, stream_version, event_type,
                                 schema_version, payload, metadata, recorded_at, prev_hash, hash)
             select last_position + 1, '{org_id}', gen_random_uuid(), 1, 'UserProvisioned',
                    99, '{{}}', '{{}}', now(), '\\x00', '\\x00'
               from log_head where id = 1 for update;
             update log_head set last_position = last_position + 1 where id = 1;
             commit;"
        ))
        .await
        .unwrap();

    eventually(
        Duration::from_secs(10),
        "a 503 for our organization",
        || async { (app.get_user(&ours).await.0 == StatusCode::SERVICE_UNAVAILABLE).then_some(()) },
    )
    .await;
    let (status, created) = app
        .create_user_as(&other, entra_user("after@fabrikam.test"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = app
        .get_user_as(&other, created["id"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    let reason: String = app
        .sql()
        .await
        .query_one(
            "select reason from projection_quarantine where org_id = $1",
            &[&org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(reason.contains("newer rollcall"), "{reason}");
    app.stop().await;
}

/// `length` random hexadecimal digits.
fn incompressible(length: usize) -> String {
    let mut text = String::new();
    while text.len() < length {
        text.push_str(&Uuid::new_v4().simple().to_string());
    }
    text.truncate(length);
    text
}

/// One append, behind the API's back (as an older build without today's
/// limits could have), of `event` for a new stream.
fn legacy(org_id: Uuid, event: Event) -> AppendRequest {
    AppendRequest {
        org_id,
        stream_id: Uuid::now_v7(),
        expected_version: 0,
        commutes: false,
        events: vec![event],
        claims: Vec::new(),
        releases: Vec::new(),
        registrations: Vec::new(),
        meta: RequestMeta::command_line("test legacy value", Uuid::new_v4()),
    }
}

#[tokio::test]
async fn values_longer_than_any_index_entry_are_folded_and_found() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let stack = app.stack.as_ref().unwrap();
    // Each is past what a btree or GIN entry can hold (about 2.7 KB, after
    // compression: random, so that it does not compress), and the first 256
    // characters of the two names are the same.
    let stem = incompressible(3_000);
    let long_name = format!("{stem}-one@contoso.test");
    let twin_name = format!("{stem}-two@contoso.test");
    let long_email = format!("{}@contoso.test", incompressible(3_000));
    let long_external = incompressible(3_000);
    let long_group = incompressible(3_000).to_uppercase();
    for (user_name, external_id) in [(&long_name, &long_external), (&twin_name, &"y".into())] {
        let event = Event::UserProvisioned {
            resource: json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "externalId": external_id,
                "emails": [{"type": "work", "value": long_email, "primary": true}],
            }),
            password_hash: None,
        };
        stack.appender.append(legacy(org_id, event)).await.unwrap();
    }
    let group = Event::GroupCreated {
        resource: json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": long_group,
            "externalId": long_external,
        }),
    };
    stack.appender.append(legacy(org_id, group)).await.unwrap();
    app.wait_for_projector(Duration::from_secs(10)).await;

    // Folded, not quarantined, and every lookup finds exactly its resource.
    let found = |filter: String| {
        let app = &app;
        async move {
            let (status, page) = app.filter_users(&filter).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|user| user["userName"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found(format!("userName eq \"{}\"", long_name.to_uppercase())).await,
        vec![long_name.clone()]
    );
    assert_eq!(
        found(format!("userName sw \"{}-t\"", stem.to_uppercase())).await,
        vec![twin_name.clone()]
    );
    assert_eq!(
        found(format!("externalId eq \"{long_external}\"")).await,
        vec![long_name.clone()]
    );
    let mut by_email = found(format!(
        "emails[type eq \"work\"].value eq \"{long_email}\""
    ))
    .await;
    by_email.sort();
    assert_eq!(by_email, [long_name.clone(), twin_name.clone()]);
    let (status, groups) = app
        .get(&format!(
            "/Groups?filter={}",
            form_encode(&format!("displayName eq \"{}\"", long_group.to_lowercase()))
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    assert_eq!(groups["totalResults"], 1, "{groups}");
    match verify::verify(app.pool()).await.unwrap() {
        Verdict::Sound { .. } => {}
        other => panic!("expected a sound log, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn a_taken_organization_name_refuses_a_request_whose_claims_are_free() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let taken_name: String = app
        .sql()
        .await
        .query_one(
            "select name from organizations where org_id = $1",
            &[&org_id],
        )
        .await
        .unwrap()
        .get(0);
    let mut request = valid_create(Uuid::new_v4(), 1);
    request.registrations = vec![Registration::Organization {
        name: taken_name.clone(),
    }];
    let refused = app
        .stack
        .as_ref()
        .unwrap()
        .appender
        .append(request)
        .await
        .expect_err("the name is taken");
    assert!(
        matches!(&refused, AppendError::Taken(key) if key.kind == "organization" && key.key == taken_name),
        "{refused:?}"
    );
    let claims: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from unique_claims where key = 'batch1@fabrikam.test'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(claims, 0, "the refused request gave its free claim back");
}
