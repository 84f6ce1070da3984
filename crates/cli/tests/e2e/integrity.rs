//! Issue 11, proof of integrity: signed checkpoints (recorded by the reaper
//! and on demand, listed, their key served) and `rollcall verify --checkpoint`,
//! which proves that today's log extends a checkpoint an auditor kept, and
//! catches an edit, a removal, a reordering or an insertion before it, even
//! one whose chain was recomputed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with};

/// Runs `rollcall ARGS` on the test's database with the key file given:
/// whether it succeeded, and what it printed.
pub(crate) fn rollcall(app: &TestApp, key: Option<&Path>, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    command
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env_remove("ROLLCALL_SIGNING_KEY_FILE");
    if let Some(key) = key {
        command.env("ROLLCALL_SIGNING_KEY_FILE", key);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// A folder of the test's own, removed when it ends.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("rollcall-integrity-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `rollcall audit signing-key generate`: the key file, and the public key
/// it printed.
pub(crate) fn generate_key(scratch: &Scratch) -> (PathBuf, Value) {
    let key = scratch.path("checkpoints.pem");
    let output = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["audit", "signing-key", "generate", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let public: Value = serde_json::from_slice(&output.stdout).unwrap();
    (key, public)
}

fn verify_checkpoint(app: &TestApp, checkpoint: &Path) -> (bool, String) {
    rollcall(
        app,
        None,
        &[
            "verify",
            "--org",
            "Contoso",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ],
    )
}

/// Contoso with 4 users, a checkpoint written to a file, then 2 users more:
/// the file, and the checkpoint's head position.
async fn checkpointed(app: &TestApp, scratch: &Scratch) -> (PathBuf, i64) {
    let (key, _) = generate_key(scratch);
    for n in 0..4 {
        app.provision(&format!("before.{n}@contoso.com")).await;
    }
    app.wait_for_projector(Duration::from_secs(10)).await;
    let file = scratch.path("contoso.checkpoint.json");
    let (signed, said) = rollcall(
        app,
        Some(&key),
        &[
            "audit",
            "checkpoint",
            "--org",
            "Contoso",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(signed, "{said}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for n in 0..2 {
        app.provision(&format!("after.{n}@contoso.com")).await;
    }
    app.wait_for_projector(Duration::from_secs(10)).await;
    (file, written["head_position"].as_i64().unwrap())
}

/// The positions of Contoso's events, in order.
async fn contoso_positions(app: &TestApp) -> Vec<i64> {
    let org_id = app.org_id().await;
    app.sql()
        .await
        .query(
            "select position from events where org_id = $1 order by position",
            &[&org_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Runs `statements` on the log with its triggers off, as a superuser could,
/// after stopping the stack so that nothing folds what is moved.
async fn tamper(app: &mut TestApp, statements: &str) {
    if let Some(stack) = app.stack.take() {
        stack.stop().await.unwrap();
    }
    app.sql()
        .await
        .batch_execute(&format!(
            "alter table events disable trigger user; {statements}; \
             alter table events enable trigger user"
        ))
        .await
        .unwrap();
}

/// Recomputes every event's prev_hash and hash from the first position on,
/// as a tamperer would to make the chain alone look sound.
async fn rechain(app: &TestApp) {
    let sql = app.sql().await;
    let database = store::Database::parse(&app.database_url).unwrap();
    let pool = store::connect(&database, 2).unwrap();
    let rows = store::read_after(&pool, 0, i64::MAX).await.unwrap();
    let mut heads = std::collections::HashMap::new();
    sql.batch_execute("alter table events disable trigger user")
        .await
        .unwrap();
    for mut row in rows {
        row.prev_hash = heads
            .get(&row.org_id)
            .cloned()
            .unwrap_or(domain::chain::GENESIS.to_vec());
        let hash = domain::chain::link(&row.prev_hash, &row.chained_fields()).to_vec();
        sql.execute(
            "update events set prev_hash = $1, hash = $2 where position = $3",
            &[&row.prev_hash, &hash, &row.position],
        )
        .await
        .unwrap();
        heads.insert(row.org_id, hash);
    }
    sql.batch_execute("alter table events enable trigger user")
        .await
        .unwrap();
}

#[tokio::test]
async fn the_reaper_signs_moved_heads_hourly_and_auditors_list_them_with_the_key() {
    let scratch = Scratch::new();
    let (key, public) = generate_key(&scratch);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the private key is its owner's alone");
    let app = spawn_app_with(Options {
        signing_key_file: Some(key.clone()),
        ..Options::default()
    })
    .await;
    app.provision("ada@contoso.com").await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    let reaper = reaper::Reaper {
        pool: app.pool().clone(),
        linker_pool: app.pool().clone(),
        appender: app.stack.as_ref().unwrap().appender.clone(),
        linker_recent: None,
        metrics: reaper::ReaperMetrics::register(&prometheus::Registry::new()).unwrap(),
        checkpoints: Some(reaper::Checkpoints {
            key: std::sync::Arc::new(audit::signing_key::load(&key).unwrap()),
            every: Duration::from_secs(3_600),
        }),
    };
    let org_id = app.org_id().await;
    let signed_for = |outcome: &reaper::Outcome| {
        outcome
            .signed
            .iter()
            .filter(|signed| signed.head.org_id == org_id)
            .count()
    };
    // The stack's own reaper may sign now and then; our rounds are hours
    // ahead of it on the stack's clock, so theirs are the last, and the
    // head moves first.
    app.provision("alan@contoso.com").await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    app.clock.advance(time::Duration::hours(2));
    let first = reaper.run_once(app.clock.now()).await.unwrap();
    assert_eq!(signed_for(&first), 1);
    app.clock.advance(time::Duration::minutes(30));
    let again = reaper.run_once(app.clock.now()).await.unwrap();
    assert_eq!(signed_for(&again), 0, "not within the hour");
    app.clock.advance(time::Duration::hours(2));
    let unmoved = reaper.run_once(app.clock.now()).await.unwrap();
    assert_eq!(signed_for(&unmoved), 0, "the head has not moved");
    app.provision("grace@contoso.com").await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    let moved = reaper.run_once(app.clock.now()).await.unwrap();
    assert_eq!(signed_for(&moved), 1);
    let head = &moved.signed[0].head;
    assert_eq!(
        head.head_position,
        *contoso_positions(&app).await.last().unwrap()
    );
    assert_eq!(head.event_count, contoso_positions(&app).await.len() as i64);

    let owner = app.owner_session().await;
    let path = format!("/orgs/{org_id}/audit/signing-key");
    let (status, served) = app.admin(&owner, Method::GET, &path).await;
    assert_eq!(status, StatusCode::OK, "{served}");
    assert_eq!(served, public);
    let path = format!("/orgs/{org_id}/audit/checkpoints");
    let (status, listed) = app.admin(&owner, Method::GET, &path).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed = listed["checkpoints"].as_array().unwrap().clone();
    assert!(listed.len() >= 2, "{listed:?}");
    let last = listed.last().unwrap();
    assert_eq!(last["head_position"], head.head_position);
    assert_eq!(last["public_key"], public["public_key"]);
    let (_, cli) = rollcall(&app, None, &["audit", "checkpoints", "--org", "Contoso"]);
    // Checkpoints, not the JSON log lines stderr holds off a terminal.
    let printed = cli
        .lines()
        .filter(|line| line.starts_with("{\"format\""))
        .count();
    assert_eq!(printed, listed.len(), "{cli}");

    // The last one, kept as a file, proves the log as it is.
    let file = scratch.path("listed.json");
    std::fs::write(&file, last.to_string()).unwrap();
    let (sound, said) = verify_checkpoint(&app, &file);
    assert!(sound, "{said}");
    assert!(said.contains("by 0 events"), "{said}");
    app.stop().await;
}

#[tokio::test]
async fn a_log_that_grew_after_a_checkpoint_extends_it_and_an_edited_file_is_refused() {
    let app = spawn_app().await;
    let scratch = Scratch::new();
    let (file, _) = checkpointed(&app, &scratch).await;
    let (sound, said) = verify_checkpoint(&app, &file);
    assert!(sound, "{said}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let grown =
        contoso_positions(&app).await.len() as i64 - written["event_count"].as_i64().unwrap();
    assert!(grown > 0);
    assert!(said.contains(&format!("by {grown} events")), "{said}");

    // Signed by another key than the one the auditor trusts.
    let other = "ab".repeat(32);
    let (sound, said) = rollcall(
        &app,
        None,
        &[
            "verify",
            "--org",
            "Contoso",
            "--checkpoint",
            file.to_str().unwrap(),
            "--public-key",
            &other,
        ],
    );
    assert!(!sound);
    assert!(said.contains("not by the --public-key given"), "{said}");

    // A file whose count was edited no longer matches its signature.
    let mut edited: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    edited["event_count"] = (edited["event_count"].as_i64().unwrap() - 1).into();
    let edited_file = scratch.path("edited.json");
    std::fs::write(&edited_file, edited.to_string()).unwrap();
    let (sound, said) = verify_checkpoint(&app, &edited_file);
    assert!(!sound);
    assert!(said.contains("signature does not match"), "{said}");

    // This server has no key: the route says so.
    let owner = app.owner_session().await;
    let org_id = app.org_id().await;
    let path = format!("/orgs/{org_id}/audit/signing-key");
    let (status, body) = app.admin(&owner, Method::GET, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("ROLLCALL_SIGNING_KEY_FILE"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_changed_payload_before_the_checkpoint_is_found() {
    let mut app = spawn_app().await;
    let scratch = Scratch::new();
    let (file, head) = checkpointed(&app, &scratch).await;
    let positions = contoso_positions(&app).await;
    let changed = positions[positions.len() / 3];
    assert!(changed < head);
    tamper(
        &mut app,
        &format!(
            // Personal values are sealed (docs/audit-privacy.md), so the
            // edit adds a field rather than rewriting a name it cannot read.
            "update events set payload = (payload::jsonb || '{{\"by\": \"mallory\"}}')::json \
             where position = {changed}"
        ),
    )
    .await;
    let (sound, said) = verify_checkpoint(&app, &file);
    assert!(!sound);
    assert!(
        said.contains(&format!("broken at position {changed}")),
        "{said}"
    );
}

#[tokio::test]
async fn a_deleted_event_before_the_checkpoint_is_found() {
    let mut app = spawn_app().await;
    let scratch = Scratch::new();
    let (file, head) = checkpointed(&app, &scratch).await;
    let positions = contoso_positions(&app).await;
    let index = positions.iter().position(|&p| p == head).unwrap() - 2;
    let (removed, next) = (positions[index], positions[index + 1]);
    tamper(
        &mut app,
        &format!("delete from events where position = {removed}"),
    )
    .await;
    let (sound, said) = verify_checkpoint(&app, &file);
    assert!(!sound);
    assert!(
        said.contains(&format!("broken at position {next}")),
        "{said}"
    );
}

#[tokio::test]
async fn reordered_events_before_the_checkpoint_are_found() {
    let mut app = spawn_app().await;
    let scratch = Scratch::new();
    let (file, head) = checkpointed(&app, &scratch).await;
    let positions = contoso_positions(&app).await;
    let index = positions.iter().position(|&p| p == head).unwrap() - 3;
    let (first, second) = (positions[index], positions[index + 1]);
    tamper(
        &mut app,
        &format!(
            "update events set position = -position where position in ({first}, {second}); \
             update events set position = case position when -{first} then {second} \
             else {first} end where position < 0"
        ),
    )
    .await;
    let (sound, said) = verify_checkpoint(&app, &file);
    assert!(!sound);
    assert!(
        said.contains(&format!("broken at position {first}")),
        "{said}"
    );
}

#[tokio::test]
async fn an_event_inserted_before_the_checkpoint_with_the_chain_recomputed_is_found() {
    let mut app = spawn_app().await;
    let scratch = Scratch::new();
    let (file, head) = checkpointed(&app, &scratch).await;
    let org_id = app.org_id().await;
    let positions = contoso_positions(&app).await;
    let at = positions[positions.iter().position(|&p| p == head).unwrap() - 2];
    // Every event from `at` on moves one place up; a forged one takes `at`.
    tamper(
        &mut app,
        &format!(
            "update events set position = -position - 1 where position >= {at}; \
             update events set position = -position where position < 0; \
             insert into events (position, org_id, stream_id, stream_version, event_type, \
                 schema_version, payload, metadata, recorded_at, prev_hash, hash) \
             select {at}, org_id, '{stream}', 1, event_type, schema_version, \
                 replace(payload::text, 'before.', 'forged.')::json, metadata, recorded_at, \
                 prev_hash, hash \
               from events where position = {next} and org_id = '{org_id}'",
            next = at + 1,
            stream = Uuid::new_v4(),
        ),
    )
    .await;
    rechain(&app).await;
    let (sound, said) = rollcall(&app, None, &["verify", "--org", "Contoso"]);
    assert!(sound, "the chain alone looks sound: {said}");
    let (sound, said) = verify_checkpoint(&app, &file);
    assert!(!sound);
    assert!(
        said.contains(&format!("broken at position {head}")),
        "{said}"
    );
    assert!(said.contains("rewritten"), "{said}");
}
