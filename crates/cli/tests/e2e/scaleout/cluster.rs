//! rollcall as several processes on loopback: `rollcall-api` and
//! `rollcall-projector` started as real children of the test on one test
//! database and one bus prefix, each killable with SIGKILL.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use domain::partition::Partition;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    RABBITMQ, create_test_database, drop_test_database, form_encode, organization_with_token,
};

/// A test database with an organization and its SCIM token, and the
/// processes the test starts on it.
pub struct Cluster {
    pub database_url: String,
    pub bus_prefix: String,
    pub token: String,
    pub pool: store::Pool,
    appender: store::Appender,
    database_name: String,
    client: reqwest::Client,
}

impl Cluster {
    /// A migrated database holding the organization Contoso and a token.
    pub async fn new() -> Cluster {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database_name = format!("rollcall_test_{id}");
        create_test_database(&database_name).await;
        let database_url = format!("postgres://postgres@127.0.0.1:5432/{database_name}");
        let database = store::Database::parse(&database_url).unwrap();
        let pool = store::connect(&database, 4).unwrap();
        let appender = store::Appender::start(
            pool.clone(),
            store::AppendMetrics::register(&prometheus::Registry::new()).unwrap(),
        );
        let (_, token) =
            organization_with_token(&pool, &appender, "Contoso", "owner@contoso.test").await;
        Cluster {
            database_url,
            bus_prefix: format!("rollcall_test_{id}"),
            token,
            pool,
            appender,
            database_name,
            client: reqwest::Client::new(),
        }
    }

    /// A new organization's SCIM token.
    pub async fn other_organization(&self, name: &str) -> String {
        let owner = format!("owner@{name}.test");
        organization_with_token(&self.pool, &self.appender, name, &owner)
            .await
            .1
    }

    /// Starts a `rollcall-api` and waits until it answers.
    pub async fn api(&self) -> Service {
        self.api_with(&[]).await
    }

    /// Starts a `rollcall-api` with these environment variables too.
    pub async fn api_with(&self, extra: &[(&str, &str)]) -> Service {
        let service = self.start("rollcall-api", extra);
        service.wait_healthy(&self.client).await;
        service
    }

    /// A new organization whose events `partition` folds, and its SCIM
    /// token ([`organization_in`]).
    pub async fn organization_in(&self, partition: Partition) -> String {
        organization_in(&self.pool, &self.appender, partition)
            .await
            .1
    }

    /// Starts a `rollcall-projector` and waits until it answers.
    pub async fn projector(&self) -> Service {
        self.projector_with(&[]).await
    }

    /// Starts a `rollcall-projector` with these environment variables too.
    pub async fn projector_with(&self, extra: &[(&str, &str)]) -> Service {
        let service = self.start("rollcall-projector", extra);
        service.wait_healthy(&self.client).await;
        service
    }

    /// Runs `rollcall ARGS` on the cluster's database; its output.
    pub fn rollcall(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .output()
            .unwrap()
    }

    fn start(&self, binary: &str, extra: &[(&str, &str)]) -> Service {
        let (port, metrics_port) = (free_port(), free_port());
        let child = Command::new(binary_path(binary))
            .env("DATABASE_URL", &self.database_url)
            .env("AMQP_URL", RABBITMQ)
            .env("ROLLCALL_BUS_PREFIX", &self.bus_prefix)
            .env("ROLLCALL_BIND", format!("127.0.0.1:{port}"))
            .env("ROLLCALL_METRICS_BIND", format!("127.0.0.1:{metrics_port}"))
            .env(
                "RUST_LOG",
                if std::env::var_os("TEST_LOG").is_some() {
                    "info"
                } else {
                    "error"
                },
            )
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("{binary} starts: {error}"));
        Service {
            child: std::sync::Mutex::new(child),
            base: format!("http://127.0.0.1:{port}/scim_v2"),
            metrics_base: format!("http://127.0.0.1:{metrics_port}"),
            client: self.client.clone(),
        }
    }

    /// The position of the log's last event.
    pub async fn log_head(&self) -> i64 {
        store::log_head(&self.pool).await.unwrap()
    }

    /// Where `checkpoint` stands.
    pub async fn checkpoint(&self, checkpoint: store::Checkpoint) -> i64 {
        store::read_checkpoint(&self.pool, checkpoint)
            .await
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        drop_test_database(self.database_name.clone(), self.bus_prefix.clone());
    }
}

/// One child process, killed (SIGKILL) when dropped.
pub struct Service {
    child: std::sync::Mutex<Child>,
    /// `http://127.0.0.1:PORT/scim_v2` (an API's).
    pub base: String,
    metrics_base: String,
    client: reqwest::Client,
}

impl Service {
    /// SIGKILL: no graceful anything, as when a machine dies.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }

    async fn wait_healthy(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let healthy = client
                .get(format!("{}/healthz", self.metrics_base))
                .send()
                .await
                .is_ok_and(|response| response.status() == StatusCode::OK);
            if healthy {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not answer /healthz within 60 s",
                self.metrics_base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `/readyz`: Ok when it answers 200, else what it said.
    pub async fn ready(&self) -> Result<(), String> {
        let response = self
            .client
            .get(format!("{}/readyz", self.metrics_base))
            .send()
            .await
            .map_err(|error| error.to_string())?;
        if response.status() == StatusCode::OK {
            return Ok(());
        }
        Err(response.text().await.unwrap_or_default())
    }

    /// A metric of this process (0 when it does not show it).
    pub async fn metric(&self, name: &str) -> f64 {
        let Ok(response) = self
            .client
            .get(format!("{}/metrics", self.metrics_base))
            .send()
            .await
        else {
            return 0.0;
        };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .filter(|line| line.split([' ', '{']).next() == Some(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// POST /Users as `token`; None when the process did not answer.
    pub async fn create_user(&self, token: &str, body: &Value) -> Option<(StatusCode, Value)> {
        let response = self
            .client
            .post(format!("{}/Users", self.base))
            .bearer_auth(token)
            .json(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .ok()?;
        let status = response.status();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// How many users `GET /Users?filter=userName eq NAME` finds.
    pub async fn count_users(&self, token: &str, user_name: &str) -> u64 {
        let body: Value = self
            .client
            .get(format!(
                "{}/Users?filter={}",
                self.base,
                form_encode(&format!("userName eq \"{user_name}\""))
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("the API answers")
            .json()
            .await
            .expect("a list response");
        body["totalResults"].as_u64().expect("totalResults")
    }

    /// GET /Users/{id} as `token`; None when the process did not answer.
    pub async fn get_user(&self, token: &str, id: &str) -> Option<StatusCode> {
        let response = self
            .client
            .get(format!("{}/Users/{id}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        Some(response.status())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A new organization whose events `partition` folds, with its SCIM
/// token: organizations are made until one falls in it.
pub async fn organization_in(
    pool: &store::Pool,
    appender: &store::Appender,
    partition: Partition,
) -> (uuid::Uuid, String) {
    loop {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let (org_id, token) =
            organization_with_token(pool, appender, &name, &format!("owner@{name}.test")).await;
        if partition.holds(org_id) {
            return (org_id, token);
        }
    }
}

/// Waits until `condition` holds, at most `within`.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A binary of the api or projector crate, beside `rollcall`: `cargo test
/// --workspace` builds them; `cargo test -p rollcall` alone does not (and
/// cannot build them from here: cargo holds the build directory meanwhile).
fn binary_path(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_rollcall")).with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p api -p projector` (or `cargo test --workspace`) first",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .unwrap()
        .port()
}
