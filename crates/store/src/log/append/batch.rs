//! One batch of appends, committed in a constant number of round trips.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Transaction;
use domain::chain::{self, ChainedFields};
use domain::event::CURRENT_SCHEMA_VERSION;
use domain::resource::UniqueKey;
use futures::TryFutureExt;
use futures::future::{BoxFuture, try_join_all};
use time::OffsetDateTime;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::sets::{self, Claim, Row};
use super::{AppendError, AppendRequest, Appended, Registration};
use crate::{Pool, StoreError};

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

/// The per-request statements a batch may need, prepared once per connection.
struct Statements {
    revert_stream: Statement,
    drop_stream: Statement,
    register_organization: Statement,
    unregister_organization: Statement,
    register_token: Statement,
    revoke_token: Statement,
    record_token_expiry: Statement,
    switch_scim: Statement,
    verify_domain: Statement,
    drop_domain: Statement,
    start_session: Statement,
    end_session: Statement,
    register_account: Statement,
    lock_account: Statement,
    unlock_account: Statement,
    register_membership: Statement,
    keep_role_groups: Statement,
    add_role_groups: Statement,
}

impl Statements {
    async fn prepare(transaction: &Transaction<'_>) -> Result<Statements, StoreError> {
        let texts = [
            "update streams set version = $3 where org_id = $1 and stream_id = $2",
            "delete from streams where org_id = $1 and stream_id = $2",
            "insert into organizations (org_id, name, created_at) values ($1, $2, $3) on conflict do nothing",
            "delete from organizations where org_id = $1",
            "insert into scim_tokens (org_id, token_id, token_sha256, issued_at, expires_at) \
             values ($1, $2, $3, $4, $5) on conflict do nothing",
            "update scim_tokens set revoked_at = $3 \
             where org_id = $1 and token_id = $2 and revoked_at is null",
            "update scim_tokens set expiry_recorded_at = $3 \
             where org_id = $1 and token_id = $2 and expiry_recorded_at is null",
            "update organizations set scim_enabled = $2, scim_changed_at = $3 where org_id = $1",
            "insert into verified_domains (org_id, domain, domain_id, verified_at) \
             values ($1, $2, $3, $4) on conflict do nothing",
            "delete from verified_domains where org_id = $1 and domain = $2",
            "insert into sessions (session_id, account_id, sha256, started_at, expires_at) \
             values ($1, $2, $3, $4, $5) on conflict do nothing",
            "update sessions set ended_at = $3 \
             where session_id = $1 and account_id = $2 and ended_at is null",
            "insert into accounts (account_id, email, first_name, family_name, changed_at) \
             values ($1, $2, $3, $4, $5) on conflict (account_id) do update set \
             email = excluded.email, first_name = excluded.first_name, \
             family_name = excluded.family_name, changed_at = excluded.changed_at",
            "insert into account_locks (account_id, org_id, locks, changed_at) \
             values ($1, $2, $3, $4) on conflict (account_id, org_id) do update set \
             locks = excluded.locks, changed_at = excluded.changed_at",
            "delete from account_locks where account_id = $1 and org_id = $2",
            "insert into memberships (org_id, account_id, role, source, state, entry_id, \
             entry_version, changed_at) values ($1, $2, $3, $4, $5, $6, $7, $8) \
             on conflict (org_id, account_id) do update set role = excluded.role, \
             source = excluded.source, state = excluded.state, entry_id = excluded.entry_id, \
             entry_version = excluded.entry_version, changed_at = excluded.changed_at",
            "delete from role_groups where org_id = $1 and role = $2 and group_id <> all($3)",
            "insert into role_groups (org_id, role, group_id) \
             select $1, $2, group_id from unnest($3::uuid[]) as group_id on conflict do nothing",
        ];
        let prepared =
            try_join_all(texts.iter().map(|text| transaction.prepare_cached(text))).await?;
        let mut prepared = prepared.into_iter();
        let mut next = || prepared.next().expect("one statement per text");
        Ok(Statements {
            revert_stream: next(),
            drop_stream: next(),
            register_organization: next(),
            unregister_organization: next(),
            register_token: next(),
            revoke_token: next(),
            record_token_expiry: next(),
            switch_scim: next(),
            verify_domain: next(),
            drop_domain: next(),
            start_session: next(),
            end_session: next(),
            register_account: next(),
            lock_account: next(),
            unlock_account: next(),
            register_membership: next(),
            keep_role_groups: next(),
            add_role_groups: next(),
        })
    }
}

/// Commits one batch in a constant number of round trips, whatever its size.
/// Each phase is a few set-based statements (registrations, which only the
/// command line makes, go one by one) sent together, and none of them raises
/// an error: conflicts are `on conflict do nothing` and read from what the
/// statement returns, so one refused request never aborts the others.
///
/// 1. lock the log head, read the chain heads, move every stream's version
///    ([`move_streams`]);
/// 2. for the requests whose version held, take claims and registrations
///    ([`take_claims`]);
/// 3. undo what refused requests took, give up released values, insert the
///    events, save the chain heads and the log head ([`write`]); commit.
///
/// Claims are taken before anything is released, so a value released and
/// claimed in the same batch is refused to the claimer (as if it came first).
/// And a request refused for one claim gives back the others it took only in
/// phase 3, so another request of the batch may have been refused one of
/// those; both are answers a concurrent client could get anyway, and neither
/// breaks uniqueness.
pub(super) async fn commit_batch(
    pool: &Pool,
    requests: &[&AppendRequest],
) -> Result<Vec<Result<Appended, AppendError>>, StoreError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let statements = Statements::prepare(&transaction).await?;
    let recorded_at = chain::to_stored_precision(OffsetDateTime::now_utc());
    let mut batch = Batch::new(requests);
    let moved = move_streams(&transaction, &mut batch).await?;
    let taken = take_claims(&transaction, &statements, &mut batch, &recorded_at).await?;
    let outcomes = write(&transaction, &statements, batch, moved, &taken, recorded_at).await?;
    transaction.commit().await?;
    Ok(outcomes)
}

/// The requests of a batch and, as the phases find out, why each is refused.
struct Batch<'r> {
    requests: &'r [&'r AppendRequest],
    /// `None` while the request holds.
    refusals: Vec<Option<AppendError>>,
}

impl<'r> Batch<'r> {
    /// The batch before any statement. Two appends to one stream in one
    /// batch were decided on the same version: only the first can hold.
    fn new(requests: &'r [&'r AppendRequest]) -> Batch<'r> {
        let mut batch = Batch {
            requests,
            refusals: vec![None; requests.len()],
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
}

/// Phase 1: locks the log head, reads the chain heads and moves each stream
/// to its new version where it is still at the version its request was
/// decided on; the other requests are refused.
async fn move_streams(
    transaction: &Transaction<'_>,
    batch: &mut Batch<'_>,
) -> Result<Moved, StoreError> {
    let candidates = |fresh: bool| -> Vec<&AppendRequest> {
        batch
            .holding()
            .filter(|(_, request)| {
                let starts = request.expected_version == 0 && !request.commutes;
                starts == fresh
            })
            .map(|(_, request)| request)
            .collect()
    };
    let (fresh, existing) = (candidates(true), candidates(false));
    let (head, heads, created, extended) = futures::try_join!(
        transaction
            .query_one(
                "select last_position from log_head where id = 1 for update",
                &[]
            )
            .map_err(StoreError::from),
        sets::chain_heads(transaction, batch.requests),
        sets::create_streams(transaction, &fresh),
        sets::extend_streams(transaction, &existing),
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
    })
}

/// What phase 2 took.
struct Taken {
    claimed: HashSet<Claim>,
    /// Whether each request registered its organization's name.
    registered_organization: Vec<bool>,
}

/// Phase 2: takes the claims and writes the registry rows of the requests
/// that hold; a request that could not have one of them is refused.
async fn take_claims(
    transaction: &Transaction<'_>,
    statements: &Statements,
    batch: &mut Batch<'_>,
    recorded_at: &OffsetDateTime,
) -> Result<Taken, StoreError> {
    let requests = batch.requests;
    let mut wanted = Vec::new();
    let mut registrations: Vec<(usize, &Registration)> = Vec::new();
    for (index, request) in batch.holding() {
        wanted.extend(
            request
                .claims
                .iter()
                .map(|key| (request.org_id, key, request.stream_id)),
        );
        registrations.extend(
            request
                .registrations
                .iter()
                .map(|registration| (index, registration)),
        );
    }
    let registering = registrations.iter().map(|(index, registration)| {
        register(
            transaction,
            statements,
            requests[*index],
            registration,
            recorded_at,
        )
    });
    let (claimed, registered) = futures::try_join!(
        sets::take_claims(transaction, &wanted),
        try_join_all(registering).map_err(StoreError::from),
    )?;
    let registered_organization = settle_registrations(batch, &registrations, &registered);
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
    Ok(Taken {
        claimed,
        registered_organization,
    })
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
            | Registration::RoleGroups { .. } => {}
        }
    }
    registered_organization
}

/// The claim `request` makes on `key`.
fn claim(request: &AppendRequest, key: &UniqueKey) -> Claim {
    (request.org_id, key.kind, key.key.clone(), request.stream_id)
}

/// Phase 3: gives back what refused requests took, gives up the values the
/// others release, inserts their events and saves the chain heads and the
/// log head. Returns each request's outcome.
async fn write(
    transaction: &Transaction<'_>,
    statements: &Statements,
    batch: Batch<'_>,
    moved: Moved,
    taken: &Taken,
    recorded_at: OffsetDateTime,
) -> Result<Vec<Result<Appended, AppendError>>, StoreError> {
    let Moved {
        mut position,
        mut heads,
        bases,
    } = moved;
    let mut undone: Vec<Pending<'_>> = Vec::new();
    let mut dropped = Vec::new();
    let mut rows = Vec::new();
    let mut outcomes = Vec::with_capacity(batch.requests.len());
    for (index, (request, refusal)) in batch.requests.iter().zip(batch.refusals).enumerate() {
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
                    request,
                    base,
                    &mut position,
                    &mut heads,
                    recorded_at,
                    &mut rows,
                );
                outcomes.push(Ok(Appended {
                    last_position: position,
                    stream_version: version,
                    recorded_at,
                }));
            }
            // A version conflict took nothing: its stream never moved.
            Some(AppendError::VersionConflict) => outcomes.push(Err(AppendError::VersionConflict)),
            Some(refusal) => {
                undone.extend(undo(
                    transaction,
                    statements,
                    request,
                    bases[index].as_ref(),
                    taken.registered_organization[index],
                ));
                dropped.extend(
                    request
                        .claims
                        .iter()
                        .filter(|key| taken.claimed.contains(&claim(request, key)))
                        .map(|key| (request.org_id, key, request.stream_id)),
                );
                outcomes.push(Err(refusal));
            }
        }
    }
    let head = [&position as &(dyn ToSql + Sync)];
    futures::try_join!(
        try_join_all(undone).map_err(StoreError::from),
        sets::drop_claims(transaction, &dropped),
        sets::insert_rows(transaction, &rows, recorded_at),
        sets::save_chain_heads(transaction, &rows),
        transaction
            .execute("update log_head set last_position = $1 where id = 1", &head)
            .map_err(StoreError::from),
    )?;
    Ok(outcomes)
}

/// Positions and hashes for one request's events; returns its new version.
fn chain_events(
    request: &AppendRequest,
    base: i64,
    position: &mut i64,
    heads: &mut HashMap<Uuid, Vec<u8>>,
    recorded_at: OffsetDateTime,
    rows: &mut Vec<Row>,
) -> i64 {
    let metadata = serde_json::to_string(&request.meta).expect("metadata serializes");
    let mut version = base;
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
        Registration::TokenRevoked { token_id } => run(
            transaction,
            &statements.revoke_token,
            vec![&request.org_id, token_id, recorded_at],
        ),
        Registration::TokenExpired { token_id } => run(
            transaction,
            &statements.record_token_expiry,
            vec![&request.org_id, token_id, recorded_at],
        ),
        Registration::ScimSwitched { enabled } => run(
            transaction,
            &statements.switch_scim,
            vec![&request.org_id, enabled, recorded_at],
        ),
        Registration::DomainVerified { domain_id, domain } => run(
            transaction,
            &statements.verify_domain,
            vec![&request.org_id, domain, domain_id, recorded_at],
        ),
        Registration::DomainDropped { domain } => run(
            transaction,
            &statements.drop_domain,
            vec![&request.org_id, domain],
        ),
        Registration::Session {
            session_id,
            sha256,
            expires_at,
        } => run(
            transaction,
            &statements.start_session,
            vec![
                session_id,
                &request.stream_id,
                sha256,
                recorded_at,
                expires_at,
            ],
        ),
        Registration::SessionEnded { session_id } => run(
            transaction,
            &statements.end_session,
            vec![session_id, &request.stream_id, recorded_at],
        ),
        Registration::Account {
            email,
            first_name,
            family_name,
        } => run(
            transaction,
            &statements.register_account,
            vec![
                &request.stream_id,
                email,
                first_name,
                family_name,
                recorded_at,
            ],
        ),
        Registration::AccountLocks { org_id, locks } if locks.is_empty() => run(
            transaction,
            &statements.unlock_account,
            vec![&request.stream_id, org_id],
        ),
        Registration::AccountLocks { org_id, locks } => run(
            transaction,
            &statements.lock_account,
            vec![&request.stream_id, org_id, locks, recorded_at],
        ),
        Registration::Membership {
            account_id,
            role,
            source,
            state,
            entry_id,
            entry_version,
        } => run(
            transaction,
            &statements.register_membership,
            vec![
                &request.org_id,
                account_id,
                role,
                source,
                state,
                entry_id,
                entry_version,
                recorded_at,
            ],
        ),
        // Two statements that commute: one drops the groups no longer
        // mapped, the other adds the new ones.
        Registration::RoleGroups { role, group_ids } => Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 3] = [&request.org_id, role, group_ids];
            let kept = transaction
                .execute(&statements.keep_role_groups, &params)
                .await?;
            let added = transaction
                .execute(&statements.add_role_groups, &params)
                .await?;
            Ok(kept + added)
        }),
    }
}

/// Gives back the stream version and organization name a refused request
/// took (its claims are dropped with the batch's releases); `base` is the
/// version its events were to follow.
fn undo<'a>(
    transaction: &'a Transaction<'_>,
    statements: &'a Statements,
    request: &'a AppendRequest,
    base: Option<&'a i64>,
    registered_organization: bool,
) -> Vec<Pending<'a>> {
    let mut pending = Vec::new();
    if registered_organization {
        pending.push(run(
            transaction,
            &statements.unregister_organization,
            vec![&request.org_id],
        ));
    }
    match base {
        None => {}
        Some(0) => pending.push(run(
            transaction,
            &statements.drop_stream,
            vec![&request.org_id, &request.stream_id],
        )),
        Some(base) => pending.push(run(
            transaction,
            &statements.revert_stream,
            vec![&request.org_id, &request.stream_id, base],
        )),
    }
    pending
}
