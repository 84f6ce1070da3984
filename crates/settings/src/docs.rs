//! docs/configuration.md's table of knobs, read back so that tests can
//! hold it to the code: a knob without a row, or a row that says another
//! default, flag or variable than the code, fails a test.

use std::collections::BTreeSet;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub env: String,
    pub flag: String,
    /// `None` where the table says `none`.
    pub default: Option<String>,
    /// The processes named in the "read by" column (`serve`,
    /// `rollcall-api`, ...).
    pub readers: BTreeSet<String>,
}

/// The header that starts the table.
const HEADER: &str = "| key | environment | flag | default | read by |";

/// The table's rows, in order.
pub fn rows(markdown: &str) -> Vec<Row> {
    markdown
        .lines()
        .skip_while(|line| !line.starts_with(HEADER))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let cell = |index: usize| cells.get(index).copied().unwrap_or_default();
            Row {
                key: unquote(cell(0)),
                env: unquote(cell(1)),
                flag: unquote(cell(2)),
                default: match cell(3) {
                    "none" => None,
                    text => Some(unquote(text)),
                },
                readers: quoted(cell(4)).into_iter().collect(),
            }
        })
        .collect()
}

/// Where the table and the catalogue of knobs disagree (nothing when they
/// agree): each knob has one row, with its environment variable, flag and
/// default.
pub fn check_catalogue(markdown: &str) -> Vec<String> {
    let rows = rows(markdown);
    let mut catalogue = crate::catalogue();
    catalogue.build();
    let mut problems = Vec::new();
    for arg in catalogue.get_arguments() {
        let key = arg.get_id().as_str();
        if matches!(key, "help" | "version") {
            continue;
        }
        let Some(row) = rows.iter().find(|row| row.key == key) else {
            problems.push(format!("knob `{key}` has no row"));
            continue;
        };
        let env = arg
            .get_env()
            .map(|env| env.to_string_lossy().into_owned())
            .unwrap_or_default();
        let flag = format!("--{}", arg.get_long().unwrap_or_default());
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let default = (!defaults.is_empty()).then(|| defaults.join(","));
        let expected = (env.as_str(), flag.as_str(), default.as_deref());
        let written = (row.env.as_str(), row.flag.as_str(), row.default.as_deref());
        if expected != written {
            problems.push(format!(
                "`{key}`: the code says {expected:?} (environment, flag, default), the table {written:?}"
            ));
        }
    }
    for row in &rows {
        if catalogue
            .get_arguments()
            .all(|arg| arg.get_id() != row.key.as_str())
        {
            problems.push(format!("row `{}` is no knob", row.key));
        }
    }
    problems
}

/// Where the table's "read by" column and `command` (the process called
/// `reader` in the column) disagree: the rows naming it must be exactly the
/// knobs it declares.
pub fn check_reader(markdown: &str, reader: &str, command: &clap::Command) -> Vec<String> {
    let catalogue = crate::catalogue();
    let declared: BTreeSet<String> = command
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .filter(|id| {
            catalogue
                .get_arguments()
                .any(|arg| arg.get_id() == id.as_str())
        })
        .collect();
    let documented: BTreeSet<String> = rows(markdown)
        .into_iter()
        .filter(|row| row.readers.contains(reader))
        .map(|row| row.key)
        .collect();
    let mut problems = Vec::new();
    for key in declared.difference(&documented) {
        problems.push(format!("{reader} reads `{key}`, the table does not say so"));
    }
    for key in documented.difference(&declared) {
        problems.push(format!(
            "the table says {reader} reads `{key}`, it does not"
        ));
    }
    problems
}

/// Panics with the disagreements of [`check_reader`], the table read from
/// this repository's docs/configuration.md: the test each binary runs.
pub fn assert_reader(reader: &str, command: &clap::Command) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let table = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let problems = check_reader(&table, reader, command);
    assert!(problems.is_empty(), "docs/configuration.md: {problems:#?}");
}

fn unquote(cell: &str) -> String {
    cell.trim().trim_matches('`').to_owned()
}

/// The `quoted` words of a cell.
fn quoted(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}
