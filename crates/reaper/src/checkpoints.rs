//! The reaper's checkpoint job: with a signing key configured
//! (`ROLLCALL_SIGNING_KEY_FILE`), signs every organization's head when its
//! last checkpoint is [`Checkpoints::every`] old and the head has moved
//! since (docs/audit-integrity.md).

use std::sync::Arc;
use std::time::Duration;

use audit::signing_key::CheckpointKey;
use domain::checkpoint::SignedCheckpoint;
use time::OffsetDateTime;

use crate::{Reaper, ReaperError};

/// What the job needs: the key and the time between two checkpoints of one
/// organization.
#[derive(Clone)]
pub struct Checkpoints {
    pub key: Arc<CheckpointKey>,
    pub every: Duration,
}

/// Records the checkpoints due at `now`; none without a key.
pub async fn run(
    reaper: &Reaper,
    now: OffsetDateTime,
) -> Result<Vec<SignedCheckpoint>, ReaperError> {
    let Some(checkpoints) = &reaper.checkpoints else {
        return Ok(Vec::new());
    };
    let recorded =
        audit::checkpoints::record_due(&reaper.pool, &checkpoints.key, checkpoints.every, now)
            .await
            .map_err(ReaperError::Record)?;
    for signed in &recorded {
        reaper.metrics.action("checkpoints", "SignedCheckpoint");
        tracing::info!(
            org_id = %signed.head.org_id,
            head_position = signed.head.head_position,
            events = signed.head.event_count,
            "signed a checkpoint"
        );
    }
    Ok(recorded)
}
