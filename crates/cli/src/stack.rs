//! The whole of rollcall in one process: API, outbox relay, projector, reaper
//! and the access-log writer, started and stopped in the right order.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use api::{AppState, Application, Settings, StateParts};
use projector::{Metrics, Projector, Relay};
use store::{Appender, Database, Pool};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::Config;

/// Connections in the pool: the appender and projector hold one each while
/// they work, the rest serve reads.
const POOL_SIZE: usize = 32;
/// How long the relay and the projector get to end after a stop.
const BACKGROUND_STOP: Duration = Duration::from_secs(10);

/// What it takes to start the stack.
pub struct Stack {
    pub config: Config,
    pub settings: Settings,
}

/// A started stack; [`RunningStack::stop`] shuts it down without losing
/// a request record.
pub struct RunningStack {
    pub port: u16,
    /// The operators' listener: `/metrics`, `/healthz`, `/readyz`.
    pub metrics_address: std::net::SocketAddr,
    pub pool: Pool,
    pub appender: Appender,
    pub registry: prometheus::Registry,
    server: api::ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    metrics_server: ops::MetricsServer,
    access_log_task: JoinHandle<()>,
    stop: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

/// Creates the database if missing and applies migrations, or with
/// `--no-migrate` checks that its schema is the one this build needs.
pub async fn prepare_database(config: &Config) -> anyhow::Result<Database> {
    let database = Database::parse(&config.database_url)?;
    store::prepare_schema(&database, store::Migration::from_flag(config.migrate)).await?;
    Ok(database)
}

impl Stack {
    /// Starts everything against an already migrated database: the API on
    /// `listener`, every part's metrics and the readiness checks on
    /// `metrics_listener`.
    pub async fn start(
        mut self,
        listener: TcpListener,
        metrics_listener: TcpListener,
    ) -> anyhow::Result<RunningStack> {
        // Read once, at start: a missing or malformed key stops the start
        // rather than a checkpoint an hour later.
        let signing_key = match &self.config.signing_key_file {
            Some(path) => Some(Arc::new(audit::signing_key::load(path)?)),
            None => None,
        };
        self.settings.signing_key = signing_key
            .as_ref()
            .map(|key| audit::signing_key::PublicKey::of(&key.verifying_key()));
        let database = Database::parse(&self.config.database_url)?;
        let pool = store::connect(&database, POOL_SIZE)?;
        let registry = prometheus::Registry::new();
        let async_metrics = Metrics::register(&registry)?;
        store::PoolMetrics::register(&registry, "main", &pool)?;
        let readiness =
            projector::readiness(&pool, &async_metrics, self.settings.max_projector_lag);
        let topology = bus::Topology::new(&self.config.bus_prefix);
        let (stop, stopped) = watch::channel(false);
        let (applied, projection) = watch::channel(0);
        let relay_wake = Arc::new(Notify::new());

        let relay = Relay {
            pool: pool.clone(),
            database: database.clone(),
            amqp_url: self.config.amqp_url.clone(),
            topology: topology.clone(),
            wake: relay_wake.clone(),
            metrics: async_metrics.clone(),
        };
        let (state, access_log_task) = AppState::start(StateParts {
            pool: pool.clone(),
            registry: registry.clone(),
            projection,
            relay_wake,
            readiness: readiness.clone(),
            settings: self.settings,
        })?;
        let appender = state.appender.clone();
        let projector = Projector {
            pool: pool.clone(),
            amqp_url: self.config.amqp_url.clone(),
            topology,
            applied,
            metrics: async_metrics,
            appender: appender.clone(),
        };
        let reaper = reaper::Reaper {
            pool: pool.clone(),
            appender: appender.clone(),
            metrics: reaper::ReaperMetrics::register(&registry)?,
            checkpoints: signing_key.map(|key| reaper::Checkpoints {
                key,
                every: Duration::from_secs(self.config.checkpoint_interval),
            }),
        };
        let reaper_interval = Duration::from_secs(self.config.reaper_interval);
        let background = vec![
            tokio::spawn(relay.run(stopped.clone())),
            tokio::spawn(reaper.run(reaper_interval, stopped.clone())),
            tokio::spawn(projector.run(stopped)),
        ];

        let application = Application::build(listener, state)?;
        let port = application.port();
        let server = application.handle();
        let server_task = tokio::spawn(application.run_until_stopped());
        let metrics_server =
            ops::MetricsServer::serve(metrics_listener, registry.clone(), readiness)?;
        Ok(RunningStack {
            port,
            metrics_address: metrics_server.address(),
            metrics_server,
            pool,
            appender,
            registry,
            server,
            server_task,
            access_log_task,
            stop,
            background,
        })
    }
}

impl RunningStack {
    /// Stops taking requests, lets those in flight finish, writes every
    /// pending access record, then stops the relay and the projector.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.stop(true).await;
        self.server_task.await??;
        self.metrics_server.stop().await;
        // The server owned the last AccessLog handles; the writer now drains
        // its queue and ends.
        tokio::time::timeout(Duration::from_secs(30), self.access_log_task)
            .await
            .context("the access log did not drain within 30 s")??;
        let _ = self.stop.send(true);
        for task in self.background {
            // They return promptly on stop; the bound is for a bug, so that a
            // shutdown always completes (everything resumes from checkpoints).
            let abort = task.abort_handle();
            if tokio::time::timeout(BACKGROUND_STOP, task).await.is_err() {
                tracing::error!(
                    "a background task ignored the stop for {BACKGROUND_STOP:?}; ended it"
                );
                abort.abort();
            }
        }
        Ok(())
    }
}
