//! The JSON of `/Schemas` and `/ResourceTypes` (RFC 7643 §6, §7), rendered
//! from the definitions so that what the server says is what it does.

use serde_json::{Map, Value, json};

use super::definition::{Attribute, ResourceType, Schema};

/// The Schema resource schema URN.
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// The ResourceType resource schema URN.
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

impl Schema {
    /// This schema as `/Schemas/{id}` returns it; `base` is the SCIM base
    /// path or URL (`/scim_v2`) that `meta.location` starts with.
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "schemas": [SCHEMA_URN],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base}/Schemas/{}", self.id),
            },
        })
    }
}

impl ResourceType {
    /// This resource type as `/ResourceTypes/{id}` returns it.
    pub fn to_json(&self, base: &str) -> Value {
        let mut out = json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": self.id,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
        });
        if !self.extensions.is_empty() {
            out["schemaExtensions"] = self
                .extensions
                .iter()
                .map(|extension| json!({"schema": extension.schema.id, "required": extension.required}))
                .collect();
        }
        out["meta"] = json!({
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", self.id),
        });
        out
    }
}

impl Attribute {
    /// This attribute's definition (RFC 7643 §7 `attributes`): every
    /// characteristic, plus `canonicalValues`, `referenceTypes` and
    /// `subAttributes` where they apply.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), self.name.into());
        out.insert("type".into(), self.ty.as_str().into());
        out.insert("multiValued".into(), self.multi_valued.into());
        let description = match self.max_length {
            // RFC 7643 has no length facet; the description is where a client reads it.
            Some(limit) => format!("{} At most {limit} characters.", self.description),
            None => self.description.to_owned(),
        };
        out.insert("description".into(), description.into());
        out.insert("required".into(), self.required.into());
        out.insert("caseExact".into(), self.case_exact.into());
        out.insert("mutability".into(), self.mutability.as_str().into());
        out.insert("returned".into(), self.returned.as_str().into());
        out.insert("uniqueness".into(), self.uniqueness.as_str().into());
        if !self.canonical_values.is_empty() {
            out.insert("canonicalValues".into(), self.canonical_values.into());
        }
        if !self.reference_types.is_empty() {
            out.insert("referenceTypes".into(), self.reference_types.into());
        }
        if !self.sub_attributes.is_empty() {
            let subs = self.sub_attributes.iter().map(Attribute::to_json).collect();
            out.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(out)
    }
}
