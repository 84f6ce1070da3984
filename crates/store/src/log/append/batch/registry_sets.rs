//! The registry rows that come many to a batch, written set-based: the
//! accounts, account locks and memberships the linker registers for each
//! user it links (three per new SCIM user). One by one they were the
//! append transaction's most frequent statements, each paying its own bind
//! and executor start inside the one serial stage of the write path; as
//! sets they cost three statements a batch, whatever its size.
//!
//! Within one batch each row's key is written once: the last registration
//! of a key wins, as it did when the rows were written one after another.
//! (A batch holds one request per stream, so two rows of one key are not
//! expected; an upsert that met its key twice would fail the whole batch.)

use std::collections::HashMap;

use deadpool_postgres::ClientWrapper;
use futures::TryFutureExt;
use futures::future::try_join_all;
use time::OffsetDateTime;
use tokio_postgres::Statement;
use uuid::Uuid;

use super::registrations::Pending;
use crate::StoreError;
use crate::log::append::{AppendRequest, Registration, sets};

/// The insert of each kind of row, to which the upsert adds its `on
/// conflict` clause.
macro_rules! insert_accounts {
    () => {
        "insert into accounts (account_id, email, first_name, family_name, changed_at) \
         select a.account_id, a.email, a.first_name, a.family_name, $5 \
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) \
              as a(account_id, email, first_name, family_name)"
    };
}

/// Each row's locks travel as a JSON array: `unnest` cannot give one row an
/// array of its own from a two-dimensional one.
macro_rules! insert_locks {
    () => {
        "insert into account_locks (account_id, org_id, locks, changed_at) \
         select l.account_id, l.org_id, \
                array(select k.lock from json_array_elements_text(l.locks::json) \
                      with ordinality as k(lock, n) order by k.n), $4 \
         from unnest($1::uuid[], $2::uuid[], $3::text[]) as l(account_id, org_id, locks)"
    };
}

macro_rules! insert_memberships {
    () => {
        "insert into memberships \
         (org_id, account_id, role, source, state, entry_id, entry_version, changed_at) \
         select m.org_id, m.account_id, m.role, m.source, m.state, m.entry_id, \
                m.entry_version, $8 \
         from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], \
                     $7::bigint[]) \
              as m(org_id, account_id, role, source, state, entry_id, entry_version)"
    };
}

const INSERT_ACCOUNTS: &str = insert_accounts!();
const UPSERT_ACCOUNTS: &str = concat!(
    insert_accounts!(),
    " on conflict (account_id) do update set email = excluded.email, \
     first_name = excluded.first_name, family_name = excluded.family_name, \
     changed_at = excluded.changed_at"
);

const INSERT_LOCKS: &str = insert_locks!();
const UPSERT_LOCKS: &str = concat!(
    insert_locks!(),
    " on conflict (account_id, org_id) do update set locks = excluded.locks, \
     changed_at = excluded.changed_at"
);

const INSERT_MEMBERSHIPS: &str = insert_memberships!();
const UPSERT_MEMBERSHIPS: &str = concat!(
    insert_memberships!(),
    " on conflict (org_id, account_id) do update set role = excluded.role, \
     source = excluded.source, state = excluded.state, entry_id = excluded.entry_id, \
     entry_version = excluded.entry_version, changed_at = excluded.changed_at"
);

/// Row by row (few: an account leaves its last lock rarely): the
/// `DROP_CLAIM_STATEMENT` note on set-based deletes holds here too.
const DELETE_LOCKS: &str = "delete from account_locks where account_id = $1 and org_id = $2";

/// The statements that write each kind of row: plain inserts, or upserts.
struct KindStatements {
    accounts: Statement,
    locks: Statement,
    memberships: Statement,
}

/// Every statement of the module (`batch::prepared`: prepared before the
/// batch begins, so that its new rows go out between their savepoint and
/// its release, [`write_sets`]).
pub(super) struct SetStatements {
    insert: KindStatements,
    upsert: KindStatements,
    delete_locks: Statement,
}

impl SetStatements {
    pub(super) async fn prepare(client: &ClientWrapper) -> Result<SetStatements, StoreError> {
        let (accounts, locks, memberships, accounts_up, locks_up, memberships_up, delete_locks) = futures::try_join!(
            client.prepare_cached(INSERT_ACCOUNTS),
            client.prepare_cached(INSERT_LOCKS),
            client.prepare_cached(INSERT_MEMBERSHIPS),
            client.prepare_cached(UPSERT_ACCOUNTS),
            client.prepare_cached(UPSERT_LOCKS),
            client.prepare_cached(UPSERT_MEMBERSHIPS),
            client.prepare_cached(DELETE_LOCKS),
        )?;
        Ok(SetStatements {
            insert: KindStatements {
                accounts,
                locks,
                memberships,
            },
            upsert: KindStatements {
                accounts: accounts_up,
                locks: locks_up,
                memberships: memberships_up,
            },
            delete_locks,
        })
    }
}

/// Whether a registration is written with the batch's others of its kind.
pub(super) fn is_written_as_set(registration: &Registration) -> bool {
    matches!(
        registration,
        Registration::Account { .. }
            | Registration::AccountLocks { .. }
            | Registration::Membership { .. }
    )
}

/// The batch's rows of each kind, one per key, the last registration of a
/// key kept.
#[derive(Default)]
struct Sets<'a> {
    accounts: HashMap<Uuid, Account<'a>>,
    locks: HashMap<(Uuid, Uuid), &'a [String]>,
    memberships: HashMap<(Uuid, Uuid), Membership<'a>>,
}

struct Account<'a> {
    email: &'a str,
    first_name: Option<&'a str>,
    family_name: Option<&'a str>,
}

struct Membership<'a> {
    role: &'a str,
    source: &'a str,
    state: &'a str,
    entry_id: Option<Uuid>,
    entry_version: i64,
}

impl<'a> Sets<'a> {
    fn of(rows: &[(&'a AppendRequest, &'a Registration)]) -> Sets<'a> {
        let mut sets = Sets::default();
        for (request, registration) in rows {
            match registration {
                Registration::Account {
                    email,
                    first_name,
                    family_name,
                } => {
                    sets.accounts.insert(
                        request.stream_id,
                        Account {
                            email,
                            first_name: first_name.as_deref(),
                            family_name: family_name.as_deref(),
                        },
                    );
                }
                Registration::AccountLocks { org_id, locks } => {
                    sets.locks.insert((request.stream_id, *org_id), locks);
                }
                Registration::Membership {
                    account_id,
                    role,
                    source,
                    state,
                    entry_id,
                    entry_version,
                } => {
                    sets.memberships.insert(
                        (request.org_id, *account_id),
                        Membership {
                            role,
                            source,
                            state,
                            entry_id: *entry_id,
                            entry_version: *entry_version,
                        },
                    );
                }
                other => unreachable!("{other:?} is written row by row"),
            }
        }
        sets
    }
}

/// Writes `rows` (each registration with its request), sent after the
/// batch's other registry rows (`others`, pipelined first). The rows of
/// requests that start their stream are new: a stream's rows are written
/// with its appends, so before its first there are none. They are written
/// with plain inserts ([`sets::expecting_free`]), last, under a savepoint;
/// a row there all the same (an owner's membership, written with the
/// organization's creation, meets the first append of the membership's
/// stream) rolls them back to it, and they are upserted as the others are.
pub(super) async fn write_sets<'a>(
    client: &'a ClientWrapper,
    statements: &'a SetStatements,
    rows: &[(&'a AppendRequest, &'a Registration)],
    others: Vec<Pending<'a>>,
    recorded_at: &'a OffsetDateTime,
) -> Result<(), StoreError> {
    let (new, changed): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|(request, _)| request.starts_its_stream());
    let (new, changed) = (Sets::of(&new), Sets::of(&changed));
    let mut writing = others;
    let delete_locks = &statements.delete_locks;
    writing.extend(changed.write(client, (&statements.upsert, delete_locks), recorded_at));
    let attempt = try_join_all(new.write(client, (&statements.insert, delete_locks), recorded_at));
    let instead =
        || try_join_all(new.write(client, (&statements.upsert, delete_locks), recorded_at));
    futures::try_join!(try_join_all(writing).map_err(StoreError::from), async {
        if new.is_empty() {
            return Ok(Vec::new());
        }
        sets::expecting_free(client, "new_registry_rows", attempt, instead).await
    },)?;
    Ok(())
}

impl<'a> Sets<'a> {
    fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.locks.is_empty() && self.memberships.is_empty()
    }

    /// The statements that write these rows with `kind` (inserts or
    /// upserts); an account left without locks loses its row
    /// (`delete_locks`).
    fn write(
        &self,
        client: &'a ClientWrapper,
        (kind, delete_locks): (&'a KindStatements, &'a Statement),
        recorded_at: &'a OffsetDateTime,
    ) -> Vec<Pending<'a>> {
        let mut pending = Vec::new();
        if !self.accounts.is_empty() {
            pending.push(write_accounts(
                client,
                &kind.accounts,
                &self.accounts,
                recorded_at,
            ));
        }
        let (locked, unlocked): (Vec<_>, Vec<_>) =
            self.locks.iter().partition(|(_, locks)| !locks.is_empty());
        if !locked.is_empty() {
            pending.push(write_locks(client, &kind.locks, locked, recorded_at));
        }
        pending.extend(unlocked.into_iter().map(|(&(account_id, org_id), _)| {
            Box::pin(async move { client.execute(delete_locks, &[&account_id, &org_id]).await })
                as Pending<'a>
        }));
        if !self.memberships.is_empty() {
            pending.push(write_memberships(
                client,
                &kind.memberships,
                &self.memberships,
                recorded_at,
            ));
        }
        pending
    }
}

fn write_accounts<'a>(
    client: &'a ClientWrapper,
    statement: &'a Statement,
    accounts: &HashMap<Uuid, Account<'a>>,
    recorded_at: &'a OffsetDateTime,
) -> Pending<'a> {
    let rows: Vec<(&Uuid, &Account)> = accounts.iter().collect();
    let ids: Vec<Uuid> = rows.iter().map(|(id, _)| **id).collect();
    let emails: Vec<&str> = rows.iter().map(|(_, a)| a.email).collect();
    let first_names: Vec<Option<&str>> = rows.iter().map(|(_, a)| a.first_name).collect();
    let family_names: Vec<Option<&str>> = rows.iter().map(|(_, a)| a.family_name).collect();
    Box::pin(async move {
        client
            .execute(
                statement,
                &[&ids, &emails, &first_names, &family_names, recorded_at],
            )
            .await
    })
}

fn write_locks<'a>(
    client: &'a ClientWrapper,
    statement: &'a Statement,
    locked: Vec<(&(Uuid, Uuid), &&'a [String])>,
    recorded_at: &'a OffsetDateTime,
) -> Pending<'a> {
    let accounts: Vec<Uuid> = locked.iter().map(|((account, _), _)| *account).collect();
    let orgs: Vec<Uuid> = locked.iter().map(|((_, org), _)| *org).collect();
    let locks: Vec<String> = locked
        .iter()
        .map(|(_, locks)| serde_json::to_string(locks).expect("strings serialize"))
        .collect();
    Box::pin(async move {
        client
            .execute(statement, &[&accounts, &orgs, &locks, recorded_at])
            .await
    })
}

fn write_memberships<'a>(
    client: &'a ClientWrapper,
    statement: &'a Statement,
    memberships: &HashMap<(Uuid, Uuid), Membership<'a>>,
    recorded_at: &'a OffsetDateTime,
) -> Pending<'a> {
    let rows: Vec<(&(Uuid, Uuid), &Membership)> = memberships.iter().collect();
    let orgs: Vec<Uuid> = rows.iter().map(|((org, _), _)| *org).collect();
    let accounts: Vec<Uuid> = rows.iter().map(|((_, id), _)| *id).collect();
    let roles: Vec<&str> = rows.iter().map(|(_, m)| m.role).collect();
    let sources: Vec<&str> = rows.iter().map(|(_, m)| m.source).collect();
    let states: Vec<&str> = rows.iter().map(|(_, m)| m.state).collect();
    let entries: Vec<Option<Uuid>> = rows.iter().map(|(_, m)| m.entry_id).collect();
    let versions: Vec<i64> = rows.iter().map(|(_, m)| m.entry_version).collect();
    Box::pin(async move {
        client
            .execute(
                statement,
                &[
                    &orgs,
                    &accounts,
                    &roles,
                    &sources,
                    &states,
                    &entries,
                    &versions,
                    recorded_at,
                ],
            )
            .await
    })
}
