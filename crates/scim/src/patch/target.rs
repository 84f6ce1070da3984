//! Where an attribute lives in the resource: at top level (core schema) or
//! under the object keyed by its extension URN, which `schemas` must list.

use std::cell::RefCell;

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType, excerpt};
use crate::json::{find_key, get_ci, get_mut_ci, remove_ci, set_ci};
use crate::path::AttrPath;
use crate::schema::{AttributeSchema, ENTERPRISE_USER_URN, is_core_urn};

/// A resolved attribute location.
pub(super) struct Target {
    /// The extension URN when the attribute lives in an extension object.
    ext: Option<String>,
    /// The attribute name as written in the path.
    pub name: String,
}

impl Target {
    /// Resolves `attr`; bare names owned by an extension (`manager`) go to that extension.
    pub fn resolve(attr: &AttrPath, schema: &dyn AttributeSchema) -> Self {
        let ext = match &attr.urn {
            Some(urn) if !is_core_urn(Some(urn)) => Some(urn.clone()),
            Some(_) => None,
            None => schema.extension_of(&attr.name).map(str::to_owned),
        };
        Self {
            ext,
            name: attr.name.clone(),
        }
    }

    /// The URN to ask the schema with (`None` for core attributes).
    pub fn urn(&self) -> Option<&str> {
        self.ext.as_deref()
    }

    /// Whether this is the enterprise `manager`, with its many input shapes.
    pub fn is_manager(&self) -> bool {
        self.ext
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(ENTERPRISE_USER_URN))
            && self.name.eq_ignore_ascii_case("manager")
    }

    /// A 400 `invalidPath` unless this resource can hold the attribute.
    ///
    /// A URN-qualified path must name the type's core schema, one of its
    /// extensions, a schema the resource already lists in `schemas` (an
    /// extension the client sent on create), or at least be shaped like an
    /// extension schema's URN (`urn:...:2.0:User`): Entra sends a directory
    /// extension's attributes by PATCH as soon as an admin maps one, before
    /// the user ever carried it. Anything else (`urn:x:y`) would add a
    /// made-up URN to `schemas`. A bare name that belongs to another
    /// resource type (`members` on a User) is refused too.
    pub fn check_place(
        &self,
        attr: &AttrPath,
        res: &Map<String, Value>,
        schema: &dyn AttributeSchema,
    ) -> Result<(), ScimError> {
        let invalid = |why: String| {
            Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!("invalid path {}: {why}", excerpt(&attr.to_string())),
            ))
        };
        if let Some(urn) = &attr.urn {
            let is_known =
                schema.has_schema(urn) || schema.is_extension_urn(urn) || is_listed(res, urn);
            if !is_known {
                return invalid(format!(
                    "{} is not a schema of this resource (nor listed in its schemas)",
                    excerpt(urn)
                ));
            }
        }
        if self.ext.is_none() && schema.is_foreign(&self.name) {
            return invalid(format!(
                "{} is another resource type's attribute, not this one's",
                excerpt(&self.name)
            ));
        }
        Ok(())
    }

    /// A 400 `mutability` unless clients may change this attribute.
    pub fn check_writable(&self, schema: &dyn AttributeSchema) -> Result<(), ScimError> {
        if schema.is_read_only(self.urn(), &self.name) {
            return Err(ScimError::bad_request(
                ScimType::Mutability,
                format!(
                    "attribute {} is read-only: leave it out, or send the value it has",
                    excerpt(&self.name)
                ),
            ));
        }
        Ok(())
    }

    /// Whether each sub-attribute a value filter compares is case-exact:
    /// asked of the schema once per name and operation, not once per
    /// element the filter looks at.
    pub fn sub_case_exact<'a>(
        &'a self,
        schema: &'a dyn AttributeSchema,
    ) -> impl Fn(&AttrPath) -> bool + 'a {
        let known: RefCell<Vec<(String, bool)>> = RefCell::default();
        move |path: &AttrPath| {
            if let Some(&(_, exact)) = known.borrow().iter().find(|(name, _)| *name == path.name) {
                return exact;
            }
            let exact = schema.is_case_exact(self.urn(), &self.name, Some(&path.name));
            known.borrow_mut().push((path.name.clone(), exact));
            exact
        }
    }

    /// The current value, if any.
    pub fn read<'r>(&self, res: &'r Map<String, Value>) -> Option<&'r Value> {
        let container = match &self.ext {
            None => res,
            Some(urn) => get_ci(res, urn)?.as_object()?,
        };
        get_ci(container, &self.name)
    }

    /// Takes the current value out without copying it, leaving `null` in
    /// its place until [`Target::write`] or [`Target::delete`] settles it.
    /// A failed operation may leave that `null` behind: [`super::apply`]
    /// then drops the whole working copy, so nobody sees it.
    pub fn take(&self, res: &mut Map<String, Value>) -> Option<Value> {
        let container = match &self.ext {
            None => res,
            Some(urn) => get_mut_ci(res, urn)?.as_object_mut()?,
        };
        get_mut_ci(container, &self.name).map(std::mem::take)
    }

    /// Stores `value`, creating the extension object and its `schemas` entry if needed.
    pub fn write(&self, res: &mut Map<String, Value>, value: Value) {
        let container = match &self.ext {
            None => res,
            Some(urn) => {
                ensure_schema(res, urn);
                let key = find_key(res, urn).unwrap_or_else(|| urn.clone());
                let slot = res.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                slot.as_object_mut().expect("just made an object")
            }
        };
        set_ci(container, &self.name, value);
    }

    /// Removes the attribute; an extension object left empty goes too.
    pub fn delete(&self, res: &mut Map<String, Value>) {
        let Some(urn) = &self.ext else {
            remove_ci(res, &self.name);
            return;
        };
        let Some(key) = find_key(res, urn) else {
            return;
        };
        if let Some(ext) = res.get_mut(&key).and_then(Value::as_object_mut) {
            remove_ci(ext, &self.name);
            if !ext.is_empty() {
                return;
            }
        }
        res.shift_remove(&key);
    }
}

/// Whether `schemas` lists `urn`, in any case.
fn is_listed(res: &Map<String, Value>, urn: &str) -> bool {
    get_ci(res, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        })
}

/// Adds `urn` to `schemas` (creating the array) unless listed in any case.
pub(super) fn ensure_schema(res: &mut Map<String, Value>, urn: &str) {
    let key = find_key(res, "schemas").unwrap_or_else(|| "schemas".to_owned());
    let slot = res.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    let list = slot.as_array_mut().expect("just made an array");
    if !list
        .iter()
        .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    {
        list.push(Value::from(urn));
    }
}

/// `schemas` in add/replace only ever grows: dropping the core URN would break the resource.
pub(super) fn add_schemas(res: &mut Map<String, Value>, value: &Value) -> Result<(), ScimError> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    for item in items {
        let urn = item.as_str().ok_or_else(|| {
            ScimError::bad_request(ScimType::InvalidValue, "\"schemas\" holds URN strings")
        })?;
        ensure_schema(res, urn);
    }
    Ok(())
}

/// Removes a whole extension object (a path-less `"urn:...": null`).
pub(super) fn delete_extension(res: &mut Map<String, Value>, urn: &str) {
    remove_ci(res, urn);
    // The resource no longer uses the extension, so it no longer declares it.
    if let Some(Value::Array(schemas)) = find_key(res, "schemas").and_then(|key| res.get_mut(&key))
    {
        schemas.retain(|schema| !schema.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
    }
}
