//! `rollcall-reaper`: the reaper as its own process (several replicas may
//! run; one works at a time).

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use reaper::{Reaper, ReaperMetrics};
use tokio::sync::watch;

/// Records SCIM tokens' expiry and the warnings before it.
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    anyhow::ensure!(
        args.interval > 0,
        "ROLLCALL_REAPER_INTERVAL must be at least 1 second"
    );
    let database = store::Database::parse(&args.database_url)?;
    store::migrate(&database)
        .await
        .context("migrating the database")?;
    // The rounds take one connection, the linker one per stream it follows.
    let pool = store::connect(&database, 10)?;
    let registry = prometheus::Registry::new();
    // Its own appender; its batch sizes are not worth a metric.
    let batch_sizes = prometheus::Histogram::with_opts(prometheus::HistogramOpts::new(
        "rollcall_reaper_append_batch_size",
        "Appends of the reaper committed together",
    ))?;
    let reaper = Reaper {
        appender: store::Appender::start(pool.clone(), batch_sizes),
        pool,
        metrics: ReaperMetrics::register(&registry)?,
    };
    let (stop_tx, stop) = watch::channel(false);
    let running = tokio::spawn(reaper.run(Duration::from_secs(args.interval), stop));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    stop_tx.send(true)?;
    running.await?;
    Ok(())
}
