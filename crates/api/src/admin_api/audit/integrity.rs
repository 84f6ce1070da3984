//! `/api/v1/orgs/{org}/audit/checkpoints` and `.../audit/signing-key`: the
//! signed checkpoints of the organization's head, and the public key that
//! checks them (docs/audit-integrity.md).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use uuid::Uuid;

use super::super::error::AdminError;
use super::super::gate::Caller;
use super::super::owners::require_auditor;
use super::super::{Access, Endpoint};
use crate::AppState;

/// Every checkpoint of the organization, oldest first, each as the file
/// `rollcall audit checkpoint --out` writes.
async fn checkpoints(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_auditor(&state, &request, &caller, org_id, "audit checkpoints").await?;
    let listed = audit::checkpoints::list(&state.pool, org_id).await?;
    Ok(HttpResponse::Ok().json(json!({ "checkpoints": listed })))
}

/// The public key that signs checkpoints; 404 when none is configured.
async fn signing_key(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    require_auditor(
        &state,
        &request,
        &caller,
        org.into_inner(),
        "audit signing-key",
    )
    .await?;
    match &state.settings.signing_key {
        Some(key) => Ok(HttpResponse::Ok().json(key)),
        None => Err(AdminError::not_found(
            "this server signs no checkpoints: its operator has configured no signing key \
             (ROLLCALL_SIGNING_KEY_FILE; see docs/audit-integrity.md)",
        )),
    }
}

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/audit/checkpoints",
            access: Access::Auditors,
            summary: "The signed checkpoints of the organization's head, oldest first",
            request: None,
            success: (
                200,
                "{\"checkpoints\": [...]}, each as the file `rollcall audit checkpoint --out` writes",
                Some(json!({
                    "type": "object",
                    "properties": {"checkpoints": {"type": "array", "items": checkpoint_file()}},
                    "required": ["checkpoints"],
                })),
            ),
            refusals: &[],
            handler: || web::route().to(checkpoints),
        },
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/audit/signing-key",
            access: Access::Auditors,
            summary: "The Ed25519 public key that signs checkpoints",
            request: None,
            success: (200, "The key", Some(public_key())),
            refusals: &[(404, "The operator has configured no signing key")],
            handler: || web::route().to(signing_key),
        },
    ]
}

fn text() -> Value {
    json!({"type": "string"})
}

fn integer() -> Value {
    json!({"type": "integer"})
}

fn checkpoint_file() -> Value {
    json!({
        "type": "object",
        "properties": {
            "format": {"const": domain::checkpoint::FORMAT},
            "org_id": {"type": "string", "format": "uuid"},
            "org_name": text(),
            "head_position": integer(),
            "event_count": integer(),
            "head_hash": text(),
            "signed_at": {"type": "string", "format": "date-time"},
            "algorithm": {"const": domain::checkpoint::ALGORITHM},
            "key_id": text(),
            "public_key": text(),
            "signature": text(),
        },
    })
}

fn public_key() -> Value {
    json!({
        "type": "object",
        "properties": {
            "algorithm": {"const": domain::checkpoint::ALGORITHM},
            "public_key": {"type": "string", "description": "32 bytes, hex"},
            "key_id": {"type": "string", "description": "The first 8 bytes of the key's SHA-256, hex"},
        },
        "required": ["algorithm", "public_key", "key_id"],
    })
}
