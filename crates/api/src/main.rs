//! `rollcall-api`: the HTTP service (SCIM and the admin API) as its own process, for deployments that
//! scale it apart from `rollcall-projector`. `rollcall serve` runs both.

// A quarter of the server's CPU went to the system allocator (docs/perf/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use api::{AppState, Application, Settings, StateParts, follow_projection};
use clap::Parser;
use tokio::sync::Notify;

/// rollcall's SCIM API, without the relay and projector.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    database: settings::knobs::DatabaseArgs,
    #[command(flatten)]
    migrate: settings::knobs::MigrateArgs,
    #[command(flatten)]
    pool: settings::knobs::PoolArgs,
    #[command(flatten)]
    listen: settings::knobs::ListenArgs,
    #[command(flatten)]
    metrics: settings::knobs::MetricsArgs,
    #[command(flatten)]
    api: settings::knobs::ApiArgs,
    #[command(flatten)]
    lag: settings::knobs::LagArgs,
    #[command(flatten)]
    dns: settings::knobs::DnsArgs,
    #[command(flatten)]
    projection: settings::knobs::ProjectionPollArgs,
    #[command(flatten)]
    shutdown: settings::knobs::ShutdownArgs,
}

/// docs/configuration.md names exactly the knobs this binary reads.
#[cfg(test)]
#[test]
fn the_configuration_table_lists_this_binarys_knobs() {
    settings::docs::assert_reader("rollcall-api", &<Args as clap::CommandFactory>::command());
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init(logging::DEFAULT_FILTER);
    let args: Args = settings::parse();
    match api::raise_file_limit() {
        Ok(limit) => tracing::info!(limit, "open files allowed"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
    let database = store::Database::parse(&args.database.database_url)?;
    store::prepare_schema(&database, store::Migration::from_flag(args.migrate.migrate)).await?;
    let pool = store::connect(&database.for_part("rollcall-api"), args.pool.pool_size)?;
    let settings = Settings::from_knobs(&args.api, &args.lag, &args.dns, &args.shutdown);
    let (registry, readiness) = (
        prometheus::Registry::new(),
        api::readiness(&pool, settings.max_projector_lag),
    );
    store::PoolMetrics::register(&registry, "main", &pool)?;
    let (state, access_log_task) = AppState::start(StateParts {
        pool: pool.clone(),
        database: database.clone(),
        registry: registry.clone(),
        readiness: readiness.clone(),
        projection: follow_projection(
            database,
            pool,
            Duration::from_millis(args.projection.projection_poll_ms),
        ),
        relay_wake: Arc::new(Notify::new()),
        // No relay or linker runs in this process: theirs read the log.
        recent_appends: Vec::new(),
        settings,
    })?;
    let bind = &args.listen.bind;
    let listener = TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    // Caught before anything answers, so that no signal kills it unawares.
    let signals = ops::shutdown::Signals::catch()?;
    let serving = Application::build(listener, state)?.spawn(access_log_task);
    let metrics_server =
        ops::MetricsServer::start(&args.metrics.metrics_bind, registry, readiness)?;
    tracing::info!(%bind, "rollcall-api is serving SCIM under /scim_v2 and the admin API under /api/v1");
    let signal = signals.first().await;
    tracing::info!(
        signal = signal.name(),
        scim_requests_in_flight = serving.requests_in_flight(),
        timeout_secs = args.shutdown.shutdown_timeout_secs,
        "stopping: accepting no more connections, finishing requests in flight, then writing recorded reads"
    );
    let stopped = serving.stop().await?;
    metrics_server.stop().await;
    tracing::info!(
        requests_cut = stopped.requests_cut,
        access_records_drained = stopped.records_drained,
        "stopped"
    );
    Ok(())
}
