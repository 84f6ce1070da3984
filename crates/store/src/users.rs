//! Queries over the `scim_users` read table.

use domain::projection::UserRow;
use scim::{AttrPath, Filter};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::user_filter::{self, InvalidFilter, Param, Sql};
use crate::{Pool, StoreError};

pub(crate) const COLUMNS: &str =
    "user_id, user_name, external_id, active, resource::text, version, created_at, updated_at";

/// Longest filter condition whose statements go into the connection's cache.
const CACHED_CONDITION_LEN: usize = 600;

/// A user as the read table holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub user_id: Uuid,
    pub row: UserRow,
}

/// Which users of an organisation a list asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum UserQuery {
    /// Every user.
    All,
    /// Users that satisfy a filter the store can evaluate.
    Filter(UserFilter),
}

/// A SCIM filter that translates to SQL (checked when it is made).
#[derive(Debug, Clone, PartialEq)]
pub struct UserFilter {
    filter: Filter,
    condition: Sql,
}

impl UserFilter {
    /// Checks that `filter` can be evaluated; the error's text is the
    /// `detail` of a 400 `invalidFilter`.
    pub fn new(filter: Filter) -> Result<UserFilter, InvalidFilter> {
        let condition = user_filter::condition(&filter, 2)?;
        Ok(UserFilter { filter, condition })
    }

    /// The filter as parsed.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The SQL condition over `scim_users`, its parameters numbered from `$2`
    /// (`$1` is the organisation), e.g. to `EXPLAIN` it.
    pub fn condition(&self) -> &Sql {
        &self.condition
    }
}

impl UserQuery {
    /// The query for `filter`, or why the store cannot evaluate it.
    pub fn filter(filter: Filter) -> Result<UserQuery, InvalidFilter> {
        UserFilter::new(filter).map(UserQuery::Filter)
    }
}

/// `sortBy` and `sortOrder`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSort {
    /// The attribute to sort by; any simple or sub-attribute path.
    pub by: AttrPath,
    /// `sortOrder=descending`.
    pub descending: bool,
}

fn from_row(row: &Row) -> Result<UserRecord, StoreError> {
    let (user_id, row) = user_at(row, 0)?;
    Ok(UserRecord { user_id, row })
}

/// The user in a row selected as [`COLUMNS`] from column `at` on.
pub(crate) fn user_at(row: &Row, at: usize) -> Result<(Uuid, UserRow), StoreError> {
    let resource: String = row.get(at + 4);
    let user = UserRow {
        user_name: row.get(at + 1),
        external_id: row.get(at + 2),
        active: row.get(at + 3),
        resource: serde_json::from_str(&resource).map_err(|error| {
            StoreError::Inconsistent(format!("a stored resource is not JSON: {error}"))
        })?,
        version: row.get(at + 5),
        created_at: row.get(at + 6),
        updated_at: row.get(at + 7),
    };
    Ok((row.get(at), user))
}

/// One user of an organisation, if the read table has it.
pub async fn find_user(
    pool: &Pool,
    org_id: Uuid,
    user_id: Uuid,
) -> Result<Option<UserRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from scim_users where org_id = $1 and user_id = $2"
        ))
        .await?;
    client
        .query_opt(&statement, &[&org_id, &user_id])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// A page of an organisation's users in a stable order, and how many match
/// in all. The order is `sort` (ties broken by id), else by id, which is
/// time-ordered.
pub async fn list_users(
    pool: &Pool,
    org_id: Uuid,
    query: &UserQuery,
    sort: Option<&UserSort>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<UserRecord>), StoreError> {
    let client = pool.get().await?;
    let (condition, mut values) = match query {
        UserQuery::All => ("true", Vec::new()),
        UserQuery::Filter(filter) => (
            filter.condition.text.as_str(),
            filter.condition.params.iter().map(Param::as_sql).collect(),
        ),
    };
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&org_id];
    params.append(&mut values);
    // Attribute names and values are parameters, so a short condition has one
    // of few shapes and its statements are worth caching; long ones are
    // prepared afresh, so that odd filters cannot grow every connection's cache.
    let cache = condition.len() <= CACHED_CONDITION_LEN;
    let prepare = |sql: String| {
        let client = &client;
        async move {
            if cache {
                client.prepare_cached(&sql).await
            } else {
                client.prepare(&sql).await
            }
        }
    };
    let count = prepare(format!(
        "select count(*) from scim_users where org_id = $1 and {condition}"
    ))
    .await?;
    let total: i64 = client.query_one(&count, &params).await?.get(0);
    if limit == 0 || offset >= total {
        return Ok((total, Vec::new()));
    }
    let order = user_filter::order_by(
        sort.map(|s| &s.by),
        sort.is_some_and(|s| s.descending),
        params.len() + 1,
    );
    params.extend(order.params.iter().map(Param::as_sql));
    let n = params.len();
    let page = prepare(format!(
        "select {COLUMNS} from scim_users where org_id = $1 and {condition} \
             order by {} offset ${} limit ${}",
        order.text,
        n + 1,
        n + 2
    ))
    .await?;
    params.push(&offset);
    params.push(&limit);
    let rows = client.query(&page, &params).await?;
    let users = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    Ok((total, users))
}
