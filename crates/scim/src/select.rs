//! Attribute selection: the `attributes` and `excludedAttributes` parameters
//! (RFC 7644 §3.4.2.5, §3.9) applied to a resource that is about to be
//! returned.
//!
//! What the schema says is returned "always" (`id`, and here `meta`; RFC
//! 7643 §3.1, §7) survives every selection, and so does `schemas`; what it
//! says is returned "never" (`password`) is dropped from every response,
//! even one that names it. `attributes` keeps only what it names;
//! `excludedAttributes` removes what it names; when a request carries both,
//! `attributes` wins. A name may be a core attribute (`userName`), a
//! sub-attribute (`name.givenName`, `emails.value`), a URN-qualified
//! attribute (`urn:...:enterprise:2.0:User:employeeNumber`) or a whole
//! extension (`urn:...:enterprise:2.0:User`); names match in any letter case
//! and a bare extension attribute name (`employeeNumber`) finds its
//! extension. Names the resource does not carry select nothing: they are not
//! an error, since a client may ask for an attribute the resource simply has
//! no value for.
//!
//! A list that does not parse as attribute paths is a 400 `invalidPath`: the
//! RFC names no `scimType` for it, and these values are attribute paths.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::path::AttrPath;
use crate::schema::{AttributeSchema, Returned, is_core_urn};

/// One name from an `attributes` or `excludedAttributes` list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    /// A whole extension object, named by its URN.
    Extension(String),
    /// An attribute or a sub-attribute; `urn` is `None` for core attributes.
    Attr {
        urn: Option<String>,
        name: String,
        sub: Option<String>,
    },
}

/// What a request asked to have returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    mode: Mode,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Mode {
    /// Every attribute returned by default.
    #[default]
    All,
    /// `attributes`: only these (plus the always-returned ones).
    Only(Vec<Selector>),
    /// `excludedAttributes`: all but these.
    Except(Vec<Selector>),
}

impl Selection {
    /// Every attribute returned by default: what a request without either parameter gets.
    pub fn all() -> Selection {
        Selection::default()
    }

    /// Parses the two comma-separated lists, either absent. `attributes`
    /// wins over `excludedAttributes`; an empty list counts as absent.
    ///
    /// A malformed name is a 400 `invalidPath`; the client must fix the list.
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
        schema: &impl AttributeSchema,
    ) -> Result<Selection, ScimError> {
        let only = parse_list(attributes.unwrap_or_default(), schema)?;
        let except = parse_list(excluded.unwrap_or_default(), schema)?;
        let mode = if !only.is_empty() {
            Mode::Only(only)
        } else if !except.is_empty() {
            Mode::Except(except)
        } else {
            Mode::All
        };
        Ok(Selection { mode })
    }

    /// Whether this selection returns every attribute returned by default:
    /// the resource unchanged, unless it holds a never-returned one.
    pub fn is_all(&self) -> bool {
        self.mode == Mode::All
    }

    /// Whether the selection returns the core attribute `name` (or a part of
    /// it): what a server asks before reading an attribute kept apart, such
    /// as a group's members or a user's groups.
    pub fn returns(&self, name: &str, schema: &impl AttributeSchema) -> bool {
        if is_never_returned(name, None, schema) {
            return false;
        }
        if is_always_returned(name, schema) {
            return true;
        }
        match &self.mode {
            Mode::All => true,
            Mode::Only(selectors) => !matches!(named(selectors, None, name), Named::Nothing),
            Mode::Except(selectors) => !matches!(named(selectors, None, name), Named::Whole),
        }
    }

    /// The resource as the selection asks for it; non-objects are returned as they are.
    pub fn apply(&self, resource: &Value, schema: &impl AttributeSchema) -> Value {
        let Some(fields) = resource.as_object() else {
            return resource.clone();
        };
        let out = match &self.mode {
            Mode::All => keep_returned(fields, schema),
            Mode::Only(selectors) => pick(fields, selectors, Pick::Only, schema),
            Mode::Except(selectors) => pick(fields, selectors, Pick::Except, schema),
        };
        Value::Object(out)
    }
}

fn parse_list(list: &str, schema: &impl AttributeSchema) -> Result<Vec<Selector>, ScimError> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| parse_selector(item, schema))
        .collect()
}

fn parse_selector(item: &str, schema: &impl AttributeSchema) -> Result<Selector, ScimError> {
    if schema.is_extension_urn(item) {
        return Ok(Selector::Extension(item.to_owned()));
    }
    let path = AttrPath::parse(item).map_err(|error| {
        ScimError::bad_request(
            ScimType::InvalidPath,
            format!("attribute selection: {error}"),
        )
    })?;
    let urn = match path.urn {
        Some(urn) if is_core_urn(Some(&urn)) => None,
        Some(urn) => Some(urn),
        None => schema.extension_of(&path.name).map(str::to_owned),
    };
    Ok(Selector::Attr {
        urn,
        name: path.name,
        sub: path.sub,
    })
}

/// Whether a top-level member is in every response: `schemas`, and what the schema returns always.
fn is_always_returned(key: &str, schema: &impl AttributeSchema) -> bool {
    key.eq_ignore_ascii_case("schemas") || schema.returned(None, key) == Returned::Always
}

/// Whether an attribute (of the extension `urn`, or of the core) is in no response.
fn is_never_returned(key: &str, urn: Option<&str>, schema: &impl AttributeSchema) -> bool {
    schema.returned(urn, key) == Returned::Never
}

/// Everything but what is never returned, in extensions too.
fn keep_returned(fields: &Map<String, Value>, schema: &impl AttributeSchema) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(key, _)| !is_never_returned(key, None, schema))
        .map(|(key, value)| (key.clone(), returned_part(key, value, schema)))
        .collect()
}

/// A top-level member without what is never returned: an extension object
/// loses its never-returned attributes, anything else is kept whole.
fn returned_part(key: &str, value: &Value, schema: &impl AttributeSchema) -> Value {
    match value {
        Value::Object(inner) if schema.is_extension_urn(key) => Value::Object(
            inner
                .iter()
                .filter(|(name, _)| !is_never_returned(name, Some(key), schema))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn same_urn(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// What a list says about one attribute in one container.
enum Named<'s> {
    Whole,
    Subs(Vec<&'s str>),
    Nothing,
}

/// What `selectors` say about `name` inside the container `urn` (`None`: the core).
fn named<'s>(selectors: &'s [Selector], urn: Option<&str>, name: &str) -> Named<'s> {
    let mut subs = Vec::new();
    for selector in selectors {
        if let Selector::Attr {
            urn: s_urn,
            name: s_name,
            sub,
        } = selector
            && same_urn(s_urn.as_deref(), urn)
            && same(s_name, name)
        {
            match sub {
                None => return Named::Whole,
                Some(sub) => subs.push(sub.as_str()),
            }
        }
    }
    if subs.is_empty() {
        Named::Nothing
    } else {
        Named::Subs(subs)
    }
}

fn names_extension(selectors: &[Selector], key: &str) -> bool {
    selectors
        .iter()
        .any(|s| matches!(s, Selector::Extension(urn) if same(urn, key)))
}

/// Which list a selection came from: `attributes` keeps what it names,
/// `excludedAttributes` keeps what it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    Only,
    Except,
}

/// The members of a resource a selection keeps: always-returned ones whole,
/// never-returned ones never, the rest as the list says.
fn pick(
    fields: &Map<String, Value>,
    selectors: &[Selector],
    mode: Pick,
    schema: &impl AttributeSchema,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in fields {
        if is_never_returned(key, None, schema) {
            continue;
        }
        let kept = if is_always_returned(key, schema) {
            Some(value.clone())
        } else if names_extension(selectors, key) {
            (mode == Pick::Only).then(|| returned_part(key, value, schema))
        } else if schema.is_extension_urn(key) {
            match value.as_object() {
                Some(inner) => {
                    let kept = pick_in(inner, selectors, Some(key), mode, schema);
                    (!kept.is_empty()).then_some(Value::Object(kept))
                }
                None => (mode == Pick::Except).then(|| value.clone()),
            }
        } else {
            pick_one(key, value, selectors, None, mode)
        };
        if let Some(kept) = kept {
            out.insert(key.clone(), kept);
        }
    }
    out
}

/// [`pick`] inside an extension object `urn`.
fn pick_in(
    fields: &Map<String, Value>,
    selectors: &[Selector],
    urn: Option<&str>,
    mode: Pick,
    schema: &impl AttributeSchema,
) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(key, _)| !is_never_returned(key, urn, schema))
        .filter_map(|(key, value)| Some((key.clone(), pick_one(key, value, selectors, urn, mode)?)))
        .collect()
}

/// The part of one attribute a selection keeps, if any. A sub-attribute
/// named by `attributes` keeps only object parts; one named by
/// `excludedAttributes` leaves simple values as they are.
fn pick_one(
    key: &str,
    value: &Value,
    selectors: &[Selector],
    urn: Option<&str>,
    mode: Pick,
) -> Option<Value> {
    let subs = match named(selectors, urn, key) {
        Named::Whole => return (mode == Pick::Only).then(|| value.clone()),
        Named::Nothing => return (mode == Pick::Except).then(|| value.clone()),
        Named::Subs(subs) => subs,
    };
    let part = |object: &Map<String, Value>| -> Option<Value> {
        let kept: Map<String, Value> = object
            .iter()
            .filter(|(k, _)| subs.iter().any(|s| same(s, k)) == (mode == Pick::Only))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!kept.is_empty()).then_some(Value::Object(kept))
    };
    match value {
        Value::Object(object) => part(object),
        Value::Array(elements) => {
            let kept: Vec<Value> = elements
                .iter()
                .filter_map(|element| match element {
                    Value::Object(object) => part(object),
                    other => (mode == Pick::Except).then(|| other.clone()),
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => (mode == Pick::Except).then(|| other.clone()),
    }
}
