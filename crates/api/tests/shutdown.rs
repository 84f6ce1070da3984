//! `rollcall-api` on SIGTERM (issue 12, graceful shutdown): it stops
//! accepting, answers the requests in flight, keeps the writes it
//! acknowledged, records the reads it answered, and exits 0.

#[path = "../../ops/tests/support/child.rs"]
mod child;

use std::process::Command;
use std::time::Duration;

use child::{HalfSent, Running, ScratchDatabase, free_port};
use time::OffsetDateTime;
use uuid::Uuid;

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn sigterm_answers_the_requests_in_flight_keeps_them_and_exits_0() {
    let database = ScratchDatabase::new();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall-api"));
    command
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database.url())
        // No projector runs beside it: writes answer without waiting for one.
        .env("ROLLCALL_READ_YOUR_WRITES_MS", "0")
        .env(
            "ROLLCALL_SHUTDOWN_TIMEOUT_SECS",
            SHUTDOWN_TIMEOUT.as_secs().to_string(),
        )
        .env("RUST_LOG", "warn");
    let mut api = Running::start(command).await;

    // An organization and its token, as `rollcall org create` and `rollcall
    // token issue` make them.
    let pool = store::connect(&store::Database::parse(&database.url()).unwrap(), 2).unwrap();
    let appender = store::Appender::start(
        pool.clone(),
        store::AppendMetrics::register(&prometheus::Registry::new()).unwrap(),
    );
    let org = admin::organizations::create_organization(
        &pool,
        &appender,
        "Contoso",
        "owner@contoso.test",
    )
    .await
    .unwrap();
    let token = admin::tokens::issue(
        &pool,
        &appender,
        org.org_id,
        &admin::command_line("test"),
        OffsetDateTime::now_utc(),
        None,
    )
    .await
    .unwrap()
    .token;

    // The access log's writer is held up (as by a slow PostgreSQL) on the
    // first read's record, so that later records still wait in its queue
    // when the server has stopped: only a drain writes them.
    let locker = pool.get().await.unwrap();
    locker
        .batch_execute("begin; lock table access_log in share mode")
        .await
        .unwrap();
    let search = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"in-flight@contoso.test\""
    })
    .to_string();
    let (status, _) = HalfSent::send(port, &token, "/scim_v2/Users/.search", "held-up", &search)
        .await
        .finish(SHUTDOWN_TIMEOUT)
        .await;
    assert_eq!(status, 200);

    // A create and a search in flight at the signal.
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "in-flight@contoso.test"
    });
    let create = HalfSent::send(
        port,
        &token,
        "/scim_v2/Users",
        "shutdown-create",
        &user.to_string(),
    )
    .await;
    let read = HalfSent::send(
        port,
        &token,
        "/scim_v2/Users/.search",
        "shutdown-search",
        &search,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while api.metric("rollcall_api_scim_requests_in_flight").await < 2.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the requests were never admitted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    api.terminate();
    Running::closed(port, SHUTDOWN_TIMEOUT).await;
    let (status, body) = create.finish(SHUTDOWN_TIMEOUT).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = read.finish(SHUTDOWN_TIMEOUT).await;
    assert_eq!(status, 200, "{body}");
    // Its record waits behind the held-up one. A process that would exit
    // without draining does so now; this one waits for the writer.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while api.child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    locker.batch_execute("commit").await.unwrap();
    let status = api.exited(SHUTDOWN_TIMEOUT + Duration::from_secs(10)).await;
    assert!(
        status.success(),
        "rollcall-api exited with {status} after SIGTERM"
    );

    let client = pool.get().await.unwrap();
    let created: i64 = client
        .query_one(
            "select count(*) from events where org_id = $1 and event_type = 'UserProvisioned'",
            &[&org.org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        created, 1,
        "the create answered 201 during the stop is not in the log"
    );
    let recorded: Vec<Option<Uuid>> = client
        .query(
            "select token_id from access_log where user_agent = 'shutdown-search'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        recorded.len(),
        1,
        "the search answered during the stop went unrecorded"
    );
}
