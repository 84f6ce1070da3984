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
/// `meta` says who asked; an HTTP request's status in it is the one it is
/// answered with when the decision holds (a refusal records its own, see
/// [`refused_meta`]).
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
pub async fn decide_on_stream(
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
        let meta = match &refusal {
            Some(refusal) => refused_meta(meta, refusal),
            None => meta.clone(),
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
                meta,
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

/// Records `refusal` of `command` in stream `stream_id` of `org_id`'s
/// keyspace, decided on nothing (a check made before any stream was read,
/// such as the caller's role); returns it as the error to answer with.
pub async fn record_refusal(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    stream_id: Uuid,
    meta: &RequestMeta,
    command: &str,
    refusal: Refusal,
) -> anyhow::Error {
    let recorded = decide_on_stream(pool, appender, org_id, stream_id, meta, command, |_| {
        Err(refusal.clone())
    })
    .await;
    match recorded {
        Err(error) => error,
        Ok(_) => unreachable!("a refusal is never a decision"),
    }
}

/// The metadata a refusal is recorded with: an HTTP request's status is the
/// refusal's (the command line has none: 0 stays).
fn refused_meta(meta: &RequestMeta, refusal: &Refusal) -> RequestMeta {
    let mut meta = meta.clone();
    if meta.status != 0 {
        meta.status = refusal.code.http_status();
    }
    meta
}
