//! Issue 12: database failures answered by what they are. Each class is
//! provoked for real in PostgreSQL: a cut connection, a terminated backend,
//! a statement a trigger fails with a serialization failure, a deadlock or a
//! unique violation, an exhausted pool, a value the database cannot hold,
//! and a table that is not where rollcall's SQL looks (a bug).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Options, TcpProxy, TestApp, entra_user, spawn_app, spawn_app_with};

const SCIM_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A response as a client sees it.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    async fn of(request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        Answer {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// rollcall's request id, from `X-Request-Id` (the client sent none).
    fn request_id(&self) -> Uuid {
        let id = self.header("x-request-id").expect("X-Request-Id");
        Uuid::parse_str(id).unwrap_or_else(|_| panic!("{id} is no UUID"))
    }

    /// A SCIM error with `status`, as RFC 7644 shapes it.
    fn assert_scim_error(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["schemas"], json!([SCIM_ERROR]), "{}", self.body);
        assert_eq!(self.body["status"], status.to_string(), "{}", self.body);
        assert!(
            self.header("content-type")
                .is_some_and(|kind| kind.starts_with("application/scim+json")),
            "{:?}",
            self.headers
        );
        self.request_id();
    }

    /// A 503 that tells the client to retry.
    fn assert_retry_later(&self) {
        self.assert_scim_error(503);
        assert_eq!(self.header("retry-after"), Some("5"), "{:?}", self.headers);
        assert!(
            self.body["detail"]
                .as_str()
                .unwrap()
                .contains("retry later"),
            "{}",
            self.body
        );
    }

    /// A 500 that names the request id and never says retry.
    fn assert_bug(&self) {
        self.assert_scim_error(500);
        assert_eq!(self.header("retry-after"), None, "a bug is never retried");
        let detail = self.body["detail"].as_str().unwrap();
        assert!(
            detail.contains(&self.request_id().to_string()),
            "the body names the request id the logs carry: {detail}"
        );
        assert!(!detail.contains("retry"), "{detail}");
    }
}

/// `rollcall_store_errors_total{class}` as the metrics listener shows it.
async fn store_errors(app: &TestApp, class: &str) -> f64 {
    let (_, text) = app.metrics_ops("/metrics").await;
    let series = format!("rollcall_store_errors_total{{class=\"{class}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("{series} is not in /metrics"))
        .trim()
        .parse()
        .expect("a number")
}

/// Makes every statement that inserts events fail with `sqlstate`, as
/// PostgreSQL itself would report it.
async fn fail_appends_with(app: &TestApp, sqlstate: &str) {
    app.sql()
        .await
        .batch_execute(&format!(
            "create function provoked_failure() returns trigger language plpgsql as $$ \
             begin raise exception 'provoked by a test' using errcode = '{sqlstate}'; end $$; \
             create trigger provoked_failure before insert on events \
             for each statement execute function provoked_failure();"
        ))
        .await
        .expect("the trigger is installed");
}

async fn create_user(app: &TestApp, user_name: &str) -> Answer {
    Answer::of(
        app.request(Method::POST, "/Users")
            .header("content-type", "application/scim+json")
            .json(&entra_user(user_name)),
    )
    .await
}

#[tokio::test]
async fn a_lost_connection_answers_503_with_retry_after_and_counts_connection() {
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let app = spawn_app_with(Options {
        postgres_port: proxy.port,
        ..Options::default()
    })
    .await;
    proxy.cut();
    let answer = create_user(&app, "cut.off@contoso.com").await;
    answer.assert_retry_later();
    assert_eq!(store_errors(&app, "connection").await, 1.0);
    assert_eq!(store_errors(&app, "bug").await, 0.0);
    proxy.restore();
    app.stop().await;
}

#[tokio::test]
async fn a_backend_terminated_by_an_administrator_answers_503_and_counts_shutdown() {
    let app = spawn_app().await;
    app.provision("before.shutdown@contoso.com").await;
    // Folded first, so that the read below waits for nothing but the lock.
    app.wait_for_checkpoints(&[store::Checkpoint::Projector], Duration::from_secs(30))
        .await;
    // Hold the users' read table so that the next read waits in its backend.
    let holder = app.sql().await;
    holder
        .batch_execute("begin; lock table scim_users in access exclusive mode")
        .await
        .unwrap();
    let reading = tokio::spawn(Answer::of(app.request(Method::GET, "/Users")));
    let admin = app.sql().await;
    let mut terminated = false;
    while !terminated {
        terminated = admin
            .query_one(
                "select coalesce(bool_or(pg_terminate_backend(pid)), false) from pg_stat_activity \
                 where datname = current_database() and wait_event_type = 'Lock' \
                 and query ilike '%scim_users%' and pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
    }
    let answer = reading.await.unwrap();
    holder.batch_execute("rollback").await.unwrap();
    answer.assert_retry_later();
    assert_eq!(store_errors(&app, "shutdown").await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_serialization_failure_answers_503_and_counts_serialization() {
    let app = spawn_app().await;
    fail_appends_with(&app, "40001").await;
    let answer = create_user(&app, "raced@contoso.com").await;
    answer.assert_retry_later();
    assert_eq!(store_errors(&app, "serialization").await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_deadlock_answers_503_and_counts_deadlock() {
    let app = spawn_app().await;
    fail_appends_with(&app, "40P01").await;
    let answer = create_user(&app, "deadlocked@contoso.com").await;
    answer.assert_retry_later();
    assert_eq!(store_errors(&app, "deadlock").await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_and_counts_pool_timeout() {
    let app = spawn_app().await;
    // A first request makes the token known, so that the gate needs no
    // connection for it.
    assert_eq!(app.list_users("").await.0, StatusCode::OK);
    // Take every connection, and each one given back, ahead of the request:
    // several takers always wait, so that a connection the projector gives
    // back while one taker is between two takes still goes to another.
    const TAKERS: usize = 8;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let pool = app.pool().clone();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        let mut taking: futures::stream::FuturesUnordered<_> =
            (0..TAKERS).map(|_| pool.get()).collect();
        loop {
            tokio::select! {
                Some(client) = futures::StreamExt::next(&mut taking) => {
                    held.push(client);
                    taking.push(pool.get());
                }
                _ = stopped.changed() => return held.len(),
            }
        }
    });
    loop {
        let status = app.pool().status();
        if status.size == status.max_size && status.available == 0 && status.waiting >= TAKERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = Answer::of(app.request(Method::GET, "/Users")).await;
    stop.send_replace(true);
    holder.await.unwrap();
    answer.assert_retry_later();
    assert_eq!(store_errors(&app, "pool_timeout").await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_unique_violation_answers_409_uniqueness_and_counts_constraint() {
    let app = spawn_app().await;
    fail_appends_with(&app, "23505").await;
    let answer = create_user(&app, "twice@contoso.com").await;
    answer.assert_scim_error(409);
    assert_eq!(answer.body["scimType"], "uniqueness");
    assert_eq!(answer.header("retry-after"), None);
    assert_eq!(store_errors(&app, "constraint").await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_taken_name_is_named_as_the_client_sent_it() {
    let app = spawn_app().await;
    assert_eq!(
        app.create_group(json!({"displayName": "Engineering"}))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, body) = app
        .create_group(json!({"displayName": "ENGINEERING"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    assert_eq!(
        body["detail"], "displayName \"ENGINEERING\" is already taken in this organization",
        "the attribute and value the client sent, not the folded key"
    );
    app.provision("Ada@Contoso.com").await;
    let (status, body) = app.create_user(entra_user("ADA@contoso.com")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["detail"],
        "userName \"ADA@contoso.com\" is already taken in this organization"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_value_the_database_cannot_hold_answers_400_and_counts_data() {
    let app = spawn_app().await;
    // Validation refuses at the door what PostgreSQL cannot hold, so the
    // trigger reports the data exception it would (22021, a character it
    // cannot hold).
    fail_appends_with(&app, "22021").await;
    let answer = create_user(&app, "unstorable@contoso.com").await;
    answer.assert_scim_error(400);
    assert_eq!(answer.body["scimType"], "invalidValue");
    assert_eq!(store_errors(&app, "data").await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn sql_that_no_longer_matches_the_schema_is_a_bug_answered_500_with_the_request_id() {
    let app = spawn_app().await;
    app.provision("before.bug@contoso.com").await;
    // Folded first: the read below must reach the moved table, not wait for
    // a projector that can no longer write it.
    app.wait_for_checkpoints(&[store::Checkpoint::Projector], Duration::from_secs(30))
        .await;
    app.sql()
        .await
        .batch_execute("alter table scim_users rename to scim_users_moved")
        .await
        .unwrap();
    let answer = Answer::of(app.request(Method::GET, "/Users")).await;
    answer.assert_bug();
    assert_eq!(store_errors(&app, "bug").await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_not_null_violation_is_rollcalls_fault_answered_500() {
    let app = spawn_app().await;
    fail_appends_with(&app, "23502").await;
    let answer = create_user(&app, "null@contoso.com").await;
    answer.assert_bug();
    assert_eq!(store_errors(&app, "bug").await, 1.0);
    assert_eq!(store_errors(&app, "constraint").await, 0.0);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_answers_database_failures_in_its_own_shape() {
    let app = spawn_app().await;
    let owner = app.owner_session().await;
    let org_id = app.org_id().await;
    fail_appends_with(&app, "40001").await;
    let answer = Answer::of(
        app.admin_request(
            Some(&owner),
            Method::POST,
            &format!("/orgs/{org_id}/provisioning/tokens"),
        )
        .json(&json!({"valid_for_days": 30})),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"], "unavailable");
    assert_eq!(answer.header("retry-after"), Some("5"));
    answer.request_id();

    app.sql()
        .await
        .batch_execute("alter table memberships rename to memberships_moved")
        .await
        .unwrap();
    let answer = Answer::of(app.admin_request(
        Some(&owner),
        Method::GET,
        &format!("/orgs/{org_id}/members"),
    ))
    .await;
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"], "internal");
    assert_eq!(answer.header("retry-after"), None);
    assert_eq!(
        answer.body["request_id"],
        answer.request_id().to_string(),
        "the body names the request id the logs carry"
    );
    assert_eq!(store_errors(&app, "serialization").await, 1.0);
    assert_eq!(store_errors(&app, "bug").await, 1.0);
    app.stop().await;
}
