//! Value shaping for PATCH: boolean coercion, manager normalisation, elements
//! built from value filters, element identity and the single-`primary` rule.

use serde_json::{Map, Value};

use super::target::Target;
use crate::error::{ScimError, ScimType};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::json::{eq_ignore_case, get_ci, kind, set_ci};
use crate::schema::{AttrType, AttributeSchema};

fn invalid(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

/// Coerces `value` to `ty`: booleans accept `"True"`/`"false"` in any case.
pub(super) fn coerce(value: &Value, ty: AttrType, what: &str) -> Result<Value, ScimError> {
    match (ty, value) {
        (AttrType::Boolean, Value::Bool(_)) => Ok(value.clone()),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true.into()),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(false.into())
        }
        (AttrType::Boolean, other) => Err(invalid(format!(
            "{what} must be a boolean, not {}",
            kind(other)
        ))),
        _ => Ok(value.clone()),
    }
}

/// Coerces each sub-attribute of a complex value and drops null members (`"$ref": null`).
pub(super) fn coerce_object(
    obj: &Map<String, Value>,
    t: &Target,
    schema: &dyn AttributeSchema,
) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::new();
    for (k, v) in obj.iter().filter(|(_, v)| !v.is_null()) {
        let ty = schema.attribute_type(t.urn(), &t.name, Some(k));
        out.insert(k.clone(), coerce(v, ty, &format!("{}.{k}", t.name))?);
    }
    Ok(out)
}

/// Coerces one element of a multi-valued attribute.
pub(super) fn coerce_element(
    v: &Value,
    t: &Target,
    schema: &dyn AttributeSchema,
) -> Result<Value, ScimError> {
    match v {
        Value::Object(o) => Ok(Value::Object(coerce_object(o, t, schema)?)),
        other => Ok(other.clone()),
    }
}

/// Every shape of manager Entra sends, as `{"value": id}` plus the `$ref` and
/// `displayName` that came with it (RFC 7643 §4.3); `None` means "remove it".
pub(crate) fn normalize_manager(value: &Value) -> Result<Option<Value>, ScimError> {
    let mut manager = serde_json::Map::new();
    if let Value::Object(o) = value {
        for name in ["$ref", "displayName"] {
            if let Some(Value::String(text)) = get_ci(o, name) {
                manager.insert(name.to_owned(), Value::String(text.clone()));
            }
        }
    }
    let id = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s,
        Value::Array(items) => return items.first().map_or(Ok(None), normalize_manager),
        Value::Object(o) => match get_ci(o, "value") {
            Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s,
            None => return Err(invalid("manager object needs a \"value\"".to_owned())),
            Some(other) => {
                return Err(invalid(format!(
                    "manager.value must be a string, not {}",
                    kind(other)
                )));
            }
        },
        other => {
            return Err(invalid(format!(
                "manager must be an id or {{\"value\": id}}, not {}",
                kind(other)
            )));
        }
    };
    if id.is_empty() {
        return Ok(None);
    }
    // The manager is a User of this server, named by its `id`, which is
    // always a UUID here: anything else (a userName, a display name) can
    // never resolve, and storing it would serve a broken reference.
    if uuid::Uuid::try_parse(id).is_err() {
        return Err(invalid(
            "manager must be the id of a User of this server (a UUID such as \
             2819c223-7f76-453a-919d-413861904646), or \"\" to remove it"
                .to_owned(),
        ));
    }
    manager.insert("value".to_owned(), Value::String(id.clone()));
    Ok(Some(Value::Object(manager)))
}

/// A new element for `attr[filter]` built from the filter's `eq` comparisons.
pub(super) fn element_from_filter(
    filter: &Filter,
    t: &Target,
    schema: &dyn AttributeSchema,
) -> Result<Map<String, Value>, ScimError> {
    fn collect<'f>(f: &'f Filter, out: &mut Vec<(&'f str, &'f CompValue)>) {
        match f {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.sub.is_none() => {
                out.push((&path.name, value));
            }
            Filter::And(a, b) => {
                collect(a, out);
                collect(b, out);
            }
            _ => {}
        }
    }
    let mut eqs = Vec::new();
    collect(filter, &mut eqs);
    let mut element = Map::new();
    for (name, value) in eqs {
        let json = match value {
            CompValue::String(s) => Value::from(s.as_str()),
            CompValue::Number(n) => Value::Number(n.clone()),
            CompValue::Bool(b) => Value::Bool(*b),
            CompValue::Null => continue,
        };
        let ty = schema.attribute_type(t.urn(), &t.name, Some(name));
        set_ci(
            &mut element,
            name,
            coerce(&json, ty, &format!("{}.{name}", t.name))?,
        );
    }
    if element.is_empty() {
        return Err(ScimError::bad_request(
            ScimType::NoTarget,
            format!(
                "no {} element matches [{filter}] and it has no eq to build one",
                t.name
            ),
        ));
    }
    Ok(element)
}

/// `primary: true` (or a `"True"` string) on an element.
pub(super) fn is_primary(v: &Value) -> bool {
    match v.as_object().and_then(|o| get_ci(o, "primary")) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// If a touched element ended up primary, the last such one wins and others are cleared.
pub(super) fn enforce_single_primary(items: &mut [Value], touched: &[usize]) {
    let Some(&winner) = touched.iter().rev().find(|&&i| is_primary(&items[i])) else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        if i != winner
            && is_primary(item)
            && let Some(o) = item.as_object_mut()
        {
            set_ci(o, "primary", Value::Bool(false));
        }
    }
}

/// Element identity for add de-duplication and value-list removal: the `value`
/// sub-attribute when both have one, else whole-value equality.
pub(super) fn same_element(a: &Value, b: &Value, case_exact: bool) -> bool {
    fn key(v: &Value) -> Option<&Value> {
        v.as_object().and_then(|o| get_ci(o, "value"))
    }
    match (key(a), key(b)) {
        (Some(Value::String(x)), Some(Value::String(y))) if !case_exact => eq_ignore_case(x, y),
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}
