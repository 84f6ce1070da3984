//! The PATCH engine (RFC 7644 §3.5.2) with Entra's two dialects: request
//! parsing here, the operations in `patch/{set,remove}.rs`.
//!
//! [`apply`] works on a clone and returns the new resource, so a failing
//! operation leaves nothing half-applied.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::json::get_ci;
use crate::path::PatchPath;
use crate::schema::AttributeSchema;

mod dialect;
mod remove;
mod set;
mod target;
mod value;

pub use dialect::{DialectForm, dialect_forms};
pub(crate) use value::normalize_manager;

/// The three PATCH operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// Add values (append to multi-valued attributes).
    Add,
    /// Remove values.
    Remove,
    /// Replace values.
    Replace,
}

impl PatchOpKind {
    /// Parses `add`/`remove`/`replace` in any case (`"Replace"` is Entra's default).
    pub fn parse(text: &str) -> Option<Self> {
        [
            ("add", Self::Add),
            ("remove", Self::Remove),
            ("replace", Self::Replace),
        ]
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(text))
        .map(|(_, op)| op)
    }
}

/// One element of `Operations`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: PatchOpKind,
    /// Where; `None` for path-less add/replace whose value object names the targets.
    pub path: Option<PatchPath>,
    /// The `value` member; `None` when absent, `Some(Value::Null)` when explicitly null.
    pub value: Option<Value>,
}

/// A parsed `PatchOp` request body.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, applied in order.
    pub operations: Vec<PatchOperation>,
}

/// The most operations one PATCH request may carry; more is 400 `tooMany`.
///
/// Entra sends a handful per request. The bound keeps one request's cost
/// predictable: an operation on a multi-valued attribute still looks at each
/// of that attribute's elements (filters, add's de-duplication), so a request
/// costs at most this many passes over the attributes it touches.
/// `/ServiceProviderConfig` advertises it as `patch.maxOperations`.
pub const MAX_OPERATIONS: usize = 1_000;

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

impl PatchRequest {
    /// Parses a PATCH body; member names (`Operations`, `op`, `path`, `value`) in any case.
    pub fn parse(body: &Value) -> Result<Self, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| syntax("PATCH body must be a JSON object"))?;
        let ops = get_ci(obj, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| syntax("PATCH body needs an \"Operations\" array"))?;
        if ops.len() > MAX_OPERATIONS {
            return Err(ScimError::bad_request(
                ScimType::TooMany,
                format!(
                    "Operations holds {} operations; this server takes at most {MAX_OPERATIONS} \
                     per PATCH request (maxOperations): split it into several requests",
                    ops.len()
                ),
            ));
        }
        let operations = ops
            .iter()
            .enumerate()
            .map(|(i, op)| parse_operation(op).map_err(|e| prefix(e, i)))
            .collect::<Result<_, _>>()?;
        Ok(Self { operations })
    }
}

fn prefix(mut e: ScimError, index: usize) -> ScimError {
    e.detail = format!("Operations[{index}]: {}", e.detail);
    e
}

fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
    let obj = op
        .as_object()
        .ok_or_else(|| syntax("an operation must be a JSON object"))?;
    let kind = get_ci(obj, "op")
        .and_then(Value::as_str)
        .and_then(PatchOpKind::parse)
        .ok_or_else(|| syntax("\"op\" must be add, remove or replace"))?;
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s)?),
        Some(_) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                "\"path\" must be a string",
            ));
        }
    };
    let value = get_ci(obj, "value").cloned();
    Ok(PatchOperation {
        op: kind,
        path,
        value,
    })
}

/// Applies `ops` in order to a copy of `resource` and returns the new resource.
///
/// All or nothing: the first failing operation's error is returned and the
/// input is untouched. The resource is copied once, not per operation: each
/// operation takes the attribute it changes out of the copy and puts the
/// result back, so a request costs time in proportion to its operations and
/// the attributes they touch.
pub fn apply(
    resource: &Value,
    ops: &PatchRequest,
    schema: &dyn AttributeSchema,
) -> Result<Value, ScimError> {
    let mut out = resource
        .as_object()
        .cloned()
        .ok_or_else(|| syntax("the resource to patch must be a JSON object"))?;
    for (i, op) in ops.operations.iter().enumerate() {
        apply_one(&mut out, op, schema).map_err(|e| prefix(e, i))?;
    }
    Ok(Value::Object(out))
}

fn apply_one(
    res: &mut Map<String, Value>,
    op: &PatchOperation,
    schema: &dyn AttributeSchema,
) -> Result<(), ScimError> {
    // A path that is a whole extension's URN names the extension object.
    if let Some(path) = &op.path {
        let text = path.to_string();
        if path.filter.is_none() && path.sub.is_none() && schema.is_extension_urn(&text) {
            return match op.op {
                PatchOpKind::Remove => {
                    target::delete_extension(res, &text);
                    Ok(())
                }
                kind => {
                    let value = op.value.as_ref().ok_or_else(|| missing_value(kind))?;
                    apply_extension(res, kind, &text, value, schema)
                }
            };
        }
    }
    match (op.op, &op.path) {
        (PatchOpKind::Remove, Some(path)) => remove::remove(res, path, op.value.as_ref(), schema),
        (PatchOpKind::Remove, None) => Err(ScimError::bad_request(
            ScimType::NoTarget,
            "remove needs a \"path\"",
        )),
        (kind, Some(path)) => {
            let value = op.value.as_ref().ok_or_else(|| missing_value(kind))?;
            set::set(res, kind, path, value, schema)
        }
        (kind, None) => {
            let value = op.value.as_ref().ok_or_else(|| missing_value(kind))?;
            apply_pathless(res, kind, value, schema)
        }
    }
}

fn missing_value(kind: PatchOpKind) -> ScimError {
    let name = if kind == PatchOpKind::Add {
        "add"
    } else {
        "replace"
    };
    ScimError::bad_request(ScimType::InvalidValue, format!("{name} needs a \"value\""))
}

/// A path-less add/replace: every key of the value object is itself a path
/// (`displayName`, `name.givenName`, `urn:...:User:employeeNumber`), or a
/// whole extension object keyed by its URN, or `schemas`.
fn apply_pathless(
    res: &mut Map<String, Value>,
    kind: PatchOpKind,
    value: &Value,
    schema: &dyn AttributeSchema,
) -> Result<(), ScimError> {
    let obj = value.as_object().ok_or_else(|| {
        ScimError::bad_request(
            ScimType::InvalidValue,
            "a path-less operation needs an object value",
        )
    })?;
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            target::add_schemas(res, v)?;
        } else if schema.is_extension_urn(key) {
            apply_extension(res, kind, key, v, schema)?;
        } else {
            set::set(res, kind, &PatchPath::parse(key)?, v, schema)?;
        }
    }
    Ok(())
}

/// `{"urn:...:enterprise:2.0:User": {"employeeNumber": "1", "manager": "m"}}` in a path-less op.
fn apply_extension(
    res: &mut Map<String, Value>,
    kind: PatchOpKind,
    urn: &str,
    value: &Value,
    schema: &dyn AttributeSchema,
) -> Result<(), ScimError> {
    match value {
        Value::Null => {
            target::delete_extension(res, urn);
            Ok(())
        }
        Value::Object(attrs) => {
            target::ensure_schema(res, urn);
            for (key, v) in attrs {
                let mut path = PatchPath::parse(key)?;
                if path.attr.urn.is_some() {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidPath,
                        format!("{key:?} inside {urn:?} must not carry its own URN"),
                    ));
                }
                path.attr.urn = Some(urn.to_owned());
                set::set(res, kind, &path, v, schema)?;
            }
            Ok(())
        }
        _ => Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("{urn:?} must hold an object of extension attributes"),
        )),
    }
}
