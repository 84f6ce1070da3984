//! The group-commit appender: one writer task batches concurrent appends into
//! one transaction, assigns gap-free positions under the `log_head` lock and
//! extends each organisation's hash chain.

use domain::user::UniqueKey;
use domain::{Event, RequestMeta};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::Pool;

mod batch;
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

/// A registry row written in the same transaction as its event.
#[derive(Debug, Clone)]
pub enum Registration {
    /// An organisation's unique name.
    Organization { name: String },
    /// A SCIM token, by its SHA-256 digest only.
    Token {
        token_id: Uuid,
        sha256: Vec<u8>,
        expires_at: OffsetDateTime,
    },
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
    /// A unique value belongs to another stream: answer 409 uniqueness.
    #[error("{} {:?} is already taken", .0.kind, .0.key)]
    Taken(UniqueKey),
    /// The database failed: nothing was acknowledged; retry or answer 503.
    #[error("{0}")]
    Unavailable(String),
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
    /// `batch_sizes` observes how many appends each transaction carried.
    pub fn start(pool: Pool, batch_sizes: prometheus::Histogram) -> Appender {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(pool, queue, batch_sizes));
        Appender { jobs }
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
    batch_sizes: prometheus::Histogram,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        batch_sizes.observe(batch.len() as f64);
        let requests: Vec<&AppendRequest> = batch.iter().map(|job| &job.request).collect();
        let outcomes = match commit_batch(&pool, &requests).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                tracing::warn!(%error, appends = batch.len(), "an append batch failed; nothing of it was written");
                vec![Err(AppendError::Unavailable(error.to_string())); batch.len()]
            }
        };
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            // A caller that stopped waiting has nothing left to tell.
            let _ = job.reply.send(outcome);
        }
    }
}
