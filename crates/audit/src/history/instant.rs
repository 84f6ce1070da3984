//! Instants as auditors give them (RFC 3339), and where they fall in an
//! organization's log.

use serde::Serialize;
use store::Pool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// Where in an organization's history a question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// At an instant: after its last event recorded at or before it.
    Instant(OffsetDateTime),
    /// After the event at this position of the log (and every one before).
    Position(i64),
}

/// How an instant was understood, for the answer to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The instant asked about (`null` when asked by position).
    #[serde(with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
    /// The position the answer folds to: every event at or before it
    /// counts (0: before the organization's first event).
    pub position: i64,
}

/// Reads an instant given as RFC 3339 (`2026-03-03T12:00:00Z`, or with an
/// offset such as `+01:00`); the error says what is wanted.
pub fn parse_instant(name: &str, text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| {
        format!(
            "{name}={text:?} is not an instant: give an RFC 3339 time with its offset, \
             e.g. {name}=2026-03-03T12:00:00Z"
        )
    })
}

/// The position `at` falls at in `org_id`'s log.
pub async fn resolve(pool: &Pool, org_id: Uuid, at: At) -> anyhow::Result<Resolved> {
    Ok(match at {
        At::Position(position) => Resolved {
            at: None,
            position: position.max(0),
        },
        At::Instant(instant) => Resolved {
            at: Some(instant),
            position: store::organization_position_at(pool, org_id, instant)
                .await?
                .map_or(0, |(position, _)| position),
        },
    })
}
