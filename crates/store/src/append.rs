//! The group-commit appender: one writer task batches concurrent appends into
//! one transaction, assigns gap-free positions under the `log_head` lock and
//! extends each organisation's hash chain.

use std::collections::{HashMap, HashSet};

use futures::TryFutureExt;
use futures::future::{BoxFuture, try_join_all};

use deadpool_postgres::Transaction;
use domain::chain::{self, ChainedFields};
use domain::event::CURRENT_SCHEMA_VERSION;
use domain::user::UniqueKey;
use domain::{Event, RequestMeta};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
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

/// A statement's future, boxed so that different statements can be
/// pipelined together on the transaction's connection.
type Pending<'a> = BoxFuture<'a, Result<u64, tokio_postgres::Error>>;

/// Runs a prepared statement as a pipelinable future that owns its parameters.
fn run<'a>(
    transaction: &'a Transaction<'_>,
    statement: &'a Statement,
    params: Vec<&'a (dyn ToSql + Sync)>,
) -> Pending<'a> {
    Box::pin(async move { transaction.execute(statement, &params).await })
}

/// The statements a batch uses, prepared once per connection.
struct Statements {
    new_stream: Statement,
    extend_stream: Statement,
    revert_stream: Statement,
    drop_stream: Statement,
    claim: Statement,
    release: Statement,
    register_organization: Statement,
    unregister_organization: Statement,
    register_token: Statement,
}

impl Statements {
    async fn prepare(transaction: &Transaction<'_>) -> Result<Statements, StoreError> {
        let texts = [
            "insert into streams (org_id, stream_id, version) values ($1, $2, $3) on conflict do nothing",
            "update streams set version = $3 where org_id = $1 and stream_id = $2 and version = $4",
            "update streams set version = $3 where org_id = $1 and stream_id = $2",
            "delete from streams where org_id = $1 and stream_id = $2",
            "insert into unique_claims (org_id, kind, key, owner) values ($1, $2, $3, $4) on conflict do nothing",
            "delete from unique_claims where org_id = $1 and kind = $2 and key = $3 and owner = $4",
            "insert into organizations (org_id, name, created_at) values ($1, $2, $3) on conflict do nothing",
            "delete from organizations where org_id = $1",
            "insert into scim_tokens (org_id, token_id, token_sha256, issued_at, expires_at) \
             values ($1, $2, $3, $4, $5) on conflict do nothing",
        ];
        let prepared =
            try_join_all(texts.iter().map(|text| transaction.prepare_cached(text))).await?;
        let mut prepared = prepared.into_iter();
        let mut next = || prepared.next().expect("one statement per text");
        Ok(Statements {
            new_stream: next(),
            extend_stream: next(),
            revert_stream: next(),
            drop_stream: next(),
            claim: next(),
            release: next(),
            register_organization: next(),
            unregister_organization: next(),
            register_token: next(),
        })
    }
}

/// Commits one batch in a constant number of round trips, whatever its size:
/// every statement of a phase is pipelined on the connection, and nothing
/// raises an error (conflicts are `on conflict do nothing` and counted), so
/// one refused request never aborts the others' transaction.
///
/// 1. lock the log head, read the chain heads, move every stream's version;
/// 2. for the requests whose version held, take claims and registrations;
/// 3. undo what refused requests took, give up released values, insert the
///    events, save the chain heads and the log head; commit.
async fn commit_batch(
    pool: &Pool,
    requests: &[&AppendRequest],
) -> Result<Vec<Result<Appended, AppendError>>, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let statements = Statements::prepare(&transaction).await?;
    let recorded_at = chain::to_stored_precision(OffsetDateTime::now_utc());
    let mut refusals: Vec<Option<AppendError>> = vec![None; requests.len()];

    // Two appends to one stream in one batch were decided on the same
    // version: only the first can hold.
    let mut streams = HashSet::new();
    for (index, request) in requests.iter().enumerate() {
        debug_assert!(!request.events.is_empty(), "an append carries events");
        if !streams.insert((request.org_id, request.stream_id)) {
            refusals[index] = Some(AppendError::VersionConflict);
        }
    }

    // Phase 1.
    let candidates: Vec<usize> = (0..requests.len())
        .filter(|&i| refusals[i].is_none())
        .collect();
    let new_versions: Vec<i64> = requests
        .iter()
        .map(|request| request.expected_version + request.events.len() as i64)
        .collect();
    let versions: Vec<Pending<'_>> = candidates
        .iter()
        .map(|&index| {
            move_version(
                &transaction,
                &statements,
                requests[index],
                &new_versions[index],
            )
        })
        .collect();
    let (head, heads, moved) = futures::try_join!(
        transaction
            .query_one(
                "select last_position from log_head where id = 1 for update",
                &[]
            )
            .map_err(StoreError::from),
        chain_heads(&transaction, requests),
        try_join_all(versions).map_err(StoreError::from),
    )?;
    let mut position: i64 = head.get(0);
    let mut heads = heads;
    for (&index, moved) in candidates.iter().zip(moved) {
        if moved == 0 {
            refusals[index] = Some(AppendError::VersionConflict);
        }
    }

    // Phase 2.
    let mut takes: Vec<(usize, Taking<'_>)> = Vec::new();
    let mut pending: Vec<Pending<'_>> = Vec::new();
    for (index, request) in requests.iter().enumerate() {
        if refusals[index].is_some() {
            continue;
        }
        for key in &request.claims {
            takes.push((index, Taking::Claim(key)));
            pending.push(run(
                &transaction,
                &statements.claim,
                vec![&request.org_id, &key.kind, &key.key, &request.stream_id],
            ));
        }
        for registration in &request.registrations {
            takes.push((index, Taking::Registration(registration)));
            pending.push(register(
                &transaction,
                &statements,
                request,
                registration,
                &recorded_at,
            ));
        }
    }
    let taken = try_join_all(pending).await?;
    let mut held: Vec<Vec<&Taking<'_>>> = vec![Vec::new(); requests.len()];
    for ((index, taking), rows) in takes.iter().zip(taken) {
        if rows == 1 {
            held[*index].push(taking);
        } else if refusals[*index].is_none() {
            refusals[*index] = Some(AppendError::Taken(taking.unique_key()));
        }
    }

    // Phase 3.
    let mut pending: Vec<Pending<'_>> = Vec::new();
    let mut rows = Vec::new();
    let mut outcomes = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let version_moved = !matches!(refusals[index], Some(AppendError::VersionConflict));
        if let Some(refusal) = refusals[index].take() {
            if version_moved {
                pending.extend(undo(&transaction, &statements, request, &held[index]));
            }
            outcomes.push(Err(refusal));
            continue;
        }
        for key in &request.releases {
            pending.push(run(
                &transaction,
                &statements.release,
                vec![&request.org_id, &key.kind, &key.key, &request.stream_id],
            ));
        }
        let version = chain_events(request, &mut position, &mut heads, recorded_at, &mut rows);
        outcomes.push(Ok(Appended {
            last_position: position,
            stream_version: version,
            recorded_at,
        }));
    }
    try_join_all(pending).await?;
    if !rows.is_empty() {
        let head = [&position as &(dyn ToSql + Sync)];
        futures::try_join!(
            insert_rows(&transaction, &rows, recorded_at),
            save_chain_heads(&transaction, &rows),
            transaction
                .execute("update log_head set last_position = $1 where id = 1", &head)
                .map_err(StoreError::from),
        )?;
    }
    transaction.commit().await?;
    Ok(outcomes)
}

/// Something a request takes that another may hold already.
#[derive(Debug)]
enum Taking<'a> {
    Claim(&'a UniqueKey),
    Registration(&'a Registration),
}

impl Taking<'_> {
    fn unique_key(&self) -> UniqueKey {
        match self {
            Taking::Claim(key) => (*key).clone(),
            Taking::Registration(Registration::Organization { name }) => UniqueKey {
                kind: "organization",
                key: name.clone(),
            },
            Taking::Registration(Registration::Token { token_id, .. }) => UniqueKey {
                kind: "token",
                key: token_id.to_string(),
            },
        }
    }
}

/// Positions and hashes for one request's events; returns its new version.
fn chain_events(
    request: &AppendRequest,
    position: &mut i64,
    heads: &mut HashMap<Uuid, Vec<u8>>,
    recorded_at: OffsetDateTime,
    rows: &mut Vec<Row>,
) -> i64 {
    let metadata = serde_json::to_string(&request.meta).expect("metadata serializes");
    let mut version = request.expected_version;
    for event in &request.events {
        *position += 1;
        version += 1;
        let payload = event.to_payload();
        let prev_hash = heads
            .get(&request.org_id)
            .cloned()
            .unwrap_or_else(|| chain::GENESIS.to_vec());
        let hash = chain::link(
            &prev_hash,
            &ChainedFields {
                position: *position,
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
            position: *position,
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
    version
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

/// Moves a stream to its new version if it is still at the expected one
/// (0: the stream must not exist yet); 1 row when it held.
fn move_version<'a>(
    transaction: &'a Transaction<'_>,
    statements: &'a Statements,
    request: &'a AppendRequest,
    new_version: &'a i64,
) -> Pending<'a> {
    if request.expected_version == 0 {
        run(
            transaction,
            &statements.new_stream,
            vec![&request.org_id, &request.stream_id, new_version],
        )
    } else {
        run(
            transaction,
            &statements.extend_stream,
            vec![
                &request.org_id,
                &request.stream_id,
                new_version,
                &request.expected_version,
            ],
        )
    }
}

/// Writes one registry row; 1 row when its unique value was free.
fn register<'a>(
    transaction: &'a Transaction<'_>,
    statements: &'a Statements,
    request: &'a AppendRequest,
    registration: &'a Registration,
    recorded_at: &'a OffsetDateTime,
) -> Pending<'a> {
    match registration {
        Registration::Organization { name } => run(
            transaction,
            &statements.register_organization,
            vec![&request.org_id, name, recorded_at],
        ),
        Registration::Token {
            token_id,
            sha256,
            expires_at,
        } => run(
            transaction,
            &statements.register_token,
            vec![&request.org_id, token_id, sha256, recorded_at, expires_at],
        ),
    }
}

/// Gives back what a refused request took in phases 1 and 2.
fn undo<'a>(
    transaction: &'a Transaction<'_>,
    statements: &'a Statements,
    request: &'a AppendRequest,
    held: &[&Taking<'a>],
) -> Vec<Pending<'a>> {
    let mut pending: Vec<Pending<'a>> = Vec::new();
    for taking in held {
        match taking {
            Taking::Claim(key) => pending.push(run(
                transaction,
                &statements.release,
                vec![&request.org_id, &key.kind, &key.key, &request.stream_id],
            )),
            Taking::Registration(Registration::Organization { .. }) => pending.push(run(
                transaction,
                &statements.unregister_organization,
                vec![&request.org_id],
            )),
            // A token digest that collides with another is astronomically
            // unlikely, and a refused request's token is never shown anyway.
            Taking::Registration(Registration::Token { .. }) => {}
        }
    }
    if request.expected_version == 0 {
        pending.push(run(
            transaction,
            &statements.drop_stream,
            vec![&request.org_id, &request.stream_id],
        ));
    } else {
        pending.push(run(
            transaction,
            &statements.revert_stream,
            vec![
                &request.org_id,
                &request.stream_id,
                &request.expected_version,
            ],
        ));
    }
    pending
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
