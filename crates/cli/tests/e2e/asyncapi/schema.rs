//! The part of JSON Schema that docs/asyncapi.yaml uses, checked against a
//! value: `$ref` (within the document), `type`, `required`, `properties`,
//! `additionalProperties: false`, `items`, `minItems`, `enum`, `const`,
//! `oneOf`, `allOf`, `minimum`, `pattern` and the `uuid` and `date-time`
//! formats.
//! Annotations (`description`, `discriminator`, ...) are ignored. A keyword
//! the document starts using that this does not know fails the test, so the
//! check can never pass by ignoring a constraint. (The `jsonschema` crate
//! would turn on serde_json's float_roundtrip for every crate the tests
//! build, the product's included; this is small enough to own.)

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Keywords that constrain nothing.
const ANNOTATIONS: [&str; 5] = [
    "description",
    "discriminator",
    "title",
    "contentEncoding",
    "$schema",
];

/// Every way `value` breaks `schema`, each with where in the value.
pub fn errors(root: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(root, schema, value, "", &mut found);
    found
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
    let Some(keywords) = schema.as_object() else {
        found.push(format!("{at}: the schema {schema} is not an object"));
        return;
    };
    for (keyword, rule) in keywords {
        match keyword.as_str() {
            "$ref" => {
                let pointer = rule.as_str().unwrap_or_default().trim_start_matches('#');
                match root.pointer(pointer) {
                    Some(target) => check(root, target, value, at, found),
                    None => found.push(format!("{at}: $ref {rule} names nothing")),
                }
            }
            "type" => {
                let fits = match rule.as_str().unwrap_or_default() {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "integer" => value.is_i64() || value.is_u64(),
                    "number" => value.is_number(),
                    "boolean" => value.is_boolean(),
                    other => {
                        found.push(format!("{at}: unknown type {other}"));
                        true
                    }
                };
                if !fits {
                    found.push(format!("{at}: {value} is not of type {rule}"));
                }
            }
            "required" => {
                for name in rule.as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap_or_default();
                    if value.is_object() && value.get(name).is_none() {
                        found.push(format!("{at}: \"{name}\" is a required property"));
                    }
                }
            }
            "properties" => {
                if let (Some(fields), Some(rules)) = (value.as_object(), rule.as_object()) {
                    for (name, field) in fields {
                        if let Some(rule) = rules.get(name) {
                            check(root, rule, field, &format!("{at}/{name}"), found);
                        }
                    }
                }
            }
            "additionalProperties" => {
                let declared = keywords.get("properties").and_then(Value::as_object);
                if rule == &Value::Bool(false)
                    && let Some(fields) = value.as_object()
                {
                    for name in fields.keys() {
                        if !declared.is_some_and(|declared| declared.contains_key(name)) {
                            found.push(format!(
                                "{at}: additional property \"{name}\" is not allowed"
                            ));
                        }
                    }
                }
            }
            "items" => {
                for (index, item) in value.as_array().into_iter().flatten().enumerate() {
                    check(root, rule, item, &format!("{at}/{index}"), found);
                }
            }
            "minItems" => {
                if let Some(items) = value.as_array()
                    && (items.len() as u64) < rule.as_u64().unwrap_or_default()
                {
                    found.push(format!("{at}: fewer than {rule} items"));
                }
            }
            "pattern" => match (value.as_str(), rule.as_str().map(regex::Regex::new)) {
                (_, Some(Err(error))) => found.push(format!("{at}: pattern {rule}: {error}")),
                (Some(text), Some(Ok(pattern))) if !pattern.is_match(text) => {
                    found.push(format!("{at}: {value} does not match the pattern {rule}"));
                }
                _ => {}
            },
            "minimum" => {
                if let (Some(number), Some(minimum)) = (value.as_f64(), rule.as_f64())
                    && number < minimum
                {
                    found.push(format!("{at}: {value} is less than {rule}"));
                }
            }
            "enum" => {
                if !rule
                    .as_array()
                    .is_some_and(|allowed| allowed.contains(value))
                {
                    found.push(format!("{at}: {value} is not one of {rule}"));
                }
            }
            "const" => {
                if value != rule {
                    found.push(format!("{at}: {value} is not {rule}"));
                }
            }
            "format" => {
                if let Some(text) = value.as_str() {
                    let fits = match rule.as_str().unwrap_or_default() {
                        "uuid" => uuid::Uuid::parse_str(text).is_ok(),
                        "date-time" => OffsetDateTime::parse(text, &Rfc3339).is_ok(),
                        other => {
                            found.push(format!("{at}: unknown format {other}"));
                            true
                        }
                    };
                    if !fits {
                        found.push(format!("{at}: {value} is not a {rule}"));
                    }
                }
            }
            "allOf" => {
                for alternative in rule.as_array().into_iter().flatten() {
                    check(root, alternative, value, at, found);
                }
            }
            "oneOf" => {
                let alternatives = rule.as_array().map(Vec::as_slice).unwrap_or_default();
                let matching = alternatives
                    .iter()
                    .filter(|alternative| errors_at(root, alternative, value, at).is_empty())
                    .count();
                if matching != 1 {
                    found.push(format!(
                        "{at}: {value} matches {matching} of the oneOf schemas, not exactly one"
                    ));
                }
            }
            annotation if ANNOTATIONS.contains(&annotation) => {}
            unknown => found.push(format!(
                "{at}: the schema uses {unknown}, which this check does not know"
            )),
        }
    }
}

fn errors_at(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut found = Vec::new();
    check(root, schema, value, at, &mut found);
    found
}
