//! `rollcall audit events|export|request`: the log as auditors read it, the
//! same as the admin API's `audit/events`, `audit/export` and
//! `audit/requests/{id}` (both call the `audit` crate). Flags are handed to
//! the same checks as query parameters, so both refuse the same things.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use audit::events::{EventQuery, MAX_LIMIT};
use audit::export::ExportQuery;
use clap::Subcommand;
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use settings::knobs::DatabaseArgs;
use store::Pool;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum LogCommand {
    /// Print the organization's events as JSON lines, oldest first, one
    /// audit/events object per line (every page, to the end).
    Events {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// Recorded at or after (RFC 3339, e.g. 2026-03-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Recorded before (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// One event type, e.g. UserPatched.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// A SCIM user's or group's id.
        #[arg(long)]
        resource_id: Option<String>,
        /// Any userName a SCIM user ever had (case-insensitive).
        #[arg(long)]
        user_name: Option<String>,
        /// A request's id (an event's request.id).
        #[arg(long)]
        request_id: Option<String>,
        /// A SCIM token's id, or an admin API session's.
        #[arg(long)]
        token_id: Option<String>,
        /// accepted or refused.
        #[arg(long)]
        outcome: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Export the organization's events between two instants as NDJSON or
    /// CSV, then print the event count and the head hash (the last event's
    /// chain hash, which `rollcall verify --org` gives for the whole log).
    Export {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// ndjson (one audit/events object per line) or csv.
        #[arg(long, default_value = "ndjson")]
        format: String,
        /// Recorded at or after (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Recorded before (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print one request as JSON: what was sent, and what was answered.
    Request {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The request's id (an event's request.id).
        #[arg(long)]
        id: Uuid,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

impl LogCommand {
    fn database(&self) -> &DatabaseArgs {
        match self {
            LogCommand::Events { database, .. }
            | LogCommand::Export { database, .. }
            | LogCommand::Request { database, .. } => database,
        }
    }
}

/// Runs one of these verbs.
pub async fn run(command: LogCommand) -> anyhow::Result<ExitCode> {
    let database = store::Database::parse(&command.database().database_url)?;
    let pool = store::connect(&database, 2)?;
    match command {
        LogCommand::Events {
            org,
            since,
            until,
            event_type,
            resource_id,
            user_name,
            request_id,
            token_id,
            outcome,
            ..
        } => {
            let org_id = admin::tokens::organization_named(&pool, &org).await?;
            let flags = [
                ("since", since),
                ("until", until),
                ("type", event_type),
                ("resource_id", resource_id),
                ("user_name", user_name),
                ("request_id", request_id),
                ("token_id", token_id),
                ("outcome", outcome),
            ];
            print_events(&pool, org_id, &given(&flags)).await?;
        }
        LogCommand::Export {
            org,
            format,
            since,
            until,
            out,
            ..
        } => {
            let org_id = admin::tokens::organization_named(&pool, &org).await?;
            let flags = [("format", Some(format)), ("since", since), ("until", until)];
            let query = ExportQuery::parse(given(&flags))?;
            export(&pool, org_id, &query, out).await?;
        }
        LogCommand::Request { org, id, .. } => {
            let org_id = admin::tokens::organization_named(&pool, &org).await?;
            let record = audit::requests::find(&pool, org_id, id).await?;
            println!("{}", serde_json::to_string_pretty(&record)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The flags that were given, as the pairs the queries parse.
fn given<'a>(flags: &'a [(&'a str, Option<String>)]) -> Vec<(&'a str, &'a str)> {
    flags
        .iter()
        .filter_map(|(name, value)| Some((*name, value.as_deref()?)))
        .collect()
}

async fn print_events(pool: &Pool, org_id: Uuid, flags: &[(&str, &str)]) -> anyhow::Result<()> {
    let limit = MAX_LIMIT.to_string();
    let mut query = EventQuery::parse(flags.iter().copied().chain([("limit", limit.as_str())]))?;
    let mut stdout = std::io::stdout().lock();
    loop {
        let page = audit::events::page(pool, org_id, &query).await?;
        for event in &page.events {
            serde_json::to_writer(&mut stdout, event)?;
            stdout.write_all(b"\n")?;
        }
        match (page.next_cursor, page.events.last()) {
            (Some(_), Some(last)) => query.after = last.position,
            _ => return Ok(stdout.flush()?),
        }
    }
}

async fn export(
    pool: &Pool,
    org_id: Uuid,
    query: &ExportQuery,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let to_stdout = out.is_none();
    let mut sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {path:?}"))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let progress = if std::io::stderr().is_terminal() {
        let total = store::count_selection(pool, &query.selection(org_id)).await?;
        let bar = ProgressBar::new(u64::try_from(total).unwrap_or_default());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} events ({per_sec}, {eta} left)")
                .expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let (mut events, mut head_hash) = (0u64, None);
    let mut chunks = std::pin::pin!(audit::export::export(pool.clone(), org_id, query));
    while let Some(chunk) = chunks.try_next().await? {
        sink.write_all(chunk.text.as_bytes())
            .context("cannot write the export")?;
        events += chunk.events;
        head_hash = chunk.last_hash.or(head_hash);
        progress.inc(chunk.events);
    }
    sink.flush().context("cannot write the export")?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let summary = match head_hash {
        Some(hash) => format!(
            "exported {events} events in {seconds:.1} s ({:.0} events/s); head hash {hash}",
            events as f64 / seconds.max(f64::EPSILON)
        ),
        None => "exported 0 events: nothing was recorded in that period".to_owned(),
    };
    if to_stdout {
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    Ok(())
}
