//! The last log position each token wrote that was answered before the read
//! tables held it (a slow or stuck projector), so that the token's next
//! requests wait for it (DESIGN.md guarantee 8). Writes the read tables
//! already hold when answered are not noted: nothing after them can miss
//! them, and reads need not wait on other clients' writes.

use std::collections::HashMap;
use std::sync::Mutex;

use scim::ScimError;
use uuid::Uuid;

use crate::write::wait_for_projection;
use crate::{ApiError, AppState};

/// Token id → the organization it wrote to and the highest position a
/// write with that token appended. Tokens are few (a handful per
/// organization), so the table stays small.
#[derive(Default)]
pub struct LastWrites {
    positions: Mutex<HashMap<Uuid, (Uuid, i64)>>,
}

impl LastWrites {
    /// Notes that `token_id` wrote to `org_id` up to `position`.
    pub fn record(&self, token_id: Uuid, org_id: Uuid, position: i64) {
        let mut positions = self.positions.lock().expect("never poisoned");
        let last = positions.entry(token_id).or_insert((org_id, position));
        *last = (org_id, last.1.max(position));
    }

    fn last(&self, token_id: Uuid) -> Option<(Uuid, i64)> {
        self.positions
            .lock()
            .expect("never poisoned")
            .get(&token_id)
            .copied()
    }
}

/// Waits (bounded, as a write waits) until the read tables hold everything
/// `token_id` wrote through this process; 503 if they still do not, rather
/// than an answer that misses the client's own write.
pub async fn await_own_writes(state: &AppState, token_id: Uuid) -> Result<(), ApiError> {
    let Some((org_id, position)) = state.last_writes.last(token_id) else {
        return Ok(());
    };
    if state.projection.borrow().holds(org_id, position)
        || wait_for_projection(state, org_id, position).await
    {
        return Ok(());
    }
    Err(ApiError::Scim(ScimError {
        status: 503,
        scim_type: None,
        detail: "rollcall has recorded your last write but cannot show it yet; retry shortly"
            .into(),
    }))
}
