//! The one loop every owner's operation runs: read the organization's
//! stream, decide, append at that version.

use anyhow::Context;
use domain::{Event, Refusal, RequestMeta, StoredEvent};
use store::{AppendError, AppendRequest, Appender, Pool, Registration};
use uuid::Uuid;

/// Decides one event on the organization's stream and appends it, with the
/// registry change it implies, at the version it was decided on, deciding
/// again if the stream moved. A refusal is recorded (as `CommandRefused`,
/// under `command`) and returned as the error (a [`Refusal`] to downcast).
pub async fn decide_on_organization(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    command: &str,
    decide: impl Fn(&[StoredEvent]) -> Result<(Event, Vec<Registration>), Refusal>,
) -> anyhow::Result<Event> {
    loop {
        let stream = store::read_stream(pool, org_id, org_id).await?;
        let version = stream.last().map_or(0, |stored| stored.stream_version);
        let (events, registrations, refusal) = match decide(&stream) {
            Ok((event, registrations)) => (vec![event], registrations, None),
            Err(refusal) => (vec![refusal.recorded(command)], Vec::new(), Some(refusal)),
        };
        let appended = appender
            .append(AppendRequest {
                org_id,
                stream_id: org_id,
                expected_version: version,
                commutes: false,
                events: events.clone(),
                claims: Vec::new(),
                releases: Vec::new(),
                registrations,
                meta: RequestMeta::command_line(command, Uuid::now_v7()),
            })
            .await;
        match (appended, refusal) {
            (Ok(_), None) => return Ok(events.into_iter().next().expect("one event")),
            (Ok(_), Some(refusal)) => return Err(refusal.into()),
            (Err(AppendError::VersionConflict), _) => continue,
            (Err(error), _) => return Err(error).with_context(|| format!("recording `{command}`")),
        }
    }
}
