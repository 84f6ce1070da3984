//! `audit/requests/{id}`: "what did the identity provider send, and what
//! did we do?", told from everything recorded under one request id: the
//! events it produced (writes) and its access records (reads, refusals, a
//! bulk request's failed operations).
//!
//! What was sent: the method, the path and its query (parsed), the headers
//! as recorded (bounded, credentials redacted when recorded), and as much of
//! the body as the events keep (`domain::recorded_request`): the body itself
//! is never recorded, only its SHA-256 digest. What was answered: the status,
//! the `scimType` and detail of a refusal, and the events. A bulk request
//! has one entry per operation recorded, each with its own answer.

use std::collections::BTreeMap;

use domain::RequestMeta;
use domain::event::Event;
use domain::recorded_request::{BodyKept, body_of};
use domain::redaction::{REDACTED, is_secret_name};
use serde::Serialize;
use serde_json::{Map, Value};
use store::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::AuditError;
use crate::view::{data_of, meta_of};

/// One request, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub request_id: Uuid,
    /// When its first record was written.
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    pub method: String,
    /// The path without its query.
    pub path: String,
    /// The query's parameters (a repeated one as an array), secrets
    /// redacted.
    pub query: Map<String, Value>,
    pub token_id: Option<Uuid>,
    /// The account whose admin API session made it.
    pub account_id: Option<Uuid>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    /// As recorded: empty for requests recorded before headers were.
    pub headers: BTreeMap<String, String>,
    pub body_sha256: Option<String>,
    /// What the events keep of the body (see `body_kept`), redacted.
    pub body: Option<Value>,
    pub body_kept: BodyKept,
    pub answer: Answer,
    /// A bulk request's operations, as recorded (those after `failOnErrors`
    /// was reached were not performed and are not here).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<OperationRecord>,
}

/// What rollcall answered.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub status: u16,
    /// The SCIM error type of a refused SCIM request, when it had one.
    #[serde(rename = "scimType")]
    pub scim_type: Option<String>,
    /// Why it was refused.
    pub detail: Option<String>,
    /// The events it produced, in log order.
    pub events: Vec<ProducedEvent>,
}

/// An event a request produced.
#[derive(Debug, Clone, Serialize)]
pub struct ProducedEvent {
    pub position: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub stream: Uuid,
    pub data: Value,
}

/// One operation of a bulk request.
#[derive(Debug, Clone, Serialize)]
pub struct OperationRecord {
    /// Its index in the request's `Operations`, from 0.
    pub index: usize,
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
    pub body_kept: BodyKept,
    pub answer: Answer,
}

/// One record under the request id: an event, or an access record.
struct Part {
    meta: RequestMeta,
    recorded_at: OffsetDateTime,
    produced: Option<(ProducedEvent, Event)>,
    detail: Option<String>,
}

/// What `org_id` recorded of request `request_id`; `NotFound` when nothing.
pub async fn find(
    pool: &Pool,
    org_id: Uuid,
    request_id: Uuid,
) -> Result<RequestRecord, AuditError> {
    let mut parts = Vec::new();
    for row in store::read_request_events(pool, org_id, request_id).await? {
        let event = row.to_stored()?.event;
        parts.push(Part {
            meta: meta_of(&row)?,
            recorded_at: row.recorded_at,
            produced: Some((
                ProducedEvent {
                    position: row.position,
                    event_type: row.event_type.clone(),
                    stream: row.stream_id,
                    data: data_of(&row)?,
                },
                event,
            )),
            detail: None,
        });
    }
    for record in store::find_access_records(pool, org_id, request_id).await? {
        parts.push(Part {
            meta: record.meta,
            recorded_at: record.recorded_at,
            produced: None,
            detail: record.detail,
        });
    }
    assemble(request_id, parts).ok_or_else(|| {
        AuditError::NotFound(format!(
            "this organization recorded no request {request_id}: check the id (from an \
             event's request.id, or the access log), and that the request was this \
             organization's; access records older than the access log's retention are dropped"
        ))
    })
}

/// The record of a request from its parts, `None` when there are none.
fn assemble(request_id: Uuid, parts: Vec<Part>) -> Option<RequestRecord> {
    let recorded_at = parts.iter().map(|part| part.recorded_at).min()?;
    let (whole, operations): (Vec<Part>, Vec<Part>) = parts
        .into_iter()
        .partition(|part| bulk_operation(&part.meta.path).is_none());
    let first = whole
        .first()
        .or(operations.first())
        .expect("at least one part")
        .meta
        .clone();
    let (path, query) = split_path(first.path.split('#').next().unwrap_or_default());
    let mut by_index: BTreeMap<usize, Vec<Part>> = BTreeMap::new();
    for part in operations {
        if let Some((index, _, _)) = bulk_operation(&part.meta.path) {
            by_index.entry(index).or_default().push(part);
        }
    }
    let operations: Vec<OperationRecord> = by_index
        .into_values()
        .map(|parts| {
            let (index, method, path) =
                bulk_operation(&parts[0].meta.path).expect("grouped by index");
            let (method, path) = (method.to_owned(), path.to_owned());
            let (body, body_kept) = body_of(events(&parts));
            OperationRecord {
                index,
                method,
                path,
                body,
                body_kept,
                answer: answer(&parts),
            }
        })
        .collect();
    let (body, body_kept) = body_of(events(&whole));
    let mut answer = answer(&whole);
    if !operations.is_empty() {
        // A bulk request answers 200 whenever it was performed; the events
        // are its operations'.
        answer.events = operations
            .iter()
            .flat_map(|operation| operation.answer.events.clone())
            .collect();
        if whole.is_empty() {
            answer.status = 200;
        }
    }
    Some(RequestRecord {
        request_id,
        recorded_at,
        method: first.method,
        path,
        query,
        token_id: first.token_id,
        account_id: first.account_id,
        client: first.client_addr,
        user_agent: first.user_agent,
        headers: first.headers,
        body_sha256: first.body_sha256,
        body,
        body_kept,
        answer,
        operations,
    })
}

fn events(parts: &[Part]) -> impl Iterator<Item = &Event> {
    parts
        .iter()
        .filter_map(|part| part.produced.as_ref().map(|(_, event)| event))
}

/// The answer recorded by `parts` (one request's, or one operation's).
fn answer(parts: &[Part]) -> Answer {
    let status = parts.first().map_or(0, |part| part.meta.status);
    let mut refusal = parts.iter().find_map(|part| {
        part.detail
            .as_deref()
            .map(|detail| scim_refusal(part.meta.status, detail))
    });
    if refusal.is_none() {
        refusal = parts.iter().find_map(|part| match &part.produced {
            Some((_, Event::CommandRefused { message, .. })) => Some((None, message.clone())),
            _ => None,
        });
    }
    let (scim_type, detail) = refusal.map_or((None, None), |(kind, detail)| (kind, Some(detail)));
    Answer {
        status,
        scim_type,
        detail,
        events: parts
            .iter()
            .filter_map(|part| part.produced.as_ref().map(|(event, _)| event.clone()))
            .collect(),
    }
}

/// A refusal's `scimType` and detail from its recorded detail, which for a
/// SCIM request reads `<status> <scimType or "error">: <detail>` (as
/// `scim::ScimError` displays); other details are kept whole.
fn scim_refusal(status: u16, recorded: &str) -> (Option<String>, String) {
    let parsed = recorded.split_once(": ").and_then(|(head, detail)| {
        let (code, kind) = head.split_once(' ')?;
        (code.parse::<u16>().ok()? == status).then_some((kind, detail))
    });
    match parsed {
        Some(("error", detail)) => (None, detail.to_owned()),
        Some((kind, detail)) => (Some(kind.to_owned()), detail.to_owned()),
        None => (None, recorded.to_owned()),
    }
}

/// `(index, method, path)` of a bulk operation's recorded path,
/// `/scim_v2/Bulk#<index> <METHOD> <path>`.
fn bulk_operation(recorded: &str) -> Option<(usize, &str, &str)> {
    let (_, operation) = recorded.split_once('#')?;
    let (index, rest) = operation.split_once(' ')?;
    let (method, path) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((index.parse().ok()?, method, path))
}

/// The path and its parsed query, secrets redacted.
fn split_path(recorded: &str) -> (String, Map<String, Value>) {
    let (path, query) = recorded.split_once('?').unwrap_or((recorded, ""));
    let mut parameters = Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = if is_secret_name(&name) {
            Value::String(REDACTED.into())
        } else {
            Value::String(value.into_owned())
        };
        match parameters.get_mut(name.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                parameters.insert(name.into_owned(), value);
            }
        }
    }
    (path.to_owned(), parameters)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn queries_are_parsed_with_their_secrets_redacted() {
        let (path, query) = split_path(
            "/scim_v2/Users?filter=userName%20eq%20%22ada%40contoso.com%22&access_token=abc&a=1&a=2",
        );
        assert_eq!(path, "/scim_v2/Users");
        assert_eq!(
            Value::Object(query),
            json!({"filter": "userName eq \"ada@contoso.com\"", "access_token": "[redacted]", "a": ["1", "2"]})
        );
    }

    #[test]
    fn refusals_give_their_scim_type() {
        assert_eq!(
            scim_refusal(409, "409 uniqueness: userName \"x\" is already taken"),
            (
                Some("uniqueness".into()),
                "userName \"x\" is already taken".into()
            )
        );
        assert_eq!(
            scim_refusal(404, "404 error: no such User in this organization"),
            (None, "no such User in this organization".into())
        );
        assert_eq!(
            scim_refusal(403, "only owners: ask"),
            (None, "only owners: ask".into())
        );
    }

    #[test]
    fn bulk_operations_are_told_by_their_path() {
        assert_eq!(
            bulk_operation("/scim_v2/Bulk#2 PATCH /Users/bulkId:q1"),
            Some((2, "PATCH", "/Users/bulkId:q1"))
        );
        assert_eq!(bulk_operation("/scim_v2/Users"), None);
    }
}
