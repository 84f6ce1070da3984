//! The group-commit appender: one writer task batches concurrent appends into
//! one transaction, assigns gap-free positions under the `log_head` lock and
//! extends each organisation's hash chain.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use domain::chain::{self, ChainedFields};
use domain::event::CURRENT_SCHEMA_VERSION;
use domain::user::UniqueKey;
use domain::{Event, RequestMeta};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::{Pool, StoreError};

/// How many appends one transaction takes at most.
const MAX_BATCH: usize = 512;

/// Events for one stream, with everything the append must check and claim.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub org_id: Uuid,
    pub stream_id: Uuid,
    /// The stream version the events were decided on (0: a new stream).
    pub expected_version: i64,
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
        sha256: [u8; 32],
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

/// One event ready for the log, with its position and hash.
struct Row {
    position: i64,
    org_id: Uuid,
    stream_id: Uuid,
    stream_version: i64,
    event_type: &'static str,
    payload: String,
    metadata: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

async fn commit_batch(
    pool: &Pool,
    requests: &[&AppendRequest],
) -> Result<Vec<Result<Appended, AppendError>>, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let recorded_at = chain::to_stored_precision(OffsetDateTime::now_utc());
    let mut position: i64 = transaction
        .query_one(
            "select last_position from log_head where id = 1 for update",
            &[],
        )
        .await?
        .get(0);
    let mut heads = chain_heads(&transaction, requests).await?;

    let mut rows = Vec::new();
    let mut outcomes = Vec::with_capacity(requests.len());
    for request in requests {
        if let Err(refused) = check_and_claim(&transaction, request, recorded_at).await? {
            outcomes.push(Err(refused));
            continue;
        }
        let metadata = serde_json::to_string(&request.meta).expect("metadata serializes");
        let mut version = request.expected_version;
        for event in &request.events {
            position += 1;
            version += 1;
            let payload = event.to_payload();
            let prev_hash = heads
                .entry(request.org_id)
                .or_insert(chain::GENESIS.to_vec())
                .clone();
            let hash = chain::link(
                &prev_hash,
                &ChainedFields {
                    position,
                    org_id: request.org_id,
                    stream_id: request.stream_id,
                    stream_version: version,
                    event_type: event.type_name(),
                    schema_version: CURRENT_SCHEMA_VERSION,
                    recorded_at,
                    payload: &payload,
                    metadata: &metadata,
                },
            );
            heads.insert(request.org_id, hash.to_vec());
            rows.push(Row {
                position,
                org_id: request.org_id,
                stream_id: request.stream_id,
                stream_version: version,
                event_type: event.type_name(),
                payload,
                metadata: metadata.clone(),
                prev_hash,
                hash: hash.to_vec(),
            });
        }
        outcomes.push(Ok(Appended {
            last_position: position,
            stream_version: version,
            recorded_at,
        }));
    }
    if !rows.is_empty() {
        insert_rows(&transaction, &rows, recorded_at).await?;
        save_chain_heads(&transaction, &rows).await?;
        transaction
            .execute(
                "update log_head set last_position = $1 where id = 1",
                &[&position],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(outcomes)
}

async fn chain_heads(
    transaction: &Transaction<'_>,
    requests: &[&AppendRequest],
) -> Result<HashMap<Uuid, Vec<u8>>, StoreError> {
    let mut orgs: Vec<Uuid> = requests.iter().map(|request| request.org_id).collect();
    orgs.sort_unstable();
    orgs.dedup();
    let statement = transaction
        .prepare_cached("select org_id, last_hash from chain_heads where org_id = any($1)")
        .await?;
    let rows = transaction.query(&statement, &[&orgs]).await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Checks the stream version and takes the claims and registrations of one
/// request. On refusal, everything this request wrote is undone before the
/// next request of the batch runs, so the batch's transaction stays usable.
async fn check_and_claim(
    transaction: &Transaction<'_>,
    request: &AppendRequest,
    recorded_at: OffsetDateTime,
) -> Result<Result<(), AppendError>, StoreError> {
    let new_version = request.expected_version + request.events.len() as i64;
    let moved = if request.expected_version == 0 {
        let statement = transaction
            .prepare_cached(
                "insert into streams (org_id, stream_id, version) values ($1, $2, $3) \
                 on conflict do nothing",
            )
            .await?;
        transaction
            .execute(
                &statement,
                &[&request.org_id, &request.stream_id, &new_version],
            )
            .await?
    } else {
        let statement = transaction
            .prepare_cached(
                "update streams set version = $3 where org_id = $1 and stream_id = $2 and version = $4",
            )
            .await?;
        transaction
            .execute(
                &statement,
                &[
                    &request.org_id,
                    &request.stream_id,
                    &new_version,
                    &request.expected_version,
                ],
            )
            .await?
    };
    if moved == 0 {
        return Ok(Err(AppendError::VersionConflict));
    }

    let mut refusal = None;
    let mut claimed = Vec::new();
    for key in &request.claims {
        let statement = transaction
            .prepare_cached(
                "insert into unique_claims (org_id, kind, key, owner) values ($1, $2, $3, $4) \
                 on conflict do nothing",
            )
            .await?;
        let taken = transaction
            .execute(
                &statement,
                &[&request.org_id, &key.kind, &key.key, &request.stream_id],
            )
            .await?;
        if taken == 0 {
            refusal = Some(AppendError::Taken(key.clone()));
            break;
        }
        claimed.push(key);
    }
    let mut registered_org = false;
    if refusal.is_none() {
        for registration in &request.registrations {
            if !register(transaction, request, registration, recorded_at).await? {
                if let Registration::Organization { name } = registration {
                    refusal = Some(AppendError::Taken(UniqueKey {
                        kind: "organization",
                        key: name.clone(),
                    }));
                }
                break;
            }
            registered_org |= matches!(registration, Registration::Organization { .. });
        }
    }
    if let Some(refusal) = refusal {
        undo(transaction, request, &claimed, registered_org).await?;
        return Ok(Err(refusal));
    }

    for key in &request.releases {
        let statement = transaction
            .prepare_cached(
                "delete from unique_claims where org_id = $1 and kind = $2 and key = $3 and owner = $4",
            )
            .await?;
        transaction
            .execute(
                &statement,
                &[&request.org_id, &key.kind, &key.key, &request.stream_id],
            )
            .await?;
    }
    Ok(Ok(()))
}

/// Writes one registry row; false when its unique value is taken.
async fn register(
    transaction: &Transaction<'_>,
    request: &AppendRequest,
    registration: &Registration,
    recorded_at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let written = match registration {
        Registration::Organization { name } => {
            transaction
                .execute(
                    "insert into organizations (org_id, name, created_at) values ($1, $2, $3) \
                     on conflict do nothing",
                    &[&request.org_id, name, &recorded_at],
                )
                .await?
        }
        Registration::Token {
            token_id,
            sha256,
            expires_at,
        } => transaction
            .execute(
                "insert into scim_tokens (org_id, token_id, token_sha256, issued_at, expires_at) \
                     values ($1, $2, $3, $4, $5) on conflict do nothing",
                &[
                    &request.org_id,
                    token_id,
                    &sha256.as_slice(),
                    &recorded_at,
                    expires_at,
                ],
            )
            .await?,
    };
    Ok(written == 1)
}

async fn undo(
    transaction: &Transaction<'_>,
    request: &AppendRequest,
    claimed: &[&UniqueKey],
    registered_org: bool,
) -> Result<(), StoreError> {
    for key in claimed {
        transaction
            .execute(
                "delete from unique_claims where org_id = $1 and kind = $2 and key = $3 and owner = $4",
                &[&request.org_id, &key.kind, &key.key, &request.stream_id],
            )
            .await?;
    }
    if registered_org {
        transaction
            .execute(
                "delete from organizations where org_id = $1",
                &[&request.org_id],
            )
            .await?;
    }
    if request.expected_version == 0 {
        transaction
            .execute(
                "delete from streams where org_id = $1 and stream_id = $2",
                &[&request.org_id, &request.stream_id],
            )
            .await?;
    } else {
        transaction
            .execute(
                "update streams set version = $3 where org_id = $1 and stream_id = $2",
                &[
                    &request.org_id,
                    &request.stream_id,
                    &request.expected_version,
                ],
            )
            .await?;
    }
    Ok(())
}

async fn insert_rows(
    transaction: &Transaction<'_>,
    rows: &[Row],
    recorded_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let statement = transaction
        .prepare_cached(
            "insert into events (position, org_id, stream_id, stream_version, event_type, \
             schema_version, payload, metadata, recorded_at, prev_hash, hash) \
             select position, org_id, stream_id, stream_version, event_type, $6, \
                    payload::json, metadata::json, $9, prev_hash, hash \
             from unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], \
                         $7::text[], $8::text[], $10::bytea[], $11::bytea[]) \
                  as t(position, org_id, stream_id, stream_version, event_type, payload, \
                       metadata, prev_hash, hash)",
        )
        .await?;
    let positions: Vec<i64> = rows.iter().map(|row| row.position).collect();
    let orgs: Vec<Uuid> = rows.iter().map(|row| row.org_id).collect();
    let streams: Vec<Uuid> = rows.iter().map(|row| row.stream_id).collect();
    let versions: Vec<i64> = rows.iter().map(|row| row.stream_version).collect();
    let types: Vec<&str> = rows.iter().map(|row| row.event_type).collect();
    let payloads: Vec<&str> = rows.iter().map(|row| row.payload.as_str()).collect();
    let metadata: Vec<&str> = rows.iter().map(|row| row.metadata.as_str()).collect();
    let prev_hashes: Vec<&[u8]> = rows.iter().map(|row| row.prev_hash.as_slice()).collect();
    let hashes: Vec<&[u8]> = rows.iter().map(|row| row.hash.as_slice()).collect();
    transaction
        .execute(
            &statement,
            &[
                &positions,
                &orgs,
                &streams,
                &versions,
                &types,
                &CURRENT_SCHEMA_VERSION,
                &payloads,
                &metadata,
                &recorded_at,
                &prev_hashes,
                &hashes,
            ],
        )
        .await?;
    Ok(())
}

async fn save_chain_heads(transaction: &Transaction<'_>, rows: &[Row]) -> Result<(), StoreError> {
    let mut last: HashMap<Uuid, (i64, &[u8])> = HashMap::new();
    for row in rows {
        last.insert(row.org_id, (row.position, row.hash.as_slice()));
    }
    let statement = transaction
        .prepare_cached(
            "insert into chain_heads (org_id, last_position, last_hash) \
             select * from unnest($1::uuid[], $2::bigint[], $3::bytea[]) \
             on conflict (org_id) do update \
             set last_position = excluded.last_position, last_hash = excluded.last_hash",
        )
        .await?;
    let orgs: Vec<Uuid> = last.keys().copied().collect();
    let positions: Vec<i64> = orgs.iter().map(|org| last[org].0).collect();
    let hashes: Vec<&[u8]> = orgs.iter().map(|org| last[org].1).collect();
    transaction
        .execute(&statement, &[&orgs, &positions, &hashes])
        .await?;
    Ok(())
}
