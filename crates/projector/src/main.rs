//! `rollcall-projector`: the relay and the projector as their own process.

use std::sync::Arc;

use clap::Parser;
use projector::{Metrics, Projector, Relay};
use tokio::sync::{Notify, watch};

/// Publishes rollcall's event log to RabbitMQ and folds it into the read tables.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// PostgreSQL URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/rollcall"
    )]
    database_url: String,
    /// RabbitMQ URL.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Prefix of every exchange and queue name.
    #[arg(long, env = "ROLLCALL_BUS_PREFIX", default_value = "rollcall")]
    bus_prefix: String,
    /// Never create the database nor change its schema; refuse to start
    /// unless it is the one this build needs (`rollcall migrate` migrates,
    /// as the schema owner). For the application role.
    #[arg(long = "no-migrate", env = "ROLLCALL_MIGRATE", action = clap::ArgAction::SetFalse)]
    migrate: bool,
    /// `/readyz` fails when the oldest event the projector has not folded is
    /// older than this many seconds.
    #[arg(long, env = "ROLLCALL_MAX_PROJECTOR_LAG_SECS", default_value_t = 30)]
    max_projector_lag_secs: u64,
    /// Address of the operators' listener: /metrics, /healthz, /readyz.
    #[arg(long, env = "ROLLCALL_METRICS_BIND", default_value = ops::DEFAULT_METRICS_BIND)]
    metrics_bind: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init(logging::DEFAULT_FILTER);
    let args = Args::parse();
    let database = store::Database::parse(&args.database_url)?;
    store::prepare_schema(&database, store::Migration::from_flag(args.migrate)).await?;
    let pool = store::connect(&database, 4)?;
    let registry = prometheus::Registry::new();
    let metrics = Metrics::register(&registry)?;
    store::PoolMetrics::register(&registry, "main", &pool)?;
    let max_lag = std::time::Duration::from_secs(args.max_projector_lag_secs);
    let readiness = projector::readiness(&pool, &metrics, max_lag);
    let metrics_server =
        ops::MetricsServer::start(&args.metrics_bind, registry.clone(), readiness)?;
    let topology = bus::Topology::new(&args.bus_prefix);
    let (stop_tx, stop) = watch::channel(false);
    let (applied, _) = watch::channel(0);
    let relay = Relay {
        pool: pool.clone(),
        database: database.clone(),
        amqp_url: args.amqp_url.clone(),
        topology: topology.clone(),
        wake: Arc::new(Notify::new()),
        metrics: metrics.clone(),
    };
    // Its own appender, for the events the projector records (a quarantine).
    let append_metrics = store::AppendMetrics::register(&registry)?;
    let projector = Projector {
        appender: store::Appender::start(pool.clone(), append_metrics),
        pool,
        amqp_url: args.amqp_url,
        topology,
        applied,
        metrics,
    };
    let relay = tokio::spawn(relay.run(stop.clone()));
    let projector = tokio::spawn(projector.run(stop));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    stop_tx.send(true)?;
    relay.await?;
    projector.await?;
    metrics_server.stop().await;
    Ok(())
}
