//! Signed checkpoints of organizations' heads: recorded on demand (`rollcall
//! audit checkpoint`) and by the reaper on an interval, listed for auditors.
//!
//! Recording one is not an event in the log: the checkpoint states where the
//! head is, and an event would move that head, so the next round would find
//! it moved and sign again, for ever. It is kept beside the log
//! (`signed_checkpoints`, append-only like the log) and proves itself by
//! its signature.

use std::time::Duration;

use domain::checkpoint::{self, SignedCheckpoint};
use ed25519_dalek::SigningKey;
use store::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

/// The reaper's default time between two checkpoints of one organization.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3_600);

/// Signs `org_id`'s head as of `now` and keeps the checkpoint.
pub async fn record(
    pool: &Pool,
    key: &SigningKey,
    org_id: Uuid,
    now: OffsetDateTime,
) -> anyhow::Result<SignedCheckpoint> {
    let last = last_of_key(pool, key, org_id).await?;
    let head = store::read_organization_head(pool, org_id, last.as_ref().map(|c| &c.head), now)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no organization has the id {org_id}"))?;
    let signed = checkpoint::sign(key, head);
    store::insert_signed_checkpoint(pool, &signed).await?;
    Ok(signed)
}

/// Records a checkpoint of every organization whose last one (by this key)
/// is at least `every` old and whose head has moved since; returns those it
/// recorded.
pub async fn record_due(
    pool: &Pool,
    key: &SigningKey,
    every: Duration,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<SignedCheckpoint>> {
    let mut recorded = Vec::new();
    for org_id in store::list_organizations(pool).await? {
        let last = last_of_key(pool, key, org_id).await?;
        if let Some(last) = &last
            && now - last.head.signed_at < every
        {
            continue;
        }
        let since = last.as_ref().map(|c| &c.head);
        let Some(head) = store::read_organization_head(pool, org_id, since, now).await? else {
            continue;
        };
        if since.is_some_and(|since| since.head_position == head.head_position) {
            continue;
        }
        let signed = checkpoint::sign(key, head);
        store::insert_signed_checkpoint(pool, &signed).await?;
        recorded.push(signed);
    }
    Ok(recorded)
}

/// Every checkpoint of the organization, oldest first, as files.
pub async fn list(pool: &Pool, org_id: Uuid) -> anyhow::Result<Vec<checkpoint::CheckpointFile>> {
    Ok(store::list_signed_checkpoints(pool, org_id)
        .await?
        .iter()
        .map(SignedCheckpoint::to_file)
        .collect())
}

async fn last_of_key(
    pool: &Pool,
    key: &SigningKey,
    org_id: Uuid,
) -> anyhow::Result<Option<SignedCheckpoint>> {
    let key_id = checkpoint::key_id(&key.verifying_key().to_bytes());
    Ok(store::last_signed_checkpoint(pool, org_id, &key_id).await?)
}
