//! What every request handler is given: no globals.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use store::{AccessLog, AccessLogMetrics, AppendMetrics, Appender, Pool};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::admission::Admission;
use crate::bad_tokens::{BadTokenLimits, BadTokens};
use crate::dialect_metrics::DialectMetrics;
use crate::snapshots::{Snapshots, UserSnapshot};
use crate::stream_lock::StreamLocks;
use crate::{ApiMetrics, Tokens};
use domain::group::GroupState;
use domain::partition::{Partition, Projection};

/// Tunables of the HTTP service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a read waits for the projector to fold its token's writes
    /// (a group write, its own) before it answers 503 (anyway).
    pub read_your_writes_wait: Duration,
    /// Events this process may have appended past what the projector has
    /// folded before a write waits for the projector first
    /// (`ROLLCALL_MAX_UNFOLDED_EVENTS`).
    pub max_unfolded_events: i64,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// The largest page a list returns (advertised as `filter.maxResults`).
    pub max_results: i64,
    /// The most operations one `/Bulk` request may hold (`bulk.maxOperations`).
    pub bulk_max_operations: usize,
    /// The largest `/Bulk` request body accepted (`bulk.maxPayloadSize`).
    pub bulk_max_payload_bytes: usize,
    /// `/readyz` fails when the oldest event not yet folded is older.
    pub max_projector_lag: Duration,
    /// The longest a request body may take to arrive (408 past it).
    pub body_read_timeout: Duration,
    /// Requests one token may have in flight (429 past it).
    pub max_in_flight_per_token: usize,
    /// Requests one client address may have in flight (429 past it).
    pub max_in_flight_per_client: usize,
    /// Bad tokens one client address may present before 429, and failed
    /// admin API logins (see `bad_tokens`).
    pub bad_tokens: BadTokenLimits,
    /// The nameserver domain verification asks (`ROLLCALL_DNS_SERVER`,
    /// IP:PORT); the system's when `None`.
    pub dns_server: Option<std::net::SocketAddr>,
    /// The time events are stamped with: the system's, but for tests that
    /// script a history over months.
    pub clock: store::Clock,
    /// The public half of the key that signs checkpoints
    /// (`ROLLCALL_SIGNING_KEY_FILE`), served to auditors; `None` when the
    /// operator configured none.
    pub signing_key: Option<audit::signing_key::PublicKey>,
    /// Organizations that get their own `org` label in
    /// `rollcall_scim_dialect_forms_total` (`ROLLCALL_METRICS_MAX_ORGS`);
    /// the others count as `org="other"`.
    pub metrics_max_orgs: usize,
    /// How long requests in flight get to finish once the server is told to
    /// stop (`ROLLCALL_SHUTDOWN_TIMEOUT_SECS`); those still running then are
    /// cut, and their clients retry.
    pub shutdown_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            read_your_writes_wait: Duration::from_secs(2),
            max_unfolded_events: 10_000,
            max_body_bytes: 1 << 20,
            max_results: 1_000,
            bulk_max_operations: 1_000,
            bulk_max_payload_bytes: 1 << 20,
            max_projector_lag: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_in_flight_per_token: 64,
            max_in_flight_per_client: 512,
            bad_tokens: BadTokenLimits::default(),
            dns_server: None,
            clock: store::Clock::system(),
            signing_key: None,
            metrics_max_orgs: crate::dialect_metrics::DEFAULT_MAX_ORGS,
            shutdown_timeout: Duration::from_secs(ops::shutdown::DEFAULT_SHUTDOWN_TIMEOUT_SECS),
        }
    }
}

/// Up to where each partition of the read tables is current.
pub type ProjectionWatch = watch::Receiver<Projection>;

/// The organizations the projector holds back, by id, as last read.
pub type QuarantineWatch = watch::Receiver<Arc<HashMap<Uuid, store::Quarantined>>>;

/// Shared state of the HTTP service.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub appender: Appender,
    pub access_log: AccessLog,
    pub tokens: Tokens,
    pub projection: ProjectionWatch,
    /// Organizations whose SCIM requests answer 503 (see docs/quarantine.md).
    pub quarantine: QuarantineWatch,
    /// Woken after each append so that the relay publishes at once.
    pub relay_wake: Arc<Notify>,
    /// Writes to one resource queue here instead of racing.
    pub stream_locks: Arc<StreamLocks>,
    /// The last log position this process appended, which its writes hold
    /// the projector's position against (`max_unfolded_events`).
    pub last_appended: Arc<AtomicI64>,
    /// Users' states at a version, so that a write reads only newer events.
    pub user_snapshots: Arc<Snapshots<UserSnapshot>>,
    /// Groups' attributes at a version: what group writes are decided on.
    pub group_snapshots: Arc<Snapshots<GroupState>>,
    /// Bounds on requests in flight per client address and per token.
    pub admission: Arc<Admission>,
    /// Addresses that keep presenting bad tokens.
    pub bad_tokens: Arc<BadTokens>,
    /// Addresses that keep failing to log in to the admin API.
    pub bad_logins: Arc<BadTokens>,
    /// Password checks running at once: each costs argon2's 19 MiB and tens
    /// of milliseconds of a core, so a flood of logins waits here rather
    /// than exhaust memory.
    pub password_checks: Arc<tokio::sync::Semaphore>,
    pub metrics: ApiMetrics,
    /// Which PATCH forms each organization sends.
    pub dialect_forms: Arc<DialectMetrics>,
    /// What `/readyz` checks, here and on the operators' listener.
    pub readiness: ops::Readiness,
    pub settings: Settings,
}

/// What [`AppState::start`] needs from its caller.
pub struct StateParts {
    pub pool: Pool,
    /// For the appender's own connections.
    pub database: store::Database,
    /// Where the API's metrics (and the appender's) are registered.
    pub registry: prometheus::Registry,
    pub projection: ProjectionWatch,
    pub relay_wake: Arc<Notify>,
    /// Where the appender keeps what it commits for the relay and the
    /// linker of this process ([`store::RecentAppends`]); none where
    /// neither runs here.
    pub recent_appends: Vec<store::RecentAppends>,
    pub readiness: ops::Readiness,
    pub settings: Settings,
}

impl AppState {
    /// Starts the appender and the access-log writer and assembles the state.
    /// Await the returned task after the server has stopped: it ends once the
    /// last access record is written, and says how many it wrote after.
    pub fn start(
        parts: StateParts,
    ) -> anyhow::Result<(AppState, tokio::task::JoinHandle<store::Drained>)> {
        let metrics = ApiMetrics::register(&parts.registry)?;
        let appender = Appender::start_on_own_thread(
            &parts.database,
            AppendMetrics::register(&parts.registry)?,
            parts.settings.clock.clone(),
            parts.recent_appends,
        )?;
        let dialect_forms = Arc::new(DialectMetrics::register(
            &parts.registry,
            parts.pool.clone(),
            parts.settings.metrics_max_orgs,
        )?);
        let (access_log, access_log_task) = AccessLog::start(
            parts.pool.clone(),
            AccessLogMetrics {
                refusals: metrics.auth_failures.clone(),
                unrecorded: metrics.access_unrecorded.clone(),
            },
        );
        let tokens = Tokens::new(parts.pool.clone());
        tokens.follow_revocations();
        let state = AppState {
            tokens,
            quarantine: poll_quarantine(parts.pool.clone(), QUARANTINE_POLL),
            pool: parts.pool,
            appender,
            access_log,
            projection: parts.projection,
            relay_wake: parts.relay_wake,
            stream_locks: Arc::default(),
            last_appended: Arc::default(),
            user_snapshots: Arc::default(),
            group_snapshots: Arc::default(),
            bad_tokens: Arc::new(BadTokens::new(parts.settings.bad_tokens)),
            bad_logins: Arc::new(BadTokens::new(parts.settings.bad_tokens)),
            password_checks: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |cores| cores.get()),
            )),
            admission: Arc::new(Admission::new(
                parts.settings.max_in_flight_per_client,
                parts.settings.max_in_flight_per_token,
                metrics.requests_in_flight.clone(),
            )),
            metrics,
            dialect_forms,
            readiness: parts.readiness,
            settings: parts.settings,
        };
        Ok((state, access_log_task))
    }
}

/// How often the API reads which organizations are held back.
const QUARANTINE_POLL: Duration = Duration::from_secs(1);

/// Follows the quarantine table, so that the gate refuses held-back
/// organizations without a query per request. Ends with the last receiver.
fn poll_quarantine(pool: Pool, every: Duration) -> QuarantineWatch {
    let (sender, receiver) = watch::channel(Arc::new(HashMap::new()));
    tokio::spawn(async move {
        while !sender.is_closed() {
            match store::find_quarantined(&pool).await {
                Ok(found) => {
                    sender.send_if_modified(|current| {
                        let changed = current.len() != found.len()
                            || found.iter().any(|q| !current.contains_key(&q.org_id));
                        if changed {
                            *current = Arc::new(found.into_iter().map(|q| (q.org_id, q)).collect());
                        }
                        changed
                    });
                }
                Err(error) => tracing::debug!(%error, "could not read the quarantine"),
            }
            tokio::time::sleep(every).await;
        }
    });
    receiver
}

/// Follows the projector's checkpoints in the database, for an API process
/// that runs without an in-process projector: each partition's commit
/// notifies it (`rollcall_projected`, V0025 and V0027, with the partition's
/// checkpoint name and position), and it reads the checkpoints itself after
/// each (re)connect and every `fallback` without a notification.
pub fn follow_projection(
    database: store::Database,
    pool: Pool,
    fallback: Duration,
) -> ProjectionWatch {
    let (applied, projection) = watch::channel(Projection::default());
    tokio::spawn(async move {
        let mut listener = store::Listener::new(database, store::Channel::Projected, fallback);
        loop {
            let heard = tokio::select! {
                heard = listener.next() => heard,
                _ = applied.closed() => return,
            };
            match heard {
                store::Heard::Notified(payload) => {
                    if let Some((partition, position)) = projected(&payload) {
                        applied.send_if_modified(|current| current.advance(partition, position));
                    }
                }
                store::Heard::Look => {
                    if let Ok(split) = store::projection_split(&pool).await {
                        applied.send_if_modified(|current| {
                            split.iter().fold(false, |moved, &(partition, position)| {
                                current.advance(partition, position) || moved
                            })
                        });
                    }
                }
            }
        }
    });
    projection
}

/// A `rollcall_projected` payload: `<position>` for the whole projection,
/// `<checkpoint name> <position>` for a partition (V0027).
fn projected(payload: &str) -> Option<(Partition, i64)> {
    match payload.split_once(' ') {
        None => Some((Partition::WHOLE, payload.parse().ok()?)),
        Some((name, position)) => Some((
            Partition::from_checkpoint_name(name)?,
            position.parse().ok()?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_name_the_partition_or_are_the_whole_projections() {
        assert_eq!(projected("42"), Some((Partition::WHOLE, 42)));
        assert_eq!(
            projected("projector.1/2 42"),
            Some((Partition::new(1, 2).unwrap(), 42))
        );
        for unreadable in ["", "x", "projector.2/2 42", "projector.0/2 x", "relay 42"] {
            assert_eq!(projected(unreadable), None, "{unreadable:?}");
        }
    }
}
