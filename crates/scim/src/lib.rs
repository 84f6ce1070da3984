//! The SCIM 2.0 protocol, pure: errors (RFC 7644 §3.12), filters (§3.4.2.2),
//! attribute and PATCH paths (§3.10, §3.5.2), the PATCH engine, attribute
//! selection (`attributes`/`excludedAttributes`, §3.9), and the attribute
//! facts of the User, Enterprise User and Group schemas (RFC 7643).
//!
//! This crate does no I/O, spawns nothing and logs nothing: it takes JSON
//! values and returns new values or a [`ScimError`] that the HTTP layer renders.
//! Resources are plain `serde_json::Value` objects so that every key and value
//! round-trips exactly as a client sent it.
//!
//! Two decisions shape it. First, Microsoft Entra ID is the client that
//! matters, so wherever Entra departs from the RFC the parser leans its way:
//! case-insensitive `op`s and keywords, `"True"`/`"False"` strings for
//! booleans, unquoted filter values, path-less `replace` objects whose keys are
//! paths (`name.givenName`, `urn:...:User:employeeNumber`), filtered paths that
//! create the element they name, and `remove` with a `members` value list that
//! removes only those members. Second, [`patch::apply`] is all-or-nothing: it
//! works on a copy and returns the new resource, never a half-patched one.
//!
//! Attribute names are case-insensitive (RFC 7643 §2.1): the PATCH engine
//! finds keys in any case, and [`schema::ResourceType::accept`] stores every
//! attribute the schemas define under its canonical name (`userName`), while
//! unknown attributes keep the spelling they were sent with. `id`,
//! `externalId`, `$ref` and member ids compare case-exactly; other strings
//! (e.g. `userName`) do not. The values rollcall keeps unique and indexes
//! (`userName`, Group `displayName`, work emails) compare by one key,
//! [`fold_case`] (Unicode caseless matching).

pub mod error;
pub mod filter;
pub mod fold;
mod json;
pub mod patch;
pub mod path;
pub mod schema;
pub mod select;
pub mod storable;

pub use error::{ScimError, ScimType};
pub use filter::{CompValue, CompareOp, Filter, FilterError};
pub use fold::fold_case;
pub use patch::{PatchOpKind, PatchOperation, PatchRequest, apply};
pub use path::{AttrPath, PatchPath, PathError};
pub use schema::{AttrType, AttributeSchema, GroupSchema, UserSchema};
pub use select::Selection;
pub use storable::check_storable;
