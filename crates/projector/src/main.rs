//! `rollcall-projector`: the relay and the projector as their own process.

// A quarter of the server's CPU went to the system allocator (docs/perf/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use clap::Parser;
use projector::{Metrics, Projector, ProjectorParts, Relay};
use tokio::sync::{Notify, watch};

/// Publishes rollcall's event log to RabbitMQ and folds it into the read tables.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    database: settings::knobs::DatabaseArgs,
    #[command(flatten)]
    migrate: settings::knobs::MigrateArgs,
    #[command(flatten)]
    bus: settings::knobs::BusArgs,
    #[command(flatten)]
    lag: settings::knobs::LagArgs,
    #[command(flatten)]
    partition: settings::knobs::PartitionArgs,
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
        "rollcall-projector",
        &<Args as clap::CommandFactory>::command(),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init(logging::DEFAULT_FILTER);
    let args: Args = settings::parse();
    let database = store::Database::parse(&args.database.database_url)?;
    store::prepare_schema(&database, store::Migration::from_flag(args.migrate.migrate)).await?;
    let pool = store::connect(&database.for_part("rollcall-projector"), 4)?;
    let registry = prometheus::Registry::new();
    let metrics = Metrics::register(&registry)?;
    store::PoolMetrics::register(&registry, "main", &pool)?;
    let max_lag = std::time::Duration::from_secs(args.lag.max_projector_lag_secs);
    let readiness = projector::readiness(&pool, &metrics, max_lag);
    // Caught before anything answers, so that no signal kills it unawares.
    let signals = ops::shutdown::Signals::catch()?;
    let metrics_server =
        ops::MetricsServer::start(&args.metrics.metrics_bind, registry.clone(), readiness)?;
    let topology = bus::Topology::new(&args.bus.bus_prefix);
    let (stop_tx, stop) = watch::channel(false);
    let (applied, _) = watch::channel(Default::default());
    let relay = Relay {
        pool: pool.clone(),
        database: database.clone(),
        amqp_url: args.bus.amqp_url.clone(),
        topology: topology.clone(),
        wake: Arc::new(Notify::new()),
        // The appends are other processes': the relay reads them from the log.
        recent: None,
        metrics: metrics.clone(),
    };
    // Its own appender, for the events the projector records (a quarantine).
    let append_metrics = store::AppendMetrics::register(&registry)?;
    let parts = ProjectorParts {
        appender: store::Appender::start(pool.clone(), append_metrics),
        pool,
        amqp_url: args.bus.amqp_url,
        topology,
        applied,
        metrics,
    };
    let projector = Projector::new(parts, args.partition.projector_partition);
    let parts = [
        ("relay", tokio::spawn(relay.run(stop.clone()))),
        ("projector", tokio::spawn(projector.run(stop))),
    ];
    let signal = signals.first().await;
    tracing::info!(
        signal = signal.name(),
        timeout_secs = args.shutdown.shutdown_timeout_secs,
        "stopping: the relay and the projector end the batch they are in"
    );
    stop_tx.send(true)?;
    let bound = std::time::Duration::from_secs(args.shutdown.shutdown_timeout_secs);
    let parts_cut = ops::shutdown::end_all(parts, bound).await?;
    metrics_server.stop().await;
    tracing::info!(?parts_cut, "stopped");
    Ok(())
}
