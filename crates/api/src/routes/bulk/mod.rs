//! `POST /scim_v2/Bulk` (RFC 7644 §3.7): many Users and Groups operations in
//! one request.
//!
//! The request is read with its own size limit (`maxPayloadSize`, 413 past
//! it) and parsed whole before anything runs: a malformed message or more
//! than `maxOperations` operations (413) changes nothing. Then operations
//! run one at a time, in the order sent, each through the same write path as
//! the single-resource route it stands for, so each becomes its own events
//! on its user's or group's stream. `bulkId:` references resolve to users
//! and groups created by earlier operations ([`references`]), so a group can
//! list as members the users created before it in the same request. A failing operation answers with its
//! own status and SCIM error body and the others carry on, until
//! `failOnErrors` errors have occurred; the operations after that are not
//! performed and are left out of the response. The response is 200 whenever
//! the request was performed.
//!
//! Recording. Every operation's record carries the bulk request's
//! `request_id`, token, client and body digest, its own status, and a path
//! that names the bulk and the operation: `/scim_v2/Bulk#<index> <METHOD>
//! <path as sent>` (index counted from 0 in `Operations`). An operation that
//! appended events is recorded by them; one that did not (it failed, or
//! changed nothing) gets its own access record. The bulk request as a whole
//! is marked [`RecordedAsEvent`] when at least one operation appended
//! events; otherwise the gate records it in the access log like any request
//! that changed nothing, so that a bulk whose every operation failed still
//! shows as one request.

mod perform;
mod references;
mod request;

use std::cell::Cell;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use scim::ScimError;
use serde_json::{Value, json};

use self::perform::{Context, perform};
use self::references::References;
use self::request::BulkRequest;
use crate::error::SCIM_JSON;
use crate::scim_gate::{RecordedAsEvent, Tenant};
use crate::{ApiError, AppState, body};

/// The BulkResponse message schema.
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Registers `/Bulk`.
pub fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::resource("/Bulk")
            .post(bulk)
            .default_service(web::to(super::method_not_allowed)),
    );
}

/// Performs a BulkRequest: 200 with a BulkResponse.
async fn bulk(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = state.settings.bulk_max_payload_bytes;
    let body = body::read_json(&request, payload, limit)
        .await
        .map_err(|error| match error {
            ApiError::Scim(ScimError { status: 413, .. }) => ApiError::Scim(ScimError {
                status: 413,
                scim_type: None,
                detail: format!("the bulk request is larger than {limit} bytes (maxPayloadSize)"),
            }),
            other => other,
        })?;
    let bulk = BulkRequest::parse(&body, state.settings.bulk_max_operations)
        .map_err(|error| ApiError::Scim(error.to_scim()))?;
    let context = Context {
        state: &state,
        request: &request,
        tenant: Tenant::of(&request),
        has_unseen_user_writes: Cell::new(false),
    };
    let mut references = References::new(&bulk.operations);
    let mut entries: Vec<Value> = Vec::with_capacity(bulk.operations.len());
    let mut errors = 0;
    let mut appended = false;
    for (index, operation) in bulk.operations.iter().enumerate() {
        if bulk.fail_on_errors.is_some_and(|max| errors >= max) {
            break;
        }
        let performed = perform(&context, index, operation, &mut references).await;
        errors += usize::from(performed.failed);
        appended |= performed.appended;
        entries.push(performed.entry);
    }
    let mut response = HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .body(json!({"schemas": [BULK_RESPONSE], "Operations": entries}).to_string());
    if appended {
        response.extensions_mut().insert(RecordedAsEvent);
    }
    Ok(response)
}
