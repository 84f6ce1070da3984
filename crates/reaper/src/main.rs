//! `rollcall-reaper`: the reaper as its own process (several replicas may
//! run; one works at a time).

// A quarter of the server's CPU went to the system allocator (docs/perf/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use clap::Parser;
use reaper::{Checkpoints, Reaper, ReaperMetrics};
use tokio::sync::watch;

/// Records SCIM tokens' expiry and the warnings before it, links SCIM
/// entries to memberships, and signs checkpoints of organizations' heads.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    database: settings::knobs::DatabaseArgs,
    #[command(flatten)]
    migrate: settings::knobs::MigrateArgs,
    #[command(flatten)]
    reaper: settings::knobs::ReaperArgs,
    #[command(flatten)]
    signing_key: settings::knobs::SigningKeyArgs,
    #[command(flatten)]
    metrics: settings::knobs::MetricsArgs,
    #[command(flatten)]
    shutdown: settings::knobs::ShutdownArgs,
}

/// docs/configuration.md names exactly the knobs this binary reads.
#[cfg(test)]
#[test]
fn the_configuration_table_lists_this_binarys_knobs() {
    settings::docs::assert_reader(
        "rollcall-reaper",
        &<Args as clap::CommandFactory>::command(),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init(logging::DEFAULT_FILTER);
    let args: Args = settings::parse();
    let database = store::Database::parse(&args.database.database_url)?;
    store::prepare_schema(&database, store::Migration::from_flag(args.migrate.migrate)).await?;
    // The rounds take one connection, the linker one per stream it follows.
    let pool = store::connect(&database.for_part("rollcall-reaper"), 10)?;
    let registry = prometheus::Registry::new();
    store::PoolMetrics::register(&registry, "main", &pool)?;
    // Its own appender, for the events the reaper records.
    let append_metrics = store::AppendMetrics::register(&registry)?;
    let checkpoints = match &args.signing_key.signing_key_file {
        Some(path) => Some(Checkpoints {
            key: std::sync::Arc::new(audit::signing_key::load(path)?),
            every: Duration::from_secs(args.reaper.checkpoint_interval),
        }),
        None => None,
    };
    let reaper = Reaper {
        appender: store::Appender::start(pool.clone(), append_metrics),
        // Its appender keeps nothing: the linker reads the log.
        linker_recent: None,
        // A process of its own: the linker shares the rounds' pool.
        linker_pool: pool.clone(),
        pool,
        metrics: ReaperMetrics::register(&registry)?,
        checkpoints,
    };
    // Caught before anything answers, so that no signal kills it unawares.
    let signals = ops::shutdown::Signals::catch()?;
    let metrics_server = ops::MetricsServer::start(
        &args.metrics.metrics_bind,
        registry,
        reaper::readiness(&reaper.pool),
    )?;
    let (stop_tx, stop) = watch::channel(false);
    let running = tokio::spawn(reaper.run(Duration::from_secs(args.reaper.reaper_interval), stop));
    let signal = signals.first().await;
    tracing::info!(
        signal = signal.name(),
        timeout_secs = args.shutdown.shutdown_timeout_secs,
        "stopping: the reaper ends the round it is in"
    );
    stop_tx.send(true)?;
    let bound = Duration::from_secs(args.shutdown.shutdown_timeout_secs);
    let parts_cut = ops::shutdown::end_all([("reaper", running)], bound).await?;
    metrics_server.stop().await;
    tracing::info!(?parts_cut, "stopped");
    Ok(())
}
