//! The write-side registry of organizations by name, and who holds a unique
//! value (tokens: [`super::tokens`]).

use uuid::Uuid;

use crate::{Pool, StoreError};

/// The organization named `name`, if there is one.
pub async fn find_organization(pool: &Pool, name: &str) -> Result<Option<Uuid>, StoreError> {
    let client = pool.get().await?;
    Ok(client
        .query_opt("select org_id from organizations where name = $1", &[&name])
        .await?
        .map(|row| row.get(0)))
}

/// The name of organization `org_id`, if it exists.
pub async fn organization_name(pool: &Pool, org_id: Uuid) -> Result<Option<String>, StoreError> {
    let client = pool.get().await?;
    Ok(client
        .query_opt(
            "select name from organizations where org_id = $1",
            &[&org_id],
        )
        .await?
        .map(|row| row.get(0)))
}

/// Whether any organization exists yet (a first start creates one).
pub async fn has_organizations(pool: &Pool) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    Ok(client
        .query_opt("select 1 from organizations limit 1", &[])
        .await?
        .is_some())
}

/// Every organization's id, oldest first.
pub async fn list_organizations(pool: &Pool) -> Result<Vec<Uuid>, StoreError> {
    let client = pool.get().await?;
    Ok(client
        .query(
            "select org_id from organizations order by created_at, org_id",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// The stream that holds the unique value `key` of `kind` in `org_id`'s
/// keyspace, if one does (for example the account an email belongs to).
pub async fn claim_owner(
    pool: &Pool,
    org_id: Uuid,
    kind: &str,
    key: &str,
) -> Result<Option<Uuid>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select owner from unique_claims where org_id = $1 and kind = $2 and key = $3",
        )
        .await?;
    Ok(client
        .query_opt(&statement, &[&org_id, &kind, &key])
        .await?
        .map(|row| row.get(0)))
}
