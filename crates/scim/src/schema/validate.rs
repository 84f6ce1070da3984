//! Request validation against the definitions (RFC 7643 §2, §7): what a
//! client's resource body leaves to store.
//!
//! Strict where a wrong value would be stored and served back as if valid:
//! a known attribute of the wrong type is a 400 `invalidValue` naming it,
//! `schemas` must list the core schema, and the same attribute sent twice in
//! different letter cases is ambiguous (400 `invalidSyntax`). Every
//! attribute the definitions know is stored under its canonical name
//! (`UserName` becomes `userName`, RFC 7643 §2.1), so a client reading
//! `userName` finds it. Forgiving wherever Entra ID is known to differ:
//! `"True"`/`"False"` strings are booleans, a manager may be a bare id,
//! explicit `null`s are unassigned (§2.5), `readOnly` attributes a client
//! sends (`id`, `meta`, `groups`) are checked for type and then ignored, and
//! attributes or schema URNs the server does not know (such as Microsoft's
//! extensions) are kept exactly as sent, names included.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::definition::{Attribute, Mutability, ResourceType, Returned, Schema};
use super::{AttrType, ENTERPRISE_USER_URN};
use crate::error::{ScimError, ScimType, excerpt};
use crate::json::kind;
use crate::path::MAX_PATH_LENGTH;

impl ResourceType {
    /// The resource to store for a client's body (a create, a replace, or
    /// the resource a PATCH leaves): names canonical, type-checked, booleans
    /// coerced, manager normalised, `readOnly` and never-returned
    /// (`password`) attributes dropped, `null`s dropped, required attributes
    /// present, and `schemas` naming the core schema (added when the client
    /// sent none).
    ///
    /// A body that is not an object, or that names an attribute twice, is
    /// 400 `invalidSyntax`; any other refusal is 400 `invalidValue` whose
    /// detail names the attribute and what was expected. The client must
    /// fix the body.
    pub fn accept(&self, resource: Value) -> Result<Value, ScimError> {
        let Value::Object(fields) = resource else {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                format!("a {} must be a JSON object", self.name),
            ));
        };
        let mut kept = Map::with_capacity(fields.len() + 1);
        let mut names = Names::default();
        for (key, value) in fields {
            names.see(&key, None)?;
            if value.is_null() {
                continue;
            }
            if key.eq_ignore_ascii_case("schemas") {
                kept.insert("schemas".into(), self.accept_schemas(value)?);
            } else if let Some(extension) = self.extension(&key) {
                let value = accept_extension(extension, value)?;
                kept.insert(extension.id.into(), value);
            } else if let Some(attribute) = self.core_attribute(&key) {
                if let Some(value) = accept_attribute(attribute, attribute.name, value, None)? {
                    kept.insert(attribute.name.into(), value);
                }
            } else if self.is_foreign(&key) {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!(
                        "{} is not an attribute of a {}: leave it out",
                        excerpt(&key),
                        self.name
                    ),
                ));
            } else {
                kept.insert(key, value);
            }
        }
        check_required(self.schema, &kept, None)?;
        if !kept.contains_key("schemas") {
            kept.insert("schemas".into(), Value::Array(vec![self.schema.id.into()]));
        }
        Ok(Value::Object(kept))
    }

    /// `schemas`: a non-empty array of URN strings that lists this type's
    /// core schema. Known URNs take their canonical spelling; unknown ones
    /// (Microsoft's extensions) stay as sent.
    fn accept_schemas(&self, value: Value) -> Result<Value, ScimError> {
        let expected = "a non-empty array of schema URN strings";
        let Value::Array(items) = value else {
            return Err(invalid("schemas", expected, &value));
        };
        let mut urns = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let Value::String(urn) = item else {
                return Err(invalid(
                    &format!("schemas[{index}]"),
                    "a schema URN string",
                    &item,
                ));
            };
            let canonical = if self.schema.id.eq_ignore_ascii_case(&urn) {
                Some(self.schema.id)
            } else {
                self.extension(&urn).map(|schema| schema.id)
            };
            urns.push(Value::String(canonical.map_or(urn, str::to_owned)));
        }
        if !urns.iter().any(|urn| urn == self.schema.id) {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                format!(
                    "schemas must be {expected} that includes {:?}, the {} schema",
                    self.schema.id, self.name
                ),
            ));
        }
        Ok(Value::Array(urns))
    }
}

/// The member names of one JSON object seen so far, folded to lower case:
/// attribute names are case-insensitive (RFC 7643 §2.1), so one name in two
/// spellings is the same attribute twice, and which to keep is ambiguous.
#[derive(Default)]
struct Names(HashMap<String, String>);

impl Names {
    /// Notes `name`, a member of the object at `parent` (`None`: the resource).
    fn see(&mut self, name: &str, parent: Option<&str>) -> Result<(), ScimError> {
        let within = parent.map_or(String::new(), |parent| format!(" in {parent}"));
        if name.len() > MAX_PATH_LENGTH {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                format!(
                    "attribute name {}{within} is longer than the {MAX_PATH_LENGTH} bytes this server takes",
                    excerpt(name)
                ),
            ));
        }
        if let Some(first) = self.0.insert(name.to_ascii_lowercase(), name.to_owned()) {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                format!(
                    "{} and {}{within} name the same attribute (names are case-insensitive): send it once",
                    excerpt(&first),
                    excerpt(name)
                ),
            ));
        }
        Ok(())
    }
}

/// An extension object: its known attributes checked and canonically
/// named, the rest as sent.
fn accept_extension(schema: &Schema, value: Value) -> Result<Value, ScimError> {
    let Value::Object(fields) = value else {
        return Err(invalid(
            schema.id,
            "an object of extension attributes",
            &value,
        ));
    };
    let mut kept = Map::with_capacity(fields.len());
    let mut names = Names::default();
    for (name, value) in fields {
        names.see(&name, Some(schema.id))?;
        if value.is_null() {
            continue;
        }
        match schema.attribute(&name) {
            Some(attribute) => {
                let path = format!("{}:{}", schema.id, attribute.name);
                if let Some(value) = accept_attribute(attribute, &path, value, Some(schema))? {
                    kept.insert(attribute.name.into(), value);
                }
            }
            None => {
                kept.insert(name, value);
            }
        }
    }
    check_required(schema, &kept, Some(schema.id))?;
    Ok(Value::Object(kept))
}

/// A top-level attribute of a resource or extension: `None` when it is not
/// stored. A `readOnly` value is checked like any other (a wrong type is
/// still a client's mistake to hear about), then left to the server.
fn accept_attribute(
    attribute: &Attribute,
    path: &str,
    value: Value,
    extension: Option<&Schema>,
) -> Result<Option<Value>, ScimError> {
    let is_manager = extension.is_some_and(|schema| schema.id == ENTERPRISE_USER_URN)
        && attribute.name == "manager";
    let value = if is_manager {
        match crate::patch::normalize_manager(&value)? {
            Some(manager) => manager,
            None => return Ok(None),
        }
    } else {
        value
    };
    let value = check(attribute, path, value)?;
    let is_stored =
        attribute.mutability != Mutability::ReadOnly && attribute.returned != Returned::Never;
    Ok(is_stored.then_some(value))
}

/// A value checked against its definition, plural or not.
fn check(attribute: &Attribute, path: &str, value: Value) -> Result<Value, ScimError> {
    if !attribute.multi_valued {
        return check_one(attribute, path, value);
    }
    let Value::Array(items) = value else {
        let expected = format!(
            "an array (it is multi-valued) of {}",
            expected(attribute.ty)
        );
        return Err(invalid(path, &expected, &value));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Null => Ok(item),
            item => check_one(attribute, &format!("{path}[{index}]"), item),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// One value (an element, for multi-valued attributes) of `attribute`'s type.
fn check_one(attribute: &Attribute, path: &str, value: Value) -> Result<Value, ScimError> {
    match (attribute.ty, value) {
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(text)) => {
            match attribute.max_length {
                Some(limit) if text.chars().count() > limit => Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("{path} is longer than {limit} characters; shorten it"),
                )),
                _ => Ok(Value::String(text)),
            }
        }
        (AttrType::DateTime, Value::String(text)) if is_date_time(&text) => Ok(Value::String(text)),
        (AttrType::Boolean, Value::Bool(flag)) => Ok(Value::Bool(flag)),
        (AttrType::Boolean, Value::String(text)) if text.eq_ignore_ascii_case("true") => {
            Ok(Value::Bool(true))
        }
        (AttrType::Boolean, Value::String(text)) if text.eq_ignore_ascii_case("false") => {
            Ok(Value::Bool(false))
        }
        (AttrType::Integer, Value::Number(number)) if number.is_i64() || number.is_u64() => {
            Ok(Value::Number(number))
        }
        (AttrType::Decimal, Value::Number(number)) => Ok(Value::Number(number)),
        (AttrType::Complex, Value::Object(members)) => {
            let mut kept = Map::with_capacity(members.len());
            let mut names = Names::default();
            for (name, value) in members {
                names.see(&name, Some(path))?;
                match attribute.sub_attribute(&name) {
                    Some(sub) => {
                        let value = match value {
                            Value::Null => Value::Null,
                            value => check(sub, &format!("{path}.{}", sub.name), value)?,
                        };
                        kept.insert(sub.name.into(), value);
                    }
                    None => {
                        kept.insert(name, value);
                    }
                }
            }
            Ok(Value::Object(kept))
        }
        (ty, value) => Err(invalid(path, expected(ty), &value)),
    }
}

/// Required attributes of `schema` that `fields` lacks, or holds as a blank string.
fn check_required(
    schema: &Schema,
    fields: &Map<String, Value>,
    extension: Option<&str>,
) -> Result<(), ScimError> {
    for attribute in schema.attributes.iter().filter(|a| a.required) {
        let value = fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(attribute.name))
            .map(|(_, value)| value);
        let present = match value {
            None | Some(Value::Null) => false,
            Some(Value::String(text)) => !text.trim().is_empty(),
            Some(_) => true,
        };
        if !present {
            let path = match extension {
                Some(urn) => format!("{urn}:{}", attribute.name),
                None => attribute.name.to_owned(),
            };
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                format!(
                    "{path} is required: expected {}",
                    match attribute.ty {
                        AttrType::String => "a non-empty string",
                        ty => expected(ty),
                    }
                ),
            ));
        }
    }
    Ok(())
}

fn expected(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "a string",
        AttrType::Boolean => "a boolean",
        AttrType::Complex => "an object (a complex value)",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::DateTime => "an xsd:dateTime string such as 2024-05-01T12:00:00Z",
        AttrType::Reference => "a URI reference string",
        AttrType::Binary => "a base64-encoded string",
    }
}

fn invalid(path: &str, expected: &str, found: &Value) -> ScimError {
    let found = match found {
        Value::String(_) if expected.starts_with("an xsd:dateTime") => "another string",
        other => kind(other),
    };
    ScimError::bad_request(
        ScimType::InvalidValue,
        format!("{path} must be {expected}, not {found}"),
    )
}

/// An xsd:dateTime (`2024-05-01T12:00:00`, optional fraction, optional
/// `Z` or `±hh:mm`), checked for shape only.
fn is_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let shape = digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && bytes.get(10) == Some(&b'T')
        && digits(11..13)
        && bytes.get(13) == Some(&b':')
        && digits(14..16)
        && bytes.get(16) == Some(&b':')
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return false;
        }
        rest = &fraction[end..];
    }
    match rest.as_bytes() {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_date_time;

    #[test]
    fn date_times_are_checked_for_shape() {
        for good in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.123Z",
            "2024-05-01T12:00:00+02:00",
            "2024-05-01T12:00:00",
        ] {
            assert!(is_date_time(good), "{good}");
        }
        for bad in [
            "2024-05-01",
            "yesterday",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+2",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }
}
