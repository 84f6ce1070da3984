//! The group-commit appender: one writer task batches concurrent appends into
//! one transaction, assigns gap-free positions under the `log_head` lock and
//! extends each organization's hash chain.

use domain::resource::UniqueKey;
use domain::{Event, RequestMeta};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use futures::future::BoxFuture;

use crate::log::recent::RecentAppends;
use crate::{Clock, Database, ErrorClass, Pool, StoreError};

mod batch;
mod keys;
mod metrics;
pub use keys::batch_keys_statement;
pub use metrics::AppendMetrics;
use metrics::EventCounters;
pub use sets::DROP_CLAIM_STATEMENT;
mod sets;

use batch::commit_batch;

/// How many appends one transaction takes at most.
const MAX_BATCH: usize = 512;

/// Events for one stream, with everything the append must check and claim.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub org_id: Uuid,
    pub stream_id: Uuid,
    /// The stream version the events were decided on (0: a new stream).
    pub expected_version: i64,
    /// Whether the events hold at any version of the stream (they commute
    /// with every other change, as member additions and removals do): then
    /// `expected_version` is not checked and they follow whatever the stream
    /// holds by the time they are appended.
    pub commutes: bool,
    pub events: Vec<Event>,
    /// Unique values the stream takes.
    pub claims: Vec<UniqueKey>,
    /// Unique values the stream gives up.
    pub releases: Vec<UniqueKey>,
    /// Write-side registry rows that go with the events.
    pub registrations: Vec<Registration>,
    pub meta: RequestMeta,
}

impl AppendRequest {
    /// Whether the request starts its stream (it expects none, and does
    /// not commute): nearly always a new stream, with new registry rows.
    pub(crate) fn starts_its_stream(&self) -> bool {
        self.expected_version == 0 && !self.commutes
    }
}

/// A registry row written in the same transaction as its event.
#[derive(Debug, Clone)]
pub enum Registration {
    /// An organization's unique name.
    Organization { name: String },
    /// A SCIM token, by its SHA-256 digest only.
    Token {
        token_id: Uuid,
        sha256: Vec<u8>,
        expires_at: OffsetDateTime,
    },
    /// A SCIM token revoked by the request's `ScimTokenRevoked`: refused
    /// from the commit on.
    TokenRevoked { token_id: Uuid },
    /// A SCIM token whose `ScimTokenExpired` the request records.
    TokenExpired { token_id: Uuid },
    /// The organization's SCIM provisioning turned on or off
    /// (`ScimEnabled`, `ScimDisabled`).
    ScimSwitched { enabled: bool },
    /// A domain the request's `DomainVerified` verifies for its organization.
    DomainVerified { domain_id: Uuid, domain: String },
    /// A domain the request's `DomainDropped` drops: no longer verified (a
    /// pending one had no row).
    DomainDropped { domain: String },
    /// An admin API session the request's `SessionStarted` starts, by its
    /// token's SHA-256 digest only; the account is the request's stream.
    Session {
        session_id: Uuid,
        sha256: Vec<u8>,
        expires_at: OffsetDateTime,
    },
    /// A session the request's `SessionEnded` ends: refused from the commit
    /// on.
    SessionEnded { session_id: Uuid },
    /// The account whose stream the request appends to, as its events leave
    /// it (`AccountCreated`, `AccountEmailChanged`, `AccountNamesChanged`).
    Account {
        email: String,
        first_name: Option<String>,
        family_name: Option<String>,
    },
    /// What organization `org_id` holds of the account whose stream the
    /// request appends to, as its `AccountLocked`/`AccountUnlocked` leave it
    /// (no locks: the row goes).
    AccountLocks { org_id: Uuid, locks: Vec<String> },
    /// A membership of the request's organization as its events leave it.
    /// Taking the last active owner away fails the append with
    /// [`AppendError::LastOwner`].
    Membership {
        account_id: Uuid,
        role: String,
        source: &'static str,
        state: &'static str,
        entry_id: Option<Uuid>,
        /// The version of the entry's stream the membership follows.
        entry_version: i64,
    },
    /// The groups whose members hold `role` (`RoleGroupsMapped`).
    RoleGroups { role: String, group_ids: Vec<Uuid> },
    /// The person of the request's stream (a SCIM user, or an account in
    /// the accounts keyspace) is erased by its `Erased` event: their key
    /// becomes a tombstone, the unique values their stream holds are given
    /// up, and an account's registry rows go.
    Erasure,
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The position of the last event appended.
    pub last_position: i64,
    /// The stream's version after the append.
    pub stream_version: i64,
    /// The time recorded on the events.
    pub recorded_at: OffsetDateTime,
}

/// Why an append did not happen. Nothing of it was written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// Another append extended the stream first: re-read and decide again.
    #[error("the stream has moved past the version this change was decided on")]
    VersionConflict,
    /// The append would have left its organization without an active
    /// owner (a race the deciding code could not see); nothing was written.
    #[error("the organization would be left without an active owner")]
    LastOwner,
    /// A unique value belongs to another stream: answer 409 uniqueness.
    #[error("{} {:?} is already taken", .0.kind, .0.key)]
    Taken(UniqueKey),
    /// The database could not be reached (or this process's appender has
    /// stopped): nothing was acknowledged; retry or answer 503.
    #[error("{0}")]
    Unavailable(String),
    /// The database failed the batch in a way [`StoreError::class`] names
    /// (interrupted, or a stored event it cannot read back): nothing was
    /// acknowledged; retry when the class passes, else a human must look.
    #[error("{cause}")]
    Failed {
        class: ErrorClass,
        code: Option<String>,
        cause: String,
    },
    /// PostgreSQL refused this request's own rows and would refuse them
    /// again (the other requests of its batch were written): never retry.
    /// [`AppendError::is_refused_data`] tells the request's fault (400) from
    /// a bug (500).
    #[error("PostgreSQL refused the append ({code}): {message}")]
    Refused { code: String, message: String },
}

impl AppendError {
    /// Whether PostgreSQL refused the request's data for what it is (a value
    /// it cannot hold): the client's request, not rollcall, must change.
    pub fn is_refused_data(&self) -> bool {
        matches!(self, AppendError::Refused { code, .. } if crate::error::is_data_class(code))
    }

    /// The operators' class of a database failure; `None` for the outcomes
    /// that are rules (a version conflict, a taken value, the last owner).
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            AppendError::VersionConflict | AppendError::LastOwner | AppendError::Taken(_) => None,
            AppendError::Unavailable(_) => Some(ErrorClass::Connection),
            AppendError::Failed { class, .. } => Some(*class),
            AppendError::Refused { code, .. } => Some(ErrorClass::of_sqlstate(code)),
        }
    }

    /// The SQLSTATE PostgreSQL reported, if it reported one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            AppendError::Failed { code, .. } => code.as_deref(),
            AppendError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether appending again later may succeed: anything but a rule's
    /// outcome or a refusal of what the request carries.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AppendError::Unavailable(_) | AppendError::Failed { .. } | AppendError::VersionConflict
        )
    }
}

/// The SQLSTATE of V0013's trigger that keeps an active owner.
const LAST_OWNER_SQLSTATE: &str = "RC001";

impl From<StoreError> for AppendError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Refused { code, .. } if code == LAST_OWNER_SQLSTATE => {
                AppendError::LastOwner
            }
            StoreError::Refused { code, message } => AppendError::Refused { code, message },
            StoreError::Unavailable(cause) => AppendError::Unavailable(cause),
            other => AppendError::Failed {
                class: other.class(),
                code: other.sqlstate().map(str::to_owned),
                cause: other.to_string(),
            },
        }
    }
}

struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// The handle through which a process appends to the log.
#[derive(Clone)]
pub struct Appender {
    jobs: mpsc::Sender<Job>,
}

impl Appender {
    /// Starts the writer task; it ends when every handle is dropped.
    /// `metrics` observe each batch: its size, its commit, its events.
    pub fn start(pool: Pool, metrics: AppendMetrics) -> Appender {
        Appender::start_with_clock(pool, metrics, Clock::system())
    }

    /// [`Appender::start`], stamping events with `clock`'s time.
    pub fn start_with_clock(pool: Pool, metrics: AppendMetrics, clock: Clock) -> Appender {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(pool, queue, metrics, clock, Vec::new()));
        Appender { jobs }
    }

    /// [`Appender::start_with_clock`] on a thread of its own, whose
    /// connections to `database` that thread drives too
    /// ([`crate::own_thread`]). The writer is the one serial stage of the
    /// write path: each batch holds the `log_head` lock from its first
    /// statement to its commit, and every append waits for it. The events
    /// it commits are kept in each of `recent`, for this process's relay
    /// and linker ([`RecentAppends`]).
    pub fn start_on_own_thread(
        database: &Database,
        metrics: AppendMetrics,
        clock: Clock,
        recent: Vec<RecentAppends>,
    ) -> Result<Appender, StoreError> {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        // Two connections: a batch PostgreSQL refuses is committed again
        // in halves, one after the other.
        crate::own_thread::spawn("rollcall-appender", database, 2, move |pool| {
            write_batches(pool, queue, metrics, clock, recent)
        })?;
        Ok(Appender { jobs })
    }

    /// Appends waiting for the writer: they go into its next transaction.
    pub fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Appends one request's events, after the checks it carries, durably.
    pub async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { request, reply })
            .await
            .map_err(|_| AppendError::Unavailable("the appender has stopped".into()))?;
        answer
            .await
            .map_err(|_| AppendError::Unavailable("the appender has stopped".into()))?
    }
}

async fn write_batches(
    pool: Pool,
    mut queue: mpsc::Receiver<Job>,
    metrics: AppendMetrics,
    clock: Clock,
    recent: Vec<RecentAppends>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut appended = EventCounters::new(&metrics);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics.batch_sizes().observe(batch.len() as f64);
        let requests: Vec<&AppendRequest> = batch.iter().map(|job| &job.request).collect();
        let started = std::time::Instant::now();
        let outcomes = commit_isolating(&pool, &requests, &clock, &recent).await;
        metrics
            .commit_seconds()
            .observe(started.elapsed().as_secs_f64());
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            if outcome.is_ok() {
                for event in &job.request.events {
                    appended.count(event.type_name());
                }
            }
            // A caller that stopped waiting has nothing left to tell.
            let _ = job.reply.send(outcome);
        }
    }
}

/// Commits `requests` as one batch; if PostgreSQL refuses the batch for what
/// one of its requests carries, commits the halves apart, down to the request
/// at fault, so that one tenant's bad request fails nobody else's. A batch
/// that fails because the database is away fails whole: nothing was written,
/// and each caller answers 503.
fn commit_isolating<'a>(
    pool: &'a Pool,
    requests: &'a [&'a AppendRequest],
    clock: &'a Clock,
    recent: &'a [RecentAppends],
) -> BoxFuture<'a, Vec<Result<Appended, AppendError>>> {
    Box::pin(async move {
        match commit_batch(pool, requests, clock.now(), recent).await {
            Ok(outcomes) => outcomes,
            Err(error @ StoreError::Refused { .. }) if requests.len() > 1 => {
                tracing::warn!(%error, appends = requests.len(), "PostgreSQL refused an append batch; committing its halves apart");
                let (first, second) = requests.split_at(requests.len() / 2);
                let mut outcomes = commit_isolating(pool, first, clock, recent).await;
                outcomes.extend(commit_isolating(pool, second, clock, recent).await);
                outcomes
            }
            Err(error) => {
                if matches!(&error, StoreError::Refused { code, .. } if code == LAST_OWNER_SQLSTATE)
                {
                    tracing::info!(org_id = %requests[0].org_id, "an append would have left its organization without an active owner; refused");
                } else if matches!(error, StoreError::Refused { .. }) {
                    tracing::error!(%error, org_id = %requests[0].org_id, "PostgreSQL refused an append; validation should have refused the request");
                } else {
                    tracing::warn!(%error, appends = requests.len(), "an append batch failed; nothing of it was written");
                }
                let error = AppendError::from(error);
                vec![Err(error); requests.len()]
            }
        }
    })
}
