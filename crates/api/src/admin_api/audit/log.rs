//! The log as auditors read it: `audit/events` (filtered pages),
//! `audit/export` (the whole selection, streamed) and
//! `audit/requests/{id}` (one request: what was sent, what was answered).
//! Each calls the `audit` crate's function that `rollcall audit` calls.

use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use audit::AuditError;
use audit::events::EventQuery;
use audit::export::ExportQuery;
use futures::TryStreamExt;
use serde_json::{Value, json};
use uuid::Uuid;

use super::super::error::AdminError;
use super::super::gate::Caller;
use super::super::openapi::schema;
use super::super::owners::require_auditor;
use super::super::{Access, Endpoint};
use crate::AppState;

/// The routes of this file.
pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/audit/events",
            access: Access::Auditors,
            summary: "The organization's events, filtered and paged: query parameters since, \
                      until (RFC 3339; since included, until not), type, resource_id, user_name \
                      (any userName a SCIM user ever had, case-insensitive), request_id, \
                      token_id, outcome (accepted or refused), cursor (a next_cursor), limit \
                      (1 to 1000, default 100)",
            request: None,
            success: (
                200,
                "A page of events, oldest first; next_cursor is null on the last page",
                Some(event_page()),
            ),
            refusals: &[(
                400,
                "A parameter is not what it should be: the message says what is wanted",
            )],
            handler: || web::route().to(events),
        },
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/audit/export",
            access: Access::Auditors,
            summary: "Every event between since and until, streamed: format=ndjson (one \
                      audit/events object per line, the default) or format=csv (a header, \
                      then one row per event, data as JSON text, RFC 4180)",
            request: None,
            success: (200, "The export, as application/x-ndjson or text/csv", None),
            refusals: &[(
                400,
                "A parameter is not what it should be: the message says what is wanted",
            )],
            handler: || web::route().to(export),
        },
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/audit/requests/{request}",
            access: Access::Auditors,
            summary: "One request: what was sent (method, path, query, headers and as much of \
                      the body as the events keep, secrets redacted) and what was answered \
                      (status, scimType, detail, the events produced)",
            request: None,
            success: (200, "The request as recorded", Some(schema::any_object())),
            refusals: &[],
            handler: || web::route().to(request_record),
        },
    ]
}

/// `audit/events`: `{"events":[...],"next_cursor"}`.
async fn events(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_auditor(&state, &request, &caller, org_id, "audit events").await?;
    let pairs = query_pairs(&request)?;
    let query =
        EventQuery::parse(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))).map_err(refused)?;
    let page = audit::events::page(&state.pool, org_id, &query)
        .await
        .map_err(refused)?;
    Ok(HttpResponse::Ok().json(page))
}

/// `audit/export`: the selection, streamed page by page from the log.
async fn export(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_auditor(&state, &request, &caller, org_id, "audit export").await?;
    let pairs = query_pairs(&request)?;
    let query =
        ExportQuery::parse(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))).map_err(refused)?;
    let chunks = audit::export::export(state.pool.clone(), org_id, &query)
        .map_ok(|chunk| Bytes::from(chunk.text))
        .map_err(|error| {
            // The status is sent: the client sees the body cut short.
            tracing::error!(%error, "an audit export stopped");
            actix_web::error::ErrorInternalServerError("the export stopped")
        });
    Ok(HttpResponse::Ok()
        .content_type(query.format.content_type())
        .insert_header((
            "content-disposition",
            format!(
                "attachment; filename=\"rollcall-{org_id}-events.{}\"",
                query.format.extension()
            ),
        ))
        .streaming(chunks))
}

/// `audit/requests/{request}`: the request as recorded.
async fn request_record(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, AdminError> {
    let (org_id, request_id) = path.into_inner();
    require_auditor(&state, &request, &caller, org_id, "audit request").await?;
    let request_id = Uuid::parse_str(&request_id).map_err(|_| {
        AdminError::invalid(format!(
            "{request_id:?} is no request id; give a UUID such as an event's request.id"
        ))
    })?;
    let record = audit::requests::find(&state.pool, org_id, request_id)
        .await
        .map_err(refused)?;
    Ok(HttpResponse::Ok().json(record))
}

/// The request's query parameters, decoded, in the order sent.
fn query_pairs(request: &HttpRequest) -> Result<Vec<(String, String)>, AdminError> {
    web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .map_err(|error| AdminError::invalid(format!("the query string cannot be read: {error}")))
}

/// The admin API's answer to an auditor's query that failed.
fn refused(error: AuditError) -> AdminError {
    match error {
        AuditError::Invalid(message) => AdminError::invalid(message),
        AuditError::NotFound(message) => AdminError::not_found(message),
        AuditError::Store(error) => AdminError::from(error),
    }
}

/// The schema of a page of `audit/events`.
fn event_page() -> Value {
    let nullable = |kind: &str| json!({"type": [kind, "null"]});
    let event = json!({
        "type": "object",
        "properties": {
            "position": {"type": "integer"},
            "recorded_at": {"type": "string", "format": "date-time"},
            "type": {"type": "string"},
            "stream": {"type": "string", "format": "uuid"},
            "resource_id": nullable("string"),
            "request": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "method": {"type": "string"},
                    "path": {"type": "string"},
                    "token_id": nullable("string"),
                    "client": nullable("string"),
                    "user_agent": nullable("string"),
                    "status": {"type": "integer"},
                },
            },
            "data": {"type": "object"},
        },
    });
    json!({
        "type": "object",
        "properties": {
            "events": schema::array(event),
            "next_cursor": nullable("string"),
        },
        "required": ["events", "next_cursor"],
    })
}
