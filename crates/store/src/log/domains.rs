//! The write-side registry of verified email domains, by organization: what
//! the rules that depend on a verified domain ask. Rows are written only
//! inside appends (the `Registration`s of `DomainVerified` and
//! `DomainDropped`), so they always agree with the log.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Pool, StoreError};

/// A domain an organization verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDomain {
    pub domain_id: Uuid,
    /// Lowercase, without a trailing dot (`domain::domains::DomainName`).
    pub domain: String,
    pub verified_at: OffsetDateTime,
}

/// Whether `org_id` has verified `domain` (as `domain::domains::DomainName`
/// spells it: lowercase, no trailing dot).
pub async fn is_domain_verified(
    pool: &Pool,
    org_id: Uuid,
    domain: &str,
) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("select 1 from verified_domains where org_id = $1 and domain = $2")
        .await?;
    Ok(client
        .query_opt(&statement, &[&org_id, &domain])
        .await?
        .is_some())
}

/// The domains `org_id` has verified, by name.
pub async fn verified_domains(
    pool: &Pool,
    org_id: Uuid,
) -> Result<Vec<VerifiedDomain>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select domain_id, domain, verified_at from verified_domains \
             where org_id = $1 order by domain",
        )
        .await?;
    Ok(client
        .query(&statement, &[&org_id])
        .await?
        .iter()
        .map(|row| VerifiedDomain {
            domain_id: row.get(0),
            domain: row.get(1),
            verified_at: row.get(2),
        })
        .collect())
}
