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
    /// PostgreSQL URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/rollcall"
    )]
    database_url: String,
    /// Seconds between rounds.
    #[arg(long, env = "ROLLCALL_REAPER_INTERVAL", default_value_t = 30)]
    interval: u64,
    /// The Ed25519 private key (PKCS#8 PEM) that signs checkpoints of every
    /// organization's head; none are signed without it.
    #[arg(long, env = "ROLLCALL_SIGNING_KEY_FILE")]
    signing_key_file: Option<std::path::PathBuf>,
    /// Seconds between two signed checkpoints of one organization (only
    /// when its head has moved).
    #[arg(long, env = "ROLLCALL_CHECKPOINT_INTERVAL", default_value_t = 3_600,
          value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_interval: u64,
    /// Never create the database nor change its schema; refuse to start
    /// unless it is the one this build needs (`rollcall migrate` migrates,
    /// as the schema owner). For the application role.
    #[arg(long = "no-migrate", env = "ROLLCALL_MIGRATE", action = clap::ArgAction::SetFalse)]
    migrate: bool,
    /// Address of the operators' listener: /metrics, /healthz, /readyz.
    #[arg(long, env = "ROLLCALL_METRICS_BIND", default_value = ops::DEFAULT_METRICS_BIND)]
    metrics_bind: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init(logging::DEFAULT_FILTER);
    let args = Args::parse();
    anyhow::ensure!(
        args.interval > 0,
        "ROLLCALL_REAPER_INTERVAL must be at least 1 second"
    );
    let database = store::Database::parse(&args.database_url)?;
    store::prepare_schema(&database, store::Migration::from_flag(args.migrate)).await?;
    // The rounds take one connection, the linker one per stream it follows.
    let pool = store::connect(&database, 10)?;
    let registry = prometheus::Registry::new();
    store::PoolMetrics::register(&registry, "main", &pool)?;
    // Its own appender, for the events the reaper records.
    let append_metrics = store::AppendMetrics::register(&registry)?;
    let checkpoints = match &args.signing_key_file {
        Some(path) => Some(Checkpoints {
            key: std::sync::Arc::new(audit::signing_key::load(path)?),
            every: Duration::from_secs(args.checkpoint_interval),
        }),
        None => None,
    };
    let reaper = Reaper {
        appender: store::Appender::start(pool.clone(), append_metrics),
        pool,
        metrics: ReaperMetrics::register(&registry)?,
        checkpoints,
    };
    let metrics_server = ops::MetricsServer::start(
        &args.metrics_bind,
        registry,
        reaper::readiness(&reaper.pool),
    )?;
    let (stop_tx, stop) = watch::channel(false);
    let running = tokio::spawn(reaper.run(Duration::from_secs(args.interval), stop));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    stop_tx.send(true)?;
    running.await?;
    metrics_server.stop().await;
    Ok(())
}
