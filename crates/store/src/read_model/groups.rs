//! Queries over `scim_groups` and `scim_group_members`.

use std::collections::{HashMap, HashSet};

use domain::group::{Member, MemberFacts, MemberKind};
use domain::read_model::GroupRow;
use futures::{StreamExt, pin_mut};
use scim::{AttrPath, Filter};
use tokio::sync::mpsc;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::filter::groups as group_filter;
use super::filter::sql::{InvalidFilter, Sql};
use super::page::{Listing, read_page};
use crate::{Pool, StoreError};

/// What a group is read from, in the order [`group_at`] reads it.
pub(crate) const COLUMNS: &str =
    "group_id, display_name, external_id, resource::text, version, created_at, updated_at";

/// Members sent per chunk when a group's whole member list is streamed.
const MEMBER_CHUNK: usize = 2_000;

/// A group as the read table holds it (members are apart).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    pub group_id: Uuid,
    pub row: GroupRow,
}

/// Which groups of an organization a list asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupQuery {
    All,
    /// Groups that satisfy a filter (checked to translate when made).
    Filter(Sql),
}

impl GroupQuery {
    /// The query for `filter`, or why the store cannot evaluate it.
    pub fn filter(filter: &Filter) -> Result<GroupQuery, InvalidFilter> {
        group_filter::condition(filter, 2).map(GroupQuery::Filter)
    }
}

/// `sortBy`/`sortOrder` on groups, checked when made.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSort(String);

impl GroupSort {
    /// The order for `sortBy`/`sortOrder`, or why groups cannot sort so.
    pub fn new(by: &AttrPath, descending: bool) -> Result<GroupSort, InvalidFilter> {
        group_filter::order_by(Some(by), descending).map(GroupSort)
    }
}

fn from_row(row: &Row) -> Result<GroupRecord, StoreError> {
    let (group_id, row) = group_at(row, 0)?;
    Ok(GroupRecord { group_id, row })
}

/// The group in a row selected as [`COLUMNS`] from column `at` on.
pub(crate) fn group_at(row: &Row, at: usize) -> Result<(Uuid, GroupRow), StoreError> {
    let resource: String = row.get(at + 3);
    let group = GroupRow {
        display_name: row.get(at + 1),
        external_id: row.get(at + 2),
        resource: serde_json::from_str(&resource).map_err(|error| {
            StoreError::Inconsistent(format!("a stored group is not JSON: {error}"))
        })?,
        version: row.get(at + 4),
        created_at: row.get(at + 5),
        updated_at: row.get(at + 6),
    };
    Ok((row.get(at), group))
}

/// One group of an organization, if the read table has it.
pub async fn find_group(
    pool: &Pool,
    org_id: Uuid,
    group_id: Uuid,
) -> Result<Option<GroupRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from scim_groups where org_id = $1 and group_id = $2"
        ))
        .await?;
    client
        .query_opt(&statement, &[&org_id, &group_id])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// A page of an organization's groups in a stable order, and how many match.
pub async fn list_groups(
    pool: &Pool,
    org_id: Uuid,
    query: &GroupQuery,
    sort: Option<&GroupSort>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<GroupRecord>), StoreError> {
    let listing = Listing {
        table: "scim_groups",
        columns: COLUMNS,
        condition: match query {
            GroupQuery::All => None,
            GroupQuery::Filter(sql) => Some(sql),
        },
    };
    let order = |_| Sql {
        text: sort.map_or("group_id", |sort| sort.0.as_str()).to_owned(),
        params: Vec::new(),
    };
    let (total, rows) = read_page(pool, org_id, listing, order, offset, limit).await?;
    let groups = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    Ok((total, groups))
}

/// The version of a group the read table holds, if it holds the group.
pub async fn projected_group_version(
    pool: &Pool,
    org_id: Uuid,
    group_id: Uuid,
) -> Result<Option<i64>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("select version from scim_groups where org_id = $1 and group_id = $2")
        .await?;
    let row = client.query_opt(&statement, &[&org_id, &group_id]).await?;
    Ok(row.map(|row| row.get(0)))
}

/// What a group decision must know about members (see
/// [`domain::group::GroupPlan`]): which of `named` are members now (every
/// member when `every`), and which of `named` are users or groups of the
/// organization. Costs what is named, not the group's size, unless `every`.
pub async fn member_facts(
    pool: &Pool,
    org_id: Uuid,
    group_id: Uuid,
    named: &[Uuid],
    every: bool,
) -> Result<MemberFacts, StoreError> {
    if named.is_empty() && !every {
        return Ok(MemberFacts::default());
    }
    let client = pool.get().await?;
    let (current, existing) = futures::try_join!(
        async {
            if every {
                let statement = client
                    .prepare_cached(
                        "select member_id from scim_group_members \
                         where org_id = $1 and group_id = $2",
                    )
                    .await?;
                client.query(&statement, &[&org_id, &group_id]).await
            } else {
                let statement = client
                    .prepare_cached(
                        "select member_id from scim_group_members \
                         where org_id = $1 and group_id = $2 and member_id = any($3)",
                    )
                    .await?;
                client
                    .query(&statement, &[&org_id, &group_id, &named])
                    .await
            }
        },
        async {
            let statement = client
                .prepare_cached(
                    "select user_id, 'User' from scim_users where org_id = $1 and user_id = any($2) \
                     union all \
                     select group_id, 'Group' from scim_groups where org_id = $1 and group_id = any($2)",
                )
                .await?;
            client.query(&statement, &[&org_id, &named]).await
        },
    )?;
    let current: HashSet<Uuid> = current.iter().map(|row| row.get(0)).collect();
    let existing: HashMap<Uuid, MemberKind> = existing
        .iter()
        .filter_map(|row| Some((row.get(0), MemberKind::parse(row.get(1))?)))
        .collect();
    Ok(MemberFacts { current, existing })
}

/// The members of the given groups (for list responses), by group.
pub async fn members_of(
    pool: &Pool,
    org_id: Uuid,
    group_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Member>>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select group_id, member_id, member_type, display from scim_group_members \
             where org_id = $1 and group_id = any($2) order by group_id, member_id",
        )
        .await?;
    let rows = client.query(&statement, &[&org_id, &group_ids]).await?;
    let mut members: HashMap<Uuid, Vec<Member>> = HashMap::new();
    for row in &rows {
        if let Some(member) = member(row, 1) {
            members.entry(row.get(0)).or_default().push(member);
        }
    }
    Ok(members)
}

fn member(row: &Row, first: usize) -> Option<Member> {
    Some(Member {
        value: row.get(first),
        kind: MemberKind::parse(row.get(first + 1))?,
        display: row.get(first + 2),
    })
}

/// Streams a group's members in chunks, read from one snapshot through a
/// cursor: memory stays bounded by the chunk and the channel, whatever the
/// group's size. The receiver ends after the last chunk, or with an error.
pub fn stream_members(
    pool: Pool,
    org_id: Uuid,
    group_id: Uuid,
) -> mpsc::Receiver<Result<Vec<Member>, StoreError>> {
    let (chunks, receiver) = mpsc::channel(2);
    tokio::spawn(async move {
        let sent = send_members(&pool, org_id, group_id, &chunks).await;
        if let Err(error) = sent {
            let _ = chunks.send(Err(error)).await;
        }
    });
    receiver
}

async fn send_members(
    pool: &Pool,
    org_id: Uuid,
    group_id: Uuid,
    chunks: &mpsc::Sender<Result<Vec<Member>, StoreError>>,
) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select member_id, member_type, display from scim_group_members \
             where org_id = $1 and group_id = $2 order by member_id",
        )
        .await?;
    let params: [&(dyn ToSql + Sync); 2] = [&org_id, &group_id];
    let rows = client.query_raw(&statement, params).await?;
    pin_mut!(rows);
    let mut chunk = Vec::with_capacity(MEMBER_CHUNK);
    while let Some(row) = rows.next().await {
        chunk.extend(member(&row?, 0));
        if chunk.len() == MEMBER_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(MEMBER_CHUNK));
            if chunks.send(Ok(full)).await.is_err() {
                // The client went away; stop reading.
                return Ok(());
            }
        }
    }
    if !chunk.is_empty() {
        let _ = chunks.send(Ok(chunk)).await;
    }
    Ok(())
}

/// A group a user belongs to, directly or through groups in groups.
#[derive(Debug, Clone, PartialEq)]
pub struct UserGroup {
    pub group_id: Uuid,
    pub display_name: String,
    /// Whether the user is a member of the group itself (else of a group in it).
    pub direct: bool,
}

/// The groups of each of `user_ids`, direct and indirect (RFC 7643 §4.1.2).
/// Cycles of groups in groups end: each (user, group) pair is reached once.
pub async fn groups_of_users(
    pool: &Pool,
    org_id: Uuid,
    user_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<UserGroup>>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "with recursive reach(user_id, group_id, direct) as ( \
                 select member_id, group_id, true from scim_group_members \
                  where org_id = $1 and member_id = any($2) \
                 union \
                 select r.user_id, m.group_id, false from reach r \
                   join scim_group_members m on m.org_id = $1 and m.member_id = r.group_id \
             ) \
             select r.user_id, r.group_id, g.display_name, bool_or(r.direct) \
               from reach r join scim_groups g on g.org_id = $1 and g.group_id = r.group_id \
              group by r.user_id, r.group_id, g.display_name \
              order by r.user_id, g.display_name, r.group_id",
        )
        .await?;
    let rows = client.query(&statement, &[&org_id, &user_ids]).await?;
    let mut groups: HashMap<Uuid, Vec<UserGroup>> = HashMap::new();
    for row in &rows {
        groups.entry(row.get(0)).or_default().push(UserGroup {
            group_id: row.get(1),
            display_name: row.get(2),
            direct: row.get(3),
        });
    }
    Ok(groups)
}
