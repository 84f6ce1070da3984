//! The schemas rollcall serves: RFC 7643 §3.1 common attributes, §4.1 User,
//! §4.3 Enterprise User and §4.2 Group, with the characteristics of §8.7,
//! adjusted where rollcall behaves differently and says so in `/Schemas`:
//! `$ref` and member/group ids compare case-exactly, and a Group's
//! `displayName` is required and unique.

use super::definition::{
    Attribute, Mutability, ResourceType, Returned, Schema, SchemaExtension, Uniqueness,
};
use super::{AttrType, CORE_GROUP_URN, CORE_USER_URN, ENTERPRISE_USER_URN};

const fn string(name: &'static str, description: &'static str) -> Attribute {
    Attribute::string(name, description)
}

const IMMUTABLE: Mutability = Mutability::Immutable;

/// The most characters of an identifier that rollcall indexes (`userName`,
/// `externalId`, a Group's `displayName`): far above what identity providers
/// send (Entra's userPrincipalName stops at 113) and, at four bytes a
/// character, well inside a PostgreSQL index entry.
pub const IDENTIFIER_MAX_CHARS: usize = 256;
/// The most characters of an email address (RFC 5321 §4.5.3.1.3 and its
/// errata: a path of 256 octets, less the angle brackets).
pub const EMAIL_MAX_CHARS: usize = 254;

/// `id`, `externalId` and `meta` (RFC 7643 §3.1), part of every resource.
///
/// `meta` is returned always, like `id`: every rollcall response carries it.
pub(super) const COMMON_ATTRIBUTES: &[Attribute] = &[
    string(
        "id",
        "Unique identifier for the resource, assigned by the server",
    )
    .case_exact()
    .read_only()
    .returned(Returned::Always)
    .unique(Uniqueness::Server),
    string(
        "externalId",
        "Identifier of the resource in the provisioning client",
    )
    .case_exact()
    .max_length(IDENTIFIER_MAX_CHARS),
    Attribute::complex("meta", "Resource metadata", META_SUBS)
        .read_only()
        .returned(Returned::Always),
];

const META_SUBS: &[Attribute] = &[
    string("resourceType", "The name of the resource type")
        .case_exact()
        .read_only(),
    Attribute::new(
        "created",
        AttrType::DateTime,
        "When the resource was created",
    )
    .read_only(),
    Attribute::new(
        "lastModified",
        AttrType::DateTime,
        "When the resource was last changed",
    )
    .read_only(),
    Attribute::reference("location", &["uri"], "The URI of the resource").read_only(),
    string("version", "The resource's version (its weak ETag)")
        .case_exact()
        .read_only(),
];

const NAME_SUBS: &[Attribute] = &[
    string("formatted", "The full name, formatted for display"),
    string("familyName", "The family name"),
    string("givenName", "The given name"),
    string("middleName", "The middle name(s)"),
    string("honorificPrefix", "Honorific prefix(es), e.g. 'Ms.'"),
    string("honorificSuffix", "Honorific suffix(es), e.g. 'III'"),
];

/// `value`, `display`, `type` and `primary` of a multi-valued attribute
/// (RFC 7643 §2.4) whose `type` suggests `types`.
macro_rules! plural_subs {
    ($value:expr, $types:expr) => {
        &[
            $value,
            string(
                "display",
                "A human-readable name, primarily used for display",
            ),
            string("type", "A label indicating the attribute's function").canonical($types),
            Attribute::boolean(
                "primary",
                "Whether this is the preferred value; at most one is primary",
            ),
        ]
    };
}

const EMAIL_SUBS: &[Attribute] = plural_subs!(
    string(
        "value",
        "The email address, canonicalised per RFC 5321; work addresses are compared \
         case-insensitively by Unicode canonical caseless matching, as userName is"
    )
    .max_length(EMAIL_MAX_CHARS),
    &["work", "home", "other"]
);
const PHONE_SUBS: &[Attribute] = plural_subs!(
    string("value", "The phone number, canonicalised per RFC 3966"),
    &["work", "home", "mobile", "fax", "pager", "other"]
);
const IM_SUBS: &[Attribute] = plural_subs!(
    string("value", "The instant messaging address"),
    &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
);
const PHOTO_SUBS: &[Attribute] = plural_subs!(
    Attribute::reference("value", &["external"], "The URL of a photo of the user"),
    &["photo", "thumbnail"]
);
const ENTITLEMENT_SUBS: &[Attribute] = plural_subs!(string("value", "The entitlement"), &[]);
const ROLE_SUBS: &[Attribute] = plural_subs!(string("value", "The role"), &[]);
const CERTIFICATE_SUBS: &[Attribute] = plural_subs!(
    Attribute::new("value", AttrType::Binary, "A DER-encoded X.509 certificate"),
    &[]
);

const ADDRESS_SUBS: &[Attribute] = &[
    string(
        "formatted",
        "The full mailing address, formatted for display",
    ),
    string("streetAddress", "The street address"),
    string("locality", "The city or locality"),
    string("region", "The state or region"),
    string("postalCode", "The zip code or postal code"),
    string("country", "The country name (ISO 3166-1 alpha-2)"),
    string("type", "A label indicating the address's function")
        .canonical(&["work", "home", "other"]),
    Attribute::boolean("primary", "Whether this is the preferred address"),
];

const GROUP_MEMBERSHIP_SUBS: &[Attribute] = &[
    string("value", "The id of the group")
        .case_exact()
        .read_only(),
    Attribute::reference("$ref", &["User", "Group"], "The URI of the group")
        .case_exact()
        .read_only(),
    string("display", "The group's display name").read_only(),
    string(
        "type",
        "Whether the membership is direct or through another group",
    )
    .canonical(&["direct", "indirect"])
    .read_only(),
];

const USER_ATTRIBUTES: &[Attribute] = &[
    string(
        "userName",
        "Unique identifier for the user, compared case-insensitively: by Unicode canonical \
         caseless matching (NFD, default full case folding, NFC), in uniqueness, filters and \
         sorting alike",
    )
    .required()
    .unique(Uniqueness::Server)
    .max_length(IDENTIFIER_MAX_CHARS),
    Attribute::complex("name", "The components of the user's name", NAME_SUBS),
    string("displayName", "The name of the user, suitable for display"),
    string("nickName", "The casual way to address the user"),
    Attribute::reference(
        "profileUrl",
        &["external"],
        "A URI to the user's online profile",
    ),
    string("title", "The user's title, such as 'Vice President'"),
    string(
        "userType",
        "The relationship between the organization and the user",
    ),
    string(
        "preferredLanguage",
        "The user's preferred language (RFC 7231)",
    ),
    string("locale", "The user's default location, for localisation"),
    string("timezone", "The user's time zone (IANA name)"),
    Attribute::boolean(
        "active",
        "Whether the user may use the organization; false ends the membership",
    ),
    string(
        "password",
        "The user's clear-text password; stored only as an argon2id hash, never returned",
    )
    .mutability(Mutability::WriteOnly)
    .returned(Returned::Never),
    Attribute::complex("emails", "Email addresses", EMAIL_SUBS).multi(),
    Attribute::complex("phoneNumbers", "Phone numbers", PHONE_SUBS).multi(),
    Attribute::complex("ims", "Instant messaging addresses", IM_SUBS).multi(),
    Attribute::complex("photos", "URLs of photos of the user", PHOTO_SUBS).multi(),
    Attribute::complex("addresses", "Physical mailing addresses", ADDRESS_SUBS).multi(),
    Attribute::complex(
        "groups",
        "The groups the user belongs to, maintained by the server",
        GROUP_MEMBERSHIP_SUBS,
    )
    .multi()
    .read_only(),
    Attribute::complex("entitlements", "Entitlements", ENTITLEMENT_SUBS).multi(),
    Attribute::complex("roles", "Roles", ROLE_SUBS).multi(),
    Attribute::complex("x509Certificates", "X.509 certificates", CERTIFICATE_SUBS).multi(),
];

const MANAGER_SUBS: &[Attribute] = &[
    string("value", "The id of the manager's User"),
    Attribute::reference("$ref", &["User"], "The URI of the manager's User").case_exact(),
    string("displayName", "The manager's display name").read_only(),
];

const ENTERPRISE_USER_ATTRIBUTES: &[Attribute] = &[
    string("employeeNumber", "Identifier assigned by the organization"),
    string("costCenter", "The cost center"),
    string("organization", "The organization"),
    string("division", "The division"),
    string("department", "The department"),
    Attribute::complex("manager", "The user's manager", MANAGER_SUBS),
];

const MEMBER_SUBS: &[Attribute] = &[
    string("value", "The id of the member User or Group")
        .case_exact()
        .mutability(IMMUTABLE),
    Attribute::reference("$ref", &["User", "Group"], "The URI of the member")
        .case_exact()
        .mutability(IMMUTABLE),
    string("type", "Whether the member is a User or a Group")
        .canonical(&["User", "Group"])
        .mutability(IMMUTABLE),
    string("display", "The member's display name").mutability(IMMUTABLE),
];

const GROUP_ATTRIBUTES: &[Attribute] = &[
    string(
        "displayName",
        "The group's name, unique in the organization, compared case-insensitively: by \
         Unicode canonical caseless matching (NFD, default full case folding, NFC), in \
         uniqueness, filters and sorting alike",
    )
    .required()
    .unique(Uniqueness::Server)
    .max_length(IDENTIFIER_MAX_CHARS),
    Attribute::complex("members", "The group's members", MEMBER_SUBS).multi(),
];

/// RFC 7643 §4.1 User.
pub static USER_SCHEMA: Schema = Schema {
    id: CORE_USER_URN,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

/// RFC 7643 §4.3 Enterprise User.
pub static ENTERPRISE_USER_SCHEMA: Schema = Schema {
    id: ENTERPRISE_USER_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_USER_ATTRIBUTES,
};

/// RFC 7643 §4.2 Group.
pub static GROUP_SCHEMA: Schema = Schema {
    id: CORE_GROUP_URN,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};

/// Users, at `/Users`, with the optional Enterprise User extension.
pub static USER: ResourceType = ResourceType {
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "A person's directory entry in the organization",
    schema: &USER_SCHEMA,
    extensions: &[SchemaExtension {
        schema: &ENTERPRISE_USER_SCHEMA,
        required: false,
    }],
    foreign: &["members"],
};

/// Groups, at `/Groups`.
pub static GROUP: ResourceType = ResourceType {
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    description: "A group of users in the organization",
    schema: &GROUP_SCHEMA,
    extensions: &[],
    foreign: &[],
};

/// Every schema `/Schemas` lists, in order.
pub static SCHEMAS: [&Schema; 3] = [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA];

/// Every resource type `/ResourceTypes` lists, in order.
pub static RESOURCE_TYPES: [&ResourceType; 2] = [&USER, &GROUP];
