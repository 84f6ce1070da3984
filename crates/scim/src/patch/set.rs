//! `add` and `replace` with a path. Both create what is missing; they differ
//! only on a multi-valued attribute without filter: `add` appends new
//! elements, `replace` swaps the whole array.

use serde_json::{Map, Value};

use super::PatchOpKind;
use super::remove;
use super::target::{self, Target};
use super::value::{
    coerce, coerce_element, element_from_filter, enforce_single_primary, normalize_manager,
    same_element,
};
use crate::error::{ScimError, ScimType};
use crate::filter::Filter;
use crate::json::{kind, remove_ci, set_ci};
use crate::path::{AttrPath, PatchPath};
use crate::schema::{AttrType, AttributeSchema};

/// Applies one `add`/`replace` at `path`; a `null` value unsets.
pub(super) fn set(
    res: &mut Map<String, Value>,
    kind: PatchOpKind,
    path: &PatchPath,
    value: &Value,
    schema: &dyn AttributeSchema,
) -> Result<(), ScimError> {
    if is_schemas(&path.attr) {
        return target::add_schemas(res, value);
    }
    let t = Target::resolve(&path.attr, schema);
    t.check_place(&path.attr, res, schema)?;
    // A read-only attribute sent with the value it has changes nothing: Okta
    // renames a group with `{"id": <its own id>, "displayName": ...}`.
    let is_unchanged = path.filter.is_none()
        && path.sub.is_none()
        && t.read(res).is_some_and(|current| current == value);
    if is_unchanged && schema.is_read_only(t.urn(), &t.name) {
        return Ok(());
    }
    t.check_writable(schema)?;
    if value.is_null() {
        return remove::remove(res, path, None, schema);
    }
    let sub_is_value = path
        .sub
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case("value"));
    if t.is_manager() && path.filter.is_none() && sub_is_value {
        match normalize_manager(value)? {
            Some(m) => t.write(res, m),
            None => t.delete(res),
        }
        return Ok(());
    }
    let current = t.take(res);
    let multi = schema.is_multi_valued(t.urn(), &t.name);
    let new = match (&path.filter, path.sub.as_deref()) {
        (Some(filter), sub) => set_filtered(current, &t, filter, sub, value, multi, schema)?,
        (None, Some(sub)) => set_sub(current, &t, sub, value, multi, schema)?,
        (None, None) if multi => set_multi(current, &t, kind, value, schema)?,
        (None, None) => set_single(current, &t, value, schema)?,
    };
    match new {
        Some(v) => t.write(res, v),
        None => t.delete(res),
    }
    Ok(())
}

pub(super) fn is_schemas(attr: &AttrPath) -> bool {
    attr.urn.is_none() && attr.sub.is_none() && attr.name.eq_ignore_ascii_case("schemas")
}

/// The current value as a list of elements (a lone object counts as one).
fn elements(current: Option<Value>) -> Vec<Value> {
    match current {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    }
}

/// Writes `value` into a complex object: an object merges its members, a null member unsets.
fn merge_into(
    obj: &mut Map<String, Value>,
    t: &Target,
    value: &Value,
    schema: &dyn AttributeSchema,
) -> Result<(), ScimError> {
    match value {
        Value::Object(members) => {
            for (k, v) in members {
                if v.is_null() {
                    remove_ci(obj, k);
                } else {
                    let ty = schema.attribute_type(t.urn(), &t.name, Some(k));
                    set_ci(obj, k, coerce(v, ty, &format!("{}.{k}", t.name))?);
                }
            }
        }
        scalar => {
            let ty = schema.attribute_type(t.urn(), &t.name, Some("value"));
            set_ci(
                obj,
                "value",
                coerce(scalar, ty, &format!("{}.value", t.name))?,
            );
        }
    }
    Ok(())
}

/// `attr[filter]` or `attr[filter].sub`: update matching elements, or create one from the filter.
fn set_filtered(
    current: Option<Value>,
    t: &Target,
    filter: &Filter,
    sub: Option<&str>,
    value: &Value,
    multi: bool,
    schema: &dyn AttributeSchema,
) -> Result<Option<Value>, ScimError> {
    let mut items = elements(current);
    let case_exact = t.sub_case_exact(schema);
    let mut touched: Vec<usize> = (0..items.len())
        .filter(|&i| filter.eval(&items[i], &case_exact))
        .collect();
    if touched.is_empty() {
        items.push(Value::Object(element_from_filter(filter, t, schema)?));
        touched.push(items.len() - 1);
    }
    for &i in &touched {
        if !items[i].is_object() {
            items[i] = Value::Object(Map::new());
        }
        let obj = items[i].as_object_mut().expect("just made an object");
        match sub {
            Some(sub) => {
                let ty = schema.attribute_type(t.urn(), &t.name, Some(sub));
                set_ci(obj, sub, coerce(value, ty, &format!("{}.{sub}", t.name))?);
            }
            None => merge_into(obj, t, value, schema)?,
        }
    }
    enforce_single_primary(&mut items, &touched);
    Ok(if multi {
        Some(Value::Array(items))
    } else {
        items.pop()
    })
}

/// `attr.sub` without filter: a single complex attribute, or every element of a multi-valued one.
fn set_sub(
    current: Option<Value>,
    t: &Target,
    sub: &str,
    value: &Value,
    multi: bool,
    schema: &dyn AttributeSchema,
) -> Result<Option<Value>, ScimError> {
    let ty = schema.attribute_type(t.urn(), &t.name, Some(sub));
    let v = coerce(value, ty, &format!("{}.{sub}", t.name))?;
    let mut items = elements(current);
    if items.is_empty() || !multi {
        items.truncate(1);
        if items.is_empty() || !items[0].is_object() {
            items = vec![Value::Object(Map::new())];
        }
    }
    for item in &mut items {
        if let Some(obj) = item.as_object_mut() {
            set_ci(obj, sub, v.clone());
        }
    }
    let touched: Vec<usize> = (0..items.len()).collect();
    enforce_single_primary(&mut items, &touched);
    Ok(if multi {
        Some(Value::Array(items))
    } else {
        items.pop()
    })
}

/// A multi-valued attribute without filter: `add` appends unseen elements, `replace` swaps all.
fn set_multi(
    current: Option<Value>,
    t: &Target,
    kind: PatchOpKind,
    value: &Value,
    schema: &dyn AttributeSchema,
) -> Result<Option<Value>, ScimError> {
    let incoming = match value {
        Value::Array(items) => items.iter().map(|v| coerce_element(v, t, schema)).collect(),
        single => coerce_element(single, t, schema).map(|v| vec![v]),
    }?;
    let mut items = if kind == PatchOpKind::Replace {
        Vec::new()
    } else {
        elements(current)
    };
    let case_exact = schema.is_case_exact(t.urn(), &t.name, Some("value"));
    let mut touched = Vec::new();
    for v in incoming {
        if !items.iter().any(|have| same_element(have, &v, case_exact)) {
            items.push(v);
            touched.push(items.len() - 1);
        }
    }
    enforce_single_primary(&mut items, &touched);
    Ok((!items.is_empty()).then_some(Value::Array(items)))
}

/// A single-valued attribute: complex values merge sub-attributes (RFC 7644 §3.5.2.1/3).
fn set_single(
    current: Option<Value>,
    t: &Target,
    value: &Value,
    schema: &dyn AttributeSchema,
) -> Result<Option<Value>, ScimError> {
    let ty = schema.attribute_type(t.urn(), &t.name, None);
    match (ty, value) {
        (AttrType::Complex, Value::Object(members)) => {
            let mut obj = match current {
                Some(Value::Object(o)) => o,
                _ => Map::new(),
            };
            merge_into(&mut obj, t, &Value::Object(members.clone()), schema)?;
            Ok((!obj.is_empty()).then_some(Value::Object(obj)))
        }
        (AttrType::Complex, other) => Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!(
                "{} takes an object of sub-attributes, not {}",
                t.name,
                kind(other)
            ),
        )),
        (ty, v) => coerce(v, ty, &t.name).map(Some),
    }
}
