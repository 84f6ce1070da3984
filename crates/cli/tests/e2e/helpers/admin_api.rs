//! Typed helpers for the admin API under `/api/v1`, read like its routes:
//! `app.log_in(email, password)`, `app.admin(token, Method::GET, path)`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{TestApp, test_meta};

/// The owner of the test's organization (Contoso).
pub const OWNER: &str = "owner@contoso.test";
/// The password the tests give accounts.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// The admin API's root, `http://127.0.0.1:PORT/api/v1`.
    pub fn admin_root(&self) -> String {
        format!("http://{}/api/v1", self.address())
    }

    /// An admin API request to `path` (under `/api/v1`), with `token` as
    /// its session when given.
    pub fn admin_request(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, format!("{}{path}", self.admin_root()));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// An admin API request with a session and no body: its status and JSON.
    pub async fn admin(&self, token: &str, method: Method, path: &str) -> (StatusCode, Value) {
        self.send(self.admin_request(Some(token), method, path))
            .await
    }

    /// An admin API request with a session and a JSON body.
    pub async fn admin_with(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.send(self.admin_request(Some(token), method, path).json(&body))
            .await
    }

    /// `POST /api/v1/sessions`: its status and JSON.
    pub async fn log_in(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.send(
            self.admin_request(None, Method::POST, "/sessions")
                .json(&json!({"email": email, "password": password})),
        )
        .await
    }

    /// Sets `email`'s password (as `rollcall account set-password` does) and
    /// logs in: the session's token.
    pub async fn session_of(&self, email: &str) -> String {
        let stack = self.stack.as_ref().expect("a running stack");
        admin::accounts::set_password(&stack.pool, &stack.appender, &test_meta(), email, PASSWORD)
            .await
            .expect("the password is set");
        let (status, body) = self.log_in(email, PASSWORD).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().expect("a token").to_owned()
    }

    /// A session of the test organization's owner.
    pub async fn owner_session(&self) -> String {
        self.session_of(OWNER).await
    }

    /// An account that belongs to no organization, logged in.
    pub async fn outsider_session(&self, email: &str) -> String {
        let stack = self.stack.as_ref().expect("a running stack");
        admin::accounts::ensure(&stack.pool, &stack.appender, email, &test_meta())
            .await
            .expect("an account");
        self.session_of(email).await
    }

    /// The id of the account with `email`.
    pub async fn account_id(&self, email: &str) -> Uuid {
        admin::accounts::find_by_email(self.pool(), email)
            .await
            .expect("the accounts")
            .expect("an account")
    }

    /// The last event of stream `stream_id` (an organization's own, or an
    /// account's): its type, payload and metadata.
    pub async fn last_event_of(&self, stream_id: Uuid) -> (String, Value, Value) {
        let row = self
            .sql()
            .await
            .query_one(
                "select event_type, payload::text, metadata::text from events \
                 where stream_id = $1 order by position desc limit 1",
                &[&stream_id],
            )
            .await
            .expect("an event");
        let json = |index: usize| serde_json::from_str(row.get(index)).expect("JSON");
        (row.get(0), json(1), json(2))
    }

    /// The events of stream `stream_id` (any keyspace) since `after` (a log
    /// position): type, `command` of a refusal (else null), and the status
    /// recorded with it.
    pub async fn events_of(&self, stream_id: Uuid, after: i64) -> Vec<(String, Value, i64)> {
        self.sql()
            .await
            .query(
                "select event_type, payload::text, (metadata->>'status')::bigint from events \
                 where stream_id = $1 and position > $2 order by position",
                &[&stream_id, &after],
            )
            .await
            .expect("the stream's events")
            .iter()
            .map(|row| {
                let payload: Value = serde_json::from_str(row.get(1)).expect("JSON");
                (row.get(0), payload["command"].clone(), row.get(2))
            })
            .collect()
    }

    /// Polls `GET /orgs/{org}/members` as `token` (5 s at most) until the
    /// member with `email` satisfies `wanted`, as the linker makes SCIM
    /// members a moment after their entries.
    pub async fn listed_member_until(
        &self,
        token: &str,
        org_id: Uuid,
        email: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = std::time::Instant::now();
        loop {
            let (status, listed) = self
                .admin(token, Method::GET, &format!("/orgs/{org_id}/members"))
                .await;
            assert_eq!(status, StatusCode::OK, "{listed}");
            let found = listed
                .as_array()
                .expect("an array")
                .iter()
                .find(|member| member["email"].as_str() == Some(email))
                .cloned();
            if let Some(member) = found.clone().filter(|member| wanted(member)) {
                return member;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "the member {email} is still {found:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Waits until `query` (a count, no parameters) reaches `expected`, as
    /// access records arrive a moment after their answer; fails after 10 s.
    pub async fn wait_for_count(&self, query: &str, expected: i64) {
        let sql = self.sql().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let count: i64 = sql.query_one(query, &[]).await.expect("a count").get(0);
            if count == expected {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{query} stayed at {count}, not {expected}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
