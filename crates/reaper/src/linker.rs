//! The linker: follows the log from its own checkpoint and lets accounts
//! and memberships follow it (`admin::linking`): a SCIM entry becomes an
//! account's membership with the default role, its `active` flag suspends
//! and restores it, its deletion removes it; and whenever SCIM is switched,
//! a domain is verified or dropped, a membership changes or an account's
//! email does, the locks converge; a suspended or removed member's sessions
//! end.
//!
//! It runs apart from the reaper's rounds, polling briefly, so members
//! appear within a moment rather than an interval. One replica follows at a
//! time (an advisory lock). Its checkpoint moves after the work: a crash
//! between an event and its consequences makes the next linker repeat the
//! work, and every step decides on the state as of its pass or later
//! (`admin::PassFacts`), so repeating it changes nothing twice.

use std::collections::HashMap;
use std::time::Duration;

use admin::linking::{Linking, SettledMembership};
use admin::{KeptSettings, PassFacts};
use domain::account::ACCOUNTS;
use domain::{Event, RequestMeta, StoredEvent};
use futures::StreamExt;
use store::{Appender, Checkpoint, Pool, RecentAppends};
use time::OffsetDateTime;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{ReaperError, ReaperMetrics, lock};

mod settled;

use settled::SettledMemberships;

/// The most events one pass reads (of the types it follows: the others it
/// passes over without reading them).
const PASS_EVENTS: i64 = 500;

/// The most positions one pass looks through for them: a long run of
/// events the linker does not act on (a group's members, say) is passed
/// over in several statements of bounded cost, not one.
const PASS_SPAN: i64 = 20_000;

/// The linker's connections in `serve`, a pool of its own: as many as the
/// steps of a pass that reads for itself ([`STREAMS_READING`]).
pub const CONNECTIONS: usize = STREAMS_READING;

/// How many streams one pass follows at once, when the pass read ahead
/// what its steps ask for (`admin::PassFacts`). Linking a new entry is then
/// two appends in a row (its account, its membership), each a group commit,
/// and its `MemberAdded` is passed over unread ([`settled`]): its time is
/// waiting for commits, and the more entries wait together, the more of
/// their appends share one. With 8 (`f021020`), a 64-client burst of 8 s
/// (bench.sh) left the server 18–22 s of work after it, in appends of 6.2–6.4
/// requests on average; with 64, 3 s in appends of 29–31, at about the same
/// creates/s, and the server's CPU per create, its linking included, fell
/// from 0.71–0.79 ms to 0.32–0.37 (issue 13, docs/scaling.md). Under a
/// longer burst it may still fall behind (watch `rollcall_linker_lag_events`)
/// and catch up after.
const STREAMS_READ_AHEAD: usize = 64;

/// How many of this process's appended events are kept for the linker
/// (`store::RecentAppends`): a linker further behind reads the log. During
/// a 64-client burst of 8 s (bench.sh) the linker fell more than 32,768
/// events behind, and half its passes read the log; with 65,536, none did,
/// for about 36 MB more at the peak (issue 13, docs/scaling.md).
pub const KEPT_FOR_LINKER: usize = 65_536;

/// How many streams a pass that read nothing ahead follows at once: each
/// step then reads for itself, on one of the linker's [`CONNECTIONS`].
const STREAMS_READING: usize = 8;

/// How long an idle linker waits before it looks at the log again.
pub const POLL: Duration = Duration::from_millis(200);

/// The event types the linker acts on; it skips every other.
const FOLLOWED: [&str; 16] = [
    "UserProvisioned",
    "UserReplaced",
    "UserPatched",
    "UserDeactivated",
    "UserReactivated",
    "UserDeleted",
    "MemberAdded",
    "MemberLinked",
    "MemberSuspended",
    "MemberRestored",
    "MemberRemoved",
    "ScimEnabled",
    "ScimDisabled",
    "DomainVerified",
    "DomainDropped",
    "AccountEmailChanged",
];

/// Follows the log once, up to [`PASS_EVENTS`] events of the types it acts
/// on; returns how many events of every type it followed past (0: it is at
/// the head, or another replica follows).
async fn follow_once(
    linking: Linking<'_>,
    recent: Option<&RecentAppends>,
    metrics: &ReaperMetrics,
    settled: &mut SettledMemberships,
) -> Result<usize, ReaperError> {
    let Some(held) = lock::try_acquire(linking.pool, lock::LINKER_LOCK).await? else {
        return Ok(0);
    };
    let result = follow_pass(linking, recent, metrics, settled).await;
    held.release().await;
    result
}

/// Follows the events after the checkpoint. Events of one stream are
/// followed in order; different streams at once ([`STREAMS_READ_AHEAD`] or
/// [`STREAMS_READING`]), since every step decides on the state as of the
/// pass or later and appends at the version it read, so their order does
/// not matter. A failure keeps the checkpoint where it was: the next pass
/// repeats the work, which changes nothing twice. The `MemberAdded` of a
/// membership an earlier pass `settled` is passed over unread. The events
/// come from what this process's appender kept (`recent`) when it holds the
/// run right after the checkpoint, else from the log.
async fn follow_pass(
    linking: Linking<'_>,
    recent: Option<&RecentAppends>,
    metrics: &ReaperMetrics,
    settled: &mut SettledMemberships,
) -> Result<usize, ReaperError> {
    let pool = linking.pool;
    let head = store::log_head(pool).await?;
    let from = store::read_checkpoint(pool, Checkpoint::Linker).await?;
    metrics.linker_lag.set(head.saturating_sub(from));
    if head <= from {
        return Ok(0);
    }
    let ((events, last), from_where) = match kept_pass(pool, recent, from, settled).await? {
        Some(kept) => (kept, "appender"),
        None => {
            let range = (from, head.min(from + PASS_SPAN));
            (logged_pass(pool, range, settled).await?, "log")
        }
    };
    (metrics.linker_passed.with_label_values(&[from_where])).inc_by((last - from) as u64);
    // Each stream's events in order, the streams in the order of their
    // first events; found by key, not by a scan per event.
    let mut slot_of: HashMap<(Uuid, Uuid), usize> = HashMap::new();
    let mut by_stream: Vec<Vec<StoredEvent>> = Vec::new();
    for stored in events {
        let slot = *slot_of
            .entry((stored.org_id, stored.stream_id))
            .or_insert_with(|| {
                by_stream.push(Vec::new());
                by_stream.len() - 1
            });
        by_stream[slot].push(stored);
    }
    let streams: Vec<&[StoredEvent]> = by_stream.iter().map(|events| &events[..]).collect();
    let pass = match PassFacts::read(pool, &streams).await {
        Ok(pass) => pass,
        Err(error) if error.is_transient() => return Err(error.into()),
        // What one event holds must not stop the linker (see follow's
        // callers below): its steps read for themselves, as they can.
        Err(error) => {
            tracing::warn!(%error, "the linker could not read its pass ahead; each step reads for itself");
            PassFacts::default()
        }
    };
    let linking = Linking {
        pass: &pass,
        ..linking
    };
    let concurrent_streams = if pass.has_read_ahead() {
        STREAMS_READ_AHEAD
    } else {
        STREAMS_READING
    };
    let outcomes: Vec<Result<Vec<SettledMembership>, ReaperError>> =
        futures::stream::iter(by_stream)
            .map(|events| async move {
                let mut settled = Vec::new();
                for stored in &events {
                    match follow(linking, stored).await {
                        Ok(made) => settled.extend(made),
                        Err(error) if !is_transient(&error) => {
                            metrics.linker_unfollowable.inc();
                            // The same event fails again however often it is
                            // followed: the linker must not stop on it.
                            tracing::error!(
                                position = stored.position,
                                event_type = stored.event.type_name(),
                                %error,
                                "the linker cannot follow this event; it goes on without it"
                            );
                        }
                        Err(error) => return Err(error),
                    }
                }
                Ok(settled)
            })
            .buffer_unordered(concurrent_streams)
            .collect()
            .await;
    for made in outcomes {
        made?
            .into_iter()
            .for_each(|membership| settled.add(membership));
    }
    store::set_checkpoint(pool, Checkpoint::Linker, last).await?;
    settled.passed(last);
    // Positions have no gaps: the pass followed past this many events.
    let passed = last - from;
    metrics.linker_events.inc_by(passed as u64);
    metrics.linker_lag.set(head.saturating_sub(last));
    Ok(passed as usize)
}

/// A pass's events from what this process's appender kept, and the last
/// position it passes: the run right after `from` that holds at most
/// [`PASS_EVENTS`] events of the types it follows (the others it passes
/// over, as many as are kept), those not `settled`.
/// `None` when the position after `from` is not kept, or when someone
/// whose values they hold in clear was erased since: the log then gives
/// them as every reader sees them now, erased.
async fn kept_pass(
    pool: &Pool,
    recent: Option<&RecentAppends>,
    from: i64,
    settled: &SettledMemberships,
) -> Result<Option<(Vec<StoredEvent>, i64)>, ReaperError> {
    let Some(recent) = recent else {
        return Ok(None);
    };
    let is_followed = |event: &store::OpenedEvent| FOLLOWED.contains(&event.event_type.as_str());
    let run = (recent.take_counting_after(from, PASS_EVENTS as usize, &is_followed)).await;
    let Some(last) = run.last().map(|event| event.position) else {
        return Ok(None);
    };
    let skipped = settled.skipped_in((from, last));
    let followed: Vec<_> = run
        .iter()
        .filter(|event| is_followed(event))
        .filter(|event| skipped.binary_search(&event.position).is_err())
        .collect();
    if !store::still_in_clear(pool, followed.iter().map(|event| event.as_ref())).await? {
        return Ok(None);
    }
    let followed = (followed.into_iter())
        .map(|event| event.to_stored())
        .collect::<Result<_, _>>()?;
    Ok(Some((followed, last)))
}

/// A pass's events read from the log in `range`, and the last position it
/// passes: up to the range's end, unless it holds as many events as one may.
async fn logged_pass(
    pool: &Pool,
    range: (i64, i64),
    settled: &SettledMemberships,
) -> Result<(Vec<StoredEvent>, i64), ReaperError> {
    let skipped = settled.skipped_in(range);
    let rows = store::read_types_after(pool, range, &FOLLOWED, &skipped, PASS_EVENTS).await?;
    let last = match rows.last() {
        Some(row) if rows.len() as i64 == PASS_EVENTS => row.position,
        _ => range.1,
    };
    let events = rows
        .iter()
        .map(|row| row.to_stored())
        .collect::<Result<_, _>>()?;
    Ok((events, last))
}

/// Whether following again may succeed: the database was away, or another
/// writer kept winning the stream.
fn is_transient(error: &ReaperError) -> bool {
    match error {
        ReaperError::Store(error) => error.is_transient(),
        ReaperError::Record(error) => error.chain().any(|cause| {
            cause
                .downcast_ref::<store::StoreError>()
                .is_some_and(store::StoreError::is_transient)
                || cause
                    .downcast_ref::<store::AppendError>()
                    .is_some_and(store::AppendError::is_transient)
        }),
    }
}

/// What one event asks of the linker; the membership it added with its
/// locks settled, if it did.
async fn follow(
    linking: Linking<'_>,
    stored: &StoredEvent,
) -> Result<Option<SettledMembership>, ReaperError> {
    let meta = RequestMeta::system("linker", Uuid::now_v7());
    let reason = stored.event.type_name();
    let (org_id, stream_id) = (stored.org_id, stored.stream_id);
    let done = match &stored.event {
        Event::UserProvisioned { .. }
        | Event::UserReplaced { .. }
        | Event::UserPatched { .. }
        | Event::UserDeactivated {}
        | Event::UserReactivated {}
        | Event::UserDeleted {} => {
            return admin::linking::follow_entry(
                linking,
                &meta,
                org_id,
                (stream_id, stored.stream_version),
                &stored.event,
            )
            .await
            .map_err(ReaperError::Record);
        }
        Event::MemberSuspended { account_id } | Event::MemberRemoved { account_id, .. } => {
            leaves(linking, &meta, stored, *account_id).await
        }
        Event::MemberAdded { account_id, .. }
        | Event::MemberLinked { account_id, .. }
        | Event::MemberRestored { account_id } => {
            admin::linking::converge_locks(linking, &meta, org_id, *account_id, reason).await
        }
        Event::ScimEnabled { .. }
        | Event::ScimDisabled {}
        | Event::DomainVerified { .. }
        | Event::DomainDropped { .. } => {
            admin::linking::converge_organization(linking, &meta, org_id, reason).await
        }
        Event::AccountEmailChanged { .. } if org_id == ACCOUNTS => {
            admin::linking::converge_account(linking, &meta, stream_id, reason).await
        }
        _ => Ok(()),
    };
    done.map(|()| None).map_err(ReaperError::Record)
}

/// A member suspended or removed (by an owner or the identity provider):
/// the sessions it had then end (whichever API took the request, and even
/// if it died right after), and its locks converge.
async fn leaves(
    linking: Linking<'_>,
    meta: &RequestMeta,
    stored: &StoredEvent,
    account_id: Uuid,
) -> anyhow::Result<()> {
    let reason = stored.event.type_name();
    // Who leaves on their own keeps the session they left with.
    let left_on_their_own =
        matches!(&stored.event, Event::MemberRemoved { by, .. } if by == "self");
    if left_on_their_own {
        return admin::linking::converge_locks(linking, meta, stored.org_id, account_id, reason)
            .await;
    }
    admin::sessions::end_sessions_started_before(
        linking.pool,
        linking.appender,
        meta,
        account_id,
        stored.recorded_at,
        OffsetDateTime::now_utc(),
        reason,
    )
    .await?;
    admin::linking::converge_locks(linking, meta, stored.org_id, account_id, reason).await
}

/// Follows the log until `stop` turns true: at once while there is work,
/// every [`POLL`] when there is none. A failed pass is logged; the next one
/// starts again from the checkpoint.
pub async fn run(
    pool: Pool,
    appender: Appender,
    recent: Option<RecentAppends>,
    metrics: ReaperMetrics,
    mut stop: watch::Receiver<bool>,
) {
    // Kept for as long as this linker runs: it follows one database.
    let settings = KeptSettings::default();
    // Each pass reads its own ahead (follow_pass).
    let nothing_read_ahead = PassFacts::default();
    let mut settled = SettledMemberships::default();
    let linking = Linking {
        pool: &pool,
        appender: &appender,
        settings: &settings,
        pass: &nothing_read_ahead,
    };
    loop {
        let idle = match follow_once(linking, recent.as_ref(), &metrics, &mut settled).await {
            Ok(read) => read == 0,
            Err(error) => {
                tracing::warn!(%error, "the linker failed; it retries from its checkpoint");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        } else if *stop.borrow() {
            return;
        }
    }
}
