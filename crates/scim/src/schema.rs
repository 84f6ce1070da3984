//! The schemas rollcall serves (RFC 7643), defined once: the tables in
//! `rfc7643.rs` are the single source of `/Schemas` and `/ResourceTypes`
//! ([`Schema::to_json`], [`ResourceType::to_json`]), of request validation
//! ([`ResourceType::accept`]), of the write-only `password`
//! ([`take_password`], [`take_patch_password`]), of attribute selection's
//! `returned`, and of the facts the PATCH engine and filters ask through
//! [`AttributeSchema`] ([`UserSchema`], [`GroupSchema`]).

mod definition;
mod render;
mod rfc7643;
mod secret;
mod validate;

pub use definition::{
    Attribute, Mutability, ResourceType, Returned, Schema, SchemaExtension, Uniqueness,
};
pub use render::{RESOURCE_TYPE_URN, SCHEMA_URN};
pub use rfc7643::{
    ENTERPRISE_USER_SCHEMA, GROUP, GROUP_SCHEMA, RESOURCE_TYPES, SCHEMAS, USER, USER_SCHEMA,
};
pub use secret::{Password, take_password, take_patch_password};

/// Core User schema URN (RFC 7643 §4.1).
pub const CORE_USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub const CORE_GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// PATCH request message URN (RFC 7644 §3.5.2).
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Error response message URN (RFC 7644 §3.12).
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// List response message URN (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// True when `urn` is absent or names a core resource schema (attributes live at top level).
pub fn is_core_urn(urn: Option<&str>) -> bool {
    urn.is_none_or(|u| {
        u.eq_ignore_ascii_case(CORE_USER_URN) || u.eq_ignore_ascii_case(CORE_GROUP_URN)
    })
}

/// RFC 7643 §2.3 attribute data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// A string (also the answer for unknown attributes).
    String,
    /// `true`/`false`; PATCH coerces `"True"`/`"False"` strings.
    Boolean,
    /// An object with sub-attributes.
    Complex,
    /// A whole number.
    Integer,
    /// A real number.
    Decimal,
    /// An xsd:dateTime string.
    DateTime,
    /// A URI reference string.
    Reference,
    /// A base64-encoded string.
    Binary,
}

/// Attribute facts the PATCH engine asks about; `urn` is `None` for core attributes.
pub trait AttributeSchema {
    /// The type of `name` (or of its sub-attribute `sub`); unknown attributes are strings.
    fn attribute_type(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrType;

    /// Whether `name` holds an array of values.
    fn is_multi_valued(&self, urn: Option<&str>, name: &str) -> bool;

    /// Whether string comparisons on `name`/`sub` are case-sensitive.
    fn is_case_exact(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> bool;

    /// Whether clients may not change `name` (`id`, `meta` by default).
    fn is_read_only(&self, urn: Option<&str>, name: &str) -> bool {
        is_core_urn(urn) && (name.eq_ignore_ascii_case("id") || name.eq_ignore_ascii_case("meta"))
    }

    /// When `name` is returned (RFC 7643 §7); by default `id` and `meta`
    /// always, everything else by default.
    fn returned(&self, urn: Option<&str>, name: &str) -> Returned {
        if is_core_urn(urn)
            && (name.eq_ignore_ascii_case("id") || name.eq_ignore_ascii_case("meta"))
        {
            Returned::Always
        } else {
            Returned::Default
        }
    }

    /// Whether `urn` is a schema this resource type defines (its core schema or an extension).
    fn has_schema(&self, urn: &str) -> bool {
        is_core_urn(Some(urn))
    }

    /// Whether core attribute `name` belongs to another resource type and never to this one.
    fn is_foreign(&self, _name: &str) -> bool {
        false
    }

    /// The extension URN that owns a bare (un-prefixed) attribute name not in the core schema.
    fn extension_of(&self, _name: &str) -> Option<&'static str> {
        None
    }

    /// Whether a key names a whole schema extension object (`urn:...:2.0:User`), not one attribute.
    ///
    /// Default: a non-core URN whose next-to-last segment is a version (`2.0`).
    fn is_extension_urn(&self, key: &str) -> bool {
        let is_urn = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        let mut segments = key.rsplit(':');
        let (last, version) = (segments.next(), segments.next());
        is_urn
            && !is_core_urn(Some(key))
            && last.is_some_and(|s| !s.is_empty())
            && version
                .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    }
}

/// The facts a resource type's definition gives.
impl AttributeSchema for ResourceType {
    fn attribute_type(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrType {
        match (self.lookup(urn, name), sub) {
            (None, _) => AttrType::String,
            (Some(attribute), None) => attribute.ty,
            (Some(attribute), Some(sub)) => attribute
                .sub_attribute(sub)
                .map_or(AttrType::String, |sub| sub.ty),
        }
    }

    fn is_multi_valued(&self, urn: Option<&str>, name: &str) -> bool {
        self.lookup(urn, name).is_some_and(|a| a.multi_valued)
    }

    /// A `$ref` always compares exactly (it is a URI), even under an
    /// attribute the definition does not know; unknown attributes do not.
    fn is_case_exact(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> bool {
        if sub.is_some_and(|s| s.eq_ignore_ascii_case("$ref")) {
            return true;
        }
        match (self.lookup(urn, name), sub) {
            (None, _) => false,
            (Some(attribute), None) => attribute.case_exact,
            (Some(attribute), Some(sub)) => {
                attribute.sub_attribute(sub).is_some_and(|s| s.case_exact)
            }
        }
    }

    fn is_read_only(&self, urn: Option<&str>, name: &str) -> bool {
        self.lookup(urn, name)
            .is_some_and(|a| a.mutability == Mutability::ReadOnly)
    }

    fn extension_of(&self, name: &str) -> Option<&'static str> {
        ResourceType::extension_of(self, name)
    }

    fn has_schema(&self, urn: &str) -> bool {
        ResourceType::has_schema(self, urn)
    }

    fn is_foreign(&self, name: &str) -> bool {
        ResourceType::is_foreign(self, name)
    }

    fn returned(&self, urn: Option<&str>, name: &str) -> Returned {
        self.lookup(urn, name)
            .map_or(Returned::Default, |a| a.returned)
    }
}

/// Delegates every [`AttributeSchema`] fact to a resource type's definition.
macro_rules! delegate_to {
    ($schema:ty, $definition:expr) => {
        impl AttributeSchema for $schema {
            fn attribute_type(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrType {
                $definition.attribute_type(urn, name, sub)
            }

            fn is_multi_valued(&self, urn: Option<&str>, name: &str) -> bool {
                $definition.is_multi_valued(urn, name)
            }

            fn is_case_exact(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> bool {
                $definition.is_case_exact(urn, name, sub)
            }

            fn is_read_only(&self, urn: Option<&str>, name: &str) -> bool {
                $definition.is_read_only(urn, name)
            }

            fn extension_of(&self, name: &str) -> Option<&'static str> {
                AttributeSchema::extension_of(&$definition, name)
            }

            fn has_schema(&self, urn: &str) -> bool {
                $definition.has_schema(urn)
            }

            fn is_foreign(&self, name: &str) -> bool {
                $definition.is_foreign(name)
            }

            fn returned(&self, urn: Option<&str>, name: &str) -> Returned {
                $definition.returned(urn, name)
            }
        }
    };
}

/// RFC 7643 §4.1 User plus the §4.3 Enterprise User extension ([`USER`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct UserSchema;

delegate_to!(UserSchema, USER);

/// RFC 7643 §4.2 Group ([`GROUP`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct GroupSchema;

delegate_to!(GroupSchema, GROUP);
