//! The SCIM token's end: `ScimTokenExpired` once a token's year is over,
//! and `ScimTokenExpiryWarned` 30, 7 and 1 days before (the nearest one
//! reached, once). What is due is decided by `domain::token::due` over the
//! organization's own stream, so a round that crashed half-way, or a second
//! replica, can never record anything twice: the append expects the stream
//! version the decision was made on.

use domain::token::{self, WARNING_DAYS};
use domain::{Event, RequestMeta};
use serde::Serialize;
use store::{AppendError, AppendRequest, Registration};
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
        let (events, _) = due_in(pool, org_id, at).await?;
        planned.extend(events.into_iter().map(|event| Planned { org_id, event }));
    }
    Ok(planned)
}

/// Records what is due at `now` and refreshes the expiry gauge.
pub async fn run(reaper: &Reaper, now: OffsetDateTime) -> Result<Vec<Planned>, ReaperError> {
    let mut recorded = Vec::new();
    for org_id in candidates(&reaper.pool, now).await? {
        let (events, version) = due_in(&reaper.pool, org_id, now).await?;
        if events.is_empty() {
            continue;
        }
        let registrations = events
            .iter()
            .filter_map(|event| match event {
                Event::ScimTokenExpired { token_id } => Some(Registration::TokenExpired {
                    token_id: *token_id,
                }),
                _ => None,
            })
            .collect();
        let appended = reaper
            .appender
            .append(AppendRequest {
                org_id,
                stream_id: org_id,
                expected_version: version,
                commutes: false,
                events: events.clone(),
                claims: Vec::new(),
                releases: Vec::new(),
                registrations,
                meta: RequestMeta::system("reaper: token expiry", Uuid::now_v7()),
            })
            .await;
        match appended {
            Ok(_) => {
                for event in &events {
                    reaper.metrics.action("token_expiry", event.type_name());
                }
                recorded.extend(events.into_iter().map(|event| Planned { org_id, event }));
            }
            // An owner changed the organization meanwhile: decided again
            // next round, on the new version.
            Err(AppendError::VersionConflict) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let soonest = store::soonest_token_expiries(&reaper.pool, now).await?;
    reaper.metrics.set_token_expiries(&soonest, now);
    Ok(recorded)
}

/// Organizations with a token that may be due by `at`: neither revoked nor
/// recorded expired, and inside the first warning's reach.
async fn candidates(pool: &store::Pool, at: OffsetDateTime) -> Result<Vec<Uuid>, ReaperError> {
    let horizon = at + Duration::days(WARNING_DAYS[0]);
    Ok(store::organizations_with_tokens_expiring_before(pool, horizon).await?)
}

/// The events due in one organization at `at`, and the stream version they
/// were decided on.
async fn due_in(
    pool: &store::Pool,
    org_id: Uuid,
    at: OffsetDateTime,
) -> Result<(Vec<Event>, i64), ReaperError> {
    let stream = store::read_stream(pool, org_id, org_id).await?;
    let version = stream.last().map_or(0, |stored| stored.stream_version);
    let events = token::lives(&stream)
        .iter()
        .filter_map(|life| token::due(life, at))
        .collect();
    Ok((events, version))
}
