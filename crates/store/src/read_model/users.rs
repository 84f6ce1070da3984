//! Queries over the `scim_users` read table.

use domain::read_model::UserRow;
use scim::{AttrPath, Filter};
use tokio_postgres::Row;
use uuid::Uuid;

use super::filter::sql::{InvalidFilter, Sql};
use super::filter::users as user_filter;
use super::page::{Listing, read_page};
use crate::{Pool, StoreError};

/// What a user is read from, in the order [`user_at`] reads it.
pub(crate) const COLUMNS: &str =
    "user_id, user_name, external_id, active, resource::text, version, created_at, updated_at";

/// A user as the read table holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub user_id: Uuid,
    pub row: UserRow,
}

/// Which users of an organization a list asks for.
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
    /// (`$1` is the organization), e.g. to `EXPLAIN` it.
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

/// One user of an organization, if the read table has it.
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

/// A page of an organization's users in a stable order, and how many match
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
    let listing = Listing {
        table: "scim_users",
        columns: COLUMNS,
        condition: match query {
            UserQuery::All => None,
            UserQuery::Filter(filter) => Some(&filter.condition),
        },
    };
    let order = |first| {
        user_filter::order_by(
            sort.map(|s| &s.by),
            sort.is_some_and(|s| s.descending),
            first,
        )
    };
    let (total, rows) = read_page(pool, org_id, listing, order, offset, limit).await?;
    let users = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    Ok((total, users))
}
