//! Write-side registries: organizations by name, SCIM tokens by digest.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Pool, StoreError};

/// A SCIM token as stored: never the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRecord {
    pub org_id: Uuid,
    pub token_id: Uuid,
    pub expires_at: OffsetDateTime,
}

/// The token whose SHA-256 digest is `sha256`, if one was issued.
pub async fn find_token(pool: &Pool, sha256: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select org_id, token_id, expires_at from scim_tokens where token_sha256 = $1",
        )
        .await?;
    Ok(client
        .query_opt(&statement, &[&sha256.as_slice()])
        .await?
        .map(|row| TokenRecord {
            org_id: row.get(0),
            token_id: row.get(1),
            expires_at: row.get(2),
        }))
}

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
