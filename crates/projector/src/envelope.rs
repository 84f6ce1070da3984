//! The message body that carries events from the relay to the projector.
//!
//! One message carries a run of one organization's events: the broker's cost
//! is per message, so batching them is what lets the bus keep up with group
//! commit. Consumers deduplicate by position, whatever the grouping.
//!
//! Payloads travel opened: personal values in clear, or `[erased]` where the
//! person's key is gone (`domain::erasable`), as every reader of the log sees
//! them. A payload that does not open travels sealed, and the projector
//! refuses it from the message and reads it from the log, which quarantines
//! it like any event it cannot read.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use store::OpenedEvent;
use time::OffsetDateTime;
use uuid::Uuid;

/// An event on the wire: its coordinates and its payload, opened.
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

/// A message body: events in position order.
#[derive(Debug, Serialize, Deserialize)]
pub struct Batch<'a> {
    #[serde(borrow)]
    pub events: Vec<Envelope<'a>>,
}

/// The message body for opened events ([`store::OpenedEvent`]).
pub fn encode(events: &[&OpenedEvent]) -> Vec<u8> {
    let events = events
        .iter()
        .map(|event| Envelope {
            position: event.position,
            org_id: event.org_id,
            stream_id: event.stream_id,
            stream_version: event.stream_version,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            recorded_at: event.recorded_at,
            payload: &event.payload,
        })
        .collect();
    serde_json::to_vec(&Batch { events }).expect("an envelope serializes")
}

/// The events in a message body.
pub fn decode(body: &[u8]) -> Result<Vec<domain::StoredEvent>, String> {
    let batch: Batch<'_> = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    batch
        .events
        .into_iter()
        .map(|envelope| {
            if domain::erasable::has_sealed_values(envelope.payload.get(), envelope.stream_id) {
                return Err(format!(
                    "event {} holds personal values that did not open; read it from the log",
                    envelope.position
                ));
            }
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
        })
        .collect()
}
