//! The SCIM token's end: `ScimTokenExpired` once a token's year is over,
//! and `ScimTokenExpiryWarned` 30, 7 and 1 days before (the nearest one
//! reached, once). What is due is decided by `domain::token::due` over the
//! organization's own stream and appended at the version it was decided on
//! (`admin::decide_on_organization`), so a round that crashed half-way, or a
//! second replica, can never record anything twice.

use domain::token::{self, WARNING_DAYS};
use domain::{Event, RequestMeta, StoredEvent};
use serde::Serialize;
use store::Registration;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{Reaper, ReaperError};

/// One event the reaper records (or would record) for an organization.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub org_id: Uuid,
    pub event: Event,
}

/// What is due at `at`, organization by organization, recording nothing:
/// `rollcall reaper plan` and the first half of [`run`].
pub async fn plan(pool: &store::Pool, at: OffsetDateTime) -> Result<Vec<Planned>, ReaperError> {
    let mut planned = Vec::new();
    for org_id in candidates(pool, at).await? {
        let events = due_in(pool, org_id, at).await?;
        planned.extend(events.into_iter().map(|event| Planned { org_id, event }));
    }
    Ok(planned)
}

/// Records what is due at `now` and refreshes the expiry gauge.
pub async fn run(reaper: &Reaper, now: OffsetDateTime) -> Result<Vec<Planned>, ReaperError> {
    let mut recorded = Vec::new();
    for org_id in candidates(&reaper.pool, now).await? {
        let meta = RequestMeta::system("reaper: token expiry", Uuid::now_v7());
        let events = admin::decide_on_organization(
            &reaper.pool,
            &reaper.appender,
            org_id,
            &meta,
            "reaper token expiry",
            |stream| Ok(due_on(stream, now)),
        )
        .await
        .map_err(ReaperError::Record)?;
        for event in &events {
            reaper.metrics.action("token_expiry", event.type_name());
        }
        recorded.extend(events.into_iter().map(|event| Planned { org_id, event }));
    }
    let soonest = store::soonest_token_expiries(&reaper.pool, now).await?;
    reaper.metrics.set_token_expiries(&soonest, now);
    Ok(recorded)
}

/// The events due at `at` in an organization's stream, with the registry
/// changes they imply.
fn due_on(stream: &[StoredEvent], at: OffsetDateTime) -> (Vec<Event>, Vec<Registration>) {
    let events: Vec<Event> = token::lives(stream)
        .iter()
        .filter_map(|life| token::due(life, at))
        .collect();
    let registrations = events
        .iter()
        .filter_map(|event| match event {
            Event::ScimTokenExpired { token_id } => Some(Registration::TokenExpired {
                token_id: *token_id,
            }),
            _ => None,
        })
        .collect();
    (events, registrations)
}

/// Organizations with a token that may be due by `at`: neither revoked nor
/// recorded expired, and inside the first warning's reach.
async fn candidates(pool: &store::Pool, at: OffsetDateTime) -> Result<Vec<Uuid>, ReaperError> {
    let horizon = at + Duration::days(WARNING_DAYS[0]);
    Ok(store::organizations_with_tokens_expiring_before(pool, horizon).await?)
}

/// The events due in one organization at `at`.
async fn due_in(
    pool: &store::Pool,
    org_id: Uuid,
    at: OffsetDateTime,
) -> Result<Vec<Event>, ReaperError> {
    let stream = store::read_stream(pool, org_id, org_id).await?;
    Ok(due_on(&stream, at).0)
}
