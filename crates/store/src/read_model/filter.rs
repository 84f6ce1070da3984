//! SCIM filters (RFC 7644 §3.4.2.2) and `sortBy` translated into SQL over
//! the read tables: [`users`] over `scim_users`, [`groups`] over
//! `scim_groups` and `scim_group_members`, both built from the toolkit in
//! [`sql`].
//!
//! Filter values, and the attribute names that reach into a stored
//! resource, are always bind parameters: the SQL text is built only from the
//! translators' own fragments, so no input is ever spliced into a statement.
//! Lookups on client values go through [`index_keys`], which names the
//! bounded index keys of migration V0009.

pub(crate) mod groups;
mod index_keys;
pub(crate) mod sql;
pub(crate) mod users;
