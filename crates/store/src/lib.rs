//! PostgreSQL adapter: the pool, migrations, the event log and the read
//! tables. SQL lives here and nowhere else; services call typed functions.
//!
//! The store has two sides. The **log side** (module `log`) is the single
//! source of truth and the outbox at once. All appends go through one
//! [`Appender`] per process, which batches concurrent requests into one
//! transaction (group commit): the `log_head` row lock that makes positions
//! gap-free and commit-ordered, and the fsync, are paid once per batch
//! instead of once per request. Everything that must hold while the read
//! tables lag (stream versions, uniqueness, organization names, tokens,
//! verified domains, sessions) is checked and written inside that same transaction.
//! The log is read back by stream (to decide a command) and by position (the
//! relay, the projector).
//!
//! The **read-model side** (module `read_model`) holds the tables derived
//! from the log: the projector folds events into them in one transaction
//! with its checkpoint, and the API answers SCIM reads from them, with
//! filters translated into SQL. They may lag the log, and can always be
//! rebuilt from it.
//!
//! Beside the two sides: `connect` (the pool and the migrations), `folding`
//! (the case-folded keys of the read tables, and the one-time step that
//! folds the rows and uniqueness claims written before V0008), the
//! `access_log` of requests that changed nothing, and the `error` type.

mod access_log;
mod advisory;
mod clock;
mod connect;
mod error;
mod folding;
mod log;
mod notify;
pub mod own_thread;
mod pool_metrics;
mod read_model;
mod schema;
mod schema_version;
mod tls;

pub use access_log::lookup::{StoredAccessRecord, find_access_records};
pub use access_log::refusals::{self, RefusalReason};
pub use access_log::retention::{
    AccessMonth, MonthRows, count_month, detach_month, drop_month, find_access_months,
};
pub use access_log::{
    AccessLog, AccessLogMetrics, AccessRecord, Drained, QueueLimits, Unrecorded, ensure_partitions,
};
pub use advisory::{
    DedicatedClient, PooledClient, advisory_unlock, still_answers, try_advisory_lock,
};
pub use clock::Clock;
pub use connect::{Database, connect, create_database_if_missing, migrate, migrate_to};
pub use error::{ErrorClass, StoreError};
pub use notify::{Channel, Heard, Listener};
pub use schema::{
    Migration, SchemaError, SchemaVersion, check_version, needed_version, prepare_schema,
};
pub use tls::CA_FILE_VAR;

pub use log::append::{
    AppendError, AppendMetrics, AppendRequest, Appended, Appender, DROP_CLAIM_STATEMENT,
    Registration, batch_keys_statement,
};
pub use log::audit::{
    EventSelection, count_selection, read_request_events, read_selection, user_names_ever,
};
pub use log::domains::{VerifiedDomain, is_domain_verified, verified_domains};
pub use log::history::{organization_position_at, read_organization_until, read_streams};
pub use log::keys::{
    KeyId, Keyring, erased_at, keys_live, live_keys_statement, redact_access_log, still_in_clear,
};
pub use log::members::{
    ACTIVE_OWNERS_STATEMENT, AccountRecord, EntryFacts, EntryQuestion, LockFacts, MemberListing,
    MembershipRecord, active_owners, entry_facts, entry_facts_of, find_account, find_membership,
    list_members, lock_facts, lock_facts_of, membership_of_entry, memberships_of_account,
    role_groups, scim_memberships, stream_version,
};
pub use log::read::{
    LogRow, log_head, read_after, read_group_attributes, read_organization_after,
    read_partition_after, read_stream, read_stream_after, read_types_after, relay_backlog,
    stream_head, stream_heads,
};
pub use log::recent::{OpenedEvent, RecentAppends};
pub use log::registry::{
    claim_owner, find_organization, has_organizations, list_organizations, organization_name,
};
pub use log::sessions::{SessionRecord, find_live_session, live_sessions_started_before};
pub use log::signed_checkpoints::{
    insert_signed_checkpoint, last_signed_checkpoint, list_signed_checkpoints,
    read_organization_head,
};
pub use log::tokens::{
    TokenChanges, TokenRecord, find_token, list_tokens, note_token_used,
    organizations_with_tokens_expiring_before, soonest_token_expiries, token_changes_after,
    token_write_position,
};
pub use pool_metrics::PoolMetrics;
pub use schema_version::{pending_migrations, ping};

pub use read_model::checkpoint::{Checkpoint, read_checkpoint, set_checkpoint};
pub use read_model::filter::sql::{InvalidFilter, Param, Sql};
pub use read_model::groups::{
    GroupQuery, GroupRecord, GroupSort, UserGroup, find_group, groups_of_users, list_groups,
    member_facts, members_of, projected_group_version, stream_members,
};
pub use read_model::partitions::{
    Resplit, partition_of_split, projection_split, read_partition_checkpoint, split_projection,
};
pub use read_model::quarantine::{
    EventAt, PartitionLag, ProjectorHealth, QuarantineAt, Quarantined, find_quarantined,
    partition_lags, projector_health, quarantine, quarantine_recorded,
};
pub use read_model::rebuild::{
    ProjectorPause, REBUILD_SCHEMA, REBUILT_TABLES, RowDifference, create_rebuild_tables,
};
pub use read_model::snapshot::{Snapshot, read_snapshot};
pub use read_model::users::{UserFilter, UserQuery, UserRecord, UserSort, find_user, list_users};
pub use read_model::writer::{Fold, apply_changes, apply_fold};

/// The PostgreSQL connection pool every adapter function takes.
pub type Pool = deadpool_postgres::Pool;
