//! `/scim_v2/Groups` as Entra ID, Okta and the SCIM validators use it, one
//! topic a file; the typed helpers are in `helpers/groups.rs`.

mod entra;
mod members;
mod resource;
mod search;
