//! Flag over file over default, and the file's refusals. (The environment's
//! place, between flag and file, is tested end to end by the `rollcall`
//! crate: a test may not set this process's environment.)

use std::path::PathBuf;

use clap::Parser;
use settings::knobs::{MigrateArgs, PoolArgs, ReaperArgs};

#[derive(Debug, Parser)]
struct Toy {
    #[command(flatten)]
    pool: PoolArgs,
    #[command(flatten)]
    migrate: MigrateArgs,
    #[command(flatten)]
    reaper: ReaperArgs,
}

/// A file holding `text`, removed when dropped.
struct File(PathBuf);

impl File {
    fn holding(text: &str) -> File {
        let path = std::env::temp_dir().join(format!(
            "rollcall-settings-{}-{}.toml",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::write(&path, text).expect("a temporary file");
        File(path)
    }

    fn arg(&self) -> String {
        format!("--config={}", self.0.display())
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn parse(args: &[&str]) -> Result<Toy, String> {
    settings::try_parse_from::<Toy, _, _>(std::iter::once("toy").chain(args.iter().copied()))
        .map_err(|error| error.to_string())
}

#[test]
fn without_a_file_the_built_in_defaults_hold() {
    let toy = parse(&[]).expect("parses");
    assert_eq!(toy.pool.pool_size, 32);
    assert!(toy.migrate.migrate);
    assert_eq!(toy.reaper.reaper_interval, 30);
}

#[test]
fn a_files_values_replace_the_defaults_and_a_flag_beats_the_file() {
    let file = File::holding("pool_size = 7\nmigrate = false\nreaper_interval = \"45\"\n");
    let toy = parse(&[&file.arg()]).expect("parses");
    assert_eq!(toy.pool.pool_size, 7);
    assert!(!toy.migrate.migrate, "migrate = false turns migrating off");
    assert_eq!(
        toy.reaper.reaper_interval, 45,
        "a quoted number is a number"
    );

    let toy = parse(&[&file.arg(), "--pool-size", "9", "--reaper-interval=5"]).expect("parses");
    assert_eq!(toy.pool.pool_size, 9);
    assert_eq!(toy.reaper.reaper_interval, 5);
}

#[test]
fn another_processes_keys_are_left_alone() {
    let file = File::holding("bind = \"0.0.0.0:8080\"\npool_size = 8\n");
    let toy = parse(&[&file.arg()]).expect("a key this command lacks is no error");
    assert_eq!(toy.pool.pool_size, 8);
}

#[test]
fn an_unknown_key_is_refused_with_the_file_the_line_and_the_nearest_key() {
    let file = File::holding("# settings\npool_sise = 7\n");
    let error = parse(&[&file.arg()]).expect_err("refused");
    let path = file.0.display().to_string();
    assert!(error.contains(&format!("{path}, line 2")), "{error}");
    assert!(error.contains("unknown key `pool_sise`"), "{error}");
    assert!(error.contains("did you mean `pool_size`?"), "{error}");
}

#[test]
fn a_value_the_flag_would_refuse_is_refused_with_its_line() {
    let file = File::holding("migrate = true\n\npool_size = 2\n");
    let error = parse(&[&file.arg()]).expect_err("below the pool's minimum");
    let path = file.0.display().to_string();
    assert!(
        error.contains(&format!("{path}, line 3: pool_size = \"2\"")),
        "{error}"
    );
    assert!(error.contains("--pool-size"), "{error}");

    let file = File::holding("migrate = \"sometimes\"\n");
    let error = parse(&[&file.arg()]).expect_err("not a boolean");
    assert!(error.contains("line 1: migrate"), "{error}");

    let file = File::holding("[api]\npool_size = 4\n");
    let error = parse(&[&file.arg()]).expect_err("tables are not keys");
    assert!(error.contains("unknown key `api`"), "{error}");
}

#[test]
fn a_file_that_is_not_toml_is_refused_with_its_line() {
    let file = File::holding("pool_size = 7\nreaper_interval = = 3\n");
    let error = parse(&[&file.arg()]).expect_err("malformed");
    let path = file.0.display().to_string();
    assert!(
        error.contains(&format!("the configuration file {path} is not valid TOML")),
        "{error}"
    );
    assert!(error.contains("line 2"), "{error}");
}

#[test]
fn a_missing_file_is_refused_by_name() {
    let error = parse(&["--config", "/nonexistent/rollcall.toml"]).expect_err("missing");
    assert!(
        error.contains("cannot read the configuration file /nonexistent/rollcall.toml"),
        "{error}"
    );
}
