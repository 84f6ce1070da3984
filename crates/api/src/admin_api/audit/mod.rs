//! `/api/v1/orgs/{org}/audit/...`: the auditors' routes, for the
//! organization's auditors and owners ([`super::owners::require_auditor`]).
//! Each handler calls the `audit` crate's query that `rollcall audit` calls
//! too, and renders its answer; reading is recorded in the access log.

mod history;
mod integrity;
mod log;

use super::Endpoint;

/// Every audit route.
pub(super) fn endpoints() -> Vec<Endpoint> {
    let mut endpoints = Vec::new();
    endpoints.extend(history::endpoints());
    endpoints.extend(log::endpoints());
    endpoints.extend(integrity::endpoints());
    endpoints
}
