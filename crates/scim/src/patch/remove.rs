//! `remove` with a path. Removing something absent is a no-op. A value list on
//! a multi-valued path (Entra's default-dialect member removal) removes only
//! the listed elements, never everything.

use serde_json::{Map, Value};

use super::set::is_schemas;
use super::target::Target;
use super::value::same_element;
use crate::error::{ScimError, ScimType};
use crate::json::remove_ci;
use crate::path::PatchPath;
use crate::schema::AttributeSchema;

/// Applies one `remove` at `path`, with the optional `value` list of elements to remove.
pub(super) fn remove(
    res: &mut Map<String, Value>,
    path: &PatchPath,
    value: Option<&Value>,
    schema: &dyn AttributeSchema,
) -> Result<(), ScimError> {
    if is_schemas(&path.attr) {
        return Err(ScimError::bad_request(
            ScimType::Mutability,
            "\"schemas\" cannot be removed",
        ));
    }
    let t = Target::resolve(&path.attr, schema);
    t.check_place(&path.attr, res, schema)?;
    t.check_writable(schema)?;
    let Some(current) = t.take(res) else {
        return Ok(());
    };
    let new = match (&path.filter, path.sub.as_deref(), value) {
        (Some(filter), sub, _) => {
            let case_exact = t.sub_case_exact(schema);
            let selected = |v: &Value| filter.eval(v, &case_exact);
            strip(current, &selected, sub)
        }
        (None, Some(sub), _) => strip(current, &|_| true, Some(sub)),
        (None, None, Some(listed)) if !listed.is_null() => {
            let case_exact = schema.is_case_exact(t.urn(), &t.name, Some("value"));
            let listed = match listed {
                Value::Array(items) => items.as_slice(),
                single => std::slice::from_ref(single),
            };
            let selected = |v: &Value| listed.iter().any(|l| same_element(v, l, case_exact));
            strip(current, &selected, None)
        }
        (None, None, _) => None,
    };
    match new {
        Some(v) => t.write(res, v),
        None => t.delete(res),
    }
    Ok(())
}

/// Removes the selected elements, or their `sub` member (dropping elements left empty).
/// A single complex value is treated as a one-element list.
fn strip(current: Value, selected: &dyn Fn(&Value) -> bool, sub: Option<&str>) -> Option<Value> {
    let (items, multi) = match current {
        Value::Array(items) => (items, true),
        single => (vec![single], false),
    };
    let mut kept = Vec::with_capacity(items.len());
    for mut item in items {
        if !selected(&item) {
            kept.push(item);
            continue;
        }
        let Some(sub) = sub else { continue };
        if let Some(obj) = item.as_object_mut() {
            remove_ci(obj, sub);
            if obj.is_empty() {
                continue;
            }
        }
        kept.push(item);
    }
    if multi { non_empty(kept) } else { kept.pop() }
}

fn non_empty(items: Vec<Value>) -> Option<Value> {
    (!items.is_empty()).then_some(Value::Array(items))
}
