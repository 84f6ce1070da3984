//! The operators' listener: `/metrics` there and not on the public port,
//! health and readiness on both, each binary's registry served, and every
//! metric the README documents present after a workload.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PATCH_OP, entra_user, spawn_app, spawn_app_with};

/// Scrapes `url` until `ready` holds for its text, failing after `within`.
async fn scrape_until(url: &str, within: Duration, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = reqwest::get(url)
            .await
            .expect("the listener answers")
            .text()
            .await
            .unwrap();
        if ready(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "waited {within:?} on {url}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn metrics_are_on_their_own_listener_and_health_on_both() {
    let app = spawn_app().await;
    app.provision("ada@contoso.test").await;

    let (status, _) = app.ops("/metrics").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "/metrics must not be on the public port"
    );
    let (status, text) = app.metrics_ops("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("rollcall_http_requests_total{"), "{text}");

    for (port, (status, body)) in [
        ("public", app.ops("/healthz").await),
        ("metrics", app.metrics_ops("/healthz").await),
    ] {
        assert_eq!(status, StatusCode::OK, "{port} /healthz: {body}");
    }
    for (port, (status, body)) in [
        ("public", app.ops("/readyz").await),
        ("metrics", app.metrics_ops("/readyz").await),
    ] {
        assert_eq!(status, StatusCode::OK, "{port} /readyz: {body}");
        let body: Value = serde_json::from_str(&body).expect("a JSON body");
        assert_eq!(body["status"], "ready", "{body}");
        for check in ["database", "migrations", "broker", "projector"] {
            assert_eq!(body["checks"][check], "ok", "{port}: {body}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn readyz_names_a_schema_that_is_behind() {
    let app = spawn_app().await;
    app.sql()
        .await
        .batch_execute("delete from refinery_schema_history where version = (select max(version) from refinery_schema_history)")
        .await
        .unwrap();
    let (status, body) = app.metrics_ops("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["unready"], json!(["migrations"]), "{body}");
    assert!(
        body["checks"]["migrations"]
            .as_str()
            .unwrap()
            .contains("rollcall migrate"),
        "{body}"
    );
    let (status, _) = app.ops("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    app.stop().await;
}

/// `rollcall-projector` and `rollcall-reaper` build their registries and
/// readiness from these library calls; served by the one listener.
#[tokio::test]
async fn the_standalone_binaries_registries_are_served() {
    let app = spawn_app().await;
    let pool = app.pool().clone();

    let registry = prometheus::Registry::new();
    let metrics = projector::Metrics::register(&registry).unwrap();
    store::PoolMetrics::register(&registry, "main", &pool).unwrap();
    store::AppendMetrics::register(&registry).unwrap();
    // Connected, as the relay is once it has a session.
    metrics.set_connected("relay", true);
    let readiness = projector::readiness(&pool, &metrics, Duration::from_secs(30));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = ops::MetricsServer::serve(listener, registry, readiness).unwrap();
    let base = format!("http://{}", server.address());
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "rollcall_projector_lag_events",
        "rollcall_relay_outbox_backlog_events",
        "rollcall_bus_connected{component=\"relay\"} 1",
        "rollcall_store_pool_connections{pool=\"main\",state=\"size\"}",
    ] {
        assert!(
            text.contains(name),
            "{name} not in the projector's /metrics:\n{text}"
        );
    }
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    server.stop().await;

    let registry = prometheus::Registry::new();
    reaper::ReaperMetrics::register(&registry).unwrap();
    store::PoolMetrics::register(&registry, "main", &pool).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = ops::MetricsServer::serve(listener, registry, reaper::readiness(&pool)).unwrap();
    let base = format!("http://{}", server.address());
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("rollcall_reaper_job_runs_total{"), "{text}");
    assert!(text.contains("rollcall_linker_lag_events"), "{text}");
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    server.stop().await;
    app.stop().await;
}

/// The metric names of the README's "Metrics" table.
fn documented_metrics() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let table = readme
        .split("### Metrics\n")
        .nth(1)
        .expect("a \"### Metrics\" section in the README");
    table
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| line.strip_prefix("| `rollcall_"))
        .map(|rest| format!("rollcall_{}", rest.split('`').next().unwrap()))
        .collect()
}

/// Sample lines of `name` (a histogram's `_count` stands for it).
fn samples<'t>(text: &'t str, name: &str) -> Vec<(&'t str, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line
                .strip_prefix(name)
                .map(|rest| rest.strip_prefix("_count").unwrap_or(rest))?;
            if !(rest.starts_with('{') || rest.starts_with(' ')) {
                return None;
            }
            let value = line.rsplit(' ').next()?.parse().ok()?;
            Some((line, value))
        })
        .collect()
}

/// The metrics the workload below must have moved above zero.
const MOVED: [&str; 14] = [
    "rollcall_http_requests_total",
    "rollcall_http_request_duration_seconds",
    "rollcall_scim_operations_total",
    "rollcall_scim_dialect_forms_total",
    "rollcall_api_auth_failures_total",
    "rollcall_store_append_batch_size",
    "rollcall_store_append_commit_seconds",
    "rollcall_store_events_appended_total",
    "rollcall_store_pool_connections",
    "rollcall_relay_published_events_total",
    "rollcall_relay_publish_confirm_seconds",
    "rollcall_projector_apply_seconds",
    "rollcall_bus_connected",
    "rollcall_scim_token_expiry_days",
];

#[tokio::test]
async fn every_documented_metric_is_served_after_a_workload() {
    let app = spawn_app_with(Options {
        reaper_interval: 1,
        ..Options::default()
    })
    .await;
    // Creates, and a PATCH in each of Entra's forms.
    let ada = app.provision("ada@contoso.test").await;
    let bob = app.provision("bob@contoso.test").await;
    let (status, body) = app
        .patch_user(
            &ada,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let flagged = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"name.givenName": "Ada", "active": true}},
    ]});
    let (status, body) = app
        .send(
            app.request(
                reqwest::Method::PATCH,
                &format!("/Users/{ada}?aadOptscim062020"),
            )
            .body(flagged.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A group with members, one removed by filter.
    let group = app.group_of("Engineering", &[&ada, &bob]).await;
    let (status, body) = app
        .patch_group(
            &group,
            json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // A refused request, and a list.
    let (status, _) = app
        .create_user_as("not-a-token", entra_user("eve@contoso.test"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.list_users("").await;
    assert_eq!(status, StatusCode::OK);

    let documented = documented_metrics();
    assert!(documented.len() >= 30, "the README's table: {documented:?}");
    for name in MOVED {
        assert!(
            documented.contains(name),
            "{name} is checked but not in the README"
        );
    }
    // The reaper's round (each second) and the relay's confirm come after
    // the requests: wait for them.
    let url = format!("{}/metrics", app.metrics_base);
    let text = scrape_until(&url, Duration::from_secs(15), |text| {
        MOVED
            .iter()
            .all(|name| samples(text, name).iter().any(|(_, value)| *value > 0.0))
    })
    .await;
    for name in &documented {
        let found = samples(&text, name);
        assert!(
            !found.is_empty(),
            "{name} is documented but not served:\n{text}"
        );
        for (line, value) in found {
            assert!(value.is_finite() && value >= 0.0, "implausible: {line}");
        }
    }
    for (form, org) in [
        ("capitalised_op", "Contoso"),
        ("string_boolean", "Contoso"),
        ("pathless_dotted_replace", "Contoso"),
        ("aad_opt_scim062020", "Contoso"),
        ("members_remove_by_filter", "Contoso"),
    ] {
        let series =
            format!("rollcall_scim_dialect_forms_total{{form=\"{form}\",org=\"{org}\"}} 1");
        assert!(text.contains(&series), "{series} not in:\n{text}");
    }
    assert!(
        text.contains("rollcall_http_requests_total{method=\"PATCH\",route=\"/scim_v2/Users/{id}\",status=\"200\"} 2"),
        "requests by route template:\n{text}"
    );
    // Two creates and the refused one: operations asked, whatever the answer.
    assert!(
        text.contains("rollcall_scim_operations_total{op=\"create\",resource=\"User\"} 3"),
        "{text}"
    );
    // Every rollcall_ metric served is documented.
    let served: BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next())
        .collect();
    for name in served {
        assert!(
            documented.contains(name),
            "{name} is served but not in the README's table"
        );
    }
    app.stop().await;
}
