//! The owners' operations on an organization: each reads the organization's
//! own stream, decides with the domain's rules, and appends at the version it
//! decided on (deciding again if the stream moved). A refusal is appended
//! too, as `CommandRefused`, so auditors see who tried what. The admin API
//! and the `rollcall` command both call these; neither decides on its own.
//!
//! [`accounts`]: found and made by email, passwords; [`organizations`]:
//! creating one with its owner; [`provisioning`]: SCIM
//! on or off, the default role, custom roles; [`tokens`]: SCIM tokens (issue,
//! list, revoke); [`domains`]: verified email domains (add, verify through
//! DNS, drop, list); [`members`]: an organization's members, their roles
//! and locks, and the SCIM groups that give roles; [`sessions`]: the admin
//! API's logins (start, end, authenticate).
//!
//! A refusal comes back as an `anyhow::Error` whose message is the
//! refusal's; `error.downcast_ref::<domain::Refusal>()` gives its code, for
//! the admin API's status.

pub mod accounts;
pub mod domains;
pub mod erasure;
pub mod linking;
pub mod members;
pub mod organizations;
pub mod provisioning;
pub mod sessions;
pub mod tokens;

mod organization_settings;
mod organization_stream;
mod pass_facts;

pub use organization_settings::KeptSettings;
pub use organization_stream::{decide_on_organization, decide_on_stream, record_refusal};
pub use pass_facts::PassFacts;

/// Who asked, for a command typed at the `rollcall` command line (every
/// operation takes a `meta: &RequestMeta`: the admin API passes its
/// request's, with the status it answers when the operation succeeds).
pub fn command_line(command: &str) -> domain::RequestMeta {
    domain::RequestMeta::command_line(command, uuid::Uuid::now_v7())
}
