//! One reaper at work at a time, across replicas: a session-level
//! PostgreSQL advisory lock on a connection held for the round. If the
//! process dies, its connection closes and the lock goes with it.

use store::{Pool, PooledClient, StoreError};

/// The advisory lock key: "rollcall reaper" in a few bytes.
const REAPER_LOCK: i64 = 0x726f_6c6c_7265_6170;

/// The lock, held until released. A lock dropped without release (a
/// panicking job) takes its connection out of the pool, which closes it and
/// so frees the lock, rather than lend a locked session to other work.
pub struct Held {
    client: Option<PooledClient>,
}

/// Takes the lock if no other replica holds it.
pub async fn try_acquire(pool: &Pool) -> Result<Option<Held>, StoreError> {
    let client = pool.get().await?;
    if store::try_advisory_lock(&client, REAPER_LOCK).await? {
        Ok(Some(Held {
            client: Some(client),
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
        match store::advisory_unlock(&client, REAPER_LOCK).await {
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
