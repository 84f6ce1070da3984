//! The write loop's reads and appends in service: the log and the read
//! tables in PostgreSQL, the appender, and the bounded wait for the projector.

use std::sync::atomic::Ordering;
use std::time::Instant;

use domain::group::MemberFacts;
use domain::membership::{LAST_OWNER, MemberState};
use domain::provisioning::OWNER;
use domain::{Refusal, RequestMeta, StoredEvent};
use scim::{ScimError, ScimType};
use store::{AppendError, AppendRequest, Appended};
use uuid::Uuid;

use super::WriteStore;
use crate::{ApiError, AppState};

impl WriteStore for AppState {
    async fn read_stream_after(
        &self,
        org_id: Uuid,
        stream_id: Uuid,
        version: i64,
    ) -> Result<Vec<StoredEvent>, ApiError> {
        Ok(store::read_stream_after(&self.pool, org_id, stream_id, version).await?)
    }

    async fn read_group_attributes(
        &self,
        org_id: Uuid,
        group_id: Uuid,
        version: i64,
    ) -> Result<(Vec<StoredEvent>, i64), ApiError> {
        Ok(store::read_group_attributes(&self.pool, org_id, group_id, version).await?)
    }

    async fn group_projected_through(
        &self,
        org_id: Uuid,
        group_id: Uuid,
        version: i64,
    ) -> Result<bool, ApiError> {
        let projected = || store::projected_group_version(&self.pool, org_id, group_id);
        if projected().await?.unwrap_or(0) >= version {
            return Ok(true);
        }
        let head = store::log_head(&self.pool).await?;
        wait_for_projection(self, org_id, head).await;
        Ok(projected().await?.unwrap_or(0) >= version)
    }

    async fn member_facts(
        &self,
        org_id: Uuid,
        group_id: Uuid,
        named: &[Uuid],
        every: bool,
    ) -> Result<MemberFacts, ApiError> {
        Ok(store::member_facts(&self.pool, org_id, group_id, named, every).await?)
    }

    /// Appends and wakes the relay. The answer does not wait for the
    /// projector: the token's later reads do (`last_writes`). But a write
    /// first waits (bounded) while this process's appends are more than
    /// `max_unfolded_events` past what the projector has folded: writers
    /// would otherwise outrun the read side, and every client's reads wait
    /// on it (DESIGN.md guarantee 10: what a later stage cannot hold is held
    /// at the door).
    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        let (org_id, appended_so_far) =
            (request.org_id, self.last_appended.load(Ordering::Relaxed));
        let folded_enough = appended_so_far - self.settings.max_unfolded_events;
        if folded_enough > 0 && !self.projection.borrow().holds(org_id, folded_enough) {
            wait_for_projection(self, org_id, folded_enough).await;
        }
        let appended = self.appender.append(request).await?;
        self.last_appended
            .fetch_max(appended.last_position, Ordering::Relaxed);
        self.relay_wake.notify_one();
        Ok(appended)
    }

    async fn keep_an_owner(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let Some(member) = store::membership_of_entry(&self.pool, org_id, user_id).await? else {
            return Ok(());
        };
        let active_owner = member.role == OWNER && member.state == MemberState::Active.as_str();
        if !active_owner || store::active_owners(&self.pool, org_id).await? > 1 {
            return Ok(());
        }
        let refusal = Refusal::invalid(LAST_OWNER);
        // Recorded on the membership's stream; a refusal changes nothing,
        // so it holds at any version.
        self.appender
            .append(AppendRequest {
                org_id,
                stream_id: member.account_id,
                expected_version: 0,
                commutes: true,
                events: vec![refusal.recorded("deprovision SCIM user")],
                claims: Vec::new(),
                releases: Vec::new(),
                registrations: Vec::new(),
                meta: RequestMeta {
                    status: 400,
                    ..meta.clone()
                },
            })
            .await?;
        Err(ApiError::Scim(ScimError::bad_request(
            ScimType::InvalidValue,
            LAST_OWNER,
        )))
    }
}

/// Waits until the read tables include `position` of `org_id` (its
/// partition's, where the projection is split), at most the configured
/// time, and says whether they do. The write is durable either way; the
/// token's next read waits again for it (`last_writes::await_own_writes`).
pub(crate) async fn wait_for_projection(state: &AppState, org_id: Uuid, position: i64) -> bool {
    let started = Instant::now();
    let mut projection = state.projection.clone();
    let reached = tokio::time::timeout(
        state.settings.read_your_writes_wait,
        projection.wait_for(|applied| applied.holds(org_id, position)),
    )
    .await;
    state
        .metrics
        .read_your_writes_wait
        .observe(started.elapsed().as_secs_f64());
    let reached = matches!(reached, Ok(Ok(_)));
    if !reached {
        state.metrics.read_your_writes_timeouts.inc();
        tracing::warn!(
            position,
            %org_id,
            "the projector has not reached this position within ROLLCALL_READ_YOUR_WRITES_MS"
        );
    }
    reached
}
