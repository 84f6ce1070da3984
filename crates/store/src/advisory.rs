//! PostgreSQL advisory locks: one worker of a kind at a time across
//! processes (the reaper's round, the relay). Session-level, so a lock lives as long as
//! the connection that took it, and dies with it.

use crate::StoreError;

/// A connection taken from the pool, held for as long as a lock must be.
pub type PooledClient = deadpool_postgres::Object;

/// Takes the session-level advisory lock `key` unless another session holds it.
pub async fn try_advisory_lock(
    client: &tokio_postgres::Client,
    key: i64,
) -> Result<bool, StoreError> {
    Ok(client
        .query_one("select pg_try_advisory_lock($1)", &[&key])
        .await?
        .get(0))
}

/// Gives back the advisory lock `key` this session holds.
pub async fn advisory_unlock(client: &PooledClient, key: i64) -> Result<(), StoreError> {
    client
        .query_one("select pg_advisory_unlock($1)", &[&key])
        .await?;
    Ok(())
}

/// A connection outside the pool ([`crate::Database::connect_one`]), for a
/// lock held for as long as a process plays a role: it ends with the
/// connection, and a pool would lend the locked session to other work.
pub type DedicatedClient = tokio_postgres::Client;

/// Succeeds while `client`'s connection answers; a session lock held on a
/// connection that does not may be gone.
pub async fn still_answers(client: &DedicatedClient) -> Result<(), StoreError> {
    client.simple_query("").await?;
    Ok(())
}
