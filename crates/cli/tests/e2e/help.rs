//! Issue 12, quiet output: each verb's `--help` lists the knobs that verb
//! reads and no others (a reaper's interval is no business of `org create`),
//! and `--config` wherever it reads any.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const DB: &[&str] = &["--database-url"];
const DB_MIGRATE: &[&str] = &["--database-url", "--no-migrate"];
const DB_MIGRATE_KEY: &[&str] = &["--database-url", "--no-migrate", "--signing-key-file"];

/// Every verb, and the knobs it reads (`serve`'s are checked apart).
const EXPECTED: &[(&str, &[&str])] = &[
    ("migrate", DB),
    ("org create", DB_MIGRATE),
    ("token issue", DB_MIGRATE),
    ("token list", DB_MIGRATE),
    ("token revoke", DB_MIGRATE),
    ("audit state", DB),
    ("audit timeline", DB),
    ("audit group-members", DB),
    ("audit diff", DB),
    ("audit joiners", DB),
    ("audit leavers", DB),
    ("audit events", DB),
    ("audit export", DB),
    ("audit request", DB),
    ("audit signing-key generate", &[]),
    ("audit checkpoint", DB_MIGRATE_KEY),
    ("audit checkpoints", DB_MIGRATE),
    ("audit evidence", DB_MIGRATE_KEY),
    ("audit verify-evidence", &[]),
    ("erase", DB_MIGRATE),
    ("domain add", DB_MIGRATE),
    (
        "domain verify",
        &["--database-url", "--no-migrate", "--dns-server"],
    ),
    ("domain list", DB_MIGRATE),
    ("domain drop", DB_MIGRATE),
    ("account set-password", DB_MIGRATE),
    ("provisioning show", DB_MIGRATE),
    ("provisioning set", DB_MIGRATE),
    ("role list", DB_MIGRATE),
    ("role add", DB_MIGRATE),
    ("reaper plan", DB),
    ("verify", DB),
    ("rebuild", DB_MIGRATE),
    ("partitions", DB_MIGRATE),
    ("access-log drop-before", DB_MIGRATE),
    ("bench", &[]),
    ("bench-groups", &[]),
];

/// `rollcall WORDS --help`, with no knob's variable set (their values
/// would show).
fn help(words: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    command.args(words).arg("--help");
    for variable in knob_variables()
        .into_iter()
        .chain(["ROLLCALL_CONFIG".into()])
    {
        command.env_remove(variable);
    }
    let output = command.output().expect("rollcall runs");
    assert!(
        output.status.success(),
        "rollcall {words:?} --help: {output:?}"
    );
    String::from_utf8(output.stdout).expect("UTF-8 help")
}

fn knob_variables() -> Vec<String> {
    settings::catalogue()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect()
}

/// The verbs under `words`, from its help's "Commands:" list.
fn verbs(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|verb| *verb != "help")
        .map(str::to_owned)
        .collect()
}

/// The flags a help lists that read a knob's variable, and whether it
/// offers `--config`.
fn knob_flags(help: &str) -> (BTreeSet<String>, bool) {
    let variables = knob_variables();
    let mut flags = BTreeSet::new();
    let mut current = None;
    let mut offers_config = false;
    for line in help.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("--") || trimmed.starts_with('-') && trimmed.contains(", --") {
            let flag = trimmed[trimmed.find("--").unwrap()..]
                .split([' ', '=', '<', ','])
                .next()
                .unwrap_or_default()
                .to_owned();
            offers_config |= flag == "--config";
            current = Some(flag);
        }
        if let (Some(flag), Some(start)) = (&current, line.find("[env: ")) {
            // `[env: NAME=value]`, or `[env: NAME]` when the value is hidden.
            let variable = line[start + 6..]
                .split(['=', ']'])
                .next()
                .unwrap_or_default();
            if variables.iter().any(|known| known == variable) {
                flags.insert(flag.clone());
            }
        }
    }
    (flags, offers_config)
}

/// Every leaf verb's path, walking the helps.
fn leaves(prefix: Vec<String>, found: &mut BTreeMap<String, String>) {
    let words: Vec<&str> = prefix.iter().map(String::as_str).collect();
    let text = help(&words);
    let below = verbs(&text);
    if below.is_empty() {
        found.insert(prefix.join(" "), text);
    }
    for verb in below {
        let mut path = prefix.clone();
        path.push(verb);
        leaves(path, found);
    }
}

#[test]
fn each_verbs_help_lists_the_knobs_it_reads_and_no_other() {
    let mut found = BTreeMap::new();
    leaves(Vec::new(), &mut found);
    let serve = found.remove("serve").expect("rollcall serve");
    let mut problems = Vec::new();
    for (path, text) in &found {
        let Some((_, expected)) = EXPECTED.iter().find(|(verb, _)| verb == path) else {
            problems.push(format!(
                "`rollcall {path}` is new: say in EXPECTED which knobs it reads"
            ));
            continue;
        };
        let expected: BTreeSet<String> = expected.iter().map(|flag| flag.to_string()).collect();
        let (flags, offers_config) = knob_flags(text);
        if flags != expected {
            problems.push(format!(
                "`rollcall {path} --help` lists {flags:?}, it reads {expected:?}"
            ));
        }
        if offers_config == expected.is_empty() {
            problems.push(format!(
                "`rollcall {path} --help` offers --config: {offers_config}"
            ));
        }
    }
    for (verb, _) in EXPECTED {
        if !found.contains_key(*verb) {
            problems.push(format!(
                "`rollcall {verb}` is gone: take it out of EXPECTED"
            ));
        }
    }
    // serve reads every knob but the standalone API's projection poll and
    // the standalone projector's partition (serve folds every partition).
    let (flags, offers_config) = knob_flags(&serve);
    let every: BTreeSet<String> = settings::catalogue()
        .get_arguments()
        .filter(|arg| {
            !["projection_poll_ms", "projector_partition"].contains(&arg.get_id().as_str())
        })
        .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
        .collect();
    if flags != every || !offers_config {
        problems.push(format!(
            "`rollcall serve --help` lists {flags:?}, it reads {every:?}"
        ));
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        found
            .values()
            .all(|text| !text.contains("--reaper-interval")),
        "only serve mentions the reaper's interval"
    );
}
