//! The auditors' queries on the log, shared by the admin API (under
//! `/api/v1/orgs/{org}/audit`, for the organization's owners and auditors)
//! and the `rollcall audit` verbs (for operators with the database).
//!
//! Everything here reads; nothing decides. Events are read through `store`,
//! which gives them as the log holds them; the answers are built by the pure
//! folds of `domain`.

pub mod checkpoints;
pub mod signing_key;
