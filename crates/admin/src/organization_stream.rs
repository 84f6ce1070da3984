//! The one loop every operation here runs: read what the decision needs
//! (a stream, or the registry's view of one), decide, append at the version
//! it was read at, deciding again if the stream moved.

use std::future::Future;

use anyhow::Context;
use domain::resource::UniqueKey;
use domain::{Event, Refusal, RequestMeta, StoredEvent};
use store::{AppendError, AppendRequest, Appender, Pool, Registration};
use uuid::Uuid;

/// What a decision appends: events, with the registry changes and the
/// unique values they imply.
#[derive(Debug, Default)]
pub(crate) struct Decided {
    pub events: Vec<Event>,
    pub registrations: Vec<Registration>,
    pub claims: Vec<UniqueKey>,
    pub releases: Vec<UniqueKey>,
}

impl From<(Vec<Event>, Vec<Registration>)> for Decided {
    fn from((events, registrations): (Vec<Event>, Vec<Registration>)) -> Self {
        Decided {
            events,
            registrations,
            ..Decided::default()
        }
    }
}

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
    let stream = (org_id, stream_id);
    decide_on_view(
        pool,
        appender,
        stream,
        meta,
        command,
        || async move { Ok(store::read_stream(pool, org_id, stream_id).await?) },
        |events: &Vec<StoredEvent>| decide(events).map(Decided::from),
    )
    .await
}

/// The loop itself, over any view of `stream` (organization id, stream id)
/// that `load` reads: the stream's version is read before the view, so a
/// change the view saw, or one after it, makes the append conflict and the
/// decision is made again. An append that would leave the organization
/// without an active owner is refused like the rules refuse it.
pub(crate) async fn decide_on_view<V, Load, Loading>(
    pool: &Pool,
    appender: &Appender,
    stream: (Uuid, Uuid),
    meta: &RequestMeta,
    command: &str,
    load: Load,
    decide: impl Fn(&V) -> Result<Decided, Refusal>,
) -> anyhow::Result<Vec<Event>>
where
    Load: Fn() -> Loading,
    Loading: Future<Output = anyhow::Result<V>>,
{
    let recorded =
        decide_on_known_view(pool, appender, stream, meta, command, None, load, decide).await?;
    Ok(recorded.events)
}

/// What [`decide_on_known_view`] appended.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// The events, in their order in the log (none: nothing to change).
    pub events: Vec<Event>,
    /// The position of the last of them.
    pub last_position: i64,
}

impl Recorded {
    /// The position of the first of the events `is_wanted` picks.
    pub fn position_of(&self, is_wanted: impl Fn(&Event) -> bool) -> Option<i64> {
        let index = self.events.iter().position(is_wanted)?;
        let after = (self.events.len() - 1 - index) as i64;
        Some(self.last_position - after)
    }
}

/// [`decide_on_view`], deciding first on `known`: a view of the stream at a
/// version the caller knows without reading it (a stream it knows is new
/// is empty at version 0). If the stream moved, the append conflicts and
/// the decision is made again on what `load` reads.
#[allow(clippy::too_many_arguments)] // decide_on_view's, and the known view
pub(crate) async fn decide_on_known_view<V, Load, Loading>(
    pool: &Pool,
    appender: &Appender,
    (org_id, stream_id): (Uuid, Uuid),
    meta: &RequestMeta,
    command: &str,
    mut known: Option<(i64, V)>,
    load: Load,
    decide: impl Fn(&V) -> Result<Decided, Refusal>,
) -> anyhow::Result<Recorded>
where
    Load: Fn() -> Loading,
    Loading: Future<Output = anyhow::Result<V>>,
{
    // Set when the append found the change against the log's own rules (it
    // took the last active owner away, or a value another stream holds):
    // that refusal is then recorded like any other.
    let mut refused_by_log: Option<Refusal> = None;
    loop {
        let (version, decided, on_known) = match (known.take(), refused_by_log.clone()) {
            (Some((version, view)), None) => (version, decide(&view), true),
            (_, refused) => {
                let version = store::stream_version(pool, org_id, stream_id).await?;
                let decided = match refused {
                    Some(refused) => Err(refused),
                    None => decide(&load().await?),
                };
                (version, decided, false)
            }
        };
        let (decided, refusal) = match decided {
            // No append would confirm that the known view still holds:
            // nothing is decided on it alone.
            Ok(decided) if decided.events.is_empty() && on_known => continue,
            Ok(decided) if decided.events.is_empty() => return Ok(Recorded::default()),
            Ok(decided) => (decided, None),
            Err(refused) => {
                let record = Decided {
                    events: vec![refused.recorded(command)],
                    ..Decided::default()
                };
                (record, Some(refused))
            }
        };
        let events = decided.events.clone();
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
                events: decided.events,
                claims: decided.claims,
                releases: decided.releases,
                registrations: decided.registrations,
                meta,
            })
            .await;
        match (appended, refusal) {
            (Ok(appended), None) => {
                return Ok(Recorded {
                    events,
                    last_position: appended.last_position,
                });
            }
            (Ok(_), Some(refused)) => return Err(refused.into()),
            (Err(AppendError::VersionConflict), _) => continue,
            (Err(AppendError::LastOwner), None) => {
                refused_by_log = Some(Refusal::invalid(domain::membership::LAST_OWNER));
            }
            (Err(AppendError::Taken(key)), None) => {
                refused_by_log = Some(Refusal::conflict(format!(
                    "{} {:?} belongs to another account",
                    key.kind, key.key
                )));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_position_counts_back_from_the_last_one() {
        let removed = Event::MemberRemoved {
            account_id: Uuid::from_u128(1),
            by: "test".into(),
        };
        let recorded = Recorded {
            events: vec![Event::ScimDisabled {}, removed, Event::ScimDisabled {}],
            last_position: 42,
        };
        let is_removal = |event: &Event| matches!(event, Event::MemberRemoved { .. });
        assert_eq!(recorded.position_of(is_removal), Some(41));
        assert_eq!(
            recorded.position_of(|event| matches!(event, Event::ScimDisabled {})),
            Some(40)
        );
        assert_eq!(Recorded::default().position_of(is_removal), None);
    }
}
