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
use time::OffsetDateTime;
use uuid::Uuid;

use super::registrations::Pending;
use crate::log::append::{AppendRequest, Registration};

const UPSERT_ACCOUNTS: &str = "insert into accounts \
     (account_id, email, first_name, family_name, changed_at) \
     select a.account_id, a.email, a.first_name, a.family_name, $5 \
     from unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) \
          as a(account_id, email, first_name, family_name) \
     on conflict (account_id) do update set email = excluded.email, \
     first_name = excluded.first_name, family_name = excluded.family_name, \
     changed_at = excluded.changed_at";

/// Each row's locks travel as a JSON array: `unnest` cannot give one row an
/// array of its own from a two-dimensional one.
const UPSERT_LOCKS: &str = "insert into account_locks (account_id, org_id, locks, changed_at) \
     select l.account_id, l.org_id, \
            array(select k.lock from json_array_elements_text(l.locks::json) \
                  with ordinality as k(lock, n) order by k.n), $4 \
     from unnest($1::uuid[], $2::uuid[], $3::text[]) as l(account_id, org_id, locks) \
     on conflict (account_id, org_id) do update set locks = excluded.locks, \
     changed_at = excluded.changed_at";

/// Row by row (few: an account leaves its last lock rarely): the
/// `DROP_CLAIM_STATEMENT` note on set-based deletes holds here too.
const DELETE_LOCKS: &str = "delete from account_locks where account_id = $1 and org_id = $2";

const UPSERT_MEMBERSHIPS: &str = "insert into memberships \
     (org_id, account_id, role, source, state, entry_id, entry_version, changed_at) \
     select m.org_id, m.account_id, m.role, m.source, m.state, m.entry_id, m.entry_version, $8 \
     from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], \
                 $7::bigint[]) \
          as m(org_id, account_id, role, source, state, entry_id, entry_version) \
     on conflict (org_id, account_id) do update set role = excluded.role, \
     source = excluded.source, state = excluded.state, entry_id = excluded.entry_id, \
     entry_version = excluded.entry_version, changed_at = excluded.changed_at";

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

/// The statements that write `rows` (each registration with its request),
/// to be sent together with the batch's other registry rows.
pub(super) fn write_sets<'a>(
    client: &'a ClientWrapper,
    rows: &[(&'a AppendRequest, &'a Registration)],
    recorded_at: &'a OffsetDateTime,
) -> Vec<Pending<'a>> {
    let Sets {
        accounts,
        locks,
        memberships,
    } = Sets::of(rows);
    let mut pending = Vec::new();
    if !accounts.is_empty() {
        pending.push(upsert_accounts(client, accounts, recorded_at));
    }
    let (locked, unlocked): (Vec<_>, Vec<_>) =
        locks.into_iter().partition(|(_, locks)| !locks.is_empty());
    if !locked.is_empty() {
        pending.push(upsert_locks(client, locked, recorded_at));
    }
    pending.extend(
        unlocked
            .into_iter()
            .map(|((account_id, org_id), _)| delete_locks(client, account_id, org_id)),
    );
    if !memberships.is_empty() {
        pending.push(upsert_memberships(client, memberships, recorded_at));
    }
    pending
}

fn upsert_accounts<'a>(
    client: &'a ClientWrapper,
    accounts: HashMap<Uuid, Account<'a>>,
    recorded_at: &'a OffsetDateTime,
) -> Pending<'a> {
    let accounts: Vec<_> = accounts.into_iter().collect();
    let ids: Vec<Uuid> = accounts.iter().map(|(id, _)| *id).collect();
    let emails: Vec<&str> = accounts.iter().map(|(_, a)| a.email).collect();
    let first_names: Vec<Option<&str>> = accounts.iter().map(|(_, a)| a.first_name).collect();
    let family_names: Vec<Option<&str>> = accounts.iter().map(|(_, a)| a.family_name).collect();
    Box::pin(async move {
        let statement = client.prepare_cached(UPSERT_ACCOUNTS).await?;
        client
            .execute(
                &statement,
                &[&ids, &emails, &first_names, &family_names, recorded_at],
            )
            .await
    })
}

fn upsert_locks<'a>(
    client: &'a ClientWrapper,
    locked: Vec<((Uuid, Uuid), &'a [String])>,
    recorded_at: &'a OffsetDateTime,
) -> Pending<'a> {
    let accounts: Vec<Uuid> = locked.iter().map(|((account, _), _)| *account).collect();
    let orgs: Vec<Uuid> = locked.iter().map(|((_, org), _)| *org).collect();
    let locks: Vec<String> = locked
        .iter()
        .map(|(_, locks)| serde_json::to_string(locks).expect("strings serialize"))
        .collect();
    Box::pin(async move {
        let statement = client.prepare_cached(UPSERT_LOCKS).await?;
        client
            .execute(&statement, &[&accounts, &orgs, &locks, recorded_at])
            .await
    })
}

fn delete_locks<'a>(client: &'a ClientWrapper, account_id: Uuid, org_id: Uuid) -> Pending<'a> {
    Box::pin(async move {
        let statement = client.prepare_cached(DELETE_LOCKS).await?;
        client.execute(&statement, &[&account_id, &org_id]).await
    })
}

fn upsert_memberships<'a>(
    client: &'a ClientWrapper,
    memberships: HashMap<(Uuid, Uuid), Membership<'a>>,
    recorded_at: &'a OffsetDateTime,
) -> Pending<'a> {
    let memberships: Vec<_> = memberships.into_iter().collect();
    let orgs: Vec<Uuid> = memberships.iter().map(|((org, _), _)| *org).collect();
    let accounts: Vec<Uuid> = memberships.iter().map(|((_, id), _)| *id).collect();
    let roles: Vec<&str> = memberships.iter().map(|(_, m)| m.role).collect();
    let sources: Vec<&str> = memberships.iter().map(|(_, m)| m.source).collect();
    let states: Vec<&str> = memberships.iter().map(|(_, m)| m.state).collect();
    let entries: Vec<Option<Uuid>> = memberships.iter().map(|(_, m)| m.entry_id).collect();
    let versions: Vec<i64> = memberships.iter().map(|(_, m)| m.entry_version).collect();
    Box::pin(async move {
        let statement = client.prepare_cached(UPSERT_MEMBERSHIPS).await?;
        client
            .execute(
                &statement,
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
