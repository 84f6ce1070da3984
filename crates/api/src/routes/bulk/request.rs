//! The BulkRequest message (RFC 7644 §3.7.1), parsed before any operation
//! runs. What is wrong with the message as a whole (not JSON, no
//! `Operations`, too many of them) refuses the request; what is wrong with
//! one operation becomes that operation's error and leaves the others alone.

use std::collections::HashMap;

use scim::{ScimError, ScimType};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::render::{ResourceType, etag_version};

/// The BulkRequest message schema.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// A parsed BulkRequest.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many failed operations; `None` performs them all.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<Operation>,
}

/// One entry of `Operations`: what the response echoes, and what to do or
/// why it cannot be done.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The method as sent, upper-cased (`""` when missing).
    pub method: String,
    pub bulk_id: Option<String>,
    /// The path as sent (`""` when missing).
    pub path: String,
    /// Whether the path names Users or Groups; `User` when it names neither.
    pub kind: ResourceType,
    pub action: Result<Action, ScimError>,
}

/// What a well-formed operation asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `POST /Users` or `POST /Groups`.
    Create { data: Value },
    /// `PUT /Users/{id}` or `PUT /Groups/{id}`.
    Replace {
        target: Target,
        data: Value,
        if_match: Option<i64>,
    },
    /// `PATCH` of a user or group with a PatchOp message.
    Patch {
        target: Target,
        data: Value,
        if_match: Option<i64>,
    },
    /// `DELETE` of a user or group.
    Delete {
        target: Target,
        if_match: Option<i64>,
    },
}

impl Action {
    /// The resource or PatchOp message the operation carries.
    pub fn data(&self) -> Option<&Value> {
        match self {
            Action::Create { data } | Action::Replace { data, .. } | Action::Patch { data, .. } => {
                Some(data)
            }
            Action::Delete { .. } => None,
        }
    }
}

/// The user or group an operation's path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Id(Uuid),
    /// `/Users/bulkId:<id>`: what an earlier operation of the request created.
    BulkId(String),
}

/// Why a whole bulk request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// More operations than `maxOperations`: 413, nothing performed.
    TooManyOperations { count: usize, max: usize },
    /// The message is not a BulkRequest: 400, nothing performed.
    Invalid(ScimError),
}

impl RequestError {
    /// The SCIM error the client is told.
    pub fn to_scim(&self) -> ScimError {
        match self {
            RequestError::TooManyOperations { count, max } => ScimError {
                status: 413,
                scim_type: None,
                detail: format!(
                    "the bulk request has {count} operations; this server takes at most {max} (maxOperations)"
                ),
            },
            RequestError::Invalid(error) => error.clone(),
        }
    }
}

/// SCIM attribute names are case-insensitive, in messages too.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

impl BulkRequest {
    /// Parses `body`, refusing more than `max_operations` operations.
    /// `schemas` may be left out; when present it must name BulkRequest.
    pub fn parse(body: &Value, max_operations: usize) -> Result<BulkRequest, RequestError> {
        let invalid = |detail: &str| RequestError::Invalid(syntax(detail));
        let object = body
            .as_object()
            .ok_or_else(|| invalid("a BulkRequest is a JSON object"))?;
        if let Some(schemas) = field(object, "schemas") {
            let names_bulk = schemas.as_array().is_some_and(|schemas| {
                schemas
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|schema| schema.eq_ignore_ascii_case(BULK_REQUEST))
            });
            if !names_bulk {
                return Err(invalid(&format!("schemas must include {BULK_REQUEST}")));
            }
        }
        let fail_on_errors = match field(object, "failOnErrors") {
            None => None,
            Some(value) => match value.as_u64() {
                Some(count) if count >= 1 => Some(usize::try_from(count).unwrap_or(usize::MAX)),
                _ => {
                    return Err(RequestError::Invalid(ScimError::bad_request(
                        ScimType::InvalidValue,
                        format!("failOnErrors must be an integer of at least 1, not {value}"),
                    )));
                }
            },
        };
        let entries = field(object, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("a BulkRequest needs an Operations array"))?;
        if entries.len() > max_operations {
            return Err(RequestError::TooManyOperations {
                count: entries.len(),
                max: max_operations,
            });
        }
        let mut declared: HashMap<String, usize> = HashMap::new();
        let operations = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let mut operation = Operation::parse(entry);
                if let Some(bulk_id) = &operation.bulk_id {
                    if let Some(first) = declared.get(bulk_id) {
                        operation.action = Err(ScimError::bad_request(
                            ScimType::InvalidValue,
                            format!("bulkId {bulk_id:?} is already used by operation {first}"),
                        ));
                    } else {
                        declared.insert(bulk_id.clone(), index);
                    }
                }
                operation
            })
            .collect();
        Ok(BulkRequest {
            fail_on_errors,
            operations,
        })
    }
}

impl Operation {
    /// Parses one entry of `Operations`; never fails, since a bad entry is
    /// that entry's error only.
    pub fn parse(entry: &Value) -> Operation {
        let empty = Map::new();
        let object = entry.as_object().unwrap_or(&empty);
        let text = |name: &str| field(object, name).and_then(Value::as_str);
        let method = text("method").unwrap_or_default().to_ascii_uppercase();
        let path = text("path").unwrap_or_default().to_owned();
        let bulk_id = text("bulkId").map(str::to_owned);
        let kind = kind_of(&path).unwrap_or(ResourceType::User);
        let action = if entry.is_object() {
            action(object, &method, &path, bulk_id.as_deref())
        } else {
            Err(syntax("each operation is a JSON object"))
        };
        Operation {
            method,
            bulk_id,
            path,
            kind,
            action,
        }
    }
}

/// Checks one operation the way the routes would check the same request.
fn action(
    object: &Map<String, Value>,
    method: &str,
    path: &str,
    bulk_id: Option<&str>,
) -> Result<Action, ScimError> {
    if method.is_empty() {
        return Err(syntax("an operation needs a method"));
    }
    if path.is_empty() {
        return Err(syntax("an operation needs a path"));
    }
    if bulk_id == Some("") {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            "bulkId must not be empty",
        ));
    }
    let not_allowed = || ScimError {
        status: 405,
        scim_type: None,
        detail: format!("{method} is not allowed on {path}"),
    };
    let data = || {
        field(object, "data")
            .filter(|data| data.is_object())
            .cloned()
            .ok_or_else(|| syntax(format!("a {method} operation needs a data object")))
    };
    let if_match = || match field(object, "version") {
        None => Ok(None),
        Some(version) => version.as_str().and_then(etag_version).ok_or_else(|| {
            ScimError::precondition_failed(format!(
                "version {version} is not an ETag this server issued"
            ))
        }),
    };
    let target = match target(path)? {
        None if method == "POST" => return Ok(Action::Create { data: data()? }),
        None => return Err(not_allowed()),
        Some(target) => target,
    };
    match method {
        "PUT" => Ok(Action::Replace {
            target,
            data: data()?,
            if_match: if_match()?,
        }),
        "PATCH" => Ok(Action::Patch {
            target,
            data: data()?,
            if_match: if_match()?,
        }),
        "DELETE" => Ok(Action::Delete {
            target,
            if_match: if_match()?,
        }),
        "POST" => Err(not_allowed()),
        other => Err(syntax(format!(
            "method {other:?} is not one of POST, PUT, PATCH, DELETE"
        ))),
    }
}

/// The path's segments after `/scim_v2`: the resource type and the rest.
fn segments(path: &str) -> (&str, Option<&str>) {
    let relative = path.strip_prefix("/scim_v2").unwrap_or(path);
    let trimmed = relative.trim_end_matches('/');
    let mut segments = trimmed.strip_prefix('/').unwrap_or(trimmed).splitn(2, '/');
    (segments.next().unwrap_or_default(), segments.next())
}

/// The resource type a path names, if it is one a bulk request carries.
fn kind_of(path: &str) -> Option<ResourceType> {
    match segments(path).0 {
        resource if resource.eq_ignore_ascii_case("Users") => Some(ResourceType::User),
        resource if resource.eq_ignore_ascii_case("Groups") => Some(ResourceType::Group),
        _ => None,
    }
}

/// The resource an operation path names: `None` for a collection (`/Users`,
/// `/Groups`), the user or group for `/Users/{id}` or `/Groups/{id}`. Other
/// paths are 404.
fn target(path: &str) -> Result<Option<Target>, ScimError> {
    let Some(kind) = kind_of(path) else {
        return Err(ScimError::not_found(format!(
            "no SCIM endpoint at {path}: a bulk request carries Users and Groups operations"
        )));
    };
    match segments(path).1 {
        None => Ok(None),
        Some(id) => match id.strip_prefix(super::references::PREFIX) {
            Some(bulk_id) => Ok(Some(Target::BulkId(bulk_id.to_owned()))),
            None => Uuid::parse_str(id)
                .map(|id| Some(Target::Id(id)))
                .map_err(|_| {
                    let what = if kind == ResourceType::Group {
                        "group"
                    } else {
                        "user"
                    };
                    ScimError::not_found(format!("no {what} {id:?} in this organization"))
                }),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(body: Value) -> Result<BulkRequest, RequestError> {
        BulkRequest::parse(&body, 3)
    }

    fn one(operation: Value) -> Operation {
        Operation::parse(&operation)
    }

    fn status(operation: &Operation) -> u16 {
        operation.action.as_ref().expect_err("an error").status
    }

    #[test]
    fn a_full_request_parses_with_case_insensitive_names() {
        let id = Uuid::now_v7();
        let request = parse(json!({
            "schemas": [BULK_REQUEST],
            "FAILONERRORS": 2,
            "operations": [
                {"method": "post", "path": "/Users", "bulkId": "q1", "data": {"userName": "a"}},
                {"Method": "PATCH", "path": "/Users/bulkId:q1", "version": "W/\"3\"", "data": {"Operations": []}},
                {"method": "Delete", "path": format!("/scim_v2/Users/{id}")}
            ]
        }))
        .unwrap();
        assert_eq!(request.fail_on_errors, Some(2));
        let actions: Vec<_> = request
            .operations
            .iter()
            .map(|operation| operation.action.clone().unwrap())
            .collect();
        assert_eq!(
            actions,
            vec![
                Action::Create {
                    data: json!({"userName": "a"})
                },
                Action::Patch {
                    target: Target::BulkId("q1".into()),
                    data: json!({"Operations": []}),
                    if_match: Some(3)
                },
                Action::Delete {
                    target: Target::Id(id),
                    if_match: None
                },
            ]
        );
        assert_eq!(request.operations[0].method, "POST");
        assert_eq!(request.operations[2].method, "DELETE");
    }

    #[test]
    fn more_operations_than_allowed_is_413() {
        let operation = json!({"method": "DELETE", "path": "/Users/x"});
        let error =
            parse(json!({"Operations": [operation, operation, operation, operation]})).unwrap_err();
        assert_eq!(error, RequestError::TooManyOperations { count: 4, max: 3 });
        assert_eq!(error.to_scim().status, 413);
        assert!(error.to_scim().detail.contains("at most 3"));
    }

    #[test]
    fn malformed_messages_are_refused_whole() {
        for body in [
            json!([]),
            json!({"schemas": [BULK_REQUEST]}),
            json!({"Operations": {}}),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}),
            json!({"failOnErrors": 0, "Operations": []}),
            json!({"failOnErrors": "2", "Operations": []}),
        ] {
            let error = parse(body.clone()).unwrap_err();
            assert!(
                matches!(&error, RequestError::Invalid(scim) if scim.status == 400),
                "{body}: {error:?}"
            );
        }
    }

    #[test]
    fn schemas_may_be_left_out() {
        let request = parse(json!({"Operations": []})).unwrap();
        assert_eq!(request.fail_on_errors, None);
        assert!(request.operations.is_empty());
    }

    #[test]
    fn a_bad_operation_is_its_own_error() {
        let request = parse(json!({"Operations": [
            {"method": "GET", "path": "/Users"},
            {"method": "POST", "path": "/Users", "bulkId": "q1", "data": {}},
        ]}))
        .unwrap();
        assert_eq!(status(&request.operations[0]), 405);
        assert!(request.operations[1].action.is_ok());
    }

    #[test]
    fn operation_errors_mirror_the_routes() {
        let id = Uuid::now_v7();
        let cases = [
            (json!({"path": "/Users", "data": {}}), 400),
            (json!({"method": "POST", "data": {}}), 400),
            (json!({"method": "POST", "path": "/Users"}), 400),
            (json!({"method": "POST", "path": "/Users", "data": []}), 400),
            (
                json!({"method": "POST", "path": format!("/Users/{id}"), "data": {}}),
                405,
            ),
            (json!({"method": "PUT", "path": "/Users", "data": {}}), 405),
            (json!({"method": "DELETE", "path": "/Users/not-an-id"}), 404),
            (
                json!({"method": "POST", "path": "/Widgets", "bulkId": "g", "data": {}}),
                404,
            ),
            (
                json!({"method": "DELETE", "path": "/Groups/not-an-id"}),
                404,
            ),
            (json!({"method": "PUT", "path": "/Groups", "data": {}}), 405),
            (
                json!({"method": "OPTIONS", "path": format!("/Users/{id}")}),
                400,
            ),
            (
                json!({"method": "DELETE", "path": format!("/Users/{id}"), "version": "v1"}),
                412,
            ),
            (
                json!({"method": "POST", "path": "/Users", "bulkId": "", "data": {}}),
                400,
            ),
            (json!("DELETE /Users"), 400),
        ];
        for (operation, expected) in cases {
            assert_eq!(status(&one(operation.clone())), expected, "{operation}");
        }
    }

    #[test]
    fn a_post_without_bulk_id_is_accepted() {
        let operation =
            one(json!({"method": "POST", "path": "/Users/", "data": {"userName": "a"}}));
        assert!(operation.action.is_ok());
        assert_eq!(operation.bulk_id, None);
    }

    #[test]
    fn a_star_version_matches_any() {
        let id = Uuid::now_v7();
        let operation =
            one(json!({"method": "DELETE", "path": format!("/Users/{id}"), "version": "*"}));
        assert_eq!(
            operation.action,
            Ok(Action::Delete {
                target: Target::Id(id),
                if_match: None
            })
        );
    }

    #[test]
    fn a_bulk_id_used_twice_fails_the_second_operation() {
        let request = parse(json!({"Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "q1", "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": "q1", "data": {}},
        ]}))
        .unwrap();
        assert!(request.operations[0].action.is_ok());
        let error = request.operations[1].action.clone().unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
        assert!(error.detail.contains("operation 0"), "{}", error.detail);
    }
}
