//! `audit/export` and `rollcall audit events|export`: the export in both
//! formats is the events query, and ends on the head `rollcall verify --org`
//! gives.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use super::{positions, recorded_at, rfc3339, rollcall, script};
use crate::helpers::{TestApp, spawn_app};

/// `(events, head hash)` as `rollcall verify --org Contoso` says them.
fn verified(app: &TestApp) -> (String, String) {
    let (sound, said, _) = rollcall(app, &["verify", "--org", "Contoso"]);
    assert!(sound, "{said}");
    let events = said
        .split(" events")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap();
    let hash = said
        .split("head hash ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    (events.to_owned(), hash.to_owned())
}

#[tokio::test]
async fn the_export_in_both_formats_is_the_events_query_and_ends_on_the_head_verify_gives() {
    let app = spawn_app().await;
    let history = script(&app).await;
    let all = history.events(&app, "", 1_000).await;

    let export = |format: &str| {
        let path = format!("{}?format={format}", history.audit("export"));
        let request = app.admin_request(Some(&history.auditor), Method::GET, &path);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (kind, response.text().await.unwrap())
        }
    };
    let (kind, ndjson) = export("ndjson").await;
    assert_eq!(kind, "application/x-ndjson");
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines, all);

    let (kind, csv) = export("csv").await;
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert!(csv.ends_with("\r\n"), "RFC 4180 line ends");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header[..5],
        ["position", "recorded_at", "type", "stream", "resource_id"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), all.len());
    for (row, event) in rows.iter().zip(&all) {
        let field = |name: &str| &row[header.iter().position(|h| h == name).unwrap()];
        assert_eq!(field("position"), event["position"].to_string());
        assert_eq!(
            field("request_id"),
            event["request"]["id"].as_str().unwrap()
        );
        assert_eq!(
            field("request_path"),
            event["request"]["path"].as_str().unwrap()
        );
        let data: Value = serde_json::from_str(field("data")).unwrap();
        assert_eq!(data, event["data"]);
    }
    let (status, body) = app
        .admin(
            &history.auditor,
            Method::GET,
            &format!("{}?format=xlsx", history.audit("export")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The command line: the same events, and the figures verify gives.
    let (ok, out, err) = rollcall(&app, &["audit", "events", "--org", "Contoso"]);
    assert!(ok, "{err}");
    let printed: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed, all);
    let (ok, out, err) = rollcall(
        &app,
        &[
            "audit",
            "events",
            "--org",
            "Contoso",
            "--user-name",
            "ADA@CONTOSO.COM",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let (ok, _, err) = rollcall(
        &app,
        &["audit", "events", "--org", "Contoso", "--outcome", "no"],
    );
    assert!(!ok && err.contains("accepted or refused"), "{err}");

    let file = std::env::temp_dir().join(format!("rollcall-export-{}.csv", Uuid::new_v4()));
    let (ok, out, err) = rollcall(
        &app,
        &[
            "audit",
            "export",
            "--org",
            "Contoso",
            "--format",
            "csv",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), csv);
    std::fs::remove_file(&file).unwrap();
    let (events, head_hash) = verified(&app);
    assert_eq!(events, all.len().to_string());
    assert!(out.contains(&format!("exported {events} events")), "{out}");
    assert!(out.contains(&format!("head hash {head_hash}")), "{out}");

    // To standard output: the export there, the figures on stderr.
    let (ok, out, err) = rollcall(&app, &["audit", "export", "--org", "Contoso"]);
    assert!(ok, "{err}");
    assert_eq!(out, ndjson);
    assert!(err.contains(&format!("head hash {head_hash}")), "{err}");
    let (ok, out, err) = rollcall(
        &app,
        &[
            "audit",
            "export",
            "--org",
            "Contoso",
            "--since",
            &rfc3339(history.split),
        ],
    );
    assert!(ok, "{err}");
    let since: Vec<i64> = positions(all.iter().filter(|e| recorded_at(e) >= history.split));
    let exported: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(positions(&exported), since);
    app.stop().await;
}
