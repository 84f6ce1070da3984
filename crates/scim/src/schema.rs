//! What the PATCH engine and filters need to know about attributes: type,
//! plurality, case-exactness and mutability, for RFC 7643 User, Enterprise
//! User and Group.

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

/// One attribute definition in a static schema table.
struct Attr {
    name: &'static str,
    ty: AttrType,
    multi: bool,
    case_exact: bool,
    subs: &'static [(&'static str, AttrType)],
}

const fn simple(name: &'static str, ty: AttrType) -> Attr {
    Attr {
        name,
        ty,
        multi: false,
        case_exact: false,
        subs: &[],
    }
}

const fn plural(name: &'static str, subs: &'static [(&'static str, AttrType)]) -> Attr {
    Attr {
        name,
        ty: AttrType::Complex,
        multi: true,
        case_exact: false,
        subs,
    }
}

const fn exact(name: &'static str) -> Attr {
    Attr {
        name,
        ty: AttrType::String,
        multi: false,
        case_exact: true,
        subs: &[],
    }
}

const MULTI_SUBS: &[(&str, AttrType)] = &[
    ("value", AttrType::String),
    ("display", AttrType::String),
    ("type", AttrType::String),
    ("primary", AttrType::Boolean),
    ("$ref", AttrType::Reference),
];

const ADDRESS_SUBS: &[(&str, AttrType)] = &[
    ("formatted", AttrType::String),
    ("streetAddress", AttrType::String),
    ("locality", AttrType::String),
    ("region", AttrType::String),
    ("postalCode", AttrType::String),
    ("country", AttrType::String),
    ("type", AttrType::String),
    ("primary", AttrType::Boolean),
];

const META_SUBS: &[(&str, AttrType)] = &[
    ("resourceType", AttrType::String),
    ("created", AttrType::DateTime),
    ("lastModified", AttrType::DateTime),
    ("location", AttrType::Reference),
    ("version", AttrType::String),
];

const NAME_SUBS: &[(&str, AttrType)] = &[
    ("formatted", AttrType::String),
    ("familyName", AttrType::String),
    ("givenName", AttrType::String),
    ("middleName", AttrType::String),
    ("honorificPrefix", AttrType::String),
    ("honorificSuffix", AttrType::String),
];

const MANAGER_SUBS: &[(&str, AttrType)] = &[
    ("value", AttrType::String),
    ("$ref", AttrType::Reference),
    ("displayName", AttrType::String),
];

const USER_ATTRS: &[Attr] = &[
    exact("id"),
    exact("externalId"),
    Attr {
        name: "meta",
        ty: AttrType::Complex,
        multi: false,
        case_exact: false,
        subs: META_SUBS,
    },
    simple("userName", AttrType::String),
    Attr {
        name: "name",
        ty: AttrType::Complex,
        multi: false,
        case_exact: false,
        subs: NAME_SUBS,
    },
    simple("displayName", AttrType::String),
    simple("nickName", AttrType::String),
    simple("profileUrl", AttrType::Reference),
    simple("title", AttrType::String),
    simple("userType", AttrType::String),
    simple("preferredLanguage", AttrType::String),
    simple("locale", AttrType::String),
    simple("timezone", AttrType::String),
    simple("active", AttrType::Boolean),
    exact("password"),
    plural("emails", MULTI_SUBS),
    plural("phoneNumbers", MULTI_SUBS),
    plural("ims", MULTI_SUBS),
    plural("photos", MULTI_SUBS),
    plural("addresses", ADDRESS_SUBS),
    plural("groups", MULTI_SUBS),
    plural("entitlements", MULTI_SUBS),
    plural("roles", MULTI_SUBS),
    plural("x509Certificates", MULTI_SUBS),
];

const ENTERPRISE_ATTRS: &[Attr] = &[
    simple("employeeNumber", AttrType::String),
    simple("costCenter", AttrType::String),
    simple("organization", AttrType::String),
    simple("division", AttrType::String),
    simple("department", AttrType::String),
    Attr {
        name: "manager",
        ty: AttrType::Complex,
        multi: false,
        case_exact: false,
        subs: MANAGER_SUBS,
    },
];

const GROUP_ATTRS: &[Attr] = &[
    exact("id"),
    exact("externalId"),
    Attr {
        name: "meta",
        ty: AttrType::Complex,
        multi: false,
        case_exact: false,
        subs: META_SUBS,
    },
    simple("displayName", AttrType::String),
    plural("members", MULTI_SUBS),
];

fn find<'a>(table: &'a [Attr], name: &str) -> Option<&'a Attr> {
    table.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn type_in(attr: Option<&Attr>, sub: Option<&str>) -> AttrType {
    match (attr, sub) {
        (None, _) => AttrType::String,
        (Some(a), None) => a.ty,
        (Some(a), Some(s)) => a
            .subs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map_or(AttrType::String, |(_, t)| *t),
    }
}

/// `$ref` and member/group ids compare exactly; everything else follows the table.
fn case_exact_in(attr: Option<&Attr>, sub: Option<&str>, exact_values: bool) -> bool {
    match (attr, sub) {
        (_, Some(s)) if s.eq_ignore_ascii_case("$ref") => true,
        (Some(a), Some(s)) => exact_values && a.multi && s.eq_ignore_ascii_case("value"),
        (Some(a), None) => a.case_exact,
        (None, _) => false,
    }
}

/// RFC 7643 §4.1 User plus the §4.3 Enterprise User extension.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserSchema;

impl UserSchema {
    fn lookup(urn: Option<&str>, name: &str) -> Option<&'static Attr> {
        match urn {
            None => find(USER_ATTRS, name).or_else(|| find(ENTERPRISE_ATTRS, name)),
            Some(u) if is_core_urn(Some(u)) => find(USER_ATTRS, name),
            Some(u) if u.eq_ignore_ascii_case(ENTERPRISE_USER_URN) => find(ENTERPRISE_ATTRS, name),
            Some(_) => None,
        }
    }
}

impl AttributeSchema for UserSchema {
    fn attribute_type(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrType {
        type_in(Self::lookup(urn, name), sub)
    }

    fn is_multi_valued(&self, urn: Option<&str>, name: &str) -> bool {
        Self::lookup(urn, name).is_some_and(|a| a.multi)
    }

    fn is_case_exact(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> bool {
        let attr = Self::lookup(urn, name);
        let groups = attr.is_some_and(|a| a.name == "groups");
        case_exact_in(attr, sub, groups)
    }

    fn is_read_only(&self, urn: Option<&str>, name: &str) -> bool {
        is_core_urn(urn)
            && ["id", "meta", "groups"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name))
    }

    fn extension_of(&self, name: &str) -> Option<&'static str> {
        if find(USER_ATTRS, name).is_none() && find(ENTERPRISE_ATTRS, name).is_some() {
            Some(ENTERPRISE_USER_URN)
        } else {
            None
        }
    }
}

/// RFC 7643 §4.2 Group.
#[derive(Debug, Clone, Copy, Default)]
pub struct GroupSchema;

impl GroupSchema {
    fn lookup(urn: Option<&str>, name: &str) -> Option<&'static Attr> {
        if is_core_urn(urn) {
            find(GROUP_ATTRS, name)
        } else {
            None
        }
    }
}

impl AttributeSchema for GroupSchema {
    fn attribute_type(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrType {
        type_in(Self::lookup(urn, name), sub)
    }

    fn is_multi_valued(&self, urn: Option<&str>, name: &str) -> bool {
        Self::lookup(urn, name).is_some_and(|a| a.multi)
    }

    fn is_case_exact(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> bool {
        case_exact_in(Self::lookup(urn, name), sub, true)
    }
}
