//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7643 §5-7):
//! what this server actually implements, no more. Schemas and resource types
//! are rendered from the `scim` crate's definitions, the same ones that
//! validate requests, so what they say is what the server does.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::error::SCIM_JSON;
use crate::render::{origin, scim_base};
use crate::{ApiError, AppState};
use scim::ScimError;
use scim::schema::{RESOURCE_TYPES, SCHEMAS};

/// Registers the discovery routes.
pub fn configure(config: &mut web::ServiceConfig) {
    let read_only = |path: &str| {
        web::resource(path.to_owned()).default_service(web::to(super::method_not_allowed))
    };
    config
        .service(read_only("/ServiceProviderConfig").get(service_provider_config))
        .service(read_only("/ResourceTypes").get(resource_types))
        .service(read_only("/ResourceTypes/{name}").get(resource_type))
        .service(read_only("/Schemas").get(schemas))
        .service(read_only("/Schemas/{id}").get(schema));
}

fn scim_json(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .body(body.to_string())
}

fn list(resources: Vec<Value>) -> Value {
    crate::render::list_json(resources.len() as i64, 1, resources)
}

/// Where the service describes itself (served by [`super::docs`]).
pub const DOCUMENTATION_PATH: &str = "/docs/scim";

async fn service_provider_config(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    scim_json(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        // RFC 7643 §5 gives `patch` no limit attribute and strict clients
        // (scim2-client) refuse any other member, an extension's included:
        // the PATCH limit is stated in the documentation this points to, and
        // in the `tooMany` error that enforces it.
        "documentationUri": format!("{}{DOCUMENTATION_PATH}", origin(&request)),
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": state.settings.bulk_max_operations,
            "maxPayloadSize": state.settings.bulk_max_payload_bytes
        },
        "filter": {"supported": true, "maxResults": state.settings.max_results},
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The organization's SCIM token, sent as 'Authorization: Bearer <token>'",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", scim_base(&request))
        }
    }))
}

async fn resource_types(request: HttpRequest) -> HttpResponse {
    let base = scim_base(&request);
    scim_json(list(
        RESOURCE_TYPES
            .iter()
            .map(|resource_type| resource_type.to_json(&base))
            .collect(),
    ))
}

async fn resource_type(
    request: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    RESOURCE_TYPES
        .iter()
        .find(|resource_type| resource_type.id.eq_ignore_ascii_case(&name))
        .map(|resource_type| scim_json(resource_type.to_json(&scim_base(&request))))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {name:?}")).into())
}

async fn schemas(request: HttpRequest) -> HttpResponse {
    let base = scim_base(&request);
    scim_json(list(
        SCHEMAS.iter().map(|schema| schema.to_json(&base)).collect(),
    ))
}

async fn schema(request: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    SCHEMAS
        .iter()
        .find(|schema| schema.id.eq_ignore_ascii_case(&id))
        .map(|schema| scim_json(schema.to_json(&scim_base(&request))))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}")).into())
}
