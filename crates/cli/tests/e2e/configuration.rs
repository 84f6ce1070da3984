//! Issue 12, configuration: a file's values take effect in a running
//! process, the environment overrides the file and a flag the environment,
//! and a file with an unknown key or that is not TOML is refused, saying
//! which file and where (docs/configuration.md).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::helpers::{RABBITMQ, drop_test_database};
use crate::least_privilege::{Served, free_port};

/// A database and exchange names of this test's own, dropped at its end,
/// and a directory for its files.
struct Scratch {
    database: String,
    prefix: String,
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let id = Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("rollcall_test_config_{id}"));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch {
            database: format!("rollcall_test_{id}"),
            prefix: format!("rollcall_test_{id}"),
            dir,
        }
    }

    /// Writes `text` to a file of the scratch directory, returns its path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("a configuration file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        drop_test_database(self.database.clone(), self.prefix.clone());
    }
}

/// `rollcall ARGS` with no knob's variable inherited from this process,
/// only `env`.
fn rollcall(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    command.args(args);
    for arg in settings::catalogue().get_arguments() {
        if let Some(variable) = arg.get_env() {
            command.env_remove(variable);
        }
    }
    command
        .env_remove("ROLLCALL_CONFIG")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied());
    command
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    rollcall(args, env).output().expect("rollcall runs")
}

/// Waits until `metrics` (an operators' listener) shows the pool's `max`
/// at `expected`, or fails with what it showed and the child's log; returns
/// what it showed.
async fn wait_for_pool_max(served: &mut Served, metrics: &str, expected: u32) -> String {
    let line = format!("rollcall_store_pool_connections{{pool=\"main\",state=\"max\"}} {expected}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    loop {
        if let Ok(answer) = reqwest::get(format!("http://{metrics}/metrics")).await {
            seen = answer.text().await.unwrap_or_default();
            if seen.lines().any(|shown| shown == line) {
                return seen;
            }
        }
        if let Some(status) = served.0.try_wait().expect("the child's status") {
            let mut log = String::new();
            let _ = served
                .0
                .stderr
                .take()
                .map(|mut err| err.read_to_string(&mut log));
            panic!("rollcall serve ended ({status}) before showing {line}:\n{log}");
        }
        assert!(
            Instant::now() < deadline,
            "{metrics} did not show `{line}` within 60 s; it showed:\n{}",
            seen.lines()
                .filter(|shown| shown.contains("pool_connections"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_files_values_take_effect_the_environment_overrides_them_and_a_flag_the_environment() {
    let scratch = Scratch::new();
    let metrics = format!("127.0.0.1:{}", free_port());
    let file = scratch.file(
        "rollcall.toml",
        &format!(
            "database_url = \"postgres://postgres@127.0.0.1:5432/{}\"\n\
             amqp_url = \"{RABBITMQ}\"\n\
             bus_prefix = \"{}\"\n\
             bind = \"127.0.0.1:0\"\n\
             metrics_bind = \"{metrics}\"\n\
             pool_size = 7\n",
            scratch.database, scratch.prefix
        ),
    );
    let config = file.to_str().unwrap();
    let start = |args: &[&str], env: &[(&str, &str)]| {
        Served(
            rollcall(args, env)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("rollcall serve starts"),
        )
    };

    // The file alone: its database, broker, listener and pool.
    let mut served = start(&["serve", "--config", config], &[]);
    let shown = wait_for_pool_max(&mut served, &metrics, 7).await;
    drop(served);
    // The linker's own connections, whatever the pool size says.
    let linker = format!(
        "rollcall_store_pool_connections{{pool=\"linker\",state=\"max\"}} {}",
        reaper::linker::CONNECTIONS
    );
    assert!(shown.lines().any(|line| line == linker), "{shown}");

    // Named by ROLLCALL_CONFIG; ROLLCALL_POOL_SIZE overrides the file, whose
    // metrics_bind still holds.
    let mut served = start(
        &["serve"],
        &[("ROLLCALL_CONFIG", config), ("ROLLCALL_POOL_SIZE", "9")],
    );
    wait_for_pool_max(&mut served, &metrics, 9).await;
    drop(served);

    // The flag overrides the variable.
    let mut served = start(
        &["serve", "--config", config, "--pool-size", "11"],
        &[("ROLLCALL_POOL_SIZE", "9")],
    );
    wait_for_pool_max(&mut served, &metrics, 11).await;
}

#[test]
fn an_unknown_key_is_refused_naming_it_the_file_and_the_line() {
    let scratch = Scratch::new();
    let file = scratch.file(
        "typo.toml",
        "database_url = \"postgres://nobody@127.0.0.1:1/none\"\nreaper_intervall = 5\n",
    );
    let path = file.display().to_string();
    for output in [
        run(&["migrate", "--config", &path], &[]),
        run(
            &["token", "list", "--org", "Contoso"],
            &[("ROLLCALL_CONFIG", &path)],
        ),
    ] {
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "{path}, line 2: unknown key `reaper_intervall` (did you mean `reaper_interval`?)"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn a_file_that_is_not_toml_is_refused_naming_it_and_the_line() {
    let scratch = Scratch::new();
    let file = scratch.file("broken.toml", "pool_size = 8\nbind = 127.0.0.1:8080\n");
    let path = file.display().to_string();
    let output = run(&["migrate", "--config", &path], &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("the configuration file {path} is not valid TOML"))
            && stderr.contains("line 2"),
        "{stderr}"
    );
}

#[test]
fn a_verb_without_knobs_takes_no_file() {
    let output = run(
        &[
            "bench",
            "--url",
            "http://127.0.0.1:1",
            "--token",
            "t",
            "--config",
            "x.toml",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("unexpected argument '--config'"));
}
