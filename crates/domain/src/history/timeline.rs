//! One SCIM user's history, read from its stream alone: every event, with
//! the request behind it and the attributes it changed, before and after.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Recorded;
use super::attributes::{AttributeChange, changes};
use crate::Event;
use crate::resource::attribute;

/// One event of a user's stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub position: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// The event's type (`UserProvisioned`, `UserPatched`, ...).
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// The user's version after it (its ETag's number).
    pub version: i64,
    pub request: RequestView,
    /// The `userName` after the event (none once deleted).
    pub user_name: Option<String>,
    /// Every attribute the event changed; a deletion lists every attribute
    /// the user had, with `after` null.
    pub changes: Vec<AttributeChange>,
    /// Whether the event set a password (never shown; only its hash is kept).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub password_set: bool,
}

/// The request behind an event, as far as an auditor needs it to find it
/// in the access records and the identity provider's logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestView {
    pub id: Uuid,
    /// The HTTP method; `SYSTEM` for rollcall's own components, `CLI` for
    /// the command line.
    pub method: String,
    /// The path; the component's or the verb's name for `SYSTEM` and `CLI`.
    pub path: String,
    /// The SCIM token (or admin API session) that made the request.
    pub token_id: Option<Uuid>,
    /// The status rollcall answered with (0: no HTTP request).
    pub status: u16,
}

impl RequestView {
    pub fn of(recorded: &Recorded) -> RequestView {
        let meta = &recorded.request;
        RequestView {
            id: meta.request_id,
            method: meta.method.clone(),
            path: meta.path.clone(),
            token_id: meta.token_id,
            status: meta.status,
        }
    }
}

/// The timeline of a user's stream (its events in version order).
pub fn timeline(stream: &[Recorded]) -> Vec<TimelineEntry> {
    let mut resource: Option<Value> = None;
    stream
        .iter()
        .map(|recorded| {
            let stored = &recorded.stored;
            let (after, password_set) = match &stored.event {
                Event::UserProvisioned {
                    resource,
                    password_hash,
                }
                | Event::UserReplaced {
                    resource,
                    password_hash,
                }
                | Event::UserPatched {
                    resource,
                    password_hash,
                    ..
                } => (Some(resource.clone()), password_hash.is_some()),
                Event::UserDeleted {} => (None, false),
                _ => (resource.clone(), false),
            };
            let entry = TimelineEntry {
                position: stored.position,
                recorded_at: stored.recorded_at,
                event_type: stored.event.type_name(),
                version: stored.stream_version,
                request: RequestView::of(recorded),
                user_name: after
                    .as_ref()
                    .and_then(|after| attribute(after, "userName"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                changes: changes(resource.as_ref(), after.as_ref()),
                password_set,
            };
            resource = after;
            entry
        })
        .collect()
}
