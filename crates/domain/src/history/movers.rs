//! Joiners and leavers: one row per provisioning or de-provisioning that
//! the identity provider requested, with when the membership followed and,
//! for leavers, when the account's sessions were revoked. The evidence SOC 2
//! (CC6.2, CC6.3) and ISO 27001 (A.5.18) auditors sample.
//!
//! A request is a SCIM event of a user: `UserDeactivated` (`active:false`)
//! or `UserDeleted` for leavers; `UserProvisioned` (active) or
//! `UserReactivated` for joiners. Its consequence is the linker's event on
//! the membership of the account linked to that user: `MemberSuspended` or
//! `MemberRemoved`; `MemberAdded`, `MemberLinked` or `MemberRestored`. The
//! linker follows a user's events in order, so the n-th open request of a
//! user is answered by the n-th such membership event after it. Sessions
//! end in the account's stream (`SessionEnded`, whose reason names the
//! membership event).

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::Recorded;
use super::state::membership_account;
use crate::membership::{Member, MemberState};
use crate::resource::attribute;
use crate::user::is_active;
use crate::{Event, StoredEvent};

/// Which kind of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Joiners,
    Leavers,
}

/// One provisioning or de-provisioning and what followed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoverRow {
    pub user_id: Uuid,
    #[serde(rename = "userName")]
    pub user_name: String,
    /// `provisioned`, `reactivated`, `deactivated` or `deleted`.
    pub request: &'static str,
    /// When rollcall recorded the identity provider's request.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    pub request_id: Uuid,
    pub request_position: i64,
    /// The account linked to the user, if any.
    pub account_id: Option<Uuid>,
    /// `granted`, `ended`, or why not: see [`MembershipOutcome`].
    pub membership: &'static str,
    /// The membership event that followed (`MemberAdded`, `MemberSuspended`, ...).
    pub membership_event: Option<&'static str>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub membership_at: Option<OffsetDateTime>,
    pub membership_position: Option<i64>,
    /// Seconds from the request to the membership event.
    pub membership_delay_seconds: Option<f64>,
    /// The role the membership had then (joiners).
    pub role: Option<String>,
    /// See [`SessionsOutcome`].
    pub sessions: &'static str,
    /// How many sessions that were live when the membership ended were
    /// ended after it.
    pub sessions_revoked: usize,
    /// When the last of them ended.
    #[serde(with = "time::serde::rfc3339::option")]
    pub sessions_revoked_at: Option<OffsetDateTime>,
    /// Their `SessionEnded` events.
    pub session_positions: Vec<i64>,
    /// Seconds from the request to the last session's end.
    pub sessions_delay_seconds: Option<f64>,
}

/// What became of a request's membership.
pub struct MembershipOutcome;

impl MembershipOutcome {
    pub const GRANTED: &'static str = "granted";
    pub const ENDED: &'static str = "ended";
    /// The membership was already active (joiners) or ended (leavers) when
    /// the request came: nothing had to follow.
    pub const ALREADY: &'static str = "already so before the request";
    /// The linker has not followed the request yet, or was refused (the
    /// last active owner stays): look at the membership's events.
    pub const PENDING: &'static str = "not followed yet";
    /// The user was never linked to an account (it has no email).
    pub const NO_ACCOUNT: &'static str = "no account linked";
}

/// The CSV columns, in order (RFC 4180, with this header).
pub const CSV_HEADER: [&str; 19] = [
    "user_id",
    "userName",
    "request",
    "requested_at",
    "request_id",
    "request_position",
    "account_id",
    "membership",
    "membership_event",
    "membership_at",
    "membership_position",
    "membership_delay_seconds",
    "role",
    "sessions",
    "sessions_revoked",
    "sessions_revoked_at",
    "session_positions",
    "sessions_delay_seconds",
    "delay_note",
];

impl MoverRow {
    /// The row's CSV fields, in [`CSV_HEADER`]'s order; positions of
    /// several sessions are separated by spaces.
    pub fn csv_record(&self) -> Vec<String> {
        let text = |value: Option<String>| value.unwrap_or_default();
        let time = |at: Option<OffsetDateTime>| text(at.map(rfc3339));
        let number = |value: Option<f64>| text(value.map(|seconds| format!("{seconds:.3}")));
        vec![
            self.user_id.to_string(),
            self.user_name.clone(),
            self.request.to_owned(),
            rfc3339(self.requested_at),
            self.request_id.to_string(),
            self.request_position.to_string(),
            text(self.account_id.map(|id| id.to_string())),
            self.membership.to_owned(),
            text(self.membership_event.map(str::to_owned)),
            time(self.membership_at),
            text(
                self.membership_position
                    .map(|position| position.to_string()),
            ),
            number(self.membership_delay_seconds),
            text(self.role.clone()),
            self.sessions.to_owned(),
            self.sessions_revoked.to_string(),
            time(self.sessions_revoked_at),
            self.session_positions
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            number(self.sessions_delay_seconds),
            self.delay_note(),
        ]
    }

    /// The longest delay in words, for a reader of the CSV.
    fn delay_note(&self) -> String {
        match (self.membership_delay_seconds, self.sessions_delay_seconds) {
            (Some(membership), Some(sessions)) => {
                format!("membership after {membership:.3} s, sessions after {sessions:.3} s")
            }
            (Some(membership), None) => format!("membership after {membership:.3} s"),
            _ => format!("membership {}", self.membership),
        }
    }
}

/// The rows of `movement`, folded from the organization's log in position
/// order from its beginning (a user's earlier requests and links count).
#[derive(Debug)]
pub struct Movers {
    movement: Movement,
    /// Every user's last `userName`.
    user_names: BTreeMap<Uuid, String>,
    memberships: BTreeMap<Uuid, Member>,
    rows: Vec<MoverRow>,
    /// Per user, its requests not answered yet (indexes into `rows`).
    open: BTreeMap<Uuid, VecDeque<usize>>,
}

impl Movers {
    pub fn new(movement: Movement) -> Movers {
        Movers {
            movement,
            user_names: BTreeMap::new(),
            memberships: BTreeMap::new(),
            rows: Vec::new(),
            open: BTreeMap::new(),
        }
    }

    /// Whether events of `event_type` matter to the rows (the caller may
    /// skip reading the others).
    pub fn reads(event_type: &str) -> bool {
        event_type.starts_with("User")
            || event_type.starts_with("Member")
            || event_type == "OwnerAdded"
    }

    /// The rows whose request was recorded in `[since, until)`. Leavers'
    /// sessions are filled in by [`attach_sessions`].
    pub fn rows(self, since: OffsetDateTime, until: OffsetDateTime) -> Vec<MoverRow> {
        let Movers {
            movement,
            mut rows,
            memberships,
            ..
        } = self;
        let linked: BTreeMap<Uuid, Uuid> = memberships
            .iter()
            .filter_map(|(account, member)| Some((member.entry_id?, *account)))
            .collect();
        rows.retain(|row| row.requested_at >= since && row.requested_at < until);
        for row in &mut rows {
            if row.membership == MembershipOutcome::PENDING {
                row.account_id = row.account_id.or_else(|| linked.get(&row.user_id).copied());
                if row.account_id.is_none() {
                    row.membership = MembershipOutcome::NO_ACCOUNT;
                }
            }
            row.sessions = match movement {
                Movement::Joiners => SessionsOutcome::NOT_APPLICABLE,
                Movement::Leavers => SessionsOutcome::MEMBERSHIP_NOT_ENDED,
            };
        }
        rows
    }
}

/// What became of a leaver's admin API sessions.
pub struct SessionsOutcome;

impl SessionsOutcome {
    /// Every session live when the membership ended was ended after it.
    pub const REVOKED: &'static str = "revoked";
    /// The account had no live session when the membership ended.
    pub const NONE_LIVE: &'static str = "none live";
    /// A session live when the membership ended is live still.
    pub const PENDING: &'static str = "not revoked yet";
    /// The membership has not ended: no session had to end.
    pub const MEMBERSHIP_NOT_ENDED: &'static str = "membership not ended";
    /// Joiners have no sessions to revoke.
    pub const NOT_APPLICABLE: &'static str = "n/a";
}

/// Fills in each leaver's sessions from its account's stream (`accounts`:
/// account id → its events, in order).
pub fn attach_sessions(rows: &mut [MoverRow], accounts: &BTreeMap<Uuid, Vec<StoredEvent>>) {
    for row in rows {
        let (Some(account), Some(ended_at), Some(ended_position), Some(event)) = (
            row.account_id,
            row.membership_at,
            row.membership_position,
            row.membership_event,
        ) else {
            continue;
        };
        if row.membership != MembershipOutcome::ENDED {
            continue;
        }
        let stream = accounts
            .get(&account)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let sessions = sessions_of(stream);
        // Live when the membership ended: started before, not ended
        // before, and not expired, unless the revocation it caused ended it
        // (the session's expiry is stamped by the system's clock, the
        // events by the log's).
        let live: Vec<&SessionTrace> = sessions
            .values()
            .filter(|session| {
                session.started_position < ended_position
                    && session
                        .ended
                        .is_none_or(|end| end.position > ended_position)
                    && (session.expires_at > ended_at
                        || session.ended.is_some_and(|end| end.reason == event))
            })
            .collect();
        let ends: Vec<&SessionEnd> = live
            .iter()
            .filter_map(|session| session.ended.as_ref())
            .collect();
        row.sessions = if live.is_empty() {
            SessionsOutcome::NONE_LIVE
        } else if ends.len() < live.len() {
            SessionsOutcome::PENDING
        } else {
            SessionsOutcome::REVOKED
        };
        row.sessions_revoked = ends.len();
        let mut positions: Vec<i64> = ends.iter().map(|end| end.position).collect();
        positions.sort_unstable();
        row.session_positions = positions;
        row.sessions_revoked_at = ends.iter().map(|end| end.at).max();
        row.sessions_delay_seconds = row
            .sessions_revoked_at
            .filter(|_| row.sessions == SessionsOutcome::REVOKED)
            .map(|at| seconds(at - row.requested_at));
    }
}

#[derive(Debug, Clone, Copy)]
struct SessionEnd {
    position: i64,
    at: OffsetDateTime,
    reason: &'static str,
}

#[derive(Debug, Clone)]
struct SessionTrace {
    started_position: i64,
    expires_at: OffsetDateTime,
    ended: Option<SessionEnd>,
}

/// An account's sessions, with where each started and ended.
fn sessions_of(stream: &[StoredEvent]) -> BTreeMap<Uuid, SessionTrace> {
    let mut sessions = BTreeMap::new();
    for stored in stream {
        match &stored.event {
            Event::SessionStarted {
                session_id,
                expires_at,
            } => {
                sessions.insert(
                    *session_id,
                    SessionTrace {
                        started_position: stored.position,
                        expires_at: *expires_at,
                        ended: None,
                    },
                );
            }
            Event::SessionEnded { session_id, reason } => {
                if let Some(session) = sessions.get_mut(session_id)
                    && session.ended.is_none()
                {
                    session.ended = Some(SessionEnd {
                        position: stored.position,
                        at: stored.recorded_at,
                        reason: membership_event_named(reason),
                    });
                }
            }
            _ => {}
        }
    }
    sessions
}

/// The membership event a session's end names as its reason, as a static
/// name (`""` for any other reason: logout, ...).
fn membership_event_named(reason: &str) -> &'static str {
    ["MemberSuspended", "MemberRemoved"]
        .into_iter()
        .find(|name| *name == reason)
        .unwrap_or("")
}

impl Movers {
    /// Folds the organization's next event.
    pub fn apply(&mut self, recorded: &Recorded) {
        let movement = self.movement;
        let stored = &recorded.stored;
        let user = stored.stream_id;
        if let Event::UserProvisioned { resource, .. }
        | Event::UserReplaced { resource, .. }
        | Event::UserPatched { resource, .. } = &stored.event
            && let Some(name) = attribute(resource, "userName").and_then(|name| name.as_str())
        {
            self.user_names.insert(user, name.to_owned());
        }
        let request = match (&stored.event, movement) {
            (Event::UserProvisioned { resource, .. }, Movement::Joiners) if is_active(resource) => {
                Some("provisioned")
            }
            (Event::UserReactivated {}, Movement::Joiners) => Some("reactivated"),
            (Event::UserDeactivated {}, Movement::Leavers) => Some("deactivated"),
            (Event::UserDeleted {}, Movement::Leavers) => Some("deleted"),
            _ => None,
        };
        if let Some(request) = request {
            self.request(recorded, request);
        }
        let Some(account) = membership_account(&stored.event) else {
            return;
        };
        let entry = match &stored.event {
            Event::MemberAdded { entry_id, .. } => *entry_id,
            Event::MemberLinked { entry_id, .. } => Some(*entry_id),
            _ => self
                .memberships
                .get(&account)
                .and_then(|member| member.entry_id),
        };
        let member = Member::evolve(self.memberships.remove(&account), &stored.event);
        let role = member.as_ref().map(|member| member.role.clone());
        if let Some(member) = member {
            self.memberships.insert(account, member);
        }
        if answers(&stored.event, movement)
            && let Some(entry) = entry
        {
            self.answer(entry, account, stored, role);
        }
    }

    /// Opens a row for a request of the identity provider.
    fn request(&mut self, recorded: &Recorded, request: &'static str) {
        let movement = self.movement;
        let stored = &recorded.stored;
        let user = stored.stream_id;
        let linked = self
            .memberships
            .iter()
            .find(|(_, member)| member.entry_id == Some(user));
        let already = linked.is_some_and(|(_, member)| match (movement, request) {
            (Movement::Joiners, _) => member.state == MemberState::Active,
            (Movement::Leavers, "deleted") => member.state == MemberState::Removed,
            (Movement::Leavers, _) => member.state != MemberState::Active,
        });
        self.rows.push(MoverRow {
            user_id: user,
            user_name: self.user_names.get(&user).cloned().unwrap_or_default(),
            request,
            requested_at: stored.recorded_at,
            request_id: recorded.request.request_id,
            request_position: stored.position,
            account_id: linked.map(|(account, _)| *account),
            membership: if already {
                MembershipOutcome::ALREADY
            } else {
                MembershipOutcome::PENDING
            },
            membership_event: None,
            membership_at: None,
            membership_position: None,
            membership_delay_seconds: None,
            role: None,
            sessions: "",
            sessions_revoked: 0,
            sessions_revoked_at: None,
            session_positions: Vec::new(),
            sessions_delay_seconds: None,
        });
        if !already {
            self.open
                .entry(user)
                .or_default()
                .push_back(self.rows.len() - 1);
        }
    }

    /// The membership event `stored` answers the oldest open request of
    /// user `entry` (a deletion's removal answers the oldest deletion).
    fn answer(&mut self, entry: Uuid, account: Uuid, stored: &StoredEvent, role: Option<String>) {
        let Some(open) = self.open.get_mut(&entry) else {
            return;
        };
        let preferred = match stored.event {
            Event::MemberRemoved { .. } => open
                .iter()
                .position(|index| self.rows[*index].request == "deleted"),
            _ => None,
        };
        let Some(index) = preferred
            .map(|at| open.remove(at))
            .unwrap_or_else(|| open.pop_front())
        else {
            return;
        };
        let row = &mut self.rows[index];
        row.account_id = Some(account);
        row.membership = if matches!(
            stored.event,
            Event::MemberSuspended { .. } | Event::MemberRemoved { .. }
        ) {
            MembershipOutcome::ENDED
        } else {
            MembershipOutcome::GRANTED
        };
        row.membership_event = Some(stored.event.type_name());
        row.membership_at = Some(stored.recorded_at);
        row.membership_position = Some(stored.position);
        row.membership_delay_seconds = Some(seconds(stored.recorded_at - row.requested_at));
        if row.membership == MembershipOutcome::GRANTED {
            row.role = role;
        }
    }
}

/// Whether a membership event answers the requests of `movement`.
fn answers(event: &Event, movement: Movement) -> bool {
    match movement {
        Movement::Joiners => matches!(
            event,
            Event::MemberAdded { .. } | Event::MemberLinked { .. } | Event::MemberRestored { .. }
        ),
        Movement::Leavers => matches!(
            event,
            Event::MemberSuspended { .. } | Event::MemberRemoved { .. }
        ),
    }
}

/// A duration in seconds, to the millisecond.
fn seconds(duration: time::Duration) -> f64 {
    (duration.as_seconds_f64() * 1000.0).round() / 1000.0
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("timestamps format as RFC 3339")
}
