//! `rollcall`: run the service, administer organisations, audit the log.

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use admin::tokens;
use anyhow::Context;
use clap::{Parser, Subcommand};
use domain_verbs::DomainCommand;
use rollcall::bench::{self, BenchPlan, Operation};
use rollcall::stack::prepare_database;
use rollcall::verify::Verdict;
use rollcall::{Config, Stack, retention, verify};
use time::OffsetDateTime;

mod domain_verbs;

/// `rollcall verify`'s exit code when the projector trails the log.
const EXIT_BEHIND: u8 = 3;
/// `rollcall verify`'s exit code when organizations are quarantined.
const EXIT_QUARANTINED: u8 = 4;
use time::format_description::well_known::Rfc3339;

/// rollcall: an event-sourced SCIM 2.0 provisioning backend.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and migrate the database if needed, then run the API, the outbox
    /// relay and the projector; on first start, create an organization and
    /// print its SCIM token once.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ROLLCALL_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Name of the organization a first start creates.
        #[arg(long, env = "ROLLCALL_FIRST_ORG", default_value = "My Organization")]
        first_org: String,
        /// Owner email of the organization a first start creates.
        #[arg(
            long,
            env = "ROLLCALL_FIRST_OWNER_EMAIL",
            default_value = "owner@example.com"
        )]
        first_owner_email: String,
        /// Longest time (ms) a write waits for the projector before answering.
        #[arg(long, env = "ROLLCALL_READ_YOUR_WRITES_MS", default_value_t = 2000)]
        read_your_writes_ms: u64,
        /// `/readyz` fails when the oldest event the projector has not folded is
        /// older than this many seconds.
        #[arg(long, env = "ROLLCALL_MAX_PROJECTOR_LAG_SECS", default_value_t = 30)]
        max_projector_lag_secs: u64,
    },
    /// Create the database if needed and apply migrations.
    Migrate,
    /// Organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// SCIM tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The organization's verified email domains.
    Domain {
        #[command(subcommand)]
        command: DomainCommand,
    },
    /// The reaper's sweeps (it runs inside `serve` and as rollcall-reaper).
    Reaper {
        #[command(subcommand)]
        command: ReaperCommand,
    },
    /// Check the log's hash chain and that the read tables equal a fresh fold
    /// of the log. Exit 0 when sound; 1 with the first bad position; 3 when
    /// the projector has not reached the log's head within 10 s; 4 when it
    /// holds organizations back (docs/quarantine.md).
    Verify,
    /// The access log's retention: requests that changed nothing are kept by
    /// month and leave only as whole months (README, "Access log: limits,
    /// refusals and retention").
    AccessLog {
        #[command(subcommand)]
        command: AccessLogCommand,
    },
    /// Drive SCIM creates, PATCHes and filtered GETs against a running server.
    Bench {
        /// The SCIM base URL, e.g. http://127.0.0.1:8080/scim_v2
        #[arg(long)]
        url: String,
        /// A SCIM token of the organization to load.
        #[arg(long, env = "ROLLCALL_TOKEN")]
        token: String,
        /// Concurrent clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// How long to run; 0 with --populate only populates.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Operations, in rotation: create, patch, get, and on the population
        /// filter-username, filter-email, filter-prefix.
        #[arg(long, value_delimiter = ',', default_value = "create,patch,get")]
        ops: Vec<String>,
        /// First create users pop-0000000@bench.example.com... until the
        /// organization has N of them (through POST /Users, with --clients
        /// clients); the filter operations read them.
        #[arg(long, value_name = "N")]
        populate: Option<usize>,
        /// Print the figures as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure member PATCHes and reads on a big group beside an empty one
    /// (creates the population users it needs first).
    BenchGroups {
        /// The SCIM base URL, e.g. http://127.0.0.1:8080/scim_v2
        #[arg(long)]
        url: String,
        /// A SCIM token of the organization to load.
        #[arg(long, env = "ROLLCALL_TOKEN")]
        token: String,
        /// Members of the big group.
        #[arg(long, default_value_t = 100_000)]
        members: usize,
        /// Concurrent clients per measured request kind.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Seconds per measured request kind.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Only create the population and the big group, for a later run
        /// (after `VACUUM ANALYZE`, as autovacuum would have run by then).
        #[arg(long)]
        setup_only: bool,
        /// Print the figures as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization with its owner; prints {"org_id", "owner_id"}.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
    },
}

#[derive(Subcommand)]
enum AccessLogCommand {
    /// Drop every month of access records (access_log and access_refusals)
    /// that ended on or before DATE, oldest first, recording each drop as an
    /// AccessLogPartitionDropped event in every organization's stream.
    /// Refuses a DATE after the first day of the current month. Run it as the
    /// tables' owner (the role that ran the migrations); rollcall_app may not.
    /// Example: `rollcall access-log drop-before 2026-06-01` keeps June 2026
    /// and later.
    DropBefore {
        /// First day to keep, UTC, as YYYY-MM-DD.
        #[arg(value_name = "DATE", value_parser = parse_date)]
        before: time::Date,
    },
}

fn parse_date(text: &str) -> Result<time::Date, String> {
    time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|error| format!("{error}; expected YYYY-MM-DD"))
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a SCIM token; prints the token alone, once. At most two tokens
    /// are live at a time (rotate: issue, reconfigure the identity provider,
    /// revoke the old one).
    Issue {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// Days the token is valid, 1 to 365.
        #[arg(long, default_value_t = domain::token::MAX_VALID_DAYS)]
        valid_for_days: i64,
    },
    /// List the organization's tokens as JSON lines
    /// ({"id","created_at","expires_at","state"}), never a secret.
    List {
        /// The organization's name.
        #[arg(long)]
        org: String,
    },
    /// Revoke a token: SCIM requests with it answer 401 from then on.
    Revoke {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The token's id (from `rollcall token list`).
        #[arg(long)]
        id: uuid::Uuid,
    },
}

#[derive(Subcommand)]
enum ReaperCommand {
    /// Print, as JSON lines, what the reaper would record at AT (tokens
    /// expiring, warnings due), recording nothing. Example: what expires in
    /// the next 30 days: `rollcall reaper plan --at "$(date -u -d '+30 days' +%FT%TZ)"`.
    Plan {
        /// The instant, RFC 3339 (e.g. 2027-12-01T00:00:00Z).
        #[arg(long, value_parser = parse_instant)]
        at: OffsetDateTime,
    },
}

fn parse_instant(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|error| format!("{error}; expected RFC 3339, e.g. 2027-12-01T00:00:00Z"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,lapin=warn,refinery_core=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("rollcall: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config;
    match cli.command {
        Command::Serve {
            bind,
            first_org,
            first_owner_email,
            read_your_writes_ms,
            max_projector_lag_secs,
        } => {
            match api::raise_file_limit() {
                Ok(limit) => tracing::info!(limit, "open files allowed"),
                Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
            }
            prepare_database(&config).await?;
            let listener =
                TcpListener::bind(&bind).with_context(|| format!("cannot listen on {bind}"))?;
            let settings = api::Settings {
                read_your_writes_wait: Duration::from_millis(read_your_writes_ms),
                max_projector_lag: Duration::from_secs(max_projector_lag_secs),
                ..api::Settings::default()
            };
            let stack = Stack { config, settings }.start(listener).await?;
            if !store::has_organizations(&stack.pool).await? {
                first_start(&stack, &bind, &first_org, &first_owner_email).await?;
            }
            tracing::info!(%bind, "rollcall is serving SCIM at http://{bind}/scim_v2");
            shutdown_signal().await;
            tracing::info!("stopping: finishing requests in flight and writing every record");
            stack.stop().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let database = prepare_database(&config).await?;
            println!("database {} is migrated", database.name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Org {
            command: OrgCommand::Create { name, owner_email },
        } => {
            let (pool, appender) = connect(&config).await?;
            let created =
                admin::organizations::create_organization(&appender, &name, &owner_email).await?;
            drop(pool);
            println!("{}", serde_json::to_string(&created)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { command } => {
            let (pool, appender) = connect(&config).await?;
            let now = OffsetDateTime::now_utc();
            match command {
                TokenCommand::Issue {
                    org,
                    valid_for_days,
                } => {
                    let org_id = tokens::organization_named(&pool, &org).await?;
                    let issued =
                        tokens::issue(&pool, &appender, org_id, now, Some(valid_for_days)).await?;
                    println!("{}", issued.token);
                }
                TokenCommand::List { org } => {
                    let org_id = tokens::organization_named(&pool, &org).await?;
                    for listing in tokens::list(&pool, org_id, now).await? {
                        println!("{}", serde_json::to_string(&listing)?);
                    }
                }
                TokenCommand::Revoke { org, id } => {
                    let org_id = tokens::organization_named(&pool, &org).await?;
                    tokens::revoke(&pool, &appender, org_id, id).await?;
                    println!("revoked token {id}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Domain { command } => {
            domain_verbs::run(&config, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reaper {
            command: ReaperCommand::Plan { at },
        } => {
            let database = store::Database::parse(&config.database_url)?;
            let pool = store::connect(&database, 2)?;
            for planned in reaper::token_expiry::plan(&pool, at).await? {
                println!("{}", serde_json::to_string(&planned)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify => {
            let database = store::Database::parse(&config.database_url)?;
            let pool = store::connect(&database, 2)?;
            match verify::verify(&pool).await? {
                Verdict::Sound {
                    events,
                    projected_to,
                } => {
                    println!(
                        "sound: {events} events, hash chain intact, read tables equal the fold up to position {projected_to}"
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Verdict::Broken { position, reason } => {
                    println!("broken at position {position}: {reason}");
                    Ok(ExitCode::FAILURE)
                }
                Verdict::Behind { checkpoint, head } => {
                    println!(
                        "behind: checkpoint {checkpoint}, head {head}; the log is sound up to the checkpoint, \
                         but the projector has not folded the rest (is it running? see rollcall_projector_lag_seconds)"
                    );
                    Ok(ExitCode::from(EXIT_BEHIND))
                }
                Verdict::Quarantined {
                    events,
                    organizations,
                } => {
                    println!(
                        "quarantined: {events} events, hash chain intact, but the projector holds back {} organization(s):",
                        organizations.len()
                    );
                    for (org_id, position) in organizations {
                        println!("  {org_id} since position {position}");
                    }
                    println!("see docs/quarantine.md");
                    Ok(ExitCode::from(EXIT_QUARANTINED))
                }
            }
        }
        Command::AccessLog {
            command: AccessLogCommand::DropBefore { before },
        } => {
            let (pool, appender) = connect(&config).await?;
            let dropped =
                retention::drop_before(&pool, &appender, before, OffsetDateTime::now_utc()).await?;
            if dropped.is_empty() {
                println!("no month of access records ended on or before {before}");
            }
            for month in dropped {
                println!(
                    "dropped {} to {}: {} access records of {} organization(s), {} of none, \
                     {} refused requests counted; recorded for {} organization(s)",
                    month.from.date(),
                    month.until.date(),
                    month.rows.by_org.iter().map(|(_, rows)| rows).sum::<i64>(),
                    month.rows.by_org.len(),
                    month.rows.unattributed,
                    month.rows.refused_requests,
                    month.recorded_for
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            url,
            token,
            clients,
            seconds,
            ops,
            populate,
            json,
        } => {
            let operations = ops
                .iter()
                .map(|name| Operation::parse(name))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let plan = BenchPlan {
                url,
                token,
                clients: clients.max(1),
                duration: match (seconds, populate) {
                    (0, Some(_)) => Duration::ZERO,
                    _ => Duration::from_secs(seconds.max(1)),
                },
                operations,
                populate,
            };
            let figures = bench::run(&plan).await?;
            if json {
                println!("{}", serde_json::to_string(&figures)?);
            } else {
                print!("{}", bench::table(&figures));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchGroups {
            url,
            token,
            members,
            clients,
            seconds,
            setup_only,
            json,
        } => {
            let plan = bench::groups::GroupBenchPlan {
                url,
                token,
                clients: clients.max(1),
                duration: Duration::from_secs(seconds.max(1)),
                members,
                setup_only,
            };
            let figures = bench::groups::run(&plan).await?;
            if json {
                println!("{}", serde_json::to_string(&figures)?);
            } else {
                print!("{}", bench::groups::table(&figures));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A pool and an appender for the one-shot administration verbs.
async fn connect(config: &Config) -> anyhow::Result<(store::Pool, store::Appender)> {
    let database = prepare_database(config).await?;
    let pool = store::connect(&database, 2)?;
    let batch_sizes =
        prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("unused", "unused"))?;
    let appender = store::Appender::start(pool.clone(), batch_sizes);
    Ok((pool, appender))
}

async fn first_start(
    stack: &rollcall::RunningStack,
    bind: &str,
    name: &str,
    owner_email: &str,
) -> anyhow::Result<()> {
    let created =
        admin::organizations::create_organization(&stack.appender, name, owner_email).await?;
    let issued = tokens::issue(
        &stack.pool,
        &stack.appender,
        created.org_id,
        OffsetDateTime::now_utc(),
        None,
    )
    .await?;
    let expires = issued.expires_at.format(&Rfc3339)?;
    println!(
        "\nFirst start: created organization {name:?} (org_id {}) owned by {owner_email}.\n\
         Its SCIM token is shown this once (valid until {expires}):\n\n    {}\n\n\
         Try it:\n\n    curl -s -H 'Authorization: Bearer {}' 'http://{bind}/scim_v2/Users?filter=userName%20eq%20%22nobody%22'\n",
        created.org_id, issued.token, issued.token
    );
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM can be watched");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
