//! The read-model side: tables derived from the log, which the projector
//! writes and the API queries.
//!
//! The projector folds events into the read tables with [`writer`], moving
//! its [`checkpoint`] in the same transaction, and holds back an
//! organization whose event it cannot fold ([`quarantine`]). The API lists
//! and finds [`users`] and [`groups`], translating SCIM filters with
//! [`filter`] and reading pages through the one helper in [`page`].
//! [`snapshot`] reads the whole read model at once, for `rollcall verify`;
//! [`rebuild`] folds the log into fresh copies, compares and swaps them.
//! Nothing here is the truth: a lost read table is rebuilt from the log.

pub(crate) mod checkpoint;
pub(crate) mod filter;
pub(crate) mod groups;
mod page;
pub(crate) mod partitions;
pub(crate) mod quarantine;
pub(crate) mod rebuild;
pub(crate) mod snapshot;
pub(crate) mod users;
pub(crate) mod writer;
