//! Issue 10: the owners' admin API under `/api/v1`, as scripts use it with
//! curl: log in, then owners-only routes over the same operations as the
//! `rollcall` command; one topic a file; the typed helpers are in
//! `helpers/admin_api.rs`.

mod account;
mod domains;
mod members;
mod openapi;
mod owners;
mod sessions;
mod settings;
mod tokens;
