//! Issue 10: a SCIM token's life — valid a year (or less), at most two live,
//! revoked at once, warned about before it expires and its expiry recorded
//! by the reaper, with the clock moved rather than waited for.

use std::time::{Duration, Instant};

use admin::tokens;
use domain::Event;
use reqwest::{Method, StatusCode};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, test_meta};

/// A reaper over the test's stack, with metrics of its own.
fn reaper_of(app: &TestApp) -> (reaper::Reaper, prometheus::Registry) {
    let stack = app.stack.as_ref().expect("a running stack");
    let registry = prometheus::Registry::new();
    let reaper = reaper::Reaper {
        pool: stack.pool.clone(),
        linker_pool: stack.pool.clone(),
        appender: stack.appender.clone(),
        linker_recent: None,
        metrics: reaper::ReaperMetrics::register(&registry).unwrap(),
        checkpoints: None,
    };
    (reaper, registry)
}

async fn status_with(app: &TestApp, token: &str) -> (StatusCode, serde_json::Value) {
    app.send(app.request_as(token, Method::GET, "/Users?count=1"))
        .await
}

#[tokio::test]
async fn a_token_works_on_day_364_and_on_day_365_is_refused_and_recorded_expired() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let now = OffsetDateTime::now_utc();
    let org = admin::organizations::create_organization(
        &stack.pool,
        &stack.appender,
        "Fabrikam",
        "o@fabrikam.test",
    )
    .await
    .unwrap();
    let day = time::Duration::days(1);
    let a_year_ago = tokens::issue(
        &stack.pool,
        &stack.appender,
        org.org_id,
        &test_meta(),
        now - day * 365 - time::Duration::minutes(1),
        None,
    )
    .await
    .unwrap();
    let day_364 = tokens::issue(
        &stack.pool,
        &stack.appender,
        org.org_id,
        &test_meta(),
        now - day * 364,
        None,
    )
    .await
    .unwrap();

    let (status, body) = status_with(&app, &day_364.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = status_with(&app, &a_year_ago.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    let (reaper, registry) = reaper_of(&app);
    let outcome = reaper.run_once(now).await.unwrap();
    let recorded: Vec<Event> = outcome
        .recorded
        .into_iter()
        .filter(|planned| planned.org_id == org.org_id)
        .map(|planned| planned.event)
        .collect();
    assert_eq!(
        recorded,
        [
            Event::ScimTokenExpired {
                token_id: a_year_ago.token_id
            },
            Event::ScimTokenExpiryWarned {
                token_id: day_364.token_id,
                days_left: 1
            },
        ]
    );
    let logged = app.organization_events(org.org_id).await;
    assert!(
        logged.ends_with(&["ScimTokenExpired".into(), "ScimTokenExpiryWarned".into()]),
        "{logged:?}"
    );
    // Once: a second round (or a second replica) records nothing more.
    assert!(reaper.run_once(now).await.unwrap().recorded.is_empty());
    assert_eq!(app.organization_events(org.org_id).await, logged);
    // Operators see the day left on the organization's soonest live token.
    let days = registry
        .gather()
        .into_iter()
        .find(|family| family.name() == "rollcall_scim_token_expiry_days")
        .expect("the expiry gauge")
        .get_metric()
        .iter()
        .find(|metric| {
            metric
                .get_label()
                .iter()
                .any(|label| label.value() == org.org_id.to_string())
        })
        .expect("the organization's series")
        .get_gauge()
        .get_value();
    assert!((days - 1.0).abs() < 0.01, "{days}");
    app.stop().await;
}

#[tokio::test]
async fn a_third_live_token_is_refused_and_a_revoked_one_stops_working_within_a_second() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let now = OffsetDateTime::now_utc();
    let first = tokens::list(&stack.pool, org_id, now).await.unwrap();
    assert_eq!(first.len(), 1);
    let second = tokens::issue(
        &stack.pool,
        &stack.appender,
        org_id,
        &test_meta(),
        now,
        Some(30),
    )
    .await
    .unwrap();
    let refused = tokens::issue(
        &stack.pool,
        &stack.appender,
        org_id,
        &test_meta(),
        now,
        None,
    )
    .await
    .unwrap_err()
    .to_string();
    // The one to revoke is the one that expires soonest: the 30-day one.
    assert!(refused.contains(&second.token_id.to_string()), "{refused}");
    assert!(refused.contains("revoke"), "{refused}");
    assert_eq!(
        app.organization_events(org_id).await.last().unwrap(),
        "CommandRefused"
    );

    // The first token is in use (and cached); revoked, it is refused within
    // a poll of the revocations, not after the cache's 30 s.
    let (status, _) = status_with(&app, &app.token).await;
    assert_eq!(status, StatusCode::OK);
    tokens::revoke(
        &stack.pool,
        &stack.appender,
        org_id,
        &test_meta(),
        first[0].id,
    )
    .await
    .unwrap();
    let revoked_at = Instant::now();
    loop {
        let (status, body) = status_with(&app, &app.token).await;
        if status == StatusCode::UNAUTHORIZED {
            assert!(
                body["detail"].as_str().unwrap().contains("revoked"),
                "{body}"
            );
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = status_with(&app, &second.token).await;
    assert_eq!(status, StatusCode::OK);
    // With one live token left, a new one may be issued.
    let third = tokens::issue(
        &stack.pool,
        &stack.appender,
        org_id,
        &test_meta(),
        now,
        None,
    )
    .await
    .unwrap();
    let states: Vec<(Uuid, &str)> = tokens::list(&stack.pool, org_id, now)
        .await
        .unwrap()
        .iter()
        .map(|listing| (listing.id, listing.state))
        .collect();
    assert_eq!(
        states,
        [
            (first[0].id, "revoked"),
            (second.token_id, "live"),
            (third.token_id, "live")
        ]
    );
    assert!(
        tokens::revoke(
            &stack.pool,
            &stack.appender,
            org_id,
            &test_meta(),
            first[0].id
        )
        .await
        .is_err()
    );
    app.stop().await;
}

#[tokio::test]
async fn the_reaper_plan_records_nothing_and_one_reaper_works_at_a_time() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let before = app.organization_events(org_id).await;
    let in_a_year = OffsetDateTime::now_utc() + time::Duration::days(366);
    let planned = reaper::token_expiry::plan(&stack.pool, in_a_year)
        .await
        .unwrap();
    assert!(
        planned.iter().any(|planned| planned.org_id == org_id
            && matches!(planned.event, Event::ScimTokenExpired { .. })),
        "{planned:?}"
    );
    assert_eq!(app.organization_events(org_id).await, before);

    let (reaper, _) = reaper_of(&app);
    let held = reaper::lock::try_acquire(&stack.pool, reaper::lock::REAPER_LOCK)
        .await
        .unwrap()
        .expect("the lock");
    assert!(reaper.run_once(in_a_year).await.unwrap().skipped);
    assert_eq!(app.organization_events(org_id).await, before);
    held.release().await;
    let outcome = reaper.run_once(in_a_year).await.unwrap();
    assert!(!outcome.skipped);
    assert_eq!(
        app.organization_events(org_id).await.last().unwrap(),
        "ScimTokenExpired"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_address_presenting_bad_tokens_gets_429_and_its_valid_tokens_still_work() {
    let app = spawn_app().await;
    let limit = api::Settings::default().bad_tokens.attempts;
    let bad = "rcs_not-a-token-of-anyone";
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..limit + 5 {
        let response = app
            .request_as(bad, Method::GET, "/Users?count=1")
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().unwrap().parse::<u64>().unwrap());
        }
    }
    let limit = limit as usize;
    assert!(
        statuses[..limit]
            .iter()
            .all(|status| *status == StatusCode::UNAUTHORIZED)
    );
    assert!(
        statuses[limit..]
            .iter()
            .all(|status| *status == StatusCode::TOO_MANY_REQUESTS)
    );
    let retry_after = retry_after.expect("a Retry-After");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // The same address's valid token is served: identity providers share
    // their addresses between tenants.
    let (status, _) = status_with(&app, &app.token).await;
    assert_eq!(status, StatusCode::OK);
    // Counted under their own reason.
    let throttled = app
        .metric("rollcall_api_auth_failures_total{reason=\"throttled\"}")
        .await;
    assert_eq!(throttled, 5.0);
    app.stop().await;
}
