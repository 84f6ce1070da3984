//! Whether the database's schema is the one this binary was built with:
//! what `/readyz` reports before a process serves on a schema that is behind.

use crate::connect::embedded_migrations;
use crate::{Pool, StoreError};

/// The embedded migrations the database has not applied, as `V0001__name`,
/// oldest first; empty when the schema is current.
pub async fn pending_migrations(pool: &Pool) -> Result<Vec<String>, StoreError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "select coalesce(max(version), 0)::int4 from refinery_schema_history",
            &[],
        )
        .await?;
    let applied: i32 = row.get(0);
    Ok(embedded_migrations()
        .into_iter()
        .filter(|(version, _)| *version > applied)
        .map(|(version, name)| format!("V{version:04}__{name}"))
        .collect())
}

/// Whether PostgreSQL answers a query through the pool.
pub async fn ping(pool: &Pool) -> Result<(), StoreError> {
    pool.get().await?.query_one("select 1", &[]).await?;
    Ok(())
}
