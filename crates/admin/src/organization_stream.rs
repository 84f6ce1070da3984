//! The one loop every operation here runs: read a stream (the
//! organization's own, or an account's), decide, append at that version.

use anyhow::Context;
use domain::{Event, Refusal, RequestMeta, StoredEvent};
use store::{AppendError, AppendRequest, Appender, Pool, Registration};
use uuid::Uuid;

/// Decides events on the organization's stream and appends them, with the
/// registry changes they imply, at the version they were decided on,
/// deciding again if the stream moved; returns them (none appended when the
/// decision changes nothing). A refusal is recorded (as `CommandRefused`,
/// under `command`) and returned as the error (a [`Refusal`] to downcast).
/// `meta` says who asked.
pub async fn decide_on_organization(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    command: &str,
    decide: impl Fn(&[StoredEvent]) -> Result<(Vec<Event>, Vec<Registration>), Refusal>,
) -> anyhow::Result<Vec<Event>> {
    decide_on_stream(pool, appender, org_id, org_id, meta, command, decide).await
}

/// [`decide_on_organization`] for any stream of `org_id`'s keyspace (an
/// account's, in the accounts keyspace).
pub(crate) async fn decide_on_stream(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    stream_id: Uuid,
    meta: &RequestMeta,
    command: &str,
    decide: impl Fn(&[StoredEvent]) -> Result<(Vec<Event>, Vec<Registration>), Refusal>,
) -> anyhow::Result<Vec<Event>> {
    loop {
        let stream = store::read_stream(pool, org_id, stream_id).await?;
        let version = stream.last().map_or(0, |stored| stored.stream_version);
        let (events, registrations, refusal) = match decide(&stream) {
            Ok((events, _)) if events.is_empty() => return Ok(events),
            Ok((events, registrations)) => (events, registrations, None),
            Err(refusal) => (vec![refusal.recorded(command)], Vec::new(), Some(refusal)),
        };
        let appended = appender
            .append(AppendRequest {
                org_id,
                stream_id,
                expected_version: version,
                commutes: false,
                events: events.clone(),
                claims: Vec::new(),
                releases: Vec::new(),
                registrations,
                meta: meta.clone(),
            })
            .await;
        match (appended, refusal) {
            (Ok(_), None) => return Ok(events),
            (Ok(_), Some(refusal)) => return Err(refusal.into()),
            (Err(AppendError::VersionConflict), _) => continue,
            (Err(error), _) => return Err(error).with_context(|| format!("recording `{command}`")),
        }
    }
}
