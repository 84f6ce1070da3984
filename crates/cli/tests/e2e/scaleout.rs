//! Issue 13, past one machine: two `rollcall-api` and two
//! `rollcall-projector` (one a standby) as real processes on loopback. The
//! active projector and then one API are killed with SIGKILL under load;
//! nothing acknowledged is lost, a write answered by one API is read at
//! once through the other, the standby takes over, and the log verifies.
//! A read waits for its token's last write whichever API appended it.

mod cluster;
mod partitions;
mod queue_upgrade;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::sync::Mutex;

use crate::helpers::entra_user;
use cluster::{Cluster, wait_until};

const RELAY_ACTIVE: &str = "rollcall_relay_active";

/// What the clients saw.
#[derive(Default)]
struct Seen {
    /// Ids of users whose create was answered 201.
    acknowledged: Vec<String>,
    /// Creates answered 201 whose GET through the other API was not 200.
    unread: Vec<(String, StatusCode)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_apis_and_two_projectors_lose_nothing_when_the_active_projector_and_an_api_die() {
    let cluster = Arc::new(Cluster::new().await);
    // The first projector takes the relay lock and the queue; the second,
    // started after, waits as a standby for both.
    let active = cluster.projector().await;
    wait_until(
        "the first projector's relay is active",
        Duration::from_secs(30),
        || async { active.metric(RELAY_ACTIVE).await == 1.0 },
    )
    .await;
    let standby = cluster.projector().await;
    let apis = Arc::new([cluster.api().await, cluster.api().await]);
    let alive = Arc::new([AtomicBool::new(true), AtomicBool::new(true)]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        standby.metric(RELAY_ACTIVE).await,
        0.0,
        "a second relay waits"
    );

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (cluster, apis, alive, seen, stop, counter) = (
                cluster.clone(),
                apis.clone(),
                alive.clone(),
                seen.clone(),
                stop.clone(),
                counter.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let writer = (client + n) % 2;
                    let writer = if alive[writer].load(Ordering::Relaxed) {
                        writer
                    } else {
                        1 - writer
                    };

                    let body = entra_user(&format!("user{n}@contoso.test"));
                    // No answer (the API was killed): not acknowledged.
                    let Some((status, created)) =
                        apis[writer].create_user(&cluster.token, &body).await
                    else {
                        continue;
                    };
                    if status != StatusCode::CREATED {
                        continue;
                    }
                    let id = created["id"].as_str().expect("an id").to_owned();
                    // Through the other API, unless it was killed meanwhile.
                    let read = match apis[1 - writer].get_user(&cluster.token, &id).await {
                        Some(read) => read,
                        None => apis[writer]
                            .get_user(&cluster.token, &id)
                            .await
                            .expect("one API answers"),
                    };
                    let mut seen = seen.lock().await;
                    if read != StatusCode::OK {
                        seen.unread.push((id.clone(), read));
                    }
                    seen.acknowledged.push(id);
                }
            })
        })
        .collect();

    let acknowledged = || async { seen.lock().await.acknowledged.len() };
    let at_least = |count: usize| {
        let seen = seen.clone();
        async move {
            wait_until(
                "creates are acknowledged",
                Duration::from_secs(60),
                || async { seen.lock().await.acknowledged.len() >= count },
            )
            .await;
        }
    };
    at_least(100).await;
    active.kill();
    let killed_projector_at = acknowledged().await;
    wait_until(
        "the standby's relay takes over",
        Duration::from_secs(10),
        || async { standby.metric(RELAY_ACTIVE).await == 1.0 },
    )
    .await;
    at_least(killed_projector_at + 100).await;
    // SIGKILL on the first API: requests in flight there get no answer.
    alive[0].store(false, Ordering::Relaxed);
    apis[0].kill();
    let killed_api_at = acknowledged().await;
    at_least(killed_api_at + 100).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    let seen = seen.lock().await;
    assert!(
        seen.unread.is_empty(),
        "acknowledged creates the other API did not return at once: {:?}",
        seen.unread
    );
    let survivor = &apis[1];
    for id in &seen.acknowledged {
        assert_eq!(
            survivor.get_user(&cluster.token, id).await,
            Some(StatusCode::OK),
            "acknowledged user {id} is lost"
        );
    }
    let head = cluster.log_head().await;
    wait_until(
        "the standby publishes and folds the whole log",
        Duration::from_secs(30),
        || async {
            cluster.checkpoint(store::Checkpoint::Relay).await >= head
                && cluster.checkpoint(store::Checkpoint::Projector).await >= head
        },
    )
    .await;
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .arg("verify")
        .env("DATABASE_URL", &cluster.database_url)
        .output()
        .unwrap();
    assert!(verify.status.success(), "rollcall verify: {verify:?}");
    eprintln!(
        "{} creates acknowledged ({} before the projector was killed, {} before the API was)",
        seen.acknowledged.len(),
        killed_projector_at,
        killed_api_at
    );
}

/// The projector's commit notifies the API processes (V0025): a read after
/// a write through `rollcall-api` is answered as soon as the projector
/// folded the write, not at the next look at the checkpoint (once a second,
/// for a lost notification).
#[tokio::test]
async fn a_read_after_a_write_through_a_separate_api_is_answered_when_the_projector_commits() {
    let cluster = Cluster::new().await;
    let _projector = cluster.projector().await;
    let api = cluster.api().await;
    let started = std::time::Instant::now();
    for n in 0..20 {
        let (status, body) = api
            .create_user(
                &cluster.token,
                &entra_user(&format!("prompt{n}@contoso.test")),
            )
            .await
            .expect("the API answers");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().expect("an id");
        let read = api.get_user(&cluster.token, id).await;
        assert_eq!(read, Some(StatusCode::OK), "{id}");
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "20 creates, each read back, one after another took {took:?}"
    );
}

/// The position a read waits for is the token's, kept in PostgreSQL by the
/// append (V0028): a write answered by one API process holds back the
/// token's reads on another, which has never seen the write, until the read
/// tables hold it. Shown with no projector running at all, then one.
#[tokio::test]
async fn a_read_through_another_api_waits_for_the_tokens_write_there() {
    let cluster = Cluster::new().await;
    let writer = cluster.api().await;
    let reader = cluster
        .api_with(&[("ROLLCALL_READ_YOUR_WRITES_MS", "300")])
        .await;
    // Answered with no projector: the write does not wait for one.
    let (status, body) = writer
        .create_user(&cluster.token, &entra_user("elsewhere@contoso.test"))
        .await
        .expect("the API answers");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("an id");
    // 503 (retry), never the 404 of read tables that miss the write.
    assert_eq!(
        reader.get_user(&cluster.token, id).await,
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );

    let _projector = cluster.projector().await;
    wait_until(
        "the other API to return the write",
        Duration::from_secs(30),
        || async { reader.get_user(&cluster.token, id).await == Some(StatusCode::OK) },
    )
    .await;
}
