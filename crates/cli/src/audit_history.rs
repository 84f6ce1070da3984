//! `rollcall audit state|timeline|group-members|diff|joiners|leavers`: the
//! organization's history, through the `audit` crate's `history` queries
//! (the admin API's audit routes call the same); each prints the JSON the
//! route answers with (leavers and joiners CSV with `--format csv`).

use std::process::ExitCode;

use admin::tokens::organization_named;
use audit::history::{self, At, parse_instant};
use clap::{Subcommand, ValueEnum};
use domain::history::movers::Movement;
use settings::knobs::DatabaseArgs;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum HistoryCommand {
    /// Print the organization at an instant: its users (SCIM resources),
    /// groups with members, memberships with roles.
    State {
        /// The organization's name.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        at: InstantArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print every change to one SCIM user (deleted ones too), attribute by
    /// attribute, before and after, with the request behind it.
    Timeline {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The SCIM user's id.
        #[arg(long)]
        user: Uuid,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print who was in a SCIM group at an instant.
    GroupMembers {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The SCIM group's id.
        #[arg(long)]
        group: Uuid,
        #[command(flatten)]
        at: InstantArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print what changed between two instants.
    Diff {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The earlier instant (RFC 3339, e.g. 2026-01-01T00:00:00Z).
        #[arg(long, value_parser = instant("--from"))]
        from: OffsetDateTime,
        /// The later instant (RFC 3339).
        #[arg(long, value_parser = instant("--to"))]
        to: OffsetDateTime,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print one row per provisioning requested in [--since, --until) and
    /// the membership it gave.
    Joiners {
        #[command(flatten)]
        period: PeriodArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print one row per de-provisioning requested in [--since, --until):
    /// when the membership ended and the sessions were revoked.
    Leavers {
        #[command(flatten)]
        period: PeriodArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// `--at T` or `--position N`.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct InstantArgs {
    /// The instant (RFC 3339, e.g. 2026-03-03T12:00:00Z).
    #[arg(long, value_parser = instant("--at"))]
    at: Option<OffsetDateTime>,
    /// A log position: the state after the event there.
    #[arg(long)]
    position: Option<i64>,
}

impl InstantArgs {
    fn at(&self) -> At {
        match (self.at, self.position) {
            (Some(at), _) => At::Instant(at),
            (None, position) => At::Position(position.unwrap_or_default()),
        }
    }
}

#[derive(clap::Args)]
pub struct PeriodArgs {
    /// The organization's name.
    #[arg(long)]
    org: String,
    /// The period's start, included (RFC 3339).
    #[arg(long, value_parser = instant("--since"))]
    since: OffsetDateTime,
    /// The period's end, excluded (RFC 3339).
    #[arg(long, value_parser = instant("--until"))]
    until: OffsetDateTime,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// {"org_id","since","until","rows":[...]}
    Json,
    /// RFC 4180 with a header line.
    Csv,
}

/// A clap value parser for an RFC 3339 instant named `name`.
fn instant(name: &'static str) -> impl Fn(&str) -> Result<OffsetDateTime, String> + Clone {
    move |text| parse_instant(name, text)
}

impl HistoryCommand {
    fn database(&self) -> &DatabaseArgs {
        match self {
            HistoryCommand::State { database, .. }
            | HistoryCommand::Timeline { database, .. }
            | HistoryCommand::GroupMembers { database, .. }
            | HistoryCommand::Diff { database, .. }
            | HistoryCommand::Joiners { database, .. }
            | HistoryCommand::Leavers { database, .. } => database,
        }
    }
}

/// Runs one history verb.
pub async fn run(command: HistoryCommand) -> anyhow::Result<ExitCode> {
    let database = store::Database::parse(&command.database().database_url)?;
    let pool = store::connect(&database, 2)?;
    match command {
        HistoryCommand::State { org, at, .. } => {
            let answer =
                history::state::state_at(&pool, organization_named(&pool, &org).await?, at.at())
                    .await?;
            println!("{}", serde_json::to_string(&answer)?);
        }
        HistoryCommand::Timeline { org, user, .. } => {
            match history::timeline::user_timeline(
                &pool,
                organization_named(&pool, &org).await?,
                user,
            )
            .await?
            {
                Some(timeline) => println!("{}", serde_json::to_string(&timeline)?),
                None => {
                    eprintln!("{org:?} never had a SCIM user {user}; check the id");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        HistoryCommand::GroupMembers { org, group, at, .. } => {
            let org_id = organization_named(&pool, &org).await?;
            let answer = history::state::group_members_at(&pool, org_id, group, at.at()).await?;
            println!("{}", serde_json::to_string(&answer)?);
        }
        HistoryCommand::Diff { org, from, to, .. } => {
            anyhow::ensure!(
                from <= to,
                "--from is after --to: give the earlier instant first"
            );
            let org_id = organization_named(&pool, &org).await?;
            let answer =
                history::diff::diff_between(&pool, org_id, At::Instant(from), At::Instant(to))
                    .await?;
            println!("{}", serde_json::to_string(&answer)?);
        }
        HistoryCommand::Joiners { period, .. } => movers(&pool, period, Movement::Joiners).await?,
        HistoryCommand::Leavers { period, .. } => movers(&pool, period, Movement::Leavers).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn movers(pool: &store::Pool, period: PeriodArgs, movement: Movement) -> anyhow::Result<()> {
    anyhow::ensure!(
        period.since <= period.until,
        "--since is after --until: give the earlier instant first"
    );
    let org_id = organization_named(pool, &period.org).await?;
    let answer =
        history::movers::movers(pool, org_id, movement, period.since, period.until).await?;
    match period.format {
        Format::Json => println!("{}", serde_json::to_string(&answer)?),
        Format::Csv => print!("{}", history::movers::to_csv(&answer.rows)?),
    }
    Ok(())
}
