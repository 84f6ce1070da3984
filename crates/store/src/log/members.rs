//! The write-side registry of accounts and memberships (V0013): who is a
//! member of which organization, with which role and locks. Rows are written
//! only inside appends (`Registration::Account`, `AccountLocks`,
//! `Membership`, `RoleGroups`), so they always agree with the log; the
//! owners' operations decide on them, with the stream's version read first
//! so that any change after it makes the append conflict.

use std::sync::LazyLock;

use domain::account::{ACCOUNTS, EMAIL_CLAIM};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{Pool, StoreError};

/// A membership as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub org_id: Uuid,
    pub account_id: Uuid,
    pub role: String,
    pub source: String,
    pub state: String,
    pub entry_id: Option<Uuid>,
    pub entry_version: i64,
    pub changed_at: OffsetDateTime,
}

const MEMBERSHIP: &str =
    "m.org_id, m.account_id, m.role, m.source, m.state, m.entry_id, m.entry_version, m.changed_at";

fn membership(row: &Row) -> MembershipRecord {
    MembershipRecord {
        org_id: row.get(0),
        account_id: row.get(1),
        role: row.get(2),
        source: row.get(3),
        state: row.get(4),
        entry_id: row.get(5),
        entry_version: row.get(6),
        changed_at: row.get(7),
    }
}

/// The membership in a row's first columns, where a left join found one.
fn joined_membership(row: &Row) -> Option<MembershipRecord> {
    let org_id: Option<Uuid> = row.get(0);
    org_id.map(|_| membership(row))
}

/// An account as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub account_id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub family_name: Option<String>,
}

/// A member as owners list them: the membership, its account, the locks the
/// organization holds of it and the roles its SCIM groups give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberListing {
    pub membership: MembershipRecord,
    pub account: AccountRecord,
    pub locks: Vec<String>,
    pub group_roles: Vec<String>,
}

/// The version of a stream now (0: it has no events).
pub async fn stream_version(pool: &Pool, org_id: Uuid, stream_id: Uuid) -> Result<i64, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("select version from streams where org_id = $1 and stream_id = $2")
        .await?;
    Ok(client
        .query_opt(&statement, &[&org_id, &stream_id])
        .await?
        .map_or(0, |row| row.get(0)))
}

/// The account `account_id`, if it exists.
pub async fn find_account(
    pool: &Pool,
    account_id: Uuid,
) -> Result<Option<AccountRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select account_id, email, first_name, family_name from accounts where account_id = $1",
        )
        .await?;
    Ok(client
        .query_opt(&statement, &[&account_id])
        .await?
        .map(|row| AccountRecord {
            account_id: row.get(0),
            email: row.get(1),
            first_name: row.get(2),
            family_name: row.get(3),
        }))
}

/// `account_id`'s membership of `org_id`, if it ever had one.
pub async fn find_membership(
    pool: &Pool,
    org_id: Uuid,
    account_id: Uuid,
) -> Result<Option<MembershipRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {MEMBERSHIP} from memberships m where m.org_id = $1 and m.account_id = $2"
        ))
        .await?;
    Ok(client
        .query_opt(&statement, &[&org_id, &account_id])
        .await?
        .as_ref()
        .map(membership))
}

/// What the locks an organization holds of an account depend on, besides
/// the organization's settings: read in one statement, because the linker
/// converges them after every membership change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockFacts {
    /// `account_id`'s membership of `org_id`, if it ever had one.
    pub membership: Option<MembershipRecord>,
    /// The account's email, if the account exists.
    pub email: Option<String>,
    /// The domains `org_id` has verified (lowercase, no trailing dot).
    pub verified_domains: Vec<String>,
    /// The locks `org_id` holds of the account, as its last
    /// `AccountLocked` or `AccountUnlocked` left them (none: never locked).
    pub locks: Vec<String>,
}

/// [`LockFacts`] of `account_id` in `org_id`.
pub async fn lock_facts(
    pool: &Pool,
    org_id: Uuid,
    account_id: Uuid,
) -> Result<LockFacts, StoreError> {
    let mut facts = lock_facts_of(pool, &[(org_id, account_id)]).await?;
    Ok(facts.pop().expect("one row for each pair asked"))
}

/// [`LockFacts`] of each (organization, account) pair, in the order asked,
/// in one statement: a linker pass reads those of all its events at once.
pub async fn lock_facts_of(
    pool: &Pool,
    pairs: &[(Uuid, Uuid)],
) -> Result<Vec<LockFacts>, StoreError> {
    let (org_ids, account_ids): (Vec<Uuid>, Vec<Uuid>) = pairs.iter().copied().unzip();
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {MEMBERSHIP}, \
             (select a.email from accounts a where a.account_id = q.account_id), \
             array(select v.domain from verified_domains v where v.org_id = q.org_id), \
             coalesce((select l.locks from account_locks l \
                       where l.account_id = q.account_id and l.org_id = q.org_id), '{{}}') \
             from unnest($1::uuid[], $2::uuid[]) with ordinality as q(org_id, account_id, n) \
             left join memberships m on m.org_id = q.org_id and m.account_id = q.account_id \
             order by q.n"
        ))
        .await?;
    let rows = client.query(&statement, &[&org_ids, &account_ids]).await?;
    Ok(rows
        .iter()
        .map(|row| LockFacts {
            membership: joined_membership(row),
            email: row.get(8),
            verified_domains: row.get(9),
            locks: row.get(10),
        })
        .collect())
}

/// What the linker reads of a SCIM entry before it links it, in one
/// statement: the membership that follows it, and for the email it has,
/// the account that holds that email and whether the organization
/// verified its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFacts {
    pub membership: Option<MembershipRecord>,
    /// The account that holds the entry's email.
    pub account_of_email: Option<Uuid>,
    /// Whether the organization verified the email's domain (never, for an
    /// entry without an email).
    pub domain_verified: bool,
}

/// A SCIM entry the linker asks [`EntryFacts`] of: SCIM user `entry_id` of
/// `org_id`, whose email has the claim key `email_key`
/// (`domain::account::email_key`) and the domain `email_domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryQuestion {
    pub org_id: Uuid,
    pub entry_id: Uuid,
    pub email_key: String,
    pub email_domain: String,
}

/// [`EntryFacts`] of one entry.
pub async fn entry_facts(pool: &Pool, question: EntryQuestion) -> Result<EntryFacts, StoreError> {
    let mut facts = entry_facts_of(pool, std::slice::from_ref(&question)).await?;
    Ok(facts.pop().expect("one row for each entry asked"))
}

/// [`EntryFacts`] of each entry, in the order asked, in one statement: a
/// linker pass reads those of all its new entries at once.
pub async fn entry_facts_of(
    pool: &Pool,
    questions: &[EntryQuestion],
) -> Result<Vec<EntryFacts>, StoreError> {
    let org_ids: Vec<Uuid> = questions.iter().map(|question| question.org_id).collect();
    let entry_ids: Vec<Uuid> = questions.iter().map(|question| question.entry_id).collect();
    let email_keys: Vec<&str> = questions.iter().map(|q| q.email_key.as_str()).collect();
    let email_domains: Vec<&str> = questions.iter().map(|q| q.email_domain.as_str()).collect();
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {MEMBERSHIP}, \
             (select c.owner from unique_claims c \
              where c.org_id = $1 and c.kind = $2 and c.key = q.email_key), \
             q.email_domain <> '' and exists(select from verified_domains v \
                    where v.org_id = q.org_id and v.domain = q.email_domain) \
             from unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[]) with ordinality \
                  as q(org_id, entry_id, email_key, email_domain, n) \
             left join lateral ({}) m on true \
             order by q.n",
            membership_of_entry_statement("q.org_id", "q.entry_id")
        ))
        .await?;
    let rows = client
        .query(
            &statement,
            &[
                &ACCOUNTS,
                &EMAIL_CLAIM,
                &org_ids,
                &entry_ids,
                &email_keys,
                &email_domains,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| EntryFacts {
            membership: joined_membership(row),
            account_of_email: row.get(8),
            domain_verified: row.get(9),
        })
        .collect())
}

/// The membership that follows SCIM user `entry_id` of organization
/// `org_id` (SQL expressions): the latest, should an entry have been linked
/// twice.
fn membership_of_entry_statement(org_id: &str, entry_id: &str) -> String {
    format!(
        "select {MEMBERSHIP} from memberships m where m.org_id = {org_id} \
         and m.entry_id = {entry_id} order by m.changed_at desc limit 1"
    )
}

/// [`membership_of_entry_statement`] of `$1` and `$2`.
static MEMBERSHIP_OF_ENTRY: LazyLock<String> =
    LazyLock::new(|| membership_of_entry_statement("$1", "$2"));

/// The membership that follows the SCIM user `entry_id`, if one does.
pub async fn membership_of_entry(
    pool: &Pool,
    org_id: Uuid,
    entry_id: Uuid,
) -> Result<Option<MembershipRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(&MEMBERSHIP_OF_ENTRY).await?;
    Ok(client
        .query_opt(&statement, &[&org_id, &entry_id])
        .await?
        .as_ref()
        .map(membership))
}

/// Counts an organization's active owners from the partial index that
/// holds only them (V0026): members add nothing to the count's cost.
pub const ACTIVE_OWNERS_STATEMENT: &str = "select count(*) from memberships \
     where org_id = $1 and role = 'owner' and state = 'active'";

/// How many active owners `org_id` has.
pub async fn active_owners(pool: &Pool, org_id: Uuid) -> Result<usize, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(ACTIVE_OWNERS_STATEMENT).await?;
    let count: i64 = client.query_one(&statement, &[&org_id]).await?.get(0);
    Ok(usize::try_from(count).unwrap_or(0))
}

/// Every membership of `account_id`, with its organization's name.
pub async fn memberships_of_account(
    pool: &Pool,
    account_id: Uuid,
) -> Result<Vec<(MembershipRecord, String)>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {MEMBERSHIP}, o.name from memberships m \
             join organizations o on o.org_id = m.org_id \
             where m.account_id = $1 order by o.name"
        ))
        .await?;
    Ok(client
        .query(&statement, &[&account_id])
        .await?
        .iter()
        .map(|row| (membership(row), row.get(8)))
        .collect())
}

/// Every membership of `org_id` that a SCIM entry manages.
pub async fn scim_memberships(
    pool: &Pool,
    org_id: Uuid,
) -> Result<Vec<MembershipRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {MEMBERSHIP} from memberships m where m.org_id = $1 and m.source = 'scim'"
        ))
        .await?;
    Ok(client
        .query(&statement, &[&org_id])
        .await?
        .iter()
        .map(membership)
        .collect())
}

/// The members of `org_id` (removed ones too, for owners to see), by email.
///
/// A member's group roles come from the groups that contain its SCIM entry
/// directly or through nested groups, as the read tables hold them now.
pub async fn list_members(pool: &Pool, org_id: Uuid) -> Result<Vec<MemberListing>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "with recursive containing (entry_id, group_id) as ( \
                 select g.member_id, g.group_id from scim_group_members g \
                 join memberships m on m.org_id = g.org_id and m.entry_id = g.member_id \
                 where g.org_id = $1 \
               union \
                 select c.entry_id, g.group_id from containing c \
                 join scim_group_members g on g.org_id = $1 and g.member_id = c.group_id \
             ), \
             group_roles as ( \
                 select c.entry_id, array_agg(distinct r.role order by r.role) as roles \
                 from containing c join role_groups r on r.org_id = $1 and r.group_id = c.group_id \
                 group by c.entry_id \
             ) \
             select {MEMBERSHIP}, a.email, a.first_name, a.family_name, \
                    coalesce(l.locks, '{{}}'), coalesce(gr.roles, '{{}}') \
             from memberships m \
             join accounts a on a.account_id = m.account_id \
             left join account_locks l on l.account_id = m.account_id and l.org_id = m.org_id \
             left join group_roles gr on gr.entry_id = m.entry_id \
             where m.org_id = $1 order by lower(a.email)"
        ))
        .await?;
    Ok(client
        .query(&statement, &[&org_id])
        .await?
        .iter()
        .map(|row| {
            let membership = membership(row);
            MemberListing {
                account: AccountRecord {
                    account_id: membership.account_id,
                    email: row.get(8),
                    first_name: row.get(9),
                    family_name: row.get(10),
                },
                membership,
                locks: row.get(11),
                group_roles: row.get(12),
            }
        })
        .collect())
}

/// The groups mapped to each role of `org_id`, by role.
pub async fn role_groups(pool: &Pool, org_id: Uuid) -> Result<Vec<(String, Uuid)>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select role, group_id from role_groups where org_id = $1 order by role, group_id",
        )
        .await?;
    Ok(client
        .query(&statement, &[&org_id])
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}
