//! `GET /api/v1/openapi.json`: the admin API described as OpenAPI 3.1, made
//! from the same table the routes are mounted from.

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use super::error::{AUDIT_ROLES, REQUIRED_ROLE};
use super::{Access, Endpoint, PREFIX, endpoints};

/// Serves the description.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document(&endpoints()))
}

/// The OpenAPI 3.1 document of `endpoints`, paths in full (`/api/v1/...`).
pub fn document(endpoints: &[Endpoint]) -> Value {
    let mut paths = Map::new();
    for endpoint in endpoints {
        let path = format!("{PREFIX}{}", endpoint.path);
        let entry = paths
            .entry(path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object");
        entry.insert(
            endpoint.method.as_str().to_ascii_lowercase(),
            operation(endpoint),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "rollcall admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The owners' API: log in (POST /api/v1/sessions) and send the \
                session's token as 'Authorization: Bearer <token>'. Every route under \
                /api/v1/orgs/{org} but leaving it (DELETE .../membership) and the audit \
                (.../audit/..., for its auditors and owners) is for the organization's \
                owners: other members get 403 with required_role, everyone else 404. \
                Errors are {\"error\",\"message\"}.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A session token from POST /api/v1/sessions (rcsess_...), valid 12 hours",
                },
            },
            "schemas": {
                "Error": schema::error(),
                "Forbidden": schema::forbidden(),
            },
        },
    })
}

fn operation(endpoint: &Endpoint) -> Value {
    let (status, description, body) = &endpoint.success;
    let mut responses = Map::new();
    let success = match body {
        Some(schema) => json!({
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }),
        None => json!({"description": description}),
    };
    responses.insert(status.to_string(), success);
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        })
    };
    if endpoint.request.is_some() {
        responses.insert(
            "400".into(),
            error("The body is not the JSON object this route takes"),
        );
    }
    if endpoint.access != Access::Public {
        responses.insert("401".into(), error("No live session token"));
    }
    if let Some(required_role) = endpoint.access.required_role() {
        let admitted = match endpoint.access {
            Access::Auditors => AUDIT_ROLES.join(" nor "),
            _ => REQUIRED_ROLE.to_owned(),
        };
        responses.insert(
            "403".into(),
            json!({
                "description": format!(
                    "The caller's role is not {admitted} (required_role: {required_role})"
                ),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Forbidden"}}},
            }),
        );
        responses.insert(
            "404".into(),
            error("The caller is not a member of the organization, or it has no such id"),
        );
    }
    for (status, description) in endpoint.refusals {
        responses.insert(status.to_string(), error(description));
    }
    let mut operation = json!({
        "summary": endpoint.summary,
        "responses": responses,
    });
    let parameters: Vec<Value> = endpoint
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = match name {
                "role" => json!({"type": "string", "description": "A role's name"}),
                _ => json!({"type": "string", "format": "uuid"}),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(schema) = &endpoint.request {
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": schema}},
        });
    }
    if endpoint.access != Access::Public {
        operation["security"] = json!([{"session": []}]);
    }
    operation
}

/// The JSON schemas of the bodies.
pub mod schema {
    use serde_json::{Value, json};

    fn object(properties: Value, required: &[&str]) -> Value {
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    fn uuid() -> Value {
        json!({"type": "string", "format": "uuid"})
    }

    fn time() -> Value {
        json!({"type": "string", "format": "date-time"})
    }

    pub fn array(items: Value) -> Value {
        json!({"type": "array", "items": items})
    }

    pub fn any_object() -> Value {
        json!({"type": "object"})
    }

    pub fn error() -> Value {
        object(
            json!({
                "error": {
                    "type": "string",
                    "description": "invalid, unauthorized, forbidden, scim_managed, not_found, \
                        conflict, too_large, timeout, dns_unavailable, unavailable, internal",
                },
                "message": {"type": "string", "description": "What to do instead"},
            }),
            &["error", "message"],
        )
    }

    pub fn forbidden() -> Value {
        object(
            json!({
                "error": {"const": "forbidden"},
                "message": {"type": "string"},
                "required_role": {"const": super::REQUIRED_ROLE},
            }),
            &["error", "message", "required_role"],
        )
    }

    pub fn credentials() -> Value {
        object(
            json!({"email": {"type": "string"}, "password": {"type": "string"}}),
            &["email", "password"],
        )
    }

    pub fn session() -> Value {
        object(
            json!({"token": {"type": "string"}, "expires_at": time()}),
            &["token", "expires_at"],
        )
    }

    pub fn provisioning() -> Value {
        object(
            json!({
                "scim_enabled": {"type": "boolean"},
                "default_role": {"type": "string", "description": "The role new SCIM members get"},
                "tenant_url": {
                    "type": "string",
                    "description": "The SCIM base URL to give the identity provider",
                },
            }),
            &["scim_enabled", "default_role", "tenant_url"],
        )
    }

    pub fn provisioning_change() -> Value {
        object(
            json!({
                "scim_enabled": {"type": "boolean"},
                "default_role": {"type": "string", "description": "Never owner"},
                "tenant_url": {"type": "string", "description": "Ignored (read-only)"},
            }),
            &[],
        )
    }

    pub fn token_request() -> Value {
        object(
            json!({"valid_for_days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 365}}),
            &[],
        )
    }

    pub fn issued_token() -> Value {
        object(
            json!({"id": uuid(), "token": {"type": "string"}, "expires_at": time()}),
            &["id", "token", "expires_at"],
        )
    }

    pub fn token_listing() -> Value {
        object(
            json!({
                "id": uuid(),
                "created_at": time(),
                "expires_at": time(),
                "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                "state": {"enum": ["live", "revoked", "expired"]},
            }),
            &["id", "created_at", "expires_at", "last_used_at", "state"],
        )
    }

    pub fn role() -> Value {
        object(
            json!({
                "role": {"type": "string"},
                "built_in": {"type": "boolean"},
                "group_ids": {
                    "type": "array",
                    "items": uuid(),
                    "description": "The SCIM groups whose members hold the role",
                },
            }),
            &["role", "built_in", "group_ids"],
        )
    }

    pub fn role_groups_request() -> Value {
        object(
            json!({"group_ids": {"type": "array", "items": uuid()}}),
            &["group_ids"],
        )
    }

    pub fn role_groups() -> Value {
        object(
            json!({
                "role": {"type": "string"},
                "group_ids": {"type": "array", "items": uuid(), "description": "Sorted, each once"},
            }),
            &["role", "group_ids"],
        )
    }

    fn name() -> Value {
        json!({"type": ["string", "null"]})
    }

    pub fn account() -> Value {
        let membership = object(
            json!({
                "org_id": uuid(),
                "org_name": {"type": "string"},
                "role": {"type": "string"},
                "source": {"enum": ["scim", "manual"]},
                "scim_managed": {
                    "type": "boolean",
                    "description": "Whether the organization's identity provider manages it now",
                },
                "state": {"enum": ["active", "suspended", "removed"]},
            }),
            &[
                "org_id",
                "org_name",
                "role",
                "source",
                "scim_managed",
                "state",
            ],
        );
        object(
            json!({
                "id": uuid(),
                "email": {"type": "string"},
                "first_name": name(),
                "family_name": name(),
                "memberships": array(membership),
            }),
            &["id", "email", "first_name", "family_name", "memberships"],
        )
    }

    pub fn email_change() -> Value {
        object(json!({"email": {"type": "string"}}), &["email"])
    }

    pub fn password_change() -> Value {
        object(
            json!({
                "current_password": {"type": "string"},
                "new_password": {"type": "string", "minLength": domain::account::MIN_PASSWORD_CHARS},
            }),
            &["current_password", "new_password"],
        )
    }

    pub fn member() -> Value {
        object(
            json!({
                "account_id": uuid(),
                "email": {"type": "string"},
                "first_name": name(),
                "family_name": name(),
                "role": {"type": "string", "description": "The member's own role"},
                "roles": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Its own role, then those its SCIM groups give",
                },
                "source": {"enum": ["scim", "manual"]},
                "scim_managed": {"type": "boolean"},
                "locks": {
                    "type": "array",
                    "items": {"enum": ["leave", "email", "password"]},
                    "description": "What the identity provider holds: leaving, the account's \
                        email and password",
                },
                "state": {"enum": ["active", "suspended", "removed"]},
            }),
            &[
                "account_id",
                "email",
                "first_name",
                "family_name",
                "role",
                "roles",
                "source",
                "scim_managed",
                "locks",
                "state",
            ],
        )
    }

    pub fn member_request() -> Value {
        object(
            json!({
                "email": {"type": "string"},
                "role": {"type": "string", "examples": ["member"]},
            }),
            &["email", "role"],
        )
    }

    pub fn role_request() -> Value {
        object(
            json!({"role": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}}),
            &["role"],
        )
    }

    pub fn domain_request() -> Value {
        object(
            json!({"domain": {"type": "string", "examples": ["contoso.com"]}}),
            &["domain"],
        )
    }

    pub fn domain() -> Value {
        object(
            json!({
                "id": uuid(),
                "domain": {"type": "string"},
                "txt_name": {"type": "string"},
                "txt_value": {"type": "string"},
                "state": {"enum": ["pending", "verified"]},
            }),
            &["id", "domain", "txt_name", "txt_value", "state"],
        )
    }

    /// What an erasure did (`admin::erasure::Erasure`).
    pub fn erasure() -> Value {
        object(
            json!({
                "user_id": uuid(),
                "account_id": {"oneOf": [uuid(), {"type": "null"}]},
                "access_records_redacted": {"type": "integer"},
            }),
            &["user_id", "account_id", "access_records_redacted"],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mounted_route_is_described_with_its_errors() {
        let endpoints = endpoints();
        let document = document(&endpoints);
        assert_eq!(document["openapi"], "3.1.0");
        for endpoint in &endpoints {
            let path = format!("{PREFIX}{}", endpoint.path);
            let method = endpoint.method.as_str().to_ascii_lowercase();
            let operation = &document["paths"][&path][&method];
            assert!(operation.is_object(), "{method} {path} is not described");
            let responses = &operation["responses"];
            assert!(
                responses[endpoint.success.0.to_string()].is_object(),
                "{method} {path}"
            );
            if endpoint.access.required_role().is_some() {
                assert_eq!(
                    responses["403"]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Forbidden"
                );
                assert!(
                    operation["parameters"][0]["name"] == "org",
                    "{method} {path}"
                );
            }
        }
        let described: usize = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(described, endpoints.len(), "nothing described is unmounted");
    }
}
