//! One event as auditors see it, in the JSON (and CSV) shape scripts rely on:
//! `{"position","recorded_at","type","stream","resource_id","request":{"id",
//! "method","path","token_id","client","user_agent","status"},"data"}`.

use domain::RequestMeta;
use domain::event::is_scim_resource_type;
use domain::redaction::redact_password_hashes;
use serde::Serialize;
use serde_json::Value;
use store::{LogRow, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::AuditError;

/// An event with its request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    pub position: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The stream's id.
    pub stream: Uuid,
    /// The SCIM user's or group's `id` when the stream is one (the same as
    /// `stream`); null for the organization's, memberships' and accounts'
    /// streams.
    pub resource_id: Option<Uuid>,
    pub request: RequestSummary,
    /// The event's payload, its type aside, password hashes redacted.
    pub data: Value,
}

/// The request behind an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestSummary {
    pub id: Uuid,
    pub method: String,
    pub path: String,
    pub token_id: Option<Uuid>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
}

impl From<RequestMeta> for RequestSummary {
    fn from(meta: RequestMeta) -> Self {
        RequestSummary {
            id: meta.request_id,
            method: meta.method,
            path: meta.path,
            token_id: meta.token_id,
            client: meta.client_addr,
            user_agent: meta.user_agent,
            status: meta.status,
        }
    }
}

/// The request metadata a row holds.
pub fn meta_of(row: &LogRow) -> Result<RequestMeta, AuditError> {
    serde_json::from_str(&row.metadata).map_err(|error| {
        AuditError::Store(StoreError::Inconsistent(format!(
            "the event at position {} has unreadable request metadata: {error}",
            row.position
        )))
    })
}

/// The event's payload as data: the event as this binary reads it (older
/// shapes upcast), without its `type`, which the view gives beside, and
/// with its password hashes redacted.
pub fn data_of(row: &LogRow) -> Result<Value, AuditError> {
    let event = row.to_stored()?.event;
    let mut data = serde_json::to_value(&event).expect("events always serialize");
    if let Value::Object(object) = &mut data {
        object.remove("type");
    }
    redact_password_hashes(&mut data);
    Ok(data)
}

impl EventView {
    /// The view of one row of the log.
    pub fn of(row: &LogRow) -> Result<EventView, AuditError> {
        Ok(EventView {
            position: row.position,
            recorded_at: row.recorded_at,
            event_type: row.event_type.clone(),
            stream: row.stream_id,
            resource_id: is_scim_resource_type(&row.event_type).then_some(row.stream_id),
            request: meta_of(row)?.into(),
            data: data_of(row)?,
        })
    }
}
