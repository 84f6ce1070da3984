//! Issue 10: the sessions of a member the identity provider suspends or
//! removes end, whichever API took the request: the linker ends them from
//! the log. A session started after the suspension is the person's own.

use std::time::{Duration, Instant};

use admin::{accounts, sessions};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::members::{deactivate, entra_user, member_until};
use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "a long enough password";

fn meta() -> domain::RequestMeta {
    domain::RequestMeta::command_line("test", Uuid::now_v7())
}

async fn log_in(app: &TestApp, email: &str) -> String {
    let stack = app.stack.as_ref().unwrap();
    sessions::start(
        &stack.pool,
        &stack.appender,
        &meta(),
        email,
        PASSWORD,
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap()
    .token
}

async fn is_live(app: &TestApp, token: &str) -> bool {
    let stack = app.stack.as_ref().unwrap();
    sessions::authenticate(&stack.pool, token, OffsetDateTime::now_utc())
        .await
        .unwrap()
        .is_some()
}

/// Waits (5 s at most) until the session `token` has ended.
async fn until_ended(app: &TestApp, token: &str) {
    let started = Instant::now();
    while is_live(app, token).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the session is still live"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_suspended_or_removed_members_sessions_end_and_later_ones_do_not() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let email = "hal@fabrikam.test";
    let (_, user) = app.create_user(entra_user(email, "Hal", "Ito")).await;
    let id = user["id"].as_str().unwrap().to_owned();
    member_until(&app, org_id, email, |m| m.state == "active").await;
    accounts::set_password(&stack.pool, &stack.appender, &meta(), email, PASSWORD)
        .await
        .unwrap();
    let before = log_in(&app, email).await;
    assert!(is_live(&app, &before).await);

    deactivate(&app, &id).await;
    until_ended(&app, &before).await;
    member_until(&app, org_id, email, |m| m.state == "suspended").await;
    let reason: String = app
        .sql()
        .await
        .query_one(
            "select payload->>'reason' from events where event_type = 'SessionEnded' \
             order by position desc limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reason, "MemberSuspended");

    // Logged in again after the suspension: that session is not ended by it.
    let after = log_in(&app, email).await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    assert!(is_live(&app, &after).await);

    app.delete_user(&id).await;
    until_ended(&app, &after).await;
    app.stop().await;
}
