//! Queries over the `scim_users` read table.

use std::collections::BTreeMap;

use domain::projection::UserRow;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::{Pool, StoreError};

const COLUMNS: &str =
    "user_id, user_name, external_id, active, resource::text, version, created_at, updated_at";

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
    /// `userName eq`, compared case-insensitively.
    UserNameEq(String),
    /// `externalId eq`, compared exactly.
    ExternalIdEq(String),
    /// `id eq`.
    IdEq(Uuid),
    /// A filter that no user can match (e.g. `id eq` with a malformed id).
    Nothing,
}

impl UserQuery {
    fn condition(&self) -> (&'static str, Option<Box<dyn ToSql + Sync + Send>>) {
        match self {
            UserQuery::All => ("true", None),
            UserQuery::UserNameEq(name) => {
                ("lower(user_name) = lower($2)", Some(Box::new(name.clone())))
            }
            UserQuery::ExternalIdEq(id) => ("external_id = $2", Some(Box::new(id.clone()))),
            UserQuery::IdEq(id) => ("user_id = $2", Some(Box::new(*id))),
            UserQuery::Nothing => ("false", None),
        }
    }
}

fn from_row(row: &Row) -> Result<UserRecord, StoreError> {
    let resource: String = row.get(4);
    Ok(UserRecord {
        user_id: row.get(0),
        row: UserRow {
            user_name: row.get(1),
            external_id: row.get(2),
            active: row.get(3),
            resource: serde_json::from_str(&resource).map_err(|error| {
                StoreError::Inconsistent(format!("a stored resource is not JSON: {error}"))
            })?,
            version: row.get(5),
            created_at: row.get(6),
            updated_at: row.get(7),
        },
    })
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

/// A page of an organisation's users in a stable order (by id, which is
/// time-ordered), and how many match in all.
pub async fn list_users(
    pool: &Pool,
    org_id: Uuid,
    query: &UserQuery,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<UserRecord>), StoreError> {
    let client = pool.get().await?;
    let (condition, value) = query.condition();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&org_id];
    if let Some(value) = &value {
        params.push(value.as_ref() as &(dyn ToSql + Sync));
    }
    let count = client
        .prepare_cached(&format!(
            "select count(*) from scim_users where org_id = $1 and {condition}"
        ))
        .await?;
    let total: i64 = client.query_one(&count, &params).await?.get(0);
    if limit == 0 || offset >= total {
        return Ok((total, Vec::new()));
    }
    let n = params.len();
    let page = client
        .prepare_cached(&format!(
            "select {COLUMNS} from scim_users where org_id = $1 and {condition} \
             order by user_id offset ${} limit ${}",
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

/// The projector's checkpoint and the whole users table, read from one
/// snapshot so that they belong together.
pub async fn read_projection_snapshot(
    pool: &Pool,
) -> Result<(i64, BTreeMap<(Uuid, Uuid), UserRow>), StoreError> {
    let mut client = pool.get().await?;
    let transaction = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let checkpoint: i64 = transaction
        .query_one(
            "select position from checkpoints where name = 'projector'",
            &[],
        )
        .await?
        .get(0);
    let rows = transaction
        .query(&format!("select org_id, {COLUMNS} from scim_users"), &[])
        .await?;
    transaction.commit().await?;
    let mut users = BTreeMap::new();
    for row in &rows {
        let org_id: Uuid = row.get(0);
        let resource: String = row.get(5);
        users.insert(
            (org_id, row.get(1)),
            UserRow {
                user_name: row.get(2),
                external_id: row.get(3),
                active: row.get(4),
                resource: serde_json::from_str(&resource).map_err(|error| {
                    StoreError::Inconsistent(format!("a stored resource is not JSON: {error}"))
                })?,
                version: row.get(6),
                created_at: row.get(7),
                updated_at: row.get(8),
            },
        );
    }
    Ok((checkpoint, users))
}
