//! Issue 12, graceful shutdown: `rollcall serve` stopped by SIGTERM while
//! clients keep creating users exits 0 within its bound, answers the
//! requests in flight, loses no write it acknowledged (in the log and, after
//! a restart, in the read side) and no record of a read it answered.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, entra_user, spawn_app};

/// Requests in flight get this long after the signal (ROLLCALL_SHUTDOWN_TIMEOUT_SECS).
const SHUTDOWN_TIMEOUT_SECS: u64 = 20;
/// Clients creating users at once, below the 64 a token may have in flight.
const CLIENTS: usize = 16;
/// Creates acknowledged before the signal.
const BEFORE_SIGNAL: usize = 60;
/// Requests whose body is still arriving when the signal comes.
const SLOW_CREATES: usize = 4;

#[path = "../../../ops/tests/support/child.rs"]
mod child;

use child::{HalfSent, Running, free_port};

/// `rollcall serve` on the test's database, running: its SCIM port and the
/// child.
async fn serve(app: &TestApp) -> (u16, Running) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &app.database_url)
        .env("ROLLCALL_BUS_PREFIX", &app.bus_prefix)
        .env(
            "ROLLCALL_SHUTDOWN_TIMEOUT_SECS",
            SHUTDOWN_TIMEOUT_SECS.to_string(),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    (port, Running::start(command).await)
}

/// The JSON object in an answer's body, whatever its transfer encoding.
fn json_of(body: &str) -> Value {
    match (body.find('{'), body.rfind('}')) {
        (Some(start), Some(end)) => serde_json::from_str(&body[start..=end]).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// What one load client saw.
#[derive(Default)]
struct Seen {
    /// Users whose create was answered 201.
    acknowledged: Vec<String>,
    /// Other answers, by status.
    refused: Vec<u16>,
    /// Requests that got no answer (the port closed, the connection ended).
    unanswered_before_signal: usize,
}

/// Creates users one after the other until the server goes away after the
/// signal.
async fn create_until_gone(
    base: String,
    token: String,
    client: usize,
    signalled: Arc<AtomicBool>,
) -> Seen {
    let http = reqwest::Client::new();
    let mut seen = Seen::default();
    for n in 0.. {
        let sent = http
            .post(format!("{base}/scim_v2/Users"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(entra_user(&format!("load-{client}-{n}@contoso.test")).to_string())
            .send()
            .await;
        let after_signal = signalled.load(Ordering::SeqCst);
        match sent {
            Ok(response) if response.status() == 201 => {
                let body: Value = match response.json().await {
                    Ok(body) => body,
                    // The answer was cut: not acknowledged.
                    Err(_) if after_signal => break,
                    Err(error) => panic!("a 201 without its body before the signal: {error}"),
                };
                seen.acknowledged
                    .push(body["id"].as_str().expect("an id").to_owned());
            }
            Ok(response) => seen.refused.push(response.status().as_u16()),
            Err(_) if after_signal => break,
            Err(_) => seen.unanswered_before_signal += 1,
        }
    }
    seen
}

#[tokio::test]
async fn sigterm_under_load_loses_no_acknowledged_write_and_no_recorded_read() {
    let mut app = spawn_app().await;
    // The test's own stack steps aside: `rollcall serve` runs on its database.
    app.stack
        .take()
        .unwrap()
        .stop()
        .await
        .expect("the stack stops");
    let (port, mut served) = serve(&app).await;
    let base = format!("http://127.0.0.1:{port}");

    // Reads answered before the signal, told apart by their user agent.
    let http = reqwest::Client::new();
    for n in 0..10 {
        let read = http
            .get(format!("{base}/scim_v2/Users?count=1"))
            .bearer_auth(&app.token)
            .header("user-agent", format!("shutdown-read-{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200);
    }

    // Requests in flight at the signal: creates and a search whose bodies
    // are half sent.
    let mut slow = Vec::new();
    for n in 0..SLOW_CREATES {
        let user = entra_user(&format!("slow-{n}@contoso.test"));
        let user = user.to_string();
        slow.push(HalfSent::send(port, &app.token, "/scim_v2/Users", "shutdown-slow", &user).await);
    }
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName sw \"slow\""
    });
    let slow_search = HalfSent::send(
        port,
        &app.token,
        "/scim_v2/Users/.search",
        "shutdown-slow-search",
        &search.to_string(),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while served.metric("rollcall_api_scim_requests_in_flight").await < (SLOW_CREATES + 1) as f64 {
        assert!(
            Instant::now() < deadline,
            "the half-sent requests were never admitted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Load, then the signal once enough creates are acknowledged.
    let signalled = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            tokio::spawn(create_until_gone(
                base.clone(),
                app.token.clone(),
                client,
                signalled.clone(),
            ))
        })
        .collect();
    let org_id = app.org_id().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let created: i64 = app
            .sql()
            .await
            .query_one(
                "select count(*) from events where org_id = $1 and event_type = 'UserProvisioned'",
                &[&org_id],
            )
            .await
            .unwrap()
            .get(0);
        if created >= BEFORE_SIGNAL as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {created} creates in 120 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signalled.store(true, Ordering::SeqCst);
    let signal_at = Instant::now();
    served.terminate();

    // The port closes to new connections while the requests in flight
    // are still being answered.
    Running::closed(port, Duration::from_secs(SHUTDOWN_TIMEOUT_SECS)).await;
    let within = Duration::from_secs(SHUTDOWN_TIMEOUT_SECS);
    let mut slow_ids = Vec::new();
    for request in slow {
        let (status, body) = request.finish(within).await;
        assert_eq!(status, 201, "a create in flight at the signal: {body}");
        slow_ids.push(json_of(&body)["id"].as_str().expect("an id").to_owned());
    }
    let (status, body) = slow_search.finish(within).await;
    assert_eq!(status, 200, "a search in flight at the signal: {body}");

    let status = served
        .exited(Duration::from_secs(SHUTDOWN_TIMEOUT_SECS + 10))
        .await;
    assert!(
        status.success(),
        "rollcall serve exited with {status} after SIGTERM"
    );
    let stopped_in = signal_at.elapsed();

    let mut acknowledged: BTreeSet<String> = slow_ids.into_iter().collect();
    let mut refused = Vec::new();
    for client in clients {
        let seen = client.await.expect("a load client");
        assert_eq!(
            seen.unanswered_before_signal, 0,
            "requests failed before the signal"
        );
        acknowledged.extend(seen.acknowledged);
        refused.extend(seen.refused);
    }
    assert!(
        refused
            .iter()
            .all(|status| *status == 503 || *status == 429),
        "answers other than 201 under load: {refused:?}"
    );
    assert!(
        acknowledged.len() >= BEFORE_SIGNAL,
        "{}",
        acknowledged.len()
    );

    // Every acknowledged create is in the log ...
    let ids: Vec<Uuid> = acknowledged.iter().map(|id| id.parse().unwrap()).collect();
    let logged: i64 = app
        .sql()
        .await
        .query_one(
            "select count(distinct stream_id) from events \
             where stream_id = any($1) and event_type = 'UserProvisioned'",
            &[&ids],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        logged as usize,
        ids.len(),
        "acknowledged creates missing from the log"
    );
    // ... and so is the record of every read answered, the one in flight included.
    let recorded: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from access_log where org_id = $1 and \
             (user_agent like 'shutdown-read-%' or user_agent = 'shutdown-slow-search')",
            &[&org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        recorded, 11,
        "reads answered before and during the stop went unrecorded"
    );

    // Started again, the read side shows every acknowledged user.
    let (port, mut served) = serve(&app).await;
    for id in &acknowledged {
        let read = http
            .get(format!("http://127.0.0.1:{port}/scim_v2/Users/{id}"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            read.status(),
            200,
            "acknowledged user {id} is not in the read side"
        );
    }
    // The log's chains are sound and the read tables caught up with it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let verified = Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .arg("verify")
            .env("DATABASE_URL", &app.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("rollcall verify runs");
        if verified.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rollcall verify: {}",
            String::from_utf8_lossy(&verified.stdout)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    served.terminate();
    let status = served
        .exited(Duration::from_secs(SHUTDOWN_TIMEOUT_SECS))
        .await;
    assert!(status.success(), "an idle serve exited with {status}");
    eprintln!(
        "shutdown under load: {} creates acknowledged, stopped {stopped_in:?} after SIGTERM",
        acknowledged.len()
    );
}

/// The appender, the relay and the projector run on threads of their own
/// (issue 13). A stack whose runtime ends without a graceful stop (a test
/// that panics, an embedding that drops it) must take them along: threads
/// that outlived their stack went on polling, then reconnecting to, a
/// database that was gone.
#[test]
fn a_stack_dropped_with_its_runtime_leaves_no_connection_behind() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut app = runtime.block_on(async {
        let app = spawn_app().await;
        // A create answered means the appender, relay and projector all work.
        let (status, _) = app
            .create_user(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "left-behind@example.com",
            }))
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED);
        app
    });
    let stack = app.stack.take();
    drop(stack);
    drop(runtime);
    let database = app.database_name.clone();
    let checking = tokio::runtime::Runtime::new().expect("a runtime");
    let left = checking.block_on(async {
        let admin = crate::helpers::require_postgres().await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left: i64 = admin
                .query_one(
                    "select count(*) from pg_stat_activity where datname = $1",
                    &[&database],
                )
                .await
                .expect("pg_stat_activity")
                .get(0);
            if left == 0 || Instant::now() > deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert_eq!(
        left, 0,
        "connections to the test database were still open 15 s after its stack's runtime ended"
    );
    drop(app);
}
