//! One user's timeline, read from its stream alone.

use domain::history::timeline::{TimelineEntry, timeline};
use serde::Serialize;
use store::Pool;
use uuid::Uuid;

use super::read::recorded;

/// Every change to one user, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineAnswer {
    pub org_id: Uuid,
    pub user_id: Uuid,
    /// Its last `userName` (before its deletion, if deleted).
    #[serde(rename = "userName")]
    pub user_name: Option<String>,
    pub deleted: bool,
    pub events: Vec<TimelineEntry>,
}

/// The timeline of user `user_id` of `org_id`; `None` when the
/// organization never had such a user.
pub async fn user_timeline(
    pool: &Pool,
    org_id: Uuid,
    user_id: Uuid,
) -> anyhow::Result<Option<TimelineAnswer>> {
    let rows = store::read_streams(pool, org_id, &[user_id]).await?;
    let stream = rows
        .iter()
        .map(recorded)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let is_user = stream
        .first()
        .is_some_and(|first| first.stored.event.type_name().starts_with("User"));
    if !is_user {
        return Ok(None);
    }
    let events = timeline(&stream);
    Ok(Some(TimelineAnswer {
        org_id,
        user_id,
        user_name: events
            .iter()
            .rev()
            .find_map(|entry| entry.user_name.clone()),
        deleted: events
            .last()
            .is_some_and(|entry| entry.event_type == "UserDeleted"),
        events,
    }))
}
