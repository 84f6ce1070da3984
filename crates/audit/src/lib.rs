//! The auditors' queries on the log, shared by the admin API (under
//! `/api/v1/orgs/{org}/audit`, for the organization's owners and auditors)
//! and the `rollcall audit` verbs (for operators with the database).
//!
//! Everything here reads; nothing decides. Events are read through `store`,
//! which gives them as the log holds them; the answers are built by the pure
//! folds of `domain`. Questions arrive as `(name, value)` pairs from either
//! front end and are checked here ([`filter`]), so the API and the command
//! line refuse the same things with the same messages.

pub mod checkpoints;
pub mod error;
pub mod events;
pub mod evidence;
pub mod export;
pub mod filter;
pub mod history;
pub mod requests;
pub mod signing_key;
pub mod view;

pub use error::AuditError;
