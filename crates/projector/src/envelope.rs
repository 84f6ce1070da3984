//! The message body that carries one event from the relay to the projector.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use store::LogRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// An event on the wire: its coordinates and its stored payload, verbatim.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<'a> {
    pub position: i64,
    pub org_id: Uuid,
    pub stream_id: Uuid,
    pub stream_version: i64,
    pub event_type: &'a str,
    pub schema_version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    #[serde(borrow)]
    pub payload: &'a RawValue,
}

/// The message body for one log row.
pub fn encode(row: &LogRow) -> Vec<u8> {
    let payload: &RawValue = serde_json::from_str(&row.payload).expect("the log holds valid JSON");
    serde_json::to_vec(&Envelope {
        position: row.position,
        org_id: row.org_id,
        stream_id: row.stream_id,
        stream_version: row.stream_version,
        event_type: &row.event_type,
        schema_version: row.schema_version,
        recorded_at: row.recorded_at,
        payload,
    })
    .expect("an envelope serializes")
}

/// The event in a message body.
pub fn decode(body: &[u8]) -> Result<domain::StoredEvent, String> {
    let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let event = domain::Event::from_stored(
        envelope.event_type,
        envelope.schema_version,
        envelope.payload.get(),
    )
    .map_err(|error| error.to_string())?;
    Ok(domain::StoredEvent {
        position: envelope.position,
        org_id: envelope.org_id,
        stream_id: envelope.stream_id,
        stream_version: envelope.stream_version,
        recorded_at: envelope.recorded_at,
        event,
    })
}
