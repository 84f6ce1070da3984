//! One reaper at work at a time, across replicas: a session-level
//! PostgreSQL advisory lock on a connection held for the round. If the
//! process dies, its connection closes and the lock goes with it.

use store::{Pool, PooledClient, StoreError};

/// The advisory lock key of the reaper's rounds: "rollcall reaper" in a
/// few bytes.
pub const REAPER_LOCK: i64 = 0x726f_6c6c_7265_6170;

/// The advisory lock key of the linker, which follows the log apart from
/// the rounds: "rollcall linker".
pub const LINKER_LOCK: i64 = 0x726f_6c6c_6c69_6e6b;

/// The lock, held until released. A lock dropped without release (a
/// panicking job) takes its connection out of the pool, which closes it and
/// so frees the lock, rather than lend a locked session to other work.
pub struct Held {
    client: Option<PooledClient>,
    key: i64,
}

/// Takes the lock `key` if no other replica holds it.
pub async fn try_acquire(pool: &Pool, key: i64) -> Result<Option<Held>, StoreError> {
    let client = pool.get().await?;
    if store::try_advisory_lock(&client, key).await? {
        Ok(Some(Held {
            client: Some(client),
            key,
        }))
    } else {
        Ok(None)
    }
}

impl Held {
    /// Gives the lock back.
    pub async fn release(mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        match store::advisory_unlock(&client, self.key).await {
            Ok(()) => drop(client),
            Err(error) => {
                tracing::warn!(%error, "releasing the reaper lock; closing its connection instead");
                drop(PooledClient::take(client));
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(PooledClient::take(client));
        }
    }
}
