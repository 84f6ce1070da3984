//! The configuration file: flat TOML, `key = value`, one line per knob,
//! keys as in the catalogue ([`crate::catalogue`]). A key no binary knows is
//! an error, not a silent no-op: a typo must not quietly leave a default in
//! force.

use std::path::{Path, PathBuf};

use clap::error::ErrorKind;

/// A configuration file's values, checked against the catalogue.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    entries: Vec<Entry>,
}

/// One `key = value` of the file, its value as a flag would spell it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

impl ConfigFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<ConfigFile, clap::Error> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            refusal(format!(
                "cannot read the configuration file {}: {error}",
                path.display()
            ))
        })?;
        ConfigFile::parse(path, &text)
    }

    /// Checks `text`, read from `path` (which messages name): TOML, known
    /// keys, and values each knob's flag would accept.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, clap::Error> {
        let name = path.display();
        let table: std::collections::BTreeMap<String, toml::Spanned<toml::Value>> =
            toml::from_str(text).map_err(|error| {
                refusal(format!(
                    "the configuration file {name} is not valid TOML: {error}"
                ))
            })?;
        let catalogue = crate::catalogue();
        let mut entries = Vec::with_capacity(table.len());
        for (key, spanned) in table {
            let line = text[..spanned.span().start].matches('\n').count() + 1;
            let at = format!("{name}, line {line}");
            let Some(arg) = catalogue
                .get_arguments()
                .find(|arg| arg.get_id() == key.as_str())
            else {
                return Err(refusal(format!(
                    "{at}: unknown key `{key}`{}; docs/configuration.md lists every key",
                    suggestion(&catalogue, &key)
                )));
            };
            let value = match spanned.into_inner() {
                toml::Value::String(text) => text,
                toml::Value::Integer(number) => number.to_string(),
                toml::Value::Float(number) => number.to_string(),
                toml::Value::Boolean(flag) => flag.to_string(),
                other => {
                    return Err(refusal(format!(
                        "{at}: `{key}` is a {}; give a string, a number or a boolean",
                        other.type_str()
                    )));
                }
            };
            accepts(arg, &value)
                .map_err(|reason| refusal(format!("{at}: {key} = {value:?}: {reason}")))?;
            entries.push(Entry { key, value, line });
        }
        Ok(ConfigFile {
            path: path.to_owned(),
            entries,
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its values, by key.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// Whether `arg`'s flag would accept `value`: the file is held to the same
/// ranges and formats as the command line, and told so at once, with the
/// line, rather than by clap later without it.
fn accepts(arg: &clap::Arg, value: &str) -> Result<(), String> {
    if !arg.get_action().takes_values() {
        return match value {
            "true" | "false" => Ok(()),
            _ => Err("expected true or false".into()),
        };
    }
    let long = arg.get_long().expect("every knob has a flag");
    clap::Command::new("file")
        .no_binary_name(true)
        .arg(arg.clone().global(false))
        .try_get_matches_from([format!("--{long}={value}")])
        .map(drop)
        .map_err(|error| {
            let shown = error.to_string();
            let first = shown.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_owned()
        })
}

/// ", did you mean `k`?" for the known key nearest to a typo, if any is
/// near.
fn suggestion(catalogue: &clap::Command, typo: &str) -> String {
    catalogue
        .get_arguments()
        .map(|arg| arg.get_id().as_str())
        .map(|key| (edit_distance(key, typo), key))
        .filter(|(distance, _)| *distance <= 3)
        .min()
        .map(|(_, key)| format!(" (did you mean `{key}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, by characters.
fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (i, l) in left.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, r) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(l != *r);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[right.len()]
}

/// A refusal of the file, shown and exited on as clap shows its own.
fn refusal(message: String) -> clap::Error {
    clap::Error::raw(ErrorKind::InvalidValue, format!("{message}\n"))
}
