//! `rollcall`: run the service, administer organizations, audit the log.

// A quarter of the server's CPU went to the system allocator (docs/perf/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use admin::{command_line, provisioning, tokens};
use anyhow::Context;
use rollcall::bench::{self, BenchPlan, Operation};
use rollcall::stack::prepare_database;
use rollcall::verify::Verdict;
use rollcall::verify_organization::{self, ChainVerdict};
use rollcall::{Config, Stack, rebuild, retention, verify};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod args;
mod audit_evidence;
mod audit_history;
mod audit_integrity;
mod audit_log;
mod audit_verbs;
mod domain_verbs;
mod erase_verb;

use args::{
    AccessLogCommand, AccountCommand, Cli, Command, Db, OrgCommand, ProvisioningCommand,
    ReaperCommand, RoleCommand, ServeArgs, TokenCommand,
};

/// `rollcall verify`'s exit code when the projector trails the log.
const EXIT_BEHIND: u8 = 3;
/// `rollcall verify`'s exit code when organizations are quarantined.
const EXIT_QUARANTINED: u8 = 4;

fn main() -> ExitCode {
    logging::init(logging::DEFAULT_FILTER);
    let cli: Cli = settings::parse();
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
    match cli.command {
        Command::Serve { args } => {
            match api::raise_file_limit() {
                Ok(limit) => tracing::info!(limit, "open files allowed"),
                Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
            }
            let config = serve_config(&args);
            prepare_database(&config.database_url, config.migrate).await?;
            let bind = &args.listen.bind;
            let listener =
                TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
            let metrics_bind = &args.metrics.metrics_bind;
            let metrics_listener = TcpListener::bind(metrics_bind).with_context(|| {
                format!("cannot listen for /metrics on {metrics_bind}; set ROLLCALL_METRICS_BIND")
            })?;
            let settings =
                api::Settings::from_knobs(&args.api, &args.lag, &args.dns, &args.shutdown);
            // Caught before anything answers, so that no signal kills it unawares.
            let signals = ops::shutdown::Signals::catch()?;
            let stack = Stack { config, settings }
                .start(listener, metrics_listener)
                .await?;
            if !store::has_organizations(&stack.pool).await? {
                let first = &args.first_start;
                first_start(&stack, bind, &first.first_org, &first.first_owner_email).await?;
            }
            tracing::info!(
                %bind,
                "rollcall is serving SCIM at http://{bind}/scim_v2 and the admin API at http://{bind}/api/v1"
            );
            tracing::info!(metrics = %stack.metrics_address, "metrics, health and readiness at http://{}/metrics", stack.metrics_address);
            let signal = signals.first().await;
            tracing::info!(
                signal = signal.name(),
                scim_requests_in_flight = stack.requests_in_flight(),
                timeout_secs = args.shutdown.shutdown_timeout_secs,
                "stopping: accepting no more connections, finishing requests in flight, \
                 writing recorded reads, then ending the relay's, reaper's and projector's batch"
            );
            let stopped = stack.stop().await?;
            tracing::info!(
                requests_cut = stopped.api.requests_cut,
                access_records_drained = stopped.api.records_drained,
                parts_cut = ?stopped.parts_cut,
                "stopped"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { database } => {
            // Migrating is this verb's whole point, whatever ROLLCALL_MIGRATE
            // the services' environment sets.
            let database = store::Database::parse(&database.database_url)?;
            let version = store::prepare_schema(&database, store::Migration::Apply).await?;
            println!("database {} is migrated to {version}", database.name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Org {
            db,
            command: OrgCommand::Create { name, owner_email },
        } => {
            let (pool, appender) = connect(&db).await?;
            let created =
                admin::organizations::create_organization(&pool, &appender, &name, &owner_email)
                    .await?;
            drop(pool);
            println!("{}", serde_json::to_string(&created)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { db, command } => {
            let (pool, appender) = connect(&db).await?;
            let now = OffsetDateTime::now_utc();
            match command {
                TokenCommand::Issue {
                    org,
                    valid_for_days,
                } => {
                    let org_id = tokens::organization_named(&pool, &org).await?;
                    let issued = tokens::issue(
                        &pool,
                        &appender,
                        org_id,
                        &command_line("token issue"),
                        now,
                        Some(valid_for_days),
                    )
                    .await?;
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
                    tokens::revoke(&pool, &appender, org_id, &command_line("token revoke"), id)
                        .await?;
                    println!("revoked token {id}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Account {
            db,
            command: AccountCommand::SetPassword { email },
        } => {
            let (pool, appender) = connect(&db).await?;
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let meta = command_line("account set-password");
            admin::accounts::set_password(&pool, &appender, &meta, &email, password).await?;
            println!("the password of {email} is set");
            Ok(ExitCode::SUCCESS)
        }
        Command::Provisioning { db, command } => {
            let (pool, appender) = connect(&db).await?;
            let view = match command {
                ProvisioningCommand::Show { org } => {
                    let org_id = tokens::organization_named(&pool, &org).await?;
                    provisioning::show(&pool, org_id).await?
                }
                ProvisioningCommand::Set {
                    org,
                    scim_enabled,
                    default_role,
                } => {
                    let org_id = tokens::organization_named(&pool, &org).await?;
                    let change = domain::provisioning::SettingsChange {
                        scim_enabled,
                        default_role,
                    };
                    provisioning::set(
                        &pool,
                        &appender,
                        org_id,
                        &command_line("provisioning set"),
                        change,
                    )
                    .await?
                    .settings
                }
            };
            println!("{}", serde_json::to_string(&view)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Role { db, command } => {
            let (pool, appender) = connect(&db).await?;
            match command {
                RoleCommand::List { org } => {
                    let org_id = tokens::organization_named(&pool, &org).await?;
                    for role in provisioning::roles(&pool, org_id).await? {
                        println!("{role}");
                    }
                }
                RoleCommand::Add { org, name } => {
                    let org_id = tokens::organization_named(&pool, &org).await?;
                    provisioning::add_role(
                        &pool,
                        &appender,
                        org_id,
                        &command_line("role add"),
                        &name,
                    )
                    .await?;
                    println!("added role {name}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command } => audit_verbs::run(command).await,
        Command::Domain { db, command } => {
            domain_verbs::run(&db, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Erase { org, user, db } => {
            erase_verb::run(&db, &org, user).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reaper {
            database,
            command: ReaperCommand::Plan { at },
        } => {
            let database = store::Database::parse(&database.database_url)?;
            let pool = store::connect(&database, 2)?;
            for planned in reaper::token_expiry::plan(&pool, at).await? {
                println!("{}", serde_json::to_string(&planned)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            org: Some(org),
            checkpoint,
            public_key,
            database,
        } => {
            let signed = match &checkpoint {
                Some(path) => {
                    match verify_organization::read_checkpoint(path, public_key.as_deref()) {
                        Ok(signed) => Some(signed),
                        Err(error) => {
                            println!("refused: {error:#}");
                            return Ok(ExitCode::FAILURE);
                        }
                    }
                }
                None => None,
            };
            let database = store::Database::parse(&database.database_url)?;
            let pool = store::connect(&database, 2)?;
            let org_id = tokens::organization_named(&pool, &org).await?;
            if let Some(signed) = &signed
                && signed.head.org_id != org_id
            {
                println!(
                    "refused: the checkpoint is of {:?} ({}), not of {org:?} ({org_id})",
                    signed.head.org_name, signed.head.org_id
                );
                return Ok(ExitCode::FAILURE);
            }
            let head = signed.as_ref().map(|signed| &signed.head);
            match verify_organization::verify_organization(&pool, org_id, head).await? {
                ChainVerdict::Sound {
                    events,
                    head_hash,
                    head_position,
                } => {
                    println!(
                        "sound: {org:?} ({org_id}): {events} events, hash chain intact; \
                         head hash {head_hash} at position {head_position}"
                    );
                    if let Some(signed) = &signed {
                        println!(
                            "extends the checkpoint signed at {} by key {} ({} events, head \
                             position {}) by {} events",
                            signed.head.signed_at.format(&Rfc3339)?,
                            signed.key_id(),
                            signed.head.event_count,
                            signed.head.head_position,
                            events - signed.head.event_count
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                ChainVerdict::Broken { position, reason } => {
                    println!("broken at position {position}: {reason}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Rebuild { swap, db } => {
            let database = prepare_database(&db.database.database_url, db.migrate.migrate).await?;
            let mut shown = Instant::now();
            let rebuilt = rebuild::rebuild(&database, swap, |folded, took| {
                if shown.elapsed() >= Duration::from_secs(1) {
                    shown = Instant::now();
                    let rate = folded as f64 / took.as_secs_f64();
                    eprintln!("rebuild: folded {folded} events ({rate:.0} events/s)");
                }
            })
            .await?;
            Ok(rebuild_report(&rebuilt))
        }
        Command::Partitions { count, db } => {
            let database = prepare_database(&db.database.database_url, db.migrate.migrate).await?;
            let pool = store::connect(&database, 2)?;
            if let Some(count) = count {
                let resplit = store::split_projection(&pool, count).await?;
                if resplit.from == resplit.to {
                    println!("the projection is split {count} way(s) already: nothing changed");
                } else {
                    println!(
                        "split: {} partition(s) became {}, every one at position {} \
                         ({} event(s) folded to meet there)",
                        resplit.from, resplit.to, resplit.position, resplit.folded
                    );
                    if resplit.to > 1 {
                        println!(
                            "run one projector per partition: \
                             `rollcall-projector --projector-partition K` for K from 0 to {}",
                            resplit.to - 1
                        );
                    }
                    println!(
                        "restart `rollcall serve`, which folds every partition it finds at start"
                    );
                }
            }
            for (partition, position) in store::projection_split(&pool).await? {
                println!("{}\t{position}", partition.checkpoint_name());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            org: None,
            database,
            ..
        } => {
            let database = store::Database::parse(&database.database_url)?;
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
            db,
            command: AccessLogCommand::DropBefore { before },
        } => {
            let (pool, appender) = connect(&db).await?;
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

/// Prints what a rebuild found; exit 1 when rows differ and stayed.
fn rebuild_report(rebuilt: &rebuild::Rebuilt) -> ExitCode {
    for difference in &rebuilt.differences {
        println!(
            "{} {}: {}",
            difference.table, difference.key, difference.what
        );
    }
    if rebuilt.different > rebuilt.differences.len() as u64 {
        println!(
            "... and {} more",
            rebuilt.different - rebuilt.differences.len() as u64
        );
    }
    for held in &rebuilt.held_back {
        println!(
            "held back: organization {} from position {} ({}): {}",
            held.org_id, held.position, held.event_type, held.reason
        );
    }
    println!(
        "folded {} events in {:.1} s ({:.0} events/s); {} differences from the live tables \
         at position {}{}",
        rebuilt.folded,
        rebuilt.took.as_secs_f64(),
        rebuilt.events_per_second(),
        rebuilt.different,
        rebuilt.position,
        if rebuilt.swapped {
            "; swapped the rebuilt tables in"
        } else {
            ""
        }
    );
    if rebuilt.different > 0 && !rebuilt.swapped {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The stack `rollcall serve` runs, from its knobs.
fn serve_config(args: &ServeArgs) -> Config {
    Config {
        database_url: args.db.database.database_url.clone(),
        pool_size: args.pool.pool_size,
        amqp_url: args.bus.amqp_url.clone(),
        bus_prefix: args.bus.bus_prefix.clone(),
        reaper_interval: args.reaper.reaper_interval,
        signing_key_file: args.signing_key.signing_key_file.clone(),
        checkpoint_interval: args.reaper.checkpoint_interval,
        migrate: args.db.migrate.migrate,
    }
}

/// A pool and an appender for the one-shot administration verbs.
async fn connect(db: &Db) -> anyhow::Result<(store::Pool, store::Appender)> {
    let database = prepare_database(&db.database.database_url, db.migrate.migrate).await?;
    let pool = store::connect(&database, 2)?;
    let appender = store::Appender::start(pool.clone(), store::AppendMetrics::unregistered()?);
    Ok((pool, appender))
}

async fn first_start(
    stack: &rollcall::RunningStack,
    bind: &str,
    name: &str,
    owner_email: &str,
) -> anyhow::Result<()> {
    let created =
        admin::organizations::create_organization(&stack.pool, &stack.appender, name, owner_email)
            .await?;
    let issued = tokens::issue(
        &stack.pool,
        &stack.appender,
        created.org_id,
        &command_line("token issue"),
        OffsetDateTime::now_utc(),
        None,
    )
    .await?;
    let password = admin::accounts::one_time_password();
    let meta = command_line("account set-password");
    admin::accounts::set_password(&stack.pool, &stack.appender, &meta, owner_email, &password)
        .await?;
    let expires = issued.expires_at.format(&Rfc3339)?;
    println!(
        "\nFirst start: created organization {name:?} (org_id {}) owned by {owner_email}.\n\
         These are shown this once.\n\n\
         The organization's SCIM token (valid until {expires}):\n\n    {}\n\n\
         The owner's password (change it with `rollcall account set-password --email {owner_email}`):\n\n    {password}\n\n\
         Try it:\n\n    curl -s -H 'Authorization: Bearer {}' 'http://{bind}/scim_v2/Users?filter=userName%20eq%20%22nobody%22'\n\n\
         Log in to the admin API (described at http://{bind}/api/v1/openapi.json):\n\n    \
         curl -s -X POST 'http://{bind}/api/v1/sessions' -H 'content-type: application/json' \
         -d '{{\"email\":\"{owner_email}\",\"password\":\"{password}\"}}'\n",
        created.org_id, issued.token, issued.token
    );
    Ok(())
}
