//! The whole of rollcall in one process: API, outbox relay, projector, reaper
//! and the access-log writer, started and stopped in the right order.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use api::{AppState, Application, Settings, StateParts};
use domain::partition::Projection;
use projector::{Metrics, Projector, ProjectorParts, Relay};
use store::{Appender, Database, Pool};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::Config;

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
    serving: api::Serving,
    metrics_server: ops::MetricsServer,
    stop: watch::Sender<bool>,
    /// The relay, the reaper and the projector, by name.
    background: Vec<(&'static str, JoinHandle<()>)>,
    /// How long each stage of a stop may take.
    shutdown_timeout: Duration,
}

/// What [`RunningStack::stop`] finished, and what it had to cut.
#[derive(Debug)]
pub struct Stopped {
    pub api: api::ApiStopped,
    /// Background parts that had not ended their batch within the bound
    /// and were ended there (they resume from their checkpoints).
    pub parts_cut: Vec<&'static str>,
}

/// Creates the database if missing and applies migrations, or with
/// `--no-migrate` checks that its schema is the one this build needs.
pub async fn prepare_database(database_url: &str, migrate: bool) -> anyhow::Result<Database> {
    let database = Database::parse(database_url)?;
    store::prepare_schema(&database, store::Migration::from_flag(migrate)).await?;
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
        let pool = store::connect(&database.for_part("rollcall-serve"), self.config.pool_size)?;
        let registry = prometheus::Registry::new();
        let async_metrics = Metrics::register(&registry)?;
        let linker_pool = store::connect(
            &database.for_part("rollcall-linker"),
            reaper::linker::CONNECTIONS,
        )?;
        store::PoolMetrics::register_pools(
            &registry,
            vec![("main", pool.clone()), ("linker", linker_pool.clone())],
        )?;
        let readiness =
            projector::readiness(&pool, &async_metrics, self.settings.max_projector_lag);
        let topology = bus::Topology::new(&self.config.bus_prefix);
        let (stop, stopped) = watch::channel(false);
        // Every partition of the split found now folds here; after
        // `rollcall partitions` splits it otherwise, restart.
        let split = store::projection_split(&pool).await?;
        let (applied, projection) = watch::channel(Projection::from_split(&split));
        let relay_wake = Arc::new(Notify::new());
        let (relay_recent, linker_recent) = (
            store::RecentAppends::new(),
            store::RecentAppends::keeping(reaper::linker::KEPT_FOR_LINKER),
        );

        let (state, access_log_task) = AppState::start(StateParts {
            pool: pool.clone(),
            database: database.clone(),
            registry: registry.clone(),
            projection,
            relay_wake: relay_wake.clone(),
            recent_appends: vec![relay_recent.clone(), linker_recent.clone()],
            readiness: readiness.clone(),
            settings: self.settings,
        })?;
        let appender = state.appender.clone();
        let reaper = reaper::Reaper {
            pool: pool.clone(),
            linker_pool,
            appender: appender.clone(),
            linker_recent: Some(linker_recent),
            metrics: reaper::ReaperMetrics::register(&registry)?,
            checkpoints: signing_key.map(|key| reaper::Checkpoints {
                key,
                every: Duration::from_secs(self.config.checkpoint_interval),
            }),
        };
        let reaper_interval = Duration::from_secs(self.config.reaper_interval);
        let stopped_reaper = stopped.clone();
        // The relay and the projector are serial stages between a write
        // and its read-your-writes answer: each runs on a thread of its own
        // (store::own_thread), so that its round trips never wait behind
        // request handling.
        let relay_database = database.clone();
        let (relay_amqp_url, relay_topology) = (self.config.amqp_url.clone(), topology.clone());
        let (relay_metrics, relay_stopped) = (async_metrics.clone(), stopped.clone());
        let relay = store::own_thread::spawn(
            "rollcall-relay",
            &database,
            OWN_THREAD_CONNECTIONS,
            move |pool| {
                Relay {
                    pool,
                    database: relay_database,
                    amqp_url: relay_amqp_url,
                    topology: relay_topology,
                    wake: relay_wake,
                    recent: Some(relay_recent),
                    metrics: relay_metrics,
                }
                .run(relay_stopped)
            },
        )?;
        let mut background = vec![
            ("relay", relay),
            (
                "reaper",
                tokio::spawn(reaper.run(reaper_interval, stopped_reaper)),
            ),
        ];
        for (partition, _) in &split {
            let (index, stopped) = (partition.index(), stopped.clone());
            let (amqp_url, topology) = (self.config.amqp_url.clone(), topology.clone());
            let (applied, metrics, appender) =
                (applied.clone(), async_metrics.clone(), appender.clone());
            let projector = store::own_thread::spawn(
                "rollcall-projector",
                &database,
                OWN_THREAD_CONNECTIONS,
                move |pool| {
                    let parts = ProjectorParts {
                        pool,
                        amqp_url,
                        topology,
                        applied,
                        metrics,
                        appender,
                    };
                    Projector::new(parts, index).run(stopped)
                },
            )?;
            background.push(("projector", projector));
        }

        let shutdown_timeout = state.settings.shutdown_timeout;
        let application = Application::build(listener, state)?;
        let port = application.port();
        let serving = application.spawn(access_log_task);
        let metrics_server =
            ops::MetricsServer::serve(metrics_listener, registry.clone(), readiness)?;
        Ok(RunningStack {
            port,
            metrics_address: metrics_server.address(),
            metrics_server,
            pool,
            appender,
            registry,
            serving,
            stop,
            background,
            shutdown_timeout,
        })
    }
}

impl RunningStack {
    /// Authenticated SCIM requests admitted and not yet answered.
    pub fn requests_in_flight(&self) -> i64 {
        self.serving.requests_in_flight()
    }

    /// Stops taking requests, lets those in flight finish, writes every
    /// pending access record, then lets the relay, the reaper and the
    /// projector end the batch they are in. Each stage gets the settings'
    /// `shutdown_timeout` at most.
    pub async fn stop(self) -> anyhow::Result<Stopped> {
        // The relay and the projector go on meanwhile, so that the writes in
        // flight are published and folded, and the reads and group writes
        // in flight, which wait for them, are answered.
        let api = self.serving.stop().await?;
        let _ = self.stop.send(true);
        // They end after their batch; the bound is for a dependency that
        // hangs, so that a stop always completes (they resume from their
        // checkpoints).
        let parts_cut = ops::shutdown::end_all(self.background, self.shutdown_timeout).await?;
        self.metrics_server.stop().await;
        Ok(Stopped { api, parts_cut })
    }
}

/// Connections each of the relay and the projector holds on its own thread
/// (`store::own_thread`).
const OWN_THREAD_CONNECTIONS: usize = 4;
