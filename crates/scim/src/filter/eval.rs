//! In-memory evaluation of a filter against one JSON resource (or one element
//! of a multi-valued attribute, for value filters inside PATCH paths).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::{CompValue, CompareOp, Filter};
use crate::json::get_ci;
use crate::path::AttrPath;
use crate::schema::is_core_urn;

impl Filter {
    /// Whether `resource` satisfies the filter.
    ///
    /// Multi-valued attributes match when any element does; strings compare
    /// case-insensitively unless `case_exact(path)`; `"True"`/`"False"` strings
    /// equal the booleans; an attribute path without a sub-attribute that
    /// lands on an object compares that object's `value`.
    pub fn eval(&self, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
        match self {
            Filter::Compare { path, op, value } => {
                compare(&values(resource, path), *op, value, case_exact(path))
            }
            Filter::Present(path) => values(resource, path).into_iter().any(is_present),
            Filter::And(a, b) => a.eval(resource, case_exact) && b.eval(resource, case_exact),
            Filter::Or(a, b) => a.eval(resource, case_exact) || b.eval(resource, case_exact),
            Filter::Not(a) => !a.eval(resource, case_exact),
            Filter::ValuePath { attr, filter } => {
                let inner = |p: &AttrPath| {
                    case_exact(&AttrPath {
                        sub: Some(p.name.clone()),
                        ..attr.clone()
                    })
                };
                values(resource, attr)
                    .into_iter()
                    .any(|e| filter.eval(e, &inner))
            }
        }
    }
}

/// The attribute `path.urn:path.name`, looking into extension objects for bare names.
fn lookup<'v>(obj: &'v Map<String, Value>, path: &AttrPath) -> Option<&'v Value> {
    match &path.urn {
        Some(urn) if !is_core_urn(Some(urn)) => get_ci(obj, urn)?
            .as_object()
            .and_then(|ext| get_ci(ext, &path.name)),
        Some(_) => get_ci(obj, &path.name),
        None => get_ci(obj, &path.name).or_else(|| {
            obj.iter()
                .filter(|(k, _)| k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")))
                .find_map(|(_, ext)| ext.as_object().and_then(|e| get_ci(e, &path.name)))
        }),
    }
}

/// Every value the path reaches, arrays flattened.
fn values<'v>(resource: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let Some(found) = resource.as_object().and_then(|o| lookup(o, path)) else {
        return Vec::new();
    };
    let top: Vec<&Value> = match found {
        Value::Array(items) => items.iter().collect(),
        v => vec![v],
    };
    let Some(sub) = &path.sub else { return top };
    let mut out = Vec::new();
    for v in top
        .into_iter()
        .filter_map(Value::as_object)
        .filter_map(|o| get_ci(o, sub))
    {
        match v {
            Value::Array(items) => out.extend(items),
            v => out.push(v),
        }
    }
    out
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(vals: &[&Value], op: CompareOp, want: &CompValue, case_exact: bool) -> bool {
    if *want == CompValue::Null {
        let present = vals.iter().any(|v| !v.is_null());
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    if op == CompareOp::Ne {
        return !vals
            .iter()
            .any(|v| compare_one(v, CompareOp::Eq, want, case_exact));
    }
    vals.iter().any(|v| compare_one(v, op, want, case_exact))
}

fn as_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn compare_one(have: &Value, op: CompareOp, want: &CompValue, case_exact: bool) -> bool {
    let have = match have {
        Value::Object(o) => match get_ci(o, "value") {
            Some(v) => v,
            None => return false,
        },
        v => v,
    };
    match (have, want) {
        (Value::String(a), CompValue::String(b)) => {
            if let (CompareOp::Eq, Some(x), Some(y)) = (op, as_bool(a), as_bool(b)) {
                return x == y;
            }
            compare_str(a, b, op, case_exact)
        }
        (Value::Bool(a), CompValue::String(b)) => op == CompareOp::Eq && as_bool(b) == Some(*a),
        (Value::String(a), CompValue::Bool(b)) => op == CompareOp::Eq && as_bool(a) == Some(*b),
        (Value::Bool(a), CompValue::Bool(b)) => op == CompareOp::Eq && a == b,
        (Value::Number(a), CompValue::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => ordered(x.partial_cmp(&y), op),
            _ => false,
        },
        (Value::Number(a), CompValue::String(b)) => match (a.as_f64(), b.trim().parse::<f64>()) {
            (Some(x), Ok(y)) => ordered(x.partial_cmp(&y), op),
            _ => false,
        },
        (Value::String(a), CompValue::Number(b)) => compare_str(a, &b.to_string(), op, case_exact),
        _ => false,
    }
}

/// Ordering operators on an already-computed ordering; `co`/`sw`/`ew` never match numbers.
fn ordered(ord: Option<Ordering>, op: CompareOp) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        CompareOp::Eq => ord.is_eq(),
        CompareOp::Ne => ord.is_ne(),
        CompareOp::Gt => ord.is_gt(),
        CompareOp::Ge => ord.is_ge(),
        CompareOp::Lt => ord.is_lt(),
        CompareOp::Le => ord.is_le(),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_str(a: &str, b: &str, op: CompareOp, case_exact: bool) -> bool {
    // The common case, an ordering of ASCII strings, compares without allocating.
    if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
        && (case_exact || (a.is_ascii() && b.is_ascii()))
    {
        let ord = if case_exact {
            a.cmp(b)
        } else {
            a.bytes()
                .map(|c| c.to_ascii_lowercase())
                .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
        };
        return ordered(Some(ord), op);
    }
    // The same folding as uniqueness and the store's filters (crate::fold).
    let (a, b) = if case_exact {
        (a.to_owned(), b.to_owned())
    } else {
        (crate::fold_case(a), crate::fold_case(b))
    };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        _ => ordered(Some(a.cmp(&b)), op),
    }
}
