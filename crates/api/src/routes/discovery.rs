//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7643 §5-7):
//! what this server actually implements, no more.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::error::SCIM_JSON;
use crate::{ApiError, AppState};
use scim::ScimError;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

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

async fn service_provider_config(state: web::Data<AppState>) -> HttpResponse {
    scim_json(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/rollcall/rollcall#readme",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": state.settings.bulk_max_operations,
            "maxPayloadSize": state.settings.bulk_max_payload_bytes
        },
        "filter": {"supported": true, "maxResults": state.settings.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The organization's SCIM token, sent as 'Authorization: Bearer <token>'",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": "/scim_v2/ServiceProviderConfig"}
    }))
}

fn user_resource_type() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person's directory entry in the organization",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": "/scim_v2/ResourceTypes/User"}
    })
}

async fn resource_types() -> HttpResponse {
    scim_json(list(vec![user_resource_type()]))
}

async fn resource_type(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    if name.eq_ignore_ascii_case("User") {
        Ok(scim_json(user_resource_type()))
    } else {
        Err(ScimError::not_found(format!("no resource type {name:?}")).into())
    }
}

async fn schemas() -> HttpResponse {
    scim_json(list(vec![user_schema(), enterprise_schema()]))
}

async fn schema(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    [user_schema(), enterprise_schema()]
        .into_iter()
        .find(|schema| {
            schema["id"]
                .as_str()
                .is_some_and(|known| known.eq_ignore_ascii_case(&id))
        })
        .map(scim_json)
        .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}")).into())
}

/// One attribute definition; `case_exact`, `mutability`, `returned` and
/// `uniqueness` follow RFC 7643's defaults unless given.
fn attribute(name: &str, kind: &str, multi_valued: bool, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": multi_valued,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none"
    })
}

fn with(mut attribute: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().expect("changes are an object") {
        attribute[key] = value.clone();
    }
    attribute
}

fn strings(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|name| attribute(name, "string", false, name))
        .collect()
}

fn multi_valued(name: &str, description: &str) -> Value {
    let mut subs = strings(&["value", "display", "type"]);
    subs.push(attribute("primary", "boolean", false, "The primary value"));
    with(
        attribute(name, "complex", true, description),
        json!({"subAttributes": subs}),
    )
}

fn schema_document(id: &str, name: &str, description: &str, attributes: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("/scim_v2/Schemas/{id}")}
    })
}

fn user_schema() -> Value {
    let mut attributes = vec![
        with(
            attribute(
                "userName",
                "string",
                false,
                "Unique identifier for the user, compared case-insensitively",
            ),
            json!({"required": true, "uniqueness": "server"}),
        ),
        with(
            attribute("name", "complex", false, "The user's name"),
            json!({"subAttributes": strings(&["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"])}),
        ),
    ];
    attributes.extend(strings(&[
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
    ]));
    attributes.push(attribute(
        "active",
        "boolean",
        false,
        "Whether the user may use the organization; false ends the membership",
    ));
    attributes.push(with(
        attribute(
            "password",
            "string",
            false,
            "Accepted and never stored or returned",
        ),
        json!({"mutability": "writeOnly", "returned": "never"}),
    ));
    for (name, description) in [
        ("emails", "Email addresses"),
        ("phoneNumbers", "Phone numbers"),
        ("ims", "Instant messaging addresses"),
        ("photos", "Photo URLs"),
        ("entitlements", "Entitlements"),
        ("roles", "Roles"),
        ("x509Certificates", "Certificates"),
    ] {
        attributes.push(multi_valued(name, description));
    }
    attributes.push(with(
        attribute("addresses", "complex", true, "Physical mailing addresses"),
        json!({"subAttributes": strings(&["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type"])}),
    ));
    schema_document(USER_SCHEMA, "User", "User Account", attributes)
}

fn enterprise_schema() -> Value {
    let mut attributes = strings(&[
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ]);
    attributes.push(with(
        attribute("manager", "complex", false, "The user's manager"),
        json!({"subAttributes": [
            attribute("value", "string", false, "The id of the manager's User"),
            attribute("$ref", "reference", false, "The URI of the manager's User"),
            with(attribute("displayName", "string", false, "The manager's display name"), json!({"mutability": "readOnly"}))
        ]}),
    ));
    schema_document(
        ENTERPRISE_SCHEMA,
        "EnterpriseUser",
        "Enterprise User",
        attributes,
    )
}
