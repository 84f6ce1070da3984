//! Issue 12, least privilege: the schema owner migrates (`rollcall migrate`),
//! the services run as a login role that is a member of `rollcall_app`
//! (README "Production") with `--no-migrate`, and a role that may not
//! migrate, or a schema this build does not match, is told so plainly.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{POSTGRES, RABBITMQ, USER_SCHEMA};
use crate::integrity::{Scratch, generate_key};

/// A login role made for one test, as the README tells operators to make
/// theirs; dropped with its database when the test ends, even on failure
/// (roles are cluster-wide).
struct AppRole {
    name: String,
    database: String,
}

impl AppRole {
    /// Migrates a new database as postgres with `rollcall migrate`, and
    /// makes a login role with a password that is a member of rollcall_app.
    async fn new() -> AppRole {
        let id = Uuid::new_v4().simple().to_string();
        let role = AppRole {
            name: format!("rollcall_test_role_{id}"),
            database: format!("rollcall_test_{id}"),
        };
        let output = rollcall(&[], &role.owner_url(), &["migrate"]);
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(
            stdout.trim(),
            format!(
                "database {} is migrated to {}",
                role.database,
                store::needed_version()
            )
        );
        // The README's snippet, word for word but for the name.
        postgres()
            .await
            .batch_execute(&format!(
                "create role {} login password 'a-long-random-password' in role rollcall_app",
                role.name
            ))
            .await
            .expect("a login role");
        role
    }

    fn owner_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.database)
    }

    fn url(&self) -> String {
        format!(
            "postgres://{}:a-long-random-password@127.0.0.1:5432/{}",
            self.name, self.database
        )
    }
}

impl Drop for AppRole {
    fn drop(&mut self) {
        let database = self.database.clone();
        let name = self.name.clone();
        // Drop cannot await: its own thread and runtime.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a cleanup runtime")
                .block_on(async move {
                    let admin = postgres().await;
                    let _ = admin
                        .batch_execute(&format!("drop database if exists {database} with (force)"))
                        .await;
                    let _ = admin
                        .batch_execute(&format!("drop role if exists {name}"))
                        .await;
                });
        })
        .join();
    }
}

async fn postgres() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(POSTGRES, tokio_postgres::NoTls)
        .await
        .expect(
            "PostgreSQL at 127.0.0.1:5432; start it with: \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        );
    tokio::spawn(connection);
    client
}

/// Runs `rollcall ARGS` against `database_url` to its end.
fn rollcall(env: &[(&str, &str)], database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("rollcall runs")
}

/// A `rollcall serve` child, killed when dropped.
pub(crate) struct Served(pub(crate) Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .unwrap()
        .port()
}

/// The SCIM token a first start prints once, read from the child's stdout.
fn first_start_token(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut after_heading = false;
    loop {
        let line = received
            .recv_timeout(Duration::from_secs(60))
            .expect("serve prints the first start's token (see its stderr above)");
        if line.contains("The organization's SCIM token") {
            after_heading = true;
        } else if after_heading && !line.trim().is_empty() {
            return line.trim().to_owned();
        }
    }
}

#[tokio::test]
async fn the_whole_stack_runs_as_the_application_role_with_no_migrate() {
    let role = AppRole::new().await;
    let scratch = Scratch::new();
    let (key, _) = generate_key(&scratch);
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let prefix = format!("rollcall_test_{}", Uuid::new_v4().simple());
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["serve", "--no-migrate", "--bind", &bind])
        .env("DATABASE_URL", role.url())
        .env("AMQP_URL", RABBITMQ)
        .env("ROLLCALL_BUS_PREFIX", &prefix)
        .env("ROLLCALL_REAPER_INTERVAL", "1")
        .env("ROLLCALL_CHECKPOINT_INTERVAL", "1")
        .env("ROLLCALL_SIGNING_KEY_FILE", &key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("rollcall serve starts");
    let token = first_start_token(&mut child);
    let _served = Served(child);

    // Provisioned over SCIM, then read back from the projector's table.
    let client = reqwest::Client::new();
    let base = format!("http://{bind}/scim_v2");
    let created = client
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .json(&json!({"schemas": [USER_SCHEMA], "userName": "ada@contoso.test"}))
        .send()
        .await
        .expect("a SCIM answer");
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = client
        .get(format!("{base}/Users/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a SCIM answer");
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.json::<Value>().await.unwrap()["userName"],
        "ada@contoso.test"
    );

    // The reaper's rounds run as the role too: one signs a checkpoint of
    // the organization's moved head.
    let owner = {
        let (client, connection) =
            tokio_postgres::connect(&role.owner_url(), tokio_postgres::NoTls)
                .await
                .expect("the test database");
        tokio::spawn(connection);
        client
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let signed: i64 = owner
            .query_one("select count(*) from checkpoints", &[])
            .await
            .expect("checkpoints")
            .get(0);
        if signed > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reaper signed no checkpoint as the application role within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bus = bus::connect(RABBITMQ).await.expect("RabbitMQ");
    let _ = bus::delete_topology(&bus, &bus::Topology::new(&prefix), 1).await;
}

#[tokio::test]
async fn the_application_role_is_told_it_may_not_migrate_and_how_to_start() {
    let role = AppRole::new().await;
    let output = rollcall(&[], &role.url(), &["serve", "--bind", "127.0.0.1:0"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "the role \"{}\" may not change the schema of the database \"{}\"",
            role.name, role.database
        )) && stderr.contains("run `rollcall migrate` as the schema owner")
            && stderr.contains("--no-migrate (or ROLLCALL_MIGRATE=false)"),
        "{stderr}"
    );
    assert!(!stderr.contains("unavailable"), "{stderr}");
}

#[tokio::test]
async fn a_schema_behind_the_build_stops_the_start_with_what_to_run() {
    let role = AppRole::new().await;
    // The newest migration never ran here: as if this build were newer.
    let owner = {
        let (client, connection) =
            tokio_postgres::connect(&role.owner_url(), tokio_postgres::NoTls)
                .await
                .expect("the test database");
        tokio::spawn(connection);
        client
    };
    let needed = store::needed_version();
    owner
        .execute(
            "delete from refinery_schema_history where version = $1",
            &[&needed.0],
        )
        .await
        .unwrap();
    // The migration before it, wherever the numbering has gaps.
    let behind = store::SchemaVersion(
        owner
            .query_one("select max(version) from refinery_schema_history", &[])
            .await
            .unwrap()
            .get(0),
    );
    let expected = format!(
        "the database schema is at {behind}, this build needs {needed}: \
         run `rollcall migrate` as the schema owner"
    );
    for env in [&[][..], &[("ROLLCALL_MIGRATE", "false")][..]] {
        let args: &[&str] = if env.is_empty() {
            &["serve", "--no-migrate", "--bind", "127.0.0.1:0"]
        } else {
            &["serve", "--bind", "127.0.0.1:0"]
        };
        let output = rollcall(env, &role.url(), args);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&expected), "{stderr}");
    }
}

#[tokio::test]
async fn migrating_takes_back_the_login_v0002_gave_rollcall_app_without_a_password() {
    // V0002 made rollcall_app able to log in, with no password. Put the
    // role back in that state (it is cluster-wide; no test logs in as it,
    // and migrating below takes the login back at once), then migrate a
    // new database as an operator upgrading would.
    postgres()
        .await
        .batch_execute("alter role rollcall_app login password null")
        .await
        .unwrap();
    let _role = AppRole::new().await;
    let passwordless_logins: i64 = postgres()
        .await
        .query_one(
            "select count(*) from pg_authid \
             where rolname = 'rollcall_app' and rolcanlogin and rolpassword is null",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        passwordless_logins, 0,
        "rollcall_app can log in without a password after migrating"
    );
}
