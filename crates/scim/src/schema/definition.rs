//! The vocabulary of RFC 7643 §2 and §7: an attribute's characteristics, a
//! schema as a list of attributes, and a resource type as a core schema with
//! its extensions. The tables themselves are in `rfc7643.rs`.

use super::{AttrType, is_core_urn};

/// Whether and how a client may change an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// Set by the server; a client's value is ignored.
    ReadOnly,
    /// The default: clients read and write it.
    ReadWrite,
    /// Written once (on create or when first added), never changed after.
    Immutable,
    /// Written by clients, never returned (`password`).
    WriteOnly,
}

impl Mutability {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute appears in a response (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    /// In every response, whatever `attributes`/`excludedAttributes` say.
    Always,
    /// Never in any response.
    Never,
    /// The default: unless excluded, or unless `attributes` leaves it out.
    Default,
    /// Only when `attributes` names it.
    Request,
}

impl Returned {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// Which values the server keeps unique (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    /// The default: no uniqueness.
    None,
    /// Unique within this server's tenant (the organization).
    Server,
    /// Unique everywhere.
    Global,
}

impl Uniqueness {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

impl AttrType {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Complex => "complex",
            AttrType::Integer => "integer",
            AttrType::Decimal => "decimal",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Binary => "binary",
        }
    }
}

/// One attribute definition with every characteristic of RFC 7643 §7.
///
/// Built in `const` tables from [`Attribute::new`] and the builder methods,
/// which start from the RFC's defaults (§2.2): single-valued, optional,
/// case-insensitive, `readWrite`, returned by default, not unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    /// Suggested values (`work`, `home`, ...); empty when the RFC names none.
    pub canonical_values: &'static [&'static str],
    /// What a `reference` may point to (`User`, `Group`, `external`, `uri`).
    pub reference_types: &'static [&'static str],
    /// The sub-attributes of a `complex` attribute.
    pub sub_attributes: &'static [Attribute],
    /// The most characters a string value may have, where the value is
    /// indexed: a PostgreSQL index entry cannot exceed about 2.7 KB, so an
    /// unbounded value would be accepted, logged, and then never projected.
    pub max_length: Option<usize>,
}

impl Attribute {
    /// An attribute with RFC 7643's default characteristics.
    pub const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Attribute {
        Attribute {
            name,
            ty,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            max_length: None,
        }
    }

    /// A single-valued string.
    pub const fn string(name: &'static str, description: &'static str) -> Attribute {
        Attribute::new(name, AttrType::String, description)
    }

    /// A single-valued boolean.
    pub const fn boolean(name: &'static str, description: &'static str) -> Attribute {
        Attribute::new(name, AttrType::Boolean, description)
    }

    /// A reference to one of `types` (RFC 7643 §2.3.7).
    pub const fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Attribute {
        let mut attribute = Attribute::new(name, AttrType::Reference, description);
        attribute.reference_types = types;
        attribute
    }

    /// A complex attribute with its sub-attributes.
    pub const fn complex(
        name: &'static str,
        description: &'static str,
        subs: &'static [Attribute],
    ) -> Attribute {
        let mut attribute = Attribute::new(name, AttrType::Complex, description);
        attribute.sub_attributes = subs;
        attribute
    }

    /// Holds an array of values.
    pub const fn multi(mut self) -> Attribute {
        self.multi_valued = true;
        self
    }

    /// Must be present in every resource.
    pub const fn required(mut self) -> Attribute {
        self.required = true;
        self
    }

    /// Compared case-sensitively.
    pub const fn case_exact(mut self) -> Attribute {
        self.case_exact = true;
        self
    }

    /// With this mutability.
    pub const fn mutability(mut self, mutability: Mutability) -> Attribute {
        self.mutability = mutability;
        self
    }

    /// `readOnly`: set by the server.
    pub const fn read_only(self) -> Attribute {
        self.mutability(Mutability::ReadOnly)
    }

    /// Returned as said.
    pub const fn returned(mut self, returned: Returned) -> Attribute {
        self.returned = returned;
        self
    }

    /// Unique as said.
    pub const fn unique(mut self, uniqueness: Uniqueness) -> Attribute {
        self.uniqueness = uniqueness;
        self
    }

    /// With these suggested values.
    pub const fn canonical(mut self, values: &'static [&'static str]) -> Attribute {
        self.canonical_values = values;
        self
    }

    /// At most `characters` characters (Unicode scalar values).
    pub const fn max_length(mut self, characters: usize) -> Attribute {
        self.max_length = Some(characters);
        self
    }

    /// The sub-attribute `name`, in any letter case.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static Attribute> {
        find(self.sub_attributes, name)
    }
}

/// A schema (RFC 7643 §7): an id (its URN) and its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// The attribute `name`, in any letter case.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        find(self.attributes, name)
    }
}

/// A schema extension of a resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaExtension {
    pub schema: &'static Schema,
    pub required: bool,
}

/// A resource type (RFC 7643 §6): where it lives and which schemas describe it.
///
/// Besides its core schema's attributes, every resource has the common
/// attributes `id`, `externalId` and `meta` (RFC 7643 §3.1), which
/// `/Schemas` does not list (as in RFC 7643 §8.7) but every look-up finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    pub id: &'static str,
    pub name: &'static str,
    /// The endpoint relative to the SCIM base (`/Users`).
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static Schema,
    pub extensions: &'static [SchemaExtension],
    /// Attributes of other resource types that this one never has
    /// (`members` on a User): refused, where unknown names are kept.
    pub foreign: &'static [&'static str],
}

impl ResourceType {
    /// The core attribute `name` (common attributes included), in any letter case.
    pub fn core_attribute(&self, name: &str) -> Option<&'static Attribute> {
        find(super::rfc7643::COMMON_ATTRIBUTES, name).or_else(|| self.schema.attribute(name))
    }

    /// The extension schema whose URN is `urn`, in any letter case.
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions
            .iter()
            .map(|extension| extension.schema)
            .find(|schema| schema.id.eq_ignore_ascii_case(urn))
    }

    /// The attribute `name` in the schema `urn`; `None` for `urn` looks in
    /// the core schema, then in the extensions (a bare extension attribute
    /// name, as Entra sends in filters and selections).
    pub fn lookup(&self, urn: Option<&str>, name: &str) -> Option<&'static Attribute> {
        match urn {
            None => self.core_attribute(name).or_else(|| {
                self.extensions
                    .iter()
                    .find_map(|extension| extension.schema.attribute(name))
            }),
            Some(urn) if is_core_urn(Some(urn)) => self.core_attribute(name),
            Some(urn) => self.extension(urn)?.attribute(name),
        }
    }

    /// Whether `urn` is this type's core schema or one of its extensions, in any letter case.
    pub fn has_schema(&self, urn: &str) -> bool {
        self.schema.id.eq_ignore_ascii_case(urn) || self.extension(urn).is_some()
    }

    /// Whether `name` is another resource type's attribute that this one never has.
    pub fn is_foreign(&self, name: &str) -> bool {
        self.foreign.iter().any(|f| f.eq_ignore_ascii_case(name))
    }

    /// The extension that owns `name` when the core schema has no such attribute.
    pub fn extension_of(&self, name: &str) -> Option<&'static str> {
        if self.core_attribute(name).is_some() {
            return None;
        }
        self.extensions
            .iter()
            .find(|extension| extension.schema.attribute(name).is_some())
            .map(|extension| extension.schema.id)
    }
}

fn find(attributes: &'static [Attribute], name: &str) -> Option<&'static Attribute> {
    attributes
        .iter()
        .find(|attribute| attribute.name.eq_ignore_ascii_case(name))
}
