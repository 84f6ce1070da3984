//! The events of rollcall's log, and how a stored row turns back into one.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::group::Member;

/// Schema version written with every new event; bump it when a variant's
/// stored shape changes and teach [`Event::from_stored`] to upcast the old one.
pub const CURRENT_SCHEMA_VERSION: i32 = 1;

/// The locks organization `org_id`'s identity provider holds on an account
/// (`leave`, `email`, `password`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationLocks {
    pub org_id: Uuid,
    pub locks: Vec<String>,
}

/// Something that happened to an organization, in the past tense.
///
/// Stored as JSON with a `type` tag; never change the meaning of a stored
/// variant: add variants and optional fields instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// An organization was created under a unique name.
    OrganizationCreated { name: String },
    /// An account became an owner of the organization.
    OwnerAdded { account_id: Uuid, email: String },
    /// SCIM provisioning was enabled with the role new users receive.
    ScimEnabled { default_role: String },
    /// SCIM provisioning was turned off: the organization's SCIM tokens
    /// answer 403 until it is enabled again.
    ScimDisabled {},
    /// An owner changed the role new SCIM members get (existing members
    /// keep theirs).
    DefaultRoleChanged { role: String },
    /// An owner added a custom role.
    RoleAdded { role: String },
    /// A SCIM token was issued; the token itself never enters the log.
    ScimTokenIssued {
        token_id: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// An owner revoked a SCIM token; the next request with it is refused.
    ScimTokenRevoked { token_id: Uuid },
    /// A SCIM token reached its expiry (recorded by the reaper; the API
    /// refuses an expired token on its own, recorded or not).
    ScimTokenExpired { token_id: Uuid },
    /// A SCIM token expires in `days_left` days (the reaper's warning).
    ScimTokenExpiryWarned { token_id: Uuid, days_left: i64 },
    /// An owner added an email domain, pending until a TXT record named
    /// `txt_name` holding `txt_value` is found in DNS (`domain` lowercase,
    /// without a trailing dot).
    DomainAdded {
        domain_id: Uuid,
        domain: String,
        txt_name: String,
        txt_value: String,
    },
    /// The domain's TXT record was found: the organization controls it, and
    /// SCIM may manage the details of accounts in it.
    DomainVerified { domain_id: Uuid, domain: String },
    /// An owner dropped the domain, pending or verified.
    DomainDropped { domain_id: Uuid, domain: String },
    /// A command of an owner, a member or an operator was refused by the
    /// product's rules (`error` as the admin API spells it, `message` as
    /// the person saw it); the event's request metadata says who tried and
    /// how. Changes nothing.
    CommandRefused {
        command: String,
        error: String,
        message: String,
    },
    /// An account was made for a person, by their email (in the accounts'
    /// keyspace of the log, `domain::account::ACCOUNTS`).
    AccountCreated {
        email: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        family_name: Option<String>,
        /// The locks the organization whose SCIM entry the account was made
        /// for holds from the start. Recorded with the account rather than
        /// as an `AccountLocked` after it: one event fewer for each user
        /// provisioned (issue 13). Accounts made before hold none here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        locked_by: Option<OrganizationLocks>,
    },
    /// An account's password was set; only its argon2id PHC string is kept.
    AccountPasswordSet { password_hash: String },
    /// The account's owner logged in (`POST /api/v1/sessions`): a session
    /// was started, kept only as its token's digest in the write-side
    /// registry, and valid until `expires_at` unless ended first.
    SessionStarted {
        session_id: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// A session ended before its expiry, for `reason`: `logout`, or the
    /// account's membership was `suspended` or `removed`, ...; requests
    /// with its token are refused from the commit on.
    SessionEnded { session_id: Uuid, reason: String },
    /// An account's email changed (by the person, or by the identity
    /// provider in a verified domain); the claim moves with it.
    AccountEmailChanged { email: String },
    /// An account's names changed (they follow a SCIM entry where the
    /// organization verified the account's email domain).
    AccountNamesChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        family_name: Option<String>,
    },
    /// Organization `org_id`'s identity provider now holds `locks` of the
    /// account (`leave`, `email`, `password`), for `reason`.
    AccountLocked {
        org_id: Uuid,
        locks: Vec<String>,
        reason: String,
    },
    /// Organization `org_id` holds no lock on the account any more.
    AccountUnlocked { org_id: Uuid, reason: String },
    /// An account became a member (in the membership's stream: the
    /// organization's keyspace, stream id = the account's id). `source` is
    /// `scim` or `manual`; `entry_id` the SCIM user it came from.
    MemberAdded {
        account_id: Uuid,
        email: String,
        role: String,
        source: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entry_id: Option<Uuid>,
    },
    /// A member became managed by the organization's identity provider:
    /// its SCIM entry `entry_id` belongs to the account.
    MemberLinked { account_id: Uuid, entry_id: Uuid },
    /// A member's role changed.
    MemberRoleChanged { account_id: Uuid, role: String },
    /// A member's SCIM entry went inactive: the membership no longer counts.
    MemberSuspended { account_id: Uuid },
    /// A suspended member's entry is active again.
    MemberRestored { account_id: Uuid },
    /// A member was removed (by an owner, by leaving, or by the identity
    /// provider deleting the entry); `by` says which.
    MemberRemoved { account_id: Uuid, by: String },
    /// Members of `group_ids` (direct or nested) hold `role` besides their
    /// own; replaces the role's previous groups.
    RoleGroupsMapped { role: String, group_ids: Vec<Uuid> },
    /// A user was created over SCIM; `resource` is what the client sent,
    /// minus server-owned attributes (`id`, `meta`) and secrets (`password`).
    /// `password_hash` is the argon2id PHC string of the password the client
    /// set, if it set one; the clear password never enters the log.
    UserProvisioned {
        resource: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_hash: Option<String>,
    },
    /// A user was replaced wholesale (PUT); a `password_hash` replaces the
    /// password, its absence keeps the one the user had.
    UserReplaced {
        resource: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_hash: Option<String>,
    },
    /// A user was patched; `operations` as sent (less any clear password,
    /// which became `password_hash`), `resource` as they left it.
    UserPatched {
        operations: Value,
        resource: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_hash: Option<String>,
    },
    /// A user's `active` flag turned false: the membership ends.
    UserDeactivated {},
    /// A user's `active` flag turned true again.
    UserReactivated {},
    /// A user was deleted.
    UserDeleted {},
    /// The personal data of this stream's person (a SCIM user, or an
    /// account) was erased: the key that sealed it in the log is destroyed,
    /// so every sealed value reads as `domain::erasable::ERASED` from now on
    /// (docs/audit-privacy.md). `erased_by` is the account whose session
    /// asked; none for an operator on the command line.
    Erased {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        erased_by: Option<Uuid>,
    },
    /// A group was created over SCIM; `resource` is what the client sent,
    /// minus `id`, `meta` and `members` (its members follow as
    /// [`Event::GroupMembersAdded`] in the same append).
    GroupCreated { resource: Value },
    /// A group's attributes (not its members) were replaced or patched.
    GroupUpdated { resource: Value },
    /// Members joined a group: only those that were not members before.
    GroupMembersAdded { members: Vec<Member> },
    /// Members left a group: only those that were members before.
    GroupMembersRemoved { members: Vec<Uuid> },
    /// A group was deleted, and with it every membership it held or was.
    GroupDeleted {},
    /// The projector could not fold the event at `position` (of type
    /// `event_type`) into the read tables, for `reason`, and holds the
    /// organization's read tables at the state before it: its SCIM requests
    /// answer 503 until an operator rebuilds them. Changes no resource.
    ProjectionQuarantined {
        position: i64,
        event_type: String,
        reason: String,
    },
    /// The access records of `[from, until)` were dropped whole, by an
    /// operator's `rollcall access-log drop-before` (the access log's
    /// retention). Recorded in every organization's stream: `rows` were this
    /// organization's; `unattributed_rows` (samples of requests refused
    /// before they named an organization) and `refused_requests` (the
    /// per-minute counts of those) belonged to none and are the same in
    /// every organization's event. Changes no resource.
    AccessLogPartitionDropped {
        #[serde(with = "time::serde::rfc3339")]
        from: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
        rows: i64,
        unattributed_rows: i64,
        refused_requests: i64,
    },
}

/// Every name [`Event::type_name`] gives, in its order: what an auditor
/// may ask the log for by type.
pub const TYPE_NAMES: [&str; 43] = [
    "OrganizationCreated",
    "OwnerAdded",
    "ScimEnabled",
    "ScimDisabled",
    "DefaultRoleChanged",
    "RoleAdded",
    "ScimTokenIssued",
    "ScimTokenRevoked",
    "ScimTokenExpired",
    "ScimTokenExpiryWarned",
    "DomainAdded",
    "DomainVerified",
    "DomainDropped",
    "CommandRefused",
    "AccountCreated",
    "AccountPasswordSet",
    "SessionStarted",
    "SessionEnded",
    "AccountEmailChanged",
    "AccountNamesChanged",
    "AccountLocked",
    "AccountUnlocked",
    "MemberAdded",
    "MemberLinked",
    "MemberRoleChanged",
    "MemberSuspended",
    "MemberRestored",
    "MemberRemoved",
    "RoleGroupsMapped",
    "UserProvisioned",
    "UserReplaced",
    "UserPatched",
    "UserDeactivated",
    "UserReactivated",
    "UserDeleted",
    "Erased",
    "GroupCreated",
    "GroupUpdated",
    "GroupMembersAdded",
    "GroupMembersRemoved",
    "GroupDeleted",
    "ProjectionQuarantined",
    "AccessLogPartitionDropped",
];

/// The events that record a refusal rather than a change. SCIM requests
/// that the rules refuse change nothing and are access records, not events.
pub const REFUSAL_TYPES: [&str; 1] = ["CommandRefused"];

/// The events of a SCIM user's stream (its id is the user's `id`).
pub const USER_TYPES: [&str; 7] = [
    "UserProvisioned",
    "UserReplaced",
    "UserPatched",
    "UserDeactivated",
    "UserReactivated",
    "UserDeleted",
    "Erased",
];

/// The events of a SCIM group's stream (its id is the group's `id`).
pub const GROUP_TYPES: [&str; 5] = [
    "GroupCreated",
    "GroupUpdated",
    "GroupMembersAdded",
    "GroupMembersRemoved",
    "GroupDeleted",
];

/// Whether events of `event_type` are on a SCIM user's or group's stream,
/// whose id is then the resource's `id`.
pub fn is_scim_resource_type(event_type: &str) -> bool {
    USER_TYPES.contains(&event_type) || GROUP_TYPES.contains(&event_type)
}

impl Event {
    /// The name stored in the log's `event_type` column (list a new one in
    /// [`TYPE_NAMES`] too).
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::OrganizationCreated { .. } => "OrganizationCreated",
            Event::OwnerAdded { .. } => "OwnerAdded",
            Event::ScimEnabled { .. } => "ScimEnabled",
            Event::ScimDisabled { .. } => "ScimDisabled",
            Event::DefaultRoleChanged { .. } => "DefaultRoleChanged",
            Event::RoleAdded { .. } => "RoleAdded",
            Event::ScimTokenIssued { .. } => "ScimTokenIssued",
            Event::ScimTokenRevoked { .. } => "ScimTokenRevoked",
            Event::ScimTokenExpired { .. } => "ScimTokenExpired",
            Event::ScimTokenExpiryWarned { .. } => "ScimTokenExpiryWarned",
            Event::DomainAdded { .. } => "DomainAdded",
            Event::DomainVerified { .. } => "DomainVerified",
            Event::DomainDropped { .. } => "DomainDropped",
            Event::CommandRefused { .. } => "CommandRefused",
            Event::AccountCreated { .. } => "AccountCreated",
            Event::AccountPasswordSet { .. } => "AccountPasswordSet",
            Event::SessionStarted { .. } => "SessionStarted",
            Event::SessionEnded { .. } => "SessionEnded",
            Event::AccountEmailChanged { .. } => "AccountEmailChanged",
            Event::AccountNamesChanged { .. } => "AccountNamesChanged",
            Event::AccountLocked { .. } => "AccountLocked",
            Event::AccountUnlocked { .. } => "AccountUnlocked",
            Event::MemberAdded { .. } => "MemberAdded",
            Event::MemberLinked { .. } => "MemberLinked",
            Event::MemberRoleChanged { .. } => "MemberRoleChanged",
            Event::MemberSuspended { .. } => "MemberSuspended",
            Event::MemberRestored { .. } => "MemberRestored",
            Event::MemberRemoved { .. } => "MemberRemoved",
            Event::RoleGroupsMapped { .. } => "RoleGroupsMapped",
            Event::UserProvisioned { .. } => "UserProvisioned",
            Event::UserReplaced { .. } => "UserReplaced",
            Event::UserPatched { .. } => "UserPatched",
            Event::UserDeactivated { .. } => "UserDeactivated",
            Event::UserReactivated { .. } => "UserReactivated",
            Event::UserDeleted { .. } => "UserDeleted",
            Event::Erased { .. } => "Erased",
            Event::GroupCreated { .. } => "GroupCreated",
            Event::GroupUpdated { .. } => "GroupUpdated",
            Event::GroupMembersAdded { .. } => "GroupMembersAdded",
            Event::GroupMembersRemoved { .. } => "GroupMembersRemoved",
            Event::GroupDeleted { .. } => "GroupDeleted",
            Event::ProjectionQuarantined { .. } => "ProjectionQuarantined",
            Event::AccessLogPartitionDropped { .. } => "AccessLogPartitionDropped",
        }
    }

    /// The JSON text stored in the log's `payload` column.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("events always serialize")
    }

    /// Reads an event back from its stored type, schema version and payload.
    ///
    /// Upcasting of older schema versions happens here.
    pub fn from_stored(
        event_type: &str,
        schema_version: i32,
        payload: &str,
    ) -> Result<Event, UnreadableEvent> {
        Event::read_stored(event_type, schema_version, || serde_json::from_str(payload))
    }

    /// [`Event::from_stored`] of a payload already parsed (an opened one,
    /// `erasable::open_payload`).
    pub fn from_stored_value(
        event_type: &str,
        schema_version: i32,
        payload: Value,
    ) -> Result<Event, UnreadableEvent> {
        Event::read_stored(event_type, schema_version, || {
            serde_json::from_value(payload)
        })
    }

    fn read_stored(
        event_type: &str,
        schema_version: i32,
        parse: impl FnOnce() -> Result<Event, serde_json::Error>,
    ) -> Result<Event, UnreadableEvent> {
        let unreadable = |reason: String| UnreadableEvent {
            event_type: event_type.to_owned(),
            schema_version,
            reason,
        };
        if schema_version > CURRENT_SCHEMA_VERSION {
            return Err(unreadable(
                "written by a newer rollcall; upgrade this binary".into(),
            ));
        }
        let event = parse().map_err(|error| unreadable(error.to_string()))?;
        if event.type_name() != event_type {
            return Err(unreadable(format!(
                "payload says {}, column says {event_type}",
                event.type_name()
            )));
        }
        Ok(event)
    }
}

/// A stored event that this binary cannot read; the log is not at fault but
/// this binary is too old or the row was altered.
#[derive(Debug, thiserror::Error)]
#[error("cannot read a stored {event_type} event (schema {schema_version}): {reason}")]
pub struct UnreadableEvent {
    pub event_type: String,
    pub schema_version: i32,
    pub reason: String,
}

/// An event as it stands in the log, with its position and stream coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub position: i64,
    pub org_id: Uuid,
    pub stream_id: Uuid,
    pub stream_version: i64,
    pub recorded_at: OffsetDateTime,
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each arm of `type_name`, read from this file: a new variant's name
    /// must be listed in [`TYPE_NAMES`] for auditors to ask for it.
    #[test]
    fn type_names_lists_every_variant() {
        let source = include_str!("event.rs");
        let arms: Vec<&str> = source
            .lines()
            .filter_map(|line| line.trim().strip_prefix("Event::"))
            .filter_map(|arm| arm.split_once(" { .. } => \"").map(|(name, _)| name))
            .collect();
        assert_eq!(arms, TYPE_NAMES);
        for listed in REFUSAL_TYPES.iter().chain(&USER_TYPES).chain(&GROUP_TYPES) {
            assert!(TYPE_NAMES.contains(listed), "{listed}");
        }
    }
}
