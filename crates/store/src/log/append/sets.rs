//! Set-based statements: each takes a whole batch in one statement, so that
//! the per-statement cost (parse, plan, executor start) is paid once per
//! batch and only the per-row work grows with its size.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::ClientWrapper;
use domain::event::CURRENT_SCHEMA_VERSION;
use domain::resource::UniqueKey;
use time::OffsetDateTime;
use tokio_postgres::Statement;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::AppendRequest;
use crate::StoreError;

/// One event ready for the log, with its position and hash.
pub(super) struct Row {
    pub position: i64,
    pub org_id: Uuid,
    pub stream_id: Uuid,
    pub stream_version: i64,
    pub event_type: &'static str,
    pub payload: String,
    pub metadata: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

pub(super) const CHAIN_HEADS: &str =
    "select org_id, last_hash from chain_heads where org_id = any($1)";

/// The last hash of each organization in the batch (`statement`:
/// [`CHAIN_HEADS`], prepared).
pub(super) async fn chain_heads(
    client: &ClientWrapper,
    statement: &Statement,
    requests: &[&AppendRequest],
) -> Result<HashMap<Uuid, Vec<u8>>, StoreError> {
    let mut orgs: Vec<Uuid> = requests.iter().map(|request| request.org_id).collect();
    orgs.sort_unstable();
    orgs.dedup();
    let rows = client.query(statement, &[&orgs]).await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

pub(super) const CREATE_ALL_STREAMS: &str = "insert into streams (org_id, stream_id, version) \
     select * from unnest($1::uuid[], $2::uuid[], $3::bigint[]) \
     returning stream_id";

pub(super) const CREATE_NEW_STREAMS: &str = "insert into streams (org_id, stream_id, version) \
     select * from unnest($1::uuid[], $2::uuid[], $3::bigint[]) \
     on conflict do nothing returning stream_id";

/// Creates the streams of requests that start one (expected version 0);
/// returns the streams that did not exist yet (`statements`:
/// [`CREATE_ALL_STREAMS`] and [`CREATE_NEW_STREAMS`], prepared). Nearly
/// every stream a request starts is new (a stream that exists is a
/// version conflict): [`insert_expecting_free`].
pub(super) async fn create_streams(
    client: &ClientWrapper,
    (create_all, create_new): (&Statement, &Statement),
    requests: &[&AppendRequest],
) -> Result<HashSet<Uuid>, StoreError> {
    if requests.is_empty() {
        return Ok(HashSet::new());
    }
    let orgs: Vec<Uuid> = requests.iter().map(|r| r.org_id).collect();
    let streams: Vec<Uuid> = requests.iter().map(|r| r.stream_id).collect();
    let versions: Vec<i64> = requests.iter().map(|r| r.events.len() as i64).collect();
    let rows = insert_expecting_free(
        client,
        "create_streams",
        (create_all, create_new),
        &[&orgs, &streams, &versions],
    )
    .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Inserts rows whose unique keys are nearly always free: with `insert`, a
/// plain insert, where a key is taken with `insert_free` (`on conflict do
/// nothing`) instead ([`expecting_free`]). Returns what the insert that
/// stood returned.
async fn insert_expecting_free(
    client: &ClientWrapper,
    savepoint: &str,
    (insert, insert_free): (&Statement, &Statement),
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    expecting_free(client, savepoint, client.query(insert, params), || {
        client.query(insert_free, params)
    })
    .await
}

/// Runs `attempt`, statements that insert rows whose unique keys are
/// nearly always free, under a savepoint, the three sent together in one
/// round trip; where a key is taken, rolls back to the savepoint and runs
/// `instead`, statements that take what is taken into account (`on
/// conflict`). A plain insert is half the work of `on conflict`, whose
/// speculative insertion probes the key, inserts, and writes a second WAL
/// record to confirm each row. `attempt` must send its statements on its
/// first poll (prepared beforehand), so that they go out between the
/// savepoint and its release.
pub(super) async fn expecting_free<T, Instead>(
    client: &ClientWrapper,
    savepoint: &str,
    attempt: impl Future<Output = Result<T, tokio_postgres::Error>>,
    instead: impl FnOnce() -> Instead,
) -> Result<T, StoreError>
where
    Instead: Future<Output = Result<T, tokio_postgres::Error>>,
{
    let (save, release) = (
        format!("savepoint {savepoint}"),
        format!("release savepoint {savepoint}"),
    );
    // When the attempt fails the release fails with it (the transaction
    // is aborted until the rollback below).
    let (saved, attempted, released) = futures::join!(
        client.batch_execute(&save),
        attempt,
        client.batch_execute(&release),
    );
    saved?;
    match attempted {
        Ok(done) => {
            released?;
            Ok(done)
        }
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            client
                .batch_execute(&format!(
                    "rollback to savepoint {savepoint}; release savepoint {savepoint}"
                ))
                .await?;
            Ok(instead().await?)
        }
        Err(error) => Err(error.into()),
    }
}

pub(super) const EXTEND_STREAMS: &str = "update streams s set version = s.version + v.added \
     from unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[]) \
          as v(org_id, stream_id, expected, added) \
     where s.org_id = v.org_id and s.stream_id = v.stream_id \
       and (s.version = v.expected or v.expected < 0) \
     returning s.stream_id, s.version - v.added";

/// Moves existing streams to their new versions where they are still at the
/// version their request decided on (any version, for requests that
/// commute); returns each stream that moved with its version before
/// (`statement`: [`EXTEND_STREAMS`], prepared).
pub(super) async fn extend_streams(
    client: &ClientWrapper,
    statement: &Statement,
    requests: &[&AppendRequest],
) -> Result<HashMap<Uuid, i64>, StoreError> {
    if requests.is_empty() {
        return Ok(HashMap::new());
    }
    let orgs: Vec<Uuid> = requests.iter().map(|r| r.org_id).collect();
    let streams: Vec<Uuid> = requests.iter().map(|r| r.stream_id).collect();
    let expected: Vec<i64> = requests
        .iter()
        .map(|r| if r.commutes { -1 } else { r.expected_version })
        .collect();
    let added: Vec<i64> = requests.iter().map(|r| r.events.len() as i64).collect();
    let rows = client
        .query(statement, &[&orgs, &streams, &expected, &added])
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// A unique value held by a stream.
pub(super) type Claim = (Uuid, &'static str, String, Uuid);

pub(super) const TAKE_ALL_CLAIMS: &str = "insert into unique_claims (org_id, kind, key, owner) \
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[]) \
     returning org_id, kind, key, owner";

pub(super) const TAKE_FREE_CLAIMS: &str = "insert into unique_claims (org_id, kind, key, owner) \
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[]) \
     on conflict do nothing returning org_id, kind, key, owner";

/// Takes every free claim; returns the claims taken. Of two requests in the
/// batch that claim one value, the first takes it.
///
/// Nearly every batch finds all its values free ([`insert_expecting_free`]:
/// 3 µs fewer of the appender's PostgreSQL backend per claim, three claims
/// per SCIM create). A batch with a taken value, or two requests claiming
/// one, takes what is free with `on conflict do nothing`.
pub(super) async fn take_claims(
    client: &ClientWrapper,
    (take_all, take_free): (&Statement, &Statement),
    claims: &[(Uuid, &UniqueKey, Uuid)],
) -> Result<HashSet<Claim>, StoreError> {
    if claims.is_empty() {
        return Ok(HashSet::new());
    }
    let (orgs, kinds, keys, owners) = columns(claims);
    let rows = insert_expecting_free(
        client,
        "take_claims",
        (take_all, take_free),
        &[&orgs, &kinds, &keys, &owners],
    )
    .await?;
    let kinds_by_name: HashMap<&str, &'static str> = claims
        .iter()
        .map(|(_, key, _)| (key.kind, key.kind))
        .collect();
    Ok(rows
        .iter()
        .map(|row| {
            let kind: &str = row.get(1);
            (row.get(0), kinds_by_name[kind], row.get(2), row.get(3))
        })
        .collect())
}

/// Deletes one claim if its owner still holds it: one primary-key probe,
/// whatever plan a prepared statement keeps. The set-based form, `delete
/// ... using unnest(...)`, had no such promise: planned generically while
/// the table was small it is a hash join over a sequential scan of every
/// claim (the hazard `KEY_BY_ID` avoids for keys), and a delete has no form
/// that keeps its scan of the table out of the planner's choice.
pub const DROP_CLAIM_STATEMENT: &str =
    "delete from unique_claims where org_id = $1 and kind = $2 and key = $3 and owner = $4";

/// Gives up claims (those a refused request took, or those a request
/// releases): few per batch, each its own statement, sent together
/// (`statement`: [`DROP_CLAIM_STATEMENT`], prepared).
pub(super) async fn drop_claims(
    client: &ClientWrapper,
    statement: &Statement,
    claims: &[(Uuid, &UniqueKey, Uuid)],
) -> Result<(), StoreError> {
    if claims.is_empty() {
        return Ok(());
    }
    let dropping = claims.iter().map(|(org_id, key, owner)| async move {
        client
            .execute(statement, &[org_id, &key.kind, &key.key, owner])
            .await
    });
    futures::future::try_join_all(dropping).await?;
    Ok(())
}

type ClaimColumns<'a> = (Vec<Uuid>, Vec<&'a str>, Vec<&'a str>, Vec<Uuid>);

fn columns<'a>(claims: &[(Uuid, &'a UniqueKey, Uuid)]) -> ClaimColumns<'a> {
    (
        claims.iter().map(|(org, _, _)| *org).collect(),
        claims.iter().map(|(_, key, _)| key.kind).collect(),
        claims.iter().map(|(_, key, _)| key.key.as_str()).collect(),
        claims.iter().map(|(_, _, owner)| *owner).collect(),
    )
}

pub(super) const INSERT_EVENTS: &str = "insert into events (position, org_id, stream_id, \
     stream_version, event_type, schema_version, payload, metadata, recorded_at, prev_hash, hash) \
     select position, org_id, stream_id, stream_version, event_type, $6, \
            payload::json, metadata::json, $9, prev_hash, hash \
     from unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], \
                 $7::text[], $8::text[], $10::bytea[], $11::bytea[]) \
          as t(position, org_id, stream_id, stream_version, event_type, payload, \
               metadata, prev_hash, hash)";

/// Inserts the batch's events (`statement`: [`INSERT_EVENTS`], prepared).
pub(super) async fn insert_rows(
    client: &ClientWrapper,
    statement: &Statement,
    rows: &[Row],
    recorded_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let positions: Vec<i64> = rows.iter().map(|row| row.position).collect();
    let orgs: Vec<Uuid> = rows.iter().map(|row| row.org_id).collect();
    let streams: Vec<Uuid> = rows.iter().map(|row| row.stream_id).collect();
    let versions: Vec<i64> = rows.iter().map(|row| row.stream_version).collect();
    let types: Vec<&str> = rows.iter().map(|row| row.event_type).collect();
    let payloads: Vec<&str> = rows.iter().map(|row| row.payload.as_str()).collect();
    let metadata: Vec<&str> = rows.iter().map(|row| row.metadata.as_str()).collect();
    let prev_hashes: Vec<&[u8]> = rows.iter().map(|row| row.prev_hash.as_slice()).collect();
    let hashes: Vec<&[u8]> = rows.iter().map(|row| row.hash.as_slice()).collect();
    client
        .execute(
            statement,
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

pub(super) const SAVE_CHAIN_HEADS: &str = "insert into chain_heads \
     (org_id, last_position, last_hash) \
     select * from unnest($1::uuid[], $2::bigint[], $3::bytea[]) \
     on conflict (org_id) do update \
     set last_position = excluded.last_position, last_hash = excluded.last_hash";

/// Saves the end of each organization's chain (`statement`:
/// [`SAVE_CHAIN_HEADS`], prepared).
pub(super) async fn save_chain_heads(
    client: &ClientWrapper,
    statement: &Statement,
    rows: &[Row],
) -> Result<(), StoreError> {
    let mut last: HashMap<Uuid, (i64, &[u8])> = HashMap::new();
    for row in rows {
        last.insert(row.org_id, (row.position, row.hash.as_slice()));
    }
    let orgs: Vec<Uuid> = last.keys().copied().collect();
    let positions: Vec<i64> = orgs.iter().map(|org| last[org].0).collect();
    let hashes: Vec<&[u8]> = orgs.iter().map(|org| last[org].1).collect();
    client
        .execute(statement, &[&orgs, &positions, &hashes])
        .await?;
    Ok(())
}

// Appends serialize on the log head's lock, so a later batch always
// carries a later position: no comparison with the stored one.
pub(super) const SAVE_TOKEN_POSITIONS: &str = "insert into token_write_positions \
     (token_id, org_id, position) \
     select * from unnest($1::uuid[], $2::uuid[], $3::bigint[]) \
     on conflict (token_id) do update \
     set org_id = excluded.org_id, position = excluded.position";

/// Moves each token's last written position to the last event its requests
/// of the batch appended, so that the token's reads, on any API process,
/// wait for it (`token_write_position`; `statement`:
/// [`SAVE_TOKEN_POSITIONS`], prepared).
pub(super) async fn save_token_positions(
    client: &ClientWrapper,
    statement: &Statement,
    written: &HashMap<Uuid, (Uuid, i64)>,
) -> Result<(), StoreError> {
    if written.is_empty() {
        return Ok(());
    }
    let (tokens, (orgs, positions)): (Vec<Uuid>, (Vec<Uuid>, Vec<i64>)) = written
        .iter()
        .map(|(token, (org, position))| (*token, (*org, *position)))
        .unzip();
    client
        .execute(statement, &[&tokens, &orgs, &positions])
        .await?;
    Ok(())
}
