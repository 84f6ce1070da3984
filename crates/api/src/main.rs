//! `rollcall-api`: the HTTP service (SCIM and the admin API) as its own process, for deployments that
//! scale it apart from `rollcall-projector`. `rollcall serve` runs both.

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
    /// PostgreSQL URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/rollcall"
    )]
    database_url: String,
    /// Address to listen on.
    #[arg(long, env = "ROLLCALL_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Longest time (ms) a write waits for the projector before answering.
    #[arg(long, env = "ROLLCALL_READ_YOUR_WRITES_MS", default_value_t = 2000)]
    read_your_writes_ms: u64,
    /// `/readyz` fails when the oldest event the projector has not folded is
    /// older than this many seconds.
    #[arg(long, env = "ROLLCALL_MAX_PROJECTOR_LAG_SECS", default_value_t = 30)]
    max_projector_lag_secs: u64,
    /// The nameserver the admin API's domain verification asks, IP:PORT;
    /// the system's when unset.
    #[arg(long, env = dns::DNS_SERVER_VAR)]
    dns_server: Option<std::net::SocketAddr>,
    /// Never create the database nor change its schema; refuse to start
    /// unless it is the one this build needs (`rollcall migrate` migrates,
    /// as the schema owner). For the application role.
    #[arg(long = "no-migrate", env = "ROLLCALL_MIGRATE", action = clap::ArgAction::SetFalse)]
    migrate: bool,
    /// Address of the operators' listener: /metrics, /healthz, /readyz.
    #[arg(long, env = "ROLLCALL_METRICS_BIND", default_value = ops::DEFAULT_METRICS_BIND)]
    metrics_bind: String,
    /// Organizations labelled by name in rollcall_scim_dialect_forms_total;
    /// the others count as org="other".
    #[arg(long, env = "ROLLCALL_METRICS_MAX_ORGS", default_value_t = api::DEFAULT_METRICS_MAX_ORGS)]
    metrics_max_orgs: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init(logging::DEFAULT_FILTER);
    let args = Args::parse();
    match api::raise_file_limit() {
        Ok(limit) => tracing::info!(limit, "open files allowed"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
    let database = store::Database::parse(&args.database_url)?;
    store::prepare_schema(&database, store::Migration::from_flag(args.migrate)).await?;
    let pool = store::connect(&database, 32)?;
    let max_projector_lag = Duration::from_secs(args.max_projector_lag_secs);
    let (registry, readiness) = (
        prometheus::Registry::new(),
        api::readiness(&pool, max_projector_lag),
    );
    store::PoolMetrics::register(&registry, "main", &pool)?;
    let (state, access_log_task) = AppState::start(StateParts {
        pool: pool.clone(),
        registry: registry.clone(),
        readiness: readiness.clone(),
        projection: follow_projection(database, pool, api::PROJECTION_FALLBACK),
        relay_wake: Arc::new(Notify::new()),
        settings: Settings {
            read_your_writes_wait: Duration::from_millis(args.read_your_writes_ms),
            max_projector_lag,
            dns_server: args.dns_server,
            metrics_max_orgs: args.metrics_max_orgs,
            ..Settings::default()
        },
    })?;
    let listener =
        TcpListener::bind(&args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let application = Application::build(listener, state)?;
    let handle = application.handle();
    let server = tokio::spawn(application.run_until_stopped());
    let metrics_server = ops::MetricsServer::start(&args.metrics_bind, registry, readiness)?;
    tracing::info!(bind = %args.bind, "rollcall-api is serving SCIM under /scim_v2 and the admin API under /api/v1");
    tokio::signal::ctrl_c().await?;
    handle.stop(true).await;
    server.await??;
    metrics_server.stop().await;
    access_log_task.await?;
    Ok(())
}
