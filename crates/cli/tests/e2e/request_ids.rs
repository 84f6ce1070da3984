//! Issue 12: every response carries `X-Request-Id`, a client's sane id is
//! kept, and the JSON log lines of a request carry its ids, organization,
//! token id and appended positions.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{entra_user, spawn_app};

fn request_id_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .unwrap_or_else(|| {
            panic!(
                "no X-Request-Id on {} {}",
                response.status(),
                response.url()
            )
        })
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let root = app.base.trim_end_matches("/scim_v2").to_owned();
    let responses = [
        app.request(Method::GET, "/Users").send().await.unwrap(),
        app.client
            .get(format!("{root}/scim_v2/Users"))
            .send()
            .await
            .unwrap(),
        app.request(Method::GET, &format!("/Users/{}", Uuid::new_v4()))
            .send()
            .await
            .unwrap(),
        app.client
            .get(format!("{root}/healthz"))
            .send()
            .await
            .unwrap(),
        app.client
            .get(format!("{root}/readyz"))
            .send()
            .await
            .unwrap(),
        app.client
            .get(format!("{}/openapi.json", app.admin_root()))
            .send()
            .await
            .unwrap(),
        app.admin_request(None, Method::GET, "/sessions/current")
            .send()
            .await
            .unwrap(),
        app.client
            .get(format!("{root}/nowhere"))
            .send()
            .await
            .unwrap(),
    ];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.contains(&200) && statuses.contains(&401) && statuses.contains(&404));
    let mut ids = Vec::new();
    for response in &responses {
        let id = request_id_of(response);
        Uuid::parse_str(&id).unwrap_or_else(|_| panic!("{id} is rollcall's UUID"));
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), responses.len(), "one id per request");
    app.stop().await;
}

#[tokio::test]
async fn a_sane_client_id_is_echoed_and_recorded_beside_rollcalls_own() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/Users")
        .header("x-request-id", "idp-run:42.7_a-b")
        .json(&entra_user("echoed@contoso.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(request_id_of(&response), "idp-run:42.7_a-b");
    let body: Value = response.json().await.unwrap();
    let metadata: Value = app
        .sql()
        .await
        .query_one(
            "select metadata::text from events where stream_id = $1::text::uuid",
            &[&body["id"].as_str().unwrap()],
        )
        .await
        .map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap())
        .unwrap();
    let recorded = metadata["request_id"].as_str().unwrap();
    let recorded = Uuid::parse_str(recorded).expect("the recorded id is rollcall's UUID");
    assert_eq!(recorded.get_version_num(), 7);
    assert_eq!(metadata["headers"]["x-request-id"], "idp-run:42.7_a-b");
    app.stop().await;
}

#[tokio::test]
async fn an_insane_client_id_is_replaced_by_rollcalls() {
    let app = spawn_app().await;
    let long = "x".repeat(129);
    for insane in ["two words", "semi;colon", long.as_str()] {
        let response = app
            .request(Method::GET, "/Users")
            .header("x-request-id", insane)
            .send()
            .await
            .unwrap();
        let id = request_id_of(&response);
        assert!(
            Uuid::parse_str(&id).is_ok(),
            "{insane:?} answered with {id}"
        );
    }
    app.stop().await;
}

/// Kills the child when the test ends, passed or failed.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn json_log_lines_of_a_request_carry_its_ids_organization_token_and_positions() {
    let mut app = spawn_app().await;
    // The test's own stack steps aside: `rollcall serve` runs on its database.
    app.stack
        .take()
        .unwrap()
        .stop()
        .await
        .expect("the stack stops");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", &app.database_url)
            .env("ROLLCALL_BUS_PREFIX", &app.bus_prefix)
            .env("RUST_LOG", "info")
            .env_remove("ROLLCALL_LOG_FORMAT")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("rollcall serve starts"),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..300 {
        if let Ok(response) = app.client.get(format!("{base}/healthz")).send().await {
            up = response.status().is_success();
            if up {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "rollcall serve answers /healthz");
    let response = app
        .client
        .post(format!("{base}/scim_v2/Users"))
        .bearer_auth(&app.token)
        .header("x-request-id", "client-7")
        .json(&entra_user("logged@contoso.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let user_id = Uuid::parse_str(created["id"].as_str().unwrap()).unwrap();
    let org_id = app.org_id().await;
    let token_id: Uuid = app
        .sql()
        .await
        .query_one(
            "select token_id from scim_tokens where org_id = $1",
            &[&org_id],
        )
        .await
        .unwrap()
        .get(0);
    let position: i64 = app
        .sql()
        .await
        // The create's own event: the linker appends after it meanwhile.
        .query_one(
            "select max(position) from events where stream_id = $1",
            &[&user_id],
        )
        .await
        .unwrap()
        .get(0);
    let mut seen = Vec::new();
    let answered = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.recv())
            .await
            .unwrap_or_else(|_| panic!("no answered line; saw:\n{}", seen.join("\n")))
            .expect("rollcall serve still logs");
        assert!(!line.contains(&app.token), "a token in the log: {line}");
        assert!(
            !line.contains('\u{1b}'),
            "colour codes off a terminal: {line}"
        );
        let parsed: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        let ours = parsed["fields"]["message"] == "answered" && line.contains("client-7");
        seen.push(line);
        if ours {
            break parsed;
        }
    };
    let request = answered["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| span["name"] == "request")
        .expect("the request's span")
        .clone();
    assert!(Uuid::parse_str(request["request_id"].as_str().unwrap()).is_ok());
    assert_eq!(request["client_request_id"], "client-7");
    assert_eq!(request["org_id"], org_id.to_string());
    assert_eq!(request["token_id"], token_id.to_string());
    assert_eq!(request["positions"], position.to_string());
    assert_eq!(answered["fields"]["status"], 201);
    drop(child);
    app.stop().await;
}
