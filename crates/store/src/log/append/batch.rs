//! One batch of appends, committed in a constant number of round trips.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::ClientWrapper;
use domain::chain::{self, ChainedFields};
use domain::erasable;
use domain::event::CURRENT_SCHEMA_VERSION;
use domain::resource::UniqueKey;
use futures::TryFutureExt;
use futures::future::try_join_all;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

mod by_hand;
mod prepared;
mod registrations;
mod registry_sets;

use by_hand::{BEGIN, BatchConnection, COMMIT};
use prepared::Prepared;
use registrations::{Pending, Statements, register, undo};

use super::keys::{BatchKeys, batch_keys};
use crate::log::keys::KeyId;
use crate::log::recent::{OpenedEvent, RecentAppends};

use super::sets::{self, Claim, Row};
use super::{AppendError, AppendRequest, Appended, Registration};
use crate::{Pool, StoreError};

/// Commits one batch in a constant number of round trips, whatever its size.
/// Each phase is a few set-based statements (registrations, which owners'
/// operations and the linker make, go one by one: `registrations`) sent
/// together, and none of them raises an error: conflicts are `on conflict
/// do nothing` and read from what the statement returns, so one refused
/// request never aborts the others.
///
/// 1. begin, lock the log head, read the chain heads, move every stream's
///    version, make or read the keys that seal personal values
///    ([`move_streams`]);
/// 2. for the requests whose version held, take claims, then the
///    registrations of those that got theirs ([`take_claims`]);
/// 3. undo what refused requests took, give up released values, insert the
///    events, save the chain heads, the tokens' last written positions and
///    the log head, and commit ([`write_and_commit`]).
///
/// Claims are taken before anything is released, so a value released and
/// claimed in the same batch is refused to the claimer (as if it came first).
/// And a request refused for one claim gives back the others it took only in
/// phase 3, so another request of the batch may have been refused one of
/// those; both are answers a concurrent client could get anyway, and neither
/// breaks uniqueness.
///
/// The batch's events are kept, opened, in each of `recent` (this process's
/// relay's and linker's): pending from just before the commit, settled by
/// its outcome. A batch that erases someone keeps nothing and empties them.
pub(super) async fn commit_batch(
    pool: &Pool,
    requests: &[&AppendRequest],
    now: OffsetDateTime,
    recent: &[RecentAppends],
) -> Result<Vec<Result<Appended, AppendError>>, StoreError> {
    let connection = BatchConnection::new(pool.get().await?);
    match commit_on(connection.client(), requests, now, recent).await {
        Ok(outcomes) => {
            connection.committed();
            Ok(outcomes)
        }
        Err(error) => {
            connection.roll_back().await;
            Err(error)
        }
    }
}

/// [`commit_batch`] on a connection: begins the transaction with phase 1
/// and commits it with phase 3 (`by_hand`).
async fn commit_on(
    client: &ClientWrapper,
    requests: &[&AppendRequest],
    now: OffsetDateTime,
    recent: &[RecentAppends],
) -> Result<Vec<Result<Appended, AppendError>>, StoreError> {
    let prepared = Prepared::prepare(client).await?;
    let recorded_at = chain::to_stored_precision(now);
    let mut batch = Batch::new(requests);
    let moved = move_streams(client, &prepared, &mut batch).await?;
    let taken = take_claims(client, &prepared, &mut batch, &recorded_at).await?;
    let erases = requests.iter().any(|request| {
        (request.registrations.iter()).any(|row| matches!(row, Registration::Erasure))
    });
    let written = Written {
        recorded_at,
        opened: (!recent.is_empty() && !erases).then(Vec::new),
    };
    let (chained, opened) = chain(batch, moved, &taken, written);
    // Kept before the commit goes out, as pending: a reader woken by the
    // commit waits for the outcome here rather than read the log.
    let kept = opened.map(|opened| opened.into_iter().map(Arc::new).collect::<Vec<_>>());
    if let Some(kept) = &kept {
        recent.iter().for_each(|store| store.hold(kept));
    }
    let committed = write_and_commit(client, &prepared, &chained.writes, recorded_at).await;
    match kept {
        Some(_) => recent
            .iter()
            .for_each(|store| store.settle(committed.is_ok())),
        None => recent.iter().for_each(RecentAppends::forget_all),
    }
    committed?;
    Ok(chained.answers)
}

/// How phase 3 writes events: the time they record and, when this
/// process's relay and linker take them so, where their opened payloads go.
struct Written {
    recorded_at: OffsetDateTime,
    opened: Option<Vec<OpenedEvent>>,
}

/// The requests of a batch and, as the phases find out, why each is refused.
struct Batch<'r> {
    requests: &'r [&'r AppendRequest],
    /// `None` while the request holds.
    refusals: Vec<Option<AppendError>>,
    /// Each request's events as JSON before sealing, made once for both
    /// the keys they need and their sealing (`erasable::unsealed`).
    unsealed: Vec<Vec<serde_json::Value>>,
}

impl<'r> Batch<'r> {
    /// The batch before any statement. Two appends to one stream in one
    /// batch were decided on the same version: only the first can hold.
    fn new(requests: &'r [&'r AppendRequest]) -> Batch<'r> {
        let mut batch = Batch {
            requests,
            refusals: vec![None; requests.len()],
            unsealed: requests
                .iter()
                .map(|request| request.events.iter().map(erasable::unsealed).collect())
                .collect(),
        };
        let mut streams = HashSet::new();
        for (index, request) in requests.iter().enumerate() {
            debug_assert!(!request.events.is_empty(), "an append carries events");
            if !streams.insert((request.org_id, request.stream_id)) {
                batch.refuse(index, AppendError::VersionConflict);
            }
        }
        batch
    }

    /// The keys the events of the requests not refused yet seal values
    /// under, each person's once.
    fn wanted_keys(&mut self) -> Vec<KeyId> {
        let holding = self
            .requests
            .iter()
            .zip(&self.refusals)
            .zip(&mut self.unsealed)
            .filter(|((_, refusal), _)| refusal.is_none());
        let mut wanted = Vec::new();
        for ((request, _), payloads) in holding {
            for payload in payloads {
                wanted.extend(
                    erasable::subjects_in(payload, request.stream_id)
                        .into_iter()
                        .map(|subject| subject.key_id(request.org_id)),
                );
            }
        }
        wanted
    }

    /// The requests not refused yet, with their index.
    fn holding(&self) -> impl Iterator<Item = (usize, &'r AppendRequest)> + '_ {
        self.requests
            .iter()
            .enumerate()
            .filter(|(index, _)| self.refusals[*index].is_none())
            .map(|(index, request)| (index, *request))
    }

    /// Refuses a request, unless it is refused already (the first reason
    /// stands).
    fn refuse(&mut self, index: usize, refusal: AppendError) {
        self.refusals[index].get_or_insert(refusal);
    }
}

/// What phase 1 found.
struct Moved {
    /// The last position of the log before this batch.
    position: i64,
    /// The last hash of each organization in the batch.
    heads: HashMap<Uuid, Vec<u8>>,
    /// The version each request's events follow; `None` where it did not hold.
    bases: Vec<Option<i64>>,
    /// The keys that seal the personal values of the batch's events.
    keys: BatchKeys,
}

/// Phase 1: begins the transaction, locks the log head, reads the chain
/// heads and moves each stream to its new version where it is still at the
/// version its request was decided on; the other requests are refused.
async fn move_streams(
    client: &ClientWrapper,
    prepared: &Prepared,
    batch: &mut Batch<'_>,
) -> Result<Moved, StoreError> {
    let candidates = |fresh: bool| -> Vec<&AppendRequest> {
        batch
            .holding()
            .filter(|(_, request)| request.starts_its_stream() == fresh)
            .map(|(_, request)| request)
            .collect()
    };
    let (fresh, existing) = (candidates(true), candidates(false));
    // One round trip, the transaction's `BEGIN` included (`by_hand`), in
    // the join's order (`prepared`): the lock reaches PostgreSQL first
    // after the `BEGIN`, and the chain heads are read after it. The streams
    // are created last, under a savepoint that a stream found to exist
    // rolls back to (`sets::create_streams`): what was sent before it
    // stands.
    let wanted_keys = batch.wanted_keys();
    let (_, head, heads, extended, keys, created) = futures::try_join!(
        client.batch_execute(BEGIN).map_err(StoreError::from),
        client
            .query_one(&prepared.lock_log_head, &[])
            .map_err(StoreError::from),
        sets::chain_heads(client, &prepared.chain_heads, batch.requests),
        sets::extend_streams(client, &prepared.extend_streams, &existing),
        batch_keys(client, &prepared.keys, wanted_keys),
        sets::create_streams(
            client,
            (&prepared.create_all_streams, &prepared.create_new_streams),
            &fresh,
        ),
    )?;
    let mut bases = vec![None; batch.requests.len()];
    for (index, request) in batch.holding() {
        bases[index] = if created.contains(&request.stream_id) {
            Some(0)
        } else {
            extended.get(&request.stream_id).copied()
        };
    }
    for (index, base) in bases.iter().enumerate() {
        if base.is_none() {
            batch.refuse(index, AppendError::VersionConflict);
        }
    }
    Ok(Moved {
        position: head.get(0),
        heads,
        bases,
        keys,
    })
}

/// What phase 2 took.
struct Taken {
    claimed: HashSet<Claim>,
    /// Whether each request registered its organization's name.
    registered_organization: Vec<bool>,
}

/// Phase 2: takes the claims, then writes the registry rows of the requests
/// that hold them; a request that could not have one of them is refused.
/// The rows wait for the claims: a request refused must leave no row (an
/// email change refused for a taken email left the new email in
/// `accounts`). A batch without claims, or without rows that may be
/// refused, pays no round trip for them.
async fn take_claims(
    client: &ClientWrapper,
    prepared: &Prepared,
    batch: &mut Batch<'_>,
    recorded_at: &OffsetDateTime,
) -> Result<Taken, StoreError> {
    let requests = batch.requests;
    let wanted: Vec<_> = batch
        .holding()
        .flat_map(|(_, request)| {
            request
                .claims
                .iter()
                .map(|key| (request.org_id, key, request.stream_id))
        })
        .collect();
    let claimed = sets::take_claims(
        client,
        (&prepared.take_all_claims, &prepared.take_free_claims),
        &wanted,
    )
    .await?;
    let lost: Vec<(usize, UniqueKey)> = batch
        .holding()
        .filter_map(|(index, request)| {
            let lost = request
                .claims
                .iter()
                .find(|key| !claimed.contains(&claim(request, key)))?;
            Some((index, lost.clone()))
        })
        .collect();
    for (index, key) in lost {
        batch.refuse(index, AppendError::Taken(key));
    }
    // Rows that may find their unique value taken go first; the others are
    // written only for the requests those leave standing (an organization
    // refused for its name left its owner's membership row).
    let (unique, plain): (Vec<_>, Vec<_>) = batch
        .holding()
        .flat_map(|(index, request)| {
            request
                .registrations
                .iter()
                .map(move |registration| (index, registration))
        })
        .partition(|(_, registration)| may_find_taken(registration));
    let statements = &prepared.registrations;
    let registered = write_rows(client, statements, requests, &unique, recorded_at).await?;
    let registered_organization = settle_registrations(batch, &unique, &registered);
    let (as_sets, one_by_one_rows): (Vec<_>, Vec<_>) = plain
        .into_iter()
        .filter(|(index, _)| batch.refusals[*index].is_none())
        .partition(|(_, registration)| registry_sets::is_written_as_set(registration));
    let as_sets: Vec<_> = as_sets
        .into_iter()
        .map(|(index, registration)| (requests[index], registration))
        .collect();
    let one_by_one =
        one_by_one(client, statements, requests, &one_by_one_rows, recorded_at).collect();
    registry_sets::write_sets(client, &prepared.sets, &as_sets, one_by_one, recorded_at).await?;
    Ok(Taken {
        claimed,
        registered_organization,
    })
}

/// Writes registry rows, each of its request; returns how many rows each
/// statement wrote.
async fn write_rows(
    client: &ClientWrapper,
    statements: &Statements,
    requests: &[&AppendRequest],
    rows: &[(usize, &Registration)],
    recorded_at: &OffsetDateTime,
) -> Result<Vec<u64>, StoreError> {
    let writing = one_by_one(client, statements, requests, rows, recorded_at);
    Ok(try_join_all(writing).await?)
}

/// The statements that write registry rows one by one, each of its request.
fn one_by_one<'a>(
    client: &'a ClientWrapper,
    statements: &'a Statements,
    requests: &'a [&'a AppendRequest],
    rows: &'a [(usize, &'a Registration)],
    recorded_at: &'a OffsetDateTime,
) -> impl Iterator<Item = Pending<'a>> + 'a {
    rows.iter().map(move |(index, registration)| {
        register(
            client,
            statements,
            requests[*index],
            registration,
            recorded_at,
        )
    })
}

/// Whether a registry row may find its unique value taken, which refuses
/// its request ([`settle_registrations`]).
fn may_find_taken(registration: &Registration) -> bool {
    matches!(
        registration,
        Registration::Organization { .. }
            | Registration::Token { .. }
            | Registration::Session { .. }
    )
}

/// Refuses the requests whose registry row found its unique value taken
/// (`rows` is what each registration wrote); returns which requests
/// registered their organization's name, which a refusal must give back.
fn settle_registrations(
    batch: &mut Batch<'_>,
    registrations: &[(usize, &Registration)],
    rows: &[u64],
) -> Vec<bool> {
    let mut registered_organization = vec![false; batch.requests.len()];
    for ((index, registration), rows) in registrations.iter().zip(rows) {
        match registration {
            Registration::Organization { name } if *rows == 0 => {
                batch.refuse(
                    *index,
                    AppendError::Taken(UniqueKey {
                        kind: "organization",
                        key: name.clone(),
                    }),
                );
            }
            Registration::Organization { .. } => registered_organization[*index] = true,
            Registration::Token { token_id, .. } if *rows == 0 => {
                batch.refuse(
                    *index,
                    AppendError::Unavailable(format!(
                        "token {token_id} collided with an existing one; issue another"
                    )),
                );
            }
            Registration::Token { .. } => {}
            Registration::Session { session_id, .. } if *rows == 0 => {
                batch.refuse(
                    *index,
                    AppendError::Unavailable(format!(
                        "session {session_id} collided with an existing one; log in again"
                    )),
                );
            }
            Registration::Session { .. } => {}
            // The domain decided these on the organization's stream at the
            // version this request holds; a row already marked is the same
            // fact, not a conflict.
            Registration::TokenRevoked { .. }
            | Registration::TokenExpired { .. }
            | Registration::ScimSwitched { .. }
            | Registration::DomainVerified { .. }
            | Registration::DomainDropped { .. }
            | Registration::SessionEnded { .. } => {}
            Registration::Account { .. }
            | Registration::AccountLocks { .. }
            | Registration::Membership { .. }
            | Registration::RoleGroups { .. }
            | Registration::Erasure => {}
        }
    }
    registered_organization
}

/// The claim `request` makes on `key`.
fn claim(request: &AppendRequest, key: &UniqueKey) -> Claim {
    (request.org_id, key.kind, key.key.clone(), request.stream_id)
}

/// What phase 3 writes, decided before any of it is sent.
struct Writes<'r> {
    /// The refused requests whose registry rows are given back: each with
    /// the version its stream moved from, if it moved, and whether it
    /// registered its organization's name.
    undone: Vec<(&'r AppendRequest, Option<i64>, bool)>,
    /// The claims given up: released by the requests that hold, or taken
    /// by those refused.
    dropped: Vec<(Uuid, &'r UniqueKey, Uuid)>,
    rows: Vec<Row>,
    /// Each token's last written position, with its organization.
    token_positions: HashMap<Uuid, (Uuid, i64)>,
    /// The log's last position after the batch.
    position: i64,
}

/// Phase 3, decided: each request's outcome and what it writes.
struct Chained<'r> {
    answers: Vec<Result<Appended, AppendError>>,
    writes: Writes<'r>,
}

/// Decides phase 3: positions, seals and chains the events of the
/// requests that hold, gathers what refused requests give back. Returns
/// the opened payloads where `written` takes them.
fn chain<'r>(
    batch: Batch<'r>,
    moved: Moved,
    taken: &Taken,
    mut written: Written,
) -> (Chained<'r>, Option<Vec<OpenedEvent>>) {
    let recorded_at = written.recorded_at;
    let Moved {
        mut position,
        mut heads,
        bases,
        keys,
    } = moved;
    let mut undone = Vec::new();
    let mut dropped = Vec::new();
    let mut rows = Vec::new();
    let mut token_positions = HashMap::new();
    let mut answers = Vec::with_capacity(batch.requests.len());
    let requests = batch
        .requests
        .iter()
        .zip(batch.refusals)
        .zip(batch.unsealed);
    for (index, ((request, refusal), unsealed)) in requests.enumerate() {
        match refusal {
            None => {
                dropped.extend(
                    request
                        .releases
                        .iter()
                        .map(|key| (request.org_id, key, request.stream_id)),
                );
                let base = bases[index].expect("a request that holds has a base version");
                let version = chain_events(
                    (request, unsealed),
                    base,
                    &keys,
                    &mut position,
                    &mut heads,
                    &mut written,
                    &mut rows,
                );
                if let Some(token_id) = request.meta.token_id {
                    token_positions.insert(token_id, (request.org_id, position));
                }
                answers.push(Ok(Appended {
                    last_position: position,
                    stream_version: version,
                    recorded_at,
                }));
            }
            // A version conflict took nothing: its stream never moved.
            Some(AppendError::VersionConflict) => answers.push(Err(AppendError::VersionConflict)),
            Some(refusal) => {
                undone.push((*request, bases[index], taken.registered_organization[index]));
                dropped.extend(
                    request
                        .claims
                        .iter()
                        .filter(|key| taken.claimed.contains(&claim(request, key)))
                        .map(|key| (request.org_id, key, request.stream_id)),
                );
                answers.push(Err(refusal));
            }
        }
    }
    let writes = Writes {
        undone,
        dropped,
        rows,
        token_positions,
        position,
    };
    (Chained { answers, writes }, written.opened)
}

/// Phase 3, sent: gives back what refused requests took, gives up the
/// values released, inserts the events, saves the chain heads, the tokens'
/// last written positions and the log head, and commits, all in one round
/// trip. A statement that fails makes PostgreSQL roll back at the commit
/// and fails the whole.
async fn write_and_commit(
    client: &ClientWrapper,
    prepared: &Prepared,
    writes: &Writes<'_>,
    recorded_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let undone = writes
        .undone
        .iter()
        .flat_map(|(request, base, registered_organization)| {
            undo(
                client,
                &prepared.registrations,
                request,
                base.as_ref(),
                *registered_organization,
            )
        });
    let head = [&writes.position as &(dyn ToSql + Sync)];
    futures::try_join!(
        try_join_all(undone).map_err(StoreError::from),
        sets::drop_claims(client, &prepared.drop_claims, &writes.dropped),
        sets::insert_rows(client, &prepared.insert_events, &writes.rows, recorded_at),
        sets::save_chain_heads(client, &prepared.save_chain_heads, &writes.rows),
        sets::save_token_positions(
            client,
            &prepared.save_token_positions,
            &writes.token_positions
        ),
        client
            .execute(&prepared.save_log_head, &head)
            .map_err(StoreError::from),
        client.batch_execute(COMMIT).map_err(StoreError::from),
    )?;
    Ok(())
}

/// Positions and hashes for one request's events (with their
/// [`erasable::unsealed`] payloads), their personal values sealed (the
/// chain covers the sealed text), and their opened payloads where
/// `written` takes them; returns its new version.
fn chain_events(
    (request, unsealed): (&AppendRequest, Vec<serde_json::Value>),
    base: i64,
    keys: &BatchKeys,
    position: &mut i64,
    heads: &mut HashMap<Uuid, Vec<u8>>,
    written: &mut Written,
    rows: &mut Vec<Row>,
) -> i64 {
    let recorded_at = written.recorded_at;
    let metadata = serde_json::to_string(&request.meta).expect("metadata serializes");
    let mut version = base;
    for (event, unsealed) in request.events.iter().zip(unsealed) {
        *position += 1;
        version += 1;
        let key_of = |subject: erasable::Subject| {
            keys.get(&subject.key_id(request.org_id)).copied().flatten()
        };
        let payload = match written.opened.as_mut() {
            Some(opened) => {
                let (payload, clear, in_clear) = erasable::seal_and_open(
                    unsealed,
                    request.stream_id,
                    &key_of,
                    &mut rand::random,
                );
                opened.push(OpenedEvent {
                    position: *position,
                    org_id: request.org_id,
                    stream_id: request.stream_id,
                    stream_version: version,
                    event_type: event.type_name().to_owned(),
                    schema_version: CURRENT_SCHEMA_VERSION,
                    recorded_at,
                    payload: clear,
                    in_clear: (in_clear.into_iter())
                        .map(|subject| subject.key_id(request.org_id))
                        .collect(),
                });
                payload
            }
            None => {
                erasable::seal_unsealed(unsealed, request.stream_id, &key_of, &mut rand::random)
            }
        };
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
