//! rollcall's operational settings, shared by every binary: the knobs (in
//! [`knobs`], grouped so that each command flattens the groups it uses and
//! its `--help` lists nothing else), and how their values are found.
//!
//! A knob is set by its flag, else its environment variable, else the
//! configuration file (`--config FILE` or `ROLLCALL_CONFIG`), else its
//! built-in default. The file is folded in as clap *defaults*: the command
//! line is parsed once to learn where the file is, then again with each of
//! the file's values as its knob's default. Clap then applies flag over
//! environment over default itself, so the precedence is clap's own and
//! every value, whatever its source, goes through the same parser and range
//! check. The alternative, merging the file into the parsed struct, would
//! need to know per field whether clap took it from a default, and to
//! parse file values a second way.
//!
//! This crate has no I/O beyond reading the file and no knowledge of what a
//! knob does: the binaries turn the groups into their own settings.

pub mod docs;
pub mod file;
pub mod knobs;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, Command, Parser};

pub use file::ConfigFile;
pub use knobs::catalogue;

/// The argument id, flag and environment variable of the configuration
/// file.
pub const CONFIG: &str = "config";
pub const CONFIG_VAR: &str = "ROLLCALL_CONFIG";

/// Parses this process's command line as `P`, with the configuration file
/// folded in; exits with clap's message (and the file's name and line) on
/// an error, as `Parser::parse` does.
pub fn parse<P: Parser>() -> P {
    try_parse_from(std::env::args_os()).unwrap_or_else(|error| error.exit())
}

/// [`parse`] of the given arguments (the first is the binary's name).
pub fn try_parse_from<P, I, T>(args: I) -> Result<P, clap::Error>
where
    P: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let knobs: Vec<String> = catalogue()
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .collect();
    let command = offer_config(P::command(), &knobs, false);
    let first = command.clone().try_get_matches_from(&args)?;
    let command = match config_path(&first) {
        Some(path) => with_defaults(command, &ConfigFile::read(&path)?),
        None => command,
    };
    let mut matches = command.try_get_matches_from(&args)?;
    P::from_arg_matches_mut(&mut matches)
}

/// Adds `--config` to every command that reads a knob, once per branch
/// (it is global, so the verbs below see it).
fn offer_config(mut command: Command, knobs: &[String], offered: bool) -> Command {
    let reads_knobs = command
        .get_arguments()
        .any(|arg| knobs.iter().any(|knob| arg.get_id() == knob.as_str()));
    if reads_knobs && !offered {
        command = command.arg(
            Arg::new(CONFIG)
                .long(CONFIG)
                .env(CONFIG_VAR)
                .global(true)
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help(
                    "A TOML file of settings (docs/configuration.md); flags and the \
                     environment override it",
                ),
        );
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        command =
            command.mut_subcommand(name, |sub| offer_config(sub, knobs, offered || reads_knobs));
    }
    command
}

/// The `--config` of the verb the command line chose, if any.
fn config_path(matches: &clap::ArgMatches) -> Option<PathBuf> {
    let mut found = None;
    let mut level = Some(matches);
    while let Some(current) = level {
        if let Ok(Some(path)) = current.try_get_one::<PathBuf>(CONFIG) {
            found = Some(path.clone());
        }
        level = current.subcommand().map(|(_, sub)| sub);
    }
    found
}

/// `command` with each of the file's values as its knob's default, wherever
/// the knob is declared; keys of other binaries' knobs are left alone (one
/// file may serve every binary).
fn with_defaults(mut command: Command, file: &ConfigFile) -> Command {
    for entry in file.entries() {
        if command
            .get_arguments()
            .any(|arg| arg.get_id() == entry.key.as_str())
        {
            let value = entry.value.clone();
            command = command.mut_arg(&entry.key, |arg| arg.default_value(value));
        }
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |sub| with_defaults(sub, file));
    }
    command
}
