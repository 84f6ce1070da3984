//! The test harness: `spawn_app()` and typed SCIM helpers (those for
//! `/Groups` in [`groups`]).

use std::net::TcpListener;
use std::sync::Once;
use std::time::Duration;

use reqwest::StatusCode;
use rollcall::{Config, RunningStack, Stack};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::io::copy_bidirectional;
use tokio::net::TcpStream;
use tokio::sync::watch;
use uuid::Uuid;

pub mod admin_api;
pub mod groups;
pub mod members;

pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const RABBITMQ: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The widest split a test makes: cleanup deletes its partitions' queues.
pub const SPLIT_WAYS_TESTED: u32 = 2;
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The relay's last confirmed position, and the events it published.
pub const RELAYED_TO: &str = "rollcall_relay_published_position";
pub const RELAYED: &str = "rollcall_relay_published_events_total";
/// Events in deliveries the projector acknowledged.
pub const DELIVERED: &str = "rollcall_projector_delivered_events_total";

/// Options for one test's stack.
pub struct Options {
    /// Route the stack's RabbitMQ traffic through this URL (a proxy).
    pub amqp_url: String,
    /// The port the stack reaches PostgreSQL on (a proxy's, to cut it).
    pub postgres_port: u16,
    pub read_your_writes_wait: Duration,
    pub max_unfolded_events: i64,
    /// `/readyz` fails past this projector lag.
    pub max_projector_lag: Duration,
    /// The longest a request body may take to arrive.
    pub body_read_timeout: Duration,
    /// Requests one token may have in flight.
    pub max_in_flight_per_token: usize,
    /// Bad tokens one address may present before 429.
    pub bad_tokens: api::BadTokenLimits,
    /// The nameserver the admin API's domain verification asks.
    pub dns_server: Option<std::net::SocketAddr>,
    /// The key that signs checkpoints (`ROLLCALL_SIGNING_KEY_FILE`).
    pub signing_key_file: Option<std::path::PathBuf>,
    /// Seconds between the reaper's rounds.
    pub reaper_interval: u64,
    /// The projection split this many ways (`rollcall partitions`) before
    /// the stack starts.
    pub split_ways: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            amqp_url: RABBITMQ.into(),
            postgres_port: 5432,
            read_your_writes_wait: Duration::from_secs(5),
            max_unfolded_events: 10_000,
            max_projector_lag: api::Settings::default().max_projector_lag,
            body_read_timeout: api::Settings::default().body_read_timeout,
            max_in_flight_per_token: api::Settings::default().max_in_flight_per_token,
            bad_tokens: api::Settings::default().bad_tokens,
            dns_server: None,
            signing_key_file: None,
            reaper_interval: 30,
            split_ways: 1,
        }
    }
}

/// One running stack with its own database, exchange and queue.
pub struct TestApp {
    pub base: String,
    /// The operators' listener (`/metrics`, `/healthz`, `/readyz`).
    pub metrics_base: String,
    pub client: reqwest::Client,
    pub token: String,
    pub database_url: String,
    pub database_name: String,
    pub bus_prefix: String,
    pub stack: Option<RunningStack>,
    /// The time the stack stamps events with; advance it to script a history
    /// over months.
    pub clock: store::Clock,
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info,lapin=warn"))
                .with_test_writer()
                .init();
        }
    });
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    init_logs();
    require_rabbitmq().await;
    let database_name = format!("rollcall_test_{}", Uuid::new_v4().simple());
    create_test_database(&database_name).await;
    let database_url = format!("postgres://postgres@127.0.0.1:5432/{database_name}");
    let bus_prefix = format!("rollcall_test_{}", Uuid::new_v4().simple());
    let config = Config {
        database_url: format!(
            "postgres://postgres@127.0.0.1:{}/{database_name}",
            options.postgres_port
        ),
        pool_size: 32,
        amqp_url: options.amqp_url,
        bus_prefix: bus_prefix.clone(),
        reaper_interval: options.reaper_interval,
        signing_key_file: options.signing_key_file,
        checkpoint_interval: 3_600,
        migrate: true,
    };
    let clock = store::Clock::system();
    let settings = api::Settings {
        read_your_writes_wait: options.read_your_writes_wait,
        max_unfolded_events: options.max_unfolded_events,
        max_projector_lag: options.max_projector_lag,
        body_read_timeout: options.body_read_timeout,
        max_in_flight_per_token: options.max_in_flight_per_token,
        bad_tokens: options.bad_tokens,
        dns_server: options.dns_server,
        clock: clock.clone(),
        // What the stack gave connections that outlive a test before the
        // bound became a setting; the tests' stops stay as quick as then.
        shutdown_timeout: Duration::from_secs(10),
        ..api::Settings::default()
    };
    if options.split_ways > 1 {
        let database = store::Database::parse(&database_url).unwrap();
        store::split_projection(&store::connect(&database, 1).unwrap(), options.split_ways)
            .await
            .expect("the projection splits");
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let metrics_listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let stack = Stack { config, settings }
        .start(listener, metrics_listener)
        .await
        .expect("the stack starts");
    let (_, token) = organization_with_token(
        &stack.pool,
        &stack.appender,
        "Contoso",
        "owner@contoso.test",
    )
    .await;
    TestApp {
        base: format!("http://127.0.0.1:{}/scim_v2", stack.port),
        metrics_base: format!("http://{}", stack.metrics_address),
        client: reqwest::Client::new(),
        token,
        database_url,
        database_name,
        bus_prefix,
        stack: Some(stack),
        clock,
    }
}

/// A new organization and a SCIM token of it, as `rollcall org create` and
/// `rollcall token issue` make them.
pub(crate) async fn organization_with_token(
    pool: &store::Pool,
    appender: &store::Appender,
    name: &str,
    owner_email: &str,
) -> (Uuid, String) {
    let org = admin::organizations::create_organization(pool, appender, name, owner_email)
        .await
        .expect("an organization");
    let token = admin::tokens::issue(
        pool,
        appender,
        org.org_id,
        &test_meta(),
        OffsetDateTime::now_utc(),
        None,
    )
    .await
    .expect("a token")
    .token;
    (org.org_id, token)
}

pub(crate) async fn require_postgres() -> tokio_postgres::Client {
    match tokio_postgres::connect(POSTGRES, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(error) => panic!(
            "PostgreSQL is not reachable at 127.0.0.1:5432 ({error}). Start it with: \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ),
    }
}

async fn require_rabbitmq() {
    rabbitmq().await;
}

/// A connection to the local RabbitMQ; fails the test, saying how to start
/// it, when it is down.
pub(crate) async fn rabbitmq() -> bus::Connection {
    bus::connect(RABBITMQ).await.unwrap_or_else(|error| {
        panic!(
            "RabbitMQ is not reachable at 127.0.0.1:5672 ({error}). Start it with: rabbitmq-server -detached"
        )
    })
}

/// The template's name changes whenever a migration does.
fn template_name() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the migrations folder")
        .map(|entry| entry.expect("a migration").path())
        .collect();
    files.sort();
    let mut text = String::new();
    for file in files {
        text.push_str(&std::fs::read_to_string(file).expect("a readable migration"));
    }
    let digest = domain::token::digest(&text);
    format!("rollcall_template_{}", hex_prefix(&digest))
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Creates the database `name` from the migrated template.
pub(crate) async fn create_test_database(name: &str) {
    let admin = require_postgres().await;
    let template = template_name();
    admin
        .execute("select pg_advisory_lock(4242)", &[])
        .await
        .expect("the template lock");
    let exists = admin
        .query_opt("select 1 from pg_database where datname = $1", &[&template])
        .await
        .expect("pg_database")
        .is_some();
    if !exists {
        // Templates of other migration sets: older ones are of no use any
        // more, but other checkouts on this machine may be testing theirs
        // right now, so only those past the newest four (by oid) go.
        let stale = admin
            .query(
                "select datname from pg_database where datname like 'rollcall\\_template\\_%' \
                 and datname not like '%\\_building' and datname <> $1 order by oid desc offset 4",
                &[&template],
            )
            .await
            .expect("pg_database");
        for row in stale {
            let name: String = row.get(0);
            let _ = admin
                .batch_execute(&format!("drop database if exists {name} with (force)"))
                .await;
        }
        let building = format!("{template}_building");
        admin
            .batch_execute(&format!("drop database if exists {building} with (force)"))
            .await
            .expect("no half-built template");
        admin
            .batch_execute(&format!("create database {building}"))
            .await
            .expect("a template database");
        let database =
            store::Database::parse(&format!("postgres://postgres@127.0.0.1:5432/{building}"))
                .unwrap();
        store::migrate(&database).await.expect("migrations apply");
        admin
            .batch_execute(&format!("alter database {building} rename to {template}"))
            .await
            .expect("the template is renamed");
    }
    admin
        .execute("select pg_advisory_unlock(4242)", &[])
        .await
        .expect("the template unlock");
    for attempt in 0..50 {
        match admin
            .batch_execute(&format!("create database {name} template {template}"))
            .await
        {
            Ok(()) => return,
            // Another test is copying the template right now.
            Err(error)
                if error.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE)
                    && attempt < 49 =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!(
                "cannot create the test database: {}",
                error
                    .as_db_error()
                    .map_or_else(|| error.to_string(), |db| db.message().to_owned())
            ),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop_test_database(self.database_name.clone(), self.bus_prefix.clone());
    }
}

/// Drops a test's database and its exchange and queues.
pub(crate) fn drop_test_database(database: String, prefix: String) {
    // Runs on its own thread and runtime: Drop cannot await.
    let cleanup = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a cleanup runtime");
        runtime.block_on(async move {
            let admin = require_postgres().await;
            let _ = admin
                .batch_execute(&format!("drop database if exists {database} with (force)"))
                .await;
            if let Ok(connection) = bus::connect(RABBITMQ).await {
                let _ = bus::delete_topology(
                    &connection,
                    &bus::Topology::new(&prefix),
                    SPLIT_WAYS_TESTED,
                )
                .await;
            }
        });
    });
    let _ = cleanup.join();
}

impl TestApp {
    /// Stops the stack gracefully (tests that end normally call this).
    pub async fn stop(mut self) {
        if let Some(stack) = self.stack.take() {
            stack.stop().await.expect("the stack stops cleanly");
        }
    }

    pub fn pool(&self) -> &store::Pool {
        &self.stack.as_ref().expect("the stack runs").pool
    }

    /// A direct connection to this test's database, as a superuser would have.
    pub async fn sql(&self) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.database_url, tokio_postgres::NoTls)
                .await
                .expect("the test database");
        tokio::spawn(connection);
        client
    }

    /// The types of the events of `org_id`'s own stream (where owners'
    /// operations and the reaper record), in order.
    pub async fn organization_events(&self, org_id: Uuid) -> Vec<String> {
        self.sql()
            .await
            .query(
                "select event_type from events where org_id = $1 and stream_id = $1 \
                 order by position",
                &[&org_id],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.request_as(&self.token, method, path)
    }

    /// A SCIM request with another organization's token.
    pub fn request_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
    }

    /// Stops every fold of the projector until the returned hold is
    /// released, by holding its checkpoint row: the read tables then lag
    /// behind the log, as behind a stuck or slow projector.
    pub async fn hold_projector(&self) -> ProjectorHold {
        let client = self.sql().await;
        client
            .batch_execute(
                "begin; select position from checkpoints where name = 'projector' for update",
            )
            .await
            .expect("the checkpoint row is held");
        ProjectorHold { client }
    }

    /// The address the server listens on, for raw connections.
    pub fn address(&self) -> String {
        self.base
            .trim_start_matches("http://")
            .trim_end_matches("/scim_v2")
            .to_owned()
    }

    /// The id of the organization the test's token belongs to.
    pub async fn org_id(&self) -> Uuid {
        self.sql()
            .await
            .query_one(
                "select org_id from organizations where name = 'Contoso'",
                &[],
            )
            .await
            .expect("the test's organization")
            .get(0)
    }

    /// An endpoint of the public port outside `/scim_v2` (`/readyz`):
    /// its status and text.
    pub async fn ops(&self, path: &str) -> (StatusCode, String) {
        self.get_text(&format!("{}{path}", self.base.trim_end_matches("/scim_v2")))
            .await
    }

    /// An endpoint of the operators' listener (`/metrics`, `/readyz`).
    pub async fn metrics_ops(&self, path: &str) -> (StatusCode, String) {
        self.get_text(&format!("{}{path}", self.metrics_base)).await
    }

    async fn get_text(&self, url: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        (status, response.text().await.expect("a body"))
    }

    /// The value of an unlabelled metric in `/metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.metrics_ops("/metrics").await;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} is not in /metrics"))
            .trim()
            .parse()
            .expect("a number")
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body, got {text:?}"))
        };
        (status, body)
    }

    pub async fn create_user(&self, body: Value) -> (StatusCode, Value) {
        self.create_user_as(&self.token, body).await
    }

    /// `POST /Users` with another organization's token.
    pub async fn create_user_as(&self, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.request_as(token, reqwest::Method::POST, "/Users")
                .header("content-type", "application/scim+json; charset=utf-8")
                .body(body.to_string()),
        )
        .await
    }

    /// Creates a user and returns its id, failing the test unless 201.
    pub async fn provision(&self, user_name: &str) -> String {
        let (status, body) = self.create_user(entra_user(user_name)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("an id").to_owned()
    }

    pub async fn get_user(&self, id: &str) -> (StatusCode, Value) {
        self.get_user_as(&self.token, id).await
    }

    /// `GET /Users/{id}` with another organization's token.
    pub async fn get_user_as(&self, token: &str, id: &str) -> (StatusCode, Value) {
        self.send(self.request_as(token, reqwest::Method::GET, &format!("/Users/{id}")))
            .await
    }

    pub async fn patch_user(&self, id: &str, operations: Value) -> (StatusCode, Value) {
        self.send(
            self.request(reqwest::Method::PATCH, &format!("/Users/{id}"))
                .header("content-type", "application/scim+json")
                .body(json!({"schemas": [PATCH_OP], "Operations": operations}).to_string()),
        )
        .await
    }

    pub async fn patch_user_if_match(
        &self,
        id: &str,
        etag: &str,
        operations: Value,
    ) -> (StatusCode, Value) {
        self.send(
            self.request(reqwest::Method::PATCH, &format!("/Users/{id}"))
                .header("if-match", etag)
                .body(json!({"schemas": [PATCH_OP], "Operations": operations}).to_string()),
        )
        .await
    }

    pub async fn replace_user(&self, id: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.request(reqwest::Method::PUT, &format!("/Users/{id}"))
                .body(body.to_string()),
        )
        .await
    }

    pub async fn delete_user(&self, id: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::DELETE, &format!("/Users/{id}")))
            .await
    }

    /// `POST /Bulk` with a BulkRequest of `operations`, `failOnErrors` when given.
    pub async fn bulk(
        &self,
        fail_on_errors: Option<u64>,
        operations: Value,
    ) -> (StatusCode, Value) {
        let mut body = json!({"schemas": [BULK_REQUEST], "Operations": operations});
        if let Some(count) = fail_on_errors {
            body["failOnErrors"] = json!(count);
        }
        self.bulk_raw(body.to_string()).await
    }

    /// `POST /Bulk` with `body` sent as is.
    pub async fn bulk_raw(&self, body: String) -> (StatusCode, Value) {
        self.send(
            self.request(reqwest::Method::POST, "/Bulk")
                .header("content-type", "application/scim+json")
                .body(body),
        )
        .await
    }

    /// `GET /Users?<query>` with the query given raw (already encoded).
    pub async fn list_users(&self, query: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::GET, &format!("/Users?{query}")))
            .await
    }

    /// `GET /Users?filter=<filter>`, form-encoded as Entra sends it.
    pub async fn filter_users(&self, filter: &str) -> (StatusCode, Value) {
        self.list_users(&format!("filter={}", form_encode(filter)))
            .await
    }

    /// Creates a second organization in this stack; returns its SCIM token.
    pub async fn other_organization(&self, name: &str, owner_email: &str) -> String {
        let stack = self.stack.as_ref().expect("a running stack");
        organization_with_token(&stack.pool, &stack.appender, name, owner_email)
            .await
            .1
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// The log's last position.
    pub async fn log_head(&self) -> i64 {
        store::log_head(self.pool()).await.expect("the log head")
    }

    /// The position of the last event of stream `id` (a user or a group).
    pub async fn last_position_of(&self, id: &str) -> i64 {
        self.sql()
            .await
            .query_one(
                "select max(position) from events where stream_id = $1::text::uuid",
                &[&id],
            )
            .await
            .expect("the stream's events")
            .get(0)
    }

    /// Waits until an unlabelled metric reaches `at_least`; returns its value.
    pub async fn wait_for_metric(&self, name: &str, at_least: f64, within: Duration) -> f64 {
        let deadline = std::time::Instant::now() + within;
        loop {
            let value = self.metric(name).await;
            if value >= at_least {
                return value;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} stayed at {value}, short of {at_least}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the relay has published the whole log and the projector
    /// has acknowledged every event it published, so that no delivery is in
    /// flight; returns how many events the projector has acknowledged.
    pub async fn wait_for_deliveries(&self, within: Duration) -> f64 {
        let head = self.log_head().await as f64;
        self.wait_for_metric(RELAYED_TO, head, within).await;
        let relayed = self.metric(RELAYED).await;
        self.wait_for_metric(DELIVERED, relayed, within).await
    }

    /// Holds the linker's lock (taken between two of its passes), so that
    /// the linker follows nothing until it is released.
    pub async fn hold_linker(&self) -> reaper::lock::Held {
        self.take_lock(reaper::lock::LINKER_LOCK, async || {}).await
    }

    /// Takes the advisory lock `key`, trying again every 10 ms; `before`
    /// runs before each try.
    async fn take_lock(&self, key: i64, before: impl AsyncFn()) -> reaper::lock::Held {
        loop {
            before().await;
            let taken = reaper::lock::try_acquire(self.pool(), key)
                .await
                .expect("an advisory lock");
            if let Some(held) = taken {
                return held;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Takes the relay's lock from this server's relay: its lock's
    /// connection is ended and the test takes the lock before the relay
    /// takes it again, so that the relay waits as a standby (publishing
    /// nothing, taking nothing of what its appender keeps) until the lock
    /// is released.
    pub async fn hold_relay(&self) -> reaper::lock::Held {
        let admin = require_postgres().await;
        let end_its_connection = async || {
            admin
                .execute(
                    "select pg_terminate_backend(l.pid) from pg_locks l \
                     join pg_database d on d.oid = l.database \
                     where l.locktype = 'advisory' and l.granted and d.datname = $1 \
                     and ((l.classid::bigint << 32) | l.objid::bigint) = $2",
                    &[&self.database_name, &projector::relay::RELAY_LOCK],
                )
                .await
                .expect("ending the relay's lock connection");
        };
        let held = (self.take_lock(projector::relay::RELAY_LOCK, end_its_connection)).await;
        // The relay finds its lock gone within a second or two.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while self.metric("rollcall_relay_active").await != 0.0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the relay still says it is active 15 s after its lock was taken"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        held
    }

    /// Waits until the log is settled: the linker has followed everything
    /// in it (and appended what it follows with), and the projector has
    /// folded all of that.
    pub async fn wait_for_projector(&self, within: Duration) {
        self.wait_for_checkpoints(
            &[store::Checkpoint::Linker, store::Checkpoint::Projector],
            within,
        )
        .await;
    }

    /// Waits until each of `checkpoints` has reached the log's head.
    pub async fn wait_for_checkpoints(&self, checkpoints: &[store::Checkpoint], within: Duration) {
        let deadline = std::time::Instant::now() + within;
        loop {
            let mut positions = Vec::new();
            for checkpoint in checkpoints {
                let at = store::read_checkpoint(self.pool(), *checkpoint)
                    .await
                    .expect("the checkpoint");
                positions.push((*checkpoint, at));
            }
            // The head is read after the checkpoints: the linker appends
            // before it moves its checkpoint, so a head read first could
            // miss what it appended meanwhile and pass for settled.
            let head = store::log_head(self.pool()).await.expect("the log head");
            let behind = positions.into_iter().find(|(_, at)| *at < head);
            let Some((checkpoint, at)) = behind else {
                return;
            };
            assert!(
                std::time::Instant::now() < deadline,
                "{checkpoint:?} stayed at {at} while the log reached {head}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The projector's checkpoint row, held by [`TestApp::hold_projector`].
pub struct ProjectorHold {
    client: tokio_postgres::Client,
}

impl ProjectorHold {
    /// Lets the projector fold again.
    pub async fn release(self) {
        self.client
            .batch_execute("rollback")
            .await
            .expect("the hold is released");
    }
}

/// Who asked, for the admin operations a test calls directly: the command
/// line, as `rollcall` would.
pub fn test_meta() -> domain::RequestMeta {
    admin::command_line("test")
}

/// A User body as Entra ID sends it on create.
pub fn entra_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": true,
        "displayName": "Test User",
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Finance"}
    })
}

/// application/x-www-form-urlencoded, `+` for spaces, as Entra encodes filters.
pub fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b' ' => "+".to_owned(),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A TCP proxy the test can cut, to take a real connection away.
pub struct TcpProxy {
    pub port: u16,
    cut: watch::Sender<bool>,
}

impl TcpProxy {
    pub async fn start(target: &str) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a proxy port");
        let port = listener.local_addr().unwrap().port();
        let (cut, is_cut) = watch::channel(false);
        let target = target.to_owned();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if *is_cut.borrow() {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut is_cut = is_cut.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = is_cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        TcpProxy { port, cut }
    }

    /// Drops every proxied connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }

    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }
}
