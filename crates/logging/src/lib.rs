//! How every rollcall binary logs: one call, [`init`], at the top of
//! `main`.
//!
//! Logs go to stderr through `tracing`. Off a terminal (a container, a
//! service manager, a file) they are JSON lines, one object per event with
//! the fields of the spans it happened in (`spans`: a request's
//! `request_id`, `org_id`, `token_id`, `positions`...), which log shippers
//! read without parsing text; on a terminal they are readable text in
//! colour. `ROLLCALL_LOG_FORMAT=json` or `text` chooses either anywhere;
//! text off a terminal has no colour codes. `RUST_LOG` filters as
//! `tracing_subscriber::EnvFilter` reads it, with each binary's default.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The variable that chooses the format.
pub const FORMAT_VAR: &str = "ROLLCALL_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Readable text; `ansi` adds colours (only on a terminal).
    Text { ansi: bool },
}

impl Format {
    /// The format for a `ROLLCALL_LOG_FORMAT` value (unset: `None`) when
    /// stderr is or is not a terminal; `Err` names a value it does not know.
    pub fn choose(requested: Option<&str>, on_terminal: bool) -> Result<Format, String> {
        match requested.map(str::trim) {
            None | Some("") | Some("auto") if on_terminal => Ok(Format::Text { ansi: true }),
            None | Some("") | Some("auto") => Ok(Format::Json),
            Some(value) if value.eq_ignore_ascii_case("json") => Ok(Format::Json),
            Some(value) if value.eq_ignore_ascii_case("text") => {
                Ok(Format::Text { ansi: on_terminal })
            }
            Some(other) => Err(format!(
                "{FORMAT_VAR}={other:?} is not a log format; use json, text or auto"
            )),
        }
    }
}

/// What every binary logs unless `RUST_LOG` says otherwise: rollcall at
/// info; its libraries at warn, so that PostgreSQL's NOTICEs (such as the
/// migrations' "already exists, skipping" on every command) and the
/// broker's chatter stay out of operators' logs.
pub const DEFAULT_FILTER: &str = "info,lapin=warn,refinery_core=warn,tokio_postgres=warn";

/// Starts logging to stderr for this process, filtered by `RUST_LOG` or
/// else `default_filter` (usually [`DEFAULT_FILTER`]). Call once, first
/// thing in `main`.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let requested = std::env::var(FORMAT_VAR).ok();
    let on_terminal = std::io::stderr().is_terminal();
    let (format, unknown) = match Format::choose(requested.as_deref(), on_terminal) {
        Ok(format) => (format, None),
        Err(unknown) => (
            Format::choose(None, on_terminal).expect("auto is known"),
            Some(unknown),
        ),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        Format::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .init(),
        Format::Text { ansi } => builder.with_ansi(ansi).init(),
    }
    if let Some(unknown) = unknown {
        tracing::warn!("{unknown}; logging in the default format");
    }
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn json_off_a_terminal_text_on_one_unless_asked() {
        assert_eq!(Format::choose(None, false), Ok(Format::Json));
        assert_eq!(Format::choose(None, true), Ok(Format::Text { ansi: true }));
        assert_eq!(Format::choose(Some("json"), true), Ok(Format::Json));
        assert_eq!(
            Format::choose(Some("text"), false),
            Ok(Format::Text { ansi: false }),
            "no colour codes in files"
        );
        assert_eq!(
            Format::choose(Some("TEXT"), true),
            Ok(Format::Text { ansi: true })
        );
        assert!(
            Format::choose(Some("xml"), false)
                .unwrap_err()
                .contains("xml")
        );
    }
}
