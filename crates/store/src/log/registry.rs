//! The write-side registry of organizations by name (tokens: [`super::tokens`]).

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
