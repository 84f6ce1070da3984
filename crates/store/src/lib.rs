//! PostgreSQL adapter: the pool, migrations, the event store and the read tables.
//!
//! The event log is the single source of truth and the outbox at once. All
//! appends go through one [`Appender`] per process, which batches concurrent
//! requests into one transaction (group commit): the `log_head` row lock that
//! makes positions gap-free and commit-ordered, and the fsync, are paid once
//! per batch instead of once per request. Everything that must hold while the
//! read tables lag (stream versions, uniqueness, organisation names, tokens)
//! is checked and written inside that same transaction.
//!
//! SQL lives here and nowhere else; services call typed functions.

mod access_log;
mod append;
mod connect;
mod error;
mod folding;
mod group_filter;
mod groups;
mod index_keys;
mod log;
mod projection;
mod quarantine;
mod registry;
mod snapshot;
mod user_filter;
mod users;

pub use access_log::refusals::{self, RefusalReason};
pub use access_log::retention::{
    AccessMonth, MonthRows, count_month, detach_month, drop_month, find_access_months,
};
pub use access_log::{
    AccessLog, AccessLogMetrics, AccessRecord, QueueLimits, Unrecorded, ensure_partitions,
};
pub use append::{AppendError, AppendRequest, Appended, Appender, Registration};
pub use connect::{Database, connect, create_database_if_missing, migrate, migrate_to};
pub use error::StoreError;
pub use groups::{
    GroupQuery, GroupRecord, GroupSort, UserGroup, find_group, groups_of_users, list_groups,
    member_facts, members_of, projected_group_version, stream_members,
};
pub use log::{
    LogRow, log_head, read_after, read_group_attributes, read_stream, read_stream_after,
};
pub use projection::{Checkpoint, apply_changes, read_checkpoint, set_checkpoint};
pub use quarantine::{
    EventAt, ProjectorHealth, Quarantined, find_quarantined, projector_health, quarantine,
};
pub use registry::{
    TokenRecord, find_organization, find_token, has_organizations, list_organizations,
};
pub use snapshot::{Snapshot, read_snapshot};
pub use user_filter::{InvalidFilter, Param, Sql};
pub use users::{
    UserFilter, UserQuery, UserRecord, UserSort, find_user, list_users,
};

/// The PostgreSQL connection pool every adapter function takes.
pub type Pool = deadpool_postgres::Pool;
